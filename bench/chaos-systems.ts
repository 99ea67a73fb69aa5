/**
 * The two systems the chaos run drives, each one instance (--file-prefix) over two
 * net_ring ports under `mpdk pktgen` traffic (chaos-pktgen.ts), and what the chaos run may
 * kill in each:
 *
 *   system            processes (as an operator starts them)            victims
 *   client_server_mp  mp_server -l 0 (primary) -- -p 3 -n 2             the server, each
 *                     mp_client -l 2|3 --proc-type=auto -- -n 0|1       client, pktgen
 *                     pktgen -l 4
 *   l2fwd_fork        l2fwd_fork -l 0-2 -- -p 3 -T 0 -f (master; it     each slave, pktgen
 *                     forks one slave per port, floating lcore ids)
 *                     pktgen -l 5
 *
 * The l2fwd_fork master is not a victim: the program does not support a master restart
 * (a new master refuses a live instance, and its slaves exit when it dies).
 *
 * Recovery, the way an operator would do it: `tend()` is called every few ms while the
 * chaos run waits; it restarts whatever role has no running process, in dependency order
 * (the server first, then, once it is up, its clients and the generator): a killed client
 * by a new client with the same -n, a killed server by `mp_server --proc-type=auto` (which
 * must adopt the live instance), a killed generator by a new pktgen. l2fwd_fork's master
 * restarts its slaves itself. A process that exits without being killed by the run (e.g. a
 * client leaving when its server died) is restarted the same way and counted as collateral.
 *
 * Recovered = every forwarding path has moved since the kill (`paths()`: counters in the
 * region, read through a read-only observer: the server's RX counter and each client's TX
 * counter; l2fwd_fork's per-port TX counters) AND the generator has received RESUME more
 * frames (a new generator: RESUME frames).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Eal } from '../src/index.js';
import { PortInfoView } from '../src/apps/mp_server/common.js';
import { CTL, CTL_MZ, PSTAT } from '../src/apps/l2fwd_fork/layout.js';
import { Generator } from './chaos-pktgen.js';
import type { Fleet, Proc } from './chaos-fleet.js';

export const VICTIM_KINDS = ['mp_client', 'mp_server', 'slave', 'pktgen', 'symmetric_mp', 'simple_mp', 'dumpcap'] as const;
/**
 * What was killed: a client or the server of client_server_mp, a slave of l2fwd_fork, a
 * symmetric_mp or simple_mp process (primary or secondary), a generator, a dumpcap.
 */
export type VictimKind = (typeof VICTIM_KINDS)[number];

export interface Victim {
  kind: VictimKind;
  /** e.g. "mp_client 1", "l2fwd slave lcore 2". */
  label: string;
  pid: number;
}

export interface SystemOptions {
  prefix: string;
  ratePps: number;
  flows: number;
}

/** What a system reports when it is stopped at the end. */
export interface StopReport {
  /** Exit codes by role (non-zero: a problem). */
  codes: Record<string, number>;
  /** Lines of the programs' own end-of-run accounting (l2fwd_fork's audit lines). */
  notes: string[];
  /** Leaked/duplicated buffers the program's own accounting found (l2fwd_fork), else 0. */
  ownLeaked: number;
  ownDuplicates: number;
}

const QUIET = ['--log-level', 'warning'];
/** How client_server_mp's programs report buffers taken back from a dead process. */
const CS_RECLAIM = [/(\d+) buffers back to /g];
const VDEVS = ['--vdev=net_ring0', '--vdev=net_ring1'];
/** Minimum spacing of restarts of one role (a program refusing to start is retried, not spun). */
const RESTART_GAP_MS = 250;
/** A dumpcap is restarted less often: each start costs a Node start-up on a loaded machine. */
const DUMPCAP_GAP_MS = 1000;
/** A dumpcap stops by itself after this many packets (its file stays small). */
const DUMPCAP_COUNT = 100000;

export abstract class ChaosSystem {
  abstract readonly name: string;
  /** Whether recovery waits for the generator (false: the system has no ports, simple_mp). */
  readonly usesGen: boolean = true;
  readonly prefix: string;
  readonly o: SystemOptions;
  protected readonly fleet: Fleet;
  gen: Generator | undefined;
  /** Counts of generators that were killed (their last progress line). */
  readonly deadGens: Generator[] = [];
  /** Exits of processes the run did not kill (restarted by tend()). */
  collateral: string[] = [];
  protected readonly killed = new Set<number>();
  protected readonly lastStart = new Map<string, number>();
  protected view: Eal | undefined;

