/** A lcore function for test/options.test.ts: logs one warning through its Eal, returns its lcore. */
import type { Eal } from '../src/index.js';

export async function main(eal: Eal): Promise<number> {
  eal.log('warning', `hello from lcore ${eal.lcoreId}`);
  return eal.lcoreId;
}
