/**
 * The far end of baseline.worker_wake (bench/baselines.ts): a worker thread idle in its
 * event loop; for each message i from the main thread it stores (now - T0) in SAMPLES[i],
 * T0 being the time the main thread stored just before postMessage (monotonic clock, ns).
 * Shared words: f64[0] T0, f64[1 + i] sample i (ns); -1 until written.
 */
import { parentPort, workerData } from 'node:worker_threads';

const f64 = new Float64Array(workerData as SharedArrayBuffer);
parentPort!.on('message', (i: number) => {
  if (i < 0) {
    parentPort!.close();
    return;
  }
  f64[1 + i] = Number(process.hrtime.bigint()) - f64[0]!;
});
