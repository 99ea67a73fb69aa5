/**
 * Scatter: the segments an RX queue chains to one head it received into an array with room
 * for that head only (net_pcap: a record longer than an mbuf, the caller's array holding one),
 * kept in shared memory so that a death at any instruction of the chaining leaks nothing.
 * The head's receive window (a Hands POOL_GET window, hands.ts) names this record in its
 * POOL word while the chain is built: the window then holds the record's HEAD, its chain
 * (NEXT, bounded by NB_SEGS) and the segments of the record's open get not yet chained.
 *
 *   who calls what
 *   the queue (one thread)   Scatter.open at first need; per record: hold (the window's
 *                            get took the head), then get / chained per chunk of segments,
 *                            or giveBack when the pool runs dry; close with the queue
 *   Hands reader             hands.ts heldHandles, through isScatter and scatterHeld
 *   reclaimer                reclaim.ts: a dead owner's record goes (listScatter, freeScatter)
 *
 * ## What the record holds at any instruction (while a window names it)
 * HEAD (0: none) with its chain, and SEGS[0 .. k) when the GET record says its get took k
 * (Mempool.recordedGetTook; NO_GET: none). A segment chained to the head before the store
 * that drops the get (chained) is in both: readers take the union.
 *
 *   step (queue)                          one store                   moves
 *   the window's own get took the head     HEAD = h, GET = NO_GET,     (the window's get record
 *                                          then the window's POOL      → this record: the head)
 *                                          = this record (hold)
 *   a chunk: getBulk(SEGS, k, GET)         the mempool's GET record    pool → SEGS
 *   each filled and chained to the head    —                           SEGS → the chain (union)
 *   the chunk done                         GET = NO_GET                (in the chain only)
 *   the pool runs dry: from the chain's    GET = HOLD of j             chain → SEGS (union)
 *     end, j ≤ SIZE copied to SEGS, held
 *   cut from the chain                     —                           (SEGS only)
 *   put back                               GET = PUTBACK, HOLD of 0    SEGS → pool
 *   then the head: SEGS[0] = h, held       GET = HOLD of 1, HEAD = 0   HEAD → SEGS → pool
 *     (as a chunk), put back
 * The window's commit (the head in its array) ends the record's part; a later window names it
 * afresh (hold rewrites HEAD and GET first).
 *
 * ## Layout (SCATTER: byte offsets from the record's start; memzone "SG_<pid>_<k>")
 *   0    MAGIC VERSION PID LCORE START(f64) SIZE      owner, at open, MAGIC last
 *   32   POOL HEAD GET GSNAP                          owner
 *   64   SEGS u32 × SIZE
 */
import type { Eal } from '../eal/eal.js';
import type { Region } from '../eal/region.js';
import { MpdkError } from '../eal/errors.js';
import { GET_REC_SNAP, Mempool, recordedGetRingSide } from '../mempool/mempool.js';
import type { Mbufs } from '../mbuf/mbuf.js';
import { processAlive, processStartTime } from '../native/libc.js';
import { TEST_HOOK, hookStop } from '../eal/test-hook.js';

/** Test hook (read once): stop in giveBack with a chunk cut from the chain, held by the GET record, not yet put back. */
const HOOK_GIVE_BACK = TEST_HOOK === 'scatter:give-back';

/** Record fields: byte offsets from the record's start. */
export const SCATTER = {
  MAGIC: 0, VERSION: 4, PID: 8, LCORE: 12, START: 16, SIZE: 24,
  POOL: 32, HEAD: 36, GET: 40, GSNAP: 40 + 4 * GET_REC_SNAP, SEGS: 64,
} as const;
export const SCATTER_MAGIC = 0x52544353; // 'SCTR'
export const SCATTER_VERSION = 1;
export const SCATTER_MZ_PREFIX = 'SG_';
/** Segments a chunk takes (a record's SEGS). */
export const SCATTER_SIZE = 16;
/** GET when no get is open. */
const NO_GET = 0xffffffff;
/** A Hands record's POOL word, counted in u32 words after its SNAP word (hands.ts HARR: 12 − 4). */
const REC_POOL = 2;

