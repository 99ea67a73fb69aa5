/**
 * Packet buffers (DPDK's rte_mbuf and rte_pktmbuf_pool_create): a pool of mbufs built on
 * Mempool. An mbuf is a mempool element; its HANDLE is its byte offset in the region, so
 * every field is a plain typed-array access (`u16[(h + MBUF.DATA_LEN) >>> 1]`) and the
 * packet bytes are `region.u8[mbufs.dataOffset(h) + i]` for i in [0, dataLen(h)).
 *
 * Who calls what
 *   any process       PktmbufPool.create / lookup; field accessors on any handle (class Mbufs)
 *   lcore thread      alloc, allocBulk (through its pool's per-lcore cache); free, freeBulk
 *                     return each segment to the pool recorded in it (POOL), whoever created it
 *   one owner at a time: a handle belongs to whoever took it from a pool or a ring; only
 *   REFCNT is touched by several owners at once (atomically, when refcnt > 1)
 *
 * Element layout (one mempool element; h is 64-aligned):
 *
 *   h         +0    mbuf header, MBUF below: 2 cache lines, RX fields on the first
 *   h + 128         private area (privSize bytes, a multiple of 8; the application's)
 *   BUF_OFF         buffer: BUF_LEN = data room bytes; the data starts DATA_OFF bytes in
 *                   (headroom, 128 by default) and is DATA_LEN bytes long
 *
 *   |<------------------- BUF_LEN ------------------->|
 *   | headroom (DATA_OFF) | data (DATA_LEN) | tailroom |
 *   ^ BUF_OFF             ^ dataOffset(h)
 *
 * A chain (a packet in several segments) links segments through NEXT (a handle, 0 = none);
 * the first segment's PKT_LEN and NB_SEGS describe the whole packet.
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { Mempool, MEMPOOL_MZ_PREFIX } from '../mempool/mempool.js';
import { awaitCreated } from '../eal/memzone.js';
import type { Region } from '../eal/region.js';
import { registerDescriber } from '../eal/describe.js';
import { wordsAsF64 } from '../net/bytes.js';
import { SharedCounts } from './shared-counts.js';

/** The mbuf header: byte offsets from the handle. u16 fields are 2-aligned, words 4-aligned. */
export const MBUF = {
  BUF_OFF: 0, // u32 region offset of the buffer start (set once at pool creation)
  POOL: 4, // u32 region offset of the owning pool's header (set once)
  DATA_OFF: 8, // u16 ┐ one u32 word (REARM): reset writes both at once
  REFCNT: 10, // u16 ┘ 1 while in the pool and while one owner holds it; atomic when > 1
  NB_SEGS: 12, // u16 ┐ one u32 word
  PORT: 14, // u16   ┘ input port; 0xFFFF = none
  OL_FLAGS: 16, // u32 offload flags, low half (RX flags live here)
  OL_FLAGS_HI: 20, // u32 offload flags, high half (TX flags)
  PACKET_TYPE: 24, // u32
  PKT_LEN: 28, // u32 total length of the chain (first segment only)
  DATA_LEN: 32, // u16 ┐ one u32 word
  VLAN_TCI: 34, // u16 ┘
  HASH_RSS: 36, // u32
  HASH_HI: 40, // u32 (flow director / second hash word)
  VLAN_TCI_OUTER: 44, // u16 ┐ one u32 word: reset zeroes both
  RESERVED_46: 46, // u16    ┘ 0
  TIMESTAMP: 48, // f64 (e.g. ns or ms at RX, for latency)
  NEXT: 56, // u32 next segment's handle, 0 = last
  BUF_LEN: 60, // u16 bytes of the buffer (set once)
  PRIV_SIZE: 62, // u16 bytes of the private area (set once)
  // second cache line
  TX_OFFLOAD: 64, // u32 l2/l3/l4 lengths as the application packs them
  TX_OFFLOAD_HI: 68, // u32
  OWNER: 72, // u32 reserved for the ownership record of buffers in flight (0 = none)
  SEQN: 76, // u32 free for applications (pktgen's sequence number)
  HEADROOM: 80, // u16 the DATA_OFF a reset restores: min(128, BUF_LEN) (set once)
  DYNFIELD: 84, // 44 bytes free for applications
  DYNFIELD_BYTES: 44,
  BYTES: 128,
} as const;

/** Pool private area of a packet-buffer pool (in the mempool's private area). */
export const MBUF_POOL_PRIV = { MAGIC: 0, DATA_ROOM: 4, PRIV_SIZE: 8, BYTES: 64 } as const;
export const MBUF_POOL_MAGIC = 0x4642424d; // 'MBBF'

/**
 * Bit 0 of a handle (handles are 64-aligned) tags an entry of a record's free list as a
 * reference the free dropped, not a segment it gives back (Mbufs.collectFreed recordDrops).
 */
export const MBUF_DROPPED = 1;

/** DPDK's RTE_PKTMBUF_HEADROOM. */
export const PKTMBUF_HEADROOM = 128;
/** DPDK's RTE_MBUF_DEFAULT_BUF_SIZE (2048 data bytes + headroom). */
export const MBUF_DEFAULT_BUF_SIZE = 2048 + PKTMBUF_HEADROOM;
/** An mbuf's `port` when it came from no port (DPDK's RTE_MBUF_PORT_INVALID). */
export const MBUF_PORT_INVALID = 0xffff;
/** Most segments one packet (a chain of mbufs) may have (DPDK's RTE_MBUF_MAX_NB_SEGS). */
export const MBUF_MAX_NB_SEGS = 0xffff;
/** The private area's size must be a multiple of this (RTE_MBUF_PRIV_ALIGN). */
export const MBUF_PRIV_ALIGN = 8;

/** Offload flags (OL_FLAGS, the RX half), DPDK's RTE_MBUF_F_RX_*. */
export const MBUF_F_RX_VLAN = 1 << 0;
/** The mbuf's HASH_RSS holds the RSS hash. */
export const MBUF_F_RX_RSS_HASH = 1 << 1;
/** The VLAN tag was removed from the packet's bytes; VLAN_TCI holds it (RTE_MBUF_F_RX_VLAN_STRIPPED). */
export const MBUF_F_RX_VLAN_STRIPPED = 1 << 6;

/** Word 2 after a reset: DATA_OFF (set per mbuf) | REFCNT 1 << 16. */
const REFCNT_ONE_HI = 1 << 16;
/** Word 3 after a reset: NB_SEGS 1 | PORT 0xFFFF << 16. */
const SEGS1_PORT_NONE = (1 | (MBUF_PORT_INVALID << 16)) >>> 0;
const PENDING = 64;
/**
 * The MBUF offsets as module constants, for the accessors and loops below: TurboFan folds
 * these, while every property read of the exported MBUF table costs a map check and a
 * load in optimized code (a per-packet loop measured +0.7 ns per field read).
 */
