/**
 * net_memif with real processes: mpdk ↔ mpdk (both roles, several queues, a secondary
 * using the primary's port, a peer killed and restarted), mpdk ↔ DPDK testpmd (skipped
 * with the reason when dpdk-testpmd is missing), and a hand-written bad peer whose every
 * malformed message or descriptor must be refused without a crash.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitedWithin, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';
import {
  closeFd, eventfdCreate, mapFd, memfdCreate, pollFds, recvWithFds, seqpacketSocket, sendWithFd, unixConnect, POLLIN,
} from '../src/native/libc.js';
import {
  addRegionMsg, addRingMsg, connectMsg, initMsg, MsgType, msgType, parseDisconnect, regionLayout, ringBytes, RING, DESC, MEMIF_COOKIE,
  MEMIF_MSG_SIZE, RING_FLAG_MASK_INT,
} from '../src/drivers/net/memif-proto.js';

const CHILD = 'dist/test/memif-child.js';
const TESTPMD = spawnSync('sh', ['-c', 'command -v dpdk-testpmd'], { encoding: 'utf8' }).stdout.trim();
const NO_TESTPMD = TESTPMD ? false : 'dpdk-testpmd is not installed (apt-get install -y dpdk dpdk-dev)';
const prefixes: string[] = [];
const dpdkKids = new Set<ChildProcess>();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memif-'));

/** testpmd --file-prefix values used: their runtime dirs (and any hugepage files) go in `after`, pass or fail. */
const dpdkPrefixes = new Set<string>();

after(async () => {
  const exits = [...dpdkKids].map((p) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r()))));
  for (const p of dpdkKids) p.kill('SIGKILL');
  let late: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(exits), new Promise((r) => (late = setTimeout(r, 5000)))]);
  clearTimeout(late); // a pending bound would hold the file open
  await reapAll();
  await sleep(100);
  for (const p of prefixes) removeInstance(p);
  for (const fp of dpdkPrefixes) cleanDpdk(fp);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function prefix(): string {
  const p = uniquePrefix('mif');
  prefixes.push(p);
  return p;
}

function start(pfx: string, vdev: string, mode: string, count: number, size = 64, nq = 1, secondary = false): Child {
  return spawnNode(CHILD, [pfx, vdev, mode, String(count), String(size), String(nq), ...(secondary ? ['secondary'] : [])]);
}

interface Stats {
  rx: number; bad: number; tx: number; q: number[]; ierrors: number; oerrors: number; disconnects: number; connects: number; refused: number;
  sleeps: number; wakeups: number; regions: number;
}

function stats(c: Child): Stats | undefined {
  const lines = c.out.split('\n').filter((l) => l.startsWith('rx '));
  const l = lines[lines.length - 1];
  if (!l) return undefined;
  const f = l.split(' ');
  const v = (k: string): number => Number(f[f.indexOf(k) + 1]);
  return { rx: v('rx'), bad: v('bad'), tx: v('tx'), q: f[f.indexOf('q') + 1]!.split(',').map(Number), ierrors: v('ierrors'), oerrors: v('oerrors'), disconnects: v('disconnects'), connects: v('connects'), refused: v('refused'), sleeps: v('sleeps'), wakeups: v('wakeups'), regions: v('regions') };
}

async function waitStats(c: Child, pred: (s: Stats) => boolean, ms: number, what: string): Promise<Stats> {
  return until(() => {
    const s = stats(c);
    return s && pred(s) ? s : undefined;
  }, ms, `${what} (last: ${c.out.split('\n').filter((l) => l.startsWith('rx ')).pop() ?? 'none'}; stderr: ${c.err.slice(-300)})`);
}

async function quit(c: Child): Promise<number> {
  c.send('quit');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 8000);
  const code = await c.exited;
  clearTimeout(t);
  return code;
}

