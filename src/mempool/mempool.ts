/**
 * Mempool: a named pool of N fixed-size elements in the shared region (DPDK's rte_mempool
 * with the default ring_mp_mc handler). Any process of the instance creates one or looks
 * it up by name; elements travel between processes as 32-bit HANDLES, and a handle is the
 * element's byte offset in the region, so `region.u8[h + i]` is byte i of the element.
 *
 * Who calls what
 *   any process, control path     create, lookup, free, available, inUse, describe
 *   the thread of lcore L         get, getBulk, getOrThrow, put, putBulk: they use the
 *                                 cache of L (the `eal.lcoreId` of the Eal the Mempool
 *                                 object was made from; one owner per cache, plain access)
 *   a supervisor                  flushCache(L) of a DEAD lcore, audit()
 *   a thread with no lcore id     get/put straight through the ring (no cache), as DPDK
 *                                 does for LCORE_ID_ANY; unrecorded. None writes today: Eal
 *                                 refuses a writing thread without an lcore (observers read)
 *
 * Shared memory: one memzone "MP_<name>" holds, in this order
 *
 *   +0        header (MPH), 2 cache lines, written once by the creator before MAGIC (release)
 *   PRIV_OFF  pool private area (privateSize bytes; the mbuf layer keeps its sizes here)
 *   RING_OFF  the common store: an embedded MP/MC ring of handles, RING_F_EXACT_SZ of N + ringSlack(N)
 *   CACHE_OFF MAX_LCORE per-lcore caches, CACHE_STRIDE bytes each, each on its own lines:
 *               +0  LEN  u32  written only by lcore L's thread (or the supervisor once L is dead)
 *               +4  OP   u32  cache operation in flight on the ring (OP_REFILL / OP_FLUSH; 0 none)
 *               +8  OP_N u32  OP_REFILL: LEN before it; OP_FLUSH: handles OBJS[0 .. OP_N) being flushed
 *               +12 SNAP u32  the ring's burst snapshot (ring/claims.ts burstSnapIndex) before the op
 *               +16 USER i32  pid whose thread uses this cache: stored (Atomics) by that thread's
 *                             Mempool object when it is made, USER_START (+24, f64) first
 *               +20 FLUSHER i32  pid of a process flushing this cache from outside (a reclaimer),
 *                             0 none; CAS 0 -> pid (dead once no process has that pid: a
 *                             reused pid makes a user wait, bounded, never take over a live flush)
 *               +40 OP_LC u32  0: the op's ring claims are on this lcore's claim lines; else
 *                             1 + the lcore whose lines they are on (an outside flusher's)
 *               +64 OBJS u32[2 * cacheSize]  (DPDK sizes objs at 2 * MAX for the refill overshoot)
 *   SQ_OFF    MAX_LCORE squeeze lines (MPQ), SQ_STRIDE bytes each: what a put passing more of
 *             a repair's EMPTY holes than the ring's slack holds meanwhile (ringPut), by lcore
 *   ELT_OFF   N elements, STRIDE bytes apart (cache-line multiple); each element's object
 *             is 64-aligned and preceded by its 16-byte element header (EH) at h - 16
 *
 *   element header EH (at h - EH.BYTES)
 *     +0 STATE u32  debug pools only: FREE (in ring or a cache) / IN_USE; CAS by get/put
 *     +4 POOL  u32  region offset of the pool header (any process finds the pool of a handle)
 *     +8 INDEX u32  element index 0..N-1
 *
 * Cache algorithm (DPDK's): get n ≤ cacheSize takes from the top of the cache; when the
 * cache holds fewer than n it is refilled from the ring with cacheSize + n - len handles
 * (or, if the ring has fewer, with just the missing ones). put n adds to the cache; when
 * len + n would pass the flush threshold (1.5 × cacheSize) the whole cache goes to the
 * ring first. Requests larger than the cache go to the ring directly. A get may fail
 * while other lcores' caches hold elements: `available()` counts them, a get cannot take them.
 *
 * Crash windows (the writer dies half-way): every cache update writes the slots first
 * and commits with the LEN store. The two that move elements between the cache and the
 * ring are recorded in the cache line (OP, OP_N, SNAP; three plain stores per refill or
 * flush, i.e. per cacheSize elements):
 *   refill  SNAP, OP_N = LEN, OP = REFILL; dequeue STRAIGHT INTO OBJS[LEN ..]; LEN += k; OP = 0
 *   flush   SNAP, OP_N = LEN, OP = FLUSH; LEN = 0; enqueue OBJS[0 .. OP_N); OP = 0
 * so that for a dead lcore `flushCache(L)` (via recoverCache) first finishes what was in
 * flight: a refill's dequeued handles (ring/claims.ts burstMoved from SNAP: exactly the burst)
 * join the cache, a flush the ring did not take (its claim undone) goes back into the
 * cache; then the cache is flushed. On a single-ended ring side (MEMPOOL_F_SC_GET for a
 * refill, MEMPOOL_F_SP_PUT for a flush) there is no claim to undo: a death between the
 * ring's head and tail stores moved no tail, and the head goes back first (Ring.rollBackSingle:
 * the dead thread was that side's only mover). An element is thus never lost nor in two places,
 * whatever instruction the owner was killed at. A successor that claims the dead lcore
 * before any reclaim (a program restarted with the same -l) takes each pool's cache when
 * its thread makes a Mempool for it: that finishes the op left in flight first
 * (recoverCache; the thread itself is in none), before its puts reuse OBJS; a pool it never
 * opens keeps the dead one as its cache's USER, and a reclaim flushes it.
 * A put that finds the ring's slots taken by more of a repair's EMPTY holes than its slack
 * passes them through its hands a burst at a time, recorded on its lcore's squeeze line
 * (MPQ): a dead putter's burst is its record's (reclaim.ts returns it), and a record of that
 * put reads whether it went through putMoved. Puts are one enqueue otherwise (ringSlack).
 *
 * Handover between an outside flusher and the cache's user (one cache, never two hands on it):
 *   user (the thread of lcore L, when it makes a Mempool object for this pool)
 *     U1 USER = pid (Atomics.store)   U2 wait while FLUSHER names a live process; a dead
 *     one's flush is finished (its op is recorded, OP_LC)   U3 finish an op in flight; use
 *   outside flusher (reclaimDead, flushCache(L) of another lcore)
 *     F1 CAS FLUSHER 0 -> pid (a dead flusher's: take it over)   F2 USER alive: give up (its
 *     owner uses it: EBUSY)   F3 finish the op in flight, flush (recorded), FLUSHER = 0
 * U1 precedes U2 and F1 precedes F2 in Atomics' single total order, so at least one of them
 * sees the other: the flusher gives up or the user waits; both never touch OBJS / LEN at
 * once. A successor that claimed a dead owner's lcore but never opened a pool thus still has
 * that pool's cache (and its op in flight) reclaimed: its USER is the dead one's.
 */
import type { Eal } from '../eal/eal.js';
import type { Region } from '../eal/region.js';
import { MpdkError } from '../eal/errors.js';
import { awaitCreated, checkName } from '../eal/memzone.js';
import { MAX_LCORE } from '../eal/options.js';
import { registerDescriber, type ObjectDescription } from '../eal/describe.js';
import { processAlive, processStartTime, processState } from '../native/libc.js';
import { Ring, RING_EMPTY, RING_NAMESIZE, type RepairReport, type RingOptions } from '../ring/ring.js';
import { RING_MAX_COUNT } from '../ring/layout.js';
import { TEST_HOOK, hookStop, hookSigstop } from '../eal/test-hook.js';

/**
 * u32[at + i] = objs[i] for i in [0, n): a put's copy into the cache. Four at a time:
 * TurboFan checks the arrays once per iteration, not per access (a third faster here).
 */
function copyUp(u32: Uint32Array, at: number, objs: Uint32Array, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    u32[at + i] = objs[i]!;
    u32[at + i + 1] = objs[i + 1]!;
    u32[at + i + 2] = objs[i + 2]!;
    u32[at + i + 3] = objs[i + 3]!;
  }
  for (; i < n; i++) u32[at + i] = objs[i]!;
}

/** objs[i] = u32[top - i] for i in [0, n): a get's copy from the top of the cache (as copyUp). */
function copyDown(u32: Uint32Array, top: number, objs: Uint32Array, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    objs[i] = u32[top - i]!;
    objs[i + 1] = u32[top - i - 1]!;
    objs[i + 2] = u32[top - i - 2]!;
    objs[i + 3] = u32[top - i - 3]!;
  }
  for (; i < n; i++) objs[i] = u32[top - i]!;
}

/** Pool header: byte offsets from the start of the memzone. */
export const MPH = {
  MAGIC: 0, // u32 MEMPOOL_MAGIC, stored last by the creator (release); 0 once freed
  VERSION: 4, // u32
  N: 8, // u32 number of elements
  ELT_SIZE: 12, // u32 bytes of each element's object
  STRIDE: 16, // u32 bytes from one element to the next (multiple of 64)
  CACHE_SIZE: 20, // u32 per-lcore cache size (0 = no cache)
  FLUSH_THRESH: 24, // u32 floor(1.5 × cache size)
  PRIV_SIZE: 28, // u32 bytes of the pool private area
  FLAGS: 32, // u32 MEMPOOL_F_*
  PRIV_OFF: 36, // u32 region offset of the private area
  RING_OFF: 40, // u32 region offset of the ring
  CACHE_OFF: 44, // u32 region offset of lcore 0's cache
  CACHE_STRIDE: 48, // u32 bytes per cache
  ELT_OFF: 52, // u32 region offset of element 0's object (= its handle)
  ELT_END: 56, // u32 region offset just past the last element's stride
  CREATOR: 60, // i32 pid
  NAME: 64, // 32 bytes, NUL-terminated
  NAME_MAX: 32,
  DEBUG_ERRORS: 96, // u32 debug pools: gets that found an element not FREE (Atomics.add)
  SQ_OFF: 100, // u32 region offset of lcore 0's squeeze line (MPQ)
  BYTES: 128,
} as const;