const { BUF_LEN, BUF_OFF, BYTES: MBUF_BYTES, DATA_LEN, DATA_OFF, HASH_HI, HASH_RSS, HEADROOM, NB_SEGS, NEXT, OL_FLAGS, OL_FLAGS_HI, PACKET_TYPE, PKT_LEN, POOL, PORT, PRIV_SIZE, REFCNT, SEQN, TIMESTAMP, TX_OFFLOAD, VLAN_TCI } = MBUF;
/** u32 indexes from h >>> 2 of the words the burst loops read. */
const W_BUF_OFF = BUF_OFF >>> 2;
const W_POOL = POOL >>> 2;
const W_REARM = DATA_OFF >>> 2; // DATA_OFF | REFCNT << 16
const W_PKT_LEN = PKT_LEN >>> 2;
const W_NEXT = NEXT >>> 2;
const W_DATA_LEN = DATA_LEN >>> 2; // DATA_LEN | VLAN_TCI << 16
const W_SEGS_PORT = NB_SEGS >>> 2; // NB_SEGS | PORT << 16
/** f64 indexes from h >>> 3 of the 8-byte pairs RX stamps. */
const D_REARM_SEGS = DATA_OFF >>> 3; // DATA_OFF|REFCNT, NB_SEGS|PORT
const D_OL_FLAGS = OL_FLAGS >>> 3; // OL_FLAGS, OL_FLAGS_HI
const D_TYPE_LEN = PACKET_TYPE >>> 3; // PACKET_TYPE, PKT_LEN

/**
 * A recorded free of freeBulk's general case (chains, several pools, shared segments): an
 * ownership record registers its arrays (hands.ts), and a freeBulk of one of them, a driver's
 * send whose one freeBulk is the send's free (driver.ts contract), asks it first. freeTaken
 * takes the packets apart recorded and answers true, or false when it has no such send open
 * (freeBulk then frees them as usual). Looked up off the common case only: nothing per burst.
 */
export interface RecordedFree {
  freeTaken(handles: Uint32Array, n: number): boolean;
}
const recordedFrees = new WeakMap<Uint32Array, RecordedFree>();
/** Register (or, with undefined, forget) the recorded free of `array` (an ownership record's array: hands.ts). */
export function registerRecordedFree(array: Uint32Array, f: RecordedFree | undefined): void {
  if (f) recordedFrees.set(array, f);
  else recordedFrees.delete(array);
}

/**
 * Field access and freeing for mbufs of any pool, from one thread. Nothing here
 * allocates, except `bytes` (a view, for code off the hot path) and the first free to a
 * pool this object has not met yet.
 */
export class Mbufs {
  /** The Eal these accessors read through. */
  readonly eal: Eal;
  /** The shared region. */
  readonly region: Region;
  /** Views over the whole region: `u8[dataOffset(h) + i]` is packet byte i. */
  readonly u8: Uint8Array;
  /** A u16 view over the whole region. */
  readonly u16: Uint16Array;
  /** A u32 view over the whole region. */
  readonly u32: Uint32Array;
  /** An f64 view over the whole region. */
  readonly f64: Float64Array;
  private readonly pools = new Map<number, Mempool>();
  private lastPoolOff = -1;
  private lastPool: Mempool | undefined;
  /** freeBulk's batch: segments bound for the same pool, put in one putBulk. */
  private readonly pending = new Uint32Array(PENDING);

  constructor(eal: Eal) {
    this.eal = eal;
    this.region = eal.region;
    this.u8 = eal.region.u8;
    this.u16 = new Uint16Array(eal.region.buffer);
    this.u32 = eal.region.u32;
    this.f64 = eal.region.f64;
  }

  // --- fields --------------------------------------------------------------------------