  constructor(fleet: Fleet, o: SystemOptions) {
    this.fleet = fleet;
    this.o = o;
    this.prefix = o.prefix;
  }

  /** Start everything and wait (bounded) until traffic flows. */
  abstract start(ms: number): Promise<void>;
  abstract victims(): Victim[];
  /** Snapshot of the forwarding counters (one per path). */
  abstract paths(): number[];
  /**
   * What each path must pass for a recovery, taken at the kill (or the stop): by default the
   * counters then. A path whose counter can move by what was in flight before the kill (a
   * dead process's buffered output) names a mark only traffic after the kill passes.
   */
  mark(): number[] {
    return this.paths();
  }
  /** Restart whatever is down (operator). */
  abstract tend(): void;
  /** Pids whose descriptors are watched for leaks. */
  abstract longLived(): { role: string; pid: number }[];
  /** Stop everything, gracefully first (bounded). */
  abstract stop(): Promise<StopReport>;
  /** Buffers the programs said they reclaimed from dead processes (their log lines). */
  reclaimed = 0;

  kill(v: Victim): void {
    this.killed.add(v.pid);
    try {
      process.kill(v.pid, 'SIGKILL');
    } catch {
      /* it died on its own in the meantime */
    }
  }

  /** SIGSTOP (stop) or SIGCONT (!stop) victim v; false when it is gone. */
  pause(v: Victim, stop: boolean): boolean {
    try {
      process.kill(v.pid, stop ? 'SIGSTOP' : 'SIGCONT');
      return true;
    } catch {
      return false;
    }
  }

  // --- a dumpcap capturing port 0 (systems with ports) ---------------------------------------

  protected dumpcap: Proc | undefined;
  private dumpcapFile = '';
  private dumpcaps = 0;

  /** Keep one `mpdk dumpcap -i 0` running (restarted after its death); its file goes with it. */
  protected tendDumpcap(): void {
    if (this.dumpcap?.running) return;
    if (this.dumpcap) {
      this.noteExit(this.dumpcap);
      fs.rmSync(this.dumpcapFile, { force: true });
    }
    if (!this.mayStart('dumpcap', DUMPCAP_GAP_MS)) return;
    this.dumpcapFile = path.join(os.tmpdir(), `${this.prefix}-${this.dumpcaps++}.pcap`);
    this.dumpcap = this.fleet.start('dumpcap', ['dumpcap', '--file-prefix', this.prefix, '-i', '0', '-w', this.dumpcapFile, '-c', String(DUMPCAP_COUNT), '-q']);
  }

  protected dumpcapVictim(): Victim[] {
    return this.dumpcap?.running ? [{ kind: 'dumpcap', label: 'dumpcap', pid: this.dumpcap.pid }] : [];
  }

  /**
   * Stop the dumpcap (SIGINT: it flushes and leaves) and remove its file. @returns its exit
   * code, or undefined when none was running: one the run killed (or that left on its own,
   * noted as such) and did not restart yet (DUMPCAP_GAP_MS) did not exit because of the stop.
   */
  protected async stopDumpcap(): Promise<number | undefined> {
    if (!this.dumpcap) return undefined;
    if (!this.dumpcap.running) {
      this.noteExit(this.dumpcap);
      fs.rmSync(this.dumpcapFile, { force: true });
      return undefined;
    }
    const code = await this.dumpcap.stop(3000);
    fs.rmSync(this.dumpcapFile, { force: true });
    return code;
  }

  /** Add to `reclaimed` what every match in a line of `p` of one of `res` (global) reports (group 1). */
  protected countReclaims(p: Proc, res: RegExp[]): Proc {
    p.onLine((line) => {
      for (const re of res) for (const m of line.matchAll(re)) this.reclaimed += Number(m[1]);
    });
    return p;
  }

  /** May `role` be (re)started now (not more often than RESTART_GAP_MS)? Records the start. */
  protected mayStart(role: string, gap = RESTART_GAP_MS): boolean {
    const now = performance.now();
    if (now - (this.lastStart.get(role) ?? -Infinity) < gap) return false;
    this.lastStart.set(role, now);
    return true;
  }

  /** Note the exit of a process the run did not kill. */
  protected noteExit(p: Proc): void {
    if (this.killed.has(p.pid) || p.noted) return;
    p.noted = true;
    const last = p.output.trim().split('\n').slice(-1)[0] ?? '';
    this.collateral.push(`${p.role} (pid ${p.pid}) exited with ${p.code}: ${last.slice(0, 200)}`);
  }

