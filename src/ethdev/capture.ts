/**
 * Packet capture taps (DPDK's pdump): `mpdk dumpcap` copies what a running application's
 * ports receive and transmit into a capture file without the application knowing or waiting.
 *
 *   who calls what
 *   EthDev.rxQueue/txQueue  tapRx / tapTx(port, q, driverQueue): wrap every bound queue
 *   (each process)          once; the wrapper's burst does ONE plain load of the queue's arm
 *                           word per burst and, only when armed, filters and copies into the
 *                           capture ring
 *   dumpcap (a secondary)   CaptureReader.open(eal, port, q, dir, opts): find or create the
 *                           capture ring of that queue, claim it, store the session's snap
 *                           length and filter, point the arm word at it; drain(sink) in a
 *                           loop; close() disarms and releases it
 *   proc-info, top          captureStats(eal): every capture ring's counters (read-only)
 *
 * Shared memory:
 *   arm word    queue entry + EQ_CAPTURE (u32, in the unused tail of the queue entry's line 0,
 *               layout.ts): region offset of the capture ring header, 0 = not armed. Written
 *               ONLY by the ring's consumer (dumpcap) — store-release to arm, CAS to disarm —
 *               or by a producer that finds the consumer dead or the filter unusable (CAS to
 *               0). Read by the queue's owner with a plain load once per burst (a stale value
 *               costs one burst more or less of capture; the ring it points to is never
 *               freed, see below).
 *   capture ring  memzone "CAP_P<port>_<R|T><q>", created by the first dumpcap of that queue
 *               and KEPT for the life of the instance (a later dumpcap reuses it), so an owner
 *               that read the arm word a moment before a disarm can never write into freed
 *               memory. Layout CAPH below: a control block, the session's filter program, then
 *               a single-producer single-consumer byte ring of records; the producer is the
 *               queue's owner (one per queue: ethdev's claims), the consumer the dumpcap that
 *               holds OWNER_PID.
 *   session     each open() is a session: with the ring disarmed, the consumer writes SNAPLEN,
 *               FILTER (classic BPF, net/bpf.ts) and FILTER_LEN, then SESSION + 1 (release),
 *               then arms. The owner's tap compares SESSION (acquire) once per armed burst;
 *               when it moved, it translates the filter into a function (once per session,
 *               in the owner's process) — or, should the program not validate, records the
 *               session in REFUSED and disarms, which the consumer reports.
 *   record      a pcap record header (net/pcap.ts writes and reads it: TS_SEC, TS_FRAC in
 *               NANOSECONDS, CAPLEN, LEN = the wire length), then CAPLEN packet bytes,
 *               padded to 4. A record never wraps: when it does not fit before the end, the
 *               producer starts again at 0, leaving there a header whose CAPLEN is CAP_WRAP
 *               (no pcap record has one) — or nothing, when fewer than a header's 16 bytes
 *               are left, which the consumer skips too. PROD and CONS count bytes (mod 2^32),
 *               SIZE is a power of two.
 *
 * Cost to the application: unarmed, one load and one compare per burst (plus one call:
 * the wrapper). Armed, per burst: two Atomics.loads (SESSION, CONS), one Atomics.store
 * (PROD), two clock reads; per packet the filter (a few instructions for a packet it
 * rejects, and nothing else) and a copy of min(len, snaplen, what the filter keeps) bytes
 * for one it accepts. When the ring is full the accepted packets are NOT copied and DROPS
 * counts them; the application never waits. TAP_NS adds up the time the taps spent
 * (filters, copies, clock reads), so dumpcap reports exactly what the capture cost.
 * TX is tapped BEFORE the driver takes the packets (afterwards they may already be freed by
 * the far side), so a TX capture also holds packets the queue then refused (oerrors), and a
 * packet the application offers again is captured again, as with DPDK's pdump TX callbacks.
 *
 * A dumpcap killed while armed leaves the arm word set: the owner fills the ring, then
 * drops; once per second at most, a tap that drops checks the consumer's pid (+ start time)
 * and disarms when it is dead. The next dumpcap takes a dead consumer's ring over.
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { INTR_NONE, type FutexSet } from '../eal/idle.js';
import { Mbufs } from '../mbuf/mbuf.js';
import { BPF_INSN_BYTES, BPF_MAXINSNS, compileBpf, validateBpf, type BpfFilter } from '../net/bpf.js';
import { Bytes, copyBytes } from '../net/bytes.js';
import { PCAP_MAX_CAPLEN, PCAP_REC, PcapRecord, readRecordHeader, writeRecordHeaderAligned } from '../net/pcap.js';
import { processAlive, processStartTime } from '../native/libc.js';
import type { Port, RxQueue, TxQueue } from './driver.js';
import { EQ, MAX_QUEUES } from './layout.js';
import { portTable } from './table.js';
import { TEST_HOOK, hookStop } from '../eal/test-hook.js';

/** Arm word: byte offset in a queue entry (line 0, after OWNER_START; layout.ts leaves 48..63 unused). */
export const EQ_CAPTURE = EQ.CAPTURE;

