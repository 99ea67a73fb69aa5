/**
 * One read-only snapshot of a running instance, shared by `mpdk proc-info`, `mpdk top` and
 * the Prometheus exporter: processes (with their lcores and CPU time from /proc), ports
 * with per-queue counters, rings, mempools, memzones, heap, capture rings. Built from an
 * observer Eal (Eal.observe: a PROT_READ mapping) through the layers' describers, so it
 * cannot change anything in the instance. Counters are momentary values; `rates` turns two
 * snapshots into per-second figures.
 */
import fs from 'node:fs';
import { RingView, captureStats, describeAll, type CaptureRingInfo, type Eal, type HeapStats, type InstanceEvent, type LcoreUsage, type Memzone, type PortInfo, type PortStats } from '../../index.js';

export interface ProcSnap {
  pid: number;
  type: 'primary' | 'secondary';
  name: string;
  alive: boolean;
  lcores: number[];
  /** utime + stime in seconds (from /proc/<pid>/stat), -1 when unreadable. */
  cpuSeconds: number;
  threads: number;
  rssBytes: number;
}

export interface PortSnap extends Omit<PortInfo, 'name'> {
  name: string;
  stats: PortStats;
}

export interface RingSnap {
  name: string;
  size: number;
  capacity: number;
  count: number;
  free: number;
  highWater: number;
  holes: number;
  [k: string]: unknown;
}

export interface PoolSnap {
  name: string;
  size: number;
  eltSize: number;
  cacheSize: number;
  available: number;
  inUse: number;
  inRing: number;
  inCaches: number;
  cacheFill: Record<string, number>;
  [k: string]: unknown;
}

export interface LcoreSnap {
  lcore: number;
  pid: number;
  alive: boolean;
  usage: LcoreUsage;
}

export interface Snapshot {
  filePrefix: string;
  /** Date.now() when taken. */
  time: number;
  /** process.hrtime in seconds, for rates. */
  mono: number;
  regionSize: number;
  primary: { pid: number; alive: boolean };
  processes: ProcSnap[];
  /** Claimed lcores, with their poll loops' time since claimed (LcoreUsage: nanoseconds). */
  lcores: LcoreSnap[];
  ports: PortSnap[];
  rings: RingSnap[];
  mempools: PoolSnap[];
  memzones: Memzone[];
  heap: HeapStats;
  captures: CaptureRingInfo[];
  /** Other objects the describers know (memif, mbuf_pool...), as they describe themselves. */
  others: { kind: string; name: string; [k: string]: unknown }[];
  /** The instance's latest events (eal.events.recent), oldest first. */
  events: InstanceEvent[];
}

/** Events a snapshot carries (proc-info --events, top's last lines). */
const EVENTS_SHOWN = 32;
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on every Linux this runs on
const PAGE = 4096;

/** utime+stime (s), threads and RSS of `pid` from /proc/<pid>/stat; cpuSeconds -1 when gone. */
export function procStat(pid: number): { cpuSeconds: number; threads: number; rssBytes: number } {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): utime = field 14, stime = 15, num_threads = 20, rss = 24
    return { cpuSeconds: (Number(f[11]) + Number(f[12])) / CLK_TCK, threads: Number(f[17]), rssBytes: Number(f[21]) * PAGE };
  } catch {
    return { cpuSeconds: -1, threads: 0, rssBytes: 0 };
  }
}

export function snapshot(eal: Eal): Snapshot {
  const lcores = eal.lcoreTable.list().filter((l) => l.pid !== 0).map((l) => ({ lcore: l.lcore, pid: l.pid, alive: l.alive, usage: l.usage }));
  const processes: ProcSnap[] = eal.processes.list().map((p) => ({
    pid: p.pid, type: p.type, name: p.name, alive: p.alive, lcores: lcores.filter((l) => l.pid === p.pid).map((l) => l.lcore),
    ...(p.alive ? procStat(p.pid) : { cpuSeconds: -1, threads: 0, rssBytes: 0 }),
  }));
  const ports: PortSnap[] = [];
  const rings: RingSnap[] = [];
  const mempools: PoolSnap[] = [];
  const others: Snapshot['others'] = [];
  for (const o of describeAll(eal)) {
    if (o.kind === 'port') ports.push(o as unknown as PortSnap);
    else if (o.kind === 'ring') rings.push(o as unknown as RingSnap);
    else if (o.kind === 'mempool') mempools.push(o as unknown as PoolSnap);
    else others.push(o);
  }
  return {
    filePrefix: eal.filePrefix, time: Date.now(), mono: Number(process.hrtime.bigint()) / 1e9, regionSize: eal.region.size,
    primary: { pid: eal.primaryPid(), alive: eal.primaryAlive() },
    processes, lcores, ports, rings, mempools, memzones: eal.memzones.list(), heap: eal.heapStats(), captures: captureStats(eal), others,
    events: eal.events.recent(EVENTS_SHOWN),
  };
}

/** Busy share (0..1) of an lcore's poll loop between two snapshots; -1 when it did not poll (or was re-claimed). */
export function busyShare(a: LcoreSnap | undefined, b: LcoreSnap): number {
  if (!a || a.pid !== b.pid) return -1;
  const busy = b.usage.busyNs - a.usage.busyNs;
  const total = busy + b.usage.idleNs - a.usage.idleNs;
  return total > 0 && busy >= 0 ? busy / total : -1;
}

