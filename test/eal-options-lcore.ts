/** An lcore function for test/eal-options.test.ts: enqueues 1..n into ring `ring` (the --in-memory region). */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Ring, type Eal } from '../src/index.js';

export async function main(eal: Eal, arg: { ring: string; n: number }): Promise<number> {
  const ring = Ring.lookup(eal, arg.ring);
  const h = Uint32Array.from({ length: arg.n }, (_, i) => i + 1);
  return ring.enqueueBurst(h, arg.n);
}
