/**
 * The ring's bytes: its layout table (RING), its constants, and `RingMemory`, the checked
 * typed views through which the ring layer's own files (ring.ts, claims.ts, doorbell.ts,
 * view.ts) read and write one ring. Nothing outside src/ring uses these offsets.
 *
 * Layout (RING: byte offsets from the ring's start; written lines 128 bytes apart)
 *
 *   offset       line          words                                            written by
 *   0            header        MAGIC VERSION FLAGS SIZE MASK CAPACITY MEMZONE   init, once (MAGIC last,
 *                              NAME[32]                                         release)
 *   128          prod          PROD_HEAD PROD_TAIL HOLES                        producers (+ repairer)
 *   256          cons          CONS_HEAD CONS_TAIL                              consumers (+ repairer)
 *   384          doorbell      NE_WAITERS NE_BELL NF_WAITERS NF_BELL            sleepers / the other side
 *   512          stats         HIGH_WATER RECLAIMED_TOTAL REPAIRS               any side, rarely
 *   640          repair lock   robust lock (pid of the holder)                  repairers
 *   768          claim lines   MAX_LCORE × 64 bytes, one per lcore:             that lcore's claimers
 *                              +0  producer claim FROM TO STATE PID START(f64)  (+ repairer: REP_*,
 *                              +32 consumer claim, the same                       STATE = IDLE)
 *   768 + 8192   slots         u32 × SIZE                                       producers
 *
 * Written lines sit 128 bytes apart (DPDK's cache guard): the adjacent-line prefetcher pulls
 * 128-byte pairs, which would otherwise drag the other side's line along.
 */
import { MpdkError } from '../eal/errors.js';
import { MEMZONE_NAMESIZE } from '../eal/memzone.js';
import { MAX_LCORE } from '../eal/options.js';
import type { Region } from '../eal/region.js';

export const RING_F_SP_ENQ = 1;
export const RING_F_SC_DEQ = 2;
export const RING_F_EXACT_SZ = 4;
export const ALL_FLAGS = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ;

/** The reserved handle: a slot a dead producer never filled. Never enqueue it. */
export const RING_EMPTY = 0xffffffff;
export const RING_MAGIC = 0x474e4952; // 'RING' little-endian
export const RING_VERSION = 1;
export const RING_MZ_PREFIX = 'RG_';
/**
 * Longest ring name, in bytes: 28, DPDK's (its RTE_RING_NAMESIZE, 29, counts the NUL):
 * "RG_" + name is the ring's memzone name (31 bytes at most).
 */
export const RING_NAMESIZE = MEMZONE_NAMESIZE - RING_MZ_PREFIX.length;
/** Largest count: 2^28 slots (1 GiB); indexes stay far from 2^31. */
export const RING_MAX_COUNT = 1 << 28;

/** Byte offsets from the ring's start. The only place these numbers appear. */
export const RING = {
  // header line: written once by init, before MAGIC (stored last, release)
  MAGIC: 0, VERSION: 4, FLAGS: 8, SIZE: 12, MASK: 16, CAPACITY: 20,
  MEMZONE: 24, // u32 1 when the ring owns its memzone (create), 0 when embedded
  NAME: 32, NAME_MAX: 32,
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
  // last claim of this line it finished, and how (REPAIRED_*). A burst snapshot (claims.ts
  // burstMoved) reads them to tell a burst that went through from one that was undone,
  // whoever repaired it. Cost on the hot path: none.
  C_REP_FROM: 24, C_REP_HOW: 28,
  SLOTS: 768 + MAX_LCORE * 64,
} as const;

/** How repair finished a dead claim (C_REP_HOW). */
export const REPAIRED_PUBLISHED = 1; // producer claim: slots were written, published as is
export const REPAIRED_FILLED = 2; // producer claim: filled with EMPTY, its handles never entered the ring
export const REPAIRED_RELEASED = 3; // consumer claim: its handles went to the repairer (`reclaimed`)

/**
 * Claim record states (C_STATE); the protocol is in claims.ts. ABANDONED: a live claimer
 * gave up waiting for the claim ahead (ring.ts waitTail's bound); repair treats the record
 * as a dead one's (producer: its slots are written, published as is).
 */
export const CLAIM_STATE = { IDLE: 0, CLAIMING: 1, CLAIMED: 2, WRITTEN: 3, ABANDONED: 4 } as const;

/** Slots for `count` entries (validated: EINVAL naming the rule). */
export function checkCount(count: number, flags: number): number {
  if (!Number.isInteger(flags) || (flags & ~ALL_FLAGS) !== 0) {
    throw new MpdkError('EINVAL', `invalid ring flags ${flags}: RING_F_SP_ENQ (1), RING_F_SC_DEQ (2), RING_F_EXACT_SZ (4) or'ed together`);
  }
  if (flags & RING_F_EXACT_SZ) {
    if (!Number.isInteger(count) || count < 1 || count >= RING_MAX_COUNT) {
      throw new MpdkError('EINVAL', `invalid ring count ${count} with exactSize: it must be a whole number from 1 to ${RING_MAX_COUNT - 1}`);
    }
    let size = 2;
    while (size <= count) size *= 2;
    return size;
  }
  if (!Number.isInteger(count) || count < 2 || count > RING_MAX_COUNT || (count & (count - 1)) !== 0) {
    throw new MpdkError('EINVAL', `invalid ring count ${count}: it must be a power of two from 2 to ${RING_MAX_COUNT} (it holds count-1 entries), or give exactSize: true for any count`);
  }
  return count;
}

