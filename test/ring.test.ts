/**
 * Ring tests: the single-process contract (DPDK's semantics), then real processes on one
 * ring (test/ring-child.ts), kills between operations and inside a claim (the
 * MPDK_TEST_HOOK=ring-claim:* stop points), and the doorbell.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  Eal, describeAll, isMpdkError, Ring, RING_EMPTY, type RingOptions,
} from '../src/index.js';
import { RING } from '../src/ring/layout.js';
import { exitedWithin, leftovers, reapAll, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

const MPMC: Omit<RingOptions, 'count'> = {};
const SPSC: Omit<RingOptions, 'count'> = { singleProducer: true, singleConsumer: true };
const CHILD = 'dist/test/ring-child.js';
/** The control memzone of ring-child.ts (kept in step with it). */
const CTL = { STOP: 0, SLOTS: 64, SLOT_BYTES: 64, BYTES: 64 + 16 * 64 } as const;

/** The test process as primary. Lcore 0 pins it to CPU 0 (and every child it spawns inherits
 *  that mask); an lcore beyond the CPUs leaves it and its children free to use both CPUs. */
function primary(prefix: string, lcore = 0): Eal {
  return Eal.init(['-l', String(lcore), '--file-prefix', prefix, '--proc-type=primary', '--log-level', 'error'], { handleSignals: false }).eal;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isMpdkError(e)) return e.code;
    throw e;
  }
  return 'none';
}

after(reapAll);

