/**
 * Ports: probing from --vdev, the state machine and its refusals, statistics, RSS through
 * the net_ring wire, back-to-back ring ports, net_null, and real secondary processes that
 * find the ports without --vdev and share one port's queues.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Eal, EthDev, PktmbufPool, Mbufs, FlowSet, buildUdpFrame, formatMac, isMpdkError, MBUF_F_RX_RSS_HASH, CaptureReader, type ErrorCode,
} from '../src/index.js';
import { MBUF, CAPH } from '../src/internal.js';
import { CAP_MIN_BYTES } from '../src/ethdev/capture.js';
import { leftovers, reapAll, spawnNode, uniquePrefix, type Child, refused } from './helpers.js';

const CHILD = 'dist/test/ethdev-child.js';

after(reapAll);

function ealArgs(prefix: string, vdevs: string[], extra: string[] = []): string[] {
  return ['-l', '0', '-m', '64', '--file-prefix', prefix, '--proc-type=primary', '--log-level', 'error', ...vdevs.flatMap((v) => ['--vdev', v]), ...extra];
}

async function withEal(vdevs: string[], fn: (eal: Eal, prefix: string) => Promise<void> | void): Promise<void> {
  const p = uniquePrefix('ed');
  const eal = Eal.init(ealArgs(p, vdevs), { handleSignals: false }).eal;
  try {
    await fn(eal, p);
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
}


/** Configure `port` with nbRx/nbTx queues of 512 descriptors and start it. */
function setup(dev: EthDev, pool: PktmbufPool, port: number, nbRx: number, nbTx: number, conf = {}): void {
  dev.configure(port, { rxQueues: nbRx, txQueues: nbTx, ...conf });
  for (let q = 0; q < nbRx; q++) dev.rxQueueSetup(port, q, { descriptors: 512, pool });
  for (let q = 0; q < nbTx; q++) dev.txQueueSetup(port, q, { descriptors: 512 });
  dev.start(port);
}

/** n test frames (flow i % flows.count) in fresh mbufs. */
function frames(pool: PktmbufPool, flows: FlowSet, n: number, flowOf = (i: number) => i % flows.count): Uint32Array {
  const h = new Uint32Array(n);
  assert.equal(pool.allocBulk(h, n), n);
  for (let i = 0; i < n; i++) {
    buildUdpFrame(pool.u8, pool.dataOffset(h[i]!), flows, flowOf(i), 64, i, 0);
    pool.setDataLen(h[i]!, 64);
    pool.setPktLen(h[i]!, 64);
  }
  return h;
}

/** Drain every RX queue of `port`: handles per queue. */
function drain(dev: EthDev, port: number, nbRx: number): number[][] {
  const out: number[][] = [];
  const buf = new Uint32Array(64);
  for (let q = 0; q < nbRx; q++) {
    const got: number[] = [];
    for (let k = dev.rxBurst(port, q, buf, 64); k > 0; k = dev.rxBurst(port, q, buf, 64)) got.push(...buf.subarray(0, k));
    out.push(got);
  }
  return out;
}

test('ports come from --vdev in order, with default MACs 02:00:00:00:00:<port> and link down until started', () =>
  withEal(['net_ring0', 'net_null0,size=128', 'net_ring1'], (eal) => {
    const dev = EthDev.attach(eal);
    assert.equal(dev.count, 3);
    assert.deepEqual([0, 1, 2].map((p) => dev.info(p).name), ['net_ring0', 'net_null0', 'net_ring1']);
    assert.deepEqual([0, 1, 2].map((p) => dev.info(p).driver), ['net_ring', 'net_null', 'net_ring']);
    assert.deepEqual([0, 1, 2].map((p) => formatMac(dev.macAddr(p))), ['02:00:00:00:00:00', '02:00:00:00:00:01', '02:00:00:00:00:02']);
    assert.equal(dev.info(1).devargs, 'size=128');
    assert.equal(dev.portId('net_ring1'), 2);
    assert.equal(dev.linkStatus(0).up, false);
    assert.equal(EthDev.attach(eal), dev, 'attach is idempotent per Eal');
    dev.promiscuousEnable(0);
    assert.equal(dev.promiscuous(0), true);
    dev.promiscuousDisable(0);
    assert.equal(dev.promiscuous(0), false);
  }));

