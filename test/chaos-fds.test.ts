/**
 * The chaos run's descriptor check (bench/chaos-fds.ts) on the processes of a real instance:
 * this test process is the primary, test/mp-child.ts the secondaries. What a process holds
 * for its live peers is accounted for exactly, however many joined after its first look; a
 * descriptor of a dead process that stays, or a second connection to one peer, is named.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { FdWatch } from '../bench/chaos-checks.js';
import { baselineOf, extraFds, fdTable, unixSockets, type FdEntry } from '../bench/chaos-fds.js';
import { alive } from '../bench/chaos-fleet.js';
import { Eal } from '../src/index.js';
import { closeFd, pidfdOpen, seqpacketSocket, unixConnect } from '../src/native/libc.js';
import { commandChild, leftovers, reapAll, removeInstance, sleep, spawnNode, uniquePrefix, until, type CommandChild } from './helpers.js';

after(reapAll);

const noSs = spawnSync('ss', ['-V']).error ? 'needs `ss` (iproute2) to match sockets to their peers' : false;

function kid(prefix: string, lcore: number): Promise<CommandChild> {
  return commandChild('dist/test/mp-child.js', ['-l', String(lcore), '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--no-telemetry']);
}

function table(pid: number): FdEntry[] {
  const t = fdTable(pid, unixSockets());
  assert.ok(t, `pid ${pid} runs`);
  return t;
}

/** Wait (bounded: a safety net) until process `pid`'s extra descriptors against `base` are `n`; @returns them, or throws with the last seen. */
async function extrasBecome(pid: number, base: ReturnType<typeof baselineOf>, n: number): Promise<string[]> {
  let last: string[] = [];
  try {
    return await until(() => (last = extraFds(table(pid), base, alive)).length === n && last, 5000, `${n} extra descriptors`);
  } catch {
    throw new Error(`pid ${pid}: ${last.length} extra descriptors, not ${n}: ${last.join('; ')}`);
  }
}

/** The peers `kind` descriptors of table t name. */
const peersOf = (t: FdEntry[], kind: string): number[] => t.filter((e) => e.kind === kind).map((e) => e.peer).sort();

test('one pidfd and one connection each way per live peer are accounted for, whoever joined after the first look; a dead peer\'s go', { skip: noSs }, async () => {
  const p = uniquePrefix('fds');
  const eal = Eal.init({ lcores: [0], procType: 'primary', filePrefix: p, telemetry: false, name: 'fds-test' });
  try {
    const a = await kid(p, 1);
    const first = table(a.pid);
    const base = baselineOf(first);
    const others = [await kid(p, 2), await kid(p, 3), await kid(p, 4)];
    // Everyone asks everyone: a then holds, per new peer, its pidfd, its connection in and its own out.
    for (const k of [a, ...others]) await k.cmd({ do: 'request', name: 'echo', data: 1 });
    const ids = others.map((k) => k.pid).sort();
    const now = await until(() => {
      const t = table(a.pid);
      return ids.every((pid) => peersOf(t, 'pidfd').includes(pid) && peersOf(t, 'mp-in').includes(pid) && peersOf(t, 'mp-out').includes(pid)) && t;
    }, 5000, 'a holding a pidfd and a connection each way per new peer');
    assert.ok(now.length - first.length >= 3 * others.length, `${first.length} -> ${now.length} descriptors: three per peer, more than the count check's two`);
    assert.deepEqual(extraFds(now, base, alive), []);

    // A killed peer's descriptors go when a's event loop sees it die; none names it then.
    const dead = others[1]!;
    dead.c.proc.kill('SIGKILL');
    await dead.c.exited;
    await extrasBecome(a.pid, base, 0);
    assert.ok(table(a.pid).every((e) => e.peer !== dead.pid));
  } finally {
    eal.close();
    await reapAll();
    removeInstance(p);
  }
});

test('a descriptor of a dead process that stays, and a second connection to one live peer, are named by kind and target', { skip: noSs }, async () => {
  const p = uniquePrefix('fds');
  const eal = Eal.init({ lcores: [0], procType: 'primary', filePrefix: p, telemetry: false, name: 'fds-test' });
  let leaked = -1;
  let second = -1;
  try {
    const a = await kid(p, 1);
    const b = await kid(p, 2);
    await eal.mp.request('echo', 1, { to: a.pid });
    const baseSelf = baselineOf(table(process.pid));

    // A pidfd of b kept after b died: one descriptor more, and named.
    leaked = pidfdOpen(b.pid);
    b.c.proc.kill('SIGKILL');
    await b.c.exited;
    const self = await extrasBecome(process.pid, baseSelf, 1);
    assert.match(self[0]!, new RegExp(`^fd ${leaked}: pidfd pidfd of pid -?\\d+ \\(its process is gone\\)$`));

    // a's own look, once it has dropped what named b (its pidfd, its connections: as its event
    // loop sees the death) and holds its pidfd of this process: taken earlier, a descriptor a
    // opens or closes on its own time would count as the extra one.
    await until(() => {
      const t = table(a.pid);
      return t.every((e) => e.peer !== b.pid) && peersOf(t, 'pidfd').includes(process.pid);
    }, 5000, 'a holding nothing of the dead b, and a pidfd of this process');
    const baseA = baselineOf(table(a.pid));
    // A second connection from this process to a's socket: a holds two in from one peer.
    const sock = fs.readdirSync(path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${p}`)).find((f) => f.endsWith(`.${a.pid}`))!;
    second = seqpacketSocket();
    assert.equal(unixConnect(second, path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${p}`, sock), false), 0);
    const inA = await extrasBecome(a.pid, baseA, 1);
    assert.match(inA[0]!, new RegExp(`^fd \\d+: mp-in u_seq \\S+/${sock.replace(/\./g, '\\.')} to pid ${process.pid} \\(2 to that process, at most 1\\)$`));
  } finally {
    closeFd(leaked);
    closeFd(second);
    eal.close();
    await reapAll();
    removeInstance(p);
    assert.deepEqual(leftovers(p), []);
  }
});

test('a process started long before it joins (an l2fwd_fork standby) is first looked at once it has joined, not at its age', { skip: noSs }, async () => {
  const p = uniquePrefix('fds');
  const eal = Eal.init({ lcores: [0], procType: 'primary', filePrefix: p, telemetry: false, name: 'fds-test' });
  try {
    // Node started and waiting, as a standby does; its EAL (region, folder, socket, peers) comes 2.5 s later.
    const late = spawnNode('dist/test/mp-child.js', ['-l', '1', '--proc-type=secondary', '--file-prefix', p, '--log-level', 'error', '--no-telemetry'], { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent('await new Promise((r) => setTimeout(r, 2500));')}` });
    const watch = new FdWatch();
    const procs = [{ role: 'late', pid: late.proc.pid! }];
    await sleep(2200);
    assert.deepEqual(watch.check(procs, p), []); // 2.2 s old, not joined: no baseline yet
    await late.waitFor(/\{"ready":\d+/, 10_000);
    await eal.mp.request('echo', 1, { to: late.proc.pid! }).catch(() => undefined);
    // Its region, folder, socket and peers' descriptors came with joining: none is "leaked".
    await until(() => (assert.deepEqual(watch.check(procs, p), []), watch.baselined(late.proc.pid!)), 5000, 'looked at 2 s after it joined');
    assert.deepEqual(watch.check(procs, p), []);
  } finally {
    eal.close();
    await reapAll();
    removeInstance(p);
  }
});
