/**
 * The library as a Node program meets it: `Eal.init` with an options object (the same EAL
 * options as the argv form, refusals naming the key), creation functions taking options,
 * and Node's defaults: no output unless a logger or NODE_DEBUG=mpdk, no signal handler
 * unless asked, `using` releasing what `close()` releases.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Eal, EthDev, Mempool, PktmbufPool, Ring, parseEalArgs, remoteLaunch, type EalConfig, type LogLevel,
} from '../src/index.js';
import { leftovers, reapAll, refused, removeInstance, run, sleep, spawnNode, uniquePrefix, until } from './helpers.js';

const CHILD = 'dist/test/options-child.js';

after(reapAll);

/** Lcores beyond this machine's CPUs: the test process is not pinned by its own Eal. */
const L = 40;

test('an options object gives the same EAL options as the DPDK command line it stands for', () => {
  const p = uniquePrefix('opt');
  const config: EalConfig = { lcores: [L + 3, L + 5], mainLcore: L + 5, procType: 'primary', filePrefix: p, memoryMiB: 16, vdevs: ['net_null0', 'net_ring0'], logLevel: 'warning' };
  const argv = ['-l', `${L + 3},${L + 5}`, '--main-lcore', String(L + 5), '--proc-type=primary', '--file-prefix', p, '-m', '16', '--vdev', 'net_null0', '--vdev', 'net_ring0', '--log-level', 'warning'];
  const eal = Eal.init(config);
  try {
    assert.deepEqual(eal.options, parseEalArgs(argv).eal);
    assert.equal(eal.isPrimary, true);
    assert.equal(eal.lcoreId, L + 5);
    assert.equal(eal.region.size, 16 * 2 ** 20);
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
  // A core list string, and the defaults (lcore 0 is the first, DPDK's defaults otherwise).
  assert.deepEqual(parseEalArgs(['-l', '1-3,7']).eal.lcores, [1, 2, 3, 7]);
  const q = uniquePrefix('opt');
  const d = Eal.init({ lcores: `${L}-${L + 2}`, filePrefix: q });
  try {
    assert.deepEqual(d.options, parseEalArgs(['-l', `${L}-${L + 2}`, '--file-prefix', q]).eal);
    assert.equal(d.options.memoryMb, 256);
    assert.equal(d.options.procType, 'primary');
  } finally {
    d.close();
  }
});

test('a bad option is refused with EINVAL naming its key (and the nearest valid one), and creates nothing', () => {
  const p = uniquePrefix('opt');
  const cases: [EalConfig | Record<string, unknown>, RegExp][] = [
    [{ filePrefix: 'a b' }, /Eal\.init: invalid filePrefix 'a b': " " is not allowed; use 1-32 letters/],
    [{ filePrefix: p, memoryMiB: 2 }, /invalid memoryMiB '2': expected a size in MiB from 4 to 4095/],
    [{ filePrefix: p, memoryMiB: 1.5 }, /invalid memoryMiB: expected a whole number/],
    [{ filePrefix: p, lcores: [] }, /invalid lcores: expected a non-empty array/],
    [{ filePrefix: p, lcores: '3-1' }, /invalid lcores '3-1': range 3-1 runs backwards/],
    [{ filePrefix: p, lcores: [L], mainLcore: L + 1 }, /invalid mainLcore 41: it is not among the lcores 40/],
    [{ filePrefix: p, procType: 'tertiary' as never }, /invalid procType 'tertiary': expected primary, secondary or auto/],
    [{ filePrefix: p, vdevs: 'net_ring0' as never }, /invalid vdevs: expected an array/],
    [{ filePrefix: p, vdevs: ['ring0'] }, /invalid vdevs 'ring0'/],
    [{ filePrefix: p, logLevel: 'loud' as never }, /invalid logLevel 'loud'/],
    [{ filePrefix: p, lcore: [L] }, /unknown option 'lcore': did you mean lcores\?/],
    [{ filePrefix: p, fileprefix: 'x' }, /unknown option 'fileprefix': did you mean filePrefix\?/],
  ];
  for (const [config, re] of cases) refused('EINVAL', () => Eal.init(config as EalConfig), re);
  refused('EINVAL', () => Eal.init(null as unknown as EalConfig), /expected an options object/);
  // A refusal at run time keeps its own code and words.
  refused('ENOENT', () => Eal.init({ filePrefix: p, procType: 'secondary' }), /no primary process is running/);
  assert.deepEqual(leftovers(p), []);
});

test('rings, pools, packet pools and ports are made from options objects', () => {
  const p = uniquePrefix('opt');
  const eal = Eal.init({ lcores: [L], filePrefix: p, memoryMiB: 64, vdevs: ['net_ring0'] });
  try {
    const spsc = Ring.create(eal, 'spsc', { count: 100, exactSize: true, singleProducer: true, singleConsumer: true });
    assert.equal(spsc.capacity, 100);
    assert.equal(Ring.create(eal, 'plain', { count: 64 }).capacity, 63);
    refused('EINVAL', () => Ring.create(eal, 'odd', { count: 100 }), /power of two .* or give exactSize: true/);
    const mp = Mempool.create(eal, 'msgs', { count: 255, eltSize: 100, cacheSize: 16, privateSize: 8 });
    assert.deepEqual([mp.size, mp.eltSize, mp.cacheSize, mp.privateSize, mp.debug], [255, 100, 16, 8, false]);
    assert.equal(Mempool.create(eal, 'dbg', { count: 8, eltSize: 8, debug: true }).debug, true);
    const pool = PktmbufPool.create(eal, 'pkts', { count: 511, cacheSize: 32, dataRoomSize: 512, headroom: 0 });
    const h = pool.alloc();
    assert.equal(pool.dataOff(h), 0, 'headroom 0: the data starts at the buffer');
    assert.equal(pool.tailroom(h), 512);
    pool.free(h);
    refused('EINVAL', () => PktmbufPool.create(eal, 'bad', { count: 8, dataRoomSize: 64, headroom: 65 }), /headroom 65/);
    const dev = EthDev.attach(eal);
    dev.configure(0, { rxQueues: 2, txQueues: 1, rss: { symmetric: true } });
    dev.rxQueueSetup(0, 0, { descriptors: 256, pool });
    dev.rxQueueSetup(0, 1, { descriptors: 256, pool });
    dev.txQueueSetup(0, 0, { descriptors: 512 });
    dev.start(0);
    const info = dev.info(0);
    assert.deepEqual([info.nbRx, info.nbTx, info.rss.symmetric, info.rxq[0]!.nbDesc, info.txq[0]!.nbDesc], [2, 1, true, 256, 512]);
    dev.close();
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
});

test('by default a library process prints nothing and installs no signal handler', async () => {
  const p = uniquePrefix('opt');
  const r = await run(CHILD, [JSON.stringify({ lcores: [L], filePrefix: p, logLevel: 'debug' })], 15000, { NODE_DEBUG: '' });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { type: 'primary', sigterm: 0, sigint: 0 });
  assert.equal(r.err, '', 'nothing on stderr');
  assert.deepEqual(leftovers(p), []);
});

test('NODE_DEBUG=mpdk shows the EAL messages through util.debuglog; a logger gets them', async () => {
  const p = uniquePrefix('opt');
  const dbg = await run(CHILD, [JSON.stringify({ lcores: [L], filePrefix: p })], 15000, { NODE_DEBUG: 'mpdk' });
  assert.equal(dbg.code, 0, dbg.err);
  assert.match(dbg.err, new RegExp(`^MPDK ${'\\d+'}: info: primary: 256 MiB shared region .* file prefix '${p}'$`, 'm'));
  const con = await run(CHILD, [JSON.stringify({ lcores: [L], filePrefix: p, logger: 'console' })], 15000, { NODE_DEBUG: '' });
  assert.equal(con.code, 0, con.err);
  assert.match(con.out, new RegExp(`^primary: 256 MiB shared region .* file prefix '${p}'$`, 'm'), 'console.info writes to stdout');
  // A function logger, with the level threshold (warning drops info).
  const seen: [LogLevel, string][] = [];
  const q = uniquePrefix('opt');
  Eal.init({ lcores: [L], filePrefix: q, logger: (l, m) => seen.push([l, m]) }).close();
  Eal.init({ lcores: [L], filePrefix: q, logLevel: 'warning', logger: (l, m) => seen.push([l, m]) }).close();
  // Each start warns that lcore 40 is beyond this machine's CPUs; only the first says 'primary' (info).
  const kinds = seen.map(([l, m]) => `${l} ${/^primary: /.test(m) ? 'primary' : /^lcore 40 beyond this machine's CPUs/.test(m) ? 'beyond' : m}`);
  assert.deepEqual(kinds.sort(), ['info primary', 'warning beyond', 'warning beyond']);
  assert.deepEqual(leftovers(q), []);
});

test('a worker lcore\'s messages reach the process\'s logger function', async () => {
  const p = uniquePrefix('opt');
  const seen: string[] = [];
  const eal = Eal.init({ lcores: [L, L + 1], filePrefix: p, logLevel: 'warning', logger: (l, m) => seen.push(`${l}: ${m}`) });
  try {
    const job = remoteLaunch(eal, L + 1, new URL('./lcore-log.js', import.meta.url), null);
    assert.equal(await job.done, L + 1);
    await until(() => seen.includes(`warning: hello from lcore ${L + 1}`), 2000, 'the relayed message');
  } finally {
    eal.close();
  }
});

test('the shipped programs keep printing DPDK\'s EAL lines on stderr', async () => {
  const p = uniquePrefix('opt');
  // simple_mp with its input closed quits at once (Ctrl-D), after its start-up lines.
  const r = await run('mpdk', ['simple_mp', '-l', '0-1', '--file-prefix', p]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`^EAL: primary: 256 MiB shared region .* file prefix '${p}'$`, 'm'));
  assert.deepEqual(leftovers(p), []);
});

