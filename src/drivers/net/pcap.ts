/**
 * net_pcap: a port whose RX reads a capture file and whose TX writes one (DPDK's net_pcap,
 * file mode). RX reads pcap (µs or ns, either byte order) and pcapng (several interfaces);
 * TX writes classic pcap (µs, Ethernet), which tcpdump/tshark read.
 *
 *   --vdev net_pcap0,rx_pcap=in.pcap[ng][,iface=N][,tx_pcap=out.pcap][,infinite_rx=1]
 *     rx_pcap      file the RX queues read (checked at probe: a missing, unreadable or
 *                  non-Ethernet file is refused there, naming it); without it RX receives
 *                  nothing
 *     iface        pcapng: the interface whose packets are read (its index in the file);
 *                  default: the first Ethernet interface
 *     tx_pcap      file TX appends to; created (truncated) at probe with its pcap header;
 *                  without it TX frees what it is given (DPDK's tx_drop)
 *     infinite_rx  1: RX loops over the file for ever (as DPDK); 0 (default): RX stops
 *                  at the end of the file
 *
 *   who calls what
 *   primary, probe          resolve the paths (absolute: processes may have other cwds),
 *                           check the rx file, create the tx file, fill the PCAPZ memzone
 *   configuring process     rxQueueSetup: the queue's read position back to record 0;
 *                           stop: bump FLUSH_GEN (TX owners flush at their next burst) and
 *                           flush this process's writers at once
 *   queue owner (any proc.) rxQueue / txQueue: opens the file ITSELF (fds are per process);
 *                           rxBurst / txBurst (hot path)
 *
 * Shared memory: memzone "PCAPZ_<port>" (PCAPZ below; port DRV word 0 = its offset), and
 * the RX queue entries' DRV words:
 *   RX queue DRV0  next record index of the file (the queue's read position)
 *   RX queue DRV1  completed passes over the file (infinite_rx)
 *   Only the queue's owner writes them, with a plain store after each burst; a process that
 *   takes the queue over (its owner died: l2fwd_fork restarts a slave) reads them and
 *   resumes there: no packet is received twice (the dead owner's last burst, if it died
 *   between the store and handing the packets on, is lost, never duplicated).
 *
 * RX with several queues: the file is one stream and every queue reads it; each keeps only
 * the records whose RSS hash (the port's Toeplitz key and RETA, as net_ring's wire) picks
 * it, so the queues split the file by flow with no record in two queues. The hash is stored
 * in the mbuf (MBUF_F_RX_RSS_HASH) whenever RSS is on. A record longer than the mbuf data
 * room is received as a chain of mbufs (DPDK's scattered RX: each segment filled to the data
 * room, NB_SEGS and PKT_LEN on the first). From a pool with a cache, a burst of n takes at
 * most n mbufs, heads and segments together, in one get (an ownership record then knows
 * exactly what it took: hands.ts): a record whose chain does not fit in what is left waits
 * for the next burst. Otherwise (no cache, a burst larger than it, or one record needs more
 * than n) the burst's records are read first, into a staging buffer, and the mbufs they
 * need, heads and segments, taken in one get (exact too); when the pool cannot give them,
 * they wait staged for the next burst, counted in rx_nombuf. A record shorter than an Ethernet header
 * (14 bytes) or longer than the file's snap length is not a packet: it is counted in ierrors
 * and skipped. A file cut inside a record delivers every whole record before the cut (the
 * probe and the queue that reaches the cut say where it is).
 *
 * TX: each TX queue owner buffers records (timestamp = the burst's wall time, µs), a chain
 * as one record of all its segments, and appends them to the file in whole records under
 * flock(LOCK_EX): one writer at a time, so several processes and queues write one consistent
 * file, and a new writer continues it. TX_END (f64, written under the flock) is the file's
 * length after the last complete append: a writer that finds the file longer (a writer died
 * inside its write()) cuts the partial record off before appending. Buffered records are
 * written when the buffer passes FLUSH_BYTES, when a burst comes FLUSH_MS after the oldest
 * buffered record, when a burst sees FLUSH_GEN move (stop), on txBurst(handles, 0), at
 * DriverPort.close and at process (or worker thread) exit. A process killed with SIGKILL
 * loses what it had buffered (at most FLUSH_MS of traffic); the file stays well formed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MpdkError } from '../../eal/errors.js';
import { Devargs, Port, STAT_ERRORS, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS, type DriverPort, type NetDriver, type RxQueue, type TxQueue } from '../../ethdev/driver.js';
import { MBUF_F_RX_RSS_HASH, MbufRx, Mbufs, type PktmbufPool } from '../../mbuf/mbuf.js';
import type { Mempool } from '../../mempool/mempool.js';
import { LINKTYPE_ETHERNET, PCAP, PCAP_MAX_CAPLEN, PCAP_REC, PcapRecord, PcapWriter, writeRecordHeader, type CaptureFileReader } from '../../net/pcap.js';
import { openCaptureFile } from '../../net/pcap-file.js';
import { ETH } from '../../net/packet.js';
import { flock, LOCK_EX, LOCK_UN } from '../../native/libc.js';
import { SCATTER_SIZE, Scatter } from '../../ownership/scatter.js';
import { openUserFile } from '../../eal/safe-open.js';
import type { ToeplitzTable } from '../../net/rss.js';

/** Test hook (read once): stop after a later get of a record longer than the array, before its segments are chained. */
const HOOK_OVERSIZE = TEST_HOOK === 'pcap:oversize';
const HOOK_GIVE_BACK = TEST_HOOK === 'pcap:give-back';
/** Test hook: stop after a chunk of a record's segments came into the scatter record (room for one), before it is chained. */
const HOOK_SCATTER = TEST_HOOK === 'pcap:scatter';
import { Bytes, copyBytes } from '../../net/bytes.js';
import { TEST_HOOK, hookStop } from '../../eal/test-hook.js';

