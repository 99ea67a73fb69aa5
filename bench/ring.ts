/**
 * Ring benchmarks (M handles/s unless said otherwise). Figures:
 *   ring.spsc.{single,burst8,burst32}.1proc   enqueue + dequeue in one thread, SP/SC ring
 *   ring.mpmc.burst32.1proc                   the same through the MP/MC (CAS) path
 *   ring.{spsc,mpmc}.{burst8,burst32}.xproc   a producer process pinned to CPU 0 (-l 0), a
 *                                             consumer pinned to CPU 1 (-l 1); consumer's rate
 *   ring.mpmc.2p2c.burst32.xproc              2 producers + 2 consumers (lcores 0,1 pinned,
 *                                             2 more unpinned): sum of the consumers' rates
 *   ring.doorbell.wake_p50_us / _p99_us       a consumer process waiting on the doorbell, a handle
 *   ring.doorbell.cpu_pct                     every 2 ms: time from the enqueue to its wake-up,
 *                                             taken with the monotonic clock in both processes,
 *                                             and the consumer's CPU use meanwhile
 *   ring.doorbell.asleep.*                    the same, a handle every 20 ms (asleep in the futex)
 *   ring.async.wake_p50_us / _p99_us          the same consumer awaiting dequeueBurstAsync: its
 *                                             event loop runs, a libuv pool thread sleeps in
 *                                             futex_waitv; judged against the sync wake's p50
 *                                             (goal: within 2x) and the worker postMessage wake
 *   ring.async.asleep.*                       the same, a handle every 20 ms: beside ring.doorbell.asleep
 *   ring.*.c_floor*                           the same in C (bench/c/futex_wake.c): the machine's floor
 *   ring.sleeping_consumer.cpu_pct            CPU use of a consumer asleep on an empty ring (1 s)
 *
 * The throughput rings have 4096 slots, as DPDK's ring_perf_autotest (the anchor's figures).
 * Each bench makes its own instance (a unique --file-prefix), the bench process is the
 * primary (on lcore 100: unpinned) and its children are secondaries (bench/ring-child.ts);
 * a word of a control memzone starts them together; each child counts into its own line;
 * the rate is taken between two snapshots after a warm-up, so start-up and JIT are not
 * counted. Every child is killed and the instance closed whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eal, Ring, type RingOptions } from '../src/index.js';
import fs from 'node:fs';
import { buildC, runJson } from './cc.js';
import { cpuMs, exitOf, nodeArgs, type Bench } from './harness.js';
import { onlineCpus, setAffinity } from '../src/native/libc.js';
import { CTL, CTL_BYTES } from './ring-child.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ring-child.js');
/** The throughput benches' ring size: DPDK's ring_perf_autotest's RING_SIZE, so that the
 *  figures stand beside the anchor's (the same ring with 1024 slots measured about a third
 *  less across two processes here: the consumer runs closer behind the producer's lines). */
const PERF_RING_SIZE = 4096;
const WARMUP_MS = 300;
const MEASURE_MS = 1000;
type Kind = Omit<RingOptions, 'count'>;
const SPSC: Kind = { singleProducer: true, singleConsumer: true };
const MPMC: Kind = {};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let instances = 0;

interface Instance {
  eal: Eal;
  prefix: string;
  ctl: number;
  children: ChildProcess[];
}

/** Run `fn` with a fresh instance whose primary (this process) is on `lcore` ('100': unpinned). */
async function withInstance<T>(fn: (inst: Instance) => Promise<T>, lcore = '100'): Promise<T> {
  const prefix = `ringbench${process.pid}x${instances++}`;
  const eal = Eal.init(['-l', lcore, '--file-prefix', prefix, '--proc-type=primary', '--log-level', 'error'], { handleSignals: false }).eal;
  const inst: Instance = { eal, prefix, ctl: eal.memzones.reserve('ctl', CTL_BYTES).offset, children: [] };
  try {
    return await fn(inst);
  } finally {
    Atomics.store(eal.region.u32, (inst.ctl + CTL.STOP) >>> 2, 1);
    await Promise.all(inst.children.map((c) => exitOf(c, 3000)));
    eal.close();
    if (lcore !== '100') setAffinity(onlineCpus()); // unpinned again for the next bench
  }
}

