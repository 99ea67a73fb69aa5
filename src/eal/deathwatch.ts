/**
 * Being told quickly that a process died, without a thread and without reading /proc in a
 * loop: each watched process gets a pidfd (it becomes readable when the process exits), and
 * an unref'd 10 ms timer on the main thread checks them all with one non-blocking poll(2)
 * (one ~1 µs native call per tick, only while something is watched). A death is seen within
 * ~10 ms whenever the event loop is free.
 *
 * Why no helper thread: a watcher thread blocked in poll(2) delays process exit, and on
 * Node 24 terminating threads at exit is where process.exit() was seen to hang (cli/exit.ts).
 */
import fs from 'node:fs';
import { pidfdOpen, pollIn, processStartTime } from '../native/libc.js';

const TICK_MS = 10;
const MAX_WATCHED = 64;

interface Watched {
  fd: number;
  fns: ((pid: number) => void)[];
}

const watched = new Map<number, Watched>(); // pid -> its pidfd and callbacks
const byFd = new Map<number, number>(); // pidfd -> pid
const scratch = Buffer.alloc(8 * MAX_WATCHED);
const ready: number[] = [];
let timer: NodeJS.Timeout | undefined;

function tick(): void {
  if (byFd.size === 0) return;
  pollIn([...byFd.keys()], 0, scratch, ready);
  for (const fd of ready) {
    const pid = byFd.get(fd)!;
    const w = watched.get(pid)!;
    forget(pid);
    for (const fn of w.fns) fn(pid);
  }
}

function forget(pid: number): void {
  const w = watched.get(pid);
  if (!w) return;
  watched.delete(pid);
  byFd.delete(w.fd);
  fs.closeSync(w.fd);
  if (watched.size === 0 && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}

/**
 * Call `fn(pid)` once when process (pid, startTime) exits (at once if it is already gone
 * or the pid now names another process). At most 64 processes are watched at a time.
 */
export function watchDeath(pid: number, startTime: number, fn: (pid: number) => void): void {
  const have = watched.get(pid);
  if (have) {
    have.fns.push(fn);
    return;
  }
  if (watched.size >= MAX_WATCHED) throw new RangeError(`at most ${MAX_WATCHED} processes can be watched`);
  const fd = pidfdOpen(pid);
  // The pidfd names one process for ever; check it is the one we mean (pid reuse).
  const st = processStartTime(pid);
  if (fd < 0 || st < 0 || (startTime > 0 && st !== startTime)) {
    if (fd >= 0) fs.closeSync(fd);
    queueMicrotask(() => fn(pid));
    return;
  }
  watched.set(pid, { fd, fns: [fn] });
  byFd.set(fd, pid);
  if (!timer) {
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
}

/** Stop watching `pid` (all its callbacks). */
export function unwatchDeath(pid: number): void {
  forget(pid);
}
