/**
 * Mempool: creation and refusals, the per-lcore cache, the audit, debug mode, and pools
 * shared by several real processes (with one killed). Each test has its own --file-prefix
 * and leaves nothing behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Eal, Mempool, ELT_FREE, ELT_IN_USE, isMpdkError, type ErrorCode } from '../src/index.js';
import { leftovers, reapAll, run, spawnNode, uniquePrefix, refused } from './helpers.js';

const CHILD = 'dist/test/mempool-child.js';

after(reapAll);

function primary(prefix: string, mb = 64): Eal {
  return Eal.init(['-l', '0', '-m', String(mb), '--file-prefix', prefix, '--proc-type=primary', '--log-level', 'error'], { handleSignals: false }).eal;
}

/** Run `fn` in a fresh instance; close it and check nothing is left. */
async function withEal(fn: (eal: Eal, prefix: string) => Promise<void> | void, mb = 64): Promise<void> {
  const p = uniquePrefix('mp');
  const eal = primary(p, mb);
  try {
    await fn(eal, p);
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
}


function assertClean(mp: Mempool, inUse = 0): void {
  const a = mp.audit();
  assert.equal(a.duplicates, 0, JSON.stringify(a));
  assert.equal(a.foreign, 0, JSON.stringify(a));
  assert.equal(a.inUse, inUse, JSON.stringify(a));
  assert.equal(a.inRing + a.inCaches + a.inUse, a.size);
  assert.equal(mp.available(), a.size - inUse);
}

test('a pool is created, found by name from its header, and freed', () =>
  withEal((eal) => {
    const mp = Mempool.create(eal, 'pkts', { count: 1000, eltSize: 100, cacheSize: 32, privateSize: 16 });
    assert.equal(mp.size, 1000);
    assert.equal(mp.eltSize, 100);
    assert.equal(mp.stride % 64, 0);
    assert.ok(mp.stride >= 100 + 16);
    assert.equal(mp.cacheSize, 32);
    assert.equal(mp.flushThresh, 48);
    assert.equal(mp.available(), 1000);
    assert.equal(mp.inUse(), 0);
    const same = Mempool.lookup(eal, 'pkts');
    assert.equal(same.header, mp.header);
    assert.equal(same.eltStart, mp.eltStart);
    assert.equal(mp.eltStart % 64, 0, 'elements are cache-line aligned');
    assert.ok(eal.memzones.lookup('MP_pkts'));
    assertClean(mp);
    mp.free();
    refused('ENOENT', () => Mempool.lookup(eal, 'pkts'), /no mempool named 'pkts'/);
    assert.equal(eal.memzones.tryLookup('MP_pkts'), undefined);
  }));

test('bad sizes, names and options are refused with EINVAL and reserve nothing', () =>
  withEal((eal) => {
    const before = eal.memzones.list().length;
    refused('EINVAL', () => Mempool.create(eal, 'a', { count: 0, eltSize: 64 }), /element count 0/);
    refused('EINVAL', () => Mempool.create(eal, 'a', { count: 1.5, eltSize: 64 }));
    refused('EINVAL', () => Mempool.create(eal, 'a', { count: 100, eltSize: 0 }), /element size 0/);
    refused('EINVAL', () => Mempool.create(eal, 'a', { count: 10000, eltSize: 64, cacheSize: 513 }), /cache size 513/);
    refused('EINVAL', () => Mempool.create(eal, 'a', { count: 100, eltSize: 64, cacheSize: 68 }), /at most 67/);
    refused('EINVAL', () => Mempool.create(eal, 'a', { count: 100, eltSize: 64, cacheSize: -1 }));
    refused('EINVAL', () => Mempool.create(eal, 'a', { count: 100, eltSize: 64, privateSize: -4 }));
    refused('EINVAL', () => Mempool.create(eal, 'a', 100 as never), /options must be an object/);
    refused('EINVAL', () => Mempool.create(eal, 'x'.repeat(26), { count: 100, eltSize: 64 }), /mempool name .* 1 to 25 bytes/); // DPDK's RTE_MEMPOOL_NAMESIZE (26) - 1
    refused('EINVAL', () => Mempool.create(eal, '', { count: 100, eltSize: 64 }));
    Mempool.create(eal, 'y'.repeat(25), { count: 100, eltSize: 64, cacheSize: 67 }); // the limits themselves are fine
    assert.equal(eal.memzones.list().length, before + 1);
  }));

test('every byte of every element is inside the pool\'s memzone: filling them all leaves the heap intact', () =>
  withEal((eal) => {
    // Sizes whose object ends past stride − 64 (eltSize mod 64 in 1..48): the last one used
    // to lie partly outside the memzone, over the heap's next block header.
    for (const eltSize of [1, 48, 100, 1160]) {
      const mp = Mempool.create(eal, `fill${eltSize}`, { count: 8, eltSize });
      const mz = eal.memzones.lookup(`MP_fill${eltSize}`);
      const h = new Uint32Array(8);
      assert.equal(mp.getBulk(h, 8), 8);
      for (const x of h) {
        assert.ok(x + eltSize <= mz.offset + mz.length, `element ${x} (${eltSize} bytes) ends inside the memzone`);
        eal.region.u8.fill(0xff, x, x + eltSize);
      }
      eal.memzones.reserve(`after${eltSize}`, 64); // reads the heap: refused if a block header was overwritten
      mp.putBulk(h, 8);
    }
  }));

test('a taken name is refused with EEXIST and the first pool is unchanged', () =>
  withEal((eal) => {
    const mp = Mempool.create(eal, 'dup', { count: 64, eltSize: 64 });
    const h = mp.get();
    refused('EEXIST', () => Mempool.create(eal, 'dup', { count: 128, eltSize: 32 }), /already exists/);
    assert.equal(Mempool.lookup(eal, 'dup').size, 64);
    mp.put(h);
    assertClean(mp);
  }));

test('a pool larger than the region is refused with ENOSPC and reserves nothing', () =>
  withEal((eal) => {
    const before = eal.heapStats();
    refused('ENOSPC', () => Mempool.create(eal, 'huge', { count: 1 << 20, eltSize: 2048 }), /larger -m/);
    // Fits the region size check but not the heap that is left.
    const big = Mempool.create(eal, 'big', { count: 9000, eltSize: 1000 });
    refused('ENOSPC', () => Mempool.create(eal, 'big2', { count: 9000, eltSize: 1000 }));
    big.free();
    const after = eal.heapStats();
    assert.equal(after.allocations, before.allocations);
    assert.equal(after.largestFree, before.largestFree);
  }, 16));

test('getting from an empty pool takes nothing: getBulk returns 0, get and getOrThrow throw ENOENT', () =>
  withEal((eal) => {
    for (const cache of [0, 4]) {
      const mp = Mempool.create(eal, `e${cache}`, { count: 8, eltSize: 64, cacheSize: cache });
      const objs = new Uint32Array(8);
      assert.equal(mp.getBulk(objs, 6), 6);
      const cached = mp.cacheCount(0);
      assert.equal(mp.getBulk(new Uint32Array(3), 3), 0, 'all or nothing');
      assert.equal(mp.available(), 2);
      assert.equal(mp.cacheCount(0), cached);
      refused('ENOENT', () => mp.getOrThrow(new Uint32Array(3), 3), /cannot get 3/);
      assert.equal(mp.getBulk(objs.subarray(6), 2), 2);
      refused('ENOENT', () => mp.get());
      assert.equal(mp.tryGet(), 0);
      assert.equal(mp.available(), 0);
      assertClean(mp, 8);
      mp.putBulk(objs, 8);
      assertClean(mp);
      assert.equal(new Set(objs).size, 8, 'eight distinct elements');
    }
  }));

test('the cache refills from the ring with cacheSize + n - len and flushes past 1.5 x cacheSize', () =>
  withEal((eal) => {
    const mp = Mempool.create(eal, 'c', { count: 1024, eltSize: 64, cacheSize: 32 });
    const a = new Uint32Array(64);
    assert.equal(mp.getBulk(a, 8), 8);
    assert.equal(mp.cacheCount(0), 32, 'an empty cache is refilled with 32 + 8, and 8 are taken');
    assert.equal(mp.ring.count(), 1024 - 40);
    assert.equal(mp.getBulk(a.subarray(8), 30), 30, 'served from the cache alone');
    assert.equal(mp.cacheCount(0), 2);
    assert.equal(mp.ring.count(), 1024 - 40);
    assert.equal(mp.getBulk(a.subarray(38), 8), 8, 'a short cache is refilled with 32 + 8 - 2');
    assert.equal(mp.cacheCount(0), 32);
    assert.equal(mp.ring.count(), 1024 - 78);
    assertClean(mp, 46);
    mp.putBulk(a, 16);
    assert.equal(mp.cacheCount(0), 48, 'up to the flush threshold (48) puts stay in the cache');
    mp.putBulk(a.subarray(16), 8);
    assert.equal(mp.cacheCount(0), 8, 'past it, the whole cache went to the ring first');
    assert.equal(mp.ring.count(), 1024 - 78 + 48);
    assertClean(mp, 22);
    // Bursts larger than the cache bypass it.
    const big = new Uint32Array(100);
    const ringBefore = mp.ring.count();
    assert.equal(mp.getBulk(big, 100), 100);
    assert.equal(mp.ring.count(), ringBefore - 100);
    assert.equal(mp.cacheCount(0), 8);
    mp.putBulk(big, 100);
    assert.equal(mp.ring.count(), ringBefore);
    mp.putBulk(a.subarray(24), 22);
    assert.equal(mp.cacheCount(0), 30);
    assertClean(mp);
    // The owner may flush its own cache.
    assert.equal(mp.flushCache(0), 30);
    assert.equal(mp.ring.count(), 1024);
  }));

test('zcGet hands out what getBulk would, in the same order, only once committed; -1 where the cache cannot serve', () =>
  withEal((eal) => {
    const mp = Mempool.create(eal, 'zc', { count: 256, eltSize: 64, cacheSize: 32 });
    const twin = Mempool.create(eal, 'zc2', { count: 256, eltSize: 64, cacheSize: 32 });
    const a = new Uint32Array(40);
    const b = new Uint32Array(40);
    for (const n of [8, 30, 8, 32, 1]) { // the first refills an empty cache, the third a short one
      const at = mp.zcGet(n);
      assert.ok(at >= 0);
      for (let i = 0; i < n; i++) a[i] = mp.cacheSlots[at - i]!;
      assert.equal(mp.available(), 256, 'nothing is taken before the commit');
      mp.zcGetCommit(n);
      assert.equal(twin.getBulk(b, n), n);
      // Both pools lay out alike: the same element indexes, in the same order.
      assert.deepEqual(Array.from(a.subarray(0, n), (h) => mp.indexOf(h)), Array.from(b.subarray(0, n), (h) => twin.indexOf(h)), `get of ${n}`);
      assert.equal(mp.cacheCount(0), twin.cacheCount(0));
      mp.putBulk(a, n);
      twin.putBulk(b, n);
    }
    assertClean(mp);
    // A recorded get writes n and the LEN it leaves, as getBulk does.
    const rec = eal.memzones.reserve('rec', 64).offset >>> 2;
    const at = mp.zcGet(5, rec);
    assert.equal(eal.region.u32[rec], ((5 << 16) | (mp.cacheCount(0) - 5)) >>> 0);
    assert.equal(at, mp.cacheCount(0) - 1);
    // More than the cache, no cache, a debug pool, an exhausted pool: -1, nothing taken.
    assert.equal(mp.zcGet(33), -1);
    assert.equal(Mempool.create(eal, 'zc3', { count: 64, eltSize: 64 }).zcGet(4), -1);
    assert.equal(Mempool.create(eal, 'zc4', { count: 64, eltSize: 64, cacheSize: 8, debug: true }).zcGet(4), -1);
    const small = Mempool.create(eal, 'zc5', { count: 16, eltSize: 64, cacheSize: 8 });
    const all = new Uint32Array(16);
    assert.equal(small.getBulk(all, 8) + small.getBulk(all.subarray(8), 8), 16);
    assert.equal(small.zcGet(4), -1);
    assert.equal(small.available(), 0);
    small.putBulk(all, 16);
    assertClean(small);
  }));

test('a pool without a cache goes straight to the ring', () =>
  withEal((eal) => {
    const mp = Mempool.create(eal, 'nc', { count: 100, eltSize: 8 });
    const a = new Uint32Array(10);
    assert.equal(mp.getBulk(a, 10), 10);
    assert.equal(mp.ring.count(), 90);
    assert.equal(mp.cacheCount(0), 0);
    mp.putBulk(a, 10);
    assert.equal(mp.ring.count(), 100);
  }));

test('after random get/put sequences the audit accounts for every element exactly once', () =>
  withEal((eal) => {
    const mp = Mempool.create(eal, 'rnd', { count: 2000, eltSize: 32, cacheSize: 64 });
    let s = 12345;
    const rnd = (n: number): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % n;
    };
    const held: number[] = [];
    const burst = new Uint32Array(200);
    for (let it = 0; it < 5000; it++) {
      const n = 1 + rnd(it % 7 === 0 ? 150 : 40);
      if (rnd(2) === 0) {
        if (mp.getBulk(burst, n) === n) for (let i = 0; i < n; i++) held.push(burst[i]!);
      } else {
        const k = Math.min(n, held.length);
        for (let i = 0; i < k; i++) burst[i] = held.splice(rnd(held.length), 1)[0]!;
        mp.putBulk(burst, k);
      }
      if (it % 500 === 0) {
        assertClean(mp, held.length);
        assert.equal(new Set(held).size, held.length, 'no element handed out twice');
      }
    }
    for (const h of held) assert.ok(mp.isElement(h));
    mp.putBulk(Uint32Array.from(held), held.length);
    assertClean(mp);
  }));

