/**
 * Ports attached and detached while an instance runs (ethdev/hotplug.ts), port ownership
 * (port-owner.ts) and the port events, between real processes: this test process is the
 * primary, test/hotplug-child.ts runs secondaries, `mpdk port` is run as users run it, and
 * symmetric_mp forwards on its ports while others come and go.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Eal, EthDev, PktmbufPool, Ring, isMpdkError, type Wire } from '../src/index.js';
import { ED } from '../src/ethdev/layout.js';
import { commandChild, exitedWithin, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type CommandChild } from './helpers.js';

const CHILD = 'dist/test/hotplug-child.js';
const QUIET = ['--log-level', 'error', '--no-telemetry'];

after(reapAll);

type Kid = CommandChild;
type Ev = { type: string; pid: number; port?: number; text: string };

function kid(prefix: string, lcore: number): Promise<Kid> {
  return commandChild(CHILD, ['-l', String(lcore), '--proc-type=secondary', '--file-prefix', prefix, ...QUIET]);
}

/** A primary in this process with `vdevs`, its ports configured (1 RX, 1 TX) and started. */
function primary(prefix: string, vdevs: string[]): { eal: Eal; dev: EthDev; pool: PktmbufPool } {
  const eal = Eal.init({ lcores: [0], procType: 'primary', filePrefix: prefix, telemetry: false, name: 'hotplug-test', vdevs, logLevel: 'error' });
  const dev = EthDev.attach(eal);
  const pool = PktmbufPool.create(eal, 'pool', { count: 1023, cacheSize: 32 });
  for (const p of dev.portIds()) setUp(dev, pool, p);
  return { eal, dev, pool };
}

function setUp(dev: EthDev, pool: PktmbufPool, p: number): void {
  dev.configure(p, { rxQueues: 1, txQueues: 1 });
  dev.rxQueueSetup(p, 0, { descriptors: 256, pool });
  dev.txQueueSetup(p, 0, { descriptors: 256 });
  dev.start(p);
}

async function events(k: Kid): Promise<Ev[]> {
  return (await k.cmd({ do: 'events' })).events as Ev[];
}

/** Ask `k` for its events until `ok` holds for them (bounded). */
async function eventsUntil(k: Kid, ok: (l: Ev[]) => boolean, what: string): Promise<Ev[]> {
  const end = Date.now() + 5000;
  for (;;) {
    const l = await events(k);
    if (ok(l)) return l;
    if (Date.now() > end) throw new Error(`pid ${k.pid}: ${what}; it got ${JSON.stringify(l)}`);
    await sleep(20);
  }
}

async function finish(eal: Eal, kids: Kid[], prefix: string): Promise<void> {
  for (const k of kids) k.c.proc.kill('SIGTERM');
  await Promise.all(kids.map((k) => k.c.exited));
  eal.close();
  await until(() => leftovers(prefix).length === 0, 3000, 'the instance files removed').catch(() => undefined);
  assert.deepEqual(leftovers(prefix), []);
}