/** The port's shared area: byte offsets from the memzone start. */
export const PCAPZ = {
  MAGIC: 0, // u32 PCAPZ_MAGIC, written last by probe
  NB_REC: 4, // u32 records of the rx file at probe (information: `mpdk info`)
  FLAGS: 8, // u32 PZ_* bits (probe)
  FLUSH_GEN: 12, // u32 bumped by stop (configuring process); TX owners compare per burst
  TX_END: 16, // f64 tx file length after the last complete append; written under the flock
  IFACE: 24, // i32 the rx file's interface read (pcapng iface=), −1 = the first Ethernet one (probe)
  RX_PATH: 64, // PATH_MAX bytes, absolute, NUL-terminated (probe)
  TX_PATH: 64 + 1024,
  PATH_MAX: 1024,
  BYTES: 64 + 2048,
} as const;
/** Layout 2 (IFACE added); the first layout's magic was 'PCPZ': its zone is refused by name. */
const PCAPZ_MAGIC = 0x32504350; // 'PCP2'
const PCAPZ_MAGIC_V1 = 0x5a504350;
const PZ_INFINITE = 1;
const PZ_RX = 2;
const PZ_TX = 4;

/** Link types a refusal names (libpcap's LINKTYPE_*). */
const LINKTYPE_NAMES: Record<number, string> = {
  0: 'BSD loopback', 101: 'raw IP', 105: 'IEEE 802.11', 113: 'Linux cooked', 127: 'IEEE 802.11 radiotap', 228: 'raw IPv4', 229: 'raw IPv6', 276: 'Linux cooked v2',
};

/** Port DRV word 0: region offset of the PCAPZ memzone. */
const DRV_ZONE = 0;
/** RX queue DRV words. */
const QD_CURSOR = 0;
const QD_LOOPS = 1;

const FLUSH_BYTES = 256 << 10;
const FLUSH_MS = 50;
const TX_BUF_BYTES = 1 << 20;

function zoneName(port: Port): string {
  return `PCAPZ_${port.id}`;
}

function zoneOf(port: Port): number {
  return port.drv(DRV_ZONE);
}

/** Open pcap TX writers of this thread, flushed at exit. */
const openTx = new Set<PcapTx>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const t of openTx) {
      try {
        t.close();
      } catch {
        /* exiting: nothing better to do */
      }
    }
  });
}


/** A larger copy of `b` (at least `need` bytes, doubling): a staging buffer grown on first need. */
function growBytes(b: Uint8Array, need: number): Uint8Array {
  const g = new Uint8Array(Math.max(need, 2 * b.length, 65536));
  g.set(b);
  return g;
}

class PcapRx implements RxQueue {
  private readonly port: Port;
  private readonly mp: Mempool;
  private readonly rx: MbufRx;
  private readonly mbufs: Mbufs;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly st: number;
  private readonly reader: CaptureFileReader | null;
  private readonly rec = new PcapRecord();
  /** u32 indexes of the queue's CURSOR and LOOPS words. */
  private readonly curIdx: number;
  private readonly loopIdx: number;
  private readonly infinite: boolean;
  private readonly nrec: number;
  private readonly q: number;
  /** The file's snap length: a longer record is an error (0: the file sets none). */
  private readonly snap: number;
  /** RSS: table, RETA, mask, queue count (null when RSS is off). */
  private readonly rss: ToeplitzTable | null;
  private readonly reta: Uint16Array;
  private readonly retaMask: number;
  private readonly nbRx: number;
  private cursor: number;
  /** The region and the reader's current buffer as copyBytes sees them. */
  private readonly region: Bytes;
  private src = new Bytes(new Uint8Array(0));
  /**
   * rxStaged's records read ahead of their get (grown on first need): records [stFrom, stTo)
   * wait in `stage` for their mbufs, each with its length, place, RSS hash and the read
   * position after it; stOversize: the next record alone needs more than the caller's array.
   */
  private stage = new Bytes(new Uint8Array(0));
  private stLen: Uint32Array = new Uint32Array(0);
  private stOff: Uint32Array = new Uint32Array(0);
  private stHash: Uint32Array = new Uint32Array(0);
  private stCur: Uint32Array = new Uint32Array(0);
  private stFrom = 0;
  private stTo = 0;
  private stOversize = false;
  private readonly one = new Uint32Array(1);
  /** A chain's further segments (scattered RX), and the index of each one's head in the burst; grown on first need. */
  private segs: Uint32Array = new Uint32Array(0);
  private segHead: Uint32Array = new Uint32Array(0);
  private cutSaid = false;