/** CPU ticks (utime + stime, 100 Hz) child `c` uses over the next `ms`. */
async function ticksIn(c: Child, ms: number): Promise<number> {
  const ticks = (): number => {
    const f = fs.readFileSync(`/proc/${c.proc.pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  };
  const t0 = ticks();
  await sleep(ms);
  return ticks() - t0;
}

describe('ring in one process', () => {
  let eal: Eal;
  let prefix: string;
  before(() => {
    prefix = uniquePrefix('ring');
    eal = primary(prefix);
  });
  after(() => {
    eal.close();
    assert.deepEqual(leftovers(prefix), []);
  });

  it('is created, looked up by name, and freed', () => {
    const r = Ring.create(eal, 'life', { count: 64 });
    assert.equal(r.size, 64);
    assert.equal(r.capacity, 63);
    assert.equal(r.name, 'life');
    const l = Ring.lookup(eal, 'life');
    assert.equal(l.offset, r.offset);
    assert.ok(r.enqueue(7));
    assert.equal(l.dequeue(), 7);
    assert.equal(Ring.tryLookup(eal, 'nope'), undefined);
    r.free();
    assert.equal(Ring.tryLookup(eal, 'life'), undefined);
    assert.equal(code(() => Ring.attach(eal, r.offset)), 'EPROTO');
  });

  it('refuses a taken name, bad counts and options, long names, unknown names', () => {
    const r = Ring.create(eal, 'taken', { count: 16 });
    assert.equal(code(() => Ring.create(eal, 'taken', { count: 16 })), 'EEXIST');
    r.free();
    for (const c of [0, 1, 3, 100, -4, 1.5, 2 ** 29]) assert.equal(code(() => Ring.create(eal, 'bad', { count: c })), 'EINVAL', `count ${c}`);
    assert.equal(code(() => Ring.create(eal, 'bad', 16 as unknown as RingOptions)), 'EINVAL', 'a count where the options go');
    assert.equal(code(() => Ring.create(eal, 'x'.repeat(29), { count: 16 })), 'EINVAL');
    Ring.create(eal, 'y'.repeat(28), { count: 16 }).free(); // DPDK's RTE_RING_NAMESIZE (29) - 1: accepted, as DPDK does
    assert.equal(code(() => Ring.create(eal, '', { count: 16 })), 'EINVAL');
    assert.equal(code(() => Ring.lookup(eal, 'absent')), 'ENOENT');
    assert.match((() => { try { Ring.lookup(eal, 'absent'); } catch (e) { return (e as Error).message; } return ''; })(), /absent.*create it first/);
    assert.equal(eal.memzones.list().filter((m) => m.name.startsWith('RG_')).length, 0);
  });

  for (const [label, kind] of [['MP/MC', MPMC], ['SP/SC', SPSC]] as const) {
    it(`${label}: bulk is all or nothing, burst moves what fits, with DPDK's free space and available counts`, () => {
      const r = Ring.create(eal, `bulk${label.replace('/', '')}`, { count: 8, ...kind }); // capacity 7
      const a = Uint32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const b = new Uint32Array(10);
      assert.equal(r.enqueueBulk(a, 5), 5);
      assert.equal(r.lastFree, 2);
      assert.equal(r.enqueueBulk(a, 3), 0); // 3 > 2 free: nothing
      assert.equal(r.lastFree, 2);
      assert.equal(r.count(), 5);
      assert.equal(r.enqueueBurst(a.subarray(5), 3), 2); // 6, 7
      assert.equal(r.lastFree, 0);
      assert.ok(r.full());
      assert.equal(r.enqueueBurst(a, 1), 0);
      assert.equal(r.dequeueBulk(b, 8), 0); // only 7 there
      assert.equal(r.lastAvailable, 7);
      assert.equal(r.dequeueBulk(b, 3), 3);
      assert.deepEqual([...b.subarray(0, 3)], [1, 2, 3]);
      assert.equal(r.lastAvailable, 4);
      assert.equal(r.freeCount(), 3);
      assert.equal(r.dequeueBurst(b, 10), 4);
      assert.deepEqual([...b.subarray(0, 4)], [4, 5, 6, 7]);
      assert.equal(r.lastAvailable, 0);
      assert.ok(r.empty());
      assert.equal(r.dequeue(), -1);
      assert.equal(r.highWater(), 7);
      r.free();
    });
  }

  it('explicit sp/mp/sc/mc variants work on any ring', () => {
    const r = Ring.create(eal, 'variants', { count: 16 });
    const a = Uint32Array.from([10, 11, 12, 13]);
    const b = new Uint32Array(4);
    assert.equal(r.spEnqueueBulk(a, 2), 2);
    assert.equal(r.mpEnqueueBurst(a.subarray(2), 2), 2);
    assert.equal(r.scDequeueBulk(b, 1), 1);
    assert.equal(r.mcDequeueBurst(b.subarray(1), 3), 3);
    assert.deepEqual([...b], [10, 11, 12, 13]);
    r.free();
  });

  it('exactSize holds exactly the count asked for', () => {
    for (const n of [1, 5, 8, 1000]) {
      const r = Ring.create(eal, `exact${n}`, { count: n, exactSize: true });
      assert.equal(r.capacity, n);
      assert.ok(r.size > n && (r.size & (r.size - 1)) === 0);
      let k = 0;
      while (r.enqueue(k)) k++;
      assert.equal(k, n);
      assert.equal(r.freeCount(), 0);
      r.free();
    }
  });

  it('keeps FIFO order across many wraparounds, with odd burst sizes', () => {
    for (const [label, kind] of [['MPMC', MPMC], ['SPSC', SPSC]] as const) {
      const r = Ring.create(eal, `wrap${label}`, { count: 64, ...kind });
      const a = new Uint32Array(37);
      const b = new Uint32Array(37);
      let next = 0;
      let expect = 0;
      for (let cycle = 0; cycle < 20000; cycle++) {
        const n = 1 + (cycle % 37);
        for (let i = 0; i < n; i++) a[i] = next + i;
        next += r.enqueueBurst(a, n);
        const m = r.dequeueBurst(b, 1 + ((cycle * 7) % 37));
        for (let i = 0; i < m; i++) assert.equal(b[i], expect++);
      }
      assert.ok(expect > 300000);
      r.free();
    }
  });

  it('dumps its state for humans and describes itself for tools', () => {
    const r = Ring.create(eal, 'shown', { count: 32 });
    r.enqueue(1);
    const d = r.dump();
    assert.match(d, /^ring <shown>@\d+/);
    assert.match(d, /size=32\n  capacity=31\n/);
    assert.match(d, /used=1\n  avail=30/);
    const desc = describeAll(eal).find((o) => o.kind === 'ring' && o.name === 'shown');
    assert.ok(desc);
    assert.equal(desc.count, 1);
    r.free();
  });

  it('embeds at an offset (init / attach) and refuses a damaged header', () => {
    const bytes = Ring.memSize({ count: 128 });
    const off = eal.zmalloc('ringtest', bytes, 64);
    const r = Ring.init(eal, off, 'embedded', { count: 128 });
    const a = Ring.attach(eal, off);
    assert.equal(a.capacity, 127);
    eal.region.u32[(off + RING.SIZE) >>> 2] = 12345;
    assert.equal(code(() => Ring.attach(eal, off)), 'EPROTO');
    eal.region.u32[(off + RING.SIZE) >>> 2] = 128;
    assert.equal(code(() => r.free()), 'EINVAL'); // embedded: its owner frees it
    eal.free(off);
  });

  it('drops EMPTY slots left by a repaired producer and counts them', () => {
    const r = Ring.create(eal, 'holes', { count: 16 });
    const a = Uint32Array.from([1, RING_EMPTY, RING_EMPTY, 4]);
    // Simulate what repair does: EMPTY slots and HOLES written before the tail.
    eal.region.u32[(r.offset + RING.HOLES) >>> 2] = 2;
    assert.equal(r.enqueueBulk(a, 4), 4);
    const b = new Uint32Array(4);
    assert.equal(r.dequeueBurst(b, 4), 2);
    assert.deepEqual([...b.subarray(0, 2)], [1, 4]);
    assert.equal(r.holesSkipped, 2);
    r.free();
  });
});

