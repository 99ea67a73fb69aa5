/**
 * Ring: a fixed-size lock-free FIFO of 32-bit handles in the shared region (DPDK's rte_ring),
 * usable by any process or lcore thread of an instance. This file holds its life cycle and
 * its fast paths; the rest of the ring layer:
 *
 *   layout.ts    the bytes (RING table) and their checked views (RingMemory)
 *   claims.ts    claim records of MP / MC bursts, their repair, burst snapshots
 *   doorbell.ts  sleeping until the other side moves (futex), and waking the sleepers
 *   view.ts      RingView: read-only inspection (counts, contents, claims, describe);
 *                a Ring is a RingView plus the producer and consumer operations
 *
 *   doorbell-async.ts  the same sleep without blocking the event loop (one futex_waitv per thread)
 *
 *   who calls what
 *   producer  enqueue / enqueueBulk / enqueueBurst (+ sp / mp variants), waitEnqueueBurst;
 *             enqueueBurstAsync / enqueueBulkAsync (await room: back-pressure)
 *   consumer  dequeue / dequeueBulk / dequeueBurst (+ sc / mc variants), waitDequeueBurst,
 *             dequeueRecords (whole runs of handles, a channel's messages);
 *             dequeueBurstAsync, `for await (const burst of ring.bursts(handles))`
 *   anyone    count, freeCount, full, empty, highWater, dump, describe (RingView)
 *   the handle's user  close() / [Symbol.dispose]: ends this handle's pending async waits
 *   repairer  repair(): finishes or undoes the claims of dead producers / consumers;
 *             rollBackSingle(): a dead single producer's / consumer's unpublished burst
 *
 * A ring lives either in its own memzone "RG_<name>" (`create` / `lookup` / `free`) or
 * embedded in another object's memory (`memSize` / `init` / `attach`: the mempool).
 *
 * Indexes (heads and tails) are free-running u32 counters; a slot is `slots[idx & mask]`.
 * Unsigned subtraction is modulo 2^32, so `prodTail - consTail` is always the number of
 * entries, in [0, capacity], as long as capacity < 2^31.
 *
 * ## Algorithms
 * - SP / SC (MCRingBuffer, as Snabb's interlink): each side keeps, in this JS object, a
 *   cached copy of the other side's tail and loads the shared one (Atomics.load = acquire)
 *   only when the cached view does not have room / entries for the request. The cached
 *   copy is never ahead of the real one (tails only grow), so the cached view is
 *   conservative; if it is so old that the u32 difference wraps, the result exceeds the
 *   capacity and the shared tail is reloaded. Its own head is a plain load (this side is
 *   the only writer). Slots are plain stores/loads; one store of the tail publishes the
 *   burst: on x64 a plain one (PLAIN_TAILS: x86 keeps stores in order, so it is a release;
 *   an Atomics.store is an xchg, which stalls the producer until every slot line it wrote
 *   is owned by its core), elsewhere Atomics.store.
 * - MP / MC (DPDK's): CAS the head forward (Atomics.compareExchange) with a claim record
 *   (claims.ts), copy the slots, wait until the tail equals our old head, store the tail
 *   (plain on x64 as SP / SC's: only the claimer the tail has reached writes it).
 *   The wait spins SPIN_BEFORE_YIELD times, then sched_yields (processes outnumber cores
 *   here: a preempted claimer ahead of us must get the CPU), and every STUCK_MS checks the
 *   claimer ahead and repairs it if it is dead. A live claimer ahead (slow, or stopped) is
 *   waited for up to `tailWaitMs`; then the waiter marks its own claim ABANDONED, which
 *   repair treats as a dead one's (a producer's written burst is published when the tail
 *   reaches it; a consumer's range is released and its handles reclaimed), and throws
 *   ETIMEDOUT naming the pid waited for and its state. Until that claim is repaired, this
 *   object refuses the side (EBUSY).
 * - The slots are copied in and out by enqueueElems / dequeueElems (DPDK's
 *   __rte_ring_enqueue_elems / __rte_ring_dequeue_elems): one straight loop, or two when
 *   the burst wraps past the last slot.
 *
 * ## Orderings (x86-64 TSO; V8 Atomics are sequentially consistent builtin calls)
 *   R1 producer: plain slot stores, then Atomics.store(PROD_TAIL)   pairs with A1
 *      (on x64 a plain store; TSO orders it after the slot stores, and TurboFan keeps
 *      stores to memory in program order; an MP claim's state goes IDLE after it, in order)
 *   A1 consumer: Atomics.load(PROD_TAIL), then plain slot loads
 *   R2 consumer: plain slot loads, then Atomics.store(CONS_TAIL)    pairs with A2
 *      (on x64 a plain store; x86 never moves a store before earlier loads)
 *   A2 producer: Atomics.load(CONS_TAIL), then plain slot stores (no overwrite of unread slots)
 *   D1 after R1 / R2, a plain load of the other side's waiter count: doorbell.ts (with plain
 *      tails, the sleeper's membarrier stands for the fence between the two)
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { awaitCreated, checkName } from '../eal/memzone.js';
import { MAX_LCORE } from '../eal/options.js';
import { membarrierRegister, processStartTime, processState, schedYield } from '../native/libc.js';
import { claimAtTail, emptyRepairReport, repairSide, rollBackSingle, type RepairReport } from './claims.js';
import { armNotEmpty, disarmNotEmpty, ringBell, waitForBurst } from './doorbell.js';
import {
  attempt, deadlineOf, DEQ_BURST, ENQ_BULK, ENQ_BURST, waitBurstAsync, waiter, WHEN_ENTRIES, WHEN_ROOM, type WaitOptions, type Waiter,
} from './doorbell-async.js';
import { INTR_NONE, type FutexSet } from '../eal/idle.js';
import { SpinBudget } from '../eal/spin-budget.js';
import {
  checkCount, CLAIM_STATE, RING, RING_EMPTY, RING_F_EXACT_SZ, RING_F_SC_DEQ, RING_F_SP_ENQ, RING_MAGIC, RING_MZ_PREFIX, RING_NAMESIZE, RING_VERSION, RingMemory, ringFlags,
  type RingOptions,
} from './layout.js';
import { RingView } from './view.js';
import { TEST_HOOK, hookStop } from '../eal/test-hook.js';

export { RING_EMPTY, RING_F_EXACT_SZ, RING_F_SC_DEQ, RING_F_SP_ENQ, RING_NAMESIZE, type RingOptions } from './layout.js';
export type { RepairReport } from './claims.js';
export type { WaitOptions, Waiter } from './doorbell-async.js';

const { IDLE, CLAIMING, CLAIMED, WRITTEN, ABANDONED } = CLAIM_STATE;

/**
 * u32 indexes (in h) of the words the fast paths touch, and of a claim record's fields from
 * its start: module constants, which TurboFan folds (a property read of the exported RING
 * table costs a map check and a load in optimized code, every time).
 */