  /**
   * Region offset of the first data byte (DPDK's rte_pktmbuf_mtod): the packet data
   * address, the one place it is computed (buffer + data offset).
   */
  dataOffset(h: number): number {
    const u32 = this.u32;
    return u32[(h + BUF_OFF) >>> 2]! + (u32[(h + DATA_OFF) >>> 2]! & 0xffff); // DATA_OFF: the low half of its word
  }
  /**
   * port of handles[0..n) into out[0..n), four mbufs at a time: their headers are read
   * independently of each other, so the CPU fetches several of them at once (a consumer on
   * another core than the producer that filled them misses on every header).
   */
  ports(handles: Uint32Array, n: number, out: Uint16Array): void {
    const u32 = this.u32;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const a = u32[(handles[i]! >>> 2) + W_SEGS_PORT]!;
      const b = u32[(handles[i + 1]! >>> 2) + W_SEGS_PORT]!;
      const c = u32[(handles[i + 2]! >>> 2) + W_SEGS_PORT]!;
      const d = u32[(handles[i + 3]! >>> 2) + W_SEGS_PORT]!;
      out[i] = a >>> 16;
      out[i + 1] = b >>> 16;
      out[i + 2] = c >>> 16;
      out[i + 3] = d >>> 16;
    }
    for (; i < n; i++) out[i] = u32[(handles[i]! >>> 2) + W_SEGS_PORT]! >>> 16;
  }

  /**
   * dataOffset of handles[from..from + n) into out[0..n) (a burst's frames, for a rewrite
   * over all of them; `from`: where the burst starts in a buffer that held some already).
   */
  dataOffsets(handles: Uint32Array, n: number, out: Uint32Array, from = 0): void {
    const u32 = this.u32;
    let i = 0;
    for (; i + 4 <= n; i += 4) { // four at a time, as freeBulk
      const a = handles[from + i]! >>> 2;
      const b = handles[from + i + 1]! >>> 2;
      const c = handles[from + i + 2]! >>> 2;
      const d = handles[from + i + 3]! >>> 2;
      out[i] = u32[a + W_BUF_OFF]! + (u32[a + W_REARM]! & 0xffff);
      out[i + 1] = u32[b + W_BUF_OFF]! + (u32[b + W_REARM]! & 0xffff);
      out[i + 2] = u32[c + W_BUF_OFF]! + (u32[c + W_REARM]! & 0xffff);
      out[i + 3] = u32[d + W_BUF_OFF]! + (u32[d + W_REARM]! & 0xffff);
    }
    for (; i < n; i++) {
      const a = handles[from + i]! >>> 2;
      out[i] = u32[a + W_BUF_OFF]! + (u32[a + W_REARM]! & 0xffff); // DATA_OFF: the low half of its word
    }
  }
  /** Region offset of the mbuf's data buffer (its headroom's first byte). */
  bufOffset(h: number): number {
    return this.u32[(h + BUF_OFF) >>> 2]!;
  }
  /** Bytes of the data buffer, headroom included. */
  bufLen(h: number): number {
    return this.u16[(h + BUF_LEN) >>> 1]!;
  }
  /** Where the data starts in the buffer: bytes from `bufOffset(h)` (the headroom). */
  dataOff(h: number): number {
    return this.u16[(h + DATA_OFF) >>> 1]!;
  }
  /** Set the data's start in the buffer (`v` ≤ `bufLen(h)`; not checked). */
  setDataOff(h: number, v: number): void {
    this.u16[(h + DATA_OFF) >>> 1] = v;
  }
  /** Data bytes in this segment. */
  dataLen(h: number): number {
    return this.u16[(h + DATA_LEN) >>> 1]!;
  }
  /** Set this segment's data bytes (keep `pktLen` of the first segment in step; not checked). */
  setDataLen(h: number, v: number): void {
    this.u16[(h + DATA_LEN) >>> 1] = v;
  }
  /** Bytes of the whole packet, all segments (read on the first segment). */
  pktLen(h: number): number {
    return this.u32[(h + PKT_LEN) >>> 2]!;
  }
  /** Set the whole packet's bytes (on the first segment). */
  setPktLen(h: number, v: number): void {
    this.u32[(h + PKT_LEN) >>> 2] = v;
  }
  /** The port the packet came in on, or MBUF_PORT_INVALID. */
  port(h: number): number {
    return this.u16[(h + PORT) >>> 1]!;
  }
  /** Set the packet's input port. */
  setPort(h: number, v: number): void {
    this.u16[(h + PORT) >>> 1] = v;
  }
  /** The RSS hash (meaningful when `olFlags(h)` has MBUF_F_RX_RSS_HASH). */
  rssHash(h: number): number {
    return this.u32[(h + HASH_RSS) >>> 2]!;
  }
  /** Set the RSS hash field (without the flag: see `setRxRssHash`). */
  setRssHash(h: number, v: number): void {
    this.u32[(h + HASH_RSS) >>> 2] = v;
  }
  /** A received packet's RSS hash: HASH_RSS, and the MBUF_F_RX_RSS_HASH offload flag that says it is there. */
  setRxRssHash(h: number, hash: number): void {
    const u32 = this.u32;
    u32[(h + HASH_RSS) >>> 2] = hash;
    u32[(h + OL_FLAGS) >>> 2] = u32[(h + OL_FLAGS) >>> 2]! | MBUF_F_RX_RSS_HASH;
  }
  /** PKT_LEN of handles[0..n) added up (a burst's bytes, for the queue statistics). */
  pktLenSum(handles: Uint32Array, n: number): number {
    const u32 = this.u32;
    let bytes = 0;
    let i = 0;
    for (; i + 4 <= n; i += 4) { // four at a time, as freeBulk
      bytes += u32[(handles[i]! >>> 2) + W_PKT_LEN]! + u32[(handles[i + 1]! >>> 2) + W_PKT_LEN]!
        + u32[(handles[i + 2]! >>> 2) + W_PKT_LEN]! + u32[(handles[i + 3]! >>> 2) + W_PKT_LEN]!;
    }
    for (; i < n; i++) bytes += u32[(handles[i]! >>> 2) + W_PKT_LEN]!;
    return bytes;
  }
  /** Offload flags, low 32 bits (the RX flags). */
  olFlags(h: number): number {
    return this.u32[(h + OL_FLAGS) >>> 2]!;
  }
  /** Offload flags, high 32 bits (the TX flags). */
  olFlagsHi(h: number): number {
    return this.u32[(h + OL_FLAGS_HI) >>> 2]!;
  }
  /** Set the offload flags: low 32 bits (RX, MBUF_F_RX_*) and high 32 bits (TX). */
  setOlFlags(h: number, lo: number, hi = 0): void {
    this.u32[(h + OL_FLAGS) >>> 2] = lo;
    this.u32[(h + OL_FLAGS_HI) >>> 2] = hi;
  }
  /** DPDK's packet type word (RTE_PTYPE_* bits; 0 = not known). */
  packetType(h: number): number {
    return this.u32[(h + PACKET_TYPE) >>> 2]!;
  }
  /** Set the packet type word. */
  setPacketType(h: number, v: number): void {
    this.u32[(h + PACKET_TYPE) >>> 2] = v;
  }
  /** The VLAN tag (meaningful with MBUF_F_RX_VLAN). */
  vlanTci(h: number): number {
    return this.u16[(h + VLAN_TCI) >>> 1]!;
  }
  /** Set the VLAN tag field. */
  setVlanTci(h: number, v: number): void {
    this.u16[(h + VLAN_TCI) >>> 1] = v;
  }
  /** The packet's timestamp, as the driver or program that set it wrote it (0 = none). */
  timestamp(h: number): number {
    return this.f64[(h + TIMESTAMP) >>> 3]!;
  }
  /** Set the timestamp field. */
  setTimestamp(h: number, v: number): void {
    this.f64[(h + TIMESTAMP) >>> 3] = v;
  }
  /** A sequence number field free for the application (DPDK's seqn dynfield). */
  seqn(h: number): number {
    return this.u32[(h + SEQN) >>> 2]!;
  }
  /** Set the sequence number field. */
  setSeqn(h: number, v: number): void {
    this.u32[(h + SEQN) >>> 2] = v;
  }
  /** The next segment's handle in a chain, 0 for the last. */
  next(h: number): number {
    return this.u32[(h + NEXT) >>> 2]!;
  }
  /** Set the next segment (0: the last), for a driver that links a chain it owns whole (`chain` checks and walks). */
  setNext(h: number, v: number): void {
    this.u32[(h + NEXT) >>> 2] = v;
  }
  /** Segments in the packet (read on the first segment). */
  nbSegs(h: number): number {
    return this.u16[(h + NB_SEGS) >>> 1]!;
  }
  /** Set the segment count (on the first segment; keep it the chain's length). */
  setNbSegs(h: number, v: number): void {
    this.u16[(h + NB_SEGS) >>> 1] = v;
  }
  /** Bytes of the application's private area after the mbuf header (the pool's `privateSize`). */
  privSize(h: number): number {
    return this.u16[(h + PRIV_SIZE) >>> 1]!;
  }
  /** Region offset of the private area (privSize(h) bytes). */
  privOffset(h: number): number {
    return h + MBUF_BYTES;
  }
  /** Region offset of the owning pool's header. */
  poolOf(h: number): number {
    return this.u32[(h + POOL) >>> 2]!;
  }
  /** Free bytes before the data (where headers can be prepended). */
  headroom(h: number): number {
    return this.u16[(h + DATA_OFF) >>> 1]!;
  }
  /** Free bytes after this segment's data. */
  tailroom(h: number): number {
    const u16 = this.u16;
    return u16[(h + BUF_LEN) >>> 1]! - u16[(h + DATA_OFF) >>> 1]! - u16[(h + DATA_LEN) >>> 1]!;
  }
  /** The last segment of the chain that starts at `h`. */
  lastSeg(h: number): number {
    let m = h;
    for (let nx = this.next(m); nx !== 0; nx = this.next(m)) m = nx;
    return m;
  }

  // --- reference count -----------------------------------------------------------------

  /** The reference count (atomic load): how many holders free the mbuf before it goes back to its pool. */
  refcnt(h: number): number {
    return Atomics.load(this.u16, (h + REFCNT) >>> 1);
  }
  /** Set the reference count (atomic store); only while the mbuf is this thread's alone. */
  setRefcnt(h: number, v: number): void {
    Atomics.store(this.u16, (h + REFCNT) >>> 1, v);
  }
  /**
   * Add `delta` (may be negative); returns the new count (DPDK's rte_mbuf_refcnt_update). Made
   * under the shared counts' lock, journaled (shared-counts.ts): a death inside it leaves a
   * count a reclaimer reads as changed or not. The references it adds are held by no place
   * until the caller puts the handle in one (a ring, another process): hands.ts header.
   */
  refcntUpdate(h: number, delta: number): number {
    const sc = this.sharedCounts();
    sc.acquire();
    try {
      const r = sc.count(h);
      const n = (r + delta) & 0xffff;
      if (n !== r) sc.change(h, r, n);
      return n;
    } finally {
      sc.release();
    }
  }

  /**
   * Drop `d` references of segment `h` held by processes that died (reclaim.ts), as d frees of
   * it would, the shared counts' lock held by the caller (sharedCounts): true when none is left
   * then (the caller returns it to its pool: its count is 1, a lone segment's), else false (the
   * count is d less, journaled).
   */
  dropRefs(h: number, d: number): boolean {
    const sc = this.sharedCounts();
    const r = sc.count(h);
    if (r <= d) return true;
    sc.change(h, r, r - d);
    return false;
  }

  // --- data room (DPDK semantics; a refusal changes nothing) ----------------------------

  /**
   * Grow the data at its front by `len` bytes (into the headroom). Returns the region
   * offset of the new first byte, or -1 when the headroom is smaller than `len`.
   */
  prepend(h: number, len: number): number {
    const u16 = this.u16;
    const off = u16[(h + DATA_OFF) >>> 1]!;
    if (len > off || len < 0) return -1;
    u16[(h + DATA_OFF) >>> 1] = off - len;
    u16[(h + DATA_LEN) >>> 1] = u16[(h + DATA_LEN) >>> 1]! + len;
    this.u32[(h + PKT_LEN) >>> 2] = this.u32[(h + PKT_LEN) >>> 2]! + len;
    return this.u32[(h + BUF_OFF) >>> 2]! + off - len;
  }

  /**
   * Grow the packet at its end by `len` bytes (in the last segment's tailroom). Returns
   * the region offset of the first appended byte, or -1 when the tailroom is too small.
   */
  append(h: number, len: number): number {
    const last = this.lastSeg(h);
    if (len > this.tailroom(last) || len < 0) return -1;
    const u16 = this.u16;
    const dl = u16[(last + DATA_LEN) >>> 1]!;
    const tail = this.dataOffset(last) + dl;
    u16[(last + DATA_LEN) >>> 1] = dl + len;
    this.u32[(h + PKT_LEN) >>> 2] = this.u32[(h + PKT_LEN) >>> 2]! + len;
    return tail;
  }

  /**
   * Remove `len` bytes from the front of the first segment. Returns the region offset of
   * the new first byte, or -1 when the first segment holds fewer than `len` bytes.
   */
  adj(h: number, len: number): number {
    const u16 = this.u16;
    const dl = u16[(h + DATA_LEN) >>> 1]!;
    if (len > dl || len < 0) return -1;
    const off = u16[(h + DATA_OFF) >>> 1]! + len;
    u16[(h + DATA_LEN) >>> 1] = dl - len;
    u16[(h + DATA_OFF) >>> 1] = off;
    this.u32[(h + PKT_LEN) >>> 2] = this.u32[(h + PKT_LEN) >>> 2]! - len;
    return this.u32[(h + BUF_OFF) >>> 2]! + off;
  }

  /** Remove `len` bytes from the end of the last segment. Returns 0, or -1 when it holds fewer. */
  trim(h: number, len: number): number {
    const last = this.lastSeg(h);
    const u16 = this.u16;
    const dl = u16[(last + DATA_LEN) >>> 1]!;
    if (len > dl || len < 0) return -1;
    u16[(last + DATA_LEN) >>> 1] = dl - len;
    this.u32[(h + PKT_LEN) >>> 2] = this.u32[(h + PKT_LEN) >>> 2]! - len;
    return 0;
  }

  /**
   * Append chain `tail` to chain `head` (DPDK's rte_pktmbuf_chain). Returns 0, or -1 when
   * the result would have more than 65535 segments (nothing changed).
   */
  chain(head: number, tail: number): number {
    const u16 = this.u16;
    const segs = u16[(head + NB_SEGS) >>> 1]! + u16[(tail + NB_SEGS) >>> 1]!;
    if (segs > MBUF_MAX_NB_SEGS) return -1;
    this.u32[(this.lastSeg(head) + NEXT) >>> 2] = tail;
    u16[(head + NB_SEGS) >>> 1] = segs;
    this.u32[(head + PKT_LEN) >>> 2] = this.u32[(head + PKT_LEN) >>> 2]! + this.u32[(tail + PKT_LEN) >>> 2]!;
    this.u32[(tail + PKT_LEN) >>> 2] = u16[(tail + DATA_LEN) >>> 1]!;
    return 0;
  }

  /**
   * Reset the metadata as a fresh mbuf (DPDK's rte_pktmbuf_reset, plus refcnt = 1):
   * data offset = headroom, lengths 0, one segment, no next, no port, flags, type and RSS
   * hash 0 (8 stores: zero word pairs go as one 8-byte store). Plain
   * stores only; the caller owns `h`.
   */
  reset(h: number): void {
    this.resetWith(h, this.u16[(h + HEADROOM) >>> 1]! | REFCNT_ONE_HI);
  }

  /** `reset` with the DATA_OFF|REFCNT word precomputed (a pool knows its headroom): word stores only. */
  protected resetWith(h: number, rearm: number): void {
    const u32 = this.u32;
    const f64 = this.f64;
    const w = h >>> 2;
    const d = h >>> 3; // handles are 64-aligned: an 8-byte store of +0 zeroes two words
    u32[w + (DATA_OFF >>> 2)] = rearm; // DATA_OFF = headroom, REFCNT = 1
    u32[w + (NB_SEGS >>> 2)] = SEGS1_PORT_NONE; // NB_SEGS = 1, PORT = none
    f64[d + (OL_FLAGS >>> 3)] = 0; // OL_FLAGS, OL_FLAGS_HI
    f64[d + (PACKET_TYPE >>> 3)] = 0; // PACKET_TYPE, PKT_LEN
    f64[d + (DATA_LEN >>> 3)] = 0; // DATA_LEN, VLAN_TCI, HASH_RSS (meaningless without its flag)
    f64[d + (HASH_HI >>> 3)] = 0; // HASH_HI, VLAN_TCI_OUTER
    u32[w + (NEXT >>> 2)] = 0;
    f64[d + (TX_OFFLOAD >>> 3)] = 0; // TX_OFFLOAD, TX_OFFLOAD_HI
  }

  // --- free ------------------------------------------------------------------------------

  /**
   * Drop one reference to segment `m` (DPDK's rte_pktmbuf_prefree_seg). True when it
   * must now go back to its pool (it is then a lone segment with refcnt 1).
   */
  private prefree(m: number): boolean {
    const u16 = this.u16;
    const ri = (m + REFCNT) >>> 1;
    if (u16[ri] !== 1 && !this.dropShared(m)) return false; // shared: only the last owner frees
    if (this.u32[(m + NEXT) >>> 2] !== 0) {
      this.u32[(m + NEXT) >>> 2] = 0;
      u16[(m + NB_SEGS) >>> 1] = 1;
    }
    return true;
  }

  /** The Mempool object (for this thread's lcore) of the pool whose header is at `off`. */
  poolAt(off: number): Mempool {
    if (off === this.lastPoolOff) return this.lastPool!;
    let p = this.pools.get(off);
    if (!p) {
      p = Mempool.attachAt(this.eal, off);
      this.pools.set(off, p);
    }
    this.lastPoolOff = off;
    this.lastPool = p;
    return p;
  }

  /** Free a packet: every segment of the chain loses one reference; unshared ones return to their pool. */
  free(h: number): void {
    let m = h;
    while (m !== 0) {
      const nx = this.u32[(m + NEXT) >>> 2]!;
      if (this.prefree(m)) this.poolAt(this.u32[(m + POOL) >>> 2]!).put(m);
      m = nx;
    }
  }

  /** Free one segment only (rte_pktmbuf_free_seg): the caller unlinks it first. */
  freeSeg(m: number): void {
    if (this.prefree(m)) this.poolAt(this.u32[(m + POOL) >>> 2]!).put(m);
  }

  /**
   * Free `n` packets (chains included), batching segments per pool into bulk puts; returns
   * their bytes (PKT_LEN added up: a TX queue's statistics, in the same pass). The common
   * case (rte_pktmbuf_free_bulk's) first: every mbuf a lone segment with refcnt 1, all of
   * one pool, goes back with one putBulk of `handles` itself. Otherwise, when `handles` is
   * an ownership record's array inside a driver's send (registerRecordedFree), that record
   * frees them, recorded.
   */
  freeBulk(handles: Uint32Array, n: number): number {
    if (n === 0) return 0;
    const pool = this.loneOf(handles, n);
    if (pool >= 0) this.poolAt(pool).putBulk(handles, n);
    else if (!recordedFrees.get(handles)?.freeTaken(handles, n)) this.freeEach(handles, n);
    return this.loneBytes;
  }

  /** PKT_LEN of the packets loneOf scanned last, added up. */
  private loneBytes = 0;

  /**
   * The pool header of handles[0..n) (n > 0) when each is a lone segment (NEXT 0) with refcnt 1
   * (the high half of the DATA_OFF|REFCNT word) of that one pool, else -1: freeBulk's common
   * case, one putBulk of `handles` (a recorded free takes the others apart: hands.ts).
   */
  loneOf(handles: Uint32Array, n: number): number {
    const u32 = this.u32;
    const pool = u32[(handles[0]! + POOL) >>> 2]!;
    let bytes = 0;
    let odd = 0;
    let i = 0;
    for (; i + 4 <= n; i += 4) { // four at a time: TurboFan checks the arrays once per iteration, not per access
      const a = handles[i]! >>> 2;
      const b = handles[i + 1]! >>> 2;
      const c = handles[i + 2]! >>> 2;
      const d = handles[i + 3]! >>> 2;
      bytes += u32[a + W_PKT_LEN]! + u32[b + W_PKT_LEN]! + u32[c + W_PKT_LEN]! + u32[d + W_PKT_LEN]!;
      odd |= ((u32[a + W_REARM]! >>> 16) ^ 1) | u32[a + W_NEXT]! | (u32[a + W_POOL]! ^ pool);
      odd |= ((u32[b + W_REARM]! >>> 16) ^ 1) | u32[b + W_NEXT]! | (u32[b + W_POOL]! ^ pool);
      odd |= ((u32[c + W_REARM]! >>> 16) ^ 1) | u32[c + W_NEXT]! | (u32[c + W_POOL]! ^ pool);
      odd |= ((u32[d + W_REARM]! >>> 16) ^ 1) | u32[d + W_NEXT]! | (u32[d + W_POOL]! ^ pool);
    }
    for (; i < n; i++) {
      const a = handles[i]! >>> 2;
      bytes += u32[a + W_PKT_LEN]!;
      odd |= ((u32[a + W_REARM]! >>> 16) ^ 1) | u32[a + W_NEXT]! | (u32[a + W_POOL]! ^ pool);
    }
    this.loneBytes = bytes;
    return odd === 0 ? pool : -1;
  }

  /**
   * A recorded free's first step (a zero-copy sender's, lent.ts; Hands.freeSegments): append to
   * `out` from index `k` the segments of packet `h` this free gives back (every segment of its
   * chain, but one still shared, refcnt > 1, which loses a reference instead, under the shared
   * counts' lock: shared-counts.ts; NEXT read before that, as rte_pktmbuf_free). Returns the new
   * k. The chain stays linked: `unlinkFreed` cuts it once a record names the segments.
   * With `recordDrops` each reference dropped is named at the back of `out` (from `dropTop`
   * down, tagged MBUF_DROPPED; `out` a view of the region: an ownership record's), as the
   * journal's word of that decrement: a reader of the record then knows, at any instruction,
   * which references of the packet still named the free already dropped (hands.ts). The slot
   * below each is zeroed first (the list's end); the front never passes `dropTop`.
   */
  collectFreed(h: number, out: Uint32Array, k: number, recordDrops = false): number {
    const u16 = this.u16;
    const u32 = this.u32;
    const end = out.length - 1;
    for (let m = h; m !== 0 && k <= (recordDrops ? this.dropTop : end);) { // a chain longer than `out`: the rest is not freed (leaks)
      const nx = u32[(m + NEXT) >>> 2]!;
      const ri = (m + REFCNT) >>> 1;
      if (u16[ri] === 1 || this.dropShared(m, recordDrops ? out : undefined, k)) out[k++] = m;
      m = nx;
    }
    return k;
  }

  /** Where collectFreed names the next reference it drops (recordDrops): an index of its `out`, counting down. Set by the caller. */
  dropTop = 0xffff;

  /**
   * Drop one reference of shared segment `m` (its count read > 1 without the lock), under the
   * shared counts' lock: true when it turns out the last (a lone segment now, count 1: the
   * caller frees it), else false (count − 1, journaled; with `out`, named at out[dropTop],
   * tagged, as collectFreed says, `k` its front). Off the fast path: allocates on first use.
   */
  private dropShared(m: number, out?: Uint32Array, k = 0): boolean {
    const sc = this.shared ??= SharedCounts.attach(this.eal);
    sc.acquire();
    try {
      const r = sc.count(m);
      if (r <= 1) return true; // the others dropped theirs meanwhile: ours is the last
      if (!out) {
        sc.change(m, r, r - 1);
        return false;
      }
      const p = this.dropTop--;
      if (p - 1 >= k) out[p - 1] = 0; // the list's end (a front entry below ends it as well: untagged)
      sc.change(m, r, r - 1, out.byteOffset + 4 * p, (m | MBUF_DROPPED) >>> 0);
      return false;
    } finally {
      sc.release();
    }
  }

  /** The instance's shared-count lock and journal (made at the first shared change). */
  private shared: SharedCounts | undefined;

  /** @internal The lock and journal under which every change of a shared count is made (reclaim.ts holds it while it drops the dead's references). */
  sharedCounts(): SharedCounts {
    return (this.shared ??= SharedCounts.attach(this.eal));
  }

  /** collectFreed's segs[0..k), now named by a record: each a lone segment, as a free leaves it (plain stores, chains only). */
  unlinkFreed(segs: Uint32Array, k: number): void {
    const u32 = this.u32;
    for (let i = 0; i < k; i++) {
      const m = segs[i]!;
      if (u32[(m + NEXT) >>> 2] !== 0) {
        u32[(m + NEXT) >>> 2] = 0;
        this.u16[(m + NB_SEGS) >>> 1] = 1;
      }
    }
  }

  /** freeBulk's general case: each segment loses a reference; the unshared ones are batched per pool. */
  private freeEach(handles: Uint32Array, n: number): void {
    const pend = this.pending;
    const u32 = this.u32;
    let k = 0;
    let pool = -1;
    for (let i = 0; i < n; i++) {
      let m = handles[i]!;
      while (m !== 0) {
        const nx = u32[(m + NEXT) >>> 2]!;
        if (this.prefree(m)) {
          const p = u32[(m + POOL) >>> 2]!;
          if (p !== pool || k === PENDING) {
            if (k > 0) this.poolAt(pool).putBulk(pend, k);
            k = 0;
            pool = p;
          }
          pend[k++] = m;
        }
        m = nx;
      }
    }
    if (k > 0) this.poolAt(pool).putBulk(pend, k);
  }

  // --- off the hot path ------------------------------------------------------------------

  /** A view of the first segment's data bytes (allocates a view: not for per-packet code). */
  bytes(h: number): Uint8Array {
    return new Uint8Array(this.region.buffer, this.dataOffset(h), this.dataLen(h));
  }

  /** Copy `src` into a single-segment mbuf as its whole data; false when it does not fit. */
  copyIn(h: number, src: Uint8Array): boolean {
    if (src.length > this.bufLen(h) - this.dataOff(h)) return false;
    this.u8.set(src, this.dataOffset(h));
    this.setDataLen(h, src.length);
    this.setPktLen(h, src.length);
    return true;
  }

  /** The metadata as an object, for humans (DPDK's rte_pktmbuf_dump). */
  dump(h: number): Record<string, number> {
    return {
      handle: h, pool: this.poolOf(h), bufOffset: this.bufOffset(h), bufLen: this.bufLen(h), dataOff: this.dataOff(h), dataLen: this.dataLen(h),
      pktLen: this.pktLen(h), nbSegs: this.nbSegs(h), next: this.next(h), refcnt: this.refcnt(h), port: this.port(h), olFlags: this.olFlags(h),
      rssHash: this.rssHash(h), packetType: this.packetType(h), privSize: this.privSize(h),
    };
  }
}

