/**
 * Who owns a port (DPDK's rte_eth_dev_owner_*): a process, or a named component of one
 * (`dev.takeOwnership(port, 'bonding')`), takes a port; from then on configuring, setting up
 * queues, starting, stopping or detaching it is refused to anyone else, naming the owner, and
 * allowed to the owner when it shows its ownership (`{ owner }` in those calls' options). An
 * owner that dies loses the port: on evidence only (no such process, or another start time:
 * native/process.ts); one whose liveness cannot be told keeps it.
 *
 * The records: memzone OWNER_MZ, one entry (PO, layout.ts) per port, written under the ports
 * lock (ED.LOCK); made by the first process that takes a port. A process gives back what
 * it owns when its EthDev closes (EthDev.close, and so Eal.close). A change publishes "owner-changed" (eal.events) once the lock is released. Nothing here is
 * on a data path: the burst functions never look at owners (DPDK's do not either).
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { processLiveness, processStartTime, Liveness } from '../native/libc.js';
import type { Port } from './driver.js';
import { MAX_PORTS, OWNER_MZ, PO } from './layout.js';
const NAME_RE = /^[A-Za-z0-9_.:/-]{0,39}$/;

/** A port's owner, as `dev.owner(port)` reports it. */
export interface PortOwnerInfo {
  /** Pid of the owning process. */
  pid: number;
  /** Its program name ("" if it left the process table). */
  program: string;
  /** The component that took it ("" for the process as a whole). */
  component: string;
  /** Date.now() when it took the port. */
  since: number;
  /** 'alive', or 'unknown' (cannot be told dead: it keeps the port). */
  liveness: 'alive' | 'unknown';
}

/**
 * This process's ownership of one port: pass it as `{ owner }` to configure, queue setup,
 * start, stop and detach; `release()` (or `using`) gives the port back.
 */
export class PortOwnership {
  private released = false;

  /** @internal */
  constructor(
    /** The port owned. */
    readonly port: number,
    /** The component of this process that owns it ("" for the process as a whole). */
    readonly component: string,
    private readonly giveBack: (o: PortOwnership) => void,
  ) {}

  /** Still held (not released, and not lost by a detach). */
  get held(): boolean {
    return !this.released;
  }

  /** Give the port back (nothing if it was already). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.giveBack(this);
  }

  /** @internal The port went away with its ownership. */
  lost(): void {
    this.released = true;
  }

  /** `using own = dev.takeOwnership(port)`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/** The records, read and written through one process's view (an EthDev's). */
export class PortOwners {
  private base = 0;

  constructor(private readonly eal: Eal) {}

  /** Offset of the records; 0 when none was made yet (and `make` is false). */
  private table(make: boolean): number {
    if (this.base) return this.base;
    const mz = this.eal.memzones.tryLookup(OWNER_MZ);
    if (mz) return (this.base = this.eal.region.checkSpan(mz.offset, MAX_PORTS * PO.BYTES, 'the port owners'));
    if (!make) return 0;
    try {
      this.base = this.eal.memzones.reserve(OWNER_MZ, MAX_PORTS * PO.BYTES, 64).offset;
      this.eal.region.u8.fill(0, this.base, this.base + MAX_PORTS * PO.BYTES);
    } catch (e) {
      if (!(e instanceof MpdkError && e.code === 'EEXIST')) throw e;
      this.base = this.eal.memzones.lookup(OWNER_MZ).offset;
    }
    return this.base;
  }

  private at(port: number, make = false): number {
    const t = this.table(make);
    return t ? t + port * PO.BYTES : 0;
  }

  /** The raw record of `port` (pid 0: none). */
  private raw(port: number): { pid: number; start: number; since: number; name: string; seq: number } {
    const a = this.at(port);
    if (!a) return { pid: 0, start: 0, since: 0, name: '', seq: 0 };
    const r = this.eal.region;
    return { pid: r.i32[(a + PO.PID) >>> 2]!, start: r.f64[(a + PO.START) >>> 3]!, since: r.f64[(a + PO.SINCE) >>> 3]!, name: r.readString(a + PO.NAME, PO.NAME_MAX), seq: r.u32At(a + PO.SEQ) };
  }

  /** The owner of `port`, or undefined (none, or a dead one: it has lost the port). */
  owner(port: number): PortOwnerInfo | undefined {
    const o = this.raw(port);
    if (o.pid === 0) return undefined;
    const l = processLiveness(o.pid, o.start);
    if (l === Liveness.DEAD) return undefined;
    const slot = this.eal.processes.slotOfPid(o.pid);
    return { pid: o.pid, program: slot >= 0 ? this.eal.processes.nameOf(slot) : '', component: o.name, since: o.since, liveness: l === Liveness.ALIVE ? 'alive' : 'unknown' };
  }

