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
import { MAX_LCORE } from '../eal/options.js';
import { Mempool, MPC, MPH, cacheInFlight } from '../mempool/mempool.js';
import { RING, RING_EMPTY, RING_F_SP_ENQ, RING_MAGIC, RING_MZ_PREFIX, CLAIM_STATE } from '../ring/ring.js';

/** Call `fn` on every handle ring `ring` holds; returns how many. */
export function eachInRing(u32: Uint32Array, ring: number, fn: (h: number) => void): number {
  const ct = Atomics.load(u32, (ring + RING.CONS_TAIL) >>> 2);
  const pt = Atomics.load(u32, (ring + RING.PROD_TAIL) >>> 2);
  const mask = u32[(ring + RING.MASK) >>> 2]!;
  const cap = u32[(ring + RING.CAPACITY) >>> 2]!;
  const n = Math.min((pt - ct) >>> 0, cap);
  const slots = (ring + RING.SLOTS) >>> 2;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const h = u32[slots + (((ct + i) >>> 0) & mask)]!;
    if (h === RING_EMPTY) continue;
    fn(h);
    k++;
  }
  if ((u32[(ring + RING.FLAGS) >>> 2]! & RING_F_SP_ENQ) === 0) {
    // MP: a producer that wrote its slots but has not published them (or died there).
    for (let l = 0; l < MAX_LCORE; l++) {
      const line = (ring + RING.CLAIMS + l * RING.CLAIM_BYTES + RING.CLAIM_PROD) >>> 2;
      if (u32[line + (RING.C_STATE >>> 2)] !== CLAIM_STATE.WRITTEN) continue;
      const from = u32[line + (RING.C_FROM >>> 2)]!;
      const to = u32[line + (RING.C_TO >>> 2)]!;
      const m = (to - from) >>> 0;
      if (((from - pt) >>> 0) >= 0x80000000 || m > cap) continue; // already published
      for (let i = 0; i < m; i++) {
        const h = u32[slots + (((from + i) >>> 0) & mask)]!;
        if (h === RING_EMPTY) continue;
        fn(h);
        k++;
      }
    }
  }
  return k;
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
  const out: { name: string; offset: number }[] = [];
  for (const mz of eal.memzones.list()) {
    if (!mz.name.startsWith(RING_MZ_PREFIX)) continue;
    if ((eal.region.loadAcquire(mz.offset + RING.MAGIC) >>> 0) !== RING_MAGIC) continue;
    out.push({ name: mz.name.slice(RING_MZ_PREFIX.length), offset: mz.offset });
  }
  return out;
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
