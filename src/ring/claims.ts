/**
 * Claim records and their repair: how an MP / MC ring survives a claimer killed at any
 * instruction (decision: crash-safety is part of each layout). Cost on the hot path: a few
 * plain stores per burst, in ring.ts.
 *
 * One 64-byte line per lcore id (MAX_LCORE lines, layout.ts) holds that lcore's producer
 * claim and consumer claim {FROM, TO, STATE, PID, START}. Claim protocol, per burst:
 *   1 record FROM = head we try, PID, START, STATE = CLAIMING      (before the CAS)
 *   2 CAS head: FROM -> FROM + n (fails: back to 1 with the new head)
 *   3 TO = FROM + n, STATE = CLAIMED
 *   4 (producer) copy slots, STATE = WRITTEN
 *   5 wait tail == FROM, store tail = TO, STATE = IDLE
 * A claimer killed at any point leaves the tail at its FROM (or beyond, if it published).
 *
 * `repairSide` (under the ring's robust REPAIR_LOCK) looks at the claim starting at the
 * tail when the tail is behind the head:
 *   - any record with FROM == tail whose owner (PID, START) lives → wait, do nothing;
 *   - a dead CLAIMED / WRITTEN record gives the range [tail, TO); a dead CLAIMING one (or
 *     none: the lcore's line was reused) gives [tail, next recorded FROM or head): every
 *     head value ever held is a claim boundary;
 *   - producer side: WRITTEN → publish as is; otherwise fill the range with EMPTY
 *     (0xFFFFFFFF), add its length to HOLES, publish. Consumers drop EMPTY handles from
 *     what they return, checking per handle only while HOLES != 0 (HOLES sits on the prod
 *     line, read right after the acquire load of the prod tail), and count them;
 *   - consumer side: the range's handles are intact (producers cannot pass the cons
 *     tail): they are returned as `reclaimed` and the cons tail is published.
 * Before it marks a dead record IDLE, repair writes REP_FROM / REP_HOW on its line, so a
 * burst snapshot (below) can tell how that burst ended whoever repaired it.
 *
 * Single-ended sides keep no records: a single producer / consumer killed between its head
 * and tail stores left head ≠ tail and never published that burst; `rollBackSingle` puts
 * the head back to the tail once its owner is known dead.
 */
import { RobustLock } from '../eal/lock.js';
import { MAX_LCORE } from '../eal/options.js';
import { processAlive } from '../native/libc.js';
import { ringBell } from './doorbell.js';
import { CLAIM_STATE, REPAIRED_FILLED, REPAIRED_PUBLISHED, REPAIRED_RELEASED, RING, RING_EMPTY, type RingMemory } from './layout.js';

const { IDLE, CLAIMING, CLAIMED, WRITTEN, ABANDONED } = CLAIM_STATE;
const STATE_NAMES = ['idle', 'claiming', 'claimed', 'written', 'abandoned'];

/** What `ring.repair()` did with dead producers' and consumers' claims. */
export interface RepairReport {
  /** Dead producer claims published (slots completely written). */
  published: number;
  /** Dead producer claims filled with EMPTY and published. */
  filled: number;
  /** Slots filled with EMPTY by this repair. */
  holes: number;
  /** Dead consumer claims released. */
  released: number;
  /** Handles of released consumer claims (and of earlier repairs done by waiters in this
   *  object), for the caller to free back to their pool. */
  reclaimed: number[];
  /** Pid of a live claimer the tail is waiting for, per side (0 = none). */
  waitingForProd: number;
  /** Pid of a live consumer claimer the tail is waiting for (0 = none). */
  waitingForCons: number;
}

export function emptyRepairReport(): RepairReport {
  return { published: 0, filled: 0, holes: 0, released: 0, reclaimed: [], waitingForProd: 0, waitingForCons: 0 };
}

/** A claim in flight (not IDLE), as tools and error messages show it. */
export interface ClaimInfo {
  /** Producer or consumer claim. */
  side: 'prod' | 'cons';
  /** The claiming lcore. */
  lcore: number;
  /** First index (free-running u32) of the claimed range. */
  from: number;
  /** Index just past the claimed range. */
  to: number;
  /** The claim's state (`claiming`, `claimed`, `written`, `abandoned`). */
  state: string;
  /** Pid of the claiming process. */
  pid: number;
  /** Whether that process lives. */
  alive: boolean;
}