/**
 * Per-lcore squeeze line: a put that meets more of a repair's EMPTY holes than the ring's
 * slack passes them through the putter's hands (ringPut), recorded here. Written only by
 * the thread of that lcore; read by audit.ts and reclaim.ts (squeezeHeld), cleared by a
 * reclaim once its putter is dead (clearSqueeze). OP's states, each entered with one store
 * after the fields it makes readable:
 *   0        idle
 *   SQ_TAKE  a dequeue of up to SQ_BURST into BUF, CSNAP its consumer burst snapshot: the
 *            putter holds BUF[0 .. burstMoved(CSNAP)) (EMPTY and repeats skipped: the
 *            dequeue compacts what it keeps)
 *   SQ_HOLD  the putter holds BUF[0 .. K)
 *   SQ_GIVE  BUF[0 .. K) going back into the ring, PSNAP its producer snapshot: held
 *            unless the claim line moved K past it
 *   SQ_PUT   the put itself, after the squeeze's last re-enqueue (PTO: the producer claim
 *            line's TO then): the putter holds nothing here; the put went iff the line
 *            moved past PTO (putMoved)
 * While OP is TAKE, HOLD or GIVE the put itself has not been made: putMoved answers 0 for
 * every record of a put on this lcore (the line's last claim is the squeeze's, not the put's).
 */
export const MPQ = { OP: 0, K: 4, CSNAP: 8, PSNAP: 12, PTO: 16, PID: 20, START: 24, BUF: 64 } as const;
/** Handles one squeeze step takes out of the ring (and puts back). */
export const SQ_BURST = 32;
const SQ_STRIDE = MPQ.BUF + 4 * SQ_BURST;
export const SQ_TAKE = 1;
export const SQ_HOLD = 2;
export const SQ_GIVE = 3;
export const SQ_PUT = 4;

/** Per-lcore cache: byte offsets from the cache's start. */
export const MPC = { LEN: 0, OP: 4, OP_N: 8, SNAP: 12, USER: 16, FLUSHER: 20, USER_START: 24, OP_LC: 40, OBJS: 64 } as const;
/** Test hooks (read once; a constant test when unset): stop inside a refill or a flush. */
const HOOK = TEST_HOOK;
const HOOK_REFILL = HOOK === 'mempool:refill'; // dequeued into the cache, LEN not yet stored
const HOOK_FLUSH = HOOK === 'mempool:flush'; // LEN = 0 stored, the ring not yet given them
const HOOK_GET = HOOK === 'mempool:get'; // a recorded get: record written, handles copied, LEN not yet stored
const HOOK_PUT_BACK = HOOK === 'mempool:put-back'; // a recorded put-back went to the ring, the record not yet told
const HOOK_SQUEEZE = HOOK === 'mempool:squeeze'; // a put passing EMPTY holes took a burst out of the ring (SQ_TAKE), not yet put back
const HOOK_SQUEEZE_GIVE = HOOK === 'mempool:squeeze-give'; // that burst went back into the ring (SQ_GIVE), the put not yet tried
const HOOK_SQUEEZE_PUT = HOOK === 'mempool:squeeze-put'; // the put after the squeeze went (SQ_PUT), the line not yet idle
const HOOK_GET_HOLES = HOOK === 'mempool:get-holes'; // a recorded ring get kept a take EMPTY holes made short, its next claim not yet made
const HOOK_FLUSH_OTHER = HOOK === 'mempool:flush-other'; // an outside flush: LEN = 0 stored, the ring not yet given them
const HOOK_FLUSH_OTHER_PAUSE = HOOK === 'mempool:flush-other-pause'; // the same point: SIGSTOP ourselves (the test sends SIGCONT)
/** How long a cache's user waits for an outside flusher (a few ms of work) before it gives up. */
const FLUSHER_WAIT_MS = 10000;
let myStart = -1;
/** This process's start time (pid reuse), read once. */
function ownStart(): number {
  if (myStart < 0) myStart = processStartTime(process.pid);
  return myStart;
}
/** A word nobody notifies: Atomics.wait on it sleeps. */
const pause = new Int32Array(new SharedArrayBuffer(4));

/** MPC.OP values. */
export const OP_REFILL = 1;
export const OP_FLUSH = 2;

/** Element header: byte offsets from h - EH.BYTES. */
export const EH = { STATE: 0, POOL: 4, INDEX: 8, BYTES: 16 } as const;

export const MEMPOOL_MAGIC = 0x4c4f504d; // 'MPOL'
export const MEMPOOL_VERSION = 2;
/**
 * The word a recorded get (getBulk's `rec`) from the cache writes: GET_KEPT_SHIFT up, how
 * many handles before objs the record already holds from this window (getBulk's `kept`);
 * GET_N_SHIFT up (10 bits), how many it takes; under GET_LEN_MASK, the cache LEN it leaves.
 * Read back by recordedGetTook.
 */
const GET_N_SHIFT = 16;
const GET_N_MASK = 0x3ff;
const GET_KEPT_SHIFT = 26;
/** Most handles a recorded get may say it holds before objs (5 bits, under GET_RING). */
export const GET_KEPT_MAX = 31;
const GET_LEN_MASK = 0xffff;
/**
 * A recorded get that goes to the ring (no cache, or more than it) keeps two u32 words, rec
 * and rec + GET_REC_SNAP, both the getter's. The word is GET_RING | kind | base << GET_BASE_SHIFT
 * | n, counted from `kept` handles before objs: the record's [0 .. base) are already the
 * getter's (kept, then earlier claims, whose EMPTY holes were dropped), n is kept + the get's, and by kind
 *   GET_CLAIM    a claim of n - base is in flight or done: rec + GET_REC_SNAP holds the ring's
 *                consumer burst snapshot (ring/claims.ts burstSnapIndex of this lcore) before it;
 *                it took its n - base iff the claim line moved that many past the snapshot
 *   GET_HOLD     nothing in flight (the snapshot word is being rewritten)
 *   GET_PUTBACK  the pool could not supply the rest (or the getter gives back what it took:
 *                holdRecorded, putBackRecorded): the record's [kept .. base) go back, one
 *                bulk enqueue (the n field holds kept); rec + GET_REC_SNAP holds the producer
 *                snapshot: gone iff it moved base - kept
 * Each change of the pair goes HOLD, snapshot, new kind: one store moves a reader from one
 * exact answer to the next. Only gets of n ≤ GET_BASE_MAX are recorded (ownership arrays hold 4096).
 */
const GET_RING = 0x80000000;
const GET_CLAIM = 0;
const GET_HOLD = 0x20000000;
const GET_PUTBACK = 0x40000000;
const GET_KIND = 0x60000000;
const GET_BASE_SHIFT = 16;
/** Most handles a recorded get (or holdRecorded) counts. */
export const GET_BASE_MAX = 0x1fff;
export const GET_REC_SNAP = 1;

/**
 * Slots of a pool's ring past its n elements (n more, as far as a ring goes). A put finds no
 * room only when EMPTY holes fill them (each a slot of a dead putter's claim that repair
 * filled, in the ring until a getter passes it): more than n at once. So a put is one
 * enqueue, whose producer snapshot a record reads exactly (Hands.free, a cache flush, a
 * get's put-back); past that, the squeeze (MPQ) is recorded too. The cost: 4 bytes a slot.
 */
export function ringSlack(n: number): number {
  return Math.max(0, Math.min(n, RING_MAX_COUNT - 1 - n));
}

/**
 * Pool `header`'s ring, when its consumer side (`cons`) or producer side is single-ended: its
 * region offset | 1 (consumer) or | 2 (producer, the ownership records' RS_RX / RS_TX), else 0
 * (an MP / MC side, repaired through its claims; or not a readable pool). Such a side has no
 * claim record: a getter / putter killed between its head and tail stores is rolled back only
 * by a reclaimer told it was inside (reclaim.ts step 1, Ring.rollBackSingle).
 * @internal For mpdk's crash recovery (src/ownership), not for programs.
 */
export function singleRingSide(r: Region, header: number, cons: boolean): number {
  if (!isUint(header) || header % 64 !== 0 || header + MPH.BYTES > r.size || r.loadAcquire(header + MPH.MAGIC) !== MEMPOOL_MAGIC) return 0;
  if ((r.u32At(header + MPH.FLAGS) & (cons ? MEMPOOL_F_SC_GET : MEMPOOL_F_SP_PUT)) === 0) return 0;
  const ring = r.u32At(header + MPH.RING_OFF);
  return ring % 64 === 0 ? ring | (cons ? 1 : 2) : 0;
}

/**
 * The single-ended side of pool `header`'s ring (singleRingSide) that a recorded get — getBulk's
 * `rec` word as stored, `word` — has a burst in flight on: its claim on the ring (GET_CLAIM: the
 * consumer side), or its put-back (GET_PUTBACK: the producer side); 0 when none is (GET_HOLD,
 * NO_GET, a get from the cache: a refill in flight is the cache line's, recoverCache rolls it back).
 * @internal For mpdk's crash recovery (src/ownership), not for programs.
 */
export function recordedGetRingSide(r: Region, header: number, word: number): number {
  if ((word & GET_RING) === 0) return 0;
  const kind = word & GET_KIND;
  return kind === GET_CLAIM ? singleRingSide(r, header, true) : kind === GET_PUTBACK ? singleRingSide(r, header, false) : 0;
}

/** DPDK's RTE_MEMPOOL_CACHE_MAX_SIZE. */
export const MEMPOOL_CACHE_MAX_SIZE = 512;
export const MEMPOOL_MZ_PREFIX = 'MP_';
/**
 * Longest pool name, in bytes: 25, DPDK's (its RTE_MEMPOOL_NAMESIZE, 26, counts the NUL):
 * the pool's ring is named "MP_<name>", a ring name (RING_NAMESIZE), as in DPDK, so that a
 * name that works here works there.
 */
export const MEMPOOL_NAMESIZE = RING_NAMESIZE - MEMPOOL_MZ_PREFIX.length;

/** Single-producer put (the ring is SP): only one thread ever puts to the ring. */
export const MEMPOOL_F_SP_PUT = 0x4;
/** Single-consumer get (the ring is SC). */
export const MEMPOOL_F_SC_GET = 0x8;
/** Debug mode: per-element state; foreign and double puts are refused with EINVAL. */
export const MEMPOOL_F_DEBUG = 0x1000;

/** Element states in debug pools (EH.STATE). 0 = never initialised. */
export const ELT_FREE = 1;
/** Element state in a debug pool: allocated (got and not yet put back). */
export const ELT_IN_USE = 2;

/**
 * Where a mempool's elements are (`Mempool.audit()`): a snapshot, exact when nobody gets or puts meanwhile.
 */
