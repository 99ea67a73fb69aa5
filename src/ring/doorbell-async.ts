/**
 * Waiting for a doorbell without blocking the event loop (issue 17): the async twin of
 * doorbell.ts's `waitForBurst`, for `Ring.dequeueBurstAsync` and friends.
 *
 * The sleep is a futex, as for the sync waits (the producer's side is unchanged: it rings
 * only when NE_WAITERS / NF_WAITERS say someone sleeps, D1). What differs is who sleeps:
 * not the JS thread but one thread of libuv's pool, in ONE futex_waitv(2) call per JS thread
 * (`BellHub`) that covers every doorbell word this thread awaits, however many rings and
 * waiters: the pool has 4 threads, shared with fs, dns and crypto, so a process never holds
 * more than one of them per JS thread, whatever it awaits, and never without a timeout.
 *
 *   awaited        what the hub does
 *   a new word     interrupts the call in flight (a private futex word of its own, entry 0)
 *                  and re-issues it with the new set: ~ one wake-up
 *   a word moves   the call returns (woken, or EAGAIN when it moved before the kernel looked);
 *                  every waiter whose word moved is resolved, the call is re-issued for the rest
 *   a deadline     the call's timeout is the earliest waiter's deadline, at most MAX_BLOCK_MS
 *                  (OVERFLOW_BLOCK_MS while more than 127 words are awaited: the others are
 *                  looked at each time the call returns)
 *   an abort       the waiter is rejected at once and dropped from the next call
 *   process exit   the call in flight is interrupted ('exit' listener): Node joins the pool's
 *                  threads at exit and would otherwise wait for the timeout
 *
 * Idle cost: one pool thread asleep in the kernel; no JS runs until a word moves or the
 * MAX_BLOCK_MS re-arm (a few µs a second). Wake-up: the producer's futex wake reaches the
 * pool thread, whose completion reaches the event loop (uv_async): two thread wake-ups
 * where the sync wait has one (`npm run bench -- ring.async`).
 *
 * A kernel without futex_waitv (before Linux 5.16) gets a timed poll: the hub re-checks its
 * words every POLL_MS (no pool thread held; wake-up latency up to POLL_MS).
 */
import { FUTEX_WAITV_MAX, FutexWaitv, futexWaitvSupported, NativeError } from '../native/libc.js';
import { MpdkError } from '../eal/errors.js';
import { sleeperFence } from './doorbell.js';
import { RING, type RingMemory } from './layout.js';

/** Longest single futex_waitv call: a bound on every sleep, whatever the deadlines. */
const MAX_BLOCK_MS = 10_000;
/** ... while more words are awaited than one call takes (the rest are looked at when it returns). */
const OVERFLOW_BLOCK_MS = 10;
/** Re-check period without futex_waitv. */
const POLL_MS = 1;
const EAGAIN = 11;
const EINTR = 4;
const ETIMEDOUT = 110;

/** One awaited word: resolved with true when it no longer holds `expect`, false at its deadline. */
interface Entry {
  words: Uint32Array;
  idx: number;
  addr: number;
  expect: number;
  /** performance.now() ms; Infinity: none. */
  deadline: number;
  resolve: (moved: boolean) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The process-local multiplexer of async doorbell waits (one per JS thread: module state is per isolate). */
class BellHub {
  private readonly native: FutexWaitv | undefined = futexWaitvSupported() ? new FutexWaitv() : undefined;
  private entries: Entry[] = [];
  private inFlight = false;
  private poll: NodeJS.Timeout | undefined;
  private exitHooked = false;