test('a port attached by a secondary appears in every process, and one detached by another goes from all; port-added and port-removed reach every process', async () => {
  const p = uniquePrefix('hp');
  const { eal, dev, pool } = primary(p, ['net_null0']);
  const mine: Ev[] = [];
  eal.events.on('*', (e) => mine.push({ type: e.type, pid: e.pid, port: e.port, text: e.text }));
  const kids: Kid[] = [];
  try {
    kids.push(await kid(p, 1), await kid(p, 2));
    const [a, b] = kids as [Kid, Kid];
    const r = await a.cmd({ do: 'attach', spec: 'net_null1,size=128' });
    assert.equal(r.port, 1, JSON.stringify(r));
    assert.deepEqual(dev.portIds(), [0, 1], 'the primary sees the new port');
    assert.deepEqual((await b.cmd({ do: 'ports' })).ports, [0, 1], 'the other secondary too');
    assert.equal(dev.info(1).name, 'net_null1');
    // It is a port as any other: the primary sets it up and receives from it.
    setUp(dev, pool, 1);
    const h = new Uint32Array(32);
    const n = dev.rxBurst(1, 0, h, 32);
    assert.ok(n > 0, 'net_null gives packets on the attached port');
    pool.freeBulk(h, n);
    dev.releaseQueue(1, 0, 'rx');
    // An attach of a name that exists is refused, nothing changes.
    const dup = await b.cmd({ do: 'attach', spec: 'net_null1' });
    assert.equal(dup.code, 'EEXIST', JSON.stringify(dup));
    // b detaches it: every process loses it.
    const d = await b.cmd({ do: 'detach', port: 1 });
    assert.equal(d.done, true, JSON.stringify(d));
    assert.deepEqual(dev.portIds(), [0]);
    assert.deepEqual((await a.cmd({ do: 'ports' })).ports, [0]);
    assert.throws(() => dev.info(1), (e: unknown) => isMpdkError(e) && e.code === 'ENODEV');
    // The events, in every process.
    const added = (l: Ev[]): boolean => l.some((e) => e.type === 'port-added' && e.port === 1 && e.pid === a.pid);
    const removed = (l: Ev[]): boolean => l.some((e) => e.type === 'port-removed' && e.port === 1 && e.pid === b.pid);
    await until(() => added(mine) && removed(mine), 3000, 'the primary got port-added and port-removed');
    assert.ok(mine.some((e) => e.type === 'link-up' && e.port === 1), 'the start of the attached port is a link-up event');
    for (const k of kids) await eventsUntil(k, (l) => added(l) && removed(l), 'port-added and port-removed');
    // The id is free again: the next attach takes it.
    assert.equal((await a.cmd({ do: 'attach', spec: 'net_null7' })).port, 1);
    assert.deepEqual(dev.portIds(), [0, 1]);
    // The tools show the events as they happen.
    let t = await run('mpdk', ['proc-info', '--events', '--file-prefix', p]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, new RegExp(`port-added +pid ${a.pid} +net_null1 \\(port 1, net_null\\) attached by pid ${a.pid} \\(hotplug-child\\)`));
    assert.match(t.out, new RegExp(`port-removed +pid ${b.pid} +net_null1 \\(port 1\\) detached`));
    t = await run('mpdk', ['top', '--once', '-d', '0.1', '--file-prefix', p]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /^EVENTS\n(.*\n)*\d\d:\d\d:\d\d port-added +net_null7 \(port 1, net_null\) attached/m);
    await finish(eal, kids, p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('a detach is refused while a live process uses a queue of the port, and an attach while one does not answer, naming it; nothing changes; then they go through', async () => {
  const p = uniquePrefix('hp');
  const { eal, dev } = primary(p, ['net_null0', 'net_null1']);
  const kids: Kid[] = [];
  try {
    kids.push(await kid(p, 1), await kid(p, 2));
    const [a, b] = kids as [Kid, Kid];
    assert.equal((await b.cmd({ do: 'bind', port: 1 })).done, true);
    const r = await a.cmd({ do: 'detach', port: 1 });
    assert.equal(r.code, 'EBUSY', JSON.stringify(r));
    assert.match(r.error as string, new RegExp(`pid ${b.pid} \\(hotplug-child\\) uses RX queue 0`));
    assert.match(r.error as string, /nothing changed/);
    assert.deepEqual(dev.portIds(), [0, 1], 'the port is still there');
    assert.ok(dev.isStarted(1), 'and still started');
    assert.deepEqual((await a.cmd({ do: 'ports' })).ports, [0, 1]);
    // The primary's own refusal too (it is asked like any other).
    dev.rxQueue(0, 0);
    const r0 = await b.cmd({ do: 'detach', port: 0 });
    assert.equal(r0.code, 'EBUSY', JSON.stringify(r0));
    assert.match(r0.error as string, new RegExp(`pid ${process.pid} \\(hotplug-test\\) uses RX queue 0`));
    // Released: the detach goes through, everywhere.
    assert.equal((await b.cmd({ do: 'unbind', port: 1 })).done, true);
    assert.equal((await a.cmd({ do: 'detach', port: 1 })).done, true);
    assert.deepEqual(dev.portIds(), [0]);
    // A process that does not answer (stopped) refuses by its silence: the attach is undone.
    b.c.proc.kill('SIGSTOP');
    try {
      const s = await a.cmd({ do: 'attach', spec: 'net_null5', timeout: 300 });
      assert.equal(s.code, 'EBUSY', JSON.stringify(s));
      assert.match(s.error as string, new RegExp(`cannot attach net_null5: pid ${b.pid} \\(hotplug-child\\) did not answer .* within 300 ms \\(it is alive, stopped`));
      assert.match(s.error as string, /nothing changed$/);
      assert.deepEqual(dev.portIds(), [0], 'no port was added');
    } finally {
      b.c.proc.kill('SIGCONT');
    }
    assert.deepEqual((await b.cmd({ do: 'ports' })).ports, [0]);
    assert.equal((await a.cmd({ do: 'attach', spec: 'net_null5' })).port, 1, 'once it answers, the attach goes through');
    await finish(eal, kids, p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('ownership: a port taken by one process refuses configure and detach by the others, naming the owner; the owner may; a killed owner loses it', async () => {
  const p = uniquePrefix('hp');
  const { eal, dev } = primary(p, ['net_null0', 'net_null1']);
  const changes: string[] = [];
  eal.events.on('owner-changed', (e) => changes.push(e.text));
  const kids: Kid[] = [];
  try {
    kids.push(await kid(p, 1), await kid(p, 2));
    const [a, b] = kids as [Kid, Kid];
    assert.equal((await a.cmd({ do: 'own', port: 1, component: 'bonding' })).done, true);
    assert.equal(dev.owner(1)?.pid, a.pid);
    assert.equal(dev.owner(1)?.component, 'bonding');
    dev.stop(0); // the ports it does not own are not concerned
    assert.throws(() => dev.stop(1), (e: unknown) => isMpdkError(e) && e.code === 'EBUSY' && new RegExp(`owned by pid ${a.pid} \\(hotplug-child\\), component 'bonding'`).test(e.message));
    assert.ok(dev.isStarted(1), 'the refused stop changed nothing');
    const c = await b.cmd({ do: 'configure', port: 1 });
    assert.equal(c.code, 'EBUSY', JSON.stringify(c));
    assert.match(c.error as string, new RegExp(`pid ${a.pid}`));
    const d = await b.cmd({ do: 'detach', port: 1 });
    assert.equal(d.code, 'EBUSY', JSON.stringify(d));
    assert.match(d.error as string, new RegExp(`owned by pid ${a.pid}`));
    assert.throws(() => dev.takeOwnership(1), (e: unknown) => isMpdkError(e) && e.code === 'EBUSY');
    // The owner, showing its ownership, may (configure needs the port stopped: refused for that, not for the owner).
    const own = await a.cmd({ do: 'configure', port: 1 });
    assert.match(String(own.error), /is started: stop it/, 'the owner passes the ownership check');
    // Killed: the ownership goes with it.
    a.c.proc.kill('SIGKILL');
    await a.c.exited;
    assert.equal(dev.owner(1), undefined, 'a dead owner owns nothing');
    dev.stop(1);
    assert.ok(!dev.isStarted(1));
    const mine = dev.takeOwnership(1, 'me');
    assert.equal(dev.owner(1)?.pid, process.pid);
    mine.release();
    assert.equal(dev.owner(1), undefined);
    await until(() => changes.some((t) => t.includes(`owned by pid ${a.pid}`)) && changes.some((t) => t.includes(`its owner pid ${a.pid} died`)), 3000, 'owner-changed events');
    await finish(eal, [b], p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('ownership goes back when its EthDev closes, and when its Eal closes, while the process lives on: owner-changed says so, the others may take the port', async () => {
  const p = uniquePrefix('hp');
  const { eal, dev } = primary(p, ['net_null0', 'net_null1']);
  const changes: string[] = [];
  eal.events.on('owner-changed', (e) => changes.push(e.text));
  const kids: Kid[] = [];
  try {
    kids.push(await kid(p, 1));
    const [a] = kids as [Kid];
    assert.equal((await a.cmd({ do: 'own', port: 1, component: 'x' })).done, true);
    assert.equal(dev.owner(1)?.pid, a.pid);
    assert.equal((await a.cmd({ do: 'close-dev' })).done, true);
    assert.equal(dev.owner(1), undefined, 'EthDev.close gave the port back');
    assert.equal((await a.cmd({ do: 'own', port: 1, component: 'x' })).done, true, 'taken again through the same EthDev');
    assert.equal(dev.owner(1)?.pid, a.pid);
    assert.equal((await a.cmd({ do: 'close-eal' })).done, true);
    assert.equal(dev.owner(1), undefined, 'Eal.close gave the port back');
    assert.equal(a.c.proc.exitCode, null, 'the process lives on');
    const mine = dev.takeOwnership(1);
    mine.release();
    await until(() => changes.filter((t) => t.includes(`released by pid ${a.pid} (x)`)).length === 2, 3000, 'two owner-changed "released"');
    await finish(eal, kids, p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('nothing of a port being detached can be taken, its wire included (refused under the ports lock: EBUSY naming the detacher), and the detach goes through', async () => {
  const p = uniquePrefix('hp');
  const { eal, dev } = primary(p, ['net_ring0', 'net_null1']);
  const kids: Kid[] = [];
  try {
    kids.push(await kid(p, 1), await kid(p, 2), await kid(p, 3));
    const [a, b, c] = kids as [Kid, Kid, Kid];
    // c stopped: the detach waits for its answer, its transaction claimed meanwhile.
    c.c.proc.kill('SIGSTOP');
    let detached: Promise<Record<string, unknown>>;
    try {
      detached = a.cmd({ do: 'detach', port: 0, timeout: 5000 });
      await until(() => eal.region.i32[(dev.header + ED.HP_PID) >>> 2] === a.pid, 3000, 'the detach claimed');
      const w = await b.cmd({ do: 'wire', port: 0 });
      assert.equal(w.code, 'EBUSY', `the wire of a port being detached is refused: ${JSON.stringify(w)}`);
      assert.match(String(w.error), new RegExp(`net_ring0 \\(port 0\\) is being detached by pid ${a.pid}`));
      assert.throws(() => dev.rxQueue(0, 0), (e: unknown) => isMpdkError(e) && e.code === 'EBUSY', 'and its queues');
    } finally {
      c.c.proc.kill('SIGCONT');
    }
    const d = await detached;
    assert.equal(d.done, true, `the detach went through: ${JSON.stringify(d)}`);
    assert.deepEqual(dev.portIds(), [1]);
    await finish(eal, kids, p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('net_ring ports wired back to back, detached one after the other: every ring of both goes (the first one\'s TX rings, kept for its peer, with the second)', async () => {
  const p = uniquePrefix('hp');
  const { eal, dev } = primary(p, ['net_ring0,peer=1', 'net_ring1']);
  try {
    const rings = (): string[] => ['ETH0_TX0', 'ETH1_TX0', 'ETH0_RX0', 'ETH1_RX0'].filter((n) => Ring.tryLookup(eal, n));
    assert.deepEqual(rings(), ['ETH0_TX0', 'ETH1_TX0'], 'a peered pair: each port\'s TX rings are the other\'s RX rings');
    await dev.detachPort(0);
    assert.deepEqual(rings(), ['ETH0_TX0', 'ETH1_TX0'], 'port 1 still reads ETH0_TX0');
    await dev.detachPort(1);
    assert.deepEqual(rings(), [], 'none left');
    eal.close();
    await until(() => leftovers(p).length === 0, 3000, 'the instance files removed').catch(() => undefined);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

/** Count what comes out of `wire` for `ms`, freeing it. */
function collectAll(wire: Wire, pool: PktmbufPool, h: Uint32Array): number {
  let got = 0;
  for (let k = wire.collect(h, h.length); k > 0; k = wire.collect(h, h.length)) {
    got += k;
    pool.freeBulk(h, k);
  }
  return got;
}

test('mpdk port attach / list / detach while symmetric_mp forwards on its ports: net_null and net_pcap ports come and go, nothing lost on the others', async () => {
  const p = uniquePrefix('hp');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-hp-'));
  const sym = spawnNode('mpdk', ['symmetric_mp', '-l', '1', '--proc-type=primary', '--file-prefix', p, ...QUIET, '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '--num-procs=1', '--proc-id=0']);
  let eal: Eal | undefined;
  try {
    await sym.waitFor(/APP: Finished Process Init\./, 15000);
    eal = Eal.init(['-l', '7', '--proc-type=secondary', '--file-prefix', p, '--log-level', 'error'], { handleSignals: false }).eal;
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.lookup(eal, 'MProc_pktmbuf_pool');
    const wires = [dev.wire(0), dev.wire(1)];
    const h = new Uint32Array(64);
    let sent = 0;
    let got = 0;
    let stop = false;
    // Traffic both ways through symmetric_mp, a window at a time, while the CLI works.
    const traffic = (async () => {
      while (!stop) {
        for (const w of [0, 1]) {
          if (sent - got > 512) continue;
          const k = pool.allocBulk(h, 32);
          for (let i = 0; i < k; i++) {
            pool.setDataLen(h[i]!, 64);
            pool.setPktLen(h[i]!, 64);
          }
          const n = wires[w]!.inject(h, k);
          if (n < k) pool.freeBulk(h.subarray(n), k - n);
          sent += n;
        }
        got += collectAll(wires[0]!, pool, h) + collectAll(wires[1]!, pool, h);
        await sleep(1);
      }
    })();
    const mpdk = (...args: string[]): Promise<{ code: number; out: string; err: string }> => run('mpdk', ['port', ...args, '--file-prefix', p], 20000);
    const pcapIn = path.join(tmp, 'in.pcap');
    fs.writeFileSync(pcapIn, Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex')); // an empty capture
    let r = await mpdk('attach', 'net_null2');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /attached net_null2 as port 2 of/);
    r = await mpdk('attach', `net_pcap3,rx_pcap=${pcapIn},tx_pcap=${path.join(tmp, 'out.pcap')}`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /as port 3 /);
    r = await mpdk('list');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^ 2 {2}net_null2 /m);
    assert.match(r.out, /^ 3 {2}net_pcap3 /m);
    assert.deepEqual(dev.portIds(), [0, 1, 2, 3]);
    // symmetric_mp's own ports cannot go: it uses their queues (its pid named).
    r = await mpdk('detach', '0');
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`pid ${sym.proc.pid} \\(symmetric_mp\\) uses RX queue 0`));
    r = await mpdk('detach', 'net_pcap3');
    assert.equal(r.code, 0, r.err);
    r = await mpdk('detach', '2');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(dev.portIds(), [0, 1]);
    // Bad command lines: one line, exit 2; no such instance: exit 1.
    r = await run('mpdk', ['port', 'atach', 'net_null4', '--file-prefix', p]);
    assert.equal(r.code, 2);
    assert.match(r.err, /did you mean attach\?/);
    r = await run('mpdk', ['port', 'attach', '--file-prefix', p]);
    assert.equal(r.code, 2);
    r = await run('mpdk', ['port', 'attach', 'net_null4', '--file-prefix', `${p}x`]);
    assert.equal(r.code, 1);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    // Everything sent came back through symmetric_mp.
    stop = true;
    await traffic;
    const end = Date.now() + 5000;
    while (got < sent && Date.now() < end) {
      got += collectAll(wires[0]!, pool, h) + collectAll(wires[1]!, pool, h);
      await sleep(5);
    }
    assert.ok(sent > 1000, `traffic ran meanwhile (${sent} sent)`);
    assert.equal(got, sent, 'no packet lost on the forwarded ports');
    assert.ok(sym.proc.exitCode === null, 'symmetric_mp still runs');
  } finally {
    eal?.close();
    sym.proc.kill('SIGINT');
    await exitedWithin(sym, 8000);
    await reapAll();
    fs.rmSync(tmp, { recursive: true, force: true });
    await until(() => leftovers(p).length === 0, 5000, 'the instance files to go').catch(() => removeInstance(p));
  }
});