test('a signal ends a library process at once (Node\'s default); with handleSignals it leaves the instance first', async () => {
  const p = uniquePrefix('opt');
  const plain = spawnNode(CHILD, [JSON.stringify({ lcores: [L], filePrefix: p }), 'hold']);
  await plain.waitFor(/"sigterm":0/);
  plain.proc.kill('SIGTERM');
  assert.equal(await plain.exited, 128 + 15, 'killed by the signal, no handler ran');
  assert.notDeepEqual(leftovers(p), [], 'its files stay, as after a crash');
  removeInstance(p);
  const q = uniquePrefix('opt');
  const asked = spawnNode(CHILD, [JSON.stringify({ lcores: [L], filePrefix: q, handleSignals: true }), 'hold']);
  await asked.waitFor(/"sigterm":1/);
  await sleep(50);
  asked.proc.kill('SIGTERM');
  assert.equal(await asked.exited, 143);
  assert.deepEqual(leftovers(q), [], 'the EAL closed and removed the files');
});

test('`using` releases what close() releases: the Eal leaves the instance, ports and pool caches are given back', () => {
  const p = uniquePrefix('opt');
  {
    using eal = Eal.init({ lcores: [L], filePrefix: p, vdevs: ['net_ring0'] });
    const pool = PktmbufPool.create(eal, 'pkts', { count: 255, cacheSize: 32 });
    {
      using mine = PktmbufPool.lookup(eal, 'pkts');
      mine.free(mine.alloc()); // the cache now holds what the refill took
      assert.ok(mine.mp.cacheCount(L) > 0);
    }
    assert.equal(pool.mp.cacheCount(L), 0, 'disposing the pool object flushed its lcore cache');
    {
      using dev = EthDev.attach(eal);
      dev.configure(0, { rxQueues: 1, txQueues: 1 });
      dev.rxQueueSetup(0, 0, { descriptors: 64, pool });
      dev.txQueueSetup(0, 0, { descriptors: 64 });
      dev.start(0);
      dev.rxQueue(0, 0);
      assert.equal(dev.info(0).rxq[0]!.owner, process.pid);
    }
    assert.equal(EthDev.attach(eal).info(0).rxq[0]!.owner, 0, 'disposing the ports released the queue');
    assert.notDeepEqual(leftovers(p), []);
  }
  assert.deepEqual(leftovers(p), [], 'the Eal was closed at the end of its block');
});
