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
  syscall3: libc.func('long syscall(long nr, long a, long b, long c)'),
  poll: libc.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
  _exit: libc.func('void _exit(int status)'),
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

const SYS_pidfd_getfd = 438;

/**
 * A copy, in this process, of descriptor `fd` of live process `pid` (pidfd_getfd(2), Linux
 * ≥ 5.6; the same user may take descriptors of its own processes). For what /proc/<pid>/fd
 * cannot reopen, such as an eventfd (ENXIO). Throws NativeError (ESRCH when pid is gone).
 */
export function takeFdOf(pid: number, fd: number): number {
  const pfd = pidfdOpen(pid);
  if (pfd < 0) throw new NativeError(`pidfd_open(${pid})`, 3);
  try {
    const r = Number(c.syscall3(SYS_pidfd_getfd, pfd, fd, 0));
    if (r < 0) throw new NativeError(`pidfd_getfd(${pid}, ${fd})`, koffi.errno());
    return r;
  } finally {
    fs.closeSync(pfd);
  }
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

/** _exit(2): end the process now, without Node's teardown (see cli/exit.ts for why). */
export function exitImmediately(code: number): never {
  c._exit(code);
  throw new Error('unreachable');
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

/**
 * For messages about a process waited on: "alive, running", "alive, stopped" (SIGSTOP or a
 * debugger), "alive, sleeping", ... or "dead" (gone or a zombie).
 */
export function processState(pid: number): string {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 'dead';
  }
  const st = stat.charAt(stat.lastIndexOf(')') + 2);
  const name: Record<string, string> = { R: 'running', S: 'sleeping', D: 'in uninterruptible sleep', T: 'stopped', t: 'stopped by a debugger', I: 'idle' };
  return st === 'Z' || st === 'X' ? 'dead' : `alive, ${name[st] ?? st}`;
}

/** True while the process (pid, startTime) exists and is not a zombie. */
export function processAlive(pid: number, startTime: number): boolean {
  if (pid <= 0) return false;
  const st = processStartTime(pid);
  return st >= 0 && (startTime <= 0 || st === startTime);
}

// --- packet sockets (AF_PACKET), for the net_af_packet driver -------------------------------
//
// Sockaddrs, socket options and mmsghdr/iovec arrays are passed as Buffers with an explicit
// layout (the driver owns them). Pointers INTO the region (mbuf data) are passed as plain
// numbers (mapping.addr + byte offset): exact below 2^53, and an intptr_t to the ABI.
// Setup calls throw NativeError; the burst calls (sendmmsg, send, recv) return the raw
// result (-1 and errno() on failure) and allocate nothing.

const pk = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Inout_ uint8_t *val, _Inout_ uint32_t *len)'),
  sendmmsg: libc.func('int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)'),
  send: libc.func('intptr_t send(int fd, intptr_t buf, size_t len, int flags)'),
  recv: libc.func('intptr_t recv(int fd, intptr_t buf, size_t len, int flags)'),
  if_nametoindex: libc.func('unsigned int if_nametoindex(const char *name)'),
  close: libc.func('int close(int fd)'),
};

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
export const ETH_P_ALL = 0x0003;
export const SOL_PACKET = 263;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_SNDBUF = 7;
export const SO_RCVBUFFORCE = 33;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_VERSION = 10;
export const PACKET_FANOUT = 18;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_IGNORE_OUTGOING = 23;
export const TPACKET_V3 = 2;
export const PACKET_FANOUT_HASH = 0;
export const PACKET_FANOUT_LB = 1;
export const PACKET_FANOUT_CPU = 2;
export const PACKET_FANOUT_FLAG_DEFRAG = 0x8000;
export const PACKET_MR_PROMISC = 1;
export const MSG_DONTWAIT = 0x40;

const intScratch = Buffer.alloc(4);

/** htons for a 16-bit value. */
function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/** socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(protocol)): 0 = send only, ETH_P_ALL = every frame. */
export function packetSocket(protocol: number): number {
  const fd = pk.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(protocol)) as number;
  if (fd < 0) throw new NativeError('socket(AF_PACKET)', koffi.errno());
  return fd;
}

/** bind the packet socket to interface `ifindex` for `protocol` (sockaddr_ll, 20 bytes). */
export function packetBind(fd: number, ifindex: number, protocol: number): void {
  const sll = Buffer.alloc(20);
  sll.writeUInt16LE(AF_PACKET, 0); // sll_family
  sll.writeUInt16BE(protocol, 2); // sll_protocol (network order)
  sll.writeInt32LE(ifindex, 4); // sll_ifindex
  if ((pk.bind(fd, sll, 20) as number) !== 0) throw new NativeError('bind(AF_PACKET)', koffi.errno());
}