function spawnChild(inst: Instance, lcore: number, role: string, opts: Record<string, string | number>): ChildProcess {
  const args = [CHILD, '-l', String(lcore), '--file-prefix', inst.prefix, '--proc-type=secondary', '--log-level', 'error', '--', role,
    'ctl=ctl', ...Object.entries(opts).map(([k, v]) => `${k}=${v}`)];
  const c = spawn(process.execPath, nodeArgs(args), { stdio: ['ignore', 'ignore', 'inherit'] });
  inst.children.push(c);
  return c;
}

async function waitReady(inst: Instance, n: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (Atomics.load(inst.eal.region.u32, (inst.ctl + CTL.READY) >>> 2) < n) {
    if (Date.now() > end) throw new Error(`ring bench: only ${Atomics.load(inst.eal.region.u32, (inst.ctl + CTL.READY) >>> 2)} of ${n} children attached in 10 s`);
    if (inst.children.some((c) => c.exitCode !== null)) throw new Error('ring bench: a child exited before starting');
    await sleep(5);
  }
}

function counted(inst: Instance, slots: number[]): number {
  let s = 0;
  for (const slot of slots) s += inst.eal.region.f64[(inst.ctl + CTL.COUNTS + slot * CTL.LINE) >>> 3]!;
  return s;
}

/** Producers on `prodLcores`, consumers on `consLcores`; returns M handles/s dequeued. */
function xproc(kind: Kind, burst: number, prodLcores: number[], consLcores: number[], yieldAfter: number): () => Promise<number> {
  return () => withInstance(async (inst) => {
    Ring.create(inst.eal, 'bench', { count: PERF_RING_SIZE, ...kind });
    const consSlots: number[] = [];
    prodLcores.forEach((l, i) => spawnChild(inst, l, 'prod', { ring: 'bench', slot: i, burst, yield: yieldAfter }));
    consLcores.forEach((l, i) => {
      consSlots.push(8 + i);
      spawnChild(inst, l, 'cons', { ring: 'bench', slot: 8 + i, burst, yield: yieldAfter });
    });
    await waitReady(inst, prodLcores.length + consLcores.length);
    Atomics.store(inst.eal.region.u32, (inst.ctl + CTL.GO) >>> 2, 1);
    await sleep(WARMUP_MS);
    const c0 = counted(inst, consSlots);
    const t0 = performance.now();
    await sleep(MEASURE_MS);
    const c1 = counted(inst, consSlots);
    const t1 = performance.now();
    // Check the figure: consumers cannot have taken more than the producers had put (read
    // the consumers' counts first: both only grow; a producer counts its burst just after
    // publishing it, so it may lag by one burst).
    const c2 = counted(inst, consSlots);
    const p2 = counted(inst, prodLcores.map((_, i) => i));
    if (c2 > p2 + burst * prodLcores.length || c1 <= c0) throw new Error(`ring bench: inconsistent counts (produced ${p2}, consumed ${c2}, window ${c0}..${c1})`);
    return (c1 - c0) / (t1 - t0) / 1000;
  });
}

