/**
 * The memif protocol (version 2.0, as DPDK 22.11's net_memif and libmemif speak it): the
 * 128-byte control messages and the shared ring layout. Pure data: no sockets, no state.
 * Used by memif-control.ts (messages, ring init) and memif-queue.ts (rings, descriptors).
 *
 * Roles: the CLIENT creates the memory (regions in memfds: rings first, then buffers) and
 * sends it to the SERVER. Ring directions: C2S (client → server, DPDK's S2M) and S2C
 * (server → client, M2S). Who writes what in a ring:
 *
 *   ring     head                         tail                         descriptors
 *   C2S      client (packets posted)      server (packets consumed)    client: region/offset/length
 *   S2C      client (empty bufs posted)   server (packets filled)      client: region/offset/length
 *                                                                      (= room); server: length
 * head and tail are free-running u16 counters; slot = counter & (size − 1). The writer
 * stores a counter with release after the descriptors; the reader loads it with acquire.
 *
 * Message exchange (each message answered before the next is sent):
 *   server → HELLO     client → INIT      server → ACK
 *   client → ADD_REGION (fd) ... ACK  client → ADD_RING (eventfd) ... ACK
 *   client → CONNECT   server → CONNECTED             either side → DISCONNECT (reason)
 */

export const MEMIF_COOKIE = 0x3e31f20;
export const MEMIF_VERSION = (2 << 8) | 0;
export const MEMIF_NAME_SZ = 32;
export const MEMIF_SECRET_SZ = 24;
export const MEMIF_MSG_SIZE = 128;
export const MEMIF_REASON_SZ = 96;
/** DPDK's ETH_MEMIF_MAX_LOG2_RING_SIZE. */
export const MEMIF_MAX_LOG2_RING = 14;
/** Regions this implementation accepts from a peer (DPDK's limit is 256). */
export const MEMIF_MAX_REGIONS = 64;

export const enum MsgType {
  NONE = 0,
  ACK = 1,
  HELLO = 2,
  INIT = 3,
  ADD_REGION = 4,
  ADD_RING = 5,
  CONNECT = 6,
  CONNECTED = 7,
  DISCONNECT = 8,
}

export const MSG_NAMES = ['none', 'ack', 'hello', 'init', 'add_region', 'add_ring', 'connect', 'connected', 'disconnect'];

/** memif_msg_t: u16 type at 0, then the packed union at 2. Byte offsets. */
export const MSG = {
  TYPE: 0, // u16
  // hello (server → client)
  HELLO_NAME: 2, // 32 bytes
  HELLO_MIN_VERSION: 34, // u16
  HELLO_MAX_VERSION: 36, // u16
  HELLO_MAX_REGION: 38, // u16 highest region index the server accepts
  HELLO_MAX_S2C_RING: 40, // u16 highest M2S ring index
  HELLO_MAX_C2S_RING: 42, // u16 highest S2M ring index
  HELLO_MAX_LOG2_RING: 44, // u8
  // init (client → server)
  INIT_VERSION: 2, // u16
  INIT_ID: 4, // u32 interface id
  INIT_MODE: 8, // u8 0 = ethernet
  INIT_SECRET: 9, // 24 bytes
  INIT_NAME: 33, // 32 bytes
  // add_region (client → server, region fd in SCM_RIGHTS)
  REGION_INDEX: 2, // u16
  REGION_SIZE: 4, // u64
  // add_ring (client → server, interrupt eventfd in SCM_RIGHTS)
  RING_FLAGS: 2, // u16 bit 0: C2S
  RING_INDEX: 4, // u16
  RING_REGION: 6, // u16
  RING_OFFSET: 8, // u32
  RING_LOG2: 12, // u8
  RING_PRIV_HDR: 13, // u16
  // connect / connected
  IF_NAME: 2, // 32 bytes
  // disconnect
  DISC_CODE: 2, // u32
  DISC_REASON: 6, // 96 bytes
} as const;

export const ADD_RING_FLAG_C2S = 1;
export const MODE_ETHERNET = 0;

