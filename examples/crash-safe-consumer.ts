/**
 * A consumer killed with SIGKILL and restarted, without losing a job.
 *
 *   node dist/examples/crash-safe-consumer.js [jobs (100)]
 *
 * The producer (the primary) queues numbered jobs on channel 'jobs'. A consumer process
 * takes them one at a time, works on each for 2 ms and reports it on channel 'done'. A
 * third of the way through, the producer kills the consumer with SIGKILL: at that instant
 * it may hold a job, or be half-way through taking one or sending a report.
 *
 * What mpdk guarantees: every shared buffer a process holds is written down in its
 * *ownership record* (shared memory too), so `reclaimDead(eal)`, called by any live
 * process, gives back what the dead one held, finishes or undoes a queue operation it was
 * in the middle of, and frees its lcore. Nothing leaks, whatever instruction it died at.
 *
 * What the application decides: whether the job the dead consumer held was done. mpdk
 * cannot know that, so its buffer simply goes back to the pool. Here the producer keeps
 * the set of jobs not reported done; once the consumer is dead and reclaimed, it takes
 * back what is still queued, queues every job not done again, and starts a new consumer.
 * A job finished but not yet reported at the kill is done twice: at least once, never lost.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { auditInstance, Channel, Eal, installExit, reclaimDead } from 'mpdk';

// Leave through _exit(2) once the 'exit' listeners ran: Node 24 can hang in its own exit.
installExit();

// The consumer is this same file, started with 'consumer' first.
const [first, prefixArg] = process.argv.slice(2);

if (first !== 'consumer') {
  const jobs = Number(first ?? 100);
  const prefix = `crash-${process.pid}`;
  using eal = Eal.init({ filePrefix: prefix, lcores: [0], memoryMiB: 64 });
  // Each channel holds every job at once (a power of two of slots, one of them kept empty),
  // so that no send below ever waits for room; small buffers for small messages.
  const count = 2 ** Math.ceil(Math.log2(jobs + 1));
  const jobsCh = Channel.create(eal, 'jobs', { count, bufferSize: 64, maxMessage: 56 });
  const doneCh = Channel.create(eal, 'done', { count, bufferSize: 64, maxMessage: 56 });
  using tx = jobsCh.sender();
  using rx = doneCh.receiver();
  const signal = AbortSignal.timeout(30_000);
  const startConsumer = () => spawn(process.execPath, [import.meta.filename, 'consumer', prefix], { stdio: 'inherit' });

  const notDone = new Set<number>();
  for (let id = 0; id < jobs; id++) {
    notDone.add(id);
    await tx.sendAsync(String(id), { signal });
  }
  let consumer = startConsumer();
  let killed = false;
  for await (const batch of rx.messages({ signal })) {
    for (let i = 0; i < batch.length; i++) notDone.delete(Number(batch.text(i)));
    if (!killed && notDone.size <= (jobs * 2) / 3) {
      killed = true;
      consumer.kill('SIGKILL');
      await once(consumer, 'exit'); // dead for certain from here on
      const { pools } = reclaimDead(eal);
      console.log(`producer: consumer ${consumer.pid} killed after ${jobs - notDone.size} jobs were reported; ` +
        `reclaimDead gave back ${pools.jobs?.returned ?? 0} job buffer(s) it held and ${pools.done?.returned ?? 0} report buffer(s)`);
      // Its reports sent before it died are in 'done' (a half-sent one was settled by reclaimDead).
      for (let b = rx.tryReceive(); b.length > 0; b = rx.tryReceive()) for (let i = 0; i < b.length; i++) notDone.delete(Number(b.text(i)));
      // Jobs still queued are not lost, but they are about to be queued again: take them back first.
      using drain = jobsCh.receiver();
      while (drain.tryReceive().length > 0);
      for (const id of notDone) await tx.sendAsync(String(id), { signal });
      console.log(`producer: ${notDone.size} jobs not done queued again; starting a new consumer`);
      consumer = startConsumer();
    }
    if (notDone.size === 0) break;
  }
  consumer.kill('SIGTERM');
  const [code] = await once(consumer, 'exit');
  const audit = auditInstance(eal);
  console.log(`producer: all ${jobs} jobs done; the consumer exited with ${code}; ` +
    `audit: ${audit.ok ? 'every buffer accounted for' : `LEAKED ${audit.pools.map((p) => `${p.name}: ${p.leaked}`).join(', ')}`}`);
} else {
  // SIGTERM (the producer's "we are done") ends the wait below; SIGKILL ends everything at once.
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  using eal = Eal.init({ filePrefix: prefixArg!, lcores: [1], procType: 'secondary' });
  using rx = Channel.lookup(eal, 'jobs').receiver({ batchBuffers: 1 }); // one job at a time
  using tx = Channel.lookup(eal, 'done').sender();
  try {
    for await (const batch of rx.messages({ signal: stop.signal })) {
      const id = batch.text(0);
      await sleep(2); // the work; meanwhile the job's buffer is in this process's ownership record
      await tx.sendAsync(id);
    }
  } catch (e) {
    if (!stop.signal.aborted) throw e;
  }
}
