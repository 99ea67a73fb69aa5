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
 *   1 rollBackSingleSides  single-ended rings: a dead single producer / consumer killed
 *                          between its head and tail stores left head ≠ tail; that burst
 *                          was never published: Ring.rollBackSingle (its handles are still
 *                          in its record, or still in the ring). Only the ring sides its
 *                          records name and the port queues it owned (whose owner word,
 *                          ethdev's portQueues, still names it; the ring is the driver's
 *                          answer), and the single-ended pool ring side a dead record's
 *                          open get or free has a burst on (hands.ts listRecords, lent.ts
 *                          lentRingSide). A dead lcore's cache refill or flush is rolled
 *                          back with its cache (step 4, Mempool.recoverCache; counted in
 *                          singleFixed too).
 *   2 repairClaims         MP/MC rings: Ring.repair on every ring and every mempool's ring
 *                          (ring/claims.ts): a dead consumer's claimed handles come back to
 *                          us (returned in step 5).
 *   3 readRecords          what its records hold (hands.ts heldHandles; lent.ts: the buffers
 *                          its queues lent, once their connection is over; the burst a put
 *                          of a dead putter held while it squeezed EMPTY holes out of a
 *                          pool's ring, mempool.ts MPQ), read now: the
 *                          FREEING windows are checked against the dead lcores' caches
 *                          BEFORE they are flushed.
 *   4 flushDeadCaches      every pool's lcore caches whose user (the process whose thread
 *                          uses it) is dead flushed to the pool, the op left in flight
 *                          finished first (Mempool.abandonedCache, flushCache): also those of
 *                          an lcore a successor claimed but whose pool it has not opened (its
 *                          opening waits for the flush: mempool.ts handover).
 *   5 returnLost           every recorded handle that is an element of a pool and is found
 *                          in no pool, cache or ring (places.ts; a safety net on top of the
 *                          exact record: never two places) goes back to its pool, once,
 *                          reset (Mbufs.reset) when it is an mbuf — unless it is an mbuf the
 *                          living share (REFCNT > the d references the dead records hold, one
 *                          per record: Places.references): then only those d are dropped, in
 *                          step 7 (as rte_pktmbuf_free: the buffer goes back with the last).
 *   6 releaseDead          free its records (a lent record whose connection lasts is kept,
 *                          settled; its RX queues' scatter records, scatter.ts, read in step
 *                          3 through the window naming them) and its squeeze lines, release its lcores, free its
 *                          process slot.
 *   7 dropShared           the dead's references of shared mbufs dropped (Mbufs.dropRefs): an
 *                          mbuf whose other holders freed theirs since step 5 goes back now.
 *                          After step 6 so that a reclaimer killed here leaves nothing to
 *                          drop twice: the records that named them are gone (the drops not
 *                          made yet leak: never a buffer returned while a living holds it).
 *
 * Everything is read and repaired through the views and operations the layers export; a
 * pool or ring that cannot be read (a damaged header) is reported in `errors` and left alone.
 */
import type { Eal } from '../eal/eal.js';
import { RobustLock } from '../eal/lock.js';
import { MAX_LCORE } from '../eal/options.js';
import { MpdkError } from '../eal/errors.js';
import { processAlive } from '../native/libc.js';
import type { Mempool } from '../mempool/mempool.js';
import { isPktmbufPool, Mbufs } from '../mbuf/mbuf.js';
import { SHARED_COUNTS_MZ, type SharedCounts } from '../mbuf/shared-counts.js';
import { Ring } from '../ring/ring.js';
import { portQueues } from '../ethdev/table.js';
import { heldHandles, listRecords, RS_RX, RS_TX, type HandsRecord } from './hands.js';
import { Places, type Squeeze } from './places.js';
import { freeLent, lentReturnable, lentRingSide, listLent, settleLent, type LentRecord } from './lent.js';
import { listScatter } from './scatter.js';

export const RECLAIM_LOCK_MZ = 'mpdk_reclaim';

/** What `reclaimDead` gave back to one pool. */
export interface PoolReclaim {
  /** Handles returned from dead processes' records and dead consumers' ring claims. */
  returned: number;
  /** Handles moved from dead lcores' caches to the pool. */
  flushed: number;
  /** References of mbufs the living share that the dead held, dropped (the mbufs stay with the living). */
  dropped: number;
}

/**
 * What `reclaimDead` found and did: the dead processes, what each pool got back, the ring operations it finished or undid.
 */
