/**
 * Packet headers built and parsed in place over (u8, offset): Ethernet (optional VLAN),
 * IPv4 (header checksum), IPv6, UDP, TCP; the 64-byte Eth/IPv4/UDP test frame of pktgen
 * with its payload (magic, sequence, flow, TX time); a cheap frame checksum; MAC helpers
 * and l2fwd's MAC rewrite. Pure: no shared state, no allocation in any per-packet function,
 * so drivers and apps run them straight over the region's `u8` at an mbuf's data offset.
 *
 *   who calls what
 *   pktgen           FlowSet.make(...), new UdpFrameBuilder(region.u8, flows, size) once,
 *                    .build(off, flow, seq, txTime) per packet (or buildUdpFrame for one-offs),
 *                    then readPayload(u8, off, len, out) on what comes back
 *   l2fwd            l2fwdRewrite(u8, off, dstPort, portMac)
 *   tests, drivers   parseFrame(u8, off, len, info), frameChecksum(u8, off, len)
 *
 * Multi-byte header fields are network order (big-endian) as on the wire; the pktgen
 * payload's own fields are little-endian (they never leave mpdk).
 *
 *   test frame (untagged, size ≥ 60; 64 by default, no FCS: the 4-byte CRC is not stored)
 *   0   Ethernet  dst(6) src(6) type 0x0800(2)                        ETH
 *   14  IPv4      ver/ihl 0x45, tos 0, total len, id, frag 0x4000 (DF),
 *                 ttl 64, proto 17, header checksum, src, dst          IPV4
 *   34  UDP       sport, dport, len, checksum 0 (none, legal on IPv4)  UDP
 *   42  payload   PAYLOAD: magic "MPDK"(4) seq u32 LE(4) flow u32 LE(4)
 *                 txTime f64 LE(8) -> 20 bytes, zero fill to the frame size
 */
import { MpdkError } from '../eal/errors.js';
import { f64WordsAreNaN, wordsAsF64 } from './bytes.js';

/** Ethernet header (one optional 802.1Q tag sits between SRC and TYPE). */
export const ETH = {
  /** Destination MAC address (6 bytes). */
  DST: 0,
  /** Source MAC address (6 bytes). */
  SRC: 6,
  /** EtherType (u16, network order) of an untagged frame. */
  TYPE: 12,
  /** Length of an untagged Ethernet header. */
  HLEN: 14,
  /** 802.1Q tag control information (u16: priority, DEI, VLAN id) of a tagged frame. */
  VLAN_TCI: 14,
  /** EtherType (u16) after the 802.1Q tag. */
  VLAN_TYPE: 16,
  /** Length of an Ethernet header with one 802.1Q tag. */
  VLAN_HLEN: 18,
} as const;
/** EtherType values (the Ethernet header's TYPE field, host order). */
export const ETHERTYPE = {
  /** IPv4. */
  IPV4: 0x0800,
  /** IPv6. */
  IPV6: 0x86dd,
  /** ARP. */
  ARP: 0x0806,
  /** An 802.1Q VLAN tag follows. */
  VLAN: 0x8100,
  /** An 802.1ad (QinQ) service tag follows. */
  QINQ: 0x88a8,
} as const;
/** IP protocol numbers (IPv4's PROTO, IPv6's NEXT). */
export const IPPROTO = {
  /** ICMP (IPv4). */
  ICMP: 1,
  /** TCP. */
  TCP: 6,
  /** UDP. */
  UDP: 17,
  /** ICMPv6. */
  ICMPV6: 58,
} as const;
/** IPv4 header without options (IHL 5). */
export const IPV4 = {
  /** Version (high 4 bits, 4) and header length in 32-bit words (low 4 bits). */
  VER_IHL: 0,
  /** Type of service / DSCP and ECN. */
  TOS: 1,
  /** Total length of the IP packet, header included (u16). */
  TOTAL_LEN: 2,
  /** Identification (u16), for fragments. */
  ID: 4,
  /** Flags (DF, MF) and fragment offset (u16). */
  FRAG: 6,
  /** Time to live. */
  TTL: 8,
  /** Protocol of the payload (IPPROTO). */
  PROTO: 9,
  /** Header checksum (u16). */
  CSUM: 10,
  /** Source address (4 bytes). */
  SRC: 12,
  /** Destination address (4 bytes). */
  DST: 16,
  /** Length of a header without options. */
  HLEN: 20,
} as const;
/** IPv6 fixed header: byte offsets of its fields, and its length (HLEN). */
export const IPV6 = {
  /** Version (4 bits), traffic class (8) and flow label (20), u32. */
  VTC_FLOW: 0,
  /** Length of what follows the fixed header (u16). */
  PAYLOAD_LEN: 4,
  /** Next header (IPPROTO or an extension header). */
  NEXT: 6,
  /** Hop limit. */
  HOP_LIMIT: 7,
  /** Source address (16 bytes). */
  SRC: 8,
  /** Destination address (16 bytes). */
  DST: 24,
  /** Length of the fixed header. */
  HLEN: 40,
} as const;
/** UDP header: byte offsets of its fields, and its length (HLEN). */
export const UDP = {
  /** Source port (u16). */
  SPORT: 0,
  /** Destination port (u16). */
  DPORT: 2,
  /** Length of header and payload (u16). */
  LEN: 4,
  /** Checksum (u16; 0: none, legal on IPv4). */
  CSUM: 6,
  /** Length of the header. */
  HLEN: 8,
} as const;
/** TCP header without options: byte offsets of its fields, and its length (HLEN). */
export const TCP = {
  /** Source port (u16). */
  SPORT: 0,
  /** Destination port (u16). */
  DPORT: 2,
  /** Sequence number (u32). */
  SEQ: 4,
  /** Acknowledgement number (u32). */
  ACK: 8,
  /** Data offset: header length in 32-bit words (high 4 bits). */
  DOFF: 12,
  /** Flags (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR). */
  FLAGS: 13,
  /** Window size (u16). */
  WIN: 14,
  /** Checksum (u16). */
  CSUM: 16,
  /** Urgent pointer (u16). */
  URG: 18,
  /** Length of a header without options. */
  HLEN: 20,
} as const;
/** pktgen payload, at the start of the UDP payload. */
export const PAYLOAD = {
  /** u32 LE PAYLOAD_MAGIC ("MPDK"): the frame is pktgen's. */
  MAGIC: 0,
  /** u32 LE sequence number, per flow. */
  SEQ: 4,
  /** u32 LE flow index (FlowSet). */
  FLOW: 8,
  /** f64 LE send time in µs (pktgen's clock), for latency. */
  TX_TIME: 12,
  /** Length of the payload's fields (zero fill follows up to the frame size). */
  LEN: 20,
} as const;
/** "MPDK" read as a little-endian u32 (bytes 4d 50 44 4b). */
export const PAYLOAD_MAGIC = 0x4b44504d;
/** Headers of the untagged test frame: 14 + 20 + 8. */
export const UDP_FRAME_HLEN = ETH.HLEN + IPV4.HLEN + UDP.HLEN;
/** Smallest test frame: headers + payload (62); Ethernet's minimum without FCS is 60. */
export const UDP_FRAME_MIN = UDP_FRAME_HLEN + PAYLOAD.LEN;
/** Largest test frame (standard MTU 1500 + 14-byte Ethernet header). */
export const UDP_FRAME_MAX = 1514;