export interface AuditReport {
  /** The pool's name. */
  name: string;
  /** Its elements. */
  size: number;
  /** Elements in its ring of free handles. */
  inRing: number;
  /** Elements in lcore caches. */
  inCaches: number;
  /** Elements found neither in the ring nor in a cache: held by processes (or leaked). */
  inUse: number;
  /** Handles found more than once in ring + caches (each extra copy counts once). */
  duplicates: number;
  /** Handles in ring or caches that are not elements of this pool. */
  foreign: number;
  /** Non-empty caches: lcore → len. */
  caches: Record<number, number>;
  /** No duplicate and no foreign handle. */
  ok: boolean;
}

/** Called on each element at creation: its handle, index, and the pool header's offset. */
export type ObjInit = (h: number, index: number, poolHeader: number) => void;

/** What a pool is made with (`Mempool.create`). */
export interface MempoolOptions {
  /** Number of elements, 1 to 2^31-1. */
  count: number;
  /** Bytes of each element's object (its handle is the offset of byte 0, 64-aligned). */
  eltSize: number;
  /**
   * Elements each lcore keeps in its own cache (DPDK's cache_size), 0 (default) to 512 and at
   * most count / 1.5: gets and puts of an lcore thread then touch the shared ring once per
   * cache-full instead of every call.
   */
  cacheSize?: number;
  /** Bytes of the pool's private area (`privOffset`; the mbuf layer keeps its sizes there). Default 0. */
  privateSize?: number;
  /** Only one thread ever puts (DPDK's MEMPOOL_F_SP_PUT: the ring is single-producer). Default false. */
  singlePut?: boolean;
  /** Only one thread ever gets (MEMPOOL_F_SC_GET). Default false. */
  singleGet?: boolean;
  /**
   * Debug mode (MEMPOOL_F_DEBUG; also forced by MPDK_DEBUG_MEMPOOL=1): each element records
   * FREE or IN_USE, and a put of a foreign or already free element is refused (EINVAL).
   */
  debug?: boolean;
  /** Run on each element before the pool becomes visible to `lookup` (DPDK's obj_init). */
  objInit?: ObjInit;
}

const align64 = (x: number): number => Math.ceil(x / 64) * 64;

function isUint(v: unknown, max = 0xffffffff): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/**
 * A named pool of fixed-size elements in the shared region (DPDK's rte_mempool). Elements travel
 * between processes as handles (an element's byte offset in the region). `get`/`put` and their
 * bulk forms go through the calling lcore's cache, so they belong to the thread of the `Eal`
 * the pool object was opened with; a dead lcore's cache is flushed by `reclaimDead`.
 * ENOENT from `get` when the pool is empty; EINVAL from `put` for a handle not of this pool.
 *
 * @example
 * ```ts
 * const pool = Mempool.create(eal, 'blocks', { count: 4095, eltSize: 256, cacheSize: 32 });
 * const h = pool.get();
 * eal.region.u8.fill(0, h, h + 256);
 * pool.put(h);
 * ```
 */
export class Mempool {
  /** The Eal this pool object was opened with (its lcore's cache is the one used). */
  readonly eal: Eal;
  /** The pool's name. */
  readonly name: string;
  /** Region offset of the pool (its memzone's); `Mempool.attachAt(eal, header)` opens the pool from it. */
  readonly header: number;
  /** Number of elements. */
  readonly size: number;
  /** Bytes of each element (as created). */
  readonly eltSize: number;
  /** Bytes from one element to the next (header, element and padding). */
  readonly stride: number;
  /** Handles each lcore's cache holds at most before it flushes (0: no cache). */
  readonly cacheSize: number;
  /** How many handles an lcore's cache may hold before a put moves them to the shared ring (DPDK's 1.5 × cacheSize). */
  readonly flushThresh: number;
  /** Bytes of the pool's private area (`privOffset`). */
  readonly privateSize: number;
  /** Region offset of the pool private area. */
  readonly privOffset: number;
  /** MEMPOOL_F_* flags. */
  readonly flags: number;
  /** Created with `debug`: each element knows whether it is free, so foreign and double puts are refused. */
  readonly debug: boolean;
  /** The ring of free handles the lcore caches refill from and flush to (read its counts; never enqueue or dequeue on it). */
  readonly ring: Ring;
  /** Region offset of element 0 (its handle): handles are eltStart + i × stride. */
  readonly eltStart: number;
  /** Region offset just past the last element. */
  readonly eltEnd: number;
  /** The lcore whose cache this object uses (-1: none). */
  readonly lcore: number;
  private readonly cacheBase: number;
  private readonly cacheStride: number;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  /** u32 index of this lcore's LEN word, and of its OBJS[0]; -1 without a cache. */
  private readonly lenIdx: number;
  private readonly objsIdx: number;
  /** This lcore's OBJS as a view (enqueue source on flush). */
  private readonly cacheObjs: Uint32Array;
  /** above[len] = cacheObjs.subarray(len): where a refill lands (made on first use). */
  private readonly above: Uint32Array[] = [];
  /** u32 indexes of this lcore's OP, OP_N, SNAP, and of the ring words they snapshot. */
  private readonly opIdx: number;
  private readonly opNIdx: number;
  private readonly snapIdx: number;
  private readonly consSnap: number;
  private readonly prodSnap: number;
  /** u32 index of the ring's consumer / producer burst snapshot words for this thread's lcore (recorded ring gets); -1 without an lcore. */
  private readonly ringGetSnap: number;
  private readonly ringPutSnap: number;
  private readonly one = new Uint32Array(1);
  /** Region offset of lcore 0's squeeze line (MPQ). */
  private readonly sqBase: number;
  /** u32 index of this thread's lcore's squeeze line, and its BUF as a view; -1 / empty without an lcore. */
  private readonly sqIdx: number;
  private readonly sqBuf: Uint32Array;
  /** ringPut's landing area when it passes EMPTY holes without an lcore (unrecorded; made on first need). */
  private squeeze: Uint32Array | undefined;

  private constructor(eal: Eal, header: number) {
    const r = eal.region;
    const u32 = r.u32;
    const h = header >>> 2;
    this.eal = eal;
    this.header = header;
    this.u32 = u32;
    this.i32 = r.i32;
    this.name = r.readString(header + MPH.NAME, MPH.NAME_MAX);
    this.size = u32[h + (MPH.N >>> 2)]!;
    this.eltSize = u32[h + (MPH.ELT_SIZE >>> 2)]!;
    this.stride = u32[h + (MPH.STRIDE >>> 2)]!;
    this.cacheSize = u32[h + (MPH.CACHE_SIZE >>> 2)]!;
    this.flushThresh = u32[h + (MPH.FLUSH_THRESH >>> 2)]!;
    this.privateSize = u32[h + (MPH.PRIV_SIZE >>> 2)]!;
    this.flags = u32[h + (MPH.FLAGS >>> 2)]!;
    this.debug = (this.flags & MEMPOOL_F_DEBUG) !== 0;
    this.privOffset = u32[h + (MPH.PRIV_OFF >>> 2)]!;
    this.cacheBase = u32[h + (MPH.CACHE_OFF >>> 2)]!;
    this.cacheStride = u32[h + (MPH.CACHE_STRIDE >>> 2)]!;
    this.eltStart = u32[h + (MPH.ELT_OFF >>> 2)]!;
    this.eltEnd = u32[h + (MPH.ELT_END >>> 2)]!;
    this.sqBase = u32[h + (MPH.SQ_OFF >>> 2)]!;
    this.checkLayout();
    this.ring = Ring.attach(eal, r.checkSpan(u32[h + (MPH.RING_OFF >>> 2)]!, 64, `mempool '${this.name}': its ring`));
    if (this.ring.capacity !== this.size + ringSlack(this.size)) throw new MpdkError('EPROTO', `mempool '${this.name}' at offset ${header} is damaged: its ring holds ${this.ring.capacity}, not its ${this.size} elements and ${ringSlack(this.size)} more; recreate it`);
    const lc = eal.lcoreId;
    const inRange = Number.isInteger(lc) && lc >= 0 && lc < MAX_LCORE;
    this.ringGetSnap = inRange ? this.ring.burstSnapIndex(lc, true) : -1;
    this.ringPutSnap = inRange ? this.ring.burstSnapIndex(lc, false) : -1;
    this.sqIdx = inRange ? (this.sqBase + lc * SQ_STRIDE) >>> 2 : -1;
    this.sqBuf = inRange ? new Uint32Array(r.buffer, this.sqBase + lc * SQ_STRIDE + MPQ.BUF, SQ_BURST) : new Uint32Array(0);
    this.lcore = this.cacheSize > 0 && Number.isInteger(lc) && lc >= 0 && lc < MAX_LCORE ? lc : -1;
    if (this.lcore >= 0) {
      const c = this.cacheOffset(this.lcore);
      this.lenIdx = (c + MPC.LEN) >>> 2;
      this.objsIdx = (c + MPC.OBJS) >>> 2;
      this.cacheObjs = new Uint32Array(r.buffer, c + MPC.OBJS, 2 * this.cacheSize);
      this.opIdx = (c + MPC.OP) >>> 2;
      this.opNIdx = (c + MPC.OP_N) >>> 2;
      this.snapIdx = (c + MPC.SNAP) >>> 2;
      this.consSnap = this.ring.burstSnapIndex(this.lcore, true);
      this.prodSnap = this.ring.burstSnapIndex(this.lcore, false);
      // The thread of this lcore takes the cache (file header: handover) before its first get
      // or put: an op in flight now is a dead previous owner's (this thread is in none).
      if (eal.lcoreTable.ownerOf(this.lcore) === process.pid) this.takeCache();
    } else {
      this.lenIdx = -1;
      this.objsIdx = -1;
      this.cacheObjs = new Uint32Array(0);
      this.opIdx = this.opNIdx = this.snapIdx = this.consSnap = this.prodSnap = -1;
    }
  }

