/**
 * Memzones: named, fixed blocks of the shared region (DPDK's rte_memzone). Rings,
 * mempools and applications' shared structs live in memzones; any process of the
 * instance can reserve one and look one up by name.
 *
 *   table entry (MZ), MEMZONE_MAX entries   written by
 *   0   STATE   u32 FREE|RESERVING|READY     alloc-lock holder; READY stored last (release)
 *   4   OFFSET  u32 payload offset           alloc-lock holder, before READY
 *   8   LENGTH  u32 bytes asked for          alloc-lock holder, before READY
 *   12  ALIGN   u32
 *   16  CREATOR i32 pid
 *   24  NAME    32 bytes, NUL-terminated     written while RESERVING
 *   56  TIME    f64 Date.now()
 *
 * Reserve and free run under the region's alloc lock; lookup is lock-free (it reads only
 * READY entries with an acquire load). A holder killed half-way leaves either a
 * RESERVING entry or an unreferenced "mz:" heap block: `repairLocked` rolls both back.
 */
import { MpdkError } from './errors.js';
import { BLK, Heap } from './heap.js';
import { ACQUIRED, RobustLock } from './lock.js';
import type { Region } from './region.js';
import { processStartTime, processState, START_GONE } from '../native/libc.js';
import { HDR, mib } from './region.js';

export const MZ = { STATE: 0, OFFSET: 4, LENGTH: 8, ALIGN: 12, CREATOR: 16, NAME: 24, NAME_MAX: 32, TIME: 56, BYTES: 64 } as const;
export const MEMZONE_MAX = 512;
export const MEMZONE_TABLE_BYTES = MEMZONE_MAX * MZ.BYTES;
/** Longest memzone name in bytes (DPDK's RTE_MEMZONE_NAMESIZE - 1). */
export const MEMZONE_NAMESIZE = MZ.NAME_MAX - 1;

const enum MzState {
  FREE = 0,
  RESERVING = 1,
  READY = 2,
}

/** A named zone of the region (DPDK's rte_memzone): byte offset and length, alignment, creator pid. */
export interface Memzone {
  /** Its name (unique in the instance). */
  name: string;
  /** Byte offset of the zone in the region. */
  offset: number;
  /** Its length in bytes. */
  length: number;
  /** Its alignment in bytes. */
  align: number;
  /** Pid of the process that reserved it. */
  creator: number;
  /** When it was reserved (`Date.now()`). */
  time: number;
}

const TAG_PREFIX = 'mz:';

/** Check a shared-object name (memzones, rings, pools): 1..31 bytes of UTF-8, no NUL. */
export function checkName(name: string, what = 'name', max = MEMZONE_NAMESIZE): Buffer {
  const bytes = Buffer.from(String(name), 'utf8');
  if (typeof name !== 'string' || bytes.length === 0 || bytes.length > max || bytes.includes(0)) {
    throw new MpdkError('EINVAL', `invalid ${what} '${String(name).slice(0, 64)}': it must be 1 to ${max} bytes of text without NUL (it is ${bytes.length})`);
  }
  return bytes;
}

/**
 * An object laid out in a memzone becomes usable when its creator stores its magic
 * (release). A lookup that finds the memzone first waits here, bounded, for `ready()`:
 * while the creator lives it waits up to `timeoutMs`; a creator that died half-way is an
 * error naming it (the object must be freed and created again).
 */
export function awaitCreated(mz: Memzone, ready: () => boolean, what: string, timeoutMs = 2000): void {
  if (ready()) return;
  const end = performance.now() + timeoutMs;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (ready()) return;
    if (processStartTime(mz.creator) === START_GONE) {
      if (ready()) return;
      throw new MpdkError('EIO', `${what} was never finished: its creator (pid ${mz.creator}) died while creating it; free it and create it again`);
    }
    if (performance.now() > end) throw new MpdkError('ETIMEDOUT', `${what} is still being created by pid ${mz.creator} (${processState(mz.creator)}) after ${timeoutMs} ms`);
    Atomics.wait(cell, 0, 0, 1);
  }
}

export class Memzones {
  private readonly table: number;

  constructor(private readonly r: Region, private readonly heap: Heap, private readonly lock: RobustLock) {
    this.table = r.checkSpan(r.u32At(HDR.MEMZONE_TABLE), MEMZONE_TABLE_BYTES, 'memzone table');
  }

  private entry(i: number): number {
    return this.table + i * MZ.BYTES;
  }

  private nameEquals(e: number, bytes: Buffer): boolean {
    const u8 = this.r.u8;
    const off = e + MZ.NAME;
    for (let j = 0; j < bytes.length; j++) if (u8[off + j] !== bytes[j]) return false;
    return u8[off + bytes.length] === 0;
  }

  private find(bytes: Buffer, includeReserving: boolean): number {
    for (let i = 0; i < MEMZONE_MAX; i++) {
      const e = this.entry(i);
      const st = this.r.loadAcquire(e + MZ.STATE);
      if ((st === MzState.READY || (includeReserving && st === MzState.RESERVING)) && this.nameEquals(e, bytes)) return e;
    }
    return -1;
  }