  protected tendGenerator(lcore: number): void {
    if (this.gen?.proc.running) return;
    if (this.gen) this.noteExit(this.gen.proc);
    if (!this.mayStart('pktgen')) return;
    if (this.gen) this.deadGens.push(this.gen);
    this.gen = new Generator(this.fleet, { prefix: this.prefix, lcore, ratePps: this.o.ratePps, flows: this.o.flows });
    this.countReclaims(this.gen.proc, [/pktgen: reclaimed (\d+) mbufs/g]);
  }

  /** Totals over every generator of this system: corrupt and duplicate frames. */
  genTotals(): { corrupt: number; duplicates: number; received: number } {
    const all = [...this.deadGens, ...(this.gen ? [this.gen] : [])];
    const pick = (g: Generator): { corrupt: number; duplicates: number; received: number } => g.final ?? g.last;
    return all.reduce((a, g) => ({ corrupt: a.corrupt + pick(g).corrupt, duplicates: a.duplicates + pick(g).duplicates, received: a.received + pick(g).received }), { corrupt: 0, duplicates: 0, received: 0 });
  }

  closeView(): void {
    this.view?.close();
    this.view = undefined;
  }

  /** A read-only view of the instance (re-made after a rebuild). */
  protected observe(): Eal | undefined {
    if (this.view) return this.view;
    try {
      this.view = Eal.observe(this.prefix, { logLevel: 'error' });
    } catch {
      this.view = undefined;
    }
    return this.view;
  }
}

/** client_server_mp: mp_server, two mp_clients, pktgen. */
export class ClientServer extends ChaosSystem {
  readonly name = 'client_server_mp';
  private server: Proc | undefined;
  private serverUp = false;
  private readonly clients: (Proc | undefined)[] = [undefined, undefined];
  private info: PortInfoView | undefined;
  private readonly genLcore = 4;

  private startServer(): void {
    const auto = this.server !== undefined; // a restart: adopt the live instance
    this.serverUp = false;
    const s = this.countReclaims(this.fleet.start('mp_server', ['mp_server', '-l', '0', ...(auto ? ['--proc-type=auto'] : []), '--file-prefix', this.prefix, ...VDEVS, ...QUIET, '--', '-p', '3', '-n', '2']), CS_RECLAIM);
    this.server = s;
    s.onLine((line) => {
      if (/Finished Process Init/.test(line) && this.server === s) this.serverUp = true;
    });
  }

  private startClient(k: number): void {
    this.clients[k] = this.countReclaims(this.fleet.start(`mp_client ${k}`, ['mp_client', '-l', String(2 + k), '--proc-type=auto', '--file-prefix', this.prefix, ...QUIET, '--', '-n', String(k)]), CS_RECLAIM);
  }

  async start(ms: number): Promise<void> {
    this.startServer();
    await this.server!.waitFor(/Finished Process Init/, ms);
    this.serverUp = true;
    for (const k of [0, 1]) this.startClient(k);
    await Promise.all(this.clients.map((c) => c!.waitFor(/handling packets/, ms)));
    this.tendGenerator(this.genLcore);
    await this.gen!.receiving(200, ms);
    this.tendDumpcap();
  }

  victims(): Victim[] {
    const v: Victim[] = this.dumpcapVictim();
    if (this.server?.running) v.push({ kind: 'mp_server', label: 'mp_server', pid: this.server.pid });
    this.clients.forEach((c, k) => c?.running && v.push({ kind: 'mp_client', label: `mp_client ${k}`, pid: c.pid }));
    if (this.gen?.proc.running) v.push({ kind: 'pktgen', label: 'pktgen', pid: this.gen.pid });
    return v;
  }

  paths(): number[] {
    const eal = this.observe();
    if (!eal) return [NaN, NaN, NaN];
    try {
      this.info ??= PortInfoView.lookup(eal);
    } catch {
      return [NaN, NaN, NaN];
    }
    const i = this.info;
    return [i.portRx(0) + i.portRx(1), i.client(0).tx, i.client(1).tx];
  }

  tend(): void {
    const s = this.server;
    if (!s?.running) {
      if (s) this.noteExit(s);
      if (this.mayStart('mp_server')) this.startServer();
      return;
    }
    if (!this.serverUp) return;
    for (const k of [0, 1]) {
      const c = this.clients[k];
      if (c?.running) continue;
      if (c) this.noteExit(c);
      if (this.mayStart(`mp_client ${k}`)) this.startClient(k);
    }
    this.tendGenerator(this.genLcore);
    this.tendDumpcap();
  }

