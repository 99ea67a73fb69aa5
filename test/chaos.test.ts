/**
 * The chaos run, short (issues 10 and 22): `node dist/bench/chaos.js --kills 32` hits
 * random processes of all four systems (client_server_mp, l2fwd_fork, symmetric_mp,
 * simple_mp: clients, servers, slaves, primaries and secondaries, generators, a dumpcap)
 * with SIGKILL, or SIGSTOP then SIGCONT, under traffic, every process sleeping when idle,
 * and must report every hit recovered within the bound, no corrupt or twice-delivered
 * frame, every audit clean (leaked 0, duplicates 0), no file or descriptor leaked, exit 0.
 * The run is started in its own process group, ended as a group if it overstays.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ChaosReport as Report } from '../bench/chaos.js';
import { ROOT, sleep } from './helpers.js';

const CHAOS = path.join(ROOT, 'dist/bench/chaos.js');
const runs: ChildProcess[] = [];

after(async () => {
  for (const c of runs) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await sleep(100);
});

/** Run chaos.js with `args`, bounded by `ms`, in a new process group; returns exit code, stdout, stderr. */
async function chaos(args: string[], ms: number): Promise<{ code: number; out: string; err: string; pid: number }> {
  const c = spawn(process.execPath, [CHAOS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  runs.push(c);
  let out = '';
  let err = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const t = setTimeout(() => process.kill(-c.pid!, 'SIGKILL'), ms);
  const code = await new Promise<number>((r) => c.once('close', (k, s) => r(k ?? (s === 'SIGKILL' ? 137 : 128))));
  clearTimeout(t);
  return { code, out, err, pid: c.pid! };
}

/** Processes or files of the run's instances (their prefixes start with chaos<pid>) left behind. */
function leftBehind(pid: number): string[] {
  const tag = `chaos${pid}`;
  const left: string[] = [];
  for (const e of fs.readdirSync(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm')) if (e.includes(tag)) left.push(e);
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'latin1');
      if (cmd.includes(tag)) left.push(`pid ${e}: ${cmd.replace(/\0/g, ' ').slice(0, 120)}`);
    } catch {
      /* gone */
    }
  }
  return left;
}

describe('npm run chaos', () => {
  it('refuses a bad option with one line and exit status 2, starting nothing', async () => {
    const r = await chaos(['--kills', 'many'], 10000);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /--kills needs an integer/);
    assert.deepEqual(leftBehind(r.pid), []);
  });

  it('32 random SIGKILLs and SIGSTOPs over the four systems: every one recovered, nothing corrupted, duplicated or leaked, every audit clean, nothing left behind', async () => {
    const r = await chaos(['--kills', '32', '--seed', '1030', '--gap', '100', '--stop-share', '0.2', '--json'], 150000);
    const line = r.out.trim().split('\n').pop() ?? '';
    assert.ok(line.startsWith('{'), `no report (exit ${r.code}):\n${r.err.slice(-3000)}`);
    const rep = JSON.parse(line) as Report;
    const why = `\n${rep.failures.join('\n')}\n${r.err.slice(-1500)}`;
    assert.equal(rep.kills, 32, why);
    assert.equal(rep.recoveries, 32, why);
    const kinds = new Set(rep.byVictim.map((v) => `${v.system}/${v.kind}`));
    for (const k of ['client_server_mp/mp_client', 'l2fwd_fork/slave', 'symmetric_mp/symmetric_mp', 'simple_mp/simple_mp']) assert.ok(kinds.has(k), `${k} hit; victims: ${[...kinds].join(', ')}`);
    assert.ok(rep.byVictim.some((v) => v.signal === 'SIGSTOP'), 'a SIGSTOP among the hits');
    assert.equal(rep.corrupt, 0, why);
    assert.equal(rep.duplicateFrames, 0, why);
    assert.ok(rep.auditAvailable, 'mpdk audit ran');
    assert.ok(rep.audits >= 32, `${rep.audits} audits`);
    assert.equal(rep.leaked, 0, why);
    assert.equal(rep.duplicates, 0, why);
    assert.deepEqual(rep.failures, []);
    assert.ok(rep.ok);
    assert.equal(r.code, 0);
    assert.deepEqual(leftBehind(r.pid), []);
  });
});
