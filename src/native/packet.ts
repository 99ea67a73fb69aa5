/**
 * Packet sockets (AF_PACKET), for the net_af_packet driver.
 *
 * Sockaddrs, socket options and mmsghdr/iovec arrays are passed as Buffers with an explicit
 * layout (the driver owns them). Pointers INTO the region (mbuf data) are passed as plain
 * numbers (mapping.addr + byte offset): exact below 2^53, and an intptr_t to the ABI.
 * Setup calls throw NativeError; the burst calls (sendmmsg, send, recv) return the raw
 * result (-1 and errno() on failure) and allocate nothing.
 */
import { koffi, libc, NativeError } from './ffi.js';

const pk = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Inout_ uint8_t *val, _Inout_ uint32_t *len)'),
  sendmmsg: libc.func('int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)'),
  send: libc.func('intptr_t send(int fd, intptr_t buf, size_t len, int flags)'),
  recv: libc.func('intptr_t recv(int fd, intptr_t buf, size_t len, int flags)'),
  if_nametoindex: libc.func('unsigned int if_nametoindex(const char *name)'),
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

