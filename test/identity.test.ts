/**
 * thisProcess / livenessOf / stateOf (src/eal/identity.ts): a process is its pid and start time, and
 * death is decided on evidence only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { identityOf, livenessOf, stateOf, thisProcess } from '../src/index.js';
import { probeSocket } from '../src/eal/folder-socket.js';

const ECONNREFUSED = 111;

test('this process is alive; its pid with another start time, an exited child and a pid that never was are dead', () => {
  const me = thisProcess();
  assert.equal(me.pid, process.pid);
  assert.ok(me.start > 0);
  assert.equal(livenessOf(me), 'alive');
  assert.equal(livenessOf({ pid: me.pid, start: me.start + 1 }), 'dead', 'a reused pid is not the process it replaced');
  const child = spawnSync('true');
  assert.equal(child.status, 0);
  assert.equal(livenessOf({ pid: child.pid!, start: me.start }), 'dead', 'an exited (and reaped) child');
  assert.equal(livenessOf({ pid: 0x3fffffff, start: 1 }), 'dead', 'no such pid');
});

test('stateOf: a stopped process is "alive, stopped", a running one not; its pid with another start time, or no such pid, is dead', async () => {
  const me = thisProcess();
  assert.match(stateOf(me), /^alive, (running|sleeping)$/);
  assert.equal(stateOf({ pid: me.pid, start: me.start + 1 }), 'dead', 'a reused pid is not the process it replaced (one /proc read says both)');
  assert.equal(stateOf({ pid: 0x3fffffff, start: 1 }), 'dead', 'no such pid');
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = new Promise((r) => c.on('exit', r));
  try {
    const who = identityOf(c.pid!);
    assert.ok(who.start > 0);
    c.kill('SIGSTOP');
    const end = Date.now() + 5000;
    while (stateOf(who) !== 'alive, stopped' && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(stateOf(who), 'alive, stopped');
    assert.equal(stateOf({ pid: who.pid, start: who.start + 1 }), 'dead', 'the stopped pid with another start time');
  } finally {
    c.kill('SIGKILL');
    await exited;
  }
});

test('a killed process is dead only once every thread of it has exited: by then its sockets refuse connections (a zombie leader whose threads are still leaving is "alive, dying")', async () => {
  // Its main thread shows Z as soon as it has exited, while its other threads (a worker here,
  // and Node's own) may still be running their exit holding its descriptors: a reclaim that took
  // it for dead then found its socket still accepting and left it (CI, mp.test.ts).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-dead-'));
  const unix = new URL('../src/native/unix.js', import.meta.url).href;
  try {
    for (let i = 0; i < 8; i++) {
      const at = path.join(dir, `s${i}`);
      const c = spawn(process.execPath, ['--input-type=module', '-e', [
        `import { seqpacketSocket, unixListen } from ${JSON.stringify(unix)};`,
        `import { Worker } from 'node:worker_threads';`,
        `unixListen(seqpacketSocket(), ${JSON.stringify(at)}, false);`,
        `new Worker('setInterval(() => {}, 1000)', { eval: true }).on('online', () => console.log('ready'));`,
        'setInterval(() => {}, 1000);',
      ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((r) => c.on('exit', r));
      try {
        await new Promise<void>((resolve, reject) => {
          c.stdout!.on('data', (d: Buffer) => d.includes('ready') && resolve());
          c.on('exit', () => reject(new Error('the child ended before it was ready')));
        });
        const who = identityOf(c.pid!);
        assert.equal(probeSocket(at), 0, 'it accepts while it lives');
        c.kill('SIGKILL');
        // No turn of the event loop from here: the first verdict of death is the one checked.
        const end = Date.now() + 10000;
        while (livenessOf(who) !== 'dead' && Date.now() < end) {
          assert.match(stateOf(who), /^alive, (running|sleeping|dying)$|^dead$/);
        }
        assert.equal(livenessOf(who), 'dead');
        assert.equal(probeSocket(at), ECONNREFUSED, `kill ${i}: taken for dead while its socket still accepted`);
      } finally {
        c.kill('SIGKILL');
        await exited;
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