  /**
   * U1-U3 of the handover (file header): this thread's lcore's cache becomes ours. Waits
   * (bounded) while an outside flusher works on it; finishes a dead flusher's or a dead
   * previous owner's op in flight.
   */
  private takeCache(): void {
    const c = this.cacheOffset(this.lcore);
    const r = this.eal.region;
    r.f64[(c + MPC.USER_START) >>> 3] = processStartTime(process.pid);
    Atomics.store(this.i32, (c + MPC.USER) >>> 2, process.pid); // U1
    const fi = (c + MPC.FLUSHER) >>> 2;
    const until = performance.now() + FLUSHER_WAIT_MS;
    for (let f = Atomics.load(this.i32, fi); f !== 0; f = Atomics.load(this.i32, fi)) { // U2
      if (!processAlive(f, 0)) {
        // A dead flusher's hold: ours while we finish its op (recorded with its claim lines).
        if (Atomics.compareExchange(this.i32, fi, f, process.pid) === f) {
          this.recoverCache(this.lcore);
          Atomics.store(this.i32, fi, 0);
        }
        continue;
      }
      if (performance.now() > until) {
        throw new MpdkError('EBUSY', `mempool '${this.name}': lcore ${this.lcore}'s cache is being flushed by pid ${f} (${processState(f)}) for more than ${FLUSHER_WAIT_MS} ms; try again when it is done`);
      }
      Atomics.wait(pause, 0, 0, 1);
    }
    if (this.u32[this.opIdx] !== 0) this.recoverCache(this.lcore); // U3
  }

  /**
   * F1-F2 of the handover (file header): lcore `l`'s cache is ours to flush from outside, or
   * EBUSY naming the live process that uses it. Release with `Atomics.store(FLUSHER, 0)`.
   */
  private holdOther(l: number): void {
    const c = this.cacheOffset(l);
    const r = this.eal.region;
    const fi = (c + MPC.FLUSHER) >>> 2;
    for (;;) {
      const f = Atomics.compareExchange(this.i32, fi, 0, process.pid); // F1
      if (f === 0) break;
      if (f !== process.pid && !processAlive(f, 0)) {
        if (Atomics.compareExchange(this.i32, fi, f, process.pid) === f) break; // a dead flusher's: ours (its op is recovered next)
        continue;
      }
      throw new MpdkError('EBUSY', `mempool '${this.name}': lcore ${l}'s cache is being flushed by ${f === process.pid ? 'another thread of this process' : `pid ${f}`}; try again when it is done`);
    }
    const u = Atomics.load(this.i32, (c + MPC.USER) >>> 2); // F2
    if (u !== 0 && processAlive(u, r.f64[(c + MPC.USER_START) >>> 3]!)) {
      Atomics.store(this.i32, fi, 0);
      throw new MpdkError('EBUSY', `mempool '${this.name}': lcore ${l}'s cache is used by live pid ${u}; only a cache whose user is dead may be flushed (the owner flushes its own)`);
    }
  }

  /**
   * The header's geometry, checked before anything is read through it: a damaged header
   * (another process's stray write, a crash in the middle of nothing we know) is an error
   * naming the pool, never a read outside the region.
   */
  private checkLayout(): void {
    const r = this.eal.region;
    const what = `mempool '${this.name}' at offset ${this.header}`;
    if (this.size < 1 || this.stride % 64 !== 0 || this.stride < this.eltSize + EH.BYTES || this.eltEnd !== this.eltStart + this.size * this.stride
      || this.cacheSize > MEMPOOL_CACHE_MAX_SIZE || this.flushThresh !== Math.floor(this.cacheSize * 1.5)
      || (this.cacheSize > 0 && this.cacheStride < MPC.OBJS + 8 * this.cacheSize)) {
      throw new MpdkError('EPROTO', `${what} is damaged (${this.size} elements of ${this.eltSize} bytes, stride ${this.stride}, elements at ${this.eltStart}..${this.eltEnd}, cache ${this.cacheSize} in ${this.cacheStride}-byte lines): recreate it`);
    }
    r.checkSpan(this.privOffset, this.privateSize, `${what}: its private area`);
    if (this.cacheSize > 0) r.checkSpan(this.cacheBase, MAX_LCORE * this.cacheStride, `${what}: its lcore caches`);
    if (this.sqBase % 64 !== 0) throw new MpdkError('EPROTO', `${what} is damaged (squeeze lines at ${this.sqBase}): recreate it`);
    r.checkSpan(this.sqBase, MAX_LCORE * SQ_STRIDE, `${what}: its squeeze lines`);
    r.checkSpan(this.eltStart - EH.BYTES, this.size * this.stride, `${what}: its elements`);
  }

  // --- life cycle -------------------------------------------------------------------------

  /**
   * Create pool `name`, e.g. `Mempool.create(eal, 'msgs', { count: 1024, eltSize: 64,
   * cacheSize: 32 })` (MempoolOptions). EINVAL for bad options, EEXIST for a taken name,
   * ENOSPC when the region has no room; a refusal reserves nothing.
   */
  static create(eal: Eal, name: string, opts: MempoolOptions): Mempool {
    if (opts === null || typeof opts !== 'object') throw new MpdkError('EINVAL', `mempool '${name}': options must be an object such as { count: 1024, eltSize: 64 }, not ${String(opts)}`);
    const { count: n, eltSize, cacheSize = 0, privateSize = 0, objInit } = opts;
    let flags = (opts.singlePut ? MEMPOOL_F_SP_PUT : 0) | (opts.singleGet ? MEMPOOL_F_SC_GET : 0) | (opts.debug ? MEMPOOL_F_DEBUG : 0);
    checkName(name, 'mempool name', MEMPOOL_NAMESIZE);
    if (!isUint(n, 0x7fffffff) || n < 1) throw new MpdkError('EINVAL', `mempool '${name}': invalid element count ${n}; it must be a whole number from 1 to 2^31-1`);
    if (!isUint(eltSize) || eltSize < 1) throw new MpdkError('EINVAL', `mempool '${name}': invalid element size ${eltSize}; it must be a whole number of bytes ≥ 1`);
    if (!isUint(cacheSize, MEMPOOL_CACHE_MAX_SIZE)) {
      throw new MpdkError('EINVAL', `mempool '${name}': invalid cache size ${cacheSize}; it must be a whole number from 0 to ${MEMPOOL_CACHE_MAX_SIZE}`);
    }
    const flushThresh = Math.floor(cacheSize * 1.5);
    if (flushThresh > n) {
      throw new MpdkError('EINVAL', `mempool '${name}': cache size ${cacheSize} is too large for ${n} elements (1.5 × cache size must not exceed n); use a cache of at most ${Math.floor((2 * n + 1) / 3)}`);
    }
    if (!isUint(privateSize)) throw new MpdkError('EINVAL', `mempool '${name}': invalid private size ${privateSize}`);
    if (process.env.MPDK_DEBUG_MEMPOOL === '1') flags |= MEMPOOL_F_DEBUG;

    const stride = align64(eltSize + EH.BYTES);
    const ringOpts = { count: n + ringSlack(n), exactSize: true, singleProducer: (flags & MEMPOOL_F_SP_PUT) !== 0, singleConsumer: (flags & MEMPOOL_F_SC_GET) !== 0 };
    const privRel = MPH.BYTES;
    const ringRel = privRel + align64(privateSize);
    const cacheRel = ringRel + align64(Ring.memSize(ringOpts));
    const cacheStride = cacheSize > 0 ? MPC.OBJS + align64(4 * 2 * cacheSize) : 0;
    const sqRel = align64(cacheRel + cacheStride * MAX_LCORE);
    const eltRel = sqRel + SQ_STRIDE * MAX_LCORE + 64; // element 0's header sits in the line before it
    // Up to the end of the last element's stride: its object (eltSize ≤ stride − EH.BYTES)
    // ends there at the latest, and no byte of it lies past the memzone.
    const total = eltRel - EH.BYTES + stride * n;
    if (total >= eal.region.size) {
      throw new MpdkError('ENOSPC', `mempool '${name}' needs ${total} bytes (${n} × ${stride}-byte elements); the region is ${eal.region.size >>> 20} MiB: start the primary with a larger -m or ask for fewer or smaller elements`);
    }
    const mz = eal.memzones.reserve(MEMPOOL_MZ_PREFIX + name, total, 64);
    try {
      return Mempool.layOut(eal, name, mz.offset, { n, eltSize, stride, cacheSize, flushThresh, privateSize, flags, ringOpts, privRel, ringRel, cacheRel, cacheStride, sqRel, eltRel }, objInit);
    } catch (e) {
      eal.memzones.free(MEMPOOL_MZ_PREFIX + name);
      throw e;
    }
  }

  private static layOut(
    eal: Eal, name: string, z: number,
    a: { n: number; eltSize: number; stride: number; cacheSize: number; flushThresh: number; privateSize: number; flags: number; ringOpts: RingOptions;
      privRel: number; ringRel: number; cacheRel: number; cacheStride: number; sqRel: number; eltRel: number },
    objInit: ObjInit | undefined,
  ): Mempool {
    const { n, eltSize, stride, cacheSize, flushThresh, privateSize, flags, ringOpts, privRel, ringRel, cacheRel, cacheStride, sqRel, eltRel } = a;
    const r = eal.region;
    const u32 = r.u32;
    const w = (field: number, v: number): void => {
      u32[(z + field) >>> 2] = v;
    };
    w(MPH.VERSION, MEMPOOL_VERSION);
    w(MPH.N, n);
    w(MPH.ELT_SIZE, eltSize);
    w(MPH.STRIDE, stride);
    w(MPH.CACHE_SIZE, cacheSize);
    w(MPH.FLUSH_THRESH, flushThresh);
    w(MPH.PRIV_SIZE, privateSize);
    w(MPH.FLAGS, flags);
    w(MPH.PRIV_OFF, z + privRel);
    w(MPH.RING_OFF, z + ringRel);
    w(MPH.CACHE_OFF, z + cacheRel);
    w(MPH.CACHE_STRIDE, cacheStride);
    w(MPH.SQ_OFF, z + sqRel);
    w(MPH.ELT_OFF, z + eltRel);
    w(MPH.ELT_END, z + eltRel + stride * n);
    r.i32[(z + MPH.CREATOR) >>> 2] = process.pid;
    r.writeString(z + MPH.NAME, MPH.NAME_MAX, name);
    const ring = Ring.init(eal, z + ringRel, MEMPOOL_MZ_PREFIX + name, ringOpts);
    // Element headers, and every handle into the ring (in index order, in bursts).
    const burst = new Uint32Array(Math.min(n, 1024));
    let k = 0;
    for (let i = 0; i < n; i++) {
      const hnd = z + eltRel + i * stride;
      const eh = (hnd - EH.BYTES) >>> 2;
      u32[eh + (EH.STATE >>> 2)] = ELT_FREE;
      u32[eh + (EH.POOL >>> 2)] = z;
      u32[eh + (EH.INDEX >>> 2)] = i;
      if (objInit) objInit(hnd, i, z);
      burst[k++] = hnd;
      if (k === burst.length || i === n - 1) {
        if (ring.enqueueBulk(burst, k) !== k) {
          throw new MpdkError('EIO', `mempool '${name}': the ring refused its elements while the pool was created`);
        }
        k = 0;
      }
    }
    r.storeRelease(z + MPH.MAGIC, MEMPOOL_MAGIC); // the pool is visible to lookup from here on
    return new Mempool(eal, z);
  }