const W_PROD_HEAD = RING.PROD_HEAD >>> 2;
const W_PROD_TAIL = RING.PROD_TAIL >>> 2;
const W_CONS_HEAD = RING.CONS_HEAD >>> 2;
const W_CONS_TAIL = RING.CONS_TAIL >>> 2;
const W_HOLES = RING.HOLES >>> 2;
const W_NE_WAITERS = RING.NE_WAITERS >>> 2;
const W_NF_WAITERS = RING.NF_WAITERS >>> 2;
const W_C_FROM = RING.C_FROM >>> 2;
const W_C_PID = RING.C_PID >>> 2;
const W_C_STATE = RING.C_STATE >>> 2;
const W_C_TO = RING.C_TO >>> 2;
const W_CLAIM_CONS = RING.CLAIM_CONS >>> 2;
const W_HIGH_WATER = RING.HIGH_WATER >>> 2;
/** f64 index of a claim record's START from the record's u32 index >>> 1. */
const D_C_START = RING.C_START >>> 3;

/**
 * Tails published with a plain store (file header, R1 / R2): on x64, once this
 * process is a target of the sleepers' membarrier (doorbell.ts D1). Decided at load; a
 * module constant, folded by TurboFan.
 */
const PLAIN_TAILS = process.arch === 'x64' && membarrierRegister();

const SPIN_BEFORE_YIELD = 10;
/**
 * Longest poll of an async wait before it parks in the hub (the event loop is held that
 * long). A spin budget longer than this means gaps longer than this poll: the wait parks at
 * once (a poll that ends before the next burst comes is CPU spent for nothing: 35 % of a
 * core for a burst every 2 ms, `npm run bench -- ring.async`).
 */
const ASYNC_HOLD_MS = 1;
/** A tail that has not moved for this long makes the waiter check the claimer ahead. */
const STUCK_MS = 1;

/** Test hook (read once): stop right after the head CAS so a test can SIGKILL us there. */
const HOOK = TEST_HOOK;
const HOOK_PROD = HOOK === 'ring-claim:prod';
const HOOK_PROD_EARLY = HOOK === 'ring-claim:prod-early'; // before the claim record's TO is written
const HOOK_CONS = HOOK === 'ring-claim:cons';
const HOOK_SP_PROD = HOOK === 'ring-sp:prod'; // a single producer between its head and tail stores
// A single consumer between its head and tail stores: of its first burst, or with 'ring-sc:cons:N'
// of its Nth (a test's getter whose first get is not the one it kills).
const HOOK_SC_CONS = HOOK === 'ring-sc:cons' || HOOK.startsWith('ring-sc:cons:');
const HOOK_SC_NTH = HOOK_SC_CONS ? Number(HOOK.slice('ring-sc:cons:'.length) || 1) : 0;
let hookScBursts = 0;

let myStart = -1;
function ownStartTime(): number {
  if (myStart < 0) myStart = processStartTime(process.pid);
  return myStart;
}


/**
 * The length of a record (`dequeueRecords`): how many consecutive handles, from the one
 * given, one enqueue published together (1 for a lone handle). Read from what the handle
 * names (a channel's message header): it may be called with a stale or damaged value, so
 * it must not throw; anything below 1 is taken as 1.
 */
export interface RecordSizer {
  /** The record's length in handles, from its first handle (see RecordSizer). */
  recordLength(first: number): number;
}

/**
 * How many handles from `head` on make whole records that fit `n`: walks the published
 * slots [head, head + entries) record by record. A record longer than `n`, or one not
 * wholly published (only a damaged sizer or ring can say so), is taken as far as it fits
 * when it comes first, so a dequeue always moves something when entries are there.
 */
function recordSpan(slots: Uint32Array, mask: number, head: number, entries: number, n: number, sizer: RecordSizer): number {
  let m = 0;
  while (m < entries) {
    const first = slots[(head + m) & mask]!;
    let k = first === RING_EMPTY ? 1 : sizer.recordLength(first);
    if (!(k >= 1)) k = 1;
    if (m + k > n || m + k > entries) return m > 0 ? m : Math.min(n, entries);
    m += k;
  }
  return m;
}

/**
 * Copy objs[0..n) into the slots from index `idx` (= head & mask) on, wrapping at the last
 * slot. The caller checked that n slots are free.
 */
function enqueueElems(slots: Uint32Array, idx: number, objs: Uint32Array, n: number): void {
  const size = slots.length;
  if (idx + n <= size) {
    let i = 0;
    for (; i + 4 <= n; i += 4) { // four at a time: TurboFan checks the arrays once per iteration, not per access
      slots[idx + i] = objs[i]!;
      slots[idx + i + 1] = objs[i + 1]!;
      slots[idx + i + 2] = objs[i + 2]!;
      slots[idx + i + 3] = objs[i + 3]!;
    }
    for (; i < n; i++) slots[idx + i] = objs[i]!;
  } else {
    const first = size - idx;
    for (let i = 0; i < first; i++) slots[idx + i] = objs[i]!;
    for (let i = first; i < n; i++) slots[i - first] = objs[i]!;
  }
}