// ---- byte helpers (network order) --------------------------------------------------

export function get16(u8: Uint8Array, off: number): number {
  return (u8[off]! << 8) | u8[off + 1]!;
}
export function put16(u8: Uint8Array, off: number, v: number): void {
  u8[off] = v >>> 8;
  u8[off + 1] = v;
}
export function get32(u8: Uint8Array, off: number): number {
  return ((u8[off]! << 24) | (u8[off + 1]! << 16) | (u8[off + 2]! << 8) | u8[off + 3]!) >>> 0;
}
export function put32(u8: Uint8Array, off: number, v: number): void {
  u8[off] = v >>> 24;
  u8[off + 1] = v >>> 16;
  u8[off + 2] = v >>> 8;
  u8[off + 3] = v;
}
function getLe32(u8: Uint8Array, off: number): number {
  return (u8[off]! | (u8[off + 1]! << 8) | (u8[off + 2]! << 16) | (u8[off + 3]! << 24)) >>> 0;
}
function putLe32(u8: Uint8Array, off: number, v: number): void {
  u8[off] = v;
  u8[off + 1] = v >>> 8;
  u8[off + 2] = v >>> 16;
  u8[off + 3] = v >>> 24;
}
// f64 <-> bytes through one module-level scratch (packet data may sit at any alignment).
const F64 = new Float64Array(1);
const F64_U8 = new Uint8Array(F64.buffer);
/** The same scratch as 16-bit words: buildSealed sums a TX time's (the host is little-endian, as the payload). */
const F64_W16 = new Uint16Array(F64.buffer);
function putF64(u8: Uint8Array, off: number, v: number): void {
  F64[0] = v;
  for (let i = 0; i < 8; i++) u8[off + i] = F64_U8[i]!;
}
function getF64(u8: Uint8Array, off: number): number {
  for (let i = 0; i < 8; i++) F64_U8[i] = u8[off + i]!;
  return F64[0]!;
}

// ---- addresses ---------------------------------------------------------------------

const MAC_RE = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/;

/** "02:00:00:00:00:01" (or with '-') -> 6 bytes. EINVAL on anything else. */
export function parseMac(s: string): Uint8Array {
  const m = MAC_RE.exec(String(s).trim());
  if (!m) throw new MpdkError('EINVAL', `invalid MAC address '${String(s).slice(0, 40)}': write six hex byte pairs separated by ':', e.g. 02:00:00:00:00:01`);
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = parseInt(m[i + 1]!, 16);
  return out;
}

/** The 6 bytes at u8[off..] as "02:00:00:00:00:01". */
export function formatMac(u8: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + u8[off + i]!.toString(16).padStart(2, '0');
  return s;
}

/** Copy a 6-byte MAC to u8[off..]. */
export function writeMac(u8: Uint8Array, off: number, mac: Uint8Array, macOff = 0): void {
  for (let i = 0; i < 6; i++) u8[off + i] = mac[macOff + i]!;
}

/** A port's default MAC, as mpdk's drivers assign it: 02:00:00:00:00:<port> (locally administered). */
export function portMac(port: number): Uint8Array {
  return Uint8Array.of(2, 0, 0, 0, (port >>> 8) & 255, port & 255);
}

/**
 * DPDK l2fwd's rewrite: dst MAC = 02:00:00:00:00:<dstPort>, src MAC = the sending port's
 * MAC. 12 byte stores, no allocation.
 */
