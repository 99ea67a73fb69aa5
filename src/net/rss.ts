/**
 * RSS: the Toeplitz hash as NICs compute it (Microsoft RSS, Intel 82599 §7.1.2.8) and the
 * redirection table (RETA) that turns a hash into an RX queue. Pure: works on a Uint8Array
 * and a byte offset, so ethdev runs it straight over the shared region's `u8` view at an
 * mbuf's data offset, without copying. Nothing here lives in shared memory; a port that
 * keeps its key and RETA in a memzone passes views of them in.
 *
 *   who calls what
 *   ethdev (configure)   new ToeplitzTable(key, hf), new Reta(nbQueues, size, view?)
 *   ethdev / drivers RX  new PacketHasher(table, region.u8) once, then per packet
 *                        hasher.hash(dataOff, len) -> mbuf.hash; reta.queueOf(hash)
 *                        (table.hashPacket(u8, off, len): same result over any buffer)
 *   pktgen, tests        table.hashIpv4L4(src, dst, sport, dport), toeplitz(key, bytes)
 *
 * Input byte order (what NICs feed the hash, all in network order):
 *   IPv4       src addr(4) dst addr(4)                          8 bytes
 *   IPv4+L4    src addr(4) dst addr(4) src port(2) dst port(2) 12 bytes
 *   IPv6       src addr(16) dst addr(16)                        32 bytes
 *   IPv6+L4    src addr(16) dst addr(16) src port(2) dst port(2) 36 bytes
 * Which one applies (as a NIC's "nonfrag" hash types): TCP or UDP over IPv4 that is not a
 * fragment (MF clear, offset 0) -> IPv4+L4; any other IPv4 (ICMP, fragments) -> IPv4; an
 * IPv6 header whose Next Header is TCP or UDP -> IPv6+L4, any other IPv6 (extension headers
 * included: they are not walked) -> IPv6; not IP, or too short to hold the fields -> 0.
 * Up to two VLAN tags (0x8100, 0x88a8, 0x9100) are skipped. A hash type left out of `hf`
 * falls back to the L3 hash, and an L3 type left out gives 0 (as a NIC does).
 *
 * Fast path: for a key K and each input byte position i (0..35) a 256-entry u32 table
 * T[i][v] = XOR of the 32-bit key windows K[8i+b .. 8i+b+31] for each set bit b of v, so a
 * hash is one lookup per input byte (12 for IPv4+L4), XORed; no allocation.
 *
 * Symmetric mode (both directions of a flow -> same hash -> same queue): the SYMMETRIC key
 * 0x6d5a repeated (Woo & Park, "Scalable TCP Session Monitoring with Symmetric RSS"). Its
 * key windows repeat every 16 bits, so swapping src/dst addresses (a 32- or 128-bit shift)
 * and src/dst ports (16 bits) leaves every term of the XOR unchanged. It is still exactly
 * the hash a NIC programmed with that key computes, and it costs nothing extra per packet
 * (sorting src/dst before hashing would not be NIC-compatible and costs compares). Its
 * price: the hash is a function of the XOR of all 16-bit words of the input only (upper
 * and lower hash halves are equal), so flows that differ in two fields stepping together
 * (src addr low word and src port both +i) XOR-cancel and collide. Vary one field per flow
 * set, or use the default key when symmetry is not needed.
 */
import { MpdkError } from '../eal/errors.js';

/** The Microsoft/Intel default 40-byte RSS key (also DPDK's test key). */
export const RSS_KEY_DEFAULT: Uint8Array = hexBytes('6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa');
/** The symmetric key: 0x6d5a repeated to 40 bytes (see the header). */
export const RSS_KEY_SYMMETRIC: Uint8Array = hexBytes('6d5a'.repeat(20));
/** Key length every port uses (NICs' 40 bytes: enough for the 36-byte IPv6+L4 input). */
export const RSS_KEY_LEN = 40;
/** Longest hash input: IPv6 src+dst+ports. */
export const RSS_INPUT_MAX = 36;

