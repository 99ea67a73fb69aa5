/**
 * Profiling the programs (src/eal/exit.ts): programs normally leave through _exit(2), which
 * skips what Node writes at its own exit; under a profiling flag (command line or
 * NODE_OPTIONS) or MPDK_NORMAL_EXIT=1 they leave through Node's exit, so `--cpu-prof`
 * writes its profile (and NODE_V8_COVERAGE its coverage). Real `mpdk pktgen` runs over net_null, each ending by itself.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { normalExit } from '../src/eal/exit.js';
import { MPDK, leftovers, reapAll, uniquePrefix } from './helpers.js';

after(reapAll);

/** Run a short pktgen over net_null with these node options / env; the files its profile dir holds after. */
async function profiled(nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; files: string[]; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-prof-'));
  const prefix = uniquePrefix('prof');
  const args = [
    ...nodeArgs, MPDK, 'pktgen', '-l', '0', '--file-prefix', prefix, '--log-level', 'error', '--vdev', 'net_null0', '--vdev', 'net_null1', '--',
    '--tx-port', '0', '--rx-port', '1', '--duration', '200ms', '--json', '--quiet',
  ];
  const child = spawn(process.execPath, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number>((r) => child.on('exit', (c, s) => r(c ?? (s ? 128 : 1))));
  clearTimeout(timer);
  assert.equal(code, 0, `pktgen exited ${code}: ${err}`);
  assert.deepEqual(leftovers(prefix), [], 'the instance is gone');
  return { code, files: fs.readdirSync(dir), dir };
}

test('--cpu-prof on the command line: the program exits through Node and the profile is written', async () => {
  const { files, dir } = await profiled(['--cpu-prof'], {});
  try {
    const prof = files.filter((f) => f.endsWith('.cpuprofile'));
    assert.equal(prof.length, 1, `one profile in ${dir}: ${files.join(', ')}`);
    const p = JSON.parse(fs.readFileSync(path.join(dir, prof[0]!), 'utf8')) as { nodes: unknown[]; samples: unknown[] };
    assert.ok(p.nodes.length > 10 && p.samples.length > 0, 'a real profile (nodes and samples)');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('NODE_V8_COVERAGE writes its coverage too; MPDK_NORMAL_EXIT=1 and the flags are recognised, nothing else is', async () => {
  const cov = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-cov-'));
  try {
    const { dir } = await profiled([], { NODE_V8_COVERAGE: cov });
    fs.rmSync(dir, { recursive: true, force: true });
    const written = fs.readdirSync(cov).filter((f) => f.startsWith('coverage-') && f.endsWith('.json'));
    assert.equal(written.length, 1, `one coverage file: ${fs.readdirSync(cov).join(', ')}`);
  } finally {
    fs.rmSync(cov, { recursive: true, force: true });
  }
  assert.equal(normalExit({ MPDK_NORMAL_EXIT: '1' }, []), true);
  assert.equal(normalExit({}, ['--prof']), true);
  assert.equal(normalExit({}, ['--cpu-prof-dir=/tmp/x']), true);
  assert.equal(normalExit({}, ['--heap-prof']), true);
  assert.equal(normalExit({ NODE_OPTIONS: '--max-old-space-size=100 --cpu-prof' }, []), true);
  assert.equal(normalExit({}, []), false);
  assert.equal(normalExit({ MPDK_NORMAL_EXIT: '0', NODE_OPTIONS: '--max-old-space-size=100' }, ['--enable-source-maps', '--profile-x']), false);
});