/** Capture ring header: byte offsets from the memzone start. */
export const CAPH = {
  // line 0: the consumer's (dumpcap)
  MAGIC: 0, // u32 CAP_MAGIC, stored last at creation (release)
  VERSION: 4, // u32 CAP_VERSION (creation)
  SIZE: 8, // u32 data bytes, a power of two (creation)
  SNAPLEN: 12, // u32 largest CAPLEN the producer copies (session, before SESSION)
  CONS: 16, // u32 bytes consumed (consumer: Atomics.store after reading records)
  OWNER_PID: 20, // i32 consumer pid, 0 = none (claimed with compareExchange)
  PORT: 24, // u32 port id (for tools; creation)
  QUEUE: 28, // u32 (dir << 16) | queue: dir 0 = RX, 1 = TX (creation)
  OWNER_START: 32, // f64 the consumer's start time (pid reuse)
  SESSION: 40, // u32 sessions started on this ring: stored (release) after SNAPLEN and FILTER*
  FILTER_LEN: 44, // u32 instructions in FILTER, 0 = no filter (session)
  // line 1: the producer's (the queue's owner), written once per armed burst
  PROD: 64, // u32 bytes produced (Atomics.store after writing records)
  REFUSED: 68, // u32 a session whose filter the producer refused (then it disarmed), 0 = none
  PACKETS: 72, // f64 packets copied
  DROPS: 80, // f64 packets accepted but not copied because the ring was full
  TAP_NS: 88, // f64 nanoseconds the taps spent (filters, copies, clock reads)
  BYTES: 96, // f64 packet bytes copied
  FILTERED: 104, // f64 packets the filter rejected
  FILTER: 128, // BPF_MAXINSNS × 8 bytes: the session's filter (consumer, while disarmed)
  DATA: 128 + BPF_MAXINSNS * BPF_INSN_BYTES,
} as const;

export const CAP_MAGIC = 0x32504143; // 'CAP2'
/** Layout version of CAPH; a ring of another version (other mpdk code) is refused by name. */
export const CAP_VERSION = 2;
/** CAPLEN value of a wrap marker: the rest of the data area is empty, continue at 0. */
export const CAP_WRAP = 0xffffffff;
/** Data bytes of a ring made without a size given. */
export const CAP_DEFAULT_BYTES = 8 << 20;
/** Largest snaplen (bytes kept per packet): libpcap's. */
export const CAP_MAX_SNAPLEN = PCAP_MAX_CAPLEN;
/** Smallest ring (a session's snap length must fit twice: open() checks). */
export const CAP_MIN_BYTES = 1 << 17;
export const CAP_MZ_PREFIX = 'CAP_P';

/** Which side of a port's queue a capture copies: packets received (`'rx'`) or sent (`'tx'`). */
export type CaptureDir = 'rx' | 'tx';

export function captureRingName(port: number, dir: CaptureDir, q: number): string {
  return `${CAP_MZ_PREFIX}${port}_${dir === 'rx' ? 'R' : 'T'}${q}`;
}

/** Region offset of the arm word of queue q of `port`. */
function armOffset(port: Port, rx: boolean, q: number): number {
  return port.queue(rx, q) + EQ_CAPTURE;
}

// Wall-clock time of performance.now() = 0, split so that a burst's time is exact to the ns
// (performance.now() is small; timeOrigin + now would round to 0.24 µs).
const ORIGIN_SEC = Math.floor(performance.timeOrigin / 1000);
const ORIGIN_NS = Math.round((performance.timeOrigin - ORIGIN_SEC * 1000) * 1e6);

