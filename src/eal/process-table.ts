/**
 * The process table: every process of an instance registers here, so any process can
 * tell a live peer from a dead one (pid reuse included) and reclaim what a dead one held.
 *
 *   slot (PROC), PROC_MAX slots          written by
 *   0   PID     i32  0 = free             the registering process (CAS 0 -> pid) or a
 *                                         sweeper (CAS deadpid -> 0)
 *   4   TYPE    u32  ProcKind             owner, after the CAS
 *   8   START   f64  clock ticks          owner, after the CAS (0 until written: a reader
 *                                         then treats any live process with that pid as it)
 *   16  JOINED  f64  Date.now()
 *   24  PARENT  i32  parent pid
 *   28  STATE   u32  ProcState            owner; RUNNING stored last
 *   32  NAME    32 bytes: program and role, e.g. "l2fwd_fork:slave"
 */
import { Liveness, livenessName, processAlive, processLiveness, processStartTime } from '../native/libc.js';
import { MpdkError } from './errors.js';
import type { Region } from './region.js';
import { HDR } from './region.js';

export const PROC = { PID: 0, TYPE: 4, START: 8, JOINED: 16, PARENT: 24, STATE: 28, NAME: 32, NAME_MAX: 32, BYTES: 64 } as const;
export const PROC_MAX = 64;
export const PROC_TABLE_BYTES = PROC_MAX * PROC.BYTES;

export const enum ProcKind {
  PRIMARY = 1,
  SECONDARY = 2,
}

export const enum ProcState {
  ATTACHING = 1,
  RUNNING = 2,
  EXITING = 3,
}

/**
 * One process of an instance (`eal.processes.list()`): its slot, pid, type, start and join times, parent, name, whether it lives.
 */
export interface ProcessInfo {
  /** Its slot in the process table. */
  slot: number;
  /** Its pid. */
  pid: number;
  /** Whether it created the instance or joined it. */
  type: 'primary' | 'secondary';
  /** Its start time (clock ticks since boot), what tells it from a later process with its pid. */
  start: number;
  /** When it joined (`Date.now()`). */
  joined: number;
  /** Pid of its parent process. */
  parent: number;
  /** Its program's name (`simple_mp`, or what `Eal.init`'s `name` gave). */
  name: string;
  /** Not known to be dead (alive, or could not tell: never treated as dead). */
  alive: boolean;
  /** What is known: alive, dead (no such process, or another start time) or unknown. */
  liveness: 'alive' | 'dead' | 'unknown';
}

export class ProcessTable {
  private readonly base: number;

  constructor(private readonly r: Region) {
    this.base = r.checkSpan(r.u32At(HDR.PROC_TABLE), PROC_TABLE_BYTES, 'process table');
  }

  slotOffset(slot: number): number {
    return this.base + slot * PROC.BYTES;
  }

  pidOf(slot: number): number {
    return Atomics.load(this.r.i32, (this.slotOffset(slot) + PROC.PID) >>> 2);
  }

  startOf(slot: number): number {
    return this.r.f64[(this.slotOffset(slot) + PROC.START) >>> 3]!;
  }

  /** Is the process registered in `slot` alive? (false for a free slot) */
  slotAlive(slot: number): boolean {
    const pid = this.pidOf(slot);
    return pid > 0 && processAlive(pid, this.startOf(slot));
  }