  constructor(port: Port, q: number, pool: PktmbufPool, rxPath: string, iface: number, infinite: boolean) {
    const r = port.eal.region;
    this.port = port;
    this.mp = pool.mp;
    this.mbufs = pool;
    this.u32 = r.u32;
    this.region = new Bytes(r.u8);
    this.f64 = r.f64;
    this.st = port.statIdx(true, q);
    this.q = q;
    this.infinite = infinite;
    this.rx = new MbufRx(pool, port.id);
    this.curIdx = port.qDrvIndex(true, q, QD_CURSOR);
    this.loopIdx = port.qDrvIndex(true, q, QD_LOOPS);
    this.nbRx = port.nbRx;
    this.rss = port.rssOn ? port.rss() : null;
    this.reta = port.reta;
    this.retaMask = port.retaMask;
    if (rxPath === '') {
      this.reader = null;
      this.nrec = 0;
      this.cursor = 0;
      this.snap = 0;
      return;
    }
    // Open, validate every record once (so the burst never meets a corrupt one), then
    // skip to the shared read position.
    const reader = openCaptureFile(rxPath, { iface: iface < 0 ? undefined : iface });
    let nrec = 0;
    let longest = 0;
    while (reader.next(this.rec)) {
      nrec++;
      if (this.rec.caplen > longest) longest = this.rec.caplen;
    }
    reader.rewind();
    if (longest > this.rx.room) {
      // A record longer than an mbuf may come into an array with room for one: its segments are
      // then chained through the queue's scatter record (scatterRest), reserved now so that no
      // burst ever chains them unrecorded.
      try {
        this.scatter = Scatter.open(port.eal, this.mp);
      } catch (e) {
        reader.close();
        throw new MpdkError('ENOSPC', `${port.name}: RX queue ${q}: rx_pcap=${rxPath} holds records of up to ${longest} bytes, longer than an mbuf of pool '${pool.mp.name}' (${this.rx.room} bytes), and the record that chains their segments cannot be reserved (${(e as Error).message}); free memzones, or give the queue a pool of data rooms of at least ${longest} bytes`);
      }
    }
    this.reader = reader;
    this.nrec = nrec;
    this.snap = reader.snaplen;
    let cur = this.u32[this.curIdx]!;
    if (cur > nrec) cur = infinite && nrec > 0 ? cur % nrec : nrec;
    for (let i = 0; i < cur; i++) reader.next(this.rec);
    this.cursor = cur;
  }

  rxBurst(handles: Uint32Array, n: number, getRec = -1): number {
    const reader = this.reader;
    if (reader === null || n === 0 || (this.cursor >= this.nrec && !this.infinite) || this.nrec === 0) return 0;
    if (this.stFrom !== this.stTo) return this.rxStaged(reader, handles, n, getRec);
    const at = this.mp.zcGet(n, getRec);
    return at >= 0 ? this.rxFromCache(reader, handles, n, at, getRec) : this.rxStaged(reader, handles, n, getRec);
  }

  /**
   * The burst from this lcore's cache in place (Mempool.zcGet): heads and a chain's further
   * segments are taken in the cache's order, at most n mbufs in all, and ONE commit takes
   * exactly those, recorded (zcGetCommit's rec): no second get, nothing given back, so an
   * ownership record's POOL_GET window is exact (hands.ts). handles[0..k) are the heads and
   * handles[k..used) their segments, chained only once they are ours (a free mbuf's NEXT
   * stays 0). A record that needs more mbufs than n alone goes to rxStaged.
   */
  private rxFromCache(reader: CaptureFileReader, handles: Uint32Array, n: number, at: number, getRec: number): number {
    const mp = this.mp;
    const slots = mp.cacheSlots;
    const rx = this.rx;
    const rec = this.rec;
    const rss = this.rss;
    const room = rx.room;
    const olFlags = rss !== null ? MBUF_F_RX_RSS_HASH : 0;
    if (this.segHead.length < n) {
      this.segHead = new Uint32Array(n);
      if (this.segs.length < n) this.segs = new Uint32Array(n);
    }
    const segs = this.segs;
    const segHead = this.segHead;
    let k = 0;
    let used = 0;
    let nsegs = 0;
    let bytes = 0;
    let tooLong = false;
    this.scanStart();
    while (used < n) {
      const len = this.nextRecord(reader);
      if (len < 0) break;
      const hash = this.scanHash;
      const need = len <= room ? 1 : Math.ceil(len / room);
      if (used + need > n) {
        reader.back(); // the next burst's (or, alone, more than a burst of n: rxStaged's)
        this.scanCursor--;
        tooLong = k === 0;
        break;
      }
      if (reader.buf !== this.src.view) this.src = new Bytes(reader.buf);
      const h = slots[at - used++]!;
      handles[k] = h;
      if (need === 1) {
        copyBytes(this.src, rec.offset, this.region, rx.dataAt(h), len);
        rx.set(h, len, olFlags, hash, 0);
      } else {
        copyBytes(this.src, rec.offset, this.region, rx.dataAt(h), room);
        rx.set(h, room, olFlags, hash, 0);
        for (let done = room; done < len; done += room) {
          const m = slots[at - used++]!;
          const l = len - done < room ? len - done : room;
          copyBytes(this.src, rec.offset + done, this.region, rx.dataAt(m), l);
          rx.set(m, l, 0, 0, 0);
          segs[nsegs] = m;
          segHead[nsegs++] = k;
        }
      }
      k++;
      bytes += len;
    }
    for (let j = 0; j < nsegs; j++) handles[k + j] = segs[j]!;
    mp.zcGetCommit(used, getRec); // handles[0..used) are ours from this store on
    for (let j = 0; j < nsegs; j++) this.mbufs.chain(handles[segHead[j]!]!, segs[j]!);
    this.scanEnd(k, bytes, 0);
    return tooLong ? this.rxStaged(reader, handles, n, getRec) : k;
  }