// ---------------------------------------------------------------- processes

interface ConsumerResult { count: number; sum: number; xor: number; order: number; holes: number; reclaimed: number[] }
interface ProducerResult { produced: number; sum: number; xor: number }

function lastJson<T>(c: Child): T {
  const lines = c.out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

function expected(ids: number[], count: number): { sum: number; xor: number } {
  let sum = 0;
  let xor = 0;
  for (const id of ids) {
    for (let s = 0; s < count; s++) {
      const v = ((id << 24) | s) >>> 0;
      sum += v;
      xor = (xor ^ v) >>> 0;
    }
  }
  return { sum, xor };
}

describe('ring across processes', () => {
  let eal: Eal;
  let prefix: string;
  let lcore = 10;
  afterEach(async () => {
    await reapAll();
    eal.close();
    assert.deepEqual(leftovers(prefix), []);
  });

  function setup(kind: Omit<RingOptions, 'count'>, count = 1024): { ring: Ring; ctl: number } {
    prefix = uniquePrefix('ringx');
    eal = primary(prefix, 100);
    const ring = Ring.create(eal, 'r', { count, ...kind });
    const ctl = eal.memzones.reserve('ctl', CTL.BYTES).offset;
    return { ring, ctl };
  }

  function ealArgs(): string[] {
    return ['-l', String(lcore++), '--file-prefix', prefix, '--proc-type=secondary', '--log-level', 'error', '--'];
  }
  function producer(id: number, count: number, burst: number, env: NodeJS.ProcessEnv = {}): Child {
    return spawnNode(CHILD, [...ealArgs(), 'produce', 'ring=r', `id=${id}`, `count=${count}`, `burst=${burst}`], env);
  }
  function consumer(slot: number, burst: number, env: NodeJS.ProcessEnv = {}): Child {
    return spawnNode(CHILD, [...ealArgs(), 'consume', 'ring=r', 'ctl=ctl', `slot=${slot}`, `burst=${burst}`], env);
  }
  function stop(ctl: number): void {
    Atomics.store(eal.region.u32, (ctl + CTL.STOP) >>> 2, 1);
  }
  function consumed(ctl: number, slot: number): number {
    return Atomics.load(eal.region.u32, (ctl + CTL.SLOTS + slot * CTL.SLOT_BYTES) >>> 2);
  }
  function waiting(ctl: number, slot: number): boolean {
    return Atomics.load(eal.region.u32, ((ctl + CTL.SLOTS + slot * CTL.SLOT_BYTES) >>> 2) + 1) === 1;
  }
  // A safety net, not a speed bound: these runs take 1-4 s alone, but over 15 s with the
  // processes outnumbering the cores ten to two (a waiter yields to the busy processes while
  // the claimer it waits for is preempted). A stuck ring is named by the children's own stall
  // detector (ring-child.ts STALL_MS: nothing moved for 30 s, exit 3 with the ring's dump).
  const EXIT_MS = 90000;
  async function finish(cs: Child[]): Promise<ConsumerResult[]> {
    const codes = await Promise.all(cs.map((c) => exitedWithin(c, EXIT_MS)));
    codes.forEach((c, i) => assert.equal(c, 0, `consumer ${i} exited ${c}: ${cs[i]!.err}`));
    return cs.map((c) => lastJson<ConsumerResult>(c));
  }
  async function produced(ps: Child[]): Promise<ProducerResult[]> {
    const codes = await Promise.all(ps.map((c) => exitedWithin(c, EXIT_MS)));
    codes.forEach((c, i) => assert.equal(c, 0, `producer ${i} exited ${c}: ${ps[i]!.err}`));
    return ps.map((c) => lastJson<ProducerResult>(c));
  }

  it('2 producers and 2 consumers on an MP/MC ring pass 3M handles, each exactly once', async () => {
    const { ctl } = setup(MPMC);
    const N = 1_500_000;
    const cs = [consumer(0, 32), consumer(1, 13)];
    const ps = [producer(1, N, 32), producer(2, N, 7)];
    const pr = await produced(ps);
    assert.deepEqual(pr.map((p) => p.produced), [N, N]);
    stop(ctl);
    const res = await finish(cs);
    const exp = expected([1, 2], N);
    assert.equal(res.reduce((s, r) => s + r.count, 0), 2 * N);
    assert.equal(res.reduce((s, r) => s + r.sum, 0), exp.sum);
    assert.equal(res.reduce((x, r) => (x ^ r.xor) >>> 0, 0), exp.xor);
    for (const r of res) assert.equal(r.order, 0, 'per-producer order within each consumer');
    for (const r of res) assert.ok(r.count > 0, 'both consumers took part');
  });

  it('3 producers and a single consumer (MP/SC) keep each producer\'s order', async () => {
    const { ctl } = setup({ singleConsumer: true }, 256);
    const N = 700_000;
    const cs = [consumer(0, 32)];
    const ps = [producer(1, N, 32), producer(2, N, 32), producer(3, N, 5)];
    await produced(ps);
    stop(ctl);
    const [r] = await finish(cs);
    const exp = expected([1, 2, 3], N);
    assert.equal(r!.count, 3 * N);
    assert.equal(r!.sum, exp.sum);
    assert.equal(r!.xor, exp.xor);
    assert.equal(r!.order, 0);
  });

  it('a consumer killed with -9 between operations does not stop the others', async () => {
    const { ring, ctl } = setup(MPMC);
    const N = 600_000;
    // The producers start once every consumer waits on the ring: a consumer still starting
    // (a second or more under load) could find them done and the ring empty (seen once).
    const cs = [consumer(0, 32), consumer(1, 32), consumer(2, 16)];
    await until(() => [0, 1, 2].every((s) => waiting(ctl, s)), 30000, 'the consumers waiting on the ring');
    const ps = [producer(1, N, 32), producer(2, N, 32)];
    // Kill the victim once it has started (it may be starved on 2 cores: a low bar, not a share).
    await until(() => consumed(ctl, 2) > 2_000, 30000, 'the victim consuming');
    cs[2]!.proc.kill('SIGKILL');
    await cs[2]!.exited;
    const victim = consumed(ctl, 2);
    await produced(ps);
    stop(ctl);
    // The victim may have died inside a claim: the others repair it while waiting.
    const res = await finish(cs.slice(0, 2));
    const rep = ring.repair();
    const got = res.reduce((s, r) => s + r.count, 0);
    const reclaimed = res.reduce((s, r) => s + r.reclaimed.length, 0) + rep.reclaimed.length;
    for (const r of res) assert.equal(r.order, 0);
    // The live consumers together drained what the victim left (not each a share: on 2 cores one
    // may be starved, and the ring promises no fairness). Every handle went to a live consumer,
    // to the victim (counted up to its last burst), or was reclaimed.
    const accounted = got + victim + reclaimed;
    assert.ok(accounted <= 2 * N && accounted >= 2 * N - 16, `accounted ${accounted} of ${2 * N}`);
    assert.ok(ring.empty());
  });

  for (const hook of ['ring-claim:prod', 'ring-claim:prod-early'] as const) {
    it(`a producer killed between claim and publish (${hook}) is repaired: the others carry on, its claim becomes holes`, async () => {
      const { ring, ctl } = setup(MPMC, 256);
      const N = 200_000;
      const cs = [consumer(0, 32), consumer(1, 32)];
      const victim = producer(9, 1000, 24, { MPDK_TEST_HOOK: hook });
      await victim.waitFor(/MPDK_TEST_HOOK ring-claim reached/, 10000);
      const ps = [producer(1, N, 32), producer(2, N, 32)];
      // The others queue up behind the stopped claim [0, 24).
      await until(() => Atomics.load(eal.region.u32, (ring.offset + RING.PROD_HEAD) >>> 2) > 24, 10000, 'producers claiming behind the victim');
      const killedAt = performance.now();
      victim.proc.kill('SIGKILL');
      // The prod tail moves once a waiting producer has repaired the dead claim.
      const tailIdx = (ring.offset + RING.PROD_TAIL) >>> 2;
      while (Atomics.load(eal.region.u32, tailIdx) === 0 && performance.now() - killedAt < 5000) await sleep(1);
      const resumeMs = performance.now() - killedAt;
      assert.notEqual(Atomics.load(eal.region.u32, tailIdx), 0, 'the tail moved past the dead claim');
      await victim.exited;
      await until(() => consumed(ctl, 0) + consumed(ctl, 1) > 0, 5000, 'consumers getting handles after the kill');
      await produced(ps);
      stop(ctl);
      const res = await finish(cs);
      const exp = expected([1, 2], N);
      assert.equal(res.reduce((s, r) => s + r.count, 0), 2 * N);
      assert.equal(res.reduce((s, r) => s + r.sum, 0), exp.sum);
      assert.equal(res.reduce((x, r) => (x ^ r.xor) >>> 0, 0), exp.xor);
      assert.equal(res.reduce((s, r) => s + r.holes, 0), 24, 'the dead claim, counted as holes');
      assert.equal(ring.holes(), 24);
      for (const r of res) assert.equal(r.order, 0);
      process.stderr.write(`# ${hook}: the tail moved ${resumeMs.toFixed(1)} ms after the kill\n`);
    });
  }

  it('a producer waiting behind a live but stuck claimer gives up after its bound, naming the pid; its burst is published once repaired', async () => {
    const { ring } = setup(MPMC, 256);
    const victim = producer(9, 1000, 24, { MPDK_TEST_HOOK: 'ring-claim:prod' });
    await victim.waitFor(/MPDK_TEST_HOOK ring-claim reached/, 10000);
    ring.tailWaitMs = 200;
    const mine = Uint32Array.from({ length: 8 }, (_, i) => 0x7000 + i);
    const t0 = performance.now();
    assert.throws(() => ring.enqueueBulk(mine, 8), (e: Error) => {
      assert.match(e.message, new RegExp(`waited 200 ms for the producer claim \\[0, 24\\) of pid ${victim.proc.pid} \\(alive, sleeping\\)`));
      assert.equal((e as { code?: string }).code, 'ETIMEDOUT');
      return true;
    });
    const waited = performance.now() - t0;
    assert.ok(waited >= 200 && waited < 5000, `waited ${waited.toFixed(0)} ms`);
    // The side stays refused while the abandoned burst is still behind the live claimer.
    assert.throws(() => ring.enqueueBulk(mine, 8), new RegExp(`still behind the claim of pid ${victim.proc.pid} \\(alive`));
    assert.equal(ring.count(), 0);
    victim.proc.kill('SIGKILL');
    await victim.exited;
    // The next enqueue repairs: the victim's 24 become holes, the abandoned 8 are published.
    const more = Uint32Array.from({ length: 8 }, (_, i) => 0x8000 + i);
    assert.equal(ring.enqueueBulk(more, 8), 8);
    const out = new Uint32Array(64);
    const got = ring.dequeueBurst(out, 64);
    assert.deepEqual([...out.subarray(0, got)], [...mine, ...more], 'each handle exactly once, in order, the dead claim dropped');
    assert.equal(ring.holes(), 24);
    assert.ok(ring.empty());
  });

  it('a consumer waiting behind a live but stuck consumer gives up after its bound; its handles are reclaimed by repair', async () => {
    const { ring } = setup(MPMC, 256);
    const h = Uint32Array.from({ length: 40 }, (_, i) => 0x100 + i);
    assert.equal(ring.enqueueBulk(h, 40), 40);
    const victim = consumer(5, 20, { MPDK_TEST_HOOK: 'ring-claim:cons' });
    await victim.waitFor(/MPDK_TEST_HOOK ring-claim reached/, 10000);
    ring.tailWaitMs = 200;
    const out = new Uint32Array(40);
    assert.throws(() => ring.dequeueBulk(out, 10), new RegExp(`waited 200 ms for the consumer claim \\[0, 20\\) of pid ${victim.proc.pid} \\(alive, sleeping\\).*reclaimed`));
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const rep = ring.repair();
    assert.deepEqual(rep.reclaimed.sort((a, b) => a - b), [...h.subarray(0, 30)], 'the victim\'s 20 and the abandoned 10, once each');
    assert.equal(ring.dequeueBurst(out, 40), 10);
    assert.deepEqual([...out.subarray(0, 10)], [...h.subarray(30)]);
  });

  it('a consumer killed between claim and publish: its handles are reclaimed by repair, the others go on', async () => {
    const { ring, ctl } = setup(MPMC, 256);
    const N = 200_000;
    const ps = [producer(1, N, 32), producer(2, N, 32)];
    await until(() => ring.count() >= 20, 10000, 'the ring filling');
    const victim = consumer(5, 20, { MPDK_TEST_HOOK: 'ring-claim:cons' });
    await victim.waitFor(/MPDK_TEST_HOOK ring-claim reached/, 10000);
    const cs = [consumer(0, 32)];
    await sleep(50);
    victim.proc.kill('SIGKILL');
    await victim.exited;
    await produced(ps);
    stop(ctl);
    const res = await finish(cs);
    const rep = ring.repair();
    const reclaimed = [...rep.reclaimed, ...res.flatMap((r) => r.reclaimed)];
    assert.equal(reclaimed.length, 20, `reclaimed ${reclaimed.length}`);
    const exp = expected([1, 2], N);
    let sum = res.reduce((s, r) => s + r.sum, 0);
    let xor = res.reduce((x, r) => (x ^ r.xor) >>> 0, 0);
    for (const v of reclaimed) {
      sum += v;
      xor = (xor ^ v) >>> 0;
    }
    assert.equal(res.reduce((s, r) => s + r.count, 0) + reclaimed.length, 2 * N);
    assert.equal(sum, exp.sum);
    assert.equal(xor, exp.xor);
    assert.ok(ring.empty());
  });

  it('an idle loop over two rings sleeps on both doorbells: ~0 CPU, woken by either at once', async () => {
    const { ring } = setup(MPMC);
    const other = Ring.create(eal, 'o', { count: 64 });
    const c = spawnNode(CHILD, [...ealArgs(), 'idle', 'ring=r', 'other=o']);
    await c.waitFor(/"waiting":true/, 10000);
    await sleep(300); // past the spin budget: asleep in futex_waitv
    const used = await ticksIn(c, 1000);
    assert.ok(used < 10, `the idle loop used ${used} ticks in 1 s`);
    const waiters = (r: Ring): number => eal.region.u32[(r.offset + RING.NE_WAITERS) >>> 2]!;
    assert.equal(waiters(ring) + waiters(other), 2, 'registered on both not-empty doorbells while asleep');
    assert.ok(other.enqueue(77)); // its sleeps last 10 s: only the doorbell ends this one early
    const m = await c.waitFor(/"woke":"o","value":77,"ms":(\d+),"wakeups":(\d+)/, 5000);
    assert.ok(Number(m[1]) < 9000, `woken by the enqueue, not a timeout (${m[1]} ms)`);
    assert.ok(Number(m[2]) >= 1, 'counted as a wake-up');
    assert.equal(await c.exited, 0);
    assert.equal(waiters(ring) + waiters(other), 0, 'both registrations undone');
  });

  // SP / SC tails are plain stores on x64; a sleeper's membarrier stands for the producer's
  // fence (doorbell.ts D1). Round trips with random gaps put each side to sleep often, right
  // as the other publishes: a missed wake-up is a 10 s wait. The second run has the echo
  // publish with Atomics.store (no membarrier registration), as another platform would.
  for (const hook of ['', 'no-membarrier']) {
    it(`single producers and consumers in two processes never miss a sleeper's wake-up${hook ? ` (${hook})` : ''}`, async () => {
      const { ring } = setup(SPSC, 64);
      Ring.create(eal, 'b', { count: 64, ...SPSC });
      const n = 1500;
      const echo = spawnNode(CHILD, [...ealArgs(), 'echo', 'ring=r', 'back=b', `count=${n}`], { MPDK_TEST_HOOK: hook });
      const ping = spawnNode(CHILD, [...ealArgs(), 'ping', 'ring=r', 'back=b', `count=${n}`]);
      const m = await ping.waitFor(/"timeouts":(\d+),"maxMs":(\d+)/, 60000);
      assert.equal(Number(m[1]), 0, 'no wait ran into its 10 s bound');
      assert.ok(Number(m[2]) < 5000, `longest round trip ${m[2]} ms`);
      assert.equal(await ping.exited, 0);
      assert.equal(await echo.exited, 0);
      assert.ok(ring.empty());
    });
  }

  it('a sleeping consumer uses ~0 CPU and wakes when a handle is enqueued', async () => {
    const { ring } = setup(MPMC);
    const c = spawnNode(CHILD, [...ealArgs(), 'sleep', 'ring=r']);
    const m = await c.waitFor(/"waiting":true/, 10000);
    assert.ok(m);
    await sleep(200);
    const used = await ticksIn(c, 1000);
    assert.ok(used < 10, `sleeping consumer used ${used} ticks in 1 s`);
    assert.ok(ring.enqueue(4242));
    await c.waitFor(/"woke":1,"value":4242/, 5000);
    assert.equal(await c.exited, 0);
  });
});
