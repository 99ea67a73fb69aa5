/**
 * Node's own ways to move 64-byte messages between two processes (or two threads), measured
 * in the same run as mpdk's figures so that a ratio means something on this machine:
 *
 *   figure                                    parent / main thread           far end
 *   baseline.child_process.msgs               fork() + send() of strings     baseline-child.js ipc: counts
 *   baseline.uds_batched.msgs                 net.Server, parses frames      baseline-child.js uds: writes
 *                                                                            32 frames per write()
 *   baseline.worker_postmessage.msgs          postMessage() one string each  baseline-worker.js: counts
 *   baseline.worker_postmessage_batch32.msgs  postMessage() arrays of 32     baseline-worker.js: counts
 *   baseline.worker_wake.wake_p50_us / p99    postMessage(i) to an idle worker wake-worker.js: time from
 *                                             every 2 ms                     the post to its handler
 *   baseline.{child_process,uds,worker_postmessage}.bytes64k
 *                                             the same three ways with 64 KiB messages (a string
 *                                             for send(), one frame per write(), a Uint8Array
 *                                             for postMessage, copied by its structured clone): GB/s
 *
 * Each figure is M messages/s over ~MEASURE_MS of steady sending (after the far end is up),
 * counted at the receiver: a message counts once the receiving side has seen it, and the run
 * fails unless the receiver saw exactly what the sender sent (counts and bytes compared).
 * Flow control is each mechanism's own: send()'s callback every IPC_BATCH messages, write()'s
 * return value and 'drain'; postMessage has none, so the worker acknowledges every ACK_EVERY
 * messages and the main thread keeps at most two windows in flight. No shared memory.
 *
 * The Unix-socket writer builds each 32-frame batch in a fresh buffer (header, 64-byte copy,
 * sequence number), as an application would: on this 2-core EPYC that gives 5-7.7 M msgs/s;
 * re-sending one prebuilt buffer gives ~10-11 M/s, the writer's build costs ~55 ns/message.
 * Measured here (idle-ish machine): send() 0.29-0.36 M/s, postMessage 0.74-0.76 M/s one string
 * per message, 5.4-7.7 M/s arrays of 32.
 *
 * Child processes and workers are ended in every path: a `finally` kills (SIGKILL) and reaps
 * what is still running, each measurement has a deadline, and an 'exit' hook kills any child
 * a crashed run left behind. The Unix socket lives at /tmp/mpdk-bench-<pid>-<n>.sock and is
 * removed afterwards.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Bench } from './harness.js';

/** Bytes of one message (a frame is a u32 little-endian length, then the payload). */
export const MSG_BYTES = 64;
/** Frames per write() in the batched Unix-socket baseline. */
export const FRAMES_PER_WRITE = 32;
/** The worker acknowledges its running count every ACK_EVERY messages (a multiple of 32). */
export const ACK_EVERY = 8192;

/** Length of the steady sending phase of each baseline. */
const MEASURE_MS = 1500;
/** A baseline that has not finished by then is abandoned (its far end killed). */
const DEADLINE_MS = MEASURE_MS + 6000;

const CHILD_JS = new URL('./baseline-child.js', import.meta.url);
const WORKER_JS = new URL('./baseline-worker.js', import.meta.url);

/** A 64-character string (one byte per character in the IPC's JSON and in postMessage). */
const MSG = 'm'.repeat(MSG_BYTES);

// ---- child bookkeeping -------------------------------------------------------------------

const live = new Set<ChildProcess>();
/** Socket files in use, removed by the exit hook if a run is cut short. */
const sockets = new Set<string>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const s of sockets) fs.rmSync(s, { force: true });
  });
}

/** fork() a baseline child; `exited` resolves when it is gone (whatever the path). */
function forkChild(args: string[]): { child: ChildProcess; exited: Promise<void> } {
  installExitHook();
  const child = fork(CHILD_JS, args, {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'json',
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
    // 'error' also reports send() on a closed channel (the child died): the caller sees
    // that through `child.connected`; a failed spawn emits 'error' and maybe no 'exit'.
    child.on('error', () => {
      if (child.pid === undefined) {
        live.delete(child);
        resolve();
      }
    });
  });
  return { child, exited };
}

