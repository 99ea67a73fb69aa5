/**
 * Being told at once that a process died, with no thread and no CPU spent while nothing
 * dies.
 *
 * Lifeline (the normal way): every process of an instance listens, from Eal.init on, on an
 * abstract Unix socket named after its pid and start time (`holdLifeline`; abstract: no
 * file, the name vanishes with the process). A watcher connects to it and waits for the
 * connection to close: the kernel closes it when the watched process dies, however it dies
 * (SIGKILL included), and libuv's epoll wakes the watcher's event loop at once. Nothing
 * runs in either process until then. Both ends are unref'd: a lifeline never keeps a
 * process alive. The watched process never reads or writes the connection.
 *
 * Fallback: a process that has no lifeline (not an mpdk process, or one still starting)
 * refuses the connection; it is then watched through a pidfd (readable when the process
 * exits) checked by an unref'd 10 ms timer with one non-blocking poll(2), only while such
 * a process is watched.
 *
 * Why no helper thread: a watcher thread blocked in poll(2) delays process exit, and on
 * Node 24 terminating threads at exit is where process.exit() was seen to hang (cli/exit.ts).
 */
import fs from 'node:fs';
import net from 'node:net';
import { pidfdOpen, pollIn, processAlive, processStartTime, START_GONE } from '../native/libc.js';

const TICK_MS = 10;
const MAX_WATCHED = 64;

interface Watched {
  startTime: number;
  /** Lifeline connection, or null when the pidfd fallback watches. */
  sock: net.Socket | null;
  /** pidfd of the fallback (-1 while the lifeline watches). */
  fd: number;
  fns: ((pid: number) => void)[];
}

const watched = new Map<number, Watched>(); // pid -> how it is watched, callbacks
const byFd = new Map<number, number>(); // pidfd -> pid (fallback only)
const scratch = Buffer.alloc(8 * MAX_WATCHED);
const ready: number[] = [];
let timer: NodeJS.Timeout | undefined;
let lifeline: net.Server | undefined;

/** The abstract socket name of process (pid, startTime)'s lifeline. */
export function lifelinePath(pid: number, startTime: number): string {
  return `\0mpdk-lifeline-${pid}-${startTime}`;
}

/**
 * Make this process watchable without polling (idempotent; Eal.init calls it before the
 * process is registered, so a watcher that finds it in the process table can connect).
 */
export function holdLifeline(): void {
  if (lifeline) return;
  const start = processStartTime(process.pid);
  const srv = net.createServer((s) => {
    s.unref();
    // The watcher never writes: its end (it died or stopped watching) is all that can come,
    // and it must close ours, or every watcher that ever was keeps a descriptor here.
    s.on('end', () => s.destroy());
    s.on('error', () => s.destroy());
    s.resume();
  });
  // The name is unique to this process incarnation; should it be refused anyway, watchers
  // fall back to the pidfd.
  srv.on('error', () => {});
  srv.listen(lifelinePath(process.pid, start));
  srv.unref();
  lifeline = srv;
}

function fire(pid: number): void {
  const w = watched.get(pid);
  if (!w) return;
  forget(pid);
  for (const fn of w.fns) fn(pid);
}

function tick(): void {
  if (byFd.size === 0) return;
  pollIn([...byFd.keys()], 0, scratch, ready);
  for (const fd of ready) fire(byFd.get(fd)!);
}

function forget(pid: number): void {
  const w = watched.get(pid);
  if (!w) return;
  watched.delete(pid);
  if (w.sock) {
    w.sock.destroy();
    w.sock = null;
  }
  if (w.fd >= 0) {
    byFd.delete(w.fd);
    fs.closeSync(w.fd);
    w.fd = -1;
  }
  if (byFd.size === 0 && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}

/** Watch `pid` through a pidfd and the timer (no lifeline). False: it is already gone. */
function watchByPidfd(pid: number, w: Watched): boolean {
  const fd = pidfdOpen(pid);
  // The pidfd names one process for ever; check it is the one we mean (pid reuse).
  const st = processStartTime(pid);
  if (fd < 0 || st !== w.startTime) {
    if (fd >= 0) fs.closeSync(fd);
    return false;
  }
  w.fd = fd;
  byFd.set(fd, pid);
  if (!timer) {
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
  return true;
}

/**
 * Call `fn(pid)` once when process (pid, startTime) exits (soon after, if it is already
 * gone or the pid now names another process). startTime 0: the process that has `pid` now.
 * At most 64 processes are watched at a time.
 */
export function watchDeath(pid: number, startTime: number, fn: (pid: number) => void): void {
  const have = watched.get(pid);
  if (have) {
    have.fns.push(fn);
    return;
  }
  if (watched.size >= MAX_WATCHED) throw new RangeError(`at most ${MAX_WATCHED} processes can be watched`);
  const st = processStartTime(pid);
  if (st < 0 || (startTime > 0 && st !== startTime)) {
    queueMicrotask(() => fn(pid));
    return;
  }
  const w: Watched = { startTime: st, sock: null, fd: -1, fns: [fn] };
  watched.set(pid, w);
  const sock = net.connect({ path: lifelinePath(pid, st) });
  w.sock = sock;
  sock.unref();
  sock.on('error', () => {}); // ECONNREFUSED (no lifeline) or ECONNRESET (death): see close
  sock.on('close', () => {
    if (w.sock !== sock) return; // forgotten meanwhile
    w.sock = null;
    // Closed by the kernel at the process's death, or refused: a process without a
    // lifeline (or one not listening yet) is watched through its pidfd instead.
    if (processAlive(pid, st) && watchByPidfd(pid, w)) return;
    fire(pid);
  });
}

/** How the watched processes are watched now (for tests and `mpdk info`). */
export function watchStats(): { lifelines: number; polled: number } {
  let lifelines = 0;
  for (const w of watched.values()) if (w.sock) lifelines++;
  return { lifelines, polled: byFd.size };
}

/** Stop watching `pid` (all its callbacks). */
export function unwatchDeath(pid: number): void {
  forget(pid);
}