/** Copy n slots from index `idx` (= head & mask) on into objs[0..n), wrapping at the last slot. */
function dequeueElems(slots: Uint32Array, idx: number, objs: Uint32Array, n: number): void {
  const size = slots.length;
  if (idx + n <= size) {
    // One at a time, not four as enqueueElems. Measured side by side on a quiet 2-core VM
    // (ring.spsc.burst32 1proc / xproc, M/s): both sides four at a time 430-450 / 150;
    // both one at a time 300 / 180; enqueue four, dequeue one 340-380 / 180-210. Reading the
    // lines the producer's core has just written four at a time costs across processes, and
    // the cross-process figure is the one that counts.
    for (let i = 0; i < n; i++) objs[i] = slots[idx + i]!;
  } else {
    const first = size - idx;
    for (let i = 0; i < first; i++) objs[i] = slots[idx + i]!;
    for (let i = first; i < n; i++) objs[i] = slots[i - first]!;
  }
}

/**
 * A named lock-free FIFO of 32-bit handles in the shared region (DPDK's rte_ring), usable by
 * any process or lcore thread of the instance. One process creates it, any finds it by name.
 * Burst calls move as many handles as they can, bulk calls all or none; each costs one atomic
 * store and at most one futex wake, whatever the count. Waits come blocking (`waitDequeueBurst`)
 * or awaited (`dequeueBurstAsync`, `bursts`), cancellable with an AbortSignal.
 *
 * A producer or consumer killed in the middle of a burst is repaired by `repair()` or
 * `reclaimDead`: its claim is finished or undone, no handle is lost or seen twice.
 *
 * @example
 * ```ts
 * const ring = Ring.create(eal, 'jobs', { count: 1024 });   // another process: Ring.lookup(eal, 'jobs')
 * const burst = new Uint32Array(32);
 * for await (const handles of ring.bursts(burst, { signal })) work(handles);   // a subarray of burst
 * ```
 */
export class Ring extends RingView {
  /** The Eal this ring object was opened with. */
  readonly eal: Eal;

  /** The header, index and claim words of this ring (u32 index = RING byte offset / 4). */
  private readonly h: Uint32Array;
  private readonly slots: Uint32Array;
  private readonly recF64: Float64Array;
  /** u32 index (in h) of this lcore's producer claim record; its consumer record follows. */
  private readonly rec: number;
  private readonly pid: number;

  /** Cached copy of CONS_TAIL (producer side) / PROD_TAIL (consumer side); never ahead. */
  private cConsTail = 0;
  private cProdTail = 0;
  /** HOLES as read with the last prod-tail load: drop EMPTY handles while nonzero. */
  private cHoles = 0;
  private hw = 0;
  /** Head after the last enqueue / dequeue (or the head seen by a refused one): lastFree / lastAvailable. */
  private enqMark = 0;
  private deqMark = 0;
  /** EMPTY slots this object dropped from dequeues. */
  holesSkipped = 0;
  /** Handles reclaimed by repairs this object ran while waiting (handed out by repair()). */
  private pendingReclaimed: number[] = [];
  /**
   * How long an MP/MC claimer waits for a LIVE claimer ahead of it to publish before it
   * gives its own burst up to repair and throws ETIMEDOUT (dead claimers ahead are
   * repaired within milliseconds, whatever this is).
   */
  tailWaitMs = 5000;
  /** How long waitDequeueBurst / waitEnqueueBurst poll before they sleep (learned per object). */
  private readonly waitBudget = new SpinBudget();
  /** intrArm registered this object as a sleeper on the not-empty bell (intrDisarm undoes it). */
  private bellArmed = false;
  /** Sides (1 prod, 2 cons) on which this object abandoned a claim not yet repaired. */
  private abandoned = 0;
  /** Aborts this handle's pending async waits (close); made at the first async wait. */
  private closer: AbortController | undefined;
  /** subs[k] = handles.subarray(0, k) of the last array `bursts` iterated over. */
  private subs: Uint32Array[] = [];
  private subsOf: Uint32Array | undefined;

  /**
   * Handles a repair run while this object waited (a dead consumer's claim ahead of ours)
   * took out of the ring: nobody else knows of them, so the caller must hand them on
   * (repair() returns them). One property load: callers check it after each dequeue.
   */
  get reclaimedPending(): number {
    return this.pendingReclaimed.length;
  }

  private constructor(eal: Eal, mem: RingMemory) {
    super(mem);
    this.eal = eal;
    this.h = mem.h;
    this.slots = mem.slots;
    this.recF64 = mem.f64;
    this.rec = mem.claimLine(eal.lcoreId >= 0 && eal.lcoreId < MAX_LCORE ? eal.lcoreId : 0, false);
    this.pid = process.pid;
    this.cConsTail = Atomics.load(this.h, W_CONS_TAIL);
    this.cProdTail = Atomics.load(this.h, W_PROD_TAIL);
    this.cHoles = this.h[W_HOLES]!;
    this.enqMark = this.h[W_PROD_HEAD]!;
    this.deqMark = this.h[W_CONS_HEAD]!;
    this.hw = this.h[W_HIGH_WATER]!;
  }

  // ---------------------------------------------------------------- life cycle

  /** Bytes needed to embed a ring made with `opts` (validated as by create). */
  static memSize(opts: RingOptions): number {
    const size = checkCount(opts.count, ringFlags(opts));
    return RING.SLOTS + size * 4;
  }

  /**
   * Create ring `name` in its own memzone "RG_<name>", e.g. `Ring.create(eal, 'jobs',
   * { count: 1024 })`; any process of the instance may then `lookup` it. EINVAL for a bad
   * count or name; EEXIST when the name is taken; ENOSPC when the region is full.
   */
  static create(eal: Eal, name: string, opts: RingOptions): Ring {
    checkName(name, 'ring name', RING_NAMESIZE);
    const flags = ringFlags(opts);
    const bytes = Ring.memSize(opts);
    const mz = eal.memzones.reserve(RING_MZ_PREFIX + name, bytes, 64);
    return Ring.layout(eal, mz.offset, name, opts.count, flags, true);
  }

