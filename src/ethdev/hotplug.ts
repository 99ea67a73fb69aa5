/**
 * Ports attached and detached while the instance runs (DPDK's rte_dev_probe / rte_dev_remove
 * with their multi-process hotplug), from any process, every process agreeing: all or
 * nothing. `dev.attachPort(spec)` / `dev.detachPort(port)`; `mpdk port attach|detach`.
 *
 *   the transaction, one at a time per instance (ED.HP_*, claimed under ED.LOCK)
 *   attach SPEC                                    detach PORT
 *   1  the spec parses, its driver can be          1  the port exists; its owner (if any) is the
 *      removed again (NetDriver.remove), its          caller; no live process holds one of its
 *      name is free                                   queues or its wire (named if one does)
 *   2  claim: HP = (us, attach, id), the lowest    2  claim: HP = (us, detach, port): from now on
 *      free id; write the entry, probe — hidden       no process can take one of its queues
 *      from every process while HP says attach
 *   3  prepare: every other live process is asked (mpdk:ethdev.prepare) and checks what only
 *      it can (attach: it has the driver; detach: it holds nothing of the port) — a refusal
 *      names its pid and program; one that does not answer in time refuses; a dead one, or
 *      one without ports (no handler), agrees
 *   4  refused: undo (attach: remove the entry), clear HP, tell them (abort), EBUSY naming
 *      every refusal: nothing changed
 *   5  commit: attach: clear HP, the port is       5  commit, under the lock: stop it, STATE
 *      visible to all at once                         UNUSED, the driver's state removed, the
 *                                                     entry and its owner cleared, clear HP
 *   6  tell them (mpdk:ethdev.commit: they drop what they kept of a removed port), and publish
 *      port-added / port-removed (eal.events)
 *
 * A process killed inside a transaction leaves HP naming a dead pid: the next attach or
 * detach finishes it first (recover): a hidden attach is undone; a detach that reached
 * UNUSED has its driver state removed; one that did not is dropped (the port stays).
 * Forwarding on other ports never stops: nothing here takes a lock their burst paths use,
 * and the prepare handlers run between the programs' slices.
 */
import { Liveness, processLiveness, processStartTime } from '../native/libc.js';
import { MpdkError } from '../eal/errors.js';
import type { MpReply } from '../eal/mp.js';
import { parseVdev, Port, type VdevInfo } from './driver.js';
import { clearEntry, writeEntry } from './entry.js';
import type { EthDev } from './ethdev.js';
import { ED, EP, EQ, entryAt, HP_ATTACH, HP_DETACH, MAX_PORTS, MAX_QUEUES, PortState } from './layout.js';
import type { PortOwnership } from './port-owner.js';
import { findDriver, tryFindDriver } from './registry.js';

const PREPARE = 'mpdk:ethdev.prepare';
const COMMIT = 'mpdk:ethdev.commit';
const ABORT = 'mpdk:ethdev.abort';
/** How long the others have to answer by default (ms). */
export const HOTPLUG_TIMEOUT_DEFAULT = 2000;
/** Answers that agree: a process that died, left, has no ports (no handler) or no channel yet. */
const CONSENT = new Set(['ESRCH', 'EPIPE', 'ENOTSUP', 'ENOTCONN']);

/** Options of `EthDev.attachPort`. */
export interface AttachOptions {
  /** Ms every other process has to answer (default HOTPLUG_TIMEOUT_DEFAULT); one that does not refuses. */
  timeout?: number;
}

/** Options of `EthDev.detachPort`. */
export interface DetachOptions extends AttachOptions {
  /** This process's ownership of the port, when it owns it. */
  owner?: PortOwnership;
}

/** What the others are asked about. */
interface Txn {
  op: 'attach' | 'detach';
  port: number;
  name: string;
  driver: string;
}

function hdr(dev: EthDev): { i32: Int32Array; u32: Uint32Array; f64: Float64Array; h: number } {
  const r = dev.eal.region;
  return { i32: r.i32, u32: r.u32, f64: r.f64, h: dev.header };
}

