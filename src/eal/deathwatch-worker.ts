/** Thread of deathwatch.ts: poll(2) on pidfds of the watched pids; post each pid that exits. */
import { workerData, parentPort } from 'node:worker_threads';
import fs from 'node:fs';
import { pidfdOpen, pollIn } from '../native/libc.js';

const shared = (workerData as { shared: Int32Array }).shared;
const open = new Map<number, number>(); // pid -> pidfd
const byFd = new Map<number, number>(); // pidfd -> pid
const scratch = Buffer.alloc(8 * 64);
const ready: number[] = [];
let seen = -1;

function sync(): void {
  const want = new Set<number>();
  const n = Atomics.load(shared, 1);
  for (let i = 0; i < n; i++) want.add(shared[2 + i]!);
  for (const [pid, fd] of open) {
    if (!want.has(pid)) {
      fs.closeSync(fd);
      open.delete(pid);
      byFd.delete(fd);
    }
  }
  for (const pid of want) {
    if (open.has(pid)) continue;
    const fd = pidfdOpen(pid);
    if (fd < 0) {
      parentPort!.postMessage(pid); // already gone
      continue;
    }
    open.set(pid, fd);
    byFd.set(fd, pid);
  }
}

for (;;) {
  const gen = Atomics.load(shared, 0);
  if (gen !== seen) {
    seen = gen;
    sync();
  }
  if (open.size === 0) {
    Atomics.wait(shared, 0, gen, 200);
    continue;
  }
  pollIn([...byFd.keys()], 200, scratch, ready);
  for (const fd of ready) {
    const pid = byFd.get(fd)!;
    fs.closeSync(fd);
    byFd.delete(fd);
    open.delete(pid);
    parentPort!.postMessage(pid);
  }
}
