/**
 * reclaimDead: return everything the dead processes of an instance held, once.
 *
 *   who calls it   any live process, at any time: a server that sees a client die, a
 *                  program starting as the successor of a dead one (before it touches the
 *                  dead one's rings, queues or lcore), a supervisor, a test
 *   serialised by  the robust lock in memzone "mpdk_reclaim": one caller reclaims, the
 *                  others then find nothing left (idempotent); a caller killed half-way
 *                  leaves the lock to be taken over and the work to be redone (every step
 *                  below is safe to repeat: it acts only on what is still there)
 *
 * A process is dead when its (pid, start time) no longer runs, found through the process
 * table, the lcore table and the ownership records (hands.ts) — any of them, since a new
 * process may already have reused a dead one's process slot. For all of them together:
 *
 *   1 single-ended rings: a dead single producer / consumer killed between its head and
 *     tail stores left head ≠ tail; the burst was never published: head = tail (its
 *     handles are still in its record, or still in the ring). Only the ring sides its
 *     records name and the port queues it owned (whose owner word still names it).
 *   2 MP/MC rings: Ring.repair on every ring and every mempool's ring (ring.ts): a dead
 *     consumer's claimed handles come back to us (returned in step 5).
 *   3 what its records hold (hands.ts heldHandles), read now: the FREEING windows are
 *     checked against the dead lcores' caches BEFORE they are flushed.
 *   4 its lcores' mempool caches flushed to the pools (lcores whose owner is still it).
 *   5 return: every recorded handle that is an element of a pool and is found in no pool,
 *     cache or ring (a safety net on top of the exact record: never two places), once.
 *   6 free its records, release its lcores, free its process slot.
 */
import type { Eal } from '../eal/eal.js';
import { RobustLock } from '../eal/lock.js';
import { MAX_LCORE } from '../eal/options.js';
import { MpdkError } from '../eal/errors.js';
import { processAlive } from '../native/libc.js';
import { Mempool } from '../mempool/mempool.js';
import { MBUF } from '../mbuf/mbuf.js';
import { isPktmbufPool } from '../mbuf/mbuf.js';
import { Ring } from '../ring/ring.js';
import { RingView } from '../ring/view.js';
import { ED, EP, EQ, ETHDEV_MZ, MAX_QUEUES } from '../ethdev/layout.js';
import { heldHandles, listRecords, RS_RX, RS_TX } from './hands.js';
import { PoolIndex, eachInCache, eachInRing, listRings } from './places.js';

export const RECLAIM_LOCK_MZ = 'mpdk_reclaim';

export interface PoolReclaim {
  /** Handles returned from dead processes' records and dead consumers' ring claims. */
  returned: number;
  /** Handles moved from dead lcores' caches to the pool. */
  flushed: number;
}

export interface ReclaimReport {
  /** The dead processes found (pid, name from the process table or their record) and the lcore ids released. */
  processes: { pid: number; name: string; lcores: number[] }[];
  pools: Record<string, PoolReclaim>;
  records: number;
  /** Half-published single-ended bursts undone (step 1), MP/MC claims repaired (step 2). */
  singleFixed: number;
  repaired: number;
  /** Recorded handles not returned: already in a pool, cache or ring (or recorded twice). */
  skipped: number;
  errors: string[];
}

interface Dead {
  pid: number;
  start: number;
  name: string;
  slot: number;
}

/** The dead processes, found in all three tables. */
function findDead(eal: Eal): Map<number, Dead> {
  const dead = new Map<number, Dead>();
  for (const p of eal.processes.list()) if (!p.alive) dead.set(p.pid, { pid: p.pid, start: p.start, name: p.name, slot: p.slot });
  for (const rec of listRecords(eal)) {
    if (rec.alive || dead.has(rec.pid)) continue;
    if (!rec.ready && processAlive(rec.pid, 0)) continue; // being created
    dead.set(rec.pid, { pid: rec.pid, start: rec.start, name: rec.name, slot: -1 });
  }
  for (const l of eal.lcoreTable.list()) if (!l.alive && !dead.has(l.pid)) dead.set(l.pid, { pid: l.pid, start: 0, name: '', slot: -1 });
  return dead;
}

function emptyReport(): ReclaimReport {
  return { processes: [], pools: {}, records: 0, singleFixed: 0, repaired: 0, skipped: 0, errors: [] };
}

