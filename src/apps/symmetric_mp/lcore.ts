/**
 * symmetric_mp on a worker lcore (DPDK runs lcore_main on every lcore of the process, each
 * on its own port pairs: forwarder.ts assignPairs). Launched by main.ts with remoteLaunch;
 * the worker maps the region itself, claims queue proc-id of its ports for its own lcore,
 * posts {ready} (or fails, and main.ts reports it), and forwards until the stop word is set.
 *
 *   shared with the main thread (SharedArrayBuffers, not the region)
 *     stop    Int32Array[1]: main writes 1 to stop; the worker reads it between slices
 *     stats   Float64Array, 3 per port of the whole -p list; this worker writes only the
 *             entries of its own ports (start*3 .. (start+count)*3), main reads them
 *
 * On stop the worker frees what its record holds, releases its queue claims (EthDev.close)
 * and returns; if it is killed with the process, its claims die with the pid and the next
 * process with this proc-id takes them over, after reclaiming what the record held.
 */
import type { MessagePort } from 'node:worker_threads';
import { EthDev, Hands, IdlePolicy, type Eal, type IdleMode } from '../../index.js';
import { Forwarder, PKT_BURST, bindQueues } from './forwarder.js';

export interface LcoreArg {
  pool: string;
  /** Every port of -p, ascending; this lcore serves ports[start .. start + count). */
  ports: number[];
  start: number;
  count: number;
  procId: number;
  numProcs: number;
  idle: IdleMode;
  stop: SharedArrayBuffer;
  stats: SharedArrayBuffer;
}

const SLICE_MS = 50;

export async function main(eal: Eal, arg: LcoreArg, port: MessagePort): Promise<number> {
  const dev = EthDev.attach(eal);
  const mine = arg.ports.slice(arg.start, arg.start + arg.count);
  let hands: Hands | undefined;
  try {
    bindQueues(dev, mine, arg.procId, arg.numProcs);
    hands = Hands.open(eal, `symmetric_mp:${arg.procId}:${eal.lcoreId}`, 1, PKT_BURST);
    const stats = new Float64Array(arg.stats, arg.start * 3 * 8, arg.count * 3);
    const fwd = new Forwarder(hands, dev, mine, arg.procId, stats);
    const idle = new IdlePolicy({ mode: arg.idle, wake: fwd.rxQueues }); // interrupt mode where the driver has it (memif)
    const stop = new Int32Array(arg.stop);
    port.postMessage({ ready: eal.lcoreId });
    while (Atomics.load(stop, 0) === 0) fwd.run(idle, performance.now() + SLICE_MS);
    return 0;
  } finally {
    hands?.close();
    dev.close();
  }
}
