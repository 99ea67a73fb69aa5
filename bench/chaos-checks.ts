/**
 * The chaos run's checks after each recovery, each a read-only look from outside:
 *
 *   audit   `mpdk audit --file-prefix X --json` (one line: per pool inPool, inCaches,
 *           inRings, inPortQueues, heldByLive, heldByDead, leaked, duplicates); clean =
 *           every pool leaked 0 and duplicates 0. While traffic flows the audit is a
 *           snapshot; it is asked to settle (re-scan, keep the minimum of leaked) and a
 *           non-clean result is retried a few times before it counts.
 *   files   the entries of the instance's runtime folder ($MPDK_RUNTIME_DIR or /dev/shm,
 *           mpdk.X/) and any other entry of that folder naming the prefix: the same set
 *           after every recovery as after the start (a killed process leaves no file).
 *   fds     /proc/<pid>/fd of every long-lived process (one not killed since), each
 *           descriptor by kind and target (chaos-fds.ts): what names another process (a
 *           pidfd, a message-channel connection in or out, a supervisor's channel) must name
 *           a live one, at most one of each kind per peer; the rest (region, epoll, pipes,
 *           files) no more per target than at first sight, SETTLED_MS after it joined the
 *           instance (not after it started: an l2fwd_fork standby starts long before). Not a
 *           count: a process holds up to three per live peer, however many it had when first
 *           seen (pktgen or dumpcap restarted), and one kept per dead peer is named.
 */
import fs from 'node:fs';
import path from 'node:path';
import { alive, type Fleet } from './chaos-fleet.js';
import { baselineOf, extraFds, fdTable, unixSockets, type FdBaseline, type FdEntry } from './chaos-fds.js';

export interface PoolAudit {
  name: string;
  size: number;
  heldByDead: number;
  leaked: number;
  duplicates: number;
}

export interface AuditResult {
  /** false when this mpdk has no `audit` program (nothing was checked). */
  available: boolean;
  ok: boolean;
  pools: PoolAudit[];
  leaked: number;
  duplicates: number;
  heldByDead: number;
  /** Why it is not ok, or why it is unavailable. */
  error?: string;
}

/** Rescans the audit makes to see past buffers moving while it scans. */
const SETTLE = 5;
/** Attempts before a non-clean audit counts (traffic moves between attempts). */
const ATTEMPTS = 3;

let settleSupported: boolean | undefined;

/** One audit of instance `prefix` through the `mpdk audit` program (bounded). */
export async function audit(fleet: Fleet, prefix: string, ms = 10000): Promise<AuditResult> {
  let last: AuditResult | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const settle = settleSupported !== false ? ['--settle', String(SETTLE)] : [];
    const r = await fleet.run(['audit', '--file-prefix', prefix, '--json', ...settle], ms);
    if (r.code === 2 && /unknown program 'audit'/.test(r.err)) {
      return { available: false, ok: false, pools: [], leaked: 0, duplicates: 0, heldByDead: 0, error: 'this mpdk has no `mpdk audit`' };
    }
    if (r.code === 2 && settle.length > 0 && /settle/.test(r.err)) {
      settleSupported = false;
      attempt--;
      continue;
    }
    last = parseAudit(r.code, r.out, r.err);
    if (last.ok) return last;
    await new Promise((res) => setTimeout(res, 50));
  }
  return last!;
}

function parseAudit(code: number, out: string, err: string): AuditResult {
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line || (code !== 0 && code !== 1)) {
    return { available: true, ok: false, pools: [], leaked: 0, duplicates: 0, heldByDead: 0, error: `mpdk audit exited ${code}: ${(err || out).trim().split('\n').slice(-2).join(' | ').slice(0, 300)}` };
  }
  const j = JSON.parse(line) as { pools: PoolAudit[] };
  const pools = j.pools.map((p) => ({ name: p.name, size: p.size, heldByDead: p.heldByDead ?? 0, leaked: p.leaked, duplicates: p.duplicates }));
  const sum = (k: 'leaked' | 'duplicates' | 'heldByDead'): number => pools.reduce((a, p) => a + p[k], 0);
  const res: AuditResult = { available: true, ok: code === 0 && sum('leaked') === 0 && sum('duplicates') === 0, pools, leaked: sum('leaked'), duplicates: sum('duplicates'), heldByDead: sum('heldByDead') };
  if (!res.ok) res.error = pools.filter((p) => p.leaked || p.duplicates).map((p) => `${p.name}: leaked ${p.leaked}, duplicates ${p.duplicates}`).join('; ') || `exit ${code}`;
  return res;
}

