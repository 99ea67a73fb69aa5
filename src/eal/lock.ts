/**
 * A robust spinlock in shared memory: the lock word holds the holder's pid, so a lock
 * whose holder died is taken over instead of waited on for ever.
 *
 *   word (i32, own cache line)   0 = free, else pid of the holder
 *   word + 4 (u32)               takeovers: how often a dead holder's lock was taken
 *
 * Ordering: acquire is a compareExchange (sequentially consistent, so it is also an
 * acquire barrier); release is an Atomics.store (release). Everything the holder wrote
 * before release is visible to the next holder.
 *
 * If the holder dies half-way through its critical section, the data it guards may be
 * half-updated. `acquire` returns TAKEN_OVER in that case so the caller can repair (each
 * structure guarded by a lock documents what a half-done update looks like).
 *
 * Waiting is bounded: spin, then yield, and after `checkAfterMs` check whether the
 * holder is alive; give up with ETIMEDOUT after `timeoutMs`, naming the holder.
 */
import { processStartTime, processState, schedYield, START_GONE } from '../native/libc.js';
import { MpdkError } from './errors.js';
import { TEST_HOOK, hookStop } from './test-hook.js';

export const LOCK_BYTES = 64;
const TAKEOVERS = 4;

/** `RobustLock.acquire` result: the lock was free (or released normally) and is now held. */
export const ACQUIRED = 1;
/**
 * `RobustLock.acquire` result: the lock is now held, taken over from a holder that died holding it;
 * the data it guards may be half-written and is the caller's to check or repair.
 */
export const TAKEN_OVER = 2;

export interface LockWaitOptions {
  timeoutMs?: number;
  checkAfterMs?: number;
  /** Used in messages: what the lock guards. */
  what?: string;
}

/** Test hook (MPDK_TEST_HOOK=hold-lock:<what>): stop while holding a lock so a test can kill us there. */
const HOOK = TEST_HOOK;

/**
 * A spinlock in shared memory whose word holds its holder's pid, so a lock whose holder died is
 * taken over (`TAKEN_OVER`) instead of waited on for ever. Waits are bounded (ETIMEDOUT naming
 * the holder).
 */
export class RobustLock {
  private readonly i32: Int32Array;
  private readonly idx: number;
  private readonly pid: number;

  /** `i32` views the region; `byteOffset` is the lock word's offset (4-aligned). */
  constructor(i32: Int32Array, byteOffset: number, pid = process.pid) {
    this.i32 = i32;
    this.idx = byteOffset >>> 2;
    this.pid = pid;
  }

  /** The pid holding the lock now, 0 when free (a snapshot). */
  holder(): number {
    return Atomics.load(this.i32, this.idx);
  }

  /** How many times a dead holder's lock was taken over. */
  takeovers(): number {
    return Atomics.load(this.i32, this.idx + (TAKEOVERS >>> 2));
  }

  /** Returns ACQUIRED, or TAKEN_OVER when the previous holder died holding it. */
  acquire(opts: LockWaitOptions = {}): number {
    const { i32, idx, pid } = this;
    if (Atomics.compareExchange(i32, idx, 0, pid) === 0) return ACQUIRED;
    const timeoutMs = opts.timeoutMs ?? 5000;
    const checkAfterMs = opts.checkAfterMs ?? 2;
    const start = performance.now();
    let nextCheck = start + checkAfterMs;
    for (let spins = 0; ; spins++) {
      const cur = Atomics.load(i32, idx);
      if (cur === 0) {
        if (Atomics.compareExchange(i32, idx, 0, pid) === 0) return ACQUIRED;
        continue;
      }
      if (cur === pid) {
        throw new MpdkError('EBUSY', `lock on ${opts.what ?? 'shared state'} is already held by this process (${pid}): a re-entrant acquire is a bug`);
      }
      if (spins < 64) continue;
      schedYield();
      const now = performance.now();
      if (now >= nextCheck) {
        nextCheck = now + checkAfterMs;
        // Only "no such process" is a death; "could not tell" (EMFILE...) waits on.
        if (processStartTime(cur) === START_GONE) {
          // The holder is dead: take the lock over from exactly that holder.
          if (Atomics.compareExchange(i32, idx, cur, pid) === cur) {
            Atomics.add(i32, idx + (TAKEOVERS >>> 2), 1);
            return TAKEN_OVER;
          }
          continue;
        }
        if (now - start >= timeoutMs) {
          throw new MpdkError('ETIMEDOUT', `timed out after ${timeoutMs} ms waiting for the lock on ${opts.what ?? 'shared state'} held by pid ${cur} (${processState(cur)})`);
        }
      }
    }
  }

  /** Release the lock (the caller must hold it): what it wrote before is visible to the next holder. */
  release(): void {
    if (HOOK.startsWith('hold-lock')) hookStop(HOOK);
    Atomics.store(this.i32, this.idx, 0);
  }

  /** Run `fn` under the lock; `fn` gets whether the previous holder died mid-way. */
  with<T>(fn: (takenOver: boolean) => T, opts?: LockWaitOptions): T {
    const r = this.acquire(opts);
    try {
      return fn(r === TAKEN_OVER);
    } finally {
      this.release();
    }
  }
}


