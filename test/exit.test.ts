/**
 * installExit() (src/eal/exit.ts): a process leaves through _exit(2) once its 'exit'
 * listeners ran, whether it calls process.exit, runs out of work, or throws; Node 24's own
 * exit can hang (nodejs/node#64274), this path cannot. Real child processes; each script
 * prints what its 'exit' listener saw, so a skipped listener or a wrong status fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './helpers.js';

const INDEX = path.join(ROOT, 'dist/src/index.js');

/** Run `body` as an ES module that first calls installExit(); its status, stdout, stderr. */
async function script(body: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const src = `import { installExit } from ${JSON.stringify(INDEX)};
installExit();
process.on('exit', (c) => process.stdout.write('exit listener ' + c + '\\n'));
${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', src], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await new Promise<number>((r) => child.on('close', (c, s) => r(c ?? (s === 'SIGKILL' ? 137 : 128))));
  clearTimeout(timer);
  return { code, out, err };
}

test('process.exit(3): the exit listeners run once, output written before is kept, status 3', async () => {
  const r = await script(`process.stdout.write('x'.repeat(100000) + '\\n'); process.exit(3); process.stdout.write('never\\n');`);
  assert.equal(r.code, 3, r.err);
  assert.equal(r.out, 'x'.repeat(100000) + '\nexit listener 3\n');
});

test('the natural end of the event loop: the listeners run with process.exitCode, which is the status', async () => {
  const r = await script(`setTimeout(() => { process.exitCode = 4; }, 20);`);
  assert.equal(r.code, 4, r.err);
  assert.equal(r.out, 'exit listener 4\n');
});

test('an uncaught exception is printed with its stack and ends the process with 1, after the listeners', async () => {
  const r = await script(`setTimeout(() => { throw new Error('boom at 20 ms'); }, 20);`);
  assert.equal(r.code, 1);
  assert.match(r.err, /^Error: boom at 20 ms\n\s+at /);
  assert.equal(r.out, 'exit listener 1\n');
  const rej = await script(`Promise.reject(new RangeError('nobody caught me'));`);
  assert.equal(rej.code, 1);
  assert.match(rej.err, /unhandled rejection: RangeError: nobody caught me/);
});

test('an exception the program handles does not end it', async () => {
  const r = await script(`process.on('uncaughtException', (e) => { process.stdout.write('handled ' + e.message + '\\n'); });
setTimeout(() => { throw new Error('mine'); }, 10);
setTimeout(() => process.exit(0), 60);`);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'handled mine\nexit listener 0\n');
});

test("under MPDK_NORMAL_EXIT=1 Node's own exit stands (beforeExit still fires after installExit)", async () => {
  const r = await script(`process.once('beforeExit', () => process.stdout.write('beforeExit\\n'));`, { MPDK_NORMAL_EXIT: '1' });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'beforeExit\nexit listener 0\n');
});
