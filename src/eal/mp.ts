/**
 * The instance's message channel (DPDK's rte_mp, lib/eal's eal_common_proc.c): every
 * process of an instance can send named messages to any other — one-way, or as a request
 * whose replies it awaits — with file descriptors along. `eal.mp` is this process's end.
 * (Not to be confused with `Channel`, src/channel: a data-path queue of byte messages in
 * shared memory. This one is for control: actions, requests and replies, descriptors.)
 *
 *   who calls what                       where it runs
 *   mp.on(name, handler) / off(name)     any code of the process
 *   mp.send(name, data, { to, fds })     hands the message to each target's connection now
 *   mp.request(name, data, { to, timeout, signal })  resolves with one result per target
 *   handlers                             the main thread's event loop, between the data
 *                                        path's slices (the shipped programs yield every
 *                                        4 to 20 ms); a handler's return value (or what its
 *                                        promise resolves to) is the reply, its throw the
 *                                        requester's error
 *
 * How: each process listens on mp.<slot>.<pid> in the instance folder (mp-socket.ts:
 * SOCK_SEQPACKET, 0600 in the 0700 folder; a peer must be a registered process of the
 * instance with our uid, by SO_PEERCRED). A sender connects once to each peer it talks to
 * and keeps the connection; replies come back on the connection the request went out on.
 * One datagram per message (mp-wire.ts), so order per sender is kept and a message arrives
 * whole. Everything is polled by the event loop (koffi.node.poll): no thread.
 *
 * What DPDK's rte_mp does that this does not:
 *   - a dead peer costs a request its whole timeout (SPDK's "Fail to recv reply for
 *     request"): here a target known dead fails at once, and one that dies while a request
 *     waits fails within milliseconds (its pidfd, deathwatch.ts, or its socket closing),
 *     named by pid and program; the other targets' replies are kept;
 *   - messages go primary → all or secondary → primary only: here any process to any
 *     process, one, several, the primary or all;
 *   - one thread serves every action and a blocked handler stalls them all, and a handler
 *     that requests from its own thread deadlocks: here handlers may be async, and a request
 *     from a handler is an ordinary await;
 *   - a full peer blocks the sender's send (a stopped process wedges the instance): here
 *     sends never block; what the kernel cannot take now waits in a bounded queue per peer.
 *
 *   bounds (exceeding one is an error that says so; nothing grows without limit)
 *     message data        MP_DATA_MAX (60 KiB): EMSGSIZE, nothing sent
 *     descriptors         MP_FDS_MAX (8) per message: EINVAL
 *     queue per peer      MP_QUEUE_MAX messages beyond what its socket holds: ENOBUFS for that peer
 *     waiting requests    MP_PENDING_MAX: EBUSY, nothing sent
 *     running handlers    MP_HANDLERS_MAX (async ones not yet settled): reading pauses until
 *                         some settle (the senders' queues, then ENOBUFS, push back)
 *     per turn            MP_PER_TURN messages per connection per event-loop turn
 *     connections in      MP_CONNECTIONS_MAX
 */
import { closeFd, closeReceivedFd, dupFd, Liveness, processDying, processLiveness, processState, seqRecvFds, seqSendFds, SEQ_FDS_MAX, unixAccept, peerCred, watchFd, watchReadable, type FdEvents, type FdWatch } from '../native/libc.js';
import { watchDeath } from './deathwatch.js';
import { MpdkError } from './errors.js';
import { connectMp, MpListener, removeStaleMp } from './mp-socket.js';
import { checkActionName, decodeFrame, encodeFrame, errorData, errorOf, MP_DATA_MAX, MP_FRAME_MAX, MpType, type Frame } from './mp-wire.js';
import type { ProcessTable } from './process-table.js';
import { PROC_MAX } from './process-table.js';
import { euid, type SafeDir } from './safe-open.js';

export { MP_DATA_MAX, MP_NAME_MAX } from './mp-wire.js';

/** Descriptors one message carries at most. */
export const MP_FDS_MAX = SEQ_FDS_MAX;
/** Messages waiting for room in one peer's socket. */
export const MP_QUEUE_MAX = 1024;
/** Requests of this process waiting for replies. */
export const MP_PENDING_MAX = 1024;
/** Handlers running at once (an async one runs until its promise settles). */
export const MP_HANDLERS_MAX = 256;
/** Connections other processes may hold to this one. */
export const MP_CONNECTIONS_MAX = 2 * PROC_MAX;
/** Messages read from one connection per event-loop turn. */
export const MP_PER_TURN = 64;
/** A request's default timeout (ms), as DPDK's callers use. */
export const MP_TIMEOUT_DEFAULT = 5000;
/** After a peer's socket closes, how long to wait for its death to be certain before saying "closed". */
const CLOSE_VERDICT_MS = 50;
/** The longest a Node timer waits (a longer one fires at once). */
const TIMER_MAX_MS = 2 ** 31 - 1;
const EAGAIN = 11;
const EINTR = 4;
const EMSGSIZE = 90;