  /** Register the calling process; returns its slot. ENOSPC when the table is full of live processes. */
  register(kind: ProcKind, name: string): number {
    const { r } = this;
    const pid = process.pid;
    const start = processStartTime(pid);
    for (let pass = 0; pass < 2; pass++) {
      for (let slot = 0; slot < PROC_MAX; slot++) {
        const off = this.slotOffset(slot);
        const cur = Atomics.load(r.i32, (off + PROC.PID) >>> 2);
        if (cur !== 0) {
          // Pass 2 reclaims slots of dead processes (lcores are swept by their own table),
          // and a reservation (-pid) whose process no longer exists at all.
          if (pass === 0 || cur === pid || cur === -pid) continue;
          if (cur > 0 ? this.slotAlive(slot) : processLiveness(-cur, 0) !== Liveness.DEAD) continue;
          if (Atomics.compareExchange(r.i32, (off + PROC.PID) >>> 2, cur, 0) !== cur) continue;
        }
        // Reserved as -pid while START and the rest are written, published as pid last: a
        // reader never pairs our pid with the previous occupant's START (which would make a
        // live process look dead). Readers take pid <= 0 as no process.
        if (Atomics.compareExchange(r.i32, (off + PROC.PID) >>> 2, 0, -pid) !== 0) continue;
        r.storeRelease(off + PROC.STATE, ProcState.ATTACHING);
        r.u32[(off + PROC.TYPE) >>> 2] = kind;
        r.f64[(off + PROC.START) >>> 3] = start;
        r.f64[(off + PROC.JOINED) >>> 3] = Date.now();
        r.i32[(off + PROC.PARENT) >>> 2] = process.ppid;
        r.writeString(off + PROC.NAME, PROC.NAME_MAX - 1, name.slice(0, PROC.NAME_MAX - 1));
        Atomics.store(r.i32, (off + PROC.PID) >>> 2, pid);
        r.storeRelease(off + PROC.STATE, ProcState.RUNNING);
        return slot;
      }
    }
    throw new MpdkError('ENOSPC', `the process table is full: ${PROC_MAX} live processes are attached to this instance`);
  }

  setType(slot: number, kind: ProcKind): void {
    this.r.u32[(this.slotOffset(slot) + PROC.TYPE) >>> 2] = kind;
  }

  setName(slot: number, name: string): void {
    this.r.writeString(this.slotOffset(slot) + PROC.NAME, PROC.NAME_MAX - 1, name.slice(0, PROC.NAME_MAX - 1));
  }

  /** Free our own slot (or a dead process's, when `pid` is given). */
  unregister(slot: number, pid = process.pid): boolean {
    const off = this.slotOffset(slot);
    this.r.storeRelease(off + PROC.STATE, ProcState.EXITING);
    return Atomics.compareExchange(this.r.i32, (off + PROC.PID) >>> 2, pid, 0) === pid;
  }

  list(): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    const { r } = this;
    for (let slot = 0; slot < PROC_MAX; slot++) {
      const off = this.slotOffset(slot);
      const pid = this.pidOf(slot);
      if (pid <= 0) continue; // free, or being registered (-pid)
      const liveness = processLiveness(pid, this.startOf(slot));
      out.push({
        slot,
        pid,
        type: r.u32At(off + PROC.TYPE) === ProcKind.PRIMARY ? 'primary' : 'secondary',
        start: this.startOf(slot),
        joined: r.f64[(off + PROC.JOINED) >>> 3]!,
        parent: r.i32[(off + PROC.PARENT) >>> 2]!,
        name: r.readString(off + PROC.NAME, PROC.NAME_MAX),
        alive: liveness !== Liveness.DEAD,
        liveness: livenessName(liveness),
      });
    }
    return out;
  }

  /**
   * The processes registered now, as the table says (slot, pid, start time), without asking
   * the kernel whether they live (no /proc read: cheap enough for a timer; `list()` says who
   * lives). A slot being registered (its pid not yet published) is left out.
   */
  registered(): { slot: number; pid: number; start: number }[] {
    const out: { slot: number; pid: number; start: number }[] = [];
    for (let slot = 0; slot < PROC_MAX; slot++) {
      const pid = this.pidOf(slot);
      if (pid > 0) out.push({ slot, pid, start: this.startOf(slot) });
    }
    return out;
  }

  /** Pids of live registered processes other than `exceptPid`. */
  livePids(exceptPid = process.pid): number[] {
    return this.list().filter((p) => p.alive && p.pid !== exceptPid).map((p) => p.pid);
  }

  /** The program name registered in `slot` ("" for a free slot). */
  nameOf(slot: number): string {
    return this.r.readString(this.slotOffset(slot) + PROC.NAME, PROC.NAME_MAX);
  }

  /** Is `slot` the primary's? */
  isPrimarySlot(slot: number): boolean {
    return this.r.u32At(this.slotOffset(slot) + PROC.TYPE) === ProcKind.PRIMARY;
  }

  slotOfPid(pid: number): number {
    for (let slot = 0; slot < PROC_MAX; slot++) if (this.pidOf(slot) === pid) return slot;
    return -1;
  }
}
