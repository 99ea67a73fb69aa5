/**
 * Channel benchmarks: byte messages between two processes through a Channel (a sender
 * pinned to CPU 0, a receiver pinned to CPU 1: bench/channel-child.ts), counted at the
 * receiver, which reads each message's sequence number in the shared buffer (zero-copy) and
 * checks it is the next one (the run fails on any gap or repeat). Beside Node's own ways
 * (baselines.ts: send(), a Unix socket, worker postMessage) measured in the same run:
 *
 *   channel.msgs64     M msgs/s  64-byte messages, sent 32 per trySendMany from a pool of
 *                                511 buffers of 2 KiB (1 MiB; a ring of 256 buffers: 7,680
 *                                messages in flight at most): packed as records, 30 to a
 *                                buffer (the sender copies each in; one pool get, one enqueue
 *                                per call)
 *   channel.msgs64_batch256      the same, 256 per trySendMany (9 buffers a call)
 *   channel.msgs64_async32       the same, each 32 as 32 sendAsync calls made together and
 *                                awaited together: the first goes at its call, the other 31
 *                                are copied at theirs and go packed at the end of the tick
 *   channel.msgs64_onebuf        the same with 72-byte buffers (a pool of 2047, 512 KiB, a
 *                                ring of 1024): nothing to pack, one buffer per message (the
 *                                channel's rate before packing)
 *   channel.bytes64k   GB/s      64 KiB messages, 4 per trySendMany, two 32 KiB buffers each
 *                                (the sender copies them in; the receiver reads 4 bytes of
 *                                each, as the baselines' receivers touch one byte), from a
 *                                pool of 127 buffers (4 MiB: what one sender keeps busy; a
 *                                pool of 1023 with 256-buffer caches measured 2-3x less here,
 *                                its buffers colder)
 *
 * Pools sized to what is in flight, as DPDK's guides size them: a buffer comes back to the
 * sender through the pool's ring, first in, first out, so a pool's whole data cycles through
 * the caches, and each line the sender copies into or the receiver reads misses once the
 * pool outgrows the cores' L2 (4 MiB on the VM of these figures; 1 MiB a core on the EPYC of
 * those below). With the channel's default pool (2047 buffers of 2 KiB) the sender's time
 * per 64-byte message measured 39-42 ns against 26-28 with 511;
 * with 16383 72-byte buffers 53-67 ns against 34-36 with 2047 (two processes on two cores
 * taking turns, medians of 2000 turns, machine at load 7-8).
 *
 * Where channel.msgs64's time goes (each side's own work per message; a 2-core AMD EPYC VM,
 * Node 20, the machine shared with other test runs, load 3-7; 2026-12-03):
 *   one core alone (a scratch loop, not this bench: 100 calls of 32 messages, then the
 *   receiver drains them, in one process; medians of 9 runs): the sender ~25 ns, ~16.5 of it the copy (9.5 without
 *   it: the message loop, one pool get and one enqueue a call), ~23.5 with the word copy of
 *   a message sent before at the same place of a batch (src/channel/word-copy.ts); the
 *   receiver ~4.7 ns.
 *   two cores (medians of each side's calls, runs alternated): the receiver 12.5-17 ns, the
 *   sender 27-48: the sender is the limit, its copies waiting for lines the receiver's core
 *   read last. Alternated, the sender's medians: 42.6 before -> 35.3 with the word copy ->
 *   27.2 with the lines claimed as each buffer opens (claimLines in sender.ts); word copy
 *   alone -> claimed too: 40.5 -> 44.3, 83.8 -> 48.2, 42.4 -> 39.9 (5-8 runs each).
 *
 * The bench process is the primary (lcore 100: unpinned) and makes the channel; the rate
 * is taken between two snapshots after a warm-up. Children are killed and the instance
 * closed whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Channel, CHANNEL_FRAME_BYTES, Eal } from '../src/index.js';
import { CCTL } from './channel-child.js';
import { exitOf, nodeArgs, type Bench } from './harness.js';

const CHILD = new URL('./channel-child.js', import.meta.url).pathname;
const WARMUP_MS = 300;
const MEASURE_MS = 1000;
let instances = 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Shape {
  size: number;
  batch: number;
  /** The sender's role in channel-child.ts (default send: trySendMany). */
  role?: 'send' | 'sendasync';
  count: number;
  bufferSize: number;
  buffers: number;
  cacheSize: number;
}