/** Under the lock: claim HP for (op, port); EBUSY naming a live (or unknown) holder. */
function claim(dev: EthDev, op: number, port: number): void {
  const { i32, u32, f64, h } = hdr(dev);
  const pid = i32[(h + ED.HP_PID) >>> 2]!;
  if (pid !== 0) {
    const what = u32[(h + ED.HP_OP) >>> 2] === HP_ATTACH ? 'attaching' : 'detaching';
    throw new MpdkError('EBUSY', `pid ${pid} is ${what} port ${i32[(h + ED.HP_PORT) >>> 2]}: one attach or detach at a time; try again when it is done`);
  }
  f64[(h + ED.HP_START) >>> 3] = processStartTime(process.pid);
  u32[(h + ED.HP_OP) >>> 2] = op;
  i32[(h + ED.HP_PORT) >>> 2] = port;
  Atomics.store(i32, (h + ED.HP_PID) >>> 2, process.pid);
}

/**
 * End the transaction. Only the transaction's owner writes HP_PID while it is set, so this
 * store needs no lock: a release never waits (a lock held by a stopped process must not
 * leave the claim held, refusing every later attach or detach).
 */
function release(dev: EthDev): void {
  Atomics.store(hdr(dev).i32, (dev.header + ED.HP_PID) >>> 2, 0);
}

/** Finish a transaction whose process died (see the header); nothing while it lives, or cannot be told dead. */
function recover(dev: EthDev): void {
  dev.locked(() => {
    const { i32, u32, f64, h } = hdr(dev);
    const pid = i32[(h + ED.HP_PID) >>> 2]!;
    if (pid === 0 || processLiveness(pid, f64[(h + ED.HP_START) >>> 3]!) !== Liveness.DEAD) return;
    const port = i32[(h + ED.HP_PORT) >>> 2]!;
    const op = u32[(h + ED.HP_OP) >>> 2]!;
    if (port >= 0 && port < MAX_PORTS) {
      const e = entryAt(h, port);
      const unused = dev.eal.region.loadAcquire(e + EP.STATE) === PortState.UNUSED;
      if (op === HP_ATTACH || (op === HP_DETACH && unused)) removeEntry(dev, port);
    }
    release(dev);
    dev.eal.log('warning', `ports: pid ${pid} died while ${op === HP_ATTACH ? 'attaching' : 'detaching'} port ${port}; finished what it left`);
  });
}

/** Under the lock: stop port `id` if started, remove its driver state, clear its entry and owner. */
function removeEntry(dev: EthDev, id: number): void {
  const p = new Port(dev.eal, dev.header, id);
  const drv = tryFindDriver(p.driverName);
  if (p.state === PortState.STARTED) {
    try {
      drv?.stop?.(p);
    } catch (e) {
      dev.eal.log('warning', `ports: stopping ${p.name} before its removal: ${(e as Error).message}`);
    }
    p.setLinkUp(false);
  }
  dev.eal.region.storeRelease(p.entry + EP.STATE, PortState.UNUSED);
  try {
    drv?.remove?.(p);
  } catch (e) {
    dev.eal.log('warning', `ports: removing what ${p.name} held: ${(e as Error).message}`);
  }
  clearEntry(dev.eal.region, dev.header, id);
  dev.owners.clear(id);
}

/** The live processes (any lcore) holding a queue or a side of the wire of port p, as "pid N (prog) uses ...". */
function holders(dev: EthDev, p: Port, onlyPid?: number): string[] {
  const r = dev.eal.region;
  const t = dev.eal.processes;
  const out = new Map<number, string[]>();
  const note = (at: number, what: string): void => {
    const pid = r.i32[at >>> 2]!;
    if (pid === 0 || (onlyPid !== undefined && pid !== onlyPid)) return;
    if (processLiveness(pid, r.f64[(at + 8) >>> 3]!) === Liveness.DEAD) return; // a dead claim holds nothing
    const list = out.get(pid) ?? [];
    list.push(what);
    out.set(pid, list);
  };
  for (const rx of [true, false]) {
    for (let q = 0; q < MAX_QUEUES; q++) {
      const e = p.queue(rx, q);
      note(e + EQ.OWNER_PID, `${rx ? 'RX' : 'TX'} queue ${q} (lcore ${r.i32[(e + EQ.OWNER_LCORE) >>> 2]})`);
    }
  }
  note(p.entry + EP.WIRE_PID, 'the inject side of its wire');
  note(p.entry + EP.WIRE_COLLECT_PID, 'the collect side of its wire');
  return [...out].map(([pid, what]) => {
    const slot = t.slotOfPid(pid);
    return `pid ${pid}${slot >= 0 ? ` (${t.nameOf(slot)})` : ''} uses ${what.join(', ')}`;
  });
}

