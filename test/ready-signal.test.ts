/**
 * Every long-running program takes a signal sent the moment it says it is ready: whoever
 * waits for the ready line and then stops the program (a test, a supervisor, a script) must
 * find its handlers in place, so it stops through its own path (not killed by the signal),
 * leaves the instance, and the last process out removes the instance's files. (The exporter
 * once printed its line before its handlers: a SIGTERM right after it killed it.)
 *
 * Real programs through the CLI; SIGTERM is sent from the output callback that saw the line.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, test } from 'node:test';
import { Eal } from '../src/index.js';
import { exitedWithin, leftovers, MPDK, reapAll, removeInstance, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

after(reapAll);

const RING_PORTS = ['--vdev=net_ring0', '--vdev=net_ring1'];
const quiet = (p: string): string[] => ['--file-prefix', p, '--log-level', 'error'];

/** Start `mpdk args`, SIGTERM it from the very callback that saw `ready`; resolves once it exited. */
async function termOnReady(args: string[], ready: RegExp): Promise<Child> {
  const c = spawnNode('mpdk', args);
  let sent = false;
  const look = (): void => {
    if (!sent && ready.test(c.out + c.err)) {
      sent = true;
      c.proc.kill('SIGTERM');
    }
  };
  c.proc.stdout!.on('data', look);
  c.proc.stderr!.on('data', look);
  const code = await exitedWithin(c, 20_000);
  assert.ok(sent, `${args[0]} never said ${ready} (exit ${code}):\n${c.out}\n${c.err}`);
  assert.notEqual(code, -1, `${args[0]} did not stop within 20 s of a SIGTERM sent on its ready line:\n${c.out}\n${c.err}`);
  assert.equal(c.proc.signalCode, null, `${args[0]} was killed by the SIGTERM sent on its ready line instead of stopping:\n${c.out}\n${c.err}`);
  assert.notEqual(code, 70, `${args[0]}: internal error\n${c.err}`);
  return c;
}

/** The pids the instance's process table still lists (a program that left is not among them). */
function listed(p: string): number[] {
  const eal = Eal.observe(p);
  try {
    return eal.processes.list().map((x) => x.pid);
  } finally {
    eal.close();
  }
}

/** The pid of `mpdk top --file-prefix p` (started under script(1), not our child). */
function topPid(p: string): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').includes(`top\0--file-prefix\0${p}\0`) && !fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').startsWith('script')) return Number(d);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

test('the primaries (symmetric_mp, mp_server, simple_mp, l2fwd_fork) stop on a SIGTERM sent on their ready line, and remove the instance', async () => {
  const bothSlaves = /slave lcore 1 \(pid \d+\): portmask[^]*slave lcore 2 \(pid \d+\): portmask|slave lcore 2 \(pid \d+\): portmask[^]*slave lcore 1 \(pid \d+\): portmask/;
  const cases: [string, string[], string[], RegExp][] = [
    ['symmetric_mp', ['-l', '0', ...RING_PORTS], ['-p', '3', '--num-procs=1', '--proc-id=0'], /Finished Process Init/],
    ['mp_server', ['-l', '0', ...RING_PORTS], ['-p', '3', '-n', '1'], /Finished Process Init/],
    ['simple_mp', ['-l', '0-1', '--proc-type=primary'], [], /simple_mp > /],
    ['l2fwd_fork', ['-l', '0-2', ...RING_PORTS], ['-p', '3', '-T', '0', '--standby=0'], bothSlaves],
  ];
  for (const [prog, eal, app, ready] of cases) {
    const p = uniquePrefix('rs');
    try {
      await termOnReady([prog, ...eal, ...quiet(p), ...(app.length > 0 ? ['--', ...app] : [])], ready);
      await until(() => leftovers(p).length === 0, 3000, `${prog}: the instance files removed`).catch(() => undefined);
      assert.deepEqual(leftovers(p), [], `${prog}: the last process out removes the instance`);
    } finally {
      removeInstance(p);
    }
  }
});

test('the secondaries and tools (mp_client, pktgen, dumpcap, the exporter, top) stop on a SIGTERM sent on their ready line and leave the instance; the last out removes it', async (t) => {
  const p = uniquePrefix('rs');
  const server = spawnNode('mpdk', ['mp_server', '-l', '0', ...RING_PORTS, ...quiet(p), '--', '-p', '3', '-n', '1']);
  const tmp = fs.mkdtempSync('/tmp/mpdk-rs-');
  try {
    await server.waitFor(/Finished Process Init/, 15_000);
    const cases: [string[], RegExp][] = [
      [['mp_client', '-l', '1', '--proc-type=secondary', ...quiet(p), '--', '-n', '0'], /handling packets/],
      [['pktgen', '-l', '2', '--proc-type=secondary', ...quiet(p), '--', '--tx-port', '0', '--rx-port', '1', '--rate', '100', '--duration', '30', '--progress', '10'], /pktgen [\d.]+s  tx /],
      [['dumpcap', '--file-prefix', p, '-i', '0', '-w', `${tmp}/c.pcapng`], /Capturing on/],
      [['exporter', '--file-prefix', p, '--prometheus', `127.0.0.1:${20000 + (process.pid % 20000)}`], /serving the metrics/],
    ];
    for (const [args, ready] of cases) {
      const c = await termOnReady(args, ready);
      assert.ok(!listed(p).includes(c.proc.pid!), `${args[0]} left the instance's process table`);
    }
    // top on a terminal (script(1) gives it one): its first frame is its ready line; a top
    // that handled the signal restores the terminal (its 'exit' listener), one killed does not.
    if (spawnSync('script', ['--version']).status !== 0) t.diagnostic('script(1) is missing: top on a terminal not tried');
    else {
      const cmd = `exec '${process.execPath}' '${MPDK}' top --file-prefix ${p} -d 1`;
      const s = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      s.stdout!.setEncoding('latin1').on('data', (d: string) => (out += d));
      const done = new Promise((r) => s.once('exit', r));
      try {
        await until(() => out.includes('\x1b[?1049h') && /PORT|port/.test(out), 15_000, `top's first frame: ${JSON.stringify(out.slice(-300))}`);
        const pid = topPid(p);
        assert.ok(pid !== undefined, 'the top process found');
        process.kill(pid, 'SIGTERM');
        let late: NodeJS.Timeout | undefined;
        await Promise.race([done, new Promise((r) => (late = setTimeout(r, 10_000)))]);
        clearTimeout(late); // a pending bound would hold the file open after its last test
        assert.ok(out.includes('\x1b[?1049l'), `top restored the terminal (it handled the SIGTERM): ${JSON.stringify(out.slice(-200))}`);
      } finally {
        s.kill('SIGKILL');
        const pid = topPid(p);
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      }
    }
    server.proc.kill('SIGTERM');
    await server.exited;
    await until(() => leftovers(p).length === 0, 3000, 'the instance files removed').catch(() => undefined);
    assert.deepEqual(leftovers(p), [], 'the last process out removed the instance');
  } finally {
    server.proc.kill('SIGKILL');
    await server.exited;
    fs.rmSync(tmp, { recursive: true, force: true });
    removeInstance(p);
  }
});