  /** Find pool `name`; ENOENT when there is none, EINVAL when that memzone is not a pool. */
  static lookup(eal: Eal, name: string): Mempool {
    checkName(name, 'mempool name', MEMPOOL_NAMESIZE);
    const mz = eal.memzones.tryLookup(MEMPOOL_MZ_PREFIX + name);
    if (!mz) throw new MpdkError('ENOENT', `no mempool named '${name}'; create it first (in the primary)`);
    awaitCreated(mz, () => eal.region.loadAcquire(mz.offset + MPH.MAGIC) === MEMPOOL_MAGIC, `mempool '${name}'`);
    return Mempool.attachAt(eal, mz.offset);
  }

  /** Attach to the pool whose header is at region offset `header` (e.g. an mbuf's POOL). */
  static attachAt(eal: Eal, header: number): Mempool {
    const r = eal.region;
    if (!isUint(header) || header % 64 !== 0 || header + MPH.BYTES > r.size) {
      throw new MpdkError('EINVAL', `no mempool header at offset ${header}`);
    }
    const magic = r.loadAcquire(header + MPH.MAGIC);
    if (magic !== MEMPOOL_MAGIC) throw new MpdkError('EINVAL', `the memzone at offset ${header} is not a mempool (or is being created or was freed)`);
    const ver = r.u32At(header + MPH.VERSION);
    if (ver !== MEMPOOL_VERSION) throw new MpdkError('EPROTO', `mempool at offset ${header} has layout version ${ver}; this code reads version ${MEMPOOL_VERSION}: run the same mpdk in every process`);
    return new Mempool(eal, header);
  }

  /**
   * Free the pool: its memzone returns to the heap. Handles held anywhere become invalid;
   * free a pool only when no process uses it any more (check `inUse()` first).
   */
  free(): void {
    this.eal.region.storeRelease(this.header + MPH.MAGIC, 0);
    this.eal.memzones.free(MEMPOOL_MZ_PREFIX + this.name);
  }

  /**
   * This object is done: what its lcore's cache holds goes back to the pool's ring, so
   * other lcores can get it (the pool itself stays; `free()` removes it). Call it from the
   * thread the object was made on. Idempotent; the object still works afterwards (its next
   * get refills the cache).
   */
  close(): void {
    if (this.lcore >= 0) this.flushCache(this.lcore);
  }

  /** `close()`: `using pool = Mempool.lookup(eal, name)` returns this lcore's cache at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  // --- hot path -----------------------------------------------------------------------------

  /**
   * Take `n` elements: their handles (each the region offset of an element's first byte,
   * `eltSize` bytes from there) go to `objs[0..n)`. All or nothing: returns `n`, or 0 when
   * the pool cannot supply `n` now, and then nothing is taken (no throw, for the fast path;
   * `getOrThrow` throws ENOENT instead). Elements held in other lcores' caches cannot be
   * taken, so 0 can come while `available()` is above `n`. Call it from the thread of the
   * `Eal` this pool object was opened with (it uses that lcore's cache); another thread
   * opens the pool itself (`Mempool.lookup`). Allocates nothing.
   *
   * `rec` and `kept` are for network drivers, whose receive burst records what it takes so
   * that a crash in the middle leaks nothing (src/ethdev/driver.ts); leave them out.
   * @throws MpdkError EINVAL when `n` is larger than `objs.length` (nothing taken).
   */
  getBulk(objs: Uint32Array, n: number, rec = -1, kept = 0): number {
    if (n > objs.length) this.tooMany('get', objs, n);
    const li = this.lenIdx;
    let got: number;
    if (li < 0 || n > this.cacheSize) {
      got = this.takeFromRing(objs, n, rec >= 0 && this.ringGetSnap >= 0 && kept + n <= GET_BASE_MAX ? rec : -1, kept);
      if (HOOK_GET && rec >= 0 && got > 0) hookStop('mempool:get');
    } else {
      const u32 = this.u32;
      let len = u32[li]!;
      if (len < n) len = this.refill(n);
      if (len < 0) return 0;
      // An ownership record's get (hands.ts POOL_GET): n and the LEN this get leaves, stored
      // before the copy; a reader that finds LEN equal to it knows objs holds the n.
      if (rec >= 0) u32[rec] = ((kept << GET_KEPT_SHIFT) | (n << GET_N_SHIFT) | (len - n)) >>> 0;
      // Copy from the top of the stack, then commit with the LEN store (see crash windows).
      copyDown(u32, this.objsIdx + len - 1, objs, n);
      if (HOOK_GET && rec >= 0) hookStop('mempool:get');
      u32[li] = len - n;
      got = n;
    }
    if (this.debug && got > 0) this.markGot(objs, got);
    return got;
  }

  /**
   * Zero-copy get (DPDK's rte_mempool_cache_zc_get_bulk), for a caller that stamps what it
   * takes in the same pass (a driver's RX): make this lcore's cache hold at least n
   * (refilled from the ring as getBulk does) and return `at`, the index in `cacheSlots` of
   * the top: the n handles a get would take are cacheSlots[at - i] for i in [0, n), in
   * getBulk's order. They stay the cache's until `zcGetCommit(n)` (the LEN store, as
   * getBulk's commit): copy them out first. `rec` as getBulk's (written before the copy).
   * -1 when the cache cannot serve this get (no cache, n > cacheSize, a debug pool, or the
   * pool short): use getBulk, which takes the ring path or fails the same way.
   */
  zcGet(n: number, rec = -1): number {
    const li = this.lenIdx;
    if (li < 0 || n > this.cacheSize || this.debug) return -1;
    let len = this.u32[li]!;
    if (len < n) len = this.refill(n);
    if (len < 0) return -1;
    if (rec >= 0) this.u32[rec] = ((n << GET_N_SHIFT) | (len - n)) >>> 0;
    return len - 1;
  }

  /**
   * Commit a zcGet: the first n of its handles (n ≤ the zcGet's, in its order) are the
   * caller's from here on; the rest stay in the cache. `rec`: the zcGet's (for drivers
   * that record their receive burst; leave it out otherwise).
   */
  zcGetCommit(n: number, rec = -1): void {
    const li = this.lenIdx;
    const len = this.u32[li]! - n;
    if (rec >= 0) this.u32[rec] = ((n << GET_N_SHIFT) | len) >>> 0;
    if (HOOK_GET && n > 0) hookStop('mempool:get'); // copied out, LEN not yet stored (as getBulk's)
    this.u32[li] = len;
  }

  /** This lcore's cache slots, for reading the handles of a zcGet (empty without a cache). */
  get cacheSlots(): Uint32Array {
    return this.cacheObjs;
  }

  /**
   * dequeueBulk from the common ring, all or nothing. After a dead producer's claim was
   * repaired the ring holds EMPTY slots that dequeue drops, so a bulk dequeue may return
   * 0 ≤ k < n: those k are kept and the rest asked for; if the ring cannot supply it, what
   * was taken goes back (the ring holds all N elements, so that fits). `rec` ≥ 0: recorded,
   * as GET_RING says; else a short take goes back at once and the whole get is tried again.
   */
  private takeFromRing(buf: Uint32Array, n: number, rec: number, kept: number): number {
    const u32 = this.u32;
    const ring = this.ring;
    const total = kept + n; // the record's count, from `kept` before buf
    let base = kept;
    for (;;) {
      const m = total - base;
      if (rec >= 0) {
        u32[rec] = (GET_RING | GET_HOLD | (base << GET_BASE_SHIFT) | total) >>> 0;
        u32[rec + GET_REC_SNAP] = u32[this.ringGetSnap]!;
        u32[rec] = (GET_RING | GET_CLAIM | (base << GET_BASE_SHIFT) | total) >>> 0;
        if (HOOK_GET_HOLES && base > kept) hookStop('mempool:get-holes');
      }
      const holes = ring.holesSkipped;
      const k = ring.dequeueBulk(base === kept ? buf : buf.subarray(base - kept), m);
      // Waiting behind a dead getter, we repaired its claim: its elements are ours to put back.
      if (ring.reclaimedPending !== 0) this.repair();
      if (k === m) return n;
      if (k === 0 && ring.holesSkipped === holes) break; // the ring cannot supply the rest
      if (rec < 0) {
        if (k > 0) ring.enqueueBulk(buf, k); // unrecorded: back, and the whole get again
        continue;
      }
      base += k;
    }
    if (base > kept) this.ringPutBack(buf, rec, kept, base, total);
    return 0;
  }

  /**
   * A recorded get that holds [0 .. base) gives buf[0 .. base - kept) (its [kept .. base))
   * back to the pool's ring, and holds [0 .. kept) after: GET_PUTBACK, the put's producer
   * snapshot first (a reader knows whether it went). `total` ≥ base: the HOLD word's count.
   */
  private ringPutBack(buf: Uint32Array, rec: number, kept: number, base: number, total: number): void {
    const u32 = this.u32;
    u32[rec] = (GET_RING | GET_HOLD | (base << GET_BASE_SHIFT) | total) >>> 0;
    u32[rec + GET_REC_SNAP] = u32[this.ringPutSnap]!;
    u32[rec] = (GET_RING | GET_PUTBACK | (base << GET_BASE_SHIFT) | kept) >>> 0;
    this.ringPut(buf, base - kept);
    if (HOOK_PUT_BACK) hookStop('mempool:put-back');
    u32[rec] = (GET_RING | GET_HOLD | (kept << GET_BASE_SHIFT) | total) >>> 0;
  }

