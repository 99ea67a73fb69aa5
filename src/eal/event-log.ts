/**
 * The instance's event log: the last EVENT_LOG_CAP events (a process joined or left, a port
 * added or removed, a link up or down, an owner changed...), in the EAL's tables of the
 * region, so that any process — a read-only observer such as `mpdk top` included — reads
 * what happened without being told. Delivery to callbacks is events.ts's (the message
 * channel); this file is the bytes.
 *
 *   header (EVL), one line                               written by
 *   0    HEAD     u32  the last sequence number taken     any writer: Atomics.add
 *   4    CAP      u32  records (EVENT_LOG_CAP)            the primary, at initialisation
 *   8    REC      u32  bytes per record (EVR.BYTES)       the primary, at initialisation
 *   64   LEFT     i64 × PROC_MAX: per process slot, the   whoever reports its departure
 *                 process whose departure was logged:     (CAS: one report per process)
 *                 pid << 32 | start time (clock ticks, low 32 bits), as the process table
 *                 tells processes apart: a later process with the same pid in the same slot
 *                 is another process, and its departure is logged too
 *   64 + 8·PROC_MAX  records, CAP × EVR.BYTES
 *
 *   record (EVR)
 *   0    SEQ   u32  0 while being written; the event's sequence number, stored last (release)
 *   4    PID   i32  the process the event is about (or that made it)
 *   8    TIME  f64  Date.now()
 *   16   PORT  i32  the port, −1 for none
 *   20   SLOT  i32  the process's slot, −1 for none
 *   24   TYPE  24 bytes ASCII, NUL-terminated ("port-added")
 *   48   PROG  32 bytes, the process's program name
 *   80   TEXT  112 bytes UTF-8, what happened in words
 *
 * Writing: take seq = HEAD + 1 (Atomics.add), store SEQ 0 in record (seq − 1) mod CAP, write
 * the fields, store SEQ = seq (release). Reading: load SEQ (acquire), copy, load SEQ again:
 * a record is valid when both equal the sequence number expected there. A record claimed and
 * not published yet (SEQ 0, or the previous lap's) is not passed: a reader stops there and
 * resumes from it at its next read, so an event is never lost to the one written after it.
 * A writer stopped or killed half way would stop every reader for good: a reader passes its
 * record when it has waited PENDING_MS for it (or when a later lap took the record). Two
 * writers share a record only if CAP events are written while one of them is inside its write.
 */
import { PROC_MAX } from './process-table.js';
import type { Region } from './region.js';

export const EVENT_LOG_CAP = 256;

export const EVL = { HEAD: 0, CAP: 4, REC: 8, LEFT: 64, RECORDS: 64 + 8 * PROC_MAX } as const;
export const EVR = { SEQ: 0, PID: 4, TIME: 8, PORT: 16, SLOT: 20, TYPE: 24, TYPE_MAX: 24, PROG: 48, PROG_MAX: 32, TEXT: 80, TEXT_MAX: 112, BYTES: 192 } as const;

/** How long a reader waits for a record being written before it passes it (its writer stopped or died half way: a write takes microseconds). */
export const PENDING_MS = 1000;

/** Bytes of the log in the region's tables. */
export const EVENT_LOG_BYTES = EVL.RECORDS + EVENT_LOG_CAP * EVR.BYTES;

/** One event as the log keeps it. */
export interface InstanceEvent {
  /** Its place in the instance's history: 1, 2, 3... */
  seq: number;
  /** Date.now() when it was logged. */
  time: number;
  /** What kind of event: an EventType ('process-joined', 'port-added', ...) or a program's own. */
  type: string;
  /** The process it is about, or that made it. */
  pid: number;
  /** That process's program name, as the process table had it. */
  program: string;
  /** The port it is about (absent for process events). */
  port?: number;
  /** What happened, in words. */
  text: string;
}

/** Format a new log at `base` (the primary, at initialisation). */
export function formatEventLog(r: Region, base: number): void {
  r.u8.fill(0, base, base + EVENT_LOG_BYTES);
  r.u32[(base + EVL.CAP) >>> 2] = EVENT_LOG_CAP;
  r.u32[(base + EVL.REC) >>> 2] = EVR.BYTES;
}

/** The log at `base` of region `r` (checked once against this code's layout). */
export class EventLog {
  private readonly base: number;
  /** LEFT, one 64-bit word per slot. */
  private readonly left: BigInt64Array;
  /** Records being written that this process's readers stopped at: seq → when first seen (Date.now()). */
  private readonly pending = new Map<number, number>();

  constructor(private readonly r: Region, base: number) {
    this.base = r.checkSpan(base, EVENT_LOG_BYTES, 'event log');
    this.left = new BigInt64Array(r.buffer, base + EVL.LEFT, PROC_MAX);
  }

  private rec(seq: number): number {
    return this.base + EVL.RECORDS + ((seq - 1) % EVENT_LOG_CAP) * EVR.BYTES;
  }

  /** The last sequence number taken (0: nothing logged yet). */
  head(): number {
    return this.r.loadAcquire(this.base + EVL.HEAD) >>> 0;
  }

  /** Log an event; returns it with its sequence number. */
  append(e: Omit<InstanceEvent, 'seq' | 'time'> & { slot?: number }): InstanceEvent {
    return this.publish(this.claim(), e);
  }