function testpmd(fp: string, vdev: string, mode: string): ChildProcess & { text: string } {
  dpdkPrefixes.add(fp);
  const p = spawn(TESTPMD, ['-l', '0-1', '--no-pci', '--no-huge', '-m', '512', '--file-prefix', fp, `--vdev=${vdev}`, '--', `--forward-mode=${mode}`, '--auto-start', '--total-num-mbufs=16384'],
    { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcess & { text: string };
  p.text = '';
  p.stdout!.on('data', (d: Buffer) => (p.text += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (p.text += d.toString()));
  dpdkKids.add(p);
  p.on('exit', () => dpdkKids.delete(p));
  return p;
}

/**
 * Until testpmd has started its port (its memif server socket listens from the port's probe
 * on): it prints "Checking link statuses..." right after the start, then waits for the link.
 */
async function testpmdStarted(p: ChildProcess & { text: string }): Promise<void> {
  await until(() => p.text.includes('Checking link statuses'), 15000, `testpmd to start its port: ${p.text.slice(-500)}`);
}

async function testpmdExit(p: ChildProcess & { text: string }): Promise<string> {
  p.stdin!.write('\n');
  const t = setTimeout(() => p.kill('SIGKILL'), 8000);
  await new Promise<void>((r) => (p.exitCode !== null ? r() : p.once('exit', () => r())));
  clearTimeout(t);
  return p.text;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system, every thread) process `pid` has used so far. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 utime, 15 stime
}

/** Share of one CPU each process used over the next `ms` (all of them idle, we hope). */
async function cpuShare(pids: number[], ms: number): Promise<number[]> {
  const a = pids.map(cpuSeconds);
  const t0 = performance.now();
  await sleep(ms);
  const secs = (performance.now() - t0) / 1000;
  return pids.map((p, i) => (cpuSeconds(p) - a[i]!) / secs);
}

function cleanDpdk(fp: string): void {
  fs.rmSync(`/var/run/dpdk/${fp}`, { recursive: true, force: true });
  try {
    for (const f of fs.readdirSync('/dev/hugepages')) if (f.startsWith(fp)) fs.rmSync(path.join('/dev/hugepages', f), { force: true });
  } catch {
    /* no hugetlbfs here (the tests run testpmd with --no-huge anyway) */
  }
}

describe('net_memif between two mpdk processes', () => {
  test('server RX ← client TX over a socket file, 2 queue pairs; every packet arrives with its bytes', async () => {
    const a = prefix();
    const b = prefix();
    const sock = path.join(tmp, 's1.sock');
    const srv = start(a, `net_memif0,role=server,socket=${sock},socket-abstract=no,id=3`, 'rx', 0, 64, 2);
    await srv.waitFor(/ready/, 15000);
    const cli = start(b, `net_memif0,role=client,socket=${sock},socket-abstract=no,id=3`, 'tx', 40000, 64, 2);
    await cli.waitFor(/txdone 40000/, 20000);
    const s = await waitStats(srv, (x) => x.rx >= 40000, 10000, 'server receiving 40000');
    assert.equal(s.rx, 40000);
    assert.equal(s.bad, 0, 'every byte as sent');
    assert.ok(s.q[0]! > 0 && s.q[1]! > 0, `both queues carried packets (${s.q})`);
    assert.equal(await quit(cli), 0);
    await waitStats(srv, (x) => x.disconnects === 1, 5000, 'server seeing the client leave');
    assert.match(srv.out, /down .*device stopped/, 'the client said why it left');
    assert.equal(await quit(srv), 0);
    assert.deepEqual(leftovers(a), []);
    assert.deepEqual(leftovers(b), []);
    assert.equal(fs.existsSync(sock), false, 'the server removed its socket file');
  });

  test('client RX ← server TX over an abstract socket with a secret; a wrong secret is refused with its reason', async () => {
    const a = prefix();
    const b = prefix();
    const sock = `mpdk-test-${process.pid}-abs`;
    const srv = start(a, `net_memif0,role=server,socket=${sock},secret=hush`, 'tx', 0, 200);
    await srv.waitFor(/ready/, 15000);
    const bad = start(b, `net_memif0,role=client,socket=${sock},secret=nope`, 'rx', 0);
    await bad.waitFor(/refused the peer: Incorrect secret|Incorrect secret/, 10000).catch(() => undefined);
    await waitStats(srv, (x) => x.refused >= 1, 10000, 'server refusing the wrong secret');
    assert.equal(await quit(bad), 0);
    const cli = start(prefix(), `net_memif0,role=client,socket=${sock},secret=hush`, 'rx', 0, 200);
    const s = await waitStats(cli, (x) => x.rx >= 20000, 20000, 'client receiving');
    assert.equal(s.bad, 0);
    assert.equal(await quit(cli), 0);
    assert.equal(await quit(srv), 0);
  });

  test('a secondary process uses the queues of the port its primary connected', async () => {
    const a = prefix();
    const sock = path.join(tmp, 's2.sock');
    const prim = start(a, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'none', 0);
    await prim.waitFor(/ready/, 15000);
    const sec = start(a, '', 'rx', 0, 64, 1, true);
    await sec.waitFor(/ready/, 15000);
    const cli = start(prefix(), `net_memif0,role=client,socket=${sock},socket-abstract=no`, 'tx', 20000);
    await cli.waitFor(/txdone/, 20000);
    const s = await waitStats(sec, (x) => x.rx >= 20000, 10000, 'secondary receiving');
    assert.equal(s.bad, 0);
    await quit(cli);
    await quit(sec);
    await quit(prim);
    assert.deepEqual(leftovers(a), []);
  });

  test('the client killed with SIGKILL: the server goes down, then up again when a new client comes; traffic resumes', async () => {
    const a = prefix();
    const sock = path.join(tmp, 's3.sock');
    const srv = start(a, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'rx', 0);
    await srv.waitFor(/ready/, 15000);
    const b1 = prefix();
    const c1 = start(b1, `net_memif0,role=client,socket=${sock},socket-abstract=no`, 'tx', 0);
    await waitStats(srv, (x) => x.rx > 10000, 15000, 'traffic');
    c1.proc.kill('SIGKILL');
    await c1.exited;
    removeInstance(b1);
    const down = await waitStats(srv, (x) => x.disconnects === 1, 5000, 'server seeing the kill');
    await srv.waitFor(/down peer (closed|hung up)/, 5000);
    const c2 = start(prefix(), `net_memif0,role=client,socket=${sock},socket-abstract=no`, 'tx', 0);
    await waitStats(srv, (x) => x.connects === 2 && x.rx > down.rx + 10000, 15000, 'traffic after the restart');
    assert.equal(stats(srv)!.bad, 0);
    await quit(c2);
    await quit(srv);
  });

  test('the server killed with SIGKILL: the client retries with back-off and reconnects to a new server', async () => {
    const sock = path.join(tmp, 's4.sock');
    const a1 = prefix();
    const s1 = start(a1, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'tx', 0);
    await s1.waitFor(/ready/, 15000);
    const cli = start(prefix(), `net_memif0,role=client,socket=${sock},socket-abstract=no`, 'rx', 0);
    await waitStats(cli, (x) => x.rx > 10000, 15000, 'traffic');
    s1.proc.kill('SIGKILL');
    await s1.exited;
    removeInstance(a1);
    await waitStats(cli, (x) => x.disconnects === 1, 5000, 'client seeing the kill');
    const before = stats(cli)!.rx;
    const s2 = start(prefix(), `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'tx', 0);
    await waitStats(cli, (x) => x.connects === 2 && x.rx > before + 10000, 15000, 'traffic after the restart');
    await quit(cli);
    await quit(s2);
  });
});

describe('net_memif link state follows the peer', () => {
  async function infoLink(pfx: string): Promise<{ port: boolean; memif: boolean }> {
    const r = await run('mpdk', ['info', '--file-prefix', pfx, '--json'], 15000);
    assert.equal(r.code, 0, r.err);
    const objs = (JSON.parse(r.out) as { objects: { kind: string; link?: { up: boolean }; up?: boolean }[] }).objects;
    return { port: objs.find((o) => o.kind === 'port')!.link!.up, memif: objs.find((o) => o.kind === 'memif')!.up! };
  }

  test('down from start until the peer connects (EthDev.linkStatus and mpdk info; waiting costs < 2.5 % CPU), up within 3 s of the server starting, down within 3 s of its SIGKILL', async () => {
    const sock = path.join(tmp, 'l1.sock');
    const a1 = prefix();
    const lone = start(a1, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'none', 0);
    await lone.waitFor(/ready link (up|down)/, 15000);
    assert.match(lone.out, /ready link down/, 'a server with no client is down right after start');
    assert.deepEqual(await infoLink(a1), { port: false, memif: false });
    assert.equal(await quit(lone), 0);
    const b = prefix();
    const cli = start(b, `net_memif0,role=client,socket=${sock},socket-abstract=no`, 'rx', 0);
    await cli.waitFor(/ready link (up|down)/, 15000);
    assert.match(cli.out, /ready link down/, 'a client with no server is down right after start');
    assert.deepEqual(await infoLink(b), { port: false, memif: false });
    await sleep(300);
    const [waiting] = await cpuShare([cli.proc.pid!], 1000);
    assert.ok(waiting! < 0.025, `a client waiting for its server used ${(waiting! * 100).toFixed(1)} % CPU`);
    assert.doesNotMatch(cli.out, /^up$/m, 'never up without a server');
    const a2 = prefix();
    const srv = start(a2, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'none', 0);
    const t0 = performance.now();
    await cli.waitFor(/^up$/m, 5000);
    assert.ok(performance.now() - t0 < 3000);
    assert.deepEqual(await infoLink(b), { port: true, memif: true });
    await until(() => /^up$/m.test(srv.out), 5000, 'the server up');
    srv.proc.kill('SIGKILL');
    await srv.exited;
    removeInstance(a2);
    await cli.waitFor(/^down peer/m, 5000);
    assert.deepEqual(await infoLink(b), { port: false, memif: false });
    assert.equal(await quit(cli), 0);
    assert.deepEqual(leftovers(b), []);
  });
});

test('pktgen on a memif port whose peer is not there says after 2 s which link it waits for and why, and stops on SIGINT', async () => {
  const p = prefix();
  const g = spawnNode('mpdk', ['pktgen', '-l', '0', '--file-prefix', p, '--log-level', 'error', `--vdev=net_memif0,role=client,socket=${path.join(tmp, 'nobody.sock')},socket-abstract=no`,
    '--', '--tx-port', '0', '--count', '100']);
  await g.waitFor(/pktgen: waiting for the link of port 0 \(net_memif0, started: its peer brings it up\)\.\.\. \(sending anyway after 9 s\)/, 8000);
  g.proc.kill('SIGINT');
  await g.exited;
  await until(() => leftovers(p).length === 0, 5000, 'the instance files to go');
});

describe('net_memif interrupt mode: an idle port costs no CPU and wakes when packets come', () => {
  test('server and client idle 1.5 s on a connected link use < 2.5 % CPU each; 1000 packets sent after it all arrive, the receiver woken by its eventfd', async () => {
    const a = prefix();
    const b = prefix();
    const sock = path.join(tmp, 'i1.sock');
    const srv = start(a, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'rx', 0);
    await srv.waitFor(/ready/, 15000);
    const cli = start(b, `net_memif0,role=client,socket=${sock},socket-abstract=no`, 'tx', 1000);
    await cli.waitFor(/txdone 1000/, 20000);
    await waitStats(srv, (x) => x.rx === 1000, 5000, 'the first 1000');
    await sleep(300); // both loops reach their sleep stage
    const [srvCpu, cliCpu] = await cpuShare([srv.proc.pid!, cli.proc.pid!], 1500);
    assert.ok(srvCpu! < 0.025, `the idle server used ${(srvCpu! * 100).toFixed(1)} % CPU`);
    assert.ok(cliCpu! < 0.025, `the idle client used ${(cliCpu! * 100).toFixed(1)} % CPU`);
    const idle = await waitStats(srv, (x) => x.sleeps > 0, 2000, 'the server sleeping');
    // Five rounds of 200, each after 300 ms of quiet: a round that lands while the server is
    // between two sleeps (its poll after a timed wake, longer on a loaded machine) is found by
    // polling, not by the eventfd; without the eventfd no round counts a wake-up at all.
    for (let r = 1; r <= 5; r++) {
      await sleep(300);
      cli.send('send 200');
      const t0 = performance.now();
      await waitStats(srv, (x) => x.rx === 1000 + 200 * r, 3000, `round ${r} of the 1000 sent after the idle window`);
      assert.ok(performance.now() - t0 < 3000);
    }
    const s = stats(srv)!;
    assert.equal(s.bad, 0);
    assert.ok(s.wakeups > idle.wakeups, `the server was woken by the ring's eventfd (wakeups ${idle.wakeups} → ${s.wakeups})`);
    assert.equal(await quit(cli), 0);
    assert.equal(await quit(srv), 0);
    assert.deepEqual(leftovers(a), []);
    assert.deepEqual(leftovers(b), []);
  });

  test('a secondary sleeping on a queue of the port its primary connected is idle, then woken (eventfd taken from the primary with pidfd_getfd)', async () => {
    const a = prefix();
    const sock = path.join(tmp, 'i2.sock');
    const prim = start(a, `net_memif0,role=client,socket=${sock},socket-abstract=no`, 'none', 0);
    await prim.waitFor(/ready/, 15000);
    const sec = start(a, '', 'rx', 0, 64, 1, true);
    await sec.waitFor(/ready/, 15000);
    const b = prefix();
    const srv = start(b, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'tx', 500);
    await srv.waitFor(/txdone 500/, 20000);
    await waitStats(sec, (x) => x.rx === 500, 5000, 'the secondary receiving the first 500');
    await sleep(300);
    const [secCpu] = await cpuShare([sec.proc.pid!], 1500);
    assert.ok(secCpu! < 0.025, `the idle secondary used ${(secCpu! * 100).toFixed(1)} % CPU`);
    assert.doesNotMatch(sec.err, /cannot take the ring's interrupt fd/);
    const before = stats(sec)!;
    for (let r = 1; r <= 5; r++) { // five rounds after quiet, as in the test above
      if (r > 1) await sleep(300);
      srv.send('send 100');
      await waitStats(sec, (x) => x.rx === 500 + 100 * r, 3000, `round ${r} of the 500 sent after the idle window`);
    }
    const s = stats(sec)!;
    assert.equal(s.bad, 0);
    assert.ok(s.wakeups > before.wakeups, `the secondary was woken by the ring's eventfd (wakeups ${before.wakeups} → ${s.wakeups})`);
    await quit(srv);
    await quit(sec);
    await quit(prim);
    assert.deepEqual(leftovers(a), []);
    assert.deepEqual(leftovers(b), []);
  });
});

describe('net_memif zero-copy client (zero-copy=yes): the peer reads and writes the client\'s mbufs', () => {
  const inUse = (c: Child): number => Number(/^inuse (\d+)$/m.exec(c.out)?.[1] ?? NaN);

  test('zero-copy client TX → mpdk server and mpdk server TX → zero-copy client RX: every packet arrives with its bytes, 2 regions, no mbuf lost', async () => {
    const sock = path.join(tmp, 'zc1.sock');
    const srv = start(prefix(), `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'rx', 0, 200);
    await srv.waitFor(/ready/, 15000);
    const cli = start(prefix(), `net_memif0,role=client,socket=${sock},socket-abstract=no,zero-copy=yes`, 'tx', 50000, 200);
    await cli.waitFor(/txdone 50000/, 20000);
    const s = await waitStats(srv, (x) => x.rx === 50000, 10000, 'the server receiving 50000 from the zero-copy client');
    assert.equal(s.bad, 0, 'every byte as the client wrote it in its own mbufs');
    assert.equal(stats(cli)!.regions, 2, 'region 0 (rings) and region 1 (the EAL region)');
    assert.equal(await quit(cli), 0);
    assert.equal(inUse(cli), 0, 'the mbufs lent to the TX ring came back to the pool');
    assert.equal(await quit(srv), 0);

    const sock2 = path.join(tmp, 'zc2.sock');
    const srv2 = start(prefix(), `net_memif0,role=server,socket=${sock2},socket-abstract=no`, 'tx', 50000, 200);
    await srv2.waitFor(/ready/, 15000);
    const cli2 = start(prefix(), `net_memif0,role=client,socket=${sock2},socket-abstract=no,zero-copy=yes`, 'rx', 0, 200);
    const r = await waitStats(cli2, (x) => x.rx === 50000, 20000, 'the zero-copy client receiving 50000');
    assert.equal(r.bad, 0, 'every byte as the server wrote it into the client\'s mbufs');
    assert.equal(await quit(cli2), 0);
    assert.equal(inUse(cli2), 0, 'the mbufs posted to the RX ring came back to the pool');
    assert.equal(await quit(srv2), 0);
  });

  test('a secondary receives on a zero-copy queue of the port its primary connected (it lends mbufs of the shared pool)', async () => {
    const a = prefix();
    const sock = path.join(tmp, 'zc3.sock');
    const prim = start(a, `net_memif0,role=client,socket=${sock},socket-abstract=no,zero-copy=yes`, 'none', 0);
    await prim.waitFor(/ready/, 15000);
    const sec = start(a, '', 'rx', 0, 64, 1, true);
    await sec.waitFor(/ready/, 15000);
    const srv = start(prefix(), `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'tx', 20000);
    await srv.waitFor(/txdone 20000/, 20000);
    const s = await waitStats(sec, (x) => x.rx === 20000, 10000, 'the secondary receiving 20000');
    assert.equal(s.bad, 0);
    assert.equal(s.regions, 2);
    await quit(srv);
    await quit(sec);
    await quit(prim);
    assert.deepEqual(leftovers(a), []);
  });

  test('testpmd txonly (server) → zero-copy mpdk client, and zero-copy client → testpmd rxonly, which counts every packet', { skip: NO_TESTPMD }, async () => {
    const sock = `/tmp/mpdk-tp-${process.pid}-zc1`;
    const fp = `mpdktp${process.pid}z1`;
    const t = testpmd(fp, `net_memif0,role=server,socket=${sock}`, 'txonly');
    await testpmdStarted(t);
    const cli = start(prefix(), `net_memif0,role=client,socket=${sock},zero-copy=yes`, 'rx', 0);
    const s = await waitStats(cli, (x) => x.rx > 100000, 20000, 'packets from testpmd into our mbufs');
    assert.equal(s.bad, 0, 'testpmd\'s IPv4/UDP frames');
    assert.equal(s.regions, 2);
    assert.equal(await quit(cli), 0);
    assert.equal(inUse(cli), 0, 'no mbuf lost');
    await testpmdExit(t);
    cleanDpdk(fp);

    const sock2 = `/tmp/mpdk-tp-${process.pid}-zc2`;
    const fp2 = `mpdktp${process.pid}z2`;
    const t2 = testpmd(fp2, `net_memif0,role=server,socket=${sock2}`, 'rxonly');
    await testpmdStarted(t2);
    const cli2 = start(prefix(), `net_memif0,role=client,socket=${sock2},zero-copy=yes`, 'tx', 100000);
    await cli2.waitFor(/txdone 100000/, 30000);
    await sleep(500);
    const text = await testpmdExit(t2); // stopped first: DPDK's memif zeroes its counters when the client leaves
    await quit(cli2);
    cleanDpdk(fp2);
    const m = /Forward statistics for port 0[\s\S]*?RX-packets:\s+(\d+)/.exec(text);
    assert.ok(m, `testpmd printed its statistics: ${text.slice(-500)}`);
    assert.equal(Number(m![1]), 100000);
  });
});

describe('net_memif from the programs', () => {
  function symmetric(pfx: string, lcore: number, vdevs: string[]): Child {
    return spawnNode('mpdk', ['symmetric_mp', '-l', String(lcore), '--file-prefix', pfx, '--log-level', 'error', ...vdevs.map((v) => `--vdev=${v}`), '--',
      '-p', '3', '--num-procs=1', '--proc-id=0']);
  }

  /** SIGINT: symmetric_mp prints each port's RX / TX / Drop and exits 0. */
  async function symCounters(c: Child): Promise<Map<number, { rx: number; tx: number; drop: number }>> {
    c.proc.kill('SIGINT');
    const code = await exitedWithin(c, 8000);
    assert.equal(code, 0, `symmetric_mp exit status; stdout:\n${c.out}\nstderr:\n${c.err}`);
    const m = new Map<number, { rx: number; tx: number; drop: number }>();
    for (const x of c.out.matchAll(/^Port (\d+): RX - (\d+), TX - (\d+), Drop - (\d+)$/gm)) m.set(Number(x[1]), { rx: Number(x[2]), tx: Number(x[3]), drop: Number(x[4]) });
    return m;
  }

  test('mpdk pktgen (two client ports) → mpdk symmetric_mp (two server ports, port 0 → 1) → pktgen: every packet sent is received or counted as a symmetric_mp drop; then symmetric_mp idles at < 2.5 % CPU', async () => {
    const s = prefix();
    const p = prefix();
    const a = path.join(tmp, 'pg0.sock');
    const b = path.join(tmp, 'pg1.sock');
    const sym = symmetric(s, 1, [`net_memif0,role=server,socket=${a},socket-abstract=no`, `net_memif1,role=server,socket=${b},socket-abstract=no`]);
    await sym.waitFor(/APP: Finished Process Init\./, 15000);
    assert.match(sym.out, /Port 0: Link Down/, 'no peer yet: symmetric_mp sees the link down');
    const r = await run('mpdk', ['pktgen', '-l', '0', '--file-prefix', p, '--log-level', 'error', `--vdev=net_memif0,role=client,socket=${a},socket-abstract=no`,
      `--vdev=net_memif1,role=client,socket=${b},socket-abstract=no`, '--', '--tx-port', '0', '--rx-port', '1', '--count', '20000', '--rate', '100k', '--json'], 20000);
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out.trim().split('\n').pop()!) as { sent: number; received: number; foreign: number; duplicates: number };
    await sleep(300);
    const [idleCpu] = await cpuShare([sym.proc.pid!], 1000);
    assert.ok(idleCpu! < 0.025, `symmetric_mp idle on its memif ports (pktgen gone) used ${(idleCpu! * 100).toFixed(1)} % CPU`);
    const c = await symCounters(sym);
    assert.equal(res.sent, 20000);
    assert.equal(c.get(0)!.rx, 20000, 'symmetric_mp received every packet pktgen sent');
    assert.equal(c.get(1)!.tx + c.get(1)!.drop, 20000, 'and sent or dropped each on port 1');
    assert.equal(res.received, c.get(1)!.tx, 'pktgen received all that symmetric_mp sent');
    assert.ok(res.received >= 18000, `most arrived (${res.received})`);
    assert.equal(res.foreign + res.duplicates, 0);
    assert.deepEqual(leftovers(s), []);
    assert.deepEqual(leftovers(p), []);
  });

  test('testpmd txonly (server) → mpdk symmetric_mp (client port 0 → server port 1) → mpdk receiver: forwarded unchanged', { skip: NO_TESTPMD }, async () => {
    const s = prefix();
    const a = `/tmp/mpdk-tp-${process.pid}-sym`;
    const b = path.join(tmp, 'sym1.sock');
    const fp = `mpdktp${process.pid}s`;
    const t = testpmd(fp, `net_memif0,role=server,socket=${a}`, 'txonly');
    try {
      const sym = symmetric(s, 1, [`net_memif0,role=client,socket=${a}`, `net_memif1,role=server,socket=${b},socket-abstract=no`]);
      await sym.waitFor(/APP: Finished Process Init\./, 15000);
      const rcv = start(prefix(), `net_memif0,role=client,socket=${b},socket-abstract=no`, 'rx', 0);
      const got = await waitStats(rcv, (x) => x.rx >= 50000, 20000, 'packets through symmetric_mp');
      assert.equal(got.bad, 0, 'testpmd\'s frames, unchanged');
      // The source stops first, then the receiver drains what symmetric_mp sent while their link
      // is still up (a disconnect drops what its ring still holds: stopping symmetric_mp
      // mid-stream made the count a race with the receiver, lost under load).
      t.kill('SIGKILL');
      await new Promise((r) => (t.exitCode !== null || t.signalCode !== null ? r(0) : t.once('exit', r)));
      let prev = -1;
      let since = performance.now();
      const last = await until(() => {
        const x = stats(rcv)!;
        if (x.rx !== prev) [prev, since] = [x.rx, performance.now()];
        return performance.now() - since >= 1000 ? x : undefined; // five reports without a new packet
      }, 15000, 'the receiver to drain what symmetric_mp forwarded');
      const c = await symCounters(sym);
      assert.ok(c.get(0)!.rx >= 50000 && c.get(1)!.tx >= 50000, `symmetric_mp forwarded port 0 → 1 (${JSON.stringify([...c])})`);
      assert.equal(last.rx, c.get(1)!.tx, 'the receiver got every packet symmetric_mp sent');
      assert.equal(await quit(rcv), 0);
      assert.deepEqual(leftovers(s), []);
    } finally {
      t.kill('SIGKILL');
      await new Promise((r) => (t.exitCode !== null || t.signalCode !== null ? r(0) : t.once('exit', r)));
      cleanDpdk(fp);
    }
  });
});

// --- a hand-written peer ----------------------------------------------------------------

function waitMsg(fd: number, ms = 3000): { m: Uint8Array; fds: number[]; len: number } {
  const end = Date.now() + ms;
  const buf = new Uint8Array(256);
  const rev = new Int16Array(1);
  while (Date.now() < end) {
    pollFds([fd], [POLLIN], 1, 50, rev);
    const r = recvWithFds(fd, buf);
    if (r.len === -11) continue;
    return { m: buf.slice(0, Math.max(0, r.len)), fds: r.fds, len: r.len };
  }
  throw new Error('no message from the memif server');
}

function peerConnect(sock: string): number {
  const fd = seqpacketSocket();
  assert.equal(unixConnect(fd, sock, false), 0);
  const h = waitMsg(fd);
  assert.equal(msgType(h.m), MsgType.HELLO);
  return fd;
}

function expectRefusal(fd: number, re: RegExp): void {
  for (;;) {
    const r = waitMsg(fd);
    if (r.len <= 0) throw new Error('closed without a disconnect message');
    if (msgType(r.m) === MsgType.ACK) continue;
    assert.equal(msgType(r.m), MsgType.DISCONNECT);
    assert.match(parseDisconnect(r.m).reason, re);
    closeFd(fd);
    return;
  }
}

function ack(fd: number): void {
  const r = waitMsg(fd);
  assert.equal(msgType(r.m), MsgType.ACK, `expected ack, got type ${msgType(r.m)} ${r.len > 0 && msgType(r.m) === MsgType.DISCONNECT ? parseDisconnect(r.m).reason : ''}`);
}

async function malformed(srv: Child, sock: string): Promise<void> {
    let fd = peerConnect(sock);
    sendWithFd(fd, addRingMsg({ c2s: true, index: 0, region: 0, offset: 0, log2: 4, privHdr: 0 }), -1);
    expectRefusal(fd, /unexpected message add_ring/);

    fd = peerConnect(sock);
    sendWithFd(fd, initMsg(7, 'wrong', 'peer'), -1);
    expectRefusal(fd, /Incorrect secret/);

    fd = peerConnect(sock);
    sendWithFd(fd, initMsg(8, 'ok', 'peer'), -1);
    expectRefusal(fd, /ID not found/);

    fd = peerConnect(sock);
    sendWithFd(fd, new Uint8Array(64), -1);
    expectRefusal(fd, /invalid message size 64/);

    // a region whose declared size is beyond its file: mapping it would SIGBUS
    fd = peerConnect(sock);
    sendWithFd(fd, initMsg(7, 'ok', 'peer'), -1);
    ack(fd);
    let mfd = memfdCreate('bad', 4096);
    sendWithFd(fd, addRegionMsg(0, 1 << 20), mfd);
    closeFd(mfd);
    expectRefusal(fd, /Invalid region size/);

    // a ring larger than memif allows (2^15) and a ring outside its region
    for (const [log2, offset, re] of [[15, 0, /Invalid ring size/], [4, 8000, /does not fit/]] as const) {
      fd = peerConnect(sock);
      sendWithFd(fd, initMsg(7, 'ok', 'peer'), -1);
      ack(fd);
      mfd = memfdCreate('r', 8192);
      sendWithFd(fd, addRegionMsg(0, 8192), mfd);
      closeFd(mfd);
      ack(fd);
      const efd = eventfdCreate();
      sendWithFd(fd, addRingMsg({ c2s: true, index: 0, region: 0, offset, log2, privHdr: 0 }), efd);
      closeFd(efd);
      expectRefusal(fd, re);
    }
    await waitStats(srv, (x) => x.refused >= 7, 5000, 'seven refusals counted');

    // a correct connection, then bad descriptors in the C2S ring
    fd = peerConnect(sock);
    sendWithFd(fd, initMsg(7, 'ok', 'peer'), -1);
    ack(fd);
    const log2 = 4;
    const lay = regionLayout(1, 1, log2, 2048);
    mfd = memfdCreate('good', lay.size);
    const map = mapFd(mfd, lay.size);
    const dv = new DataView(map.buffer);
    const u8 = new Uint8Array(map.buffer);
    for (let i = 0; i < 2; i++) dv.setUint32(i * ringBytes(log2) + RING.COOKIE, MEMIF_COOKIE, true);
    sendWithFd(fd, addRegionMsg(0, lay.size), mfd);
    ack(fd);
    for (const [c2s, off] of [[true, 0], [false, ringBytes(log2)]] as const) {
      const efd = eventfdCreate();
      sendWithFd(fd, addRingMsg({ c2s, index: 0, region: 0, offset: off, log2, privHdr: 0 }), efd);
      closeFd(efd);
      ack(fd);
    }
    sendWithFd(fd, connectMsg(MsgType.CONNECT, 'badpeer'), -1);
    const conn = waitMsg(fd);
    assert.equal(msgType(conn.m), MsgType.CONNECTED);
    assert.equal(dv.getUint16(RING.FLAGS, true) & RING_FLAG_MASK_INT, RING_FLAG_MASK_INT, 'the server polls its RX ring');
    const desc = (slot: number, region: number, offset: number, length: number): void => {
      const d = RING.DESC + slot * DESC.BYTES;
      dv.setUint16(d + DESC.FLAGS, 0, true);
      dv.setUint16(d + DESC.REGION, region, true);
      dv.setUint32(d + DESC.LENGTH, length, true);
      dv.setUint32(d + DESC.OFFSET, offset, true);
    };
    desc(0, 0, lay.size + 4096, 64); // outside the region
    desc(1, 0, lay.bufOffset, 0x7fffffff); // length beyond the region
    desc(2, 3, 0, 64); // a region that does not exist
    desc(3, 0, lay.size - 32, 64); // runs past the end
    desc(4, 0, lay.bufOffset, 64); // a good one carrying our pattern
    const p = lay.bufOffset;
    u8.fill(2, p, p + 12);
    u8[p + 12] = 0x88;
    u8[p + 13] = 0xb5;
    dv.setUint32(p + 14, 5, true);
    for (let i = 18; i < 64; i++) u8[p + i] = (5 + i) & 0xff;
    Atomics.store(new Uint16Array(map.buffer), RING.HEAD >>> 1, 5);
    const s = await waitStats(srv, (x) => x.rx === 1 && x.ierrors === 4, 5000, 'one good packet, four refused descriptors');
    assert.equal(s.bad, 0);
    assert.equal(new Uint16Array(map.buffer)[RING.TAIL >>> 1], 5, 'every slot was given back');
    // a head more than a ring ahead of tail: refused, nothing read
    Atomics.store(new Uint16Array(map.buffer), RING.HEAD >>> 1, 5 + 100);
    await waitStats(srv, (x) => x.ierrors >= 5, 5000, 'a corrupt head refused');
    // after the connection, anything but disconnect is out of order
    sendWithFd(fd, addRegionMsg(1, 4096), -1);
    expectRefusal(fd, /unexpected message add_region on a connected interface/);
    await waitStats(srv, (x) => x.disconnects === 1, 5000, 'the server dropping the bad peer');
    closeFd(mfd);
}

describe('net_memif refuses bad input from the peer', () => {
  test('each malformed message or descriptor is refused and counted; the server keeps serving', async () => {
    const a = prefix();
    const sock = path.join(tmp, 'bad.sock');
    const srv = start(a, `net_memif0,role=server,socket=${sock},socket-abstract=no,id=7,secret=ok`, 'rx', 0);
    await srv.waitFor(/ready/, 15000);
    await sleep(200);
    try {
      await malformed(srv, sock);
    } catch (e) {
      (e as Error).message += `\nserver stderr: ${srv.err.slice(-1500)}`;
      throw e;
    }
    assert.equal(srv.proc.exitCode, null, 'the server is still running');
    assert.equal(await quit(srv), 0);
    assert.deepEqual(leftovers(a), []);
  });
  test('bad devargs are refused with a clear error', async () => {
    const { run } = await import('./helpers.js');
    const r = await run(CHILD, [prefix(), 'net_memif0,role=client,colour=blue', 'rx', '0', '64'], 15000);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /unknown argument 'colour' for driver net_memif; valid: role/);
    const r2 = await run(CHILD, [prefix(), 'net_memif0,rsize=15', 'rx', '0', '64'], 15000);
    assert.match(r2.err, /rsize=15 is not an integer from 1 to 14/);
  });
});

describe('net_memif socket=PATH: a server removes only a stale socket of its own user', () => {
  const NOT_ROOT = process.getuid?.() === 0 ? false : 'playing another user (uid 65534) needs root';
  const NOBODY = 65534;

  /** symmetric_mp with a memif server on `sock`: must be refused in one line, leaving no instance file. */
  async function refusedAt(sock: string, re: RegExp): Promise<void> {
    const p = prefix();
    const other = path.join(tmp, `other-${p}.sock`);
    const r = await run('mpdk', ['symmetric_mp', '-l', '1', '--file-prefix', p, '--log-level', 'error', `--vdev=net_memif0,role=server,socket=${sock},socket-abstract=no`,
      `--vdev=net_memif1,role=server,socket=${other},socket-abstract=no`, '--', '-p', '3', '--num-procs=1', '--proc-id=0'], 15000);
    assert.notEqual(r.code, 0, `refused (stdout: ${r.out})`);
    assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    assert.match(r.err, re);
    assert.deepEqual(leftovers(p), []);
    assert.equal(fs.existsSync(other), false, 'the other port never listened');
  }

  /** Run `js` (CommonJS, `fs`, `net` and `P` bound) as uid/gid 65534. */
  function asNobody(js: string, p: string): void {
    const r = spawnSync(process.execPath, ['-e', `const fs = require('fs'); const net = require('net'); const P = ${JSON.stringify(p)}; ${js}`],
      { uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, `as uid ${NOBODY}: ${r.stderr}`);
  }

  test('a regular file at PATH (an operator\'s typo) is refused in one line and left as it was', async () => {
    const f = path.join(tmp, 'notes.txt');
    fs.writeFileSync(f, 'precious\n');
    await refusedAt(f, /memif socket=.*notes\.txt: a regular file is there, not a socket .*remove it or choose another socket path/);
    assert.equal(fs.readFileSync(f, 'utf8'), 'precious\n');
  });

  test('a symbolic link, a regular file and a socket planted by another user (uid 65534) are refused and left untouched, and so is the link\'s target', { skip: NOT_ROOT }, async () => {
    // A directory every user may write, sticky as /tmp is; the victim is root's, outside it.
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'memif-shared-'));
    fs.chmodSync(shared, 0o1777);
    const victim = path.join(tmp, 'victim');
    fs.writeFileSync(victim, 'root data\n');
    fs.chmodSync(tmp, 0o755); // so that the link's target can be named by nobody
    try {
      const link = path.join(shared, 'link.sock');
      asNobody(`fs.symlinkSync(${JSON.stringify(victim)}, P)`, link);
      await refusedAt(link, /a symbolic link is there, not a socket/);
      assert.equal(fs.lstatSync(link).isSymbolicLink(), true, 'the link is still there');
      assert.equal(fs.lstatSync(link).uid, NOBODY);
      assert.equal(fs.readFileSync(victim, 'utf8'), 'root data\n', 'its target untouched');

      const file = path.join(shared, 'file.sock');
      asNobody("fs.writeFileSync(P, 'theirs\\n')", file);
      await refusedAt(file, /a regular file is there, not a socket/);
      assert.equal(fs.readFileSync(file, 'utf8'), 'theirs\n');

      // A socket of theirs that nobody listens on any more: stale, but not ours to remove.
      const sock = path.join(shared, 'theirs.sock');
      asNobody('net.createServer().listen(P, () => process.exit(0))', sock);
      assert.equal(fs.lstatSync(sock).isSocket(), true);
      await refusedAt(sock, new RegExp(`a socket of uid ${NOBODY} is there, not of this user`));
      assert.equal(fs.lstatSync(sock).isSocket(), true, 'their socket is still there');
    } finally {
      fs.chmodSync(tmp, 0o700);
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  test('a stale socket of ours (its server killed) is replaced; at stop the server removes its socket only if PATH is still it', async () => {
    const sock = path.join(tmp, 'stale.sock');
    const a1 = prefix();
    const s1 = start(a1, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'none', 0);
    await s1.waitFor(/ready/, 15000);
    s1.proc.kill('SIGKILL');
    await s1.exited;
    removeInstance(a1);
    assert.equal(fs.lstatSync(sock).isSocket(), true, 'the dead server left its socket');
    const s2 = start(prefix(), `net_memif0,role=server,socket=${sock},socket-abstract=no`, 'none', 0);
    await s2.waitFor(/listening/, 15000);
    // Something else takes PATH while the server runs: stop must leave it.
    fs.unlinkSync(sock);
    fs.writeFileSync(sock, 'not the server\'s\n');
    assert.equal(await quit(s2), 0);
    assert.equal(fs.readFileSync(sock, 'utf8'), 'not the server\'s\n');
    fs.unlinkSync(sock);
  });
});

describe('net_memif with DPDK testpmd as the peer', { skip: NO_TESTPMD }, () => {
  test('testpmd txonly (server) → mpdk client: every packet counted and checked; testpmd killed and restarted → down, up, traffic resumes', async () => {
    const sock = `/tmp/mpdk-tp-${process.pid}-1`;
    const fp1 = `mpdktp${process.pid}a`;
    const t1 = testpmd(fp1, `net_memif0,role=server,socket=${sock}`, 'txonly');
    await testpmdStarted(t1);
    const cli = start(prefix(), `net_memif0,role=client,socket=${sock}`, 'rx', 0);
    await waitStats(cli, (x) => x.rx > 100000, 20000, 'packets from testpmd');
    assert.match(cli.err, /connected to net_memif0 \(DPDK 22\.11/);
    t1.kill('SIGKILL');
    await new Promise((r) => t1.once('exit', r));
    cleanDpdk(fp1);
    await waitStats(cli, (x) => x.disconnects === 1, 5000, 'the kill seen');
    const before = stats(cli)!.rx;
    const fp2 = `mpdktp${process.pid}b`;
    const t2 = testpmd(fp2, `net_memif0,role=server,socket=${sock}`, 'txonly');
    const s = await waitStats(cli, (x) => x.connects === 2 && x.rx > before + 100000, 20000, 'traffic after testpmd came back');
    assert.equal(s.bad, 0, 'every packet is testpmd\'s IPv4/UDP frame');
    await quit(cli);
    await testpmdExit(t2);
    cleanDpdk(fp2);
  });

  test('mpdk client → testpmd rxonly (server): testpmd counts every packet', async () => {
    const sock = `/tmp/mpdk-tp-${process.pid}-2`;
    const fp = `mpdktp${process.pid}c`;
    const t = testpmd(fp, `net_memif0,role=server,socket=${sock}`, 'rxonly');
    await testpmdStarted(t);
    const cli = start(prefix(), `net_memif0,role=client,socket=${sock}`, 'tx', 100000);
    await cli.waitFor(/txdone 100000/, 30000);
    await sleep(500);
    // testpmd prints its port statistics when it stops; DPDK's memif reports 0 once the
    // client is gone, so stop testpmd first
    const text = await testpmdExit(t);
    await quit(cli);
    cleanDpdk(fp);
    const m = /Forward statistics for port 0[\s\S]*?RX-packets:\s+(\d+)/.exec(text);
    assert.ok(m, `testpmd printed its statistics: ${text.slice(-500)}`);
    assert.equal(Number(m![1]), 100000);
  });

  test('mpdk server ↔ testpmd io (client) ↔ mpdk: testpmd forwards every packet back unchanged', async () => {
    const sock = `/tmp/mpdk-tp-${process.pid}-3`;
    // testpmd io between its two memif ports: port 0 ← our generator, port 1 → our receiver
    const sock2 = `/tmp/mpdk-tp-${process.pid}-4`;
    const rcv = start(prefix(), `net_memif0,role=server,socket=${sock2}`, 'rx', 0);
    await rcv.waitFor(/ready/, 15000);
    const gen = start(prefix(), `net_memif0,role=server,socket=${sock}`, 'tx', 0);
    await gen.waitFor(/ready/, 15000);
    const fp = `mpdktp${process.pid}d`;
    dpdkPrefixes.add(fp);
    const p = spawn(TESTPMD, ['-l', '0-1', '--no-pci', '--no-huge', '-m', '512', '--file-prefix', fp, `--vdev=net_memif0,role=client,socket=${sock}`,
      `--vdev=net_memif1,role=client,socket=${sock2}`, '--', '--forward-mode=io', '--auto-start', '--total-num-mbufs=16384'], { stdio: ['pipe', 'pipe', 'pipe'] });
    dpdkKids.add(p);
    const s = await waitStats(rcv, (x) => x.rx > 50000, 20000, 'packets through testpmd');
    assert.equal(s.bad, 0, 'unchanged');
    p.stdin!.write('\n');
    await new Promise((r) => (p.exitCode !== null ? r(0) : p.once('exit', r)));
    cleanDpdk(fp);
    await quit(gen);
    await quit(rcv);
  });
});