/** What a packet-buffer pool is made with (`PktmbufPool.create`). */
export interface PktmbufPoolOptions {
  /** Number of mbufs (DPDK advises 2^k - 1). */
  count: number;
  /** Mbufs each lcore keeps in its own cache, 0 (default) to 512 and at most count / 1.5 (see MempoolOptions). */
  cacheSize?: number;
  /** Bytes of application private area after each mbuf's header, a multiple of 8 (default 0). */
  privSize?: number;
  /** Bytes of each buffer, headroom included, 0 to 65535 (default MBUF_DEFAULT_BUF_SIZE: 2048 + 128). */
  dataRoomSize?: number;
  /** Bytes before the data of a fresh mbuf (default min(128, dataRoomSize), DPDK's RTE_PKTMBUF_HEADROOM). */
  headroom?: number;
  /** As MempoolOptions: one putting thread, one getting thread, debug states. Default false. */
  singlePut?: boolean;
  /** One getting thread (see `singlePut`). */
  singleGet?: boolean;
  /** Per-mbuf states: foreign and double frees refused (see `singlePut`). */
  debug?: boolean;
}

/**
 * A pool of packet buffers (DPDK's rte_pktmbuf_pool_create) and the field accessors of
 * `Mbufs`. Like a Mempool, one object per thread: alloc and free use that thread's lcore cache.
 */