/** A process of the instance, as the channel names it. */
export interface MpPeer {
  /** Its pid. */
  pid: number;
  /** Its program name in the process table ("symmetric_mp", "mpdk port", ...). */
  program: string;
  /** Its process-table slot. */
  slot: number;
}

/** Who a message goes to: every other process (default), the primary, one pid, or several. */
export type MpTarget = 'all' | 'primary' | number | readonly number[];

/** A message as a handler receives it. */
export interface MpMessage {
  /** The action's name. */
  name: string;
  /** What the sender passed: a Buffer for bytes, a string, or the JSON value. */
  data: unknown;
  /** Descriptors sent with it: this process's own, close-on-exec; the handler closes them. */
  fds: number[];
  /** Who sent it. */
  from: MpPeer;
  /** The sender awaits a reply (a request): the handler's return value is it. */
  isRequest: boolean;
}

/** An action: its return value (or what its promise resolves to) is the reply to a request; a throw is the requester's error. */
export type MpHandler = (msg: MpMessage) => unknown;

/** One target's answer to a request: its reply, or why there is none. */
export type MpReply =
  | (MpPeer & {
      /** It replied. */
      ok: true;
      /** The reply (what its handler returned, as structured-clone data). */
      data: unknown;
      /** Descriptors sent with the reply: this process's own now; close them when done. */
      fds: number[];
    })
  | (MpPeer & {
      /** No reply. */
      ok: false;
      /** Why: ESRCH dead, ETIMEDOUT, ENOTSUP no such action there, its handler's throw, ... */
      error: MpdkError;
    });

/** Whether a one-way message was handed to one target's connection. */
export type MpDelivery =
  | (MpPeer & {
      /** Handed to its connection. */
      ok: true;
    })
  | (MpPeer & {
      /** Not sent to it. */
      ok: false;
      /** Why (ESRCH dead, ENOTCONN no channel, ENOBUFS its queue is full, ...). */
      error: MpdkError;
    });

/** Options of `eal.mp.send`: to whom (default every other live process), and descriptors to pass along. */
export interface MpSendOptions {
  /** Default 'all': every other live process of the instance. */
  to?: MpTarget;
  /** Descriptors to pass (at most MP_FDS_MAX): each target gets its own copies; these stay the caller's. */
  fds?: readonly number[];
}

/**
 * Options of `eal.mp.request`: `MpSendOptions`, plus how long to wait for the replies, an AbortSignal, and a callback per reply.
 */
export interface MpRequestOptions extends MpSendOptions {
  /** Ms to wait for the replies (default MP_TIMEOUT_DEFAULT): a target that has not answered by then is reported ETIMEDOUT. */
  timeout?: number;
  /** Abort the wait: the promise rejects with the signal's reason; late replies are dropped. */
  signal?: AbortSignal;
  /** Called with each target's result as it comes (a death, say, long before the others answer). */
  onReply?: (r: MpReply) => void;
}

/** A handler's reply with descriptors: `return mpReply(data, [fd])`. The descriptors stay the handler's. */
export class MpAnswer {
  /** Made by `mpReply(data, fds)`. */
  constructor(
    /** The reply's data. */
    readonly data: unknown,
    /** The descriptors sent along (copies; they stay the handler's). */
    readonly fds: readonly number[],
  ) {}
}

/** Reply `data` with descriptors `fds` (each requester gets copies; they stay the caller's). */
export function mpReply(data: unknown, fds: readonly number[]): MpAnswer {
  return new MpAnswer(data, fds);
}

/** What the channel needs from the EAL that starts it. */
export interface MpHost {
  prefix: string;
  /** The instance folder (checked, open for the process's life). */
  dir: SafeDir;
  processes: ProcessTable;
  slot: number;
  primaryPid(): number;
  log(level: 'debug' | 'info' | 'warning' | 'error', msg: string): void;
}

interface Queued {
  bytes: Buffer;
  /** Our own duplicates, closed once sent. */
  fds: number[];
}

/** One connection to a peer: ours to it (outgoing) or its to us (accepted). */
class Conn {
  readonly queue: Queued[] = [];
  events!: FdEvents;
  closed = false;
  /** Stops the death watch (outgoing connections). */
  unwatch: (() => void) | undefined;
  /** Set while a closed connection's verdict (died, or left) waits for evidence (`lost`). */
  verdict: NodeJS.Timeout | undefined;
  /** Replies its full queue refused (accepted connections): each is answered ENOBUFS once the queue is empty (at most MP_QUEUE_MAX). */
  readonly refused: { id: number; name: string }[] = [];

  constructor(readonly fd: number, readonly peer: MpPeer, readonly start: number, readonly outgoing: boolean) {}
}