/** Hash types (DPDK's rss_hf bits, simplified to the six NICs always offer). */
export const RSS_HF = {
  /** IPv4 packets by addresses (other protocols, fragments). */
  IPV4: 1,
  /** IPv4 TCP by addresses and ports. */
  IPV4_TCP: 2,
  /** IPv4 UDP by addresses and ports. */
  IPV4_UDP: 4,
  /** IPv6 packets by addresses. */
  IPV6: 8,
  /** IPv6 TCP by addresses and ports. */
  IPV6_TCP: 16,
  /** IPv6 UDP by addresses and ports. */
  IPV6_UDP: 32,
  /** Every type above. */
  ALL: 63,
} as const;

/** Ethernet and IP constants the parser needs (packet.ts owns the full header tables). */
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const PROTO_TCP = 6;
const PROTO_UDP = 17;

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function checkKey(key: Uint8Array, inputLen: number): void {
  if (!(key instanceof Uint8Array) || key.length < inputLen + 4) {
    throw new MpdkError('EINVAL', `RSS key of ${key?.length ?? 0} bytes is too short for a ${inputLen}-byte input: it must be at least ${inputLen + 4} bytes (use the 40-byte RSS_KEY_DEFAULT)`);
  }
}

/** The 32 key bits starting at bit `bit` (bit 0 = most significant bit of key[0]). */
function keyWindow(key: Uint8Array, bit: number): number {
  const byte = bit >>> 3;
  const shift = bit & 7;
  // 40 bits from 5 bytes, then drop the `shift` leading ones; bytes past the end read as 0.
  let hi = 0;
  for (let j = 0; j < 4; j++) hi = (hi << 8) | (key[byte + j] ?? 0);
  const next = key[byte + 4] ?? 0;
  return ((hi << shift) | (next >>> (8 - shift))) >>> 0;
}

/**
 * Reference Toeplitz hash, bit by bit, exactly as the Microsoft pseudocode: for each set
 * bit b of the input (MSB of input[0] first) XOR in the 32 key bits starting at b.
 * @param key   at least len + 4 bytes
 * @param input bytes in network order (see the header for the layouts)
 * @returns     the unsigned 32-bit hash
 */
export function toeplitz(key: Uint8Array, input: Uint8Array, off = 0, len = input.length - off): number {
  checkKey(key, len);
  let h = 0;
  for (let i = 0; i < len; i++) {
    const v = input[off + i]!;
    for (let b = 0; b < 8; b++) {
      if (v & (0x80 >>> b)) h ^= keyWindow(key, i * 8 + b);
    }
  }
  return h >>> 0;
}

/**
 * A key's per-byte lookup tables (36 x 256 u32 = 36 KiB) and the hash types in use.
 * Build one per key per process at configure time; every method after that is
 * allocation-free.
 */
export class ToeplitzTable {
  /** T[i * 256 + v]: contribution of byte value v at input position i. */
  readonly t: Uint32Array;
  /** The RSS key (40 bytes). */
  readonly key: Uint8Array;
  /** Enabled hash types, RSS_HF bits. */
  readonly hf: number;

  constructor(key: Uint8Array = RSS_KEY_DEFAULT, hf: number = RSS_HF.ALL) {
    checkKey(key, RSS_INPUT_MAX);
    if (!Number.isInteger(hf) || hf < 0 || hf > RSS_HF.ALL) {
      throw new MpdkError('EINVAL', `RSS hash types ${hf} are not a combination of RSS_HF bits (0..${RSS_HF.ALL})`);
    }
    this.key = Uint8Array.from(key);
    this.hf = hf;
    this.t = new Uint32Array(RSS_INPUT_MAX * 256);
    for (let i = 0; i < RSS_INPUT_MAX; i++) {
      const w = new Uint32Array(8);
      for (let b = 0; b < 8; b++) w[b] = keyWindow(this.key, i * 8 + b);
      for (let v = 0; v < 256; v++) {
        let h = 0;
        for (let b = 0; b < 8; b++) if (v & (0x80 >>> b)) h ^= w[b]!;
        this.t[i * 256 + v] = h;
      }
    }
  }