  /**
   * Resolve with true once `words[idx]` (the word at address `addr`) no longer holds `expect`,
   * with false at `deadline` (performance.now() ms); reject with the signal's reason on abort.
   */
  wait(words: Uint32Array, idx: number, addr: number, expect: number, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const e: Entry = { words, idx, addr, expect, deadline, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        e.onAbort = (): void => {
          this.drop(e);
          reject(signal.reason);
        };
        signal.addEventListener('abort', e.onAbort, { once: true });
      }
      this.entries.push(e);
      if (!this.exitHooked) {
        this.exitHooked = true;
        process.on('exit', () => this.native?.interrupt());
      }
      if (this.inFlight) this.native!.interrupt(); // re-issue with the new word
      else this.arm();
    });
  }

  /** Pending waits (for tests and describe). */
  get pending(): number {
    return this.entries.length;
  }

  private drop(e: Entry): void {
    const i = this.entries.indexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
    if (this.entries.length === 0 && this.inFlight) this.native!.interrupt(); // free the pool thread now
  }

  private finish(e: Entry, moved: boolean): void {
    if (e.signal && e.onAbort) e.signal.removeEventListener('abort', e.onAbort);
    e.resolve(moved);
  }

  /** Resolve every entry whose word moved or whose deadline passed; keep the others. */
  private settle(): void {
    const now = performance.now();
    const keep: Entry[] = [];
    for (const e of this.entries) {
      if (Atomics.load(e.words, e.idx) !== e.expect) this.finish(e, true);
      else if (now >= e.deadline) this.finish(e, false);
      else keep.push(e);
    }
    this.entries = keep;
  }

  private arm(): void {
    this.settle();
    if (this.entries.length === 0) return;
    let earliest = Infinity;
    for (const e of this.entries) if (e.deadline < earliest) earliest = e.deadline;
    const cap = this.entries.length >= FUTEX_WAITV_MAX ? OVERFLOW_BLOCK_MS : MAX_BLOCK_MS;
    const ms = Math.max(0, Math.min(cap, earliest - performance.now()));
    if (!this.native) {
      this.poll ??= setTimeout(() => {
        this.poll = undefined;
        this.arm();
      }, Math.min(POLL_MS, ms));
      return;
    }
    // Entry 0 is the interrupt word; words beyond the kernel's limit are looked at when the
    // call returns (at the latest after OVERFLOW_BLOCK_MS).
    let n = 1;
    for (const e of this.entries) {
      if (n === FUTEX_WAITV_MAX) break;
      this.native.set(n++, e.addr, e.expect);
    }
    this.inFlight = true;
    this.native.waitAsync(n, process.hrtime.bigint() + BigInt(Math.ceil(ms * 1e6)), (r, errno) => {
      this.inFlight = false;
      if (r < 0 && errno !== EAGAIN && errno !== ETIMEDOUT && errno !== EINTR) {
        const err = new NativeError('futex_waitv', errno);
        const all = this.entries;
        this.entries = [];
        for (const e of all) {
          if (e.signal && e.onAbort) e.signal.removeEventListener('abort', e.onAbort);
          e.reject(err);
        }
        return;
      }
      this.arm();
    });
  }
}

let hub: BellHub | undefined;

/** This thread's hub (made at the first async wait). */
function bellHub(): BellHub {
  hub ??= new BellHub();
  return hub;
}

/** Async doorbell waits pending in this thread (for tests). */
export function pendingBellWaits(): number {
  return hub?.pending ?? 0;
}

/** How an async wait ends early: `signal` aborts it (rejects with its reason), `timeout` ms ends it with 0. */
export interface WaitOptions {
  /** Abort the wait: the promise rejects with `signal.reason` (an AbortError unless the caller gave one). */
  signal?: AbortSignal;
  /** Give up after this many milliseconds (a fraction is allowed): the promise resolves 0. Default: no limit. */
  timeout?: number;
}

/** What an async wait retries until it succeeds: a burst, or a look at the ring (WHEN_*: 1 or 0). */
export const DEQ_BURST = 0;
export const ENQ_BURST = 1;
export const ENQ_BULK = 2;
/** Entries to dequeue (the consumer side's bell). */
export const WHEN_ENTRIES = 3;
/** Room for n handles (the producer side's bell). */
export const WHEN_ROOM = 4;

/** The operations an async waiter retries (a Ring). */
export interface AsyncBurst {
  enqueueBulk(objs: Uint32Array, n: number): number;
  enqueueBurst(objs: Uint32Array, n: number): number;
  dequeueBurst(objs: Uint32Array, n: number): number;
  count(): number;
  freeCount(): number;
}