  /**
   * The ring called `name` in this instance, made by any process.
   * @throws MpdkError ENOENT when there is none (create it first, or check the name and the prefix); EINVAL for a bad name.
   */
  static lookup(eal: Eal, name: string): Ring {
    const r = Ring.tryLookup(eal, name);
    if (!r) {
      throw new MpdkError('ENOENT', `no ring named '${name}' in instance '${eal.filePrefix}' (no memzone ${RING_MZ_PREFIX}${name}): create it first (Ring.create) or check the name and --file-prefix`);
    }
    return r;
  }

  /** As `lookup`, but undefined when there is no such ring. */
  static tryLookup(eal: Eal, name: string): Ring | undefined {
    checkName(name, 'ring name', RING_NAMESIZE);
    const mz = eal.memzones.tryLookup(RING_MZ_PREFIX + name);
    if (!mz) return undefined;
    awaitCreated(mz, () => (eal.region.loadAcquire(mz.offset + RING.MAGIC) >>> 0) === RING_MAGIC, `ring '${name}'`);
    return Ring.attach(eal, mz.offset);
  }

  /** Lay out an empty ring at `offset` of the region (memory of at least `memSize(opts)` bytes, 64-aligned). */
  static init(eal: Eal, offset: number, name: string, opts: RingOptions): Ring {
    return Ring.layout(eal, offset, name, opts.count, ringFlags(opts), false);
  }

  private static layout(eal: Eal, offset: number, name: string, count: number, flags: number, ownsMemzone: boolean): Ring {
    checkName(name, 'ring name', RING.NAME_MAX - 1);
    const size = checkCount(count, flags);
    const r = eal.region;
    if (!Number.isInteger(offset) || offset < 0 || (offset & 63) !== 0 || offset + RING.SLOTS + size * 4 > r.size) {
      throw new MpdkError('EINVAL', `cannot lay out ring '${name}' at offset ${offset}: it must be 64-byte aligned with ${RING.SLOTS + size * 4} bytes inside the region`);
    }
    r.u8.fill(0, offset, offset + RING.SLOTS);
    const u32 = r.u32;
    const b = offset >>> 2;
    u32[b + (RING.VERSION >>> 2)] = RING_VERSION;
    u32[b + (RING.FLAGS >>> 2)] = flags;
    u32[b + (RING.SIZE >>> 2)] = size;
    u32[b + (RING.MASK >>> 2)] = size - 1;
    u32[b + (RING.CAPACITY >>> 2)] = flags & RING_F_EXACT_SZ ? count : size - 1;
    u32[b + (RING.MEMZONE >>> 2)] = ownsMemzone ? 1 : 0;
    r.writeString(offset + RING.NAME, RING.NAME_MAX, name);
    r.storeRelease(offset + RING.MAGIC, RING_MAGIC);
    return new Ring(eal, RingMemory.at(r, offset));
  }

  /**
   * Attach to a ring laid out at `offset`: EINVAL when no ring can be there, EPROTO when
   * there is none, of another version, or a damaged one (layout.ts RingMemory.at).
   */
  static attach(eal: Eal, offset: number): Ring {
    return new Ring(eal, RingMemory.at(eal.region, offset));
  }

  /** Free the ring's memzone (rings made by `create` only). Every user must be done with it. */
  free(): void {
    const r = this.eal.region;
    if (r.u32At(this.offset + RING.MEMZONE) !== 1) {
      throw new MpdkError('EINVAL', `ring '${this.name}' is embedded in another object's memory: free that object instead`);
    }
    const mz = this.eal.memzones.tryLookup(RING_MZ_PREFIX + this.name);
    if (!mz || mz.offset !== this.offset) throw new MpdkError('ENOENT', `ring '${this.name}' was already freed`);
    r.storeRelease(this.offset + RING.MAGIC, 0); // attachers fail from here on
    this.eal.memzones.free(RING_MZ_PREFIX + this.name);
  }

  // ---------------------------------------------------------------- enqueue

  /** Enqueue all n handles or none (per the creation flags). Returns n or 0. */
  enqueueBulk(objs: Uint32Array, n: number): number {
    return this.flags & RING_F_SP_ENQ ? this.spEnq(objs, n, true) : this.mpEnq(objs, n, true);
  }

  /** Enqueue as many of the n handles as fit. Returns how many. */
  enqueueBurst(objs: Uint32Array, n: number): number {
    return this.flags & RING_F_SP_ENQ ? this.spEnq(objs, n, false) : this.mpEnq(objs, n, false);
  }

  /** `enqueueBulk` as a multi-producer, whatever the ring's flags. */
  mpEnqueueBulk(objs: Uint32Array, n: number): number { return this.mpEnq(objs, n, true); }
  /** `enqueueBulk` as the ring's single producer (only when no other thread enqueues). */
  spEnqueueBulk(objs: Uint32Array, n: number): number { return this.spEnq(objs, n, true); }
  /** `enqueueBurst` as a multi-producer, whatever the ring's flags. */
  mpEnqueueBurst(objs: Uint32Array, n: number): number { return this.mpEnq(objs, n, false); }
  /** `enqueueBurst` as the ring's single producer (only when no other thread enqueues). */
  spEnqueueBurst(objs: Uint32Array, n: number): number { return this.spEnq(objs, n, false); }

  /** Enqueue one handle; false when full. Allocates nothing. EINVAL for RING_EMPTY. */
  enqueue(obj: number): boolean {
    if (obj >>> 0 === RING_EMPTY) throw new MpdkError('EINVAL', `handle 0xffffffff is reserved (RING_EMPTY) and cannot be enqueued on ring '${this.name}'`);
    one[0] = obj;
    return this.enqueueBulk(one, 1) === 1;
  }