/** The producer side for one queue in one process: filters and copies a burst into the armed ring. */
class Tap {
  private readonly mbufs: Mbufs;
  /** The region as copyBytes sees it. */
  private readonly region: Bytes;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  /** u32 index of the arm word. */
  readonly arm: number;
  private lastCheck = 0;
  /** The ring and session the filter below belongs to (bind). */
  private cap = 0;
  private session = -1;
  private filter: BpfFilter | null = null;
  /** A chained packet's bytes, made contiguous for the filter (grown on first need). */
  private scratch = new Uint8Array(0);

  constructor(port: Port, rx: boolean, q: number) {
    const r = port.eal.region;
    this.mbufs = new Mbufs(port.eal);
    this.region = new Bytes(r.u8);
    this.u8 = r.u8;
    this.u32 = r.u32;
    this.i32 = r.i32;
    this.f64 = r.f64;
    this.arm = armOffset(port, rx, q) >>> 2;
  }

  /** Filter and copy packets handles[0..n) into the ring the arm word points at (caller checked it is set). */
  copy(handles: Uint32Array, n: number): void {
    const u32 = this.u32;
    const mbufs = this.mbufs;
    const cap = u32[this.arm]!;
    const t0 = performance.now();
    if (cap !== this.cap || Atomics.load(this.i32, (cap + CAPH.SESSION) >>> 2) !== this.session) {
      if (!this.bind(cap)) return;
    }
    const filter = this.filter;
    const size = u32[(cap + CAPH.SIZE) >>> 2]!;
    const mask = size - 1;
    const snap = u32[(cap + CAPH.SNAPLEN) >>> 2]!;
    const data = cap + CAPH.DATA;
    let prod = u32[(cap + CAPH.PROD) >>> 2]!;
    const cons = Atomics.load(this.i32, (cap + CAPH.CONS) >>> 2) >>> 0;
    let free = size - ((prod - cons) >>> 0);
    let ns = ORIGIN_NS + Math.floor(t0 * 1e6);
    const sec = ORIGIN_SEC + Math.floor(ns / 1e9);
    ns %= 1e9;
    let bytes = 0;
    let copied = 0;
    let filtered = 0;
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const m = handles[i]!;
      const wire = mbufs.pktLen(m);
      let want = wire < snap ? wire : snap;
      if (filter !== null) {
        const keep = mbufs.next(m) === 0 ? filter(this.u8, mbufs.dataOffset(m), mbufs.dataLen(m), wire) : this.filterChain(filter, m, wire);
        if (keep === 0) {
          filtered++;
          continue;
        }
        if (keep < want) want = keep;
      }
      const need = (PCAP_REC.HLEN + want + 3) & ~3;
      let pos = prod & mask;
      const contig = size - pos;
      if ((contig < need ? need + contig : need) > free) {
        dropped++;
        continue;
      }
      if (contig < need) {
        if (contig >= PCAP_REC.HLEN) writeRecordHeaderAligned(u32, data + pos, 0, 0, CAP_WRAP, 0);
        prod = (prod + contig) >>> 0;
        free -= contig;
        pos = 0;
      }
      const rec = data + pos;
      let dst = rec + PCAP_REC.HLEN;
      let left = want;
      for (let s = m; left > 0 && s !== 0; s = mbufs.next(s)) {
        const dl = mbufs.dataLen(s);
        const k = dl < left ? dl : left;
        copyBytes(this.region, mbufs.dataOffset(s), this.region, dst, k);
        dst += k;
        left -= k;
      }
      const got = want - left;
      writeRecordHeaderAligned(u32, rec, sec, ns, got, wire);
      prod = (prod + need) >>> 0;
      free -= need;
      bytes += got;
      copied++;
    }
    const f64 = this.f64;
    const st = (cap + CAPH.PACKETS) >>> 3;
    if (copied > 0) {
      Atomics.store(this.i32, (cap + CAPH.PROD) >>> 2, prod | 0);
      f64[st] = f64[st]! + copied;
      f64[st + 3] = f64[st + 3]! + bytes;
    }
    if (filtered > 0) f64[st + 4] = f64[st + 4]! + filtered;
    if (dropped > 0) {
      f64[st + 1] = f64[st + 1]! + dropped;
      const now = t0 + performance.timeOrigin;
      if (now - this.lastCheck > 1000) this.checkConsumer(cap, now);
    }
    f64[st + 2] = f64[st + 2]! + (performance.now() - t0) * 1e6;
  }

  /**
   * A new session (or ring): translate its filter, once. False when the program does not
   * validate: the session is refused (REFUSED) and the ring disarmed, so nothing is copied.
   */
  private bind(cap: number): boolean {
    const r = this.i32;
    const session = Atomics.load(r, (cap + CAPH.SESSION) >>> 2);
    const len = this.u32[(cap + CAPH.FILTER_LEN) >>> 2]!;
    let filter: BpfFilter | null = null;
    if (len !== 0) {
      const at = cap + CAPH.FILTER;
      const program = len <= BPF_MAXINSNS ? this.u8.slice(at, at + len * BPF_INSN_BYTES) : new Uint8Array(0);
      if (validateBpf(program) !== null) {
        Atomics.store(r, (cap + CAPH.REFUSED) >>> 2, session);
        Atomics.compareExchange(r, this.arm, cap | 0, 0);
        return false;
      }
      filter = compileBpf(program);
    }
    this.cap = cap;
    this.session = session;
    this.filter = filter;
    return true;
  }

  /** The filter over a chained packet: its segments copied into one buffer first (rare path). */
  private filterChain(filter: BpfFilter, m: number, wire: number): number {
    const mbufs = this.mbufs;
    if (this.scratch.length < wire) this.scratch = new Uint8Array(Math.max(wire, 16384));
    const dst = this.scratch;
    const u8 = this.u8;
    let n = 0;
    for (let s = m; s !== 0 && n < wire; s = mbufs.next(s)) {
      const off = mbufs.dataOffset(s);
      let dl = mbufs.dataLen(s);
      if (dl > wire - n) dl = wire - n;
      dst.set(u8.subarray(off, off + dl), n);
      n += dl;
    }
    return filter(dst, 0, n, wire);
  }

  /** The ring is full: if its consumer is dead, disarm (rare path, at most once a second). */
  private checkConsumer(cap: number, now: number): void {
    this.lastCheck = now;
    const pid = this.i32[(cap + CAPH.OWNER_PID) >>> 2]!;
    if (pid === 0 || !processAlive(pid, this.f64[(cap + CAPH.OWNER_START) >>> 3]!)) {
      Atomics.compareExchange(this.i32, this.arm, cap | 0, 0);
    }
  }
}