  /**
   * Make a recorded get (getBulk's `rec`) hold exactly `n` handles: [0 .. n) of the array its
   * gets filled (one store; the caller wrote them there first). For a getter that takes back
   * what it holds: then `putBackRecorded`. Nothing for an unrecorded get (rec < 0, a thread
   * without an lcore) or n > GET_BASE_MAX.
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  holdRecorded(rec: number, n: number): void {
    if (rec < 0 || this.ringPutSnap < 0 || n > GET_BASE_MAX) return;
    this.u32[rec] = (GET_RING | GET_HOLD | (n << GET_BASE_SHIFT) | n) >>> 0;
  }

  /**
   * Put back objs[0 .. n), the record's [kept .. kept + n) (holdRecorded(rec, kept + n) made
   * it hold them), straight to the pool's ring: the record holds [0 .. kept) after, and a
   * reader in between knows whether the put went (GET_PUTBACK). Cold (a take that cannot
   * finish: net_pcap's record when the pool runs dry half-way). Unrecorded: putBulk.
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  putBackRecorded(objs: Uint32Array, n: number, rec: number, kept: number): void {
    if (rec < 0 || this.ringPutSnap < 0 || kept + n > GET_BASE_MAX) {
      this.putBulk(objs, n);
      return;
    }
    if (n > objs.length) this.tooMany('put', objs, n);
    if (this.debug) this.checkPut(objs, n);
    this.ringPutBack(objs, rec, kept, kept + n, kept + n);
  }

  /**
   * Refill this lcore's cache, which holds fewer than n: first with cacheSize + n - len
   * from the ring, else with just the missing ones. Returns the new len, or -1 when the
   * ring cannot even cover the shortfall (nothing taken by the caller).
   */
  private refill(n: number): number {
    const u32 = this.u32;
    const li = this.lenIdx;
    if (this.fill(this.cacheSize + n - u32[li]!)) return u32[li]!;
    const len = u32[li]!;
    if (len < n) this.fill(n - len);
    return u32[li]! >= n ? u32[li]! : -1;
  }

  /**
   * Dequeue `req` handles from the ring straight into the cache above LEN, all or nothing
   * (a burst that loses EMPTY holes is committed and the rest asked for again). The op is
   * recorded in the cache line (file header: crash windows). Returns whether all came.
   */
  private fill(req: number): boolean {
    const u32 = this.u32;
    for (;;) {
      const len = u32[this.lenIdx]!;
      const dst = this.above[len] ?? (this.above[len] = this.cacheObjs.subarray(len));
      u32[this.snapIdx] = u32[this.consSnap]!;
      u32[this.opNIdx] = len;
      u32[this.opIdx] = OP_REFILL;
      const k = this.ring.dequeueBulk(dst, req);
      if (HOOK_REFILL && k > 0) hookStop('mempool:refill');
      u32[this.lenIdx] = len + k; // commit: they are in the cache
      u32[this.opIdx] = 0;
      // Waiting behind a dead getter, we repaired its claim: its elements are ours to put back.
      if (this.ring.reclaimedPending !== 0) this.repair();
      if (k === req) return true;
      if (k === 0) return false;
      req -= k;
    }
  }

  /**
   * Return the `n` elements whose handles are `objs[0..n)` to the pool. From the same thread
   * as `getBulk`. It does not check that they belong to the pool unless the pool was created
   * with `debug` (then a foreign or already free handle is refused with EINVAL and nothing
   * changes); `put` of one handle always checks. Allocates nothing.
   * @throws MpdkError EINVAL when `n` is larger than `objs.length`, or as said for a debug pool.
   */
  putBulk(objs: Uint32Array, n: number): void {
    if (n > objs.length) this.tooMany('put', objs, n);
    if (this.debug) this.checkPut(objs, n);
    const li = this.lenIdx;
    if (li < 0 || n > this.flushThresh) {
      this.ringPut(objs, n);
      return;
    }
    const u32 = this.u32;
    let len = u32[li]!;
    if (len + n > this.flushThresh) {
      // Flush the whole cache, recorded as an op in flight (file header: crash windows).
      u32[this.snapIdx] = u32[this.prodSnap]!;
      u32[this.opNIdx] = len;
      u32[this.opIdx] = OP_FLUSH;
      u32[li] = 0;
      if (HOOK_FLUSH) hookStop('mempool:flush');
      this.ringPut(this.cacheObjs, len);
      u32[this.opIdx] = 0;
      len = 0;
    }
    copyUp(u32, this.objsIdx + len, objs, n);
    u32[li] = len + n;
  }

  private tooMany(what: string, objs: Uint32Array, n: number): never {
    throw new MpdkError('EINVAL', `mempool '${this.name}': cannot ${what} ${n} handles through an array of ${objs.length}`);
  }

  /**
   * One bulk enqueue: the ring has a slot for every element and ringSlack more, so a put
   * of pool elements fits unless more EMPTY holes than the slack (a dead putter's repaired
   * claim holds its slots until a getter passes it) sit in the ring at once. Then, and only
   * then, they are squeezed out (squeezeIn), recorded on this lcore's squeeze line.
   */
  private ringPut(objs: Uint32Array, n: number): void {
    if (n === 0 || this.ring.enqueueBulk(objs, n) === n) return;
    if (this.sqIdx >= 0) this.squeezeIn(objs, n);
    else this.squeezeUnrecorded(objs, n);
  }

  /**
   * Pass the EMPTY holes that keep objs[0 .. n) out of the ring: a burst of up to SQ_BURST
   * out of the ring into this lcore's squeeze line (the holes the dequeue drops are gone),
   * back in, then the put again, until it fits. Each step is recorded (MPQ: TAKE, HOLD, GIVE,
   * PUT), so a death at any instruction leaves what the line holds readable, and a record
   * of this put (Hands.free, a cache flush, a get's put-back) reads through putMoved whether
   * the put went. Bounded: one pass over the ring. Cold; allocates nothing.
   */
  private squeezeIn(objs: Uint32Array, n: number): void {
    const u32 = this.u32;
    const q = this.sqIdx;
    const ring = this.ring;
    const buf = this.sqBuf;
    this.eal.region.f64[(q + (MPQ.START >>> 2)) >>> 1] = ownStart();
    this.i32[q + (MPQ.PID >>> 2)] = process.pid;
    for (let moved = 0; moved <= ring.capacity; moved += SQ_BURST) {
      u32[q + (MPQ.CSNAP >>> 2)] = u32[this.ringGetSnap]!;
      u32[q + (MPQ.OP >>> 2)] = SQ_TAKE;
      const k = ring.dequeueBurst(buf, SQ_BURST);
      if (HOOK_SQUEEZE && k > 0) hookStop('mempool:squeeze');
      u32[q + (MPQ.K >>> 2)] = k;
      u32[q + (MPQ.OP >>> 2)] = SQ_HOLD;
      if (k > 0) {
        u32[q + (MPQ.PSNAP >>> 2)] = u32[this.ringPutSnap]!;
        u32[q + (MPQ.OP >>> 2)] = SQ_GIVE;
        // Cannot fail: we just took k out. If it does, the line keeps holding them (HOLD).
        if (ring.enqueueBulk(buf, k) !== k) break;
        if (HOOK_SQUEEZE_GIVE) hookStop('mempool:squeeze-give');
      }
      u32[q + (MPQ.PTO >>> 2)] = u32[this.ringPutSnap]!;
      u32[q + (MPQ.OP >>> 2)] = SQ_PUT;
      if (ring.enqueueBulk(objs, n) === n) {
        if (HOOK_SQUEEZE_PUT) hookStop('mempool:squeeze-put');
        u32[q + (MPQ.OP >>> 2)] = 0;
        if (ring.reclaimedPending !== 0) this.repair();
        return;
      }
      if (k === 0 && ring.count() === 0) break;
    }
    if (u32[q + (MPQ.OP >>> 2)] !== SQ_HOLD) u32[q + (MPQ.OP >>> 2)] = 0;
    this.refused(n);
  }

  /** squeezeIn for a thread without an lcore (no claim lines of its own): unrecorded, a death inside leaks the burst in hand. */
  private squeezeUnrecorded(objs: Uint32Array, n: number): void {
    const buf = (this.squeeze ??= new Uint32Array(SQ_BURST));
    for (let moved = 0; moved <= this.ring.capacity; moved += SQ_BURST) {
      const k = this.ring.dequeueBurst(buf, buf.length);
      if (k > 0 && this.ring.enqueueBulk(buf, k) !== k) break;
      if (this.ring.enqueueBulk(objs, n) === n) return;
      if (k === 0 && this.ring.count() === 0) break;
    }
    this.refused(n);
  }

  private refused(n: number): never {
    throw new MpdkError('EIO', `mempool '${this.name}': its ring refused ${n} handles; more handles were put than the pool has (a double put or a foreign handle: run the pool in debug mode, MPDK_DEBUG_MEMPOOL=1, to find it)`);
  }