export interface ReclaimReport {
  /** The dead processes found (pid, name from the process table or their record) and the lcore ids released. */
  processes: {
    /** Its pid. */
    pid: number;
    /** Its program name. */
    name: string;
    /** The lcore ids released. */
    lcores: number[];
  }[];
  /** What each pool got back, by pool name. */
  pools: Record<string, PoolReclaim>;
  /** Ownership records of dead processes read. */
  records: number;
  /**
   * Half-published single-ended bursts undone: a dead producer's / consumer's killed between a
   * single-ended ring's head and tail stores (step 1), and a dead lcore's cache refill or flush
   * killed so on its pool's ring (step 4, Mempool.recoverCache).
   */
  singleFixed: number;
  /** MP/MC ring claims of dead processes repaired (finished or undone). */
  repaired: number;
  /** Recorded handles not returned: already in a pool, cache or ring (or recorded twice). */
  skipped: number;
  /** What could not be read or returned (a damaged record or ring), one line each. */
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
  // A dead lender's record (lent.ts) not yet settled, or whose connection is over now.
  for (const l of listLent(eal)) if (!l.alive && !dead.has(l.pid) && (!l.settled || l.released)) dead.set(l.pid, { pid: l.pid, start: l.start, name: '', slot: -1 });
  // A dead RX queue's scatter record (scatter.ts): read through its window, freed here.
  for (const s of listScatter(eal)) if (!s.alive && !dead.has(s.pid)) dead.set(s.pid, { pid: s.pid, start: 0, name: '', slot: -1 });
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
  const dead = findDead(eal);
  return dead.size === 0 ? emptyReport() : new Reclaim(eal, dead).run();
}

/** One reclaim of the dead found at its start: the steps of the file header, in order. */
class Reclaim {
  readonly rep = emptyReport();
  private readonly records: HandsRecord[];
  private readonly places: Places;
  /** Handles given back by the repair of dead consumers' ring claims (step 2). */
  private readonly fromRings: number[] = [];
  /** Handles the dead records hold (step 3). */
  private readonly recorded: number[] = [];
  /** The dead lenders' records (lent.ts): step 3 reads them, step 6 frees or settles them. */
  private readonly lent: LentRecord[];
  /** The dead putters' squeeze lines (mempool.ts MPQ): step 3 reads them, step 6 clears them. */
  private readonly squeezes: Squeeze[];
  /** Step 5's references of shared mbufs to drop in step 7: handle, count, handle, count ... */
  private readonly drops: number[] = [];
  /** Per pool of `places`: whether it holds mbufs. */
  private readonly isMbuf: boolean[];

  constructor(private readonly eal: Eal, private readonly dead: Map<number, Dead>) {
    this.rep.processes = [...dead.values()].map((d) => ({ pid: d.pid, name: d.name, lcores: [] as number[] }));
    this.records = listRecords(eal).filter((x) => dead.has(x.pid) && !x.alive);
    this.lent = listLent(eal).filter((x) => dead.has(x.pid) && !x.alive);
    this.places = new Places(eal);
    this.rep.errors.push(...this.places.errors);
    this.squeezes = this.places.squeezes().filter((sq) => !processAlive(sq.pid, sq.start));
    this.isMbuf = this.places.pools.map((mp) => isPktmbufPool(mp));
    this.mbufs = new Mbufs(eal);
  }

  run(): ReclaimReport {
    this.rollBackSingleSides();
    this.repairClaims();
    // Steps 3 to 7 hold the shared counts' lock (mbuf/shared-counts.ts): a dead changer's entry is
    // settled before its record is read, and no count changes between its reading and the drops.
    if (this.eal.memzones.tryLookup(SHARED_COUNTS_MZ)) this.holdCounts();
    try {
      this.readRecords();
      this.flushDeadCaches();
      this.returnLost();
      this.releaseDead();
      if (this.drops.length > 0) this.holdCounts();
      this.dropShared();
    } finally {
      this.counts?.release();
    }
    this.log();
    return this.rep;
  }

  /** The shared counts' lock, held from now to the end of step 7 (idempotent). */
  private holdCounts(): void {
    if (this.counts) return;
    const sc = this.mbufs.sharedCounts();
    sc.acquire();
    this.counts = sc;
  }

  private counts: SharedCounts | undefined;
  private readonly mbufs: Mbufs;

