/**
 * The slave's data path: DPDK l2fwd's loop (receive a burst on each of this slave's
 * ports, rewrite the MACs, buffer for the paired port, flush full buffers at once and
 * the others after a 100 µs drain period) over the ownership record of layout.ts, so
 * that the master knows exactly which mbufs this process held if it is killed at any
 * instruction.
 *
 *   who calls what
 *   slave.ts     new Forwarder(...) once; round() in its loop; drainAll() when it stops
 *   master       nothing here: it reads the record (reclaim.ts)
 *
 * Shared memory written here: the RES record of this slave (RX record, TX buffers) and
 * the "port_stat" counters (rx of our RX ports; tx and dropped of their destination
 * ports: each field has this slave as its only writer). Hot path: no allocation, no
 * closure, no try; one plain store per record state change.
 */
import { Ring, RING, L2fwdRewriter, type EthDev, type RxQueue, type TxQueue, type Eal, Mbufs } from '../../index.js';
import {
  MAX_PKT_BURST, PSTAT, RES, RXR, RX_RECEIVING, TXBUF_CAP, TXR, TX_FLUSHING, TX_N_MASK, TX_SIDE,
} from './layout.js';

/** Region offset of the RX / TX ring of a net_ring port's queue 0 (0 for other drivers). */
export function portRingOffset(dev: EthDev, port: number, rx: boolean): number {
  const p = dev.port(port);
  return p.driverName === 'net_ring' ? p.qDrv(rx, 0, 0) : 0;
}

/** Drain period, as l2fwd's BURST_TX_DRAIN_US. */
const DRAIN_MS = 0.1;

export class Forwarder {
  private readonly u32: Uint32Array;
  private readonly rw: L2fwdRewriter;
  private readonly f64: Float64Array;
  private readonly mbufs: Mbufs;
  private readonly nrx: number;
  private readonly rxq: RxQueue[];
  private readonly txq: TxQueue[];
  private readonly dstPort: Int32Array;
  /** u32 index of port_stat's RX of each RX port, TX / DROPPED of its destination. */
  private readonly statRx: Int32Array;
  private readonly statTx: Int32Array;
  /** u32 indexes into the record. */
  private readonly rxCtrl: number;
  private readonly rxTailRec: number;
  private readonly rxArr: Uint32Array;
  /** u32 index of each RX ring's CONS_TAIL (-1: not a ring port, no snapshot). */
  private readonly rxTailIdx: Int32Array;
  private readonly txCtrl: Int32Array;
  private readonly txTailRec: Int32Array;
  private readonly dropTailRec: Int32Array;
  private readonly txTailIdx: Int32Array;
  private readonly dropTailIdx: number;
  /** TX buffer i, side s: arrs[2 * i + s]; subs[(2 * i + s) * (TXBUF_CAP + 1) + k] = arr.subarray(k). */
  private readonly arrs: Uint32Array[];
  private readonly subs: Uint32Array[];
  private readonly drop: Ring;
  private lastDrain = 0;
  /** Packets forwarded (for the slave's exit line). */
  forwarded = 0;

  constructor(eal: Eal, dev: EthDev, res: number, rxPorts: readonly number[], dstPorts: readonly number[], drop: Ring, portStat: number) {
    const r = eal.region;
    this.u32 = r.u32;
    this.rw = new L2fwdRewriter(r.u8);
    this.f64 = r.f64;
    this.mbufs = new Mbufs(eal);
    this.nrx = rxPorts.length;
    this.drop = drop;
    this.rxq = rxPorts.map((p) => dev.rxQueue(p, 0));
    this.txq = dstPorts.map((d) => dev.txQueue(d, 0));
    this.dstPort = Int32Array.from(dstPorts);
    const ps = portStat >>> 3;
    this.statRx = Int32Array.from(rxPorts, (p) => ps + p * PSTAT.STRIDE + PSTAT.RX);
    this.statTx = Int32Array.from(dstPorts, (d) => ps + d * PSTAT.STRIDE + PSTAT.TX);
    for (const d of dstPorts) this.rw.setSource(d, dev.macAddr(d)); // l2fwd: src MAC = the output port's
    this.rxCtrl = (res + RES.RX + RXR.CTRL) >>> 2;
    this.rxTailRec = (res + RES.RX + RXR.TAIL) >>> 2;
    this.rxArr = new Uint32Array(r.buffer, res + RES.RX + RXR.ARR, TXBUF_CAP);
    this.rxTailIdx = Int32Array.from(rxPorts, (p) => {
      const o = portRingOffset(dev, p, true);
      return o ? (o + RING.CONS_TAIL) >>> 2 : -1;
    });
    this.txTailIdx = Int32Array.from(dstPorts, (d) => {
      const o = portRingOffset(dev, d, false);
      return o ? (o + RING.PROD_TAIL) >>> 2 : -1;
    });
    this.dropTailIdx = (drop.offset + RING.PROD_TAIL) >>> 2;
    const txBase = (i: number): number => res + RES.TX + i * TXR.BYTES;
    this.txCtrl = Int32Array.from(dstPorts, (_, i) => (txBase(i) + TXR.CTRL) >>> 2);
    this.txTailRec = Int32Array.from(dstPorts, (_, i) => (txBase(i) + TXR.TXTAIL) >>> 2);
    this.dropTailRec = Int32Array.from(dstPorts, (_, i) => (txBase(i) + TXR.DROPTAIL) >>> 2);
    this.arrs = [];
    this.subs = [];
    for (let i = 0; i < this.nrx; i++) {
      for (const side of [TXR.ARR0, TXR.ARR1]) {
        const a = new Uint32Array(r.buffer, txBase(i) + side, TXBUF_CAP);
        this.arrs.push(a);
        for (let k = 0; k <= TXBUF_CAP; k++) this.subs.push(a.subarray(k));
      }
    }
    // A fresh record: the master zeroed it after the previous slave (reclaim.ts).
    this.u32[this.rxCtrl] = 0;
    for (let i = 0; i < this.nrx; i++) this.u32[this.txCtrl[i]!] = 0;
  }