  /**
   * The burst through one getBulk (a pool without a cache, a burst larger than it, a debug
   * pool, or a record that needs more mbufs than the burst asks for): the records are read
   * first into `stage` (what each needs is known only once it is read), then exactly the
   * mbufs they need are taken in ONE recorded get straight into handles[0..used) (heads,
   * then their chains' segments), filled and chained: nothing given back, so an ownership
   * record's POOL_GET window is exact (hands.ts). When the pool cannot give them, the
   * records stay staged for the next burst (rx_nombuf grows by their count): the shared read
   * position moves only past delivered records. A record needing more mbufs than `handles`
   * holds goes to rxOversize.
   */
  private rxStaged(reader: CaptureFileReader, handles: Uint32Array, n: number, getRec: number): number {
    const room = this.rx.room;
    if (this.stFrom === this.stTo) this.stageRecords(reader, n, handles.length, room);
    if (this.stFrom === this.stTo) return this.stOversize ? this.rxOversize(reader, handles, getRec) : 0;
    // The staged records that fit this burst: at most n heads, and their mbufs in handles.
    const stLen = this.stLen;
    let to = this.stFrom;
    let used = 0;
    while (to < this.stTo && to - this.stFrom < n) {
      const len = stLen[to]!;
      const need = len <= room ? 1 : Math.ceil(len / room);
      if (used + need > handles.length) break;
      used += need;
      to++;
    }
    const k = to - this.stFrom;
    if (k === 0) return 0;
    if (this.mp.getBulk(handles, used, getRec) !== used) {
      this.f64[this.st + STAT_NOMBUF] += k;
      return 0;
    }
    const rx = this.rx;
    const stage = this.stage;
    const olFlags = this.rss !== null ? MBUF_F_RX_RSS_HASH : 0;
    let seg = k;
    let bytes = 0;
    for (let i = 0; i < k; i++) {
      const r = this.stFrom + i;
      const len = stLen[r]!;
      const off = this.stOff[r]!;
      const h = handles[i]!;
      if (len <= room) {
        copyBytes(stage, off, this.region, rx.dataAt(h), len);
        rx.set(h, len, olFlags, this.stHash[r]!, 0);
      } else {
        copyBytes(stage, off, this.region, rx.dataAt(h), room);
        rx.set(h, room, olFlags, this.stHash[r]!, 0);
        for (let done = room; done < len; done += room) {
          const m = handles[seg++]!;
          const l = len - done < room ? len - done : room;
          copyBytes(stage, off + done, this.region, rx.dataAt(m), l);
          rx.set(m, l, 0, 0, 0);
          this.mbufs.chain(h, m);
        }
      }
      bytes += len;
    }
    this.scanCursor = this.stCur[to - 1]!;
    this.stFrom = to;
    this.scanEnd(k, bytes, 0);
    return k;
  }

  /**
   * Read up to n records this queue takes into `stage` (stLen, stOff, stHash, stCur: its
   * length, place, RSS hash, and the read position after it), as many as `max` mbufs hold.
   * A first record needing more than `max` is left in the file (stOversize). Grows the
   * staging arrays on first need only.
   */
  private stageRecords(reader: CaptureFileReader, n: number, max: number, room: number): void {
    if (this.stLen.length < n) {
      this.stLen = new Uint32Array(n);
      this.stOff = new Uint32Array(n);
      this.stHash = new Uint32Array(n);
      this.stCur = new Uint32Array(n);
    }
    this.stFrom = this.stTo = 0;
    this.stOversize = false;
    this.scanStart();
    let used = 0;
    let at = 0;
    while (this.stTo < n) {
      const len = this.nextRecord(reader);
      if (len < 0) break;
      const need = len <= room ? 1 : Math.ceil(len / room);
      if (used + need > max) {
        reader.back(); // the next burst's (or, alone, more than `handles` holds: rxOversize)
        this.scanCursor--;
        this.stOversize = this.stTo === 0;
        break;
      }
      if (this.stage.view.length < at + len) this.stage = new Bytes(growBytes(this.stage.view, at + len));
      if (reader.buf !== this.src.view) this.src = new Bytes(reader.buf);
      copyBytes(this.src, this.rec.offset, this.stage, at, len);
      const i = this.stTo++;
      this.stLen[i] = len;
      this.stOff[i] = at;
      this.stHash[i] = this.scanHash;
      this.stCur[i] = this.scanCursor;
      at += len;
      used += need;
    }
    // Records refused or skipped while staging are counted now; the read position moves
    // as the staged ones are delivered (scanEnd).
    if (this.scanErrors > 0) this.f64[this.st + STAT_ERRORS] += this.scanErrors;
    this.scanErrors = 0;
    if (this.stTo === 0 && !this.stOversize) this.scanEnd(0, 0, 0);
  }

