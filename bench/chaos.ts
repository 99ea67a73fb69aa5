/**
 * The chaos run (issues 10 and 22): `npm run chaos -- [--kills N] [--seed S] [--json] ...`
 * (`tsc && node dist/bench/chaos.js`).
 *
 * It drives client_server_mp, l2fwd_fork, symmetric_mp and simple_mp in turn (chaos-systems.ts,
 * chaos-symmetric.ts), those with ports over two net_ring ports under `mpdk pktgen` traffic
 * at a fixed moderate rate with a `mpdk dumpcap` capturing port 0, every process in the
 * sleeping idle mode, and hits a random process of the running system N times in all
 * (shared evenly), at random moments (a random pause of 0..--gap ms after the previous
 * recovery was checked): a SIGKILL, or (--stop-share of the hits) a SIGSTOP held for a
 * random 100..--stop-ms ms while the others go on, then SIGCONT. After each hit:
 *
 *   1. recovery   the operator's restarts (chaos-systems.ts tend()) until every forwarding
 *                 path moved again and the generator received more (bound: --bound ms);
 *                 recovery time = the SIGKILL (or the SIGCONT) → that moment. Not recovered within the bound: a
 *                 failure, recorded with the programs' last lines, and the system is
 *                 rebuilt from scratch (new instance) so that the run goes on.
 *   2. integrity  no frame came back corrupt (pktgen's checksum, pktgen/seal.ts) or twice
 *   3. audit      every --audit-every kills: `mpdk audit --json` leaked 0, duplicates 0
 *   4. leaks      the instance's files are the ones it had after the start; no long-lived
 *                 process holds a descriptor it should not (chaos-fds.ts: one naming a dead
 *                 process, a second per peer, more of its own than at first sight), each named
 *
 * At the end of each system: the generator is stopped (traffic paused), the audit must be
 * clean, then everything is stopped the normal way (l2fwd_fork's master prints its own
 * accounting, which must show nothing leaked), and no file of the instance may remain
 * (what does is removed with `mpdk cleanup` and counted as a failure). Every process the run
 * started is SIGKILLed at the end whatever happened, and so is every descendant.
 *
 * Output: a table (hits and recoveries by system, victim and signal, recovery time p50/p99/max, buffers
 * reclaimed, audits, leaked, corrupt, failures), or with --json one JSON object.
 * Exit status: 0 when every kill recovered and nothing failed, 1 otherwise, 2 bad options.
 * Killing the l2fwd_fork master is not part of the run: the program does not restart it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { audit, FdWatch, instanceEntries, type AuditResult } from './chaos-checks.js';
import { descendants, Fleet, killTrees, MPDK, sleep, until } from './chaos-fleet.js';
import type { Bench } from './harness.js';
import { ChaosSystem, ClientServer, L2fwdFork, VICTIM_KINDS, type Victim, type VictimKind } from './chaos-systems.js';
import { SimpleMp, SymmetricMp } from './chaos-symmetric.js';

/** The systems, by their --systems name. */
const SYSTEMS = { cs: ClientServer, l2fwd: L2fwdFork, sym: SymmetricMp, simple: SimpleMp } as const;
type SystemName = keyof typeof SYSTEMS;
const SYSTEM_NAMES = Object.keys(SYSTEMS) as SystemName[];

/** Frames a generator must receive after a kill for traffic to count as resumed. */
const RESUME = 32;
/** Shortest SIGSTOP hold. */
const STOP_MS_MIN = 100;
const START_MS = 30000;
/** How long the instance's files (and the processes' descriptors) may take to be the start's again after a kill (a dead peer's socket is removed by the others). */
const FILES_SETTLE_MS = 2000;

export interface ChaosOptions {
  kills: number;
  seed: number;
  json: boolean;
  systems: SystemName[];
  /** Share of the disruptions that are a SIGSTOP (held STOP_MS_MIN..--stop-ms, then SIGCONT) instead of a SIGKILL. */
  stopShare: number;
  stopMs: number;
  /** Kinds of process that may be killed. */
  victims: VictimKind[];
  ratePps: number;
  flows: number;
  boundMs: number;
  gapMs: number;
  auditEvery: number;
}

