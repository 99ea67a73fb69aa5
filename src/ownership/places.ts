/**
 * Where elements can be, seen through the views their layers export (nothing is attached
 * for writing, nothing is written: works on a read-only observer's mapping). Shared by
 * reclaim.ts (what must never be returned a second time) and audit.ts (where every
 * element is).
 *
 *   place          read through                                  exact when
 *   pool ring      the pool's Ring (a RingView): its published    nobody gets / puts meanwhile
 *                  entries, EMPTY holes left out
 *   lcore cache    Mempool.eachInCache: OBJS[0 .. LEN) plus a      its lcore is idle or dead
 *                  refill / flush in flight
 *   any ring       RingView.forEach: the published entries, plus   nobody enqueues / dequeues
 *                  WRITTEN producer claims past the tail (repair   meanwhile
 *                  will publish them)
 *   port queue     a ring its driver names (ethdev table.ts         as any ring
 *                  portQueues: NetDriver.queueRing)
 *   a chain        a packet's further segments, through Mbufs'       the head's holder does not
 *                  NEXT, bounded by its NB_SEGS (eachSegment)        change the chain meanwhile
 *   a squeeze      Mempool.squeezeHeld: a burst a put passing a       its putter is idle or dead
 *                  repair's EMPTY holes holds (its putter's hands)
 *
 * A pool or a ring whose header is damaged cannot be read: it is listed in `errors`, and
 * whatever it holds cannot be accounted for.
 */
import type { Eal } from '../eal/eal.js';
import { MAX_LCORE } from '../eal/options.js';
import { portQueues } from '../ethdev/table.js';
import { Mempool } from '../mempool/mempool.js';
import { Mbufs, isPktmbufPool } from '../mbuf/mbuf.js';
import { RingView } from '../ring/view.js';
import type { Held } from './hands.js';

/** A ring of the instance (memzone "RG_*"), readable, and whether a port queue is made of it. */
export interface RingPlace {
  name: string;
  view: RingView;
  portQueue: boolean;
}

/** A burst a put holds while it squeezes a repair's EMPTY holes out of its pool's ring (Places.squeezes). */
export interface Squeeze {
  pool: Mempool;
  lcore: number;
  /** The putter (pid and start time). */
  pid: number;
  start: number;
  handles: number[];
}

export class Places {
  /** The readable pools, by element address (for poolOf). */
  readonly pools: Mempool[];
  readonly rings: RingPlace[];
  /** Pools, rings or the port table that could not be read (a damaged header): what they hold is not seen. */
  readonly errors: string[] = [];
  private readonly starts: number[];
  /** Per pool: whether its elements are mbufs (chains are followed only through those). */
  private readonly isMbuf: boolean[];
  private readonly mbufs: Mbufs;

  constructor(eal: Eal) {
    const pools: Mempool[] = [];
    for (const e of Mempool.entries(eal)) {
      if (e.pool) pools.push(e.pool);
      else this.errors.push(e.error!);
    }
    this.pools = pools.sort((a, b) => a.eltStart - b.eltStart);
    this.starts = this.pools.map((p) => p.eltStart);
    this.isMbuf = this.pools.map((p) => isPktmbufPool(p));
    this.mbufs = new Mbufs(eal);
    const queueRings = new Set<number>();
    try {
      for (const q of portQueues(eal)) if (q.setUp && q.ring !== 0) queueRings.add(q.ring);
    } catch (e) {
      this.errors.push(`ports: ${(e as Error).message}`);
    }
    this.rings = [];
    for (const e of RingView.list(eal)) {
      if (e.view) this.rings.push({ name: e.name, view: e.view, portQueue: queueRings.has(e.offset) });
      else this.errors.push(`ring '${e.name}': ${e.error}`);
    }
  }

  /** Index into `pools` of the pool `h` is an element of, or -1. */
  poolOf(h: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= h) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && this.pools[hi]!.isElement(h) ? hi : -1;
  }

  /**
   * `fn` on each further segment of packet `h` (an mbuf whose NB_SEGS > 1): NEXT links,
   * at most NB_SEGS − 1 of them, each an element of an mbuf pool (a link elsewhere ends it).
   */
  eachSegment(h: number, fn: (h: number) => void): void {
    const i = this.poolOf(h);
    if (i < 0 || !this.isMbuf[i]) return;
    const n = this.mbufs.nbSegs(h);
    let s = n > 1 ? this.mbufs.next(h) : 0;
    for (let k = 1; k < n && s !== 0; k++) {
      const j = this.poolOf(s);
      if (j < 0 || !this.isMbuf[j]) return;
      fn(s);
      s = this.mbufs.next(s);
    }
  }

  /**
   * The references a record holds (hands.ts heldHandles' answer), by handle: each mbuf it names
   * once, the further segments of its settled packets too, and one more per handle of a COUNTED
   * array (Held.copies: Hands.share), but those whose reference an open free of the record
   * already dropped (Held.dropped: a shared segment's decrement made, the packet still named).
   * Outside counted arrays a record holds one reference of each mbuf it names (hands.ts header).
   */
  references(held: Held): Map<number, number> {
    const all = new Map<number, number>();
    for (const h of held.handles) all.set(h, 1);
    for (const h of held.settled) this.eachSegment(h, (seg) => all.set(seg, 1));
    for (const h of held.copies) all.set(h, (all.get(h) ?? 0) + 1); // a COUNTED array's: one each (Hands.share)
    for (const h of held.dropped) {
      const k = all.get(h) ?? 0;
      if (k > 1) all.set(h, k - 1);
      else all.delete(h);
    }
    all.delete(0);
    return all;
  }

  /** `fn` on every handle in the pools' own rings. */
  eachInPools(fn: (h: number) => void): void {
    for (const mp of this.pools) mp.ring.forEach(fn);
  }

  /** `fn` on every handle in lcore `lcore`'s caches of every pool (every lcore's when -1). */
  eachInCaches(fn: (h: number) => void, lcore = -1): void {
    for (const mp of this.pools) {
      if (lcore >= 0) mp.eachInCache(lcore, fn);
      else for (let l = 0; l < MAX_LCORE; l++) mp.eachInCache(l, fn);
    }
  }

  /** Every pool's squeeze lines that hold a burst (mempool.ts MPQ): the pool, the lcore, the putter and the handles. */
  squeezes(): Squeeze[] {
    const out: Squeeze[] = [];
    for (const pool of this.pools) {
      for (let lcore = 0; lcore < MAX_LCORE; lcore++) {
        const sq = pool.squeezeHeld(lcore);
        if (sq) out.push({ pool, lcore, ...sq });
      }
    }
    return out;
  }

  /** `fn` on every handle in the instance's rings (memzones "RG_*", port queues included), chains' segments too. */
  eachInRings(fn: (h: number) => void): void {
    for (const r of this.rings) {
      r.view.forEach((h) => {
        fn(h);
        this.eachSegment(h, fn);
      });
    }
  }
}