  /**
   * A record needing more mbufs than the caller's `handles` can hold (rare: a small array
   * and a record of many buffers): its head and first segments in one recorded get filling
   * `handles`, then the rest in recorded gets into handles[1..) (getBulk's `kept` 1: the
   * record counts the head with each), every segment chained to the head before the next
   * get reuses its slot, so an ownership record's POOL_GET window follows them through the
   * head (hands.ts). An array with room for one only: the head, then the segments through
   * the queue's scatter record (scatterRest: exact too). When the pool cannot give them the
   * record waits (rx_nombuf); what a half-built chain took goes back, recorded (oversizeGivesBack).
   */
  private rxOversize(reader: CaptureFileReader, handles: Uint32Array, getRec: number): number {
    this.stOversize = false;
    const len = this.nextRecord(reader);
    if (len < 0) {
      this.scanEnd(0, 0, 0);
      return 0;
    }
    if (reader.buf !== this.src.view) this.src = new Bytes(reader.buf);
    const room = this.rx.room;
    const olFlags = this.rss !== null ? MBUF_F_RX_RSS_HASH : 0;
    const off = this.rec.offset;
    const first = handles.length < 2 ? 1 : Math.min(Math.ceil(len / room), handles.length);
    if (this.mp.getBulk(handles, first, getRec) !== first) return this.oversizeWaits(reader);
    const h = handles[0]!;
    const rx = this.rx;
    copyBytes(this.src, off, this.region, rx.dataAt(h), room);
    rx.set(h, room, olFlags, this.scanHash, 0);
    if (handles.length < 2) return this.scatterRest(reader, h, off, len, getRec);
    let done = this.fill(h, handles, 1, first, off, room, len);
    const rest = handles.subarray(1);
    while (done < len) {
      const b = Math.min(Math.ceil((len - done) / room), rest.length);
      if (this.mp.getBulk(rest, b, getRec, 1) !== b) return this.oversizeGivesBack(reader, handles, getRec);
      if (HOOK_OVERSIZE) hookStop('pcap:oversize');
      done = this.fill(h, handles, 1, 1 + b, off, done, len);
    }
    this.scanEnd(1, len, 0);
    return 1;
  }

  /**
   * handles[from .. to) as the next segments of the record at src[off, off + len), `done`
   * bytes of which are in mbufs already: filled and chained to `h` in order. Returns the
   * bytes done.
   */
  private fill(h: number, handles: Uint32Array, from: number, to: number, off: number, done: number, len: number): number {
    const rx = this.rx;
    const room = rx.room;
    for (let i = from; i < to && done < len; i++) {
      const m = handles[i]!;
      const l = len - done < room ? len - done : room;
      copyBytes(this.src, off + done, this.region, rx.dataAt(m), l);
      rx.set(m, l, 0, 0, 0);
      this.mbufs.chain(h, m);
      done += l;
    }
    return done;
  }

  /** rxOversize's record waits: the pool could not give its mbufs (counted in rx_nombuf). */
  private oversizeWaits(reader: CaptureFileReader): number {
    reader.back();
    this.scanCursor--;
    this.scanEnd(0, 0, 1);
    return 0;
  }

  /**
   * rxOversize's half-built chain (head in handles[0], which the record holds with its chain)
   * goes back, and the record waits. Exact at any instruction: from the chain's end, up to
   * handles.length - 1 segments at a time are written to handles[1..), held by the record
   * ([0 .. 1 + j): Mempool.holdRecorded), cut from the chain, and put back recorded (the
   * record then holds the head alone: putBackRecorded); then the head the same way (an array
   * of two or more: an array of one is scatterRest's).
   */
  private oversizeGivesBack(reader: CaptureFileReader, handles: Uint32Array, getRec: number): number {
    const mb = this.mbufs;
    const mp = this.mp;
    const h = handles[0]!;
    const rest = handles.subarray(1);
    for (let segs = mb.nbSegs(h) - 1; segs > 0;) {
      const j = Math.min(segs, rest.length);
      let prev = h; // the segment before the last j
      for (let i = j; i < segs; i++) prev = mb.next(prev);
      for (let i = 0, m = mb.next(prev); i < j; i++, m = mb.next(m)) rest[i] = m;
      mp.holdRecorded(getRec, 1 + j);
      mb.setNext(prev, 0);
      mb.setNbSegs(h, segs + 1 - j);
      for (let i = 0; i < j; i++) {
        mb.setNext(rest[i]!, 0); // as a free leaves a segment: alone
        mb.setNbSegs(rest[i]!, 1);
      }
      if (HOOK_GIVE_BACK) hookStop('pcap:give-back');
      mp.putBackRecorded(rest, j, getRec, 1);
      segs -= j;
    }
    mp.holdRecorded(getRec, 1);
    mp.putBackRecorded(handles, 1, getRec, 0);
    return this.oversizeWaits(reader);
  }

  /** A burst's reading state (nextRecord): the read position, whole passes started over, records refused, the last record's RSS hash. */
  private scanCursor = 0;
  private scanRewinds = 0;
  private scanErrors = 0;
  private scanHash = 0;

  private scanStart(): void {
    this.scanCursor = this.cursor;
    this.scanRewinds = 0;
    this.scanErrors = 0;
  }

  /**
   * The next record this queue takes, read into this.rec: its length (its RSS hash in
   * scanHash), or -1 when the file, or a whole pass over it, has none more. A runt or a
   * record over the snap length is counted in scanErrors and skipped; another queue's
   * record (RSS) is skipped.
   */
  private nextRecord(reader: CaptureFileReader): number {
    const rec = this.rec;
    const rss = this.rss;
    const snap = this.snap;
    for (;;) {
      if (!reader.next(rec)) {
        if (reader.truncated && !this.cutSaid) this.sayCut(reader);
        if (!this.infinite || this.scanRewinds > 0) return -1; // a whole pass found nothing for this queue
        reader.rewind();
        this.scanCursor = 0;
        this.scanRewinds++;
        this.u32[this.loopIdx] = this.u32[this.loopIdx]! + 1;
        continue;
      }
      this.scanCursor++;
      const len = rec.caplen;
      if (len < ETH.HLEN || (snap !== 0 && len > snap)) {
        this.scanErrors++; // not a packet: a runt, or more than the file says it keeps
        continue;
      }
      if (rss !== null) {
        const hash = rss.hashPacket(reader.buf, rec.offset, len);
        let dq = this.reta[hash & this.retaMask]!;
        if (dq >= this.nbRx) dq %= this.nbRx;
        if (dq !== this.q) continue; // another queue's record
        this.scanHash = hash;
      }
      return len;
    }
  }