/** Kill (if still running) and wait for the exit, at most 2 s. */
async function reap(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.race([exited, sleep(2000)]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `p`, or a rejection naming `what` after `ms`. */
function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms (far end killed)`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** The next message from `child` that satisfies `pick`, or a rejection if it exits first. */
function nextMessage<T>(child: ChildProcess, pick: (m: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: unknown): void => {
      const v = pick(m);
      if (v === undefined) return;
      off();
      resolve(v);
    };
    // 'close', not 'exit': it comes after the IPC channel has delivered its last message.
    const onClose = (code: number | null, sig: string | null): void => {
      off();
      reject(new Error(`baseline child exited (${sig ?? code}) before answering`));
    };
    const off = (): void => {
      child.off('message', onMsg);
      child.off('close', onClose);
    };
    child.on('message', onMsg);
    child.on('close', onClose);
  });
}

const toMps = (count: number, ms: number): number => count / ms / 1000;

// ---- child_process.fork + send() ---------------------------------------------------------

/** Messages sent between waits for send()'s callback (the pipe's flow control). */
const IPC_BATCH = 1000;

/** M messages/s of `size`-character strings through send() (GB/s when `gbps`). */
async function childProcessSend(size = MSG_BYTES, batch = IPC_BATCH, gbps = false): Promise<number> {
  const msg = size === MSG_BYTES ? MSG : 'm'.repeat(size);
  const { child, exited } = forkChild(['ipc']);
  try {
    return await withDeadline((async () => {
      await nextMessage(child, (m) => ((m as { ready?: boolean })?.ready ? true : undefined));
      let sent = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < MEASURE_MS) {
        if (!child.connected) throw new Error('the child closed its IPC channel (died?) while receiving');
        for (let i = 1; i < batch; i++) child.send(msg);
        // Wait until the last one has been handed to the pipe: at most one batch queued in Node.
        await new Promise<void>((resolve, reject) => child.send(msg, (e) => (e ? reject(e) : resolve())));
        sent += batch;
      }
      const reply = nextMessage(child, (m) => (typeof (m as { count?: number })?.count === 'number' ? (m as { count: number; sum: number }) : undefined));
      reply.catch(() => {}); // awaited below; send() may throw first
      child.send({ stop: true });
      const { count, sum } = await reply;
      const ms = performance.now() - t0;
      if (count !== sent || sum !== sent * size) throw new Error(`child counted ${count} messages (${sum} bytes), ${sent} were sent`);
      return gbps ? (sum / ms) * 1e-6 : toMps(count, ms);
    })(), DEADLINE_MS, 'baseline.child_process');
  } finally {
    await reap(child, exited);
  }
}

// ---- Unix domain socket, 32 length-prefixed frames per write() ---------------------------

let sockSeq = 0;

/** M messages/s of `size`-byte frames, `perWrite` per write() (GB/s when `gbps`). */
async function udsBatched(size = MSG_BYTES, perWrite = FRAMES_PER_WRITE, gbps = false): Promise<number> {
  const frameBytes = 4 + size;
  const sockPath = path.join(os.tmpdir(), `mpdk-bench-${process.pid}-${sockSeq++}.sock`);
  installExitHook();
  sockets.add(sockPath);
  fs.rmSync(sockPath, { force: true });
  let count = 0;
  let sum = 0;
  let t0 = 0;
  let t1 = 0;
  /** A frame split between two chunks is stitched here; `carried` bytes of it are in. */
  const carry = Buffer.alloc(frameBytes);
  let carried = 0;
  let bad = '';
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  /** Count one frame at `off` of `b` (whole frame present); false if it is malformed. */
  const frame = (b: Buffer, off: number): boolean => {
    const n = b.readUInt32LE(off);
    if (n !== size) {
      bad = `malformed stream: a frame of ${n} bytes at message ${count}`;
      return false;
    }
    sum += b[off + 4 + n - 1]; // touch the payload's last byte
    count++;
    return true;
  };
  /** Count every complete frame in `chunk`, finishing the frame the last chunk left open. */
  const parse = (chunk: Buffer): void => {
    if (t0 === 0) t0 = performance.now();
    if (bad) return;
    const len = chunk.length;
    let off = 0;
    if (carried > 0) {
      off = Math.min(frameBytes - carried, len);
      chunk.copy(carry, carried, 0, off);
      carried += off;
      if (carried < frameBytes) return;
      carried = 0;
      if (!frame(carry, 0)) return;
    }
    while (off + frameBytes <= len) {
      if (!frame(chunk, off)) return;
      off += frameBytes;
    }
    if (off < len) {
      chunk.copy(carry, 0, off, len);
      carried = len - off;
    }
  };
  const conns = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.on('data', parse);
    sock.on('end', () => {
      t1 = performance.now();
      done();
    });
    sock.on('error', (e) => {
      bad ||= `stream broke: ${e.message}`;
      done();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sockPath, () => resolve());
  });
  const { child, exited } = forkChild(['uds', sockPath, String(MEASURE_MS), String(size), String(perWrite)]);
  // The writer reports how many frames it wrote; a writer that dies reports nothing (the
  // report's promise rejects on its exit) and its stream still ends with a plain EOF.
  const report = nextMessage(child, (m) => (typeof (m as { sent?: number })?.sent === 'number' ? (m as { sent: number }).sent : undefined));
  report.catch(() => {}); // awaited below, after the stream
  try {
    const sent = await withDeadline(finished.then(() => report), DEADLINE_MS, 'baseline.uds_batched.msgs');
    if (bad) throw new Error(bad);
    if (count !== sent) throw new Error(`the reader parsed ${count} frames, the writer wrote ${sent}`);
    if (count === 0 || t1 <= t0) throw new Error('the writer sent nothing');
    if (carried > 0) throw new Error(`stream ended inside a frame (${carried} bytes left)`);
    if (sum !== count * 0x61) throw new Error('payload bytes differ from what was written');
    return gbps ? ((count * size) / (t1 - t0)) * 1e-6 : toMps(count, t1 - t0);
  } finally {
    await reap(child, exited);
    for (const c of conns) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(sockPath, { force: true });
    sockets.delete(sockPath);
  }
}

// ---- worker_threads postMessage ----------------------------------------------------------

/**
 * M messages/s of 64-byte strings posted one at a time or in arrays of `batch`; with
 * `bytes`, GB/s of Uint8Arrays of that size posted one at a time.
 */
async function workerPostMessage(batch: number, bytes = 0): Promise<number> {
  const size = bytes || MSG_BYTES;
  const blob = bytes ? new Uint8Array(bytes).fill(0x61) : undefined;
  const worker = new Worker(WORKER_JS);
  let acked = 0;
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  let final: { count: number; sum: number } | null = null;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  worker.on('message', (m: unknown) => {
    if (typeof m === 'number') acked = m;
    else final = m as { count: number; sum: number };
    poke();
  });
  worker.on('error', (e) => {
    failure = e;
    poke();
  });
  worker.on('exit', (code) => {
    failure ??= new Error(`worker exited (${code}) before answering`);
    poke();
  });
  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) {
      if (failure) throw failure;
      await new Promise<void>((r) => (wake = r));
    }
  };
  const arr: string[] = new Array(batch).fill(MSG);
  try {
    return await withDeadline((async () => {
      await new Promise<void>((resolve, reject) => {
        worker.once('online', resolve);
        worker.once('error', reject);
      });
      let sent = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < MEASURE_MS) {
        if (blob) for (let i = 0; i < ACK_EVERY; i++) worker.postMessage(blob);
        else if (batch === 1) for (let i = 0; i < ACK_EVERY; i++) worker.postMessage(MSG);
        else for (let i = 0; i < ACK_EVERY; i += batch) worker.postMessage(arr);
        sent += ACK_EVERY;
        // At most two windows in flight: postMessage has no back-pressure of its own.
        await until(() => sent - acked <= ACK_EVERY);
      }
      worker.postMessage({ stop: true });
      await until(() => final !== null);
      const ms = performance.now() - t0;
      const { count, sum } = final!;
      if (count !== sent || sum !== sent * size) throw new Error(`worker counted ${count} messages (${sum} bytes), ${sent} were sent`);
      return bytes ? (sum / ms) * 1e-6 : toMps(count, ms);
    })(), DEADLINE_MS, 'baseline.worker_postmessage');
  } finally {
    await worker.terminate();
  }
}

// ---- worker_threads wake-up latency -------------------------------------------------------

const WAKES = 300;

/** Time from postMessage to the handler of a worker idle in its event loop (p50, p99 µs). */
async function workerWake(): Promise<Record<string, number>> {
  const sab = new SharedArrayBuffer(8 * (1 + WAKES));
  const f64 = new Float64Array(sab);
  f64.fill(-1);
  const worker = new Worker(new URL('./wake-worker.js', import.meta.url), { workerData: sab });
  try {
    return await withDeadline((async () => {
      await new Promise<void>((resolve, reject) => {
        worker.once('online', resolve);
        worker.once('error', reject);
      });
      await sleep(50);
      for (let i = 0; i < WAKES; i++) {
        await sleep(2); // long enough for the worker to be asleep in epoll
        f64[0] = Number(process.hrtime.bigint());
        worker.postMessage(i);
        const end = Date.now() + 1000;
        while (f64[1 + i]! < 0 && Date.now() < end) await sleep(0);
      }
      const got = Array.from(f64.subarray(1)).filter((v) => v >= 0).sort((a, b) => a - b);
      if (got.length < WAKES / 2) throw new Error(`only ${got.length} of ${WAKES} wake-ups seen`);
      const pct = (p: number): number => got[Math.min(got.length - 1, Math.floor((got.length * p) / 100))]! / 1000;
      return { 'baseline.worker_wake.wake_p50_us': pct(50), 'baseline.worker_wake.wake_p99_us': pct(99) };
    })(), DEADLINE_MS, 'baseline.worker_wake');
  } finally {
    await worker.terminate();
  }
}

// ---- registry ----------------------------------------------------------------------------

export const benches: Bench[] = [
  {
    name: 'baseline.child_process.msgs',
    unit: 'M msgs/s',
    what: 'child_process.fork IPC send() of 64-byte strings, parent -> child (JSON serialization)',
    run: childProcessSend,
  },
  {
    name: 'baseline.uds_batched.msgs',
    unit: 'M msgs/s',
    baseline: 'baseline.child_process.msgs',
    what: 'Unix domain socket between two processes, 32 length-prefixed 64-byte frames per write(), reader parses frames',
    run: udsBatched,
  },
  {
    name: 'baseline.worker_postmessage.msgs',
    unit: 'M msgs/s',
    baseline: 'baseline.child_process.msgs',
    what: 'worker_threads postMessage() of one 64-byte string per message, main thread -> worker (one process)',
    run: () => workerPostMessage(1),
  },
  {
    name: 'baseline.worker_postmessage_batch32.msgs',
    unit: 'M msgs/s',
    baseline: 'baseline.child_process.msgs',
    what: 'worker_threads postMessage() of arrays of 32 64-byte strings, main thread -> worker (one process)',
    run: () => workerPostMessage(32),
  },
  {
    name: 'baseline.child_process.bytes64k',
    unit: 'GB/s',
    what: 'child_process.fork IPC send() of 64 KiB strings, parent -> child',
    run: () => childProcessSend(65536, 16, true),
  },
  {
    name: 'baseline.uds.bytes64k',
    unit: 'GB/s',
    what: 'Unix domain socket between two processes, one length-prefixed 64 KiB frame per write(), reader parses frames',
    run: () => udsBatched(65536, 1, true),
  },
  {
    name: 'baseline.worker_postmessage.bytes64k',
    unit: 'GB/s',
    what: 'worker_threads postMessage() of a 64 KiB Uint8Array (structured clone: a copy), main thread -> worker',
    run: () => workerPostMessage(1, 65536),
  },
  {
    name: 'baseline.worker_wake',
    unit: 'us',
    what: 'worker_threads postMessage() to a worker idle in its event loop: time to its handler (p50, p99)',
    run: workerWake,
  },
];
