/**
 * A scripted holder of mbufs for test/ownership.test.ts:
 *   node ownership-child.js <EAL args> -- <mode> key=value...
 *
 *   forward in=RING out=RING burst=B   open a Hands record (2 arrays of 64), receive bursts of up
 *     [warm=RING] [rings=R]            to B from ring `in` into array 0, send them to ring `out`
 *                                      (first one burst from ring `warm`: stale handles in array 0);
 *                                      run with MPDK_TEST_HOOK=hands:rx / hands:tx to stop inside
 *                                      a window (the test SIGKILLs it there); rings=R: the record
 *                                      names R rings of its own first (30: its table full, the
 *                                      windows name `in` and `out` themselves)
 *   leak pool=P count=N                allocate N mbufs into a plain JS array (no record), print
 *                                      "holding", wait to be killed
 *   free pool=P count=N [rings=R]      allocate N mbufs into array 0 of a record and free them
 *                                      through it (MPDK_TEST_HOOK=hands:free stops after the put);
 *                                      rings=R: the record names R rings of its own first (30: its
 *                                      table full)
 *   freechains pool=P count=N segs=S   N packets of S-segment chains in array 0 of a record (of C
 *     [cap=C]                          handles; S > C: one packet, chained before the record holds
 *                                      its head), freed through it (MPDK_TEST_HOOK=
 *                                      hands:free-segments stops with their segments named and
 *                                      cut, freeing:run after a run's put, ring-claim:prod inside
 *                                      it, hands:free after the free)
 *   flush pool=P [outside=yes]         take 20 mbufs into a record (its lcore cache keeps 32), free
 *                                      them through it (outside=yes: put them outside it, the record
 *                                      still naming them): the put flushes the cache first
 *                                      (MPDK_TEST_HOOK=mempool:flush stops there)
 *   get pool=P count=N                 allocate N mbufs (N > the cache: straight from the pool's
 *                                      ring; MPDK_TEST_HOOK=ring-claim:cons stops inside that claim)
 *   alloc pool=P count=N               take N mbufs into array 0 of a record with Hands.alloc
 *                                      (MPDK_TEST_HOOK=mempool:get stops before the cache's LEN
 *                                      store, hands:get after it, before the record's commit)
 *   rxnull count=N [cap=C] [fill=yes]  receive up to N mbufs from RX queue 0 of port 0 (net_null, net_pcap,
 *                                      net_memif; the first burst that brings any, 10 s at most) into
 *                                      array 0 of a record (Hands.rxSource: the driver's get is
 *                                      recorded; MPDK_TEST_HOOK=mempool:get stops before the
 *                                      cache's LEN store, hands:rx after it, before the commit);
 *                                      fill=yes: the memzone table filled first (own_fill_<k>);
 *                                      a refused bind prints "refused <code>: <message>" and waits
 *   rxfill count=N [free=yes]          receive from RX queue 0 of port 0 into array 0 of a record
 *     [poll=yes]                       (Hands.rxSource) until it holds N (20 s at most), print
 *                                      "received <n>", then free them through it with free=yes;
 *                                      with poll=yes go on polling the queue (one at a time)
 *                                      (net_memif zero-copy: MPDK_TEST_HOOK=memif-zc:* stop inside
 *                                      its bursts, hands:rx / hands:free inside the record's)
 *   txzc pool=P count=N                once port 0 is up, send N 64-byte packets (of 3-segment chains
 *     [segs=3]                         with segs=3) from array 0 of a record (Hands.alloc, then tx to TX
 *                                      queue 0: net_memif zero-copy lends them), print "sent <n>", then
 *                                      poll the queue with empty bursts (each frees what the peer read)
 *                                      (MPDK_TEST_HOOK=memif-zc:send / recycle / freed, hands:tx stop
 *                                      inside the send or the free of what the peer read)
 *   txnull pool=P count=N [segs=S]     take N mbufs (of S-segment chains) into array 0 of a record and send them
 *     [pre=M]                          on TX queue 0 of port 0 (Hands.tx to a driver without a ring:
 *                                      net_null frees what it takes), print "sent <n>", wait; with
 *                                      pre=M first wait for the link and send M lone packets (a
 *                                      net_memif copy-mode queue its peer does not read: the ring
 *                                      then takes the burst in part)
 *                                      (MPDK_TEST_HOOK=ethdev:tx stops as the burst is handed to the
 *                                      driver, mempool:flush / ring-claim:prod inside its free,
 *                                      hands:tx after it, before the record's commit)
 *   chain pool=P ring=R                two 3-segment packets (Mbufs.chain): one's head held in array
 *                                      0 of a record, the other's head enqueued on ring R; print
 *                                      "ready", wait to be killed
 *   share pool=P ring=R count=N        N mbufs shared with whoever dequeues ring R (refcnt 2: one
 *     [chain=yes] [free=yes]           reference in array 0 of a record, one enqueued on R: added by
 *     [via=record]                     Mbufs.refcntUpdate, or with via=record by Hands.share into
 *                                      array 1, then sent from it); with
 *                                      chain=yes the record holds N 2-segment chains whose second
 *                                      segment is the shared one; free=yes: then free array 0 through
 *                                      the record (MPDK_TEST_HOOK=refcnt:* stop inside a shared
 *                                      count's change, hands:free-segments after it); prints
 *                                      "ready" once shared, "freed" after
 *   reclaim                            call reclaimDead once, print its report as JSON, exit
 *   successor pool=P                   as a program taking over a dead one's lcore (pktgen): reclaimDead,
 *                                      then 8 mbufs got and put through the lcore's cache, the cache
 *                                      flushed (as pktgen's exit), the report printed as JSON, exit
 *   use pool=P                         as a program taking over a dead one's lcore WITHOUT reclaiming
 *                                      first: open the pool, 8 mbufs got and put through the lcore's
 *                                      cache, the cache flushed, print {"used":8}, exit
 *   idle                               claim the lcore, open no pool, print "ready", wait to be killed
 * Prints "ready" once set up.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, EthDev, Hands, Mbufs, PktmbufPool, Ring, reclaimDead, stderrLogger } from '../src/index.js';
import { childArgv, out } from './child-argv.js';

const { ealArgs, mode, opt } = childArgv();

const { eal } = Eal.init(ealArgs, { name: `ownership-child:${mode}`, logger: stderrLogger, handleSignals: true });
eal.onPrimaryExit(() => undefined);
const cell = new Int32Array(new SharedArrayBuffer(4));
const nap = (ms: number): void => void Atomics.wait(cell, 0, 0, ms);

/** Array 0 of `hands` made to hold `n` packets of `segs` 20-byte segments each (Hands.alloc from pool `opt.pool`, Mbufs.chain): returns it. */
function chainsHeld(hands: Hands, n: number, segs: number): Uint32Array {
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const mbufs = new Mbufs(eal);
  hands.alloc(0, pool, n * segs);
  const a = hands.array(0);
  for (let i = 0; i < n * segs; i++) {
    mbufs.setDataLen(a[i]!, 20);
    mbufs.setPktLen(a[i]!, 20);
  }
  for (let i = 0; i < n; i++) {
    const head = a[i * segs]!;
    for (let k = 1; k < segs; k++) mbufs.chain(head, a[i * segs + k]!);
    a[i] = head; // heads first (a[i * segs] for i' < i already moved)
  }
  hands.commit(0, n);
  return a;
}

