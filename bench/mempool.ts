/**
 * Mempool and mbuf figures (issue 3):
 *
 *   figure                   what is timed (M objects or messages per second)
 *   mempool.cache.burst32    getBulk(32) + putBulk(32) on one lcore with a 256-entry cache
 *                            (DPDK's mempool_perf "cache" case); counts objects got and put back
 *   mempool.nocache.burst32  the same without a cache: every burst crosses the MP/MC ring
 *   mbuf.alloc_free.burst32  PktmbufPool.allocBulk(32) (with the per-mbuf reset) + freeBulk(32)
 *   msg.64B.xproc            two processes on two lcores: a producer (mempool-child.js) takes
 *                            32 buffers, copies a 64-byte message into each and enqueues the
 *                            handles on an SP/SC ring; this process dequeues bursts, reads and
 *                            checks all 64 bytes of each, and puts the buffers back (what
 *                            simple_mp does, in bulk). Counted at the consumer; the run fails
 *                            on any lost, repeated or damaged message.
 *   baseline.shm_slots_64B.msgs  the same producer and checks over a bare ring of 64-byte
 *                            slots (bench/slot-ring.ts): the cost of copying 64 bytes across
 *                            two cores with nothing else, msg.64B's ceiling
 *
 * Each bench starts its own instance (primary here, --file-prefix mpdkbench<pid>x<n>) and
 * closes it; the producer is killed in every path and each wait has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Eal, Mempool, PktmbufPool, Ring } from '../src/index.js';
import { nodeArgs, type Bench } from './harness.js';
import { SLOTS } from './slot-ring.js';

const MEASURE_MS = 1500;
const WARM_MS = 200;
const MSG_CHECK = 0x5a5aa5a5; // as mempool-child.ts
const CHILD_JS = new URL('./mempool-child.js', import.meta.url);

let instances = 0;
function instance(mb = 128): Eal {
  const p = `mpdkbench${process.pid}x${instances++}`;
  return Eal.init(['-l', '0', '-m', String(mb), '--file-prefix', p, '--proc-type=primary', '--log-level', 'error'], { handleSignals: false }).eal;
}

/** get+put burst loop for `ms`; returns M objects/s. */
function getPutLoop(mp: Mempool, burst: number, ms: number): number {
  const objs = new Uint32Array(burst);
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(ms) * 1_000_000n;
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 1000; i++) {
      mp.getBulk(objs, burst);
      mp.putBulk(objs, burst);
    }
    n += 1000 * burst;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - t0) / 1e3);
}

function mempoolBench(cache: number): number {
  const eal = instance();
  try {
    const mp = Mempool.create(eal, 'bench', { count: 8192, eltSize: 64, cacheSize: cache });
    getPutLoop(mp, 32, WARM_MS);
    return getPutLoop(mp, 32, MEASURE_MS);
  } finally {
    eal.close();
  }
}

function mbufBench(): number {
  const eal = instance();
  try {
    const pool = PktmbufPool.create(eal, 'mbench', { count: 8192, cacheSize: 256 });
    const hs = new Uint32Array(32);
    const loop = (ms: number): number => {
      let n = 0;
      const t0 = process.hrtime.bigint();
      const end = t0 + BigInt(ms) * 1_000_000n;
      let now = t0;
      while (now < end) {
        for (let i = 0; i < 1000; i++) {
          if (pool.allocBulk(hs, 32) !== 32) throw new Error('mbuf pool ran dry');
          pool.freeBulk(hs, 32);
        }
        n += 32_000;
        now = process.hrtime.bigint();
      }
      return n / (Number(now - t0) / 1e3);
    };
    loop(WARM_MS);
    return loop(MEASURE_MS);
  } finally {
    eal.close();
  }
}

/**
 * Where the consumer finds messages: fill `words` with the u32 index of up to 32 messages
 * and return how many; `release(n)` gives them back (to the pool / the producer).
 */
interface MessageSource {
  take(words: Uint32Array): number;
  release(n: number): void;
  /** After the run: throws if an object is missing or duplicated. */
  check(): void;
}

function poolSource(eal: Eal): { args: string[]; src: MessageSource } {
  const mp = Mempool.create(eal, 'msgs', { count: 8192, eltSize: 64, cacheSize: 256 });
  const ring = Ring.create(eal, 'msgq', { count: 4096, singleProducer: true, singleConsumer: true });
  const objs = new Uint32Array(32);
  return {
    args: ['msgs', 'msgq'],
    src: {
      take(words) {
        const got = ring.dequeueBurst(objs, 32);
        for (let i = 0; i < got; i++) words[i] = objs[i]! >>> 2;
        return got;
      },
      release(n) {
        mp.putBulk(objs, n);
      },
      check() {
        const a = mp.audit();
        if (a.inUse !== 0 || a.duplicates !== 0) throw new Error(`pool audit after the run: ${JSON.stringify(a)}`);
      },
    },
  };
}