test('bad devargs, an unknown driver and a duplicate name are refused and leave no port data behind', async () => {
  const cases: [string[], ErrorCode, RegExp][] = [
    [['net_null0,sise=64'], 'EINVAL', /unknown argument 'sise'.*valid: size/],
    [['net_null0,size=0'], 'EINVAL', /size=0/],
    [['net_ring0,peer=0'], 'EINVAL', /itself/],
    [['net_ring0,peer=1', 'net_null0'], 'EINVAL', /not a net_ring/],
    [['net_bogus0'], 'ENODEV', /no network driver 'net_bogus'.*net_ring/],
    [['net_ring0', 'net_ring0'], 'EINVAL', /twice/],
  ];
  for (const [vdevs, code, re] of cases) {
    await withEal(vdevs, (eal) => {
      refused(code, () => EthDev.attach(eal), re);
      assert.equal(eal.memzones.tryLookup('ETHDEV_DATA'), undefined);
    });
  }
});

test('configure, queue setup, start and bind refuse what does not exist or is in the wrong state', () =>
  withEal(['net_ring0', 'net_ring1'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 1024, cacheSize: 32 });
    refused('ENODEV', () => dev.configure(2, { rxQueues: 1, txQueues: 1 }), /no port 2.*2 ports/);
    refused('EINVAL', () => dev.rxQueueSetup(0, 0, { descriptors: 512, pool }), /not configured/);
    refused('EINVAL', () => dev.configure(0, { rxQueues: 33, txQueues: 1 }), /0\.\.32/);
    refused('EINVAL', () => dev.configure(0, { rxQueues: 0, txQueues: 0 }));
    dev.configure(0, { rxQueues: 2, txQueues: 1 });
    refused('EINVAL', () => dev.rxQueueSetup(0, 2, { descriptors: 512, pool }), /2 RX queues \(0\.\.1\): queue 2 does not exist/);
    refused('EINVAL', () => dev.txQueueSetup(0, 1, { descriptors: 512 }), /queue 1 does not exist/);
    refused('EINVAL', () => dev.rxQueueSetup(0, 0, { descriptors: 0, pool }), /descriptors/);
    dev.rxQueueSetup(0, 0, { descriptors: 512, pool });
    dev.txQueueSetup(0, 0, { descriptors: 512 });
    refused('EINVAL', () => dev.start(0), /RX queue 1 is not set up/);
    refused('ENODEV', () => dev.rxQueue(0, 0), /not started/);
    dev.rxQueueSetup(0, 1, { descriptors: 512, pool });
    dev.start(0);
    assert.equal(dev.isStarted(0), true);
    assert.equal(dev.linkStatus(0).up, true);
    refused('EBUSY', () => dev.configure(0, { rxQueues: 1, txQueues: 1 }), /stop it/);
    refused('EBUSY', () => dev.txQueueSetup(0, 0, { descriptors: 512 }), /stop it/);
    refused('EINVAL', () => dev.rxQueue(0, 2), /queue 2 does not exist/);
    refused('EINVAL', () => dev.txBurst(0, 1, new Uint32Array(1), 0), /TX queue.*queue 1 does not exist/);
    refused('ENODEV', () => dev.wire(1), /not started/);
    dev.stop(0);
    assert.equal(dev.linkStatus(0).up, false);
    refused('ENODEV', () => dev.rxQueue(0, 0), /not started/);
    dev.start(0); // setups were kept
    assert.ok(dev.rxQueue(0, 0));
  }));

