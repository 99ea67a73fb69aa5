/** poll(2) on a few descriptors, for idle waits (eal/idle.ts) and control loops (memif). */
import { koffi, libc, NativeError } from './ffi.js';

const c = {
  pollBuf: libc.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
  pollPtr: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
};

export const POLLIN = 1;
export const POLLOUT = 4;
export const POLLERR = 8;
export const POLLHUP = 16;
export const POLLNVAL = 32;
export const POLLRDHUP = 0x2000;

/**
 * poll(2) for POLLIN on `fds` (at most 64), waiting at most `timeoutMs`. Writes into `ready`
 * the descriptors that are readable and returns how many. `scratch` must hold 8 × fds.length bytes.
 */
export function pollIn(fds: readonly number[], timeoutMs: number, scratch: Buffer, ready: number[]): number {
  for (let i = 0; i < fds.length; i++) {
    scratch.writeInt32LE(fds[i]!, i * 8);
    scratch.writeInt16LE(POLLIN, i * 8 + 4);
    scratch.writeInt16LE(0, i * 8 + 6);
  }
  const r = c.pollBuf(scratch, fds.length, timeoutMs) as number;
  ready.length = 0;
  if (r < 0) {
    const e = koffi.errno();
    if (e === 4) return 0; // EINTR
    throw new NativeError('poll', e);
  }
  for (let i = 0; i < fds.length && ready.length < r; i++) if (scratch.readInt16LE(i * 8 + 6) !== 0) ready.push(fds[i]!);
  return ready.length;
}

// pollfds for pollFds, in native memory kept for ever (stable pointer, no per-call allocation).
const POLL_MAX = 64;
const pollPtr = koffi.alloc('uint8_t', POLL_MAX * 8);
const pollAddr = koffi.address(pollPtr);
const pollDv = new DataView(koffi.view(pollPtr, POLL_MAX * 8) as ArrayBuffer);

/**
 * poll(2): `events[i]` for `fds[i]` (at most 64); writes each revents into `revents`
 * and returns how many have one (0 on timeout or EINTR).
 */
export function pollFds(fds: ArrayLike<number>, events: ArrayLike<number>, n: number, timeoutMs: number, revents: Int16Array): number {
  if (n > POLL_MAX) throw new RangeError(`poll: at most ${POLL_MAX} descriptors`);
  for (let i = 0; i < n; i++) {
    pollDv.setInt32(i * 8, fds[i]!, true);
    pollDv.setInt16(i * 8 + 4, events[i]!, true);
    pollDv.setInt16(i * 8 + 6, 0, true);
  }
  const r = c.pollPtr(pollAddr, n, timeoutMs) as number;
  if (r < 0) {
    const e = koffi.errno();
    if (e === 4) return 0;
    throw new NativeError('poll', e);
  }
  for (let i = 0; i < n; i++) revents[i] = pollDv.getInt16(i * 8 + 6, true);
  return r;
}

/** The handle koffi.node.poll returns. */
interface PollHandle {
  start(events: { readable?: boolean; writable?: boolean; disconnect?: boolean }, cb: (ev: never) => void): void;
  stop(): void;
  close(): void;
  unref(): void;
}

/** Every poll handle not yet closed; closed when the process exits (watchExit). */
const polled = new Set<PollHandle>();
let exitHooked = false;

/**
 * koffi.node.poll, with the handle closed at process exit if its owner has not closed it:
 * a handle still polled while Node tears the event loop down (its last uv_run, closing its
 * own handles) is called back then, when no JavaScript can run, and koffi's failed call
 * aborts the process ("FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw": seen in
 * l2fwd_fork's standby slaves whose master was killed, their pidfd readable as they exited).
 * Close it with `closePoll`.
 */
export function pollFd(fd: number, events: { readable?: boolean; writable?: boolean; disconnect?: boolean }, cb: (...a: never[]) => void): PollHandle {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const h of polled) h.close();
      polled.clear();
    });
  }
  const h = koffi.node.poll(fd, events, cb as never) as unknown as PollHandle;
  polled.add(h);
  return h;
}

/** Close a handle of `pollFd`. */
export function closePoll(h: PollHandle): void {
  if (polled.delete(h)) h.close();
}

/**
 * Resolve once descriptor `fd` is readable (POLLIN, or an error / hang-up on it), watched by
 * the event loop's own epoll (koffi.node.poll): no thread and no timer while it waits. The
 * watch holds the event loop alive and is closed when it fires or `cancel` is called; `fd`
 * stays the caller's.
 */
export function whenReadable(fd: number): { ready: Promise<void>; cancel(): void } {
  let done = false;
  let h: PollHandle | undefined;
  let resolve!: () => void;
  const ready = new Promise<void>((r) => (resolve = r));
  const cancel = (): void => {
    if (done) return;
    done = true;
    if (h) closePoll(h);
  };
  h = pollFd(fd, { readable: true }, () => {
    if (done) return;
    cancel();
    resolve();
  });
  return { ready, cancel };
}

/** A descriptor watched by the event loop (`watchReadable`). */
export interface FdWatch {
  /** Stop watching (the descriptor stays open: its owner closes it). Idempotent. */
  close(): void;
}

/**
 * Call `fn` from the event loop whenever `fd` is readable (level-triggered: again on the
 * next loop turn while it stays readable), through libuv's own epoll (koffi.node.poll): no
 * thread, no timer. The watch is unref'd: it never keeps the process alive.
 */
export function watchReadable(fd: number, fn: () => void): FdWatch {
  let on = true;
  const h = pollFd(fd, { readable: true, disconnect: true }, () => {
    if (on) fn();
  });
  h.unref();
  return {
    close(): void {
      if (!on) return;
      on = false;
      closePoll(h);
    },
  };
}

/** A descriptor watched for input and, on demand, for room to write (`watchFd`). */
export interface FdEvents {
  /** What to watch from now on: input (and hang-up), room to write; neither pauses the watch. */
  set(read: boolean, write: boolean): void;
  /** Stop watching (the descriptor stays open). Idempotent. */
  close(): void;
}

/**
 * Call `fn(readable, writable)` from the event loop whenever `fd` is readable (or hung up)
 * and, after `set(read, true)`, writable (level-triggered; koffi.node.poll on libuv's epoll:
 * no thread, no timer). Starts watching input only. Unref'd: it never keeps the process alive.
 */
export function watchFd(fd: number, fn: (readable: boolean, writable: boolean) => void): FdEvents {
  let open = true;
  let read = true;
  let write = false;
  // libuv calls back with (status, events), whatever koffi's typings say; a failed poll
  // (status < 0) is reported as readable, so that the read shows the error.
  type Events = { readable: boolean; writable: boolean; disconnect: boolean };
  const cb = ((status: number, ev: Events | undefined): void => {
    if (open) fn(status < 0 || ev === undefined || ev.readable || ev.disconnect, ev?.writable === true);
  }) as unknown as (ev: Events) => void;
  const h = pollFd(fd, { readable: true, disconnect: true }, cb);
  h.unref();
  return {
    set(r: boolean, w: boolean): void {
      if (!open || (r === read && w === write)) return;
      read = r;
      write = w;
      h.stop();
      if (r || w) h.start({ readable: r, writable: w, disconnect: r }, cb);
    },
    close(): void {
      if (!open) return;
      open = false;
      closePoll(h);
    },
  };
}
