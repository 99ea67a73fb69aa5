/**
 * simple_mp's message round trip, primary → secondary → primary: this process is the
 * primary (it creates MSG_POOL and the channels PRI_2_SEC and SEC_2_PRI as simple_mp does,
 * sends a message and waits for it to come back); the secondary (simple_mp-echo.js, on
 * the other core) sends each message straight back. Reported as p50/p99 in µs, with both
 * sides polling (tryReceive, DPDK's way) and with both awaiting `receive()` (simple_mp's
 * way: asleep on the rings' doorbells, event loop free, no CPU while nothing arrives).
 */
import { spawn } from 'node:child_process';
import { Channel, CHANNEL_FRAME_BYTES, Eal, PktmbufPool } from '../src/index.js';
import { MSG_POOL, MSG_SIZE, POOL_CACHE, POOL_SIZE, PRI_2_SEC, RING_SIZE, SEC_2_PRI, encodeMessage } from '../src/apps/simple_mp/messages.js';
import { nodeArgs, type Bench } from './harness.js';

const ROUNDS = { spin: 20000, sleep: 2000 } as const;
/**
 * In sleep mode each message leaves after this pause, so that the echo side is asleep when
 * it comes: longer than an async wait's poll (a spin budget of 1.5x the gaps above 1 ms
 * parks at once, Ring.retryAsync). At 0.5 ms the echo learned the gaps and polled through
 * them: the figure was a polled round trip (p50 5 µs). The primary waits for a reply and polls
 * for it first (its budget: the round trips it saw), as simple_mp's does.
 */
const PAUSE_MS = 2;
const pause = new Int32Array(new SharedArrayBuffer(4));
let instances = 0;

async function roundTrips(mode: 'spin' | 'sleep'): Promise<Record<string, number>> {
  const prefix = `mpdkbsmp${process.pid}x${instances++}`;
  const { eal } = Eal.init(['-l', '0', '--file-prefix', prefix, '--log-level', 'error'], { handleSignals: false });
  const child = spawn(process.execPath, nodeArgs([new URL('./simple_mp-echo.js', import.meta.url).pathname, '-l', '1', '--file-prefix', prefix, '--', mode, 'smpctl']), { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const pool = PktmbufPool.create(eal, MSG_POOL, { count: POOL_SIZE, cacheSize: POOL_CACHE, dataRoomSize: MSG_SIZE + CHANNEL_FRAME_BYTES, headroom: 0 });
    const tx = Channel.create(eal, PRI_2_SEC, { count: RING_SIZE, pool, maxMessage: MSG_SIZE }).sender();
    const rx = Channel.create(eal, SEC_2_PRI, { count: RING_SIZE, pool, maxMessage: MSG_SIZE }).receiver();
    const ctl = eal.memzones.reserve('smpctl', 64).offset >>> 2;
    const i32 = eal.region.i32;
    const t0 = Date.now();
    while (Atomics.load(i32, ctl + 1) === 0) {
      if (Date.now() - t0 > 10000 || child.exitCode !== null) throw new Error('the echo process did not start');
      await new Promise((r) => setTimeout(r, 5));
    }
    const msg = encodeMessage('hello_secondary') as Uint8Array;
    const rounds = ROUNDS[mode];
    const samples = new Float64Array(rounds);
    for (let r = -100; r < rounds; r++) {
      if (mode === 'sleep') Atomics.wait(pause, 0, 0, PAUSE_MS);
      const s = performance.now();
      if (tx.trySend(msg) !== 'sent') throw new Error('PRI_2_SEC refused a message');
      if (mode === 'spin') while (rx.tryReceive().length === 0);
      else while ((await rx.receive({ timeout: 100 })).length === 0);
      const e = performance.now();
      rx.release();
      if (r >= 0) samples[r] = (e - s) * 1000;
    }
    tx.close();
    rx.close();
    samples.sort();
    const name = `simple_mp.rtt.${mode}`;
    return { [`${name}.p50_us`]: samples[rounds >> 1]!, [`${name}.p99_us`]: samples[Math.floor(rounds * 0.99)]! };
  } finally {
    Atomics.store(eal.region.i32, eal.memzones.tryLookup('smpctl')!.offset >>> 2, 1);
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
    eal.close();
  }
}

export const benches: Bench[] = [
  { name: 'simple_mp.rtt.spin', unit: 'us', what: 'simple_mp message round trip primary → secondary → primary, both polling (p50, p99)', run: () => roundTrips('spin') },
  { name: 'simple_mp.rtt.sleep', unit: 'us', what: 'the same, each message sent after a 2 ms pause so the echo awaits receive() asleep on its ring\'s doorbell (p50, p99)', run: () => roundTrips('sleep') },
];
