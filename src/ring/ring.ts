/**
 * Ring: a fixed-size lock-free FIFO of 32-bit handles in the shared region (DPDK's rte_ring),
 * usable by any process or lcore thread of an instance.
 *
 *   who calls what
 *   producer  enqueue / enqueueBulk / enqueueBurst (+ sp / mp variants), waitEnqueueBurst
 *   consumer  dequeue / dequeueBulk / dequeueBurst (+ sc / mc variants), waitDequeueBurst
 *   anyone    count, freeCount, full, empty, highWater, dump, describe
 *   repairer  repair(): finishes or undoes the claims of dead producers / consumers
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
 *   the only writer). Slots are plain stores/loads; ONE Atomics.store (release) publishes
 *   the burst.
 * - MP / MC (DPDK's): CAS the head forward (Atomics.compareExchange), copy the slots, wait
 *   until the tail equals our old head, store the tail. The wait spins SPIN_BEFORE_YIELD
 *   times, then sched_yields (processes outnumber cores here: a preempted claimer ahead of
 *   us must get the CPU), and every STUCK_MS checks the claimer ahead and repairs it if it
 *   is dead. A live claimer ahead (slow, or stopped) is waited for up to `tailWaitMs`;
 *   then the waiter marks its own claim ABANDONED, which repair treats as a dead one's
 *   (a producer's written burst is published when the tail reaches it; a consumer's range
 *   is released and its handles reclaimed), and throws ETIMEDOUT naming the pid waited
 *   for and its state. Until that claim is repaired, this object refuses the side (EBUSY).
 *
 * ## Orderings (x86-64 TSO; V8 Atomics are sequentially consistent builtin calls)
 *   R1 producer: plain slot stores, then Atomics.store(PROD_TAIL)   pairs with A1
 *   A1 consumer: Atomics.load(PROD_TAIL), then plain slot loads
 *   R2 consumer: plain slot loads, then Atomics.store(CONS_TAIL)    pairs with A2
 *   A2 producer: Atomics.load(CONS_TAIL), then plain slot stores (no overwrite of unread slots)
 *   D1 after R1 the producer reads NE_WAITERS with a plain load: Atomics.store is an xchg
 *      on x64 (a full barrier), so the load cannot pass the tail store. The consumer adds
 *      itself to NE_WAITERS (Atomics.add), reads the bell, re-checks the ring, then
 *      futex-waits on the bell: Dekker — either the producer sees the waiter and rings, or
 *      the consumer's re-check sees the entries. Symmetric for NF_* (not full).
 *
 * ## Crash safety: claim records (MP / MC only; cost: a few plain stores per burst)
 * One 64-byte line per lcore id (MAX_LCORE lines) holds that lcore's producer claim and
 * consumer claim {FROM, TO, STATE, PID, START}. Claim protocol, per burst:
 *   1 record FROM = head we try, PID, START, STATE = CLAIMING      (before the CAS)
 *   2 CAS head: FROM -> FROM + n (fails: back to 1 with the new head)
 *   3 TO = FROM + n, STATE = CLAIMED
 *   4 (producer) copy slots, STATE = WRITTEN
 *   5 wait tail == FROM, store tail = TO, STATE = IDLE
 * A claimer killed at any point leaves the tail at its FROM (or beyond, if it published).
 * `repair` (under the ring's robust REPAIR_LOCK) looks at the claim starting at the tail
 * when the tail is behind the head:
 *   - any record with FROM == tail whose owner (PID, START) lives → wait, do nothing;
 *   - a dead CLAIMED / WRITTEN record gives the range [tail, TO); a dead CLAIMING one (or
 *     none: the lcore's line was reused) gives [tail, next recorded FROM or head): every
 *     head value ever held is a claim boundary;
 *   - producer side: WRITTEN → publish as is; otherwise fill the range with EMPTY
 *     (0xFFFFFFFF), add its length to HOLES, publish. Consumers drop EMPTY handles from
 *     what they return, checking per handle only while HOLES != 0 (HOLES sits on the prod
 *     line, read right after the acquire load of the prod tail), and count them;
 *   - consumer side: the range's handles are intact (producers cannot pass the cons
 *     tail): they are returned as `reclaimed` and the cons tail is published.
 *
 * ## Layout (RING: byte offsets from the ring's start; written lines 128 bytes apart)
 *   0    header line   MAGIC VERSION FLAGS SIZE MASK CAPACITY MEMZONE NAME[32]   init, once
 *   128  prod line     PROD_HEAD PROD_TAIL HOLES                                 producers (+ repairer)
 *   256  cons line     CONS_HEAD CONS_TAIL                                       consumers (+ repairer)
 *   384  doorbell      NE_WAITERS NE_BELL NF_WAITERS NF_BELL                      waiters / the other side
 *   512  stats line    HIGH_WATER RECLAIMED_TOTAL REPAIRS                        any side, rarely
 *   640  repair lock   robust lock (pid of holder)                               repairers
 *   768  claim lines   MAX_LCORE × 64: PROD_{FROM,TO,STATE,PID,START} CONS_{...}   claimers
 *   768 + 8192  slots  u32 × size
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { RobustLock } from '../eal/lock.js';
import { awaitCreated, checkName } from '../eal/memzone.js';
import { registerDescriber, type ObjectDescription } from '../eal/describe.js';
import { MAX_LCORE } from '../eal/options.js';
import { futexWait, futexWake, processAlive, processStartTime, processState, schedYield } from '../native/libc.js';

export const RING_F_SP_ENQ = 1;
export const RING_F_SC_DEQ = 2;
export const RING_F_EXACT_SZ = 4;
const ALL_FLAGS = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ;

/** The reserved handle: a slot a dead producer never filled. Never enqueue it. */
export const RING_EMPTY = 0xffffffff;
export const RING_MAGIC = 0x474e4952; // 'RING' little-endian
export const RING_VERSION = 1;
/** Longest ring name: "RG_" + name must fit a memzone name (31 bytes). */
export const RING_NAMESIZE = 27;
export const RING_MZ_PREFIX = 'RG_';
/** Largest count: 2^28 slots (1 GiB); indexes stay far from 2^31. */
export const RING_MAX_COUNT = 1 << 28;

