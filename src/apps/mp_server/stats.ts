/**
 * mp_server's statistics lcore (DPDK's sleep_lcore + do_stats_display): every period it
 * reads the port-info memzone (per-port rx written by the RX lcore, per-client rx/rx_drop
 * written by the RX lcore, per-client tx/tx_drop written by the clients) and prints the
 * PORTS / CLIENTS block. It writes stdout with fs.writeSync (the main thread is busy
 * forwarding and its event loop runs only between slices). It only reads shared memory.
 */
import fs from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import type { Eal } from '../../index.js';
import { PortInfoView } from './common.js';

export interface StatsArg {
  /** Int32Array over it: [0] = 1 asks the lcore to stop. */
  stop: SharedArrayBuffer;
  /** Port id → printable MAC. */
  macs: Record<number, string>;
  /** Clear the screen before each block (stdout is a terminal), as DPDK does. */
  clear: boolean;
  periodMs: number;
}

export async function main(eal: Eal, arg: StatsArg, _port: MessagePort): Promise<number> {
  const stop = new Int32Array(arg.stop);
  const info = PortInfoView.lookup(eal);
  fs.writeSync(1, `Core ${eal.lcoreId} displaying statistics\n`);
  let blocks = 0;
  while (Atomics.wait(stop, 0, 0, arg.periodMs) === 'timed-out') {
    const text = info.format((p) => arg.macs[p] ?? '?');
    fs.writeSync(1, (arg.clear ? '\x1b[2J\x1b[1;1H' : '\n') + text);
    blocks++;
  }
  return blocks;
}
