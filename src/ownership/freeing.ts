/**
 * Freeing: a recorded free of lone segments, run by run, for a record that names the segments
 * in shared memory while they go back to their pools (lent.ts: a zero-copy sender's FRESH;
 * hands.ts: a FREEING window over chains or several pools). A run is consecutive segments of
 * one pool, put with one putBulk. Three u32 words of the record, written by its owner only:
 *
 *   PUT    done << 16 | run: segs[0 .. done) went; [done, done + run) is being put
 *   POOL   the pool's header when the open run goes straight to its ring (a pool without a
 *          cache, or a run past its flush threshold: mempool.ts putBulk), else 0 (into the
 *          owner lcore's cache, where a reader finds those that arrived: the caller's filter)
 *   SNAP   that ring's producer snapshot of the owner's lcore (ring/claims.ts burstSnapIndex)
 *
 *   step                                     one store
 *   POOL, SNAP for the next run              —   (read only while a run is open)
 *   the run opens                            PUT = done << 16 | run
 *   putBulk(segs[done ..), run)              —
 *   the run went                             PUT = (done + run) << 16
 *
 * A bulk enqueue moves all of a run or none, and Mempool.putMoved tells whether it went (past
 * a squeeze of a repair's holes too), so `segmentsGone` is exact at any instruction. A run
 * into the cache cannot be flushed to the ring by a later run before its own close (PUT
 * counts it gone first). Counts up to 65535.
 */
import type { Eal } from '../eal/eal.js';
import { Mempool, singleRingSide } from '../mempool/mempool.js';
import type { Region } from '../eal/region.js';
import type { Mbufs } from '../mbuf/mbuf.js';
import { RingView } from '../ring/view.js';
import { TEST_HOOK, hookStop } from '../eal/test-hook.js';

/** Test hook (read once): stop after a run's put, before its close (PUT). */
const HOOK_RUN = TEST_HOOK === 'freeing:run';

/** Where a record keeps the three words (u32 indexes into the region). */
export interface FreeingWords {
  put: number;
  pool: number;
  snap: number;
}

/** The putter of one owner thread: remembers the last pool's ring and snapshot word. */
export class RunPutter {
  private mp: Mempool | undefined;
  private snapIdx = -1;
  private readonly u32: Uint32Array;

  constructor(private readonly eal: Eal, private readonly mbufs: Mbufs) {
    this.u32 = eal.region.u32;
  }

  /**
   * Put segs[0 .. k) (lone segments, refcnt 1: Mbufs.collectFreed, unlinkFreed) back to
   * their pools, recorded in `w` (file header). `views[base + d]` is segs.subarray(d) (made
   * here when missing: runs of several pools only). Allocates nothing else.
   */
  put(views: Uint32Array[], base: number, k: number, w: FreeingWords): void {
    const u32 = this.u32;
    const mb = this.mbufs;
    const segs = views[base]!;
    for (let d = 0; d < k;) {
      const ph = mb.poolOf(segs[d]!);
      let e = d + 1;
      while (e < k && mb.poolOf(segs[e]!) === ph) e++;
      const mp = mb.poolAt(ph);
      if (mp !== this.mp) this.learn(mp);
      const run = e - d;
      if (this.snapIdx >= 0 && (mp.lcore < 0 || run > mp.flushThresh)) {
        u32[w.snap] = u32[this.snapIdx]!;
        u32[w.pool] = ph;
      } else u32[w.pool] = 0;
      u32[w.put] = (d << 16) | run; // the run opens
      mp.putBulk(d === 0 ? segs : (views[base + d] ??= segs.subarray(d)), run);
      if (HOOK_RUN) hookStop('freeing:run');
      u32[w.put] = e << 16; // it went
      d = e;
    }
  }

  private learn(mp: Mempool): void {
    const lc = this.eal.lcoreId;
    this.mp = mp;
    this.snapIdx = Number.isInteger(lc) && lc >= 0 ? RingView.at(this.eal.region, mp.ring.offset).burstSnapIndex(lc, false) : -1;
  }
}

/**
 * How many of a recorded free's segments went (from the front), read from its words: `put`
 * (PUT), `pool` and `snap` (POOL, SNAP) of an owner on lcore `lc`. A pool that cannot be read
 * counts its open run as not gone (the callers' filter: found in a pool, a cache, a ring).
 */
export function segmentsGone(eal: Eal, lc: number, put: number, pool: number, snap: number): number {
  const done = put >>> 16;
  const run = put & 0xffff;
  if (run === 0 || pool === 0) return done;
  try {
    return Mempool.attachAt(eal, pool).putMoved(lc, snap) === run ? done + run : done;
  } catch {
    return done;
  }
}

/**
 * The single-producer pool ring a recorded free's open run goes straight to (PUT `put`, POOL
 * `pool`: a run into the owner lcore's cache is 0 here; a flush it makes is the cache line's,
 * Mempool.recoverCache): its offset | 2 (singleRingSide), else 0. A putter killed between that
 * ring's head and tail stores is rolled back by the reclaimer (reclaim.ts step 1).
 */
export function openRunRingSide(r: Region, put: number, pool: number): number {
  return (put & 0xffff) === 0 || pool === 0 ? 0 : singleRingSide(r, pool, false);
}