export function l2fwdRewrite(u8: Uint8Array, off: number, dstPort: number, srcMac: Uint8Array): void {
  u8[off] = 2;
  u8[off + 1] = 0;
  u8[off + 2] = 0;
  u8[off + 3] = 0;
  u8[off + 4] = 0;
  u8[off + 5] = dstPort;
  u8[off + 6] = srcMac[0]!;
  u8[off + 7] = srcMac[1]!;
  u8[off + 8] = srcMac[2]!;
  u8[off + 9] = srcMac[3]!;
  u8[off + 10] = srcMac[4]!;
  u8[off + 11] = srcMac[5]!;
}

/**
 * l2fwd's rewrite for a hot loop: the same bytes as `l2fwdRewrite`, written as two stores
 * (bytes 0-7 as one f64 whose bit pattern `setSource` precomputed, bytes 8-11 as a u32) when
 * the frame starts 8-byte aligned and the packet leaves through the port whose MAC it takes
 * (l2fwd's case; the pattern is never a NaN, or the port keeps the word path), as three
 * 32-bit stores when it starts 4-byte aligned (an mbuf's default data offset is both), else
 * byte by byte. Built once over a buffer (the region's `u8`); `setSource` caches a port's
 * MAC. No allocation per packet.
 */
export class L2fwdRewriter {
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  /** null when `u8` does not start 8-byte aligned (no f64 view of it). */
  private readonly f64: Float64Array | null;
  private readonly macLo: number[] = [];
  private readonly macHi: number[] = [];
  private readonly macs: Uint8Array[] = [];
  /** Per port < 256 that sends with its own MAC: bytes 0-7 as an f64, bytes 8-11 as a u32. */
  private readonly head8 = new Float64Array(256);
  private readonly tail4 = new Uint32Array(256);
  private readonly fast = new Uint8Array(256);

  constructor(u8: Uint8Array) {
    this.u8 = u8;
    this.u32 = new Uint32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
    this.f64 = (u8.byteOffset & 7) === 0 ? new Float64Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 3) : null;
  }

  /** Remember port `port`'s MAC as the source MAC of frames it sends. */
  setSource(port: number, mac: Uint8Array): void {
    const lo = (mac[0]! | (mac[1]! << 8) | (mac[2]! << 16) | (mac[3]! << 24)) >>> 0;
    const hi = mac[4]! | (mac[5]! << 8);
    this.macLo[port] = lo;
    this.macHi[port] = hi;
    this.macs[port] = mac.slice(0, 6);
    if (port < 0 || port > 255) return;
    // Bytes 0-7 of a frame leaving through `port`: 02 00 00 00 00 <port> mac0 mac1.
    const w1 = ((port << 8) | (lo << 16)) >>> 0;
    this.head8[port] = wordsAsF64(2, w1);
    this.tail4[port] = ((lo >>> 16) | (hi << 16)) >>> 0;
    this.fast[port] = f64WordsAreNaN(2, w1) || this.f64 === null ? 0 : 1;
  }

  /** Rewrite the frame at `off` to leave through `dstPort`, with `srcPort`'s MAC as source. */
  rewrite(off: number, dstPort: number, srcPort: number): void {
    if ((off & 7) === 0 && dstPort === srcPort && this.fast[dstPort & 255] === 1 && dstPort < 256) {
      this.f64![off >>> 3] = this.head8[dstPort]!;
      this.u32[(off >>> 2) + 2] = this.tail4[dstPort]!;
      return;
    }
    const lo = this.macLo[srcPort]!;
    const hi = this.macHi[srcPort]!;
    if ((off & 3) === 0) {
      const w = off >>> 2; // little-endian words: bytes 0-3, 4-7, 8-11
      const u32 = this.u32;
      u32[w] = 2;
      u32[w + 1] = (((dstPort & 255) << 8) | (lo << 16)) >>> 0;
      u32[w + 2] = ((lo >>> 16) | (hi << 16)) >>> 0;
      return;
    }
    l2fwdRewrite(this.u8, off, dstPort, this.macs[srcPort]!);
  }

  /**
   * `rewrite(offs[i], port, port)` for i in [0, n): a burst leaving through `port` with
   * its own MAC as source (l2fwd's case), two stores per frame (the 8-aligned ones).
   */
  rewriteBulk(offs: Uint32Array, n: number, port: number): void {
    if (this.fast[port & 255] !== 1 || port > 255) {
      for (let i = 0; i < n; i++) this.rewrite(offs[i]!, port, port);
      return;
    }
    const f64 = this.f64!;
    const u32 = this.u32;
    const head = this.head8[port]!;
    const tail = this.tail4[port]!;
    let odd = 0;
    let i = 0;
    for (; i + 4 <= n; i += 4) { // four at a time: TurboFan checks the arrays once per iteration, not per access
      const a = offs[i]!;
      const b = offs[i + 1]!;
      const c = offs[i + 2]!;
      const d = offs[i + 3]!;
      if (((a | b | c | d) & 7) !== 0) {
        odd++;
        continue;
      }
      f64[a >>> 3] = head;
      u32[(a >>> 2) + 2] = tail;
      f64[b >>> 3] = head;
      u32[(b >>> 2) + 2] = tail;
      f64[c >>> 3] = head;
      u32[(c >>> 2) + 2] = tail;
      f64[d >>> 3] = head;
      u32[(d >>> 2) + 2] = tail;
    }
    for (; i < n; i++) odd++;
    if (odd === 0) return;
    // What the loops left (a group of four with a frame not 8-aligned, the last n % 4): one by one.
    for (i = 0; i + 4 <= n; i += 4) {
      if (((offs[i]! | offs[i + 1]! | offs[i + 2]! | offs[i + 3]!) & 7) !== 0) for (let j = i; j < i + 4; j++) this.rewrite(offs[j]!, port, port);
    }
    for (; i < n; i++) this.rewrite(offs[i]!, port, port);
    for (let i = 0; i < n; i++) if ((offs[i]! & 7) !== 0) this.rewrite(offs[i]!, port, port);
  }
}