const USAGE = `usage: npm run chaos -- [--kills N] [--seed S] [--json] [options]
Kills (SIGKILL) or stops (SIGSTOP, then SIGCONT) random processes of the guide's four systems
(client_server_mp, l2fwd_fork, symmetric_mp, simple_mp, and their pktgen and dumpcap) under
traffic and checks after each hit that traffic resumes, nothing is corrupted, the audit is
clean and no file or descriptor leaked. Exit status 0 when everything held, 1 otherwise.
  --kills N        kills in all (SIGKILL or SIGSTOP), shared evenly by the systems (default 1000)
  --seed S         random seed (default: from the clock; printed)
  --systems LIST   of cs (client_server_mp), l2fwd (l2fwd_fork), sym (symmetric_mp),
                   simple (simple_mp); default all four
  --victims LIST   kinds that may be hit: mp_client, mp_server, slave, symmetric_mp,
                   simple_mp, pktgen, dumpcap (default all)
  --stop-share F   share of the hits that are SIGSTOP, SIGCONT after a random hold,
                   instead of SIGKILL: 0..1 (default 0.1)
  --stop-ms MS     longest SIGSTOP hold (default 1500)
  --rate PPS       pktgen's fixed rate (default 20000)
  --bound MS       a recovery longer than this fails (default 10000)
  --gap MS         pause before each kill: random 0..MS (default 300)
  --audit-every K  audit after every K-th kill (default 1)
  --json           one JSON object instead of the table`;

class Usage extends Error {}

