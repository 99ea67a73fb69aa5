/**
 * A shared host (issue 15): another local user (played for real: uid/gid 65534, nobody)
 * plants folders, links, FIFOs and connections; root's mpdk must refuse at once with a
 * message naming the cause, never hang, and leave the victim files (outside /dev/shm)
 * untouched. Plus: liveness that never calls "could not tell" a death, a region that does
 * not fit its file system, half-made regions, signals during start-up, unsigned sizes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { probeSocket, removeIfStill } from '../src/eal/folder-socket.js';
import { telemetryDir } from '../src/eal/telemetry-dir.js';
import { Eal } from '../src/index.js';
import { closeFd, Liveness, processLiveness, processStartTime, seqpacketSocket, unixListen } from '../src/native/libc.js';
import { exitedWithin, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

after(reapAll);

const NOBODY = 65534;
const SHM = process.env.MPDK_RUNTIME_DIR ?? '/dev/shm';
const CHILD = 'dist/test/eal-child.js';
const QUIET = ['--log-level', 'error'];
const isRoot = process.geteuid?.() === 0;
const ROOT_ONLY = isRoot ? false : 'needs root: the attacker is played by uid 65534 (nobody), which only root can become';

/** Run `argv` as nobody (bounded); throws with its stderr when it fails. */
function asNobody(argv: string[], input?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { uid: NOBODY, gid: NOBODY, timeout: 60000, encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`as nobody: ${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** A node script run as nobody. */
function nobodyNode(code: string): string {
  return asNobody([process.execPath, '-e', code]);
}

/** A socket listening at `at` (its descriptor; close it and the socket is stale: nobody accepts). */
function listenAt(at: string): number {
  const fd = seqpacketSocket();
  unixListen(fd, at, false, 4);
  return fd;
}

/** A victim folder outside /dev/shm that root owns and nobody can read: what must survive. */
function victims(): { dir: string; fileA: string; dirB: string; dirC: string } {
  const dir = fs.mkdtempSync(path.join('/var/tmp', 'mpdk-victim-'));
  const fileA = path.join(dir, 'victimA');
  fs.writeFileSync(fileA, 'precious A\n');
  const dirB = path.join(dir, 'dirB');
  fs.mkdirSync(dirB);
  const dirC = path.join(dir, 'dirC');
  fs.mkdirSync(dirC);
  fs.writeFileSync(path.join(dirC, 'c1'), 'precious C\n');
  return { dir, fileA, dirB, dirC };
}

function removeEntry(p: string): void {
  try {
    if (fs.lstatSync(p).isSymbolicLink()) fs.unlinkSync(p);
    else fs.rmSync(p, { recursive: true, force: true });
  } catch {
    /* gone */
  }
}

test('the attacker can reach the test: /work and the runtime folder are traversable by nobody', { skip: ROOT_ONLY }, () => {
  // spawnSync as nobody needs node itself and the runtime folder to be reachable.
  assert.equal(nobodyNode(`fs=require('fs');fs.accessSync(${JSON.stringify(SHM)}, fs.constants.W_OK|fs.constants.X_OK);process.stdout.write('ok')`), 'ok');
});

test("another user's planted instance folders (config naming a victim, link to a victim folder, FIFO region) are refused by root's tools and primaries: bounded, victims untouched", { skip: ROOT_ONLY }, async () => {
  const v = victims();
  const e1 = uniquePrefix('sq');
  const e2 = uniquePrefix('lk');
  const e3 = uniquePrefix('lc');
  const d1 = path.join(SHM, `mpdk.${e1}`);
  const d2 = path.join(SHM, `mpdk.${e2}`);
  const d3 = path.join(SHM, `mpdk.${e3}`);
  try {
    // The attacker: a folder of theirs under e1 with a config naming root's file and a FIFO
    // as the region; links named e2 and e3 to root's folders.
    nobodyNode(`const fs=require('fs');fs.mkdirSync(${JSON.stringify(d1)},{mode:0o777});fs.chmodSync(${JSON.stringify(d1)},0o777);` +
      `fs.writeFileSync(${JSON.stringify(path.join(d1, 'config'))}, JSON.stringify({pid:1,region:${JSON.stringify(v.fileA)}}));` +
      `fs.symlinkSync(${JSON.stringify(v.dirB)},${JSON.stringify(d2)});fs.symlinkSync(${JSON.stringify(v.dirC)},${JSON.stringify(d3)});`);
    asNobody(['mkfifo', path.join(d1, 'region')]);

    const bounded = async (args: string[]): Promise<{ code: number; err: string; out: string }> => {
      const t0 = Date.now();
      const r = await run('mpdk', args, 20000);
      assert.notEqual(r.code, 137, `mpdk ${args.join(' ')} hung and was killed after ${Date.now() - t0} ms`);
      return r;
    };
    const c1 = await bounded(['cleanup', '--file-prefix', e1]);
    assert.equal(c1.code, 1, c1.err);
    assert.match(c1.err, /belongs to uid 65534, not to you \(uid 0\).*another --file-prefix/);
    for (const tool of ['info', 'audit']) {
      const r = await bounded([tool, '--file-prefix', e1]);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /belongs to uid 65534/, `${tool}: ${r.err}`);
    }
    const ls = await bounded(['ls']);
    assert.equal(ls.code, 0, ls.err);
    assert.match(ls.out, new RegExp(`${e1}\\s+stale.*belongs to uid 65534`));
    assert.match(ls.out, new RegExp(`${e2}\\s+stale.*symbolic link to ${v.dirB}`));
    // A primary on the squatted name is refused with the squatter's uid and a way out.
    const sq = await bounded(['simple_mp', '-l', '0-1', '--file-prefix', e1, ...QUIET]);
    assert.equal(sq.code, 1);
    assert.match(sq.err, new RegExp(`${d1} belongs to uid 65534.*use another --file-prefix than '${e1}'`));
    assert.equal(sq.err.trim().split('\n').length, 1, sq.err);
    // A primary and a cleanup on names that are links: refused, never followed.
    const p2 = await bounded(['simple_mp', '-l', '0-1', '--file-prefix', e2, ...QUIET]);
    assert.equal(p2.code, 1);
    assert.match(p2.err, /is a symbolic link to .*dirB.*not a folder of yours/);
    const c3 = await bounded(['cleanup', '--file-prefix', e3]);
    assert.equal(c3.code, 1);
    assert.match(c3.err, /is a symbolic link to .*dirC/);

    assert.equal(fs.readFileSync(v.fileA, 'utf8'), 'precious A\n');
    assert.deepEqual(fs.readdirSync(v.dirB), [], 'nothing created in the folder the link points to');
    assert.deepEqual(fs.readdirSync(v.dirC), ['c1']);
    assert.equal(fs.readFileSync(path.join(v.dirC, 'c1'), 'utf8'), 'precious C\n');
    assert.ok(fs.lstatSync(d2).isSymbolicLink() && fs.lstatSync(d3).isSymbolicLink(), "the attacker's entries are left as they were");
  } finally {
    for (const d of [d1, d2, d3]) removeEntry(d);
    fs.rmSync(v.dir, { recursive: true, force: true });
  }
});

test('--huge-dir shared with other users: a link or FIFO planted at the region name is removed, never followed', { skip: ROOT_ONLY }, async () => {
  const v = victims();
  const huge = fs.mkdtempSync(path.join('/var/tmp', 'mpdk-huge-'));
  fs.chmodSync(huge, 0o1777);
  const p = uniquePrefix('hd');
  const region = path.join(huge, `mpdk.${p}.region`);
  try {
    nobodyNode(`require('fs').symlinkSync(${JSON.stringify(v.fileA)}, ${JSON.stringify(region)})`);
    const a = spawnNode(CHILD, ['-l', '0', '-m', '16', '--huge-dir', huge, '--file-prefix', p, ...QUIET, '--', 'hold']);
    await a.waitFor(/"ready":true/, 10000);
    const st = fs.lstatSync(region);
    assert.ok(st.isFile() && st.uid === 0 && (st.mode & 0o777) === 0o600, 'a fresh region file of root, 0600');
    assert.equal(fs.readFileSync(v.fileA, 'utf8'), 'precious A\n');
    // Tools must be told the same --huge-dir: the config holds no path.
    const i = await run('mpdk', ['info', '--file-prefix', p]);
    assert.notEqual(i.code, 0);
    assert.match(i.err, /on hugetlbfs \(--huge-dir\); give the same --huge-dir DIR/);
    const i2 = await run('mpdk', ['info', '--file-prefix', p, '--huge-dir', huge]);
    assert.equal(i2.code, 0, i2.err);
    assert.match(i2.out, new RegExp(`16 MiB region at ${region}`));
    a.proc.stdin!.end();
    assert.equal(await a.exited, 0, a.err);
    assert.deepEqual(fs.readdirSync(huge), []);
    assert.deepEqual(leftovers(p), []);
  } finally {
    removeInstance(p);
    fs.rmSync(huge, { recursive: true, force: true });
    fs.rmSync(v.dir, { recursive: true, force: true });
  }
});

test('rx_pcap= a FIFO is refused at once (the primary never blocks); tx_pcap= and dumpcap -w never follow a link', { skip: ROOT_ONLY }, async () => {
  const v = victims();
  const pub = fs.mkdtempSync(path.join('/var/tmp', 'mpdk-pub-'));
  fs.chmodSync(pub, 0o1777);
  const fifo = path.join(pub, 'in.pcap');
  const link = path.join(pub, 'out.pcap');
  const p = uniquePrefix('pc');
  try {
    asNobody(['mkfifo', fifo]);
    nobodyNode(`require('fs').symlinkSync(${JSON.stringify(v.fileA)}, ${JSON.stringify(link)})`);
    const rx = await run('mpdk', ['symmetric_mp', '-l', '0', '--file-prefix', p, ...QUIET, `--vdev=net_pcap0,rx_pcap=${fifo}`, '--vdev=net_ring0', '--', '-p', '3', '--num-procs=1', '--proc-id=0'], 15000);
    assert.notEqual(rx.code, 137, 'blocked on the FIFO');
    assert.equal(rx.code, 1, rx.err);
    assert.match(rx.err, /rx_pcap=.*in\.pcap.*is a FIFO, not a regular file/);
    assert.deepEqual(leftovers(p), []);
    const tx = await run('mpdk', ['symmetric_mp', '-l', '0', '--file-prefix', p, ...QUIET, `--vdev=net_pcap0,tx_pcap=${link}`, '--vdev=net_ring0', '--', '-p', '3', '--num-procs=1', '--proc-id=0'], 15000);
    assert.equal(tx.code, 1, tx.err);
    assert.match(tx.err, /out\.pcap: is a symbolic link \(a symbolic link to .*victimA owned by uid 65534\); mpdk does not follow links/);
    assert.deepEqual(leftovers(p), []);
    // dumpcap opens -w the same way (checked before it attaches: no instance needed).
    const { PcapWriter, PcapngWriter } = await import('../src/index.js');
    assert.throws(() => PcapWriter.open(link), /is a symbolic link/);
    assert.throws(() => PcapWriter.open(fifo), /FIFO/);
    assert.throws(() => PcapngWriter.open(link), /is a symbolic link/);
    assert.throws(() => PcapngWriter.open(fifo), /FIFO/);
    assert.equal(fs.readFileSync(v.fileA, 'utf8'), 'precious A\n');
  } finally {
    removeInstance(p);
    fs.rmSync(pub, { recursive: true, force: true });
    fs.rmSync(v.dir, { recursive: true, force: true });
  }
});

test('a stale socket is removed only if its name still holds the socket probed: a server that bound the name since (same inode number or not) keeps it', () => {
  // The race itself (probe, then another process replaces the socket, then the removal) is
  // laid out step by step in this process: the files and sockets are real.
  const dir = fs.mkdtempSync(path.join(SHM, 'mpdk-stale-'));
  const dfd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const at = path.join(dir, 's');
  const bind = (): number => {
    const fd = seqpacketSocket();
    unixListen(fd, at, false, 4);
    return fd;
  };
  try {
    closeFd(bind()); // a server that died: its socket refuses connections
    const probed = fs.lstatSync(at);
    assert.equal(probeSocket(at), 111, 'stale: ECONNREFUSED');
    // Replaced before the removal: the stale one removed by someone else, a live one bound.
    fs.unlinkSync(at);
    const live = bind();
    try {
      const liveIno = fs.lstatSync(at).ino;
      assert.equal(removeIfStill(dfd, 's', probed), false, 'not the socket probed: not removed');
      assert.equal(fs.lstatSync(at).ino, liveIno, 'the live socket is still at its name');
      assert.equal(probeSocket(at), 0, 'and accepts');
      assert.equal(removeIfStill(dfd, 's', fs.lstatSync(at)), false, 'the same inode, but live (an inode number reused): not removed');
      assert.equal(probeSocket(at), 0);
      assert.deepEqual(fs.readdirSync(dir), ['s'], 'nothing left aside');
    } finally {
      closeFd(live);
    }
    assert.equal(removeIfStill(dfd, 's', fs.lstatSync(at)), true, 'stale now, and the one probed: removed');
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.closeSync(dfd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a socket moved aside whose name is taken again before it is put back stays aside only if it is not a stale socket of ours: a stale one is removed at once', async () => {
  // The race needs a second actor: a child process binds the name in a tight loop, which
  // succeeds only inside removeIfStill's window (the name moved aside, not yet put back);
  // MPDK_TEST_HOOK=folder-socket:aside holds that window open 200 ms so the child surely wins it.
  const dir = fs.mkdtempSync(path.join(SHM, 'mpdk-aside-'));
  const dfd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const at = (n: string): string => path.join(dir, n);
  const staleAt = (n: string): void => closeFd(listenAt(at(n)));
  const asides = (): string[] => fs.readdirSync(dir).filter((n) => n.startsWith('.stale-'));
  staleAt('probed'); // what the caller probed: stays, so its inode number is not reused
  const probed = fs.lstatSync(at('probed'));
  staleAt('s'); // bound since the probe, its server gone: stale, another inode; there before the binder starts
  const binder = spawnNode('dist/test/security-child.js', ['bind-loop', at('s')]);
  try {
    await binder.waitFor(/spinning/, 10_000);
    process.env.MPDK_TEST_HOOK = 'folder-socket:aside';
    try {
      assert.equal(removeIfStill(dfd, 's', probed), false, 'not the socket probed: never removed as it');
    } finally {
      delete process.env.MPDK_TEST_HOOK;
    }
    await binder.waitFor(/bound/, 5000);
    assert.equal(probeSocket(at('s')), 0, 'the name holds the binder\'s live socket');
    assert.deepEqual(asides(), [], 'the stale socket left aside (its name taken) was removed by the mover at once');
  } finally {
    binder.proc.kill('SIGKILL');
    await binder.exited;
    fs.closeSync(dfd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the last process out removes a stale socket of ours left aside (.stale-PID-N) in the instance and telemetry folders, and nothing else there: a live one, a file, a link, another user\'s socket', { skip: ROOT_ONLY }, () => {
  const p = uniquePrefix('as');
  const eal = Eal.init({ lcores: [0], procType: 'primary', filePrefix: p, name: 'aside-test', telemetry: true });
  const folders = [path.join(SHM, `mpdk.${p}`), telemetryDir(p)];
  const elsewhere = fs.mkdtempSync(path.join(SHM, 'mpdk-aside-target-'));
  const live: number[] = [];
  try {
    closeFd(listenAt(path.join(elsewhere, 'target')));
    for (const d of folders) {
      closeFd(listenAt(path.join(d, '.stale-1-1'))); // ours, stale: goes
      live.push(listenAt(path.join(d, '.stale-1-2'))); // ours, live: stays
      fs.writeFileSync(path.join(d, '.stale-1-3'), 'a file\n'); // not a socket: stays
      fs.symlinkSync(path.join(elsewhere, 'target'), path.join(d, '.stale-1-4')); // a link (to a stale socket): stays, not followed
      closeFd(listenAt(path.join(d, '.stale-1-5')));
      fs.lchownSync(path.join(d, '.stale-1-5'), NOBODY, NOBODY); // another user's stale socket: stays
    }
    eal.close(); // the last process out
    for (const d of folders) {
      assert.deepEqual(fs.readdirSync(d).filter((n) => n.startsWith('.stale-')).sort(), ['.stale-1-2', '.stale-1-3', '.stale-1-4', '.stale-1-5'], `in ${d}: only our stale socket removed`);
      assert.ok(fs.lstatSync(path.join(d, '.stale-1-4')).isSymbolicLink());
    }
    assert.ok(fs.lstatSync(path.join(elsewhere, 'target')).isSocket(), 'the link\'s target untouched');
  } finally {
    for (const fd of live) closeFd(fd);
    removeInstance(p);
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('liveness: "no such process" or another start time is dead; "could not tell" (EMFILE) is unknown, never dead; a start of 0 matches nothing', async () => {
  const me = processStartTime(process.pid);
  assert.ok(me > 0);
  assert.equal(processLiveness(process.pid, me), Liveness.ALIVE);
  assert.equal(processLiveness(process.pid, me + 1), Liveness.DEAD, 'another start time: the pid was reused');
  assert.equal(processLiveness(process.pid, 0), Liveness.UNKNOWN, 'a start of 0 never matches');
  const gone = spawnSync('true').pid!;
  assert.equal(processLiveness(gone, 12345), Liveness.DEAD);
  const r = await run('dist/test/security-child.js', ['emfile', String(process.pid), String(me), String(gone)], 30000);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { full: true, live: 'unknown', dead: 'dead' });
});

test('20,000 connections from another user while a client lives: nothing to connect to, the client stays listed, nothing reclaimed, files intact', { skip: ROOT_ONLY }, async () => {
  const p = uniquePrefix('fl');
  const a = spawnNode(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET, '--', 'reserve:kept:64', 'hold']);
  let b: Child | undefined;
  try {
    await a.waitFor(/"ready":true/, 10000);
    b = spawnNode(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--', 'hold']);
    await b.waitFor(/"ready":true/, 10000);
    const names = [a.proc.pid!, b.proc.pid!].map((pid) => `\\0mpdk-lifeline-${pid}-${processStartTime(pid)}`);
    // Connect 20,000 times (10,000 at each process's former lifeline name, 500 at a time).
    const got = JSON.parse(nobodyNode(`const net=require('net');const names=${JSON.stringify(names)}.map(n=>n.replace('\\\\0','\\0'));` +
      `let ok=0,refused=0,n=0;async function one(name){await new Promise(r=>{const s=net.connect({path:name});` +
      `s.on('connect',()=>{ok++;r()});s.on('error',()=>{refused++;r()})});}` +
      `(async()=>{while(n<20000){const batch=[];for(let i=0;i<500;i++,n++)batch.push(one(names[n%2]));await Promise.all(batch);}` +
      `process.stdout.write(JSON.stringify({ok,refused}));process.exit(0)})()`)) as { ok: number; refused: number };
    assert.deepEqual(got, { ok: 0, refused: 20000 });
    const i = await run('mpdk', ['info', '--file-prefix', p, '--json']);
    assert.equal(i.code, 0, i.err);
    const info = JSON.parse(i.out) as { processes: { pid: number; liveness: string }[]; memzones: { name: string }[] };
    assert.deepEqual(info.processes.map((x) => [x.pid, x.liveness]).sort(), [[a.proc.pid, 'alive'], [b.proc.pid, 'alive']].sort());
    assert.ok(info.memzones.some((m) => m.name === 'kept'));
    assert.ok(fs.existsSync(path.join(SHM, `mpdk.${p}`, 'region')));
    b.proc.stdin!.end();
    assert.equal(await b.exited, 0, b.err);
    a.proc.stdin!.end();
    assert.equal(await a.exited, 0, a.err);
    assert.deepEqual(leftovers(p), []);
  } finally {
    removeInstance(p);
  }
});

test('a region larger than the free space of a 48 MiB tmpfs: one-line refusal naming what is free and -m, nothing left, no SIGBUS', { skip: ROOT_ONLY }, async () => {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-small-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=1777', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    fs.rmdirSync(mnt);
    return void test.skip?.(`cannot mount a tmpfs here: ${m.stderr.trim()}`);
  }
  const p = uniquePrefix('sm');
  try {
    const r = await run('mpdk', ['simple_mp', '-l', '0-1', '-m', '256', '--file-prefix', p], 15000, { MPDK_RUNTIME_DIR: mnt });
    assert.equal(r.code, 1, r.err);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, new RegExp(`needs 256 MiB but ${mnt}/mpdk\\.${p} has 4[78](\\.\\d)? MiB free; start with a smaller -m \\(at most 4[67]\\).*--huge-dir`));
    assert.deepEqual(fs.readdirSync(mnt), [], 'nothing left behind');
    // What fits starts (and a -m that fits is reserved up front).
    const ok = await run(CHILD, ['-l', '0', '-m', '32', '--file-prefix', p, ...QUIET], 15000, { MPDK_RUNTIME_DIR: mnt });
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(fs.readdirSync(mnt), []);
  } finally {
    spawnSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  }
});

test('a half-made region (magic 0) with no lock holder is removed by cleanup; a region or config that is a folder is a one-line error', async () => {
  const p = uniquePrefix('hm');
  const dir = path.join(SHM, `mpdk.${p}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'region'), Buffer.alloc(1 << 16), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'config'), '', { mode: 0o600 });
    const i = await run('mpdk', ['info', '--file-prefix', p]);
    assert.equal(i.code, 1);
    assert.match(i.err, /is being initialised/);
    const c = await run('mpdk', ['cleanup', '--file-prefix', p]);
    assert.equal(c.code, 0, c.err);
    assert.deepEqual(leftovers(p), []);

    fs.mkdirSync(path.join(dir, 'region'), { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    const r = await run('mpdk', ['info', '--file-prefix', p]);
    assert.equal(r.code, 1);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /the shared region .*region is a folder, not a regular file; remove it with mpdk cleanup/);
    assert.equal((await run('mpdk', ['cleanup', '--file-prefix', p])).code, 0);
    assert.deepEqual(leftovers(p), []);

    fs.mkdirSync(path.join(dir, 'config'), { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    const s = await run(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET]);
    assert.equal(s.code, 1);
    assert.match(s.err, /the config file .*config is a folder, not a regular file/);
    assert.doesNotMatch(s.err, /EISDIR|internal error|at .*\.js:/);
  } finally {
    removeInstance(p);
  }
});