export class PktmbufPool extends Mbufs {
  /** The mempool under the packet pool. */
  readonly mp: Mempool;
  /** Bytes of each mbuf's buffer, headroom included. */
  readonly dataRoomSize: number;
  /** Bytes of each mbuf's private area. */
  readonly mbufPrivSize: number;
  private readonly one = new Uint32Array(1);
  /** DATA_OFF | REFCNT 1 << 16 of a fresh mbuf of this pool. */
  private readonly rearm: number;

  private constructor(eal: Eal, mp: Mempool) {
    super(eal);
    this.mp = mp;
    const u32 = eal.region.u32;
    this.dataRoomSize = u32[(mp.privOffset + MBUF_POOL_PRIV.DATA_ROOM) >>> 2]!;
    this.mbufPrivSize = u32[(mp.privOffset + MBUF_POOL_PRIV.PRIV_SIZE) >>> 2]!;
    // Every mbuf of the pool has the pool's headroom (set at creation): read it from the first.
    this.rearm = Math.min(this.u16[(mp.eltStart + HEADROOM) >>> 1]!, this.dataRoomSize) | REFCNT_ONE_HI;
    this.poolAt(mp.header);
  }

  /** The pool's name. */
  get name(): string {
    return this.mp.name;
  }

  /**
   * Create a pool of packet buffers (DPDK's rte_pktmbuf_pool_create), e.g.
   * `PktmbufPool.create(eal, 'pkts', { count: 8191, cacheSize: 256 })` (PktmbufPoolOptions).
   * EINVAL / EEXIST / ENOSPC as Mempool.create.
   */
  static create(eal: Eal, name: string, opts: PktmbufPoolOptions): PktmbufPool {
    if (opts === null || typeof opts !== 'object') throw new MpdkError('EINVAL', `mbuf pool '${name}': options must be an object such as { count: 8191, cacheSize: 256 }, not ${String(opts)}`);
    const { count, cacheSize = 0, privSize = 0, dataRoomSize = MBUF_DEFAULT_BUF_SIZE } = opts;
    if (!Number.isInteger(privSize) || privSize < 0 || privSize > 0xffff || privSize % MBUF_PRIV_ALIGN !== 0) {
      throw new MpdkError('EINVAL', `mbuf pool '${name}': invalid private size ${privSize}; it must be a multiple of ${MBUF_PRIV_ALIGN} from 0 to 65528`);
    }
    if (!Number.isInteger(dataRoomSize) || dataRoomSize < 0 || dataRoomSize > 0xffff) {
      throw new MpdkError('EINVAL', `mbuf pool '${name}': invalid data room size ${dataRoomSize}; it must be 0 to 65535 bytes (headroom included)`);
    }
    const headroom = opts.headroom ?? Math.min(PKTMBUF_HEADROOM, dataRoomSize);
    if (!Number.isInteger(headroom) || headroom < 0 || headroom > dataRoomSize) {
      throw new MpdkError('EINVAL', `mbuf pool '${name}': invalid headroom ${headroom}; it must be 0 to the data room size ${dataRoomSize}`);
    }
    const init = (h: number, _i: number, poolHeader: number): void => initMbuf(eal.region, h, poolHeader, privSize, dataRoomSize, headroom);
    const mp = Mempool.create(eal, name, {
      count, eltSize: MBUF_BYTES + privSize + dataRoomSize, cacheSize, privateSize: MBUF_POOL_PRIV.BYTES,
      singlePut: opts.singlePut, singleGet: opts.singleGet, debug: opts.debug, objInit: init,
    });
    const u32 = eal.region.u32;
    u32[(mp.privOffset + MBUF_POOL_PRIV.DATA_ROOM) >>> 2] = dataRoomSize;
    u32[(mp.privOffset + MBUF_POOL_PRIV.PRIV_SIZE) >>> 2] = privSize;
    eal.region.storeRelease(mp.privOffset + MBUF_POOL_PRIV.MAGIC, MBUF_POOL_MAGIC);
    return new PktmbufPool(eal, mp);
  }