let seq = 0;

/** The chaining record of one RX queue (file header). `segs` is the record's SEGS: the chunks' gets land there. */
export class Scatter {
  /** Region offset of the record, and its memzone name. */
  readonly offset: number;
  readonly name: string;
  /** SEGS (SCATTER_SIZE). */
  readonly segs: Uint32Array;
  private readonly u32: Uint32Array;
  private readonly headIdx: number;
  private readonly getIdx: number;
  private closed = false;

  private constructor(private readonly eal: Eal, private readonly mp: Mempool, offset: number, name: string) {
    const r = eal.region;
    this.offset = offset;
    this.name = name;
    this.u32 = r.u32;
    this.segs = new Uint32Array(r.buffer, offset + SCATTER.SEGS, SCATTER_SIZE);
    this.headIdx = (offset + SCATTER.HEAD) >>> 2;
    this.getIdx = (offset + SCATTER.GET) >>> 2;
  }

  /** A record for the calling thread's gets from `mp`. ENOSPC when the region or the memzone table is full. */
  static open(eal: Eal, mp: Mempool): Scatter {
    let name = '';
    let off = -1;
    for (let tries = 0; off < 0; tries++) {
      name = `${SCATTER_MZ_PREFIX}${process.pid}_${seq++}`;
      try {
        off = eal.memzones.reserve(name, SCATTER.SEGS + 4 * SCATTER_SIZE, 64).offset; // zeroed
      } catch (e) {
        // A dead process with our pid left a record of that name: reclaimDead frees it; skip the name.
        if (!(e instanceof MpdkError && e.code === 'EEXIST') || tries > 64) throw e;
      }
    }
    const r = eal.region;
    r.u32[(off + SCATTER.VERSION) >>> 2] = SCATTER_VERSION;
    r.i32[(off + SCATTER.PID) >>> 2] = process.pid;
    r.i32[(off + SCATTER.LCORE) >>> 2] = eal.lcoreId;
    r.f64[(off + SCATTER.START) >>> 3] = processStartTime(process.pid);
    r.u32[(off + SCATTER.SIZE) >>> 2] = SCATTER_SIZE;
    r.u32[(off + SCATTER.POOL) >>> 2] = mp.header;
    r.u32[(off + SCATTER.GET) >>> 2] = NO_GET;
    r.storeRelease(off + SCATTER.MAGIC, SCATTER_MAGIC);
    return new Scatter(eal, mp, off, name);
  }

  /**
   * The receive window whose get record is `rec` (its SNAP word) took head `h`: this record
   * holds it from now on (HEAD, then the window's POOL names the record: one store moves it).
   */
  hold(rec: number, h: number): void {
    const u32 = this.u32;
    u32[this.headIdx] = h;
    u32[this.getIdx] = NO_GET;
    u32[rec + REC_POOL] = this.offset;
  }

  /** Take `k` ≤ SCATTER_SIZE segments into segs[0 .. k), recorded; all or nothing. */
  get(k: number): boolean {
    return this.mp.getBulk(this.segs, k, this.getIdx) === k;
  }

  /** The chunk's segments are all chained to the head: the record holds the chain only. */
  chained(): void {
    this.u32[this.getIdx] = NO_GET;
  }

