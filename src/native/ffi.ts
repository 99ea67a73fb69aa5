/**
 * The one place koffi loads libc: every other file of this layer takes `libc` from here,
 * and reports a failed call as a `NativeError` (the errno and its name).
 *
 * Everything above src/native sees ArrayBuffers, numbers and file descriptors, never koffi.
 * Pitfalls measured before this layer was written:
 * - `koffi.view` does not own the mapping; GC never unmaps it (memory.ts).
 * - A view is at most 4 GiB; larger requests abort the process (memory.ts refuses).
 * - `Atomics.wait` does not work on mapped buffers; cross-process sleep is a futex (futex.ts).
 * - Classic fcntl locks vanish when any fd of the file is closed: we use flock (files.ts).
 */
import koffi from 'koffi';

export { koffi };

/** libc.so.6, loaded once. */
export const libc = koffi.load('libc.so.6');

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM',
  13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 23: 'ENFILE',
  24: 'EMFILE', 27: 'EFBIG', 28: 'ENOSPC', 32: 'EPIPE', 36: 'ENAMETOOLONG', 38: 'ENOSYS', 39: 'ENOTEMPTY', 40: 'ELOOP',
  90: 'EMSGSIZE', 95: 'EOPNOTSUPP', 98: 'EADDRINUSE', 104: 'ECONNRESET', 107: 'ENOTCONN', 110: 'ETIMEDOUT', 111: 'ECONNREFUSED',
};

/** errno's name (ENOENT, ...), or "errno N" for one this table does not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** A libc call that failed: `call failed: CODE`. */
export class NativeError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(call: string, errno: number) {
    const code = errnoName(errno);
    super(`${call} failed: ${code}`);
    this.errno = errno;
    this.code = code;
  }
}

/** errno of the last koffi call on this thread. */
export function errno(): number {
  return koffi.errno();
}

/** Throw the NativeError of the call that just failed. */
export function fail(call: string): never {
  throw new NativeError(call, koffi.errno());
}

/** Address of a Buffer's bytes, for pointers the kernel follows during one call (iovecs). */
export function bufferAddress(buf: Buffer): number {
  return Number(koffi.address(buf));
}
