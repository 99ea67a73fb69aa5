/**
 * The other process of test/async.test.ts (a secondary): `node async-child.js <EAL args> -- MODE key=value...`
 *
 *   produce ring=R count=N burst=B pause=MS   enqueue handles 1..N in bursts of B, each with
 *                                             enqueueBulkAsync (awaiting room), pausing MS
 *                                             between bursts; prints {produced, sum}
 *   consume ring=R count=N                    dequeue N handles with dequeueBurstAsync; prints {consumed}
 *   fill rings=A,B,... after=MS               after MS, enqueue one handle (its index + 1) on
 *                                             each ring, in order; prints {filled}
 *   inject port=P pool=M count=N              feed N packets into port P's RX side (the wire),
 *                                             one per millisecond; prints {injected}
 *   exit-waiting ring=R after=MS              await R (no timeout), call process.exit(0) after MS
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, EthDev, PktmbufPool, Ring, stderrLogger } from '../src/index.js';
import { childArgv, out } from './child-argv.js';

const { ealArgs, mode, opt } = childArgv();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

using eal = Eal.init(ealArgs, { name: `async-child:${mode}`, logger: stderrLogger, handleSignals: true }).eal;
setTimeout(() => process.exit(3), 30_000).unref(); // never outlive a test that hangs

if (mode === 'produce') {
  using ring = Ring.lookup(eal, opt.ring!);
  const count = Number(opt.count);
  const burst = Number(opt.burst ?? 1);
  const pause = Number(opt.pause ?? 0);
  const buf = new Uint32Array(burst);
  let produced = 0;
  let sum = 0;
  while (produced < count) {
    const n = Math.min(burst, count - produced);
    for (let i = 0; i < n; i++) buf[i] = produced + i + 1;
    if ((await ring.enqueueBulkAsync(buf, n, { timeout: 10_000 })) !== n) throw new Error('no room for 10 s');
    for (let i = 0; i < n; i++) sum += buf[i]!;
    produced += n;
    if (pause > 0) await sleep(pause);
  }
  out({ produced, sum });
} else if (mode === 'consume') {
  using ring = Ring.lookup(eal, opt.ring!);
  const count = Number(opt.count);
  const buf = new Uint32Array(32);
  let consumed = 0;
  while (consumed < count) {
    const k = await ring.dequeueBurstAsync(buf, Math.min(32, count - consumed), { timeout: 10_000 });
    if (k === 0) throw new Error('nothing for 10 s');
    consumed += k;
  }
  out({ consumed });
} else if (mode === 'fill') {
  await sleep(Number(opt.after ?? 0));
  const names = opt.rings!.split(',');
  names.forEach((name, i) => Ring.lookup(eal, name).enqueue(i + 1));
  out({ filled: names.length });
} else if (mode === 'exit-waiting') {
  const ring = Ring.lookup(eal, opt.ring!);
  setTimeout(() => process.exit(0), Number(opt.after ?? 100));
  out({ waiting: true });
  await ring.dequeueBurstAsync(new Uint32Array(1), 1);
} else if (mode === 'inject') {
  using dev = EthDev.attach(eal);
  const pool = PktmbufPool.lookup(eal, opt.pool!);
  const wire = dev.wire(Number(opt.port), 'inject');
  const one = new Uint32Array(1);
  let injected = 0;
  for (let i = 0; i < Number(opt.count); i++) {
    await sleep(1);
    one[0] = pool.alloc();
    pool.setDataLen(one[0], 60);
    pool.setPktLen(one[0], 60);
    if (wire.inject(one, 1) === 1) injected++;
    else pool.free(one[0]);
  }
  out({ injected });
}
