/**
 * simple_mp's receiving lcore: takes messages off the receive ring, hands their text to
 * the main thread (which prints them without breaking the prompt) and returns the
 * buffers to the pool. It sleeps on the ring's doorbell while nothing arrives, so an
 * idle simple_mp uses no CPU, and stops when the main thread sets the stop word.
 */
import type { MessagePort } from 'node:worker_threads';
import { Eal, Mempool, Ring } from '../../index.js';
import { readMessage } from './messages.js';

export interface ReceiverArg {
  recvRing: string;
  pool: string;
  /** Int32Array over a SharedArrayBuffer: [0] = 1 asks the receiver to stop. */
  stop: SharedArrayBuffer;
}

const BURST = 32;

export async function main(eal: Eal, arg: ReceiverArg, port: MessagePort): Promise<number> {
  const ring = Ring.lookup(eal, arg.recvRing);
  const pool = Mempool.lookup(eal, arg.pool);
  const stop = new Int32Array(arg.stop);
  const handles = new Uint32Array(BURST);
  const u8 = eal.region.u8;
  const lcore = eal.lcoreId;
  port.postMessage({ started: lcore });
  let received = 0;
  while (Atomics.load(stop, 0) === 0) {
    const n = ring.waitDequeueBurst(handles, BURST, 100);
    if (n === 0) continue;
    const texts: string[] = [];
    for (let i = 0; i < n; i++) texts.push(readMessage(u8, handles[i]!));
    pool.putBulk(handles, n);
    port.postMessage({ lcore, texts });
    received += n;
  }
  return received;
}