/** "10.0.0.1" -> 0x0a000001 (host-order u32). EINVAL otherwise. */
export function parseIpv4(s: string): number {
  const parts = String(s).trim().split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new MpdkError('EINVAL', `invalid IPv4 address '${String(s).slice(0, 40)}': write four numbers 0-255 separated by dots, e.g. 10.0.0.1`);
  }
  return parts.reduce((a, p) => a * 256 + Number(p), 0) >>> 0;
}

/** An IPv4 address (a u32, host order) as dotted text: `formatIpv4(0x0a000001)` is `'10.0.0.1'`. */
export function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** "3ffe:2501:200:3::1" -> 16 bytes. EINVAL otherwise (no embedded IPv4 form). */
export function parseIpv6(s: string): Uint8Array {
  const str = String(s).trim();
  const bad = (): never => {
    throw new MpdkError('EINVAL', `invalid IPv6 address '${str.slice(0, 60)}': write up to eight hex groups separated by ':', with at most one '::'`);
  };
  const halves = str.split('::');
  if (halves.length > 2) bad();
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8 || (halves.length === 2 && head.length + tail.length > 7)) bad();
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) bad();
    put16(out, 2 * i, parseInt(g, 16));
  });
  return out;
}

// ---- checksums ---------------------------------------------------------------------

/** One's-complement sum of u8[off .. off+len) as 16-bit big-endian words, plus `initial`; not folded. */
function sum16(u8: Uint8Array, off: number, len: number, initial: number): number {
  let s = initial;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) s += (u8[i]! << 8) | u8[i + 1]!;
  if (len & 1) s += u8[off + len - 1]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** The Internet checksum (RFC 1071) of u8[off .. off+len), as stored in a header. */
export function internetChecksum(u8: Uint8Array, off: number, len: number, initial = 0): number {
  return ~fold(sum16(u8, off, len, initial)) & 0xffff;
}

/** Compute and store the IPv4 header checksum of the header at `ip` (IHL from the header). */
export function setIpv4Checksum(u8: Uint8Array, ip: number): void {
  const hlen = (u8[ip]! & 15) << 2;
  u8[ip + IPV4.CSUM] = 0;
  u8[ip + IPV4.CSUM + 1] = 0;
  put16(u8, ip + IPV4.CSUM, internetChecksum(u8, ip, hlen));
}

/** True when the IPv4 header at `ip` has a correct checksum. */
export function ipv4ChecksumOk(u8: Uint8Array, ip: number): boolean {
  return fold(sum16(u8, ip, (u8[ip]! & 15) << 2, 0)) === 0xffff;
}

/**
 * Compute and store the UDP checksum (over the IPv4 pseudo-header) of the datagram at
 * `udp` whose IPv4 header is at `ip`; UDP length from the UDP header. A computed 0 is
 * sent as 0xffff (0 means "no checksum").
 */
export function setUdpChecksum4(u8: Uint8Array, ip: number, udp: number): void {
  const ulen = get16(u8, udp + UDP.LEN);
  u8[udp + UDP.CSUM] = 0;
  u8[udp + UDP.CSUM + 1] = 0;
  let s = sum16(u8, ip + IPV4.SRC, 8, 0) + IPPROTO.UDP + ulen;
  s = sum16(u8, udp, ulen, s);
  const c = ~fold(s) & 0xffff;
  put16(u8, udp + UDP.CSUM, c === 0 ? 0xffff : c);
}

/** True when the UDP checksum is absent (0) or correct. */
export function udpChecksumOk4(u8: Uint8Array, ip: number, udp: number): boolean {
  if (get16(u8, udp + UDP.CSUM) === 0) return true;
  const ulen = get16(u8, udp + UDP.LEN);
  const s = sum16(u8, udp, ulen, sum16(u8, ip + IPV4.SRC, 8, 0) + IPPROTO.UDP + ulen);
  return fold(s) === 0xffff;
}

/**
 * A cheap 32-bit checksum of a frame's bytes for end-to-end checks (FNV-1a): equal frames
 * give equal sums; not cryptographic, not the Ethernet CRC.
 */
export function frameChecksum(u8: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = off, end = off + len; i < end; i++) h = Math.imul(h ^ u8[i]!, 0x01000193);
  return h >>> 0;
}

// ---- header writers ----------------------------------------------------------------

/**
 * Ethernet header at `off`; with `vlanTci` ≥ 0 an 802.1Q tag is inserted.
 * @returns the offset of the L3 header (off + 14, or off + 18 when tagged)
 */
export function writeEth(u8: Uint8Array, off: number, dst: Uint8Array, src: Uint8Array, ethertype: number, vlanTci = -1): number {
  writeMac(u8, off + ETH.DST, dst);
  writeMac(u8, off + ETH.SRC, src);
  if (vlanTci >= 0) {
    put16(u8, off + ETH.TYPE, ETHERTYPE.VLAN);
    put16(u8, off + ETH.VLAN_TCI, vlanTci);
    put16(u8, off + ETH.VLAN_TYPE, ethertype);
    return off + ETH.VLAN_HLEN;
  }
  put16(u8, off + ETH.TYPE, ethertype);
  return off + ETH.HLEN;
}