/** Ask every other process; the refusals, as sentences naming each. */
async function ask(dev: EthDev, txn: Txn, timeout: number): Promise<string[]> {
  const replies: MpReply[] = await dev.eal.mp.request(PREPARE, txn, { timeout });
  return replies.filter((r) => !r.ok && !CONSENT.has(r.error.code)).map((r) => (r.ok ? '' : r.error.message));
}

function tell(dev: EthDev, name: string, txn: Txn): void {
  try {
    dev.eal.mp.send(name, txn);
  } catch (e) {
    dev.eal.log('warning', `ports: could not tell the others (${name}): ${(e as Error).message}`);
  }
}

function who(dev: EthDev): string {
  const eal = dev.eal;
  return `pid ${process.pid}${eal.slot >= 0 ? ` (${eal.processes.nameOf(eal.slot)})` : ''}`;
}

function checkTimeout(t: number | undefined): number {
  const v = t ?? HOTPLUG_TIMEOUT_DEFAULT;
  if (!(Number.isFinite(v) && v > 0)) throw new MpdkError('EINVAL', `timeout ${String(t)}: give milliseconds, more than 0`);
  return v;
}

/** `dev.attachPort(spec)`: see the header. Resolves with the new port's id. */
export async function attachPort(dev: EthDev, spec: string, opts: AttachOptions = {}): Promise<number> {
  const timeout = checkTimeout(opts.timeout);
  const eal = dev.eal;
  const d = findDriver(parseVdev(spec).driver);
  const v = parseVdev(spec, d.args, d.name);
  if (!d.remove) throw new MpdkError('ENOTSUP', `driver ${d.name} cannot be attached while the instance runs (it cannot be detached again); give it to the primary with --vdev`);
  void eal.mp; // ENOTCONN now, before anything changes, when this process has no channel
  recover(dev);
  const txnOf = (id: number): Txn => ({ op: 'attach', port: id, name: v.name, driver: d.name });
  // What probe learns of the other ports, indexed by id (a gap, a detached id, has no driver).
  const others: VdevInfo[] = [];
  const id = dev.locked(() => {
    const ids = new Set(dev.portIds());
    for (let i = 0; i < dev.count; i++) {
      const p = ids.has(i) ? dev.portObj(i) : undefined;
      if (p?.name === v.name) throw new MpdkError('EEXIST', `a port named ${v.name} exists (port ${i}); give the new one another number (e.g. ${v.name.replace(/\d+$/, '')}${dev.count})`);
      others.push(p ? { port: i, name: p.name, driver: p.driverName, args: parseVdev(p.devargs ? `${p.name},${p.devargs}` : p.name).args } : { port: i, name: '', driver: '', args: parseVdev('none').args });
    }
    const r = eal.region;
    let free = -1;
    for (let i = 0; i < MAX_PORTS && free < 0; i++) if (r.loadAcquire(entryAt(dev.header, i) + EP.STATE) === PortState.UNUSED) free = i;
    if (free < 0) throw new MpdkError('ENOSPC', `the instance has ${MAX_PORTS} ports, the most there can be: detach one first`);
    claim(dev, HP_ATTACH, free); // hidden from everyone from here until commit or undo
    writeEntry(r, dev.header, { port: free, name: v.name, driver: d.name, args: v.args });
    const e = entryAt(dev.header, free);
    r.u32[(e + EP.EPOCH) >>> 2] = (r.u32At(e + EP.EPOCH) + 1) >>> 0;
    r.u32[(e + EP.GEN) >>> 2] = (r.u32At(e + EP.GEN) + 1) >>> 0;
    if (free >= r.u32At(dev.header + ED.NB_PORTS)) r.u32[(dev.header + ED.NB_PORTS) >>> 2] = free + 1;
    return free;
  });
  const undo = (): void => dev.locked(() => {
    removeEntry(dev, id);
    release(dev);
  });
  let refused: string[];
  try {
    const vdevs = others.slice(0, id);
    vdevs[id] = { port: id, name: v.name, driver: d.name, args: v.args };
    d.probe(new Port(eal, dev.header, id), v.args, [...vdevs, ...others.slice(id + 1)]);
    refused = await ask(dev, txnOf(id), timeout);
  } catch (e) {
    undo();
    throw e;
  }
  if (refused.length > 0) {
    undo();
    tell(dev, ABORT, txnOf(id));
    throw new MpdkError('EBUSY', `cannot attach ${v.name}: ${refused.join('; ')}; nothing changed`);
  }
  release(dev);
  tell(dev, COMMIT, txnOf(id));
  eal.events.publish('port-added', { port: id, text: `${v.name} (port ${id}, ${d.name}) attached by ${who(dev)}` });
  return id;
}