/** Messages/s and bytes/s from a sender on lcore 0 to a receiver on lcore 1. */
async function stream(shape: Shape): Promise<{ msgs: number; bytes: number }> {
  const prefix = `chbench${process.pid}x${instances++}`;
  const eal = Eal.init({ lcores: [100], filePrefix: prefix, procType: 'primary', memoryMiB: 512 });
  const children: ChildProcess[] = [];
  const ctl = eal.memzones.reserve('chctl', CCTL.SIZE).offset;
  const u32 = eal.region.u32;
  const f64 = eal.region.f64;
  try {
    Channel.create(eal, 'bench', { count: shape.count, buffers: shape.buffers, bufferSize: shape.bufferSize, cacheSize: shape.cacheSize, maxMessage: shape.size, singleSender: true, singleReceiver: true });
    for (const [lcore, role] of [[1, 'recv'], [0, shape.role ?? 'send']] as const) {
      const args = [CHILD, '-l', String(lcore), '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', role, 'name=bench', 'ctl=chctl', `size=${shape.size}`, `batch=${shape.batch}`];
      children.push(spawn(process.execPath, nodeArgs(args), { stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    const end = Date.now() + 10_000;
    while (Atomics.load(u32, (ctl + CCTL.READY) >>> 2) < 2) {
      if (Date.now() > end || children.some((c) => c.exitCode !== null)) throw new Error('channel bench: the children did not start');
      await sleep(5);
    }
    Atomics.store(u32, (ctl + CCTL.GO) >>> 2, 1);
    await sleep(WARMUP_MS);
    const m0 = f64[(ctl + CCTL.MSGS) >>> 3]!;
    const b0 = f64[(ctl + CCTL.BYTES) >>> 3]!;
    const t0 = performance.now();
    await sleep(MEASURE_MS);
    const m1 = f64[(ctl + CCTL.MSGS) >>> 3]!;
    const b1 = f64[(ctl + CCTL.BYTES) >>> 3]!;
    const t1 = performance.now();
    const errors = f64[(ctl + CCTL.ERRORS) >>> 3]!;
    if (errors !== 0) throw new Error(`channel bench: ${errors} messages out of sequence`);
    if (m1 <= m0) throw new Error('channel bench: nothing received');
    return { msgs: (m1 - m0) / (t1 - t0) / 1000, bytes: (b1 - b0) / (t1 - t0) / 1e6 };
  } finally {
    Atomics.store(u32, (ctl + CCTL.STOP) >>> 2, 1);
    await Promise.all(children.map((c) => exitOf(c, 3000)));
    eal.close();
  }
}

export const benches: Bench[] = [
  {
    name: 'channel.msgs64',
    unit: 'M msgs/s',
    baseline: 'baseline.child_process.msgs',
    what: 'Channel, 64-byte messages between two processes (32 per trySendMany, packed ~30 to a 2 KiB buffer, a pool of 511; receiver zero-copy, checks every sequence number)',
    run: async () => (await stream({ size: 64, batch: 32, count: 256, bufferSize: 2048, buffers: 511, cacheSize: 64 })).msgs,
  },
  {
    name: 'channel.msgs64_batch256',
    unit: 'M msgs/s',
    baseline: 'baseline.child_process.msgs',
    what: 'Channel, 64-byte messages between two processes (256 per trySendMany, packed ~30 to a 2 KiB buffer, a pool of 511; receiver zero-copy, checks every sequence number)',
    run: async () => (await stream({ size: 64, batch: 256, count: 256, bufferSize: 2048, buffers: 511, cacheSize: 64 })).msgs,
  },
  {
    name: 'channel.msgs64_async32',
    unit: 'M msgs/s',
    baseline: 'baseline.child_process.msgs',
    what: 'Channel, 64-byte messages between two processes as 32 sendAsync calls made and awaited together (the first goes at its call, 31 packed at the end of the tick; a pool of 511 x 2 KiB; receiver zero-copy, checks every sequence number)',
    run: async () => (await stream({ size: 64, batch: 32, role: 'sendasync', count: 256, bufferSize: 2048, buffers: 511, cacheSize: 64 })).msgs,
  },
  {
    name: 'channel.msgs64_onebuf',
    unit: 'M msgs/s',
    baseline: 'baseline.child_process.msgs',
    what: 'Channel, 64-byte messages between two processes, one 72-byte buffer each from a pool of 2047 (nothing to pack: 32 per trySendMany; receiver zero-copy)',
    run: async () => (await stream({ size: 64, batch: 32, count: 1024, bufferSize: 64 + CHANNEL_FRAME_BYTES, buffers: 2047, cacheSize: 256 })).msgs,
  },
  {
    name: 'channel.bytes64k',
    unit: 'GB/s',
    baseline: 'baseline.child_process.bytes64k',
    what: 'Channel, 64 KiB messages between two processes (two 32 KiB buffers each, 4 per trySendMany; receiver zero-copy)',
    run: async () => (await stream({ size: 65536, batch: 4, count: 128, bufferSize: 32768 + CHANNEL_FRAME_BYTES, buffers: 127, cacheSize: 16 })).bytes,
  },
];
