/**
 * Unix seqpacket sockets with SCM_RIGHTS, memfd, eventfd, descriptors (used by
 * src/drivers/net/memif-*.ts), and plain seqpacket messages up to 64 KiB with the peer's
 * credentials (the telemetry socket, src/eal/telemetry.ts). Every call here is on a
 * control path, never per packet, except `eventfdSignal` (a TX burst that must wake a
 * peer sleeping on its ring).
 * Messages are built in one native scratch block per thread (koffi.alloc, kept for ever)
 * so sendmsg/recvmsg see stable pointers; x86-64 / arm64 LP64 layouts:
 *   msghdr  name@0 namelen@8 iov@16 iovlen@24 control@32 controllen@40 flags@48 (56 bytes)
 *   iovec   base@0 len@8        cmsghdr  len@0 (size_t) level@8 type@12 data@16
 */
import { fail, koffi, libc, NativeError } from './ffi.js';

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
  send: libc.func('intptr_t send(int fd, intptr_t buf, size_t len, int flags)'),
  recv: libc.func('intptr_t recv(int fd, intptr_t buf, size_t len, int flags)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, intptr_t val, intptr_t len)'),
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
const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
const F_SEAL_SHRINK = 2;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** sizeof(struct sockaddr_un). */
export const SOCKADDR_UN_LEN = 110;
const SUN_PATH_MAX = 108;

// Native scratch: [0,56) msghdr, [64,80) iovec, [80,160) control, [160,272) sockaddr_un,
// [272,280) eventfd value, [320, 320+MSG_SCRATCH) message bytes.
const MSG_SCRATCH = 256;
const SCRATCH_BYTES = 320 + MSG_SCRATCH;
const scratchPtr = koffi.alloc('uint8_t', SCRATCH_BYTES);
const scratchAddr = koffi.address(scratchPtr);
const scratch = new Uint8Array(koffi.view(scratchPtr, SCRATCH_BYTES) as ArrayBuffer);
const sdv = new DataView(scratch.buffer);

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

// Plain messages (seqSend / seqRecv): one native block, kept for ever, [0, 64 KiB) the
// message, [BIG, BIG + 16) SO_PEERCRED's struct ucred and its length.
const BIG = 65536;
const bigPtr = koffi.alloc('uint8_t', BIG + 16);
const bigAddr = BigInt(koffi.address(bigPtr));
const big = new Uint8Array(koffi.view(bigPtr, BIG + 16) as ArrayBuffer);
const bigDv = new DataView(big.buffer);
const SO_PEERCRED = 17;

/** The largest message seqSend sends and seqRecv receives. */
export const SEQ_MAX = BIG;

/**
 * Send one message (`msg[0..len)`, len ≤ SEQ_MAX) on a connected seqpacket socket, without
 * blocking and without SIGPIPE. Returns the bytes sent, or −errno (−EAGAIN: the peer's
 * queue is full; −EPIPE: it closed).
 */
export function seqSend(fd: number, msg: Uint8Array, len: number): number {
  if (len > BIG) throw new RangeError(`message of ${len} bytes: at most ${BIG}`);
  big.set(msg.subarray(0, len), 0);
  const r = Number(mc.send(fd, bigAddr, len, UX_DONTWAIT | MSG_NOSIGNAL));
  return r >= 0 ? r : -koffi.errno();
}

/**
 * Receive one message into `out` without blocking: a longer one is cut to out.length (the
 * rest is lost, as SOCK_SEQPACKET does). Returns its length (cut), 0 when the peer closed,
 * or −errno (−EAGAIN: nothing pending).
 */
export function seqRecv(fd: number, out: Uint8Array): number {
  const cap = Math.min(out.length, BIG);
  const r = Number(mc.recv(fd, bigAddr, cap, UX_DONTWAIT));
  if (r < 0) return -koffi.errno();
  out.set(big.subarray(0, r), 0);
  return r;
}

/** The credentials of the process at the other end of a connected Unix socket (SO_PEERCRED), or undefined. */
export function peerCred(fd: number): { pid: number; uid: number; gid: number } | undefined {
  bigDv.setUint32(BIG + 12, 12, true);
  if ((mc.getsockopt(fd, UX_SOL_SOCKET, SO_PEERCRED, bigAddr + BigInt(BIG), bigAddr + BigInt(BIG + 12)) as number) !== 0) return undefined;
  return { pid: bigDv.getInt32(BIG, true), uid: bigDv.getUint32(BIG + 4, true), gid: bigDv.getUint32(BIG + 8, true) };
}