test('without debug mode a single put of a handle that is not an element is refused with EINVAL', () =>
  withEal((eal) => {
    const mp = Mempool.create(eal, 'nd', { count: 16, eltSize: 64, cacheSize: 4 });
    const h = mp.get();
    refused('EINVAL', () => mp.put(h + 8), /not an element/);
    refused('EINVAL', () => mp.put(0));
    refused('EINVAL', () => mp.put(mp.eltEnd));
    assertClean(mp, 1);
    mp.put(h);
    assertClean(mp);
  }));

test('debug mode refuses foreign and double puts with EINVAL and the pool stays intact', () =>
  withEal((eal) => {
    const mp = Mempool.create(eal, 'dbg', { count: 64, eltSize: 64, cacheSize: 8, debug: true });
    const other = Mempool.create(eal, 'dbg2', { count: 8, eltSize: 64, debug: true });
    assert.ok(mp.debug);
    const a = new Uint32Array(10);
    mp.getOrThrow(a, 10);
    for (const h of a) assert.equal(mp.eltState(h), ELT_IN_USE);
    mp.put(a[0]!);
    assert.equal(mp.eltState(a[0]!), ELT_FREE);
    const avail = mp.available();
    refused('EINVAL', () => mp.put(a[0]!), /double put/);
    refused('EINVAL', () => mp.putBulk(Uint32Array.of(a[1]!, a[2]!, a[0]!), 3), /double put/);
    refused('EINVAL', () => mp.putBulk(Uint32Array.of(a[3]!, a[3]!), 2), /double put/);
    const foreign = other.get();
    refused('EINVAL', () => mp.putBulk(Uint32Array.of(a[4]!, foreign), 2), /not an element/);
    refused('EINVAL', () => mp.putBulk(Uint32Array.of(a[5]!, a[5]! + 4), 2), /not an element/);
    assert.equal(mp.available(), avail, 'nothing was returned by the refused puts');
    for (let i = 1; i < 10; i++) assert.equal(mp.eltState(a[i]!), ELT_IN_USE, `element ${i} still in use`);
    assertClean(mp, 9);
    mp.putBulk(a.subarray(1), 9);
    other.put(foreign);
    assertClean(mp);
    assertClean(other);
    assert.equal(mp.debugErrors(), 0);
  }));

