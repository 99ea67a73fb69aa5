/**
 * Packet buffers: the pool, the fields, the data room operations with DPDK's refusals,
 * chains, reference counts, and packet bytes written in one process and read in another.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Eal, Mempool, PktmbufPool, Mbufs, PKTMBUF_HEADROOM, MBUF_PORT_INVALID, isMpdkError, type ErrorCode } from '../src/index.js';
import { MBUF } from '../src/internal.js';
import { leftovers, reapAll, spawnNode, uniquePrefix, refused } from './helpers.js';

const CHILD = 'dist/test/mempool-child.js';

after(reapAll);

async function withEal(fn: (eal: Eal, prefix: string) => Promise<void> | void): Promise<void> {
  const p = uniquePrefix('mb');
  const eal = Eal.init(['-l', '0', '-m', '64', '--file-prefix', p, '--proc-type=primary', '--log-level', 'error'], { handleSignals: false }).eal;
  try {
    await fn(eal, p);
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
}


/** Everything about an mbuf that a refused operation must leave alone. */
function snap(m: Mbufs, h: number): string {
  return JSON.stringify(m.dump(h));
}

test('a fresh mbuf has 128 bytes of headroom, one segment, refcnt 1, no port and no flags', () =>
  withEal((eal) => {
    const pool = PktmbufPool.create(eal, 'pkt', { count: 64, cacheSize: 8 });
    assert.equal(pool.dataRoomSize, 2048 + 128);
    const h = pool.alloc();
    assert.ok(pool.mp.isElement(h));
    assert.equal(h % 64, 0);
    assert.equal(pool.dataOff(h), PKTMBUF_HEADROOM);
    assert.equal(pool.headroom(h), 128);
    assert.equal(pool.bufLen(h), 2176);
    assert.equal(pool.bufOffset(h), h + MBUF.BYTES);
    assert.equal(pool.dataOffset(h), h + MBUF.BYTES + 128);
    assert.equal(pool.tailroom(h), 2048);
    assert.deepEqual([pool.dataLen(h), pool.pktLen(h), pool.nbSegs(h), pool.next(h), pool.refcnt(h)], [0, 0, 1, 0, 1]);
    assert.equal(pool.port(h), MBUF_PORT_INVALID);
    assert.equal(pool.olFlags(h), 0);
    assert.equal(pool.poolOf(h), pool.mp.header);
    pool.free(h);
    assert.equal(pool.available(), 64);
    // A small data room gets a smaller headroom; a private area sits before the buffer.
    const small = PktmbufPool.create(eal, 'small', { count: 16, privSize: 16, dataRoomSize: 64 });
    const s = small.alloc();
    assert.equal(small.dataOff(s), 64);
    assert.equal(small.tailroom(s), 0);
    assert.equal(small.privSize(s), 16);
    assert.equal(small.bufOffset(s), s + MBUF.BYTES + 16);
    small.free(s);
  }));

test('every field round-trips and a reset restores the fresh state', () =>
  withEal((eal) => {
    const pool = PktmbufPool.create(eal, 'rt', { count: 32 });
    const h = pool.alloc();
    pool.setDataLen(h, 1500);
    pool.setPktLen(h, 70000);
    pool.setPort(h, 7);
    pool.setRssHash(h, 0xfedcba98);
    pool.setOlFlags(h, 0x80000001, 0xc0000000);
    pool.setPacketType(h, 0x11);
    pool.setVlanTci(h, 0x0123);
    pool.setTimestamp(h, 1234567.875);
    pool.setSeqn(h, 42);
    pool.setDataOff(h, 100);
    pool.setRefcnt(h, 3);
    assert.deepEqual(
      [pool.dataLen(h), pool.pktLen(h), pool.port(h), pool.rssHash(h), pool.olFlags(h), pool.olFlagsHi(h), pool.packetType(h), pool.vlanTci(h), pool.timestamp(h), pool.seqn(h), pool.dataOff(h), pool.refcnt(h)],
      [1500, 70000, 7, 0xfedcba98, 0x80000001, 0xc0000000, 0x11, 0x0123, 1234567.875, 42, 100, 3],
    );
    // Fields do not overlap: the fixed ones are intact.
    assert.equal(pool.bufLen(h), 2176);
    assert.equal(pool.poolOf(h), pool.mp.header);
    pool.reset(h);
    assert.deepEqual([pool.dataOff(h), pool.dataLen(h), pool.pktLen(h), pool.port(h), pool.olFlags(h), pool.olFlagsHi(h), pool.refcnt(h), pool.nbSegs(h), pool.vlanTci(h)],
      [128, 0, 0, MBUF_PORT_INVALID, 0, 0, 1, 1, 0]);
    assert.deepEqual([pool.packetType(h), pool.rssHash(h), pool.seqn(h)], [0, 0, 42], 'reset clears the type and the hash; SEQN is the application\'s');
    assert.deepEqual([pool.bufLen(h), pool.poolOf(h)], [2176, pool.mp.header], 'the fixed fields survive a reset');
    pool.free(h);
  }));

