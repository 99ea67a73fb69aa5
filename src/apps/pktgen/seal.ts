/**
 * pktgen's per-frame integrity check: every frame it sends carries a real UDP checksum
 * (RFC 768, over the IPv4 pseudo-header, the UDP header and the whole payload: magic,
 * sequence, flow, TX time and the zero tail), and every frame with pktgen's magic that
 * comes back is checked: IPv4 header checksum, IPv4 total length = the frame's length − 14,
 * UDP checksum. A frame that fails is counted `corrupt` (not received): a buffer written
 * while in flight, one handed out twice and overwritten, a torn copy, a wrong length.
 * The MAC addresses are not covered (l2fwd rewrites them on purpose).
 *
 *   who calls what
 *   main.ts TX     seal(off) after re-stamping a retried frame's TX time (the checksum
 *                  covers it); new frames come sealed from TrafficPlan.build
 *                  (UdpFrameBuilder.buildSealed: the same bytes, summed incrementally)
 *   main.ts RX     intact(off, len) per frame readPayload accepted
 *
 * Sum: the one's-complement sum does not depend on byte order (RFC 1071 §2B): it is taken
 * over little-endian 16-bit words straight from a Uint16Array of the region (two byte loads
 * for a frame at an odd offset) and its result stored / compared as such; constants from
 * the headers (protocol, length) are byte-swapped into that order. The accumulator stays a
 * small integer (≤ 65535 × 760 < 2^31) and folds with two shifts. Frames are untagged
 * Eth/IPv4(no options)/UDP (net/packet.ts test-frame layout). No allocation.
 */
import { ETH, IPPROTO, IPV4, UDP } from '../../index.js';

const IP = ETH.HLEN;
const L4 = ETH.HLEN + IPV4.HLEN;

export class FrameSeal {
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;

  constructor(u8: Uint8Array) {
    this.u8 = u8;
    this.u16 = new Uint16Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 1);
  }

  /** Store the UDP checksum of the pktgen frame at `off` (its lengths from its headers). */
  seal(off: number): void {
    const u8 = this.u8;
    const cs = off + L4 + UDP.CSUM;
    u8[cs] = 0;
    u8[cs + 1] = 0;
    const c = ~fold(this.udpSum(off, this.be16(off + L4 + UDP.LEN))) & 0xffff;
    const v = c === 0 ? 0xffff : c; // little-endian word: low byte first
    u8[cs] = v & 0xff;
    u8[cs + 1] = v >>> 8;
  }

  /** True when the frame at u8[off .. off+len) has intact IPv4 and UDP headers and payload. */
  intact(off: number, len: number): boolean {
    const ipLen = this.be16(off + IP + IPV4.TOTAL_LEN);
    if (ipLen + ETH.HLEN !== len) return false;
    const ulen = this.be16(off + L4 + UDP.LEN);
    if (ulen + IPV4.HLEN !== ipLen || this.be16(off + L4 + UDP.CSUM) === 0) return false;
    if (fold(this.sum(off + IP, IPV4.HLEN)) !== 0xffff) return false;
    return fold(this.udpSum(off, ulen)) === 0xffff;
  }

  /** Unfolded sum (little-endian words) of the pseudo-header and the `ulen` bytes of the datagram. */
  private udpSum(off: number, ulen: number): number {
    return this.sum(off + IP + IPV4.SRC, 8) + swap16(IPPROTO.UDP) + swap16(ulen) + this.sum(off + L4, ulen);
  }

  /** Sum of the little-endian 16-bit words of u8[a .. a+n); an odd last byte is the low half. */
  private sum(a: number, n: number): number {
    const u8 = this.u8;
    let s = 0;
    const end = a + (n & ~1);
    if ((a & 1) === 0) {
      const u16 = this.u16;
      for (let i = a >>> 1, e = end >>> 1; i < e; i++) s += u16[i]!;
    } else {
      for (let i = a; i < end; i += 2) s += u8[i]! | (u8[i + 1]! << 8);
    }
    if ((n & 1) !== 0) s += u8[end]!;
    return s;
  }

  private be16(a: number): number {
    return (this.u8[a]! << 8) | this.u8[a + 1]!;
  }
}

function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/** Fold a sum below 2^31 to 16 bits, end-around carry included. */
function fold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}