class TappedRx implements RxQueue {
  constructor(private readonly inner: RxQueue, private readonly u32: Uint32Array, private readonly arm: number, private readonly tap: Tap) {}

  rxBurst(handles: Uint32Array, n: number, rec?: number): number {
    const r = this.inner.rxBurst(handles, n, rec); // rec: the ownership record's get (driver.ts)
    if (this.u32[this.arm] !== 0 && r !== 0) this.tap.copy(handles, r);
    return r;
  }

  intrArm(bells?: FutexSet): number {
    return this.inner.intrArm ? this.inner.intrArm(bells) : INTR_NONE;
  }

  intrDisarm(): void {
    this.inner.intrDisarm?.();
  }
}

/** Test hook (read once; a constant test when unset): stop as a TX burst is handed to the driver. */
const HOOK_TX = TEST_HOOK === 'ethdev:tx';

class TappedTx implements TxQueue {
  readonly lends: boolean;
  constructor(private readonly inner: TxQueue, private readonly u32: Uint32Array, private readonly arm: number, private readonly tap: Tap) {
    this.lends = inner.lends === true;
  }

  txBurst(handles: Uint32Array, n: number, rec?: number): number {
    if (this.u32[this.arm] !== 0 && n !== 0) this.tap.copy(handles, n);
    if (HOOK_TX && n !== 0) hookStop('ethdev:tx');
    return this.inner.txBurst(handles, n, rec); // rec: the ownership record's window (driver.ts)
  }
}

/** Wrap a driver's RX queue so that dumpcap can capture what it receives. */
export function tapRx(port: Port, q: number, rxq: RxQueue): RxQueue {
  const tap = new Tap(port, true, q);
  return new TappedRx(rxq, port.u32, tap.arm, tap);
}

/** Wrap a driver's TX queue so that dumpcap can capture what it is given (before the driver takes it). */
export function tapTx(port: Port, q: number, txq: TxQueue): TxQueue {
  const tap = new Tap(port, false, q);
  return new TappedTx(txq, port.u32, tap.arm, tap);
}