test('prepend, append, adj and trim follow DPDK and a refusal changes nothing', () =>
  withEal((eal) => {
    const pool = PktmbufPool.create(eal, 'room', { count: 8, dataRoomSize: 256 });
    const h = pool.alloc();
    const start = pool.dataOffset(h);
    assert.equal(pool.append(h, 100), start, 'append returns where the new bytes go');
    assert.equal(pool.dataLen(h), 100);
    assert.equal(pool.pktLen(h), 100);
    assert.equal(pool.prepend(h, 14), start - 14, 'prepend returns the new first byte');
    assert.deepEqual([pool.dataOff(h), pool.dataLen(h), pool.pktLen(h)], [114, 114, 114]);
    let before = snap(pool, h);
    assert.equal(pool.prepend(h, 115), -1, 'no headroom for 115');
    assert.equal(snap(pool, h), before);
    assert.equal(pool.prepend(h, 114), start - 128, 'the whole headroom can be used');
    assert.equal(pool.headroom(h), 0);
    assert.equal(pool.adj(h, 128), start);
    assert.equal(pool.tailroom(h), 256 - 128 - 100);
    before = snap(pool, h);
    assert.equal(pool.append(h, 29), -1, 'no tailroom for 29');
    assert.equal(snap(pool, h), before);
    assert.equal(pool.append(h, 28), start + 100);
    assert.equal(pool.tailroom(h), 0);
    before = snap(pool, h);
    assert.equal(pool.adj(h, 129), -1, 'cannot remove more than the segment holds');
    assert.equal(pool.trim(h, 129), -1);
    assert.equal(pool.prepend(h, -1), -1);
    assert.equal(snap(pool, h), before);
    assert.equal(pool.adj(h, 20), start + 20);
    assert.equal(pool.trim(h, 8), 0);
    assert.deepEqual([pool.dataOff(h), pool.dataLen(h), pool.pktLen(h)], [148, 100, 100]);
    assert.equal(pool.trim(h, 100), 0);
    assert.equal(pool.adj(h, 0), pool.dataOffset(h));
    assert.equal(pool.dataLen(h), 0);
    pool.free(h);
  }));

test('a chain of segments carries the packet length and frees every segment back to the pool', () =>
  withEal((eal) => {
    const pool = PktmbufPool.create(eal, 'ch', { count: 16, cacheSize: 4 });
    const segs = new Uint32Array(3);
    assert.equal(pool.allocBulk(segs, 3), 3);
    const [a, b, c] = segs as unknown as [number, number, number];
    pool.append(a, 1000);
    pool.append(b, 2000);
    pool.append(c, 300);
    assert.equal(pool.chain(a, b), 0);
    assert.equal(pool.chain(a, c), 0);
    assert.deepEqual([pool.nbSegs(a), pool.pktLen(a), pool.next(a), pool.next(b), pool.next(c)], [3, 3300, b, c, 0]);
    assert.equal(pool.lastSeg(a), c);
    // append and trim work on the last segment; the packet length follows.
    assert.equal(pool.append(a, 10), pool.dataOffset(c) + 300);
    assert.equal(pool.dataLen(c), 310);
    assert.equal(pool.pktLen(a), 3310);
    assert.equal(pool.trim(a, 311), -1, 'trim cannot reach into an earlier segment');
    assert.equal(pool.trim(a, 10), 0);
    assert.equal(pool.available(), 13);
    pool.free(a);
    assert.equal(pool.available(), 16);
    assert.deepEqual([pool.next(a), pool.nbSegs(a), pool.next(b)], [0, 1, 0], 'freed segments are unlinked');
    const a2 = pool.mp.audit();
    assert.deepEqual([a2.inUse, a2.duplicates], [0, 0]);
  }));

