/**
 * Being told quickly that a process died: one helper thread per process checks pidfds (a
 * pidfd becomes readable when its process exits) with a non-blocking poll(2) every 10 ms and
 * posts each death to the main thread, which calls the callbacks. Death is seen within
 * ~10 ms; the thread sleeps in Atomics.wait between checks (never inside a native call: see
 * deathwatch-worker.ts), so it costs ~100 cheap wake-ups a second and nothing when idle.
 *
 *   main thread                         watcher thread (deathwatch-worker.ts)
 *   watchDeath(pid, start, cb)  ──────▶ list in a SharedArrayBuffer: [count, pid, pid, …]
 *   cb(pid) ◀──────────────────────────  postMessage(pid) when its pidfd is readable, or when
 *                                        it is already gone / is another process (start time)
 * The thread is unref'd: it never keeps a process alive.
 */
import { Worker } from 'node:worker_threads';
import { processStartTime } from '../native/libc.js';

const MAX_WATCHED = 64;
/** [0] = generation (bumped on change), [1] = count, [2..] = pids. */
const shared = new Int32Array(new SharedArrayBuffer(4 * (2 + MAX_WATCHED)));
const callbacks = new Map<number, { start: number; fns: ((pid: number) => void)[] }>();
let worker: Worker | undefined;

function publish(): void {
  const pids = [...callbacks.keys()];
  for (let i = 0; i < pids.length; i++) shared[2 + i] = pids[i]!;
  shared[1] = pids.length;
  Atomics.add(shared, 0, 1);
  Atomics.notify(shared, 0); // wake the watcher to pick up the change at once
}

function onDeath(pid: number): void {
  const entry = callbacks.get(pid);
  if (!entry) return;
  // A pidfd names one process for ever, but the pid we were given may already have been
  // reused when we opened it: check the start time before believing it alive — here it died.
  callbacks.delete(pid);
  publish();
  for (const fn of entry.fns) fn(pid);
}

/**
 * Call `fn(pid)` once when process (pid, startTime) exits (at once if it is already gone
 * or the pid now names another process). At most 64 processes are watched at a time.
 */
export function watchDeath(pid: number, startTime: number, fn: (pid: number) => void): void {
  const st = processStartTime(pid);
  if (st < 0 || (startTime > 0 && st !== startTime)) {
    queueMicrotask(() => fn(pid));
    return;
  }
  const entry = callbacks.get(pid);
  if (entry) {
    entry.fns.push(fn);
    return;
  }
  if (callbacks.size >= MAX_WATCHED) throw new RangeError(`at most ${MAX_WATCHED} processes can be watched`);
  callbacks.set(pid, { start: startTime, fns: [fn] });
  publish();
  if (!worker) {
    worker = new Worker(new URL('./deathwatch-worker.js', import.meta.url), { workerData: { shared } });
    worker.on('message', (pid: number) => onDeath(pid));
    worker.on('error', (e) => process.stderr.write(`EAL: death watcher failed: ${e.message}\n`));
    worker.unref();
  }
}

/** Stop watching `pid` (all its callbacks). */
export function unwatchDeath(pid: number): void {
  if (callbacks.delete(pid)) publish();
}
