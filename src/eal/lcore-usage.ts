/**
 * How busy an lcore is: the time its poll loop spends in rounds that moved something
 * (busy) and in rounds that found nothing, with their spins, yields and sleeps (idle) —
 * DPDK's rte_lcore_usage (busy_cycles / total_cycles), in nanoseconds. 100 % CPU says
 * nothing about headroom; busy / (busy + idle) does.
 *
 * Every poll loop already tells its IdlePolicy (idle.ts) what each round found: `busy()`
 * after a round that moved packets, `idle()` after an empty one. The policy forwards that
 * to this thread's accountant, which adds the time into the lcore's words of the shared
 * lcore table (lcore-table.ts LC.BUSY_NS...), where proc-info, top, the Prometheus
 * endpoint and the telemetry socket read it.
 *
 * Cost: a clock read is ~55 ns here (performance.now()), too much for every busy round
 * (~1 µs at full load). So the clock is read
 *   - every BUSY_SETTLE busy rounds (at full load: one read per 64 rounds);
 *   - at the first empty round after busy ones, and every IDLE_SETTLE empty rounds (an
 *     empty round has nothing better to do);
 *   - after every yield and sleep (they cost far more than a read).
 * An interval between two reads that contains busy rounds also contains the empty rounds
 * counted since the last read (at most IDLE_SETTLE − 1, the spin before work came back,
 * plus the one that ended the busy run): they are counted idle at the measured cost of
 * an empty round (`emptyNs`, learnt from intervals of empty rounds only), the rest busy.
 * Busy rounds pay one counter increment and one compare (in the IdlePolicy's own object);
 * measured on symmetric_mp's forwarding loop: about 1 % of the CPU time per packet.
 *
 * Who writes what: one accountant per thread (module state is per thread in Node), bound
 * by the Eal to the lcore the thread runs as (`bindThreadLcore`); only that thread writes
 * that lcore's usage words (plain f64 adds on a line of its own). Unbound (an observer, a
 * closed Eal), it counts into a private array nobody reads.
 */

export const BUSY_SETTLE = 64;
const IDLE_SETTLE = 64;
/** An interval this long without a round (the loop stopped polling: a pause, a stop) is idle. */
const GAP_NS = 200e6;
/** An empty round never costs more than this; a longer "empty-only" interval held a pause. */
const EMPTY_MAX_NS = 20_000;

const NOWHERE = new Float64Array(4);

/** This thread's accountant (see the header). */
class LcoreClock {
  private f64: Float64Array = NOWHERE;
  private at = 0;
  /** performance.now() of the last read, in ns; 0 = not started. */
  private mark = 0;
  private busyRounds = 0;
  private emptyRounds = 0;
  /** Measured cost of an empty round (ns), an average over intervals of empty rounds only. */
  private emptyNs = 100;

  /** Count into `f64[at .. at + 4)` (busy ns, idle ns, busy rounds, idle rounds) from now on. */
  bind(f64: Float64Array, at: number): void {
    this.settleIfStarted();
    this.f64 = f64;
    this.at = at;
  }

  unbind(): void {
    this.bind(NOWHERE, 0);
  }

  /** The loop starts (or starts again): the time since the last read is not the loop's. */
  start(): void {
    if (this.mark === 0) this.mark = performance.now() * 1e6;
  }

  /**
   * `n` rounds moved something (the policy counts them in its own field, the cheapest
   * place on the busy path, and hands them over every BUSY_SETTLE rounds and before an
   * empty one).
   */
  busy(n: number): void {
    this.busyRounds += n;
    if (this.busyRounds >= BUSY_SETTLE) this.settle(performance.now() * 1e6);
  }

  /** A round found nothing (before any yield or sleep the policy then does). */
  empty(): void {
    ++this.emptyRounds;
    if (this.busyRounds > 0 || this.emptyRounds >= IDLE_SETTLE) this.settle(performance.now() * 1e6);
  }

  /** The policy has just yielded or slept: all the time since the last read was idle. */
  waited(): void {
    const now = performance.now() * 1e6;
    if (this.busyRounds > 0) {
      this.settle(now); // cannot happen after empty(), which settles busy rounds; kept exact anyway
      return;
    }
    if (this.mark !== 0) this.add(0, now - this.mark, 0, this.emptyRounds);
    this.mark = now;
    this.emptyRounds = 0;
  }

  private settleIfStarted(): void {
    if (this.mark !== 0) this.settle(performance.now() * 1e6);
  }

  private settle(now: number): void {
    const d = this.mark === 0 ? 0 : now - this.mark;
    const b = this.busyRounds;
    const e = this.emptyRounds;
    if (d > GAP_NS) this.add(0, d, b, e);
    else if (b > 0) {
      let idle = e * this.emptyNs;
      if (idle > d) idle = d;
      this.add(d - idle, idle, b, e);
    } else {
      if (e >= IDLE_SETTLE && d < e * EMPTY_MAX_NS) this.emptyNs += (d / e - this.emptyNs) / 8;
      this.add(0, d, 0, e);
    }
    this.mark = now;
    this.busyRounds = 0;
    this.emptyRounds = 0;
  }

  private add(busyNs: number, idleNs: number, busyRounds: number, idleRounds: number): void {
    const f = this.f64;
    const i = this.at;
    f[i] += busyNs;
    f[i + 1] += idleNs;
    f[i + 2] += busyRounds;
    f[i + 3] += idleRounds;
  }
}

/** This thread's accountant: IdlePolicy reports every round to it. */
export const lcoreClock = new LcoreClock();

/**
 * This thread runs as the lcore whose usage words are `f64[at .. at + 4)` (the Eal calls
 * it when it claims or leases the lcore; `LcoreTable.usageIndex`), or as none (undefined).
 */
export function bindThreadLcore(f64: Float64Array | undefined, at = 0): void {
  if (f64) lcoreClock.bind(f64, at);
  else lcoreClock.unbind();
}
