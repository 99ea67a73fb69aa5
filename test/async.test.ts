/**
 * Async waits (issue 17): awaiting a ring or an RX queue costs no CPU while idle and leaves
 * the event loop running; timeouts, AbortSignal and close end a wait and leave no waiter
 * behind; many waits in one process hold one libuv pool thread; producers await room;
 * `for await` yields bursts. The other side is a real process (async-child.ts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Eal, EthDev, FlowSet, PcapWriter, PktmbufPool, Ring, buildUdpFrame, type EalConfig } from '../src/index.js';
import { RING } from '../src/internal.js';
import { pendingBellWaits } from '../src/ring/doorbell-async.js';
import { leftovers, reapAll, run, sleep, spawnNode, uniquePrefix, until } from './helpers.js';

const CHILD = 'dist/test/async-child.js';
/** The test process's lcore: beyond this machine's CPUs, so it is not pinned. */
const L = 60;

after(reapAll);

async function withEal(fn: (eal: Eal, prefix: string) => Promise<void>, more: Partial<EalConfig> = {}): Promise<void> {
  const p = uniquePrefix('as');
  const eal = Eal.init({ lcores: [L], filePrefix: p, memoryMiB: 64, ...more });
  try {
    await fn(eal, p);
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
}

/** Run async-child.js as a secondary of `prefix` on lcore `lcore`; resolves its JSON line. */
async function child(prefix: string, lcore: number, mode: string, kv: Record<string, string | number>, env: NodeJS.ProcessEnv = {}): Promise<Record<string, unknown>> {
  const r = await run(CHILD, ['-l', String(lcore), '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'warning', '--', mode, ...Object.entries(kv).map(([k, v]) => `${k}=${v}`)], 30000, env);
  assert.equal(r.code, 0, `async-child ${mode}: ${r.err}`);
  return JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** Port 0 with one RX and one TX queue of `descriptors`, started. */
function startPort(eal: Eal, pool: PktmbufPool, descriptors: number): EthDev {
  const dev = EthDev.attach(eal);
  dev.configure(0, { rxQueues: 1, txQueues: 1 });
  dev.rxQueueSetup(0, 0, { descriptors, pool });
  dev.txQueueSetup(0, 0, { descriptors });
  dev.start(0);
  return dev;
}

/** The ring's waiter count of one side (its doorbell line): what a leaked waiter would leave. */
function waiters(eal: Eal, ring: Ring, enq: boolean): number {
  return eal.region.u32[(ring.offset + (enq ? RING.NF_WAITERS : RING.NE_WAITERS)) >>> 2]!;
}

test('awaiting an empty ring costs no CPU and leaves the event loop running; an enqueue in another process ends it', () =>
  withEal(async (eal, p) => {
    const ring = Ring.create(eal, 'q', { count: 64 });
    const buf = new Uint32Array(32);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const got = ring.dequeueBurstAsync(buf, 32);
      const cpu0 = process.cpuUsage();
      await sleep(500);
      const cpu = process.cpuUsage(cpu0);
      assert.ok(ticks >= 40, `the event loop ran ${ticks} 5-ms ticks in 500 ms`);
      // A busy wait would use ~500 ms of CPU here; the bound is a safety net for a loaded machine.
      assert.ok(cpu.user + cpu.system < 100_000, `waiting used ${(cpu.user + cpu.system) / 1000} ms of CPU in 500 ms`);
      assert.equal(waiters(eal, ring, false), 1, 'the waiter is registered on the not-empty doorbell');
      const prod = child(p, L + 1, 'produce', { ring: 'q', count: 5, burst: 5 });
      assert.equal(await got, 5);
      assert.deepEqual([...buf.subarray(0, 5)], [1, 2, 3, 4, 5]);
      assert.deepEqual(await prod, { produced: 5, sum: 15 });
      assert.equal(waiters(eal, ring, false), 0);
      assert.equal(pendingBellWaits(), 0);
    } finally {
      clearInterval(timer);
    }
  }));

test('a timeout resolves 0, an abort rejects with its reason, close() rejects with an AbortError; none leaves a waiter behind', () =>
  withEal(async (eal) => {
    const ring = Ring.create(eal, 'q', { count: 16 });
    const buf = new Uint32Array(4);
    const t0 = performance.now();
    assert.equal(await ring.dequeueBurstAsync(buf, 4, { timeout: 60 }), 0);
    assert.ok(performance.now() - t0 >= 55, `returned after ${performance.now() - t0} ms`);
    const ac = new AbortController();
    const p = ring.dequeueBurstAsync(buf, 4, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop now')), 20);
    await assert.rejects(p, /stop now/);
    await assert.rejects(ring.dequeueBurstAsync(buf, 4, { signal: AbortSignal.abort('already') }), (e) => e === 'already');
    const closing = ring.dequeueBurstAsync(buf, 4);
    const iter = ring.bursts(buf)[Symbol.asyncIterator]().next();
    await sleep(10);
    ring.close();
    await assert.rejects(closing, { name: 'AbortError' });
    await assert.rejects(iter, { name: 'AbortError' });
    // `using`: the handle's waits end at the end of its block; `await using` ends an iteration's.
    let pending: Promise<number> | undefined;
    {
      using r2 = Ring.lookup(eal, 'q');
      pending = r2.dequeueBurstAsync(buf, 4);
    }
    await assert.rejects(pending, { name: 'AbortError' });
    let step: Promise<unknown> | undefined;
    {
      await using it = ring.bursts(buf);
      step = it.next();
      await sleep(10);
    }
    await assert.rejects(step, { name: 'AbortError' });
    assert.equal(waiters(eal, ring, false), 0);
    assert.equal(pendingBellWaits(), 0);
    // The handle works again after close(), and a wait with a timeout still sees entries.
    ring.enqueue(7);
    assert.equal(await ring.dequeueBurstAsync(buf, 4, { timeout: 100 }), 1);
    refused(() => ring.dequeueBurstAsync(buf, 4, { timeout: -1 }), /invalid timeout -1/);
  }));

function refused(fn: () => Promise<unknown>, re: RegExp): void {
  void assert.rejects(fn(), re);
}

test('ten rings awaited at once hold one libuv pool thread: file reads still run; each wait ends when another process fills its ring', () =>
  withEal(async (eal, p) => {
    const names = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const rings = names.map((n) => Ring.create(eal, n, { count: 16 }));
    const bufs = rings.map(() => new Uint32Array(1));
    const waits = rings.map((r, i) => r.dequeueBurstAsync(bufs[i]!, 1));
    await sleep(50);
    // The pool has 4 threads (UV_THREADPOOL_SIZE): ten blocked waits would starve these reads.
    const file = fileURLToPathSafe();
    const reads = Promise.all(Array.from({ length: 8 }, () => fs.promises.readFile(file)));
    let late: NodeJS.Timeout | undefined;
    const raced = await Promise.race([reads.then(() => 'read'), new Promise((r) => (late = setTimeout(() => r('starved'), 5000)))]);
    clearTimeout(late);
    assert.equal(raced, 'read', 'file reads ran while ten rings were awaited');
    assert.equal(pendingBellWaits(), 10);
    assert.deepEqual(await child(p, L + 1, 'fill', { rings: names.join(','), after: 20 }), { filled: 10 });
    assert.deepEqual(await Promise.all(waits), names.map(() => 1));
    assert.deepEqual(bufs.map((b) => b[0]), names.map((_, i) => i + 1));
    assert.equal(pendingBellWaits(), 0);
  }));

function fileURLToPathSafe(): string {
  return path.join(path.dirname(new URL(import.meta.url).pathname), 'async.test.js');
}

test('back-pressure: enqueueBulkAsync waits for room that a consumer in another process makes', () =>
  withEal(async (eal, p) => {
    const ring = Ring.create(eal, 'q', { count: 8 }); // holds 7
    const h = Uint32Array.from({ length: 7 }, (_, i) => i + 1);
    assert.equal(ring.enqueueBulk(h, 7), 7);
    const four = Uint32Array.from([8, 9, 10, 11]);
    const room = ring.whenRoom(4, { timeout: 50 });
    assert.equal(await room, false, 'no room within 50 ms');
    const put = ring.enqueueBulkAsync(four, 4);
    await sleep(30);
    assert.equal(waiters(eal, ring, true), 1, 'the producer waits on the not-full doorbell');
    const cons = child(p, L + 1, 'consume', { ring: 'q', count: 11 });
    assert.equal(await put, 4);
    assert.deepEqual(await cons, { consumed: 11 });
    assert.equal(ring.count(), 0);
    assert.equal(waiters(eal, ring, true), 0);
    await assert.rejects(ring.enqueueBulkAsync(new Uint32Array(8), 8), /holds at most 7: a bulk of 8 never fits/);
  }));

test('for await over a ring yields its bursts in order, one view per burst size; break ends the iteration', () =>
  withEal(async (eal, p) => {
    const ring = Ring.create(eal, 'q', { count: 256, singleConsumer: true });
    const N = 5000;
    const prod = child(p, L + 1, 'produce', { ring: 'q', count: N, burst: 16, pause: 0 });
    const buf = new Uint32Array(64);
    const views = new Set<Uint32Array>();
    let next = 1;
    for await (const burst of ring.bursts(buf, { timeout: 10_000 })) {
      views.add(burst);
      assert.ok(burst.length >= 1 && burst.buffer === buf.buffer && burst.byteOffset === buf.byteOffset);
      for (const h of burst) assert.equal(h, next++);
      if (next > N) break;
    }
    assert.equal(next, N + 1);
    assert.ok(views.size <= 64, `${views.size} distinct views`);
    assert.deepEqual(await prod, { produced: N, sum: (N * (N + 1)) / 2 });
    // A timeout without a burst ends the iteration normally.
    let more = 0;
    for await (const b of ring.bursts(buf, { timeout: 30 })) more += b.length;
    assert.equal(more, 0);
    assert.equal(pendingBellWaits(), 0);
  }));

test('RX queues: a ring-backed queue is awaited on its doorbell; rxBursts yields what another process injects; close() ends a wait', () =>
  withEal(async (eal, p) => {
    const pool = PktmbufPool.create(eal, 'pkts', { count: 1023, cacheSize: 32 });
    const dev = startPort(eal, pool, 256);
    const h = new Uint32Array(32);
    assert.equal(await dev.rxBurstAsync(0, 0, h, 32, { timeout: 30 }), 0);
    const inj = child(p, L + 1, 'inject', { port: 0, pool: 'pkts', count: 40 });
    let got = 0;
    for await (const burst of dev.rxBursts(0, 0, h, { timeout: 10_000 })) {
      got += burst.length;
      pool.freeBulk(burst, burst.length);
      if (got >= 40) break;
    }
    assert.equal(got, 40);
    assert.deepEqual(await inj, { injected: 40 });
    const pending = dev.rxBurstAsync(0, 0, h, 32);
    await sleep(10);
    dev.close();
    await assert.rejects(pending, { name: 'AbortError' });
    assert.equal(pool.inUse(), 0);
    assert.equal(pendingBellWaits(), 0);
  }, { vdevs: ['net_ring0'] }));

test('RX queues without a wake-up source (net_pcap) are awaited on a timer: packets, then a timeout at the end of the file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-async-'));
  const file = path.join(dir, 'in.pcap');
  try {
    const flows = FlowSet.make({ count: 4 });
    const w = PcapWriter.open(file);
    const frame = new Uint8Array(64);
    for (let i = 0; i < 10; i++) {
      buildUdpFrame(frame, 0, flows, i % 4, 64, i, 0);
      w.write(frame, 0, 64, 64, 1700000000 + i, 0);
    }
    w.close();
    await withEal(async (eal) => {
      const pool = PktmbufPool.create(eal, 'pkts', { count: 255 });
      const dev = startPort(eal, pool, 64);
      const h = new Uint32Array(32);
      let got = 0;
      for await (const b of dev.rxBursts(0, 0, h, { timeout: 100 })) {
        got += b.length;
        pool.freeBulk(b, b.length);
      }
      assert.equal(got, 10, 'every packet of the file, then the iteration ended at its timeout');
      dev.close();
    }, { vdevs: [`net_pcap0,rx_pcap=${file}`] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without futex_waitv (Linux before 5.16) the waits poll: a consumer still gets everything, back-pressure still holds', () =>
  withEal(async (eal, p) => {
    Ring.create(eal, 'q', { count: 16 });
    const env = { MPDK_TEST_HOOK: 'no-futex-waitv' };
    const [cons, prod] = await Promise.all([
      child(p, L + 1, 'consume', { ring: 'q', count: 300 }, env),
      child(p, L + 2, 'produce', { ring: 'q', count: 300, burst: 8 }, env),
    ]);
    assert.deepEqual(cons, { consumed: 300 });
    assert.deepEqual(prod, { produced: 300, sum: (300 * 301) / 2 });
  }));

test('a process exits at once while a wait is pending (the pool thread is woken at exit)', () =>
  withEal(async (eal, p) => {
    Ring.create(eal, 'idle', { count: 16 });
    const t0 = Date.now();
    assert.deepEqual(await child(p, L + 1, 'exit-waiting', { ring: 'idle', after: 200 }), { waiting: true });
    // Without the wake at exit, Node would join the pool thread asleep in futex_waitv for up to 10 s.
    assert.ok(Date.now() - t0 < 5000, `exited after ${Date.now() - t0} ms`);
  }));