interface Pending {
  id: number;
  name: string;
  /** The targets, index for index with results. */
  peers: MpPeer[];
  results: (MpReply | undefined)[];
  /** pid → index in results, for the targets still waited for. */
  waiting: Map<number, number>;
  timer: NodeJS.Timeout | undefined;
  resolve: (r: MpReply[]) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  onReply: ((r: MpReply) => void) | undefined;
}

interface Target {
  peer: MpPeer;
  start: number;
  error?: MpdkError;
}

/** This process's end of the instance's message channel (`eal.mp`). */
export class MpIpc {
  private readonly listener: MpListener;
  private readonly accepting: FdWatch;
  private readonly actions = new Map<string, MpHandler>();
  private readonly out = new Map<number, Conn>();
  private readonly incoming = new Set<Conn>();
  private readonly pending = new Map<number, Pending>();
  private readonly drains: { conns: Set<Conn>; done: () => void; fail: (e: MpdkError) => void }[] = [];
  private readonly inBuf = Buffer.alloc(MP_FRAME_MAX + 1);
  private readonly outBuf = Buffer.alloc(MP_FRAME_MAX);
  private readonly fdsIn: number[] = [];
  private nextId = 0;
  private running = 0;
  private paused = false;
  private closed = false;
  /** This process as peers see it. */
  readonly self: MpPeer;

  private constructor(private readonly host: MpHost) {
    this.self = { pid: process.pid, program: host.processes.nameOf(host.slot), slot: host.slot };
    this.listener = MpListener.listen(host.dir, host.slot, process.pid);
    try {
      this.accepting = watchReadable(this.listener.fd, () => this.accept());
    } catch (e) {
      this.listener.close();
      throw e;
    }
  }

  /** Start the channel of the process registered in host.slot. MpdkError when no socket can be made. */
  static start(host: MpHost): MpIpc {
    return new MpIpc(host);
  }

  /** The socket's name in the instance folder. */
  get socketName(): string {
    return this.listener.name;
  }

  // --- actions ------------------------------------------------------------------------

  /**
   * Register `handler` for messages and requests named `name` (1..63 of letters, digits,
   * `_ . : / -`; names starting with `mpdk:` are the library's own). EEXIST when the name has
   * a handler (DPDK's rte_mp_action_register).
   */
  on(name: string, handler: MpHandler): this {
    checkActionName(name);
    if (typeof handler !== 'function') throw new MpdkError('EINVAL', `the handler of '${name}' must be a function`);
    if (this.actions.has(name)) throw new MpdkError('EEXIST', `action '${name}' already has a handler in this process; off('${name}') first`);
    this.actions.set(name, handler);
    return this;
  }

  /** Remove the handler of `name` (nothing if it has none). */
  off(name: string): this {
    this.actions.delete(name);
    return this;
  }

  /** The names with a handler. */
  actionNames(): string[] {
    return [...this.actions.keys()].sort();
  }

  // --- sending --------------------------------------------------------------------------

  /**
   * Send a one-way message: each target's connection takes it now (its socket, or the
   * bounded queue in front of it). Returns one delivery per target: ok, or why not (ESRCH:
   * dead or not a process of the instance; ENOTCONN: no channel; ENOBUFS: its queue is full,
   * it does not read — stopped?). Throws for what is wrong here: EINVAL (name, data, target,
   * descriptors), EMSGSIZE (data over MP_DATA_MAX), ENOTCONN (this channel is closed).
   */
  send(name: string, data?: unknown, opts: MpSendOptions = {}): MpDelivery[] {
    checkActionName(name);
    const fds = this.checkFds(opts.fds);
    const len = this.encode(MpType.MSG, 0, name, data);
    return this.targets(opts.to).map((t): MpDelivery => {
      if (t.error) return { ...t.peer, ok: false, error: t.error };
      const err = this.deliver(t, len, fds);
      return err ? { ...t.peer, ok: false, error: err } : { ...t.peer, ok: true };
    });
  }