  /** Single producer: see the file header (MCRingBuffer). */
  private spEnq(objs: Uint32Array, n: number, bulk: boolean): number {
    const h = this.h;
    const cap = this.capacity;
    const head = h[W_PROD_HEAD]!; // plain: this producer is the only writer
    let free = (cap + this.cConsTail - head) >>> 0;
    if (free < n || free > cap) {
      const ct = Atomics.load(h, W_CONS_TAIL); // A2
      this.cConsTail = ct;
      free = (cap + ct - head) >>> 0;
      if (cap - free > this.hw) this.noteHigh(cap - free);
    }
    if (n > free) {
      if (bulk || free === 0) {
        this.enqMark = head;
        return 0;
      }
      n = free;
    }
    enqueueElems(this.slots, head & this.mask, objs, n);
    const next = (head + n) >>> 0;
    h[W_PROD_HEAD] = next;
    if (HOOK_SP_PROD) hookStop('ring-sp:prod');
    if (PLAIN_TAILS) h[W_PROD_TAIL] = next; // R1
    else Atomics.store(h, W_PROD_TAIL, next);
    this.enqMark = next;
    if (h[W_NE_WAITERS] !== 0) ringBell(this.mem, RING.NE_BELL); // D1
    return n;
  }

  /** Multi producer: DPDK's CAS on the head, with a claim record (file header). */
  private mpEnq(objs: Uint32Array, n: number, bulk: boolean): number {
    const h = this.h;
    const cap = this.capacity;
    const rec = this.rec; // + CLAIM_PROD (0)
    if ((this.abandoned & 1) !== 0) this.settleAbandoned(false);
    let head = h[W_PROD_HEAD]!; // plain: validated by the CAS
    let m = n;
    let next = 0;
    for (;;) {
      let free = (cap + this.cConsTail - head) >>> 0;
      if (free < n || free > cap) {
        const ct = Atomics.load(h, W_CONS_TAIL); // A2
        this.cConsTail = ct;
        free = (cap + ct - head) >>> 0;
        if (free > cap) { // our head read is older than the cons tail: re-read
          head = Atomics.load(h, W_PROD_HEAD);
          continue;
        }
        if (cap - free > this.hw) this.noteHigh(cap - free);
      }
      m = n;
      if (m > free) {
        if (bulk || free === 0) {
          h[rec + W_C_STATE] = IDLE; // a failed CAS may have left CLAIMING
          this.enqMark = head;
          return 0;
        }
        m = free;
      }
      next = (head + m) >>> 0;
      h[rec + W_C_FROM] = head;
      h[rec + W_C_PID] = this.pid;
      this.recF64[(rec >>> 1) + D_C_START] = ownStartTime();
      h[rec + W_C_STATE] = CLAIMING;
      const seen = Atomics.compareExchange(h, W_PROD_HEAD, head, next);
      if (seen === head) break;
      head = seen;
    }
    if (HOOK_PROD_EARLY) hookStop('ring-claim');
    h[rec + W_C_TO] = next;
    h[rec + W_C_STATE] = CLAIMED;
    if (HOOK_PROD) hookStop('ring-claim');
    enqueueElems(this.slots, head & this.mask, objs, m);
    h[rec + W_C_STATE] = WRITTEN;
    // A plain load suffices to see that the earlier claimers are done: their slot writes
    // precede their tail store (TSO), and x86 stores are seen in the same order by all cores.
    if (h[W_PROD_TAIL] !== head) this.waitTail(W_PROD_TAIL, head, false);
    if (PLAIN_TAILS) h[W_PROD_TAIL] = next; // R1
    else Atomics.store(h, W_PROD_TAIL, next);
    h[rec + W_C_STATE] = IDLE;
    this.enqMark = next;
    if (h[W_NE_WAITERS] !== 0) ringBell(this.mem, RING.NE_BELL); // D1
    return m;
  }

  // ---------------------------------------------------------------- dequeue

  /** Dequeue n handles or none (per the creation flags). Returns n or 0 — or fewer than n
   *  when EMPTY slots left by a dead producer were dropped (see `holesSkipped`). */
  dequeueBulk(objs: Uint32Array, n: number): number {
    return this.flags & RING_F_SC_DEQ ? this.scDeq(objs, n, true, null) : this.mcDeq(objs, n, true, null);
  }

  /** Dequeue up to n handles. Returns how many were written to objs. */
  dequeueBurst(objs: Uint32Array, n: number): number {
    return this.flags & RING_F_SC_DEQ ? this.scDeq(objs, n, false, null) : this.mcDeq(objs, n, false, null);
  }

  /** `dequeueBulk` as a multi-consumer, whatever the ring's flags. */
  mcDequeueBulk(objs: Uint32Array, n: number): number { return this.mcDeq(objs, n, true, null); }
  /** `dequeueBulk` as the ring's single consumer (only when no other thread dequeues). */
  scDequeueBulk(objs: Uint32Array, n: number): number { return this.scDeq(objs, n, true, null); }
  /** `dequeueBurst` as a multi-consumer, whatever the ring's flags. */
  mcDequeueBurst(objs: Uint32Array, n: number): number { return this.mcDeq(objs, n, false, null); }
  /** `dequeueBurst` as the ring's single consumer (only when no other thread dequeues). */
  scDequeueBurst(objs: Uint32Array, n: number): number { return this.scDeq(objs, n, false, null); }

  /**
   * Dequeue a burst of whole RECORDS: runs of handles that one enqueue published together
   * (a bulk enqueue of a message's buffers), the length of each told by
   * `sizer.recordLength(first handle)`. Takes as many whole records as fit n handles, so
   * several consumers never split one between them (the head moves by whole records, one
   * CAS per burst). Returns how many handles were written to objs (EMPTY holes of a dead
   * producer count as records of one and are dropped, as by dequeueBurst).
   */
  dequeueRecords(objs: Uint32Array, n: number, sizer: RecordSizer): number {
    return this.flags & RING_F_SC_DEQ ? this.scDeq(objs, n, false, sizer) : this.mcDeq(objs, n, false, sizer);
  }

