/**
 * Cross-process sleep and wake-up on a 32-bit word of a shared mapping (futex(2), shared:
 * never the _PRIVATE ops, which match only within one process). Idle paths only: these
 * return raw results and allocate nothing on the common path.
 */
import { koffi, libc, NativeError } from './ffi.js';
import type { Mapping } from './memory.js';

const Timespec = koffi.struct('mpdk_timespec', { tv_sec: 'int64_t', tv_nsec: 'int64_t' });
void Timespec;

const SYS_futex = process.arch === 'arm64' ? 98 : 202;
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

const futex = libc.func('long syscall(long nr, intptr_t uaddr, int op, int val, const mpdk_timespec *ts, void *uaddr2, int val3)');

const tsScratch = { tv_sec: 0, tv_nsec: 0 };

/** Result of `futexWait`. */
export const WAKE_OK = 0;
export const WAKE_CHANGED = 1; // the word no longer held `expect` (EAGAIN)
export const WAKE_TIMEOUT = 2;
export const WAKE_INTR = 3;

/**
 * Sleep while the 32-bit word at `byteOffset` of mapping `m` holds `expect`, at most
 * `timeoutMs` (a fraction is allowed). Shared futex: works across processes.
 * Returns WAKE_OK, WAKE_CHANGED, WAKE_TIMEOUT or WAKE_INTR.
 */
export function futexWait(m: Mapping, byteOffset: number, expect: number, timeoutMs: number): number {
  const sec = Math.floor(timeoutMs / 1000);
  tsScratch.tv_sec = sec;
  tsScratch.tv_nsec = Math.floor((timeoutMs - sec * 1000) * 1e6);
  const r = Number(futex(SYS_futex, m.addr + byteOffset, FUTEX_WAIT, expect | 0, tsScratch, null, 0));
  if (r === 0) return WAKE_OK;
  const e = koffi.errno();
  if (e === 11) return WAKE_CHANGED;
  if (e === 110) return WAKE_TIMEOUT;
  if (e === 4) return WAKE_INTR;
  throw new NativeError('futex(WAIT)', e);
}

/** Wake up to `n` sleepers on the word at `byteOffset`. Returns how many woke. */
export function futexWake(m: Mapping, byteOffset: number, n = 0x7fffffff): number {
  const r = Number(futex(SYS_futex, m.addr + byteOffset, FUTEX_WAKE, n, null, null, 0));
  if (r < 0) throw new NativeError('futex(WAKE)', koffi.errno());
  return r;
}

// --- futex_waitv: one thread asleep on many words (Linux ≥ 5.16) ----------------------------

const SYS_futex_waitv = 449; // the same number on x86-64 and arm64 (the unified syscall table)
const FUTEX_32 = 2;
const FUTEX_PRIVATE_FLAG = 128;
const CLOCK_MONOTONIC = 1;
/** Most words one futex_waitv call sleeps on (the kernel's FUTEX_WAITV_MAX). */
export const FUTEX_WAITV_MAX = 128;
/** struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 reserved; } */
const WAITER_BYTES = 24;

const waitvCall = libc.func('long syscall(long nr, intptr_t waiters, unsigned int n, unsigned int flags, intptr_t timeout, int clockid)');
const wakePrivate = libc.func('long syscall(long nr, intptr_t uaddr, int op, int val, intptr_t ts, intptr_t uaddr2, int val3)');

let waitvSupport: boolean | undefined;

/**
 * Whether this kernel has futex_waitv (a call with no waiters: EINVAL if it does, ENOSYS if
 * not). MPDK_TEST_HOOK=no-futex-waitv says no, so that tests run the fallback.
 */
export function futexWaitvSupported(): boolean {
  if (waitvSupport === undefined) {
    const r = Number(waitvCall(SYS_futex_waitv, 0, 0, 0, 0, 0));
    waitvSupport = !(r < 0 && koffi.errno() === 38) && process.env.MPDK_TEST_HOOK !== 'no-futex-waitv';
  }
  return waitvSupport;
}

/**
 * The native memory of futex_waitv calls made from one thread: FUTEX_WAITV_MAX waiter
 * entries, the absolute timeout, and an `interrupt` word of this process's own memory (a
 * private futex) that `interrupt()` bumps and wakes, so that a call in flight returns
 * (EAGAIN or woken) when the caller wants to change what it waits for, or to exit.
 *
 * The memory is koffi's (never moved or freed): the thread that runs an async call reads
 * it while the JS thread goes on. The caller fills the entries only while no call of this
 * object is in flight; entry 0 is the interrupt word.
 */
export class FutexWaitv {
  private readonly mem: unknown;
  private readonly base: number;
  private readonly dv: DataView;
  private readonly word: Int32Array;
  /** Region of waiter i: base + i * 24; the timeout at TS; the interrupt word at WORD. */
  private static readonly TS = FUTEX_WAITV_MAX * WAITER_BYTES;
  private static readonly WORD = FutexWaitv.TS + 16;

  constructor() {
    const bytes = FutexWaitv.WORD + 8;
    this.mem = koffi.alloc('uint8_t', bytes);
    this.base = Number(koffi.address(this.mem));
    const ab = koffi.view(this.mem, bytes) as ArrayBuffer;
    this.dv = new DataView(ab);
    this.word = new Int32Array(ab, FutexWaitv.WORD, 1);
  }

