/**
 * A job queue served by N worker processes.
 *
 *   node dist/examples/job-queue.js [workers (3)] [jobs (200)]
 *
 * The main process creates the instance and two channels, 'jobs' and 'results', and
 * starts the workers. Every worker receives from the same 'jobs' channel: each job goes
 * to exactly one of them, whole, whichever asks first. A worker hashes its job's text and
 * sends the digest back on 'results'; the main process checks every digest. At the end it
 * stops the workers with SIGTERM, which each turns into an AbortSignal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { Channel, Eal, installExit } from 'mpdk';

// Leave through _exit(2) once the 'exit' listeners ran: Node 24 can hang in its own exit.
installExit();

// The workers are this same file, started with 'worker' first.
const [first, ...rest] = process.argv.slice(2);
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

if (first !== 'worker') {
  const workers = Number(first ?? 3);
  const jobs = Number(rest[0] ?? 200);
  const prefix = `jobs-${process.pid}`;
  using eal = Eal.init({ filePrefix: prefix, lcores: [0], memoryMiB: 64 });
  // Jobs of up to 256 bytes: one shared buffer each.
  const jobsCh = Channel.create(eal, 'jobs', { maxMessage: 256 });
  const resultsCh = Channel.create(eal, 'results', { maxMessage: 256 });
  using tx = jobsCh.sender();
  using rx = resultsCh.receiver();
  const signal = AbortSignal.timeout(30_000);

  // Worker w runs as lcore w + 1 (lcore ids are unique within an instance).
  const children: ChildProcess[] = [];
  for (let w = 0; w < workers; w++) {
    children.push(spawn(process.execPath, [import.meta.filename, 'worker', prefix, String(w + 1)], { stdio: 'inherit' }));
  }
  const exits = children.map((c) => once(c, 'exit'));

  // 1. Each worker says it is ready before the first job goes out, so that all take part.
  let ready = 0;
  for await (const batch of rx.messages({ signal })) if ((ready += batch.length) === workers) break;

  // 2. Send every job while the results come back: sendAsync waits while the 'jobs'
  //    channel is full (back-pressure), the loop below empties 'results' meanwhile.
  const sending = (async () => {
    for (let id = 0; id < jobs; id++) await tx.sendAsync(JSON.stringify({ id, text: `job number ${id}` }), { signal });
  })();
  const digests = new Map<number, string>();
  // Every worker listed, one that took no job too (the channel promises each job to one
  // receiver, not a fair share: a worker late for the CPU may find the queue empty).
  const byWorker = new Map<string, number>(children.map((_, w) => [`worker ${w + 1}`, 0]));
  for await (const batch of rx.messages({ signal })) {
    for (let i = 0; i < batch.length; i++) {
      const r = JSON.parse(batch.text(i)) as { id: number; worker: string; digest: string };
      digests.set(r.id, r.digest);
      byWorker.set(r.worker, (byWorker.get(r.worker) ?? 0) + 1);
    }
    if (digests.size === jobs) break;
  }
  await sending;

  let wrong = 0;
  for (const [id, digest] of digests) if (digest !== sha256(`job number ${id}`)) wrong++;
  console.log(`main: ${digests.size} of ${jobs} jobs done, ${wrong} wrong; per worker: ${[...byWorker.values()].sort((a, b) => b - a).join(', ')}`);
  for (const c of children) c.kill('SIGTERM');
  const codes = (await Promise.all(exits)).map(([code]) => code as number);
  console.log(`main: workers exited with ${codes.join(', ')}`);
} else {
  const [prefix, lcore] = rest;
  // SIGTERM ends the wait below: the loop throws the signal's reason, and `using` cleans up.
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  using eal = Eal.init({ filePrefix: prefix!, lcores: [Number(lcore)], procType: 'secondary' });
  // One job per receive (batchBuffers: 1), so that a worker never sits on jobs others could do.
  using rx = Channel.lookup(eal, 'jobs').receiver({ batchBuffers: 1 });
  using tx = Channel.lookup(eal, 'results').sender();
  const me = `worker ${lcore}`;
  await tx.sendAsync('ready');
  try {
    for await (const batch of rx.messages({ signal: stop.signal })) {
      const job = JSON.parse(batch.text(0)) as { id: number; text: string };
      await tx.sendAsync(JSON.stringify({ id: job.id, worker: me, digest: sha256(job.text) }));
    }
  } catch (e) {
    if (!stop.signal.aborted) throw e; // anything but our own stop is an error
  }
}