test('net_null receives packets of the configured size from the pool and frees what it transmits; stats per queue and reset', () =>
  withEal(['net_null0,size=100', 'net_null1'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 2048, cacheSize: 64 });
    setup(dev, pool, 0, 2, 2);
    setup(dev, pool, 1, 1, 1);
    const h = new Uint32Array(32);
    const m = new Mbufs(eal);
    for (let i = 0; i < 10; i++) {
      assert.equal(dev.rxBurst(0, 1, h, 32), 32);
      assert.equal(m.dataLen(h[0]!), 100);
      assert.equal(m.pktLen(h[31]!), 100);
      assert.equal(m.port(h[5]!), 0);
      assert.equal(dev.txBurst(1, 0, h, 32), 32);
    }
    assert.equal(pool.inUse(), 0, 'everything received was freed by TX');
    // Every field RX resets, on mbufs a previous user left dirty (the cache hands them back).
    assert.equal(dev.rxBurst(1, 0, h, 4), 4);
    for (const x of h.subarray(0, 4)) {
      for (const f of [MBUF.OL_FLAGS, MBUF.OL_FLAGS_HI, MBUF.PACKET_TYPE, MBUF.PKT_LEN]) m.u32[(x + f) >>> 2] = 0xdeadbeef;
      for (const f of [MBUF.DATA_OFF, MBUF.NB_SEGS, MBUF.PORT, MBUF.DATA_LEN, MBUF.VLAN_TCI]) m.u16[(x + f) >>> 1] = 77;
      m.u16[(x + MBUF.REFCNT) >>> 1] = 1;
    }
    const dirty = [...h.subarray(0, 4)].sort();
    m.freeBulk(h, 4);
    assert.equal(dev.rxBurst(1, 0, h, 4), 4);
    assert.deepEqual([...h.subarray(0, 4)].sort(), dirty, 'the same mbufs came back');
    for (const x of h.subarray(0, 4)) {
      assert.deepEqual([MBUF.OL_FLAGS, MBUF.OL_FLAGS_HI, MBUF.PACKET_TYPE, MBUF.PKT_LEN].map((f) => m.u32[(x + f) >>> 2]), [0, 0, 0, 64]);
      assert.deepEqual([MBUF.DATA_OFF, MBUF.REFCNT, MBUF.NB_SEGS, MBUF.PORT, MBUF.DATA_LEN, MBUF.VLAN_TCI].map((f) => m.u16[(x + f) >>> 1]), [128, 1, 1, 1, 64, 0]);
    }
    m.freeBulk(h, 4);
    const s0 = dev.stats(0);
    assert.equal(s0.ipackets, 320);
    assert.equal(s0.ibytes, 32000);
    assert.equal(s0.queues[1]!.ipackets, 320);
    assert.equal(s0.queues[0]!.ipackets, 0);
    assert.equal(s0.queues[1]!.rxOwner, process.pid);
    const s1 = dev.stats(1);
    assert.equal(s1.opackets, 320);
    assert.equal(s1.obytes, 32000);
    // No mbuf: nothing received, rx_nombuf counts the burst.
    const big = new Uint32Array(4096);
    assert.equal(dev.rxBurst(0, 0, big, 4096), 0);
    assert.equal(dev.stats(0).rxNombuf, 4096);
    dev.resetStats(0);
    assert.deepEqual([dev.stats(0).ipackets, dev.stats(0).rxNombuf, dev.stats(1).opackets], [0, 0, 320]);
    assert.equal(dev.rxBurst(0, 1, h, 8), 8);
    assert.equal(dev.stats(0).ipackets, 8);
    m.freeBulk(h, 8);
  }));

test('net_null refuses a size that does not fit the pool', () =>
  withEal(['net_null0,size=3000'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 256, cacheSize: 16 });
    setup(dev, pool, 0, 1, 1);
    refused('EINVAL', () => dev.rxQueue(0, 0), /size=3000/);
  }));