// Messages with descriptors, up to SEQ_MAX bytes (the instance's message channel,
// src/eal/mp.ts): one native block per thread, kept for ever: [0,56) msghdr, [64,80) iovec,
// [128,128+MSG_CTL) control, [MSG_DATA, MSG_DATA+SEQ_MAX) the message.
/** Descriptors one message carries at most (DPDK's RTE_MP_MAX_FD_NUM). */
export const SEQ_FDS_MAX = 8;
const MSG_CTL = 16 + 4 * SEQ_FDS_MAX; // CMSG_SPACE(8 ints) = CMSG_LEN(32) rounded to 8
const MSG_DATA = 256;
const MSG_TRUNC = 0x20;
const msgPtr = koffi.alloc('uint8_t', MSG_DATA + BIG);
const msgAddr = BigInt(koffi.address(msgPtr));
const msgMem = new Uint8Array(koffi.view(msgPtr, MSG_DATA + BIG) as ArrayBuffer);
const msgDv = new DataView(msgMem.buffer);

/** Point msghdr's iovec at [MSG_DATA, MSG_DATA + len) and its control at [128, 128 + ctl). */
function msgHeader(len: number, ctl: number): void {
  msgMem.fill(0, 0, 128 + MSG_CTL);
  msgDv.setBigUint64(64, msgAddr + BigInt(MSG_DATA), true);
  msgDv.setBigUint64(72, BigInt(len), true);
  msgDv.setBigUint64(16, msgAddr + 64n, true);
  msgDv.setBigUint64(24, 1n, true);
  if (ctl > 0) {
    msgDv.setBigUint64(32, msgAddr + 128n, true);
    msgDv.setBigUint64(40, BigInt(ctl), true);
  }
}

/**
 * Send one message (`msg[0..len)`, len ≤ SEQ_MAX) and up to SEQ_FDS_MAX descriptors
 * (SCM_RIGHTS: the peer gets its own copies; ours stay open) on a connected seqpacket
 * socket, without blocking and without SIGPIPE. Returns the bytes sent, or −errno
 * (−EAGAIN: the peer's queue is full; −EPIPE / −ECONNRESET: it is gone).
 */
export function seqSendFds(fd: number, msg: Uint8Array, len: number, fds: readonly number[]): number {
  if (len > BIG) throw new RangeError(`message of ${len} bytes: at most ${BIG}`);
  if (fds.length > SEQ_FDS_MAX) throw new RangeError(`${fds.length} descriptors: at most ${SEQ_FDS_MAX}`);
  msgHeader(len, fds.length > 0 ? (16 + 4 * fds.length + 7) & ~7 : 0);
  msgMem.set(msg.subarray(0, len), MSG_DATA);
  if (fds.length > 0) {
    msgDv.setBigUint64(128, BigInt(16 + 4 * fds.length), true); // CMSG_LEN
    msgDv.setInt32(136, UX_SOL_SOCKET, true);
    msgDv.setInt32(140, SCM_RIGHTS, true);
    for (let i = 0; i < fds.length; i++) msgDv.setInt32(144 + 4 * i, fds[i]!, true);
  }
  const r = Number(mc.sendmsg(fd, msgAddr, UX_DONTWAIT | MSG_NOSIGNAL));
  return r >= 0 ? r : -koffi.errno();
}

/**
 * Receive one message into `out` (up to SEQ_MAX bytes) without blocking; descriptors that
 * came with it are appended to `fds` (already ours, close-on-exec: the caller closes them).
 * Returns its length, 0 when the peer closed, −errno (−EAGAIN: nothing pending), or
 * −EMSGSIZE for a message longer than `out` or with more than SEQ_FDS_MAX descriptors (what
 * came with it is closed).
 */
export function seqRecvFds(fd: number, out: Uint8Array, fds: number[]): number {
  const cap = Math.min(out.length, BIG);
  msgHeader(cap, MSG_CTL);
  const r = Number(mc.recvmsg(fd, msgAddr, UX_DONTWAIT | 0x40000000 /* MSG_CMSG_CLOEXEC */));
  if (r < 0) return -koffi.errno();
  const got: number[] = [];
  const ctlLen = Number(msgDv.getBigUint64(40, true));
  let at = 0;
  while (at + 16 <= ctlLen) {
    const len = Number(msgDv.getBigUint64(128 + at, true));
    if (len < 16) break;
    if (msgDv.getInt32(136 + at, true) === UX_SOL_SOCKET && msgDv.getInt32(140 + at, true) === SCM_RIGHTS) {
      for (let k = 16; k + 4 <= len; k += 4) got.push(msgDv.getInt32(128 + at + k, true));
    }
    at += (len + 7) & ~7;
  }
  if ((msgDv.getInt32(48, true) & (MSG_TRUNC | MSG_CTRUNC)) !== 0) {
    for (const f of got) mc.close(f);
    return -90; // EMSGSIZE
  }
  out.set(msgMem.subarray(MSG_DATA, MSG_DATA + r), 0);
  for (const f of got) fds.push(f);
  return r;
}

/** close(2) a descriptor received with a message; false when it was not open. */
export function closeReceivedFd(fd: number): boolean {
  return (mc.close(fd) as number) === 0;
}
