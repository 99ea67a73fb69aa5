/**
 * Events every process of an instance sees (`eal.events`): a process joined or left (left:
 * closed its EAL, or died — seen through its pidfd), a port was added or removed, a link
 * went up or down, a port's owner changed. Each is written once to the instance's event log
 * (event-log.ts, in the region: observers such as `mpdk top` read it), then every process is
 * told through the message channel (mp.ts): the message is a doorbell, and each process
 * reads the log from the last event it delivered, so its callbacks get every event once, in
 * the log's order — those of other processes, their worker threads and its own alike.
 *
 *   who does what
 *   any process       eal.events.on(type, fn) / off; recent(n) (observers too)
 *   the one concerned publish(type, ...): log + doorbell to all + its own callbacks
 *   every process     watches every peer's pidfd (deathwatch.ts); at a death it removes the
 *                     peer's stale socket (mp-socket.ts), and the first to claim the report
 *                     (EventLog.claimDeparture, a CAS per process slot) logs "process-left"
 *                     and rings: one event per death, whoever sees it first
 *   a joining process publishes "process-joined"; the others start watching it then (and
 *                     every SCAN_MS they watch whoever the process table names that they do not)
 *   a closing process publishes its own "process-left" before its channel closes
 *
 * Callbacks run on the event loop (never inside the call that published: a link event
 * raised under the ports lock reaches callbacks after it is released). A worker thread's
 * Eal logs its events (a link coming up in an lcore) without ringing; the others deliver
 * them at the next doorbell or within RESCAN_MS.
 */
import { processLiveness, Liveness } from '../native/libc.js';
import { watchDeath } from './deathwatch.js';
import { MpdkError } from './errors.js';
import { EventLog, type InstanceEvent } from './event-log.js';
import type { MpIpc } from './mp.js';
import { identityKey, thisProcess } from './identity.js';
import { PROC_MAX, type ProcessTable } from './process-table.js';

export type { InstanceEvent } from './event-log.js';

/** The events mpdk itself publishes. */
export type EventType = 'process-joined' | 'process-left' | 'port-added' | 'port-removed' | 'link-up' | 'link-down' | 'owner-changed';

/** A callback of `eal.events.on`. */
export type EventListener = (e: InstanceEvent) => void;

const DOORBELL = 'mpdk:event';
/** How often the process table is looked at for peers not watched yet (one killed before its join was heard). */
const SCAN_MS = 500;
/** With callbacks registered, the log is looked at this often even without a doorbell (worker threads' events). */
const RESCAN_MS = 1000;

/** What the events need from their EAL. */
export interface EventsHost {
  processes: ProcessTable;
  /** This process's slot, whose departure it reports (−1: an observer or a worker thread). */
  slot: number;
  /** The program name events of this thread carry. */
  program(): string;
  /** Read-only mapping: nothing can be published. */
  readOnly: boolean;
  log(level: 'debug' | 'info' | 'warning' | 'error', msg: string): void;
}

/** The instance's events as this process sees them (`eal.events`). */
export class InstanceEvents {
  private readonly listeners = new Map<string, Set<EventListener>>();
  /**
   * The peers watched, by identityKey (pid and start time): a dead process's record that
   * names a pid a later process has taken is a process of its own, not one already watched.
   */
  private readonly watching = new Map<string, () => void>();
  /** This process's start time: a record with our pid and another start is a predecessor's. */
  private readonly myStart = thisProcess().start;
  private mp: MpIpc | undefined;
  private removeStale: ((pid: number) => void) | undefined;
  /** The last event delivered to this process's callbacks. */
  private delivered: number;
  private draining = false;
  private rescan: NodeJS.Timeout | undefined;
  private scan: NodeJS.Timeout | undefined;
  /** Per slot, the process (pid and start time) whose death this process has handled (it is not watched again). */
  private readonly settled = new Int32Array(PROC_MAX);
  private readonly settledStart = new Float64Array(PROC_MAX);
  private closed = false;

