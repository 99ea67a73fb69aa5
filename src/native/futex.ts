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