  /** Find packet-buffer pool `name`: ENOENT when absent, EINVAL when it is a plain mempool. */
  static lookup(eal: Eal, name: string): PktmbufPool {
    const mp = Mempool.lookup(eal, name);
    const mz = eal.memzones.tryLookup(MEMPOOL_MZ_PREFIX + name);
    const isPkt = (): boolean => isPktmbufPool(mp);
    if (mz && mp.privateSize >= MBUF_POOL_PRIV.BYTES) {
      try {
        awaitCreated(mz, isPkt, `packet-buffer pool '${name}'`, 500);
      } catch {
        /* not a packet pool: refused below */
      }
    }
    if (!isPkt()) {
      throw new MpdkError('EINVAL', `mempool '${name}' is not a packet-buffer pool (or is still being created)`);
    }
    return new PktmbufPool(eal, mp);
  }

  /** One fresh mbuf (reset), or 0 when the pool is empty. */
  alloc(): number {
    if (this.mp.getBulk(this.one, 1) !== 1) return 0;
    const h = this.one[0]!;
    this.resetWith(h, this.rearm);
    return h;
  }

  /**
   * `n` fresh mbufs into handles[0..n), all or nothing: returns n, or 0 (nothing taken).
   * `rec`: an ownership record's word for the get (Mempool.getBulk; Hands.alloc passes it).
   */
  allocBulk(handles: Uint32Array, n: number, rec = -1): number {
    if (this.mp.getBulk(handles, n, rec) !== n) return 0;
    const rearm = this.rearm;
    for (let i = 0; i < n; i++) this.resetWith(handles[i]!, rearm);
    return n;
  }