function slotSource(eal: Eal): { args: string[]; src: MessageSource } {
  const zone = eal.memzones.reserve('msgslots', SLOTS.BYTES).offset;
  const u32 = eal.region.u32;
  const prodTail = (zone + SLOTS.PROD_TAIL) >>> 2;
  const consTail = (zone + SLOTS.CONS_TAIL) >>> 2;
  const base = (zone + SLOTS.FIRST) >>> 2;
  const mask = SLOTS.COUNT - 1;
  let ct = 0;
  return {
    args: ['-', 'msgslots'],
    src: {
      take(words) {
        const n = Math.min((Atomics.load(u32, prodTail) - ct) >>> 0, 32);
        for (let i = 0; i < n; i++) words[i] = base + ((ct + i) & mask) * 16;
        return n;
      },
      release(n) {
        ct = (ct + n) >>> 0;
        Atomics.store(u32, consTail, ct);
      },
      check() {},
    },
  };
}

/** Messages per µs from mempool-child.js producing into `make`'s source, read and checked here. */
async function msgBench(make: (eal: Eal) => { args: string[]; src: MessageSource }): Promise<number> {
  const eal = instance();
  let child: ChildProcess | undefined;
  try {
    const { args, src } = make(eal);
    const ctl = eal.memzones.reserve('msgctl', 64).offset;
    const i32 = eal.region.i32;
    const u32 = eal.region.u32;
    child = spawn(process.execPath, nodeArgs([CHILD_JS.pathname, '-l', '1', '--file-prefix', eal.filePrefix, '--', ...args, 'msgctl']), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number>((r) => child!.once('exit', (c) => r(c ?? -1)));
    // Wait (event loop free) for the producer to attach.
    const t0 = Date.now();
    while (Atomics.load(i32, (ctl + 4) >>> 2) === 0) {
      if (Date.now() - t0 > 10_000 || child.exitCode !== null) throw new Error(`producer did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const words = new Uint32Array(32);
    let expect = 0;
    let bad = 0;
    let sum = 0;
    const consume = (ms: number, stopAfter: boolean): number => {
      let n = 0;
      let idle = 0;
      const start = process.hrtime.bigint();
      const end = start + BigInt(ms) * 1_000_000n;
      let now = start;
      for (let round = 0; ; round++) {
        const got = src.take(words);
        if (got === 0) {
          if (++idle > 1000 && stopAfter) break; // drained after stop
          if ((round & 255) === 0) now = process.hrtime.bigint();
          if (!stopAfter && now >= end) break;
          continue;
        }
        idle = 0;
        for (let i = 0; i < got; i++) {
          const w = words[i]!;
          const seq = u32[w]!;
          let s = 0;
          for (let k = 1; k < 15; k++) s = (s + u32[w + k]!) | 0;
          if (seq !== expect || u32[w + 15] !== ((seq ^ MSG_CHECK) >>> 0)) bad++;
          sum = (sum + s) | 0;
          expect = (seq + 1) >>> 0;
        }
        src.release(got);
        n += got;
        if ((round & 255) === 0) {
          now = process.hrtime.bigint();
          if (!stopAfter && now >= end) break;
        }
      }
      return stopAfter ? n : n / (Number(process.hrtime.bigint() - start) / 1e3);
    };
    consume(WARM_MS, false);
    const rate = consume(MEASURE_MS, false);
    Atomics.store(i32, ctl >>> 2, 1);
    const deadline = setTimeout(() => child?.kill('SIGKILL'), 5000);
    // Drain while the producer notices the stop word and exits.
    while (child.exitCode === null) {
      consume(0, true);
      await new Promise((r) => setImmediate(r));
    }
    clearTimeout(deadline);
    consume(0, true);
    const code = await exited;
    if (code !== 0) throw new Error(`producer exited with ${code}: ${err}`);
    let expectedSum = 0;
    for (let k = 1; k < 15; k++) expectedSum = (expectedSum + Math.imul(0x01010101, k)) | 0;
    if (bad !== 0) throw new Error(`${bad} messages arrived out of order or damaged`);
    if (expect > 0 && sum !== Math.imul(expectedSum, expect)) throw new Error('payload checksum mismatch');
    src.check();
    return rate;
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    eal.close();
  }
}

export const benches: Bench[] = [
  {
    name: 'mempool.cache.burst32', unit: 'M objs/s',
    what: 'Mempool getBulk(32)+putBulk(32), one lcore, 256-entry cache (target ≥ 100)',
    run: async () => mempoolBench(256),
  },
  {
    name: 'mempool.nocache.burst32', unit: 'M objs/s', baseline: 'mempool.cache.burst32',
    what: 'Mempool getBulk(32)+putBulk(32) without a cache (through the MP/MC ring)',
    run: async () => mempoolBench(0),
  },
  {
    name: 'mbuf.alloc_free.burst32', unit: 'M mbufs/s',
    what: 'PktmbufPool allocBulk(32) (with reset) + freeBulk(32), 256-entry cache',
    run: async () => mbufBench(),
  },
  {
    name: 'baseline.shm_slots_64B.msgs', unit: 'M msgs/s', baseline: 'baseline.child_process.msgs',
    what: 'the same messages copied into the 64-byte slots of a bare shared-memory ring (no pool, no handles): the copy\'s own cost',
    run: async () => msgBench(slotSource),
  },
  {
    name: 'msg.64B.xproc', unit: 'M msgs/s', baseline: 'baseline.shm_slots_64B.msgs',
    what: '64-byte messages copied into pool buffers, passed through an SP/SC ring between two processes (target ≥ 40)',
    run: async () => msgBench(poolSource),
  },
];