test('refcnt: a shared mbuf returns to the pool only when its last reference is freed', () =>
  withEal((eal) => {
    const pool = PktmbufPool.create(eal, 'rc', { count: 8 });
    const h = pool.alloc();
    assert.equal(pool.refcntUpdate(h, 2), 3);
    pool.free(h);
    assert.equal(pool.refcnt(h), 2);
    assert.equal(pool.available(), 7);
    pool.freeBulk(Uint32Array.of(h), 1);
    assert.equal(pool.refcnt(h), 1);
    assert.equal(pool.available(), 7);
    pool.free(h);
    assert.equal(pool.available(), 8);
    assert.equal(pool.refcnt(h), 1, 'pooled mbufs keep refcnt 1');
    assert.equal(pool.refcntUpdate(h, -1) , 0);
    pool.setRefcnt(h, 1);
  }));

test('alloc returns 0 and allocBulk takes nothing when the pool cannot supply', () =>
  withEal((eal) => {
    const pool = PktmbufPool.create(eal, 'few', { count: 4 });
    const hs = new Uint32Array(5);
    assert.equal(pool.allocBulk(hs, 5), 0);
    assert.equal(pool.available(), 4);
    assert.equal(pool.allocBulk(hs, 4), 4);
    assert.equal(pool.alloc(), 0);
    pool.freeBulk(hs, 4);
    assert.equal(pool.available(), 4);
  }));

test('freeBulk returns chains and mbufs of several pools each to its own pool', () =>
  withEal((eal) => {
    const p1 = PktmbufPool.create(eal, 'p1', { count: 100, cacheSize: 8 });
    const p2 = PktmbufPool.create(eal, 'p2', { count: 100 });
    const hs = new Uint32Array(90);
    for (let i = 0; i < 90; i++) hs[i] = (i % 3 === 0 ? p2 : p1).alloc();
    p1.chain(hs[1]!, hs[2]!); // a chain mixing... same pool
    p1.chain(hs[4]!, hs[3]!); // and one whose second segment is from the other pool
    const heads = hs.filter((_, i) => i !== 2 && i !== 3);
    // Any Mbufs object frees any pool's mbufs.
    new Mbufs(eal).freeBulk(heads, heads.length);
    assert.equal(p1.available(), 100);
    assert.equal(p2.available(), 100);
    assert.equal(p1.mp.audit().duplicates + p2.mp.audit().duplicates, 0);
  }));

test('freeBulk takes the one-put path only when every mbuf is a lone unshared segment of one pool, whatever its place in the burst', () =>
  withEal((eal) => {
    const p1 = PktmbufPool.create(eal, 'q1', { count: 64, cacheSize: 16 });
    const p2 = PktmbufPool.create(eal, 'q2', { count: 64, cacheSize: 16 });
    const m = new Mbufs(eal);
    // Bursts of every length up to 11 (the loops go four at a time), with one odd mbuf at each place.
    for (let n = 1; n <= 11; n++) {
      for (let at = -1; at < n; at++) {
        for (const kind of ['pool', 'shared', 'chain'] as const) {
          if (at < 0 && kind !== 'pool') continue;
          const hs = new Uint32Array(n);
          for (let i = 0; i < n; i++) {
            hs[i] = (i === at && kind === 'pool' ? p2 : p1).alloc();
            p1.setPktLen(hs[i]!, 10 + i);
          }
          let extra = 0;
          if (at >= 0 && kind === 'shared') m.refcntUpdate(hs[at]!, 1); // a second owner keeps it
          if (at >= 0 && kind === 'chain') {
            extra = p1.alloc();
            p1.setPktLen(extra, 5);
            p1.chain(hs[at]!, extra);
          }
          const want = Array.from(hs, (h) => p1.pktLen(h)).reduce((x, y) => x + y, 0);
          assert.equal(m.freeBulk(hs, n), want, `bytes, n=${n} at=${at} ${kind}`);
          if (kind === 'shared') {
            assert.equal(m.refcnt(hs[at]!), 1, 'the other owner still holds it');
            m.free(hs[at]!);
          }
          assert.equal(p1.available() + p2.available(), 128, `every mbuf back in its pool, n=${n} at=${at} ${kind}`);
        }
      }
    }
    assert.equal(p1.mp.audit().duplicates + p2.mp.audit().duplicates, 0);
  }));

