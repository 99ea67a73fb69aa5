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
 *   64   LEFT     i32 × PROC_MAX: per process slot, the   whoever reports its departure
 *                 pid whose departure was logged          (CAS: one report per process)
 *   64 + 4·PROC_MAX  records, CAP × EVR.BYTES
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
 * a record is valid when both equal the sequence number expected there. A writer killed half
 * way leaves SEQ 0 in its record: readers skip it, the next lap overwrites it. Two writers
 * share a record only if CAP events are written while one of them is inside its write.
 */
import { PROC_MAX } from './process-table.js';
import type { Region } from './region.js';

export const EVENT_LOG_CAP = 256;

export const EVL = { HEAD: 0, CAP: 4, REC: 8, LEFT: 64, RECORDS: 64 + 4 * PROC_MAX } as const;
export const EVR = { SEQ: 0, PID: 4, TIME: 8, PORT: 16, SLOT: 20, TYPE: 24, TYPE_MAX: 24, PROG: 48, PROG_MAX: 32, TEXT: 80, TEXT_MAX: 112, BYTES: 192 } as const;

/** Bytes of the log in the region's tables. */
export const EVENT_LOG_BYTES = EVL.RECORDS + EVENT_LOG_CAP * EVR.BYTES;

/** One event as the log keeps it. */
export interface InstanceEvent {
  /** Its place in the instance's history: 1, 2, 3... */
  seq: number;
  /** Date.now() when it was logged. */
  time: number;
  type: string;
  /** The process it is about, or that made it. */
  pid: number;
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

  constructor(private readonly r: Region, base: number) {
    this.base = r.checkSpan(base, EVENT_LOG_BYTES, 'event log');
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
    const r = this.r;
    const seq = (Atomics.add(r.u32, (this.base + EVL.HEAD) >>> 2, 1) + 1) >>> 0;
    const at = this.rec(seq);
    Atomics.store(r.u32, (at + EVR.SEQ) >>> 2, 0);
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

  /** The events after `afterSeq` still in the log, oldest first (at most `max`, the latest ones). */
  since(afterSeq: number, max = EVENT_LOG_CAP): InstanceEvent[] {
    const head = this.head();
    const from = Math.max(afterSeq + 1, head - Math.min(max, EVENT_LOG_CAP) + 1, 1);
    const out: InstanceEvent[] = [];
    for (let s = from; s <= head; s++) {
      const e = this.read(s);
      if (e) out.push(e);
    }
    return out;
  }

  /**
   * Claim the report of process `pid`'s departure from `slot`: true for exactly one caller
   * per (slot, pid) — whoever logs it; false when someone already did.
   */
  claimDeparture(slot: number, pid: number): boolean {
    if (!(slot >= 0 && slot < PROC_MAX)) return false;
    const i = (this.base + EVL.LEFT + 4 * slot) >>> 2;
    const cur = Atomics.load(this.r.i32, i);
    return cur !== pid && Atomics.compareExchange(this.r.i32, i, cur, pid) === cur;
  }
}

/** `s` cut to at most `max` UTF-8 bytes, on a character boundary. */
function fit(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let t = s;
  while (Buffer.byteLength(t) > max - 3) t = t.slice(0, -1);
  return t + '...';
}
