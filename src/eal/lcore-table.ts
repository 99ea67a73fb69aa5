/**
 * The lcore table: lcore ids are unique across the whole instance. A process claims
 * each lcore it runs (and floating processes lease spare ids) by CAS on the owner word;
 * a second claimant is refused with the holder named; a dead holder's ids are reclaimed.
 * Each entry also holds how busy the lcore's poll loop is (lcore-usage.ts), for tools.
 *
 *   entry (LC), MAX_LCORE entries of one cache line each (the usage words are written
 *   all the time by the lcore's own thread: no two lcores share a line)
 *   0   OWNER      i32 pid, 0 = free       claimant (CAS 0 -> pid), or reclaimer (CAS dead -> new)
 *   4   SLOT       u32 process-table slot  owner, after the CAS
 *   8   START      f64 owner's start time  owner, after the CAS (0 until written: a reader
 *                                          then treats any live process with that pid as owner)
 *   16  BUSY_NS    f64 ┐ time in poll rounds that moved something / that found nothing or
 *   24  IDLE_NS    f64 │ slept, and how many rounds of each: ONLY the thread running as this
 *   32  BUSY_POLLS f64 │ lcore writes them (plain adds, a few per thousand rounds; lcore-usage.ts);
 *   40  IDLE_POLLS f64 ┘ the claimant zeroes them after its CAS, before that thread starts.
 *                        Each only grows while one owner holds the lcore; a reader sees the
 *                        old or the new value of each (aligned f64 stores), never a torn one.
 */
import { processAlive, processStartTime } from '../native/libc.js';
import { MpdkError } from './errors.js';
import { MAX_LCORE } from './options.js';
import type { Region } from './region.js';
import { HDR } from './region.js';

export const LC = { OWNER: 0, SLOT: 4, START: 8, BUSY_NS: 16, IDLE_NS: 24, BUSY_POLLS: 32, IDLE_POLLS: 40, BYTES: 64 } as const;
export const LCORE_TABLE_BYTES = MAX_LCORE * LC.BYTES;

/**
 * One claimed lcore of an instance (`eal.lcoreTable.list()`): its id, the pid and process-table slot of its owner, whether that owner lives, how busy it is.
 */
export interface LcoreInfo {
  /** The lcore id. */
  lcore: number;
  /** Pid of the process holding it. */
  pid: number;
  /** That process's slot in the process table. */
  slot: number;
  /** Whether that process lives. */
  alive: boolean;
  /** How busy its poll loop is, since its owner claimed it (zeros: no poll loop has run). */
  usage: LcoreUsage;
}

/**
 * An lcore's poll-loop time since its owner claimed it (DPDK's rte_lcore_usage, in
 * nanoseconds rather than TSC cycles): busy = rounds that moved something, idle = rounds
 * that found nothing, their spins, yields and sleeps.
 */
export interface LcoreUsage {
  /** Nanoseconds of poll rounds that found work. */
  busyNs: number;
  /** Nanoseconds of poll rounds that found none (sleeps included). */
  idleNs: number;
  /** Poll rounds that found work. */
  busyPolls: number;
  /** Poll rounds that found none. */
  idlePolls: number;
}

export class LcoreTable {
  private readonly base: number;

  constructor(private readonly r: Region) {
    this.base = r.checkSpan(r.u32At(HDR.LCORE_TABLE), LCORE_TABLE_BYTES, 'lcore table');
  }

  private off(lcore: number): number {
    return this.base + lcore * LC.BYTES;
  }

  ownerOf(lcore: number): number {
    return Atomics.load(this.r.i32, (this.off(lcore) + LC.OWNER) >>> 2);
  }

  private ownerAlive(lcore: number, pid: number): boolean {
    return processAlive(pid, this.r.f64[(this.off(lcore) + LC.START) >>> 3]!);
  }

  /**
   * Claim `lcore` for the calling process (registered in `slot`). Returns false when a
   * live process holds it; a dead holder's claim is taken over.
   */
  tryClaim(lcore: number, slot: number): boolean {
    const { r } = this;
    const off = this.off(lcore);
    const idx = (off + LC.OWNER) >>> 2;
    for (;;) {
      const cur = Atomics.load(r.i32, idx);
      if (cur === process.pid) return true;
      if (cur !== 0 && this.ownerAlive(lcore, cur)) return false;
      if (Atomics.compareExchange(r.i32, idx, cur, process.pid) !== cur) continue;
      r.u32[(off + LC.SLOT) >>> 2] = slot;
      r.f64[(off + LC.START) >>> 3] = processStartTime(process.pid);
      r.f64.fill(0, (off + LC.BUSY_NS) >>> 3, (off + LC.IDLE_POLLS + 8) >>> 3);
      return true;
    }
  }

  /** Claim all of `lcores` or none; EBUSY names the holder of the first taken one. */
  claimAll(lcores: readonly number[], slot: number, describe: (pid: number) => string): void {
    const got: number[] = [];
    for (const l of lcores) {
      if (this.tryClaim(l, slot)) {
        got.push(l);
        continue;
      }
      for (const g of got) this.release(g);
      const holder = this.ownerOf(l);
      throw new MpdkError('EBUSY', `lcore ${l} is already in use by pid ${holder}${describe(holder)}; choose other lcores with -l`);
    }
  }

  /** Lease any free id from `candidates` (floating processes). Returns -1 when none is free. */
  lease(candidates: readonly number[], slot: number): number {
    for (const l of candidates) if (this.tryClaim(l, slot)) return l;
    return -1;
  }

  release(lcore: number, pid = process.pid): boolean {
    return Atomics.compareExchange(this.r.i32, (this.off(lcore) + LC.OWNER) >>> 2, pid, 0) === pid;
  }

  /** Release every lcore held by `pid` (a dead process, or ourselves at exit). Returns them. */
  releaseAllOf(pid: number): number[] {
    const out: number[] = [];
    for (let l = 0; l < MAX_LCORE; l++) if (this.ownerOf(l) === pid && this.release(l, pid)) out.push(l);
    return out;
  }

  heldBy(pid: number): number[] {
    const out: number[] = [];
    for (let l = 0; l < MAX_LCORE; l++) if (this.ownerOf(l) === pid) out.push(l);
    return out;
  }

  list(): LcoreInfo[] {
    const out: LcoreInfo[] = [];
    for (let l = 0; l < MAX_LCORE; l++) {
      const pid = this.ownerOf(l);
      if (pid !== 0) out.push({ lcore: l, pid, slot: this.r.u32At(this.off(l) + LC.SLOT), alive: this.ownerAlive(l, pid), usage: this.usage(l) });
    }
    return out;
  }

  /** Lcore `lcore`'s poll-loop time (momentary values, any process). */
  usage(lcore: number): LcoreUsage {
    const i = (this.off(lcore) + LC.BUSY_NS) >>> 3;
    const f64 = this.r.f64;
    return { busyNs: f64[i]!, idleNs: f64[i + 1]!, busyPolls: f64[i + 2]!, idlePolls: f64[i + 3]! };
  }

  /** f64 index of lcore `lcore`'s usage words, for the thread that runs as it (lcore-usage.ts). */
  usageIndex(lcore: number): number {
    return (this.off(lcore) + LC.BUSY_NS) >>> 3;
  }
}