  /** @internal Made by the EAL (`eal.events`). */
  constructor(private readonly log: EventLog, private readonly host: EventsHost) {
    this.delivered = log.head();
  }

  /**
   * Join: ring through `mp` from now on, watch every live peer, and publish this process's
   * "process-joined". `removeStale(pid)` removes a dead peer's socket.
   */
  start(mp: MpIpc, removeStale: (pid: number) => void): void {
    this.mp = mp;
    this.removeStale = removeStale;
    mp.on(DOORBELL, () => this.drainSoon());
    this.watchTable();
    // The table is the truth of who joined: a peer killed before its "process-joined" rang
    // (or was drained) is found there and watched all the same.
    this.scan = setInterval(() => this.watchTable(), SCAN_MS).unref();
    const t = this.host.processes;
    this.publish('process-joined', { text: `joined as ${t.isPrimarySlot(this.host.slot) ? 'the primary' : 'a secondary'}` });
  }

  /**
   * Call `fn` with every event of `type` ('*': every event) from now on, in every process
   * that asked, in the order of the instance's log. ENOTCONN in a read-only observer (it
   * reads `recent()`), or in a worker thread.
   */
  on(type: EventType | '*' | (string & {}), fn: EventListener): this {
    if (!this.mp) throw new MpdkError('ENOTCONN', 'events are delivered to processes of the instance (with their message channel); an observer or a worker thread reads eal.events.recent()');
    if (typeof fn !== 'function') throw new MpdkError('EINVAL', `the listener of '${type}' must be a function`);
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn);
    this.rescan ??= setInterval(() => this.drainSoon(), RESCAN_MS).unref();
    return this;
  }

  /** Stop calling `fn` for `type`. */
  off(type: string, fn: EventListener): this {
    this.listeners.get(type)?.delete(fn);
    return this;
  }

  /** The latest `n` events of the instance's log, oldest first (any process, observers included). */
  recent(n = 32): InstanceEvent[] {
    return this.log.since(0, n);
  }

  /** The events after `seq` still in the log (for tools that follow it: `mpdk top`). */
  since(seq: number): InstanceEvent[] {
    return this.log.since(seq);
  }

  /**
   * Log an event and tell every process (their callbacks, and this process's, run on their
   * event loops). `pid`/`program` default to this process. Nothing in a read-only observer.
   */
  publish(type: string, e: { port?: number; text: string; pid?: number; program?: string; slot?: number }): InstanceEvent | undefined {
    if (this.host.readOnly || this.closed) return undefined;
    const ev = this.log.append({
      type, port: e.port, text: e.text, pid: e.pid ?? process.pid, slot: e.slot ?? this.host.slot, program: e.program ?? this.host.program(),
    });
    this.ring();
    this.drainSoon();
    return ev;
  }

  /** Ring every other process's doorbell (nothing without a channel: a worker's events wait for the next one). */
  private ring(): void {
    if (!this.mp) return;
    try {
      this.mp.send(DOORBELL);
    } catch (e) {
      this.host.log('debug', `events: doorbell not rung: ${(e as Error).message}`);
    }
  }

  private drainSoon(): void {
    if (this.draining || this.closed) return;
    this.draining = true;
    queueMicrotask(() => {
      this.draining = false;
      this.drain();
    });
  }

  /** Deliver what the log holds beyond `delivered`, in order. */
  private drain(): void {
    for (const e of this.log.since(this.delivered)) {
      this.delivered = e.seq;
      if (e.type === 'process-joined' && e.pid !== process.pid) this.watchPid(e.pid);
      // Every process that hears of a death removes the socket too (mp-socket.ts: only if
      // nobody accepts on it), not only the one that saw it first: one that missed it is covered.
      if (e.type === 'process-left' && e.pid !== process.pid) this.removeStale?.(e.pid);
      for (const set of [this.listeners.get(e.type), this.listeners.get('*')]) {
        if (!set) continue;
        for (const fn of [...set]) {
          try {
            fn(e);
          } catch (err) {
            this.host.log('warning', `events: a '${e.type}' listener threw: ${(err as Error).message}`);
          }
        }
      }
    }
  }

  /** Watch every peer the process table names. */
  private watchTable(): void {
    const t = this.host.processes;
    for (let slot = 0; slot < PROC_MAX; slot++) if (slot !== this.host.slot) this.watch(slot, t.pidOf(slot));
  }

  /** Watch every process of the table with pid `pid` (a pid reused: the dead one's record too). */
  private watchPid(pid: number): void {
    const t = this.host.processes;
    for (let slot = 0; slot < PROC_MAX; slot++) if (slot !== this.host.slot && t.pidOf(slot) === pid) this.watch(slot, pid);
  }

  /** Watch the process in `slot` (pid `pid`, the start time the slot names) for its death. */
  private watch(slot: number, pid: number): void {
    if (this.closed || slot < 0 || pid <= 0) return;
    const t = this.host.processes;
    const start = t.startOf(slot);
    // A slot publishes its pid after its start time (process-table.ts register): the pid read
    // again after the start says the pair is one process's (else the slot changed hands: the
    // next scan sees its new process).
    if (t.pidOf(slot) !== pid) return;
    // Our pid with another start time is a dead predecessor's record, not us.
    if (pid === process.pid && start === this.myStart) return;
    const key = identityKey({ pid, start });
    if (this.watching.has(key)) return;
    if (this.settled[slot] === pid && this.settledStart[slot] === start) return;
    const program = t.nameOf(slot);
    // Dead before it was watched (killed right after it joined): its death is handled all
    // the same, or its socket would stay and its departure go unreported.
    if (processLiveness(pid, start) === Liveness.DEAD) {
      this.settle(slot, pid, start);
      return queueMicrotask(() => this.died(slot, pid, start, program));
    }
    this.watching.set(key, watchDeath(pid, start, () => this.died(slot, pid, start, program)));
  }

  private settle(slot: number, pid: number, start: number): void {
    this.settled[slot] = pid;
    this.settledStart[slot] = start;
  }

  /** Peer `pid` (started at `start`) of `slot` died: its socket goes; the first to claim the report logs it. */
  private died(slot: number, pid: number, start: number, program: string): void {
    this.watching.delete(identityKey({ pid, start }));
    this.settle(slot, pid, start);
    if (this.closed) return;
    this.removeStale?.(pid);
    if (this.log.claimDeparture(slot, pid, start)) this.publish('process-left', { pid, program, slot, text: `pid ${pid} (${program}) died` });
  }

  /**
   * The dead process `pid` of `slot` is about to lose its slot (a reclaimer releases it): its
   * death is handled here now, as a watch would (its socket removed, its departure reported
   * once), since a peer that had not yet looked at it (killed right after it joined) would
   * never see it in the table again. True when its socket is removed here (now or by the
   * watch before); false when these events have no channel to remove it through.
   */
  seenDead(slot: number, pid: number): boolean {
    if (this.closed) return false;
    const t = this.host.processes;
    const start = t.startOf(slot);
    if (t.pidOf(slot) !== pid) return false;
    if (!(this.settled[slot] === pid && this.settledStart[slot] === start)) this.died(slot, pid, start, t.nameOf(slot)); // a watch still armed on it fires later and finds it settled
    return this.removeStale !== undefined;
  }

  /** This process leaves: its own "process-left" (unless it was reported), then nothing more. */
  leave(): void {
    if (this.closed) return;
    const slot = this.host.slot;
    if (slot >= 0 && !this.host.readOnly && this.log.claimDeparture(slot, process.pid, this.host.processes.startOf(slot))) {
      this.publish('process-left', { text: `pid ${process.pid} (${this.host.program()}) left` });
    }
    this.closed = true;
    for (const stop of this.watching.values()) stop();
    this.watching.clear();
    if (this.rescan) clearInterval(this.rescan);
    if (this.scan) clearInterval(this.scan);
    this.listeners.clear();
  }
}