  /** Hash of `len` (≤ 36) input bytes at u8[off..] in network order. */
  hashBytes(u8: Uint8Array, off: number, len: number): number {
    const t = this.t;
    let h = 0;
    for (let i = 0; i < len; i++) h ^= t[(i << 8) | u8[off + i]!]!;
    return h >>> 0;
  }

  /** IPv4 (src, dst) hash from host-order u32 addresses. */
  hashIpv4(src: number, dst: number): number {
    const t = this.t;
    return (t[0 * 256 + (src >>> 24)]! ^ t[1 * 256 + ((src >>> 16) & 255)]! ^ t[2 * 256 + ((src >>> 8) & 255)]! ^ t[3 * 256 + (src & 255)]!
      ^ t[4 * 256 + (dst >>> 24)]! ^ t[5 * 256 + ((dst >>> 16) & 255)]! ^ t[6 * 256 + ((dst >>> 8) & 255)]! ^ t[7 * 256 + (dst & 255)]!) >>> 0;
  }

  /** IPv4+TCP/UDP (src, dst, sport, dport) hash from host-order numbers. */
  hashIpv4L4(src: number, dst: number, sport: number, dport: number): number {
    const t = this.t;
    return (this.hashIpv4(src, dst) ^ t[8 * 256 + ((sport >>> 8) & 255)]! ^ t[9 * 256 + (sport & 255)]!
      ^ t[10 * 256 + ((dport >>> 8) & 255)]! ^ t[11 * 256 + (dport & 255)]!) >>> 0;
  }

  /**
   * The RSS hash of the Ethernet frame at u8[off .. off+len), as a NIC with this key and
   * these hash types computes it (rules in the file header). Non-IP or truncated -> 0.
   */
  hashPacket(u8: Uint8Array, off: number, len: number): number {
    const end = off + len;
    let p = off + 12;
    if (p + 2 > end) return 0;
    let type = (u8[p]! << 8) | u8[p + 1]!;
    // Up to two VLAN tags: TPID(2) TCI(2), then the next ethertype.
    for (let tags = 0; tags < 2 && (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD); tags++) {
      p += 4;
      if (p + 2 > end) return 0;
      type = (u8[p]! << 8) | u8[p + 1]!;
    }
    const ip = p + 2;
    const t = this.t;
    const hf = this.hf;
    if (type === ETHERTYPE_IPV4) {
      if ((hf & (RSS_HF.IPV4 | RSS_HF.IPV4_TCP | RSS_HF.IPV4_UDP)) === 0 || ip + 20 > end) return 0;
      const ihl = (u8[ip]! & 15) << 2;
      const a = ip + 12; // src addr, then dst addr: input bytes 0..7
      let h = t[u8[a]!]! ^ t[256 | u8[a + 1]!]! ^ t[512 | u8[a + 2]!]! ^ t[768 | u8[a + 3]!]!
        ^ t[1024 | u8[a + 4]!]! ^ t[1280 | u8[a + 5]!]! ^ t[1536 | u8[a + 6]!]! ^ t[1792 | u8[a + 7]!]!;
      const proto = u8[ip + 9]!;
      const frag = ((u8[ip + 6]! << 8) | u8[ip + 7]!) & 0x3fff; // MF flag + fragment offset
      const l4 = ip + ihl;
      if (frag === 0 && ihl >= 20 && l4 + 4 <= end
        && ((proto === PROTO_TCP && (hf & RSS_HF.IPV4_TCP) !== 0) || (proto === PROTO_UDP && (hf & RSS_HF.IPV4_UDP) !== 0))) {
        h ^= t[2048 | u8[l4]!]! ^ t[2304 | u8[l4 + 1]!]! ^ t[2560 | u8[l4 + 2]!]! ^ t[2816 | u8[l4 + 3]!]!;
      } else if ((hf & RSS_HF.IPV4) === 0) {
        return 0;
      }
      return h >>> 0;
    }
    if (type === ETHERTYPE_IPV6) {
      if ((hf & (RSS_HF.IPV6 | RSS_HF.IPV6_TCP | RSS_HF.IPV6_UDP)) === 0 || ip + 40 > end) return 0;
      const a = ip + 8; // src addr, then dst addr: input bytes 0..31
      let h = 0;
      for (let i = 0; i < 32; i++) h ^= t[(i << 8) | u8[a + i]!]!;
      const next = u8[ip + 6]!;
      const l4 = ip + 40;
      if (l4 + 4 <= end
        && ((next === PROTO_TCP && (hf & RSS_HF.IPV6_TCP) !== 0) || (next === PROTO_UDP && (hf & RSS_HF.IPV6_UDP) !== 0))) {
        h ^= t[8192 | u8[l4]!]! ^ t[8448 | u8[l4 + 1]!]! ^ t[8704 | u8[l4 + 2]!]! ^ t[8960 | u8[l4 + 3]!]!;
      } else if ((hf & RSS_HF.IPV6) === 0) {
        return 0;
      }
      return h >>> 0;
    }
    return 0;
  }
}