  longLived(): { role: string; pid: number }[] {
    return [this.server, ...this.clients, this.gen?.proc].filter((p): p is Proc => !!p?.running).map((p) => ({ role: p.role, pid: p.pid }));
  }

  async stop(): Promise<StopReport> {
    const codes: Record<string, number> = {};
    if (this.gen) codes.pktgen = await this.gen.stop(3000);
    const dc = await this.stopDumpcap();
    if (dc !== undefined) codes.dumpcap = dc;
    for (const k of [0, 1]) if (this.clients[k]) codes[`mp_client ${k}`] = await this.clients[k]!.stop(3000);
    if (this.server) codes.mp_server = await this.server.stop(3000);
    this.closeView();
    return { codes, notes: [], ownLeaked: 0, ownDuplicates: 0 };
  }
}

/** l2fwd_fork: the master (which forks and restarts the slaves) and pktgen. */
export class L2fwdFork extends ChaosSystem {
  readonly name = 'l2fwd_fork';
  private master: Proc | undefined;
  private readonly slaves = new Map<number, number>();
  private stat = -1;
  private readonly genLcore = 5;

  async start(ms: number): Promise<void> {
    const m = this.fleet.start('l2fwd_fork master', ['l2fwd_fork', '-l', '0-2', '--file-prefix', this.prefix, ...VDEVS, ...QUIET, '--', '-p', '3', '-T', '0', '-f'],
      { MPDK_L2FWD_FLOAT_IDS: '10-19' });
    this.master = this.countReclaims(m, [/reclaimed (\d+) mbufs/g, /flushed (\d+) from its mempool cache/g]);
    m.onLine((line) => {
      const x = /slave lcore (\d+) started: pid (\d+)/.exec(line);
      if (x) this.slaves.set(Number(x[1]), Number(x[2]));
    });
    await m.waitFor(/slave lcore 2 started: pid \d+/, ms);
    this.tendGenerator(this.genLcore);
    await this.gen!.receiving(200, ms);
    this.tendDumpcap();
  }

  victims(): Victim[] {
    if (!this.master?.running) return [];
    const v: Victim[] = this.dumpcapVictim();
    for (const [l, pid] of [...this.slaves].sort((a, b) => a[0] - b[0])) v.push({ kind: 'slave', label: `l2fwd slave lcore ${l}`, pid });
    if (this.gen?.proc.running) v.push({ kind: 'pktgen', label: 'pktgen', pid: this.gen.pid });
    return v;
  }

  paths(): number[] {
    const eal = this.observe();
    if (!eal) return [NaN, NaN];
    if (this.stat < 0) {
      const mz = eal.memzones.tryLookup(CTL_MZ);
      if (!mz || eal.region.u32At(mz.offset + CTL.MAGIC) === 0) return [NaN, NaN];
      this.stat = eal.region.u32At(mz.offset + CTL.PORT_STAT) >>> 3;
    }
    const f = eal.region.f64;
    return [f[this.stat + PSTAT.TX]!, f[this.stat + PSTAT.STRIDE + PSTAT.TX]!];
  }

  tend(): void {
    if (!this.master?.running) {
      if (this.master) this.noteExit(this.master);
      return; // not restartable: the run records the failure and rebuilds the system
    }
    this.tendGenerator(this.genLcore);
    this.tendDumpcap();
  }

  longLived(): { role: string; pid: number }[] {
    const out = [this.master, this.gen?.proc].filter((p): p is Proc => !!p?.running).map((p) => ({ role: p.role, pid: p.pid }));
    for (const [l, pid] of this.slaves) out.push({ role: `l2fwd slave lcore ${l}`, pid });
    return out;
  }

  async stop(): Promise<StopReport> {
    const codes: Record<string, number> = {};
    if (this.gen) codes.pktgen = await this.gen.stop(3000);
    const dc = await this.stopDumpcap();
    if (dc !== undefined) codes.dumpcap = dc;
    const notes: string[] = [];
    let ownLeaked = 0;
    let ownDuplicates = 0;
    if (this.master) {
      codes.master = await this.master.stop(8000, 'SIGTERM');
      for (const m of this.master.output.matchAll(/^.*audit: (\d+) mbufs: .* (\d+) elsewhere \(held by other processes, or leaked\), (\d+) duplicates.*$/gm)) {
        notes.push(m[0].replace(/^l2fwd_fork: /, ''));
        ownLeaked += Number(m[2]);
        ownDuplicates += Number(m[3]);
      }
      if (notes.length === 0) notes.push(`no audit line from the master (exit ${codes.master})`);
    }
    this.closeView();
    return { codes, notes, ownLeaked, ownDuplicates };
  }
}