/**
 * IPv4 header (no options) at `ip`, checksum included.
 * @param payloadLen bytes after the IPv4 header
 * @returns the offset of the L4 header (ip + 20)
 */
export function writeIpv4(u8: Uint8Array, ip: number, src: number, dst: number, proto: number, payloadLen: number, ttl = 64, id = 0): number {
  u8[ip + IPV4.VER_IHL] = 0x45;
  u8[ip + IPV4.TOS] = 0;
  put16(u8, ip + IPV4.TOTAL_LEN, IPV4.HLEN + payloadLen);
  put16(u8, ip + IPV4.ID, id);
  put16(u8, ip + IPV4.FRAG, 0x4000); // DF, offset 0
  u8[ip + IPV4.TTL] = ttl;
  u8[ip + IPV4.PROTO] = proto;
  put32(u8, ip + IPV4.SRC, src);
  put32(u8, ip + IPV4.DST, dst);
  setIpv4Checksum(u8, ip);
  return ip + IPV4.HLEN;
}

/**
 * IPv6 header at `ip` (traffic class and flow label 0).
 * @returns the offset of the next header (ip + 40)
 */
export function writeIpv6(u8: Uint8Array, ip: number, src: Uint8Array, dst: Uint8Array, next: number, payloadLen: number, hopLimit = 64): number {
  put32(u8, ip + IPV6.VTC_FLOW, 0x60000000);
  put16(u8, ip + IPV6.PAYLOAD_LEN, payloadLen);
  u8[ip + IPV6.NEXT] = next;
  u8[ip + IPV6.HOP_LIMIT] = hopLimit;
  for (let i = 0; i < 16; i++) {
    u8[ip + IPV6.SRC + i] = src[i]!;
    u8[ip + IPV6.DST + i] = dst[i]!;
  }
  return ip + IPV6.HLEN;
}

/** UDP header at `udp`, checksum 0 (see setUdpChecksum4). @returns the payload offset. */
export function writeUdp(u8: Uint8Array, udp: number, sport: number, dport: number, payloadLen: number): number {
  put16(u8, udp + UDP.SPORT, sport);
  put16(u8, udp + UDP.DPORT, dport);
  put16(u8, udp + UDP.LEN, UDP.HLEN + payloadLen);
  put16(u8, udp + UDP.CSUM, 0);
  return udp + UDP.HLEN;
}

/** TCP header (no options) at `tcp`, checksum 0. @returns the payload offset. */
export function writeTcp(u8: Uint8Array, tcp: number, sport: number, dport: number, seq = 0, ack = 0, flags = 0x10, win = 65535): number {
  put16(u8, tcp + TCP.SPORT, sport);
  put16(u8, tcp + TCP.DPORT, dport);
  put32(u8, tcp + TCP.SEQ, seq);
  put32(u8, tcp + TCP.ACK, ack);
  u8[tcp + TCP.DOFF] = 5 << 4;
  u8[tcp + TCP.FLAGS] = flags;
  put16(u8, tcp + TCP.WIN, win);
  put16(u8, tcp + TCP.CSUM, 0);
  put16(u8, tcp + TCP.URG, 0);
  return tcp + TCP.HLEN;
}

// ---- flow sets and the pktgen test frame -------------------------------------------

/** Most flows in a FlowSet (UdpFrameBuilder keeps 40 bytes of template per flow). */
export const FLOWS_MAX = 1 << 20;

/** The UDP flows a `FlowSet` cycles through: addresses and ports, each a start value stepped per flow. */
export interface FlowSpec {
  /** Number of flows (default 1). */
  count?: number;
  /** Source address of flow 0, dotted or a host-order u32 (default 10.0.0.1). */
  srcIp?: string | number;
  /** Destination address of flow 0 (default 10.1.0.1). */
  dstIp?: string | number;
  /** UDP source port of flow 0 (default 1024). */
  sport?: number;
  /** UDP destination port of flow 0 (default 5001). */
  dport?: number;
  /**
   * Which fields step by +1 per flow (default ['srcIp']). Stepping two fields together
   * defeats RSS's symmetric key (see rss.ts): prefer one.
   */
  vary?: readonly ('srcIp' | 'dstIp' | 'sport' | 'dport')[];
  /** Source MAC of every frame (default 02:00:00:00:00:01, port 1's). */
  srcMac?: string | Uint8Array;
  /** Destination MAC of every frame (default 02:00:00:00:00:00, port 0's). */
  dstMac?: string | Uint8Array;
}

/**
 * A set of UDP/IPv4 5-tuples in flat typed arrays (flow i = index i), plus the MACs its
 * frames carry. Built once; buildUdpFrame reads it per packet without allocating.
 */
export class FlowSet {
  /** Number of flows. */
  readonly count: number;
  /** Source address of each flow (host order). */
  readonly srcIp: Uint32Array;
  /** Destination address of each flow (host order). */
  readonly dstIp: Uint32Array;
  /** UDP source port of each flow. */
  readonly sport: Uint16Array;
  /** UDP destination port of each flow. */
  readonly dport: Uint16Array;
  /** Source MAC of every frame. */
  readonly srcMac: Uint8Array;
  /** Destination MAC of every frame. */
  readonly dstMac: Uint8Array;

  constructor(count: number, srcMac: Uint8Array, dstMac: Uint8Array) {
    if (!Number.isInteger(count) || count < 1 || count > FLOWS_MAX) {
      throw new MpdkError('EINVAL', `flow count ${count} must be an integer from 1 to ${FLOWS_MAX}`);
    }
    this.count = count;
    this.srcIp = new Uint32Array(count);
    this.dstIp = new Uint32Array(count);
    this.sport = new Uint16Array(count);
    this.dport = new Uint16Array(count);
    this.srcMac = Uint8Array.from(srcMac);
    this.dstMac = Uint8Array.from(dstMac);
  }

