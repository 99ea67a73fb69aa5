/**
 * The chaos run's symmetric_mp and simple_mp systems (chaos-systems.ts has the base class
 * and the other two):
 *
 *   system        processes (as an operator starts them)                 victims
 *   symmetric_mp  symmetric_mp -l 1|2 --proc-type=auto -- -p 3           each process (the
 *                 --num-procs=2 --proc-id=0|1 (whoever is first is       primary too), pktgen,
 *                 the primary); pktgen -l 5; dumpcap -i 0                dumpcap
 *   simple_mp     simple_mp -l 0-1 --proc-type=auto (primary)            either process
 *                 simple_mp -l 2-3 --proc-type=auto (secondary); the
 *                 run types `send c<seq>` into each, every SEND_MS
 *
 * Recovery, as an operator would: a dead symmetric_mp id is restarted with
 * `--proc-type=auto` (the EAL adopts the live instance when the primary died: T3; the new
 * process returns what its dead predecessor held and takes its queues over). simple_mp's
 * secondary exits when the primary dies (the guide); each side is restarted with auto.
 *
 * Recovered = symmetric_mp: both processes' queues moved (their TX packets, per-queue port
 * statistics read through an observer) and the generator received more; simple_mp: a
 * message typed after the kill has arrived at each side (the highest sequence number each
 * side received passed the last one typed before the kill: a message in flight at the kill,
 * or a killed process's output still in its pipe, is not a recovery; with it, the dying
 * side's last "Received" passed for one while both processes were gone).
 */
import { EthDev } from '../src/index.js';
import type { Fleet, Proc } from './chaos-fleet.js';
import { ChaosSystem, type StopReport, type SystemOptions, type Victim } from './chaos-systems.js';

const QUIET = ['--log-level', 'warning'];
const VDEVS = ['--vdev=net_ring0', '--vdev=net_ring1'];
const CS_RECLAIM = [/(\d+) buffers? back/g, /reclaimed (\d+)/g];

/** symmetric_mp: two processes sharing both ports by queue, pktgen, dumpcap. */
export class SymmetricMp extends ChaosSystem {
  readonly name = 'symmetric_mp';
  private readonly procs: (Proc | undefined)[] = [undefined, undefined];
  private readonly up = [false, false];
  private dev: EthDev | undefined;
  private readonly genLcore = 5;

  constructor(fleet: Fleet, o: SystemOptions) {
    super(fleet, o);
  }

  private startProc(id: number): void {
    const p = this.countReclaims(this.fleet.start(`symmetric_mp ${id}`, [
      'symmetric_mp', '-l', String(1 + id), '--proc-type=auto', '--file-prefix', this.prefix, ...VDEVS, ...QUIET, '--', '-p', '3', '--num-procs=2', `--proc-id=${id}`,
    ]), CS_RECLAIM);
    this.procs[id] = p;
    this.up[id] = false;
    p.onLine((line) => {
      if (/Finished Process Init/.test(line) && this.procs[id] === p) this.up[id] = true;
    });
  }

  async start(ms: number): Promise<void> {
    this.startProc(0);
    await this.procs[0]!.waitFor(/Finished Process Init/, ms);
    this.startProc(1);
    await this.procs[1]!.waitFor(/Finished Process Init/, ms);
    this.tendGenerator(this.genLcore);
    await this.gen!.receiving(200, ms);
    this.tendDumpcap();
  }

  victims(): Victim[] {
    const v: Victim[] = this.dumpcapVictim();
    this.procs.forEach((p, id) => p?.running && v.push({ kind: 'symmetric_mp', label: `symmetric_mp ${id}`, pid: p.pid }));
    if (this.gen?.proc.running) v.push({ kind: 'pktgen', label: 'pktgen', pid: this.gen.pid });
    return v;
  }

  paths(): number[] {
    const eal = this.observe();
    if (!eal) return [NaN, NaN];
    try {
      this.dev ??= EthDev.attach(eal);
      const a = this.dev.stats(0).queues;
      const b = this.dev.stats(1).queues;
      return [0, 1].map((q) => (a[q]?.opackets ?? NaN) + (b[q]?.opackets ?? NaN));
    } catch {
      return [NaN, NaN];
    }
  }

  tend(): void {
    for (const id of [0, 1]) {
      const p = this.procs[id];
      if (p?.running) continue;
      if (p) this.noteExit(p);
      if (this.mayStart(`symmetric_mp ${id}`)) this.startProc(id);
    }
    if (!this.up.every(Boolean)) return;
    this.tendGenerator(this.genLcore);
    this.tendDumpcap();
  }

