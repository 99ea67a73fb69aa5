/**
 * The ring's doorbell: how a consumer waiting for entries (or a producer waiting for room)
 * sleeps without burning a core, and how the other side wakes it (decision: idle costs
 * nothing). Two words per direction on the doorbell line (layout.ts):
 *
 *   NE_WAITERS / NE_BELL   "not empty": consumers asleep / bumped by producers
 *   NF_WAITERS / NF_BELL   "not full":  producers asleep / bumped by consumers (and repair)
 *
 * D1 (Dekker): after its tail store (R1, ring.ts) a producer reads NE_WAITERS with a plain
 * load and rings only when someone sleeps: one plain load per burst when nobody waits.
 * A sleeper adds itself to NE_WAITERS (Atomics.add), fences (sleeperFence), reads the bell,
 * re-checks the ring, then futex-waits on the bell's old value: either the producer sees
 * the waiter and rings, or the sleeper's re-check sees the entries. Symmetric for NF_*.
 * The store-then-load on the producer's side needs a full barrier between them: an
 * Atomics.store is one (xchg on x64), but on x64 producers and consumers publish with a
 * plain store (ring.ts PLAIN_TAILS: a fence per burst would stall them until their slot
 * lines are owned), so the sleeper makes every running thread of the instance's processes fence
 * instead (membarrier, native/membarrier.ts): the producer's tail store either drained
 * before that (the re-check sees it) or comes after its fence, and so does its waiter load
 * (it sees the sleeper). The compiler keeps the store before the load (one typed array,
 * the effect chain). A sleeper whose fence fails sleeps UNFENCED_SLEEP_MS at most.
 *
 * A waiter spins WAIT_SPINS polls, then polls with a sched_yield between polls (processes
 * outnumber cores here: the other side must get the CPU) until its spin budget is spent
 * (eal/spin-budget.ts: 0.1 ms, up to 5 ms when the waits end that soon), then sleeps until
 * the bell moves or its deadline passes. A consumer that sleeps on several queues at once (IdlePolicy) arms the
 * not-empty bell with armNotEmpty and sleeps in futex_waitv on every armed bell.
 */
import { INTR_BELL, INTR_NONE, INTR_PENDING, type FutexSet } from '../eal/idle.js';
import type { SpinBudget } from '../eal/spin-budget.js';
import { futexWait, futexWake, membarrierGlobal, membarrierSupported, schedYield } from '../native/libc.js';
import { RING, type RingMemory } from './layout.js';

/** Polls before a waiting consumer / producer starts yielding; it yields until its spin budget is spent, then sleeps. */
const WAIT_SPINS = 200;

/** Longest sleep of a waiter whose fence failed: a wake-up it may have missed is found this late. */
const UNFENCED_SLEEP_MS = 1;
/** Tails are published with plain stores (ring.ts PLAIN_TAILS) only on x64. */
const FENCE = process.arch === 'x64' && membarrierSupported();

/**
 * D1's fence on a sleeper's side: call it after adding to a waiter count, before reading
 * the bell and re-checking. Returns how long the caller may sleep at most, ms: Infinity,
 * or UNFENCED_SLEEP_MS when the barrier could not be made.
 */
export function sleeperFence(): number {
  if (!FENCE) return Infinity;
  return membarrierGlobal() ? Infinity : UNFENCED_SLEEP_MS;
}

/** Bump doorbell word `bell` (RING.NE_BELL / NF_BELL) and wake every process asleep on it. */
export function ringBell(m: RingMemory, bell: number): void {
  Atomics.add(m.h, bell >>> 2, 1);
  futexWake(m.region.mapping, m.offset + bell);
}

/** The burst a waiter retries: an enqueueBurst or a dequeueBurst of its ring. */
export interface Burst {
  enqueueBurst(objs: Uint32Array, n: number): number;
  dequeueBurst(objs: Uint32Array, n: number): number;
}

/**
 * Retry a burst that found nothing (enq: no room; else: no entries) until it moves
 * something or `timeoutMs` passes (then 0): spin, yield, then sleep on the doorbell (D1).
 */
export function waitForBurst(m: RingMemory, ring: Burst, objs: Uint32Array, n: number, timeoutMs: number, enq: boolean, budget: SpinBudget): number {
  const h = m.h;
  const t0 = performance.now();
  for (let i = 0; i < WAIT_SPINS; i++) {
    const r = enq ? ring.enqueueBurst(objs, n) : ring.dequeueBurst(objs, n);
    if (r !== 0) return waited(budget, t0, r);
  }
  const hold = budget.holdMs < timeoutMs ? budget.holdMs : timeoutMs;
  while (performance.now() - t0 < hold) {
    schedYield();
    const r = enq ? ring.enqueueBurst(objs, n) : ring.dequeueBurst(objs, n);
    if (r !== 0) return waited(budget, t0, r);
  }
  const waiters = (enq ? RING.NF_WAITERS : RING.NE_WAITERS) >>> 2;
  const bell = enq ? RING.NF_BELL : RING.NE_BELL;
  const deadline = t0 + timeoutMs;
  for (;;) {
    Atomics.add(h, waiters, 1);
    const most = sleeperFence();
    const seen = Atomics.load(h, bell >>> 2);
    let r = enq ? ring.enqueueBurst(objs, n) : ring.dequeueBurst(objs, n); // re-check after registering (D1)
    if (r === 0) {
      const left = deadline - performance.now();
      if (left > 0) futexWait(m.region.mapping, m.offset + bell, seen, left < most ? left : most);
    }
    Atomics.sub(h, waiters, 1);
    if (r === 0) r = enq ? ring.enqueueBurst(objs, n) : ring.dequeueBurst(objs, n);
    if (r !== 0) return waited(budget, t0, r);
    if (performance.now() >= deadline) {
      budget.gap(Infinity); // a silence as long as the timeout: sleep at once next time
      return 0;
    }
  }
}

/** A wait that began at t0 ended with r moved: teach the budget its length. */
function waited(budget: SpinBudget, t0: number, r: number): number {
  budget.gap(performance.now() - t0);
  return r;
}

/**
 * Arm the not-empty doorbell for a consumer that sleeps on several queues at once
 * (IdlePolicy, eal/idle.ts): register in NE_WAITERS, read the bell, re-check the ring (D1),
 * and add the bell's word to `bells`. INTR_PENDING when entries are there already, else
 * INTR_BELL (INTR_NONE when the fence failed: sleep the timed back-off). Either way the
 * registration stands until disarmNotEmpty.
 */
export function armNotEmpty(m: RingMemory, bells: FutexSet): number {
  const h = m.h;
  Atomics.add(h, RING.NE_WAITERS >>> 2, 1);
  // A failed fence: no wake-up source this round (the loop's timed back-off, not the bell).
  if (sleeperFence() !== Infinity) return INTR_NONE;
  const seen = Atomics.load(h, RING.NE_BELL >>> 2);
  if (Atomics.load(h, RING.PROD_TAIL >>> 2) !== Atomics.load(h, RING.CONS_HEAD >>> 2)) return INTR_PENDING;
  bells.add(m.region.mapping, m.offset + RING.NE_BELL, seen);
  return INTR_BELL;
}

/** Undo armNotEmpty's registration. */
export function disarmNotEmpty(m: RingMemory): void {
  Atomics.sub(m.h, RING.NE_WAITERS >>> 2, 1);
}
