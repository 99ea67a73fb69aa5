/**
 * A minimal traffic source and sink for client-server over net_ring ports, used by
 * `mpdk demo` (when there is no `mpdk pktgen`) and by the tests: it plays the wire of
 * every port of the server's list (dev.wire), injects pktgen-format UDP frames
 * (net/packet.ts) into the ports it is told to, and collects what the clients transmit.
 *
 * Each frame's payload carries a sequence number (unique per run) and a send time; the
 * sink checks that each one comes out exactly once, on the port paired with the one it
 * went in on (i ↔ i^1 in the list), with the bytes it was sent with (FNV-1a of the frame),
 * and keeps the one-way latency of every packet in a histogram (1 µs bins).
 * Runs in any process attached to the instance (a secondary): mbufs come from the server's
 * pool and go back to it, held meanwhile in its ownership record (Hands: one array per port,
 * sent into the port's RX ring and received from its TX rings in windows naming them,
 * WireSend), so a process killed at any instruction leaks none of them (reclaimDead).
 * `close()` frees what it holds and the record.
 */
import { EthDev, FlowSet, Hands, reclaimDead, PayloadInfo, PktmbufPool, Ring, UdpFrameBuilder, WireSend, frameChecksum, readPayload, portMac, type Eal, type Source } from '../../index.js';
import { PKTMBUF_POOL_NAME, type PortInfoView } from './common.js';

const BURST = 32;
const RX_BURST = BURST * 4;
const HIST_US = 100_000;

export interface TrafficOptions {
  /** Port indexes (in the server's list) to send into; default all. */
  into?: number[];
  size?: number;
  flows?: number;
  /** Check every packet (checksum, port, exactly once) for up to this many packets. */
  track?: number;
}

export class Traffic {
  readonly portIds: number[];
  sent = 0;
  received = 0;
  /** Tracked packets that came out twice, on the wrong port, or with other bytes. */
  duplicates = 0;
  wrongPort = 0;
  badChecksum = 0;
  /** Packets the wire could not inject (port RX ring full) are retried, not counted. */
  private readonly senders: WireSend[];
  /** Per port: a source per TX ring (what the port transmitted). */
  private readonly sources: Source[][];
  /** Arrays 0..P-1: each port's built frames not yet taken; P: the received burst. */
  private readonly hands: Hands;
  private readonly pool: PktmbufPool;
  private readonly u8: Uint8Array;
  private readonly builder: UdpFrameBuilder;
  private readonly size: number;
  private readonly nFlows: number;
  private readonly into: number[];
  private readonly track: number;
  private readonly sum: Uint32Array;
  private readonly inPort: Uint8Array;
  private readonly seen: Uint8Array;
  private readonly hist = new Uint32Array(HIST_US + 1);
  private readonly pay = new PayloadInfo();
  private nextInto = 0;

  constructor(eal: Eal, info: PortInfoView, o: TrafficOptions = {}) {
    const dev = EthDev.attach(eal);
    this.portIds = info.portIds;
    this.pool = PktmbufPool.lookup(eal, PKTMBUF_POOL_NAME);
    this.u8 = eal.region.u8;
    this.size = o.size ?? 64;
    this.nFlows = o.flows ?? 16;
    this.builder = new UdpFrameBuilder(this.u8, FlowSet.make({ count: this.nFlows, srcMac: portMac(100), dstMac: portMac(0) }), this.size);
    this.into = o.into ?? info.portIds.map((_, i) => i);
    this.track = o.track ?? 0;
    this.sum = new Uint32Array(this.track);
    this.inPort = new Uint8Array(this.track);
    this.seen = new Uint8Array(this.track);
    reclaimDead(eal); // a dead source's wires and rings are ours now: what it held first
    const h = Hands.open(eal, 'traffic', info.portIds.length + 1, RX_BURST);
    this.hands = h;
    try {
      this.senders = info.portIds.map((p) => new WireSend(h, dev, p, dev.wire(p)));
      this.sources = info.portIds.map((p) => Array.from({ length: dev.info(p).nbTx }, (_, q) => h.source(Ring.attach(eal, dev.queueRing(p, q, 'tx')))));
    } catch (e) {
      h.close();
      throw e;
    }
  }