  /**
   * 1 The single-ended ring sides the dead left half-published: the port queues whose owner
   * word still names a dead process, and the ring sides the dead records name — except the
   * side of a port queue a live process uses now (its new owner moves that side: an RX
   * queue's owner consumes from its ring, a TX queue's produces; the other side is a wire's,
   * e.g. a dead traffic generator's, rolled back).
   */
  private rollBackSingleSides(): void {
    const liveCons = new Set<number>();
    const liveProd = new Set<number>();
    const deadOwned: { ring: number; rx: boolean }[] = [];
    this.step('ports', () => {
      for (const q of portQueues(this.eal)) {
        if (q.ring === 0 || q.owner === 0) continue;
        if (processAlive(q.owner, q.ownerStart)) (q.rx ? liveCons : liveProd).add(q.ring);
        else if (this.dead.has(q.owner)) deadOwned.push({ ring: q.ring, rx: q.rx });
      }
    });
    for (const { ring, rx } of deadOwned) this.rollBack(ring, rx);
    for (const rec of this.records) {
      for (const { offset, sides } of rec.rings) {
        if (offset === 0) continue;
        if (sides & RS_RX && !liveCons.has(offset)) this.rollBack(offset, true);
        if (sides & RS_TX && !liveProd.has(offset)) this.rollBack(offset, false);
      }
    }
    // A dead lender's burst on a single-ended pool ring (lent.ts lentRingSide: a sender's free of
    // what its peer read, a receiver's refill get or its put-back).
    for (const rec of this.lent) {
      const side = lentRingSide(this.eal, rec);
      if (side !== 0) this.rollBack(side & ~3, (side & RS_RX) !== 0);
    }
  }

  private rollBack(ring: number, cons: boolean): void {
    this.step(`ring at offset ${ring}`, () => {
      if (Ring.attach(this.eal, ring).rollBackSingle(cons)) this.rep.singleFixed++;
    });
  }

  /** 2 MP / MC rings and every pool's ring: the dead claimers' claims finished or undone. */
  private repairClaims(): void {
    const count = (x: { published: number; filled: number; released: number }): void => {
      this.rep.repaired += x.published + x.filled + x.released;
    };
    for (const r of this.places.rings) {
      if (!r.view.hasClaims) continue;
      this.step(`ring '${r.name}'`, () => {
        const x = Ring.attach(this.eal, r.view.offset).repair();
        this.fromRings.push(...x.reclaimed);
        count(x);
      });
    }
    for (const mp of this.places.pools) this.step(`mempool '${mp.name}'`, () => count(mp.repair()));
  }

  /** 3 What the dead records hold; a FREEING window is checked against the dead lcore's caches before step 4 flushes them. */
  private readRecords(): void {
    const cached = new Map<number, Set<number>>();
    const inCaches = (l: number): Set<number> => {
      let s = cached.get(l);
      if (!s) {
        s = new Set();
        const owner = l >= 0 && l < MAX_LCORE ? this.eal.lcoreTable.ownerOf(l) : -1;
        if (owner === 0 || this.dead.has(owner)) this.places.eachInCaches((h) => s!.add(h), l);
        cached.set(l, s);
      }
      return s;
    };
    for (const rec of this.records) {
      const held = heldHandles(this.eal, rec, (h) => inCaches(rec.lcore).has(h));
      for (const [h, k] of this.places.references(held)) for (let i = 0; i < k; i++) this.recorded.push(h); // its references: a chain's segments too
      for (const e of held.errors) this.rep.errors.push(`record ${rec.mz} (pid ${rec.pid}): ${e}`);
    }
    for (const sq of this.squeezes) this.recorded.push(...sq.handles); // single segments: taken from the pool's ring
    for (const rec of this.lent) {
      const held = lentReturnable(this.eal, rec); // lent on a live connection: kept
      for (const h of held.posted) {
        this.recorded.push(h);
        if (rec.tx) this.places.eachSegment(h, (seg) => this.recorded.push(seg)); // a sender's: chain heads
      }
      this.recorded.push(...held.staged); // lone segments
    }
  }

  /** 4 The caches whose user is dead, back to their pools (finishing what was in flight: Mempool.flushCache). */
  private flushDeadCaches(): void {
    for (let l = 0; l < MAX_LCORE; l++) {
      for (const mp of this.places.pools) {
        if (!mp.abandonedCache(l)) continue;
        this.step(`mempool '${mp.name}': cache of lcore ${l}`, () => {
          const rolled = mp.singleRolledBack;
          try {
            const n = mp.flushCache(l);
            if (n > 0) this.pool(mp).flushed += n;
          } finally {
            this.rep.singleFixed += mp.singleRolledBack - rolled; // its op in flight on a single-ended ring side, rolled back first
          }
        });
      }
    }
  }

