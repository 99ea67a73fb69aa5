/**
 * The producer of msg.64B.xproc (bench/mempool.ts): a secondary on its own lcore that, until
 * the parent sets the stop word, takes 32 buffers from pool P (getBulk), copies a 64-byte
 * message into each (word 0 = sequence number, word 15 = seq ^ MSG_CHECK, the rest fixed),
 * and enqueues the 32 handles on ring R (enqueueBulk). Spins, then sched_yields, when the
 * pool is empty or the ring full.
 *   node mempool-child.js <EAL args> -- POOL RING CTL_MEMZONE
 *   node mempool-child.js <EAL args> -- - SLOT_MEMZONE CTL_MEMZONE   (the bare-ring baseline)
 * Control memzone words: [0] stop (parent sets 1), [1] ready (child sets 1).
 */
import { Eal, Mempool, Ring } from '../src/index.js';
import { schedYield } from '../src/native/libc.js';
import { SLOTS } from './slot-ring.js';

export const MSG_CHECK = 0x5a5aa5a5;
const BURST = 32;

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const [poolName, ringName, ctlName] = argv.slice(dd + 1);
const { eal } = Eal.init([...argv.slice(0, dd), '--proc-type=secondary', '--log-level', 'error'], { name: 'bench-producer' });
const ctl = eal.memzones.lookup(ctlName!).offset;
const i32 = eal.region.i32;
const u32 = eal.region.u32;
const msg = new Uint32Array(16);
const stats = { getFail: 0, enqFail: 0, bursts: 0 };
for (let i = 0; i < 16; i++) msg[i] = 0x01010101 * i;

Atomics.store(i32, (ctl + 4) >>> 2, 1);
if (poolName === '-') produceSlots(eal.memzones.lookup(ringName!).offset);
else produce(Mempool.lookup(eal, poolName!), Ring.lookup(eal, ringName!), new Uint32Array(BURST));
if (process.env.MPDK_BENCH_DEBUG) process.stderr.write(JSON.stringify(stats) + "\n");
eal.close();

function produce(mp: Mempool, ring: Ring, objs: Uint32Array): void {
  let seq = 0;
  let idle = 0;
  for (;;) {
    if (mp.getBulk(objs, BURST) !== BURST) {
      stats.getFail++;
      if (wait(++idle)) return;
      continue;
    }
    for (let i = 0; i < BURST; i++) {
      const w = objs[i]! >>> 2;
      for (let k = 1; k < 15; k++) u32[w + k] = msg[k]!;
      u32[w] = seq;
      u32[w + 15] = (seq ^ MSG_CHECK) >>> 0;
      seq = (seq + 1) >>> 0;
    }
    while (ring.enqueueBulk(objs, BURST) === 0) {
      stats.enqFail++;
      if (wait(++idle)) {
        mp.putBulk(objs, BURST); // stopping with a burst in hand: return it
        return;
      }
    }
    idle = 0;
    stats.bursts++;
    if ((seq & 0xffff) === 0 && Atomics.load(i32, ctl >>> 2) !== 0) return;
  }
}

/**
 * The baseline's producer: the same messages copied straight into the 64-byte slots of a
 * bare single-producer ring (SLOTS layout of bench/mempool.ts), tail published once per 32.
 */
function produceSlots(zone: number): void {
  const prodTail = (zone + SLOTS.PROD_TAIL) >>> 2;
  const consTail = (zone + SLOTS.CONS_TAIL) >>> 2;
  const base = (zone + SLOTS.FIRST) >>> 2;
  const mask = SLOTS.COUNT - 1;
  let seq = 0;
  let idle = 0;
  let free = 0;
  for (;;) {
    if (free < BURST) {
      free = SLOTS.COUNT - ((seq - Atomics.load(u32, consTail)) >>> 0);
      if (free < BURST) {
        if (wait(++idle)) return;
        continue;
      }
    }
    for (let i = 0; i < BURST; i++) {
      const w = base + ((seq + i) & mask) * 16;
      const s = (seq + i) >>> 0;
      for (let k = 1; k < 15; k++) u32[w + k] = msg[k]!;
      u32[w] = s;
      u32[w + 15] = (s ^ MSG_CHECK) >>> 0;
    }
    seq = (seq + BURST) >>> 0;
    free -= BURST;
    Atomics.store(u32, prodTail, seq);
    idle = 0;
    if ((seq & 0xffff) === 0 && Atomics.load(i32, ctl >>> 2) !== 0) return;
  }
}

/** The n-th idle round in a row: true when the parent asked us to stop. */
function wait(n: number): boolean {
  if (n > 64) schedYield();
  return (n & 63) === 0 && Atomics.load(i32, ctl >>> 2) !== 0;
}
