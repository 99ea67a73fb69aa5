/**
 * The instance's events as a process watches its peers (src/eal/events.ts): a peer is a pid
 * and a start time, so a later process that has a dead one's pid is never taken for it.
 * Real processes, and a real pid reuse: as root, /proc/sys/kernel/ns_last_pid makes the
 * next process take the pid of one just killed (the test skips, saying why, without it).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Eal } from '../src/index.js';
import { commandChild, reapAll, removeInstance, ROOT, sleep, uniquePrefix, until, type CommandChild } from './helpers.js';

const CHILD = 'dist/test/mp-child.js';
const NS_LAST_PID = '/proc/sys/kernel/ns_last_pid';

after(reapAll);

const eal = (prefix: string, lcore: number, type: string): string[] => ['-l', String(lcore), `--proc-type=${type}`, '--file-prefix', prefix, '--log-level', 'error', '--no-telemetry'];

/** Whether this process may choose the next pid (root, ns_last_pid writable). */
function canChoosePid(): string | undefined {
  try {
    fs.accessSync(NS_LAST_PID, fs.constants.W_OK);
    return undefined;
  } catch (e) {
    return `needs root to write ${NS_LAST_PID} (to give a new process a dead one's pid): ${(e as Error).message}`;
  }
}

/**
 * Start test/mp-child.ts with pid `pid` (free: its process was killed and reaped): the pid
 * is chosen through ns_last_pid, and the child waits on stdin before it execs node, so a
 * try that got another pid (some other process forked in between) is killed before it did
 * anything, and tried again.
 */
async function childWithPid(pid: number, args: string[]): Promise<ChildProcess> {
  for (let attempt = 0; attempt < 50; attempt++) {
    fs.writeFileSync(NS_LAST_PID, String(pid - 1));
    const c = spawn('sh', ['-c', 'read go && exec "$0" "$@"', process.execPath, path.join(ROOT, CHILD), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    if (c.pid === pid) {
      let out = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.stdin!.write('go\n');
      await until(() => out.includes(`"ready":${pid}`), 10_000, `the child with pid ${pid} ready: ${out}`);
      return c;
    }
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
  }
  throw new Error(`pid ${pid} could not be given to a new process in 50 tries`);
}

test('a process that has a dead peer\'s pid is not taken for it: the dead one\'s departure is reported (pid reuse, real processes)', { skip: canChoosePid() }, async () => {
  const p = uniquePrefix('ev');
  const kids: CommandChild[] = [];
  let b2: ChildProcess | undefined;
  try {
    const a = await commandChild(CHILD, eal(p, 0, 'primary'));
    kids.push(a);
    const x = await commandChild(CHILD, eal(p, 1, 'secondary'));
    kids.push(x);
    const b = await commandChild(CHILD, eal(p, 2, 'secondary'));
    kids.push(b);
    // x leaves (its slot is free again); the primary is stopped, so nobody sees b die.
    x.c.proc.kill('SIGTERM');
    await x.c.exited;
    a.c.proc.kill('SIGSTOP');
    await sleep(100);
    b.c.proc.kill('SIGKILL');
    await b.c.exited;
    // b's record stays in the process table; a new process takes its pid and joins.
    b2 = await childWithPid(b.pid, eal(p, 3, 'secondary'));
    const obs = Eal.observe(p);
    try {
      const left = await until(() => obs.events.recent(64).find((e) => e.type === 'process-left' && e.pid === b.pid), 3000,
        `a process-left for the killed pid ${b.pid}, reported while the primary is stopped (by the process that now has that pid)`).catch((e: Error) => e);
      const seen = obs.events.recent(64).map((e) => `${e.type} ${e.pid}`).join(', ');
      assert.ok(!(left instanceof Error), `${(left as Error).message}; events: ${seen}`);
      assert.match(left.text, new RegExp(`pid ${b.pid} \\(mp-child\\) died`));
      assert.equal(obs.events.recent(64).filter((e) => e.type === 'process-left' && e.pid === b.pid).length, 1, 'reported once');
      // The new process with that pid is alive and stays so: nobody reported it.
      assert.equal(b2.exitCode, null);
      a.c.proc.kill('SIGCONT');
      await sleep(300);
      assert.equal(obs.events.recent(64).filter((e) => e.type === 'process-left' && e.pid === b.pid).length, 1, 'the primary, resumed, does not report it again');
    } finally {
      obs.close();
    }
  } finally {
    for (const k of kids) k.c.proc.kill('SIGCONT');
    if (b2 && b2.exitCode === null) {
      b2.kill('SIGKILL');
      await new Promise((r) => b2!.once('exit', r));
    }
    await reapAll();
    removeInstance(p);
  }
});
