/**
 * Running functions on worker lcores (DPDK's rte_eal_remote_launch / rte_eal_wait_lcore):
 * each worker lcore is a worker thread that maps the region itself (a koffi view cannot
 * be passed between threads), pins itself to its CPU when the CPU exists, imports the
 * module that holds the function, and calls it with its own `Eal` (whose `lcoreId` is
 * the worker's lcore) and the argument.
 *
 * A lcore function is an export of an ES module:
 *   export async function main(eal: Eal, arg: T, port: MessagePort): Promise<unknown>
 * `port` carries messages to the launcher (`onMessage`). The value it returns (it must
 * be structured-cloneable) is what `wait` resolves to; a throw rejects `wait`.
 */
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { MpdkError } from './errors.js';
import type { Eal } from './eal.js';

/** Options of `remoteLaunch`. */
export interface LaunchOptions {
  /** Name of the export to call (default "main"). */
  exportName?: string;
  /** Called with each message the function posts on its port. */
  onMessage?: (msg: unknown) => void;
}

/** A function running on a worker lcore (`remoteLaunch`): its thread, a message port, and its result. */
export interface LcoreJob {
  /** The worker lcore it runs on. */
  lcore: number;
  /** Its thread. */
  worker: Worker;
  /** Resolves to the function's return value once it has returned and the thread ended. */
  done: Promise<unknown>;
  /** Send a message to the function's port. */
  post(msg: unknown): void;
  /** Stop the thread at once (the function is not told). */
  terminate(): Promise<void>;
}

const running = new Map<number, LcoreJob>();

const WORKER_URL = new URL('./lcore-worker.js', import.meta.url);

/** Launch `module`'s function on worker lcore `lcore` of this process. */
export function remoteLaunch(eal: Eal, lcore: number, module: URL | string, arg: unknown, opts: LaunchOptions = {}): LcoreJob {
  if (!eal.workerLcores.includes(lcore)) {
    throw new MpdkError('EINVAL', `lcore ${lcore} is not a worker lcore of this process (workers: ${eal.workerLcores.join(',') || 'none'}; the main lcore is ${eal.options.mainLcore})`);
  }
  if (running.has(lcore)) throw new MpdkError('EBUSY', `lcore ${lcore} is still running a function; wait for it first`);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_URL, {
    workerData: { handoff: eal.handoff(lcore), module: String(module), exportName: opts.exportName ?? 'main', arg, port: port2 },
    transferList: [port2 as unknown as MessagePort],
  });
  if (opts.onMessage) port1.on('message', opts.onMessage);
  port1.unref();
  const done = new Promise<unknown>((resolve, reject) => {
    let result: unknown;
    let failed: Error | undefined;
    worker.on('message', (m: { ok: boolean; value?: unknown; error?: string }) => {
      if (m.ok) result = m.value;
      else failed = new Error(`lcore ${lcore}: ${m.error}`);
    });
    worker.on('error', (e) => (failed = e));
    worker.on('exit', () => {
      running.delete(lcore);
      port1.close();
      if (failed) reject(failed);
      else resolve(result);
    });
  });
  const job: LcoreJob = {
    lcore, worker, done,
    post: (m) => port1.postMessage(m),
    terminate: async () => {
      await worker.terminate();
    },
  };
  running.set(lcore, job);
  return job;
}

/** Launch the same function on every worker lcore (rte_eal_mp_remote_launch, SKIP_MAIN). */
export function launchAll(eal: Eal, module: URL | string, arg: unknown, opts: LaunchOptions = {}): LcoreJob[] {
  return eal.workerLcores.map((l) => remoteLaunch(eal, l, module, arg, opts));
}

/** Wait for every running lcore function (rte_eal_mp_wait_lcore). Rejects with the first failure. */
export async function waitAll(): Promise<unknown[]> {
  return Promise.all([...running.values()].map((j) => j.done));
}
