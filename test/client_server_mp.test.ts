/**
 * client_server_mp (mp_server, mp_client) with real processes over two net_ring ports.
 * The test process attaches to each instance as one more secondary and plays the ports'
 * wires (src/apps/mp_server/traffic.ts): it injects numbered frames and checks that each
 * comes out exactly once, unchanged, on the paired port.
 */
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Eal, PktmbufPool, Ring, auditInstance, type PoolAudit } from '../src/index.js';
import { PKTMBUF_POOL_NAME, PortInfoView } from '../src/apps/mp_server/common.js';
import { Traffic, type TrafficOptions } from '../src/apps/mp_server/traffic.js';
import { exitedWithin, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

after(reapAll);

/** Instances this file started: a test that fails half way still removes them (below). */
const made: string[] = [];
function instance(tag: string): string {
  const p = uniquePrefix(tag);
  made.push(p);
  return p;
}
// After each test (its own checks that the programs left nothing have run by then): a
// failed one's processes are killed and what they left in /dev/shm and the telemetry
// folder is removed.
afterEach(async () => {
  await reapAll();
  for (const p of made.splice(0)) removeInstance(p);
});

const QUIET = ['--log-level', 'warning'];
const PORTS = ['--vdev=net_ring0', '--vdev=net_ring1'];

async function startServer(p: string, nc: number, extra: string[] = [], lcores = '0', eal: string[] = []): Promise<Child> {
  const s = spawnNode('mpdk', ['mp_server', '-l', lcores, ...eal, '--file-prefix', p, ...PORTS, ...QUIET, '--', '-p', '3', '-n', String(nc), ...extra]);
  await s.waitFor(/Finished Process Init/, 10000);
  return s;
}

async function startClient(p: string, id: number, lcore: number): Promise<Child> {
  const c = spawnNode('mpdk', ['mp_client', '-l', String(lcore), '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', '-n', String(id)]);
  await c.waitFor(/Client process \d+ handling packets/, 10000);
  return c;
}

interface Wire {
  eal: Eal;
  info: PortInfoView;
  traffic: Traffic;
}

function attach(p: string, o: TrafficOptions): Wire {
  const { eal } = Eal.init(['-l', '9', '--file-prefix', p, '--proc-type=secondary', '--log-level', 'error'], { handleSignals: false });
  eal.onPrimaryExit(() => undefined); // the test decides what a server death means
  const info = PortInfoView.lookup(eal);
  return { eal, info, traffic: new Traffic(eal, info, o) };
}

/** Most of one call's packets in flight at once with `pace`: below every queue on their path
 *  (port RX and TX 1024, a client's ring 1024 or 2048). */
const WINDOW = 256;

/**
 * Send `count` packets in bursts, then collect until `expect` came back or ms passed. With
 * `pace`, at most WINDOW of them are in flight (sent, not yet back), so no queue overflows
 * however late a client or the server gets the CPU (pacing by time, 64 per 2 ms, lost a
 * burst to a client's full ring on a loaded host). The share that comes back is
 * (expect − received) / count: a dead client's share stays out.
 */
async function pump(w: Wire, count: number, expect: number, ms = 15000, pace = false): Promise<void> {
  const t = w.traffic;
  const end = Date.now() + ms;
  const target = t.sent + count;
  const sent0 = t.sent;
  const received0 = t.received;
  const back = count > 0 ? Math.min(1, (expect - t.received) / count) : 1;
  while (Date.now() < end) {
    let moved = 0;
    const room = pace ? Math.floor(WINDOW - ((t.sent - sent0) * back - (t.received - received0))) : 32;
    if (t.sent < target && room > 0) moved += t.inject(Math.min(32, target - t.sent, room));
    moved += t.collect();
    if (t.sent >= target && t.received >= expect) return;
    if (moved === 0) await sleep(1);
    else if ((t.sent & 1023) < 32) await new Promise((r) => setImmediate(r));
  }
  throw new Error(`sent ${t.sent}/${target}, received ${t.received}, expected ${expect}`);
}

/** Ctrl-C each process in turn (clients before the server), waiting for each exit. */
async function stop(...cs: Child[]): Promise<number[]> {
  const codes: number[] = [];
  for (const c of cs) {
    c.proc.kill('SIGINT');
    codes.push(await exitedWithin(c, 5000));
  }
  return codes;
}

test('one client: every packet comes out exactly once, unchanged, on the paired port', async () => {
  const p = instance('cs1');
  const s = await startServer(p, 1);
  const c = await startClient(p, 0, 3);
  const w = attach(p, { track: 4000 });
  try {
    await pump(w, 4000, 4000, 15000, true);
    const t = w.traffic;
    assert.equal(t.received, 4000);
    assert.equal(t.missing(), 0);
    assert.equal(t.duplicates, 0);
    assert.equal(t.wrongPort, 0);
    assert.equal(t.badChecksum, 0);
    const cl = w.info.client(0);
    assert.equal(cl.rx, 4000);
    assert.equal(cl.tx, 4000);
    assert.equal(cl.rxDrop + cl.txDrop, 0);
    assert.equal(w.info.portRx(0) + w.info.portRx(1), 4000);
  } finally {
    w.traffic.close();
    w.eal.close();
  }
  assert.deepEqual(await stop(c, s), [0, 0]);
  assert.match(s.out, /Client  0 - rx:\s+4000/);
  assert.deepEqual(leftovers(p), []);
});

test('two clients: round-robin split, each packet out once on the paired port; TX queue k carries client k', async () => {
  const p = instance('cs2');
  const s = await startServer(p, 2, [], '0-1');
  const c0 = await startClient(p, 0, 3);
  const c1 = await startClient(p, 1, 4);
  const w = attach(p, { track: 3001, into: [0] });
  try {
    await pump(w, 1001, 1001, 15000, true);
    assert.equal(w.info.client(0).rx, 501);
    assert.equal(w.info.client(1).rx, 500);
    await pump(w, 2000, 3001, 15000, true);
    const t = w.traffic;
    assert.equal(t.missing(), 0);
    assert.equal(t.duplicates + t.wrongPort + t.badChecksum, 0);
    const a = w.info.client(0);
    const b = w.info.client(1);
    assert.equal(a.rx + b.rx, 3001);
    assert.ok(Math.abs(a.rx - b.rx) <= 1, `split ${a.rx}/${b.rx}`);
    assert.equal(a.tx, a.rx);
    assert.equal(b.tx, b.rx);
    // everything went in on port index 0 and out of port index 1, client k on TX queue k
    assert.equal(a.txPort[1], a.rx);
    assert.equal(b.txPort[1], b.rx);
    const ports = JSON.parse((await run('mpdk', ['info', '--file-prefix', p, '--json'])).out).objects.filter((o: { kind: string }) => o.kind === 'port');
    const q = ports[1].stats.queues as { q: number; opackets: number }[];
    assert.equal(q[0]!.opackets, a.tx);
    assert.equal(q[1]!.opackets, b.tx);
  } finally {
    w.traffic.close();
    w.eal.close();
  }
  await s.waitFor(/Client  1 - rx:\s+1500/, 5000); // the statistics lcore's block
  assert.deepEqual(await stop(c0, c1, s), [0, 0, 0]);
  assert.deepEqual(leftovers(p), []);
});

test('refusals: no server, bad options, wrong process types, unknown id, taken id', async () => {
  const p = instance('cse');
  const t0 = Date.now();
  const none = await run('mpdk', ['mp_client', '-l', '3', '--proc-type=auto', '--file-prefix', p, '--', '-n', '0']);
  assert.equal(none.code, 1);
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(none.err.trim().split('\n').length, 1, none.err);
  assert.match(none.err, new RegExp(`no server is running for --file-prefix=${p}`));
  assert.deepEqual(leftovers(p), [], 'a refused client creates nothing');
  const bad: [string[], RegExp][] = [
    [['-p', '3', '-n', '0'], /-n.*from 1 to 16/],
    [['-p', '3'], /number of clients is required/],
    [['-p', '0', '-n', '2'], /selects no port/],
    [['-p', '1', '-n', '2'], /even number/],
    [['-p', '3', '-n', '17'], /from 1 to 16/],
  ];
  for (const [args, re] of bad) {
    const r = await run('mpdk', ['mp_server', '-l', '0', '--file-prefix', p, ...PORTS, '--', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.deepEqual(leftovers(p), []);
  }
  const sec = await run('mpdk', ['mp_server', '-l', '0', '--proc-type=secondary', '--file-prefix', p, ...PORTS, '--', '-p', '3', '-n', '1']);
  assert.equal(sec.code, 2); // the command line alone is wrong: exit 2
  assert.match(sec.err, /only as the primary/);

  const s = await startServer(p, 2);
  const c0 = await startClient(p, 0, 3);
  const r1 = await run('mpdk', ['mp_client', '-l', '4', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', '-n', '5']);
  assert.equal(r1.code, 1);
  assert.match(r1.err, /client id 5 does not exist.*valid ids 0\.\.1/);
  const r2 = await run('mpdk', ['mp_client', '-l', '4', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', '-n', '0']);
  assert.equal(r2.code, 1);
  assert.match(r2.err, new RegExp(`already in use by pid ${c0.proc.pid}`));
  const r3 = await run('mpdk', ['mp_client', '-l', '4', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', '-n', '1', '-p', '3']);
  assert.equal(r3.code, 2);
  assert.match(r3.err, /unknown option '-p'/);
  const r4 = await run('mpdk', ['mp_client', '-l', '4', '--proc-type=primary', '--file-prefix', p, ...QUIET, '--', '-n', '1']);
  assert.equal(r4.code, 2); // the command line alone is wrong: exit 2
  assert.match(r4.err, /only as a secondary/);
  const r5 = await run('mpdk', ['mp_server', '-l', '5', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', '-p', '3', '-n', '1']);
  assert.equal(r5.code, 1);
  assert.match(r5.err, new RegExp(`pid ${s.proc.pid}`));
  assert.equal(s.proc.exitCode, null, 'the refusals did not disturb the server');
  assert.deepEqual(await stop(c0, s), [0, 0]);
  assert.deepEqual(leftovers(p), []);
});

test('a client started while the server is still setting up waits for its port table, says so after 2 s naming it, and gives up at once when it dies', async () => {
  const p = instance('cs');
  const s = spawnNode('mpdk', ['mp_server', '-l', '0', '--file-prefix', p, ...PORTS, ...QUIET, '--', '-p', '3', '-n', '1'], { MPDK_TEST_HOOK: 'mp_server:setup' });
  try {
    await s.waitFor(/mp_server:setup reached/, 15000);
    const c = spawnNode('mpdk', ['mp_client', '-l', '2', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', '-n', '0']);
    await c.waitFor(new RegExp(`mp_client 0: waiting for the primary \\(pid ${s.proc.pid}, alive, [a-z ]+\\) to create its port table MProc_port_info`), 10000);
    s.proc.kill('SIGKILL');
    await s.exited;
    assert.equal(await c.exited, 1, c.err);
    assert.match(c.err, /has no MProc_port_info: its primary is not running; start 'mpdk mp_server' first/);
  } finally {
    s.proc.kill('SIGKILL');
    await s.exited;
    removeInstance(p);
  }
});

test('a client killed and restarted: the server carries on, counts drops for it while it is down', async () => {
  const p = instance('csr');
  const s = await startServer(p, 2, ['--ring-size', '1024']);
  const c0 = await startClient(p, 0, 3);
  let c1 = await startClient(p, 1, 4);
  const w = attach(p, { track: 8000, into: [0] });
  try {
    await pump(w, 1000, 1000, 15000, true);
    c1.proc.kill('SIGKILL');
    await c1.exited;
    await pump(w, 3000, 1000 + 1500, 15000, true); // client 0's half comes back
    await until(() => w.info.client(1).rx + w.info.client(1).rxDrop === 2000, 5000, 'server to deal client 1 its half');
    const down = w.info.client(1);
    assert.ok(down.rxDrop > 0, 'drops counted while the client is down');
    assert.ok(down.rx - 500 <= 1024, `at most a ring (1024) queued: ${down.rx - 500}`);
    assert.equal(s.proc.exitCode, null);
    c1 = await startClient(p, 1, 4);
    const queued = down.rx - 500;
    const before = w.traffic.received;
    await pump(w, 0, before + queued, 10000); // what waited in its ring comes out
    await pump(w, 1000, before + queued + 1000, 10000, true); // and new traffic is split again
    const t = w.traffic;
    assert.equal(t.duplicates + t.wrongPort + t.badChecksum, 0);
    assert.equal(t.received, 5000 - down.rxDrop);
    assert.equal(w.info.client(1).rxDrop, down.rxDrop, 'no drops after the restart');
  } finally {
    w.traffic.close();
    w.eal.close();
  }
  assert.deepEqual(await stop(c0, c1, s), [0, 0, 0]);
  assert.deepEqual(leftovers(p), []);
});

function poolAudit(eal: Eal): PoolAudit {
  return auditInstance(eal).pools.find((a) => a.name === PKTMBUF_POOL_NAME)!;
}

/** Inject exactly n packets, per inject call alternating the input ports (bounded). */
async function injectExactly(w: Wire, n: number, per: number): Promise<void> {
  const target = w.traffic.sent + n;
  const end = Date.now() + 5000;
  while (w.traffic.sent < target) {
    if (Date.now() > end) throw new Error(`injected ${w.traffic.sent}, wanted ${target}`);
    if (w.traffic.inject(Math.min(per, target - w.traffic.sent)) === 0) await sleep(1);
  }
}

// The traffic source holds its frames in its ownership record (Hands, WireSend): killed between
// a port's RX ring head and tail stores (its burst not published), the reclaim rolls the ring back
// and returns the burst. The old source held them in plain arrays and named no ring: the burst
// stayed past the ring's tail, leaked (32).
test('the built-in traffic source killed between a port RX ring\'s head and tail stores: reclaimed, nothing leaked or counted twice', async () => {
  const p = instance('cstraf');
  const s = await startServer(p, 1);
  const c = await startClient(p, 0, 3);
  const g = spawnNode('dist/test/traffic-child.js', ['-l', '8', '--file-prefix', p, '--proc-type=secondary', '--log-level', 'error'], { MPDK_TEST_HOOK: 'ring-sp:prod' });
  await g.waitFor(/ring-sp:prod reached/, 10000);
  g.proc.kill('SIGKILL');
  await g.exited;
  const w = attach(p, { track: 1000 });
  try {
    const a = poolAudit(w.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a)); // the new Traffic reclaimed first
    await pump(w, 1000, 1000, 15000, true);
    assert.deepEqual([w.traffic.missing(), w.traffic.duplicates, w.traffic.badChecksum], [0, 0, 0]);
  } finally {
    w.traffic.close();
    w.eal.close();
  }
  assert.deepEqual(await stop(c, s), [0, 0]);
  assert.deepEqual(leftovers(p), []);
});

test('a client killed with buffers in hand (after a dequeue, TX buffers partly filled): the server returns them at once, nothing leaked, a new client forwards', async () => {
  const p = instance('csh');
  const s = await startServer(p, 1);
  const c = spawnNode('mpdk', ['mp_client', '-l', '3', '--proc-type=auto', '--file-prefix', p, ...QUIET, '--', '-n', '0'], { MPDK_TEST_HOOK: 'hands:rx-holding' });
  await c.waitFor(/Client process \d+ handling packets/, 10000);
  const w = attach(p, { track: 2000 });
  let c2: Child | undefined;
  try {
    const pool = PktmbufPool.lookup(w.eal, PKTMBUF_POOL_NAME);
    const base = pool.available();
    const ring = Ring.lookup(w.eal, 'MProc_Client_RX_0');
    // Two bursts wait in its ring (20 from each port): it dequeues 32 into its TX buffers
    // (12 + 20, neither full, so none sent), then stops in its next receive window.
    c.proc.kill('SIGSTOP');
    await injectExactly(w, 40, 20);
    await until(() => ring.count() === 40, 5000, 'the server to deal 40 packets to the stopped client');
    c.proc.kill('SIGCONT');
    await c.waitFor(/hands:rx-holding reached/, 5000);
    const live = poolAudit(w.eal);
    assert.deepEqual([live.heldByLive, live.leaked, live.duplicates], [40, 0, 0], 'the record holds all 40 (TX buffers + the open window)');
    c.proc.kill('SIGKILL');
    await c.exited;
    await s.waitFor(/client 0 \(pid \d+\) exited; reclaimed what pid \d+ held/, 5000);
    const a = poolAudit(w.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead, a.heldByLive], [0, 0, 0, 0]);
    assert.equal(pool.available(), base, 'the pool has every mbuf back');
    c2 = await startClient(p, 0, 3);
    await pump(w, 1000, 1000, 15000, true);
    const t = w.traffic;
    assert.equal(t.duplicates + t.wrongPort + t.badChecksum, 0);
    assert.equal(t.received, 1000, 'the 40 it held were returned, not sent');
  } finally {
    w.traffic.close();
    w.eal.close();
  }
  assert.deepEqual(await stop(c2!, s), [0, 0]);
  assert.deepEqual(leftovers(p), []);
});

test('server killed inside its receive window: clients forward on; a restarted server adopts the instance, returns what the dead one held, distributes again', async () => {
  const p = instance('css');
  const s = spawnNode('mpdk', ['mp_server', '-l', '0', '--file-prefix', p, ...PORTS, ...QUIET, '--', '-p', '3', '-n', '2'], { MPDK_TEST_HOOK: 'hands:rx' });
  await s.waitFor(/Finished Process Init/, 10000);
  const c0 = await startClient(p, 0, 3);
  const c1 = await startClient(p, 1, 4);
  const w = attach(p, { track: 3000, into: [0] });
  let s2: Child | undefined;
  try {
    const pool = PktmbufPool.lookup(w.eal, PKTMBUF_POOL_NAME);
    const base = pool.available();
    await injectExactly(w, 20, 20);
    await s.waitFor(/hands:rx reached/, 5000);
    assert.equal(poolAudit(w.eal).heldByLive, 20);
    s.proc.kill('SIGKILL');
    await s.exited;
    for (const c of [c0, c1]) await c.waitFor(new RegExp(`server \\(pid ${s.proc.pid}\\) has exited; forwarding on`), 5000);
    await sleep(300);
    assert.equal(c0.proc.exitCode, null, 'client 0 still runs');
    assert.equal(c1.proc.exitCode, null, 'client 1 still runs');
    const dead = poolAudit(w.eal);
    assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [20, 0, 0]);
    s2 = await startServer(p, 2, [], '0', ['--proc-type=auto']); // auto adopts the live instance (T3)
    assert.match(s2.out, /adopted the live instance/);
    assert.match(s2.out, new RegExp(`reclaimed what pid ${s.proc.pid} held`));
    const a = poolAudit(w.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0]);
    assert.equal(pool.available(), base, 'the 20 it had received are back');
    for (const c of [c0, c1]) await c.waitFor(new RegExp(`server pid ${s2.proc.pid} adopted the instance`), 5000);
    await pump(w, 1000, 1000, 15000, true);
    const t = w.traffic;
    assert.equal(t.duplicates + t.wrongPort + t.badChecksum, 0);
    assert.equal(w.info.client(0).rx + w.info.client(1).rx, 1000, 'the new server dealt the new traffic to both clients');
  } finally {
    w.traffic.close();
    w.eal.close();
  }
  assert.deepEqual(await stop(c0, c1, s2!), [0, 0, 0]);
  assert.deepEqual(leftovers(p), []);
});

test('a restarted server with other -n or -p than the live instance is refused, naming the difference', async () => {
  const p = instance('csm');
  const s = await startServer(p, 2);
  const c0 = await startClient(p, 0, 3);
  s.proc.kill('SIGKILL');
  await s.exited;
  // T3: without auto, a restart would re-initialise what the client uses: refused, naming it.
  const plain = await run('mpdk', ['mp_server', '-l', '0', '--file-prefix', p, ...PORTS, ...QUIET, '--', '-p', '3', '-n', '2']);
  assert.equal(plain.code, 1);
  assert.match(plain.err, new RegExp(`is live \\(processes ${c0.proc.pid} \\(mp_client.*--proc-type=auto`));
  const r = await run('mpdk', ['mp_server', '-l', '0', '--proc-type=auto', '--file-prefix', p, ...PORTS, ...QUIET, '--', '-p', '3', '-n', '3']);
  assert.equal(r.code, 1);
  assert.match(r.err, /set up with other options: -n 3 \(it runs 2 clients\)/);
  assert.equal(c0.proc.exitCode, null, 'the client was not disturbed');
  assert.deepEqual(await stop(c0), [0]);
  await until(() => leftovers(p).length === 0, 5000, 'files removed by the last process').catch(() => removeInstance(p));
  assert.deepEqual(leftovers(p), []);
});

test('npm run demo: runs, prints the table, exits 0, leaves nothing', async () => {
  const r = await run('mpdk', ['demo'], 40000);
  const prefix = r.out.match(/instance '([^']+)'/)?.[1];
  if (prefix) made.push(prefix); // removed after the test if the demo failed to
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /forwarded/);
  assert.ok(prefix, r.out);
  assert.deepEqual(leftovers(prefix!), []);
});