  /** The burst's end: the shared read position, and the counters. */
  private scanEnd(k: number, bytes: number, nombuf: number): void {
    this.cursor = this.scanCursor;
    this.u32[this.curIdx] = this.scanCursor; // the shared read position (owner only; see the header)
    const f64 = this.f64;
    const st = this.st;
    if (this.scanErrors > 0) f64[st + STAT_ERRORS] += this.scanErrors;
    if (nombuf > 0) f64[st + STAT_NOMBUF] += nombuf;
    if (k > 0) {
      f64[st + STAT_PACKETS] += k;
      f64[st + STAT_OCTETS] += bytes;
    }
  }

  /**
   * Scattered RX into an array with room for the head only (rxOversize: head `h`, filled,
   * taken by the window's get `getRec`): the segments of the record at src[off, off + len)
   * after it, in gets of up to SCATTER_SIZE into the queue's scatter record (scatter.ts),
   * each chunk chained to the head before the next: the window names the record, which holds
   * the head, its chain and its open get, so a death anywhere leaks nothing. When the pool
   * cannot give a chunk, the half-built chain and the head go back, recorded (Scatter.giveBack),
   * and the record waits (rx_nombuf). Unrecorded (getRec < 0: no window to name it), the same
   * through a private array.
   */
  private scatterRest(reader: CaptureFileReader, h: number, off: number, len: number, getRec: number): number {
    const sc = getRec >= 0 ? this.scatterRecord() : null;
    if (sc !== null) sc.hold(getRec, h);
    else if (this.segs.length < SCATTER_SIZE) this.segs = new Uint32Array(SCATTER_SIZE);
    const segs = sc !== null ? sc.segs : this.segs;
    const room = this.rx.room;
    for (let done = room; done < len;) {
      const b = Math.min(Math.ceil((len - done) / room), SCATTER_SIZE);
      if (sc !== null ? !sc.get(b) : this.mp.getBulk(segs, b) !== b) {
        if (sc !== null) sc.giveBack(this.mbufs, h);
        else this.mbufs.free(h);
        return this.oversizeWaits(reader);
      }
      if (HOOK_SCATTER) hookStop('pcap:scatter');
      done = this.fill(h, segs, 0, b, off, done, len);
      sc?.chained();
    }
    this.scanEnd(1, len, 0);
    return 1;
  }

  /** The queue's scatter record: reserved at bind when the file holds a record longer than an mbuf (the constructor: else the bind is refused), so always there when needed. */
  private scatterRecord(): Scatter | null {
    return this.scatter;
  }

  private scatter: Scatter | null = null;

  /** The queue reached the end of a file cut inside a record: say so, once. */
  private sayCut(reader: CaptureFileReader): void {
    this.cutSaid = true;
    this.port.eal.log('warning', `${this.port.name}: RX queue ${this.q} read the ${this.nrec} whole records of rx_pcap=${reader.path}, which is cut short (${reader.truncated})`);
  }

  close(): void {
    this.reader?.close();
    this.scatter?.close();
  }
}

/** One TX queue's appender (see the header for the flush rules and the locking). */
class PcapTx implements TxQueue {
  readonly port: Port;
  private readonly mbufs: Mbufs;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly st: number;
  private readonly path: string;
  private fd: number;
  private readonly buf: Uint8Array;
  private readonly bdv: DataView;
  /** The region and the TX buffer as copyBytes sees them. */
  private readonly region: Bytes;
  private readonly bytes: Bytes;
  private pos = 0;
  /** Wall time (ms) of the oldest buffered record. */
  private pendingSince = 0;
  private readonly genIdx: number;
  private gen: number;
  /** f64 index of TX_END. */
  private readonly endIdx: number;

  constructor(port: Port, q: number, txPath: string) {
    const r = port.eal.region;
    this.port = port;
    this.mbufs = new Mbufs(port.eal);
    this.u32 = r.u32;
    this.f64 = r.f64;
    this.region = new Bytes(r.u8);
    this.st = port.statIdx(false, q);
    this.path = txPath;
    const z = zoneOf(port);
    this.genIdx = (z + PCAPZ.FLUSH_GEN) >>> 2;
    this.gen = this.u32[this.genIdx]!;
    this.endIdx = (z + PCAPZ.TX_END) >>> 3;
    this.buf = new Uint8Array(txPath === '' ? 0 : TX_BUF_BYTES);
    this.bdv = new DataView(this.buf.buffer);
    this.bytes = new Bytes(this.buf);
    this.fd = -1;
    if (txPath !== '') {
      try {
        // Append without creating: the file and its header come from probe. No link followed.
        this.fd = openUserFile(txPath, 'append');
      } catch (e) {
        throw new MpdkError((e as MpdkError).code, `${port.name}: cannot open tx_pcap for appending: ${(e as Error).message} (probe created it; was it removed? restart the primary to re-create it)`);
      }
      openTx.add(this);
      hookExit();
    }
  }

