/**
 * Shared counts: every change of an mbuf's REFCNT that is or becomes more than 1 (a free of a
 * shared segment, Mbufs.refcntUpdate, a reclaimer's drop of a dead holder's references) is made
 * under ONE robust lock per instance, journaled, so that a death at any instruction of it leaves
 * a count a reader can tell changed or not: while the lock is held nobody else changes a count,
 * so comparing the count with the journal's before and after is exact. A count of 1 (a lone
 * owner: taken from a pool, freed straight back) is never changed here: the fast path takes no
 * lock and stores nothing more.
 *
 *   who         what
 *   changer     acquire; journal WORD, VALUE, BEFORE, AFTER, then H (the entry is valid);
 *               the count = AFTER; [WORD] = VALUE (a record's note that the change was made);
 *               H = 0; release
 *   recovery    the acquire that takes the lock over from a dead holder (RobustLock TAKEN_OVER):
 *               with H ≠ 0 the count is BEFORE (not made: nothing to do) or AFTER (made: it
 *               stores [WORD] = VALUE, as the dead would have); H = 0
 *   reader      (read-only, the audit) pendingWord: a dead holder's made change whose WORD is
 *               not yet stored: read as stored
 *
 * One lock per instance rather than per pool: the mempool header keeps its layout, a free of
 * a chain whose segments come from several pools takes one lock, and shared counts are the
 * rare path (each change holds it for a few stores; a reclaimer holds it while it reads the
 * dead's records and drops their references: a living holder's shared free waits that long).
 *
 * Layout (memzone "mpdk_refcnt", 128 bytes, VERSION 1):
 *   0   LOCK     RobustLock word: the holder's THREAD id (gettid; an lcore worker thread shares
 *                its process's pid), +4 takeovers; its own cache line
 *   64  H        u32 handle of the segment whose count is changing, 0 = none (stored last)
 *   68  BEFORE   u32 its count before
 *   72  AFTER    u32 its count after
 *   76  WORD     u32 region byte offset of a u32 word to store once the change is made, 0 = none
 *   80  VALUE    u32 what to store there
 *   84  VERSION  u32
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { RobustLock, TAKEN_OVER } from '../eal/lock.js';
import { gettid, processOfThread, processStartTime, processState, START_GONE } from '../native/libc.js';
import { TEST_HOOK, hookStop } from '../eal/test-hook.js';
// mbuf.ts imports this module too: MBUF is read only inside functions, after both have loaded.
import { MBUF } from './mbuf.js';

export const SHARED_COUNTS_MZ = 'mpdk_refcnt';
export const SHARED_COUNTS_VERSION = 1;
const J = { H: 64, BEFORE: 68, AFTER: 72, WORD: 76, VALUE: 80, VERSION: 84, BYTES: 128 } as const;

/** Test hooks (MPDK_TEST_HOOK=refcnt:<up|down>:<entry|changed|word>): stop inside a change of a shared count. */
const HOOK = TEST_HOOK.startsWith('refcnt:') ? TEST_HOOK : '';

/** The instance's shared-count lock and journal, for one thread (Mbufs makes it at its first shared change). */
export class SharedCounts {
  private readonly lock: RobustLock;
  private readonly u32: Uint32Array;
  private readonly u16: Uint16Array;
  /** u32 index of the journal's H. */
  private readonly j: number;

  private constructor(eal: Eal, offset: number) {
    this.lock = new RobustLock(eal.region.i32, offset, gettid()); // the thread: an lcore worker shares its process's pid
    this.u32 = eal.region.u32;
    this.u16 = new Uint16Array(eal.region.buffer);
    this.j = (offset + J.H) >>> 2;
  }

  /** Attach the instance's (reserve it at its first use: zeroed, no entry). */
  static attach(eal: Eal): SharedCounts {
    let mz = eal.memzones.tryLookup(SHARED_COUNTS_MZ);
    if (!mz) {
      try {
        mz = eal.memzones.reserve(SHARED_COUNTS_MZ, J.BYTES, 64);
        eal.region.u32[(mz.offset + J.VERSION) >>> 2] = SHARED_COUNTS_VERSION;
      } catch (e) {
        if (!(e instanceof MpdkError && e.code === 'EEXIST')) throw e;
        mz = eal.memzones.lookup(SHARED_COUNTS_MZ);
      }
    }
    return new SharedCounts(eal, mz.offset);
  }