  /** Dequeue one handle; -1 when empty. */
  dequeue(): number {
    for (;;) {
      const r = this.dequeueBulk(one, 1);
      if (r === 1) return one[0]!;
      // A dropped hole consumed the slot: try the next one.
      if (this.count() === 0) return -1;
    }
  }

  /**
   * Single consumer: see the file header. `sizer` (dequeueRecords): the count is that of
   * the whole records that fit n (recordSpan), not n.
   */
  private scDeq(objs: Uint32Array, n: number, bulk: boolean, sizer: RecordSizer | null): number {
    const h = this.h;
    const cap = this.capacity;
    const head = h[W_CONS_HEAD]!; // plain: this consumer is the only writer
    let entries = (this.cProdTail - head) >>> 0;
    if (entries < n || entries > cap) {
      const pt = Atomics.load(h, W_PROD_TAIL); // A1
      this.cProdTail = pt;
      this.cHoles = h[W_HOLES]!; // after A1: covers every hole below pt
      entries = (pt - head) >>> 0;
      if (entries > this.hw) this.noteHigh(entries);
    }
    if (sizer !== null) n = recordSpan(this.slots, this.mask, head, entries, n, sizer);
    if (n > entries || n === 0) {
      if (bulk || entries === 0 || n === 0) {
        this.deqMark = head;
        return 0;
      }
      n = entries;
    }
    dequeueElems(this.slots, head & this.mask, objs, n);
    const next = (head + n) >>> 0;
    h[W_CONS_HEAD] = next;
    if (HOOK_SC_CONS && ++hookScBursts >= HOOK_SC_NTH) hookStop(HOOK);
    if (PLAIN_TAILS) h[W_CONS_TAIL] = next; // R2
    else Atomics.store(h, W_CONS_TAIL, next);
    this.deqMark = next;
    if (h[W_NF_WAITERS] !== 0) ringBell(this.mem, RING.NF_BELL); // D1 (not full)
    return this.cHoles === 0 ? n : this.dropHoles(objs, n);
  }

  /**
   * Multi consumer: DPDK's CAS on the head, with a claim record (file header). `sizer`
   * (dequeueRecords): the count is that of the whole records at the head we try that fit n
   * (recordSpan). Reading those slots before the CAS is safe: [head, prod tail) is
   * published, and if another consumer moved the head meanwhile (producers may then have
   * rewritten them) the CAS fails and the walk is redone at the new head.
   */
  private mcDeq(objs: Uint32Array, n: number, bulk: boolean, sizer: RecordSizer | null): number {
    const h = this.h;
    const cap = this.capacity;
    const rec = this.rec + W_CLAIM_CONS;
    if ((this.abandoned & 2) !== 0) this.settleAbandoned(true);
    let head = h[W_CONS_HEAD]!; // plain: validated by the CAS
    let m = n;
    let next = 0;
    for (;;) {
      let entries = (this.cProdTail - head) >>> 0;
      if (entries < n || entries > cap) {
        const pt = Atomics.load(h, W_PROD_TAIL); // A1
        this.cProdTail = pt;
        this.cHoles = h[W_HOLES]!;
        entries = (pt - head) >>> 0;
        if (entries > cap) { // our head read is older than the prod tail we saw: re-read
          head = Atomics.load(h, W_CONS_HEAD);
          continue;
        }
        if (entries > this.hw) this.noteHigh(entries);
      }
      m = sizer === null ? n : recordSpan(this.slots, this.mask, head, entries, n, sizer);
      if (m > entries || m === 0) {
        if (bulk || entries === 0 || m === 0) {
          h[rec + W_C_STATE] = IDLE; // a failed CAS may have left CLAIMING
          this.deqMark = head;
          return 0;
        }
        m = entries;
      }
      next = (head + m) >>> 0;
      h[rec + W_C_FROM] = head;
      h[rec + W_C_PID] = this.pid;
      this.recF64[(rec >>> 1) + D_C_START] = ownStartTime();
      h[rec + W_C_STATE] = CLAIMING;
      const seen = Atomics.compareExchange(h, W_CONS_HEAD, head, next);
      if (seen === head) break;
      head = seen;
    }
    h[rec + W_C_TO] = next;
    h[rec + W_C_STATE] = CLAIMED;
    if (HOOK_CONS) hookStop('ring-claim');
    dequeueElems(this.slots, head & this.mask, objs, m);
    // A plain load suffices to see that the earlier claimers are done: their slot writes
    // precede their tail store (TSO), and x86 stores are seen in the same order by all cores.
    if (h[W_CONS_TAIL] !== head) this.waitTail(W_CONS_TAIL, head, true);
    if (PLAIN_TAILS) h[W_CONS_TAIL] = next; // R2
    else Atomics.store(h, W_CONS_TAIL, next);
    h[rec + W_C_STATE] = IDLE;
    this.deqMark = next;
    if (h[W_NF_WAITERS] !== 0) ringBell(this.mem, RING.NF_BELL);
    return this.cHoles === 0 ? m : this.dropHoles(objs, m);
  }

  /** Remove EMPTY handles (a dead producer's unfinished slots) from objs[0..n). */
  private dropHoles(objs: Uint32Array, n: number): number {
    let j = 0;
    for (let i = 0; i < n; i++) {
      const v = objs[i]!;
      if (v !== RING_EMPTY) objs[j++] = v;
    }
    this.holesSkipped += n - j;
    return j;
  }

  // ---------------------------------------------------------------- tail waits (MP / MC)

  /** Wait for tail word `ti` to reach `expect` (an earlier claimer publishing). */
  private waitTail(ti: number, expect: number, cons: boolean): void {
    const h = this.h;
    let spins = 0;
    let since = 0;
    let first = 0;
    while (Atomics.load(h, ti) !== expect) {
      if (++spins < SPIN_BEFORE_YIELD) continue;
      schedYield();
      if ((spins & 7) !== 0) continue;
      const now = performance.now();
      if (since === 0) since = first = now;
      else if (now - since >= STUCK_MS) {
        this.repairSide(cons, null);
        since = performance.now();
        if (since - first >= this.tailWaitMs && Atomics.load(h, ti) !== expect) this.abandon(cons, expect);
      }
    }
  }

