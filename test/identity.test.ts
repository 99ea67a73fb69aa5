/**
 * thisProcess / livenessOf / stateOf (src/eal/identity.ts): a process is its pid and start time, and
 * death is decided on evidence only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { identityOf, livenessOf, stateOf, thisProcess } from '../src/index.js';

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
