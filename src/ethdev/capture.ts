/**
 * Packet capture taps (DPDK's pdump): `mpdk dumpcap` copies what a running application's
 * ports receive (and transmit) into a pcap file without the application knowing or waiting.
 *
 *   who calls what
 *   EthDev.rxQueue/txQueue  tapRx / tapTx(port, q, driverQueue): wrap every bound queue
 *   (each process)          once; the wrapper's burst does ONE plain load of the queue's arm
 *                           word per burst and, only when armed, copies into the capture ring
 *   dumpcap (a secondary)   CaptureReader.open(eal, port, q, dir, opts): find or create the
 *                           capture ring of that queue, claim it, point the arm word at it;
 *                           drain(sink) in a loop; close() disarms and releases it
 *   proc-info, top          captureStats(eal): every capture ring's counters (read-only)
 *
 * Shared memory:
 *   arm word    queue entry + EQ_CAPTURE (u32, in the unused tail of the queue entry's line 0,
 *               layout.ts): region offset of the capture ring header, 0 = not armed. Written
 *               ONLY by the ring's consumer (dumpcap) — store-release to arm, CAS to disarm —
 *               or by a producer that finds the consumer dead (CAS to 0). Read by the queue's
 *               owner with a plain load once per burst (a stale value costs one burst more or
 *               less of capture; the ring it points to is never freed, see below).
 *   capture ring  memzone "CAP_P<port>_<R|T><q>", created by the first dumpcap of that queue
 *               and KEPT for the life of the instance (a later dumpcap reuses it), so an owner
 *               that read the arm word a moment before a disarm can never write into freed
 *               memory. Layout CAPH below: a single-producer single-consumer byte ring of
 *               records; the producer is the queue's owner (one per queue: ethdev's claims),
 *               the consumer the dumpcap that holds OWNER_PID.
 *   record      a pcap record exactly as a pcap file holds it (net/pcap.ts writes and reads its
 *               header: TS_SEC, TS_USEC, CAPLEN, LEN = the wire length), then CAPLEN packet
 *               bytes, padded to 4. A record never wraps: when it does not fit before the end,
 *               the producer starts again at 0, leaving there a header whose CAPLEN is CAP_WRAP
 *               (no pcap record has one) — or nothing, when fewer than a header's 16 bytes are
 *               left, which the consumer skips too. PROD and CONS count bytes (mod 2^32), SIZE
 *               is a power of two.
 *
 * Cost to the application: unarmed, one load and one compare per burst (plus one call:
 * the wrapper). Armed, per burst: one Atomics.load (CONS), one Atomics.store (PROD), two
 * clock reads, and a copy of min(len, snaplen) bytes per packet. When the ring is full the
 * packets are NOT copied and DROPS counts them; the application never waits. TAP_NS adds up
 * the time the taps spent copying, so dumpcap reports exactly what the capture cost.
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
import { INTR_NONE } from '../eal/idle.js';
import { Mbufs } from '../mbuf/mbuf.js';
import { Bytes, copyBytes } from '../net/bytes.js';
import { PCAP_REC, PcapRecord, readRecordHeader, writeRecordHeaderAligned } from '../net/pcap.js';
import { processAlive, processStartTime } from '../native/libc.js';
import type { Port, RxQueue, TxQueue } from './driver.js';
import { EQ, MAX_QUEUES } from './layout.js';
import { portTable } from './table.js';

/** Arm word: byte offset in a queue entry (line 0, after OWNER_START; layout.ts leaves 48..63 unused). */
export const EQ_CAPTURE = EQ.CAPTURE;

/** Capture ring header: byte offsets from the memzone start. */
export const CAPH = {
  // line 0: the consumer's (dumpcap)
  MAGIC: 0, // u32 CAP_MAGIC, stored last at creation (release)
  SIZE: 4, // u32 data bytes, a power of two
  SNAPLEN: 8, // u32 largest CAPLEN the producer copies (set by the consumer before arming)
  CONS: 12, // u32 bytes consumed (consumer: Atomics.store after reading records)
  OWNER_PID: 16, // i32 consumer pid, 0 = none (claimed with compareExchange)
  PORT: 20, // u32 port id (for tools)
  QUEUE: 24, // u32 (dir << 16) | queue: dir 0 = RX, 1 = TX
  OWNER_START: 32, // f64 the consumer's start time (pid reuse)
  SESSIONS: 40, // u32 captures started on this ring
  // line 1: the producer's (the queue's owner), written once per armed burst
  PROD: 64, // u32 bytes produced (Atomics.store after writing records)
  PACKETS: 72, // f64 packets copied
  DROPS: 80, // f64 packets not copied because the ring was full
  TAP_NS: 88, // f64 nanoseconds the taps spent (copies, clock reads)
  BYTES: 96, // f64 packet bytes copied
  DATA: 128,
} as const;