  /** Flows from a base 5-tuple, the `vary` fields counting up (ports wrap at 65536). */
  static make(spec: FlowSpec = {}): FlowSet {
    const mac = (m: string | Uint8Array | undefined, dflt: number): Uint8Array => (m === undefined ? portMac(dflt) : typeof m === 'string' ? parseMac(m) : m);
    const ip = (a: string | number | undefined, dflt: string): number => (typeof a === 'number' ? a >>> 0 : parseIpv4(a ?? dflt));
    const port = (p: number | undefined, dflt: number, what: string): number => {
      const v = p ?? dflt;
      if (!Number.isInteger(v) || v < 0 || v > 65535) throw new MpdkError('EINVAL', `${what} ${v} must be an integer from 0 to 65535`);
      return v;
    };
    const fs = new FlowSet(spec.count ?? 1, mac(spec.srcMac, 1), mac(spec.dstMac, 0));
    const s = ip(spec.srcIp, '10.0.0.1');
    const d = ip(spec.dstIp, '10.1.0.1');
    const sp = port(spec.sport, 1024, 'source port');
    const dp = port(spec.dport, 5001, 'destination port');
    const vary = new Set(spec.vary ?? ['srcIp']);
    for (let i = 0; i < fs.count; i++) {
      fs.srcIp[i] = vary.has('srcIp') ? s + i : s;
      fs.dstIp[i] = vary.has('dstIp') ? d + i : d;
      fs.sport[i] = vary.has('sport') ? sp + i : sp;
      fs.dport[i] = vary.has('dport') ? dp + i : dp;
    }
    return fs;
  }
}

/**
 * Write pktgen's Eth/IPv4/UDP test frame for flow `flow` of `flows` at u8[off..]:
 * layout in the file header; `size` bytes in all (no FCS), UDP checksum 0.
 * @param size   frame length, UDP_FRAME_MIN..UDP_FRAME_MAX (64 for the classic figure)
 * @param seq    sequence number (u32, wraps)
 * @param txTime sender's timestamp, f64, in a clock the receiver shares (pktgen: µs)
 * @returns size
 */
export function buildUdpFrame(u8: Uint8Array, off: number, flows: FlowSet, flow: number, size: number, seq: number, txTime: number): number {
  const srcMac = flows.srcMac;
  const dstMac = flows.dstMac;
  for (let i = 0; i < 6; i++) {
    u8[off + i] = dstMac[i]!;
    u8[off + 6 + i] = srcMac[i]!;
  }
  u8[off + 12] = 0x08;
  u8[off + 13] = 0x00;
  const ip = off + ETH.HLEN;
  const ipLen = size - ETH.HLEN;
  // IPv4 header, checksum summed as it is written (fields are 16-bit aligned to ip).
  const src = flows.srcIp[flow]!;
  const dst = flows.dstIp[flow]!;
  u8[ip] = 0x45;
  u8[ip + 1] = 0;
  u8[ip + 2] = ipLen >>> 8;
  u8[ip + 3] = ipLen;
  u8[ip + 4] = 0;
  u8[ip + 5] = 0;
  u8[ip + 6] = 0x40;
  u8[ip + 7] = 0;
  u8[ip + 8] = 64;
  u8[ip + 9] = IPPROTO.UDP;
  u8[ip + 12] = src >>> 24;
  u8[ip + 13] = src >>> 16;
  u8[ip + 14] = src >>> 8;
  u8[ip + 15] = src;
  u8[ip + 16] = dst >>> 24;
  u8[ip + 17] = dst >>> 16;
  u8[ip + 18] = dst >>> 8;
  u8[ip + 19] = dst;
  let s = 0x4500 + ipLen + 0x4000 + ((64 << 8) | IPPROTO.UDP) + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  u8[ip + 10] = c >>> 8;
  u8[ip + 11] = c;
  const udp = ip + IPV4.HLEN;
  const sport = flows.sport[flow]!;
  const dport = flows.dport[flow]!;
  const udpLen = ipLen - IPV4.HLEN;
  u8[udp] = sport >>> 8;
  u8[udp + 1] = sport;
  u8[udp + 2] = dport >>> 8;
  u8[udp + 3] = dport;
  u8[udp + 4] = udpLen >>> 8;
  u8[udp + 5] = udpLen;
  u8[udp + 6] = 0;
  u8[udp + 7] = 0;
  const p = udp + UDP.HLEN;
  putLe32(u8, p + PAYLOAD.MAGIC, PAYLOAD_MAGIC);
  putLe32(u8, p + PAYLOAD.SEQ, seq);
  putLe32(u8, p + PAYLOAD.FLOW, flow);
  putF64(u8, p + PAYLOAD.TX_TIME, txTime);
  const end = off + size;
  if (end - p > 64) u8.fill(0, p + PAYLOAD.LEN, end);
  else for (let i = p + PAYLOAD.LEN; i < end; i++) u8[i] = 0; // small frames: a call costs more
  return size;
}

/**
 * The fast way to send pktgen frames of one size: per-flow templates of the first 40 bytes
 * (Ethernet, IPv4 with its checksum, UDP ports/length) made once, then per frame ten 32-bit
 * stores of the template, the UDP checksum word, the payload and the zero tail, through a
 * DataView bound to the buffer (unaligned little-endian stores, inlined by V8). The bytes are
 * exactly buildUdpFrame's. Bind it to the buffer the frames live in (the region's u8).
 */