test('dataOffsets and ports give dataOffset and port of every mbuf of a burst', () =>
  withEal((eal) => {
    const pool = PktmbufPool.create(eal, 'do', { count: 32 });
    const hs = new Uint32Array(9);
    assert.equal(pool.allocBulk(hs, 9), 9);
    for (let i = 0; i < 9; i++) {
      pool.prepend(hs[i]!, i); // DATA_OFF differs from mbuf to mbuf
      pool.setPort(hs[i]!, i === 4 ? MBUF_PORT_INVALID : i * 3);
    }
    const out = new Uint32Array(9);
    pool.dataOffsets(hs, 9, out);
    assert.deepEqual(Array.from(out), Array.from(hs, (h) => pool.dataOffset(h)));
    const tail = new Uint32Array(6);
    pool.dataOffsets(hs, 6, tail, 3); // a burst received after 3 others in the same buffer
    assert.deepEqual(Array.from(tail), Array.from(hs.subarray(3), (h) => pool.dataOffset(h)));
    const ports = new Uint16Array(9);
    pool.ports(hs, 9, ports);
    assert.deepEqual(Array.from(ports), Array.from(hs, (h) => pool.port(h)));
    pool.freeBulk(hs, 9);
  }));

test('bad private and data room sizes are refused with EINVAL; a plain mempool is not an mbuf pool', () =>
  withEal((eal) => {
    refused('EINVAL', () => PktmbufPool.create(eal, 'b', { count: 8, privSize: 4 }));
    refused('EINVAL', () => PktmbufPool.create(eal, 'b', { count: 8, dataRoomSize: 70000 }));
    refused('EINVAL', () => PktmbufPool.create(eal, 'b', { count: 8, cacheSize: 100 }));
    assert.equal(eal.memzones.tryLookup('MP_b'), undefined);
    Mempool.create(eal, 'plain', { count: 8, eltSize: 64 });
    refused('EINVAL', () => PktmbufPool.lookup(eal, 'plain'));
    refused('ENOENT', () => PktmbufPool.lookup(eal, 'none'));
  }));

test('packet bytes written in one process are read in another through the region', () =>
  withEal(async (eal, p) => {
    const pool = PktmbufPool.create(eal, 'xp', { count: 64, cacheSize: 8 });
    const c = spawnNode(CHILD, ['-l', '1', '--file-prefix', p, '--', 'mbuf-write', 'xp', '1000', '99']);
    assert.equal(await c.exited, 0, c.err);
    const { handle, sum, len } = JSON.parse(c.out.trim()) as { handle: number; sum: number; len: number };
    assert.ok(pool.mp.isElement(handle));
    assert.equal(pool.dataLen(handle), len);
    assert.equal(pool.port(handle), 3);
    assert.equal(pool.rssHash(handle), 0xdeadbeef);
    const bytes = pool.bytes(handle);
    let s = 0;
    for (const b of bytes) s = (s * 31 + b) >>> 0;
    assert.equal(s, sum);
    const at = pool.dataOffset(handle);
    assert.equal(pool.u8[at], bytes[0]);
    pool.free(handle);
    const a = pool.mp.audit();
    assert.equal(a.inUse, 0, 'freed here into the pool the other process took it from');
  }));