/** Byte offsets from the ring's start. The only place these numbers appear. */
export const RING = {
  // header line: written once by init, before MAGIC (stored last, release)
  MAGIC: 0, VERSION: 4, FLAGS: 8, SIZE: 12, MASK: 16, CAPACITY: 20,
  MEMZONE: 24, // u32 1 when the ring owns its memzone (create), 0 when embedded
  NAME: 32, NAME_MAX: 32,
  // Written lines sit 128 bytes apart (DPDK's cache guard): the adjacent-line prefetcher
  // pulls 128-byte pairs, which would otherwise drag the other side's line along.
  // prod line
  PROD_HEAD: 128, PROD_TAIL: 132,
  HOLES: 136, // u32 slots ever filled with EMPTY by repair (written before the tail that covers them)
  // cons line
  CONS_HEAD: 256, CONS_TAIL: 260,
  // doorbell line: *_WAITERS counted by sleepers (Atomics.add), *_BELL bumped by the other side
  NE_WAITERS: 384, NE_BELL: 388, NF_WAITERS: 392, NF_BELL: 396,
  // stats line
  HIGH_WATER: 512, RECLAIMED_TOTAL: 516, REPAIRS: 520,
  REPAIR_LOCK: 640,
  // claim records: one line per lcore; CLAIM_* are offsets within a line
  CLAIMS: 768, CLAIM_BYTES: 64,
  CLAIM_PROD: 0, CLAIM_CONS: 32,
  C_FROM: 0, C_TO: 4, C_STATE: 8, C_PID: 12, C_START: 16, // C_START: f64
  // Written by repair only, before it sets the dead claim's STATE to IDLE: the FROM of the
  // last claim of this line it finished, and how (REPAIRED_*). An ownership record
  // (ownership/hands.ts) reads them to tell a burst that went through from one that was
  // undone, whoever repaired it. Cost on the hot path: none.
  C_REP_FROM: 24, C_REP_HOW: 28,
  SLOTS: 768 + MAX_LCORE * 64,
} as const;

/** How repair finished a dead claim (C_REP_HOW). */
export const REPAIRED_PUBLISHED = 1; // producer claim: slots were written, published as is
export const REPAIRED_FILLED = 2; // producer claim: filled with EMPTY, its handles never entered the ring
export const REPAIRED_RELEASED = 3; // consumer claim: its handles went to the repairer (`reclaimed`)

/** Claim record states (C_STATE). */
/** ABANDONED: a live claimer gave up waiting for the claim ahead (waitTail's bound); repair
 *  treats the record as a dead one's (producer: its slots are written, published as is). */
export const CLAIM_STATE = { IDLE: 0, CLAIMING: 1, CLAIMED: 2, WRITTEN: 3, ABANDONED: 4 } as const;
const IDLE = CLAIM_STATE.IDLE;
const CLAIMING = CLAIM_STATE.CLAIMING;
const CLAIMED = CLAIM_STATE.CLAIMED;
const WRITTEN = CLAIM_STATE.WRITTEN;
const ABANDONED = CLAIM_STATE.ABANDONED;

const SPIN_BEFORE_YIELD = 10;
/** A tail that has not moved for this long makes the waiter check the claimer ahead. */
const STUCK_MS = 1;
/** Polls before a waiting consumer / producer starts yielding, then yields before sleeping. */
const WAIT_SPINS = 200;
const WAIT_YIELDS = 20;

/** Test hook (read once): stop right after the head CAS so a test can SIGKILL us there. */
const HOOK = process.env.MPDK_TEST_HOOK ?? '';
const HOOK_PROD = HOOK === 'ring-claim:prod';
const HOOK_PROD_EARLY = HOOK === 'ring-claim:prod-early'; // before the claim record's TO is written
const HOOK_CONS = HOOK === 'ring-claim:cons';

let myStart = -1;
function ownStartTime(): number {
  if (myStart < 0) myStart = processStartTime(process.pid);
  return myStart;
}

function hookStop(): void {
  process.stderr.write('MPDK_TEST_HOOK ring-claim reached\n');
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(sab, 0, 0, 1000);
}

export interface RepairReport {
  /** Dead producer claims published (slots completely written). */
  published: number;
  /** Dead producer claims filled with EMPTY and published. */
  filled: number;
  /** Slots filled with EMPTY by this repair. */
  holes: number;
  /** Dead consumer claims released. */
  released: number;
  /** Handles of released consumer claims (and of earlier repairs done by waiters in this
   *  object), for the caller to free back to their pool. */
  reclaimed: number[];
  /** Pid of a live claimer the tail is waiting for, per side (0 = none). */
  waitingForProd: number;
  waitingForCons: number;
}

function checkCount(count: number, flags: number): number {
  if (!Number.isInteger(flags) || (flags & ~ALL_FLAGS) !== 0) {
    throw new MpdkError('EINVAL', `invalid ring flags ${flags}: use RING_F_SP_ENQ (1), RING_F_SC_DEQ (2), RING_F_EXACT_SZ (4) or'ed together`);
  }
  if (flags & RING_F_EXACT_SZ) {
    if (!Number.isInteger(count) || count < 1 || count >= RING_MAX_COUNT) {
      throw new MpdkError('EINVAL', `invalid ring count ${count} with RING_F_EXACT_SZ: it must be a whole number from 1 to ${RING_MAX_COUNT - 1}`);
    }
    let size = 2;
    while (size <= count) size *= 2;
    return size;
  }
  if (!Number.isInteger(count) || count < 2 || count > RING_MAX_COUNT || (count & (count - 1)) !== 0) {
    throw new MpdkError('EINVAL', `invalid ring count ${count}: it must be a power of two from 2 to ${RING_MAX_COUNT} (it holds count-1 entries), or pass RING_F_EXACT_SZ for any count`);
  }
  return count;
}

export class Ring {
  readonly eal: Eal;
  readonly name: string;
  /** Slots (a power of two). */
  readonly size: number;
  /** Entries it can hold: size-1, or the exact count with RING_F_EXACT_SZ. */
  readonly capacity: number;
  readonly flags: number;
  /** Byte offset of the ring in the region. */
  readonly offset: number;
  readonly mask: number;