  /**
   * Hold the lock; a dead holder's half-made change is settled first (recovery). Bounded by
   * `timeoutMs`: ETIMEDOUT naming the holding thread and its process, and what to do; nothing
   * changed.
   */
  acquire(timeoutMs = 10000): void {
    let r: number;
    try {
      r = this.lock.acquire({ what: 'the shared mbuf counts', timeoutMs });
    } catch (e) {
      if (!(e instanceof MpdkError && e.code === 'ETIMEDOUT')) throw e;
      throw new MpdkError('ETIMEDOUT', holderStuck(this.lock.holder(), timeoutMs));
    }
    if (r === TAKEN_OVER) this.recover();
  }

  release(): void {
    this.lock.release();
  }

  /** The count of `h` (the lock held: nobody else changes it). */
  count(h: number): number {
    return this.u16[(h + MBUF.REFCNT) >>> 1]!;
  }

  /**
   * Change the count of `h` from `before` (what it is now) to `after`, journaled; then store
   * `value` at region byte offset `word` (0: none). The caller holds the lock.
   */
  change(h: number, before: number, after: number, word = 0, value = 0): void {
    const u32 = this.u32;
    const j = this.j;
    u32[j + 3] = word;
    u32[j + 4] = value;
    u32[j + 1] = before;
    u32[j + 2] = after;
    Atomics.store(u32, j, h); // the entry (seq-cst: after its fields)
    if (HOOK !== '') this.hook(after > before, 'entry');
    Atomics.store(this.u16, (h + MBUF.REFCNT) >>> 1, after);
    if (HOOK !== '') this.hook(after > before, 'changed');
    if (word !== 0) u32[word >>> 2] = value;
    if (HOOK !== '') this.hook(after > before, 'word');
    Atomics.store(u32, j, 0);
  }

  private hook(up: boolean, where: string): void {
    if (HOOK === `refcnt:${up ? 'up' : 'down'}:${where}`) hookStop(HOOK);
  }

  /** A dead holder's entry: its change made (count = AFTER) gets its WORD stored; not made (BEFORE), nothing. */
  private recover(): void {
    const u32 = this.u32;
    const j = this.j;
    const h = Atomics.load(u32, j);
    if (h === 0) return;
    if (this.count(h) === u32[j + 2] && u32[j + 3] !== 0) u32[u32[j + 3]! >>> 2] = u32[j + 4]!;
    Atomics.store(u32, j, 0);
  }
}

/**
 * For a reader that takes no lock (the audit, or heldHandles before a reclaim): the word a dead
 * holder's made change did not store yet (its entry names it, the count is AFTER), as
 * { word: u32 index, value }, or undefined. A live holder's entry is not read (it is settling).
 */
export function pendingWord(eal: Eal): { word: number; value: number } | undefined {
  const mz = eal.memzones.tryLookup(SHARED_COUNTS_MZ);
  if (!mz) return undefined;
  const r = eal.region;
  const j = (mz.offset + J.H) >>> 2;
  const h = Atomics.load(r.u32, j);
  const word = r.u32[j + 3]!;
  if (h === 0 || word === 0) return undefined;
  const holder = Atomics.load(r.i32, mz.offset >>> 2);
  if (holder === 0 || processStartTime(holder) !== START_GONE) return undefined;
  if (new Uint16Array(r.buffer)[(h + MBUF.REFCNT) >>> 1] !== r.u32[j + 2]) return undefined;
  return { word: word >>> 2, value: r.u32[j + 4]! };
}

/** The lock word holds a THREAD id (gettid): the message names it, its process, and the way out. */
function holderStuck(tid: number, timeoutMs: number): string {
  if (tid === 0) return `timed out after ${timeoutMs} ms waiting for the lock on the shared mbuf counts (released just now); nothing was changed here: retry`;
  const pid = processOfThread(tid);
  const who = pid > 0 ? `thread ${tid} of process ${pid} (${processState(tid)})` : `thread ${tid} (${processState(tid)})`;
  const proc = pid > 0 ? pid : tid;
  return `timed out after ${timeoutMs} ms waiting for the lock on the shared mbuf counts, held by ${who}: that thread is inside a change of a shared mbuf count and has not finished it; nothing was changed here. If it is stopped, continue it (kill -CONT ${proc}); if it hangs, end process ${proc} (the next holder settles its half-made change, reclaimDead returns what it held); then retry`;
}