  /** Free mbufs: in the pool's ring and in every lcore cache (a snapshot). */
  available(): number {
    return this.mp.available();
  }

  /** Mbufs taken out of the pool: `size - available()` (a snapshot). */
  inUse(): number {
    return this.mp.inUse();
  }

  /** Free the pool itself (rte_mempool_free); every mbuf of it becomes invalid. */
  freePool(): void {
    this.mp.free();
  }

  /** This object is done: its lcore's cache goes back to the pool (Mempool.close); the pool stays. */
  close(): void {
    this.mp.close();
  }

  /** `close()`, for `using pool = PktmbufPool.lookup(eal, name)`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * What a driver's RX writes into each fresh mbuf it takes from its queue's pool and fills
 * (DPDK's RX rearm plus the descriptor's fields): data offset = headroom, refcnt 1, one
 * segment, the input port, the lengths, offload flags, RSS hash, VLAN tag — in whole-word
 * stores (DATA_OFF|REFCNT and NB_SEGS|PORT as one 8-byte store). Made once per RX queue;
 * nothing here allocates. NEXT is not written: a pooled mbuf always has NEXT 0 (free clears
 * it before the put; DPDK's rearm relies on the same invariant), nor is the second cache line.
 */
export class MbufRx {
  /** Bytes of data a fresh mbuf of the pool holds (data room − headroom). */
  readonly room: number;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly headroom: number;
  /** Words 2-3 (DATA_OFF|REFCNT, NB_SEGS 1|PORT) as the bits of one f64. */
  private readonly rearmSegs: number;
  /** setFixedBulk's words 6-7 (PACKET_TYPE 0, PKT_LEN) as one f64, and its DATA_LEN word. */
  private readonly typeLen: number;
  private readonly fixedLen: number;