/** `mp.<slot>.<pid>` of a process that runs (not a zombie). */
function liveSocket(name: string): boolean {
  const m = /^mp\.\d+\.(\d+)$/.exec(name);
  if (!m) return false;
  try {
    const stat = fs.readFileSync(`/proc/${m[1]}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** The files instance `prefix` has in the runtime folder (sorted; relative names). */
export function instanceEntries(prefix: string): string[] {
  const base = process.env.MPDK_RUNTIME_DIR ?? '/dev/shm';
  const dir = `mpdk.${prefix}`;
  const out: string[] = [];
  let top: string[] = [];
  try {
    top = fs.readdirSync(base);
  } catch {
    return out;
  }
  for (const e of top) {
    if (e === dir) {
      // A live process's message-channel socket (mp.<slot>.<pid>) is its own, not a leftover:
      // only a dead one's counts (its name then differs from the list taken before).
      for (const f of fs.readdirSync(path.join(base, dir))) if (!liveSocket(f)) out.push(`${dir}/${f}`);
      out.push(`${dir}/`);
    } else if (e.includes(prefix)) out.push(e);
  }
  return out.sort();
}

/** Time since joining after which a process's own descriptors are taken as its baseline. */
const SETTLED_MS = 2000;

/**
 * Milliseconds since process `pid` joined instance `prefix` (bound its mp.<slot>.<pid>
 * socket, which its EAL makes after the folder and the region), -1 while it has not. Not its
 * age: an l2fwd_fork standby is forked long before it is promoted and starts its EAL (22
 * descriptors as a standby, 31 once joined).
 */
function joinedMs(prefix: string, pid: number): number {
  const dir = path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${prefix}`);
  try {
    const name = fs.readdirSync(dir).find((f) => f.endsWith(`.${pid}`) && /^mp\.\d+\.\d+$/.test(f));
    return name ? Date.now() - fs.statSync(path.join(dir, name)).mtimeMs : -1;
  } catch {
    return -1;
  }
}

/** "pidfd 4, mp-in 3, ..." of table t. */
function kinds(t: FdEntry[]): string {
  const n = new Map<string, number>();
  for (const e of t) n.set(e.kind, (n.get(e.kind) ?? 0) + 1);
  return [...n].map(([k, v]) => `${k} ${v}`).join(', ');
}

/** The descriptors of long-lived processes against what they should hold now (chaos-fds.ts). */
export class FdWatch {
  private readonly first = new Map<number, { n: number; kinds: string; base: FdBaseline }>();
  /** Largest growth of the count over the first seen, per role (for the report; accounted for by the check). */
  readonly maxGrowth = new Map<string, number>();
  /** Set once when sockets cannot be matched to their peers (no `ss`): they go unchecked. */
  unchecked: string | undefined;

  /** Whether process `pid`'s descriptors are checked yet (it joined SETTLED_MS ago, or more, when looked at). */
  baselined(pid: number): boolean {
    return this.first.has(pid);
  }

  /** Look at `procs` of instance `prefix` now; @returns one line per process holding descriptors it should not, naming each. */
  check(procs: { role: string; pid: number }[], prefix: string): string[] {
    const sockets = unixSockets();
    if (!sockets) this.unchecked ??= 'sockets not checked: `ss` (iproute2) is not installed';
    const bad: string[] = [];
    for (const { role, pid } of procs) {
      const t = fdTable(pid, sockets);
      if (!t) continue;
      const f = this.first.get(pid);
      if (!f) {
        // A process still starting has not opened what it keeps for life (the region, the
        // folder, its socket...): its descriptors then are no baseline.
        if (joinedMs(prefix, pid) >= SETTLED_MS) this.first.set(pid, { n: t.length, kinds: kinds(t), base: baselineOf(t) });
        continue;
      }
      const g = t.length - f.n;
      if (g > (this.maxGrowth.get(role) ?? 0)) this.maxGrowth.set(role, g);
      const extra = extraFds(t, f.base, alive);
      if (extra.length) bad.push(`${role} (pid ${pid}): ${f.n} -> ${t.length} open descriptors (${f.kinds} -> ${kinds(t)}); not accounted for: ${extra.join('; ')}`);
    }
    return bad;
  }
}
