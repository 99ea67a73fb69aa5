/**
 * pktgen's flow control on a software wire: a full RX queue holds back only its own flows.
 *
 * A wire spreads a port's frames over its RX queues (RSS), one queue per consumer process.
 * When one consumer stops (SIGSTOP, a debugger, a slow process) its queue fills and the
 * wire refuses the frames steered to it. Retrying those first, before anything else (what
 * pktgen did), starves every other queue of the port: one stopped process stopped all
 * traffic. Here a refused frame is held back instead, with the queue it was steered to
 * (the RSS hash the wire stored in it, through the port's RETA), and:
 *
 *   - its flow is blocked: no new frame is built for it while one of its frames is held
 *     (so its frames stay in order and the held set stays small: at most one burst);
 *   - it is offered again only when its queue has room (RingView.freeCount), so `refused`
 *     counts each refused frame once, not once per retry (the sender's count: a full
 *     net_ring queue is counted at the sender, as DPDK's net_ring does; the port counts none);
 *   - a queue that holds frames back for STALL_NOTICE_MS is named on stderr with its
 *     owner pid and state ("alive, stopped"), and again when it takes frames again.
 *
 *   who calls what
 *   main.ts txRound   release(into, at) before building; blocked(g) while building;
 *                     hold(handles, n) with what the wire refused
 *   main.ts run loop  report(nowMs) once per slice (the stall lines)
 *
 * The frames themselves stay in pktgen's ownership record (array `arr` of Hands): moves
 * between it and the send array commit the target first (hands.ts: a handle may be in two
 * arrays for an instant; readers take the union), so a kill anywhere leaks nothing.
 * This file keeps only what it needs to decide (queue and flow of each held frame); it
 * allocates nothing per frame.
 */
import {
  Mbufs, PAYLOAD, RingView, UDP_FRAME_HLEN, identityOf, stateOf, type EthDev, type Eal, type Hands,
} from '../../index.js';

/** A queue holding frames back this long is named (the bound: within a second). */
export const STALL_NOTICE_MS = 500;

export class HeldBack {
  /** Frames held back, and frames refused in all (each refusal once). */
  held = 0;
  refused = 0;
  private readonly mbufs: Mbufs;
  private readonly dv: DataView;
  private readonly rings: RingView[];
  private readonly reta: Uint16Array;
  private readonly mask: number;
  private readonly nbRx: number;
  private readonly rss: boolean;
  /** Queue of the frame at each position of the held array (kept parallel to it). */
  private readonly qOf: Uint8Array;
  /** Frames held per global flow, and per RX queue. */
  private readonly perFlow: Uint16Array;
  private readonly perQueue: Int32Array;
  /** When each queue started holding frames (ms; 0: it holds none), whether it was named. */
  private readonly since: Float64Array;
  private readonly named: Uint8Array;
  private readonly refusedAt: Float64Array;
  private readonly room: Int32Array;

  constructor(
    eal: Eal, private readonly dev: EthDev, readonly port: number, private readonly hands: Hands, private readonly arr: number, flows: number,
    private readonly say: (line: string) => void,
  ) {
    this.mbufs = new Mbufs(eal);
    this.dv = eal.region.dv;
    const p = dev.port(port);
    this.nbRx = p.nbRx;
    this.rss = dev.info(port).rss.on && this.nbRx > 1;
    this.reta = p.reta;
    this.mask = p.retaMask;
    this.rings = [];
    for (let q = 0; q < this.nbRx; q++) this.rings.push(RingView.at(eal.region, dev.queueRing(port, q, 'rx')));
    this.qOf = new Uint8Array(hands.capacity);
    this.perFlow = new Uint16Array(flows);
    this.perQueue = new Int32Array(this.nbRx);
    this.since = new Float64Array(this.nbRx);
    this.named = new Uint8Array(this.nbRx);
    this.refusedAt = new Float64Array(this.nbRx);
    this.room = new Int32Array(this.nbRx);
  }

  /** Room left in the held array. */
  get free(): number {
    return this.hands.capacity - this.hands.count(this.arr);
  }

  /** Is global flow g blocked (one of its frames held)? */
  blocked(g: number): boolean {
    return this.perFlow[g] !== 0;
  }

  private flowOf(h: number): number {
    return this.dv.getUint32(this.mbufs.dataOffset(h) + UDP_FRAME_HLEN + PAYLOAD.FLOW, true);
  }

  private queueOf(h: number): number {
    if (!this.rss) return 0;
    const q = this.reta[this.mbufs.rssHash(h) & this.mask]!;
    return q < this.nbRx ? q : q % this.nbRx;
  }

