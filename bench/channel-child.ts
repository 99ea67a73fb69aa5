/**
 * The two ends of bench/channel.ts, one process each (secondaries):
 *   node channel-child.js <EAL args> -- ROLE name=C ctl=M size=S batch=B
 *     send   sends batches of B messages of S bytes (trySendMany, spinning while the ring
 *            is full, a sched_yield every YIELD_AFTER failures); the first 4 bytes of each
 *            carry its sequence number
 *     sendasync  the same, each batch as B sendAsync calls made together and awaited
 *            together (Promise.all): the first goes at its call, the others at the end of
 *            the tick, packed
 *     recv   receives batches (tryReceive, spinning while empty), reads each message's
 *            sequence number (one 4-byte read of the shared buffer at batch.offsets[i]:
 *            zero-copy), checks it
 *            is the next one, counts messages and bytes into its control line, releases
 * Control memzone (M): u32 READY (+1 each), GO, STOP; f64 at 64: messages, at 72: bytes,
 * at 80: sequence errors. The parent reads the counters twice to take a rate.
 */
import { Channel, Eal } from '../src/index.js';
import { schedYield } from '../src/native/libc.js';

/** Failed polls (ring full / empty) before each sched_yield: processes may outnumber cores (ring bench's rule). */
const YIELD_AFTER = 1000;

export const CCTL = { READY: 0, GO: 4, STOP: 8, MSGS: 64, BYTES: 72, ERRORS: 80, SIZE: 128 } as const;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dd = argv.indexOf('--');
  const [role, ...kv] = argv.slice(dd + 1);
  const opt: Record<string, string> = {};
  for (const a of kv) opt[a.slice(0, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);
  const eal = Eal.init(argv.slice(0, dd), { name: `channel-bench-${role}` }).eal;
  setTimeout(() => process.exit(4), 60_000).unref(); // never outlive a parent that hangs
  const ch = Channel.lookup(eal, opt.name!);
  const ctl = eal.memzones.lookup(opt.ctl!).offset;
  const u32 = eal.region.u32;
  const f64 = eal.region.f64;
  const stop = (ctl + CCTL.STOP) >>> 2;
  Atomics.add(u32, (ctl + CCTL.READY) >>> 2, 1);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (Atomics.load(u32, (ctl + CCTL.GO) >>> 2) === 0) Atomics.wait(pause, 0, 0, 1);
  const size = Number(opt.size);
  if (role === 'sendasync') {
    const tx = ch.sender();
    const batch = Number(opt.batch);
    const msgs = Array.from({ length: batch }, () => new Uint8Array(size).fill(0x61));
    const heads = msgs.map((m) => new DataView(m.buffer));
    const sent: Promise<boolean>[] = new Array<Promise<boolean>>(batch);
    let seq = 0;
    while (Atomics.load(u32, stop) === 0) {
      for (let i = 0; i < batch; i++) {
        heads[i]!.setUint32(0, seq + i, true);
        sent[i] = tx.sendAsync(msgs[i]!);
      }
      await Promise.all(sent);
      seq += batch;
    }
    tx.close();
  } else if (role === 'send') {
    const tx = ch.sender();
    const batch = Number(opt.batch);
    const msgs = Array.from({ length: batch }, () => new Uint8Array(size).fill(0x61));
    const heads = msgs.map((m) => new DataView(m.buffer));
    let seq = 0;
    let full = 0;
    while (Atomics.load(u32, stop) === 0) {
      for (let i = 0; i < batch; i++) heads[i]!.setUint32(0, seq + i, true);
      while (tx.trySendMany(msgs, batch) !== 'sent') {
        if (++full % YIELD_AFTER === 0) {
          if (Atomics.load(u32, stop) !== 0) break;
          schedYield();
        }
      }
      seq += batch;
    }
    tx.close();
  } else {
    const rx = ch.receiver();
    const dv = new DataView(eal.region.buffer);
    const mi = (ctl + CCTL.MSGS) >>> 3;
    let expect = 0;
    let msgs = 0;
    let bytes = 0;
    let errors = 0;
    let idle = 0;
    for (;;) {
      const b = rx.tryReceive();
      const n = b.length;
      if (n === 0) {
        if (++idle % YIELD_AFTER === 0) {
          if (Atomics.load(u32, stop) !== 0) break;
          schedYield();
        }
        continue;
      }
      idle = 0;
      const offsets = b.offsets;
      const sizes = b.sizes;
      for (let i = 0; i < n; i++) {
        if (dv.getUint32(offsets[i]!, true) !== expect) errors++;
        expect++;
        bytes += sizes[i]!;
      }
      msgs += n;
      b.release();
      f64[mi] = msgs;
      f64[mi + 1] = bytes;
      f64[mi + 2] = errors;
    }
    rx.close();
  }
  eal.close();
}

if (process.argv[1]?.endsWith('channel-child.js')) await main();