export const CAP_MAGIC = 0x50414350; // 'PCAP'
/** CAPLEN value of a wrap marker: the rest of the data area is empty, continue at 0. */
export const CAP_WRAP = 0xffffffff;
export const CAP_DEFAULT_BYTES = 1 << 20;
/** Largest snaplen (bytes kept per packet). */
const MAX_SNAPLEN = 65535;
/** Smallest ring: twice the largest record (snaplen 65535 + header), so any packet fits. */
export const CAP_MIN_BYTES = 1 << 17;
export const CAP_MZ_PREFIX = 'CAP_P';

export type CaptureDir = 'rx' | 'tx';

export function captureRingName(port: number, dir: CaptureDir, q: number): string {
  return `${CAP_MZ_PREFIX}${port}_${dir === 'rx' ? 'R' : 'T'}${q}`;
}

/** Region offset of the arm word of queue q of `port`. */
function armOffset(port: Port, rx: boolean, q: number): number {
  return port.queue(rx, q) + EQ_CAPTURE;
}

const timeOrigin = performance.timeOrigin;

/** The producer side for one queue in one process: copies a burst into the armed ring. */
class Tap {
  private readonly mbufs: Mbufs;
  /** The region as copyBytes sees it. */
  private readonly region: Bytes;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  /** u32 index of the arm word. */
  readonly arm: number;
  private lastCheck = 0;

  constructor(port: Port, rx: boolean, q: number) {
    const r = port.eal.region;
    this.mbufs = new Mbufs(port.eal);
    this.region = new Bytes(r.u8);
    this.u32 = r.u32;
    this.i32 = r.i32;
    this.f64 = r.f64;
    this.arm = armOffset(port, rx, q) >>> 2;
  }

  /** Copy packets handles[0..n) into the ring the arm word points at (caller checked it is set). */
  copy(handles: Uint32Array, n: number): void {
    const u32 = this.u32;
    const region = this.region;
    const mbufs = this.mbufs;
    const cap = u32[this.arm]!;
    const t0 = performance.now();
    const size = u32[(cap + CAPH.SIZE) >>> 2]!;
    const mask = size - 1;
    const snap = u32[(cap + CAPH.SNAPLEN) >>> 2]!;
    const data = cap + CAPH.DATA;
    let prod = u32[(cap + CAPH.PROD) >>> 2]!;
    const cons = Atomics.load(this.i32, (cap + CAPH.CONS) >>> 2) >>> 0;
    let free = size - ((prod - cons) >>> 0);
    const now = timeOrigin + t0;
    const sec = Math.floor(now / 1000);
    const usec = Math.floor((now - sec * 1000) * 1000);
    let bytes = 0;
    let i = 0;
    for (; i < n; i++) {
      const m = handles[i]!;
      const wire = mbufs.pktLen(m);
      const want = wire < snap ? wire : snap;
      const need = (PCAP_REC.HLEN + want + 3) & ~3;
      let pos = prod & mask;
      const contig = size - pos;
      if ((contig < need ? need + contig : need) > free) break;
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
        copyBytes(region, mbufs.dataOffset(s), region, dst, k);
        dst += k;
        left -= k;
      }
      const got = want - left;
      writeRecordHeaderAligned(u32, rec, sec, usec, got, wire);
      prod = (prod + need) >>> 0;
      free -= need;
      bytes += got;
    }
    Atomics.store(this.i32, (cap + CAPH.PROD) >>> 2, prod | 0);
    const f64 = this.f64;
    const st = (cap + CAPH.PACKETS) >>> 3;
    f64[st] = f64[st]! + i;
    f64[st + 3] = f64[st + 3]! + bytes;
    if (i < n) {
      f64[st + 1] = f64[st + 1]! + (n - i);
      if (now - this.lastCheck > 1000) this.checkConsumer(cap, now);
    }
    f64[st + 2] = f64[st + 2]! + (performance.now() - t0) * 1e6;
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

  rxBurst(handles: Uint32Array, n: number): number {
    const r = this.inner.rxBurst(handles, n);
    if (this.u32[this.arm] !== 0 && r !== 0) this.tap.copy(handles, r);
    return r;
  }

