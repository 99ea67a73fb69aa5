/**
 * The runtime across real processes: primary/secondary, memzones, heap, lcores, locks,
 * crashes and clean-up. Each test has its own --file-prefix and leaves nothing behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { Eal, MEMZONE_NAMESIZE, unwatchDeath, watchDeath, watchStats } from '../src/index.js';
import { HDR } from '../src/eal/region.js';
import { allowedCpus, flock, LOCK_EX, LOCK_NB, onlineCpus, setAffinity } from '../src/native/libc.js';
import { MEMZONE_MAX } from '../src/eal/memzone.js';
import { each } from './each.js';
import { exitedWithin, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

const CHILD = 'dist/test/eal-child.js';
const QUIET = ['--log-level', 'error'];

after(reapAll);

function lines(c: { out: string }): Record<string, unknown>[] {
  return c.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function holder(prefix: string, eal: string[], actions: string[] = []): Promise<Child> {
  const c = spawnNode(CHILD, [...QUIET, ...eal, '--file-prefix', prefix, '--', ...actions, 'hold']); // a --log-level in eal wins
  await c.waitFor(/"ready":true/);
  return c;
}

async function stop(c: Child): Promise<number> {
  c.proc.stdin!.end();
  return c.exited;
}

test('auto makes the first process primary and the next one secondary, which sees the primary memzone', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0', '--proc-type=auto'], ['reserve:greeting:64:3735928559']);
  assert.equal(lines(a)[0]!.type, 'primary');
  const b = await run(CHILD, ['-l', '1', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', 'read:greeting']);
  assert.equal(b.code, 0, b.err);
  assert.equal(lines(b)[0]!.type, 'secondary');
  assert.equal(lines(b)[1]!.value, 3735928559);
  assert.equal(await stop(a), 0);
  assert.deepEqual(leftovers(p), []);
});

test('a secondary with no primary running is refused with exit 1 and creates nothing', async () => {
  const p = uniquePrefix();
  const r = await run(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p]);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`no primary process is running for --file-prefix=${p}`));
  assert.deepEqual(leftovers(p), []);
});

test('a second primary is refused, naming the running primary pid', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0']);
  const b = await run(CHILD, ['-l', '1', '--proc-type=primary', '--file-prefix', p]);
  assert.equal(b.code, 1);
  assert.match(b.err, new RegExp(`pid ${a.proc.pid}\\) is already running`));
  // Without --proc-type a process tries to be primary too (the guide's G7).
  const c = await run(CHILD, ['-l', '1', '--file-prefix', p]);
  assert.equal(c.code, 1);
  assert.match(c.err, new RegExp(`pid ${a.proc.pid}`));
  await stop(a);
});

test('a second Eal.init as primary in the primary\'s own process says so (not "a primary is running"), and the first goes on', () => {
  const p = uniquePrefix();
  const eal = Eal.init({ lcores: [5], filePrefix: p, memoryMiB: 16 });
  try {
    assert.throws(() => Eal.init({ lcores: [6], filePrefix: p, memoryMiB: 16 }), (e: { code?: string; message: string }) =>
      e.code === 'EBUSY' && e.message.includes(`this process (pid ${process.pid}) is already the primary of --file-prefix=${p}: close that Eal first`));
    assert.ok(eal.memzones.reserve('still', 64));
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
});

test('after kill -9 of a lone primary the next auto start becomes primary and re-initialises', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0'], ['reserve:stale:64:7']);
  a.proc.kill('SIGKILL');
  await a.exited;
  const b = await run(CHILD, ['-l', '0', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', 'read:stale']);
  assert.equal(lines(b)[0]!.type, 'primary');
  assert.equal(lines(b)[0]!.adopted, false);
  assert.equal(lines(b)[1]!.error, 'ENOENT', 'the stale memzone is gone');
  assert.deepEqual(leftovers(p), []);
});

test('T3: a primary (explicit or by default) is refused while secondaries live, naming them; only auto adopts the live instance', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0'], ['reserve:kept:64:42']);
  const b = await holder(p, ['-l', '1', '--proc-type=secondary'], ['survive']);
  a.proc.kill('SIGKILL');
  await a.exited;
  await b.waitFor(/"primaryExit":\d+/);
  for (const eal of [['--proc-type=primary'], []]) {
    const r = await run(CHILD, ['-l', '0', ...eal, '--file-prefix', p, ...QUIET, '--', 'read:kept']);
    assert.equal(r.code, 1, r.err);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, new RegExp(`the instance '${p}' is live \\(processes ${b.proc.pid} \\(`), r.err);
    assert.match(r.err, /--proc-type=auto to adopt it/);
  }
  const c = await run(CHILD, ['-l', '0', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', 'read:kept']);
  assert.equal(c.code, 0, c.err);
  assert.equal(lines(c)[0]!.type, 'primary');
  assert.equal(lines(c)[0]!.adopted, true, 'auto adopts the live instance');
  assert.equal(lines(c)[1]!.value, 42, 'the region was not re-initialised');
  assert.equal(b.proc.exitCode, null, 'the secondary was not disturbed');
  await stop(b);
  assert.deepEqual(leftovers(p), []);
});

test('taking an lcore another process holds is refused naming its pid; a dead holder\'s lcore is reclaimed', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0-1']);
  const b = await run(CHILD, ['-l', '1-2', '--proc-type=secondary', '--file-prefix', p]);
  assert.equal(b.code, 1);
  assert.match(b.err, new RegExp(`lcore 1 is already in use by pid ${a.proc.pid}`));
  const s = await holder(p, ['-l', '2-3', '--proc-type=secondary']);
  s.proc.kill('SIGKILL');
  await s.exited;
  const c = await run(CHILD, ['-l', '3', '--proc-type=secondary', '--file-prefix', p, ...QUIET]);
  assert.equal(c.code, 0, c.err);
  await stop(a);
  assert.deepEqual(leftovers(p), []);
});

test('a region written by other code is refused, naming both layouts', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0']);
  const path = `/dev/shm/mpdk.${p}/region`;
  const fd = fs.openSync(path, 'r+');
  const orig = Buffer.alloc(4);
  fs.readSync(fd, orig, 0, 4, HDR.LAYOUT_HASH);
  fs.writeSync(fd, Buffer.from([1, 2, 3, 4]), 0, 4, HDR.LAYOUT_HASH);
  const b = await run(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p]);
  fs.writeSync(fd, orig, 0, 4, HDR.LAYOUT_HASH);
  fs.closeSync(fd);
  assert.equal(b.code, 1);
  assert.match(b.err, /created by other mpdk code \(region format \d+, layout 4030201\).*format \d+, layout [0-9a-f]+\)/);
  await stop(a);
});

test('a truncated or foreign region file is a clear error, not a crash', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0']);
  const path = `/dev/shm/mpdk.${p}/region`;
  const size = fs.statSync(path).size;
  // The holder is stopped while its region is damaged: its own timers read the region (the
  // process table scan), and a read past a truncated file's end is SIGBUS for it.
  a.proc.kill('SIGSTOP');
  fs.truncateSync(path, 1000);
  const b = await run(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p]);
  assert.equal(b.code, 1);
  assert.match(b.err, /truncated/);
  fs.truncateSync(path, size);
  const fd = fs.openSync(path, 'r+');
  fs.writeSync(fd, Buffer.from('JUNK'), 0, 4, 0);
  const c = await run(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p]);
  assert.equal(c.code, 1);
  assert.match(c.err, /not an mpdk region/);
  fs.writeSync(fd, Buffer.from('MPDK'), 0, 4, 0);
  fs.closeSync(fd);
  a.proc.kill('SIGCONT');
  await stop(a);
});

test('memzone refusals leave the table unchanged: EEXIST, EINVAL, ENOSPC', () => {
  const p = uniquePrefix();
  const { eal } = Eal.init(['-l', '5', '--file-prefix', p, '-m', '16', ...QUIET], { handleSignals: false });
  try {
    eal.memzones.reserve('a', 100);
    const before = JSON.stringify(eal.memzones.list());
    const heapBefore = JSON.stringify(eal.heapStats());
    const refused = (fn: () => unknown, code: string): void => assert.throws(fn, (e: { code?: string }) => e.code === code);
    refused(() => eal.memzones.reserve('a', 100), 'EEXIST');
    refused(() => eal.memzones.reserve('x'.repeat(MEMZONE_NAMESIZE + 1), 100), 'EINVAL');
    refused(() => eal.memzones.reserve('', 100), 'EINVAL');
    refused(() => eal.memzones.reserve('b', 0), 'EINVAL');
    refused(() => eal.memzones.reserve('b', 100, 3), 'EINVAL');
    refused(() => eal.memzones.reserve('big', 16 * 1024 * 1024 - 4096), 'ENOSPC');
    refused(() => eal.memzones.lookup('nope'), 'ENOENT');
    assert.equal(JSON.stringify(eal.memzones.list()), before);
    assert.equal(JSON.stringify(eal.heapStats()), heapBefore);
    // A name of exactly 31 bytes (multi-byte UTF-8 counts in bytes) fits.
    eal.memzones.reserve('é'.repeat(15) + 'x', 64);
    // Fill the table: the next reservation is ENOSPC and changes nothing.
    for (let i = eal.memzones.list().length; i < MEMZONE_MAX; i++) eal.memzones.reserve(`z${i}`, 64);
    const full = eal.memzones.list().length;
    refused(() => eal.memzones.reserve('one-more', 64), 'ENOSPC');
    assert.equal(eal.memzones.list().length, full);
    // Freed entries and memory are reusable.
    eal.memzones.free('z100');
    eal.memzones.reserve('again', 64, 4096);
    assert.equal(eal.memzones.lookup('again').offset % 4096, 0);
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
});

test('several processes create memzones at the same time: each name exactly once, none lost', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0']);
  const kids = [1, 2, 3, 4].map((i) => run(CHILD, ['-l', String(i), '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', `many:p${i}_:60`, 'many:common_:20']));
  const res = await Promise.all(kids);
  let common = 0;
  for (const r of res) {
    assert.equal(r.code, 0, r.err);
    const ls = lines(r);
    assert.equal(ls[1]!.ok, 60);
    common += ls[2]!.ok as number;
  }
  assert.equal(common, 20, 'each shared name created by exactly one process');
  const info = await run('mpdk', ['info', '--file-prefix', p, '--json']);
  const rep = JSON.parse(info.out) as { memzones: { name: string }[]; heap: { allocations: number } };
  assert.equal(rep.memzones.length, 4 * 60 + 20);
  assert.equal(new Set(rep.memzones.map((m) => m.name)).size, rep.memzones.length);
  assert.equal(rep.heap.allocations, rep.memzones.length);
  await stop(a);
});

test('a heap block freed by one process is reused by another; statistics follow', async () => {
  const p = uniquePrefix();
  const { eal } = Eal.init(['-l', '6', '--file-prefix', p, ...QUIET], { handleSignals: false });
  try {
    const base = eal.heapStats();
    const off = eal.zmalloc('port_stat', 4096);
    assert.equal(eal.heapStats().allocations, base.allocations + 1);
    const r = await run(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', `free:${off}`, 'malloc:again:4096']);
    assert.equal(r.code, 0, r.err);
    assert.equal(lines(r)[2]!.offset, off, 'the freed block is reused');
    assert.throws(() => eal.malloc('huge', 2 ** 31), (e: { code?: string }) => e.code === 'ENOMEM');
    assert.throws(() => eal.free(off + 8), (e: { code?: string }) => e.code === 'EINVAL');
  } finally {
    eal.close();
  }
});

test('a lock whose holder was killed inside it is taken over, and the others go on', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0']);
  const b = spawnNode(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', 'reserve:held:64'], { MPDK_TEST_HOOK: 'hold-lock' });
  await b.waitFor(/MPDK_TEST_HOOK hold-lock reached/);
  b.proc.kill('SIGKILL');
  await b.exited;
  const t0 = Date.now();
  const c = await run(CHILD, ['-l', '2', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', 'reserve:after:64', 'read:held']);
  assert.equal(c.code, 0, c.err);
  assert.ok(Date.now() - t0 < 3000);
  assert.ok(lines(c)[1]!.reserved === 'after');
  await stop(a);
});

test('a secondary notices the primary death within a second: primaryGone aborts (ESRCH, saying what to do), a warning is logged, and the process goes on', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0']);
  const b = await holder(p, ['-l', '1', '--proc-type=secondary', '--log-level', 'warning'], ['gone']);
  a.proc.kill('SIGKILL');
  const t0 = Date.now();
  await b.waitFor(/"primaryGone"/, 3000);
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  const gone = b.out.split('\n').filter((l) => l.includes('primaryGone')).map((l) => JSON.parse(l) as { primaryGone: string; message: string })[0]!;
  assert.equal(gone.primaryGone, 'ESRCH');
  assert.match(gone.message, new RegExp(`primary process \\(pid ${a.proc.pid}\\).*has exited: .*start a new primary`));
  assert.match(b.err, /has exited: the shared objects stay usable/, 'logged at warning');
  await sleep(300);
  assert.equal(b.proc.exitCode, null, 'the library never exits the process on its own');
  assert.equal(await stop(b), 0);
  assert.deepEqual(leftovers(p), []);
});

test('with exitWithPrimary (DPDK\'s behaviour, the shipped programs\'), a secondary exits with status 1 and a message when its primary dies', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0']);
  const b = await holder(p, ['-l', '1', '--proc-type=secondary'], ['exit-with-primary']);
  a.proc.kill('SIGKILL');
  const t0 = Date.now();
  const code = await b.exited;
  assert.equal(code, 1);
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  assert.match(b.err, new RegExp(`primary process \\(pid ${a.proc.pid}\\).*has exited`));
  // The secondary was the last one out: it removed the files.
  assert.deepEqual(leftovers(p), []);
});

test('a death is seen at once through a pidfd the event loop polls; the watched process exposes nothing', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0']);
  const plain = spawn('sleep', ['30']);
  try {
    const seen = new Map<number, number>();
    watchDeath(a.proc.pid!, 0, (pid) => seen.set(pid, performance.now()));
    watchDeath(plain.pid!, 0, (pid) => seen.set(pid, performance.now()));
    assert.deepEqual(watchStats(), { pidfds: 2, retrying: 0 });
    // Watching costs the watched process nothing: no socket, no descriptor per watcher.
    const fds = (): number => fs.readdirSync(`/proc/${a.proc.pid}/fd`).length;
    const base = fds();
    for (let i = 0; i < 5; i++) {
      unwatchDeath(a.proc.pid!);
      watchDeath(a.proc.pid!, 0, (pid) => seen.set(pid, performance.now()));
    }
    assert.equal(fds(), base, 'the watched process holds nothing for its watchers');
    assert.equal(fs.readFileSync('/proc/net/unix', 'latin1').includes(`mpdk-lifeline-${a.proc.pid}`), false, 'no lifeline socket to connect to');
    plain.kill('SIGKILL');
    await until(() => seen.has(plain.pid!), 5000, 'the plain death');
    assert.deepEqual(watchStats(), { pidfds: 1, retrying: 0 });
    const t0 = performance.now();
    a.proc.kill('SIGKILL');
    await until(() => seen.has(a.proc.pid!), 5000, 'the mpdk death');
    const ms = seen.get(a.proc.pid!)! - t0;
    assert.ok(ms < 200, `seen after ${ms.toFixed(1)} ms`);
    assert.deepEqual(watchStats(), { pidfds: 0, retrying: 0 });
  } finally {
    plain.kill('SIGKILL');
    removeInstance(p);
  }
});

test('worker lcores run a launched function as their own lcore id', async () => {
  const p = uniquePrefix();
  const r = await run(CHILD, ['-l', '0-2', '--file-prefix', p, ...QUIET, '--', 'launch']);
  assert.equal(r.code, 0, r.err);
  const res = lines(r)[1]!.launched as { lcore: number; value: number }[];
  assert.deepEqual(res.map((x) => x.lcore), [1, 2]);
  assert.deepEqual(res.map((x) => x.value), [2, 3]);
});

test('mpdk info shows processes and memzones read-only; cleanup refuses a live instance and removes a dead one', async () => {
  const p = uniquePrefix();
  const a = await holder(p, ['-l', '0-1'], ['reserve:visible:128']);
  const i = await run('mpdk', ['info', '--file-prefix', p]);
  assert.equal(i.code, 0, i.err);
  assert.match(i.out, new RegExp(`pid ${a.proc.pid}\\s+primary.*lcores 0,1\\s+alive`));
  assert.match(i.out, /visible/);
  const refused = await run('mpdk', ['cleanup', '--file-prefix', p]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /is live/);
  a.proc.kill('SIGKILL');
  await a.exited;
  assert.notDeepEqual(leftovers(p), [], 'a crash leaves files');
  const ls = await run('mpdk', ['ls', '--json']);
  const inst = (JSON.parse(ls.out) as { instances: { prefix: string; state: string }[] }).instances.find((x) => x.prefix === p);
  assert.equal(inst?.state, 'stale');
  const c = await run('mpdk', ['cleanup', '--file-prefix', p]);
  assert.equal(c.code, 0, c.err);
  assert.deepEqual(leftovers(p), []);
  const none = await run('mpdk', ['info', '--file-prefix', p]);
  assert.equal(none.code, 1);
  assert.match(none.err, /no instance with --file-prefix=\S+ \(nothing at [^)]+\): start its primary first; mpdk ls lists the instances there are\n$/);
  removeInstance(p);
});

const BAD_OPTIONS: [string[], RegExp][] = [
  [['-l', 'x'], /invalid -l 'x': expected a core list such as 0-3,5/],
  [['-l', '3-1'], /runs backwards/],
  [['-l', '0-200'], /below 128/],
  [['-c', 'zz'], /invalid -c 'zz': expected a hexadecimal core mask/],
  [['-c', '0'], /selects no lcore/],
  [['--proc-type=master'], /invalid --proc-type 'master': expected primary, secondary or auto/],
  [['--file-prefix', '../x'], /invalid --file-prefix '..\/x'/],
  [['--file-prefix', ''], /invalid --file-prefix ''/],
  [['-m', '2'], /invalid -m '2'/],
  [['--vdev', 'eth0'], /invalid --vdev 'eth0'/],
  [['--log-level', 'loud'], /invalid --log-level 'loud'/],
  [['--bogus'], /unknown EAL option '--bogus'/],
  [['-p', '3'], /unknown EAL option '-p'.*after '--'/],
  [['-l'], /option -l needs a value/],
  [['--main-lcore', '5', '-l', '0-1'], /--main-lcore 5: it is not among the lcores 0,1/],
];

test('every malformed EAL option is one line naming it and the valid form, exit status 2', async () => {
  await each(BAD_OPTIONS, 3, async ([args, re]) => {
    const p = uniquePrefix();
    const r = await run(CHILD, args.includes('--file-prefix') ? args : [...args, '--file-prefix', p]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re, args.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.err}`);
    assert.deepEqual(leftovers(p), []);
  });
});

test('lcore ids beyond the CPUs run unpinned with a one-line warning; -n is accepted', async () => {
  const p = uniquePrefix();
  // Started by a parent pinned to one CPU: unpinned means every online CPU, not the parent's one.
  const before = allowedCpus();
  setAffinity([before[0]!]);
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run(CHILD, ['-l', '100-101', '-n', '4', '--file-prefix', p]);
  } finally {
    setAffinity(before);
  }
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /lcores 100,101 beyond this machine's CPUs .*running unpinned/);
  assert.deepEqual(lines(r)[0]!.cpus, onlineCpus(), 'allowed on every online CPU');
  const help = await run('mpdk', ['info', '--help']);
  assert.equal(help.code, 0); // --help is help, on stdout, exit 0, for every program (cli.test.ts)
});

test('the region is created 0600 in a 0700 folder, and a foreign owner is refused', async () => {
  const p = uniquePrefix();
  const { eal } = Eal.init(['-l', '7', '--file-prefix', p, ...QUIET], { handleSignals: false });
  try {
    assert.equal(fs.statSync(eal.files.region).mode & 0o777, 0o600);
    assert.equal(fs.statSync(eal.files.dir).mode & 0o777, 0o700);
    assert.equal(eal.region.u32[HDR.SIZE >>> 2], eal.region.size);
    fs.chownSync(eal.files.region, 4321, 4321);
    const r = await run(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p]);
    fs.chownSync(eal.files.region, process.getuid!(), process.getgid!());
    if (process.getuid!() === 0) {
      assert.equal(r.code, 1);
      assert.match(r.err, /belongs to uid 4321, not to you/);
    }
  } finally {
    eal.close();
  }
});

test('a secondary waiting for a primary still initialising says so, naming it, after 2 s; the primary\'s death ends the wait', async () => {
  const p = uniquePrefix();
  const a = spawnNode(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET, '--', 'hold'], { MPDK_TEST_HOOK: 'eal:init' });
  try {
    await a.waitFor(/eal:init reached/, 10000);
    const b = spawnNode(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p, '--log-level', 'warning', '--', 'hold']);
    const t0 = performance.now();
    await b.waitFor(new RegExp(`waiting for the primary to finish initialising the shared region \\(pid ${a.proc.pid}, alive, [a-z ]+\\) of '${p}'\\.\\.\\. \\(giving up after \\d+ s\\)`), 6000);
    const noticed = performance.now() - t0;
    assert.ok(noticed >= 1500, `said after ${noticed} ms, not at once`);
    a.proc.kill('SIGKILL');
    await a.exited;
    assert.equal(await exitedWithin(b, 3000), 1, b.err);
    assert.match(b.err, /no primary process is running/);
  } finally {
    a.proc.kill('SIGKILL');
    await a.exited;
    removeInstance(p);
  }
});

test('a primary adopting an instance whose last process leaves before it registers starts a fresh one: the leaver removes nothing under its lock, a secondary can join', async () => {
  const p = uniquePrefix();
  const a = spawnNode(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET, '--', 'hold']);
  let s: Child | undefined;
  let n: Child | undefined;
  let j: Child | undefined;
  try {
    await a.waitFor(/"ready"/, 10000);
    s = spawnNode(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', 'survive', 'hold']);
    await s.waitFor(/"ready"/, 10000);
    a.proc.kill('SIGKILL');
    await a.exited;
    // The secondary is the instance's one live process; a new primary looks, decides to adopt, pauses.
    n = spawnNode(CHILD, ['-l', '0', '--proc-type=auto', '--file-prefix', p, '--log-level', 'error', '--', 'hold'], { MPDK_TEST_HOOK: 'eal:adopt' });
    await n.waitFor(/eal:adopt reached/, 10000);
    s.proc.stdin!.end(); // 'hold' ends: it leaves as the last registered process, while the adopter holds the primary lock
    assert.equal(await s.exited, 0, s.err);
    await n.waitFor(/"ready"/, 10000);
    assert.match(n.out, /"type":"primary"/);
    assert.match(n.out, /"adopted":false/, 'the closed instance was started afresh, not adopted');
    // Its files are there (the leaver did not remove them by name under the new primary) and a secondary joins.
    j = spawnNode(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', 'exit']);
    assert.equal(await j.exited, 0, j.err);
    assert.match(j.out, /"type":"secondary"/);
    n.proc.stdin!.end();
    assert.equal(await n.exited, 0, n.err);
    await until(() => leftovers(p).length === 0, 3000, 'the instance files to go with its last process');
  } finally {
    for (const c of [a, s, n, j]) c?.proc.kill('SIGKILL');
    removeInstance(p);
  }
});

test('--proc-type=auto while the last process removes the instance (holding the primary lock) waits for it and starts a fresh primary, not "no primary"', async () => {
  const p = uniquePrefix();
  const go = `/tmp/mpdk-test-go-${p}`;
  const a = spawnNode(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET, '--', 'hold'], { MPDK_TEST_HOOK: 'eal:remove', MPDK_TEST_HOOK_GO: go });
  let n: Child | undefined;
  let j: Child | undefined;
  try {
    await a.waitFor(/"ready"/, 10000);
    a.proc.stdin!.end(); // the last process out: CLOSED, then holds the primary lock before it removes the files
    await a.waitFor(/eal:remove reached/, 10000);
    n = spawnNode(CHILD, ['-l', '1', '--proc-type=auto', '--file-prefix', p, '--log-level', 'debug', '--', 'hold']);
    await n.waitFor(/no instance to join \(its last process is closing it\); looking again/, 10000);
    fs.writeFileSync(go, '');
    assert.equal(await a.exited, 0, a.err);
    await n.waitFor(/"ready"/, 10000);
    assert.match(n.out, /"type":"primary"/);
    assert.match(n.out, /"adopted":false/);
    j = spawnNode(CHILD, ['-l', '0', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', 'exit']);
    assert.equal(await j.exited, 0, j.err);
    n.proc.stdin!.end();
    assert.equal(await n.exited, 0, n.err);
    await until(() => leftovers(p).length === 0, 3000, 'the instance files to go with its last process');
  } finally {
    for (const c of [a, n, j]) c?.proc.kill('SIGKILL');
    fs.rmSync(go, { force: true });
    removeInstance(p);
  }
});

test('mpdk cleanup whose instance ended and started again between its open of the config and its lock removes nothing of the new primary (still initialising), and says so', async () => {
  const p = uniquePrefix();
  const a = spawnNode(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET, '--', 'hold']);
  let c: Child | undefined;
  let b: Child | undefined;
  try {
    await a.waitFor(/"ready"/, 10000);
    c = spawnNode('mpdk', ['cleanup', '--file-prefix', p], { MPDK_TEST_HOOK: 'cleanup:lock' });
    await c.waitFor(/cleanup:lock reached/, 10000); // stopped with the old config open, not locked
    a.proc.stdin!.end(); // the last process out removes the instance
    assert.equal(await a.exited, 0, a.err);
    await until(() => leftovers(p).length === 0, 3000, 'the instance files to go with its last process');
    b = spawnNode(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET, '--', 'hold'], { MPDK_TEST_HOOK: 'eal:init' });
    await b.waitFor(/eal:init reached/, 10000); // a new primary: its config made and locked, its region not yet ready
    const made = leftovers(p);
    assert.ok(made.length > 0);
    c.proc.kill('SIGCONT');
    assert.equal(await c.exited, 1, c.err);
    assert.match(c.err, new RegExp(`the instance '${p}' was removed and started again while this looked at it`));
    assert.deepEqual(leftovers(p), made, "the new primary's files are all there");
    b.proc.kill('SIGKILL');
    await b.exited;
    const again = await run('mpdk', ['cleanup', '--file-prefix', p]);
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(leftovers(p), []);
  } finally {
    for (const x of [a, b]) x?.proc.kill('SIGKILL');
    if (c) {
      c.proc.kill('SIGCONT');
      c.proc.kill('SIGKILL');
    }
    removeInstance(p);
  }
});

test('the last process out waits for a primary lock held an instant by another (a dead primary\'s, in a child it forked that has not yet exec\'d) and removes the files', async () => {
  const p = uniquePrefix();
  const a = spawnNode(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET, '--', 'hold']);
  let s: Child | undefined;
  let fd = -1;
  try {
    await a.waitFor(/"ready"/, 10000);
    s = spawnNode(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', 'survive', 'hold']);
    await s.waitFor(/"ready"/, 10000);
    a.proc.stdin!.end(); // the primary leaves; the secondary is the last process
    assert.equal(await a.exited, 0, a.err);
    // Here the lock is held as a forked child of the primary holds it (its copy of the descriptor).
    fd = fs.openSync(`${process.env.MPDK_RUNTIME_DIR ?? '/dev/shm'}/mpdk.${p}/config`, 'r');
    assert.ok(flock(fd, LOCK_EX | LOCK_NB), 'nobody holds the primary lock once the primary is gone');
    const held = fd;
    setTimeout(() => fs.closeSync(held), 200).unref();
    fd = -1;
    s.proc.stdin!.end(); // the last process out meets the lock held for 200 ms
    assert.equal(await s.exited, 0, s.err);
    await until(() => leftovers(p).length === 0, 3000, 'the last process out to remove the files once the lock is free');
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    for (const c of [a, s]) c?.proc.kill('SIGKILL');
    removeInstance(p);
  }
});