// --- the consumer (dumpcap) -------------------------------------------------------------

/** Options of a capture (`CaptureReader`): snap length, ring size, filter. */
export interface CaptureOptions {
  /** Largest bytes kept per packet, at most 262144 (default: that, or half the ring when smaller). */
  snaplen?: number;
  /**
   * Data bytes of a NEW ring, a power of two from 128 KiB to 1 GiB (default 8 MiB), holding
   * two records of the snap length at least; an existing ring keeps its size.
   */
  ringBytes?: number;
  /**
   * Classic BPF program (8-byte instructions, as libpcap compiles them: `compileFilter`) run by
   * the queue's owner on each packet before anything is copied; absent = every packet.
   */
  filter?: Uint8Array;
}

/** A capture ring's counters (dumpcap's), since the ring was created. */
export interface CaptureCounters {
  /** Packets copied into the ring. */
  packets: number;
  /** Packets the filter accepted that the full ring could not take. */
  drops: number;
  /** Packets the filter rejected. */
  filtered: number;
  /** Bytes copied into the ring (records included). */
  bytes: number;
  /** Nanoseconds the queue's owner spent in the tap (filters, copies, clock reads). */
  tapNs: number;
}

/**
 * Where drained records go: the bytes at u8[off, off + caplen), the wire length, the time
 * (seconds and nanoseconds since 1970).
 */
export type CaptureSink = (u8: Uint8Array, off: number, caplen: number, len: number, sec: number, nsec: number) => void;

function portsOrThrow(eal: Eal): Port[] {
  const ports = portTable(eal);
  if (!ports) throw new MpdkError('ENODEV', `instance '${eal.filePrefix}' has no ports (its primary has not set them up): nothing to capture`);
  return ports;
}

const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));

/** The consumer of one queue's capture ring. */
export class CaptureReader {
  /** The Eal the capture runs in. */
  readonly eal: Eal;
  /** The captured port. */
  readonly port: number;
  /** The captured queue. */
  readonly q: number;
  /** Which side of the queue. */
  readonly dir: CaptureDir;
  /** Region offset of the ring header. */
  readonly cap: number;
  /** This capture's session number on the ring. */
  readonly session: number;
  private readonly arm: number;
  /** Counters when this session started (the ring's counters are cumulative). */
  private readonly base: CaptureCounters;
  /** drain's record header, reused. */
  private readonly rec = new PcapRecord();
  /** Data bytes of the ring (checked at open). */
  private readonly size: number;
  private closed = false;
  private disarmed = false;

  private constructor(eal: Eal, port: number, q: number, dir: CaptureDir, cap: number, arm: number, session: number) {
    this.eal = eal;
    this.port = port;
    this.q = q;
    this.dir = dir;
    this.cap = cap;
    this.arm = arm;
    this.session = session;
    this.base = readCounters(eal, cap);
    this.size = eal.region.u32At(cap + CAPH.SIZE);
  }