/** memif_ring_t: byte offsets from the ring start. */
export const RING = {
  COOKIE: 0, // u32 MEMIF_COOKIE, written by the client at init
  FLAGS: 4, // u16 bit 0 MASK_INT: the ring's RECEIVER polls, the sender need not signal
  HEAD: 6, // u16 (see the header for who writes it)
  TAIL: 64, // u16
  DESC: 128, // descriptors, DESC.BYTES each
} as const;
export const RING_FLAG_MASK_INT = 1;

/** memif_desc_t: byte offsets within one descriptor. */
export const DESC = {
  FLAGS: 0, // u16 bit 0 NEXT: the packet continues in the next slot
  REGION: 2, // u16
  LENGTH: 4, // u32
  OFFSET: 8, // u32
  METADATA: 12, // u32
  BYTES: 16,
} as const;
export const DESC_FLAG_NEXT = 1;

export function ringBytes(log2: number): number {
  return RING.DESC + DESC.BYTES * (1 << log2);
}

/**
 * The client's region 0 in copy mode (as DPDK lays it out): nC2S then nS2C rings, then
 * one buffer of `bsize` per slot, ring by ring in the same order.
 */
export function regionLayout(nC2S: number, nS2C: number, log2: number, bsize: number): { ringsBytes: number; bufOffset: number; size: number } {
  const rb = ringBytes(log2);
  const ringsBytes = (nC2S + nS2C) * rb;
  const size = ringsBytes + (nC2S + nS2C) * (1 << log2) * bsize;
  return { ringsBytes, bufOffset: ringsBytes, size };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function putString(m: Uint8Array, at: number, max: number, s: string): void {
  const b = enc.encode(s);
  m.fill(0, at, at + max);
  m.set(b.subarray(0, max - 1), at);
}

export function getString(m: Uint8Array, at: number, max: number): string {
  let end = at;
  while (end < at + max && m[end] !== 0) end++;
  return dec.decode(m.subarray(at, end)).replace(/[^\x20-\x7e]/g, '?');
}

function newMsg(type: MsgType): { m: Uint8Array; dv: DataView } {
  const m = new Uint8Array(MEMIF_MSG_SIZE);
  const dv = new DataView(m.buffer);
  dv.setUint16(MSG.TYPE, type, true);
  return { m, dv };
}

export function msgType(m: Uint8Array): number {
  return m[0]! | (m[1]! << 8);
}

export function helloMsg(name: string, maxRegion: number, maxC2S: number, maxS2C: number, maxLog2: number): Uint8Array {
  const { m, dv } = newMsg(MsgType.HELLO);
  putString(m, MSG.HELLO_NAME, MEMIF_NAME_SZ, name);
  dv.setUint16(MSG.HELLO_MIN_VERSION, MEMIF_VERSION, true);
  dv.setUint16(MSG.HELLO_MAX_VERSION, MEMIF_VERSION, true);
  dv.setUint16(MSG.HELLO_MAX_REGION, maxRegion, true);
  dv.setUint16(MSG.HELLO_MAX_S2C_RING, maxS2C, true);
  dv.setUint16(MSG.HELLO_MAX_C2S_RING, maxC2S, true);
  dv.setUint8(MSG.HELLO_MAX_LOG2_RING, maxLog2);
  return m;
}

export interface Hello {
  name: string;
  minVersion: number;
  maxVersion: number;
  maxRegion: number;
  maxC2S: number;
  maxS2C: number;
  maxLog2: number;
}

export function parseHello(m: Uint8Array): Hello {
  const dv = new DataView(m.buffer, m.byteOffset, m.length);
  return {
    name: getString(m, MSG.HELLO_NAME, MEMIF_NAME_SZ),
    minVersion: dv.getUint16(MSG.HELLO_MIN_VERSION, true),
    maxVersion: dv.getUint16(MSG.HELLO_MAX_VERSION, true),
    maxRegion: dv.getUint16(MSG.HELLO_MAX_REGION, true),
    maxS2C: dv.getUint16(MSG.HELLO_MAX_S2C_RING, true),
    maxC2S: dv.getUint16(MSG.HELLO_MAX_C2S_RING, true),
    maxLog2: dv.getUint8(MSG.HELLO_MAX_LOG2_RING),
  };
}

export function initMsg(id: number, secret: string, name: string, version = MEMIF_VERSION, mode = MODE_ETHERNET): Uint8Array {
  const { m, dv } = newMsg(MsgType.INIT);
  dv.setUint16(MSG.INIT_VERSION, version, true);
  dv.setUint32(MSG.INIT_ID, id >>> 0, true);
  dv.setUint8(MSG.INIT_MODE, mode);
  putString(m, MSG.INIT_SECRET, MEMIF_SECRET_SZ, secret);
  putString(m, MSG.INIT_NAME, MEMIF_NAME_SZ, name);
  return m;
}

export interface Init {
  version: number;
  id: number;
  mode: number;
  secret: string;
  name: string;
}

export function parseInit(m: Uint8Array): Init {
  const dv = new DataView(m.buffer, m.byteOffset, m.length);
  return {
    version: dv.getUint16(MSG.INIT_VERSION, true),
    id: dv.getUint32(MSG.INIT_ID, true),
    mode: dv.getUint8(MSG.INIT_MODE),
    secret: getString(m, MSG.INIT_SECRET, MEMIF_SECRET_SZ),
    name: getString(m, MSG.INIT_NAME, MEMIF_NAME_SZ),
  };
}

export function addRegionMsg(index: number, size: number): Uint8Array {
  const { m, dv } = newMsg(MsgType.ADD_REGION);
  dv.setUint16(MSG.REGION_INDEX, index, true);
  dv.setBigUint64(MSG.REGION_SIZE, BigInt(size), true);
  return m;
}

export function parseAddRegion(m: Uint8Array): { index: number; size: number } {
  const dv = new DataView(m.buffer, m.byteOffset, m.length);
  const size = dv.getBigUint64(MSG.REGION_SIZE, true);
  return { index: dv.getUint16(MSG.REGION_INDEX, true), size: size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(size) };
}

export interface AddRing {
  c2s: boolean;
  index: number;
  region: number;
  offset: number;
  log2: number;
  privHdr: number;
}

export function addRingMsg(r: AddRing): Uint8Array {
  const { m, dv } = newMsg(MsgType.ADD_RING);
  dv.setUint16(MSG.RING_FLAGS, r.c2s ? ADD_RING_FLAG_C2S : 0, true);
  dv.setUint16(MSG.RING_INDEX, r.index, true);
  dv.setUint16(MSG.RING_REGION, r.region, true);
  dv.setUint32(MSG.RING_OFFSET, r.offset >>> 0, true);
  dv.setUint8(MSG.RING_LOG2, r.log2);
  dv.setUint16(MSG.RING_PRIV_HDR, r.privHdr, true);
  return m;
}

export function parseAddRing(m: Uint8Array): AddRing {
  const dv = new DataView(m.buffer, m.byteOffset, m.length);
  return {
    c2s: (dv.getUint16(MSG.RING_FLAGS, true) & ADD_RING_FLAG_C2S) !== 0,
    index: dv.getUint16(MSG.RING_INDEX, true),
    region: dv.getUint16(MSG.RING_REGION, true),
    offset: dv.getUint32(MSG.RING_OFFSET, true),
    log2: dv.getUint8(MSG.RING_LOG2),
    privHdr: dv.getUint16(MSG.RING_PRIV_HDR, true),
  };
}

export function connectMsg(type: MsgType.CONNECT | MsgType.CONNECTED, ifName: string): Uint8Array {
  const { m } = newMsg(type);
  putString(m, MSG.IF_NAME, MEMIF_NAME_SZ, ifName);
  return m;
}

export function parseIfName(m: Uint8Array): string {
  return getString(m, MSG.IF_NAME, MEMIF_NAME_SZ);
}

export function ackMsg(): Uint8Array {
  return newMsg(MsgType.ACK).m;
}

export function disconnectMsg(reason: string, code = 0): Uint8Array {
  const { m, dv } = newMsg(MsgType.DISCONNECT);
  dv.setUint32(MSG.DISC_CODE, code >>> 0, true);
  putString(m, MSG.DISC_REASON, MEMIF_REASON_SZ, reason);
  return m;
}

export function parseDisconnect(m: Uint8Array): { code: number; reason: string } {
  const dv = new DataView(m.buffer, m.byteOffset, m.length);
  return { code: dv.getUint32(MSG.DISC_CODE, true), reason: getString(m, MSG.DISC_REASON, MEMIF_REASON_SZ) };
}
