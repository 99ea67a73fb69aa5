/**
 * The far end of the Node baselines (bench/baselines.ts), run as a separate process:
 *
 *   node dist/bench/baseline-child.js ipc                  forked with an IPC channel: counts the
 *        64-byte strings the parent send()s; on {stop: true} replies {count, sum} and exits.
 *   node dist/bench/baseline-child.js uds PATH MS [SIZE FRAMES]  connects to the Unix socket PATH and writes
 *        FRAMES (32) length-prefixed SIZE-byte (64) frames per write() for MS milliseconds (waiting for 'drain'
 *        whenever write() says the socket buffer is full), then ends the stream, reports
 *        {sent} over the IPC channel fork() gave it, and exits.
 *
 * Nothing here touches shared memory. The child never outlives its work: it exits when the
 * IPC channel or the socket closes, and a hard timer (unref'd) ends it if the parent hangs.
 */
import net from 'node:net';
import { FRAMES_PER_WRITE, MSG_BYTES } from './baselines.js';

const HARD_LIMIT_MS = 30_000;

function ipcMode(): void {
  if (!process.send) {
    process.stderr.write('baseline-child ipc: no IPC channel (start it with child_process.fork)\n');
    process.exit(2);
  }
  let count = 0;
  let sum = 0;
  process.on('message', (m: unknown) => {
    if (typeof m === 'string') {
      count++;
      sum += m.length;
      return;
    }
    // Messages arrive in order, so every string sent before {stop} has been counted.
    process.send!({ count, sum }, () => process.disconnect());
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}

function udsMode(path: string, ms: number, size = MSG_BYTES, perWrite = FRAMES_PER_WRITE): void {
  const msg = Buffer.alloc(size, 0x61);
  const frameBytes = 4 + size;
  let seq = 0;
  const sock = net.createConnection(path);
  let deadline = 0;
  const pump = (): void => {
    while (Date.now() < deadline) {
      // A fresh buffer per write: the socket may hold it until the kernel takes the bytes.
      const b = Buffer.allocUnsafe(perWrite * frameBytes);
      // Byte stores and TypedArray.set: about twice as fast here as writeUInt32LE + Buffer.copy.
      for (let i = 0, o = 0; i < perWrite; i++, o += frameBytes) {
        b[o] = size; // u32 LE length
        b[o + 1] = size >>> 8;
        b[o + 2] = size >>> 16;
        b[o + 3] = size >>> 24;
        b.set(msg, o + 4);
        const s = seq++; // the first 4 payload bytes carry a sequence number
        b[o + 4] = s;
        b[o + 5] = s >>> 8;
        b[o + 6] = s >>> 16;
        b[o + 7] = s >>> 24;
      }
      if (!sock.write(b)) {
        sock.once('drain', pump);
        return;
      }
    }
    sock.end();
  };
  sock.on('connect', () => {
    deadline = Date.now() + ms;
    pump();
  });
  sock.on('error', (e) => {
    process.stderr.write(`baseline-child uds: ${e.message}\n`);
    process.exit(1);
  });
  // Report how many frames were written, so that the reader can tell a complete stream from
  // one cut short by a dead writer (both end with EOF).
  sock.on('close', () => {
    if (process.send) process.send({ sent: seq }, () => process.exit(0));
    else process.exit(0);
  });
}

setTimeout(() => process.exit(3), HARD_LIMIT_MS).unref();
const [mode, a1, a2, a3, a4] = process.argv.slice(2);
if (mode === 'ipc') ipcMode();
else if (mode === 'uds' && a1 && Number(a2) > 0) udsMode(a1, Number(a2), a3 ? Number(a3) : undefined, a4 ? Number(a4) : undefined);
else {
  process.stderr.write('usage: baseline-child.js ipc | uds SOCKET_PATH MILLISECONDS\n');
  process.exit(2);
}