  longLived(): { role: string; pid: number }[] {
    return [...this.procs, this.gen?.proc].filter((p): p is Proc => !!p?.running).map((p) => ({ role: p.role, pid: p.pid }));
  }

  override closeView(): void {
    this.dev = undefined;
    super.closeView();
  }

  async stop(): Promise<StopReport> {
    const codes: Record<string, number> = {};
    if (this.gen) codes.pktgen = await this.gen.stop(3000);
    const dc = await this.stopDumpcap();
    if (dc !== undefined) codes.dumpcap = dc;
    for (const id of [1, 0]) if (this.procs[id]) codes[`symmetric_mp ${id}`] = await this.procs[id]!.stop(5000);
    this.closeView();
    return { codes, notes: [], ownLeaked: 0, ownDuplicates: 0 };
  }
}

/** Messages each side is sent per second (a line on its prompt). */
const SEND_MS = 20;

/** simple_mp: a primary and a secondary, messages typed into both. */
export class SimpleMp extends ChaosSystem {
  readonly name = 'simple_mp';
  override readonly usesGen = false;
  /** 0: the first (primary) side, lcores 0-1; 1: the other, lcores 2-3. */
  private readonly procs: (Proc | undefined)[] = [undefined, undefined];
  private readonly up = [false, false];
  /** Highest sequence number each side received. */
  private readonly got = [0, 0];
  private seq = 0;
  private lastSend = 0;

  constructor(fleet: Fleet, o: SystemOptions) {
    super(fleet, o);
  }

  private startProc(side: number): void {
    const p = this.fleet.start(`simple_mp ${side}`, ['simple_mp', '-l', side === 0 ? '0-1' : '2-3', '--proc-type=auto', '--file-prefix', this.prefix, ...QUIET], {}, true);
    this.procs[side] = p;
    this.up[side] = false;
    p.onLine((line) => {
      if (this.procs[side] !== p) return;
      if (/Starting core \d+/.test(line)) this.up[side] = true;
      const m = /Received 'c(\d+)'/.exec(line);
      if (m) this.got[side] = Math.max(this.got[side]!, Number(m[1]));
    });
  }

  async start(ms: number): Promise<void> {
    this.startProc(0);
    await this.procs[0]!.waitFor(/Starting core \d+/, ms);
    this.startProc(1);
    await this.procs[1]!.waitFor(/Starting core \d+/, ms);
    const end = performance.now() + ms;
    while (!(this.got[0]! > 0 && this.got[1]! > 0)) {
      if (performance.now() > end) throw new Error(`simple_mp: no message went both ways within ${ms} ms:\n${this.procs.map((p) => p?.output.slice(-500)).join('\n')}`);
      this.tend();
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  victims(): Victim[] {
    const v: Victim[] = [];
    this.procs.forEach((p, side) => p?.running && v.push({ kind: 'simple_mp', label: `simple_mp lcores ${side === 0 ? '0-1' : '2-3'}`, pid: p.pid }));
    return v;
  }

  paths(): number[] {
    return [this.got[0]!, this.got[1]!];
  }

  override mark(): number[] {
    return [this.seq, this.seq]; // every message typed so far
  }

  tend(): void {
    for (const side of [0, 1]) {
      const p = this.procs[side];
      if (p?.running) continue;
      if (p) this.noteExit(p);
      if (this.mayStart(`simple_mp ${side}`)) this.startProc(side);
    }
    const now = performance.now();
    if (now - this.lastSend < SEND_MS) return;
    this.lastSend = now;
    for (const side of [0, 1]) if (this.up[side] && this.up[1 - side]) this.procs[side]!.send(`send c${++this.seq}`);
  }

  longLived(): { role: string; pid: number }[] {
    return this.procs.filter((p): p is Proc => !!p?.running).map((p) => ({ role: p.role, pid: p.pid }));
  }

  async stop(): Promise<StopReport> {
    const codes: Record<string, number> = {};
    for (const side of [1, 0]) {
      const p = this.procs[side];
      if (!p) continue;
      p.send('quit');
      const t = setTimeout(() => p.kill(), 5000);
      codes[`simple_mp ${side}`] = await p.exited;
      clearTimeout(t);
    }
    this.closeView();
    return { codes, notes: [], ownLeaked: 0, ownDuplicates: 0 };
  }
}