  /** Make a call in flight return soon (it finds the interrupt word changed, or is woken). */
  interrupt(): void {
    Atomics.add(this.word, 0, 1);
    wakePrivate(SYS_futex, this.base + FutexWaitv.WORD, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, 0, 0, 0);
  }

  /** Entry i (1 ≤ i < FUTEX_WAITV_MAX): sleep while the shared 32-bit word at `addr` holds `expect`. */
  set(i: number, addr: number, expect: number): void {
    const o = i * WAITER_BYTES;
    this.dv.setBigUint64(o, BigInt(expect >>> 0), true);
    this.dv.setBigUint64(o + 8, BigInt(addr), true);
    this.dv.setUint32(o + 16, FUTEX_32, true);
    this.dv.setUint32(o + 20, 0, true);
  }

  /**
   * Sleep (on the libuv threadpool) until one of entries 1..n-1 changes or is woken, the
   * interrupt word moves, or `deadlineNs` (CLOCK_MONOTONIC, as process.hrtime.bigint())
   * passes; then `done(result, errno)` on this thread: result ≥ 0 the index woken, or -1 with
   * errno EAGAIN (a word had already changed), ETIMEDOUT, EINTR. One call at a time.
   */
  waitAsync(n: number, deadlineNs: bigint, done: (result: number, errno: number) => void): void {
    this.prepare(deadlineNs);
    (waitvCall as unknown as { async: (...a: unknown[]) => void }).async(
      SYS_futex_waitv, this.base, n, 0, this.base + FutexWaitv.TS, CLOCK_MONOTONIC,
      (err: unknown, r: unknown) => done(err ? -1 : Number(r), err ? 5 /* EIO */ : Number(r) < 0 ? koffi.errno() : 0),
    );
  }

  /** waitAsync's sleep on this thread (it blocks): the index woken (≥ 0), or -1 and `koffi.errno()` as waitAsync's. */
  waitSync(n: number, deadlineNs: bigint): number {
    this.prepare(deadlineNs);
    return Number(waitvCall(SYS_futex_waitv, this.base, n, 0, this.base + FutexWaitv.TS, CLOCK_MONOTONIC));
  }

  /** Entry 0 (the interrupt word, as it is now) and the absolute timeout. */
  private prepare(deadlineNs: bigint): void {
    const w = this.word;
    this.dv.setBigUint64(0, BigInt(Atomics.load(w, 0) >>> 0), true);
    this.dv.setBigUint64(8, BigInt(this.base + FutexWaitv.WORD), true);
    this.dv.setUint32(16, FUTEX_32 | FUTEX_PRIVATE_FLAG, true);
    this.dv.setUint32(20, 0, true);
    this.dv.setBigInt64(FutexWaitv.TS, deadlineNs / 1_000_000_000n, true);
    this.dv.setBigInt64(FutexWaitv.TS + 8, deadlineNs % 1_000_000_000n, true);
  }
}

/**
 * Shared futex words that one loop sleeps on together, synchronously (IdlePolicy sleeping
 * on several rings' doorbells): whichever is woken (futexWake) or no longer holds the value
 * it was added with ends the sleep. Made once per loop; clear, add and wait allocate nothing
 * but wait's BigInt deadline. Without futex_waitv (Linux < 5.16): the first word only, and
 * a sleep of at most FALLBACK_MS (the others are looked at that often).
 */
export class FutexSet {
  /** Words at most. */
  readonly capacity = FUTEX_WAITV_MAX - 1;
  /** Words added since the last clear. */
  size = 0;
  private readonly waitv = new FutexWaitv();
  private firstMap: Mapping | null = null;
  private firstOff = 0;
  private firstExpect = 0;
  private static readonly FALLBACK_MS = 1;

  /** Forget every word added (before adding this round's). */
  clear(): void {
    this.size = 0;
  }

  /** Sleep while the shared word at `byteOffset` of `m` holds `expect` (RangeError past capacity). */
  add(m: Mapping, byteOffset: number, expect: number): void {
    if (this.size >= this.capacity) throw new RangeError(`FutexSet: more than ${this.capacity} words`);
    if (this.size === 0) {
      this.firstMap = m;
      this.firstOff = byteOffset;
      this.firstExpect = expect;
    }
    this.waitv.set(++this.size, m.addr + byteOffset, expect);
  }

  /**
   * Sleep until a word of the set is woken or found changed, at most `timeoutMs`: WAKE_OK,
   * WAKE_CHANGED, WAKE_TIMEOUT or WAKE_INTR. An empty set just sleeps.
   */
  wait(timeoutMs: number): number {
    if (this.size === 0) {
      Atomics.wait(sleepCell, 0, 0, timeoutMs);
      return WAKE_TIMEOUT;
    }
    if (!futexWaitvSupported()) {
      const ms = this.size === 1 ? timeoutMs : Math.min(timeoutMs, FutexSet.FALLBACK_MS);
      return futexWait(this.firstMap!, this.firstOff, this.firstExpect, ms);
    }
    const r = this.waitv.waitSync(this.size + 1, process.hrtime.bigint() + BigInt(Math.max(0, Math.round(timeoutMs * 1e6))));
    if (r >= 0) return WAKE_OK;
    const e = koffi.errno();
    if (e === 11) return WAKE_CHANGED;
    if (e === 110) return WAKE_TIMEOUT;
    if (e === 4) return WAKE_INTR;
    throw new NativeError('futex_waitv', e);
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
