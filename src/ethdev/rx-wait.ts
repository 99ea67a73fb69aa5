/**
 * Waiting for packets on an RX queue without blocking the event loop (EthDev.rxBurstAsync,
 * EthDev.rxBursts): try the queue's rxBurst, and when it is empty sleep on what its driver
 * offers, then try again.
 *
 *   the queue has (its driver answers)       the sleep                               CPU while idle
 *   a ring of the region (queueRing: net_ring) the ring's doorbell (Ring.whenNotEmpty: ~0
 *                                            one futex_waitv per thread, doorbell-async.ts)
 *   a wake-up descriptor (intrArm: memif)    the event loop's epoll on it, WAKE_MAX_MS at ~0
 *                                            most (a lost signal costs that much latency)
 *   neither (net_null, net_pcap, af_packet)  a timer, 1 ms doubling to BACKOFF_MAX_MS       a few wake-ups a second
 *
 * Who calls what: the queue's owner thread (the RX queue is bound, and claimed, at the first
 * wait, as by rxQueue). The burst itself is the driver's: the hot-path contract of driver.ts
 * holds, a burst that finds packets allocates nothing beyond the wait's promise.
 */
import { MpdkError } from '../eal/errors.js';
import { INTR_DOWN, INTR_NONE, INTR_PENDING } from '../eal/idle.js';
import { whenReadable } from '../native/libc.js';
import { deadlineOf, sleepFor, type WaitOptions } from '../ring/doorbell-async.js';
import type { Ring } from '../ring/ring.js';
import type { RxQueue } from './driver.js';

/** Longest sleep on a wake-up descriptor (as IdlePolicy's wakeMaxMs) and on a port whose link is down. */
const WAKE_MAX_MS = 100;
/** Longest timed sleep of a queue with no wake-up source. */
const BACKOFF_MAX_MS = 8;

/** The async waits of one bound RX queue. */
export class RxWaiter {
  private readonly q: RxQueue;
  private readonly ring: Ring | undefined;
  private readonly what: string;

  /** `ring`: the region ring behind the queue (NetDriver.queueRing), when it has one. */
  constructor(q: RxQueue, ring: Ring | undefined, what: string) {
    this.q = q;
    this.ring = ring;
    this.what = what;
  }

  /**
   * Receive up to n packets into handles[0..), waiting as the file header says while the
   * queue is empty: resolves how many came (≥ 1), or 0 when `opts.timeout` ms pass first;
   * rejects with the signal's reason when it aborts.
   */
  async burst(handles: Uint32Array, n: number, opts: WaitOptions | undefined): Promise<number> {
    if (n > handles.length) throw new MpdkError('EINVAL', `${this.what}: a burst of ${n} into an array of ${handles.length}`);
    const deadline = deadlineOf(opts);
    const signal = opts?.signal;
    let backoff = 1;
    for (;;) {
      const r = this.q.rxBurst(handles, n);
      if (r !== 0) return r;
      signal?.throwIfAborted();
      const left = deadline - performance.now();
      if (left <= 0) return 0;
      if (this.ring) {
        await this.ring.whenNotEmpty({ signal, timeout: Math.min(left, 2 ** 31 - 1) });
        continue;
      }
      const arm = this.q.intrArm?.() ?? INTR_NONE;
      if (arm === INTR_PENDING) {
        this.q.intrDisarm?.();
        continue;
      }
      const watch = arm >= 0 ? whenReadable(arm) : undefined;
      try {
        const ms = arm >= 0 || arm === INTR_DOWN ? WAKE_MAX_MS : backoff;
        await sleepFor(Math.min(left, ms), signal, watch?.ready);
      } finally {
        watch?.cancel();
        this.q.intrDisarm?.();
      }
      if (arm === INTR_NONE) backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }
}