  txBurst(handles: Uint32Array, n: number): number {
    if (n === 0) {
      if (this.pos > 0) this.flush();
      return 0;
    }
    const mbufs = this.mbufs;
    let bytes = 0;
    if (this.fd >= 0) {
      const now = Date.now();
      const sec = Math.floor(now / 1000);
      const usec = (now - sec * 1000) * 1000;
      if (this.pos === 0) this.pendingSince = now;
      const bdv = this.bdv;
      for (let i = 0; i < n; i++) {
        const h = handles[i]!;
        const len = mbufs.pktLen(h);
        const cap = len > PCAP_MAX_CAPLEN ? PCAP_MAX_CAPLEN : len;
        if (this.pos + PCAP_REC.HLEN + cap > this.buf.length) this.flush();
        let p = this.pos;
        writeRecordHeader(bdv, p, sec, usec, cap, len);
        p += PCAP_REC.HLEN;
        // Segments in order (a chain's PKT_LEN is the sum of its DATA_LENs).
        let left = cap;
        for (let m = h; m !== 0 && left > 0; m = mbufs.next(m)) {
          let dl = mbufs.dataLen(m);
          if (dl > left) dl = left;
          copyBytes(this.region, mbufs.dataOffset(m), this.bytes, p, dl);
          p += dl;
          left -= dl;
        }
        this.pos = p;
        bytes += len;
      }
      if (this.pos >= FLUSH_BYTES || now - this.pendingSince >= FLUSH_MS || this.u32[this.genIdx] !== this.gen) this.flush();
    } else {
      bytes = mbufs.pktLenSum(handles, n);
    }
    this.mbufs.freeBulk(handles, n);
    const f64 = this.f64;
    const st = this.st;
    f64[st + STAT_PACKETS] += n;
    f64[st + STAT_OCTETS] += bytes;
    return n;
  }

  /** Append the buffered records under the file's flock (see the header). */
  flush(): void {
    this.gen = this.u32[this.genIdx]!;
    if (this.fd < 0 || this.pos === 0) return;
    const fd = this.fd;
    flock(fd, LOCK_EX);
    try {
      const size = fs.fstatSync(fd).size;
      const end = this.f64[this.endIdx]!;
      // Longer than the last complete append: a writer died inside write(); cut it off.
      if (end >= PCAP.HLEN && size > end) fs.ftruncateSync(fd, end);
      let off = 0;
      let n = this.pos;
      while (n > 0) {
        const k = fs.writeSync(fd, this.buf, off, n);
        off += k;
        n -= k;
      }
      this.f64[this.endIdx] = (end >= PCAP.HLEN && size > end ? end : size) + this.pos;
    } catch (e) {
      throw new MpdkError('EIO', `${this.port.name}: cannot append to tx_pcap=${this.path}: ${(e as Error).message}`);
    } finally {
      this.pos = 0;
      flock(fd, LOCK_UN);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
      openTx.delete(this);
    }
  }
}

class PcapPort implements DriverPort {
  private readonly rxPath: string;
  private readonly txPath: string;
  private readonly iface: number;
  private readonly infinite: boolean;
  private readonly rxqs: PcapRx[] = [];
  private readonly txqs: PcapTx[] = [];

  constructor(private readonly port: Port) {
    const r = port.eal.region;
    const z = zoneOf(port);
    const magic = z === 0 ? 0 : r.u32At(z + PCAPZ.MAGIC);
    if (magic === PCAPZ_MAGIC_V1) {
      throw new MpdkError('EPROTO', `${port.name}: its pcap state (memzone ${zoneName(port)}) was made by other mpdk code (layout 1); run one mpdk version in every process of the instance`);
    }
    if (magic !== PCAPZ_MAGIC) {
      throw new MpdkError('EPROTO', `${port.name}: its pcap state (memzone ${zoneName(port)}) is missing; the primary's probe did not finish`);
    }
    const flags = r.u32At(z + PCAPZ.FLAGS);
    this.rxPath = flags & PZ_RX ? r.readString(z + PCAPZ.RX_PATH, PCAPZ.PATH_MAX) : '';
    this.txPath = flags & PZ_TX ? r.readString(z + PCAPZ.TX_PATH, PCAPZ.PATH_MAX) : '';
    this.iface = r.i32[(z + PCAPZ.IFACE) >>> 2]!;
    this.infinite = (flags & PZ_INFINITE) !== 0;
  }

  rxQueue(q: number, pool: PktmbufPool): RxQueue {
    const rx = new PcapRx(this.port, q, pool, this.rxPath, this.iface, this.infinite);
    this.rxqs.push(rx);
    return rx;
  }

  txQueue(q: number): TxQueue {
    const tx = new PcapTx(this.port, q, this.txPath);
    this.txqs.push(tx);
    return tx;
  }

  close(): void {
    for (const t of this.txqs) t.close();
    for (const r of this.rxqs) r.close();
    this.txqs.length = 0;
    this.rxqs.length = 0;
  }
}

function checkPath(vdev: string, key: string, p: string): string {
  if (p === '') throw new MpdkError('EINVAL', `--vdev ${vdev}: ${key} is empty; give a file path`);
  const abs = path.resolve(p);
  if (Buffer.byteLength(abs) >= PCAPZ.PATH_MAX) throw new MpdkError('EINVAL', `--vdev ${vdev}: ${key}=${p} is longer than ${PCAPZ.PATH_MAX - 1} bytes as an absolute path`);
  return abs;
}