/** `dev.detachPort(port)`: see the header. */
export async function detachPort(dev: EthDev, port: number, opts: DetachOptions = {}): Promise<void> {
  const timeout = checkTimeout(opts.timeout);
  const eal = dev.eal;
  void eal.mp;
  recover(dev);
  const p = dev.portObj(port);
  const d = tryFindDriver(p.driverName);
  if (!d?.remove) throw new MpdkError('ENOTSUP', `${p.name} (port ${p.id}): driver ${p.driverName} cannot be detached while the instance runs; stop the instance to remove it`);
  const txn: Txn = { op: 'detach', port: p.id, name: p.name, driver: p.driverName };
  dev.locked(() => {
    dev.checkOwner(p, 'detach', opts.owner);
    const held = holders(dev, p);
    if (held.length > 0) throw new MpdkError('EBUSY', `cannot detach ${p.name} (port ${p.id}): ${held.join('; ')}; stop them (or have them release it) first; nothing changed`);
    claim(dev, HP_DETACH, p.id); // no process can take one of its queues from here
  });
  let refused: string[];
  try {
    refused = await ask(dev, txn, timeout);
  } catch (e) {
    release(dev);
    throw e;
  }
  if (refused.length > 0) {
    release(dev);
    tell(dev, ABORT, txn);
    throw new MpdkError('EBUSY', `cannot detach ${p.name} (port ${p.id}): ${refused.join('; ')}; nothing changed`);
  }
  const late = dev.locked(() => {
    // A queue taken between the check above and this lock (a thread that passed its
    // HP_DETACH check just before the claim) refuses the detach too.
    const held = holders(dev, p);
    if (held.length === 0) removeEntry(dev, p.id);
    return held;
  });
  release(dev);
  if (late.length > 0) {
    tell(dev, ABORT, txn);
    throw new MpdkError('EBUSY', `cannot detach ${p.name} (port ${p.id}): ${late.join('; ')}; stop them (or have them release it) first; nothing changed`);
  }
  opts.owner?.lost();
  dev.forget(p.id);
  tell(dev, COMMIT, txn);
  eal.events.publish('port-removed', { port: p.id, text: `${p.name} (port ${p.id}) detached by ${who(dev)}` });
}

/**
 * Answer the others' transactions in this process (EthDev.attach calls it once per process,
 * on its main thread): prepare checks what only this process knows; commit drops what it
 * kept of a removed port. Dead owners lose their ports as soon as they leave.
 */
export function listenHotplug(dev: EthDev): void {
  const eal = dev.eal;
  let mp;
  try {
    mp = eal.mp;
  } catch {
    return; // no channel: this process's holdings are still seen in the port table
  }
  if (mp.actionNames().includes(PREPARE)) return;
  mp.on(PREPARE, (m) => {
    const t = m.data as Txn;
    if (t.op === 'attach') {
      if (!tryFindDriver(t.driver)) throw new MpdkError('EBUSY', `${who(dev)} has no driver ${t.driver}: it could not use ${t.name}`);
      return true;
    }
    const p = dev.portObj(t.port);
    const held = holders(dev, p, process.pid);
    if (held.length > 0) throw new MpdkError('EBUSY', held.join('; '));
    return true;
  });
  mp.on(COMMIT, (m) => {
    const t = m.data as Txn;
    if (t.op === 'detach') dev.forget(t.port);
  });
  mp.on(ABORT, () => undefined);
  eal.events.on('process-left', () => {
    const ports = dev.portIds().map((i) => dev.portObj(i));
    if (dev.owners.anyDead(ports)) dev.locked(() => dev.owners.sweep(ports, (p, text) => dev.ownerChanged(p, text)));
  });
}
