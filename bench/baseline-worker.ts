/**
 * The far end of the worker_threads baseline (bench/baselines.ts), run as a worker thread of
 * the bench process. The main thread postMessage()s 64-byte strings (one per message, or an
 * array of them per message in the batched variant); this thread counts them and posts the
 * running count back every ACK_EVERY messages, which is the main thread's flow control. On
 * {stop: true} it posts {count, sum}. No shared memory.
 */
import { parentPort } from 'node:worker_threads';
import { ACK_EVERY } from './baselines.js';

const port = parentPort;
if (!port) throw new Error('baseline-worker.js runs only as a worker thread (new Worker(...))');

let count = 0;
let sum = 0;
let nextAck = ACK_EVERY;
port.on('message', (m: unknown) => {
  if (typeof m === 'string') {
    count++;
    sum += m.length;
  } else if (m instanceof Uint8Array) {
    count++;
    sum += m.byteLength;
  } else if (Array.isArray(m)) {
    for (let i = 0; i < m.length; i++) sum += (m[i] as string).length;
    count += m.length;
  } else {
    port.postMessage({ count, sum });
    return;
  }
  if (count >= nextAck) {
    nextAck += ACK_EVERY;
    port.postMessage(count);
  }
});
