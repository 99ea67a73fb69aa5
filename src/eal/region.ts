/**
 * The shared region: one file (in /dev/shm, or hugetlbfs with --huge-dir) that every
 * process of an instance maps whole. Every reference stored in it is a byte offset from
 * its start, so each process may map it at a different address.
 *
 *   offset  size   what                         written by
 *   0       256    header (HDR below)           primary, before state = READY
 *   256     3840   config: primary's options    primary, before state = READY
 *                  as JSON (ports, vdevs, ...)
 *   4096    ...    process table (process-table.ts)
 *           ...    lcore table   (lcore-table.ts)
 *           ...    memzone table (memzone.ts)
 *           ...    event log     (event-log.ts)
 *   heap    →end   shared heap   (heap.ts): memzones, rings, pools live here
 *
 * Who reads what: a secondary validates magic, version, layout hash and the sizes before
 * it reads anything else through the header (a truncated or foreign file is an error,
 * never a read outside the mapping), then waits (bounded) for state READY.
 */
import fs from 'node:fs';
import { closeFd, errnoName, mapFd, reserve, type Mapping } from '../native/libc.js';
import type { RegionPlace } from './instance.js';
import type { SafeDir } from './safe-open.js';
import { MpdkError } from './errors.js';

export const REGION_MAGIC = 0x4b44504d; // 'MPDK' little-endian
/** Bumped whenever any EAL layout in this folder changes. */
export const REGION_VERSION = 2;

/** Header fields: byte offsets. One table; nothing else in the code uses these numbers. */
export const HDR = {
  MAGIC: 0, // u32
  VERSION: 4, // u32
  LAYOUT_HASH: 8, // u32
  STATE: 12, // u32, RegionState; primary stores READY last (release), readers load-acquire
  SIZE: 16, // u32 bytes of the whole region
  GENERATION: 20, // u32, incremented by each initialisation of the file
  PRIMARY_PID: 24, // i32, pid of the primary that initialised or adopted the region
  CONFIG_LEN: 28, // u32 bytes of JSON at CONFIG
  PRIMARY_START: 32, // f64, start time (clock ticks) of that primary
  CREATED_MS: 40, // f64, Date.now() at initialisation
  PROC_TABLE: 48, // u32 offset
  LCORE_TABLE: 52, // u32 offset
  MEMZONE_TABLE: 56, // u32 offset
  HEAP_START: 60, // u32 offset
  ALLOC_LOCK: 64, // robust lock (lock.ts) guarding heap + memzone table; own cache line
  PROC_LOCK: 128, // robust lock guarding process-table re-initialisation decisions; own line
  EVENT_LOG: 192, // u32 offset of the event log (event-log.ts)
  BYTES: 256,
} as const;
export const CONFIG_OFFSET = HDR.BYTES;
export const CONFIG_MAX = 4096 - HDR.BYTES;
export const TABLES_OFFSET = 4096;

export const enum RegionState {
  INITIALIZING = 0,
  READY = 1,
  /** The last process left: the files are being removed; attaching must fail. */
  CLOSED = 2,
}

/** FNV-1a over a string: the layout hash of the EAL tables. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A mapped region and its typed views. Offsets are bytes; `u32[off >> 2]` etc. */
export class Region {
  readonly mapping: Mapping;
  readonly path: string;
  readonly buffer: ArrayBuffer;
  readonly size: number;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly dv: DataView;

  constructor(path: string, mapping: Mapping) {
    this.path = path;
    this.mapping = mapping;
    this.buffer = mapping.buffer;
    this.size = mapping.size;
    this.u8 = new Uint8Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.dv = new DataView(this.buffer);
  }

  /**
   * The offset `off` after checking that `[off, off + len)` lies inside the region.
   * Every reader that follows an offset or a length it loaded from shared memory (another
   * process wrote it; a crash or a foreign writer may have left anything there) calls this
   * before it dereferences, so a damaged region is reported as
   * `corrupt region PATH: WHAT (offset X beyond SIZE)`, never as a RangeError.
   */
  checkSpan(off: number, len: number, what: string): number {
    if (!(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= this.size)) {
      throw new MpdkError('EIO', `corrupt region ${this.path}: ${what} (offset ${off}${len > 1 ? ` + ${len}` : ''} beyond ${this.size}); stop its processes and remove it with mpdk cleanup`);
    }
    return off;
  }