// A port of one RX queue with RSS on: inject takes a prefix in one enqueue and only reads the
// caller's array (an ownership record's window naming the ring is exact). The old inject gathered
// the frames per queue and rewrote the caller's array (refused frames copied to its front, then
// moved to its end): a record's array passed in held a handle twice, or lost one, in between.
test('RSS on a port of one RX queue: inject takes a prefix of the burst, records the hash, and leaves the caller\'s array as it was', () =>
  withEal(['net_ring0'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 4096, cacheSize: 64 });
    dev.configure(0, { rxQueues: 1, txQueues: 1, rss: {} });
    dev.rxQueueSetup(0, 0, { descriptors: 64, pool });
    dev.txQueueSetup(0, 0, { descriptors: 64 });
    dev.start(0);
    assert.equal(dev.info(0).rss.on, true);
    const wire = dev.wire(0);
    const m = new Mbufs(eal);
    const h = frames(pool, FlowSet.make({ count: 16 }), 100);
    const before = Uint32Array.from(h);
    const r = wire.inject(h, 100);
    assert.ok(r > 0 && r < 100, `the ring of 64 takes part of 100: ${r}`);
    assert.deepEqual(h, before, 'the caller\'s array unchanged');
    const [got] = drain(dev, 0, 1);
    assert.deepEqual(got, [...before.subarray(0, r)], 'what went is the prefix, in order');
    for (const x of got!) assert.ok((m.olFlags(x) & MBUF_F_RX_RSS_HASH) !== 0);
    m.freeBulk(h, 100);
  }));

test('RSS: a flow lands on the same queue every time, flows spread over the queues, and the hash is in the mbuf', () =>
  withEal(['net_ring0'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 4096, cacheSize: 64 });
    setup(dev, pool, 0, 4, 1);
    const wire = dev.wire(0);
    const m = new Mbufs(eal);
    const flows = FlowSet.make({ count: 256 });
    // 256 flows × 2 packets.
    const h = frames(pool, flows, 512);
    const flowOfHandle = new Map<number, number>();
    for (let i = 0; i < 512; i++) flowOfHandle.set(h[i]!, i % 256);
    assert.equal(wire.inject(h, 512), 512);
    const perQ = drain(dev, 0, 4);
    const queueOfFlow = new Map<number, number>();
    perQ.forEach((got, q) => {
      for (const x of got) {
        const f = flowOfHandle.get(x)!;
        if (queueOfFlow.has(f)) assert.equal(queueOfFlow.get(f), q, `flow ${f} on two queues`);
        queueOfFlow.set(f, q);
        assert.ok((m.olFlags(x) & MBUF_F_RX_RSS_HASH) !== 0);
        assert.equal(m.port(x), 0);
      }
    });
    assert.equal(queueOfFlow.size, 256);
    for (const got of perQ) assert.ok(got.length > 512 * 0.15 && got.length < 512 * 0.35, `queue shares ${perQ.map((g) => g.length)}`);
    // Same flows again: same queues, same hashes.
    const hashOf = new Map<number, number>();
    for (const got of perQ) for (const x of got) hashOf.set(flowOfHandle.get(x)!, m.rssHash(x));
    for (const got of perQ) m.freeBulk(Uint32Array.from(got), got.length);
    const h2 = frames(pool, flows, 256);
    const f2 = new Map<number, number>();
    for (let i = 0; i < 256; i++) f2.set(h2[i]!, i);
    assert.equal(wire.inject(h2, 256), 256);
    drain(dev, 0, 4).forEach((got, q) => {
      for (const x of got) {
        assert.equal(queueOfFlow.get(f2.get(x)!), q);
        assert.equal(m.rssHash(x), hashOf.get(f2.get(x)!));
      }
      m.freeBulk(Uint32Array.from(got), got.length);
    });
    assert.equal(pool.inUse(), 0);
    assert.equal(dev.stats(0).ipackets, 768);
  }));