/** Enqueue + dequeue in this thread for ~MEASURE_MS. */
function oneProc(kind: Kind, burst: number, mp: boolean): () => Promise<number> {
  return () => withInstance(async (inst) => {
    const r = Ring.create(inst.eal, 'bench', { count: PERF_RING_SIZE, ...kind });
    const a = new Uint32Array(burst).fill(7);
    const b = new Uint32Array(burst);
    const loop = (iters: number): number => {
      let n = 0;
      if (burst === 1) {
        for (let i = 0; i < iters; i++) {
          r.enqueue(i);
          if (r.dequeue() >= 0) n++;
        }
      } else if (mp) {
        for (let i = 0; i < iters; i++) {
          r.mpEnqueueBurst(a, burst);
          n += r.mcDequeueBurst(b, burst);
        }
      } else {
        for (let i = 0; i < iters; i++) {
          r.spEnqueueBurst(a, burst);
          n += r.scDequeueBurst(b, burst);
        }
      }
      return n;
    };
    const iters = Math.ceil(200_000 / burst);
    const warmEnd = performance.now() + WARMUP_MS;
    while (performance.now() < warmEnd) loop(iters);
    let n = 0;
    const t0 = performance.now();
    let t1 = t0;
    while (t1 - t0 < MEASURE_MS) {
      n += loop(iters);
      t1 = performance.now();
    }
    return n / (t1 - t0) / 1000;
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/**
 * Wake-up latency of a consumer process waiting on the doorbell, sync (pong:
 * waitDequeueBurst) or async (apong), one handle every `gapMs`, and the consumer's CPU use
 * meanwhile. Gaps of 2 ms are within a waiter's spin budget (eal/spin-budget.ts: the sync
 * waiter learns them and polls through them); gaps of 20 ms are not, so the consumer is
 * asleep in the futex when each handle comes (`.asleep`: the kernel's wake-up of a sleeper).
 *
 * The producer (this process) is pinned to CPU 0 and the consumer to CPU 1, as a DPDK
 * deployment places them, and as the C floor places its waker and sleeper: the wake-up
 * crosses CPUs (an IPI to the sleeper's CPU). Unpinned, the scheduler put the producer on
 * the consumer's CPU most of the time under load, where the consumer runs only once the
 * producer's event loop blocks (p50 ~100 µs against ~60 µs across CPUs, probe of 2026-12-02).
 */
function doorbell(role: 'pong' | 'apong', name: string, gapMs = 2, n = 300): Promise<Record<string, number>> {
  return withInstance(async (inst) => {
    const r = Ring.create(inst.eal, 'bell', { count: 1024, ...SPSC });
    const c = spawnChild(inst, 1, role, { ring: 'bell', slot: 0, burst: 1 });
    await waitReady(inst, 1);
    Atomics.store(inst.eal.region.u32, (inst.ctl + CTL.GO) >>> 2, 1);
    const f64 = inst.eal.region.f64;
    const samples = (inst.ctl + CTL.SAMPLES) >>> 3;
    f64.fill(-1, samples, samples + n);
    await sleep(20);
    const k0 = cpuMs(c.pid!);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await sleep(gapMs);
      f64[(inst.ctl + CTL.T0) >>> 3] = Number(process.hrtime.bigint());
      r.enqueue(i);
      const end = Date.now() + 1000;
      while (f64[samples + i]! < 0 && Date.now() < end) await sleep(0);
    }
    const cpu = (100 * (cpuMs(c.pid!) - k0)) / (performance.now() - t0);
    const got = Array.from(f64.subarray(samples, samples + n)).filter((v) => v >= 0).sort((x, y) => x - y);
    if (got.length < n / 2) throw new Error(`doorbell: only ${got.length} of ${n} wake-ups seen`);
    return { [`${name}.wake_p50_us`]: percentile(got, 50) / 1000, [`${name}.wake_p99_us`]: percentile(got, 99) / 1000, [`${name}.cpu_pct`]: cpu };
  }, '0');
}

/**
 * DPDK's rte_ring between two lcores, measured as `xproc` measures mpdk's (bench/dpdk/
 * ring_pair.c: bulk 32, 4096 slots, the consumer's rate over 1 s after a warm-up): the
 * figure mpdk's is judged against. Skipped (an error row saying why) without cc or libdpdk-dev.
 */
function dpdkPair(mode: 'spsc' | 'mpmc'): () => Promise<number> {
  return async () => {
    const b = buildC('dpdk/ring_pair.c', true);
    if (typeof b === 'string') throw new Error(`skipped: ${b}`);
    const prefix = `bRp${process.pid}x${instances++}`;
    try {
      const eal = ['-l', '0-1', '--no-pci', '--no-huge', '-m', '64', '--file-prefix', prefix, '--no-telemetry', '--log-level=error'];
      return (await runJson(b.bin, [...eal, '--', mode], 30_000)).mps!;
    } finally {
      b.remove();
      // DPDK's runtime folder of this prefix (its config, even without hugepages).
      for (const run of ['/var/run/dpdk', path.join(process.env.XDG_RUNTIME_DIR ?? '/tmp', 'dpdk')]) fs.rmSync(path.join(run, prefix), { recursive: true, force: true });
    }
  };
}

/**
 * The machine's floor for `ring.doorbell.asleep` (bench/c/futex_wake.c): the same doorbell
 * protocol, gaps and clock in C, a sleeper pinned to CPU 1 as the pong child, the waker
 * pinned to CPU `wakerCpu` (0: as the doorbell bench's producer), a spin of MIN_HOLD_MS
 * (0.1 ms) after each wake-up as mpdk's waiter. With the waker on the sleeper's CPU (1) the
 * wake-up is local: no IPI, and the sleeper runs as soon as the waker sleeps (its usleep,
 * within µs): the `.same_cpu` figure, a floor only a producer that blocks at once can reach.
 * `more`: ['-a', '-v'] for the async hop's floor (a helper thread in futex_waitv signals the
 * pinned main thread's epoll through an eventfd, as libuv's pool thread and uv_async). Skipped (an error row saying why) without cc.
 */
async function futexFloor(name: string, gapMs: number, n: number, wakerCpu = 0, more: string[] = []): Promise<Record<string, number>> {
  const b = buildC('c/futex_wake.c');
  if (typeof b === 'string') throw new Error(`skipped: ${b}`);
  try {
    const r = await runJson(b.bin, ['-n', String(n), '-g', String(gapMs), '-s', '100', '-c', '1', '-w', String(wakerCpu), ...more], n * (gapMs + 5) + 10_000);
    return { [`${name}.wake_p50_us`]: r.p50_us!, [`${name}.wake_p99_us`]: r.p99_us!, [`${name}.cpu_pct`]: r.cpu_pct!, [`${name}.wake_call_us`]: r.wake_call_ns! / 1000 };
  } finally {
    b.remove();
  }
}

function sleepingConsumer(): Promise<number> {
  return withInstance(async (inst) => {
    Ring.create(inst.eal, 'idle', { count: 1024, ...SPSC });
    const c = spawnChild(inst, 1, 'sleep', { ring: 'idle', slot: 0, burst: 32 });
    await waitReady(inst, 1);
    Atomics.store(inst.eal.region.u32, (inst.ctl + CTL.GO) >>> 2, 1);
    await sleep(200);
    const k0 = cpuMs(c.pid!);
    const t0 = performance.now();
    await sleep(MEASURE_MS);
    return (100 * (cpuMs(c.pid!) - k0)) / (performance.now() - t0);
  });
}

export const benches: Bench[] = [
  { name: 'ring.spsc.single.1proc', unit: 'M/s', what: 'SP/SC enqueue(1) + dequeue(), one thread', run: oneProc(SPSC, 1, false) },
  { name: 'ring.spsc.burst8.1proc', unit: 'M/s', what: 'SP/SC burst 8, one thread', run: oneProc(SPSC, 8, false) },
  { name: 'ring.spsc.burst32.1proc', unit: 'M/s', what: 'SP/SC burst 32, one thread', run: oneProc(SPSC, 32, false) },
  { name: 'ring.mpmc.burst32.1proc', unit: 'M/s', what: 'MP/MC burst 32, one thread (CAS path + claim records)', run: oneProc(MPMC, 32, true) },
  { name: 'ring.spsc.burst8.xproc', unit: 'M/s', what: 'SP/SC burst 8, producer on CPU 0, consumer on CPU 1', run: xproc(SPSC, 8, [0], [1], 1000) },
  {
    name: 'ring.spsc.burst32.xproc', unit: 'M/s', what: 'SP/SC burst 32, two processes on two CPUs, beside DPDK\'s rte_ring measured the same way',
    baseline: 'ring.spsc.burst32.xproc.dpdk', run: xproc(SPSC, 32, [0], [1], 1000),
  },
  { name: 'ring.spsc.burst32.xproc.dpdk', unit: 'M/s', what: 'DPDK rte_ring SP/SC bulk 32 between lcores 0 and 1 (bench/dpdk/ring_pair.c)', run: dpdkPair('spsc') },
  { name: 'ring.mpmc.burst8.xproc', unit: 'M/s', what: 'MP/MC burst 8, 1 producer + 1 consumer process', run: xproc(MPMC, 8, [0], [1], 1000) },
  {
    name: 'ring.mpmc.burst32.xproc', unit: 'M/s', what: 'MP/MC burst 32, 1 producer + 1 consumer process, beside DPDK\'s rte_ring measured the same way',
    baseline: 'ring.mpmc.burst32.xproc.dpdk', run: xproc(MPMC, 32, [0], [1], 1000),
  },
  { name: 'ring.mpmc.burst32.xproc.dpdk', unit: 'M/s', what: 'DPDK rte_ring MP/MC bulk 32 between lcores 0 and 1 (bench/dpdk/ring_pair.c)', run: dpdkPair('mpmc') },
  { name: 'ring.mpmc.2p2c.burst32.xproc', unit: 'M/s', what: 'MP/MC burst 32, 2 producers + 2 consumers on 2 CPUs (yield after 10 polls)', run: xproc(MPMC, 32, [0, 2], [1, 3], 10) },
  {
    name: 'ring.doorbell', unit: 'us', what: 'a consumer process waiting on the doorbell, a handle every 2 ms: enqueue to wake-up p50 / p99, its CPU % meanwhile',
    run: () => doorbell('pong', 'ring.doorbell'),
  },
  {
    name: 'ring.doorbell.asleep', unit: 'us', what: 'the same, a handle every 20 ms: past the spin budget, the consumer sleeps in the futex; beside the C floor',
    baselines: {
      'ring.doorbell.asleep.wake_p50_us': 'ring.doorbell.asleep.c_floor.wake_p50_us',
      'ring.doorbell.asleep.wake_p99_us': 'ring.doorbell.asleep.c_floor.wake_p99_us',
    },
    run: () => doorbell('pong', 'ring.doorbell.asleep', 20, 150),
  },
  {
    name: 'ring.doorbell.asleep.c_floor', unit: 'us', what: 'the machine\'s floor: the same sleep and wake in C (bench/c/futex_wake.c), and the waker\'s FUTEX_WAKE call',
    run: () => futexFloor('ring.doorbell.asleep.c_floor', 20, 150),
  },
  {
    name: 'ring.doorbell.asleep.c_floor.same_cpu', unit: 'us', what: 'the same C floor with the waker on the sleeper\'s CPU (a local wake-up: no IPI; the sleeper runs once the waker sleeps)',
    run: () => futexFloor('ring.doorbell.asleep.c_floor.same_cpu', 20, 150, 1),
  },
  {
    name: 'ring.async', unit: 'us', what: 'wake-up of a consumer process awaiting dequeueBurstAsync (event loop free; futex_waitv on the libuv pool), p50 / p99',
    baselines: { 'ring.async.wake_p50_us': 'ring.doorbell.wake_p50_us', 'ring.async.wake_p99_us': 'ring.doorbell.wake_p99_us' },
    run: () => doorbell('apong', 'ring.async'),
  },
  {
    name: 'ring.async.asleep', unit: 'us', what: 'the same awaiting consumer, a handle every 20 ms (its hub asleep in futex_waitv): beside the sync asleep wake (goal: p50 within 2x)',
    baselines: { 'ring.async.asleep.wake_p50_us': 'ring.doorbell.asleep.wake_p50_us', 'ring.async.asleep.wake_p99_us': 'ring.doorbell.asleep.wake_p99_us' },
    run: () => doorbell('apong', 'ring.async.asleep', 20, 150),
  },
  {
    name: 'ring.async.asleep.c_floor', unit: 'us', what: 'the async hop\'s floor in C: a helper thread asleep in futex_waitv wakes the main thread\'s epoll_wait through an eventfd (bench/c/futex_wake.c -a)',
    run: () => futexFloor('ring.async.asleep.c_floor', 20, 150, 0, ['-a', '-v']),
  },
  { name: 'ring.sleeping_consumer.cpu_pct', unit: '%', what: 'CPU use of a consumer asleep on an empty ring', run: sleepingConsumer },
];