/** Claims in flight, both sides (read-only). */
export function claimsInFlight(m: RingMemory): ClaimInfo[] {
  const h = m.h;
  const out: ClaimInfo[] = [];
  for (let l = 0; l < MAX_LCORE; l++) {
    for (const side of ['prod', 'cons'] as const) {
      const rec = m.claimLine(l, side === 'cons');
      const st = h[rec + (RING.C_STATE >>> 2)]!;
      if (st === IDLE) continue;
      const pid = h[rec + (RING.C_PID >>> 2)]!;
      out.push({
        side, lcore: l, from: h[rec + (RING.C_FROM >>> 2)]!, to: h[rec + (RING.C_TO >>> 2)]!,
        state: STATE_NAMES[st] ?? String(st), pid, alive: processAlive(pid, m.f64[(rec >>> 1) + (RING.C_START >>> 3)]!),
      });
    }
  }
  return out;
}

/** The claim of another process that starts at this side's tail (what a waiter waits for). */
export function claimAtTail(m: RingMemory, cons: boolean, selfPid: number): ClaimInfo | undefined {
  const tail = Atomics.load(m.h, (cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2);
  return claimsInFlight(m).find((c) => c.side === (cons ? 'cons' : 'prod') && c.from === tail && c.pid !== selfPid);
}

/**
 * Finish or undo the dead claims holding one side's tail back (file header), under the
 * ring's repair lock. A refusal of the lock (a live repairer holding it too long) throws
 * for a caller with a `report`; a waiter (`report` null) goes on waiting instead: it must
 * not throw in the middle of its own claim.
 */
export function repairSide(m: RingMemory, cons: boolean, reclaimed: number[], report: RepairReport | null, log: (msg: string) => void): void {
  const lock = new RobustLock(m.region.i32, m.offset + RING.REPAIR_LOCK);
  try {
    lock.acquire({ what: `the repair of ring '${m.name}'`, timeoutMs: 2000 });
  } catch (e) {
    if (report) throw e;
    return;
  }
  try {
    repairLocked(m, cons, reclaimed, report, log);
  } finally {
    lock.release();
  }
}

function repairLocked(m: RingMemory, cons: boolean, reclaimed: number[], report: RepairReport | null, log: (msg: string) => void): void {
  const h = m.h;
  const ti = (cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2;
  const hi = (cons ? RING.CONS_HEAD : RING.PROD_HEAD) >>> 2;
  for (let guard = 0; guard < 4 * MAX_LCORE; guard++) {
    const tail = Atomics.load(h, ti);
    const head = Atomics.load(h, hi);
    if (tail === head) return;
    const span = (head - tail) >>> 0;
    // Scan the records: which claim starts at the tail, and where the next one starts.
    let live = 0;
    let deadTo = -1;
    let deadWritten = false;
    let boundary = span;
    const deadAtTail: number[] = [];
    for (let l = 0; l < MAX_LCORE; l++) {
      const rec = m.claimLine(l, cons);
      const st = h[rec + (RING.C_STATE >>> 2)]!;
      if (st === IDLE) continue;
      const from = h[rec + (RING.C_FROM >>> 2)]!;
      const d = (from - tail) >>> 0;
      if (d > span) continue; // stale (behind the tail): not a claim in flight
      if (d > 0) {
        if (d < boundary) boundary = d;
        continue;
      }
      const pid = h[rec + (RING.C_PID >>> 2)]!;
      if (st !== ABANDONED && processAlive(pid, m.f64[(rec >>> 1) + (RING.C_START >>> 3)]!)) {
        live = pid;
        continue;
      }
      deadAtTail.push(rec);
      if (st === CLAIMED || st === WRITTEN || st === ABANDONED) {
        const to = h[rec + (RING.C_TO >>> 2)]!;
        const dt = (to - tail) >>> 0;
        if (dt > 0 && dt <= span) {
          deadTo = to;
          deadWritten = st !== CLAIMED; // an abandoned producer claim was written
        }
      }
    }
    if (Atomics.load(h, ti) !== tail) continue; // someone published meanwhile: look again
    if (live !== 0) {
      if (report) {
        if (cons) report.waitingForCons = live;
        else report.waitingForProd = live;
      }
      return;
    }
    const to = deadTo >= 0 ? deadTo : (tail + boundary) >>> 0;
    const n = (to - tail) >>> 0;
    if (cons) {
      // The dead consumer's handles are intact: hand them back, release the range.
      for (let i = 0; i < n; i++) {
        const v = m.slots[(tail + i) & m.mask]!;
        if (v !== RING_EMPTY) reclaimed.push(v);
      }
      Atomics.add(h, RING.RECLAIMED_TOTAL >>> 2, n);
      if (report) report.released++;
    } else if (deadTo >= 0 && deadWritten) {
      if (report) report.published++;
    } else {
      for (let i = 0; i < n; i++) m.slots[(tail + i) & m.mask] = RING_EMPTY;
      Atomics.add(h, RING.HOLES >>> 2, n); // before the tail store that publishes them
      if (report) {
        report.filled++;
        report.holes += n;
      }
    }
    const how = cons ? REPAIRED_RELEASED : deadTo >= 0 && deadWritten ? REPAIRED_PUBLISHED : REPAIRED_FILLED;
    for (const rec of deadAtTail) {
      h[rec + (RING.C_REP_FROM >>> 2)] = tail;
      h[rec + (RING.C_REP_HOW >>> 2)] = how;
      h[rec + (RING.C_STATE >>> 2)] = IDLE;
    }
    Atomics.add(h, RING.REPAIRS >>> 2, 1);
    Atomics.store(h, ti, to);
    log(`ring '${m.name}': repaired a dead ${cons ? 'consumer' : 'producer'}'s claim [${tail}, ${to})`);
    if (cons) {
      if (h[RING.NF_WAITERS >>> 2] !== 0) ringBell(m, RING.NF_BELL);
    } else if (h[RING.NE_WAITERS >>> 2] !== 0) ringBell(m, RING.NE_BELL);
  }
}

/**
 * A single producer (cons false) or consumer (cons true) whose owner is dead, killed
 * between its head and tail stores: its burst was never published, so the head goes back
 * to the tail. Returns whether there was such a burst. Only for a side whose single owner
 * is known dead (a live one may be between those two stores right now).
 */
export function rollBackSingle(m: RingMemory, cons: boolean): boolean {
  if (!m.single(cons)) return false;
  const hi = (cons ? RING.CONS_HEAD : RING.PROD_HEAD) >>> 2;
  const tail = Atomics.load(m.h, (cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2);
  if (m.h[hi] === tail) return false;
  Atomics.store(m.h, hi, tail);
  return true;
}

/**
 * Burst snapshots, for ownership records (ownership/hands.ts) and the mempool caches: a
 * burst by lcore `lc` on one side of the ring stores the word at `burstSnapIndex` (a u32
 * index into the region) before it starts; afterwards — its owner alive or dead —
 * `burstMoved` tells how many handles it moved through the ring:
 *   single-ended side   the tail (only that burst's owner moves it): tail − snapshot
 *   MP / MC side        the TO of the lcore's claim line: unchanged → 0 (no claim passed
 *                       its CAS); consumer CLAIMING / CLAIMED → 0 (repair releases the
 *                       range to its repairer), repaired RELEASED → 0; producer CLAIMING /
 *                       CLAIMED → 0 (repair fills EMPTY), repaired FILLED → 0; otherwise
 *                       TO − FROM (WRITTEN is published by repair)
 * A consumer's count includes the EMPTY holes the dequeue dropped (it compacts what it
 * returns): a reader of objs[0 .. moved) skips EMPTY and values seen twice.
 */
export function burstSnapIndex(m: RingMemory, lc: number, cons: boolean): number {
  const b = m.offset >>> 2;
  if (m.single(cons)) return b + ((cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2);
  return b + m.claimLine(lc, cons) + (RING.C_TO >>> 2);
}

export function burstMoved(m: RingMemory, lc: number, snap: number, cons: boolean): number {
  const h = m.h;
  if (m.single(cons)) return (Atomics.load(h, (cons ? RING.CONS_TAIL : RING.PROD_TAIL) >>> 2) - snap) >>> 0;
  const line = m.claimLine(lc, cons);
  const to = h[line + (RING.C_TO >>> 2)]!;
  if (to === snap) return 0;
  const st = h[line + (RING.C_STATE >>> 2)]!;
  const from = h[line + (RING.C_FROM >>> 2)]!;
  if (st === CLAIMING || st === CLAIMED) return 0;
  if (st === IDLE && h[line + (RING.C_REP_FROM >>> 2)] === from && h[line + (RING.C_REP_HOW >>> 2)] === (cons ? REPAIRED_RELEASED : REPAIRED_FILLED)) return 0;
  return (to - from) >>> 0;
}