/**
 * ToeplitzTable.hashPacket bound to one buffer (the region's u8): the same hash, read
 * through a DataView (one big-endian 32-bit load per address or port pair instead of four
 * byte loads; V8 inlines DataView access), about 1.4x faster. What ethdev's RX path uses.
 */
export class PacketHasher {
  /** The Toeplitz table it hashes with. */
  readonly table: ToeplitzTable;
  private readonly dv: DataView;
  private readonly t: Uint32Array;
  private readonly hf: number;

  constructor(table: ToeplitzTable, u8: Uint8Array) {
    this.table = table;
    this.t = table.t;
    this.hf = table.hf;
    this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  }

  /** The RSS hash of the frame at [off, off+len) of the bound buffer (rules: file header). */
  hash(off: number, len: number): number {
    const dv = this.dv;
    const t = this.t;
    const hf = this.hf;
    const end = off + len;
    let p = off + 12;
    if (p + 2 > end) return 0;
    let type = dv.getUint16(p);
    for (let tags = 0; tags < 2 && (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD); tags++) {
      p += 4;
      if (p + 2 > end) return 0;
      type = dv.getUint16(p);
    }
    const ip = p + 2;
    if (type === ETHERTYPE_IPV4) {
      if ((hf & (RSS_HF.IPV4 | RSS_HF.IPV4_TCP | RSS_HF.IPV4_UDP)) === 0 || ip + 20 > end) return 0;
      const s = dv.getUint32(ip + 12);
      const d = dv.getUint32(ip + 16);
      let h = t[s >>> 24]! ^ t[256 | ((s >>> 16) & 255)]! ^ t[512 | ((s >>> 8) & 255)]! ^ t[768 | (s & 255)]!
        ^ t[1024 | (d >>> 24)]! ^ t[1280 | ((d >>> 16) & 255)]! ^ t[1536 | ((d >>> 8) & 255)]! ^ t[1792 | (d & 255)]!;
      const ihl = (dv.getUint8(ip) & 15) << 2;
      const proto = dv.getUint8(ip + 9);
      const frag = dv.getUint16(ip + 6) & 0x3fff;
      const l4 = ip + ihl;
      if (frag === 0 && ihl >= 20 && l4 + 4 <= end
        && ((proto === PROTO_TCP && (hf & RSS_HF.IPV4_TCP) !== 0) || (proto === PROTO_UDP && (hf & RSS_HF.IPV4_UDP) !== 0))) {
        const pp = dv.getUint32(l4);
        h ^= t[2048 | (pp >>> 24)]! ^ t[2304 | ((pp >>> 16) & 255)]! ^ t[2560 | ((pp >>> 8) & 255)]! ^ t[2816 | (pp & 255)]!;
      } else if ((hf & RSS_HF.IPV4) === 0) {
        return 0;
      }
      return h >>> 0;
    }
    if (type === ETHERTYPE_IPV6) {
      if ((hf & (RSS_HF.IPV6 | RSS_HF.IPV6_TCP | RSS_HF.IPV6_UDP)) === 0 || ip + 40 > end) return 0;
      let h = 0;
      for (let i = 0; i < 8; i++) {
        const w = dv.getUint32(ip + 8 + 4 * i);
        const b = i << 10; // table row of the word's first byte: 4 * i * 256
        h ^= t[b | (w >>> 24)]! ^ t[(b + 256) | ((w >>> 16) & 255)]! ^ t[(b + 512) | ((w >>> 8) & 255)]! ^ t[(b + 768) | (w & 255)]!;
      }
      const next = dv.getUint8(ip + 6);
      const l4 = ip + 40;
      if (l4 + 4 <= end
        && ((next === PROTO_TCP && (hf & RSS_HF.IPV6_TCP) !== 0) || (next === PROTO_UDP && (hf & RSS_HF.IPV6_UDP) !== 0))) {
        const pp = dv.getUint32(l4);
        h ^= t[8192 | (pp >>> 24)]! ^ t[8448 | ((pp >>> 16) & 255)]! ^ t[8704 | ((pp >>> 8) & 255)]! ^ t[8960 | (pp & 255)]!;
      } else if ((hf & RSS_HF.IPV6) === 0) {
        return 0;
      }
      return h >>> 0;
    }
    return 0;
  }
}