export function setsockoptInt(fd: number, level: number, name: number, value: number, what = `setsockopt(${level}, ${name})`): void {
  intScratch.writeInt32LE(value | 0, 0);
  if ((pk.setsockopt(fd, level, name, intScratch, 4) as number) !== 0) throw new NativeError(what, koffi.errno());
}

export function setsockoptBuf(fd: number, level: number, name: number, val: Buffer, what = `setsockopt(${level}, ${name})`): void {
  if ((pk.setsockopt(fd, level, name, val, val.length) as number) !== 0) throw new NativeError(what, koffi.errno());
}

/** getsockopt into `val`; returns the length the kernel wrote. */
export function getsockoptBuf(fd: number, level: number, name: number, val: Buffer, what = `getsockopt(${level}, ${name})`): number {
  const len = [val.length];
  if ((pk.getsockopt(fd, level, name, val, len) as number) !== 0) throw new NativeError(what, koffi.errno());
  return len[0]!;
}

/** sendmmsg(2) of `vlen` mmsghdrs laid out in `msgvec` (a Buffer kept alive by the caller). Raw result. */
export function sendmmsgRaw(fd: number, msgvec: Buffer, vlen: number, flags: number): number {
  return pk.sendmmsg(fd, msgvec, vlen, flags) as number;
}

/** send(2) of `len` bytes at absolute address `addr` (mapping.addr + offset). Raw result. */
export function sendAt(fd: number, addr: number, len: number, flags: number): number {
  return Number(pk.send(fd, addr, len, flags));
}

/** recv(2) into `len` bytes at absolute address `addr`. Raw result. */
export function recvAt(fd: number, addr: number, len: number, flags: number): number {
  return Number(pk.recv(fd, addr, len, flags));
}

/** The interface's index, 0 when there is no such interface (in this network namespace). */
export function ifNameToIndex(name: string): number {
  return pk.if_nametoindex(name) as number;
}

/** close(2) a descriptor this module opened (sockets); errors are ignored. */
export function closeFd(fd: number): void {
  if (fd >= 0) pk.close(fd);
}

/** Address of a Buffer's bytes, for pointers the kernel follows during one call (iovecs). */
export function bufferAddress(buf: Buffer): number {
  return Number(koffi.address(buf));
}

// ===========================================================================================
// memif: Unix seqpacket sockets with SCM_RIGHTS, memfd, eventfd, poll with revents
// (used by src/drivers/net/memif-*.ts). Every call here is on a control path, never per
// packet, except `eventfdSignal` (a TX burst that must wake a peer sleeping on its ring).
// Messages are built in one native scratch block per thread (koffi.alloc, kept for ever)
// so sendmsg/recvmsg see stable pointers; x86-64 / arm64 LP64 layouts:
//   msghdr  name@0 namelen@8 iov@16 iovlen@24 control@32 controllen@40 flags@48 (56 bytes)
//   iovec   base@0 len@8        cmsghdr  len@0 (size_t) level@8 type@12 data@16
// ===========================================================================================

const mc = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, void *addr, uint32_t len)'),
  listen: libc.func('int listen(int fd, int backlog)'),
  accept4: libc.func('int accept4(int fd, void *addr, void *len, int flags)'),
  connect: libc.func('int connect(int fd, void *addr, uint32_t len)'),
  sendmsg: libc.func('long sendmsg(int fd, void *msg, int flags)'),
  recvmsg: libc.func('long recvmsg(int fd, void *msg, int flags)'),
  close: libc.func('int close(int fd)'),
  memfd_create: libc.func('int memfd_create(const char *name, unsigned int flags)'),
  ftruncate: libc.func('int ftruncate(int fd, int64_t len)'),
  fcntl3: libc.func('int fcntl(int fd, int cmd, int arg)'),
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  read: libc.func('long read(int fd, void *buf, size_t n)'),
  write: libc.func('long write(int fd, void *buf, size_t n)'),
  poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
};

export const AF_UNIX = 1;
export const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const UX_CLOEXEC = 0o2000000;
const UX_SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const UX_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CTRUNC = 0x8;
export const POLLIN = 1;
export const POLLOUT = 4;
export const POLLERR = 8;
export const POLLHUP = 16;
export const POLLNVAL = 32;
export const POLLRDHUP = 0x2000;
const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
const F_SEAL_SHRINK = 2;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** sizeof(struct sockaddr_un). */
export const SOCKADDR_UN_LEN = 110;
const SUN_PATH_MAX = 108;

const MORE_ERRNO: Record<number, string> = {
  32: 'EPIPE', 98: 'EADDRINUSE', 104: 'ECONNRESET', 107: 'ENOTCONN', 111: 'ECONNREFUSED', 24: 'EMFILE', 90: 'EMSGSIZE', 36: 'ENAMETOOLONG',
};
for (const [k, v] of Object.entries(MORE_ERRNO)) ERRNO_NAMES[Number(k)] ??= v;

