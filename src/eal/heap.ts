/**
 * The shared heap: the region from HEAP_START to its end, as one implicit list of
 * blocks, each with a 64-byte header (so payloads are cache-line aligned).
 * Memzones, rings, mempools and `malloc` blocks are all carved from it.
 *
 *   block header (BLK)            written by
 *   0   SIZE   u32 total bytes     the alloc-lock holder; a multiple of 64, >= 64
 *   4   STATE  u32 FREE | USED     the alloc-lock holder, stored last
 *   8   OWNER  i32 pid             allocating process
 *   16  TAG    32 bytes            "mz:<name>" for memzones, else the caller's name
 *   48  TIME   f64 Date.now()
 *
 * All mutation happens under the region's alloc lock. Every mutation is ordered so
 * that the chain of blocks is walkable after any single store, which is what makes a
 * takeover after the holder died safe without a log:
 *   - split: the new header past the cut is written first (invisible: inside the old
 *     block), then the old block's SIZE shrinks;
 *   - coalesce: a free block's SIZE grows over its free successor in one store;
 *   - allocate: OWNER and TAG first, STATE = USED last; free: STATE = FREE.
 * A holder killed after STATE = USED but before its caller recorded the offset leaves
 * one USED block owned by a dead pid: memzone blocks are reconciled against the
 * memzone table (memzone.ts); other blocks stay listed with their dead owner.
 */
import { MpdkError } from './errors.js';
import type { Region } from './region.js';
import { HDR } from './region.js';

export const BLK = { SIZE: 0, STATE: 4, OWNER: 8, TAG: 16, TAG_MAX: 32, TIME: 48, BYTES: 64 } as const;
export const BLOCK_FREE = 0x45455246; // 'FREE'
export const BLOCK_USED = 0x44455355; // 'USED'
const MIN_SPLIT = 2 * BLK.BYTES;

/** The region's heap in bytes (`eal.heapStats()`). */
export interface HeapStats {
  /** Bytes of the heap (headers included). */
  total: number;
  /** Bytes in free blocks (headers excluded). */
  free: number;
  /** Largest allocation that would succeed now with 64-byte alignment. */
  largestFree: number;
  /** Allocated blocks. */
  allocations: number;
  /** Free blocks (fragments). */
  freeBlocks: number;
}

/**
 * One allocated block of the region's heap (`eal.heapBlocks()`): region offset and size in bytes, tag, owner pid, allocation time (`Date.now()`).
 */
export interface HeapBlock {
  /** Region offset of the block's first usable byte. */
  offset: number;
  /** Usable bytes. */
  size: number;
  /** The name given to `malloc` (or the memzone's). */
  tag: string;
  /** Pid that allocated it. */
  owner: number;
  /** When it was allocated (`Date.now()`). */
  time: number;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

export class Heap {
  constructor(private readonly r: Region) {}

  get start(): number {
    return this.r.checkSpan(this.r.u32At(HDR.HEAP_START), BLK.BYTES, 'heap start');
  }

  get end(): number {
    return this.r.size;
  }

  /** Format the heap as one free block (primary, during initialisation). */
  format(): void {
    const { r } = this;
    const start = this.start;
    const size = Math.floor((r.size - start) / BLK.BYTES) * BLK.BYTES;
    r.u8.fill(0, start, start + BLK.BYTES);
    r.u32[(start + BLK.SIZE) >>> 2] = size;
    r.u32[(start + BLK.STATE) >>> 2] = BLOCK_FREE;
  }

  private checkBlock(off: number): number {
    this.r.checkSpan(off, BLK.BYTES, 'heap block header');
    const size = this.r.u32[(off + BLK.SIZE) >>> 2]!;
    const state = this.r.u32[(off + BLK.STATE) >>> 2]!;
    if (size < BLK.BYTES || size % BLK.BYTES !== 0 || off + size > this.end || (state !== BLOCK_FREE && state !== BLOCK_USED)) {
      throw new MpdkError('EIO', `the shared heap is damaged at offset ${off} (size ${size}, state 0x${state.toString(16)}); the instance must be restarted (mpdk cleanup)`);
    }
    return size;
  }