  private describe(e: number): Memzone {
    const r = this.r;
    const name = r.readString(e + MZ.NAME, MZ.NAME_MAX);
    const offset = r.u32At(e + MZ.OFFSET);
    const length = r.u32At(e + MZ.LENGTH);
    // Whoever follows a memzone dereferences [offset, offset + length): check it once here.
    r.checkSpan(offset, length, `memzone '${name}'`);
    return {
      name,
      offset,
      length,
      align: r.u32At(e + MZ.ALIGN),
      creator: r.i32[(e + MZ.CREATOR) >>> 2]!,
      time: r.f64[(e + MZ.TIME) >>> 3]!,
    };
  }

  /**
   * Reserve `length` zeroed bytes named `name`, aligned to `align` (a power of two, 64 at
   * least). EEXIST for a taken name, ENOSPC when the table or the heap has no room,
   * EINVAL for a bad name, length or alignment; every refusal changes nothing.
   */
  reserve(name: string, length: number, align = 64): Memzone {
    const bytes = checkName(name, 'memzone name');
    if (!Number.isInteger(length) || length <= 0 || length >= this.r.size) {
      throw new MpdkError('EINVAL', `invalid memzone length ${length} for '${name}': it must be a whole number of bytes from 1 to ${this.r.size - 1}`);
    }
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0 || align > 1 << 30) {
      throw new MpdkError('EINVAL', `invalid memzone alignment ${align} for '${name}': it must be a power of two`);
    }
    return this.withLock((r) => {
      if (this.find(bytes, true) >= 0) throw new MpdkError('EEXIST', `a memzone named '${name}' already exists`);
      let e = -1;
      for (let i = 0; i < MEMZONE_MAX && e < 0; i++) if (r.u32At(this.entry(i) + MZ.STATE) === MzState.FREE) e = this.entry(i);
      if (e < 0) throw new MpdkError('ENOSPC', `cannot reserve memzone '${name}': all ${MEMZONE_MAX} memzone entries are in use; free some first`);
      r.u8.fill(0, e, e + MZ.BYTES);
      r.u8.set(bytes, e + MZ.NAME);
      r.storeRelease(e + MZ.STATE, MzState.RESERVING);
      const payload = this.heap.allocLocked(length, align, TAG_PREFIX + name);
      if (payload < 0) {
        r.storeRelease(e + MZ.STATE, MzState.FREE);
        const st = this.heap.stats();
        throw new MpdkError('ENOSPC', `cannot reserve memzone '${name}' of ${length} bytes: the largest free block is ${st.largestFree} bytes (region ${mib(r.size)} MiB; start the primary with a larger -m)`);
      }
      r.u8.fill(0, payload, payload + length);
      r.u32[(e + MZ.OFFSET) >>> 2] = payload;
      r.u32[(e + MZ.LENGTH) >>> 2] = length;
      r.u32[(e + MZ.ALIGN) >>> 2] = align;
      r.i32[(e + MZ.CREATOR) >>> 2] = process.pid;
      r.f64[(e + MZ.TIME) >>> 3] = Date.now();
      r.storeRelease(e + MZ.STATE, MzState.READY);
      return this.describe(e);
    });
  }

  /** Find a memzone by name; ENOENT when there is none. */
  lookup(name: string): Memzone {
    const found = this.tryLookup(name);
    if (!found) throw new MpdkError('ENOENT', `no memzone named '${name}'`);
    return found;
  }

  tryLookup(name: string): Memzone | undefined {
    const bytes = checkName(name, 'memzone name');
    const e = this.find(bytes, false);
    return e < 0 ? undefined : this.describe(e);
  }

  /** Free a memzone; its memory returns to the heap. ENOENT when there is none. */
  free(name: string): void {
    const bytes = checkName(name, 'memzone name');
    this.withLock((r) => {
      const e = this.find(bytes, false);
      if (e < 0) throw new MpdkError('ENOENT', `no memzone named '${name}' to free`);
      const payload = r.u32At(e + MZ.OFFSET);
      r.storeRelease(e + MZ.STATE, MzState.FREE); // lookups stop seeing it first
      this.heap.freeLocked(payload);
    });
  }

  list(): Memzone[] {
    const out: Memzone[] = [];
    for (let i = 0; i < MEMZONE_MAX; i++) {
      const e = this.entry(i);
      if (this.r.loadAcquire(e + MZ.STATE) === MzState.READY) out.push(this.describe(e));
    }
    return out.sort((a, b) => a.offset - b.offset);
  }

  /** Run `fn` under the alloc lock, repairing first if the previous holder died in it. */
  withLock<T>(fn: (r: Region) => T): T {
    const got = this.lock.acquire({ what: 'the memzone table and heap' });
    try {
      if (got !== ACQUIRED) this.repairLocked();
      return fn(this.r);
    } finally {
      this.lock.release();
    }
  }

  /** Roll back what a holder killed in reserve/free left: see the file header. */
  repairLocked(): void {
    const r = this.r;
    const referenced = new Set<number>();
    for (let i = 0; i < MEMZONE_MAX; i++) {
      const e = this.entry(i);
      const st = r.u32At(e + MZ.STATE);
      if (st === MzState.RESERVING) r.storeRelease(e + MZ.STATE, MzState.FREE);
      else if (st === MzState.READY) referenced.add(r.u32At(e + MZ.OFFSET));
    }
    for (const b of this.heap.blocks()) {
      if (b.tag.startsWith(TAG_PREFIX) && !referenced.has(b.offset)) this.heap.freeLocked(b.offset);
    }
  }

  /** Heap block header offset of a memzone payload (for tools). */
  static blockOf(offset: number): number {
    return offset - BLK.BYTES;
  }
}