  /**
   * Move the held frames whose queue has room now to send array `into`, after its `at`
   * frames (target committed first, then the held array compacted and committed).
   * @returns how many moved (to be re-stamped and sent)
   */
  release(into: number, at: number, nowMs: number): number {
    const hands = this.hands;
    const n = hands.count(this.arr);
    if (n === 0) return 0;
    const room = this.room;
    for (let q = 0; q < this.nbRx; q++) room[q] = this.perQueue[q]! > 0 ? this.rings[q]!.freeCount() : 0;
    const src = hands.array(this.arr);
    const dst = hands.array(into);
    const space = hands.capacity - at;
    let m = 0;
    for (let i = 0; i < n && m < space; i++) {
      const q = this.qOf[i]!;
      if (room[q]! > 0) {
        room[q]!--;
        dst[at + m++] = src[i]!;
      }
    }
    if (m === 0) return 0;
    hands.commit(into, at + m); // in both arrays for an instant: readers take the union
    let w = 0;
    for (let i = 0; i < n; i++) {
      const q = this.qOf[i]!;
      const h = src[i]!;
      if (m > 0 && this.wasReleased(dst, at, at + m, h)) {
        this.perQueue[q]!--;
        this.perFlow[this.flowOf(h)]!--;
        if (this.perQueue[q] === 0) this.cleared(q, nowMs);
        continue;
      }
      src[w] = h; // overwrites only a slot whose frame is now in `into`
      this.qOf[w++] = q;
    }
    hands.commit(this.arr, w);
    this.held = w;
    return m;
  }

  private wasReleased(dst: Uint32Array, from: number, to: number, h: number): boolean {
    for (let j = from; j < to; j++) if (dst[j] === h) return true;
    return false;
  }

  /**
   * The wire refused send array `from`'s `n` frames (they are at its front): move them to
   * the held array (committed there first, then `from` emptied) and block their flows.
   * @returns how many were held (all, unless the held array is full: the rest stay in `from`)
   */
  hold(from: number, n: number, nowMs: number): number {
    const hands = this.hands;
    const at = hands.count(this.arr);
    const m = Math.min(n, hands.capacity - at);
    if (m === 0) return 0;
    const src = hands.array(from);
    const dst = hands.array(this.arr);
    for (let i = 0; i < m; i++) {
      const h = src[i]!;
      dst[at + i] = h;
      const q = this.queueOf(h);
      this.qOf[at + i] = q;
      if (this.perQueue[q]!++ === 0) this.since[q] = nowMs;
      this.refusedAt[q] = nowMs;
      this.perFlow[this.flowOf(h)]!++;
    }
    hands.commit(this.arr, at + m);
    if (m === n) hands.commit(from, 0);
    else {
      src.copyWithin(0, m, n); // the moved ones are in the held array already
      hands.commit(from, n - m);
    }
    this.held = at + m;
    this.refused += m;
    return m;
  }

  private cleared(q: number, nowMs: number): void {
    if (this.named[q]) {
      this.say(`pktgen: port ${this.port} RX queue ${q} takes frames again after ${((nowMs - this.since[q]!) / 1000).toFixed(1)} s; ${this.refused} frames refused by full queues of port ${this.port} so far, each resent`);
    }
    this.named[q] = 0;
    this.since[q] = 0;
  }

  /** Name every queue that has held frames back for STALL_NOTICE_MS (once per stall). */
  report(nowMs: number): void {
    for (let q = 0; q < this.nbRx; q++) {
      if (this.perQueue[q] === 0 || this.named[q] || nowMs - this.since[q]! < STALL_NOTICE_MS) continue;
      this.named[q] = 1;
      const info = this.dev.info(this.port).rxq[q];
      const pid = info?.owner ?? 0;
      const who = pid > 0 ? `its owner pid ${pid} (${stateOf(identityOf(pid))})` : 'no process owns it';
      const flows: number[] = [];
      for (let g = 0; g < this.perFlow.length && flows.length < 8; g++) if (this.perFlow[g] !== 0) flows.push(g);
      this.say(`pktgen: port ${this.port} RX queue ${q} is full and takes nothing for ${((nowMs - this.since[q]!) / 1000).toFixed(1)} s: ${who}; ` +
        `${this.perQueue[q]} frames of flow${flows.length === 1 ? '' : 's'} ${flows.join(',')} held back, the other queues keep flowing`);
    }
  }

  /** Held frames' flows (for --per-flow's unsent count), then the held array emptied by the caller. */
  heldFlows(into: number[]): void {
    const n = this.hands.count(this.arr);
    const a = this.hands.array(this.arr);
    for (let i = 0; i < n; i++) into.push(this.flowOf(a[i]!));
  }
}