test('symmetric RSS keeps both directions of a flow on one queue', () =>
  withEal(['net_ring0'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 4096, cacheSize: 64 });
    setup(dev, pool, 0, 4, 1, { rss: { symmetric: true } });
    assert.equal(dev.info(0).rss.symmetric, true);
    const wire = dev.wire(0);
    const fwd = FlowSet.make({ count: 64, srcIp: '10.0.0.1', dstIp: '192.168.7.9', sport: 1000, dport: 80, vary: ['srcIp', 'sport'] });
    const rev = new FlowSet(64, fwd.dstMac, fwd.srcMac);
    for (let i = 0; i < 64; i++) {
      rev.srcIp[i] = fwd.dstIp[i]!;
      rev.dstIp[i] = fwd.srcIp[i]!;
      rev.sport[i] = fwd.dport[i]!;
      rev.dport[i] = fwd.sport[i]!;
    }
    const a = frames(pool, fwd, 64);
    const b = frames(pool, rev, 64);
    const flow = new Map<number, number>();
    for (let i = 0; i < 64; i++) {
      flow.set(a[i]!, i);
      flow.set(b[i]!, i);
    }
    assert.equal(wire.inject(a, 64), 64);
    assert.equal(wire.inject(b, 64), 64);
    const qOf = new Map<number, Set<number>>();
    const perQ = drain(dev, 0, 4);
    perQ.forEach((got, q) => got.forEach((x) => {
      const f = flow.get(x)!;
      if (!qOf.has(f)) qOf.set(f, new Set());
      qOf.get(f)!.add(q);
    }));
    assert.equal(qOf.size, 64);
    for (const [f, qs] of qOf) assert.equal(qs.size, 1, `flow ${f} on queues ${[...qs]}`);
    assert.ok(perQ.filter((g) => g.length > 0).length >= 3, 'flows spread over the queues');
    const m = new Mbufs(eal);
    for (const got of perQ) m.freeBulk(Uint32Array.from(got), got.length);
  }));

test('wire: every packet injected comes out once when forwarded; a full ring leaves the rest to the caller, counted by no port (the sender\'s, as DPDK\'s net_ring)', () =>
  withEal(['net_ring0', 'net_ring1'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 8192, cacheSize: 64 });
    setup(dev, pool, 0, 2, 2);
    setup(dev, pool, 1, 2, 2);
    const w0 = dev.wire(0);
    const w1 = dev.wire(1);
    const m = new Mbufs(eal);
    const flows = FlowSet.make({ count: 32 });
    const seen = new Set<number>();
    const buf = new Uint32Array(64);
    let sent = 0;
    for (let round = 0; round < 20; round++) {
      const h = frames(pool, flows, 100);
      assert.equal(w0.inject(h, 100), 100);
      sent += 100;
      // Forward: port 0 queue q -> port 1 queue q, rewriting the MACs.
      for (let q = 0; q < 2; q++) {
        for (let k = dev.rxBurst(0, q, buf, 64); k > 0; k = dev.rxBurst(0, q, buf, 64)) {
          for (let i = 0; i < k; i++) {
            const off = m.dataOffset(buf[i]!);
            m.u8[off + 5] = 1;
          }
          assert.equal(dev.txBurst(1, q, buf, k), k);
        }
      }
      for (let k = w1.collect(buf, 64); k > 0; k = w1.collect(buf, 64)) {
        for (let i = 0; i < k; i++) {
          const off = m.dataOffset(buf[i]!);
          assert.equal(m.u8[off + 5], 1);
          const seq = m.u8[off + 46]! | (m.u8[off + 47]! << 8) | (round << 16);
          assert.ok(!seen.has(seq), 'each packet once');
          seen.add(seq);
        }
        m.freeBulk(buf, k);
      }
    }
    assert.equal(seen.size, sent);
    assert.equal(dev.stats(1).opackets, sent);
    assert.equal(pool.inUse(), 0);
    // Overfill port 0 (2 queues × 512): the wire takes what fits.
    const many = frames(pool, flows, 2000);
    const r = w0.inject(many, 2000);
    assert.ok(r <= 1024 && r > 0, `took ${r}`);
    assert.equal(dev.stats(0).imissed, 0, 'nothing was lost on the way in: the sender still holds what the ring refused');
    const rest = new Set(many.subarray(r));
    assert.equal(rest.size, 2000 - r);
    m.freeBulk(many.subarray(r), 2000 - r);
    drain(dev, 0, 2).forEach((got) => {
      for (const x of got) assert.ok(!rest.has(x), 'a packet not taken was also received');
      m.freeBulk(Uint32Array.from(got), got.length);
    });
    assert.equal(pool.inUse(), 0);
  }));