test('MPDK_DEBUG_MEMPOOL=1 turns debug mode on at creation, for every process', () =>
  withEal((eal) => {
    process.env.MPDK_DEBUG_MEMPOOL = '1';
    try {
      const mp = Mempool.create(eal, 'envdbg', { count: 16, eltSize: 64 });
      assert.ok(mp.debug);
    } finally {
      delete process.env.MPDK_DEBUG_MEMPOOL;
    }
    assert.ok(Mempool.lookup(eal, 'envdbg').debug, 'the mode is stored in the pool');
    assert.ok(!Mempool.create(eal, 'plain', { count: 16, eltSize: 64 }).debug);
  }));

test('the pool describes itself for mpdk info', () =>
  withEal(async (eal, p) => {
    const mp = Mempool.create(eal, 'shown', { count: 100, eltSize: 64, cacheSize: 8 });
    mp.get();
    const d = mp.describe();
    assert.equal(d.kind, 'mempool');
    assert.equal(d.inUse, 1);
    assert.deepEqual(d.cacheFill, { 0: 8 }, 'refilled with 8 + 1, one taken');
    const info = await run('mpdk', ['info', '--file-prefix', p]);
    assert.equal(info.code, 0, info.err);
    assert.match(info.out, /shown/);
  }));

test('several processes share one pool through their caches and the audit is clean afterwards', () =>
  withEal(async (eal, p) => {
    const mp = Mempool.create(eal, 'shared', { count: 4096, eltSize: 64, cacheSize: 64, debug: true });
    const kids = [1, 2, 3].map((l) => spawnNode(CHILD, ['-l', String(l), '--file-prefix', p, '--', 'churn', 'shared', '20000', String(l * 7919)]));
    const codes = await Promise.all(kids.map((k) => k.exited));
    for (const [i, k] of kids.entries()) assert.equal(codes[i], 0, k.err);
    const results = kids.map((k) => JSON.parse(k.out.trim()) as { done: boolean; gets: number; puts: number; corrupt: number; cache: number });
    for (const r of results) {
      assert.ok(r.done);
      assert.equal(r.gets, r.puts);
      assert.equal(r.corrupt, 0, 'no element was handed to two holders');
      assert.ok(r.gets > 10000);
    }
    const a = mp.audit();
    assert.deepEqual([a.duplicates, a.foreign, a.inUse], [0, 0, 0], JSON.stringify(a));
    assert.equal(a.inCaches, results.reduce((s, r) => s + r.cache, 0), 'what each child left in its cache is still there');
    assert.equal(mp.debugErrors(), 0);
  }));

