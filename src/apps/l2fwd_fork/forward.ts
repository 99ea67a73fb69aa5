/**
 * The slave's data path: DPDK l2fwd's loop (receive a burst on each of this slave's
 * ports, rewrite the MACs, buffer for the paired port, flush full buffers at once and
 * the others after a 100 µs drain period) over the slave's ownership record (the
 * library's Hands, ownership/hands.ts), so that the master knows exactly which mbufs this
 * process held if it is killed at any instruction (reclaimDead).
 *
 *   who calls what
 *   slave.ts     new Forwarder(...) once; round() in its loop; drainAll() when it stops
 *   master       nothing here: reclaimDead reads the record after a death
 *
 * Record arrays: j = the TX buffer of RX port j (for its paired port), TXBUF_CAP handles:
 * a buffer is flushed once it holds MAX_PKT_BURST, so it never needs more than that plus
 * one RX burst. Per burst: receive straight onto the end of the TX buffer (window on the
 * port's SC RX ring; the record's count grows by what came), rewrite the new frames' MACs
 * in place (no copy, one commit: the record's own). A flush
 * sends (window on the SP TX ring), then gives what the TX ring refused to the drop ring
 * (window on that SP ring; the master frees it: this process never puts to the pool);
 * what both refuse stays for the next flush.
 *
 * Shared memory written here: the record, and the "port_stat" counters (rx of our RX
 * ports; tx and dropped of their destination ports: each field has this slave as its only
 * writer). Hot path: no allocation, no closure, no try; one plain store per record state change.
 * The caller reads the clock: `round(now)` needs it only for the drain period, so a busy
 * loop may pass a `now` a few rounds old.
 */
import { L2fwdRewriter, type EthDev, type Eal, type Hands, type Ring, type RxQueue, type Sink, type Source, Mbufs } from '../../index.js';
import { MAX_PKT_BURST, PSTAT, TXBUF_CAP } from './layout.js';

/** Drain period, as l2fwd's BURST_TX_DRAIN_US. */
const DRAIN_MS = 0.1;

export class Forwarder {
  private readonly hands: Hands;
  private readonly rw: L2fwdRewriter;
  private readonly f64: Float64Array;
  private readonly mbufs: Mbufs;
  private readonly nrx: number;
  private readonly src: Source[];
  private readonly txs: Sink[];
  private readonly drop: Sink;
  private readonly dstPort: Int32Array;
  /** f64 index of port_stat's RX of each RX port, TX of its destination (DROPPED follows). */
  private readonly statRx: Int32Array;
  private readonly statTx: Int32Array;
  private lastDrain = 0;
  /** The data offsets of a received burst (rewriteBulk's input). */
  private readonly offs = new Uint32Array(MAX_PKT_BURST);
  /** Packets forwarded (for the slave's exit line). */
  forwarded = 0;
  /** Epoch ms (performance.timeOrigin + now) of the first burst sent, 0 before. */
  firstAt = 0;

  constructor(eal: Eal, dev: EthDev, hands: Hands, rxPorts: readonly number[], dstPorts: readonly number[], drop: Ring, portStat: number) {
    const r = eal.region;
    this.hands = hands;
    this.rw = new L2fwdRewriter(r.u8);
    this.f64 = r.f64;
    this.mbufs = new Mbufs(eal);
    this.nrx = rxPorts.length;
    this.src = rxPorts.map((p) => hands.rxSource(dev, p, 0));
    this.txs = dstPorts.map((d) => hands.txSink(dev, d, 0));
    this.drop = hands.sink(drop);
    this.dstPort = Int32Array.from(dstPorts);
    const ps = portStat >>> 3;
    this.statRx = Int32Array.from(rxPorts, (p) => ps + p * PSTAT.STRIDE + PSTAT.RX);
    this.statTx = Int32Array.from(dstPorts, (d) => ps + d * PSTAT.STRIDE + PSTAT.TX);
    for (const d of dstPorts) this.rw.setSource(d, dev.macAddr(d)); // l2fwd: src MAC = the output port's
  }

  /** The RX queues this slave polls (IdlePolicy's wake sources: it sleeps on them when idle). */
  get rxQueues(): RxQueue[] {
    return this.src.map((s) => s.q);
  }

  /**
   * One pass over this slave's RX ports: receive, rewrite, buffer; flush what is due.
   * Returns the packets received. Allocates nothing.
   */
  round(now: number): number {
    const hands = this.hands;
    const rw = this.rw;
    const mbufs = this.mbufs;
    let total = 0;
    for (let j = 0; j < this.nrx; j++) {
      let n = hands.count(j);
      if (n > TXBUF_CAP - MAX_PKT_BURST) {
        this.flush(j);
        n = hands.count(j);
      }
      const room = TXBUF_CAP - n < MAX_PKT_BURST ? TXBUF_CAP - n : MAX_PKT_BURST;
      if (room === 0) continue; // TX ring and drop ring both full: back-pressure
      const got = hands.rx(j, this.src[j]!, room); // onto the end of TX buffer j
      if (got > 0) {
        const offs = this.offs;
        mbufs.dataOffsets(hands.array(j), got, offs, n);
        rw.rewriteBulk(offs, got, this.dstPort[j]!);
        this.f64[this.statRx[j]!] += got;
        total += got;
        if (n + got >= MAX_PKT_BURST) this.flush(j);
      }
    }
    if (now - this.lastDrain >= DRAIN_MS || total === 0) {
      this.lastDrain = now;
      for (let j = 0; j < this.nrx; j++) if (hands.count(j) !== 0) this.flush(j);
    }
    return total;
  }

  /**
   * Send TX buffer j; what the TX ring refuses goes to the drop ring (the master frees
   * it); what both refuse stays for the next flush.
   */
  flush(j: number): void {
    const hands = this.hands;
    const n = hands.count(j);
    if (n === 0) return;
    const s = hands.tx(j, this.txs[j]!);
    const ps = this.statTx[j]!;
    if (s < n) this.f64[ps + (PSTAT.DROPPED - PSTAT.TX)] += hands.tx(j, this.drop);
    this.f64[ps] += s;
    if (this.firstAt === 0 && s > 0) this.firstAt = performance.timeOrigin + performance.now();
    this.forwarded += s;
  }

  /** Flush every buffer until empty or `ms` passed (stopping). Returns mbufs still held. */
  drainAll(ms: number): number {
    const end = performance.now() + ms;
    for (;;) {
      let held = 0;
      for (let j = 0; j < this.nrx; j++) {
        this.flush(j);
        held += this.hands.count(j);
      }
      if (held === 0 || performance.now() >= end) return held;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}