  /**
   * Start capturing queue q (dir) of `port`: find or create its ring, claim it (EBUSY naming
   * the live dumpcap that holds it), store the snap length and filter, skip whatever an
   * earlier session left, arm it. EINVAL for a filter program that does not validate.
   */
  static open(eal: Eal, port: number, q: number, dir: CaptureDir, opts: CaptureOptions = {}): CaptureReader {
    const ringBytes = opts.ringBytes ?? CAP_DEFAULT_BYTES;
    const filter = opts.filter;
    if (opts.snaplen !== undefined && (!Number.isInteger(opts.snaplen) || opts.snaplen < 1 || opts.snaplen > CAP_MAX_SNAPLEN)) {
      throw new MpdkError('EINVAL', `snaplen ${opts.snaplen}: use 1..${CAP_MAX_SNAPLEN}`);
    }
    if (!Number.isInteger(ringBytes) || ringBytes < CAP_MIN_BYTES || ringBytes > 1 << 30 || (ringBytes & (ringBytes - 1)) !== 0) {
      throw new MpdkError('EINVAL', `capture buffer of ${ringBytes} bytes: use a power of two from ${CAP_MIN_BYTES >> 10} KiB to 1 GiB`);
    }
    if (filter !== undefined) {
      const err = validateBpf(filter);
      if (err !== null) throw new MpdkError('EINVAL', `capture filter program refused: ${err}`);
    }
    const r = eal.region;
    const ports = portsOrThrow(eal);
    const p = ports.find((x) => x.id === port); // ids of detached ports are missing (hotplug.ts)
    if (!p) throw new MpdkError('ENODEV', `no port ${port}: instance '${eal.filePrefix}' has port${ports.length === 1 ? '' : 's'} ${ports.map((x) => x.id).join(', ') || 'none'}`);
    const nb = Math.min(dir === 'rx' ? p.nbRx : p.nbTx, MAX_QUEUES);
    if (!Number.isInteger(q) || q < 0 || q >= nb) {
      throw new MpdkError('EINVAL', `port ${port} has ${nb} ${dir.toUpperCase()} queue${nb === 1 ? '' : 's'}${nb ? ` (0..${nb - 1})` : ''}: queue ${q} does not exist`);
    }
    const name = captureRingName(port, dir, q);
    let mz = eal.memzones.tryLookup(name);
    if (!mz) {
      try {
        mz = eal.memzones.reserve(name, CAPH.DATA + ringBytes, 64);
        r.u32[(mz.offset + CAPH.VERSION) >>> 2] = CAP_VERSION;
        r.u32[(mz.offset + CAPH.SIZE) >>> 2] = ringBytes;
        r.u32[(mz.offset + CAPH.PORT) >>> 2] = port;
        r.u32[(mz.offset + CAPH.QUEUE) >>> 2] = ((dir === 'rx' ? 0 : 1) << 16) | q;
        r.storeRelease(mz.offset + CAPH.MAGIC, CAP_MAGIC);
      } catch (e) {
        if (!(e instanceof MpdkError) || e.code !== 'EEXIST') throw e;
        mz = eal.memzones.lookup(name);
      }
    }
    const cap = mz.offset;
    const deadline = Date.now() + 1000;
    while (r.loadAcquire(cap + CAPH.MAGIC) !== CAP_MAGIC) {
      if (mz.length < CAPH.DATA || (r.loadAcquire(cap + CAPH.MAGIC) !== 0 && r.loadAcquire(cap + CAPH.MAGIC) !== CAP_MAGIC)) {
        throw new MpdkError('EPROTO', `capture ring ${name} was made by other mpdk code (magic 0x${r.u32At(cap).toString(16)}); run one mpdk version in every process of the instance`);
      }
      if (Date.now() > deadline) throw new MpdkError('ETIMEDOUT', `capture ring ${name} is still being created after 1 s; try again`);
      Atomics.wait(SLEEP_CELL, 0, 0, 1);
    }
    const version = r.u32At(cap + CAPH.VERSION);
    if (version !== CAP_VERSION) throw new MpdkError('EPROTO', `capture ring ${name} has layout version ${version}, this mpdk ${CAP_VERSION}; run one mpdk version in every process of the instance`);
    const size = r.u32At(cap + CAPH.SIZE);
    if (size < CAP_MIN_BYTES || (size & (size - 1)) !== 0 || CAPH.DATA + size > mz.length) {
      throw new MpdkError('EPROTO', `capture ring ${name} is damaged (size ${size}); stop the instance's processes and remove it with mpdk cleanup`);
    }
    r.checkSpan(cap + CAPH.DATA, size, `capture ring ${name}`);
    const snaplen = opts.snaplen ?? Math.min(CAP_MAX_SNAPLEN, (size >>> 1) - PCAP_REC.HLEN);
    if (2 * (PCAP_REC.HLEN + snaplen) > size) {
      throw new MpdkError('EINVAL', `snaplen ${snaplen} does not fit the ${size >> 10} KiB capture ring ${name}: use at most ${(size >>> 1) - PCAP_REC.HLEN}, or a larger ring`);
    }
    // claim: free, or a dead consumer's
    const ownerIdx = (cap + CAPH.OWNER_PID) >>> 2;
    for (;;) {
      const pid = Atomics.load(r.i32, ownerIdx);
      if (pid !== 0 && processAlive(pid, r.f64[(cap + CAPH.OWNER_START) >>> 3]!)) {
        throw new MpdkError('EBUSY', `${dir.toUpperCase()} queue ${q} of port ${port} is already being captured by pid ${pid}; stop that dumpcap first`);
      }
      if (Atomics.compareExchange(r.i32, ownerIdx, pid, process.pid) === pid) break;
    }
    r.f64[(cap + CAPH.OWNER_START) >>> 3] = processStartTime(process.pid);
    const arm = armOffset(p, dir === 'rx', q);
    // A previous session's late producer burst may still be landing: let it, then skip it all.
    Atomics.store(r.i32, arm >>> 2, 0);
    Atomics.wait(SLEEP_CELL, 0, 0, 2);
    r.u32[(cap + CAPH.SNAPLEN) >>> 2] = snaplen;
    const n = filter === undefined ? 0 : filter.byteLength / BPF_INSN_BYTES;
    if (filter !== undefined) r.u8.set(filter, cap + CAPH.FILTER);
    r.u32[(cap + CAPH.FILTER_LEN) >>> 2] = n;
    Atomics.store(r.i32, (cap + CAPH.CONS) >>> 2, Atomics.load(r.i32, (cap + CAPH.PROD) >>> 2));
    const session = (r.u32At(cap + CAPH.SESSION) + 1) >>> 0;
    Atomics.store(r.i32, (cap + CAPH.SESSION) >>> 2, session | 0); // after SNAPLEN and FILTER*: the tap's acquire load sees them
    const reader = new CaptureReader(eal, port, q, dir, cap, arm, session);
    Atomics.store(r.i32, arm >>> 2, cap | 0);
    return reader;
  }