  get readOnly(): boolean {
    return this.mapping.readOnly;
  }

  u32At(off: number): number {
    return this.u32[off >>> 2]!;
  }

  /** Acquire load of a 32-bit word: pairs with a release store (`storeRelease`) by the writer. */
  loadAcquire(off: number): number {
    return Atomics.load(this.i32, off >>> 2);
  }

  storeRelease(off: number, v: number): void {
    Atomics.store(this.i32, off >>> 2, v);
  }

  readString(off: number, max: number): string {
    const end = this.u8.indexOf(0, off);
    const stop = end < 0 || end > off + max ? off + max : end;
    return Buffer.from(this.buffer, off, stop - off).toString('utf8');
  }

  /** Write `s` NUL-terminated into `max` bytes (caller checked its length). */
  writeString(off: number, max: number, s: string): void {
    this.u8.fill(0, off, off + max);
    Buffer.from(this.buffer, off, max).write(s, 'utf8');
  }

  get state(): RegionState {
    return this.loadAcquire(HDR.STATE) as RegionState;
  }

  /** Date.now() when the region was initialised. */
  get createdMs(): number {
    return this.f64[HDR.CREATED_MS >>> 3]!;
  }

  get generation(): number {
    return this.u32At(HDR.GENERATION);
  }

  config<T = unknown>(): T {
    const len = this.u32At(HDR.CONFIG_LEN);
    if (len === 0) return {} as T;
    if (len > CONFIG_MAX) throw new MpdkError('EIO', `corrupt region ${this.path}: configuration length ${len} beyond its ${CONFIG_MAX}-byte area; stop its processes and remove it with mpdk cleanup`);
    try {
      return JSON.parse(Buffer.from(this.buffer, CONFIG_OFFSET, len).toString('utf8')) as T;
    } catch {
      throw new MpdkError('EIO', `corrupt region ${this.path}: its configuration (${len} bytes at ${CONFIG_OFFSET}) is not JSON; stop its processes and remove it with mpdk cleanup`);
    }
  }

  /** Replace the stored configuration (primary, before READY, or under the alloc lock). */
  setConfig(value: unknown): void {
    const bytes = Buffer.from(JSON.stringify(value), 'utf8');
    if (bytes.length > CONFIG_MAX) throw new MpdkError('ENOSPC', `instance configuration is ${bytes.length} bytes; at most ${CONFIG_MAX} fit`);
    this.u8.set(bytes, CONFIG_OFFSET);
    this.u32[HDR.CONFIG_LEN >>> 2] = bytes.length;
  }
}

const MIB = 1024 * 1024;

/** Bytes as MiB for messages (unsigned: 2 GiB and more print right). */
export function mib(bytes: number): string {
  const m = bytes / MIB;
  return Number.isInteger(m) ? String(m) : m.toFixed(1);
}

/** The kind of filesystem holding `dir`, for messages: 'hugetlbfs', 'tmpfs', or its statfs type in hex. */
export function filesystemOf(dir: SafeDir): string {
  try {
    const t = fs.statfsSync(`/proc/self/fd/${dir.fd}`).type >>> 0;
    return t === 0x958458f6 ? 'hugetlbfs' : t === 0x01021994 ? 'tmpfs' : `a filesystem of type 0x${t.toString(16)}, not hugetlbfs`;
  } catch {
    return 'filesystem unknown';
  }
}

/**
 * Create the region file `place` exclusively (mode 0600), reserve `size` bytes of it
 * (fallocate: no page can later fail for want of space, so no SIGBUS) and map it. A stale
 * file of that name is removed first (never followed). A region that does not fit is
 * refused in one line saying how much is free and what to do; nothing is left behind.
 */
