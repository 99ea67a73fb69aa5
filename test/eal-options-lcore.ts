/**
 * An lcore function for test/eal-options.test.ts: enqueues 1..n into ring `ring` (the
 * --in-memory region). It runs in a worker thread of the test's own process, so it must not
 * import exit-first.js (that is for a process's entry script): its exit hook ended the whole
 * test process, status 0, when this worker's loop emptied, and the file's later tests never ran.
 */
import { Ring, type Eal } from '../src/index.js';

export async function main(eal: Eal, arg: { ring: string; n: number }): Promise<number> {
  const ring = Ring.lookup(eal, arg.ring);
  const h = Uint32Array.from({ length: arg.n }, (_, i) => i + 1);
  return ring.enqueueBurst(h, arg.n);
}
