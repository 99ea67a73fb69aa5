/**
 * simple_mp's receiving lcore: awaits messages on its channel (no CPU while none come: the
 * channel's ring doorbell, its thread's event loop free), hands their text to the main
 * thread (which prints them without breaking the prompt) and releases the buffers. The
 * main thread's "stop" message ends it.
 */
import type { MessagePort } from 'node:worker_threads';
import { Channel, type Eal } from '../../index.js';
import { decodeMessage } from './messages.js';

export interface ReceiverArg {
  /** The channel this side receives from. */
  recv: string;
}

export async function main(eal: Eal, arg: ReceiverArg, port: MessagePort): Promise<number> {
  using rx = Channel.lookup(eal, arg.recv).receiver();
  const stop = new AbortController();
  port.on('message', (m) => {
    if (m === 'stop') stop.abort();
  });
  const lcore = eal.lcoreId;
  port.postMessage({ started: lcore });
  let received = 0;
  try {
    for await (const batch of rx.messages({ signal: stop.signal })) {
      const texts: string[] = [];
      for (let i = 0; i < batch.length; i++) texts.push(decodeMessage(batch.bytes(i)));
      batch.release();
      port.postMessage({ lcore, texts });
      received += texts.length;
    }
  } catch (e) {
    if (!stop.signal.aborted) throw e;
  }
  return received;
}
