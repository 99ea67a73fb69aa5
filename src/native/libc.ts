/**
 * libc through koffi: the only file in mpdk that imports koffi.
 *
 * Everything above this layer sees ArrayBuffers, numbers and file descriptors. The
 * wrappers that set up state throw `NativeError` (with errno and its name); the ones
 * used on idle paths (futex, sched_yield) return raw results and never allocate on
 * the common path.
 *
 * Pitfalls measured before this file was written (see shared/NATIVE-LAYER.md):
 * - `koffi.view` does not own the mapping; GC never unmaps it. A view touched after
 *   `munmap` kills the process with SIGSEGV, so mappings are unmapped only at exit.
 * - A view is at most 4 GiB; larger requests abort the process. `mapShared` refuses.
 * - `Atomics.wait` does not work on these buffers; cross-process sleep is a futex on
 *   a word of the region (shared, never the _PRIVATE ops).
 * - Classic fcntl locks vanish when any fd of the file is closed: we use flock.
 */
import koffi from 'koffi';
import fs from 'node:fs';

const libc = koffi.load('libc.so.6');

const Timespec = koffi.struct('mpdk_timespec', { tv_sec: 'int64_t', tv_nsec: 'int64_t' });

const SYS_futex = process.arch === 'arm64' ? 98 : 202;
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

const c = {
  mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
  munmap: libc.func('int munmap(void *addr, size_t len)'),
  flock: libc.func('int flock(int fd, int op)'),
  futex: libc.func('long syscall(long nr, intptr_t uaddr, int op, int val, const mpdk_timespec *ts, void *uaddr2, int val3)'),
  sched_setaffinity: libc.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)'),
  sched_getaffinity: libc.func('int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)'),
  sched_yield: libc.func('int sched_yield(void)'),
  gettid: libc.func('int gettid(void)'),
  syscall2: libc.func('long syscall(long nr, long a, long b)'),
  poll: libc.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
  prctl: libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
};

const MAP_FAILED = 0xffffffffffffffffn;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** Largest view koffi can make without aborting the process. */
export const MAX_MAPPING = 2 ** 32;

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM',
  13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 28: 'ENOSPC', 110: 'ETIMEDOUT',
};

export class NativeError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(call: string, errno: number) {
    const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`${call} failed: ${code}`);
    this.errno = errno;
    this.code = code;
  }
}

export function errno(): number {
  return koffi.errno();
}

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

/** Unmap. Every view of the mapping must be dead: touching one afterwards is SIGSEGV. */
export function unmap(m: Mapping): void {
  c.munmap(m.ptr, m.size);
}

/** flock(2). Returns true when taken, false when LOCK_NB was given and it is held elsewhere. */
export function flock(fd: number, op: number): boolean {
  const r = c.flock(fd, op) as number;
  if (r === 0) return true;
  const e = koffi.errno();
  if (e === 11 /* EWOULDBLOCK */) return false;
  throw new NativeError('flock', e);
}

const tsScratch = { tv_sec: 0, tv_nsec: 0 };

/** Result of `futexWait`. */
export const WAKE_OK = 0;
export const WAKE_CHANGED = 1; // the word no longer held `expect` (EAGAIN)
export const WAKE_TIMEOUT = 2;
export const WAKE_INTR = 3;

/**
 * Sleep while the 32-bit word at `byteOffset` of mapping `m` holds `expect`, at most
 * `timeoutMs` (a fraction is allowed). Shared futex: works across processes.
 * Returns WAKE_OK, WAKE_CHANGED, WAKE_TIMEOUT or WAKE_INTR.
 */
export function futexWait(m: Mapping, byteOffset: number, expect: number, timeoutMs: number): number {
  const sec = Math.floor(timeoutMs / 1000);
  tsScratch.tv_sec = sec;
  tsScratch.tv_nsec = Math.floor((timeoutMs - sec * 1000) * 1e6);
  const r = Number(c.futex(SYS_futex, m.addr + byteOffset, FUTEX_WAIT, expect | 0, tsScratch, null, 0));
  if (r === 0) return WAKE_OK;
  const e = koffi.errno();
  if (e === 11) return WAKE_CHANGED;
  if (e === 110) return WAKE_TIMEOUT;
  if (e === 4) return WAKE_INTR;
  throw new NativeError('futex(WAIT)', e);
}

/** Wake up to `n` sleepers on the word at `byteOffset`. Returns how many woke. */
export function futexWake(m: Mapping, byteOffset: number, n = 0x7fffffff): number {
  const r = Number(c.futex(SYS_futex, m.addr + byteOffset, FUTEX_WAKE, n, null, null, 0));
  if (r < 0) throw new NativeError('futex(WAKE)', koffi.errno());
  return r;
}