  /**
   * One pass over this slave's RX ports: receive, rewrite, buffer; flush what is due.
   * Returns the packets received. Allocates nothing.
   */
  round(now: number): number {
    const u32 = this.u32;
    const rw = this.rw;
    const mbufs = this.mbufs;
    let total = 0;
    for (let j = 0; j < this.nrx; j++) {
      let ctrl = u32[this.txCtrl[j]!]!;
      let n = ctrl & TX_N_MASK;
      if (n > TXBUF_CAP - MAX_PKT_BURST) {
        this.flush(j);
        ctrl = u32[this.txCtrl[j]!]!;
        n = ctrl & TX_N_MASK;
      }
      const room = TXBUF_CAP - n < MAX_PKT_BURST ? TXBUF_CAP - n : MAX_PKT_BURST;
      if (room === 0) continue; // TX ring and drop ring both full: back-pressure
      const ti = this.rxTailIdx[j]!;
      u32[this.rxTailRec] = ti >= 0 ? u32[ti]! : 0; // we are the only consumer: exact
      u32[this.rxCtrl] = RX_RECEIVING | j;
      const got = this.rxq[j]!.rxBurst(this.rxArr, room);
      if (got > 0) {
        const side = (ctrl & TX_SIDE) !== 0 ? 1 : 0;
        const arr = this.arrs[2 * j + side]!;
        const dst = this.dstPort[j]!;
        const rx = this.rxArr;
        for (let i = 0; i < got; i++) {
          const h = rx[i]!;
          rw.rewrite(mbufs.dataOffset(h), dst, dst);
          arr[n + i] = h;
        }
        u32[this.txCtrl[j]!] = (ctrl & TX_SIDE) | (n + got); // commit: now in the TX buffer
        this.f64[this.statRx[j]!] += got;
        total += got;
      }
      u32[this.rxCtrl] = 0; // commit: the RX record holds nothing
      if (n + got >= MAX_PKT_BURST) this.flush(j);
    }
    if (now - this.lastDrain >= DRAIN_MS || total === 0) {
      this.lastDrain = now;
      for (let j = 0; j < this.nrx; j++) if ((u32[this.txCtrl[j]!]! & TX_N_MASK) !== 0) this.flush(j);
    }
    return total;
  }

  /**
   * Send TX buffer j; what the TX ring refuses goes to the drop ring (the master frees
   * it: this process never puts to the pool); what both refuse stays for the next flush.
   */
  flush(j: number): void {
    const u32 = this.u32;
    const ci = this.txCtrl[j]!;
    const ctrl = u32[ci]!;
    const n = ctrl & TX_N_MASK;
    if (n === 0) return;
    const side = (ctrl & TX_SIDE) !== 0 ? 1 : 0;
    const ti = this.txTailIdx[j]!;
    u32[this.txTailRec[j]!] = ti >= 0 ? u32[ti]! : 0; // we are the only producer: exact
    u32[this.dropTailRec[j]!] = u32[this.dropTailIdx]!;
    u32[ci] = ctrl | TX_FLUSHING;
    const arr = this.arrs[2 * j + side]!;
    const s = this.txq[j]!.txBurst(arr, n);
    const base = (2 * j + side) * (TXBUF_CAP + 1);
    const ps = this.statTx[j]!;
    let d = 0;
    if (s < n) {
      d = this.drop.enqueueBurst(this.subs[base + s]!, n - s);
      this.f64[ps + (PSTAT.DROPPED - PSTAT.TX)] += d;
    }
    this.f64[ps] += s;
    this.forwarded += s;
    const left = n - s - d;
    const other = this.arrs[2 * j + 1 - side]!;
    for (let i = 0; i < left; i++) other[i] = arr[s + d + i]!;
    u32[ci] = (side === 0 ? TX_SIDE : 0) | left; // commit
  }

  /** Flush every buffer until empty or `ms` passed (stopping). Returns mbufs still held. */
  drainAll(ms: number): number {
    const end = performance.now() + ms;
    for (;;) {
      let held = 0;
      for (let j = 0; j < this.nrx; j++) {
        this.flush(j);
        held += this.u32[this.txCtrl[j]!]! & TX_N_MASK;
      }
      if (held === 0 || performance.now() >= end) return held;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}