  /** 5 Each recorded (or reclaimed) handle that is an element found in no pool, cache or ring goes back to its pool, once. */
  private returnLost(): void {
    const { pools } = this.places;
    const present = pools.map((mp) => new Uint8Array(mp.size)); // 2 free (pool, cache), 1 in a ring
    const mark = (v: number) => (h: number): void => {
      const i = this.places.poolOf(h);
      if (i >= 0) {
        const idx = pools[i]!.indexOf(h);
        if (present[i]![idx]! < v) present[i]![idx] = v;
      }
    };
    this.places.eachInPools(mark(2));
    this.places.eachInCaches(mark(2));
    this.places.eachInRings(mark(1));
    const back = pools.map((): number[] => []);
    // References the dead hold, per handle: one per record (Places.references), lent record, squeeze line or repaired claim.
    const refs = new Map<number, number>();
    for (const h of [...this.fromRings, ...this.recorded]) refs.set(h, (refs.get(h) ?? 0) + 1);
    const mbufs = this.mbufs;
    for (const [h, d] of refs) {
      const i = this.places.poolOf(h);
      const idx = i < 0 ? -1 : pools[i]!.indexOf(h);
      if (i < 0 || present[i]![idx] === 2) { // not an element, or free (in its pool or a cache)
        this.rep.skipped += d;
        continue;
      }
      // Shared with the living (more references than the dead hold, a ring's included): drop the dead's (step 7).
      const r = this.isMbuf[i]! ? mbufs.refcnt(h) : 1;
      if (r > d) {
        this.drops.push(h, d);
        continue;
      }
      if (present[i]![idx]) { // in a ring: that one reference is the ring's
        this.rep.skipped += d;
        continue;
      }
      this.rep.skipped += d - 1;
      present[i]![idx] = 1;
      back[i]!.push(h);
    }
    back.forEach((hs, i) => {
      if (hs.length === 0) return;
      returnTo(this.eal, pools[i]!, hs);
      this.pool(pools[i]!).returned += hs.length;
    });
  }

  /** 7 The dead's references of mbufs the living share (step 5's drops: handle, count): dropped; an mbuf left with none goes back. */
  private dropShared(): void {
    const mbufs = this.mbufs;
    const d = this.drops;
    for (let k = 0; k < d.length; k += 2) {
      const h = d[k]!;
      this.step(`mbuf ${h}`, () => {
        const mp = mbufs.poolAt(mbufs.poolOf(h));
        if (mbufs.dropRefs(h, d[k + 1]!)) {
          returnTo(this.eal, mp, [h]);
          this.pool(mp).returned++;
        } else this.pool(mp).dropped += d[k + 1]!;
      });
    }
  }

  /** 6 The records, lcores and process slots of the dead. */
  private releaseDead(): void {
    for (const rec of this.records) {
      try {
        this.eal.memzones.free(rec.mz);
        this.rep.records++;
      } catch {
        /* freed by a caller killed after this step: fine */
      }
    }
    for (const rec of this.lent) this.step(`lent record ${rec.mz}`, () => (rec.released ? freeLent(this.eal, rec) : settleLent(this.eal, rec)));
    for (const sq of this.squeezes) sq.pool.clearSqueeze(sq.lcore, sq.pid);
    for (const s of listScatter(this.eal)) if (!s.alive && this.dead.has(s.pid)) this.step(`scatter record ${s.mz}`, () => this.eal.memzones.free(s.mz));
    for (const d of this.dead.values()) {
      this.rep.processes.find((p) => p.pid === d.pid)!.lcores.push(...this.eal.lcoreTable.releaseAllOf(d.pid));
      if (d.slot >= 0) this.eal.releaseDeadSlot(d.slot, d.pid);
    }
  }

  private log(): void {
    const rep = this.rep;
    const total = Object.values(rep.pools).reduce((a, p) => a + p.returned + p.flushed, 0);
    this.eal.log('info', `reclaimed what ${rep.processes.map((p) => `pid ${p.pid}${p.name ? ` (${p.name})` : ''}`).join(', ')} held: ${total} buffers back to their pools${rep.repaired ? `, ${rep.repaired} ring claims repaired` : ''}${rep.singleFixed ? `, ${rep.singleFixed} half-published bursts undone` : ''}`);
  }

  private pool(mp: Mempool): PoolReclaim {
    return (this.rep.pools[mp.name] ??= { returned: 0, flushed: 0, dropped: 0 });
  }

  /** Run one piece of a step; what refuses (a damaged object, a lock not given) is reported, the rest goes on. */
  private step(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.rep.errors.push(`${what}: ${(e as Error).message}`);
    }
  }
}

/** Handles back to their pool as the pool keeps them: mbufs reset first (one segment, refcnt 1: Mbufs.reset). */
function returnTo(eal: Eal, mp: Mempool, hs: number[]): void {
  const buf = new Uint32Array(hs);
  if (isPktmbufPool(mp)) {
    const mbufs = new Mbufs(eal);
    for (let i = 0; i < buf.length; i++) mbufs.reset(buf[i]!);
  }
  for (let i = 0; i < buf.length; i += 256) {
    const n = Math.min(256, buf.length - i);
    mp.putBulk(buf.subarray(i, i + n), n);
  }
}
