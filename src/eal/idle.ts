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
 *   (and beyond       sched_yield() while less than   traffic that comes every few ms is
 *    that, until the   the spin budget has passed      waited for awake: taken at once, not
 *    budget is spent)  since the last work             after a sleeper's wake-up time
 *                      (spin-budget.ts: learned from the gaps between bursts; 0.1..5 ms)
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
 *
 * Doorbells: a queue that is a ring of the region (net_ring, or a Ring itself) arms by
 * registering as a sleeper on the ring's doorbell and adding the doorbell's word to the
 * policy's FutexSet (INTR_BELL); the producer rings it after its next enqueue
 * (ring/doorbell.ts). When every armed queue is a doorbell the loop sleeps in futex_waitv(2)
 * on all of them for at most wakeMaxMs: woken within the kernel's wake-up time of the first
 * enqueue, no CPU while nothing comes. Doorbells and descriptors together (a memif port
 * beside net_ring ones): poll(2) on the descriptors with the timed back-off.
 */
import { FutexSet, pollFds, POLLIN, schedYield, WAKE_TIMEOUT } from '../native/libc.js';
import { BUSY_SETTLE, lcoreClock } from './lcore-usage.js';
import { SpinBudget } from './spin-budget.js';

export type { FutexSet };

/** `WakeSource.intrArm` results other than a descriptor. */
export const INTR_NONE = -1; // no wake-up source (the driver has none here): timed sleep
/** `WakeSource.intrArm` result: packets arrived while arming, so do not sleep. */
export const INTR_PENDING = -2;
/** `WakeSource.intrArm` result: cannot receive now (link down); does not shorten the sleep. */
export const INTR_DOWN = -3;
/** `WakeSource.intrArm` result: armed on a doorbell, whose word is now in the FutexSet `intrArm` was given. */
export const INTR_BELL = -4;

/**
 * What an idle loop can sleep on: an RX queue in interrupt mode (ethdev's RxQueue has
 * these as optional members; drivers without a wake-up source leave them out).
 */
export interface WakeSource {
  /**
   * Ask the producer to signal; then, if packets are already there, INTR_PENDING; else the
   * descriptor that becomes readable (POLLIN) when they come, INTR_BELL after adding a
   * doorbell word to `bells` (a caller that gives none gets INTR_NONE from a doorbell), INTR_DOWN
   * when nothing can come (no peer), or INTR_NONE (no wake-up source: sleep briefly and look
   * again). Every arm is followed by one disarm.
   */
  intrArm?(bells?: FutexSet): number;
  /** Back to polling: tell the producer not to signal, consume any pending signal. */
  intrDisarm?(): void;
}

const WAKE_MAX = 64;

/**
 * `'sleep'`: spin, yield, then sleep while idle (the default); `'poll'`: never sleep nor yield (DPDK's busy polling).
 */
export type IdleMode = 'poll' | 'sleep';

/**
 * Options of an `IdlePolicy`: mode, empty rounds spun (`spin`) and yielded (`yields`) before sleeping, longest sleep (µs), and the RX queues to wake on.
 */
export interface IdleOptions {
  /** `'sleep'` (default) or `'poll'`. */
  mode?: IdleMode;
  /** Empty rounds that return at once before the first yield. */
  spin?: number;
  /** Empty rounds that yield the CPU (sched_yield) before the first sleep. */
  yields?: number;
  /** Longest sleep in µs (the sleeps double up to it): the worst wake-up latency with no wake source. */
  maxSleepUs?: number;
  /** RX queues this loop polls, to sleep on their wake-up descriptors (see the header). */
  wake?: readonly WakeSource[];
  /** Longest sleep on wake-up descriptors, ms (default 100). */
  wakeMaxMs?: number;
  /**
   * Keep polling (yielding) through gaps the spin budget has learned (spin-budget.ts; default
   * true). False: `spin` polls and `yields` yields, then sleep (a loop that would rather pay
   * a wake-up than poll for replies).
   */
  hold?: boolean;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * How a polling loop idles: call `idle()` after a round that found no work and `busy()` after one
 * that did; it spins, then yields, then sleeps with a growing period (or on the RX queues'
 * wake-up descriptors), so an idle loop costs about no CPU. Mode `'poll'` never sleeps.
 */
export class IdlePolicy {
  /** `'sleep'` or `'poll'`. */
  readonly mode: IdleMode;
  private readonly spin: number;
  private readonly yields: number;
  private readonly maxSleepUs: number;
  private empty = 0;
  private sleepUs = 10;
  /** Busy rounds not yet handed to the lcore accountant. */
  private busyRounds = 0;
  /** performance.now() at the first empty round after work; the spin budget it is measured against. */
  private idleSince = 0;
  private readonly budget: SpinBudget | null;
  private wake: readonly WakeSource[] = [];
  private readonly wakeMaxMs: number;
  private readonly fds = new Int32Array(WAKE_MAX);
  private readonly events = new Int16Array(WAKE_MAX).fill(POLLIN);
  private readonly revents = new Int16Array(WAKE_MAX);
  private bells: FutexSet | undefined;
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
    this.budget = o.hold === false ? null : new SpinBudget();
    if (o.wake) this.watch(o.wake);
    lcoreClock.start();
  }