  /**
   * Send a request and resolve with one result per target, in target order: its reply
   * (`ok: true`, the handler's value and any descriptors, now ours) or why there is none
   * (`ok: false`): dead (ESRCH, at once; a death while waiting within milliseconds),
   * closed its channel (EPIPE), no handler (ENOTSUP), its handler's error (its code),
   * no answer within `timeout` (ETIMEDOUT, saying whether it is stopped). Never rejects for
   * a target's failure; rejects for what is wrong here (as `send`), EBUSY when
   * MP_PENDING_MAX requests wait, and with the signal's reason when it aborts.
   */
  request(name: string, data?: unknown, opts: MpRequestOptions = {}): Promise<MpReply[]> {
    try {
      checkActionName(name);
      const timeout = opts.timeout ?? MP_TIMEOUT_DEFAULT;
      if (!(Number.isFinite(timeout) && timeout >= 0 && timeout <= TIMER_MAX_MS)) throw new MpdkError('EINVAL', `timeout ${String(timeout)}: give milliseconds, 0 to ${TIMER_MAX_MS} (about 24.8 days)`);
      opts.signal?.throwIfAborted();
      const fds = this.checkFds(opts.fds);
      if (this.pending.size >= MP_PENDING_MAX) throw new MpdkError('EBUSY', `${MP_PENDING_MAX} requests of this process are waiting for replies: await some before sending more`);
      this.nextId = (this.nextId + 1) >>> 0 || 1;
      const id = this.nextId;
      const len = this.encode(MpType.REQ, id, name, data);
      const targets = this.targets(opts.to);
      return new Promise<MpReply[]>((resolve, reject) => {
        const p: Pending = { id, name, peers: targets.map((t) => t.peer), results: new Array(targets.length), waiting: new Map(), timer: undefined, resolve, reject, signal: opts.signal, onAbort: undefined, onReply: opts.onReply };
        targets.forEach((t, i) => {
          const err = t.error ?? this.deliver(t, len, fds);
          if (err) this.result(p, i, { ...t.peer, ok: false, error: err });
          else p.waiting.set(t.peer.pid, i);
        });
        if (p.waiting.size === 0) return resolve(p.results as MpReply[]);
        this.pending.set(id, p);
        p.timer = setTimeout(() => this.timedOut(p, timeout), timeout);
        if (opts.signal) {
          p.onAbort = () => {
            this.settle(p);
            reject(opts.signal!.reason);
          };
          opts.signal.addEventListener('abort', p.onAbort, { once: true });
        }
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Resolve when what this process queued for `opts.to` (default: every peer) has been
   * taken by their sockets — after a burst of `send`s, before sending more. Rejects ETIMEDOUT
   * after `opts.timeout` ms (default MP_TIMEOUT_DEFAULT), with the signal's reason, and when
   * a connection closes with messages still queued (they are not delivered): ESRCH (its
   * process died), EPIPE (it closed its channel), ENOTCONN (this channel was closed).
   */
  drain(opts: { to?: MpTarget; timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    const pids = opts.to === undefined || opts.to === 'all' ? undefined : new Set(this.targets(opts.to).map((t) => t.peer.pid));
    const conns = new Set([...this.out.values(), ...this.incoming].filter((c) => c.queue.length > 0 && (!pids || pids.has(c.peer.pid))));
    if (conns.size === 0) return Promise.resolve();
    const timeout = opts.timeout ?? MP_TIMEOUT_DEFAULT;
    return new Promise<void>((resolve, reject) => {
      const d = {
        conns,
        done: (): void => {
          clearTimeout(t);
          opts.signal?.removeEventListener('abort', abort);
          resolve();
        },
        fail: (e: MpdkError): void => stop(e),
      };
      const stop = (e: unknown): void => {
        const i = this.drains.indexOf(d);
        if (i >= 0) this.drains.splice(i, 1);
        clearTimeout(t);
        opts.signal?.removeEventListener('abort', abort);
        reject(e);
      };
      const abort = (): void => stop(opts.signal!.reason);
      const t = setTimeout(() => stop(new MpdkError('ETIMEDOUT', `messages to ${[...conns].map((c) => who(c.peer)).join(', ')} still wait after ${timeout} ms: ${[...conns].map((c) => `${who(c.peer)} is ${processState(c.peer.pid)}`).join('; ')}`)), timeout);
      opts.signal?.addEventListener('abort', abort, { once: true });
      this.drains.push(d);
    });
  }

  /** Peers this process holds a connection to or from, with what waits for each (for tools and tests). */
  connections(): {
    /** The process at the other end. */
    peer: MpPeer;
    /** This process opened it (to send to the peer), rather than accepted it. */
    outgoing: boolean;
    /** Messages waiting to be written to it. */
    queued: number;
  }[] {
    return [...this.out.values(), ...this.incoming].map((c) => ({ peer: c.peer, outgoing: c.outgoing, queued: c.queue.length }));
  }

  /** Requests waiting for replies now. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  // --- targets and connections ------------------------------------------------------------

  private checkFds(fds: readonly number[] | undefined): readonly number[] {
    if (this.closed) throw new MpdkError('ENOTCONN', `the message channel of pid ${process.pid} is closed (its EAL was closed)`);
    if (fds === undefined) return [];
    if (!Array.isArray(fds) || fds.length > MP_FDS_MAX || !fds.every((f) => Number.isInteger(f) && f >= 0)) {
      throw new MpdkError('EINVAL', `fds must be an array of at most ${MP_FDS_MAX} open descriptors`);
    }
    return fds;
  }

  private encode(type: MpType, id: number, name: string, data: unknown): number {
    return encodeFrame(this.outBuf, type, id, name, data);
  }

  /** The processes `to` names, each with the error that already rules it out. */
  private targets(to: MpTarget | undefined): Target[] {
    const t = this.host.processes;
    const target = (slot: number, pid: number): Target => {
      const start = t.startOf(slot);
      const c = this.out.get(pid);
      // An open connection to that very process stands for its life (its death watch and
      // its socket say when it ends); without one, /proc says.
      if (c && !c.closed && c.peer.slot === slot && c.start === start) return { peer: c.peer, start };
      const peer: MpPeer = { pid, program: t.nameOf(slot), slot };
      return processLiveness(pid, start) === Liveness.DEAD ? { peer, start, error: new MpdkError('ESRCH', `${who(peer)} is dead`) } : { peer, start };
    };
    const byPid = (pid: unknown): Target => {
      if (!(typeof pid === 'number' && Number.isInteger(pid) && pid > 0)) throw new MpdkError('EINVAL', `to: ${String(pid)} is not a pid; give 'all', 'primary', a pid or an array of pids`);
      if (pid === process.pid) throw new MpdkError('EINVAL', `to: ${pid} is this process; a message goes to other processes`);
      const slot = t.slotOfPid(pid);
      if (slot < 0) return { peer: { pid, program: '?', slot: -1 }, start: 0, error: new MpdkError('ESRCH', `pid ${pid} is not a process of instance '${this.host.prefix}'`) };
      return target(slot, pid);
    };
    if (to === undefined || to === 'all') {
      const out: Target[] = [];
      for (let slot = 0; slot < PROC_MAX; slot++) {
        const pid = t.pidOf(slot);
        if (pid <= 0 || slot === this.host.slot) continue; // free, or being registered (-pid)
        const x = target(slot, pid);
        if (!x.error) out.push(x); // 'all' is every live process: the dead are no one's target
      }
      return out;
    }
    if (to === 'primary') {
      const pid = this.host.primaryPid();
      if (pid === process.pid) throw new MpdkError('EINVAL', `to: 'primary' is this process`);
      const x = byPid(pid);
      if (x.error && x.peer.slot < 0) x.error = new MpdkError('ESRCH', `the primary (pid ${pid}) is not registered in instance '${this.host.prefix}' (it left)`);
      return [x];
    }
    if (Array.isArray(to)) return to.map(byPid);
    return [byPid(to)];
  }

  /** Hand outBuf[0..len) to target t's connection; the error when it cannot. */
  private deliver(t: Target, len: number, fds: readonly number[]): MpdkError | undefined {
    let c = this.out.get(t.peer.pid);
    if (c && (c.peer.slot !== t.peer.slot || c.start !== t.start)) {
      this.drop(c, undefined); // a connection to an earlier process with that pid
      c = undefined;
    }
    if (!c) {
      const r = connectMp(this.host.dir, t.peer.slot, t.peer.pid);
      if ('errno' in r) {
        if (processLiveness(t.peer.pid, t.start) === Liveness.DEAD) return new MpdkError('ESRCH', `${who(t.peer)} is dead`);
        return new MpdkError('ENOTCONN', `cannot reach ${who(t.peer)}: ${r.why} (it is starting, leaving, or runs without a channel)`);
      }
      c = this.adopt(r.fd, t.peer, t.start, true);
    }
    return this.write(c, this.outBuf, len, fds);
  }

  /** Send on c, or queue behind what waits; the error when c is gone or its queue is full. */
  private write(c: Conn, buf: Buffer, len: number, fds: readonly number[]): MpdkError | undefined {
    if (c.closed) return new MpdkError('EPIPE', `${who(c.peer)} closed its message channel`);
    if (c.queue.length === 0) {
      const r = seqSendFds(c.fd, buf, len, fds);
      if (r === len) return undefined;
      if (r !== -EAGAIN) {
        this.lost(c);
        return new MpdkError('EPIPE', `${who(c.peer)} closed its message channel`);
      }
    }
    if (c.queue.length >= MP_QUEUE_MAX) {
      return new MpdkError('ENOBUFS', `${MP_QUEUE_MAX} messages to ${who(c.peer)} already wait (it is ${processState(c.peer.pid)} and does not read them); await mp.drain() before sending more`);
    }
    const copies: number[] = [];
    try {
      for (const f of fds) copies.push(dupFd(f));
    } catch (e) {
      for (const f of copies) closeFd(f);
      throw new MpdkError('EINVAL', `cannot keep descriptor for a queued message: ${(e as Error).message}`);
    }
    c.queue.push({ bytes: Buffer.from(buf.subarray(0, len)), fds: copies });
    c.events.set(this.reads(c), true);
    return undefined;
  }

  /** Send what waits on c while its socket takes it. */
  private flush(c: Conn): void {
    while (c.queue.length > 0) {
      const q = c.queue[0]!;
      const r = seqSendFds(c.fd, q.bytes, q.bytes.length, q.fds);
      if (r === -EAGAIN) return;
      if (r !== q.bytes.length) return this.lost(c); // q stays queued: counted as not delivered
      c.queue.shift();
      for (const f of q.fds) closeFd(f);
    }
    c.events.set(this.reads(c), false);
    this.drained(c);
    this.answerRefused(c);
  }

  /**
   * The requests whose replies c's full queue refused get, now that it is empty, an ENOBUFS
   * error in their place: their requesters learn the reply was lost, instead of timing out.
   */
  private answerRefused(c: Conn): void {
    while (c.refused.length > 0 && c.queue.length < MP_QUEUE_MAX && !c.closed) {
      const { id, name } = c.refused.shift()!;
      const len = this.encode(MpType.ERR, id, name, { code: 'ENOBUFS', message: `${who(this.self)} could not deliver its reply to '${name}': ${MP_QUEUE_MAX} messages to ${who(c.peer)} already waited (it did not read them): read the replies as they come, or send fewer requests at once` });
      this.write(c, this.outBuf, len, []);
    }
  }

  private drained(c: Conn): void {
    for (let i = this.drains.length - 1; i >= 0; i--) {
      const d = this.drains[i]!;
      d.conns.delete(c);
      if (d.conns.size === 0) {
        this.drains.splice(i, 1);
        d.done();
      }
    }
  }

  /** Watch a new connection (and, for ours, its peer's death). */
  private adopt(fd: number, peer: MpPeer, start: number, outgoing: boolean): Conn {
    const c = new Conn(fd, peer, start, outgoing);
    try {
      c.events = watchFd(fd, (r, w) => this.ready(c, r, w));
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    if (!this.reads(c)) c.events.set(false, false);
    if (outgoing) {
      this.out.set(peer.pid, c);
      c.unwatch = watchDeath(peer.pid, start, () => this.peerDied(c));
    } else {
      this.incoming.add(c);
    }
    return c;
  }

  private accept(): void {
    for (let k = 0; k < MP_PER_TURN; k++) {
      let fd: number;
      try {
        fd = unixAccept(this.listener.fd);
      } catch (e) {
        this.host.log('warning', `message channel: accept failed (${(e as Error).message})`);
        return;
      }
      if (fd < 0) return;
      const cred = peerCred(fd);
      const slot = cred ? this.host.processes.slotOfPid(cred.pid) : -1;
      if (!cred || cred.uid !== euid() || slot < 0 || this.incoming.size >= MP_CONNECTIONS_MAX) {
        // Another user (the folder is 0700: only root could get here), a process that is not
        // of this instance, or too many: closed at once, nothing read.
        closeFd(fd);
        if (cred && cred.uid !== euid()) this.host.log('warning', `message channel: refused a connection from pid ${cred.pid} of uid ${cred.uid}`);
        continue;
      }
      try {
        this.adopt(fd, { pid: cred.pid, program: this.host.processes.nameOf(slot), slot }, this.host.processes.startOf(slot), false);
      } catch {
        /* the event loop could not watch it: closed */
      }
    }
  }

  private ready(c: Conn, readable: boolean, writable: boolean): void {
    if (writable && !c.closed) this.flush(c);
    if (readable && !c.closed) this.read(c);
  }

  private read(c: Conn): void {
    const fds = this.fdsIn;
    for (let k = 0; k < MP_PER_TURN && !c.closed && this.reads(c); k++) {
      fds.length = 0;
      const n = seqRecvFds(c.fd, this.inBuf, fds);
      if (n === -EAGAIN || n === -EINTR) return;
      if (n === -EMSGSIZE) {
        this.host.log('warning', `message channel: dropped a message from ${who(c.peer)} longer than ${MP_FRAME_MAX} bytes or with more than ${MP_FDS_MAX} descriptors`);
        continue;
      }
      if (n <= 0) return this.lost(c);
      const f = decodeFrame(this.inBuf, n);
      if (!f) {
        for (const x of fds) closeReceivedFd(x);
        this.host.log('warning', `message channel: dropped a message from ${who(c.peer)} this code cannot read (another mpdk version?)`);
        continue;
      }
      try {
        this.dispatch(c, f, fds.slice());
      } catch (e) {
        this.host.log('error', `message channel: '${f.name}' from ${who(c.peer)}: ${(e as Error).message}`);
      }
    }
  }

  private dispatch(c: Conn, f: Frame, fds: number[]): void {
    if (f.type === MpType.REP || f.type === MpType.ERR) return this.answered(c, f, fds);
    const handler = this.actions.get(f.name);
    const isRequest = f.type === MpType.REQ;
    if (!handler) {
      for (const x of fds) closeReceivedFd(x);
      if (isRequest) this.reply(c, f.id, f.name, MpType.ERR, { code: 'ENOTSUP', message: `${who(this.self)} has no action '${f.name}'` });
      else this.host.log('debug', `message channel: no action '${f.name}' for the message from ${who(c.peer)}`);
      return;
    }
    let out: unknown;
    try {
      out = handler({ name: f.name, data: f.data, fds, from: c.peer, isRequest });
    } catch (e) {
      if (isRequest) this.reply(c, f.id, f.name, MpType.ERR, errorData(e));
      else this.host.log('warning', `message channel: the handler of '${f.name}' threw on a message from ${who(c.peer)}: ${(e as Error).message}`);
      return;
    }
    if (out !== null && typeof out === 'object' && typeof (out as PromiseLike<unknown>).then === 'function') {
      this.running++;
      if (this.running >= MP_HANDLERS_MAX) this.pause(true);
      Promise.resolve(out as PromiseLike<unknown>).then(
        (v) => isRequest && this.reply(c, f.id, f.name, MpType.REP, v),
        (e: unknown) => {
          if (isRequest) this.reply(c, f.id, f.name, MpType.ERR, errorData(e));
          else this.host.log('warning', `message channel: the handler of '${f.name}' failed on a message from ${who(c.peer)}: ${(e as Error)?.message}`);
        },
      ).finally(() => {
        this.running--;
        if (this.paused && this.running <= MP_HANDLERS_MAX / 2) this.pause(false);
      });
    } else if (isRequest) {
      this.reply(c, f.id, f.name, MpType.REP, out);
    }
  }

  /**
   * Answer request `id` on the connection it came on. A reply that cannot go is logged: the
   * requester gone (closed, died) or this channel closed, or the requester's queue full
   * (then it is answered ENOBUFS once the queue is empty, answerRefused).
   */
  private reply(c: Conn, id: number, name: string, type: MpType, value: unknown): void {
    if (c.closed || this.closed) {
      this.host.log('info', `message channel: the reply to '${name}' for ${who(c.peer)} was not delivered: ${this.closed ? 'this process closed its channel' : 'the requester closed its channel (it left or died)'}`);
      return;
    }
    let data = value instanceof MpAnswer ? value.data : value;
    let fds = value instanceof MpAnswer ? value.fds : [];
    let len: number;
    try {
      len = this.encode(type, id, name, data);
    } catch (e) {
      data = errorData(e);
      fds = [];
      len = this.encode(MpType.ERR, id, name, data);
    }
    let err: MpdkError | undefined;
    try {
      err = this.write(c, this.outBuf, len, fds);
    } catch (e) {
      err = e as MpdkError;
    }
    if (!err) return;
    // One warning per episode of a full queue (the requester is answered ENOBUFS for each).
    const first = err.code !== 'ENOBUFS' || c.refused.length === 0;
    this.host.log(first ? 'warning' : 'debug', `message channel: the reply to '${name}' for ${who(c.peer)} was not delivered: ${err.message}`);
    if (err.code === 'ENOBUFS' && c.refused.length < MP_QUEUE_MAX) c.refused.push({ id, name });
  }

  /** A reply came: record it for its request (a late or unknown one is dropped). */
  private answered(c: Conn, f: Frame, fds: number[]): void {
    const p = this.pending.get(f.id);
    const i = p?.waiting.get(c.peer.pid);
    if (!p || i === undefined || !c.outgoing) {
      for (const x of fds) closeReceivedFd(x);
      return;
    }
    p.waiting.delete(c.peer.pid);
    if (f.type === MpType.ERR) for (const x of fds) closeReceivedFd(x);
    this.result(p, i, f.type === MpType.REP ? { ...c.peer, ok: true, data: f.data, fds } : { ...c.peer, ok: false, error: errorOf(f.data) });
    if (p.waiting.size === 0) this.finish(p);
  }

  /** Record target i's result (and tell onReply). */
  private result(p: Pending, i: number, r: MpReply): void {
    p.results[i] = r;
    if (!p.onReply) return;
    try {
      p.onReply(r);
    } catch (e) {
      this.host.log('warning', `message channel: onReply of '${p.name}' threw: ${(e as Error).message}`);
    }
  }

  private finish(p: Pending): void {
    this.settle(p);
    p.resolve(p.results as MpReply[]);
  }

  /** Take p out of the waiting requests (its timer and abort listener too). */
  private settle(p: Pending): void {
    this.pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
  }

  private timedOut(p: Pending, ms: number): void {
    if (this.pending.get(p.id) !== p) return;
    for (const i of p.waiting.values()) {
      const peer = p.peers[i]!;
      this.result(p, i, { ...peer, ok: false, error: new MpdkError('ETIMEDOUT', `${who(peer)} did not answer '${p.name}' within ${ms} ms (it is ${processState(peer.pid)})`) });
    }
    p.waiting.clear();
    this.finish(p);
  }

  /** Fail what waits on peer `peer` with `error`. */
  private failWaiting(peer: MpPeer, error: MpdkError): void {
    for (const p of [...this.pending.values()]) {
      const i = p.waiting.get(peer.pid);
      if (i === undefined) continue;
      p.waiting.delete(peer.pid);
      this.result(p, i, { ...peer, ok: false, error });
      if (p.waiting.size === 0) this.finish(p);
    }
  }

  /** The pidfd says the peer of our connection c died: what waited on it fails now. */
  private peerDied(c: Conn): void {
    if (c.verdict) clearTimeout(c.verdict);
    c.verdict = undefined;
    this.drop(c, new MpdkError('ESRCH', `${who(c.peer)} died`));
  }

  /**
   * c's socket closed (or failed). A killed peer's descriptors close an instant before its
   * pidfd says it died: when requests wait on it, the verdict waits up to CLOSE_VERDICT_MS
   * for that evidence (peerDied) before saying it closed its channel.
   */
  private lost(c: Conn): void {
    if (c.closed) return;
    this.close1(c);
    const waits = c.outgoing && [...this.pending.values()].some((p) => p.waiting.has(c.peer.pid));
    if (!waits) return this.drop(c, undefined);
    if (processLiveness(c.peer.pid, c.start) === Liveness.DEAD) return this.peerDied(c);
    c.verdict = setTimeout(() => {
      c.verdict = undefined;
      const dead = processLiveness(c.peer.pid, c.start) === Liveness.DEAD;
      this.drop(c, dead ? new MpdkError('ESRCH', `${who(c.peer)} died`) : new MpdkError('EPIPE', `${who(c.peer)} closed its message channel (it left the instance)`));
    }, CLOSE_VERDICT_MS);
    c.verdict.unref();
  }

  /** Close c, stop watching its peer, and fail what waited on it with `error` (if given). */
  private drop(c: Conn, error: MpdkError | undefined): void {
    this.close1(c);
    c.unwatch?.();
    c.unwatch = undefined;
    if (error && c.outgoing) this.failWaiting(c.peer, error);
  }

  private close1(c: Conn): void {
    if (c.closed) return;
    c.closed = true;
    c.events.close();
    closeFd(c.fd);
    const lost = c.queue.length;
    for (const q of c.queue) for (const f of q.fds) closeFd(f);
    c.queue.length = 0;
    c.refused.length = 0;
    if (c.outgoing) {
      if (this.out.get(c.peer.pid) === c) this.out.delete(c.peer.pid);
    } else {
      this.incoming.delete(c);
    }
    if (lost > 0) this.undelivered(c, lost);
  }

  /** c closed with `n` messages queued: the drains waiting for them fail, saying why. */
  private undelivered(c: Conn, n: number): void {
    const waiting = this.drains.filter((d) => d.conns.has(c));
    if (waiting.length === 0) return;
    const what = `${n} message${n === 1 ? '' : 's'} queued for ${n === 1 ? 'it was' : 'it were'} not delivered`;
    const error = this.closed
      ? new MpdkError('ENOTCONN', `the message channel of pid ${process.pid} was closed with messages queued for ${who(c.peer)}: ${what}`)
      : processDying(c.peer.pid, c.start) // a killed peer's socket closes inside its exit, before it is a zombie
        ? new MpdkError('ESRCH', `${who(c.peer)} died: ${what}`)
        : new MpdkError('EPIPE', `${who(c.peer)} closed its message channel: ${what}`);
    for (const d of waiting) d.fail(error);
  }

  /** Stop (true) or resume reading the peers' requests and messages (too many handlers running). */
  private pause(on: boolean): void {
    this.paused = on;
    for (const c of this.incoming) c.events.set(!on, c.queue.length > 0);
    if (!on) for (const c of this.incoming) this.read(c);
  }

  /**
   * Is c read now? Our own connections carry only the replies to our requests: always read
   * (a pause that held them back would time out the requests its own handlers await).
   */
  private reads(c: Conn): boolean {
    return c.outgoing || !this.paused;
  }

  /**
   * Remove the sockets dead processes of this instance left (mp-socket.ts: only stale
   * sockets of ours): those of `pid`, or of every pid that names no process ('gone'). For
   * the EAL, when it starts and when it learns of a death.
   */
  removeStale(which: 'gone' | number): string[] {
    return this.closed ? [] : removeStaleMp(this.host.dir, which);
  }

  /**
   * Close the channel: every connection, the socket (removed), every waiting request
   * (rejected ENOTCONN). Idempotent; the EAL calls it when it closes.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.accepting.close();
    for (const c of [...this.out.values(), ...this.incoming]) this.drop(c, undefined);
    for (const p of [...this.pending.values()]) {
      this.settle(p);
      p.reject(new MpdkError('ENOTCONN', `the message channel of pid ${process.pid} was closed while '${p.name}' waited for replies`));
    }
    this.listener.close();
  }
}

/** "pid 4242 (symmetric_mp)". */
function who(p: MpPeer): string {
  return p.program ? `pid ${p.pid} (${p.program})` : `pid ${p.pid}`;
}