/** Busy share (0..1) of an lcore's poll loop since its owner claimed it; -1 when it never polled. */
export function busyShareSinceClaim(l: LcoreSnap): number {
  const total = l.usage.busyNs + l.usage.idleNs;
  return total > 0 ? l.usage.busyNs / total : -1;
}

/** The memory layout (proc-info -m): the region, its heap, every memzone, how many objects of each kind. */
export function memoryLayout(eal: Eal, s: Snapshot): Record<string, unknown> {
  return {
    region: { path: eal.region.path, bytes: s.regionSize }, heap: s.heap, memzones: s.memzones,
    objects: { ports: s.ports.length, rings: s.rings.length, mempools: s.mempools.length, ...Object.fromEntries(kinds(s.others)) },
  };
}

function kinds(others: Snapshot['others']): [string, number][] {
  const n = new Map<string, number>();
  for (const o of others) n.set(o.kind, (n.get(o.kind) ?? 0) + 1);
  return [...n];
}

/** Every ring in DPDK's rte_ring_dump form (proc-info --show-ring without a name). */
export function ringDumps(eal: Eal): string[] {
  return RingView.list(eal).map((e) => (e.view ? e.view.dump() : `ring <${e.name}>: ${e.error ?? 'unreadable'}\n`));
}

export interface QueueRate {
  port: number;
  q: number;
  rxPps: number;
  txPps: number;
  rxBps: number;
  txBps: number;
  /** imissed + ierrors + rx_nombuf + oerrors per second. */
  dropPps: number;
}

export interface Rates {
  seconds: number;
  /** pid → CPU % (100 = one core), -1 when unknown. */
  cpu: Map<number, number>;
  /** lcore → share (0..1) of its poll loop's time spent on rounds that moved something; -1 when it did not poll. */
  busy: Map<number, number>;
  /** Per port: totals (q = -1) then queues. */
  queues: QueueRate[];
}

/** Per-second rates between two snapshots of the same instance (counter resets give 0, not negatives). */
export function rates(a: Snapshot, b: Snapshot): Rates {
  const dt = Math.max(1e-6, b.mono - a.mono);
  const cpu = new Map<number, number>();
  for (const p of b.processes) {
    const old = a.processes.find((x) => x.pid === p.pid);
    cpu.set(p.pid, old && old.cpuSeconds >= 0 && p.cpuSeconds >= 0 ? (Math.max(0, p.cpuSeconds - old.cpuSeconds) / dt) * 100 : -1);
  }
  const busy = new Map<number, number>();
  for (const l of b.lcores) busy.set(l.lcore, busyShare(a.lcores.find((x) => x.lcore === l.lcore), l));
  const d = (x: number, y: number): number => Math.max(0, y - x) / dt;
  const queues: QueueRate[] = [];
  for (const p of b.ports) {
    const o = a.ports.find((x) => x.id === p.id);
    if (!o) continue;
    const s = p.stats;
    const t = o.stats;
    queues.push({
      port: p.id, q: -1, rxPps: d(t.ipackets, s.ipackets), txPps: d(t.opackets, s.opackets), rxBps: d(t.ibytes, s.ibytes) * 8, txBps: d(t.obytes, s.obytes) * 8,
      dropPps: d(t.imissed + t.ierrors + t.rxNombuf + t.oerrors, s.imissed + s.ierrors + s.rxNombuf + s.oerrors),
    });
    for (const q of s.queues) {
      const oq = t.queues.find((x) => x.q === q.q);
      if (!oq) continue;
      queues.push({
        port: p.id, q: q.q, rxPps: d(oq.ipackets, q.ipackets), txPps: d(oq.opackets, q.opackets), rxBps: d(oq.ibytes, q.ibytes) * 8, txBps: d(oq.obytes, q.obytes) * 8,
        dropPps: d(oq.imissed + oq.ierrors + oq.rxNombuf + oq.oerrors, q.imissed + q.ierrors + q.rxNombuf + q.oerrors),
      });
    }
  }
  return { seconds: dt, cpu, busy, queues };
}

/** 1234567 → "1.23M" (SI, 3 significant digits). */
export function si(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + 'G';
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + 'M';
  if (a >= 1e3) return (v / 1e3).toPrecision(3) + 'k';
  return a === 0 ? '0' : a >= 1 ? String(Math.round(v)) : v.toFixed(2);
}

const inodes = new WeakMap<Eal, number>();

/** Remember which file `eal` mapped (call right after Eal.observe). */
export function rememberInstance(eal: Eal): void {
  try {
    inodes.set(eal, fs.statSync(eal.region.path).ino);
  } catch {
    /* gone already: instanceGone says so */
  }
}

/** Has the instance gone away (its region file unlinked or replaced, or no live process left)? */
export function instanceGone(eal: Eal): boolean {
  try {
    const ino = fs.statSync(eal.region.path).ino;
    const was = inodes.get(eal);
    return (was !== undefined && ino !== was) || eal.processes.list().every((p) => !p.alive);
  } catch {
    return true;
  }
}