  /** For RX into `pool` on port `port`; `fixedLen`: the one length setFixedBulk writes (net_null). */
  constructor(pool: PktmbufPool, port: number, fixedLen = 0) {
    this.u32 = pool.u32;
    this.f64 = pool.f64;
    this.headroom = Math.min(PKTMBUF_HEADROOM, pool.dataRoomSize);
    this.room = pool.dataRoomSize - this.headroom;
    // Neither pattern is a NaN (wordsAsF64): the high words, 1 | port << 16 with port <
    // 2^15 and a length < 2^16, never have the exponent bits 20-30 all set.
    this.rearmSegs = wordsAsF64((this.headroom | REFCNT_ONE_HI) >>> 0, (1 | ((port & 0x7fff) << 16)) >>> 0);
    this.typeLen = wordsAsF64(0, fixedLen & 0xffff);
    this.fixedLen = fixedLen & 0xffff;
  }

  /** Region offset of a fresh mbuf's first data byte (its buffer + headroom): where RX copies the frame. */
  dataAt(h: number): number {
    return this.u32[(h + BUF_OFF) >>> 2]! + this.headroom;
  }

  /** Fresh mbuf `h` as a received single-segment frame of `len` bytes with these offload flags, RSS hash and VLAN TCI. */
  set(h: number, len: number, olFlags: number, hash: number, vlanTci: number): void {
    const u32 = this.u32;
    const w = h >>> 2;
    this.f64[(h >>> 3) + (DATA_OFF >>> 3)] = this.rearmSegs; // handles are 64-aligned: never straddles
    u32[w + (OL_FLAGS >>> 2)] = olFlags;
    u32[w + (OL_FLAGS_HI >>> 2)] = 0;
    u32[w + (PACKET_TYPE >>> 2)] = 0;
    u32[w + (PKT_LEN >>> 2)] = len;
    u32[w + (DATA_LEN >>> 2)] = (len | (vlanTci << 16)) >>> 0; // DATA_LEN, VLAN_TCI
    u32[w + (HASH_RSS >>> 2)] = hash;
  }

  /** Fresh mbufs handles[0..n) as received frames of the constructor's fixed length, no flags: four stores each. */
  setFixedBulk(handles: Uint32Array, n: number): void {
    const f64 = this.f64;
    const u32 = this.u32;
    for (let i = 0; i < n; i++) stampFixed(f64, u32, handles[i]!, this.rearmSegs, this.typeLen, this.fixedLen);
  }

  /**
   * setFixedBulk fused with the copy of a zero-copy get (Mempool.zcGet): handles[i] =
   * slots[at - i], stamped as setFixedBulk does, in one pass. The caller commits the get.
   */
  takeFixedBulk(slots: Uint32Array, at: number, handles: Uint32Array, n: number): void {
    const f64 = this.f64;
    const u32 = this.u32;
    const rs = this.rearmSegs;
    const tl = this.typeLen;
    const len = this.fixedLen;
    let i = 0;
    for (; i + 4 <= n; i += 4) { // four at a time, as Mbufs.freeBulk
      const a = slots[at - i]!;
      const b = slots[at - i - 1]!;
      const c = slots[at - i - 2]!;
      const d = slots[at - i - 3]!;
      handles[i] = a;
      handles[i + 1] = b;
      handles[i + 2] = c;
      handles[i + 3] = d;
      stampFixed(f64, u32, a, rs, tl, len);
      stampFixed(f64, u32, b, rs, tl, len);
      stampFixed(f64, u32, c, rs, tl, len);
      stampFixed(f64, u32, d, rs, tl, len);
    }
    for (; i < n; i++) {
      const a = slots[at - i]!;
      handles[i] = a;
      stampFixed(f64, u32, a, rs, tl, len);
    }
  }
}

/** MbufRx's fixed-length stamp of fresh mbuf h: four stores (TurboFan inlines it). */
function stampFixed(f64: Float64Array, u32: Uint32Array, h: number, rearmSegs: number, typeLen: number, len: number): void {
  const d = h >>> 3;
  f64[d + D_REARM_SEGS] = rearmSegs; // DATA_OFF|REFCNT, NB_SEGS|PORT
  f64[d + D_OL_FLAGS] = 0; // OL_FLAGS, OL_FLAGS_HI
  f64[d + D_TYPE_LEN] = typeLen; // PACKET_TYPE 0, PKT_LEN
  u32[(h >>> 2) + W_DATA_LEN] = len; // and VLAN_TCI = 0
}

/** DPDK's rte_pktmbuf_init: the fields fixed for the life of the pool, then a reset. */
function initMbuf(r: Region, h: number, poolHeader: number, privSize: number, dataRoom: number, headroom: number): void {
  const u32 = r.u32;
  const dv = r.dv;
  u32[(h + BUF_OFF) >>> 2] = h + MBUF_BYTES + privSize;
  u32[(h + POOL) >>> 2] = poolHeader;
  dv.setUint16(h + BUF_LEN, dataRoom, true);
  dv.setUint16(h + PRIV_SIZE, privSize, true);
  dv.setUint16(h + HEADROOM, headroom, true);
  u32[(h + DATA_OFF) >>> 2] = headroom | REFCNT_ONE_HI;
  u32[(h + NB_SEGS) >>> 2] = SEGS1_PORT_NONE;
}

/** Does pool `mp` hold mbufs (a PktmbufPool's, finished)? */
export function isPktmbufPool(mp: Mempool): boolean {
  return mp.privateSize >= MBUF_POOL_PRIV.BYTES && mp.eal.region.loadAcquire(mp.privOffset + MBUF_POOL_PRIV.MAGIC) === MBUF_POOL_MAGIC;
}

registerDescriber('mbuf_pool', (eal) => {
  const out = [];
  for (const mp of Mempool.list(eal)) {
    if (!isPktmbufPool(mp)) continue;
    const u32 = eal.region.u32;
    out.push({
      kind: 'mbuf_pool', name: mp.name, size: mp.size, dataRoom: u32[(mp.privOffset + MBUF_POOL_PRIV.DATA_ROOM) >>> 2], privSize: u32[(mp.privOffset + MBUF_POOL_PRIV.PRIV_SIZE) >>> 2],
      available: mp.available(), inUse: mp.inUse(),
    });
  }
  return out;
});