/** One try of `op`: how many moved (or, for WHEN_*, 1 when the condition holds). */
export function attempt(ring: AsyncBurst, op: number, objs: Uint32Array, n: number): number {
  switch (op) {
    case DEQ_BURST: return ring.dequeueBurst(objs, n);
    case ENQ_BURST: return ring.enqueueBurst(objs, n);
    case ENQ_BULK: return ring.enqueueBulk(objs, n);
    case WHEN_ENTRIES: return ring.count() > 0 ? 1 : 0;
    default: return ring.freeCount() >= n ? 1 : 0;
  }
}

/**
 * A timer for the waits of the layers above that have no doorbell (a pool's buffers, an RX
 * queue without a wake-up source): resolves after `ms`, or as soon as `orWhen` settles;
 * rejects with the signal's reason when it aborts first.
 */
export function sleepFor(ms: number, signal: AbortSignal | undefined, orWhen?: Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    orWhen?.then(() => {
      done();
      resolve();
    });
  });
}

/**
 * An async iteration over waits (ring.bursts, EthDev.rxBursts, a channel receiver's
 * messages) that `await using` can end: its Symbol.asyncDispose aborts the wait in
 * progress (a pending next() rejects with an AbortError) and finishes the generator.
 */
export type Waiter<T> = AsyncGenerator<T, void, undefined> & AsyncDisposable;

/**
 * `make(opts)`'s generator as a Waiter: `opts` carries the caller's timeout and a signal
 * that aborts on the caller's signal or on disposal.
 */
export function waiter<T>(opts: WaitOptions | undefined, make: (opts: WaitOptions) => AsyncGenerator<T, void, undefined>): Waiter<T> {
  const stop = new AbortController();
  const signal = opts?.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const g = make({ timeout: opts?.timeout, signal });
  return Object.assign(g, {
    async [Symbol.asyncDispose](): Promise<void> {
      stop.abort(new DOMException('the iteration was disposed', 'AbortError'));
      await g.return(undefined).catch(() => undefined);
    },
  });
}

/** The deadline (performance.now() ms) of `opts.timeout`; EINVAL for a bad one. */
export function deadlineOf(opts: WaitOptions | undefined): number {
  const t = opts?.timeout;
  if (t === undefined) return Infinity;
  if (typeof t !== 'number' || !(t >= 0)) throw new MpdkError('EINVAL', `invalid timeout ${String(t)}: milliseconds ≥ 0`);
  return performance.now() + t;
}

/**
 * Retry `op` on `ring` until it moves something (then its count), the deadline passes (0)
 * or `signal` aborts (rejects): the protocol of doorbell.ts (register in the waiter count,
 * fence, read the bell, re-check, sleep while the bell holds what was read; D1), with the sleep
 * in this thread's BellHub. The first try is the caller's.
 */
export async function waitBurstAsync(
  m: RingMemory, ring: AsyncBurst, op: number, objs: Uint32Array, n: number, deadline: number, signal: AbortSignal | undefined,
): Promise<number> {
  const h = m.h;
  const enq = op !== DEQ_BURST && op !== WHEN_ENTRIES;
  const waiters = (enq ? RING.NF_WAITERS : RING.NE_WAITERS) >>> 2;
  const bell = (enq ? RING.NF_BELL : RING.NE_BELL) >>> 2;
  const addr = m.region.mapping.addr + m.offset + bell * 4;
  const hubNow = bellHub();
  for (;;) {
    Atomics.add(h, waiters, 1);
    let r = 0;
    try {
      const most = sleeperFence();
      const seen = Atomics.load(h, bell);
      r = attempt(ring, op, objs, n);
      const until = most === Infinity ? deadline : Math.min(deadline, performance.now() + most);
      if (r === 0 && performance.now() < deadline) await hubNow.wait(h, bell, addr, seen, until, signal);
    } finally {
      Atomics.sub(h, waiters, 1);
    }
    if (r === 0) r = attempt(ring, op, objs, n);
    if (r !== 0) return r;
    if (performance.now() >= deadline) return 0;
  }
}