export class UdpFrameBuilder {
  /** Bytes of each frame built. */
  readonly size: number;
  /** The flows it builds frames of. */
  readonly flows: FlowSet;
  private readonly dv: DataView;
  private readonly u8: Uint8Array;
  /** TPL_WORDS little-endian u32 per flow: bytes 0..39 of the frame. */
  private readonly tpl: Uint32Array;
  /**
   * Per flow: the unfolded one's-complement sum, in little-endian 16-bit words, of the UDP
   * pseudo-header and of the datagram with checksum, sequence, flow id and TX time all 0.
   * buildSealed adds the words of those three fields to it (RFC 1071: the sum does not
   * depend on byte order, so little-endian words give the checksum's little-endian form).
   */
  private readonly udpBase: Uint32Array;

  constructor(u8: Uint8Array, flows: FlowSet, size: number) {
    checkFrameSize(size);
    this.u8 = u8;
    this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    this.flows = flows;
    this.size = size;
    this.tpl = new Uint32Array(flows.count * TPL_WORDS);
    this.udpBase = new Uint32Array(flows.count);
    const scratch = new Uint8Array(size);
    const sdv = new DataView(scratch.buffer);
    const udp = ETH.HLEN + IPV4.HLEN;
    const ulen = size - udp;
    for (let f = 0; f < flows.count; f++) {
      buildUdpFrame(scratch, 0, flows, f, size, 0, 0);
      for (let w = 0; w < TPL_WORDS; w++) this.tpl[f * TPL_WORDS + w] = sdv.getUint32(4 * w, true);
      sdv.setUint32(udp + UDP.HLEN + PAYLOAD.FLOW, 0, true);
      const be = fold(sum16(scratch, udp, ulen, sum16(scratch, ETH.HLEN + IPV4.SRC, 8, 0) + IPPROTO.UDP + ulen));
      this.udpBase[f] = ((be & 0xff) << 8) | (be >>> 8);
    }
  }

  /**
   * build(), then the payload's flow field set to `id` (a flow number wider than this set's,
   * e.g. pktgen's global flow id) and a real UDP checksum, summed from the flow's base and
   * the words of sequence, id and TX time: a few additions per frame instead of a pass over
   * the datagram. The bytes are setUdpChecksum4's. No allocation.
   */
  buildSealed(off: number, flow: number, seq: number, txTime: number, id: number): number {
    this.build(off, flow, seq, txTime);
    const dv = this.dv;
    dv.setUint32(off + UDP_FRAME_HLEN + PAYLOAD.FLOW, id, true);
    F64[0] = txTime;
    let s = this.udpBase[flow]! + (seq & 0xffff) + (seq >>> 16) + (id & 0xffff) + (id >>> 16) + F64_W16[0]! + F64_W16[1]! + F64_W16[2]! + F64_W16[3]!;
    s = (s & 0xffff) + (s >>> 16);
    s = (s & 0xffff) + (s >>> 16);
    const c = ~s & 0xffff;
    dv.setUint16(off + UDP_FRAME_HLEN - UDP.HLEN + UDP.CSUM, c === 0 ? 0xffff : c, true);
    return this.size;
  }

  /**
   * Write the frame of flow `flow` at u8[off .. off+size). No allocation, no checks (flow
   * must be < flows.count and off+size ≤ u8.length: the DataView throws RangeError past it).
   * @returns size
   */
  build(off: number, flow: number, seq: number, txTime: number): number {
    const dv = this.dv;
    const tpl = this.tpl;
    const t = flow * TPL_WORDS;
    dv.setUint32(off, tpl[t]!, true);
    dv.setUint32(off + 4, tpl[t + 1]!, true);
    dv.setUint32(off + 8, tpl[t + 2]!, true);
    dv.setUint32(off + 12, tpl[t + 3]!, true);
    dv.setUint32(off + 16, tpl[t + 4]!, true);
    dv.setUint32(off + 20, tpl[t + 5]!, true);
    dv.setUint32(off + 24, tpl[t + 6]!, true);
    dv.setUint32(off + 28, tpl[t + 7]!, true);
    dv.setUint32(off + 32, tpl[t + 8]!, true);
    dv.setUint32(off + 36, tpl[t + 9]!, true);
    dv.setUint16(off + 40, 0, true); // UDP checksum: none
    const p = off + UDP_FRAME_HLEN;
    dv.setUint32(p + PAYLOAD.MAGIC, PAYLOAD_MAGIC, true);
    dv.setUint32(p + PAYLOAD.SEQ, seq, true);
    dv.setUint32(p + PAYLOAD.FLOW, flow, true);
    dv.setFloat64(p + PAYLOAD.TX_TIME, txTime, true);
    const end = off + this.size;
    if (end - p > 64) this.u8.fill(0, p + PAYLOAD.LEN, end);
    else for (let i = p + PAYLOAD.LEN; i < end; i++) dv.setUint8(i, 0);
    return this.size;
  }
}
const TPL_WORDS = 10;

/** Check a test-frame size once, outside the loop (buildUdpFrame itself does not). */
export function checkFrameSize(size: number): void {
  if (!Number.isInteger(size) || size < UDP_FRAME_MIN || size > UDP_FRAME_MAX) {
    throw new MpdkError('EINVAL', `packet size ${size} must be an integer from ${UDP_FRAME_MIN} to ${UDP_FRAME_MAX} bytes (64 for the classic small-packet figure)`);
  }
}

