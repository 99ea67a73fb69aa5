/**
 * The ring's doorbell: how a consumer waiting for entries (or a producer waiting for room)
 * sleeps without burning a core, and how the other side wakes it (decision: idle costs
 * nothing). Two words per direction on the doorbell line (layout.ts):
 *
 *   NE_WAITERS / NE_BELL   "not empty": consumers asleep / bumped by producers
 *   NF_WAITERS / NF_BELL   "not full":  producers asleep / bumped by consumers (and repair)
 *
 * D1 (Dekker): after its tail store (R1, ring.ts) a producer reads NE_WAITERS with a plain
 * load — Atomics.store is an xchg on x64, a full barrier, so the load cannot pass the tail
 * store — and rings only when someone sleeps: one plain load per burst when nobody waits.
 * A sleeper adds itself to NE_WAITERS (Atomics.add), reads the bell, re-checks the ring,
 * then futex-waits on the bell's old value: either the producer sees the waiter and rings,
 * or the sleeper's re-check sees the entries. Symmetric for NF_*.
 *
 * A waiter spins WAIT_SPINS polls, then sched_yields WAIT_YIELDS times (processes outnumber
 * cores here: the other side must get the CPU), then sleeps until the bell moves or its
 * deadline passes.
 */
import { futexWait, futexWake, schedYield } from '../native/libc.js';
import { RING, type RingMemory } from './layout.js';

/** Polls before a waiting consumer / producer starts yielding, then yields before sleeping. */
const WAIT_SPINS = 200;
const WAIT_YIELDS = 20;

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
export function waitForBurst(m: RingMemory, ring: Burst, objs: Uint32Array, n: number, timeoutMs: number, enq: boolean): number {
  const h = m.h;
  for (let i = 0; i < WAIT_SPINS; i++) {
    const r = enq ? ring.enqueueBurst(objs, n) : ring.dequeueBurst(objs, n);
    if (r !== 0) return r;
  }
  for (let i = 0; i < WAIT_YIELDS; i++) {
    schedYield();
    const r = enq ? ring.enqueueBurst(objs, n) : ring.dequeueBurst(objs, n);
    if (r !== 0) return r;
  }
  const waiters = (enq ? RING.NF_WAITERS : RING.NE_WAITERS) >>> 2;
  const bell = enq ? RING.NF_BELL : RING.NE_BELL;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    Atomics.add(h, waiters, 1);
    const seen = Atomics.load(h, bell >>> 2);
    let r = enq ? ring.enqueueBurst(objs, n) : ring.dequeueBurst(objs, n); // re-check after registering (D1)
    if (r === 0) {
      const left = deadline - performance.now();
      if (left > 0) futexWait(m.region.mapping, m.offset + bell, seen, left);
    }
    Atomics.sub(h, waiters, 1);
    if (r === 0) r = enq ? ring.enqueueBurst(objs, n) : ring.dequeueBurst(objs, n);
    if (r !== 0) return r;
    if (performance.now() >= deadline) return 0;
  }
}
