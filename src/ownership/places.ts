/**
 * Where elements can be, read straight from the region (no object is attached, nothing
 * is written: works on a read-only observer's mapping). Shared by reclaim.ts (what must
 * never be returned a second time) and audit.ts (where every element is).
 *
 *   place          read from                                     exact when
 *   pool ring      its [CONS_TAIL, PROD_TAIL) slots, EMPTY holes   nobody gets / puts meanwhile
 *                  left out (ring.ts)
 *   lcore cache    OBJS[0 .. LEN) of each lcore (mempool.ts MPC),  its lcore is idle or dead
 *                  plus a refill / flush in flight
 *   any ring       the same slots, plus the slots of WRITTEN       nobody enqueues / dequeues
 *                  producer claims past the tail (repair will      meanwhile
 *                  publish them)
 */
import type { Eal } from '../eal/eal.js';
import { Mempool, MPC, MPH, cacheInFlight } from '../mempool/mempool.js';
import { RingView } from '../ring/view.js';

/** Call `fn` on every handle the ring at `ring` holds (ring/view.ts forEach); returns how many. */
export function eachInRing(eal: Eal, ring: number, fn: (h: number) => void): number {
  return RingView.at(eal.region, ring).forEach(fn);
}

/**
 * Call `fn` on every handle in lcore `l`'s cache of `pool` — OBJS[0 .. LEN), and what a
 * refill or flush in flight holds beyond LEN (mempool.ts cacheInFlight); returns how many.
 */
export function eachInCache(u32: Uint32Array, pool: Mempool, l: number, fn: (h: number) => void): number {
  if (pool.cacheSize === 0) return 0;
  const base = u32[(pool.header + MPH.CACHE_OFF) >>> 2]!;
  const stride = u32[(pool.header + MPH.CACHE_STRIDE) >>> 2]!;
  const c = base + l * stride;
  const len = Math.min(u32[(c + MPC.LEN) >>> 2]!, 2 * pool.cacheSize);
  const o = (c + MPC.OBJS) >>> 2;
  for (let i = 0; i < len; i++) fn(u32[o + i]!);
  return len + cacheInFlight(u32, pool, l, fn);
}

/** Region offsets of every ring made by Ring.create (memzones "RG_*"), valid ones only. */
export function listRings(eal: Eal): { name: string; offset: number }[] {
  return RingView.list(eal).filter((e) => e.view !== undefined).map((e) => ({ name: e.name, offset: e.offset }));
}

/** The pools of the instance, with a lookup from handle to (pool, element index). */
export class PoolIndex {
  readonly pools: Mempool[];
  private readonly starts: number[];

  constructor(eal: Eal) {
    this.pools = Mempool.list(eal).sort((a, b) => a.eltStart - b.eltStart);
    this.starts = this.pools.map((p) => p.eltStart);
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
}