  /** Sleep on these RX queues' wake-up descriptors from now on (replaces the previous set). */
  watch(queues: readonly WakeSource[]): void {
    if (queues.length > WAKE_MAX) throw new RangeError(`IdlePolicy: at most ${WAKE_MAX} queues to sleep on, not ${queues.length}`);
    this.wake = queues.filter((q) => typeof q.intrArm === 'function');
    if (this.wake.length > 0) this.bells ??= new FutexSet();
  }

  /** After a round that moved something. */
  busy(): void {
    if (this.empty !== 0) { // work after a pause: learn its length (at full load: one compare)
      this.budget?.gap(performance.now() - this.idleSince);
      this.empty = 0;
      this.sleepUs = 10;
    }
    if (++this.busyRounds >= BUSY_SETTLE) {
      lcoreClock.busy(this.busyRounds);
      this.busyRounds = 0;
    }
  }

  /** After a round that found nothing: spin, yield or sleep (see the header); a sleep lasts at most `capMs` (a loop with a deadline of its own: a pacer). */
  idle(capMs = Infinity): void {
    this.handOver();
    lcoreClock.empty();
    if (this.mode === 'poll') return;
    const e = ++this.empty;
    if (e === 1) this.idleSince = performance.now();
    if (e <= this.spin) return;
    if (e <= this.spin + this.yields || (this.budget !== null && performance.now() - this.idleSince < this.budget.holdMs)) {
      schedYield();
      lcoreClock.waited();
      return;
    }
    this.sleeps++;
    if (this.wake.length === 0 || !this.sleepOnQueues(capMs)) Atomics.wait(sleepCell, 0, 0, Math.min(this.sleepUs / 1000, capMs));
    lcoreClock.waited();
    if (this.sleepUs < this.maxSleepUs) this.sleepUs = Math.min(this.maxSleepUs, this.sleepUs * 2);
  }

  /**
   * Sleep now for at most `capMs`, skipping the spin and yield stages, in either mode: for a
   * loop that knows its next work of its own is that far off (a pacer between batches), so
   * that only what the queues bring can come sooner. On the watched queues' wake-up sources
   * when it has them (their traffic ends the sleep at once), else a plain timed sleep. The
   * time counts as idle. One wake-up per nap, where idle() would poll and yield first.
   */
  nap(capMs: number): void {
    this.handOver();
    this.sleeps++;
    if (this.wake.length === 0 || !this.sleepOnQueues(capMs)) Atomics.wait(sleepCell, 0, 0, capMs);
    lcoreClock.waited();
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

  /** Arm, sleep (poll(2) or futex_waitv), disarm. @returns false when the caller must sleep its timed back-off instead. */
  private sleepOnQueues(capMs: number): boolean {
    const wake = this.wake;
    const fds = this.fds;
    const bells = this.bells!;
    bells.clear();
    let n = 0;
    let timed = false;
    let armed = 0;
    let pending = false;
    for (; armed < wake.length; ) {
      const r = wake[armed++]!.intrArm!(bells);
      if (r >= 0) fds[n++] = r;
      else if (r === INTR_PENDING) {
        pending = true;
        break;
      } else if (r !== INTR_DOWN && r !== INTR_BELL) timed = true;
    }
    let slept = true;
    if (pending) {
      /* no sleep */
    } else if (n > 0) {
      const ms = Math.min(timed || bells.size > 0 ? Math.ceil(this.sleepUs / 1000) : this.wakeMaxMs, Math.ceil(capMs));
      if (pollFds(fds, this.events, n, ms, this.revents) > 0) this.wakeups++;
    } else if (bells.size > 0) {
      if (bells.wait(Math.min(timed ? this.sleepUs / 1000 : this.wakeMaxMs, capMs)) !== WAKE_TIMEOUT) this.wakeups++;
    } else if (!timed) Atomics.wait(sleepCell, 0, 0, Math.min(this.wakeMaxMs, capMs)); // every queue is down
    else slept = false;
    for (let i = 0; i < armed; i++) wake[i]!.intrDisarm?.();
    return slept;
  }
}

/** Parse an `--idle=poll|sleep` value. */
export function parseIdleMode(v: string): IdleMode | undefined {
  return v === 'poll' || v === 'sleep' ? v : undefined;
}
