/**
 * Shared mappings of files (mmap/munmap). A mapping lives until the process exits:
 * `koffi.view` does not own it, and a view touched after `munmap` is SIGSEGV.
 */
import { koffi, libc, NativeError } from './ffi.js';

const c = {
  mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
  munmap: libc.func('int munmap(void *addr, size_t len)'),
};

const MAP_FAILED = 0xffffffffffffffffn;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

/** Largest view koffi can make without aborting the process. */
export const MAX_MAPPING = 2 ** 32;

/** A shared mapping of a file. Lives until the process exits (see file header). */
export interface Mapping {
  readonly ptr: bigint;
  /** The mapping's address as a Number (exact: user addresses are below 2^47). */
  readonly addr: number;
  readonly buffer: ArrayBuffer;
  readonly size: number;
  readonly readOnly: boolean;
}

/**
 * Map `size` bytes of the file open at `fd`, shared. The fd may be closed afterwards.
 * `readOnly` maps with PROT_READ only: a write through the view kills the process
 * (SIGSEGV), which is what read-only observers want.
 */
export function mapFd(fd: number, size: number, readOnly = false): Mapping {
  if (!(size > 0 && size < MAX_MAPPING)) throw new RangeError(`mapping size ${size} must be in 1..${MAX_MAPPING - 1}`);
  const prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE;
  const ptr = c.mmap(null, size, prot, MAP_SHARED, fd, 0) as bigint;
  if (ptr === MAP_FAILED) throw new NativeError('mmap', koffi.errno());
  const buffer = koffi.view(ptr, size) as ArrayBuffer;
  return { ptr, addr: Number(ptr), buffer, size, readOnly };
}

const MAP_ANONYMOUS = 0x20;

/**
 * `size` bytes of anonymous shared memory (MAP_SHARED | MAP_ANONYMOUS): zero-filled, backed
 * by no file, shared with the process's threads (and with children it would fork, which Node
 * does not). What `--in-memory` keeps its region in.
 */
export function mapAnonymous(size: number): Mapping {
  if (!(size > 0 && size < MAX_MAPPING)) throw new RangeError(`mapping size ${size} must be in 1..${MAX_MAPPING - 1}`);
  const ptr = c.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) as bigint;
  if (ptr === MAP_FAILED) throw new NativeError('mmap', koffi.errno());
  return { ptr, addr: Number(ptr), buffer: koffi.view(ptr, size) as ArrayBuffer, size, readOnly: false };
}

/**
 * A view of a mapping this process already made (`addr`, `size` from it): how a worker thread
 * sees its process's anonymous region. The mapping stays its maker's: never unmap this one.
 */
export function viewMapping(addr: number, size: number): Mapping {
  const ptr = BigInt(addr);
  return { ptr, addr, buffer: koffi.view(ptr, size) as ArrayBuffer, size, readOnly: false };
}

/** Unmap. Every view of the mapping must be dead: touching one afterwards is SIGSEGV. */
export function unmap(m: Mapping): void {
  c.munmap(m.ptr, m.size);
}