// Native scratch: [0,56) msghdr, [64,80) iovec, [80,160) control, [160,272) sockaddr_un,
// [272,280) eventfd value, [320, 320+MSG_SCRATCH) message bytes, then pollfds.
const MSG_SCRATCH = 256;
const POLL_AT = 320 + MSG_SCRATCH;
const POLL_MAX = 64;
const SCRATCH_BYTES = POLL_AT + POLL_MAX * 8;
const scratchPtr = koffi.alloc('uint8_t', SCRATCH_BYTES);
const scratchAddr = koffi.address(scratchPtr);
const scratch = new Uint8Array(koffi.view(scratchPtr, SCRATCH_BYTES) as ArrayBuffer);
const sdv = new DataView(scratch.buffer);

function fail(call: string): never {
  throw new NativeError(call, koffi.errno());
}

/**
 * Build a sockaddr_un at scratch+160; returns its length. An abstract name is '\0' + path
 * with the length of exactly that (as DPDK 22.11 binds it: the kernel compares names by
 * length); a file path uses the whole structure.
 */
function putAddr(path: string, abstract: boolean): number {
  const name = Buffer.from(path, 'utf8');
  if (name.length === 0 || name.length > SUN_PATH_MAX - 1) throw new NativeError(`socket address '${path}'`, 36);
  scratch.fill(0, 160, 160 + SOCKADDR_UN_LEN);
  sdv.setUint16(160, AF_UNIX, true);
  scratch.set(name, 162 + (abstract ? 1 : 0));
  return abstract ? 3 + name.length : SOCKADDR_UN_LEN;
}

/** A non-blocking, close-on-exec AF_UNIX SOCK_SEQPACKET socket. */
export function seqpacketSocket(): number {
  const fd = mc.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | UX_CLOEXEC, 0) as number;
  if (fd < 0) fail('socket');
  return fd;
}

/** bind + listen on `path` (abstract: in the abstract namespace, '\0' + path, as DPDK's socket-abstract=yes). */
export function unixListen(fd: number, path: string, abstract: boolean, backlog = 8): void {
  const len = putAddr(path, abstract);
  if ((mc.bind(fd, scratchAddr + 160n, len) as number) !== 0) fail('bind');
  if ((mc.listen(fd, backlog) as number) !== 0) fail('listen');
}

/** Accept one connection (non-blocking, cloexec); -1 when none is pending. */
export function unixAccept(fd: number): number {
  const c = mc.accept4(fd, null, null, SOCK_NONBLOCK | UX_CLOEXEC) as number;
  if (c >= 0) return c;
  const e = koffi.errno();
  if (e === 11 || e === 4) return -1;
  throw new NativeError('accept4', e);
}

/** Connect `fd` to `path`. Returns 0, or the errno (ENOENT, ECONNREFUSED, EAGAIN...) when refused. */
export function unixConnect(fd: number, path: string, abstract: boolean): number {
  const len = putAddr(path, abstract);
  if ((mc.connect(fd, scratchAddr + 160n, len) as number) === 0) return 0;
  return koffi.errno();
}

/**
 * Send one datagram `msg` (≤ 256 bytes) with `fdToPass` (≥ 0) as SCM_RIGHTS.
 * Returns bytes sent, or −errno (EAGAIN, EPIPE, ...). Never raises SIGPIPE.
 */
export function sendWithFd(fd: number, msg: Uint8Array, fdToPass: number): number {
  if (msg.length > MSG_SCRATCH) throw new RangeError(`message of ${msg.length} bytes: at most ${MSG_SCRATCH}`);
  scratch.fill(0, 0, 160);
  scratch.set(msg, 320);
  sdv.setBigUint64(64, scratchAddr + 320n, true);
  sdv.setBigUint64(72, BigInt(msg.length), true);
  sdv.setBigUint64(16, scratchAddr + 64n, true);
  sdv.setBigUint64(24, 1n, true);
  if (fdToPass >= 0) {
    sdv.setBigUint64(80, 20n, true); // CMSG_LEN(sizeof(int))
    sdv.setInt32(88, UX_SOL_SOCKET, true);
    sdv.setInt32(92, SCM_RIGHTS, true);
    sdv.setInt32(96, fdToPass, true);
    sdv.setBigUint64(32, scratchAddr + 80n, true);
    sdv.setBigUint64(40, 24n, true); // CMSG_SPACE(sizeof(int))
  }
  const r = Number(mc.sendmsg(fd, scratchAddr, UX_DONTWAIT | MSG_NOSIGNAL));
  return r >= 0 ? r : -koffi.errno();
}

