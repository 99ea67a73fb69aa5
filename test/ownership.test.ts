/**
 * Ownership records (src/ownership): a process killed with buffers in hand — inside a
 * receive window, a send window, a free — has exactly what it held returned by
 * reclaimDead, and the audit finds every element in one place. Real processes
 * (test/ownership-child.ts), real SIGKILLs at test hooks; the test process is the primary.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Eal, EthDev, Hands, Mbufs, PcapWriter, PktmbufPool, Ring, auditInstance, reclaimDead, listRecords, type PoolAudit, type ReclaimReport } from '../src/index.js';
import { mapFd, unmap } from '../src/native/libc.js';
import { DESC, RING } from '../src/drivers/net/memif-proto.js';
import { MIF, MIF_RING, mifRingAt } from '../src/drivers/net/memif-table.js';
import { leftovers, reapAll, removeInstance, run, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

after(reapAll);

const POOL = 'own_pool';
const SIZE = 1023;
const CHILD = 'dist/test/ownership-child.js';

interface Inst {
  p: string;
  eal: Eal;
  pool: PktmbufPool;
}

function instance(tag: string): Inst {
  const p = uniquePrefix(tag);
  const { eal } = Eal.init(['-l', '1', '--proc-type=primary', '--file-prefix', p, '-m', '64', '--log-level', 'error'], { handleSignals: false });
  const pool = PktmbufPool.create(eal, POOL, { count: SIZE, cacheSize: 32 });
  return { p, eal, pool };
}

function child(p: string, args: string[], hook = ''): Child {
  return spawnNode(CHILD, ['-l', '2', '--proc-type=secondary', '--file-prefix', p, '--log-level', 'error', '--', ...args], hook ? { MPDK_TEST_HOOK: hook } : {});
}

function poolAudit(eal: Eal): PoolAudit {
  return auditInstance(eal).pools.find((a) => a.name === POOL)!;
}

/**
 * After a holder's death in a window: another holder takes every free mbuf of `pool` (so a
 * buffer counted twice would show), then the dead one holds `held`, none leaked or counted
 * twice; the reclaim returns what the dead one held, not what the taker holds; every mbuf back
 * once after (`size` in all). `taker`'s array 0 is used.
 */
function takeAllThenReclaim(eal: Eal, pool: PktmbufPool, taker: Hands, held: number, size: number): void {
  const audit = (): PoolAudit => auditInstance(eal).pools.find((a) => a.name === pool.name)!;
  const free = pool.available();
  assert.equal(taker.alloc(0, pool, free), free, 'every free mbuf is the taker\'s now');
  const dead = audit();
  assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [held, 0, 0], JSON.stringify(dead));
  assert.equal(reclaimDead(eal).pools[pool.name]?.returned ?? 0, held, 'what the dead one held, not what the taker holds');
  const a = audit();
  assert.deepEqual([a.leaked, a.duplicates, a.heldByDead, a.heldByLive], [0, 0, 0, free], JSON.stringify(a));
  taker.free(0);
  assert.equal(pool.available(), size, 'every mbuf back, once');
}

/** A child (`args`, lcore 2) stopped at `hook` (or once it prints `ready`), SIGKILLed there. */
async function killedAt(x: Inst, args: string[], hook: string, ready = new RegExp(`${hook} reached`)): Promise<void> {
  const c = child(x.p, args, hook);
  await c.waitFor(ready, 10000);
  c.proc.kill('SIGKILL');
  await c.exited;
}

/** Every element in the pool's ring, once: none leaked, none twice, no cache holding any. */
function allInPool(x: Inst): void {
  const a = poolAudit(x.eal);
  assert.deepEqual([a.leaked, a.duplicates, a.inCaches], [0, 0, 0], JSON.stringify(a));
  assert.equal(x.pool.available(), SIZE);
}

/** Port 0 with one RX queue (on `pool`) and one TX queue, started. */
function startPort(dev: EthDev, pool: PktmbufPool): void {
  dev.configure(0, { rxQueues: 1, txQueues: 1 });
  dev.rxQueueSetup(0, 0, { descriptors: 256, pool });
  dev.txQueueSetup(0, 0, { descriptors: 256 });
  dev.start(0);
}

/** Every handle of `rings` back to the pool. */
function drain(x: Inst, ...rings: Ring[]): void {
  const buf = new Uint32Array(64);
  for (const r of rings) for (let k = r.dequeueBurst(buf, 64); k > 0; k = r.dequeueBurst(buf, 64)) x.pool.freeBulk(buf, k);
}

// Each also from a record whose table of 30 rings is full (rings=30): its windows name the two
// rings in their array's RINGW word (exact as through the table; the old record refused a 31st
// ring with ENOSPC, so the child could not start).
for (const [kind, full] of [['SP/SC', false], ['MP/MC', false], ['SP/SC', true], ['MP/MC', true]] as const) {
  const sides = kind === 'SP/SC' ? { singleProducer: true, singleConsumer: true } : {};
  const table = full ? ', from a record whose ring table is full' : '';
  const fill = full ? ['rings=30'] : [];

  test(`${kind} ring${table}: a consumer killed inside its receive window has exactly its burst returned`, async () => {
    const x = instance('ownrx');
    try {
      const rin = Ring.create(x.eal, 'own_in', { count: 256, ...sides });
      const rout = Ring.create(x.eal, 'own_out', { count: 256, ...sides });
      const buf = new Uint32Array(64);
      assert.equal(x.pool.allocBulk(buf, 64), 64);
      assert.equal(rin.enqueueBulk(buf, 64), 64);
      const c = child(x.p, ['forward', 'in=own_in', 'out=own_out', 'burst=32', ...fill], 'hands:rx');
      await c.waitFor(/hands:rx reached/, 10000);
      assert.equal(rin.count(), 32, 'the child took one burst');
      const live = poolAudit(x.eal);
      assert.equal(live.heldByLive, 32, 'the open window is counted as held');
      assert.equal(live.leaked + live.duplicates, 0);
      c.proc.kill('SIGKILL');
      await c.exited;
      assert.equal(poolAudit(x.eal).heldByDead, 32);
      const rep = reclaimDead(x.eal);
      assert.equal(rep.pools[POOL]?.returned, 32);
      assert.equal(rep.records, 1);
      const a = poolAudit(x.eal);
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead, a.inRings], [0, 0, 0, 32]);
      assert.equal(reclaimDead(x.eal).processes.length, 0, 'a second reclaim finds nothing');
      assert.equal(listRecords(x.eal).length, 0);
      drain(x, rin, rout);
      assert.equal(x.pool.available(), SIZE, 'every mbuf back');
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  });

  test(`${kind} ring${table}: a producer killed inside its send window, half sent, has exactly the unsent half returned`, async () => {
    const x = instance('owntx');
    try {
      const rin = Ring.create(x.eal, 'own_in', { count: 256, ...sides });
      const rout = Ring.create(x.eal, 'own_out', { count: 16, ...sides, exactSize: true }); // takes 16 of the 32
      const buf = new Uint32Array(64);
      assert.equal(x.pool.allocBulk(buf, 64), 64);
      assert.equal(rin.enqueueBulk(buf, 64), 64);
      const c = child(x.p, ['forward', 'in=own_in', 'out=own_out', 'burst=32', ...fill], 'hands:tx');
      await c.waitFor(/hands:tx reached/, 10000);
      assert.equal(rout.count(), 16);
      c.proc.kill('SIGKILL');
      await c.exited;
      const rep = reclaimDead(x.eal);
      assert.equal(rep.pools[POOL]?.returned, 16, 'the 16 the ring refused, not the 16 it took');
      assert.equal(rep.skipped, 0, 'the record alone was exact');
      const a = poolAudit(x.eal);
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead, a.inRings], [0, 0, 0, 48]);
      drain(x, rin, rout);
      assert.equal(x.pool.available(), SIZE);
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  });
}

// A single producer killed between the ring's head and tail stores (ring-sp:prod): the burst
// is not published; the reclaim rolls the head back (the ring named by the record: its table, or
// with the table full the open window's RINGW word, listed by listRecords) and returns the 32.
// Then a producer enqueues one more: it must not publish the dead one's stale slots (without
// the roll-back: 32 duplicates).
for (const full of [false, true]) {
  test(`SP ring${full ? ', from a record whose ring table is full' : ''}: a producer killed between the ring's head and tail stores has its burst rolled back and returned once`, async () => {
    const x = instance('ownsp');
    try {
      const rin = Ring.create(x.eal, 'own_in', { count: 256, singleProducer: true, singleConsumer: true });
      const rout = Ring.create(x.eal, 'own_out', { count: 256, singleProducer: true, singleConsumer: true });
      const buf = new Uint32Array(64);
      assert.equal(x.pool.allocBulk(buf, 64), 64);
      assert.equal(rin.enqueueBulk(buf, 64), 64);
      await killedAt(x, ['forward', 'in=own_in', 'out=own_out', 'burst=32', ...(full ? ['rings=30'] : [])], 'ring-sp:prod');
      assert.equal(poolAudit(x.eal).heldByDead, 32);
      const rep = reclaimDead(x.eal);
      assert.equal(rep.singleFixed, 1, 'the half-published burst rolled back');
      assert.equal(rep.pools[POOL]?.returned, 32);
      assert.equal(x.pool.allocBulk(buf, 1), 1);
      assert.equal(rout.enqueueBulk(buf, 1), 1, 'the next producer');
      const a = poolAudit(x.eal);
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead, a.inRings], [0, 0, 0, 33], JSON.stringify(a));
      drain(x, rin, rout);
      assert.equal(x.pool.available(), SIZE);
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  });
}