/** What readPayload found (caller-owned, reused). */
export class PayloadInfo {
  /** The frame's sequence number in its flow. */
  seq = 0;
  /** The flow's index. */
  flow = 0;
  /** When it was sent (µs, the sender's clock). */
  txTime = 0;
}

/**
 * If the frame at u8[off .. off+len) is an untagged IPv4/UDP test frame with the pktgen
 * magic, fill `out` and return true; false for anything else. No allocation.
 */
export function readPayload(u8: Uint8Array, off: number, len: number, out: PayloadInfo): boolean {
  if (len < UDP_FRAME_MIN || u8[off + 12] !== 0x08 || u8[off + 13] !== 0x00) return false;
  const ip = off + ETH.HLEN;
  if (u8[ip] !== 0x45 || u8[ip + IPV4.PROTO] !== IPPROTO.UDP) return false;
  const p = ip + IPV4.HLEN + UDP.HLEN;
  if (getLe32(u8, p + PAYLOAD.MAGIC) !== PAYLOAD_MAGIC) return false;
  out.seq = getLe32(u8, p + PAYLOAD.SEQ);
  out.flow = getLe32(u8, p + PAYLOAD.FLOW);
  out.txTime = getF64(u8, p + PAYLOAD.TX_TIME);
  return true;
}

// ---- parser ------------------------------------------------------------------------

/**
 * What parseFrame found; caller-owned and reused (no allocation per packet). Offsets are
 * absolute into the same u8; -1 where a layer is absent. IPv6 addresses are left in the
 * frame: read 16 bytes at l3 + IPV6.SRC / IPV6.DST.
 */
export class PacketInfo {
  /** Outer 802.1Q/802.1ad tag's TCI, or -1 when untagged. */
  vlanTci = -1;
  /** Ethertype after any VLAN tags. */
  ethertype = 0;
  /** L3 header offset (after the Ethernet header and tags). */
  l3 = -1;
  /** 4, 6, or 0 when not IP. */
  ipVersion = 0;
  /** IPv4 protocol or IPv6 next header; 0 when not IP. */
  proto = 0;
  /** IPv4 host-order addresses (0 for IPv6). */
  srcIp = 0;
  /** IPv4 destination address, host order (0 for IPv6). */
  dstIp = 0;
  /** IPv4 fragment (MF set or offset ≠ 0): ports are not parsed. */
  fragment = false;
  /** L4 header offset, or -1 (not TCP/UDP, fragment, or truncated). */
  l4 = -1;
  /** L4 source port (0 when not TCP or UDP). */
  sport = 0;
  /** L4 destination port (0 when not TCP or UDP). */
  dport = 0;
  /** Offset of the L4 payload, or -1. */
  payload = -1;
}

/**
 * Parse the Ethernet frame at u8[off .. off+len) into `out` (fields reset first).
 * @returns false when the frame is too short for the headers it announces, else true
 */
export function parseFrame(u8: Uint8Array, off: number, len: number, out: PacketInfo): boolean {
  out.vlanTci = -1;
  out.ethertype = 0;
  out.l3 = -1;
  out.ipVersion = 0;
  out.proto = 0;
  out.srcIp = 0;
  out.dstIp = 0;
  out.fragment = false;
  out.l4 = -1;
  out.sport = 0;
  out.dport = 0;
  out.payload = -1;
  const end = off + len;
  if (len < ETH.HLEN) return false;
  let p = off + ETH.TYPE;
  let type = get16(u8, p);
  for (let tags = 0; tags < 2 && (type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ); tags++) {
    if (p + 6 > end) return false;
    if (out.vlanTci < 0) out.vlanTci = get16(u8, p + 2);
    p += 4;
    type = get16(u8, p);
  }
  out.ethertype = type;
  const ip = p + 2;
  out.l3 = ip;
  let l4 = -1;
  if (type === ETHERTYPE.IPV4) {
    if (ip + IPV4.HLEN > end) return false;
    const ihl = (u8[ip]! & 15) << 2;
    if (u8[ip]! >>> 4 !== 4 || ihl < IPV4.HLEN || ip + ihl > end) return false;
    out.ipVersion = 4;
    out.proto = u8[ip + IPV4.PROTO]!;
    out.srcIp = get32(u8, ip + IPV4.SRC);
    out.dstIp = get32(u8, ip + IPV4.DST);
    out.fragment = (get16(u8, ip + IPV4.FRAG) & 0x3fff) !== 0;
    if (!out.fragment) l4 = ip + ihl;
  } else if (type === ETHERTYPE.IPV6) {
    if (ip + IPV6.HLEN > end) return false;
    out.ipVersion = 6;
    out.proto = u8[ip + IPV6.NEXT]!;
    l4 = ip + IPV6.HLEN;
  } else {
    return true;
  }
  if (l4 >= 0 && (out.proto === IPPROTO.UDP || out.proto === IPPROTO.TCP)) {
    const min = out.proto === IPPROTO.UDP ? UDP.HLEN : TCP.HLEN;
    if (l4 + min > end) return false;
    const hlen = out.proto === IPPROTO.UDP ? UDP.HLEN : (u8[l4 + TCP.DOFF]! >>> 4) << 2;
    if (hlen < min || l4 + hlen > end) return false;
    out.l4 = l4;
    out.sport = get16(u8, l4);
    out.dport = get16(u8, l4 + 2);
    out.payload = l4 + hlen;
  }
  return true;
}
