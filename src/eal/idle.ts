/**
 * How a polling loop idles (ARCHITECTURE decision 7: idle costs nothing). Call `idle()`
 * after a poll round that found no work and `busy()` after one that did:
 *
 *   empty rounds     action                         why
 *   1 .. spin        return at once                 work usually comes back within µs
 *   .. spin+yields   sched_yield()                  processes outnumber cores: let the
 *                                                   producer (or a preempted tail holder) run
 *   beyond           sleep, doubling from 10 µs      ~0 % CPU when nothing comes; the wake-up
 *                    up to `maxSleepUs`              latency is bounded by the sleep length
 *
 * A loop that can sleep on a doorbell (Ring.waitDequeueBurst: one ring, futex) should do
 * that instead; this policy is for loops over several queues. Mode 'poll' never sleeps
 * nor yields (DPDK's behaviour, for benchmarks on dedicated cores).
 *
 * Interrupt mode (DPDK's rte_eth_dev_rx_intr_enable + epoll on the queues' event fds):
 * give the policy the loop's RX queues (`wake` option or `watch`). At the sleep stage it
 * arms every queue that has a wake-up source (the driver asks its producer to signal a
 * descriptor when packets arrive, then looks once more), and sleeps in poll(2) on those
 * descriptors for at most `wakeMaxMs` (default 100); a producer's signal ends the sleep at
 * once. Then it disarms them all (back to pure polling, no signal cost for the producer).
 *
 *   arm results                          the sleep
 *   descriptors (and any INTR_DOWN)      poll(fds, wakeMaxMs): ~0 CPU while idle
 *   descriptors and some INTR_NONE       poll(fds, the timed back-off above, ≥ 1 ms)
 *   only INTR_DOWN                       wakeMaxMs (nothing can arrive; a link that comes
 *                                        back is seen within it)
 *   no descriptor, some INTR_NONE        the timed back-off (as without `wake`)
 *   any INTR_PENDING                     no sleep (packets came while arming)
 *
 * The bound matters: a producer may check the queue's "signal me" flag just before the
 * arm and store its packets after (DPDK's memif does a release store, then a plain load),
 * so a lost wake-up costs at most wakeMaxMs of latency, never a hang.
 *
 * Every call also tells this thread's lcore accountant (lcore-usage.ts) what the round
 * found, so tools can show how busy the lcore is (busy vs idle time): in every mode,
 * 'poll' included, at the cost of a counter per busy round.
 */
import { pollFds, POLLIN, schedYield } from '../native/libc.js';
import { BUSY_SETTLE, lcoreClock } from './lcore-usage.js';

/** `WakeSource.intrArm` results other than a descriptor. */
export const INTR_NONE = -1; // no wake-up source (the driver has none here): timed sleep
export const INTR_PENDING = -2; // packets arrived while arming: do not sleep
export const INTR_DOWN = -3; // cannot receive now (link down): does not shorten the sleep

/**
 * What an idle loop can sleep on: an RX queue in interrupt mode (ethdev's RxQueue has
 * these as optional members; drivers without a wake-up source leave them out).
 */
export interface WakeSource {
  /**
   * Ask the producer to signal; then, if packets are already there, INTR_PENDING; else the
   * descriptor that becomes readable (POLLIN) when they come, INTR_DOWN when nothing can
   * come (no peer), or INTR_NONE (no wake-up source: sleep briefly and look again).
   */
  intrArm?(): number;
  /** Back to polling: tell the producer not to signal, consume any pending signal. */
  intrDisarm?(): void;
}

const WAKE_MAX = 64;

export type IdleMode = 'poll' | 'sleep';

