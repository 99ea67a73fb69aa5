/**
 * Supervisor / joinSupervisor (src/eal/supervise.ts) across real processes: a supervised
 * child dies with its supervisor however the supervisor dies, knows when it was orphaned
 * before it joined, and can run on the CPUs its supervisor had before pinning itself.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { reapAll, run, spawnNode, until } from './helpers.js';

after(reapAll);

const CHILD = 'dist/test/supervise-child.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a supervised child gets SIGTERM when its supervisor is killed with -9, and runs on the CPUs the supervisor had', async () => {
  const sup = spawnNode(CHILD, ['supervisor']);
  const m = await sup.waitFor(/\{"child":(\d+),"cpus":\[([\d,]*)\]\}\n\{"supervisorPid":(\d+),"orphaned":(\w+),"cpus":\[([\d,]*)\]\}/, 10000);
  const [, childPid, supCpus, supervisorPid, orphaned, childCpus] = m;
  assert.equal(Number(supervisorPid), sup.proc.pid);
  assert.equal(orphaned, 'false');
  assert.equal(childCpus, supCpus, 'the child runs on all the CPUs the supervisor had, not on the one it pinned itself to');
  try {
    sup.proc.kill('SIGKILL');
    await sup.exited;
    await until(() => !alive(Number(childPid)), 5000, 'the child to end with its supervisor');
  } finally {
    if (alive(Number(childPid))) process.kill(Number(childPid), 'SIGKILL');
  }
});

test('a child whose supervisor is not its parent any more knows it is orphaned; outside a supervisor nothing changes', async () => {
  const orphan = await run(CHILD, ['child', 'once'], 15000, { MPDK_SUPERVISOR_PID: '1' });
  assert.match(orphan.out, /"supervisorPid":1,"orphaned":true/);
  const plain = await run(CHILD, ['child', 'once'], 15000, { MPDK_SUPERVISOR_PID: '' });
  assert.match(plain.out, /"supervisorPid":0,"orphaned":false/);
});