if (mode === 'reclaim') {
  process.stdout.write(JSON.stringify(reclaimDead(eal)) + '\n');
  eal.close();
  process.exit(0);
} else if (mode === 'successor') {
  const rep = reclaimDead(eal);
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const hs = new Uint32Array(8);
  pool.allocBulk(hs, 8);
  pool.mp.putBulk(hs, 8);
  pool.mp.flushCache(eal.lcoreId);
  process.stdout.write(JSON.stringify(rep) + '\n');
  eal.close();
  process.exit(0);
} else if (mode === 'use') {
  process.stdout.write('opening\n');
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const hs = new Uint32Array(8);
  const got = pool.allocBulk(hs, 8);
  pool.mp.putBulk(hs, got);
  pool.mp.flushCache(eal.lcoreId);
  process.stdout.write(JSON.stringify({ used: got }) + '\n');
  eal.close();
  process.exit(0);
} else if (mode === 'idle') {
  process.stdout.write('ready\n');
  for (;;) nap(1000);
} else if (mode === 'forward') {
  const hands = Hands.open(eal, 'test-forward', 2, 64);
  for (let i = 0; i < Number(opt.rings ?? 0); i++) hands.sink(Ring.create(eal, `own_fill${i}`, { count: 64 })); // the record's ring table filled
  const src = hands.source(Ring.lookup(eal, opt.in!));
  const dst = hands.sink(Ring.lookup(eal, opt.out!));
  const burst = Number(opt.burst ?? 32);
  if (opt.warm) {
    hands.rx(0, hands.source(Ring.lookup(eal, opt.warm)), burst);
    hands.tx(0, dst);
  }
  process.stdout.write('ready\n');
  const end = Date.now() + 20000;
  while (Date.now() < end) {
    if (hands.rx(0, src, burst) === 0) nap(1);
    hands.tx(0, dst);
  }
} else if (mode === 'leak') {
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const held = new Uint32Array(Number(opt.count));
  pool.allocBulk(held, held.length);
  process.stdout.write('ready\nholding\n');
  for (;;) nap(1000);
} else if (mode === 'get') {
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const held = new Uint32Array(Number(opt.count));
  process.stdout.write('ready\n');
  pool.allocBulk(held, held.length);
  for (;;) nap(1000);
} else if (mode === 'share') {
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const mbufs = new Mbufs(eal);
  const hands = Hands.open(eal, 'test-share', 2, 64);
  const n = Number(opt.count);
  const chains = opt.chain === 'yes';
  hands.alloc(0, pool, chains ? 2 * n : n);
  const a = hands.array(0);
  const shared = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    if (chains) {
      const head = a[2 * i]!;
      const seg = a[2 * i + 1]!;
      mbufs.chain(head, seg);
      a[i] = head; // heads first (a[2i'] for i' < i already moved)
      shared[i] = seg;
    } else shared[i] = a[i]!;
  }
  if (chains) hands.commit(0, n); // the record holds the heads; each one's second segment is its chain's
  const ring = Ring.lookup(eal, opt.ring!);
  if (opt.via === 'record') {
    // Each reference added through the record (Hands.share into array 1), then array 1 sent.
    for (let i = 0; i < n; i++) hands.share(1, shared[i]!);
    if (hands.tx(1, hands.sink(ring)) !== n) throw new Error('the ring took fewer than the shared');
  } else {
    for (let i = 0; i < n; i++) mbufs.refcntUpdate(shared[i]!, 1);
    ring.enqueueBulk(shared, n); // the other reference: whoever dequeues it
  }
  process.stdout.write('ready\n');
  if (opt.free === 'yes') {
    hands.free(0);
    process.stdout.write('freed\n');
  }
  for (;;) nap(1000);
} else if (mode === 'chain') {
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const mbufs = new Mbufs(eal);
  const hands = Hands.open(eal, 'test-chain', 1, 64);
  hands.alloc(0, pool, 6);
  const a = hands.array(0);
  for (const head of [0, 3]) {
    mbufs.chain(a[head]!, a[head + 1]!);
    mbufs.chain(a[head]!, a[head + 2]!);
  }
  const second = Uint32Array.of(a[3]!);
  Ring.lookup(eal, opt.ring!).enqueueBulk(second, 1);
  hands.commit(0, 1); // the record holds the first head; its segments are its chain's
  process.stdout.write('ready\n');
  for (;;) nap(1000);
} else if (mode === 'rxnull') {
  const dev = EthDev.attach(eal);
  const hands = Hands.open(eal, 'test-rxnull', 1, Number(opt.cap ?? 64));
  if (opt.fill === 'yes') {
    // The memzone table filled (memzones "own_fill_<k>", for the test to free): nothing left to reserve.
    try {
      for (let k = 0; ; k++) eal.memzones.reserve(`own_fill_${k}`, 64, 64);
    } catch {
      /* full */
    }
  }
  let src;
  try {
    src = hands.rxSource(dev, 0, 0);
  } catch (e) {
    process.stdout.write(`refused ${(e as { code?: string }).code}: ${(e as Error).message}\n`);
    for (;;) nap(1000);
  }
  process.stdout.write('ready\n');
  let k = 0;
  for (const end = Date.now() + 10000; k === 0 && Date.now() < end;) if ((k = hands.rx(0, src, Number(opt.count))) === 0) nap(1);
  process.stdout.write(`received ${k}\n`);
  for (;;) nap(1000);
} else if (mode === 'rxfill') {
  const dev = EthDev.attach(eal);
  const hands = Hands.open(eal, 'test-rxfill', 1, 64);
  const src = hands.rxSource(dev, 0, 0);
  const want = Number(opt.count);
  process.stdout.write('ready\n');
  for (const end = Date.now() + 20000; hands.count(0) < want && Date.now() < end;) if (hands.rx(0, src, want - hands.count(0)) === 0) nap(1);
  process.stdout.write(`received ${hands.count(0)}\n`);
  if (opt.free === 'yes') hands.free(0);
  if (opt.poll === 'yes') for (;;) if (hands.rx(0, src, 1) === 0) nap(1); // sees the link go down (the queue leaves its connection)
  for (;;) nap(1000);
} else if (mode === 'txzc') {
  const dev = EthDev.attach(eal);
  const hands = Hands.open(eal, 'test-txzc', 1, 64);
  const dst = hands.txSink(dev, 0, 0);
  const n = Number(opt.count);
  const a = chainsHeld(hands, n, Number(opt.segs ?? 1));
  process.stdout.write('ready\n');
  for (const end = Date.now() + 10000; !dev.linkStatus(0).up && Date.now() < end;) nap(5);
  let sent = 0;
  for (const end = Date.now() + 10000; hands.count(0) > 0 && Date.now() < end;) if ((sent += hands.tx(0, dst)) < n) nap(1);
  process.stdout.write(`sent ${sent}\n`);
  for (;;) {
    dst.q.txBurst(a, 0); // frees what the peer read
    nap(1);
  }
} else if (mode === 'txnull') {
  const dev = EthDev.attach(eal);
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const hands = Hands.open(eal, 'test-txnull', 1, 64);
  const dst = hands.txSink(dev, 0, 0);
  if (opt.pre) {
    // Once the link is up, fill the queue with `pre` lone packets (a peer that reads none: the burst below is taken in part).
    for (const end = Date.now() + 10000; !dev.linkStatus(0).up && Date.now() < end;) nap(5);
    let pre = Number(opt.pre);
    while (pre > 0) {
      const k = hands.alloc(0, pool, Math.min(pre, 64)) && hands.tx(0, dst);
      if (k === 0 || hands.count(0) > 0) throw new Error(`pre-filling the queue: ${pre} left, ${hands.count(0)} not taken`);
      pre -= k;
    }
  }
  if (opt.segs) chainsHeld(hands, Number(opt.count), Number(opt.segs));
  else hands.alloc(0, pool, Number(opt.count));
  process.stdout.write('ready\n');
  process.stdout.write(`sent ${hands.tx(0, dst)}\n`);
  for (;;) nap(1000);
} else if (mode === 'alloc') {
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const hands = Hands.open(eal, 'test-alloc', 1, 64);
  process.stdout.write('ready\n');
  const k = hands.alloc(0, pool, Number(opt.count));
  process.stdout.write(`allocated ${k}\n`);
  for (;;) nap(1000);
} else if (mode === 'freechains') {
  const cap = Number(opt.cap ?? 64);
  const hands = Hands.open(eal, 'test-freechains', 1, cap);
  const segs = Number(opt.segs);
  if (segs <= cap) chainsHeld(hands, Number(opt.count), segs);
  else {
    // One packet of more segments than the array holds, chained before the record holds its head.
    const all = new Uint32Array(segs);
    const mbufs = new Mbufs(eal);
    PktmbufPool.lookup(eal, opt.pool!).allocBulk(all, segs);
    for (const m of all) {
      mbufs.setDataLen(m, 20);
      mbufs.setPktLen(m, 20);
    }
    for (let k = 1; k < segs; k++) mbufs.chain(all[0]!, all[k]!);
    hands.array(0)[0] = all[0]!;
    hands.commit(0, 1);
  }
  process.stdout.write('ready\n');
  hands.free(0);
  process.stdout.write('freed\n');
  for (;;) nap(1000);
} else if (mode === 'flush') {
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const hands = Hands.open(eal, 'test-flush', 1, 64);
  pool.allocBulk(hands.array(0), 20); // the cache is refilled with 32 + 20: 32 stay in it
  hands.commit(0, 20);
  process.stdout.write('ready\n');
  if (opt.outside === 'yes') pool.mp.putBulk(hands.array(0), 20); // the same put outside the record (which still names the 20)
  else hands.free(0); // 32 + 20 > 48: the put flushes the cache first
  for (;;) nap(1000);
} else if (mode === 'free') {
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const hands = Hands.open(eal, 'test-free', 1, 64);
  for (let i = 0; i < Number(opt.rings ?? 0); i++) hands.sink(Ring.create(eal, `own_fill${i}`, { count: 64 })); // the record's ring table filled
  const n = Number(opt.count);
  pool.allocBulk(hands.array(0), n);
  hands.commit(0, n);
  process.stdout.write('ready\n');
  hands.free(0);
  process.stdout.write('freed\n');
  for (;;) nap(1000);
}