  intrArm(): number {
    return this.inner.intrArm ? this.inner.intrArm() : INTR_NONE;
  }

  intrDisarm(): void {
    this.inner.intrDisarm?.();
  }
}

class TappedTx implements TxQueue {
  constructor(private readonly inner: TxQueue, private readonly u32: Uint32Array, private readonly arm: number, private readonly tap: Tap) {}

  txBurst(handles: Uint32Array, n: number): number {
    if (this.u32[this.arm] !== 0 && n !== 0) this.tap.copy(handles, n);
    return this.inner.txBurst(handles, n);
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

export interface CaptureOptions {
  /** Largest bytes kept per packet (default 65535). */
  snaplen?: number;
  /** Data bytes of a NEW ring, a power of two ≥ 128 KiB (default 1 MiB); an existing ring keeps its size. */
  ringBytes?: number;
}

export interface CaptureCounters {
  packets: number;
  drops: number;
  bytes: number;
  tapNs: number;
}

/** Where drained records go: the pcap record header fields and the bytes at u8[off, off + caplen). */
export type CaptureSink = (u8: Uint8Array, off: number, caplen: number, len: number, sec: number, usec: number) => void;

function portsOrThrow(eal: Eal): Port[] {
  const ports = portTable(eal);
  if (!ports) throw new MpdkError('ENODEV', `instance '${eal.filePrefix}' has no ports (its primary has not set them up): nothing to capture`);
  return ports;
}

/** The consumer of one queue's capture ring. */
export class CaptureReader {
  readonly eal: Eal;
  readonly port: number;
  readonly q: number;
  readonly dir: CaptureDir;
  /** Region offset of the ring header. */
  readonly cap: number;
  private readonly arm: number;
  /** Counters when this session started (the ring's counters are cumulative). */
  private readonly base: CaptureCounters;
  /** drain's record header, reused. */
  private readonly rec = new PcapRecord();
  /** Data bytes of the ring (checked at open). */
  private readonly size: number;
  private closed = false;

  private constructor(eal: Eal, port: number, q: number, dir: CaptureDir, cap: number, arm: number) {
    this.eal = eal;
    this.port = port;
    this.q = q;
    this.dir = dir;
    this.cap = cap;
    this.arm = arm;
    this.base = readCounters(eal, cap);
    this.size = eal.region.u32At(cap + CAPH.SIZE);
  }

  /**
   * Start capturing queue q (dir) of `port`: find or create its ring, claim it (EBUSY naming
   * the live dumpcap that holds it), skip whatever an earlier session left, arm it.
   */
  static open(eal: Eal, port: number, q: number, dir: CaptureDir, opts: CaptureOptions = {}): CaptureReader {
    const snaplen = opts.snaplen ?? MAX_SNAPLEN;
    const ringBytes = opts.ringBytes ?? CAP_DEFAULT_BYTES;
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > MAX_SNAPLEN) throw new MpdkError('EINVAL', `snaplen ${snaplen}: use 1..${MAX_SNAPLEN}`);
    if (!Number.isInteger(ringBytes) || ringBytes < CAP_MIN_BYTES || ringBytes > 1 << 30 || (ringBytes & (ringBytes - 1)) !== 0) {
      throw new MpdkError('EINVAL', `capture buffer of ${ringBytes} bytes: use a power of two from ${CAP_MIN_BYTES >> 10} KiB to 1 GiB`);
    }
    const r = eal.region;
    const ports = portsOrThrow(eal);
    const nbPorts = ports.length;
    if (!Number.isInteger(port) || port < 0 || port >= nbPorts) {
      throw new MpdkError('ENODEV', `no port ${port}: instance '${eal.filePrefix}' has ${nbPorts} port${nbPorts === 1 ? '' : 's'}${nbPorts ? ` (0..${nbPorts - 1})` : ''}`);
    }
    const p = ports[port]!;
    const nb = Math.min(dir === 'rx' ? p.nbRx : p.nbTx, MAX_QUEUES);
    if (!Number.isInteger(q) || q < 0 || q >= nb) {
      throw new MpdkError('EINVAL', `port ${port} has ${nb} ${dir.toUpperCase()} queue${nb === 1 ? '' : 's'}${nb ? ` (0..${nb - 1})` : ''}: queue ${q} does not exist`);
    }
    const name = captureRingName(port, dir, q);
    let mz = eal.memzones.tryLookup(name);
    if (!mz) {
      try {
        mz = eal.memzones.reserve(name, CAPH.DATA + ringBytes, 64);
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
      if (Date.now() > deadline) throw new MpdkError('ETIMEDOUT', `capture ring ${name} is still being created after 1 s; try again`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
    const size = r.u32At(cap + CAPH.SIZE);
    if (size < CAP_MIN_BYTES || (size & (size - 1)) !== 0) throw new MpdkError('EPROTO', `capture ring ${name} is damaged (size ${size}); stop the instance's processes and remove it with mpdk cleanup`);
    r.checkSpan(cap + CAPH.DATA, size, `capture ring ${name}`);
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
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    r.u32[(cap + CAPH.SNAPLEN) >>> 2] = snaplen;
    Atomics.store(r.i32, (cap + CAPH.CONS) >>> 2, Atomics.load(r.i32, (cap + CAPH.PROD) >>> 2));
    r.u32[(cap + CAPH.SESSIONS) >>> 2] = r.u32At(cap + CAPH.SESSIONS) + 1;
    const reader = new CaptureReader(eal, port, q, dir, cap, arm);
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
      if (rec.caplen > MAX_SNAPLEN || step > filled) throw this.damaged(cons, prod);
      sink(r.u8, rec.offset, rec.caplen, rec.len, rec.tsSec, rec.tsFrac);
      cons = (cons + step) >>> 0;
      n++;
    }
    Atomics.store(r.i32, (cap + CAPH.CONS) >>> 2, cons | 0);
    return n;
  }

  /** A record that does not fit what the producer published: something else wrote into the ring. */
  private damaged(cons: number, prod: number): MpdkError {
    return new MpdkError('EIO', `capture ring ${captureRingName(this.port, this.dir, this.q)} is damaged: the record at byte ${cons} does not fit the ${(prod - cons) >>> 0} bytes published; stop this capture and start it again`);
  }

  /** Counters of this session so far (packets the producer copied, dropped; time it spent). */
  counters(): CaptureCounters {
    const now = readCounters(this.eal, this.cap);
    return { packets: now.packets - this.base.packets, drops: now.drops - this.base.drops, bytes: now.bytes - this.base.bytes, tapNs: now.tapNs - this.base.tapNs };
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
  return { packets: f64[(cap + CAPH.PACKETS) >>> 3]!, drops: f64[(cap + CAPH.DROPS) >>> 3]!, bytes: f64[(cap + CAPH.BYTES) >>> 3]!, tapNs: f64[(cap + CAPH.TAP_NS) >>> 3]! };
}

export interface CaptureRingInfo extends CaptureCounters {
  name: string;
  port: number;
  dir: CaptureDir;
  queue: number;
  armed: boolean;
  /** Consumer pid (0 = none). */
  owner: number;
  ownerAlive: boolean;
  size: number;
  fill: number;
  sessions: number;
}

/** Every capture ring of the instance, read-only (works on an observer Eal). */
export function captureStats(eal: Eal): CaptureRingInfo[] {
  const r = eal.region;
  const out: CaptureRingInfo[] = [];
  const ports = portTable(eal) ?? [];
  for (const mz of eal.memzones.list()) {
    if (!mz.name.startsWith(CAP_MZ_PREFIX)) continue;
    const cap = mz.offset;
    if (r.loadAcquire(cap + CAPH.MAGIC) !== CAP_MAGIC) continue;
    const port = r.u32At(cap + CAPH.PORT);
    const dq = r.u32At(cap + CAPH.QUEUE);
    const dir: CaptureDir = dq >>> 16 === 0 ? 'rx' : 'tx';
    const queue = dq & 0xffff;
    const owner = r.i32[(cap + CAPH.OWNER_PID) >>> 2]!;
    const p = ports[port];
    const armed = p !== undefined && queue < MAX_QUEUES && r.u32At(armOffset(p, dir === 'rx', queue)) === cap;
    out.push({
      name: mz.name, port, dir, queue, armed, owner, ownerAlive: owner !== 0 && processAlive(owner, r.f64[(cap + CAPH.OWNER_START) >>> 3]!),
      size: r.u32At(cap + CAPH.SIZE), fill: (r.u32At(cap + CAPH.PROD) - r.u32At(cap + CAPH.CONS)) >>> 0, sessions: r.u32At(cap + CAPH.SESSIONS),
      ...readCounters(eal, cap),
    });
  }
  return out;
}