  /**
   * Under the ports lock: refuse `what` on port p unless nobody owns it or `token` is its
   * owner. A dead owner's record is cleared (and reported) on the way. EBUSY naming the owner.
   */
  check(p: Port, what: string, token: PortOwnership | undefined, changed: (text: string) => void): void {
    const o = this.raw(p.id);
    if (o.pid === 0) return;
    if (this.clearDead(p, o.pid, o.start, changed)) return;
    if (token && token.held && token.port === p.id && o.pid === process.pid && o.name === token.component) return;
    throw new MpdkError('EBUSY', `cannot ${what} ${p.name} (port ${p.id}): it is owned by ${describe(this.owner(p.id), o)}${o.pid === process.pid ? '; pass its ownership ({ owner }) to act as it' : '; ask it, or wait until it releases the port'}`);
  }

  /** Clear the record when its owner is dead; true when it was. */
  private clearDead(p: Port, pid: number, start: number, changed: (text: string) => void): boolean {
    if (processLiveness(pid, start) !== Liveness.DEAD) return false;
    this.write(p.id, 0, 0, '');
    changed(`${p.name} (port ${p.id}) released: its owner pid ${pid} died`);
    return true;
  }

  /**
   * Under the ports lock: take port p for (this process, component). EBUSY naming another
   * live (or unknown) owner; the same owner taking it again is given it again.
   */
  take(p: Port, component: string, changed: (text: string) => void): void {
    if (!NAME_RE.test(component)) throw new MpdkError('EINVAL', `invalid owner name ${JSON.stringify(component)}: up to 39 letters, digits, '_', '.', ':', '/' or '-'`);
    this.table(true);
    const o = this.raw(p.id);
    if (o.pid !== 0 && !this.clearDead(p, o.pid, o.start, changed) && !(o.pid === process.pid && o.name === component)) {
      throw new MpdkError('EBUSY', `${p.name} (port ${p.id}) is already owned by ${describe(this.owner(p.id), o)}`);
    }
    if (o.pid === process.pid && o.name === component) return;
    this.write(p.id, process.pid, processStartTime(process.pid), component);
    changed(`${p.name} (port ${p.id}) owned by pid ${process.pid}${component ? ` (${component})` : ''}`);
  }

  /** Under the ports lock: give port p back if (this process, component) owns it; true when it did. */
  release(p: Port, component: string, changed: (text: string) => void): boolean {
    const o = this.raw(p.id);
    if (o.pid !== process.pid || o.name !== component) return false;
    this.write(p.id, 0, 0, '');
    changed(`${p.name} (port ${p.id}) released by pid ${process.pid}${component ? ` (${component})` : ''}`);
    return true;
  }

  /** Under the ports lock: forget port `port`'s owner (the port was detached). */
  clear(port: number): void {
    if (this.at(port)) this.write(port, 0, 0, '');
  }

  /** Does a dead process still have a record among `ports` (read without the lock)? */
  anyDead(ports: readonly Port[]): boolean {
    if (!this.at(0)) return false;
    return ports.some((p) => {
      const o = this.raw(p.id);
      return o.pid !== 0 && processLiveness(o.pid, o.start) === Liveness.DEAD;
    });
  }

  /** Under the ports lock: clear every record of a dead owner among `ports` (a process left); calls `changed` for each. */
  sweep(ports: readonly Port[], changed: (p: Port, text: string) => void): void {
    if (!this.at(0)) return;
    for (const p of ports) {
      const o = this.raw(p.id);
      if (o.pid !== 0) this.clearDead(p, o.pid, o.start, (t) => changed(p, t));
    }
  }

  private write(port: number, pid: number, start: number, name: string): void {
    const a = this.at(port, pid !== 0);
    const r = this.eal.region;
    r.f64[(a + PO.START) >>> 3] = start;
    r.f64[(a + PO.SINCE) >>> 3] = pid ? Date.now() : 0;
    r.writeString(a + PO.NAME, PO.NAME_MAX - 1, name);
    r.u32[(a + PO.SEQ) >>> 2] = (r.u32At(a + PO.SEQ) + 1) >>> 0;
    Atomics.store(r.i32, (a + PO.PID) >>> 2, pid);
  }
}

function describe(info: PortOwnerInfo | undefined, raw: { pid: number; name: string }): string {
  const who = `pid ${raw.pid}${info?.program ? ` (${info.program})` : ''}`;
  const comp = raw.name ? `, component '${raw.name}'` : '';
  return `${who}${comp}${info?.liveness === 'unknown' ? ', whose liveness cannot be told' : ''}`;
}
