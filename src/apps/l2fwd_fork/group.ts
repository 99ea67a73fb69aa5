/**
 * A group of l2fwd_fork slaves that share ports (T7: slave A depends on slave B when A
 * transmits on the port B receives, or the other way round; groups are the connected
 * components), and its life cycle as a state machine. The master (master.ts) reacts to
 * processes; this file says which reactions are allowed. `Group.fire` is the only code
 * that changes a group's state.
 *
 *   state      event            next       the master's action on entering `next`
 *   STARTING   member-ready     STARTING   (a member is up; others are starting)
 *   STARTING   all-ready        RUNNING    log "forwarding again", the failure count is 0
 *   STARTING   member-exit      STOPPING   a start-up failure (count + 1); stop the others
 *   RUNNING    member-exit      STOPPING   STOP each live member (none to the dead; a
 *                                          stopped one, SIGSTOP, is killed at once), wait
 *                                          for its ACK ≤ 500 ms (else SIGKILL) and its exit
 *   STOPPING   member-exit      STOPPING   (one more gone)
 *   STOPPING   all-gone         DOWN       reclaimDead, ports stopped and started,
 *                                          command rings drained
 *   DOWN       reset-clean      STARTING   launch every member (standbys first)
 *   DOWN       reset-failed     WAITING    back-off 0.1, 0.2, 0.4 ... ≤ 5 s; report after 5
 *   WAITING    backoff-elapsed  STARTING   launch every member
 *   any        shutdown         CLOSED     the master stops everyone itself
 *
 * Refused (REFUSED below, each with its reason): launching or resetting while a member may
 * still run (two processes would share the group's queues, or a live process's record
 * would be reclaimed under it), and events that cannot happen in a state (a bug if seen;
 * logged, ignored). In CLOSED every event is ignored.
 */

export enum GroupState {
  STARTING = 'STARTING',
  RUNNING = 'RUNNING',
  STOPPING = 'STOPPING',
  DOWN = 'DOWN',
  WAITING = 'WAITING',
  CLOSED = 'CLOSED',
}

export type GroupEvent =
  | 'member-ready' | 'all-ready' | 'member-exit' | 'all-gone' | 'reset-clean' | 'reset-failed' | 'backoff-elapsed' | 'shutdown';

const S = GroupState;

/** Allowed transitions: (from, event) → to. */
export const TRANSITIONS: readonly { from: GroupState; on: GroupEvent; to: GroupState }[] = [
  { from: S.STARTING, on: 'member-ready', to: S.STARTING },
  { from: S.STARTING, on: 'all-ready', to: S.RUNNING },
  { from: S.STARTING, on: 'member-exit', to: S.STOPPING },
  { from: S.RUNNING, on: 'member-exit', to: S.STOPPING },
  { from: S.STOPPING, on: 'member-exit', to: S.STOPPING },
  { from: S.STOPPING, on: 'all-gone', to: S.DOWN },
  { from: S.DOWN, on: 'reset-clean', to: S.STARTING },
  { from: S.DOWN, on: 'reset-failed', to: S.WAITING },
  { from: S.WAITING, on: 'backoff-elapsed', to: S.STARTING },
  ...[S.STARTING, S.RUNNING, S.STOPPING, S.DOWN, S.WAITING].map((from) => ({ from, on: 'shutdown' as const, to: S.CLOSED })),
];

const MAY_RUN_RESET = 'a member may still run: its queues and ownership record cannot be reset or reclaimed under it';
const TWO_ON_QUEUES = 'a second launch would put two processes on its queues';
const NOT_STOPPED = 'members that were not stopped cannot all be gone without exit events';
const LATE_READY = 'a member stopping (or already replaced) said READY late: it is not part of the group any more';

/** Refused transitions, each with its reason. */
export const REFUSED: readonly { from: GroupState; on: GroupEvent; why: string }[] = [
  { from: S.STOPPING, on: 'reset-clean', why: MAY_RUN_RESET },
  { from: S.STOPPING, on: 'reset-failed', why: MAY_RUN_RESET },
  { from: S.STOPPING, on: 'backoff-elapsed', why: `a member may still run: ${TWO_ON_QUEUES}` },
  { from: S.RUNNING, on: 'backoff-elapsed', why: `the group runs: ${TWO_ON_QUEUES}` },
  { from: S.STARTING, on: 'backoff-elapsed', why: `the group is starting: ${TWO_ON_QUEUES}` },
  { from: S.RUNNING, on: 'reset-clean', why: 'the group runs: its members were not stopped' },
  { from: S.RUNNING, on: 'all-gone', why: NOT_STOPPED },
  { from: S.STARTING, on: 'all-gone', why: NOT_STOPPED },
  { from: S.DOWN, on: 'member-exit', why: 'no member runs while the group is down' },
  { from: S.WAITING, on: 'member-exit', why: 'no member runs while the group waits' },
  { from: S.RUNNING, on: 'all-ready', why: 'already running' },
  { from: S.STOPPING, on: 'member-ready', why: LATE_READY },
  { from: S.STOPPING, on: 'all-ready', why: LATE_READY },
];

const NEXT = new Map<string, GroupState>(TRANSITIONS.map((t) => [`${t.from}:${t.on}`, t.to]));
const WHY = new Map<string, string>(REFUSED.map((t) => [`${t.from}:${t.on}`, t.why]));

/** Back-off before relaunching a group that failed `failures` times in a row at start-up. */
export const BACKOFF_FIRST_MS = 100;
export const BACKOFF_MAX_MS = 5000;
/** "failed N times in a row" is reported at N = REPORT_AFTER, then at every doubling. */
export const REPORT_AFTER = 5;

export function backoffMs(failures: number): number {
  return failures <= 0 ? 0 : Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS);
}

export function shouldReport(failures: number): boolean {
  return failures >= REPORT_AFTER && Number.isInteger(Math.log2(failures / REPORT_AFTER));
}

/** One group's state (members are the master's Slave records). */
export class Group<M = unknown> {
  readonly id: number;
  readonly members: M[] = [];
  /** Ports the members receive on or transmit to (restarted on recovery). */
  readonly ports: number[] = [];
  state: GroupState = GroupState.STARTING;
  /** Exits of a member while the group was STARTING, in a row (0 once it RUNS). */
  failures = 0;
  /** Why the last member that ended the group's run ended. */
  lastEnd = '';

  constructor(id: number) {
    this.id = id;
  }

  /**
   * Apply `event`: the new state, or undefined when the table refuses it (the state is
   * unchanged; `refused` receives the reason unless the group is CLOSED).
   */
  fire(event: GroupEvent, refused: (why: string) => void): GroupState | undefined {
    if (this.state === GroupState.CLOSED) return undefined;
    const key = `${this.state}:${event}`;
    const to = NEXT.get(key);
    if (to === undefined) {
      refused(`${event} in ${this.state}: ${WHY.get(key) ?? 'not a transition of the table'}`);
      return undefined;
    }
    this.state = to;
    return to;
  }
}