  /**
   * Allocate `size` bytes aligned to `align` (a power of two). Caller holds the alloc lock.
   * Returns the payload offset, or -1 when no block fits (nothing changed then).
   */
  allocLocked(size: number, align: number, tag: string): number {
    const { r } = this;
    const need = alignUp(Math.max(size, 1), BLK.BYTES) + BLK.BYTES;
    const a = Math.max(align, BLK.BYTES);
    for (let off = this.start; off < this.end; ) {
      let bsize = this.checkBlock(off);
      if (r.u32[(off + BLK.STATE) >>> 2] === BLOCK_FREE) {
        // Coalesce free successors (one store each; see header).
        for (let next = off + bsize; next < this.end && r.u32[(next + BLK.STATE) >>> 2] === BLOCK_FREE; next = off + bsize) {
          bsize += this.checkBlock(next);
          r.u32[(off + BLK.SIZE) >>> 2] = bsize;
        }
        let blk = off;
        let payload = blk + BLK.BYTES;
        if (payload % a !== 0) {
          payload = alignUp(blk + MIN_SPLIT, a);
          blk = payload - BLK.BYTES;
        }
        const front = blk - off;
        if (front + need <= bsize) {
          if (front > 0) {
            this.writeHeader(blk, bsize - front, BLOCK_FREE);
            r.u32[(off + BLK.SIZE) >>> 2] = front;
            bsize -= front;
          }
          if (bsize - need >= MIN_SPLIT) {
            this.writeHeader(blk + need, bsize - need, BLOCK_FREE);
            r.u32[(blk + BLK.SIZE) >>> 2] = need;
          }
          r.i32[(blk + BLK.OWNER) >>> 2] = process.pid;
          r.writeString(blk + BLK.TAG, BLK.TAG_MAX - 1, tag.slice(0, BLK.TAG_MAX - 1));
          r.f64[(blk + BLK.TIME) >>> 3] = Date.now();
          r.storeRelease(blk + BLK.STATE, BLOCK_USED);
          return blk + BLK.BYTES;
        }
      }
      off += bsize;
    }
    return -1;
  }

  private writeHeader(off: number, size: number, state: number): void {
    const { r } = this;
    r.u8.fill(0, off, off + BLK.BYTES);
    r.u32[(off + BLK.SIZE) >>> 2] = size;
    r.u32[(off + BLK.STATE) >>> 2] = state;
  }

  /** Return the block whose payload is at `payload`. Caller holds the alloc lock. */
  freeLocked(payload: number): void {
    const blk = payload - BLK.BYTES;
    if (blk < this.start || blk >= this.end || blk % BLK.BYTES !== 0) throw new MpdkError('EINVAL', `offset ${payload} is not a heap block`);
    for (let off = this.start; off < this.end; off += this.checkBlock(off)) {
      if (off === blk) {
        if (this.r.u32[(off + BLK.STATE) >>> 2] !== BLOCK_USED) throw new MpdkError('EINVAL', `heap block at ${payload} is already free (double free)`);
        this.r.storeRelease(off + BLK.STATE, BLOCK_FREE);
        return;
      }
      if (off > blk) break;
    }
    throw new MpdkError('EINVAL', `offset ${payload} is not the start of a heap block`);
  }

  /** Payload size of the used block at `payload` (headers excluded). */
  blockSize(payload: number): number {
    this.r.checkSpan(payload - BLK.BYTES, BLK.BYTES, 'heap block header');
    return this.r.u32[(payload - BLK.BYTES + BLK.SIZE) >>> 2]! - BLK.BYTES;
  }

  /** Walk without the lock (for info): the chain is valid after every single store. */
  stats(): HeapStats {
    let free = 0;
    let largest = 0;
    let run = 0;
    let allocations = 0;
    let freeBlocks = 0;
    for (let off = this.start; off < this.end; ) {
      const size = this.checkBlock(off);
      if (this.r.u32[(off + BLK.STATE) >>> 2] === BLOCK_FREE) {
        // Adjacent free blocks coalesce on the next allocation: count them as one.
        if (run === 0) freeBlocks++;
        run += size;
        free = free + size - (run === size ? BLK.BYTES : 0);
        largest = Math.max(largest, run - BLK.BYTES);
      } else {
        allocations++;
        run = 0;
      }
      off += size;
    }
    return { total: this.end - this.start, free, largestFree: largest, allocations, freeBlocks };
  }

  /** Used blocks, in address order. */
  blocks(): HeapBlock[] {
    const out: HeapBlock[] = [];
    const { r } = this;
    for (let off = this.start; off < this.end; ) {
      const size = this.checkBlock(off);
      if (r.u32[(off + BLK.STATE) >>> 2] === BLOCK_USED) {
        out.push({ offset: off + BLK.BYTES, size: size - BLK.BYTES, tag: r.readString(off + BLK.TAG, BLK.TAG_MAX), owner: r.i32[(off + BLK.OWNER) >>> 2]!, time: r.f64[(off + BLK.TIME) >>> 3]! });
      }
      off += size;
    }
    return out;
  }
}
