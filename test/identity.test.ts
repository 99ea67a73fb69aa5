/**
 * thisProcess / livenessOf (src/eal/identity.ts): a process is its pid and start time, and
 * death is decided on evidence only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { livenessOf, thisProcess } from '../src/index.js';

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
