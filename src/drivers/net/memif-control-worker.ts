/**
 * Thread entry of a net_memif port's control channel (memif-control.ts): started by the
 * driver's `start` in the process that starts the port, ended by its `stop` (CW.STOP, then a signal on the stop eventfd) or
 * by the process's exit (the thread is unref'd; the kernel closes the socket and the peer
 * sees the hang-up).
 */
import { workerData } from 'node:worker_threads';
import { Eal, type WorkerHandoff } from '../../eal/eal.js';
import { Port } from '../../ethdev/driver.js';
import { Control, CW } from './memif-control.js';

const d = workerData as { handoff: WorkerHandoff; header: number; port: number; mif: number; ctl: Int32Array; stopFd: number };
const eal = Eal.attachWorker(d.handoff);
try {
  new Control(eal, new Port(eal, d.header, d.port), d.mif, d.ctl, d.stopFd).run();
} catch (e) {
  eal.log('error', `memif control of port ${d.port} failed: ${(e as Error).stack ?? e}`);
  Atomics.store(d.ctl, CW.READY, 1);
  Atomics.notify(d.ctl, CW.READY);
} finally {
  Atomics.store(d.ctl, CW.DONE, 1);
  Atomics.notify(d.ctl, CW.DONE);
}
