/** Thread entry of a worker lcore (see launch.ts): attach, pin, call the function. */
import { workerData, parentPort, type MessagePort } from 'node:worker_threads';
import { Eal, type WorkerHandoff } from './eal.js';

interface Data {
  handoff: WorkerHandoff;
  module: string;
  exportName: string;
  arg: unknown;
  port: MessagePort;
}

const data = workerData as Data;
try {
  const eal = Eal.attachWorker(data.handoff);
  const mod = (await import(data.module)) as Record<string, unknown>;
  const fn = mod[data.exportName];
  if (typeof fn !== 'function') throw new Error(`${data.module} has no function export '${data.exportName}'`);
  const value: unknown = await (fn as (e: Eal, a: unknown, p: MessagePort) => unknown)(eal, data.arg, data.port);
  parentPort!.postMessage({ ok: true, value });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
}
data.port.close();
