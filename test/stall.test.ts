/**
 * A stopped process never stalls the others (issue 22), with real SIGSTOP/SIGCONT:
 *
 *   - symmetric_mp, two processes sharing both net_ring ports by RSS queue, under
 *     `mpdk pktgen`: one is stopped; the other's flows keep coming back, pktgen names the
 *     full queue and its owner pid as stopped, and says when it takes frames again; after
 *     SIGCONT every frame comes back once (nothing lost, duplicated or corrupt).
 *   - client_server_mp, two clients: one is stopped; the other keeps receiving, mp_server
 *     names the stopped client (pid, state) and counts its drops, and says when it
 *     receives again.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { exitedWithin, reapAll, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

after(reapAll);

const R2 = ['--vdev=net_ring0', '--vdev=net_ring1'];
const QUIET = ['--log-level', 'error'];

interface Progress { t: number; sent: number; received: number }

/** pktgen's JSON progress lines (stderr) so far. */
function progress(c: Child): Progress[] {
  return c.err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Progress);
}

async function stopAll(cs: Child[]): Promise<void> {
  for (const c of cs) {
    c.proc.kill('SIGCONT');
    c.proc.kill('SIGINT');
  }
  await Promise.all(cs.map(async (c) => {
    if (await exitedWithin(c, 8000) === -1) c.proc.kill('SIGKILL');
  }));
}

test('symmetric_mp: one of two processes SIGSTOPped; the other queues keep flowing, pktgen names the stopped owner, nothing lost after SIGCONT', async () => {
  const p = uniquePrefix('stall');
  const procs: Child[] = [];
  try {
    for (const id of [0, 1]) {
      const c = spawnNode('mpdk', ['symmetric_mp', '-l', String(id + 1), '--proc-type=auto', '--file-prefix', p, ...QUIET, ...R2, '--', '-p', '3', '--num-procs=2', `--proc-id=${id}`]);
      await c.waitFor(/APP: Finished Process Init\./, 15000);
      procs.push(c);
    }
    const gen = spawnNode('mpdk', [
      'pktgen', '-l', '7', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--',
      '--tx-port', '0,1', '--rx-port', '0,1', '--flows', '16', '--rate', '20000', '--duration', '5', '--drain', '4000', '--progress', '100', '--json',
    ]);
    await until(() => (progress(gen).at(-1)?.received ?? 0) > 2000, 10000, 'traffic flows');
    const victim = procs[1]!;
    victim.proc.kill('SIGSTOP');
    const stoppedAt = performance.now();
    const named = await gen.waitFor(new RegExp(`port \\d RX queue 1 is full and takes nothing for [\\d.]+ s: its owner pid ${victim.proc.pid} \\(alive, stopped\\)`), 3000);
    const namedMs = performance.now() - stoppedAt;
    // While it is stopped, the other process's flows keep coming back.
    const before = progress(gen).at(-1)!.received;
    await sleep(1000);
    const during = progress(gen).at(-1)!.received - before;
    assert.ok(during > 3000, `frames back in the second after the notice, one process stopped: ${during} (half of 20000 pps expected)`);
    victim.proc.kill('SIGCONT');
    await gen.waitFor(/port \d RX queue 1 takes frames again after [\d.]+ s/, 5000);
    gen.proc.kill('SIGINT'); // the point is made: Ctrl-C ends the sending early; pktgen still drains, then sums up
    const code = await exitedWithin(gen, 20000);
    assert.equal(code, 0, gen.err.slice(-2000));
    const j = JSON.parse(gen.out.trim().split('\n').pop()!) as Record<string, number>;
    assert.deepEqual({ lost: j.lost, duplicates: j.duplicates, corrupt: j.corrupt }, { lost: 0, duplicates: 0, corrupt: 0 }, gen.out);
    assert.equal(j.received, j.sent);
    process.stderr.write(`# named ${namedMs.toFixed(0)} ms after SIGSTOP: ${named[0]}\n`);
  } finally {
    await stopAll(procs);
  }
});

test('mp_server: one of two clients SIGSTOPped; the other keeps receiving, the server names the stopped client and counts its drops', async () => {
  const p = uniquePrefix('stallcs');
  const all: Child[] = [];
  try {
    const s = spawnNode('mpdk', ['mp_server', '-l', '0', '--file-prefix', p, ...R2, ...QUIET, '--', '-p', '3', '-n', '2']);
    all.push(s);
    await s.waitFor(/Finished Process Init/, 15000);
    const clients: Child[] = [];
    for (const id of [0, 1]) {
      const c = spawnNode('mpdk', ['mp_client', '-l', String(2 + id), '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', '-n', String(id)]);
      all.push(c);
      await c.waitFor(/handling packets/, 15000);
      clients.push(c);
    }
    const gen = spawnNode('mpdk', [
      'pktgen', '-l', '7', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--',
      '--tx-port', '0,1', '--rx-port', '0,1', '--flows', '16', '--rate', '20000', '--duration', '4', '--drain', '500', '--progress', '100', '--json',
    ]);
    all.push(gen);
    await until(() => (progress(gen).at(-1)?.received ?? 0) > 2000, 10000, 'traffic flows');
    const victim = clients[1]!;
    victim.proc.kill('SIGSTOP');
    await s.waitFor(new RegExp(`client 1 \\(pid ${victim.proc.pid}, alive, stopped\\) takes nothing: its ring \\S+ is full, \\d+ packets dropped for it`), 3000);
    const before = progress(gen).at(-1)!.received;
    await sleep(1000);
    const during = progress(gen).at(-1)!.received - before;
    assert.ok(during > 3000, `packets back in the second after the notice through the other client: ${during}`);
    victim.proc.kill('SIGCONT');
    await s.waitFor(/client 1 \(pid \d+\) receives again after [\d.]+ s; \d+ packets dropped for it meanwhile/, 5000);
    gen.proc.kill('SIGINT'); // the point is made: Ctrl-C ends the sending early
    assert.equal(await exitedWithin(gen, 15000), 0, gen.err.slice(-2000));
  } finally {
    await stopAll(all);
  }
});

test('l2fwd_fork: a SIGSTOPped slave is named by the master (not killed), and again when SIGCONT resumes it', async () => {
  const p = uniquePrefix('stalll2');
  const m = spawnNode('mpdk', ['l2fwd_fork', '-l', '0-2', '--file-prefix', p, '--log-level', 'error', ...R2, '--', '-p', '3', '-T', '0']);
  try {
    const s = await m.waitFor(/slave lcore 1 started: pid (\d+)/, 15000);
    await m.waitFor(/slave lcore 2 started: pid \d+/, 15000);
    const pid = Number(s[1]);
    process.kill(pid, 'SIGSTOP');
    await m.waitFor(new RegExp(`slave lcore 1 \\(pid ${pid}\\) is stopped for [\\d.]+ s: ports? [\\d,]+ -> [\\d,]+ not forwarded; kill -CONT ${pid} resumes it`), 3000);
    process.kill(pid, 'SIGCONT');
    await m.waitFor(new RegExp(`slave lcore 1 \\(pid ${pid}\\) runs again after [\\d.]+ s`), 3000);
    assert.doesNotMatch(m.out, new RegExp(`pid ${pid}\\) (killed|exited)`), 'the stopped slave was not killed');
  } finally {
    m.proc.kill('SIGTERM');
    if (await exitedWithin(m, 8000) === -1) m.proc.kill('SIGKILL');
  }
});