  /**
   * Hand up to `max` records to `sink`, oldest first; returns how many. Frees their space
   * for the producer with one store.
   */
  drain(sink: CaptureSink, max = Infinity): number {
    const r = this.eal.region;
    const u32 = r.u32;
    const cap = this.cap;
    const size = this.size;
    const mask = size - 1;
    const data = cap + CAPH.DATA;
    const prod = Atomics.load(r.i32, (cap + CAPH.PROD) >>> 2) >>> 0;
    let cons = u32[(cap + CAPH.CONS) >>> 2]!;
    const rec = this.rec;
    let n = 0;
    while (cons !== prod && n < max) {
      const pos = cons & mask;
      const filled = (prod - cons) >>> 0;
      // Fewer bytes than a header before the end, or a wrap marker: the producer went on at 0.
      if (size - pos >= PCAP_REC.HLEN) readRecordHeader(r.dv, data + pos, rec);
      if (size - pos < PCAP_REC.HLEN || rec.caplen === CAP_WRAP) {
        if (size - pos > filled) throw this.damaged(cons, prod);
        cons = (cons + (size - pos)) >>> 0;
        continue;
      }
      const step = (PCAP_REC.HLEN + rec.caplen + 3) & ~3;
      if (rec.caplen > CAP_MAX_SNAPLEN || step > filled) throw this.damaged(cons, prod);
      sink(r.u8, rec.offset, rec.caplen, rec.len, rec.tsSec, rec.tsFrac);
      cons = (cons + step) >>> 0;
      n++;
    }
    Atomics.store(r.i32, (cap + CAPH.CONS) >>> 2, cons | 0);
    return n;
  }

  /** Records waiting in the ring (bytes, for a progress report). */
  pending(): number {
    const r = this.eal.region;
    return (Atomics.load(r.i32, (this.cap + CAPH.PROD) >>> 2) - Atomics.load(r.i32, (this.cap + CAPH.CONS) >>> 2)) >>> 0;
  }

  /**
   * Why the capture stopped on the application's side, or '' while it runs: the queue's
   * owner refused this session's filter, or something else disarmed the ring.
   */
  stopped(): string {
    if (this.closed) return 'closed';
    if (this.disarmed) return '';
    const r = this.eal.region;
    if ((Atomics.load(r.i32, this.arm >>> 2) >>> 0) === this.cap) return '';
    if ((Atomics.load(r.i32, (this.cap + CAPH.REFUSED) >>> 2) >>> 0) === this.session) {
      return `the process that owns ${this.dir.toUpperCase()} queue ${this.q} of port ${this.port} refused the filter program`;
    }
    return `${this.dir.toUpperCase()} queue ${this.q} of port ${this.port} was disarmed by another process`;
  }

  /** A record that does not fit what the producer published: something else wrote into the ring. */
  private damaged(cons: number, prod: number): MpdkError {
    return new MpdkError('EIO', `capture ring ${captureRingName(this.port, this.dir, this.q)} is damaged: the record at byte ${cons} does not fit the ${(prod - cons) >>> 0} bytes published; stop this capture and start it again`);
  }