export interface IdleOptions {
  mode?: IdleMode;
  spin?: number;
  yields?: number;
  maxSleepUs?: number;
  /** RX queues this loop polls, to sleep on their wake-up descriptors (see the header). */
  wake?: readonly WakeSource[];
  /** Longest sleep on wake-up descriptors, ms (default 100). */
  wakeMaxMs?: number;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

export class IdlePolicy {
  readonly mode: IdleMode;
  private readonly spin: number;
  private readonly yields: number;
  private readonly maxSleepUs: number;
  private empty = 0;
  private sleepUs = 10;
  /** Busy rounds not yet handed to the lcore accountant. */
  private busyRounds = 0;
  private wake: readonly WakeSource[] = [];
  private readonly wakeMaxMs: number;
  private readonly fds = new Int32Array(WAKE_MAX);
  private readonly events = new Int16Array(WAKE_MAX).fill(POLLIN);
  private readonly revents = new Int16Array(WAKE_MAX);
  /** Rounds spent sleeping since the last work (for statistics). */
  sleeps = 0;
  /** Sleeps ended by a wake-up descriptor before their timeout (for statistics and tests). */
  wakeups = 0;

  constructor(o: IdleOptions = {}) {
    this.mode = o.mode ?? 'sleep';
    this.spin = o.spin ?? 64;
    this.yields = o.yields ?? 64;
    this.maxSleepUs = o.maxSleepUs ?? 1000;
    this.wakeMaxMs = o.wakeMaxMs ?? 100;
    if (o.wake) this.watch(o.wake);
    lcoreClock.start();
  }

  /** Sleep on these RX queues' wake-up descriptors from now on (replaces the previous set). */
  watch(queues: readonly WakeSource[]): void {
    if (queues.length > WAKE_MAX) throw new RangeError(`IdlePolicy: at most ${WAKE_MAX} queues to sleep on, not ${queues.length}`);
    this.wake = queues.filter((q) => typeof q.intrArm === 'function');
  }

  /** After a round that moved something. */
  busy(): void {
    this.empty = 0;
    this.sleepUs = 10;
    if (++this.busyRounds >= BUSY_SETTLE) {
      lcoreClock.busy(this.busyRounds);
      this.busyRounds = 0;
    }
  }

  /** After a round that found nothing: spin, yield or sleep (see the header). */
  idle(): void {
    this.handOver();
    lcoreClock.empty();
    if (this.mode === 'poll') return;
    const e = ++this.empty;
    if (e <= this.spin) return;
    if (e <= this.spin + this.yields) {
      schedYield();
      lcoreClock.waited();
      return;
    }
    this.sleeps++;
    if (this.wake.length === 0 || !this.sleepOnQueues()) Atomics.wait(sleepCell, 0, 0, this.sleepUs / 1000);
    lcoreClock.waited();
    if (this.sleepUs < this.maxSleepUs) this.sleepUs = Math.min(this.maxSleepUs, this.sleepUs * 2);
  }

  /**
   * The loop slept or waited on its own (a rate limiter, a timer) instead of calling idle():
   * the time since the last round counts as idle for the lcore's usage.
   */
  waited(): void {
    this.handOver();
    lcoreClock.waited();
  }

  /** Give the busy rounds counted here to the lcore accountant (before an empty round or a wait). */
  private handOver(): void {
    if (this.busyRounds > 0) {
      lcoreClock.busy(this.busyRounds);
      this.busyRounds = 0;
    }
  }

  /** Arm, sleep in poll(2), disarm. @returns false when the caller must sleep its timed back-off instead. */
  private sleepOnQueues(): boolean {
    const wake = this.wake;
    const fds = this.fds;
    let n = 0;
    let timed = false;
    let armed = 0;
    let pending = false;
    for (; armed < wake.length; ) {
      const r = wake[armed++]!.intrArm!();
      if (r >= 0) fds[n++] = r;
      else if (r === INTR_PENDING) {
        pending = true;
        break;
      } else if (r !== INTR_DOWN) timed = true;
    }
    let slept = true;
    if (pending) {
      /* no sleep */
    } else if (n > 0) {
      const ms = timed ? Math.ceil(this.sleepUs / 1000) : this.wakeMaxMs;
      if (pollFds(fds, this.events, n, ms, this.revents) > 0) this.wakeups++;
    } else if (!timed) Atomics.wait(sleepCell, 0, 0, this.wakeMaxMs); // every queue is down
    else slept = false;
    for (let i = 0; i < armed; i++) wake[i]!.intrDisarm?.();
    return slept;
  }
}

/** Parse an `--idle=poll|sleep` value. */
export function parseIdleMode(v: string): IdleMode | undefined {
  return v === 'poll' || v === 'sleep' ? v : undefined;
}