  /** waitTail's bound expired behind a live claimer: leave our claim to repair and throw. */
  private abandon(cons: boolean, from: number): never {
    const h = this.h;
    const rec = this.rec + ((cons ? RING.CLAIM_CONS : RING.CLAIM_PROD) >>> 2);
    const n = (h[rec + W_C_TO]! - from) >>> 0;
    const tail = Atomics.load(h, (cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2);
    const ahead = claimAtTail(this.mem, cons, this.pid);
    h[rec + W_C_STATE] = ABANDONED;
    this.abandoned |= cons ? 2 : 1;
    // The claim ahead may have been published meanwhile: repair now publishes ours if so.
    this.repairSide(cons, null);
    const who = ahead ? `pid ${ahead.pid} (${processState(ahead.pid)})` : 'a claimer that has gone';
    const fate = cons ? 'released to the ring\'s repair: its handles are reclaimed, not returned here' : 'left written: it is published when the tail reaches it';
    throw new MpdkError('ETIMEDOUT', `ring '${this.name}': waited ${this.tailWaitMs} ms for the ${cons ? 'consumer' : 'producer'} claim [${tail}, ${from}) of ${who}; this burst of ${n} was ${fate}`);
  }

  /** Before a claim on a side this object abandoned a burst on: has repair taken it? */
  private settleAbandoned(cons: boolean): void {
    const rec = this.rec + ((cons ? RING.CLAIM_CONS : RING.CLAIM_PROD) >>> 2);
    if (this.h[rec + W_C_STATE] === ABANDONED) this.repairSide(cons, null);
    if (this.h[rec + W_C_STATE] === ABANDONED) {
      const ahead = claimAtTail(this.mem, cons, this.pid);
      throw new MpdkError('EBUSY', `ring '${this.name}': an earlier ${cons ? 'dequeue' : 'enqueue'} of this process is still behind the claim of ${ahead ? `pid ${ahead.pid} (${processState(ahead.pid)})` : 'another process'}; try again later`);
    }
    this.abandoned &= cons ? ~2 : ~1;
  }

  // ---------------------------------------------------------------- waiting for the other side

  /**
   * Wait (spin briefly, then sched_yield, then sleep on the not-empty doorbell) until
   * handles can be dequeued, then dequeue a burst of up to n. Returns 0 after timeoutMs.
   */
  waitDequeueBurst(objs: Uint32Array, n: number, timeoutMs: number): number {
    const r = this.dequeueBurst(objs, n);
    if (r !== 0 || timeoutMs <= 0) return r;
    return waitForBurst(this.mem, this, objs, n, timeoutMs, false, this.waitBudget);
  }

  /** Wait until there is room, then enqueue a burst of up to n. Returns 0 after timeoutMs. */
  waitEnqueueBurst(objs: Uint32Array, n: number, timeoutMs: number): number {
    const r = this.enqueueBurst(objs, n);
    if (r !== 0 || timeoutMs <= 0) return r;
    return waitForBurst(this.mem, this, objs, n, timeoutMs, true, this.waitBudget);
  }

  /**
   * The consumer's side of IdlePolicy (a Ring is a WakeSource, eal/idle.ts): arm the
   * not-empty doorbell, so that a loop sleeping on this ring and other queues wakes at the
   * next enqueue. INTR_PENDING when entries are already there, else INTR_BELL.
   */
  intrArm(bells?: FutexSet): number {
    if (bells === undefined) return INTR_NONE;
    this.bellArmed = true;
    return armNotEmpty(this.mem, bells);
  }

  /** Undo intrArm (after the sleep, or after INTR_PENDING). */
  intrDisarm(): void {
    if (!this.bellArmed) return;
    this.bellArmed = false;
    disarmNotEmpty(this.mem);
  }

  // ---------------------------------------------------------------- waiting without blocking (async)

  /**
   * Dequeue a burst of up to n handles into objs[0..), waiting without blocking the thread
   * when the ring is empty: the event loop runs, and no CPU is used until a producer
   * enqueues (doorbell-async.ts). Resolves with how many came (≥ 1), or 0 when
   * `opts.timeout` ms passed first; rejects with `opts.signal`'s reason when it aborts,
   * or an AbortError when this handle is closed.
   */
  dequeueBurstAsync(objs: Uint32Array, n: number, opts?: WaitOptions): Promise<number> {
    return this.retryAsync(DEQ_BURST, objs, n, opts);
  }

  /**
   * Enqueue as many of objs[0..n) as fit, waiting (as dequeueBurstAsync) while the ring is
   * full: back-pressure for a producer. Resolves with how many went (≥ 1), or 0 at the timeout.
   */
  enqueueBurstAsync(objs: Uint32Array, n: number, opts?: WaitOptions): Promise<number> {
    return this.retryAsync(ENQ_BURST, objs, n, opts);
  }

  /**
   * Enqueue all of objs[0..n) at once, waiting until there is room for all of them:
   * resolves n, or 0 at the timeout (nothing enqueued). EINVAL when n exceeds the capacity.
   */
  enqueueBulkAsync(objs: Uint32Array, n: number, opts?: WaitOptions): Promise<number> {
    if (n > this.capacity) return Promise.reject(new MpdkError('EINVAL', `ring '${this.name}' holds at most ${this.capacity}: a bulk of ${n} never fits`));
    return this.retryAsync(ENQ_BULK, objs, n, opts);
  }

  /**
   * The ring's bursts as they come, for `for await (const burst of ring.bursts(handles))`:
   * each burst is `handles.subarray(0, k)` (k ≥ 1; made once per k, so iterating allocates
   * no view), valid until the next step. Ends when `opts.timeout` ms pass without a burst;
   * throws the abort reason when `opts.signal` aborts or this handle is closed;
   * `await using it = ring.bursts(h)` ends a pending wait at the end of the scope.
   */
  bursts(handles: Uint32Array, opts?: WaitOptions): Waiter<Uint32Array> {
    if (this.subsOf !== handles) {
      this.subsOf = handles;
      this.subs = [];
    }
    const subs = this.subs;
    return waiter(opts, async function* (this: Ring, o: WaitOptions): AsyncGenerator<Uint32Array, void, undefined> {
      for (;;) {
        const k = await this.retryAsync(DEQ_BURST, handles, handles.length, o);
        if (k === 0) return;
        yield (subs[k] ??= handles.subarray(0, k));
      }
    }.bind(this));
  }

  /**
   * Wait until the ring holds entries, without taking any: resolves true, or false when
   * `opts.timeout` ms passed first (rejections as dequeueBurstAsync). For a consumer whose
   * dequeue is someone else's call (a port's RX queue backed by this ring).
   */
  async whenNotEmpty(opts?: WaitOptions): Promise<boolean> {
    return (await this.retryAsync(WHEN_ENTRIES, one, 0, opts)) !== 0;
  }

  /** Wait until there is room for n handles, without enqueuing: resolves true, or false at the timeout. */
  async whenRoom(n: number, opts?: WaitOptions): Promise<boolean> {
    if (n > this.capacity) throw new MpdkError('EINVAL', `ring '${this.name}' holds at most ${this.capacity}: room for ${n} never comes`);
    return (await this.retryAsync(WHEN_ROOM, one, n, opts)) !== 0;
  }

  /**
   * One try now; then polls for this object's spin budget when it is at most ASYNC_HOLD_MS
   * (the event loop waits that long: a reply, or the next of a stream that comes every few
   * hundred µs, is taken at once instead of after two thread wake-ups, the hub's and the
   * event loop's), not at all when it is longer; then a wait in this thread's hub (the
   * first try allocates only the promise).
   */
  private async retryAsync(op: number, objs: Uint32Array, n: number, opts: WaitOptions | undefined): Promise<number> {
    const deadline = deadlineOf(opts);
    let r = attempt(this, op, objs, n);
    if (r !== 0) return r;
    const t0 = performance.now();
    const budget = this.waitBudget.holdMs;
    const hold = budget > ASYNC_HOLD_MS ? 0 : Math.min(budget, deadline - t0);
    for (let i = 0; performance.now() - t0 < hold; i++) {
      if ((i & 15) === 15) schedYield();
      r = attempt(this, op, objs, n);
      if (r !== 0) {
        this.waitBudget.gap(performance.now() - t0);
        return r;
      }
    }
    this.closer ??= new AbortController();
    const mine = this.closer.signal;
    const signal = opts?.signal ? AbortSignal.any([opts.signal, mine]) : mine;
    signal.throwIfAborted();
    r = await waitBurstAsync(this.mem, this, op, objs, n, deadline, signal);
    this.waitBudget.gap(r !== 0 ? performance.now() - t0 : Infinity);
    return r;
  }

  /**
   * This handle is done: its pending async waits (and `bursts` iterations) end with an
   * AbortError; later ones start afresh. The ring itself stays (`free()` removes it).
   */
  close(): void {
    const c = this.closer;
    this.closer = undefined;
    c?.abort(new DOMException(`ring '${this.name}': the handle was closed`, 'AbortError'));
  }

  /** `close()`: `using ring = Ring.lookup(eal, name)` ends its pending waits at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ---------------------------------------------------------------- state

  /** After each enqueue: free space left (DPDK's free_space). Read lazily: the cons tail
   *  is loaded now, so a single thread sees exactly DPDK's value; concurrently, a value at
   *  least as fresh. */
  get lastFree(): number {
    const f = this.capacity - ((this.enqMark - Atomics.load(this.h, W_CONS_TAIL)) >>> 0);
    return f < 0 ? 0 : f > this.capacity ? this.capacity : f;
  }

  /** After each dequeue: entries left (DPDK's available); read lazily as lastFree. */
  get lastAvailable(): number {
    const e = (Atomics.load(this.h, W_PROD_TAIL) - this.deqMark) >>> 0;
    return e > this.capacity ? 0 : e;
  }

  private noteHigh(e: number): void {
    const i = W_HIGH_WATER;
    for (;;) {
      const cur = Atomics.load(this.h, i);
      if (cur >= e) {
        this.hw = cur;
        return;
      }
      if (Atomics.compareExchange(this.h, i, cur, e) === cur) {
        this.hw = e;
        return;
      }
    }
  }

  // ---------------------------------------------------------------- repair

  /**
   * Finish or undo the claims of dead producers and consumers that hold the tails back
   * (claims.ts). Safe to call at any time from any process: live claimers are never
   * touched. Single-producer / single-consumer sides are not repaired here (they keep no
   * claim records; see rollBackSingle).
   */
  repair(): RepairReport {
    const report = emptyRepairReport();
    if (!(this.flags & RING_F_SP_ENQ)) this.repairSide(false, report);
    if (!(this.flags & RING_F_SC_DEQ)) this.repairSide(true, report);
    if (this.pendingReclaimed.length > 0) {
      report.reclaimed.push(...this.pendingReclaimed);
      this.pendingReclaimed = [];
    }
    return report;
  }

  /**
   * A dead single producer (cons false) or single consumer (cons true) killed between its
   * head and tail stores never published its burst: put the head back to the tail.
   * Returns whether there was such a burst. Call it only once the side's owner is known
   * dead (ownership/reclaim.ts does); false on an MP / MC side (`repair` covers those).
   */
  rollBackSingle(cons: boolean): boolean {
    return rollBackSingle(this.mem, cons);
  }

  /** repair() of one side; a waiter (report null) collects released handles for later. */
  private repairSide(cons: boolean, report: RepairReport | null): void {
    repairSide(this.mem, cons, report ? report.reclaimed : this.pendingReclaimed, report, (msg) => this.eal.log('warning', msg));
  }
}

/** Scratch for the single-handle calls (per thread: module state is per isolate). */
const one = new Uint32Array(1);