/** A net_pcap vdev's devargs, checked (EINVAL naming the problem); no file is opened. */
function settingsOf(vdev: string, args: Devargs): { rx: string; tx: string; infinite: boolean; iface: number } {
  const rx = args.has('rx_pcap') ? checkPath(vdev, 'rx_pcap', args.str('rx_pcap')!) : '';
  const tx = args.has('tx_pcap') ? checkPath(vdev, 'tx_pcap', args.str('tx_pcap')!) : '';
  const infinite = args.int(vdev, 'infinite_rx', 0, 0, 1) === 1;
  const iface = args.has('iface') ? args.int(vdev, 'iface', 0, 0, 0xffff) : -1;
  if (rx === '' && tx === '') throw new MpdkError('EINVAL', `--vdev ${vdev}: give rx_pcap=FILE and/or tx_pcap=FILE`);
  if (infinite && rx === '') throw new MpdkError('EINVAL', `--vdev ${vdev}: infinite_rx=1 needs rx_pcap=FILE`);
  if (iface >= 0 && rx === '') throw new MpdkError('EINVAL', `--vdev ${vdev}: iface=N chooses an interface of rx_pcap=FILE; give rx_pcap`);
  if (rx !== '' && rx === tx) throw new MpdkError('EINVAL', `--vdev ${vdev}: rx_pcap and tx_pcap are the same file (${rx}); writing would destroy what RX reads`);
  return { rx, tx, infinite, iface };
}

export const netPcap: NetDriver = {
  name: 'net_pcap',
  args: {
    rx_pcap: 'capture file (pcap or pcapng) the RX queues read',
    iface: 'pcapng: the interface of rx_pcap whose packets are read (its index; default: the first Ethernet one)',
    tx_pcap: 'pcap file TX writes (created or truncated at probe)',
    infinite_rx: '1 to loop over rx_pcap for ever (default 0)',
  },

  checkArgs(vdev: string, args: Devargs): void {
    settingsOf(vdev, args);
  },

  probe(port: Port, args: Devargs): void {
    const eal = port.eal;
    const { rx, tx, infinite, iface } = settingsOf(port.name, args);
    let nrec = 0;
    if (rx !== '') {
      const what = `--vdev ${port.name}: rx_pcap=${args.str('rx_pcap')}`;
      let reader: CaptureFileReader;
      try {
        reader = openCaptureFile(rx, { iface: iface < 0 ? undefined : iface });
      } catch (e) {
        const err = e as MpdkError;
        throw new MpdkError(err.code ?? 'EIO', `${what}: ${err.message}`);
      }
      try {
        if (reader.linktype !== LINKTYPE_ETHERNET) {
          throw new MpdkError('EINVAL', `${what}: link type ${reader.linktype}${LINKTYPE_NAMES[reader.linktype] ? ` (${LINKTYPE_NAMES[reader.linktype]})` : ''} is not Ethernet: net_pcap reads Ethernet (link type 1) captures`);
        }
        const rec = new PcapRecord();
        while (reader.next(rec)) nrec++;
        if (reader.truncated) eal.log('warning', `${what} is cut short (${reader.truncated}): its ${nrec} whole records are read`);
      } catch (e) {
        const err = e as MpdkError;
        throw new MpdkError(err.code ?? 'EPROTO', err.message.startsWith(what) ? err.message : `${what}: ${err.message}`);
      } finally {
        reader.close();
      }
    }
    if (tx !== '') {
      try {
        PcapWriter.open(tx, { snaplen: PCAP_MAX_CAPLEN }).close(); // truncate and write the global header
      } catch (e) {
        const err = e as MpdkError;
        throw new MpdkError(err.code ?? 'EIO', `--vdev ${port.name}: tx_pcap=${args.str('tx_pcap')}: ${err.message}`);
      }
    }
    const mz = eal.memzones.tryLookup(zoneName(port)) ?? eal.memzones.reserve(zoneName(port), PCAPZ.BYTES, 64);
    const r = eal.region;
    const z = mz.offset;
    r.u8.fill(0, z, z + PCAPZ.BYTES);
    r.u32[(z + PCAPZ.NB_REC) >>> 2] = nrec;
    r.u32[(z + PCAPZ.FLAGS) >>> 2] = (infinite ? PZ_INFINITE : 0) | (rx ? PZ_RX : 0) | (tx ? PZ_TX : 0);
    r.f64[(z + PCAPZ.TX_END) >>> 3] = tx ? PCAP.HLEN : 0;
    r.i32[(z + PCAPZ.IFACE) >>> 2] = iface;
    r.writeString(z + PCAPZ.RX_PATH, PCAPZ.PATH_MAX, rx);
    r.writeString(z + PCAPZ.TX_PATH, PCAPZ.PATH_MAX, tx);
    r.storeRelease(z + PCAPZ.MAGIC, PCAPZ_MAGIC);
    port.setDrv(DRV_ZONE, z);
  },

  rxQueueSetup(port: Port, q: number): void {
    port.setQDrv(true, q, QD_CURSOR, 0);
    port.setQDrv(true, q, QD_LOOPS, 0);
  },

  stop(port: Port): void {
    const z = zoneOf(port);
    const i = (z + PCAPZ.FLUSH_GEN) >>> 2;
    port.u32[i] = (port.u32[i]! + 1) >>> 0;
    for (const t of openTx) if (t.port.entry === port.entry && t.port.eal === port.eal) t.flush();
  },

  open(port: Port): DriverPort {
    return new PcapPort(port);
  },

  /** Detached: its PCAPZ memzone goes (the files stay: they are the user's). */
  remove(port: Port): void {
    if (port.eal.memzones.tryLookup(zoneName(port))) port.eal.memzones.free(zoneName(port));
  },
};