  /** The header, index and claim words of this ring (u32 index = RING byte offset / 4). */
  private readonly h: Uint32Array;
  private readonly slots: Uint32Array;
  private readonly recF64: Float64Array;
  /** u32 index of this lcore's claim line. */
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
  /** Sides (1 prod, 2 cons) on which this object abandoned a claim not yet repaired. */
  private abandoned = 0;

  /**
   * Handles a repair run while this object waited (a dead consumer's claim ahead of ours)
   * took out of the ring: nobody else knows of them, so the caller must hand them on
   * (repair() returns them). One property load: callers check it after each dequeue.
   */
  get reclaimedPending(): number {
    return this.pendingReclaimed.length;
  }

  private constructor(eal: Eal, offset: number) {
    const r = eal.region;
    this.eal = eal;
    this.offset = offset;
    const u32 = r.u32;
    const b = offset >>> 2;
    this.name = r.readString(offset + RING.NAME, RING.NAME_MAX);
    this.flags = u32[b + (RING.FLAGS >>> 2)]!;
    this.size = u32[b + (RING.SIZE >>> 2)]!;
    this.mask = u32[b + (RING.MASK >>> 2)]!;
    this.capacity = u32[b + (RING.CAPACITY >>> 2)]!;
    this.h = new Uint32Array(r.buffer, offset, RING.SLOTS >>> 2);
    this.slots = new Uint32Array(r.buffer, offset + RING.SLOTS, this.size);
    this.recF64 = new Float64Array(r.buffer, offset, RING.SLOTS >>> 3);
    const lc = eal.lcoreId >= 0 && eal.lcoreId < MAX_LCORE ? eal.lcoreId : 0;
    this.rec = (RING.CLAIMS + lc * RING.CLAIM_BYTES) >>> 2;
    this.pid = process.pid;
    this.cConsTail = Atomics.load(this.h, RING.CONS_TAIL >>> 2);
    this.cProdTail = Atomics.load(this.h, RING.PROD_TAIL >>> 2);
    this.cHoles = this.h[RING.HOLES >>> 2]!;
    this.enqMark = this.h[RING.PROD_HEAD >>> 2]!;
    this.deqMark = this.h[RING.CONS_HEAD >>> 2]!;
    this.hw = this.h[RING.HIGH_WATER >>> 2]!;
  }

  // ---------------------------------------------------------------- life cycle

  /** Bytes needed to embed a ring of `count` (validated as by create). */
  static memSize(count: number, flags = 0): number {
    const size = checkCount(count, flags);
    return RING.SLOTS + size * 4;
  }

  /**
   * Create a ring in its own memzone "RG_<name>". EINVAL for a bad count, flags or name;
   * EEXIST when the name is taken; ENOSPC when the region is full.
   */
  static create(eal: Eal, name: string, count: number, flags = 0): Ring {
    checkName(name, 'ring name', RING_NAMESIZE);
    const bytes = Ring.memSize(count, flags);
    const mz = eal.memzones.reserve(RING_MZ_PREFIX + name, bytes, 64);
    return Ring.layout(eal, mz.offset, name, count, flags, true);
  }

  static lookup(eal: Eal, name: string): Ring {
    const r = Ring.tryLookup(eal, name);
    if (!r) {
      throw new MpdkError('ENOENT', `no ring named '${name}' in instance '${eal.filePrefix}' (no memzone ${RING_MZ_PREFIX}${name}): create it first (Ring.create) or check the name and --file-prefix`);
    }
    return r;
  }

  static tryLookup(eal: Eal, name: string): Ring | undefined {
    checkName(name, 'ring name', RING_NAMESIZE);
    const mz = eal.memzones.tryLookup(RING_MZ_PREFIX + name);
    if (!mz) return undefined;
    awaitCreated(mz, () => (eal.region.loadAcquire(mz.offset + RING.MAGIC) >>> 0) === RING_MAGIC, `ring '${name}'`);
    return Ring.attach(eal, mz.offset);
  }

  /** Lay out an empty ring at `offset` (memory of at least memSize(count, flags) bytes). */
  static init(eal: Eal, offset: number, name: string, count: number, flags = 0): Ring {
    return Ring.layout(eal, offset, name, count, flags, false);
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
    return new Ring(eal, offset);
  }