export function parseChaosArgs(argv: string[]): ChaosOptions | 'help' {
  const o: ChaosOptions = { kills: 1000, seed: Date.now() % 2147483647, json: false, systems: [...SYSTEM_NAMES], stopShare: 0.1, stopMs: 1500, victims: [...VICTIM_KINDS], ratePps: 20000, flows: 16, boundMs: 10000, gapMs: 300, auditEvery: 1 };
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Usage(`${name} needs an integer ${min}..${max}, got ${v === undefined ? 'nothing' : `'${v}'`}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const [a, inline] = argv[i]!.includes('=') ? argv[i]!.split(/=(.*)/s) as [string, string] : [argv[i]!, undefined];
    const val = (): string | undefined => inline ?? argv[++i];
    switch (a) {
      case '-h': case '--help': return 'help';
      case '--json': o.json = true; break;
      case '--kills': o.kills = int(a, val(), 0, 1e7); break;
      case '--seed': o.seed = int(a, val(), 0, 2 ** 31 - 1); break;
      case '--rate': o.ratePps = int(a, val(), 100, 1e7); break;
      case '--bound': o.boundMs = int(a, val(), 100, 600000); break;
      case '--gap': o.gapMs = int(a, val(), 0, 60000); break;
      case '--audit-every': o.auditEvery = int(a, val(), 1, 1e7); break;
      case '--systems': {
        const v = val() ?? '';
        const list = v.split(',').map((s) => s.trim());
        if (list.length === 0 || list.some((s) => !(SYSTEM_NAMES as string[]).includes(s))) throw new Usage(`--systems takes a list of ${SYSTEM_NAMES.join(', ')}; got '${v}'`);
        o.systems = [...new Set(list)] as SystemName[];
        break;
      }
      case '--stop-share': {
        const v = val();
        if (v === undefined || !/^(0(\.\d+)?|1(\.0*)?)$/.test(v)) throw new Usage(`--stop-share needs a number 0..1, got ${v === undefined ? 'nothing' : `'${v}'`}`);
        o.stopShare = Number(v);
        break;
      }
      case '--stop-ms': o.stopMs = int(a, val(), 10, 60000); break;
      case '--victims': {
        const v = val() ?? '';
        const list = v.split(',').map((s) => s.trim());
        const bad = list.filter((k) => !(VICTIM_KINDS as readonly string[]).includes(k));
        if (bad.length || list.length === 0) throw new Usage(`--victims takes a list of ${VICTIM_KINDS.join(', ')}; got '${v}'`);
        o.victims = list as VictimKind[];
        break;
      }
      default: throw new Usage(`unknown option '${argv[i]}'`);
    }
  }
  return o;
}

/** mulberry32: a small seeded generator, so a run can be repeated (--seed). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface KillRecord {
  system: string;
  kind: VictimKind;
  /** SIGKILL, or SIGSTOP then SIGCONT (recovery counted from the SIGCONT). */
  signal: 'SIGKILL' | 'SIGSTOP';
  label: string;
  pid: number;
  /** Recovery time in ms, or null when it did not recover within the bound. */
  ms: number | null;
}

export interface VictimRow {
  system: string;
  kind: VictimKind;
  signal: 'SIGKILL' | 'SIGSTOP';
  kills: number;
  recovered: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface ChaosReport {
  kills: number;
  seed: number;
  ratePps: number;
  byVictim: VictimRow[];
  recoveries: number;
  recoveryP50Ms: number | null;
  recoveryP99Ms: number | null;
  recoveryMaxMs: number | null;
  /** Buffers the programs reported taking back from dead processes. */
  reclaimed: number;
  audits: number;
  /** Audit unavailable (no `mpdk audit`): leaked below then only covers l2fwd_fork's own accounting. */
  auditAvailable: boolean;
  /** Largest `leaked` any audit reported (after its retries), and the programs' own final accounting. */
  leaked: number;
  duplicates: number;
  corrupt: number;
  duplicateFrames: number;
  /** Exits of processes the run did not kill. */
  collateral: string[];
  rebuilds: number;
  fdMaxGrowth: Record<string, number>;
  notes: string[];
  failures: string[];
  seconds: number;
  ok: boolean;
}

function pct(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 10) / 10;
}

/** The state of one system's part of the run, over its rebuilds. */
class Part {
  readonly records: KillRecord[] = [];
  readonly failures: string[] = [];
  readonly notes: string[] = [];
  readonly fds = new FdWatch();
  audits = 0;
  auditAvailable = true;
  leaked = 0;
  duplicates = 0;
  rebuilds = 0;
  /** Every incarnation (a rebuild makes a new one, with a new prefix). */
  readonly systems: ChaosSystem[] = [];

  noteAudit(a: AuditResult, when: string): void {
    if (!a.available) {
      if (this.auditAvailable) this.notes.push(`audit not run: ${a.error}`);
      this.auditAvailable = false;
      return;
    }
    this.audits++;
    this.leaked = Math.max(this.leaked, a.leaked);
    this.duplicates = Math.max(this.duplicates, a.duplicates);
    if (!a.ok) this.failures.push(`${when}: audit not clean: ${a.error}`);
  }
}

type Factory = (fleet: Fleet, prefix: string) => ChaosSystem;

/** Every --file-prefix the run used (cleaned up on the way out, signals included). */
const prefixes = new Set<string>();

/** `mpdk cleanup` every prefix whose files remain (the processes must be gone). */
function cleanupAll(): void {
  for (const p of prefixes) {
    if (instanceEntries(p).length > 0) spawnSync(process.execPath, [MPDK, 'cleanup', '--file-prefix', p], { stdio: 'ignore', timeout: 10000 });
  }
}

/** Start a system, kill `kills` times, stop it; everything it started is ended before this returns. */
async function runPart(name: string, make: Factory, kills: number, o: ChaosOptions, random: () => number, log: (s: string) => void): Promise<Part> {
  const part = new Part();
  const base = `chaos${process.pid}${name}`;
  let fleet = new Fleet();
  prefixes.add(base);
  let sys = make(fleet, base);
  part.systems.push(sys);
  let files: string[] = [];
  const boot = async (): Promise<boolean> => {
    try {
      await sys.start(START_MS);
      await sleep(100);
      files = instanceEntries(sys.prefix);
      part.fds.check(sys.longLived(), sys.prefix);
      return true;
    } catch (e) {
      part.failures.push(`${sys.name} (${sys.prefix}) did not start: ${(e as Error).message.slice(0, 1500)}`);
      return false;
    }
  };
  /** Throw the current incarnation away (SIGKILL, cleanup) and start a new one. */
  const rebuild = async (): Promise<boolean> => {
    sys.closeView();
    const left = await fleet.endAll(3000);
    if (left.length) part.failures.push(`${sys.name}: pids ${left.join(', ')} survived SIGKILL`);
    await fleet.run(['cleanup', '--file-prefix', sys.prefix], 10000);
    part.rebuilds++;
    fleet = new Fleet();
    prefixes.add(`${base}r${part.rebuilds}`);
    sys = make(fleet, `${base}r${part.rebuilds}`);
    part.systems.push(sys);
    return boot();
  };

  try {
    if (!(await boot())) return part;
    log(`${sys.name}: up (instance ${sys.prefix}), ${kills} kills`);
    let corruptSeen = 0;
    let dupSeen = 0;
    for (let i = 0; i < kills; i++) {
      await sleep(Math.floor(random() * (o.gapMs + 1)));
      // A victim of the chosen kinds may be between a death and its restart (a dumpcap comes
      // back after DUMPCAP_GAP_MS): the operator restarts it, bounded as a recovery is.
      let victims: Victim[] = [];
      await until(() => {
        sys.tend();
        return (victims = sys.victims().filter((v) => o.victims.includes(v.kind))).length > 0;
      }, o.boundMs, 5);
      if (victims.length === 0) {
        part.failures.push(`kill ${i + 1}: ${sys.name} has no process to kill`);
        if (!(await rebuild())) return part;
        continue;
      }
      const v: Victim = victims[Math.floor(random() * victims.length)]!;
      const signal = random() < o.stopShare ? 'SIGSTOP' : 'SIGKILL';
      const before = sys.mark();
      const gen = sys.gen;
      const genBefore = gen?.last.received ?? 0;
      let t0 = performance.now();
      if (signal === 'SIGKILL') sys.kill(v);
      else if (sys.pause(v, true)) {
        // Held stopped while the others go on (tend() runs: a supervisor may replace it), then continued.
        const hold = STOP_MS_MIN + Math.floor(random() * (o.stopMs - STOP_MS_MIN + 1));
        await until(() => {
          sys.tend();
          return false;
        }, hold, 5);
        sys.pause(v, false);
        t0 = performance.now();
      }
      let stuck = '';
      const done = await until(() => {
        sys.tend();
        const g = sys.gen;
        if (sys.usesGen && !g?.proc.running) return false;
        const resumed = !sys.usesGen || (g === gen ? g!.last.received >= genBefore + RESUME : g!.last.received >= RESUME);
        const p = sys.paths();
        const moved = p.map((x, j) => x > before[j]!);
        stuck = `generator ${resumed ? 'resumed' : `at ${g!.last.received} (pid ${g!.pid})`}; paths ${moved.map((m, j) => `${j}:${m ? 'moved' : `stuck at ${p[j]}`}`).join(' ')}`;
        return resumed && moved.every(Boolean);
      }, o.boundMs, 2);
      const ms = performance.now() - t0;
      part.records.push({ system: sys.name, kind: v.kind, signal, label: v.label, pid: v.pid, ms: done ? ms : null });
      const what = `${signal === 'SIGKILL' ? 'kill' : 'stop'} ${i + 1} (${v.label}, pid ${v.pid})`;
      if (!done) {
        const tails = fleet.all.filter((p) => p.startedAt >= t0 - 1).concat(fleet.all.filter((p) => p.running)).slice(-6)
          .map((p) => `  ${p.role} pid ${p.pid} ${p.running ? 'running' : `exit ${p.code}`}: ${p.output.trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`);
        part.failures.push(`${what}: ${sys.name} did not recover within ${o.boundMs} ms: ${stuck}\n${[...new Set(tails)].join('\n')}`);
        log(`${what}: NOT recovered (${stuck}); rebuilding ${sys.name}`);
        if (!(await rebuild())) return part;
        continue;
      }
      if (o.json === false && (i + 1) % 10 === 0) log(`${sys.name}: ${i + 1}/${kills} kills, last ${v.label} (${signal}) recovered in ${ms.toFixed(0)} ms`);
      const totalCorrupt = part.systems.reduce((a, s) => a + s.genTotals().corrupt, 0);
      const totalDup = part.systems.reduce((a, s) => a + s.genTotals().duplicates, 0);
      if (totalCorrupt > corruptSeen) part.failures.push(`${what}: ${totalCorrupt - corruptSeen} corrupt frames since the previous kill`);
      if (totalDup > dupSeen) part.failures.push(`${what}: ${totalDup - dupSeen} frames delivered twice since the previous kill`);
      corruptSeen = totalCorrupt;
      dupSeen = totalDup;
      // A dead process's message-channel socket is removed by its peers once their pidfd
      // watch fires (eal events): asynchronous, so the files get FILES_SETTLE_MS to come back.
      if (!(await until(() => instanceEntries(sys.prefix).join() === files.join(), FILES_SETTLE_MS, 20))) {
        part.failures.push(`${what}: instance files ${JSON.stringify(files)} became ${JSON.stringify(instanceEntries(sys.prefix))}`);
      }
      // Descriptors, exactly (chaos-checks.ts FdWatch): those naming the dead go when the
      // holders' event loops see the death, so they get the same bound; any other extra fails.
      let grown: string[] = [];
      await until(() => (grown = part.fds.check(sys.longLived(), sys.prefix)).length === 0, FILES_SETTLE_MS, 20);
      for (const b of grown) part.failures.push(`${what}: descriptors leaked: ${b}`);
      if ((i + 1) % o.auditEvery === 0 && part.auditAvailable) part.noteAudit(await audit(fleet, sys.prefix), what);
    }

    // Traffic paused: the audit must be exact; then the normal way out.
    if (sys.gen) await sys.gen.stop(3000);
    await sleep(300);
    if (part.auditAvailable) part.noteAudit(await audit(fleet, sys.prefix), `${sys.name} at the end, traffic stopped`);
    const r = await sys.stop();
    part.notes.push(...r.notes.map((n) => `${sys.name}: ${n}`));
    part.leaked = Math.max(part.leaked, r.ownLeaked);
    part.duplicates = Math.max(part.duplicates, r.ownDuplicates);
    if (r.ownLeaked || r.ownDuplicates) part.failures.push(`${sys.name}: its own accounting at exit: ${r.notes.join('; ')}`);
    for (const [role, code] of Object.entries(r.codes)) if (code !== 0) part.failures.push(`${sys.name}: ${role} exited with ${code} when stopped`);
    const left = await until(() => instanceEntries(sys.prefix).length === 0, 3000, 20);
    if (!left) {
      part.failures.push(`${sys.name}: files left after a clean stop: ${instanceEntries(sys.prefix).join(', ')}`);
      await fleet.run(['cleanup', '--file-prefix', sys.prefix], 10000);
    }
    return part;
  } finally {
    sys.closeView();
    const left = await fleet.endAll(3000);
    if (left.length) part.failures.push(`${sys.name}: pids ${left.join(', ')} survived SIGKILL`);
    cleanupAll();
  }
}

export async function runChaos(o: ChaosOptions, log: (s: string) => void = () => {}): Promise<ChaosReport> {
  const t0 = performance.now();
  const random = rng(o.seed);
  const parts: Part[] = [];
  const share = o.systems.map((_, i) => Math.floor(o.kills / o.systems.length) + (i < o.kills % o.systems.length ? 1 : 0));
  try {
    for (let i = 0; i < o.systems.length; i++) {
      const s = o.systems[i]!;
      const make: Factory = (fleet, prefix) => new SYSTEMS[s](fleet, { prefix, ratePps: o.ratePps, flows: o.flows });
      parts.push(await runPart(s, make, share[i]!, o, random, log));
    }
  } finally {
    await killTrees(descendants(process.pid), 3000);
    cleanupAll();
  }
  const records = parts.flatMap((p) => p.records);
  const rows = new Map<string, VictimRow & { times: number[] }>();
  for (const r of records) {
    const key = `${r.system}/${r.kind}/${r.signal}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { system: r.system, kind: r.kind, signal: r.signal, kills: 0, recovered: 0, p50Ms: null, p99Ms: null, maxMs: null, times: [] }));
    row.kills++;
    if (r.ms !== null) {
      row.recovered++;
      row.times.push(r.ms);
    }
  }
  const byVictim = [...rows.values()].map(({ times, ...row }) => {
    times.sort((a, b) => a - b);
    return { ...row, p50Ms: pct(times, 50), p99Ms: pct(times, 99), maxMs: pct(times, 100) };
  });
  const all = records.flatMap((r) => (r.ms === null ? [] : [r.ms])).sort((a, b) => a - b);
  const systems = parts.flatMap((p) => p.systems);
  const gt = systems.map((s) => s.genTotals());
  const failures = parts.flatMap((p) => p.failures);
  const corrupt = gt.reduce((a, g) => a + g.corrupt, 0);
  const duplicateFrames = gt.reduce((a, g) => a + g.duplicates, 0);
  const fdMaxGrowth: Record<string, number> = {};
  for (const p of parts) for (const [role, g] of p.fds.maxGrowth) fdMaxGrowth[role] = Math.max(fdMaxGrowth[role] ?? 0, g);
  const auditAvailable = parts.every((p) => p.auditAvailable);
  const report: ChaosReport = {
    kills: records.length, seed: o.seed, ratePps: o.ratePps, byVictim,
    recoveries: all.length, recoveryP50Ms: pct(all, 50), recoveryP99Ms: pct(all, 99), recoveryMaxMs: pct(all, 100),
    reclaimed: systems.reduce((a, s) => a + s.reclaimed, 0),
    audits: parts.reduce((a, p) => a + p.audits, 0), auditAvailable,
    leaked: Math.max(0, ...parts.map((p) => p.leaked)), duplicates: Math.max(0, ...parts.map((p) => p.duplicates)),
    corrupt, duplicateFrames,
    collateral: systems.flatMap((s) => s.collateral),
    rebuilds: parts.reduce((a, p) => a + p.rebuilds, 0),
    fdMaxGrowth,
    notes: [...parts.flatMap((p) => p.notes), ...new Set(parts.flatMap((p) => p.fds.unchecked ?? []))],
    failures,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    ok: false,
  };
  report.ok = failures.length === 0 && report.recoveries === report.kills && report.kills === o.kills && corrupt === 0 && duplicateFrames === 0 &&
    report.leaked === 0 && report.duplicates === 0 && auditAvailable;
  return report;
}

