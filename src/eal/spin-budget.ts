/**
 * The spin budget: how long a waiter keeps polling after its last work before it sleeps,
 * learned from the gaps between its bursts of work. Used by IdlePolicy (idle.ts) and by a
 * ring's doorbell waits (ring/doorbell.ts), one object per waiting loop (not shared).
 *
 *   gaps seen                         budget (hold)          why
 *   none yet, or the last > MAX_HOLD  MIN_HOLD_MS            a reply to what we just sent comes
 *                                                            within the other side's wake-up
 *   a wait ran out with nothing       0 (sleep at once)      no work since: nothing to reply to,
 *   (gap(Infinity))                   until work comes       and a waiter woken by its timeout
 *                                                            (every 100 ms in an idle program)
 *                                                            must not poll each time
 *   the last ≤ MAX_HOLD_MS            1.5 × their average,   periodic traffic is waited for
 *                                     MIN .. MAX_HOLD_MS     awake: taken within µs, not after
 *                                                            the kernel's wake-up of a sleeper
 *
 * A sleeper costs ~0 CPU but is woken only after the kernel's wake-up time (on a VM whose
 * idle vCPUs halt, ~30 µs to reach an idle vCPU, ms behind a busy one); a poller takes work
 * within a microsecond but burns its core (the waiters yield it to anyone runnable). So
 * traffic that comes at least every MAX_HOLD_MS is polled for, which costs at most a core
 * while it lasts, and a silence longer than that puts the waiter to sleep at once: a program
 * that receives nothing uses no CPU. One long gap resets the average (the next short gaps
 * rebuild it), so the budget follows a change of rate within a burst or two.
 */

/** Polling after the last work, ms, whatever the traffic (a reply's round trip). */
export const MIN_HOLD_MS = 0.1;
/** Longest polling after the last work, ms: traffic with longer gaps is slept for. */
export const MAX_HOLD_MS = 5;

export class SpinBudget {
  /** Current budget, ms. */
  holdMs = MIN_HOLD_MS;
  /** Average of the recent gaps ≤ MAX_HOLD_MS (Infinity after a longer one). */
  private avgMs = Infinity;

  /** A gap of `ms` between two bursts of work just ended: adapt the budget. Infinity: a wait ran out with no work at all (the next one sleeps at once). */
  gap(ms: number): void {
    if (ms > MAX_HOLD_MS) {
      this.avgMs = Infinity;
      this.holdMs = ms === Infinity ? 0 : MIN_HOLD_MS;
      return;
    }
    const avg = this.avgMs === Infinity ? ms : 0.75 * this.avgMs + 0.25 * ms;
    this.avgMs = avg;
    const h = 1.5 * avg;
    this.holdMs = h < MIN_HOLD_MS ? MIN_HOLD_MS : h > MAX_HOLD_MS ? MAX_HOLD_MS : h;
  }
}
