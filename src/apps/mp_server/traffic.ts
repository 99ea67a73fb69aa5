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
 * Runs in any process attached to the instance (a secondary); owns no shared object:
 * mbufs come from the server's pool and go back to it.
 */
import { EthDev, FlowSet, PayloadInfo, PktmbufPool, UdpFrameBuilder, frameChecksum, readPayload, portMac, type Eal, type Wire } from '../../index.js';
import { PKTMBUF_POOL_NAME, type PortInfoView } from './common.js';

const BURST = 32;
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
  private readonly wires: Wire[];
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
  /** Per injected port index: mbufs built but not yet taken by the wire. */
  private readonly pend: Uint32Array[];
  private readonly npend: Int32Array;
  private readonly rx = new Uint32Array(BURST * 4);
  private nextInto = 0;

  constructor(eal: Eal, info: PortInfoView, o: TrafficOptions = {}) {
    const dev = EthDev.attach(eal);
    this.portIds = info.portIds;
    this.wires = info.portIds.map((p) => dev.wire(p));
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
    this.pend = info.portIds.map(() => new Uint32Array(BURST));
    this.npend = new Int32Array(info.portIds.length);
  }

  /** Build and inject up to n packets (≤ 32) into the next input port; returns how many went in. */
  inject(n: number): number {
    const k = this.into[this.nextInto]!;
    this.nextInto = (this.nextInto + 1) % this.into.length;
    const pend = this.pend[k]!;
    let have = this.npend[k]!;
    const want = Math.min(BURST, have + n) - have;
    if (want > 0) {
      const fresh = pend.subarray(have, have + want);
      if (this.pool.allocBulk(fresh, want) === want) {
        const now = performance.now() * 1000;
        for (let i = 0; i < want; i++) {
          const h = fresh[i]!;
          const seq = this.sent + (have + i) ;
          const off = this.pool.dataOffset(h);
          this.builder.build(off, seq % this.nFlows, seq, now);
          this.pool.setDataLen(h, this.size);
          this.pool.setPktLen(h, this.size);
        }
        have += want;
      }
    }
    if (have === 0) return 0;
    // Sequence numbers are assigned in send order: renumber what is about to be offered.
    const r = this.wires[k]!.inject(pend, have);
    for (let i = 0; i < r; i++) this.note(pend[i]!, k);
    if (r < have) pend.copyWithin(0, r, have);
    this.npend[k] = have - r;
    return r;
  }

  /** Record a packet that went in on port index k (its seq is rewritten to `sent`). */
  private note(h: number, k: number): void {
    const off = this.pool.dataOffset(h);
    const seq = this.sent++;
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
    const rx = this.rx;
    for (let k = 0; k < this.wires.length; k++) {
      const n = this.wires[k]!.collect(rx, rx.length);
      if (n === 0) continue;
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
      this.pool.freeBulk(rx, n);
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

  /** Give back mbufs built but never injected. */
  close(): void {
    for (let k = 0; k < this.pend.length; k++) {
      if (this.npend[k]! > 0) this.pool.freeBulk(this.pend[k]!, this.npend[k]!);
      this.npend[k] = 0;
    }
  }
}
