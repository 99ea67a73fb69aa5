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
 */
import { schedYield } from '../native/libc.js';

export type IdleMode = 'poll' | 'sleep';

export interface IdleOptions {
  mode?: IdleMode;
  spin?: number;
  yields?: number;
  maxSleepUs?: number;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

export class IdlePolicy {
  readonly mode: IdleMode;
  private readonly spin: number;
  private readonly yields: number;
  private readonly maxSleepUs: number;
  private empty = 0;
  private sleepUs = 10;
  /** Rounds spent sleeping since the last work (for statistics). */
  sleeps = 0;

  constructor(o: IdleOptions = {}) {
    this.mode = o.mode ?? 'sleep';
    this.spin = o.spin ?? 64;
    this.yields = o.yields ?? 64;
    this.maxSleepUs = o.maxSleepUs ?? 1000;
  }

  busy(): void {
    this.empty = 0;
    this.sleepUs = 10;
  }

  idle(): void {
    if (this.mode === 'poll') return;
    const e = ++this.empty;
    if (e <= this.spin) return;
    if (e <= this.spin + this.yields) {
      schedYield();
      return;
    }
    this.sleeps++;
    Atomics.wait(sleepCell, 0, 0, this.sleepUs / 1000);
    if (this.sleepUs < this.maxSleepUs) this.sleepUs = Math.min(this.maxSleepUs, this.sleepUs * 2);
  }
}

/** Parse an `--idle=poll|sleep` value. */
export function parseIdleMode(v: string): IdleMode | undefined {
  return v === 'poll' || v === 'sleep' ? v : undefined;
}