  /**
   * The pool ran dry: head `h`'s half-built chain and the head go back to the pool, recorded
   * (file header: up to SCATTER_SIZE segments from the chain's end at a time, then the head).
   * The record then holds nothing.
   */
  giveBack(mb: Mbufs, h: number): void {
    const mp = this.mp;
    const segs = this.segs;
    for (let left = mb.nbSegs(h) - 1; left > 0;) {
      const j = Math.min(left, SCATTER_SIZE);
      let prev = h; // the segment before the last j
      for (let i = j; i < left; i++) prev = mb.next(prev);
      for (let i = 0, m = mb.next(prev); i < j; i++, m = mb.next(m)) segs[i] = m;
      mp.holdRecorded(this.getIdx, j);
      mb.setNext(prev, 0);
      mb.setNbSegs(h, left + 1 - j);
      mb.unlinkFreed(segs, j); // as a free leaves a segment: alone
      if (HOOK_GIVE_BACK) hookStop('scatter:give-back');
      mp.putBackRecorded(segs, j, this.getIdx, 0);
      left -= j;
    }
    segs[0] = h;
    mp.holdRecorded(this.getIdx, 1);
    this.u32[this.headIdx] = 0;
    mp.putBackRecorded(segs, 1, this.getIdx, 0);
  }

  /** The queue is done: the record goes (it holds nothing between windows). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.eal.region.storeRelease(this.offset + SCATTER.MAGIC, 0);
    try {
      this.eal.memzones.free(this.name);
    } catch {
      /* reclaimed meanwhile (we were taken for dead): nothing left to free */
    }
  }
}

// --- readers: hands.ts, reclaim.ts ------------------------------------------------------------

/** Is there a scatter record at region offset `at` (a Hands POOL_GET window's POOL word)? */
export function isScatter(r: Region, at: number): boolean {
  return at > 0 && at % 64 === 0 && at + SCATTER.SEGS <= r.size && r.loadAcquire(at + SCATTER.MAGIC) === SCATTER_MAGIC
    && r.u32At(at + SCATTER.VERSION) === SCATTER_VERSION && r.u32At(at + SCATTER.SIZE) === SCATTER_SIZE;
}

/**
 * What the record at `at` holds (file header): its head (0: none; its chain is its too) and
 * the segments of its open get. Exact for a dead owner read before its lcore's caches are
 * flushed; a snapshot for a live one. A pool that cannot be read: its get is not known (a leak at worst).
 */
export function scatterHeld(eal: Eal, at: number): { head: number; segs: number[] } {
  const r = eal.region;
  const out = { head: r.u32At(at + SCATTER.HEAD), segs: [] as number[] };
  const get = r.u32At(at + SCATTER.GET);
  if (get === NO_GET) return out;
  try {
    const mp = Mempool.attachAt(eal, r.u32At(at + SCATTER.POOL));
    const k = Math.min(mp.recordedGetTook(r.i32[(at + SCATTER.LCORE) >>> 2]!, get, r.u32At(at + SCATTER.GSNAP)), SCATTER_SIZE);
    for (let i = 0; i < k; i++) out.segs.push(r.u32At(at + SCATTER.SEGS + 4 * i));
  } catch {
    /* not a readable pool */
  }
  return out;
}

/**
 * The single-ended side of its pool's ring the record at `at` has a get (or its put-back) in
 * flight on, read while a Hands window names it: offset | 1 or | 2 (Mempool recordedGetRingSide), else 0.
 */
export function scatterRingSide(r: Region, at: number): number {
  return recordedGetRingSide(r, r.u32At(at + SCATTER.POOL), r.u32At(at + SCATTER.GET));
}

/** Every scatter record of the instance (memzones "SG_*"): its owner, and whether it lives. */
export function listScatter(eal: Eal): { mz: string; pid: number; alive: boolean }[] {
  const r = eal.region;
  return eal.memzones.list().filter((mz) => mz.name.startsWith(SCATTER_MZ_PREFIX)).map((mz) => {
    const ready = r.loadAcquire(mz.offset + SCATTER.MAGIC) === SCATTER_MAGIC;
    const pid = ready ? r.i32[(mz.offset + SCATTER.PID) >>> 2]! : mz.creator;
    return { mz: mz.name, pid, alive: pid > 0 && processAlive(pid, ready ? r.f64[(mz.offset + SCATTER.START) >>> 3]! : 0) };
  });
}
