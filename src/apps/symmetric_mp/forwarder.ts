/**
 * symmetric_mp's packet loop (DPDK examples/multi_process/symmetric_mp lcore_main): for
 * each port in use, receive a burst of up to 32 from RX queue `proc-id` and send it on TX
 * queue `proc-id` of the paired port (ports[i ^ 1]: 0↔1, 2↔3); what the TX queue does not
 * take is freed and counted as that port's drops. Packets are forwarded untouched: the
 * DPDK example rewrites no MAC (l2fwd does; symmetric_mp does not).
 *
 *   who calls what
 *   main.ts, lcore.ts   assignPairs (which lcore serves which pairs), bindQueues (claim
 *                       queue proc-id of its ports for the calling lcore), new Forwarder
 *                       once, then run(idle, untilMs) in slices
 *
 * The burst array is array 0 of the lcore's ownership record (ownership/hands.ts): the RX
 * queue writes straight into it, the TX queue reads from it, what the TX queue refuses is
 * freed from it, each step a window the record describes; a process killed at any
 * instruction has what it held returned by the next process with its --proc-id (main.ts
 * calls reclaimDead before it binds the queues). `stats` is this process's view, as
 * DPDK's pstats[] (RX counted on the source port, TX and drops on the destination port),
 * one writer per entry (the lcore serving the port); main.ts reads it to print.
 *
 * Hot path: no allocation, no closure, no try; three plain stores per burst in the record.
 */
import { Hands, MpdkError, isMpdkError, type EthDev, type IdlePolicy, type RxQueue, type Sink, type Source, type TxQueue } from '../../index.js';

/** DPDK's PKT_BURST. */
export const PKT_BURST = 32;

/** Index of each counter in a port's triple of `stats`. */
export const ST_RX = 0;
export const ST_TX = 1;
export const ST_DROP = 2;

export class Forwarder {
  /** Port ids in use, ascending (the -p mask). */
  readonly portIds: readonly number[];
  /** [rx, tx, drop] per entry of portIds. */
  readonly stats: Float64Array;
  readonly hands: Hands;
  private readonly rx: Source[];
  private readonly rxq: RxQueue[];
  /** tx[i]: the TX queue of portIds[i ^ 1], where what portIds[i] receives goes. */
  private readonly tx: Sink[];

  /**
   * @param hands     the calling lcore's record (one array of PKT_BURST)
   * @param portIds   the ports this loop serves, in pairs (portIds[i] ↔ portIds[i ^ 1]),
   *                  whose queue `procId` this lcore has bound (bindQueues)
   * @param stats     where to count, 3 per port (default: a fresh array); main.ts passes a
   *                  view of a SharedArrayBuffer when the loop runs on a worker lcore
   */
  constructor(hands: Hands, dev: EthDev, portIds: readonly number[], procId: number, stats?: Float64Array) {
    this.hands = hands;
    this.portIds = portIds;
    this.rx = portIds.map((p) => hands.rxSource(dev, p, procId));
    this.rxq = portIds.map((p) => dev.rxQueue(p, procId));
    this.tx = portIds.map((_, i) => hands.txSink(dev, portIds[i ^ 1]!, procId));
    this.stats = stats ?? new Float64Array(portIds.length * 3);
  }

  /** The RX queues this loop polls (for IdlePolicy.watch: sleep on them when idle). */
  get rxQueues(): readonly RxQueue[] {
    return this.rxq;
  }

  /** One pass over every port: returns the packets received. */
  round(): number {
    const hands = this.hands;
    const rx = this.rx;
    const tx = this.tx;
    const st = this.stats;
    const n = rx.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const k = hands.rx(0, rx[i]!, PKT_BURST);
      if (k === 0) continue;
      total += k;
      st[i * 3 + ST_RX] += k;
      const s = hands.tx(0, tx[i]!);
      const d = (i ^ 1) * 3;
      st[d + ST_TX] += s;
      if (s < k) st[d + ST_DROP] += hands.free(0);
    }
    return total;
  }

  /**
   * Forward until performance.now() reaches `untilMs` (checked every 64 busy rounds and
   * after every idle one), idling per `idle` when a round finds nothing (an idle round may
   * sleep up to the policy's wakeMaxMs on the RX queues it watches).
   */
  run(idle: IdlePolicy, untilMs: number): void {
    for (let r = 1; ; r++) {
      if (this.round() === 0) {
        idle.idle();
        if (performance.now() >= untilMs) return;
      } else {
        idle.busy();
        if ((r & 63) === 0 && performance.now() >= untilMs) return;
      }
    }
  }
}

/**
 * Claim queue procId (RX and TX) of every port in `ports` for the calling thread (its
 * lcore). A live holder is refused naming its pid; a dead one's claim is taken over.
 */
export function bindQueues(dev: EthDev, ports: readonly number[], procId: number, numProcs: number): { rx: RxQueue[]; tx: TxQueue[] } {
  const rx: RxQueue[] = [];
  const tx: TxQueue[] = [];
  for (const p of ports) {
    for (const dir of ['rx', 'tx'] as const) {
      try {
        if (dir === 'rx') rx.push(dev.rxQueue(p, procId));
        else tx.push(dev.txQueue(p, procId));
      } catch (e) {
        if (!isMpdkError(e, 'EBUSY')) throw e;
        const info = dev.info(p);
        const holder = (dir === 'rx' ? info.rxq : info.txq)[procId]?.owner ?? 0;
        throw new MpdkError('EBUSY', `--proc-id=${procId} is already running as pid ${holder} (it holds ${dir.toUpperCase()} queue ${procId} of port ${p}); give this process a free id from 0 to ${numProcs - 1}, or stop pid ${holder} first`);
      }
    }
  }
  return { rx, tx };
}

/**
 * DPDK's assign_ports_to_cores: the port pairs spread over the lcores in id order, each
 * gets pairs/lcores of them and the first pairs%lcores one more. Returns, per lcore, the
 * range [start, start + count) of indexes into the port list (count even; 0 = idle).
 */
export function assignPairs(nPorts: number, lcores: readonly number[]): Map<number, { start: number; count: number }> {
  const pairs = nPorts >> 1;
  const per = Math.floor(pairs / lcores.length);
  let extra = pairs % lcores.length;
  let at = 0;
  const out = new Map<number, { start: number; count: number }>();
  for (const l of [...lcores].sort((a, b) => a - b)) {
    let count = per * 2;
    if (extra > 0) {
      count += 2;
      extra--;
    }
    out.set(l, { start: at, count });
    at += count;
  }
  return out;
}