export function formatReport(r: ChaosReport): string {
  const f = (v: number | null): string => (v === null ? '-' : v.toFixed(1));
  const head = ['system', 'victim', 'signal', 'hits', 'recovered', 'p50 ms', 'p99 ms', 'max ms'];
  const rows = [...r.byVictim].sort((a, b) => (a.system + a.kind + a.signal).localeCompare(b.system + b.kind + b.signal)).map((v) => [v.system, v.kind, v.signal, String(v.kills), String(v.recovered), f(v.p50Ms), f(v.p99Ms), f(v.maxMs)]);
  rows.push(['all', '', '', String(r.kills), String(r.recoveries), f(r.recoveryP50Ms), f(r.recoveryP99Ms), f(r.recoveryMaxMs)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (x: string[]): string => x.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  const out = [
    `chaos run: ${r.kills} hits (SIGKILL, or SIGSTOP then SIGCONT; recovery from the SIGCONT), seed ${r.seed}, pktgen at ${r.ratePps} pps, ${r.seconds} s`,
    '',
    line(head),
    line(w.map((n) => '-'.repeat(n))),
    ...rows.map(line),
    '',
    `buffers reclaimed      ${r.reclaimed}`,
    `audits                 ${r.auditAvailable ? `${r.audits} (mpdk audit --json)` : 'NOT RUN: no mpdk audit in this build'}`,
    `leaked                 ${r.leaked}${r.leaked ? '   <-- must be 0' : ''}`,
    `duplicated buffers     ${r.duplicates}`,
    `corrupt frames         ${r.corrupt}`,
    `frames delivered twice ${r.duplicateFrames}`,
    `descriptor growth      ${Object.entries(r.fdMaxGrowth).map(([k, v]) => `${k} +${v}`).join(', ') || 'none'}`,
    `rebuilds               ${r.rebuilds}`,
  ];
  if (r.collateral.length) {
    const seen = new Map<string, number>();
    for (const c of r.collateral) {
      const key = c.replace(/\(pid \d+\)/, '').replace(/\d+(\.\d+)?/g, 'N').slice(0, 160);
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    out.push(`exits not caused by a kill (${r.collateral.length}):`, ...[...seen].slice(0, 20).map(([c, n]) => `  ${n} x ${c}`));
  }
  if (r.notes.length) out.push('notes:', ...r.notes.map((n) => `  ${n}`));
  if (r.failures.length) out.push(`FAILURES (${r.failures.length}):`, ...r.failures.slice(0, 40).map((x) => `  ${x}`));
  out.push(r.ok ? 'result: OK' : 'result: FAILED');
  return out.join('\n');
}

/** Kills in the bench's short run (half per system); it must end well inside the runner's 60 s. */
const BENCH_KILLS = 20;

/**
 * Bench figures from a short chaos run in a child process (its own process tree, ended by
 * itself): the recovery time p99 over every kill and the leaked buffers (must be 0).
 */
export const benches: Bench[] = [{
  name: 'chaos',
  unit: 'mbufs',
  what: `short chaos run: ${BENCH_KILLS} SIGKILLs of clients, servers, slaves and generators under pktgen; recovery p99 (ms) and mbufs leaked`,
  async run(): Promise<Record<string, number>> {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--kills', String(BENCH_KILLS), '--gap', '100', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const t = setTimeout(() => child.kill('SIGTERM'), 55000);
    await new Promise((r) => child.once('close', r));
    clearTimeout(t);
    const line = out.trim().split('\n').pop() ?? '';
    if (!line.startsWith('{')) throw new Error(`chaos run printed no report: ${err.trim().split('\n').slice(-2).join(' | ')}`);
    const r = JSON.parse(line) as ChaosReport;
    if (!r.auditAvailable) throw new Error('the chaos run could not audit (no mpdk audit): leaked unknown');
    if (r.recoveryP99Ms === null) throw new Error(`no kill recovered: ${r.failures[0] ?? ''}`);
    return { 'chaos.recovery_p99_ms': r.recoveryP99Ms, 'chaos.leaked': r.leaked };
  },
}];

async function main(): Promise<number> {
  let o: ChaosOptions | 'help';
  try {
    o = parseChaosArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof Usage) {
      process.stderr.write(`chaos: ${e.message}; see npm run chaos -- --help\n`);
      return 2;
    }
    throw e;
  }
  if (o === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const opts = o;
  const log = (s: string): void => {
    process.stderr.write(`chaos: ${s}\n`);
  };
  log(`seed ${opts.seed}, ${opts.kills} kills, systems ${opts.systems.join(',')}`);
  const r = await runChaos(opts, log);
  process.stdout.write((opts.json ? JSON.stringify(r) : formatReport(r)) + '\n');
  return r.ok ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Ctrl-C / kill: end every child before leaving.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      void killTrees(descendants(process.pid), 3000).then(() => {
        cleanupAll();
        process.exit(130);
      });
    });
  }
  main().then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e) => {
      process.stderr.write(`chaos: failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      void killTrees(descendants(process.pid), 3000).then(() => {
        cleanupAll();
        process.exit(1);
      });
    },
  );
}