  /** Counters of this session so far (packets the producer copied, dropped, filtered out; time it spent). */
  counters(): CaptureCounters {
    const now = readCounters(this.eal, this.cap);
    const b = this.base;
    return { packets: now.packets - b.packets, drops: now.drops - b.drops, filtered: now.filtered - b.filtered, bytes: now.bytes - b.bytes, tapNs: now.tapNs - b.tapNs };
  }

  /**
   * Stop the producer: disarm (if still ours) and give a burst that read the arm word just
   * before a moment to land, so that a drain afterwards takes everything it copied. The ring
   * stays claimed until close().
   */
  disarm(): void {
    const r = this.eal.region;
    this.disarmed = true;
    if (Atomics.compareExchange(r.i32, this.arm >>> 2, this.cap | 0, 0) === (this.cap | 0)) Atomics.wait(SLEEP_CELL, 0, 0, 2);
  }

  /** Disarm (if still ours) and release the ring; the ring itself stays for the next dumpcap. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const r = this.eal.region;
    Atomics.compareExchange(r.i32, this.arm >>> 2, this.cap | 0, 0);
    Atomics.compareExchange(r.i32, (this.cap + CAPH.OWNER_PID) >>> 2, process.pid, 0);
  }
}

function readCounters(eal: Eal, cap: number): CaptureCounters {
  const f64 = eal.region.f64;
  const st = (cap + CAPH.PACKETS) >>> 3;
  return { packets: f64[st]!, drops: f64[(cap + CAPH.DROPS) >>> 3]!, filtered: f64[(cap + CAPH.FILTERED) >>> 3]!, bytes: f64[(cap + CAPH.BYTES) >>> 3]!, tapNs: f64[(cap + CAPH.TAP_NS) >>> 3]! };
}

/**
 * One capture ring as `captureStats` shows it: which queue it copies, whether it is armed, who reads it, its counters.
 */
export interface CaptureRingInfo extends CaptureCounters {
  /** The capture ring's memzone name. */
  name: string;
  /** The port it copies. */
  port: number;
  /** RX or TX side. */
  dir: CaptureDir;
  /** The queue it copies. */
  queue: number;
  /** Whether the queue's tap copies into it now. */
  armed: boolean;
  /** Consumer pid (0 = none). */
  owner: number;
  /** Whether the consumer lives. */
  ownerAlive: boolean;
  /** Data bytes of the ring. */
  size: number;
  /** Bytes waiting to be read. */
  fill: number;
  /** Captures started on this ring. */
  sessions: number;
  /** Instructions of the current (or last) session's filter; 0 = none. */
  filterLen: number;
}

/** Every capture ring of the instance, read-only (works on an observer Eal). */
export function captureStats(eal: Eal): CaptureRingInfo[] {
  const r = eal.region;
  const out: CaptureRingInfo[] = [];
  const ports = portTable(eal) ?? [];
  for (const mz of eal.memzones.list()) {
    if (!mz.name.startsWith(CAP_MZ_PREFIX)) continue;
    const cap = mz.offset;
    if (mz.length < CAPH.DATA || r.loadAcquire(cap + CAPH.MAGIC) !== CAP_MAGIC || r.u32At(cap + CAPH.VERSION) !== CAP_VERSION) continue;
    const port = r.u32At(cap + CAPH.PORT);
    const dq = r.u32At(cap + CAPH.QUEUE);
    const dir: CaptureDir = dq >>> 16 === 0 ? 'rx' : 'tx';
    const queue = dq & 0xffff;
    const owner = r.i32[(cap + CAPH.OWNER_PID) >>> 2]!;
    const p = ports.find((x) => x.id === port);
    const armed = p !== undefined && queue < MAX_QUEUES && r.u32At(armOffset(p, dir === 'rx', queue)) === cap;
    out.push({
      name: mz.name, port, dir, queue, armed, owner, ownerAlive: owner !== 0 && processAlive(owner, r.f64[(cap + CAPH.OWNER_START) >>> 3]!),
      size: r.u32At(cap + CAPH.SIZE), fill: (r.u32At(cap + CAPH.PROD) - r.u32At(cap + CAPH.CONS)) >>> 0, sessions: r.u32At(cap + CAPH.SESSION),
      filterLen: r.u32At(cap + CAPH.FILTER_LEN),
      ...readCounters(eal, cap),
    });
  }
  return out;
}