test('a capture ring holds pcap records that wrap at its end without a byte lost or changed', () =>
  withEal(['net_ring0'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 1024 });
    setup(dev, pool, 0, 1, 1);
    const w = dev.wire(0, 'inject');
    const rxq = dev.rxQueue(0, 0); // bound before the capture: it is tapped
    const cap = CaptureReader.open(eal, 0, 0, 'rx', { ringBytes: CAP_MIN_BYTES });
    const m = new Mbufs(eal);
    const h = new Uint32Array(32);
    const got = new Uint32Array(32);
    let seq = 0;
    let checked = 0;
    let bad = '';
    const expect = new Map<number, number>(); // seq -> length
    const data = cap.cap + CAPH.DATA;
    let end = 0; // where the last record ended in the data area
    const tails: number[] = []; // bytes left unused at the end of each trip round the ring
    const sink = (u8: Uint8Array, off: number, caplen: number, len: number): void => {
      const pos = off - 16 - data;
      if (pos < end) tails.push(CAP_MIN_BYTES - end);
      end = pos + ((16 + caplen + 3) & ~3);
      const s = u8[off]! | (u8[off + 1]! << 8) | (u8[off + 2]! << 16);
      const want = expect.get(s);
      if (want === undefined || caplen !== want || len !== want) bad ||= `record ${checked}: seq ${s}, caplen ${caplen}, len ${len}, expected ${want}`;
      for (let i = 3; i < caplen && !bad; i++) if (u8[off + i] !== ((s + i) & 0xff)) bad = `record ${checked} (seq ${s}): byte ${i} is ${u8[off + i]}`;
      expect.delete(s);
      checked++;
    };
    // Lengths 60..187 (records of 76..204 bytes) over ~40 trips round a 128 KiB ring: the
    // space left at the end takes every multiple of 4, some shorter than a record header.
    for (let round = 0; round < 1500; round++) {
      assert.equal(pool.allocBulk(h, 32), 32);
      for (let i = 0; i < 32; i++, seq++) {
        const len = 60 + ((seq * 37) & 127);
        const off = m.dataOffset(h[i]!);
        m.u8[off] = seq & 0xff;
        m.u8[off + 1] = (seq >>> 8) & 0xff;
        m.u8[off + 2] = (seq >>> 16) & 0xff;
        for (let b = 3; b < len; b++) m.u8[off + b] = ((seq & 0xffffff) + b) & 0xff;
        m.setDataLen(h[i]!, len);
        m.setPktLen(h[i]!, len);
        expect.set(seq & 0xffffff, len);
      }
      assert.equal(w.inject(h, 32), 32);
      const k = rxq.rxBurst(got, 32);
      assert.equal(k, 32);
      m.freeBulk(got, k);
      cap.drain(sink);
      assert.equal(bad, '', bad);
    }
    assert.equal(checked, seq);
    assert.equal(expect.size, 0, 'every packet captured once');
    assert.ok(tails.some((t) => t > 0 && t < 16) && tails.some((t) => t >= 16), `both kinds of wrap happened: ${tails.join(' ')}`);
    assert.equal(cap.counters().drops, 0);
    cap.close();
    assert.equal(pool.inUse(), 0);
  }));

test('peer=1 wires two ring ports back to back: what port 0 sends on TX q, port 1 receives on RX q', () =>
  withEal(['net_ring0,peer=1', 'net_ring1'], (eal) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 1024, cacheSize: 32 });
    setup(dev, pool, 0, 2, 2);
    refused('EINVAL', () => setup(dev, pool, 1, 1, 2), /peered ports/);
    dev.configure(1, { rxQueues: 2, txQueues: 2 });
    for (let q = 0; q < 2; q++) {
      dev.rxQueueSetup(1, q, { descriptors: 512, pool });
      dev.txQueueSetup(1, q, { descriptors: 512 });
    }
    dev.start(1);
    refused('EINVAL', () => dev.wire(1), /back to back/);
    const flows = FlowSet.make({ count: 4 });
    const h = frames(pool, flows, 10);
    const want = [...h];
    assert.equal(dev.txBurst(0, 1, h, 10), 10);
    const buf = new Uint32Array(32);
    assert.equal(dev.rxBurst(1, 0, buf, 32), 0);
    assert.equal(dev.rxBurst(1, 1, buf, 32), 10);
    assert.deepEqual([...buf.subarray(0, 10)], want);
    assert.equal(dev.txBurst(1, 0, buf, 10), 10);
    const back = new Uint32Array(32);
    assert.equal(dev.rxBurst(0, 0, back, 32), 10);
    new Mbufs(eal).freeBulk(back, 10);
    assert.equal(pool.inUse(), 0);
  }));