export function schedYield(): void {
  c.sched_yield();
}

export function gettid(): number {
  return c.gettid() as number;
}

const AFFINITY_BYTES = 128;

/** CPUs this machine has online (sched_getaffinity of the process at load time). */
export function allowedCpus(tid = 0): number[] {
  const mask = Buffer.alloc(AFFINITY_BYTES);
  if ((c.sched_getaffinity(tid, AFFINITY_BYTES, mask) as number) !== 0) throw new NativeError('sched_getaffinity', koffi.errno());
  const cpus: number[] = [];
  for (let i = 0; i < AFFINITY_BYTES * 8; i++) if (mask[i >> 3]! & (1 << (i & 7))) cpus.push(i);
  return cpus;
}

/**
 * CPUs of this machine that are online (from /sys), whatever this process's affinity mask
 * is: a child inherits its parent's mask, so the mask cannot tell which lcores exist.
 */
export function onlineCpus(): number[] {
  try {
    const txt = fs.readFileSync('/sys/devices/system/cpu/online', 'latin1').trim();
    const out: number[] = [];
    for (const part of txt.split(',')) {
      const [a, b] = part.split('-').map(Number) as [number, number | undefined];
      for (let i = a; i <= (b ?? a); i++) out.push(i);
    }
    return out;
  } catch {
    return allowedCpus();
  }
}

/** Pin the calling thread (tid 0) or thread `tid` to `cpus`. Threads created later inherit it. */
export function setAffinity(cpus: readonly number[], tid = 0): void {
  const mask = Buffer.alloc(AFFINITY_BYTES);
  for (const cpu of cpus) mask[cpu >> 3]! |= 1 << (cpu & 7);
  if ((c.sched_setaffinity(tid, AFFINITY_BYTES, mask) as number) !== 0) throw new NativeError('sched_setaffinity', koffi.errno());
}

const SYS_pidfd_open = process.arch === 'arm64' ? 434 : 434;

/** pidfd_open(2): a descriptor that becomes readable when process `pid` exits; -1 if it is gone. */
export function pidfdOpen(pid: number): number {
  const fd = Number(c.syscall2(SYS_pidfd_open, pid, 0));
  if (fd >= 0) return fd;
  const e = koffi.errno();
  if (e === 3 /* ESRCH */) return -1;
  throw new NativeError('pidfd_open', e);
}

/**
 * poll(2) for POLLIN on `fds` (at most 64), waiting at most `timeoutMs`. Writes into `ready`
 * the descriptors that are readable and returns how many. `scratch` must hold 8 × fds.length bytes.
 */
export function pollIn(fds: readonly number[], timeoutMs: number, scratch: Buffer, ready: number[]): number {
  for (let i = 0; i < fds.length; i++) {
    scratch.writeInt32LE(fds[i]!, i * 8);
    scratch.writeInt16LE(1 /* POLLIN */, i * 8 + 4);
    scratch.writeInt16LE(0, i * 8 + 6);
  }
  const r = c.poll(scratch, fds.length, timeoutMs) as number;
  ready.length = 0;
  if (r < 0) {
    const e = koffi.errno();
    if (e === 4) return 0; // EINTR
    throw new NativeError('poll', e);
  }
  for (let i = 0; i < fds.length && ready.length < r; i++) if (scratch.readInt16LE(i * 8 + 6) !== 0) ready.push(fds[i]!);
  return ready.length;
}

const PR_SET_PDEATHSIG = 1;
/** Ask the kernel to send `signal` to this process when its parent thread exits. */
export function setParentDeathSignal(signal: number): void {
  c.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0);
}

/**
 * Start time of process `pid` in clock ticks since boot (field 22 of /proc/pid/stat),
 * or -1 when there is no such process. With the pid it names one process for ever:
 * a reused pid has a later start time.
 */
export function processStartTime(pid: number): number {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return -1;
  }
  // comm (field 2) may hold spaces and parentheses: fields after it start at the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19].
  if (rest[0] === 'Z' || rest[0] === 'X') return -1; // a zombie is dead for our purposes
  return Number(rest[19]);
}

/** True while the process (pid, startTime) exists and is not a zombie. */
export function processAlive(pid: number, startTime: number): boolean {
  if (pid <= 0) return false;
  const st = processStartTime(pid);
  return st >= 0 && (startTime <= 0 || st === startTime);
}