export function createRegionFile(place: RegionPlace, size: number): Region {
  const { dir, name, path } = place;
  let fd = dir.createExclusive(name, 'the shared region');
  if (fd < 0) {
    dir.remove(name);
    fd = dir.createExclusive(name, 'the shared region');
    if (fd < 0) throw new MpdkError('EEXIST', `the shared region ${path} appeared while it was being created; is another primary starting with the same --file-prefix?`);
  }
  let ok = false;
  try {
    const tooBig = (free: number): MpdkError => new MpdkError('ENOMEM',
      `the shared region needs ${mib(size)} MiB but ${place.hugetlbfs ? `--huge-dir ${dir.path}` : dir.path} has ${mib(free)} MiB free; ` +
      `start with a smaller -m (at most ${Math.max(0, Math.floor(free / MIB) - 1)}), free space there, or use --huge-dir DIR`);
    const fsStat = fs.statfsSync(`/proc/self/fd/${dir.fd}`);
    const free = fsStat.bavail * fsStat.bsize;
    if (size > free) throw tooBig(free);
    try {
      fs.ftruncateSync(fd, size);
    } catch (e) {
      throw new MpdkError('ENOMEM', `cannot size the shared region ${path} to ${size} bytes (${(e as Error).message}); on hugetlbfs the size must be a multiple of the page size`);
    }
    const r = reserve(fd, size);
    if (r === -28 /* ENOSPC */) throw tooBig(free);
    if (r < 0 && r !== -95 /* EOPNOTSUPP: statfs above is all we can check */) {
      throw new MpdkError('ENOMEM', `cannot reserve ${mib(size)} MiB for the shared region ${path} (fallocate: ${errnoName(-r)})`);
    }
    let region: Region;
    try {
      region = new Region(path, mapFd(fd, size));
    } catch (e) {
      throw new MpdkError('ENOMEM', `cannot map the shared region ${path} (${(e as Error).message}); try a smaller -m or free hugepages`);
    }
    ok = true;
    return region;
  } finally {
    closeFd(fd);
    if (!ok) dir.remove(name);
  }
}

/**
 * Map an existing region after validating its header against this code. Refuses a file
 * that is not a regular file of ours, too small, foreign, of another version or layout.
 */
export function openRegionFile(place: RegionPlace, layoutHash: number, version: string, readOnly = false): Region {
  const { path } = place;
  const fd = place.dir.openExisting(place.name, !readOnly, 'the shared region');
  if (fd < 0) throw new MpdkError('ENOENT', `no shared region at ${path}`);
  try {
    const st = fs.fstatSync(fd);
    // A primary creating the file sizes it first and writes the magic last.
    if (st.size === 0) throw new MpdkError('EBUSY', `the shared region ${path} is being initialised`);
    if (st.size < TABLES_OFFSET) throw new MpdkError('EINVAL', `the shared region ${path} is truncated (${st.size} bytes); remove it with mpdk cleanup`);
    // Read the header with a plain read first: nothing is mapped until it checks out.
    const hdr = Buffer.alloc(HDR.BYTES);
    fs.readSync(fd, hdr, 0, HDR.BYTES, 0);
    const magic = hdr.readUInt32LE(HDR.MAGIC);
    if (magic === 0) throw new MpdkError('EBUSY', `the shared region ${path} is being initialised`);
    if (magic !== REGION_MAGIC) throw new MpdkError('EINVAL', `${path} is not an mpdk region (bad magic 0x${magic.toString(16)}); remove it with mpdk cleanup`);
    const size = hdr.readUInt32LE(HDR.SIZE);
    if (size !== st.size) throw new MpdkError('EINVAL', `the shared region ${path} is ${st.size} bytes but its header says ${size}; it is damaged: remove it with mpdk cleanup`);
    const ver = hdr.readUInt32LE(HDR.VERSION);
    const hash = hdr.readUInt32LE(HDR.LAYOUT_HASH);
    if (ver !== REGION_VERSION || hash !== layoutHash) {
      throw new MpdkError('EPROTO', `the instance was created by other mpdk code (region format ${ver}, layout ${hash.toString(16)}); this is mpdk ${version} (format ${REGION_VERSION}, layout ${layoutHash.toString(16)}): run the same mpdk version in every process`);
    }
    const tablesOk = [HDR.PROC_TABLE, HDR.LCORE_TABLE, HDR.MEMZONE_TABLE, HDR.EVENT_LOG, HDR.HEAP_START].every((f) => {
      const v = hdr.readUInt32LE(f);
      return v >= TABLES_OFFSET && v < size;
    });
    if (!tablesOk) throw new MpdkError('EINVAL', `the shared region ${path} has table offsets outside the file; it is damaged: remove it with mpdk cleanup`);
    return new Region(path, mapFd(fd, size, readOnly));
  } finally {
    closeFd(fd);
  }
}