function child(prefix: string, lcore: number, action: string): Child {
  return spawnNode(CHILD, ['-l', String(lcore), '--file-prefix', prefix, '--proc-type=secondary', '--log-level', 'error', '--', action]);
}

async function json(c: Child, re: RegExp, ms = 8000): Promise<Record<string, unknown>> {
  const m = await c.waitFor(re, ms);
  const line = c.out.split('\n').find((l) => re.test(l))!;
  void m;
  return JSON.parse(line) as Record<string, unknown>;
}

test('a secondary sees the same ports without --vdev and its attach resets no counter', () =>
  withEal(['net_ring0', 'net_null0'], async (eal, prefix) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 1024, cacheSize: 32 });
    setup(dev, pool, 1, 1, 1);
    const h = new Uint32Array(32);
    for (let i = 0; i < 3; i++) {
      dev.rxBurst(1, 0, h, 32);
      dev.txBurst(1, 0, h, 32);
    }
    const c = child(prefix, 1, 'info');
    const info = await json(c, /"count"/);
    assert.equal(await c.exited, 0);
    assert.equal(info.count, 2);
    assert.deepEqual(info.macs, ['02:00:00:00:00:00', '02:00:00:00:00:01']);
    assert.deepEqual(info.names, ['net_ring0', 'net_null0']);
    assert.equal(dev.stats(1).ipackets, 96);
    assert.equal(dev.stats(1).opackets, 96);
    // A secondary with other --vdev options is refused, naming both.
    const bad = spawnNode(CHILD, ['-l', '2', '--file-prefix', prefix, '--proc-type=secondary', '--log-level', 'error', '--vdev', 'net_ring5', '--', 'info']);
    const err = await json(bad, /"error"/);
    assert.equal(err.error, 'EINVAL');
    assert.match(String(err.message), /net_ring5.*net_ring0, net_null0/);
    await bad.exited;
  }));

test('two processes use two RX queues of one ring port; a second claim of a live owner\'s queue is refused naming its pid', () =>
  withEal(['net_ring0'], async (eal, prefix) => {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pkt', { count: 4096, cacheSize: 64 });
    setup(dev, pool, 0, 2, 1);
    const a = child(prefix, 1, 'rx:0:0:300:2000'); // until the 2000 sent below are all received
    const b = child(prefix, 2, 'rx:0:1:300:2000');
    const ca = await json(a, /"claimed"/);
    await json(b, /"claimed"/);
    const c = child(prefix, 3, 'claim:0:0');
    const ce = await json(c, /"error"|"claimed"/);
    assert.equal(ce.error, 'EBUSY');
    assert.match(String(ce.message), new RegExp(`RX queue 0 of net_ring0.*pid ${ca.pid as number}`));
    await c.exited;
    assert.equal(dev.info(0).rxq[0]!.owner, ca.pid);
    refused('EBUSY', () => dev.rxQueue(0, 1), /pid/);
    const wire = dev.wire(0);
    const flows = FlowSet.make({ count: 128 });
    let sent = 0;
    for (let i = 0; i < 20; i++) {
      const h = frames(pool, flows, 100);
      let off = 0;
      while (off < 100) {
        const k = wire.inject(h.subarray(off), 100 - off);
        off += k;
        if (k === 0) await new Promise((r) => setTimeout(r, 2));
      }
      sent += 100;
    }
    const ra = await json(a, /"got"/);
    const rb = await json(b, /"got"/);
    assert.equal(await a.exited, 0);
    assert.equal(await b.exited, 0);
    assert.equal((ra.got as number) + (rb.got as number), sent);
    assert.ok((ra.got as number) > 0 && (rb.got as number) > 0);
    const s = dev.stats(0);
    assert.equal(s.queues[0]!.ipackets, ra.got);
    assert.equal(s.queues[1]!.ipackets, rb.got);
    // The owners are gone: their queues can be claimed again.
    assert.ok(dev.rxQueue(0, 0));
  }));