  /** @internal The first half of append: take a sequence number and mark its record as being written. */
  claim(): number {
    const seq = (Atomics.add(this.r.u32, (this.base + EVL.HEAD) >>> 2, 1) + 1) >>> 0;
    Atomics.store(this.r.u32, (this.rec(seq) + EVR.SEQ) >>> 2, 0);
    return seq;
  }

  /** @internal The second half of append: write the claimed record `seq` and publish it. */
  publish(seq: number, e: Omit<InstanceEvent, 'seq' | 'time'> & { slot?: number }): InstanceEvent {
    const r = this.r;
    const at = this.rec(seq);
    const time = Date.now();
    r.i32[(at + EVR.PID) >>> 2] = e.pid;
    r.f64[(at + EVR.TIME) >>> 3] = time;
    r.i32[(at + EVR.PORT) >>> 2] = e.port ?? -1;
    r.i32[(at + EVR.SLOT) >>> 2] = e.slot ?? -1;
    r.writeString(at + EVR.TYPE, EVR.TYPE_MAX - 1, e.type.slice(0, EVR.TYPE_MAX - 1));
    r.writeString(at + EVR.PROG, EVR.PROG_MAX - 1, e.program.slice(0, EVR.PROG_MAX - 1));
    r.writeString(at + EVR.TEXT, EVR.TEXT_MAX - 1, fit(e.text, EVR.TEXT_MAX - 1));
    Atomics.store(r.u32, (at + EVR.SEQ) >>> 2, seq); // release: the fields above are visible to whoever sees seq
    return { seq, time, type: e.type, pid: e.pid, program: e.program, ...(e.port !== undefined && e.port >= 0 ? { port: e.port } : {}), text: fit(e.text, EVR.TEXT_MAX - 1) };
  }

  /** Event `seq`, or undefined when it is being written, was overwritten, or never was. */
  read(seq: number): InstanceEvent | undefined {
    const r = this.r;
    const at = this.rec(seq);
    if ((Atomics.load(r.u32, (at + EVR.SEQ) >>> 2) >>> 0) !== seq) return undefined;
    const port = r.i32[(at + EVR.PORT) >>> 2]!;
    const e: InstanceEvent = {
      seq, time: r.f64[(at + EVR.TIME) >>> 3]!, type: r.readString(at + EVR.TYPE, EVR.TYPE_MAX), pid: r.i32[(at + EVR.PID) >>> 2]!,
      program: r.readString(at + EVR.PROG, EVR.PROG_MAX), ...(port >= 0 ? { port } : {}), text: r.readString(at + EVR.TEXT, EVR.TEXT_MAX),
    };
    return (Atomics.load(r.u32, (at + EVR.SEQ) >>> 2) >>> 0) === seq ? e : undefined;
  }

  /**
   * The events after `afterSeq` still in the log, oldest first (at most `max`, the latest
   * ones). It ends before a record still being written (the caller, following the log from
   * the last event it got, reads it at its next call), unless that record has been waited
   * for PENDING_MS already.
   */
  since(afterSeq: number, max = EVENT_LOG_CAP): InstanceEvent[] {
    const head = this.head();
    const from = Math.max(afterSeq + 1, head - Math.min(max, EVENT_LOG_CAP) + 1, 1);
    const out: InstanceEvent[] = [];
    for (let s = from; s <= head; s++) {
      const e = this.read(s);
      if (e) out.push(e);
      else if (this.beingWritten(s) && !this.waitedFor(s)) break;
    }
    if (this.pending.size > 0) for (const s of this.pending.keys()) if (s <= head - EVENT_LOG_CAP || this.read(s)) this.pending.delete(s);
    return out;
  }

  /** Is record `seq` claimed and not published yet (rather than published, or taken by a later lap)? */
  private beingWritten(seq: number): boolean {
    const at = (Atomics.load(this.r.u32, (this.rec(seq) + EVR.SEQ) >>> 2) >>> 0);
    return at < seq && this.head() - seq < EVENT_LOG_CAP;
  }

  /** Has record `seq` been waited for PENDING_MS (since a reader of this process first stopped at it)? */
  private waitedFor(seq: number): boolean {
    const first = this.pending.get(seq);
    if (first === undefined) this.pending.set(seq, Date.now());
    return first !== undefined && Date.now() - first >= PENDING_MS;
  }

  /**
   * Claim the report of the departure of process `pid` (started at `start`, clock ticks, as
   * the process table has it) from `slot`: true for exactly one caller per (slot, process) —
   * whoever logs it; false when someone already did.
   */
  claimDeparture(slot: number, pid: number, start: number): boolean {
    if (!(slot >= 0 && slot < PROC_MAX)) return false;
    const who = (BigInt(pid >>> 0) << 32n) | BigInt(Math.trunc(start) >>> 0);
    const key = BigInt.asIntN(64, who);
    const cur = Atomics.load(this.left, slot);
    return cur !== key && Atomics.compareExchange(this.left, slot, cur, key) === cur;
  }
}

/** `s` cut to at most `max` UTF-8 bytes, on a character boundary. */
function fit(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let t = s;
  while (Buffer.byteLength(t) > max - 3) t = t.slice(0, -1);
  return t + '...';
}
