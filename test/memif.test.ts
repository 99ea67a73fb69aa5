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
import { leftovers, reapAll, removeInstance, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';
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

after(async () => {
  for (const p of dpdkKids) p.kill('SIGKILL');
  await reapAll();
  await sleep(100);
  for (const p of prefixes) removeInstance(p);
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

interface Stats { rx: number; bad: number; tx: number; q: number[]; ierrors: number; oerrors: number; disconnects: number; connects: number; refused: number }

function stats(c: Child): Stats | undefined {
  const lines = c.out.split('\n').filter((l) => l.startsWith('rx '));
  const l = lines[lines.length - 1];
  if (!l) return undefined;
  const f = l.split(' ');
  const v = (k: string): number => Number(f[f.indexOf(k) + 1]);
  return { rx: v('rx'), bad: v('bad'), tx: v('tx'), q: f[f.indexOf('q') + 1]!.split(',').map(Number), ierrors: v('ierrors'), oerrors: v('oerrors'), disconnects: v('disconnects'), connects: v('connects'), refused: v('refused') };
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
  const p = spawn(TESTPMD, ['-l', '0-1', '--no-pci', '--no-huge', '-m', '512', '--file-prefix', fp, `--vdev=${vdev}`, '--', `--forward-mode=${mode}`, '--auto-start', '--total-num-mbufs=16384'],
    { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcess & { text: string };
  p.text = '';
  p.stdout!.on('data', (d: Buffer) => (p.text += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (p.text += d.toString()));
  dpdkKids.add(p);
  p.on('exit', () => dpdkKids.delete(p));
  return p;
}

async function testpmdExit(p: ChildProcess & { text: string }): Promise<string> {
  p.stdin!.write('\n');
  const t = setTimeout(() => p.kill('SIGKILL'), 8000);
  await new Promise<void>((r) => (p.exitCode !== null ? r() : p.once('exit', () => r())));
  clearTimeout(t);
  return p.text;
}

function cleanDpdk(fp: string): void {
  fs.rmSync(`/var/run/dpdk/${fp}`, { recursive: true, force: true });
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
    await srv.waitFor(/down peer (closed|hung up)/, 3000);
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

describe('net_memif with DPDK testpmd as the peer', { skip: NO_TESTPMD }, () => {
  test('testpmd txonly (server) → mpdk client: every packet counted and checked; testpmd killed and restarted → down, up, traffic resumes', async () => {
    const sock = `/tmp/mpdk-tp-${process.pid}-1`;
    const fp1 = `mpdktp${process.pid}a`;
    const t1 = testpmd(fp1, `net_memif0,role=server,socket=${sock}`, 'txonly');
    await sleep(1500);
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
    await sleep(1500);
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