  /**
   * How many handles the put recorded with producer snapshot `snap` (ring/claims.ts
   * burstSnapIndex of lcore `lc`, stored before the put) moved into the pool's ring: what
   * the ring's burstMoved says, but for a put that squeezed holes out first (MPQ): 0 while
   * the squeeze is in hand (its re-enqueues are not the put), else the put's own claim,
   * counted from the line's TO after the squeeze. Exact while lcore `lc` is idle or dead.
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  putMoved(lc: number, snap: number): number {
    if (isUint(lc, MAX_LCORE - 1)) {
      const q = (this.sqBase + lc * SQ_STRIDE) >>> 2;
      const op = this.u32[q + (MPQ.OP >>> 2)]!;
      if (op === SQ_TAKE || op === SQ_HOLD || op === SQ_GIVE) return 0;
      if (op === SQ_PUT) return this.ring.burstMoved(lc, this.u32[q + (MPQ.PTO >>> 2)]!, false);
    }
    return this.ring.burstMoved(lc, snap, false);
  }

  /**
   * What lcore `l`'s squeeze line holds (MPQ), and the pid (and start time) of the putter
   * that wrote it; undefined when it holds nothing. Read-only; exact while that putter is
   * idle or dead (audit.ts, reclaim.ts: the putter's hands).
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  squeezeHeld(l: number): {
    /** The putter's pid. */
    pid: number;
    /** The putter's start time (the kernel's, as the process table keeps it): tells it from a later process with its pid. */
    start: number;
    /** The handles the line holds. */
    handles: number[];
  } | undefined {
    if (!isUint(l, MAX_LCORE - 1)) return undefined;
    const u32 = this.u32;
    const q = (this.sqBase + l * SQ_STRIDE) >>> 2;
    const op = u32[q + (MPQ.OP >>> 2)]!;
    if (op !== SQ_TAKE && op !== SQ_HOLD && op !== SQ_GIVE) return undefined;
    const k = Math.min(u32[q + (MPQ.K >>> 2)]!, SQ_BURST);
    let to = 0;
    if (op === SQ_TAKE) to = Math.min(this.ring.burstMoved(l, u32[q + (MPQ.CSNAP >>> 2)]!, true), SQ_BURST);
    else if (op === SQ_HOLD || this.ring.burstMoved(l, u32[q + (MPQ.PSNAP >>> 2)]!, false) !== k) to = k;
    const handles: number[] = [];
    const b = q + (MPQ.BUF >>> 2);
    for (let i = 0; i < to; i++) {
      const h = u32[b + i]!;
      if (h !== RING_EMPTY && this.isElement(h) && !handles.includes(h)) handles.push(h); // a dequeue that dropped holes compacted what it kept
    }
    return handles.length > 0 ? { pid: this.i32[q + (MPQ.PID >>> 2)]!, start: this.eal.region.f64[(q + (MPQ.START >>> 2)) >>> 1]!, handles } : undefined;
  }

  /**
   * Lcore `l`'s squeeze line is over (reclaim.ts, once what it held went back): idle, if `pid` still wrote it.
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  clearSqueeze(l: number, pid: number): void {
    if (!isUint(l, MAX_LCORE - 1)) return;
    const q = (this.sqBase + l * SQ_STRIDE) >>> 2;
    if (this.i32[q + (MPQ.PID >>> 2)] === pid) this.u32[q + (MPQ.OP >>> 2)] = 0;
  }

  /** `getBulk`, throwing ENOENT (nothing taken) when the pool cannot supply n. */
  getOrThrow(objs: Uint32Array, n: number): void {
    if (this.getBulk(objs, n) === n || n === 0) return;
    throw new MpdkError('ENOENT', `mempool '${this.name}': cannot get ${n} elements (${this.available()} available in the ring and all caches, of ${this.size}; elements in other lcores' caches cannot be taken): put some back or make the pool larger`);
  }

  /** One handle; ENOENT (nothing taken) when the pool is empty. */
  get(): number {
    if (this.getBulk(this.one, 1) !== 1) this.getOrThrow(this.one, 1);
    return this.one[0]!;
  }

  /** Like `get`, but returns 0 (never a handle) when the pool is empty. */
  tryGet(): number {
    return this.getBulk(this.one, 1) === 1 ? this.one[0]! : 0;
  }

  /** Return one handle. EINVAL (nothing changed) when it is not an element of this pool. */
  put(h: number): void {
    if (!this.isElement(h)) {
      throw new MpdkError('EINVAL', `mempool '${this.name}': handle ${h} is not an element of this pool (elements are at offsets ${this.eltStart}..${this.eltEnd - this.stride} in steps of ${this.stride})`);
    }
    this.one[0] = h;
    this.putBulk(this.one, 1);
  }

  /** Range and stride check: is `h` the handle of one of this pool's elements? */
  isElement(h: number): boolean {
    return h >= this.eltStart && h < this.eltEnd && (h - this.eltStart) % this.stride === 0;
  }

  // --- debug mode ---------------------------------------------------------------------------

  private markGot(objs: Uint32Array, n: number): void {
    const i32 = this.i32;
    for (let i = 0; i < n; i++) {
      const prev = Atomics.exchange(i32, (objs[i]! - EH.BYTES + EH.STATE) >>> 2, ELT_IN_USE);
      if (prev !== ELT_FREE) Atomics.add(i32, (this.header + MPH.DEBUG_ERRORS) >>> 2, 1);
    }
  }

  /** All-or-nothing: mark each handle FREE (CAS from IN_USE); on a refusal, roll back. */
  private checkPut(objs: Uint32Array, n: number): void {
    const i32 = this.i32;
    for (let i = 0; i < n; i++) {
      const h = objs[i]!;
      let why = '';
      if (!this.isElement(h)) why = `handle ${h} is not an element of this pool`;
      else if (Atomics.compareExchange(i32, (h - EH.BYTES + EH.STATE) >>> 2, ELT_IN_USE, ELT_FREE) !== ELT_IN_USE) {
        why = `element ${h} (index ${(h - this.eltStart) / this.stride}) is already free: a double put`;
      }
      if (why) {
        for (let j = 0; j < i; j++) Atomics.store(i32, (objs[j]! - EH.BYTES + EH.STATE) >>> 2, ELT_IN_USE);
        throw new MpdkError('EINVAL', `mempool '${this.name}': put refused, ${why}; nothing was returned to the pool`);
      }
    }
  }

  /** Debug pools: the state of element `h` (ELT_FREE, ELT_IN_USE; 0 when not debug). */
  eltState(h: number): number {
    return this.isElement(h) ? Atomics.load(this.i32, (h - EH.BYTES + EH.STATE) >>> 2) : 0;
  }

  /** Debug pools: gets that found an element not marked free (should stay 0). */
  debugErrors(): number {
    return Atomics.load(this.i32, (this.header + MPH.DEBUG_ERRORS) >>> 2);
  }

  // --- counts, supervisor, audit -------------------------------------------------------------

  private cacheOffset(lcore: number): number {
    return this.cacheBase + lcore * this.cacheStride;
  }

  /** Handles lcore `lcore`'s cache holds (a snapshot; 0 for a pool without caches). */
  cacheCount(lcore: number): number {
    if (this.cacheSize === 0 || !isUint(lcore, MAX_LCORE - 1)) return 0;
    return Atomics.load(this.u32, (this.cacheOffset(lcore) + MPC.LEN) >>> 2);
  }

  /**
   * Free elements: in the shared ring and in every lcore's cache (a snapshot while others
   * run). Those in other lcores' caches are counted but cannot be taken from this one.
   */
  available(): number {
    let n = this.ring.holes() === 0 ? this.ring.count() : this.ring.contents().length;
    if (this.cacheSize > 0) for (let l = 0; l < MAX_LCORE; l++) n += this.cacheCount(l);
    return n;
  }

  /** Elements outside the pool: size − available. */
  inUse(): number {
    return this.size - this.available();
  }

  /** Region offset of element `index`'s object (its handle). */
  handleOf(index: number): number {
    return this.eltStart + index * this.stride;
  }

  /**
   * The index (0 to size - 1) of the element whose handle is `h`, or -1 when `h` is not one of this pool's.
   */
  indexOf(h: number): number {
    return this.isElement(h) ? (h - this.eltStart) / this.stride : -1;
  }

  /**
   * Call `fn` on every handle lcore `l`'s cache holds: OBJS[0 .. LEN), and what a refill or
   * flush in flight holds beyond LEN (file header: crash windows). Read-only; exact while
   * that lcore is idle or dead. Returns how many.
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  eachInCache(l: number, fn: (h: number) => void): number {
    if (this.cacheSize === 0 || !isUint(l, MAX_LCORE - 1)) return 0;
    const u32 = this.u32;
    const c = this.cacheOffset(l);
    const len = Math.min(u32[(c + MPC.LEN) >>> 2]!, 2 * this.cacheSize);
    const o = (c + MPC.OBJS) >>> 2;
    for (let i = 0; i < len; i++) fn(u32[o + i]!);
    return len + this.eachInFlight(l, fn);
  }

  /**
   * How many handles a recorded get (getBulk's `rec` word: `word` is what it wrote, `ringSnap`
   * what it wrote in rec + GET_REC_SNAP) by lcore `lcore` took: from the cache, the n it
   * recorded when the cache's LEN is the LEN it recorded (the LEN store is the get's commit),
   * else 0 (they are still in the cache); from the ring, the n it recorded when its claim moved
   * n past the snapshot, else 0 (not claimed, or the claim is repair's). Exact while that lcore
   * is idle or dead, read before its cache is flushed. A ring get counts the EMPTY holes its
   * claims dropped (objs past what they kept holds holes or repeats of it: readers skip both).
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  recordedGetTook(lcore: number, word: number, ringSnap: number): number {
    if (!isUint(lcore, MAX_LCORE - 1)) return 0;
    if ((word & GET_RING) !== 0) {
      // A ring get (GET_RING): what its earlier claims kept, and its claim in flight if it went through whole.
      const n = word & 0xffff;
      const base = (word >>> GET_BASE_SHIFT) & GET_BASE_MAX;
      const kind = word & GET_KIND;
      if (kind === GET_PUTBACK) return n <= base && this.putMoved(lcore, ringSnap) === base - n ? n : base; // n: kept
      if (base > n) return 0;
      if (kind === GET_HOLD) return base;
      return base + (this.ring.burstMoved(lcore, ringSnap, true) === n - base ? n - base : 0);
    }
    const kept = word >>> GET_KEPT_SHIFT;
    if (this.cacheSize === 0) return kept;
    const len = this.u32[(this.cacheOffset(lcore) + MPC.LEN) >>> 2]!;
    return kept + (len === (word & GET_LEN_MASK) ? (word >>> GET_N_SHIFT) & GET_N_MASK : 0);
  }

  /**
   * Move everything in lcore `lcore`'s cache to the ring and return how many moved. For
   * the calling thread's own lcore (before it stops), or for a supervisor once the cache's
   * user died: the op it left in flight is finished first, and a thread that takes that
   * lcore meanwhile waits for the flush (file header: handover). EBUSY when a live process
   * uses that cache (it may be using it right now; another thread of this process too), or
   * another live process flushes it.
   */
  flushCache(lcore: number): number {
    if (!isUint(lcore, MAX_LCORE - 1)) throw new MpdkError('EINVAL', `invalid lcore ${lcore}: lcore ids are 0..${MAX_LCORE - 1}`);
    if (this.cacheSize === 0) return 0;
    if (lcore === this.lcore) return this.flushLen(lcore, -1);
    this.holdOther(lcore);
    try {
      this.recoverCache(lcore);
      return this.flushLen(lcore, this.ringGetSnap >= 0 ? this.eal.lcoreId : -1);
    } finally {
      Atomics.store(this.i32, (this.cacheOffset(lcore) + MPC.FLUSHER) >>> 2, 0); // F3's end
    }
  }

  /**
   * Whether lcore `l`'s cache holds anything (or has an op in flight) and no live process
   * uses it: what reclaimDead flushes. A snapshot; flushCache decides under the handover.
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  abandonedCache(l: number): boolean {
    if (this.cacheSize === 0 || !isUint(l, MAX_LCORE - 1) || l === this.lcore) return false;
    const c = this.cacheOffset(l);
    if (this.u32[(c + MPC.LEN) >>> 2] === 0 && this.u32[(c + MPC.OP) >>> 2] === 0) return false;
    const u = Atomics.load(this.i32, (c + MPC.USER) >>> 2);
    return u === 0 || !processAlive(u, this.eal.region.f64[(c + MPC.USER_START) >>> 3]!);
  }

  /**
   * Cache `l`'s OBJS[0 .. LEN) to the ring. An outside flusher (`via` = its own lcore, whose
   * ring claim lines its enqueue uses) records the flush as an op in flight (OP_LC = via + 1),
   * so that whoever comes after its death finishes it (recoverCache); without a claim line of
   * its own (`via` -1) a death there leaks that cache.
   */
  private flushLen(l: number, via: number): number {
    const u32 = this.u32;
    const c = this.cacheOffset(l);
    const li = (c + MPC.LEN) >>> 2;
    const len = u32[li]!;
    if (len === 0) return 0;
    if (len > 2 * this.cacheSize) throw new MpdkError('EIO', `mempool '${this.name}': lcore ${l}'s cache says it holds ${len} > ${2 * this.cacheSize}; the pool is damaged`);
    const objs = new Uint32Array(this.eal.region.buffer, c + MPC.OBJS, len);
    const opi = (c + MPC.OP) >>> 2;
    if (via >= 0) {
      u32[(c + MPC.SNAP) >>> 2] = u32[this.ring.burstSnapIndex(via, false)]!;
      u32[(c + MPC.OP_N) >>> 2] = len;
      u32[(c + MPC.OP_LC) >>> 2] = via + 1;
      u32[opi] = OP_FLUSH;
    }
    u32[li] = 0;
    if (HOOK_FLUSH_OTHER && l !== this.lcore) hookStop('mempool:flush-other');
    if (HOOK_FLUSH_OTHER_PAUSE && l !== this.lcore) hookSigstop('mempool:flush-other-pause');
    this.ringPut(objs, len);
    if (via >= 0) {
      u32[opi] = 0;
      u32[(c + MPC.OP_LC) >>> 2] = 0;
    }
    return len;
  }

  /**
   * How many single-ended ring bursts this object's recoverCache rolled back (a dead lcore's
   * refill or flush killed between the ring's head and tail stores): reclaimDead counts them
   * in its report's singleFixed. Cold; never touched by a get or put.
   * @internal For mpdk's crash recovery (src/ownership), not for programs.
   */
  get singleRolledBack(): number {
    return this.rolledBack;
  }

  private rolledBack = 0;

  /**
   * Finish the ring op lcore `lcore` (whose owner is dead) had in flight on its cache
   * (file header: crash windows): afterwards LEN covers exactly what the cache holds.
   * Run the ring's repair before (reclaimDead does) or after: the outcome is the same.
   * Returns the handles it added to the cache.
   * @internal For mpdk's crash recovery and audit (src/ownership), not for programs.
   */
  recoverCache(lcore: number): number {
    if (this.cacheSize === 0 || !isUint(lcore, MAX_LCORE - 1)) return 0;
    const u32 = this.u32;
    const c = this.cacheOffset(lcore);
    const opi = (c + MPC.OP) >>> 2;
    const op = u32[opi]!;
    if (op === 0) return 0;
    // A single consumer's refill / single producer's flush killed between the ring's head and
    // tail stores never moved the tail (burstMoved: 0) but left the head past it: the next
    // getter would skip those slots (a leak), the next putter publish them stale (duplicates).
    // Its thread is the ring side's only mover (SC / SP) and dead: the head goes back first.
    if (this.ring.rollBackSingle(op === OP_REFILL)) this.rolledBack++;
    const extra: number[] = [];
    this.eachInFlight(lcore, (h) => extra.push(h));
    if (extra.length > 0) {
      // A refill lands above the LEN it started from; a flush's handles never left OBJS[0 ..).
      const at = op === OP_REFILL ? u32[(c + MPC.OP_N) >>> 2]! : 0;
      const o = (c + MPC.OBJS) >>> 2;
      for (let i = 0; i < extra.length; i++) u32[o + at + i] = extra[i]!;
      u32[(c + MPC.LEN) >>> 2] = at + extra.length;
    }
    u32[opi] = 0;
    u32[(c + MPC.OP_LC) >>> 2] = 0;
    return extra.length;
  }

  /**
   * The handles lcore `l`'s cache op in flight moved into the cache (a refill: dequeued,
   * LEN not yet stored) or failed to move out of it (a flush the ring did not take) — not
   * covered by LEN. Read-only. Returns how many.
   */
  private eachInFlight(l: number, fn: (h: number) => void): number {
    const u32 = this.u32;
    const c = this.cacheOffset(l);
    const op = u32[(c + MPC.OP) >>> 2]!;
    if (op === 0) return 0;
    const cap = 2 * this.cacheSize;
    const len = u32[(c + MPC.LEN) >>> 2]!;
    const opN = Math.min(u32[(c + MPC.OP_N) >>> 2]!, cap);
    const snap = u32[(c + MPC.SNAP) >>> 2]!;
    const opLc = u32[(c + MPC.OP_LC) >>> 2]!; // an outside flusher's claim lines
    const via = opLc > 0 && opLc <= MAX_LCORE ? opLc - 1 : l;
    let from = 0;
    let to = 0;
    if (op === OP_REFILL && len === opN) {
      // dequeued, LEN not yet stored (once stored, LEN covers them)
      from = opN;
      to = Math.min(opN + this.ring.burstMoved(via, snap, true), cap);
    } else if (op === OP_FLUSH && len === 0 && this.putMoved(via, snap) === 0) {
      to = opN; // LEN = 0 stored, the ring did not take them (or not yet: its claim is undone)
    }
    // A dequeue that dropped holes compacted what it kept: skip EMPTY and repeats.
    const o = (c + MPC.OBJS) >>> 2;
    let k = 0;
    const seen = new Set<number>();
    for (let i = from; i < to; i++) {
      const h = u32[o + i]!;
      if (h === RING_EMPTY || seen.has(h) || !this.isElement(h)) continue;
      seen.add(h);
      fn(h);
      k++;
    }
    return k;
  }

  /**
   * Account for every element: walks the ring's contents and every cache. Exact when
   * nobody gets or puts meanwhile (a supervisor's check after a crash, a test's end);
   * a snapshot otherwise. Duplicates and foreign handles are reported, not thrown.
   */
  audit(): AuditReport {
    const seen = new Uint8Array(this.size);
    let duplicates = 0;
    let foreign = 0;
    const note = (h: number): void => {
      const i = this.indexOf(h);
      if (i < 0) foreign++;
      else if (seen[i]++ !== 0) duplicates++;
    };
    // The ring's published entries, minus the EMPTY holes a repair left for dead producers.
    const inRing = this.ring.contents();
    for (let i = 0; i < inRing.length; i++) note(inRing[i]!);
    let inCaches = 0;
    const caches: Record<number, number> = {};
    if (this.cacheSize > 0) {
      for (let l = 0; l < MAX_LCORE; l++) {
        const c = this.cacheOffset(l);
        const len = Math.min(this.u32[(c + MPC.LEN) >>> 2]!, 2 * this.cacheSize);
        if (len === 0) continue;
        caches[l] = len;
        inCaches += len;
        const o = (c + MPC.OBJS) >>> 2;
        for (let i = 0; i < len; i++) note(this.u32[o + i]!);
      }
    }
    let present = 0;
    for (let i = 0; i < this.size; i++) if (seen[i]) present++;
    const report: AuditReport = {
      name: this.name, size: this.size, inRing: inRing.length, inCaches, inUse: this.size - present, duplicates, foreign, caches, ok: duplicates === 0 && foreign === 0,
    };
    return report;
  }

  /**
   * Repair the pool's ring after a process died inside a get or a put (ring.ts: claim
   * records): a dead getter's claimed handles go back into the ring. Returns the ring's report.
   */
  repair(): RepairReport {
    const rep = this.ring.repair();
    if (rep.reclaimed.length > 0) this.ringPut(Uint32Array.from(rep.reclaimed), rep.reclaimed.length);
    return rep;
  }

  /** The pool as tools show it (`mpdk info`): sizes, counts, each lcore cache's fill. */
  describe(): ObjectDescription {
    const caches: Record<number, number> = {};
    let inCaches = 0;
    if (this.cacheSize > 0) {
      for (let l = 0; l < MAX_LCORE; l++) {
        const n = this.cacheCount(l);
        if (n > 0) caches[l] = n;
        inCaches += n;
      }
    }
    const inRing = this.ring.count();
    return {
      kind: 'mempool', name: this.name, size: this.size, eltSize: this.eltSize, stride: this.stride, cacheSize: this.cacheSize,
      available: inRing + inCaches, inUse: this.size - inRing - inCaches, inRing, inCaches, cacheFill: caches,
      debug: this.debug, offset: this.header,
    };
  }

  /** Every readable pool of the instance (for tools; damaged ones are left out: see `entries`). */
  static list(eal: Eal): Mempool[] {
    const out: Mempool[] = [];
    for (const e of Mempool.entries(eal)) if (e.pool) out.push(e.pool);
    return out;
  }

  /**
   * Every pool of the instance (memzones "MP_*"), each attached or with the error that
   * stops its reading (a damaged header). Pools still being created (or being freed: no
   * magic yet or any more) are left out.
   */
  static entries(eal: Eal): PoolEntry[] {
    const out: PoolEntry[] = [];
    for (const mz of eal.memzones.list()) {
      if (!mz.name.startsWith(MEMPOOL_MZ_PREFIX)) continue;
      const name = mz.name.slice(MEMPOOL_MZ_PREFIX.length);
      const magic = eal.region.loadAcquire(mz.offset + MPH.MAGIC) >>> 0;
      if (magic === 0) continue;
      if (magic !== MEMPOOL_MAGIC) {
        out.push({ name, header: mz.offset, error: `mempool '${name}': no pool header (magic 0x${magic.toString(16)}): the memzone is damaged` });
        continue;
      }
      try {
        out.push({ name, header: mz.offset, pool: Mempool.attachAt(eal, mz.offset) });
      } catch (e) {
        out.push({ name, header: mz.offset, error: (e as Error).message });
      }
    }
    return out;
  }
}

/** One pool of the instance as `Mempool.entries` finds it: attached, or why it cannot be read. */
export interface PoolEntry {
  /** The pool's name. */
  name: string;
  /** Region offset of its header. */
  header: number;
  /** The pool, opened read-only (absent when its header is damaged). */
  pool?: Mempool;
  /** Why it could not be opened (a damaged header). */
  error?: string;
}

registerDescriber('mempool', (eal) => Mempool.entries(eal).map((e) => (e.pool ? e.pool.describe() : { kind: 'mempool', name: e.name, error: e.error })));