/** Default RETA size (DPDK's ETH_RSS_RETA_SIZE_128, what ixgbe/i40e VFs expose). */
export const RETA_SIZE_DEFAULT = 128;

/**
 * Redirection table: queue = reta[hash & (size - 1)]. `entries` may be a view into a
 * port's shared memory (so every process of the instance steers alike); the writer is
 * whoever configures the port (the primary), readers are the RX paths, and an update of
 * one u16 entry is atomic on its own, so a reader sees either the old or the new queue.
 */
export class Reta {
  /** The redirection table: entry i is the RX queue of hashes whose low bits are i. */
  readonly entries: Uint16Array;
  /** `entries.length - 1`: an entry is `hash & mask`. */
  readonly mask: number;

  /**
   * @param nbQueues queues to spread over (default fill: entry i -> queue i % nbQueues)
   * @param size     power of two, 1..65536 (default 128)
   * @param entries  optional backing store of `size` u16 (e.g. in a memzone); filled here
   */
  constructor(nbQueues: number, size: number = RETA_SIZE_DEFAULT, entries?: Uint16Array) {
    if (!Number.isInteger(size) || size < 1 || size > 65536 || (size & (size - 1)) !== 0) {
      throw new MpdkError('EINVAL', `RETA size ${size} must be a power of two between 1 and 65536 (NICs use 64, 128 or 512)`);
    }
    if (entries && entries.length < size) {
      throw new MpdkError('EINVAL', `RETA backing store holds ${entries.length} entries, fewer than the size ${size}`);
    }
    checkQueues(nbQueues);
    this.entries = entries ? entries.subarray(0, size) : new Uint16Array(size);
    this.mask = size - 1;
    this.fill(nbQueues);
  }

  /** Entries in the table (a power of two). */
  get size(): number {
    return this.mask + 1;
  }

  /** Round-robin fill over `nbQueues` queues (DPDK's default RETA). */
  fill(nbQueues: number): void {
    checkQueues(nbQueues);
    const e = this.entries;
    for (let i = 0; i <= this.mask; i++) e[i] = i % nbQueues;
  }

  /** Point entry `index` at `queue` (rte_eth_dev_rss_reta_update for one entry). */
  set(index: number, queue: number): void {
    if (!Number.isInteger(index) || index < 0 || index > this.mask) {
      throw new MpdkError('EINVAL', `RETA index ${index} is out of range 0..${this.mask}`);
    }
    if (!Number.isInteger(queue) || queue < 0 || queue > 65535) {
      throw new MpdkError('EINVAL', `RETA queue ${queue} is out of range 0..65535`);
    }
    this.entries[index] = queue;
  }

  /** The RX queue for a hash. Hot path: one mask, one load. */
  queueOf(hash: number): number {
    return this.entries[hash & this.mask]!;
  }
}

function checkQueues(nbQueues: number): void {
  if (!Number.isInteger(nbQueues) || nbQueues < 1 || nbQueues > 65536) {
    throw new MpdkError('EINVAL', `RETA queue count ${nbQueues} must be an integer from 1 to 65536`);
  }
}
