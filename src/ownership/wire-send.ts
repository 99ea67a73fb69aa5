/**
 * WireSend: an ownership record's array sent into a software port through its wire (net_ring's
 * `Wire`), exactly. The frames of each RX queue (RSS: Wire.queueOf, which also records each
 * frame's hash) are moved to the array's front (Hands.group: one store) and sent in one enqueue
 * into that queue's ring (Wire.injectQueue), a window naming the ring (Hands.tx(a, sink, m)):
 * a death at any instruction leaves each frame once, in the record or in a ring (hands.ts
 * window table, SENDING). What full queues refuse stays in the array, at its front.
 *
 *   who calls what   the record's owner thread: new WireSend (setup), send (per burst)
 *
 * Allocates nothing per burst.
 */
import type { EthDev } from '../ethdev/ethdev.js';
import type { Wire } from '../ethdev/driver.js';
import { Ring } from '../ring/ring.js';
import type { Hands, Sink } from './hands.js';

/**
 * Sends an ownership record's arrays into a software port through its wire, exactly: each RX
 * queue's frames in one enqueue into its ring, in a window naming that ring, so that a process
 * killed at any instruction leaves each frame once, in its record or in a ring. What full
 * queues refuse stays at the array's front.
 *
 * ```ts
 * using hands = Hands.open(eal, 'player', 1, 256);
 * const send = new WireSend(hands, dev, 0, dev.wire(0));
 * hands.alloc(0, pool, 32); // ... fill the frames ...
 * send.send(0); // what a full queue refused stays in array 0
 * ```
 */
export class WireSend {
  /** One sink per RX queue of the port, each naming its ring in the record. */
  private readonly sinks: Sink[] = [];
  /** Per frame of the array: its RX queue (permuted by Hands.group alike). */
  private readonly tags: Uint8Array;

  /**
   * Send through `wire` (dev.wire(port), claimed by the caller) from arrays of `hands`. A
   * program that may take over a dead one's wire calls reclaimDead first (hands.ts).
   */
  constructor(private readonly hands: Hands, dev: EthDev, port: number, private readonly wire: Wire) {
    const nq = dev.info(port).nbRx;
    for (let q = 0; q < nq; q++) this.sinks.push(hands.sinkOf({ txBurst: (x, n) => wire.injectQueue(q, x, n) }, Ring.attach(hands.eal, dev.queueRing(port, q, 'rx'))));
    this.tags = new Uint8Array(hands.capacity);
  }

  /** Send what array `a` holds; returns how many went. The rest stay in `a`, at its front. */
  send(a: number): number {
    const hands = this.hands;
    const n = hands.count(a);
    if (n === 0) return 0;
    const tags = this.tags;
    const arr = hands.array(a);
    for (let i = 0; i < n; i++) tags[i] = this.wire.queueOf(arr[i]!);
    const sinks = this.sinks;
    if (sinks.length === 1) return hands.tx(a, sinks[0]!);
    let sent = 0;
    let held = n;
    for (let q = 0; q < sinks.length && held > 0; q++) {
      const m = hands.group(a, tags, q);
      if (m === 0) continue;
      const s = hands.tx(a, sinks[q]!, m);
      if (s > 0) {
        tags.copyWithin(0, s, held); // tx moved what stays to the front
        sent += s;
        held -= s;
      }
    }
    return sent;
  }
}