test('offsets damaged in a live region are "corrupt region ... beyond", never a RangeError, in info and a joining secondary', async () => {
  const p = uniquePrefix('cr');
  const a = spawnNode(CHILD, ['-l', '0', '--file-prefix', p, ...QUIET, '--', 'reserve:zone:64', 'hold']);
  try {
    await a.waitFor(/"ready":true/, 10000);
    const file = path.join(SHM, `mpdk.${p}`, 'region');
    const size = fs.statSync(file).size;
    const { HDR } = await import('../src/eal/region.js');
    const { MZ } = await import('../src/eal/memzone.js');
    const fd = fs.openSync(file, 'r+');
    const word = Buffer.alloc(4);
    const at = (off: number): number => (fs.readSync(fd, word, 0, 4, off), word.readUInt32LE(0));
    const put = (off: number, v: number): void => void (word.writeUInt32LE(v >>> 0, 0), fs.writeSync(fd, word, 0, 4, off));
    try {
      // The memzone's offset points 8 bytes before the end of the region.
      const mzTable = at(HDR.MEMZONE_TABLE);
      put(mzTable + MZ.OFFSET, size - 8);
      const i = await run('mpdk', ['info', '--file-prefix', p]);
      assert.equal(i.code, 1);
      assert.match(i.err, new RegExp(`corrupt region .*memzone 'zone' \\(offset ${size - 8} \\+ 64 beyond ${size}\\)`));
      assert.doesNotMatch(i.err, /RangeError/);
      // The process table starts 100 bytes before the end.
      put(HDR.PROC_TABLE, size - 100);
      const s = await run(CHILD, ['-l', '1', '--proc-type=secondary', '--file-prefix', p, ...QUIET]);
      assert.equal(s.code, 1);
      assert.match(s.err, new RegExp(`corrupt region .*process table \\(offset ${size - 100} \\+ \\d+ beyond ${size}\\)`));
      assert.doesNotMatch(s.err, /RangeError/);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    a.proc.kill('SIGKILL');
    await a.exited;
    removeInstance(p);
  }
});

test('a signal at any moment of start-up is honoured: the program stops and removes what it made', async () => {
  const progs: [string, string[]][] = [
    ['symmetric_mp', ['symmetric_mp', '-l', '0', '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '--num-procs=1', '--proc-id=0']],
    ['mp_server', ['mp_server', '-l', '0', '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '-n', '1']],
  ];
  for (const [name, argv] of progs) {
    for (const delay of [150, 250, 350, 450, 600]) {
      const p = uniquePrefix('sg');
      const [cmd, ...rest] = argv;
      const c = spawnNode('mpdk', [cmd!, '--file-prefix', p, ...QUIET, ...rest]);
      await sleep(delay);
      c.proc.kill('SIGTERM');
      const code = await exitedWithin(c, 15000);
      assert.notEqual(code, -1, `${name} ignored SIGTERM sent ${delay} ms after start:\n${c.err}`);
      assert.deepEqual(leftovers(p), [], `${name} killed ${delay} ms after start left files (exit ${code})`);
      removeInstance(p);
    }
  }
});

test('sizes are unsigned: -m 4095 is 4095 MiB; a missing --huge-dir leaves nothing', async (t) => {
  const p = uniquePrefix('sz');
  const bad = await run(CHILD, ['-l', '0', '--huge-dir', '/nonexistent-mpdk', '--file-prefix', p]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--huge-dir \/nonexistent-mpdk does not exist; mount hugetlbfs there/);
  assert.deepEqual(leftovers(p), []);
  const free = fs.statfsSync(SHM);
  if (free.bavail * free.bsize < 6 * 2 ** 30) return void t.skip('needs 6 GiB free in the runtime folder for a 4095 MiB region');
  const r = await run(CHILD, ['-l', '0', '-m', '4095', '--file-prefix', p, '--log-level', 'info'], 30000);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /primary: 4095 MiB shared region/);
  assert.deepEqual(leftovers(p), []);
});