test('MP/MC ring: a consumer killed inside its claim, repaired by the next consumer while it waits: the burst is freed by that consumer, and the dead record claims none of it', async () => {
  const x = instance('ownmc');
  const hands = Hands.open(x.eal, 'test-consumer', 1, 64);
  try {
    const rin = Ring.create(x.eal, 'own_in', { count: 256 });
    const rout = Ring.create(x.eal, 'own_out', { count: 256, singleProducer: true, singleConsumer: true });
    const warm = Ring.create(x.eal, 'own_warm', { count: 256, singleProducer: true, singleConsumer: true });
    const buf = new Uint32Array(64);
    assert.equal(x.pool.allocBulk(buf, 64), 64);
    assert.equal(rin.enqueueBulk(buf, 64), 64);
    assert.equal(x.pool.allocBulk(buf, 32), 32);
    assert.equal(warm.enqueueBulk(buf, 32), 32);
    // The child forwards 32 from the warm ring first (its array then holds 32 stale handles, now
    // in own_out), then stops inside its claim on own_in.
    const c = child(x.p, ['forward', 'in=own_in', 'out=own_out', 'burst=32', 'warm=own_warm'], 'ring-claim:cons');
    await c.waitFor(/ring-claim reached/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    // Our dequeue claims the next 32, waits for the dead claim ahead, repairs it, frees its 32.
    assert.equal(hands.rx(0, hands.source(rin), 32), 32);
    assert.equal(rin.count(), 0);
    const rep = reclaimDead(x.eal);
    assert.deepEqual([rep.pools[POOL]?.returned ?? 0, rep.skipped], [0, 0], 'the dead record holds nothing: its claim was released to the repairer');
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByLive, a.inRings], [0, 0, 32, 32]);
    hands.free(0);
    drain(x, rout);
    assert.equal(x.pool.available(), SIZE);
  } finally {
    hands.close();
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('reclaimDead called by three processes at once: one returns what the dead one held, the others find nothing', async () => {
  const x = instance('ownconc');
  try {
    const rin = Ring.create(x.eal, 'own_in', { count: 256, singleProducer: true, singleConsumer: true });
    const rout = Ring.create(x.eal, 'own_out', { count: 256, singleProducer: true, singleConsumer: true });
    const buf = new Uint32Array(64);
    assert.equal(x.pool.allocBulk(buf, 64), 64);
    assert.equal(rin.enqueueBulk(buf, 64), 64);
    const c = child(x.p, ['forward', 'in=own_in', 'out=own_out', 'burst=32'], 'hands:rx');
    await c.waitFor(/hands:rx reached/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    const rs = [3, 4].map((l) => spawnNode(CHILD, ['-l', String(l), '--proc-type=secondary', '--file-prefix', x.p, '--log-level', 'error', '--', 'reclaim']));
    const mine = reclaimDead(x.eal);
    const codes = await Promise.all(rs.map((r) => r.exited));
    assert.deepEqual(codes, [0, 0]);
    const reports = [mine, ...rs.map((r) => JSON.parse(r.out) as ReturnType<typeof reclaimDead>)];
    const returned = reports.map((r) => r.pools[POOL]?.returned ?? 0);
    assert.equal(returned.reduce((a, b) => a + b, 0), 32, `returned per caller: ${returned.join(', ')}`);
    assert.equal(returned.filter((n) => n > 0).length, 1, 'one caller did it');
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0]);
    drain(x, rin, rout);
    assert.equal(x.pool.available(), SIZE);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('a process killed right after a free through its record: the buffers are in its cache once, not returned twice', async () => {
  const x = instance('ownfree');
  try {
    const c = child(x.p, ['free', `pool=${POOL}`, 'count=20'], 'hands:free');
    await c.waitFor(/hands:free reached/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    const before = poolAudit(x.eal);
    assert.equal(before.heldByDead, 0, 'what reached the dead lcore cache is not held');
    const rep = reclaimDead(x.eal);
    assert.equal(rep.pools[POOL]?.returned ?? 0, 0);
    assert.ok((rep.pools[POOL]?.flushed ?? 0) >= 20, `flushed ${rep.pools[POOL]?.flushed}`);
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.inCaches], [0, 0, 0]);
    assert.equal(x.pool.available(), SIZE);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('a free into a pool without a cache (straight to its ring): killed inside the ring claim, the record still holds the 20 (the repair drops the claim); killed after the put, it holds none: never counted twice', async () => {
  for (const [hook, held] of [['ring-claim:prod', 20], ['hands:free', 0]] as const) {
    const x = instance('ownput');
    try {
      const nocache = PktmbufPool.create(x.eal, 'nocache_pool', { count: 255, cacheSize: 0 });
      const c = child(x.p, ['free', 'pool=nocache_pool', 'count=20'], hook);
      await c.waitFor(/(ring-claim|hands:free) reached/, 10000);
      c.proc.kill('SIGKILL');
      await c.exited;
      const audit = (): PoolAudit => auditInstance(x.eal).pools.find((a) => a.name === 'nocache_pool')!;
      if (held === 20) {
        // The next putter, stuck behind the dead claim, repairs it (EMPTY holes: the 20 are not in the ring).
        const one = new Uint32Array(1);
        assert.equal(nocache.allocBulk(one, 1), 1);
        nocache.freeBulk(one, 1);
      }
      const dead = audit();
      assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [held, 0, 0], `${hook}: ${JSON.stringify(dead)}`);
      const rep = reclaimDead(x.eal);
      assert.equal(rep.pools.nocache_pool?.returned ?? 0, held, hook);
      const a = audit();
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], hook);
      assert.equal(nocache.available(), 255, `${hook}: every mbuf back, once`);
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  }
});

// The same with the record's ring table full (30 rings of its own): the pool's ring is named by
// entry 0 (the window is read through its POOL and SNAP words, the table entry only serves a
// single producer's roll-back), with another holder taking every free mbuf before the reclaim:
// killed after the put the dead one holds none (the old plain window, without the ring, counted
// the 20 it had put still its own: 20 duplicates under their new holder); inside the claim all 20.
for (const [hook, held] of [['ring-claim:prod', 20], ['hands:free', 0]] as const) {
  test(`a free into a pool without a cache from a record whose ring table is full: killed at ${hook}, every free mbuf then taken by another holder: the dead one holds ${held}, none counted or returned twice`, () =>
    killedThenTaken('ownputfull', { name: 'nocache_pool', cacheSize: 0 }, ['free', 'pool=nocache_pool', 'count=20', 'rings=30'], hook, /(ring-claim|hands:free) reached/, held));
}

/**
 * The refusal of a free into pool sp_pool (single-producer puts) through a record whose table of
 * 30 rings is full: ENOSPC saying that nothing was freed and the ways out (the old message named
 * only the table, and "a record that names fewer rings").
 */
function spTableFull(e: Error & { code?: string }): boolean {
  return e.code === 'ENOSPC' && /^hands '[^']+': cannot free into pool 'sp_pool' through this record: the pool's ring takes single-producer puts, which the record must name in its table of 30 rings, full with the rings of its sources, sinks and other pools; this free changed nothing \(the array still holds them\)\. Free them through another record that names fewer rings \(Hands\.open one for the frees into 'sp_pool', or give this one fewer sources and sinks\), or create the pool with multi-producer puts$/.test(e.message);
}

test('a free into a pool whose ring takes single-producer puts, from a record whose ring table is full, is refused with ENOSPC before anything moves: the array still holds its 20', () => {
  const x = instance('ownputsp');
  try {
    const sp = PktmbufPool.create(x.eal, 'sp_pool', { count: 255, cacheSize: 0, singlePut: true });
    const hands = Hands.open(x.eal, 'test-sp', 1, 64);
    for (let i = 0; i < 30; i++) hands.sink(Ring.create(x.eal, `own_fill${i}`, { count: 64 }));
    assert.equal(hands.alloc(0, sp, 20), 20);
    assert.throws(() => hands.free(0), spTableFull);
    assert.equal(hands.count(0), 20, 'nothing moved');
    assert.equal(sp.available(), 235);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

// Hands.close with an array whose recorded free the full table refuses (ENOSPC, as above): the
// old close threw out of its first free and left the record and its memzone behind, the 20 (and
// the other array's 5) held by a live owner for good. Now it frees every array, the refused one
// outside the record after dropping it (a death there leaks, never duplicates), says so, and
// frees the record.
test('Hands.close with an array whose recorded free is refused (a single-producer pool ring, the ring table full): the record and its memzone are freed, every buffer goes back, and a warning says which were freed outside the record', () => {
  const p = uniquePrefix('ownclosesp');
  const logged: string[] = [];
  const { eal } = Eal.init(['-l', '1', '--proc-type=primary', '--file-prefix', p, '-m', '64', '--log-level', 'warning'], { handleSignals: false, logger: (_l, m) => logged.push(m) });
  try {
    const sp = PktmbufPool.create(eal, 'sp_pool', { count: 255, cacheSize: 0, singlePut: true });
    const pool = PktmbufPool.create(eal, POOL, { count: SIZE, cacheSize: 32 });
    const hands = Hands.open(eal, 'test-close', 2, 64);
    for (let i = 0; i < 30; i++) hands.sink(Ring.create(eal, `own_fill${i}`, { count: 64 }));
    assert.equal(hands.alloc(0, sp, 20), 20);
    assert.equal(hands.alloc(1, pool, 5), 5);
    const zones = eal.memzones.list().length;
    hands.close();
    assert.equal(eal.memzones.list().length, zones - 1, 'the record\'s memzone freed');
    assert.deepEqual(listRecords(eal), []);
    assert.deepEqual([sp.available(), pool.available()], [255, SIZE], 'every buffer back');
    assert.equal(logged.filter((m) => /hands 'HN_\d+_\d+': close freed the 20 buffers of array 0 outside the record \(.*single-producer puts.*\); a death during that free would have leaked them/.test(m)).length, 1, logged.join('\n'));
    const a = auditInstance(eal).pools.find((x) => x.name === 'sp_pool')!;
    assert.deepEqual([a.leaked, a.duplicates, a.heldByLive], [0, 0, 0]);
    hands.close(); // idempotent
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
});

test('a thread without an lcore is refused (Eal.lcoreId, a worker\'s handoff): every thread that writes has its own ring claim lines and pool caches, none shares lcore 0\'s', () => {
  const x = instance('ownnolc');
  try {
    for (const bad of [-1, 128, 1.5]) {
      assert.throws(() => {
        x.eal.lcoreId = bad;
      }, new RegExp(`invalid lcore ${bad}: a thread that uses the instance runs as an lcore id 0\\.\\.127`));
      assert.throws(() => x.eal.handoff(bad), /invalid lcore/);
    }
    assert.equal(x.eal.lcoreId, 1, 'unchanged');
    const hands = Hands.open(x.eal, 'test-lcore', 1, 8);
    assert.equal(listRecords(x.eal)[0]!.lcore, 1, 'a record names its owner\'s lcore');
    hands.close();
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

/**
 * A child gets 20 mbufs through its record's lcore cache (32 + 20 refilled) and is killed at
 * `hook`: the record holds `held` of them, the cache the rest; reclaim returns the held ones.
 */
async function killedInsideGet(x: Inst, args: string[], hook: string, held: number): Promise<void> {
  const c = child(x.p, args, hook);
  await c.waitFor(new RegExp(`${hook} reached`), 10000);
  c.proc.kill('SIGKILL');
  await c.exited;
  const dead = poolAudit(x.eal);
  assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [held, 0, 0], JSON.stringify(dead));
  assert.equal(dead.inCaches, 32 + 20 - held, 'the refill brought 32 + 20 into its cache; the rest of them are the record\'s');
  const rep = reclaimDead(x.eal);
  assert.equal(rep.pools[POOL]?.returned ?? 0, held);
  const a = poolAudit(x.eal);
  assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0]);
  assert.equal(x.pool.available(), SIZE, 'every mbuf in the pool or a cache (returned ones land in ours)');
}

for (const [hook, where, held] of [['mempool:get', 'before the cache gave them up', 0], ['hands:get', 'after the cache gave them up, before the record\'s commit', 20]] as const) {
  test(`Hands.alloc: a process killed inside its pool get (${where}): the 20 are counted once, in its cache or its hands, and all come back`, async () => {
    const x = instance('ownalloc');
    try {
      await killedInsideGet(x, ['alloc', `pool=${POOL}`, 'count=20'], hook, held);
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  });
}

/**
 * 20 EMPTY holes in the pool's ring (no cache): a putter of 20 killed inside its claim, repaired
 * by our put of one behind it. The ring then reads [1002][20 holes][1]; the dead one's record
 * still holds its 20.
 */
async function twentyHoles(x: Inst): Promise<void> {
  await killedAt(x, ['free', `pool=${POOL}`, 'count=20'], 'ring-claim:prod', /ring-claim reached/);
  const one = new Uint32Array(1);
  assert.equal(x.pool.allocBulk(one, 1), 1);
  x.pool.freeBulk(one, 1);
  assert.equal(x.pool.mp.ring.holes(), 20);
}

// A put into a pool's ring whose EMPTY holes take the slots it needs: a putter killed inside
// its claim leaves 20 holes ([1002][20 holes][1] of the ring), then a reclaimer returns its 20.
// A ring of exactly N slots had no room for them: the put squeezed the holes out, a burst at a
// time out of the ring and back, and a reclaimer killed there (mempool:squeeze) lost that
// burst. The ring's slack (ringSlack: N more slots) takes them in one enqueue: nothing to
// squeeze, whatever instruction the reclaimer dies at, nothing lost.
test('a put into a pool ring holding a repair\'s EMPTY holes (no cache: a reclaimer returning a dead putter\'s 20) goes in one enqueue, never squeezing the holes out through its own hands: nothing leaked', () =>
  withPort('ownsqueeze', 'net_null0', 0, async (x) => {
    await twentyHoles(x);
    const c = child(x.p, ['reclaim'], 'mempool:squeeze');
    await c.waitFor(/mempool:squeeze reached|"returned":20/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    reclaimDead(x.eal);
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
    assert.doesNotMatch(c.err, /mempool:squeeze reached/, 'the put squeezed the holes out');
    assert.equal(x.pool.available(), SIZE, 'every mbuf back, once');
  }));

// More of a repair's EMPTY holes than the ring's slack: a pool of 31 without a cache (its ring 62),
// a putter of 20 killed inside its claim, then a reclaimer killed inside its put of those 20: the
// next reclaimer repairs that claim too (40 holes > 31) and its put of the 20 cannot fit. It
// squeezes the holes out, a burst at a time through its hands (the ring's 11 elements, 21 holes
// dropped), recorded on its lcore's squeeze line (mempool.ts MPQ). Killed after the burst came out
// (mempool:squeeze: it holds the 11; a private array lost them), after they went back
// (mempool:squeeze-give) or after the put (mempool:squeeze-put): nothing leaked or counted twice,
// every mbuf back once.
for (const [hook, held] of [['mempool:squeeze', 31], ['mempool:squeeze-give', 20], ['mempool:squeeze-put', 0]] as const) {
  test(`a put squeezing more EMPTY holes than the ring's slack out of a pool's ring (a reclaimer's, no cache): killed at ${hook}, the dead hold ${held}, nothing leaked, every mbuf back once`, async () => {
    const x = instance('ownsq');
    try {
      const small = PktmbufPool.create(x.eal, 'sq_pool', { count: 31, cacheSize: 0 });
      const audit = (): PoolAudit => auditInstance(x.eal).pools.find((a) => a.name === 'sq_pool')!;
      await killedAt(x, ['free', 'pool=sq_pool', 'count=20'], 'ring-claim:prod', /ring-claim reached/);
      await killedAt(x, ['reclaim'], 'ring-claim:prod', /ring-claim reached/);
      await killedAt(x, ['reclaim'], hook);
      assert.equal(small.mp.ring.holes(), 40, 'two repaired claims of 20');
      const dead = audit();
      // After the put, the first putter's record reads its lcore's claim line, which the put (on the same lcore) moved 20: none held.
      assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [held, 0, 0], JSON.stringify(dead));
      const rep = reclaimDead(x.eal);
      assert.equal(rep.pools.sq_pool?.returned ?? 0, held);
      const a = audit();
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
      assert.equal(small.available(), 31, 'every mbuf back, once');
      assert.equal(reclaimDead(x.eal).processes.length, 0, 'a second reclaim finds nothing');
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  });
}

// The same squeeze inside a recorded put: a reclaimer's flush of a dead lcore's cache (OP_FLUSH,
// its snapshot on the reclaimer's own claim line). A pool of 63 with caches of 32: a process
// killed inside its cache flush of 32 (lcore 2), then two reclaimers (lcores 3, 4) killed inside
// their flush of it: 96 holes, and the third reclaimer's flush (lcore 5) squeezes them. Killed
// after its burst of 11 went back into the ring (mempool:squeeze-give), its claim line moved 11
// past the flush's snapshot, and the flush itself was never made: the cache still holds the 32
// (Mempool.putMoved reads the squeeze line; the line's raw claim said 11 moved: 32 leaked).
test('a reclaimer\'s flush of a dead lcore\'s cache squeezing more EMPTY holes than the ring\'s slack, killed after its burst went back (mempool:squeeze-give): the flush is known not made, the cache\'s 32 come back once', async () => {
  const x = instance('ownsqfl');
  try {
    const fl = PktmbufPool.create(x.eal, 'fl_pool', { count: 63, cacheSize: 32 });
    const audit = (): PoolAudit => auditInstance(x.eal).pools.find((a) => a.name === 'fl_pool')!;
    const on = (l: number, args: string[], hook: string): Child => spawnNode(CHILD, ['-l', String(l), '--proc-type=secondary', '--file-prefix', x.p, '--log-level', 'error', '--', ...args], { MPDK_TEST_HOOK: hook });
    for (const [l, args, hook] of [[2, ['flush', 'pool=fl_pool'], 'ring-claim:prod'], [3, ['reclaim'], 'ring-claim:prod'], [4, ['reclaim'], 'ring-claim:prod'], [5, ['reclaim'], 'mempool:squeeze-give']] as const) {
      const c = on(l, [...args], hook);
      await c.waitFor(/(ring-claim|mempool:squeeze-give) reached/, 10000);
      c.proc.kill('SIGKILL');
      await c.exited;
    }
    assert.equal(fl.mp.ring.holes(), 96, 'three repaired flush claims of 32');
    const dead = audit();
    assert.deepEqual([dead.inCaches, dead.heldByDead, dead.inPool, dead.leaked, dead.duplicates], [32, 20, 11, 0, 0], JSON.stringify(dead));
    const rep = reclaimDead(x.eal);
    assert.deepEqual([rep.pools.fl_pool?.returned, rep.pools.fl_pool?.flushed], [20, 32]);
    const a = audit();
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
    assert.equal(fl.available(), 63, 'every mbuf back, once (the 20 returned in our cache)');
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

/** A capture file whose records need 8 mbufs of 2048 bytes: 60, 3000 (a chain of 2), 60, 5000 (of 3), 60. */
function chainsFile(): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-own-')), 'chains.pcap');
  const w = PcapWriter.open(f, { snaplen: 65535 });
  for (const n of [60, 3000, 60, 5000, 60]) w.write(new Uint8Array(n).fill(n & 255), 0, n, n);
  w.close();
  return f;
}

// A driver's RX burst: net_null (20 single mbufs), and net_pcap with chains (scattered RX:
// the heads and their segments, 8 mbufs, taken in one recorded get from the cache).
for (const [hook, where] of [['mempool:get', 'before the cache gave them up'], ['hands:rx', 'after the cache gave them up, before the record\'s commit']] as const) {
  for (const [vdev, took] of [['net_null0', 20], ['net_pcap0,rx_pcap=', 8]] as const) {
    const held = hook === 'mempool:get' ? 0 : took;
    const what = vdev === 'net_null0' ? 'net_null, no ring behind the queue: 20 mbufs' : 'net_pcap, records longer than a buffer: 5 packets in 8 chained mbufs';
    test(`a driver's RX burst (${what}): a process killed inside the driver's pool get (${where}): counted once and all come back`, async () => {
      const p = uniquePrefix('ownrx');
      const file = vdev === 'net_null0' ? '' : chainsFile();
      const { eal } = Eal.init(['-l', '1', '--proc-type=primary', '--file-prefix', p, '-m', '64', '--log-level', 'error', `--vdev=${vdev}${file}`], { handleSignals: false });
      const x: Inst = { p, eal, pool: PktmbufPool.create(eal, POOL, { count: SIZE, cacheSize: 32 }) };
      try {
        startPort(EthDev.attach(eal), x.pool);
        await killedInsideGet(x, ['rxnull', 'count=20'], hook, held);
      } finally {
        x.eal.close();
        if (file) fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }
      assert.deepEqual(leftovers(x.p), []);
    });
  }
}

/** A capture file of records of these lengths (filled with their length's low byte). */
function pcapOf(lens: readonly number[]): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-own-')), 'recs.pcap');
  const w = PcapWriter.open(f, { snaplen: 65535 });
  for (const n of lens) w.write(new Uint8Array(n).fill(n & 255), 0, n, n);
  w.close();
  return f;
}

// net_pcap's one-get path (records staged, then one recorded get of exactly what they need):
// a pool without a cache and a burst larger than the cache (the get goes to the pool's ring:
// recorded with the ring's snapshot), and a first record needing more mbufs than the burst
// asks for (from the cache). Killed after the get (mempool:get) or after the burst, before
// the record's commit (hands:rx): what it took is the dead one's, counted once, returned.
/**
 * A primary with port 0 on `vdev` (its RX queue on a pool of SIZE with a cache of `cacheSize`),
 * started; `fn` runs on it; then the instance and `file`'s folder are removed.
 */
async function withPort(tag: string, vdev: string, cacheSize: number, fn: (x: Inst) => Promise<void>, file = '', { singleGet = false, singlePut = false } = {}): Promise<void> {
  const p = uniquePrefix(tag);
  const { eal } = Eal.init(['-l', '1', '--proc-type=primary', '--file-prefix', p, '-m', '64', '--log-level', 'error', `--vdev=${vdev}`], { handleSignals: false });
  const x: Inst = { p, eal, pool: PktmbufPool.create(eal, POOL, { count: SIZE, cacheSize, singleGet, singlePut }) };
  try {
    startPort(EthDev.attach(eal), x.pool);
    await fn(x);
  } finally {
    x.eal.close();
    if (file) fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
  assert.deepEqual(leftovers(p), []);
}

/** A child (`args`) killed at `hook`: the dead hold `held`, counted once; reclaim returns them once; every mbuf back. */
async function killedHolding(x: Inst, args: string[], hook: string, held: number): Promise<void> {
  await killedAt(x, args, hook);
  returnedOnce(x, held);
}

/**
 * The dead hold `held`, none leaked or counted twice; reclaimDead returns them once; then
 * (after `andThen`: the test gives back what it kept aside) every mbuf is back, once.
 */
function returnedOnce(x: Inst, held: number, andThen = (): void => undefined): ReclaimReport {
  const dead = poolAudit(x.eal);
  assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [held, 0, 0], JSON.stringify(dead));
  const rep = reclaimDead(x.eal);
  assert.equal(rep.pools[POOL]?.returned ?? 0, held);
  andThen();
  const a = poolAudit(x.eal);
  assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
  assert.equal(x.pool.available(), SIZE, 'every mbuf back, once');
  return rep;
}

for (const [what, cacheSize, lens, count, took] of [
  ['a pool without a cache: 5 packets in 8 chained mbufs, from the pool\'s ring', 0, [60, 3000, 60, 5000, 60], 20, 8],
  ['a burst of 20 > the cache of 4: 8 chained mbufs from the pool\'s ring', 4, [60, 3000, 60, 5000, 60], 20, 8],
  ['a first record of 3 mbufs, a burst of 2: 4 mbufs from the cache', 32, [5000, 60, 60], 2, 4],
] as const) {
  for (const hook of ['mempool:get', 'hands:rx'] as const) {
    const held = hook === 'mempool:get' && cacheSize === 32 ? 0 : took; // a cache get stops before its LEN store
    test(`net_pcap RX through one get (${what}): killed at ${hook}, the dead one holds ${held}, returned once`, async () => {
      const file = pcapOf(lens);
      await withPort('ownpcap', `net_pcap0,rx_pcap=${file}`, cacheSize, (x) => killedHolding(x, ['rxnull', `count=${count}`], hook, held), file);
    });
  }
}

// A driver's recorded get from a pool's ring over the EMPTY holes a repair left (ring/claims.ts):
// its first claim keeps 10 of 30 (20 holes dropped), its second takes the other 20. Killed
// between the two claims (mempool:get-holes) or after the second (mempool:get): the dead one
// holds what it kept, never a handle the ring still has, and each comes back once.
for (const [hook, held, getter] of [
  ['mempool:get-holes', 10, 'rxnull'], ['mempool:get', 30, 'rxnull'], ['mempool:get-holes', 10, 'alloc'], ['hands:get', 30, 'alloc'],
] as const) {
  const who = getter === 'rxnull' ? 'a driver\'s recorded get (net_null)' : 'Hands.alloc';
  test(`${who} over a repair's EMPTY holes in the pool's ring (no cache): killed at ${hook}, the dead one holds ${held}, returned once`, () =>
    withPort('ownholes', 'net_null0', 0, async (x) => {
      await twentyHoles(x);
      // The ring now reads [1002][20 holes][1]: take 1000 and put them back: [2][20 holes][1][1000].
      const big = new Uint32Array(1000);
      assert.equal(x.pool.allocBulk(big, 1000), 1000);
      x.pool.freeBulk(big, 1000);
      // The dead putter's record holds its 20 too (reclaimed only at the end: its put-back would pass the holes).
      await killedHolding(x, getter === 'rxnull' ? ['rxnull', 'count=30'] : ['alloc', `pool=${POOL}`, 'count=30'], hook, 20 + held);
    }));
}

// net_pcap: a record needing more mbufs than the receiving array has room for (65535 bytes: 32
// mbufs; the record's array holds 12): its head and 11 segments in one recorded get, the other
// 20 in gets of 11 and 9 after the head (getBulk's kept), each chained before the next. Killed
// inside the first get (before the cache gave them up), after the second (pcap:oversize: 11
// chained, 11 not yet), or after the burst: counted once, every mbuf back.
for (const [hook, held] of [['mempool:get', 0], ['pcap:oversize', 23], ['hands:rx', 32]] as const) {
  test(`net_pcap RX of a record longer than the array (32 mbufs into room for 12, in three recorded gets): killed at ${hook}, the dead one holds ${held}, returned once`, async () => {
    const file = pcapOf([65535]);
    await withPort('ownbig', `net_pcap0,rx_pcap=${file}`, 32, (x) => killedHolding(x, ['rxnull', 'count=1', 'cap=12'], hook, held), file);
  });
}

// The same record when the pool runs dry half-way: 15 mbufs free (the rest held on a ring),
// the first get takes 12 (head and 11 segments, chained), the next one finds 3. The half-built
// chain goes back and the record waits (rx_nombuf), its segments recorded as they leave the
// chain (pcap:give-back: cut from it, not yet put: the dead one holds all 12), then put back
// recorded (mempool:put-back: the 11 went, the record holds the head only).
for (const [hook, held] of [['pcap:give-back', 12], ['mempool:put-back', 1]] as const) {
  test(`net_pcap RX of a record longer than the array when the pool runs dry half-way: killed at ${hook} while the half-built chain goes back, the dead one holds ${held}, nothing leaked or counted twice`, async () => {
    const file = pcapOf([65535]);
    await withPort('owndry', `net_pcap0,rx_pcap=${file}`, 32, async (x) => {
      const hold = Ring.create(x.eal, 'own_hold', { count: 1024 });
      const buf = new Uint32Array(SIZE - 15);
      assert.equal(x.pool.allocBulk(buf, buf.length), buf.length);
      assert.equal(hold.enqueueBulk(buf, buf.length), buf.length);
      await killedAt(x, ['rxnull', 'count=1', 'cap=12'], hook);
      returnedOnce(x, held, () => drain(x, hold));
    }, file);
  });
}

// The same from a pool whose ring takes single-producer puts: the window's get put-back of the
// 11 segments (Mempool.putBackRecorded: the record's GET_PUTBACK, a Hands POOL_GET window's get)
// killed between the ring's head and tail stores (ring-sp:prod). listRecords names that ring
// side (recordedGetRingSide), so the reclaim rolls the head back: the dead one holds the 12,
// returned once. Without the roll-back the head stayed 11 past the tail: the next flush to the
// ring published the 11 stale slots with its own, 11 duplicates.
test('net_pcap RX of a record longer than the array when the pool runs dry half-way, a pool whose ring takes single-producer puts: killed between the ring\'s head and tail stores of the recorded put-back, the dead one holds 12, rolled back and returned once', async () => {
  await killedInDryPutBack('owndrysp', 15, 12, 12);
});

/**
 * net_pcap RX of one 65535-byte record (32 segments) from a pool with single-producer puts
 * and only `left` mbufs free: the receiver (array room `cap`) runs dry half-way and is killed
 * between the pool ring's head and tail stores of its put-back (ring-sp:prod). The dead one
 * holds `holds`; the reclaim rolls the put-back (singleFixed 1) and returns them once.
 */
async function killedInDryPutBack(prefix: string, left: number, cap: number, holds: number): Promise<void> {
  const file = pcapOf([65535]);
  await withPort(prefix, `net_pcap0,rx_pcap=${file}`, 32, async (x) => {
    const hold = Ring.create(x.eal, 'own_hold', { count: 1024 });
    const buf = new Uint32Array(SIZE - left);
    assert.equal(x.pool.allocBulk(buf, buf.length), buf.length);
    assert.equal(hold.enqueueBulk(buf, buf.length), buf.length);
    await killedAt(x, ['rxnull', 'count=1', `cap=${cap}`], 'ring-sp:prod');
    assert.equal(returnedOnce(x, holds, () => drain(x, hold)).singleFixed, 1, 'the half-published put-back rolled back');
  }, file, { singlePut: true });
}

// net_pcap: the same record (32 mbufs) into an array with room for one (cap=1): the head in the
// window's own get, then its 31 segments in chunks of 16 and 15 into the queue's scatter record
// (scatter.ts), which the window names, each chunk chained before the next. Killed inside the
// head's get (mempool:get: from a cache, before its LEN store: none; from the pool's ring: the
// head), with the first chunk got, not yet chained (pcap:scatter: the head and 16), or after the
// burst: counted once, every mbuf back (the old private array leaked the chunk in hand).
for (const [cacheSize, hook, held] of [[32, 'mempool:get', 0], [32, 'pcap:scatter', 17], [32, 'hands:rx', 32], [0, 'mempool:get', 1], [0, 'pcap:scatter', 17]] as const) {
  test(`net_pcap RX of a record of 32 mbufs into an array with room for one (${cacheSize ? 'a pool with a cache' : 'a pool without a cache'}): killed at ${hook}, the dead one holds ${held}, returned once`, async () => {
    const file = pcapOf([65535]);
    await withPort('ownone', `net_pcap0,rx_pcap=${file}`, cacheSize, (x) => killedHolding(x, ['rxnull', 'count=1', 'cap=1'], hook, held), file);
  });
}

// The same queue bound when the memzone table is full: its scatter record cannot be reserved,
// so the bind is refused (ENOSPC, saying what to do), the queue left unclaimed, nothing taken
// (the old queue opened the record at first need and, failing, chained the segments through a
// private array: killed at pcap:scatter with the head and 16 in hand it leaked those 16).
test('net_pcap RX queue of a file with records longer than an mbuf, bound when the memzone table is full: refused with ENOSPC saying what to do, before taking anything; the queue stays free', async () => {
  const file = pcapOf([65535]);
  await withPort('ownonefull', `net_pcap0,rx_pcap=${file}`, 32, async (x) => {
    const c = child(x.p, ['rxnull', 'count=1', 'cap=1', 'fill=yes'], 'pcap:scatter');
    try {
      await c.waitFor(/refused|pcap:scatter reached/, 15000);
      for (const mz of x.eal.memzones.list()) if (mz.name.startsWith('own_fill_')) x.eal.memzones.free(mz.name);
      assert.match(c.out, /refused ENOSPC: net_pcap0: RX queue 0: rx_pcap=.* holds records of up to 65535 bytes, longer than an mbuf of pool 'own_pool' \(\d+ bytes\), and the record that chains their segments cannot be reserved \(.*\); free memzones, or give the queue a pool of data rooms of at least 65535 bytes/, JSON.stringify(poolAudit(x.eal)));
      const dev = EthDev.attach(x.eal);
      assert.doesNotThrow(() => dev.rxQueue(0, 0), 'the queue was left unclaimed by its refused binder, alive');
      dev.close();
    } finally {
      c.proc.kill('SIGKILL');
      await c.exited;
    }
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
    reclaimDead(x.eal);
  }, file);
});

// The same when the pool runs dry: `free` mbufs left (the rest held on a ring). With 20 and a
// cache: the head and a first chunk of 16 come, the next chunk does not; the half-built chain
// goes back from its end through the scatter record (scatter:give-back: 16 cut, held with the
// head: 17), put back recorded (mempool:put-back: the 16 went, the head is held). With 10 and no
// cache: the head alone goes back, recorded (mempool:put-back: it went, the dead one holds none;
// the old single free left the head counted by the window's get after it was in the pool).
for (const [cacheSize, free, hook, held] of [[32, 20, 'scatter:give-back', 17], [32, 20, 'mempool:put-back', 1], [0, 10, 'mempool:put-back', 0]] as const) {
  test(`net_pcap RX of a record of 32 mbufs into an array with room for one when the pool runs dry (${free} free, ${cacheSize ? 'a cache' : 'no cache'}): killed at ${hook} while the chain goes back, the dead one holds ${held}, nothing leaked or counted twice`, async () => {
    const file = pcapOf([65535]);
    await withPort('owndry1', `net_pcap0,rx_pcap=${file}`, cacheSize, async (x) => {
      const hold = Ring.create(x.eal, 'own_hold', { count: 1024 });
      const buf = new Uint32Array(SIZE - free);
      assert.equal(x.pool.allocBulk(buf, buf.length), buf.length);
      assert.equal(hold.enqueueBulk(buf, buf.length), buf.length);
      await killedAt(x, ['rxnull', 'count=1', 'cap=1'], hook);
      returnedOnce(x, held, () => drain(x, hold));
    }, file);
  });
}

// The queue's scatter record on single-ended pool rings (no cache for the get, so that it goes to
// the ring; the put-back goes there anyway). Its chunk's get of 16 on a single-consumer ring,
// killed between the ring's consumer head and tail stores (ring-sc:cons:2: the head's get is the
// first such burst): the tail did not move, the dead one holds the head; the record's open claim
// names the ring side (scatterRingSide), the reclaim rolls the head back, and a getter then takes
// every mbuf once (without the roll-back the consumer head stayed 16 past the tail: a get of the
// whole pool failed, 16 leaked). Its put-back of the 16 on a single-producer ring when the pool
// runs dry (20 free, a cache: ring-sp:prod): the dead one holds the 17, returned once (without the
// roll-back the producer head stayed 16 past the tail: the next flush published the 16 stale
// slots, 16 duplicates).
test('net_pcap RX into an array with room for one, a pool whose ring takes single-consumer gets (no cache): killed between the ring\'s consumer head and tail stores of the scatter record\'s get, the dead one holds the head; rolled back, every mbuf is got once after', async () => {
  const file = pcapOf([65535]);
  await withPort('ownsgsc', `net_pcap0,rx_pcap=${file}`, 0, async (x) => {
    await killedAt(x, ['rxnull', 'count=1', 'cap=1'], 'ring-sc:cons:2');
    const rep = returnedOnce(x, 1);
    const all = new Uint32Array(SIZE);
    assert.equal(x.pool.allocBulk(all, SIZE), SIZE, 'every mbuf got (without the roll-back, 16 skipped by the consumer head)');
    assert.equal(new Set(all).size, SIZE, 'each once');
    x.pool.freeBulk(all, SIZE);
    allInPool(x);
    assert.equal(rep.singleFixed, 1, 'the scatter record\'s half-taken get rolled back');
  }, file, { singleGet: true });
});

test('net_pcap RX into an array with room for one when the pool runs dry, a pool whose ring takes single-producer puts: killed between the ring\'s head and tail stores of the scatter record\'s put-back, the dead one holds 17, rolled back and returned once', async () => {
  await killedInDryPutBack('owndry1sp', 20, 1, 17);
});

// A send through the record to a driver's queue with no ring behind it (net_null): the driver
// frees what it takes in one freeBulk, so the send's window is that free's (hands.ts FREEING).
// Killed as the burst is handed to the driver (ethdev:tx), inside its free (the lcore cache's
// flush, mempool:flush; the pool ring's claim of a pool without a cache, ring-claim:prod) or
// after it (hands:tx): the dead hold what was not yet freed, and each comes back once (a send
// window "counted as sent" leaked the 20 when killed before or inside the free). A burst of 20
// past a cache of 4's flush threshold (6) goes in chunks of 6, 6, 6, 2, each its own window:
// killed as the first is handed over (ethdev:tx: all 20; the old window, counted as sent,
// leaked them), in the second's put, which flushes the first from the cache (mempool:flush: 14).
for (const [cacheSize, hook, held] of [[32, 'ethdev:tx', 20], [32, 'mempool:flush', 20], [32, 'hands:tx', 0], [0, 'ring-claim:prod', 20], [0, 'hands:tx', 0], [4, 'ethdev:tx', 20], [4, 'mempool:flush', 14], [4, 'hands:tx', 0]] as const) {
  const pool = cacheSize === 4 ? 'a burst of 20 past the flush threshold of a cache of 4' : cacheSize ? 'a pool with a cache' : 'a pool without a cache';
  test(`Hands.tx to a driver without a ring (net_null, ${pool}): killed at ${hook}, the dead hold ${held}, returned once`, () =>
    withPort('owntxn', 'net_null0', cacheSize, async (x) => {
      await killedAt(x, ['txnull', `pool=${POOL}`, 'count=20'], hook, new RegExp(`${hook.replace(':prod', '')} reached`)); // ring.ts says 'ring-claim reached'
      returnedOnce(x, held);
    }));
}

// The same send of 16 packets of 3-segment chains: the driver's one freeBulk hands them to the
// record (Hands.freeTaken), which takes them apart and puts the 48 segments back recorded, as
// Hands.free does. Killed inside that put's claim on the ring of a pool without a cache
// (ring-claim:prod: the repair drops it, all 48 held; the old free, segment by segment outside
// the record, left the 16 heads counted and their 32 segments leaked), with the segments named
// and cut (hands:free-segments), after the put (freeing:run), or after the send (hands:tx).
for (const [cacheSize, hook, held] of [[0, 'ring-claim:prod', 48], [0, 'hands:free-segments', 48], [0, 'freeing:run', 0], [0, 'hands:tx', 0], [32, 'hands:free-segments', 48]] as const) {
  test(`Hands.tx of chains to a driver without a ring (net_null, 16 packets of 3 segments, ${cacheSize ? 'a pool with a cache' : 'a pool without a cache'}): killed at ${hook}, the dead hold ${held}, returned once`, () =>
    withPort('owntxch', 'net_null0', cacheSize, async (x) => {
      await killedAt(x, ['txnull', `pool=${POOL}`, 'count=16', 'segs=3'], hook, new RegExp(`${hook.replace(':prod', '')} reached`));
      returnedOnce(x, held);
    }));
}

// A send of 16 packets of 3-segment chains to a queue that takes only part of it (net_memif copy
// mode, a ring of 4 its peer never reads: 4 taken, 12 left) from a pool without a cache: the
// driver's freeBulk of the 4 it took hands them to the record (Hands.freeTaken), which puts their
// 12 segments back recorded while the untaken 12 packets stay held whole (the window's KEPT),
// then moves those to the array's other side. Killed inside the put's claim on the pool's ring
// (ring-claim:prod: the repair drops it, the dead one holds all 48), with the segments named and
// cut (hands:free-segments: 48), after the put (freeing:run: the 36 of the untaken 12), or after
// the send (hands:tx: 36), with another holder taking every free mbuf before the reclaim: nothing
// leaked or counted twice. The old free, segment by segment outside the record, left the taken
// heads counted without their cut segments (ring-claim:prod: 40 held, 8 leaked) and, once the put
// went, read its 12 segments as 12 of the 16 packets sent (hands:tx: 12 held, 24 leaked).
for (const [hook, held] of [['ring-claim:prod', 48], ['hands:free-segments', 48], ['freeing:run', 36], ['hands:tx', 36]] as const) {
  test(`Hands.tx of 16 chains to a driver that takes 4 of them and frees what it takes (net_memif copy mode, a full ring), a pool without a cache: killed at ${hook}, every free mbuf then taken by another holder: the dead one holds ${held}, none counted or returned twice`, async () => {
    await withZcClient('owntxpart', 'none', async (x, dev) => {
      await until(() => dev.linkStatus(0).up || undefined, 15000, 'the link up');
      const taker = Hands.open(x.eal, 'test-taker', 1, 2048);
      try {
        await killedAt(x, ['txnull', `pool=${POOL}`, 'count=16', 'segs=3', 'pre=0'], hook, new RegExp(`${hook.replace(':prod', '')} reached`));
        takeAllThenReclaim(x.eal, x.pool, taker, held, SIZE);
      } finally {
        taker.close();
      }
    }, { copy: true, cacheSize: 0, rsize: 2 });
  });
}

test('net_memif copy-mode RX of 1000-byte packets in 512-byte buffers (chains of two descriptors: a burst asks more mbufs than it fills): killed after the burst, before the record\'s commit, the dead one holds exactly what it received', async () => {
  const p = uniquePrefix('ownmif');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-own-'));
  const sock = path.join(dir, 'own.sock');
  const { eal } = Eal.init(['-l', '1', '--proc-type=primary', '--file-prefix', p, '-m', '64', '--log-level', 'error', `--vdev=net_memif0,role=server,socket=${sock},socket-abstract=no,bsize=512`], { handleSignals: false });
  const x: Inst = { p, eal, pool: PktmbufPool.create(eal, POOL, { count: SIZE, cacheSize: 32 }) };
  const peer = uniquePrefix('ownmifc');
  const dev = EthDev.attach(eal);
  try {
    startPort(dev, x.pool);
    const c = child(x.p, ['rxnull', 'count=32'], 'hands:rx');
    await c.waitFor(/ready/, 10000);
    const cli = spawnNode('dist/test/memif-child.js', [peer, `net_memif0,role=client,socket=${sock},socket-abstract=no,bsize=512`, 'tx', '10', '1000']);
    await c.waitFor(/hands:rx reached/, 15000);
    c.proc.kill('SIGKILL');
    await c.exited;
    cli.proc.kill('SIGKILL');
    await cli.exited;
    const dead = poolAudit(x.eal);
    assert.ok(dead.heldByDead > 0, JSON.stringify(dead));
    assert.deepEqual([dead.leaked, dead.duplicates], [0, 0], JSON.stringify(dead));
    const rep = reclaimDead(x.eal);
    assert.equal(rep.pools[POOL]?.returned ?? 0, dead.heldByDead);
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0]);
    assert.equal(x.pool.available(), SIZE, 'every mbuf back');
  } finally {
    dev.stop(0); // the server's control thread and socket
    dev.close();
    x.eal.close();
    removeInstance(peer);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(leftovers(x.p), []);
  assert.deepEqual(leftovers(peer), []);
});

// net_memif zero-copy RX: the mbufs the queue lent to its peer are in its lent record
// (src/ownership/lent.ts), handed over to the receiver's record with one store. The test
// process is the client (its control thread holds the connection), a secondary receives
// through a record and is killed at each named point of a burst, of the refill after it,
// or of the free after it; the peer is a memif server sending 40 packets. While the
// connection lasts reclaim returns all but the slots still lent (the peer may write into
// them); once the peer is gone, those too: every mbuf once.
/**
 * This process as a net_memif zero-copy client (rsize=8: a ring of 256) on pool POOL, its
 * peer a memif-child server in `mode` ('tx' 40 packets, or 'none'); `fn` runs with both up;
 * the peer, port, instance and files go whatever happens. `copy`: a copy-mode client instead;
 * `cacheSize`: the pool's (32); `rsize`, `count`: a larger ring, a larger pool (of 512-byte
 * data rooms).
 */
async function withZcClient(tag: string, mode: string, fn: (x: Inst, dev: EthDev, peerGone: () => Promise<void>) => Promise<void>, { copy = false, cacheSize = 32, rsize = 8, count = SIZE, singleGet = false, singlePut = false } = {}): Promise<void> {
  const p = uniquePrefix(tag);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-own-'));
  const sock = path.join(dir, 'zc.sock');
  const { eal } = Eal.init(['-l', '1', '--proc-type=primary', '--file-prefix', p, '-m', '64', '--log-level', 'error', `--vdev=net_memif0,role=client,socket=${sock},socket-abstract=no,zero-copy=${copy ? 'no' : 'yes'},rsize=${rsize}`], { handleSignals: false });
  const x: Inst = { p, eal, pool: PktmbufPool.create(eal, POOL, { count, cacheSize, singleGet, singlePut, ...(count > SIZE ? { dataRoomSize: 512 } : {}) }) };
  const peer = uniquePrefix(`${tag}s`);
  const dev = EthDev.attach(eal);
  let srv: Child | undefined;
  /** Kill the peer; resolves when this client has seen it gone (the connection is over). */
  const peerGone = async (): Promise<void> => {
    srv?.proc.kill('SIGKILL');
    await srv?.exited;
    await until(() => !dev.linkStatus(0).up || undefined, 10000, 'the client seeing its peer gone');
  };
  let passed = false;
  try {
    startPort(dev, x.pool);
    srv = spawnNode('dist/test/memif-child.js', [peer, `net_memif0,role=server,socket=${sock},socket-abstract=no`, mode, mode === 'tx' ? '40' : '0', '64']);
    await fn(x, dev, peerGone);
    passed = true;
  } finally {
    srv?.proc.kill('SIGKILL');
    await srv?.exited;
    dev.stop(0);
    dev.close();
    x.eal.close();
    if (!passed) removeInstance(p); // a failed test's receiver may still map it (reaped after the file)
    removeInstance(peer);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(leftovers(x.p), []);
  assert.deepEqual(leftovers(peer), []);
}

// held: what the dead one holds (the 256 slots of the ring, plus 32 received and 32 fresh
// while a refill is open); lent: what stays lent while the connection lasts. hands:rx stops
// at the first burst that brings any: 32 (then refilled) or fewer (then not).
for (const [hook, free, where, held, lent] of [
  ['memif-zc:lend', false, 'inside the first lending (the pool get done, no slot recorded)', [256], [0]],
  ['memif-zc:take', false, 'inside a burst (heads in the receiver\'s array, the handover not stored)', [256], [256]],
  ['memif-zc:refill', false, 'inside the refill after a burst (its get done, the slots not recorded)', [288], [224]],
  ['memif-zc:post', false, 'inside the refill after a burst (slots recorded, its get record still open)', [288], [256]],
  ['hands:rx', false, 'after the burst, before the receiver\'s commit', [256, 288], [224, 256]],
  ['hands:free', true, 'inside the receiver\'s free of what it received', [256], [256]],
] as const) {
  test(`net_memif zero-copy RX: a receiver killed ${where} (${hook}): the audit finds every mbuf once, reclaim returns each once`, async () => {
    await withZcClient('ownzc', 'tx', async (x, dev, peerGone) => {
      const c = child(x.p, ['rxfill', 'count=32', ...(free ? ['free=yes'] : [])], hook);
      await c.waitFor(new RegExp(`${hook} reached`), 20000);
      c.proc.kill('SIGKILL');
      await c.exited;
      const dead = poolAudit(x.eal);
      assert.deepEqual([dead.leaked, dead.duplicates, dead.inRings], [0, 0, 0], JSON.stringify(dead));
      assert.ok((held as readonly number[]).includes(dead.heldByDead), `the dead one holds ${held.join(' or ')}: ${JSON.stringify(dead)}`);
      const rep = reclaimDead(x.eal); // the connection lasts: what is still lent stays the dead one's
      const live = poolAudit(x.eal);
      assert.deepEqual([live.leaked, live.duplicates], [0, 0], JSON.stringify(live));
      assert.equal(rep.pools[POOL]?.returned ?? 0, dead.heldByDead - live.heldByDead);
      assert.ok((lent as readonly number[]).includes(live.heldByDead), `${lent.join(' or ')} stay lent: ${JSON.stringify(live)}`);
      assert.equal(reclaimDead(x.eal).processes.length, 0, 'a settled record of a live connection is no work for the next reclaim');
      await peerGone();
      const rep2 = reclaimDead(x.eal);
      assert.equal(rep2.pools[POOL]?.returned ?? 0, live.heldByDead, 'the lent slots, once the connection is over');
      const a = poolAudit(x.eal);
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
      assert.equal(x.pool.available(), SIZE, 'every mbuf back');
      assert.equal(reclaimDead(x.eal).processes.length, 0, 'nothing left');
    });
  });
}

/** The server's side of the client's RX ring (S2C 0; `c2s`: its TX ring, C2S 0), written by this process as a faulty server. */
class FaultyServer {
  private readonly ring: ReturnType<typeof mapFd>;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly ro: number;

  constructor(private readonly eal: Eal, dev: EthDev, c2s = false) {
    const r = eal.region;
    const mif = dev.port(0).drv(0);
    this.ring = mapFd(r.i32[(mif + MIF.REGIONS) >>> 2]!, r.f64[(mif + MIF.REGIONS + 8) >>> 3]!);
    this.ro = r.u32At(mifRingAt(mif, c2s, 0) + MIF_RING.OFFSET);
    this.u16 = new Uint16Array(this.ring.buffer);
    this.u32 = new Uint32Array(this.ring.buffer);
  }

  /** The client's HEAD: how many slots it posted. */
  head(): number {
    return Atomics.load(this.u16, (this.ro + RING.HEAD) >>> 1);
  }

  /**
   * Fill slots 0-39 as a server would (64 bytes, byte i of slot s = s + i, into the posted
   * buffer), then rewrite: slots 0-9 a length past the mbuf, 10-19 region 5 and offset
   * 0xffffff00, 20-39 untouched; publish them (TAIL = 40).
   */
  fill40(): void {
    const { u16, u32 } = this;
    const u8 = this.eal.region.u8;
    const desc = (sl: number, f: number): number => this.ro + RING.DESC + sl * 16 + f;
    for (let sl = 0; sl < 40; sl++) {
      const off = u32[desc(sl, DESC.OFFSET) >>> 2]!;
      for (let i = 0; i < 64; i++) u8[off + i] = (sl + i) & 0xff;
      u32[desc(sl, DESC.LENGTH) >>> 2] = 64;
      if (sl < 10) u32[desc(sl, DESC.LENGTH) >>> 2] = 0x100000;
      else if (sl < 20) {
        u16[desc(sl, DESC.REGION) >>> 1] = 5;
        u32[desc(sl, DESC.OFFSET) >>> 2] = 0xffffff00;
      }
    }
    this.tail(40);
  }

  tail(t: number): void {
    Atomics.store(this.u16, (this.ro + RING.TAIL) >>> 1, t);
  }

  /** Slots 0-39 filled as a server would (64 bytes each, into the client's own buffers: copy mode), published. */
  send40(): void {
    for (let sl = 0; sl < 40; sl++) this.u32[(this.ro + RING.DESC + sl * 16 + DESC.LENGTH) >>> 2] = 64;
    this.tail(40);
  }

  /** Slots from..to-1 rewritten after they were published (region 5: no such region). */
  spoil(from: number, to: number): void {
    for (let sl = from; sl < to; sl++) this.u16[(this.ro + RING.DESC + sl * 16 + DESC.REGION) >>> 1] = 5;
  }

  close(): void {
    unmap(this.ring);
  }
}

test('net_memif zero-copy RX from a peer that rewrites the descriptors it was lent (a length past the mbuf, a region and offset elsewhere): each bad packet refused and counted, its mbuf lent again; the others handed up from our own mbufs; nothing crashes, nothing leaks', async () => {
  await withZcClient('ownzcbad', 'none', async (x, dev, peerGone) => {
    const eal = x.eal;
    let srv: FaultyServer | undefined;
    try {
      const rxq = dev.rxQueue(0, 0);
      const hs = new Uint32Array(64);
      await until(() => dev.linkStatus(0).up || undefined, 15000, 'the link up');
      assert.equal(rxq.rxBurst(hs, 64), 0, 'the first burst lends the ring\'s 256 slots');
      // The memif server uses no queue ('none'): this process writes the server's side of the ring.
      srv = new FaultyServer(eal, dev);
      srv.fill40();
      const got = rxq.rxBurst(hs, 64);
      assert.equal(got, 30, 'the 30 good packets');
      assert.equal(dev.stats(0).ierrors, 10, 'one ierror per bad packet');
      const mb = new Mbufs(eal);
      const u8 = eal.region.u8;
      for (let i = 0; i < got; i++) {
        const h = hs[i]!;
        const sl = i + 10;
        assert.equal(mb.pktLen(h), 64);
        const d = mb.dataOffset(h);
        for (let k = 0; k < 64; k++) assert.equal(u8[d + k], (sl + k) & 0xff, `packet ${sl}: the bytes written into our own mbuf`);
      }
      x.pool.freeBulk(hs, got);
      const a = poolAudit(eal);
      // 216 slots still lent, the 10 bad mbufs lent again (30 free slots: fewer than the 32 a fresh refill waits for)
      assert.deepEqual([a.leaked, a.duplicates, a.heldByLive], [0, 0, 226], JSON.stringify(a));
      assert.equal(x.pool.available(), SIZE - 226);
      srv.tail(0xffff); // a tail past what was posted: refused, nothing taken
      assert.equal(rxq.rxBurst(hs, 64), 0);
      assert.equal(dev.stats(0).ierrors, 11);
      await peerGone();
      assert.equal(rxq.rxBurst(hs, 64), 0, 'down: the queue gives its lent mbufs back');
      const end = poolAudit(eal);
      assert.deepEqual([end.leaked, end.duplicates, end.heldByLive], [0, 0, 0], JSON.stringify(end));
      assert.equal(x.pool.available(), SIZE, 'every mbuf back');
    } finally {
      srv?.close();
    }
  });
});

// net_memif copy mode, a pool without a cache (one getBulk of what countPackets found): the
// peer rewrites 20 of the 40 descriptors it published after the receiver counted them (the
// receiver stops itself there: memif:rewrite), so the copy fills 20 and the other mbufs of
// the get go back. Killed after that put, before the record's commit: the dead one holds the
// 20 it filled (the get's record was told, GET_PUTBACK), not the 40 it got (those 20 were in
// the pool and the record at once before: duplicates).
test('net_memif copy-mode RX from a peer that rewrites descriptors during the burst: the unfilled mbufs go back recorded; killed after, the dead one holds the 20 it filled, none twice', async () => {
  await withZcClient('ownmifrw', 'none', async (x, dev) => {
    await until(() => dev.linkStatus(0).up || undefined, 15000, 'the link up');
    const srv = new FaultyServer(x.eal, dev);
    try {
      const c = child(x.p, ['rxfill', 'count=40'], 'memif:rewrite');
      await until(() => srv.head() === 256 || undefined, 10000, 'the receiver posting the ring');
      srv.send40();
      await c.waitFor(/memif:rewrite paused/, 10000);
      await until(() => fs.readFileSync(`/proc/${c.proc.pid}/stat`, 'utf8').split(') ')[1]!.startsWith('T') || undefined, 5000, 'the receiver stopped');
      srv.spoil(20, 40);
      c.proc.kill('SIGCONT');
      await c.waitFor(/memif:rewrite reached/, 10000);
      c.proc.kill('SIGKILL');
      await c.exited;
      returnedOnce(x, 20);
    } finally {
      srv.close();
    }
  }, { copy: true, cacheSize: 0 });
});

// net_memif zero-copy RX: the queue leaves a connection that is over (the peer gone), and its
// lender gives back what it lent (lent.ts close): killed after that put, before its record is
// freed, the record holds none of them (it named them all, staged, while they were in the
// pool before: counted twice).
test('net_memif zero-copy RX: a lender killed in the free of what it lent, once its connection is over, holds none of it; the receiver\'s 40 come back once', async () => {
  await withZcClient('ownzcclose', 'tx', async (x, _dev, peerGone) => {
    const c = child(x.p, ['rxfill', 'count=40', 'poll=yes'], 'lent:close');
    await c.waitFor(/received 40/, 15000);
    await peerGone();
    await c.waitFor(/lent:close reached/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    returnedOnce(x, 40);
  });
});

// The same lender, its pool's ring taking single-producer puts (no cache): its put-back at close
// (GET_PUTBACK of the 256 it lent, or 248) killed between the ring's head and tail stores
// (ring-sp:prod). The lent record names that ring side (lentRingSide): the reclaim rolls the head
// back, returns them and the 40 received once. Without the roll-back the head stayed past the
// tail: the reclaim's own put published the stale slots with its own, 256 (or 248) duplicates.
test('net_memif zero-copy RX, a pool whose ring takes single-producer puts: a lender killed between that ring\'s head and tail stores in its put-back at close holds what it lent and the 40 received; rolled back, returned once', async () => {
  await withZcClient('ownzcclsp', 'tx', async (x, _dev, peerGone) => {
    const c = child(x.p, ['rxfill', 'count=40', 'poll=yes'], 'ring-sp:prod');
    await c.waitFor(/received 40/, 15000);
    await peerGone();
    await c.waitFor(/ring-sp:prod reached/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    const dead = poolAudit(x.eal);
    assert.deepEqual([dead.leaked, dead.duplicates], [0, 0], JSON.stringify(dead));
    assert.ok([256 + 40, 248 + 40].includes(dead.heldByDead), `the dead one holds 296 (or 8 fewer, the ring 8 short): ${JSON.stringify(dead)}`);
    const rep = reclaimDead(x.eal);
    assert.equal(rep.pools[POOL]?.returned ?? 0, dead.heldByDead);
    allInPool(x);
    assert.equal(rep.singleFixed, 1, 'the half-published put-back rolled back');
  }, { cacheSize: 0, singlePut: true });
});

// The same on a ring of 16384 slots (rsize=14), more than one GET record counts (8191): the
// lender gives them back in chunks, each held by the record before it leaves the slots.
// Killed with the first chunk held (lent:held: 8191 held, 8193 still in the slots) or after
// its put (lent:close: 8193 left): the dead one holds exactly what is not in the pool (the
// old close dropped all 16384 from the slots, then put them back unrecorded: leaked there).
// The 40 received came in one burst or in 32 + 8 (the peer's pace): a refill waits for 32 free
// slots, so after 32 + 8 the ring stays 8 short (16376 lent) when the connection ends.
for (const [hook, lent] of [['lent:held', 16384], ['lent:close', 8193]] as const) {
  test(`net_memif zero-copy RX on a ring of 16384: a lender killed in the free of what it lent (${hook}), its connection over, holds ${lent} + the receiver's 40; every mbuf back once`, async () => {
    const count = 16384 + 1023;
    await withZcClient('ownzcbig', 'tx', async (x, _dev, peerGone) => {
      const c = child(x.p, ['rxfill', 'count=40', 'poll=yes'], hook);
      await c.waitFor(/received 40/, 20000);
      await peerGone();
      await c.waitFor(new RegExp(`${hook} reached`), 10000);
      c.proc.kill('SIGKILL');
      await c.exited;
      const dead = poolAudit(x.eal);
      assert.deepEqual([dead.leaked, dead.duplicates], [0, 0], JSON.stringify(dead));
      assert.ok([lent + 40, lent - 8 + 40].includes(dead.heldByDead), `the dead one holds ${lent + 40} (or 8 fewer, the ring 8 short): ${JSON.stringify(dead)}`);
      assert.equal(reclaimDead(x.eal).pools[POOL]?.returned ?? 0, dead.heldByDead);
      const a = poolAudit(x.eal);
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
      assert.equal(x.pool.available(), count, 'every mbuf back, once');
    }, { rsize: 14, count });
  });
}

// The same faulty server, a receiver through a record killed with the 10 bad packets' mbufs
// staged: inside the burst (handover not stored: all 256 still lent), in the refill that lends
// them again before its slots are recorded (30 received, 216 lent, the 10 staged only), and
// after (226 lent, the 10 in both the slots and the staging).
for (const [hook, held, lent] of [['memif-zc:take', 256, 256], ['memif-zc:refill', 256, 216], ['memif-zc:post', 256, 226]] as const) {
  test(`net_memif zero-copy RX from a faulty peer: a receiver killed with bad packets' mbufs staged (${hook}) holds ${held}, ${lent} of them lent; every mbuf back once`, async () => {
    await withZcClient('ownzcbadk', 'none', async (x, dev, peerGone) => {
      await until(() => dev.linkStatus(0).up || undefined, 15000, 'the link up');
      const srv = new FaultyServer(x.eal, dev);
      try {
        const c = child(x.p, ['rxfill', 'count=30'], hook);
        await until(() => srv.head() === 256 || undefined, 10000, 'the receiver lending the ring');
        srv.fill40();
        await c.waitFor(new RegExp(`${hook} reached`), 10000);
        c.proc.kill('SIGKILL');
        await c.exited;
        const dead = poolAudit(x.eal);
        assert.deepEqual([dead.leaked, dead.duplicates, dead.heldByDead], [0, 0, held], JSON.stringify(dead));
        const rep = reclaimDead(x.eal);
        assert.equal(rep.pools[POOL]?.returned ?? 0, held - lent, 'what the receiver held, not what is lent');
        assert.equal(poolAudit(x.eal).heldByDead, lent);
        await peerGone();
        assert.equal(reclaimDead(x.eal).pools[POOL]?.returned ?? 0, lent);
        const a = poolAudit(x.eal);
        assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
        assert.equal(x.pool.available(), SIZE, 'every mbuf back');
      } finally {
        srv.close();
      }
    });
  });
}

// net_memif zero-copy RX from a pool whose ring takes single-consumer gets (no cache): the first
// lending's get of 256 goes to the ring, recorded in the lent record (GET: a claim), killed between
// the ring's consumer head and tail stores (ring-sc:cons). The lent record names the pool and its
// open claim (lent.ts lentRingSide): the reclaim rolls the head back; the dead one holds none, and
// a getter then takes every mbuf once. The old reclaim left the head 256 past the tail: the getter
// skipped them, a get of the whole pool failed.
test('net_memif zero-copy RX from a pool whose ring takes single-consumer gets (no cache): a lender killed between the ring\'s consumer head and tail stores of its first lending\'s get holds none; rolled back, every mbuf is got once after', async () => {
  await withZcClient('ownzcsc', 'tx', async (x) => {
    await killedAt(x, ['rxfill', 'count=32'], 'ring-sc:cons');
    const dead = poolAudit(x.eal);
    assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [0, 0, 0], JSON.stringify(dead));
    const rep = reclaimDead(x.eal);
    assert.equal(rep.singleFixed, 1, 'the half-taken claim rolled back');
    const all = new Uint32Array(SIZE);
    assert.equal(x.pool.allocBulk(all, SIZE), SIZE, 'every mbuf got (the old reclaim left 256 skipped by the consumer head)');
    assert.equal(new Set(all).size, SIZE, 'each once');
    x.pool.freeBulk(all, SIZE);
    allInPool(x);
  }, { cacheSize: 0, singleGet: true });
});

// net_memif zero-copy TX: the packets the queue lends to its peer (until the server has read
// them) are in its lent record (a sender's: chain heads), lent by one store that the sending
// record's window reads (lent.ts sent); what the server read is freed recorded (lent.ts
// freeing / freed). The peer keeps the connection and reads nothing; this process plays its
// reader (moves the C2S ring's TAIL to HEAD) where `read`. A sender through a record is
// killed inside the send (slots written, not lent: the record's array holds them), after
// it (lent), inside the free of what was read (FRESH: held, not lent), after that free (in
// its lcore's cache). held: what the dead one holds; lent: what stays lent while the
// connection lasts (returned once it is over).
for (const [hook, segs, read, held, lent] of [
  ['memif-zc:send', 1, false, 32, 0],
  ['hands:tx', 1, false, 32, 32],
  ['memif-zc:recycle', 1, true, 32, 0],
  ['freeing:run', 1, true, 0, 0],
  ['memif-zc:freed', 1, true, 0, 0],
  ['hands:tx', 3, false, 48, 48],
  ['memif-zc:recycle', 3, true, 48, 0],
] as const) {
  const n = segs === 1 ? 32 : 16;
  test(`net_memif zero-copy TX: a sender of ${n} packets${segs > 1 ? ` of ${segs}-segment chains` : ''} killed at ${hook}${read ? ' (the peer read them)' : ''} holds ${held}, ${lent} of them lent; every mbuf back once`, async () => {
    await withZcClient('ownzctx', 'none', async (x, dev, peerGone) => {
      await until(() => dev.linkStatus(0).up || undefined, 15000, 'the link up');
      const srv = new FaultyServer(x.eal, dev, true);
      try {
        const c = child(x.p, ['txzc', `pool=${POOL}`, `count=${n}`, `segs=${segs}`], hook);
        if (read) {
          await c.waitFor(new RegExp(`sent ${n}`), 15000);
          srv.tail(srv.head());
        }
        await c.waitFor(new RegExp(`${hook} reached`), 15000);
        c.proc.kill('SIGKILL');
        await c.exited;
        const dead = poolAudit(x.eal);
        assert.deepEqual([dead.leaked, dead.duplicates, dead.heldByDead], [0, 0, held], JSON.stringify(dead));
        const rep = reclaimDead(x.eal); // the connection lasts: what is still lent stays the dead one's
        assert.equal(rep.pools[POOL]?.returned ?? 0, held - lent, 'what the sender held, not what is lent');
        const live = poolAudit(x.eal);
        assert.deepEqual([live.leaked, live.duplicates, live.heldByDead], [0, 0, lent], JSON.stringify(live));
        assert.equal(reclaimDead(x.eal).processes.length, 0, 'a settled record of a live connection is no work for the next reclaim');
        await peerGone();
        assert.equal(reclaimDead(x.eal).pools[POOL]?.returned ?? 0, lent, 'the lent packets, once the connection is over');
        const a = poolAudit(x.eal);
        assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
        assert.equal(x.pool.available(), SIZE, 'every mbuf back');
      } finally {
        srv.close();
      }
    });
  });
}

// The same into a pool without a cache: the free of what the peer read goes straight to the
// pool's ring, recorded (lent.ts putFreed: its producer snapshot first). Killed after that put
// (freeing:run: the run not closed; memif-zc:freed: closed), with another holder taking every
// free mbuf before the reclaim (this process, through a record): the dead one holds none and
// reclaim returns none (the old free named the heads it had put until it closed: reclaim put
// them back under their new holder, duplicates). Killed before the put: it holds every segment.
for (const [hook, segs, held] of [['freeing:run', 1, 0], ['memif-zc:freed', 1, 0], ['freeing:run', 3, 0], ['memif-zc:freed', 3, 0], ['memif-zc:recycle', 3, 48]] as const) {
  const n = segs === 1 ? 32 : 16;
  test(`net_memif zero-copy TX into a pool without a cache: a sender of ${n} packets${segs > 1 ? ` of ${segs}-segment chains` : ''} killed at ${hook} in the free of what the peer read, every free mbuf then taken by another holder: the dead one holds ${held}, none counted or returned twice`, async () => {
    await withZcClient('ownzcring', 'none', async (x, dev) => {
      await until(() => dev.linkStatus(0).up || undefined, 15000, 'the link up');
      const srv = new FaultyServer(x.eal, dev, true);
      const taker = Hands.open(x.eal, 'test-taker', 1, 2048);
      try {
        const c = child(x.p, ['txzc', `pool=${POOL}`, `count=${n}`, `segs=${segs}`], hook);
        await c.waitFor(new RegExp(`sent ${n}`), 15000);
        srv.tail(srv.head());
        await c.waitFor(new RegExp(`${hook} reached`), 15000);
        c.proc.kill('SIGKILL');
        await c.exited;
        takeAllThenReclaim(x.eal, x.pool, taker, held, SIZE);
      } finally {
        taker.close();
        srv.close();
      }
    }, { cacheSize: 0 });
  });
}

// The same sender, its packets from a pool whose ring takes single-producer puts (no cache): the
// free of what the peer read is one run straight to that ring, killed between the ring's head
// and tail stores (ring-sp:prod: the run not published). The lent record's open run names its
// pool (POOL: lent.ts lentRingSide), so the reclaim rolls the head back and returns the 32 once.
// The old reclaim left the head 32 past the tail: its own put of the 32 started there and
// published the stale 32 slots with them, 32 duplicates.
test('net_memif zero-copy TX from a pool whose ring takes single-producer puts (no cache): a sender killed between that ring\'s head and tail stores in the free of what the peer read holds the 32, rolled back and returned once', async () => {
  await withZcClient('ownzcsp', 'none', async (x, dev) => {
    await until(() => dev.linkStatus(0).up || undefined, 15000, 'the link up');
    const sp = PktmbufPool.create(x.eal, 'own_sp', { count: 255, cacheSize: 0, singlePut: true });
    const srv = new FaultyServer(x.eal, dev, true);
    try {
      const c = child(x.p, ['txzc', 'pool=own_sp', 'count=32'], 'ring-sp:prod');
      await c.waitFor(/sent 32/, 15000);
      srv.tail(srv.head());
      await c.waitFor(/ring-sp:prod reached/, 15000);
      c.proc.kill('SIGKILL');
      await c.exited;
      const audit = (): PoolAudit => auditInstance(x.eal).pools.find((a) => a.name === 'own_sp')!;
      const dead = audit();
      assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [32, 0, 0], JSON.stringify(dead));
      const rep = reclaimDead(x.eal);
      assert.equal(rep.singleFixed, 1, 'the half-published run rolled back');
      assert.equal(rep.pools.own_sp?.returned, 32);
      const a = audit();
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
      assert.equal(sp.available(), 255, 'every mbuf back, once');
    } finally {
      srv.close();
    }
  });
});

// Hands.free of chains (16 packets of 3 segments) into a pool without a cache: the segments go
// to the pool's ring in one recorded run (freeing.ts). Killed with them named and cut, not yet
// put (hands:free-segments: it holds all 48), after the put (freeing:run, the run not closed;
// hands:free, the free done: none), with another holder taking every free mbuf before the
// reclaim: nothing leaked or counted twice (the old free named the 16 heads it had put until its
// commit: reclaim put them back under their new holder, 16 duplicates).
for (const [hook, held] of [['hands:free-segments', 48], ['freeing:run', 0], ['hands:free', 0]] as const) {
  test(`Hands.free of chained mbufs into a pool without a cache: killed at ${hook}, every free mbuf then taken by another holder: the dead one holds ${held}, none counted or returned twice`, () =>
    killedFreeingTaken('ownfreech', ['count=16', 'segs=3'], hook, held));
}

// Hands.free of one packet of 20 segments from an array of 8 (more segments than the array
// holds): cut down from its end in chunks of 8 and 4, each named on the array's other side and
// put back recorded, then the last 8 as any chain. Killed inside the first run's claim on the
// pool's ring (ring-claim:prod: the repair drops it, the dead one holds all 20; the old free, one
// segment at a time outside the record, leaked the 19 not yet put), with the first chunk named
// and cut (hands:free-segments: 20), after its put (freeing:run: 12), or after the free (none).
for (const [hook, held] of [['ring-claim:prod', 20], ['hands:free-segments', 20], ['freeing:run', 12], ['hands:free', 0]] as const) {
  test(`Hands.free of a packet of 20 segments from an array of 8, into a pool without a cache: killed at ${hook}, every free mbuf then taken by another holder: the dead one holds ${held}, none counted or returned twice`, () =>
    killedFreeingTaken('ownfreelong', ['count=1', 'segs=20', 'cap=8'], hook, held));
}

// Hands.free of chains (16 packets of 3 segments) into a pool whose ring takes single-producer
// puts and has no cache: the segments' run goes straight to its ring. Killed between the ring's
// head and tail stores (ring-sp:prod: the run is not published): the record names the ring
// (namePutRings, before the window), so the reclaim rolls the head back (reclaim.ts step 1) and
// the dead one holds all 48, returned once. The old free (freeing.ts's putter naming no ring) left
// the head 48 past the tail: the reclaim's own put of the 48 started there and published the
// stale 48 slots with them, 48 duplicates.
test('Hands.free of chained mbufs into a pool whose ring takes single-producer puts (no cache): killed between the ring\'s head and tail stores, every free mbuf then taken by another holder: the dead one holds 48, none counted or returned twice', () =>
  killedThenTaken('ownfreesp', { name: 'own_sp', cacheSize: 0, singlePut: true }, ['freechains', 'pool=own_sp', 'count=16', 'segs=3'], 'ring-sp:prod', /ring-sp:prod reached/, 48));

/**
 * A child killed at ring-sp:prod, between the head and tail stores of its lcore cache's flush
 * into pool own_sp (255 mbufs, a cache of 32, single-producer puts) while `held` mbufs are in
 * its record: the audit sees them held by the dead and the cache's 32; the reclaim rolls the
 * flush back once (through the record's ring table, or else the cache's recovery: both counted in
 * singleFixed), returns the held and flushes the 32 once.
 */
async function killedInSpFlush(name: string, args: string[], held: number): Promise<void> {
  const x = instance(name);
  try {
    const sp = PktmbufPool.create(x.eal, 'own_sp', { count: 255, cacheSize: 32, singlePut: true });
    await killedAt(x, args, 'ring-sp:prod');
    const audit = (): PoolAudit => auditInstance(x.eal).pools.find((a) => a.name === 'own_sp')!;
    const dead = audit();
    assert.deepEqual([dead.heldByDead, dead.inCaches, dead.leaked, dead.duplicates], [held, 32, 0, 0], JSON.stringify(dead));
    const rep = reclaimDead(x.eal);
    assert.equal(rep.singleFixed, 1, 'the half-published flush rolled back, once');
    assert.deepEqual([rep.pools.own_sp?.returned, rep.pools.own_sp?.flushed], [held, 32]);
    const a = audit();
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], JSON.stringify(a));
    assert.equal(sp.available(), 255, 'every mbuf back, once');
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
}

// The same into a pool with a cache of 32 that holds 32 (its refill for the 18 segments of 6
// chains): their put into the cache flushes the 32 to the ring first, killed between the ring's
// head and tail stores. The record holds the 18 (named, not yet put), the dead lcore's cache the
// 32 (a flush in flight); the reclaim rolls the ring back (the record names it), puts the flush
// back into the cache and flushes it: every mbuf back once. The old putter named no ring: the
// reclaimer's flush published the stale 32 slots with its own, 32 duplicates.
test('Hands.free of chained mbufs into a cached pool whose ring takes single-producer puts: killed between the ring\'s head and tail stores of the cache flush the put makes, the dead one holds the 18 segments, its cache the 32; every mbuf back once', () =>
  killedInSpFlush('ownflushsp', ['freechains', 'pool=own_sp', 'count=6', 'segs=3'], 18));

test('a free of chains with segments of a pool whose ring takes single-producer puts, from a record whose ring table is full, is refused with ENOSPC before anything moves: the array still holds its chain', () => {
  const x = instance('ownchsp');
  try {
    const sp = PktmbufPool.create(x.eal, 'sp_pool', { count: 255, cacheSize: 0, singlePut: true });
    const hands = Hands.open(x.eal, 'test-sp', 1, 64);
    for (let i = 0; i < 30; i++) hands.sink(Ring.create(x.eal, `own_fill${i}`, { count: 64 }));
    const mbufs = new Mbufs(x.eal);
    assert.equal(hands.alloc(0, x.pool, 1), 1);
    const seg = new Uint32Array(1);
    assert.equal(sp.allocBulk(seg, 1), 1);
    mbufs.chain(hands.array(0)[0]!, seg[0]!); // a head of own_pool (multi-producer), a segment of sp_pool
    assert.throws(() => hands.free(0), spTableFull);
    assert.equal(hands.count(0), 1, 'nothing moved');
    assert.equal(mbufs.nbSegs(hands.array(0)[0]!), 2, 'the chain whole');
    assert.deepEqual([sp.available(), x.pool.available()], [254, SIZE - 1]);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

// Hands.alloc, or a driver's recorded get (net_null through Hands.rxSource), from a pool whose
// ring takes single-consumer gets (MEMPOOL_F_SC_GET), killed between the ring's consumer head and
// tail stores (ring-sc:cons): without a cache the get goes to the ring, recorded (its window
// names the pool, the get record a claim on it: listRecords lists that ring side); with one, the
// refill of the lcore's cache does (recorded in the cache line: Mempool.recoverCache). Neither
// burst was taken (the tail did not move): the dead one holds none, the reclaim rolls the head
// back, then a getter takes every mbuf of the pool once. The old reclaim left the head past the
// tail: the getter skipped those slots (32, or the 40 of the refill), a get of the whole pool
// failed: they leaked.
for (const getter of ['alloc', 'rxnull'] as const) {
  for (const [cacheSize, count, skipped] of [[0, 32, 32], [32, 8, 40]] as const) {
    const who = getter === 'alloc' ? 'Hands.alloc' : 'a driver\'s recorded get (net_null)';
    test(`${who} of ${count} from a pool whose ring takes single-consumer gets (${cacheSize ? 'the lcore cache\'s refill' : 'no cache: from the ring'}): killed between the ring's consumer head and tail stores, the dead one holds none; the reclaim rolls the ${skipped} back, every mbuf is got once after`, () =>
      withPort('ownsc', 'net_null0', cacheSize, async (x) => {
        await killedAt(x, getter === 'alloc' ? ['alloc', `pool=${POOL}`, `count=${count}`] : ['rxnull', `count=${count}`], 'ring-sc:cons');
        const dead = poolAudit(x.eal);
        assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [0, 0, 0], JSON.stringify(dead));
        assert.equal(x.pool.mp.ring.count(), SIZE, 'the ring\'s tails count every mbuf');
        const rep = reclaimDead(x.eal);
        assert.equal(rep.pools[POOL]?.returned ?? 0, 0, 'the dead one held none');
        const all = new Uint32Array(SIZE);
        assert.equal(x.pool.allocBulk(all, SIZE), SIZE, `every mbuf got (the old reclaim left ${skipped} skipped by the consumer head)`);
        assert.equal(new Set(all).size, SIZE, 'each once');
        assert.equal(poolAudit(x.eal).inPool, 0, 'none left in the pool\'s ring');
        x.pool.freeBulk(all, SIZE);
        allInPool(x);
        assert.equal(rep.singleFixed, 1, `the half-taken ${cacheSize ? 'refill rolled back with the cache (Mempool.recoverCache)' : 'get rolled back'}, counted (the cache's was not)`);
      }, '', { singleGet: true }));
  }
}

// A put outside any record into a cached pool whose ring takes single-producer puts: the cache
// (32) flushes to the ring first, killed between the ring's head and tail stores (ring-sp:prod).
// The record names no ring (its 20 were put outside it: it still names them, the put into the
// cache not made); the cache line records the flush (OP_FLUSH), so the reclaim rolls the ring's
// head back with the cache (Mempool.recoverCache, counted in the report's singleFixed: the old
// report said 0), puts the 32 back into it and flushes them: every mbuf once. The old recovery
// left the head 32 past the tail: its flush published the stale 32 slots with its own, 32 duplicates.
test('a put outside a record into a cached pool whose ring takes single-producer puts: killed between the ring\'s head and tail stores of the cache flush, the cache\'s 32 rolled back and flushed once, the record\'s 20 returned once', () =>
  killedInSpFlush('ownflushout', ['flush', 'pool=own_sp', 'outside=yes'], 20));

/**
 * A child freeing chains through its record (freechains `args`) into a pool without a cache,
 * killed at `hook`; every free mbuf then taken by another holder: as killedThenTaken.
 */
function killedFreeingTaken(tag: string, args: string[], hook: string, held: number): Promise<void> {
  return killedThenTaken(tag, { name: 'own_nc' }, ['freechains', 'pool=own_nc', ...args], hook, new RegExp(`${hook.replace(':prod', '')} reached`), held); // ring.ts says 'ring-claim reached'
}

/**
 * A child running `childArgs` on a pool of 255 mbufs (`pool`: its name, and cacheSize when not
 * the default; singlePut: a single-producer ring) killed at `hook` (its stderr matching `reached`); then takeAllThenReclaim.
 */
async function killedThenTaken(tag: string, pool: { name: string; cacheSize?: number; singlePut?: boolean }, childArgs: string[], hook: string, reached: RegExp, held: number): Promise<void> {
  const x = instance(tag);
  const mp = PktmbufPool.create(x.eal, pool.name, { count: 255, ...(pool.cacheSize === undefined ? {} : { cacheSize: pool.cacheSize }), singlePut: pool.singlePut === true });
  const taker = Hands.open(x.eal, 'test-taker', 1, 512);
  try {
    await killedAt(x, childArgs, hook, reached);
    takeAllThenReclaim(x.eal, mp, taker, held, 255);
  } finally {
    taker.close();
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
}

test('chained mbufs: a dead holder\'s chain (head in its record) and a chain on a ring are counted whole, and reclaim returns every segment once', async () => {
  const x = instance('ownchain');
  try {
    const ring = Ring.create(x.eal, 'chain_ring', { count: 16 });
    const c = child(x.p, ['chain', `pool=${POOL}`, 'ring=chain_ring']);
    await c.waitFor(/ready/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    const dead = poolAudit(x.eal);
    assert.deepEqual([dead.heldByDead, dead.inRings, dead.leaked, dead.duplicates], [3, 3, 0, 0], JSON.stringify(dead));
    const rep = reclaimDead(x.eal);
    assert.equal(rep.pools[POOL]?.returned ?? 0, 3, 'the head and its two segments');
    const buf = new Uint32Array(4);
    assert.equal(ring.dequeueBurst(buf, 4), 1);
    x.pool.freeBulk(buf, 1); // the chain on the ring, freed whole
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0]);
    assert.equal(x.pool.available(), SIZE);
    ring.free();
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

/**
 * A child (`share`, lcore 2) holding 8 mbufs shared with us (refcnt 2: one reference in its record, as
 * lone mbufs or as the second segment of its 2-segment chains, one in ring `share_ring`), we (B)
 * take ours from the ring into a record, the child is killed (at `hook` when given, in the free of
 * its array with free=yes); then the audit counts references, the reclaim drops the dead one's
 * (returns what only it held), and after our free every mbuf is back once.
 */
async function sharedThenKilled(tag: string, chain: boolean, hook = '', deadHeld = chain ? 16 : 8, deadOnly = chain ? 8 : 0, via = ''): Promise<void> {
  const x = instance(tag);
  const n = 8;
  try {
    const ring = Ring.create(x.eal, 'share_ring', { count: 16 });
    using b = Hands.open(x.eal, 'test-b', 1, 64);
    const c = child(x.p, ['share', `pool=${POOL}`, 'ring=share_ring', `count=${n}`, ...(chain ? ['chain=yes'] : []), ...(hook ? ['free=yes'] : []), ...(via ? [`via=${via}`] : [])], hook);
    if (hook) {
      await c.waitFor(new RegExp(`${hook} reached`), 10000); // inside its free, or its change of a count
      assert.equal(b.rx(0, b.source(ring), n), n);
    } else {
      await c.waitFor(/ready/, 10000);
      const live = poolAudit(x.eal);
      assert.deepEqual([live.heldByLive, live.inRings, live.leaked, live.duplicates], [chain ? 2 * n : n, n, 0, 0], `references, not buffers: ${JSON.stringify(live)}`);
      assert.equal(b.rx(0, b.source(ring), n), n);
      const both = poolAudit(x.eal);
      assert.deepEqual([both.heldByLive, both.leaked, both.duplicates], [deadHeld + n, 0, 0], JSON.stringify(both));
    }
    c.proc.kill('SIGKILL');
    await c.exited;
    const dead = poolAudit(x.eal);
    assert.deepEqual([dead.heldByDead, dead.heldByLive, dead.leaked, dead.duplicates], [deadHeld, n, 0, 0], JSON.stringify(dead));
    const rep = reclaimDead(x.eal);
    assert.deepEqual([rep.pools[POOL]?.returned ?? 0, rep.pools[POOL]?.dropped ?? 0], [deadOnly, deadHeld - deadOnly], `the dead one's references dropped, what only it held returned: ${JSON.stringify(rep.pools)}`);
    const a = poolAudit(x.eal);
    assert.deepEqual([a.heldByDead, a.heldByLive, a.leaked, a.duplicates], [0, n, 0, 0], JSON.stringify(a));
    const mbufs = new Mbufs(x.eal);
    for (let i = 0; i < n; i++) assert.equal(mbufs.refcnt(b.array(0)[i]!), 1, 'ours is the last reference');
    assert.equal(x.pool.available(), SIZE - n, 'ours still out of the pool');
    b.free(0);
    const end = poolAudit(x.eal);
    assert.deepEqual([end.leaked, end.duplicates, end.heldByLive], [0, 0, 0], JSON.stringify(end));
    assert.equal(x.pool.available(), SIZE, 'every mbuf back, once');
    ring.free();
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
}

for (const via of ['', 'record']) {
  for (const chain of [false, true]) {
    test(`an mbuf shared between processes (refcnt 2${chain ? ', the second segment of the holder\'s chain' : ''}, the reference added by ${via ? 'Hands.share' : 'refcntUpdate'}, taken through a ring): the audit counts references; the holder killed, reclaim drops its reference and returns ${chain ? 'only the heads' : 'none'}; every mbuf back once after the other's free`, () =>
      sharedThenKilled(chain ? 'ownshc' : 'ownsh', chain, '', chain ? 16 : 8, chain ? 8 : 0, via));
  }
}

test('Hands.share: a reference into a counted array (the audit counts it, a free drops it); refused, changing nothing, for a chain or an array holding handles it does not count', () => {
  const x = instance('ownsa');
  try {
    const mbufs = new Mbufs(x.eal);
    using h = Hands.open(x.eal, 'test-share-api', 2, 4);
    assert.equal(h.alloc(0, x.pool, 3), 3);
    const [m0, m1, m2] = h.array(0);
    assert.throws(() => h.share(0, m0!), (e: Error & { code?: string }) => e.code === 'EINVAL' && /does not count references/.test(e.message));
    mbufs.chain(m1!, m2!);
    assert.throws(() => h.share(1, m1!), (e: Error & { code?: string }) => e.code === 'EINVAL' && /chain/.test(e.message));
    mbufs.setNext(m1!, 0); // m2 is the array's own entry too: lone again
    mbufs.setNbSegs(m1!, 1);
    assert.deepEqual([h.count(0), h.count(1), mbufs.refcnt(m0!), mbufs.refcnt(m1!)], [3, 0, 1, 1], 'nothing changed');
    assert.equal(h.share(1, m0!), 2);
    assert.equal(h.share(1, m0!), 3);
    assert.deepEqual([h.count(1), mbufs.refcnt(m0!)], [2, 3]);
    const a = poolAudit(x.eal);
    assert.deepEqual([a.heldByLive, a.leaked, a.duplicates], [5, 0, 0], `m0 three times (refcnt 3), m1, m2: ${JSON.stringify(a)}`);
    h.free(1);
    assert.deepEqual([h.count(1), mbufs.refcnt(m0!), x.pool.available()], [0, 1, SIZE - 3], 'the two added references dropped, m0 still held');
    h.free(0);
    assert.equal(x.pool.available(), SIZE);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

// Hands.share: the increment and the array's commit are one journaled change: killed before it
// is made, after (the commit not yet stored: the next holder of the lock stores it), or after the
// commit, the dead one holds every reference it made: all come back, none leaked.
for (const chain of [false, true]) {
  for (const [hook, held] of [['refcnt:up:entry', 0], ['refcnt:up:changed', 1], ['refcnt:up:word', 1]] as const) {
    test(`Hands.share of ${chain ? 'the second segments of chains' : 'lone mbufs'} in a record: killed at ${hook}, the dead one holds ${chain ? 16 + held : 8 + held} references, all its own: every mbuf back once, none leaked`, async () => {
      const x = instance('ownsr');
      try {
        const ring = Ring.create(x.eal, 'share_ring', { count: 16 });
        await killedAt(x, ['share', `pool=${POOL}`, 'ring=share_ring', 'count=8', 'via=record', ...(chain ? ['chain=yes'] : [])], hook);
        const dead = poolAudit(x.eal);
        assert.deepEqual([dead.heldByDead, dead.inRings, dead.leaked, dead.duplicates], [(chain ? 16 : 8) + held, 0, 0, 0], JSON.stringify(dead));
        const rep = reclaimDead(x.eal);
        assert.deepEqual([rep.pools[POOL]?.returned ?? 0, rep.pools[POOL]?.dropped ?? 0], [chain ? 16 : 8, 0], JSON.stringify(rep.pools));
        const a = poolAudit(x.eal);
        assert.deepEqual([a.heldByDead, a.leaked, a.duplicates], [0, 0, 0], JSON.stringify(a));
        assert.equal(x.pool.available(), SIZE, 'every mbuf back, once');
        ring.free();
      } finally {
        x.eal.close();
      }
      assert.deepEqual(leftovers(x.p), []);
    });
  }
}

// Killed inside the first of 8 increments (refcntUpdate +1 of mbufs in its record, before the
// enqueue that would pass them on): not made, the 8 are its alone; made, the count is read as
// made and one reference dropped, and the one it added, in no place yet, leaks (hands.ts header,
// not exact (a)): never a buffer returned that is counted elsewhere.
for (const [hook, returned, dropped, leaked] of [['refcnt:up:entry', 8, 0, 0], ['refcnt:up:changed', 7, 1, 1]] as const) {
  test(`refcntUpdate +1 of an mbuf in a record: killed at ${hook}, reclaim reads the count ${dropped ? 'changed' : 'unchanged'}: ${returned} returned, ${dropped} reference dropped, ${leaked} leaked, none twice`, async () => {
    const x = instance('ownsu');
    try {
      const ring = Ring.create(x.eal, 'share_ring', { count: 16 });
      const c = child(x.p, ['share', `pool=${POOL}`, 'ring=share_ring', 'count=8'], hook);
      await c.waitFor(new RegExp(`${hook} reached`), 10000);
      if (hook === 'refcnt:up:entry') {
        // The child holds the shared counts' lock: another holder's wait ends with a message naming
        // the holding thread, its process, and what to do (the old one said "pid" of a thread id,
        // and nothing to do); that refusal changes nothing (the reclaim below reads the entry).
        const pid = c.proc.pid!;
        assert.throws(() => new Mbufs(x.eal).sharedCounts().acquire(100), (e: Error & { code?: string }) => e.code === 'ETIMEDOUT'
          && e.message.startsWith(`timed out after 100 ms waiting for the lock on the shared mbuf counts, held by thread ${pid} of process ${pid} (alive, `)
          && e.message.endsWith(`): that thread is inside a change of a shared mbuf count and has not finished it; nothing was changed here. If it is stopped, continue it (kill -CONT ${pid}); if it hangs, end process ${pid} (the next holder settles its half-made change, reclaimDead returns what it held); then retry`), 'the message names the thread, its process and the way out');
      }
      c.proc.kill('SIGKILL');
      await c.exited;
      const dead = poolAudit(x.eal);
      assert.deepEqual([dead.heldByDead, dead.inRings, dead.leaked, dead.duplicates], [8, 0, leaked, 0], JSON.stringify(dead));
      const rep = reclaimDead(x.eal);
      assert.deepEqual([rep.pools[POOL]?.returned ?? 0, rep.pools[POOL]?.dropped ?? 0], [returned, dropped], JSON.stringify(rep.pools));
      const a = poolAudit(x.eal);
      assert.deepEqual([a.heldByDead, a.leaked, a.duplicates], [0, leaked, 0], JSON.stringify(a));
      assert.equal(x.pool.available(), SIZE - leaked);
      ring.free();
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  });
}

// A free through the record of 8 shared mbufs (lone, or the second segments of 8 chains): killed
// before the first decrement is made (its journal entry written), between it and the record's
// naming of it, after that naming (the journal cleared later), and once all are dropped and named.
for (const [chain, hook, deadHeld, deadOnly] of [
  [false, 'refcnt:down:entry', 8, 0], [false, 'refcnt:down:changed', 7, 0], [false, 'refcnt:down:word', 7, 0], [false, 'hands:free-segments', 0, 0],
  [true, 'refcnt:down:entry', 16, 8], [true, 'refcnt:down:changed', 15, 8], [true, 'refcnt:down:word', 15, 8], [true, 'hands:free-segments', 8, 8],
] as const) {
  test(`a free through its record of 8 mbufs shared with another process (${chain ? 'the second segments of its 2-segment chains' : 'lone'}): killed at ${hook}, the dead one holds ${deadHeld} references, ${deadOnly} its alone; reclaim drops the others' count exactly; every mbuf back once after the other's free`, () =>
    sharedThenKilled(chain ? 'ownsfc' : 'ownsf', chain, hook, deadHeld, deadOnly));
}

test('Hands.alloc: takes into the array after what it holds, all or nothing; refuses more than the room', () => {
  const x = instance('ownalloc2');
  try {
    const h = Hands.open(x.eal, 'alloc-here', 1, 64);
    assert.equal(h.alloc(0, x.pool, 20), 20);
    assert.equal(h.alloc(0, x.pool, 30), 30);
    assert.equal(h.count(0), 50);
    assert.equal(new Set(h.array(0).subarray(0, 50)).size, 50, 'fifty distinct mbufs');
    assert.throws(() => h.alloc(0, x.pool, 15), /no room for 15 more/);
    assert.equal(poolAudit(x.eal).heldByLive, 50);
    h.free(0);
    const empty = PktmbufPool.create(x.eal, 'tiny', { count: 8 });
    const h2 = Hands.open(x.eal, 'alloc-tiny', 1, 64);
    assert.equal(h2.alloc(0, empty, 9), 0, 'a pool that cannot supply all gives none');
    assert.equal(h2.count(0), 0);
    assert.equal(empty.available(), 8);
    h.close();
    h2.close();
    assert.equal(x.pool.available(), SIZE);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('a getter killed inside its claim on the pool ring: the next getter, stuck behind it, repairs the claim and puts its elements back', async () => {
  const x = instance('ownget');
  try {
    const c = child(x.p, ['get', `pool=${POOL}`, 'count=64'], 'ring-claim:cons');
    await c.waitFor(/ring-claim reached/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    const buf = new Uint32Array(64);
    assert.equal(x.pool.allocBulk(buf, 64), 64, 'the get behind the dead claim goes through');
    x.pool.freeBulk(buf, 64);
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates], [0, 0], 'the dead getter\'s 64 are back in the pool');
    assert.equal(x.pool.available(), SIZE);
    reclaimDead(x.eal);
    assert.equal(x.pool.available(), SIZE, 'and reclaim adds nothing twice');
    assert.equal(poolAudit(x.eal).duplicates, 0);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('Hands.alloc larger than the cache (40 > 32: from the pool\'s ring): killed inside the ring claim, the next getter repairs it and the record claims none; killed after it, before the record\'s commit, the record has all 40', async () => {
  for (const [hook, held] of [['ring-claim:cons', 0], ['hands:get', 40]] as const) {
    const x = instance('ownbig');
    try {
      const c = child(x.p, ['alloc', `pool=${POOL}`, 'count=40'], hook);
      await c.waitFor(new RegExp(`${hook.split(':')[0]}.* reached|${hook} reached`), 10000);
      c.proc.kill('SIGKILL');
      await c.exited;
      if (held === 0) {
        const buf = new Uint32Array(64);
        assert.equal(x.pool.allocBulk(buf, 64), 64, 'the get behind the dead claim goes through (and repairs it)');
        x.pool.freeBulk(buf, 64);
      }
      const dead = poolAudit(x.eal);
      assert.deepEqual([dead.heldByDead, dead.leaked, dead.duplicates], [held, 0, 0], `${hook}: ${JSON.stringify(dead)}`);
      const rep = reclaimDead(x.eal);
      assert.equal(rep.pools[POOL]?.returned ?? 0, held, hook);
      const a = poolAudit(x.eal);
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0], hook);
      assert.equal(x.pool.available(), SIZE, `${hook}: every mbuf back`);
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  }
});

test('a process killed between a cache refill\'s dequeue and its commit: the audit sees the elements in its cache, reclaim flushes them, none lost', async () => {
  const x = instance('ownrefill');
  try {
    const c = child(x.p, ['get', `pool=${POOL}`, 'count=8'], 'mempool:refill');
    await c.waitFor(/mempool:refill reached/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    const a = poolAudit(x.eal);
    assert.deepEqual([a.leaked, a.duplicates, a.inCaches], [0, 0, 40], 'the 32 + 8 dequeued are in its cache, LEN or not');
    const rep = reclaimDead(x.eal);
    assert.equal(rep.pools[POOL]?.flushed, 40);
    assert.equal(x.pool.available(), SIZE);
    assert.deepEqual([poolAudit(x.eal).leaked, poolAudit(x.eal).duplicates], [0, 0]);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

for (const [hook, where] of [['mempool:flush', 'LEN = 0, the ring not yet given them'], ['ring-claim:prod', 'its claim on the pool ring taken, no slot written']] as const) {
  test(`a process killed inside a cache flush (${where}) while freeing through its record: both come back, once`, async () => {
    const x = instance('ownflush');
    try {
      const c = child(x.p, ['flush', `pool=${POOL}`], hook);
      await c.waitFor(/reached/, 10000);
      c.proc.kill('SIGKILL');
      await c.exited;
      const a = poolAudit(x.eal);
      assert.deepEqual([a.leaked, a.duplicates, a.inCaches, a.heldByDead], [0, 0, 32, 20]);
      const rep = reclaimDead(x.eal);
      assert.deepEqual([rep.pools[POOL]?.returned, rep.pools[POOL]?.flushed], [20, 32]);
      assert.equal(x.pool.available(), SIZE);
      assert.deepEqual([poolAudit(x.eal).leaked, poolAudit(x.eal).duplicates], [0, 0]);
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  });
}

for (const [hook, op] of [['mempool:flush', 'flush'], ['mempool:refill', 'refill']] as const) {
  test(`a process killed inside a cache ${op}, its lcore taken over by a successor before any reclaim (pktgen -l 5 restarted): the ${op}'s handles come back, once`, async () => {
    // The chaos run's "PKTGEN_POOL: leaked 352" (pktgen freeing a 64-frame RX burst into its
    // cache of 352 flushes those 352 first; killed there, restarted on the same lcore): the
    // successor claims the dead lcore at start, so the reclaim flushes no dead lcore's cache;
    // the op left in flight must still be finished before the successor's puts overwrite it.
    const x = instance('ownsucc');
    try {
      const c = child(x.p, ['flush', `pool=${POOL}`], hook);
      await c.waitFor(/reached/, 10000);
      c.proc.kill('SIGKILL');
      await c.exited;
      const s = child(x.p, ['successor', `pool=${POOL}`]); // the same lcore (-l 2)
      await s.waitFor(/"pools"/, 10000);
      assert.equal(await s.exited, 0, s.err);
      const a = poolAudit(x.eal);
      assert.deepEqual([a.leaked, a.duplicates, a.heldByDead], [0, 0, 0]);
      assert.equal(x.pool.available(), SIZE);
    } finally {
      x.eal.close();
    }
    assert.deepEqual(leftovers(x.p), []);
  });
}

// The handover of a dead user's lcore cache (mempool.ts file header): a reclaimer flushing it
// and a successor on the same lcore never both touch it; a flush interrupted is finished.
test('a reclaimer flushing a dead process\'s lcore cache while a successor claims that lcore and uses the pool: the successor waits for the flush, every handle once', async () => {
  const x = instance('ownrace');
  try {
    await killedAt(x, ['free', `pool=${POOL}`, 'count=20'], '', /freed/); // lcore 2; leaves 20 in its cache
    const mine = new Uint32Array(64); // room in the pool's ring: a handle put twice would go in
    assert.equal(x.pool.allocBulk(mine, 64), 64);
    // The reclaimer (lcore 3) stops itself inside the flush of lcore 2's cache: LEN = 0, not yet in the ring.
    const r = spawnNode(CHILD, ['-l', '3', '--proc-type=secondary', '--file-prefix', x.p, '--log-level', 'error', '--', 'reclaim'], { MPDK_TEST_HOOK: 'mempool:flush-other-pause' });
    await r.waitFor(/flush-other-pause reached/, 10000);
    const s = child(x.p, ['use', `pool=${POOL}`]); // lcore 2, no reclaim of its own first
    await s.waitFor(/opening/, 10000);
    const early = await Promise.race([s.exited.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 1500))]);
    r.proc.kill('SIGCONT');
    assert.equal(await r.exited, 0, r.err);
    assert.equal(await s.exited, 0, s.err);
    const held = poolAudit(x.eal);
    assert.deepEqual([held.duplicates, held.leaked, held.inCaches], [0, 64, 0], JSON.stringify(held)); // ours, in a plain array
    x.pool.freeBulk(mine, 64);
    allInPool(x);
    assert.equal((JSON.parse(r.out) as ReturnType<typeof reclaimDead>).pools[POOL]?.flushed, 20);
    assert.equal(early, false, 'the successor waited for the reclaimer\'s flush');
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('a reclaimer killed inside its flush of a dead process\'s lcore cache: the successor opening the pool finishes it (the cache is whole again), every handle once', async () => {
  const x = instance('ownrace2');
  try {
    await killedAt(x, ['free', `pool=${POOL}`, 'count=20'], '', /freed/);
    const r = spawnNode(CHILD, ['-l', '3', '--proc-type=secondary', '--file-prefix', x.p, '--log-level', 'error', '--', 'reclaim'], { MPDK_TEST_HOOK: 'mempool:flush-other' });
    await r.waitFor(/flush-other reached/, 10000);
    r.proc.kill('SIGKILL');
    await r.exited;
    const s = child(x.p, ['use', `pool=${POOL}`]);
    assert.equal(await s.exited, 0, s.err);
    assert.equal(x.pool.mp.cacheCount(2), 0, 'the successor flushed its cache at its exit, the 20 with it');
    reclaimDead(x.eal); // the dead reclaimer's lock, lcore and slot
    allInPool(x);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('a process killed inside a cache refill, its lcore claimed by a successor that never opens the pool: reclaim finishes the refill and flushes that cache', async () => {
  const x = instance('ownidle');
  try {
    await killedAt(x, ['get', `pool=${POOL}`, 'count=8'], 'mempool:refill');
    const s = child(x.p, ['idle']); // lcore 2: a live owner now
    await s.waitFor(/ready/, 10000);
    const rep = reclaimDead(x.eal);
    assert.equal(rep.pools[POOL]?.flushed, 40, 'the 32 + 8 the refill dequeued');
    allInPool(x);
    s.proc.kill('SIGKILL');
    await s.exited;
    reclaimDead(x.eal);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
});

test('mpdk audit: clean instance exits 0; buffers a killed process held without a record are leaked, exit 1; bad prefix exit 2', async () => {
  const x = instance('ownaud');
  try {
    const clean = await run('mpdk', ['audit', '--file-prefix', x.p, '--json']);
    assert.equal(clean.code, 0, clean.err);
    assert.equal(clean.out.trim().split('\n').length, 1, 'one line');
    const j = JSON.parse(clean.out) as { pools: PoolAudit[] };
    assert.deepEqual(Object.keys(j.pools[0]!), ['name', 'size', 'inPool', 'inCaches', 'inRings', 'inPortQueues', 'heldByLive', 'heldByDead', 'leaked', 'duplicates']);
    assert.deepEqual([j.pools[0]!.name, j.pools[0]!.size, j.pools[0]!.inPool, j.pools[0]!.leaked], [POOL, SIZE, SIZE, 0]);
    const table = await run('mpdk', ['audit', '--file-prefix', x.p]);
    assert.equal(table.code, 0);
    assert.match(table.out, /pool\s+size\s+in pool\s+in caches\s+in rings\s+in port queues\s+held \(live\)\s+held \(dead\)\s+leaked\s+duplicates/);
    assert.match(table.out, new RegExp(`${POOL}\\s+${SIZE}\\s+${SIZE}\\s+0`));

    const c = child(x.p, ['leak', `pool=${POOL}`, 'count=10']);
    await c.waitFor(/holding/, 10000);
    c.proc.kill('SIGKILL');
    await c.exited;
    reclaimDead(x.eal); // flushes its cache; the 10 it held in a plain array are gone for good
    const leak = await run('mpdk', ['audit', '--file-prefix', x.p, '--json']);
    assert.equal(leak.code, 1);
    const l = (JSON.parse(leak.out) as { pools: PoolAudit[] }).pools[0]!;
    assert.deepEqual([l.leaked, l.duplicates, l.inPool + l.inCaches], [10, 0, SIZE - 10]);
    const t2 = await run('mpdk', ['audit', '--file-prefix', x.p]);
    assert.equal(t2.code, 1);
    assert.match(t2.out, /LEAKED/);
  } finally {
    x.eal.close();
  }
  assert.deepEqual(leftovers(x.p), []);
  for (const args of [['--file-prefix', '../x'], ['--file-prefix', 'no_such_instance_here', '--json'], ['--settle', 'x', '--file-prefix', 'a']]) {
    const r = await run('mpdk', ['audit', ...args]);
    // A wrong command line exits 2; no such instance is a refusal at run time, 1, as in every program.
    assert.equal(r.code, args.includes('no_such_instance_here') ? 1 : 2, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.equal(r.out, '');
  }
});