/**
 * Return everything the dead processes of the instance held (file header). Safe from any
 * live process at any time; concurrent callers are serialised; a second call finds
 * nothing. Returns what was done, per pool.
 */
export function reclaimDead(eal: Eal): ReclaimReport {
  if (eal.slot < 0 && !eal.isWorker) throw new MpdkError('EINVAL', `reclaimDead needs a process attached to the instance (a read-only observer cannot return buffers)`);
  if (findDead(eal).size === 0) return emptyReport();
  let mz = eal.memzones.tryLookup(RECLAIM_LOCK_MZ);
  if (!mz) {
    try {
      mz = eal.memzones.reserve(RECLAIM_LOCK_MZ, 64);
    } catch (e) {
      if (!(e instanceof MpdkError && e.code === 'EEXIST')) throw e;
      mz = eal.memzones.lookup(RECLAIM_LOCK_MZ);
    }
  }
  const lock = new RobustLock(eal.region.i32, mz.offset);
  lock.acquire({ what: 'the reclaim of dead processes', timeoutMs: 10000 });
  try {
    return reclaimLocked(eal);
  } finally {
    lock.release();
  }
}

function reclaimLocked(eal: Eal): ReclaimReport {
  const rep = emptyReport();
  const dead = findDead(eal);
  if (dead.size === 0) return rep;
  const r = eal.region;
  const u32 = r.u32;
  rep.processes = [...dead.values()].map((d) => ({ pid: d.pid, name: d.name, lcores: [] as number[] }));
  const records = listRecords(eal).filter((x) => dead.has(x.pid) && !x.alive);
  const pools = new PoolIndex(eal);
  const pr = (i: number): PoolReclaim => (rep.pools[pools.pools[i]!.name] ??= { returned: 0, flushed: 0 });

  // 1 single-ended ring sides of the dead: put the head back to the tail.
  const fix = (ring: number, cons: boolean): void => {
    if (Ring.attach(eal, ring).rollBackSingle(cons)) rep.singleFixed++;
  };
  const liveOwned = new Set<number>(); // port queue rings a live process now uses
  const deadOwned: [number, boolean][] = [];
  const emz = eal.memzones.tryLookup(ETHDEV_MZ);
  if (emz) {
    const np = r.u32At(emz.offset + ED.NB_PORTS);
    const stride = r.u32At(emz.offset + ED.PORT_STRIDE);
    for (let p = 0; p < np; p++) {
      const e = emz.offset + ED.BYTES + p * stride;
      if (r.readString(e + EP.DRIVER, 32) !== 'net_ring') continue;
      for (let q = 0; q < 2 * MAX_QUEUES; q++) {
        const qe = e + EP.RXQ + q * EQ.BYTES;
        const ring = r.u32At(qe + EQ.DRV0);
        const owner = r.i32[(qe + EQ.OWNER_PID) >>> 2]!;
        if (ring === 0 || owner === 0) continue;
        if (processAlive(owner, r.f64[(qe + EQ.OWNER_START) >>> 3]!)) liveOwned.add(ring);
        else if (dead.has(owner)) deadOwned.push([ring, q < MAX_QUEUES]);
      }
    }
  }
  for (const [ring, rx] of deadOwned) fix(ring, rx);
  for (const rec of records) {
    for (const { offset, sides } of rec.rings) {
      if (offset === 0 || liveOwned.has(offset)) continue;
      if (sides & RS_RX) fix(offset, true);
      if (sides & RS_TX) fix(offset, false);
    }
  }

  // 2 MP/MC rings: dead claimers' claims finished or undone.
  const fromRings: number[] = [];
  const repair = (what: string, fn: () => { published: number; filled: number; released: number }): void => {
    try {
      const x = fn();
      rep.repaired += x.published + x.filled + x.released;
    } catch (e) {
      rep.errors.push(`${what}: ${(e as Error).message}`);
    }
  };
  for (const { name, offset } of listRings(eal)) {
    if (!RingView.at(r, offset).hasClaims) continue;
    repair(`ring '${name}'`, () => {
      const x = Ring.attach(eal, offset).repair();
      fromRings.push(...x.reclaimed);
      return x;
    });
  }
  for (const mp of pools.pools) repair(`mempool '${mp.name}'`, () => mp.repair());

  // 3 what the dead records hold; the dead lcores' caches read before step 4 flushes them.
  const deadLcores: number[] = [];
  for (let l = 0; l < MAX_LCORE; l++) {
    const o = eal.lcoreTable.ownerOf(l);
    if (o !== 0 && dead.has(o)) deadLcores.push(l);
  }
  const cacheOf = new Map<number, Set<number>>();
  const cacheSet = (l: number): Set<number> => {
    let s = cacheOf.get(l);
    if (!s) {
      s = new Set();
      const owner = l >= 0 && l < MAX_LCORE ? eal.lcoreTable.ownerOf(l) : -1;
      if (owner === 0 || dead.has(owner)) for (const mp of pools.pools) eachInCache(u32, mp, l, (h) => s!.add(h));
      cacheOf.set(l, s);
    }
    return s;
  };
  const recorded: number[] = [];
  for (const rec of records) {
    const held = heldHandles(r, rec, (h) => cacheSet(rec.lcore).has(h));
    recorded.push(...held.handles);
    for (const e of held.errors) rep.errors.push(`record ${rec.mz} (pid ${rec.pid}): ${e}`);
  }

  // 4 the dead lcores' caches, back to their pools.
  for (const l of deadLcores) {
    for (let i = 0; i < pools.pools.length; i++) {
      try {
        const n = pools.pools[i]!.flushCache(l);
        if (n > 0) pr(i).flushed += n;
      } catch (e) {
        rep.errors.push(`cache of lcore ${l}: ${(e as Error).message}`);
      }
    }
  }

  // 5 return each recorded handle found nowhere else, once.
  const present = pools.pools.map((mp) => new Uint8Array(mp.size));
  const mark = (h: number): void => {
    const i = pools.poolOf(h);
    if (i >= 0) present[i]![pools.pools[i]!.indexOf(h)] = 1;
  };
  for (const mp of pools.pools) {
    mp.ring.forEach(mark);
    for (let l = 0; l < MAX_LCORE; l++) eachInCache(u32, mp, l, mark);
  }
  for (const { offset } of listRings(eal)) eachInRing(eal, offset, mark);
  const back = pools.pools.map((): number[] => []);
  for (const h of [...fromRings, ...recorded]) {
    const i = pools.poolOf(h);
    if (i < 0) {
      rep.skipped++;
      continue;
    }
    const idx = pools.pools[i]!.indexOf(h);
    if (present[i]![idx]) {
      rep.skipped++;
      continue;
    }
    present[i]![idx] = 1;
    back[i]!.push(h);
  }
  back.forEach((hs, i) => {
    if (hs.length === 0) return;
    const mp = pools.pools[i]!;
    if (isPktmbufPool(r, mp.header)) for (const h of hs) resetMbuf(eal, h);
    returnTo(mp, hs);
    pr(i).returned += hs.length;
  });

  // 6 the records, lcores and process slots of the dead.
  for (const rec of records) {
    try {
      eal.memzones.free(rec.mz);
      rep.records++;
    } catch {
      /* freed by a caller killed after this step: fine */
    }
  }
  for (const d of dead.values()) {
    rep.processes.find((p) => p.pid === d.pid)!.lcores.push(...eal.lcoreTable.releaseAllOf(d.pid));
    if (d.slot >= 0) eal.processes.unregister(d.slot, d.pid);
  }
  const total = Object.values(rep.pools).reduce((a, p) => a + p.returned + p.flushed, 0);
  eal.log('info', `reclaimed what ${rep.processes.map((p) => `pid ${p.pid}${p.name ? ` (${p.name})` : ''}`).join(', ')} held: ${total} buffers back to their pools${rep.repaired ? `, ${rep.repaired} ring claims repaired` : ''}${rep.singleFixed ? `, ${rep.singleFixed} half-published bursts undone` : ''}`);
  return rep;
}

/** An mbuf back to its pool: one segment, refcnt 1, as the pool keeps them (mbuf.ts). */
function resetMbuf(eal: Eal, h: number): void {
  const r = eal.region;
  r.u32[(h + MBUF.NEXT) >>> 2] = 0;
  const dv = r.dv;
  dv.setUint16(h + MBUF.REFCNT, 1, true);
  dv.setUint16(h + MBUF.NB_SEGS, 1, true);
}

function returnTo(mp: Mempool, hs: number[]): void {
  const buf = new Uint32Array(hs);
  for (let i = 0; i < buf.length; i += 256) {
    const n = Math.min(256, buf.length - i);
    mp.putBulk(buf.subarray(i, i + n), n);
  }
}