  /** Build and inject up to n packets (≤ 32) into the next input port; returns how many went in. */
  inject(n: number): number {
    const k = this.into[this.nextInto]!;
    this.nextInto = (this.nextInto + 1) % this.into.length;
    const hands = this.hands;
    let have = hands.count(k);
    const want = Math.min(BURST, have + n) - have;
    if (want > 0 && hands.alloc(k, this.pool, want) === want) {
      const fresh = hands.array(k);
      const now = performance.now() * 1000;
      for (let i = have; i < have + want; i++) {
        const h = fresh[i]!;
        const seq = this.sent + i;
        const off = this.pool.dataOffset(h);
        this.builder.build(off, seq % this.nFlows, seq, now);
        this.pool.setDataLen(h, this.size);
        this.pool.setPktLen(h, this.size);
      }
      have += want;
    }
    if (have === 0) return 0;
    // Sequence numbers in send order: what is about to be offered is (re)numbered from `sent`
    // before it goes (the port's one RX queue takes a prefix; the rest is renumbered next time).
    const pend = hands.array(k);
    for (let i = 0; i < have; i++) this.note(pend[i]!, k, this.sent + i);
    const r = this.senders[k]!.send(k);
    this.sent += r;
    return r;
  }

  /** Number a packet about to go in on port index k `seq` (its payload's SEQ rewritten). */
  private note(h: number, k: number, seq: number): void {
    const off = this.pool.dataOffset(h);
    // the payload's SEQ field: UDP frame header (42) + 4, little-endian
    const p = off + 42 + 4;
    this.u8[p] = seq & 255;
    this.u8[p + 1] = (seq >>> 8) & 255;
    this.u8[p + 2] = (seq >>> 16) & 255;
    this.u8[p + 3] = seq >>> 24;
    if (seq < this.track) {
      this.sum[seq] = frameChecksum(this.u8, off, this.size);
      this.inPort[seq] = k;
    }
  }

  /** Collect what the ports transmitted; returns how many packets. */
  collect(): number {
    let total = 0;
    const hands = this.hands;
    const ra = this.sources.length;
    for (let k = 0; k < this.sources.length; k++) {
      let n = 0;
      for (const src of this.sources[k]!) n += hands.rx(ra, src, RX_BURST - n);
      if (n === 0) continue;
      const rx = hands.array(ra);
      total += n;
      const now = performance.now() * 1000;
      for (let i = 0; i < n; i++) {
        const h = rx[i]!;
        const off = this.pool.dataOffset(h);
        const len = this.pool.dataLen(h);
        if (!readPayload(this.u8, off, len, this.pay)) continue;
        this.received++;
        const us = Math.round(now - this.pay.txTime);
        this.hist[us < 0 ? 0 : us > HIST_US ? HIST_US : us]!++;
        const seq = this.pay.seq;
        if (seq < this.track) {
          if (this.seen[seq]) this.duplicates++;
          this.seen[seq] = 1;
          if ((this.inPort[seq]! ^ 1) !== k) this.wrongPort++;
          if (frameChecksum(this.u8, off, len) !== this.sum[seq]) this.badChecksum++;
        }
      }
      hands.free(ra);
    }
    return total;
  }

  /** Tracked packets not (yet) seen. */
  missing(): number {
    let m = 0;
    const t = Math.min(this.track, this.sent);
    for (let i = 0; i < t; i++) if (!this.seen[i]) m++;
    return m;
  }

  /** Latency percentile (0..1) in µs over everything received so far. */
  latencyUs(q: number): number {
    const total = this.hist.reduce((a, v) => a + v, 0);
    if (total === 0) return NaN;
    let acc = 0;
    const want = q * total;
    for (let i = 0; i <= HIST_US; i++) {
      acc += this.hist[i]!;
      if (acc >= want) return i;
    }
    return HIST_US;
  }

  /** Give back mbufs built but never injected, and the record. Idempotent. */
  close(): void {
    this.hands.close();
  }
}