  /** Attach to a ring laid out at `offset`; EPROTO when there is no valid ring there. */
  static attach(eal: Eal, offset: number): Ring {
    const r = eal.region;
    if (!Number.isInteger(offset) || offset < 0 || (offset & 63) !== 0 || offset + RING.SLOTS > r.size) {
      throw new MpdkError('EINVAL', `no ring can be at offset ${offset}: it must be 64-byte aligned inside the region`);
    }
    const magic = r.loadAcquire(offset + RING.MAGIC) >>> 0;
    const version = r.u32At(offset + RING.VERSION);
    if (magic !== RING_MAGIC) throw new MpdkError('EPROTO', `no ring at offset ${offset} (magic 0x${magic.toString(16)}): it was freed, or this is not a ring`);
    if (version !== RING_VERSION) throw new MpdkError('EPROTO', `ring at offset ${offset} has layout version ${version}, this code knows ${RING_VERSION}: run the same mpdk version in every process`);
    const size = r.u32At(offset + RING.SIZE);
    const mask = r.u32At(offset + RING.MASK);
    const cap = r.u32At(offset + RING.CAPACITY);
    const flags = r.u32At(offset + RING.FLAGS);
    if (size < 2 || size > RING_MAX_COUNT || (size & (size - 1)) !== 0 || mask !== size - 1 || cap < 1 || cap > mask
      || (flags & ~ALL_FLAGS) !== 0 || offset + RING.SLOTS + size * 4 > r.size) {
      throw new MpdkError('EPROTO', `ring at offset ${offset} is damaged (size ${size}, mask ${mask}, capacity ${cap}, flags ${flags}): recreate it`);
    }
    return new Ring(eal, offset);
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

  mpEnqueueBulk(objs: Uint32Array, n: number): number { return this.mpEnq(objs, n, true); }
  spEnqueueBulk(objs: Uint32Array, n: number): number { return this.spEnq(objs, n, true); }
  mpEnqueueBurst(objs: Uint32Array, n: number): number { return this.mpEnq(objs, n, false); }
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
    const head = h[RING.PROD_HEAD >>> 2]!; // plain: this producer is the only writer
    let free = (cap + this.cConsTail - head) >>> 0;
    if (free < n || free > cap) {
      const ct = Atomics.load(h, RING.CONS_TAIL >>> 2); // A2
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
    const slots = this.slots;
    const mask = this.mask;
    const idx = head & mask;
    if (idx + n <= slots.length) {
      for (let i = 0; i < n; i++) slots[idx + i] = objs[i]!;
    } else {
      const first = slots.length - idx;
      for (let i = 0; i < first; i++) slots[idx + i] = objs[i]!;
      for (let i = first; i < n; i++) slots[i - first] = objs[i]!;
    }
    const next = (head + n) >>> 0;
    h[RING.PROD_HEAD >>> 2] = next;
    Atomics.store(h, RING.PROD_TAIL >>> 2, next); // R1
    this.enqMark = next;
    if (h[RING.NE_WAITERS >>> 2] !== 0) this.ring(RING.NE_BELL); // D1
    return n;
  }

  /** Multi producer: DPDK's CAS on the head, with a claim record (file header). */
  private mpEnq(objs: Uint32Array, n: number, bulk: boolean): number {
    const h = this.h;
    const cap = this.capacity;
    const rec = this.rec; // + CLAIM_PROD (0)
    if ((this.abandoned & 1) !== 0) this.settleAbandoned(false);
    let head = h[RING.PROD_HEAD >>> 2]!; // plain: validated by the CAS
    let m = n;
    let next = 0;
    for (;;) {
      let free = (cap + this.cConsTail - head) >>> 0;
      if (free < n || free > cap) {
        const ct = Atomics.load(h, RING.CONS_TAIL >>> 2); // A2
        this.cConsTail = ct;
        free = (cap + ct - head) >>> 0;
        if (free > cap) { // our head read is older than the cons tail: re-read
          head = Atomics.load(h, RING.PROD_HEAD >>> 2);
          continue;
        }
        if (cap - free > this.hw) this.noteHigh(cap - free);
      }
      m = n;
      if (m > free) {
        if (bulk || free === 0) {
          h[rec + (RING.C_STATE >>> 2)] = IDLE; // a failed CAS may have left CLAIMING
          this.enqMark = head;
          return 0;
        }
        m = free;
      }
      next = (head + m) >>> 0;
      h[rec + (RING.C_FROM >>> 2)] = head;
      h[rec + (RING.C_PID >>> 2)] = this.pid;
      this.recF64[(rec >>> 1) + (RING.C_START >>> 3)] = ownStartTime();
      h[rec + (RING.C_STATE >>> 2)] = CLAIMING;
      const seen = Atomics.compareExchange(h, RING.PROD_HEAD >>> 2, head, next);
      if (seen === head) break;
      head = seen;
    }
    if (HOOK_PROD_EARLY) hookStop();
    h[rec + (RING.C_TO >>> 2)] = next;
    h[rec + (RING.C_STATE >>> 2)] = CLAIMED;
    if (HOOK_PROD) hookStop();
    const slots = this.slots;
    const idx = head & this.mask;
    if (idx + m <= slots.length) {
      for (let i = 0; i < m; i++) slots[idx + i] = objs[i]!;
    } else {
      const first = slots.length - idx;
      for (let i = 0; i < first; i++) slots[idx + i] = objs[i]!;
      for (let i = first; i < m; i++) slots[i - first] = objs[i]!;
    }
    h[rec + (RING.C_STATE >>> 2)] = WRITTEN;
    // A plain load suffices to see that the earlier claimers are done: their slot writes
    // precede their tail store (TSO), and x86 stores are seen in the same order by all cores.
    if (h[RING.PROD_TAIL >>> 2] !== head) this.waitTail(RING.PROD_TAIL >>> 2, head, false);
    Atomics.store(h, RING.PROD_TAIL >>> 2, next); // R1
    h[rec + (RING.C_STATE >>> 2)] = IDLE;
    this.enqMark = next;
    if (h[RING.NE_WAITERS >>> 2] !== 0) this.ring(RING.NE_BELL); // D1
    return m;
  }

  // ---------------------------------------------------------------- dequeue

  /** Dequeue n handles or none (per the creation flags). Returns n or 0 — or fewer than n
   *  when EMPTY slots left by a dead producer were dropped (see `holesSkipped`). */
  dequeueBulk(objs: Uint32Array, n: number): number {
    return this.flags & RING_F_SC_DEQ ? this.scDeq(objs, n, true) : this.mcDeq(objs, n, true);
  }

  /** Dequeue up to n handles. Returns how many were written to objs. */
  dequeueBurst(objs: Uint32Array, n: number): number {
    return this.flags & RING_F_SC_DEQ ? this.scDeq(objs, n, false) : this.mcDeq(objs, n, false);
  }

  mcDequeueBulk(objs: Uint32Array, n: number): number { return this.mcDeq(objs, n, true); }
  scDequeueBulk(objs: Uint32Array, n: number): number { return this.scDeq(objs, n, true); }
  mcDequeueBurst(objs: Uint32Array, n: number): number { return this.mcDeq(objs, n, false); }
  scDequeueBurst(objs: Uint32Array, n: number): number { return this.scDeq(objs, n, false); }

  /** Dequeue one handle; -1 when empty. */
  dequeue(): number {
    for (;;) {
      const r = this.dequeueBulk(one, 1);
      if (r === 1) return one[0]!;
      // A dropped hole consumed the slot: try the next one.
      if (this.count() === 0) return -1;
    }
  }

  private scDeq(objs: Uint32Array, n: number, bulk: boolean): number {
    const h = this.h;
    const cap = this.capacity;
    const head = h[RING.CONS_HEAD >>> 2]!; // plain: this consumer is the only writer
    let entries = (this.cProdTail - head) >>> 0;
    if (entries < n || entries > cap) {
      const pt = Atomics.load(h, RING.PROD_TAIL >>> 2); // A1
      this.cProdTail = pt;
      this.cHoles = h[RING.HOLES >>> 2]!; // after A1: covers every hole below pt
      entries = (pt - head) >>> 0;
      if (entries > this.hw) this.noteHigh(entries);
    }
    if (n > entries) {
      if (bulk || entries === 0) {
        this.deqMark = head;
        return 0;
      }
      n = entries;
    }
    const slots = this.slots;
    const idx = head & this.mask;
    if (idx + n <= slots.length) {
      for (let i = 0; i < n; i++) objs[i] = slots[idx + i]!;
    } else {
      const first = slots.length - idx;
      for (let i = 0; i < first; i++) objs[i] = slots[idx + i]!;
      for (let i = first; i < n; i++) objs[i] = slots[i - first]!;
    }
    const next = (head + n) >>> 0;
    h[RING.CONS_HEAD >>> 2] = next;
    Atomics.store(h, RING.CONS_TAIL >>> 2, next); // R2
    this.deqMark = next;
    if (h[RING.NF_WAITERS >>> 2] !== 0) this.ring(RING.NF_BELL); // D1 (not full)
    return this.cHoles === 0 ? n : this.dropHoles(objs, n);
  }

  private mcDeq(objs: Uint32Array, n: number, bulk: boolean): number {
    const h = this.h;
    const cap = this.capacity;
    const rec = this.rec + (RING.CLAIM_CONS >>> 2);
    if ((this.abandoned & 2) !== 0) this.settleAbandoned(true);
    let head = h[RING.CONS_HEAD >>> 2]!; // plain: validated by the CAS
    let m = n;
    let next = 0;
    for (;;) {
      let entries = (this.cProdTail - head) >>> 0;
      if (entries < n || entries > cap) {
        const pt = Atomics.load(h, RING.PROD_TAIL >>> 2); // A1
        this.cProdTail = pt;
        this.cHoles = h[RING.HOLES >>> 2]!;
        entries = (pt - head) >>> 0;
        if (entries > cap) { // our head read is older than the prod tail we saw: re-read
          head = Atomics.load(h, RING.CONS_HEAD >>> 2);
          continue;
        }
        if (entries > this.hw) this.noteHigh(entries);
      }
      m = n;
      if (m > entries) {
        if (bulk || entries === 0) {
          h[rec + (RING.C_STATE >>> 2)] = IDLE; // a failed CAS may have left CLAIMING
          this.deqMark = head;
          return 0;
        }
        m = entries;
      }
      next = (head + m) >>> 0;
      h[rec + (RING.C_FROM >>> 2)] = head;
      h[rec + (RING.C_PID >>> 2)] = this.pid;
      this.recF64[(rec >>> 1) + (RING.C_START >>> 3)] = ownStartTime();
      h[rec + (RING.C_STATE >>> 2)] = CLAIMING;
      const seen = Atomics.compareExchange(h, RING.CONS_HEAD >>> 2, head, next);
      if (seen === head) break;
      head = seen;
    }
    h[rec + (RING.C_TO >>> 2)] = next;
    h[rec + (RING.C_STATE >>> 2)] = CLAIMED;
    if (HOOK_CONS) hookStop();
    const slots = this.slots;
    const idx = head & this.mask;
    if (idx + m <= slots.length) {
      for (let i = 0; i < m; i++) objs[i] = slots[idx + i]!;
    } else {
      const first = slots.length - idx;
      for (let i = 0; i < first; i++) objs[i] = slots[idx + i]!;
      for (let i = first; i < m; i++) objs[i] = slots[i - first]!;
    }
    // A plain load suffices to see that the earlier claimers are done: their slot writes
    // precede their tail store (TSO), and x86 stores are seen in the same order by all cores.
    if (h[RING.CONS_TAIL >>> 2] !== head) this.waitTail(RING.CONS_TAIL >>> 2, head, true);
    Atomics.store(h, RING.CONS_TAIL >>> 2, next); // R2
    h[rec + (RING.C_STATE >>> 2)] = IDLE;
    this.deqMark = next;
    if (h[RING.NF_WAITERS >>> 2] !== 0) this.ring(RING.NF_BELL);
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

  // ---------------------------------------------------------------- waits

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
        this.repairSide(cons, this.pendingReclaimed, null);
        since = performance.now();
        if (since - first >= this.tailWaitMs && Atomics.load(h, ti) !== expect) this.abandon(cons, expect);
      }
    }
  }

  /** waitTail's bound expired behind a live claimer: leave our claim to repair and throw. */
  private abandon(cons: boolean, from: number): never {
    const h = this.h;
    const rec = this.rec + ((cons ? RING.CLAIM_CONS : RING.CLAIM_PROD) >>> 2);
    const n = (h[rec + (RING.C_TO >>> 2)]! - from) >>> 0;
    const tail = Atomics.load(h, (cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2);
    const ahead = this.claims().find((c) => c.side === (cons ? 'cons' : 'prod') && c.from === tail && c.pid !== this.pid);
    h[rec + (RING.C_STATE >>> 2)] = ABANDONED;
    this.abandoned |= cons ? 2 : 1;
    // The claim ahead may have been published meanwhile: repair now publishes ours if so.
    this.repairSide(cons, this.pendingReclaimed, null);
    const who = ahead ? `pid ${ahead.pid} (${processState(ahead.pid)})` : 'a claimer that has gone';
    const fate = cons ? 'released to the ring\'s repair: its handles are reclaimed, not returned here' : 'left written: it is published when the tail reaches it';
    throw new MpdkError('ETIMEDOUT', `ring '${this.name}': waited ${this.tailWaitMs} ms for the ${cons ? 'consumer' : 'producer'} claim [${tail}, ${from}) of ${who}; this burst of ${n} was ${fate}`);
  }

  /** Before a claim on a side this object abandoned a burst on: has repair taken it? */
  private settleAbandoned(cons: boolean): void {
    const rec = this.rec + ((cons ? RING.CLAIM_CONS : RING.CLAIM_PROD) >>> 2);
    if (this.h[rec + (RING.C_STATE >>> 2)] === ABANDONED) this.repairSide(cons, this.pendingReclaimed, null);
    if (this.h[rec + (RING.C_STATE >>> 2)] === ABANDONED) {
      const tail = Atomics.load(this.h, (cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2);
      const ahead = this.claims().find((c) => c.side === (cons ? 'cons' : 'prod') && c.from === tail && c.pid !== this.pid);
      throw new MpdkError('EBUSY', `ring '${this.name}': an earlier ${cons ? 'dequeue' : 'enqueue'} of this process is still behind the claim of ${ahead ? `pid ${ahead.pid} (${processState(ahead.pid)})` : 'another process'}; try again later`);
    }
    this.abandoned &= cons ? ~2 : ~1;
  }

  private ring(bell: number): void {
    Atomics.add(this.h, bell >>> 2, 1);
    futexWake(this.eal.region.mapping, this.offset + bell);
  }

  /**
   * Wait (spin briefly, then sched_yield, then sleep on the not-empty doorbell) until
   * handles can be dequeued, then dequeue a burst of up to n. Returns 0 after timeoutMs.
   */
  waitDequeueBurst(objs: Uint32Array, n: number, timeoutMs: number): number {
    let r = this.dequeueBurst(objs, n);
    if (r !== 0 || timeoutMs <= 0) return r;
    return this.waitSlow(objs, n, timeoutMs, false);
  }

  /** Wait until there is room, then enqueue a burst of up to n. Returns 0 after timeoutMs. */
  waitEnqueueBurst(objs: Uint32Array, n: number, timeoutMs: number): number {
    let r = this.enqueueBurst(objs, n);
    if (r !== 0 || timeoutMs <= 0) return r;
    return this.waitSlow(objs, n, timeoutMs, true);
  }

  private tryOp(objs: Uint32Array, n: number, enq: boolean): number {
    return enq ? this.enqueueBurst(objs, n) : this.dequeueBurst(objs, n);
  }

  private waitSlow(objs: Uint32Array, n: number, timeoutMs: number, enq: boolean): number {
    const h = this.h;
    for (let i = 0; i < WAIT_SPINS; i++) {
      const r = this.tryOp(objs, n, enq);
      if (r !== 0) return r;
    }
    for (let i = 0; i < WAIT_YIELDS; i++) {
      schedYield();
      const r = this.tryOp(objs, n, enq);
      if (r !== 0) return r;
    }
    const waiters = (enq ? RING.NF_WAITERS : RING.NE_WAITERS) >>> 2;
    const bell = enq ? RING.NF_BELL : RING.NE_BELL;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      Atomics.add(h, waiters, 1);
      const seen = Atomics.load(h, bell >>> 2);
      let r = this.tryOp(objs, n, enq); // re-check after registering (D1)
      if (r === 0) {
        const left = deadline - performance.now();
        if (left > 0) futexWait(this.eal.region.mapping, this.offset + bell, seen, left);
      }
      Atomics.sub(h, waiters, 1);
      if (r === 0) r = this.tryOp(objs, n, enq);
      if (r !== 0) return r;
      if (performance.now() >= deadline) return 0;
    }
  }

  // ---------------------------------------------------------------- state

  /** After each enqueue: free space left (DPDK's free_space). Read lazily: the cons tail
   *  is loaded now, so a single thread sees exactly DPDK's value; concurrently, a value at
   *  least as fresh. */
  get lastFree(): number {
    const f = this.capacity - ((this.enqMark - Atomics.load(this.h, RING.CONS_TAIL >>> 2)) >>> 0);
    return f < 0 ? 0 : f > this.capacity ? this.capacity : f;
  }

  /** After each dequeue: entries left (DPDK's available); read lazily as lastFree. */
  get lastAvailable(): number {
    const e = (Atomics.load(this.h, RING.PROD_TAIL >>> 2) - this.deqMark) >>> 0;
    return e > this.capacity ? 0 : e;
  }

  count(): number {
    const ct = Atomics.load(this.h, RING.CONS_TAIL >>> 2);
    const pt = Atomics.load(this.h, RING.PROD_TAIL >>> 2);
    const e = (pt - ct) >>> 0;
    return e > this.capacity ? this.capacity : e;
  }

  freeCount(): number {
    return this.capacity - this.count();
  }

  full(): boolean {
    return this.count() === this.capacity;
  }

  empty(): boolean {
    return this.count() === 0;
  }

  /** Most entries ever seen by a side that loaded the other side's tail. */
  highWater(): number {
    return this.h[RING.HIGH_WATER >>> 2]!;
  }

  /**
   * A copy of the handles in the ring, oldest first (between the cons tail and the prod
   * tail; EMPTY holes left out). Exact when nobody enqueues or dequeues meanwhile (an
   * audit after a crash, a test's end); a snapshot otherwise. Allocates: not a hot path.
   */
  contents(): Uint32Array {
    const ct = Atomics.load(this.h, RING.CONS_TAIL >>> 2);
    const pt = Atomics.load(this.h, RING.PROD_TAIL >>> 2);
    let n = (pt - ct) >>> 0;
    if (n > this.capacity) n = this.capacity;
    const out = new Uint32Array(n);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const v = this.slots[(ct + i) & this.mask]!;
      if (v !== RING_EMPTY) out[j++] = v;
    }
    return j === n ? out : out.slice(0, j);
  }

  /** Slots filled with EMPTY by repairs of dead producers, ever. */
  holes(): number {
    return this.h[RING.HOLES >>> 2]!;
  }

  private noteHigh(e: number): void {
    const i = RING.HIGH_WATER >>> 2;
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

  dump(): string {
    const h = this.h;
    const w = (off: number): number => h[off >>> 2]!;
    const lines = [
      `ring <${this.name}>@${this.offset}`,
      `  flags=${this.flags}${this.flags & RING_F_SP_ENQ ? ' SP' : ' MP'}${this.flags & RING_F_SC_DEQ ? ' SC' : ' MC'}${this.flags & RING_F_EXACT_SZ ? ' EXACT_SZ' : ''}`,
      `  size=${this.size}`,
      `  capacity=${this.capacity}`,
      `  ct=${w(RING.CONS_TAIL)}`,
      `  ch=${w(RING.CONS_HEAD)}`,
      `  pt=${w(RING.PROD_TAIL)}`,
      `  ph=${w(RING.PROD_HEAD)}`,
      `  used=${this.count()}`,
      `  avail=${this.freeCount()}`,
      `  high_water=${w(RING.HIGH_WATER)}`,
      `  holes=${w(RING.HOLES)}`,
      `  waiters: not_empty=${w(RING.NE_WAITERS)} not_full=${w(RING.NF_WAITERS)}`,
    ];
    for (const c of this.claims()) lines.push(`  claim ${c.side} lcore ${c.lcore}: [${c.from}, ${c.to}) ${c.state} pid ${c.pid}${c.alive ? '' : ' (dead)'}`);
    return lines.join('\n') + '\n';
  }

  /** Claims in flight (not IDLE), both sides. */
  claims(): { side: 'prod' | 'cons'; lcore: number; from: number; to: number; state: string; pid: number; alive: boolean }[] {
    const out: ReturnType<Ring['claims']> = [];
    const names = ['idle', 'claiming', 'claimed', 'written', 'abandoned'];
    for (let l = 0; l < MAX_LCORE; l++) {
      for (const side of ['prod', 'cons'] as const) {
        const rec = (RING.CLAIMS + l * RING.CLAIM_BYTES + (side === 'prod' ? RING.CLAIM_PROD : RING.CLAIM_CONS)) >>> 2;
        const st = this.h[rec + (RING.C_STATE >>> 2)]!;
        if (st === IDLE) continue;
        const pid = this.h[rec + (RING.C_PID >>> 2)]!;
        out.push({
          side, lcore: l, from: this.h[rec + (RING.C_FROM >>> 2)]!, to: this.h[rec + (RING.C_TO >>> 2)]!,
          state: names[st] ?? String(st), pid, alive: processAlive(pid, this.recF64[(rec >>> 1) + (RING.C_START >>> 3)]!),
        });
      }
    }
    return out;
  }

  describe(): ObjectDescription {
    const h = this.h;
    return {
      kind: 'ring', name: this.name, offset: this.offset, size: this.size, capacity: this.capacity, flags: this.flags,
      count: this.count(), free: this.freeCount(), highWater: this.highWater(), holes: this.holes(),
      reclaimedTotal: h[RING.RECLAIMED_TOTAL >>> 2]!, repairs: h[RING.REPAIRS >>> 2]!,
      prodHead: h[RING.PROD_HEAD >>> 2]!, prodTail: h[RING.PROD_TAIL >>> 2]!,
      consHead: h[RING.CONS_HEAD >>> 2]!, consTail: h[RING.CONS_TAIL >>> 2]!,
      waitersNotEmpty: h[RING.NE_WAITERS >>> 2]!, waitersNotFull: h[RING.NF_WAITERS >>> 2]!,
      claimsInFlight: this.claims().length,
    };
  }

  // ---------------------------------------------------------------- repair

  /**
   * Finish or undo the claims of dead producers and consumers that hold the tails back
   * (file header). Safe to call at any time from any process: live claimers are never
   * touched. Single-producer / single-consumer sides are not repaired (they keep no claim
   * records; a dead single producer's half-done burst is simply never published).
   */
  repair(): RepairReport {
    const report: RepairReport = { published: 0, filled: 0, holes: 0, released: 0, reclaimed: [], waitingForProd: 0, waitingForCons: 0 };
    if (!(this.flags & RING_F_SP_ENQ)) this.repairSide(false, report.reclaimed, report);
    if (!(this.flags & RING_F_SC_DEQ)) this.repairSide(true, report.reclaimed, report);
    if (this.pendingReclaimed.length > 0) {
      report.reclaimed.push(...this.pendingReclaimed);
      this.pendingReclaimed = [];
    }
    return report;
  }

  private repairSide(cons: boolean, reclaimed: number[], report: RepairReport | null): void {
    const lock = new RobustLock(this.eal.region.i32, this.offset + RING.REPAIR_LOCK);
    try {
      lock.acquire({ what: `the repair of ring '${this.name}'`, timeoutMs: 2000 });
    } catch (e) {
      // A waiter (report === null) must not throw in the middle of its own claim: it goes
      // on waiting and tries again later. repair() reports the refusal.
      if (report) throw e;
      return;
    }
    try {
      this.repairLocked(cons, reclaimed, report);
    } finally {
      lock.release();
    }
  }

  private repairLocked(cons: boolean, reclaimed: number[], report: RepairReport | null): void {
    const h = this.h;
    const ti = (cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2;
    const hi = (cons ? RING.CONS_HEAD : RING.PROD_HEAD) >>> 2;
    const side = cons ? RING.CLAIM_CONS : RING.CLAIM_PROD;
    for (let guard = 0; guard < 4 * MAX_LCORE; guard++) {
      const tail = Atomics.load(h, ti);
      const head = Atomics.load(h, hi);
      if (tail === head) return;
      const span = (head - tail) >>> 0;
      // Scan the records: which claim starts at the tail, and where the next one starts.
      let live = 0;
      let deadTo = -1;
      let deadWritten = false;
      let boundary = span;
      const deadAtTail: number[] = [];
      for (let l = 0; l < MAX_LCORE; l++) {
        const rec = (RING.CLAIMS + l * RING.CLAIM_BYTES + side) >>> 2;
        const st = h[rec + (RING.C_STATE >>> 2)]!;
        if (st === IDLE) continue;
        const from = h[rec + (RING.C_FROM >>> 2)]!;
        const d = (from - tail) >>> 0;
        if (d > span) continue; // stale (behind the tail): not a claim in flight
        if (d > 0) {
          if (d < boundary) boundary = d;
          continue;
        }
        const pid = h[rec + (RING.C_PID >>> 2)]!;
        if (st !== ABANDONED && processAlive(pid, this.recF64[(rec >>> 1) + (RING.C_START >>> 3)]!)) {
          live = pid;
          continue;
        }
        deadAtTail.push(rec);
        if (st === CLAIMED || st === WRITTEN || st === ABANDONED) {
          const to = h[rec + (RING.C_TO >>> 2)]!;
          const dt = (to - tail) >>> 0;
          if (dt > 0 && dt <= span) {
            deadTo = to;
            deadWritten = st !== CLAIMED; // an abandoned producer claim was written
          }
        }
      }
      if (Atomics.load(h, ti) !== tail) continue; // someone published meanwhile: look again
      if (live !== 0) {
        if (report) {
          if (cons) report.waitingForCons = live;
          else report.waitingForProd = live;
        }
        return;
      }
      const to = deadTo >= 0 ? deadTo : (tail + boundary) >>> 0;
      const n = (to - tail) >>> 0;
      if (cons) {
        // The dead consumer's handles are intact: hand them back, release the range.
        for (let i = 0; i < n; i++) {
          const v = this.slots[(tail + i) & this.mask]!;
          if (v !== RING_EMPTY) reclaimed.push(v);
        }
        Atomics.add(h, RING.RECLAIMED_TOTAL >>> 2, n);
        if (report) report.released++;
      } else if (deadTo >= 0 && deadWritten) {
        if (report) report.published++;
      } else {
        for (let i = 0; i < n; i++) this.slots[(tail + i) & this.mask] = RING_EMPTY;
        Atomics.add(h, RING.HOLES >>> 2, n); // before the tail store that publishes them
        if (report) {
          report.filled++;
          report.holes += n;
        }
      }
      const how = cons ? REPAIRED_RELEASED : deadTo >= 0 && deadWritten ? REPAIRED_PUBLISHED : REPAIRED_FILLED;
      for (const rec of deadAtTail) {
        h[rec + (RING.C_REP_FROM >>> 2)] = tail;
        h[rec + (RING.C_REP_HOW >>> 2)] = how;
        h[rec + (RING.C_STATE >>> 2)] = IDLE;
      }
      Atomics.add(h, RING.REPAIRS >>> 2, 1);
      Atomics.store(h, ti, to);
      this.eal.log('warning', `ring '${this.name}': repaired a dead ${cons ? 'consumer' : 'producer'}'s claim [${tail}, ${to})`);
      if (cons) {
        if (h[RING.NF_WAITERS >>> 2] !== 0) this.ring(RING.NF_BELL);
      } else if (h[RING.NE_WAITERS >>> 2] !== 0) this.ring(RING.NE_BELL);
    }
  }
}

/**
 * Burst snapshots, for ownership records (ownership/hands.ts) and the mempool caches: a
 * burst by lcore `lc` on one side of `ring` stores the word at `burstSnapIndex` before it
 * starts; afterwards — its owner alive or dead — `burstMoved` tells how many handles it
 * moved through the ring:
 *   single-ended side   the tail (only that burst's owner moves it): tail − snapshot
 *   MP / MC side        the TO of the lcore's claim line: unchanged → 0 (no claim passed
 *                       its CAS); consumer CLAIMING / CLAIMED → 0 (repair releases the
 *                       range to its repairer), repaired RELEASED → 0; producer CLAIMING /
 *                       CLAIMED → 0 (repair fills EMPTY), repaired FILLED → 0; otherwise
 *                       TO − FROM (WRITTEN is published by repair)
 * A consumer's count includes the EMPTY holes the dequeue dropped (it compacts what it
 * returns): a reader of objs[0 .. moved) skips EMPTY and values seen twice.
 */
export function burstSnapIndex(u32: Uint32Array, ring: number, lc: number, cons: boolean): number {
  const flags = u32[(ring + RING.FLAGS) >>> 2]!;
  const line = ring + RING.CLAIMS + (lc >= 0 && lc < MAX_LCORE ? lc : 0) * RING.CLAIM_BYTES;
  if (cons) return flags & RING_F_SC_DEQ ? (ring + RING.CONS_TAIL) >>> 2 : (line + RING.CLAIM_CONS + RING.C_TO) >>> 2;
  return flags & RING_F_SP_ENQ ? (ring + RING.PROD_TAIL) >>> 2 : (line + RING.CLAIM_PROD + RING.C_TO) >>> 2;
}

export function burstMoved(u32: Uint32Array, ring: number, lc: number, snap: number, cons: boolean): number {
  const flags = u32[(ring + RING.FLAGS) >>> 2]!;
  if (cons && flags & RING_F_SC_DEQ) return (Atomics.load(u32, (ring + RING.CONS_TAIL) >>> 2) - snap) >>> 0;
  if (!cons && flags & RING_F_SP_ENQ) return (Atomics.load(u32, (ring + RING.PROD_TAIL) >>> 2) - snap) >>> 0;
  const line = (ring + RING.CLAIMS + (lc >= 0 && lc < MAX_LCORE ? lc : 0) * RING.CLAIM_BYTES + (cons ? RING.CLAIM_CONS : RING.CLAIM_PROD)) >>> 2;
  const to = u32[line + (RING.C_TO >>> 2)]!;
  if (to === snap) return 0;
  const st = u32[line + (RING.C_STATE >>> 2)]!;
  const from = u32[line + (RING.C_FROM >>> 2)]!;
  if (st === CLAIMING || st === CLAIMED) return 0;
  if (st === IDLE && u32[line + (RING.C_REP_FROM >>> 2)] === from && u32[line + (RING.C_REP_HOW >>> 2)] === (cons ? REPAIRED_RELEASED : REPAIRED_FILLED)) return 0;
  return (to - from) >>> 0;
}

/** Scratch for the single-handle calls (per thread: module state is per isolate). */
const one = new Uint32Array(1);

registerDescriber('ring', (eal: Eal): ObjectDescription[] => {
  const out: ObjectDescription[] = [];
  for (const mz of eal.memzones.list()) {
    if (!mz.name.startsWith(RING_MZ_PREFIX)) continue;
    try {
      out.push(Ring.attach(eal, mz.offset).describe());
    } catch (e) {
      out.push({ kind: 'ring', name: mz.name.slice(RING_MZ_PREFIX.length), error: (e as Error).message });
    }
  }
  return out;
});