/** What a ring is made with (Ring.create, Ring.init, Ring.memSize). */
export interface RingOptions {
  /**
   * Slots: a power of two from 2 to 2^28, of which count - 1 hold handles (DPDK's rule);
   * with `exactSize`, any count from 1, held exactly.
   */
  count: number;
  /** Only one thread ever enqueues (DPDK's RING_F_SP_ENQ): no CAS and no claim records. Default false. */
  singleProducer?: boolean;
  /** Only one thread ever dequeues (RING_F_SC_DEQ). Default false. */
  singleConsumer?: boolean;
  /** Hold exactly `count` handles, the slots rounded up to a power of two (RING_F_EXACT_SZ). Default false. */
  exactSize?: boolean;
}

/** The header's FLAGS word for `o`; EINVAL for a missing object or count. */
export function ringFlags(o: RingOptions): number {
  if (o === null || typeof o !== 'object') throw new MpdkError('EINVAL', `ring options must be an object such as { count: 1024 }, not ${String(o)}`);
  return (o.singleProducer ? RING_F_SP_ENQ : 0) | (o.singleConsumer ? RING_F_SC_DEQ : 0) | (o.exactSize ? RING_F_EXACT_SZ : 0);
}

/**
 * One ring's bytes, checked once: the header was finished (MAGIC), is of this code's
 * version, and its geometry is consistent and inside the region, so no index computed
 * from it below (`& mask`, claim lines) can leave the ring. Read-only by itself; the
 * ring's files write through `h` / `slots` where their protocol says so.
 */
export class RingMemory {
  readonly region: Region;
  readonly offset: number;
  readonly name: string;
  readonly flags: number;
  /** Slots (a power of two), mask = size − 1, entries it holds. */
  readonly size: number;
  readonly mask: number;
  readonly capacity: number;
  /** Header, index and claim words (u32 index = RING byte offset / 4). */
  readonly h: Uint32Array;
  /** The same bytes as f64 (the claims' START words). */
  readonly f64: Float64Array;
  readonly slots: Uint32Array;

  private constructor(region: Region, offset: number) {
    const u32 = region.u32;
    const b = offset >>> 2;
    this.region = region;
    this.offset = offset;
    this.name = region.readString(offset + RING.NAME, RING.NAME_MAX);
    this.flags = u32[b + (RING.FLAGS >>> 2)]!;
    this.size = u32[b + (RING.SIZE >>> 2)]!;
    this.mask = u32[b + (RING.MASK >>> 2)]!;
    this.capacity = u32[b + (RING.CAPACITY >>> 2)]!;
    this.h = new Uint32Array(region.buffer, offset, RING.SLOTS >>> 2);
    this.f64 = new Float64Array(region.buffer, offset, RING.SLOTS >>> 3);
    this.slots = new Uint32Array(region.buffer, offset + RING.SLOTS, this.size);
  }

  /**
   * The ring laid out at `offset`. EINVAL when no ring can be there (alignment, bounds),
   * EPROTO when there is none (magic), of another version, or a damaged one.
   */
  static at(region: Region, offset: number): RingMemory {
    if (!Number.isInteger(offset) || offset < 0 || (offset & 63) !== 0 || offset + RING.SLOTS > region.size) {
      throw new MpdkError('EINVAL', `no ring can be at offset ${offset}: it must be 64-byte aligned inside the region`);
    }
    const magic = region.loadAcquire(offset + RING.MAGIC) >>> 0;
    const version = region.u32At(offset + RING.VERSION);
    if (magic !== RING_MAGIC) throw new MpdkError('EPROTO', `no ring at offset ${offset} (magic 0x${magic.toString(16)}): it was freed, or this is not a ring`);
    if (version !== RING_VERSION) throw new MpdkError('EPROTO', `ring at offset ${offset} has layout version ${version}, this code knows ${RING_VERSION}: run the same mpdk version in every process`);
    const size = region.u32At(offset + RING.SIZE);
    const mask = region.u32At(offset + RING.MASK);
    const cap = region.u32At(offset + RING.CAPACITY);
    const flags = region.u32At(offset + RING.FLAGS);
    if (size < 2 || size > RING_MAX_COUNT || (size & (size - 1)) !== 0 || mask !== size - 1 || cap < 1 || cap > mask
      || (flags & ~ALL_FLAGS) !== 0) {
      throw new MpdkError('EPROTO', `ring at offset ${offset} is damaged (size ${size}, mask ${mask}, capacity ${cap}, flags ${flags}): recreate it`);
    }
    region.checkSpan(offset + RING.SLOTS, size * 4, `ring at offset ${offset}: its ${size} slots`);
    return new RingMemory(region, offset);
  }

  /** u32 index of lcore `lc`'s claim record on one side (lcores out of range use line 0). */
  claimLine(lc: number, cons: boolean): number {
    const l = lc >= 0 && lc < MAX_LCORE ? lc : 0;
    return (RING.CLAIMS + l * RING.CLAIM_BYTES + (cons ? RING.CLAIM_CONS : RING.CLAIM_PROD)) >>> 2;
  }

  /** Is this side single-ended (SP producer / SC consumer: no claim records)? */
  single(cons: boolean): boolean {
    return (this.flags & (cons ? RING_F_SC_DEQ : RING_F_SP_ENQ)) !== 0;
  }
}
