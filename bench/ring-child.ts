/**
 * The far end of the cross-process ring benches (bench/ring.ts), one process per role:
 *
 *   node dist/bench/ring-child.js <EAL args> -- ROLE ring=R ctl=C slot=S burst=B yield=Y
 *     prod   enqueueBurst a fixed burst of handles in a loop
 *     cons   dequeueBurst in a loop
 *     pong   sleep in waitDequeueBurst; on each wake, store (now - T0) in SAMPLES[handle]
 *     apong  the same awaiting dequeueBurstAsync (the event loop's way: doorbell-async.ts)
 *     sleep  sleep in waitDequeueBurst until STOP (the CPU-use figure)
 *
 * prod / cons count handles into their own line of the control memzone (a plain f64 store
 * per burst; the parent reads it twice), sched_yield after Y empty / full polls (processes
 * may outnumber cores), and check STOP (an Atomics.load) every 1024 bursts.
 *
 * Control memzone (CTL, byte offsets): READY u32 (each child adds 1 once attached), GO u32
 * (parent stores 1), STOP u32 (parent stores 1), T0 f64 (pong: the parent's enqueue time,
 * ns of the monotonic clock), COUNTS: a 64-byte line per slot {handles f64}, SAMPLES f64[].
 */
import { Eal, MpdkError, Ring } from '../src/index.js';
import { schedYield } from '../src/native/libc.js';

export const CTL = { READY: 0, GO: 4, STOP: 8, T0: 64, COUNTS: 128, LINE: 64, SLOTS: 16, SAMPLES: 128 + 16 * 64, MAX_SAMPLES: 4096 } as const;
export const CTL_BYTES = CTL.SAMPLES + CTL.MAX_SAMPLES * 8;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dd = argv.indexOf('--');
  const [role, ...kv] = argv.slice(dd + 1);
  const opt: Record<string, string> = {};
  for (const a of kv) opt[a.slice(0, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);

  let eal: Eal;
  try {
    eal = Eal.init(argv.slice(0, dd), { name: `ring-bench-${role}` }).eal;
  } catch (e) {
    process.stderr.write(`ring-child: ${(e as Error).message}\n`);
    process.exit(e instanceof MpdkError ? 1 : 2);
  }
  // Never outlive a parent that hangs.
  setTimeout(() => process.exit(4), 30_000).unref();

  const ring = Ring.lookup(eal, opt.ring!);
  const ctl = eal.memzones.lookup(opt.ctl!).offset;
  const u32 = eal.region.u32;
  const f64 = eal.region.f64;
  const burst = Number(opt.burst ?? 32);
  const yieldAfter = Number(opt.yield ?? 10);
  const countIdx = (ctl + CTL.COUNTS + Number(opt.slot ?? 0) * CTL.LINE) >>> 3;
  const stopIdx = (ctl + CTL.STOP) >>> 2;
  const buf = new Uint32Array(Math.max(burst, 1));
  for (let i = 0; i < buf.length; i++) buf[i] = i + 1;
  const pause = new Int32Array(new SharedArrayBuffer(4));

  Atomics.add(u32, (ctl + CTL.READY) >>> 2, 1);
  while (Atomics.load(u32, (ctl + CTL.GO) >>> 2) === 0) Atomics.wait(pause, 0, 0, 1);

  if (role === 'prod' || role === 'cons') {
    const prod = role === 'prod';
    let n = 0;
    let fails = 0;
    let iter = 0;
    for (;;) {
      const k = prod ? ring.enqueueBurst(buf, burst) : ring.dequeueBurst(buf, burst);
      if (k !== 0) {
        n += k;
        f64[countIdx] = n;
        fails = 0;
        if ((++iter & 1023) === 0 && Atomics.load(u32, stopIdx) !== 0) break;
      } else {
        if (Atomics.load(u32, stopIdx) !== 0) break;
        if (++fails >= yieldAfter) schedYield();
      }
    }
  } else if (role === 'pong') {
    const t0Idx = (ctl + CTL.T0) >>> 3;
    const samples = (ctl + CTL.SAMPLES) >>> 3;
    while (Atomics.load(u32, stopIdx) === 0) {
      const k = ring.waitDequeueBurst(buf, 1, 100);
      if (k === 0) continue;
      const dt = Number(process.hrtime.bigint()) - f64[t0Idx]!;
      const i = buf[0]!;
      if (i < CTL.MAX_SAMPLES) f64[samples + i] = dt;
    }
  } else if (role === 'apong') {
    const t0Idx = (ctl + CTL.T0) >>> 3;
    const samples = (ctl + CTL.SAMPLES) >>> 3;
    while (Atomics.load(u32, stopIdx) === 0) {
      const k = await ring.dequeueBurstAsync(buf, 1, { timeout: 100 });
      if (k === 0) continue;
      const dt = Number(process.hrtime.bigint()) - f64[t0Idx]!;
      const i = buf[0]!;
      if (i < CTL.MAX_SAMPLES) f64[samples + i] = dt;
    }
  } else if (role === 'sleep') {
    while (Atomics.load(u32, stopIdx) === 0) ring.waitDequeueBurst(buf, 1, 200);
  } else {
    process.stderr.write(`ring-child: unknown role ${role}\n`);
    process.exit(2);
  }
  eal.close();
}

if (process.argv[1]?.endsWith('ring-child.js')) await main();