export interface Received {
  /** Bytes received; 0 = the peer closed; −errno on error (−EAGAIN: nothing pending). */
  len: number;
  /** Descriptors passed with it (SCM_RIGHTS), already ours: the caller closes them. */
  fds: number[];
  /** The control data did not fit (descriptors were lost). */
  truncated: boolean;
}

/** Receive one datagram into `out` (≤ 256 bytes) with any passed descriptors. Non-blocking. */
export function recvWithFds(fd: number, out: Uint8Array): Received {
  const cap = Math.min(out.length, MSG_SCRATCH);
  scratch.fill(0, 0, 160);
  sdv.setBigUint64(64, scratchAddr + 320n, true);
  sdv.setBigUint64(72, BigInt(cap), true);
  sdv.setBigUint64(16, scratchAddr + 64n, true);
  sdv.setBigUint64(24, 1n, true);
  sdv.setBigUint64(32, scratchAddr + 80n, true);
  sdv.setBigUint64(40, 80n, true);
  const r = Number(mc.recvmsg(fd, scratchAddr, UX_DONTWAIT | 0x40000000 /* MSG_CMSG_CLOEXEC */));
  const res: Received = { len: r >= 0 ? r : -koffi.errno(), fds: [], truncated: false };
  if (r < 0) return res;
  out.set(scratch.subarray(320, 320 + Math.min(r, cap)));
  const ctlLen = Number(sdv.getBigUint64(40, true));
  res.truncated = (sdv.getInt32(48, true) & MSG_CTRUNC) !== 0;
  let at = 0;
  while (at + 16 <= ctlLen) {
    const len = Number(sdv.getBigUint64(80 + at, true));
    if (len < 16) break;
    if (sdv.getInt32(88 + at, true) === UX_SOL_SOCKET && sdv.getInt32(92 + at, true) === SCM_RIGHTS) {
      for (let k = 16; k + 4 <= len; k += 4) res.fds.push(sdv.getInt32(80 + at + k, true));
    }
    at += (len + 7) & ~7;
  }
  return res;
}

/** An anonymous shared-memory file of `size` bytes (memfd, sealed against shrinking, as DPDK's). */
export function memfdCreate(name: string, size: number): number {
  const fd = mc.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING) as number;
  if (fd < 0) fail('memfd_create');
  if ((mc.ftruncate(fd, size) as number) !== 0) {
    const e = koffi.errno();
    mc.close(fd);
    throw new NativeError('ftruncate', e);
  }
  mc.fcntl3(fd, F_ADD_SEALS, F_SEAL_SHRINK);
  return fd;
}

const F_DUPFD_CLOEXEC = 1030;

/** dup(2) with close-on-exec: a second descriptor of the same open file. */
export function dupFd(fd: number): number {
  const r = mc.fcntl3(fd, F_DUPFD_CLOEXEC, 0) as number;
  if (r < 0) fail('fcntl(F_DUPFD_CLOEXEC)');
  return r;
}

/** A non-blocking eventfd (memif's interrupt descriptor). */
export function eventfdCreate(): number {
  const fd = mc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) as number;
  if (fd < 0) fail('eventfd');
  return fd;
}

/** Add 1 to an eventfd (wake its reader). Returns false when it failed (peer gone). */
export function eventfdSignal(fd: number): boolean {
  sdv.setBigUint64(272, 1n, true);
  return Number(mc.write(fd, scratchAddr + 272n, 8)) === 8;
}

/** Read and reset an eventfd; returns its count (0 when nothing was signalled). */
export function eventfdDrain(fd: number): number {
  const r = Number(mc.read(fd, scratchAddr + 272n, 8));
  return r === 8 ? Number(sdv.getBigUint64(272, true)) : 0;
}

/**
 * poll(2): `events[i]` for `fds[i]` (at most 64); writes each revents into `revents`
 * and returns how many have one (0 on timeout or EINTR).
 */
export function pollFds(fds: ArrayLike<number>, events: ArrayLike<number>, n: number, timeoutMs: number, revents: Int16Array): number {
  if (n > POLL_MAX) throw new RangeError(`poll: at most ${POLL_MAX} descriptors`);
  for (let i = 0; i < n; i++) {
    sdv.setInt32(POLL_AT + i * 8, fds[i]!, true);
    sdv.setInt16(POLL_AT + i * 8 + 4, events[i]!, true);
    sdv.setInt16(POLL_AT + i * 8 + 6, 0, true);
  }
  const r = mc.poll(scratchAddr + BigInt(POLL_AT), n, timeoutMs) as number;
  if (r < 0) {
    const e = koffi.errno();
    if (e === 4) return 0;
    throw new NativeError('poll', e);
  }
  for (let i = 0; i < n; i++) revents[i] = sdv.getInt16(POLL_AT + i * 8 + 6, true);
  return r;
}
