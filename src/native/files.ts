/**
 * Files opened relative to a folder descriptor, never through a link (openat, mkdirat,
 * unlinkat, renameat2), space reserved up front (fallocate), whole-file locks (flock).
 *
 * Why through a folder descriptor: a path walked again for each call can be redirected
 * between two calls by whoever may write a folder on it (another user in /dev/shm).
 * A folder opened once with O_NOFOLLOW|O_DIRECTORY and checked with fstat stays that
 * folder; names opened inside it with O_NOFOLLOW cannot lead anywhere else.
 *
 * Classic fcntl locks vanish when any fd of the file is closed: we use flock.
 * These calls return -errno (or throw NativeError where a caller cannot go on); they
 * are set-up paths, never per packet.
 */
import fs from 'node:fs';
import { koffi, libc, NativeError } from './ffi.js';

const c = {
  openat: libc.func('int openat(int dirfd, const char *path, int flags, ...)'),
  mkdirat: libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  unlinkat: libc.func('int unlinkat(int dirfd, const char *path, int flags)'),
  renameat2: libc.func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)'),
  fallocate: libc.func('int fallocate(int fd, int mode, int64_t off, int64_t len)'),
  flock: libc.func('int flock(int fd, int op)'),
  close: libc.func('int close(int fd)'),
};

/** open(2) flags (Linux, x86-64 and arm64 agree on these). */
export const O_RDONLY = fs.constants.O_RDONLY;
export const O_RDWR = fs.constants.O_RDWR;
export const O_CREAT = fs.constants.O_CREAT;
export const O_EXCL = fs.constants.O_EXCL;
export const O_TRUNC = fs.constants.O_TRUNC;
export const O_NOFOLLOW = fs.constants.O_NOFOLLOW;
export const O_NONBLOCK = fs.constants.O_NONBLOCK;
export const O_DIRECTORY = fs.constants.O_DIRECTORY;
export const O_CLOEXEC = 0o2000000;
const AT_REMOVEDIR = 0x200;

/** openat(2) with O_NOFOLLOW|O_CLOEXEC added. Returns the fd, or -errno. */
export function openAt(dirfd: number, name: string, flags: number, mode = 0o600): number {
  const fd = c.openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 'uint32_t', mode) as number;
  return fd >= 0 ? fd : -koffi.errno();
}

/** mkdirat(2). Returns 0 or -errno (-EEXIST when something has that name). */
export function mkdirAt(dirfd: number, name: string, mode: number): number {
  return (c.mkdirat(dirfd, name, mode) as number) === 0 ? 0 : -koffi.errno();
}

/** unlinkat(2): removes the name itself (a link is removed, never followed). 0 or -errno. */
export function unlinkAt(dirfd: number, name: string, isDir = false): number {
  return (c.unlinkat(dirfd, name, isDir ? AT_REMOVEDIR : 0) as number) === 0 ? 0 : -koffi.errno();
}

const RENAME_NOREPLACE = 1;

/** renameat2(2) with RENAME_NOREPLACE, inside folder `dirfd`: `from` takes the name `to` unless something has it (-EEXIST). 0 or -errno. */
export function renameNoReplace(dirfd: number, from: string, to: string): number {
  return (c.renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) as number) === 0 ? 0 : -koffi.errno();
}

/**
 * Reserve `len` bytes of file `fd` (fallocate(2), mode 0): afterwards no page of it can
 * fail for want of space (no SIGBUS on first touch). 0, or -errno (-ENOSPC, -EOPNOTSUPP).
 */
export function reserve(fd: number, len: number): number {
  for (;;) {
    if ((c.fallocate(fd, 0, 0, len) as number) === 0) return 0;
    const e = koffi.errno();
    if (e !== 4 /* EINTR */) return -e;
  }
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2). Returns true when taken, false when LOCK_NB was given and it is held elsewhere. */
export function flock(fd: number, op: number): boolean {
  const r = c.flock(fd, op) as number;
  if (r === 0) return true;
  const e = koffi.errno();
  if (e === 11 /* EWOULDBLOCK */) return false;
  throw new NativeError('flock', e);
}

/** close(2) a descriptor this layer opened; errors are ignored. */
export function closeFd(fd: number): void {
  if (fd >= 0) c.close(fd);
}