test('flushCache of a killed process lcore returns its cache to the ring and the audit accounts for everything', () =>
  withEal(async (eal, p) => {
    const mp = Mempool.create(eal, 'crash', { count: 512, eltSize: 64, cacheSize: 32 });
    const c = spawnNode(CHILD, ['-l', '2', '--file-prefix', p, '--', 'hold', 'crash', '100', '60']);
    await c.waitFor(/"ready":true/, 10000);
    const info = JSON.parse(c.out.trim()) as { held: number; cache: number; lcore: number };
    assert.equal(info.lcore, 2);
    assert.ok(info.cache > 0);
    refused('EBUSY', () => mp.flushCache(2), /live pid/);
    c.proc.kill('SIGKILL');
    await c.exited;
    let a = mp.audit();
    assert.equal(a.caches[2], info.cache);
    assert.equal(a.inUse, info.held, 'what the dead process held is in use (until reclaimed)');
    assert.equal(a.duplicates, 0);
    assert.equal(mp.flushCache(2), info.cache);
    a = mp.audit();
    assert.equal(a.caches[2], undefined);
    assert.equal(a.inCaches, 0);
    assert.equal(a.inRing + a.inUse, 512);
    assert.equal(a.inUse, info.held);
    assert.equal(a.duplicates + a.foreign, 0);
    assert.equal(mp.flushCache(2), 0, 'flushing twice moves nothing');
    eal.lcoreTable.releaseAllOf(c.proc.pid!);
  }));
