/** An lcore function for the launch test: reports the lcore it ran as and the CPU it was allowed. */
import type { Eal } from '../src/index.js';

export async function main(eal: Eal, arg: { add: number }): Promise<{ lcore: number; value: number; pid: number }> {
  return { lcore: eal.lcoreId, value: eal.lcoreId + arg.add, pid: process.pid };
}
