/**
 * The processes of bench/mp.ts:
 *   serve EAL-OPTIONS          a primary that answers 'ping' with its data; READY on stdout;
 *                              leaves when stdin closes
 *   ask EAL-OPTIONS -- N       a secondary: N requests to the primary in a row (after N/10
 *                              not timed); prints {"p50_us", "p99_us", "mean_us"}
 *   echo                       Node's baseline: answers every child_process message with it
 */
import { Eal } from '../src/index.js';

const [role, ...rest] = process.argv.slice(2);

function summary(t: number[]): string {
  t.sort((a, b) => a - b);
  const mean = t.reduce((s, x) => s + x, 0) / t.length;
  return JSON.stringify({ p50_us: t[t.length >> 1]!, p99_us: t[Math.floor(t.length * 0.99)]!, mean_us: mean });
}

if (role === 'echo') {
  process.on('message', (m) => process.send!(m));
} else if (role === 'serve') {
  const { eal } = Eal.init(rest, { name: 'mp-bench' });
  eal.mp.on('ping', (m) => m.data);
  process.stdout.write('READY\n');
  process.stdin.on('data', () => undefined).on('end', () => {
    eal.close();
    process.exit(0);
  });
} else if (role === 'ask') {
  const { eal, args } = Eal.init(rest, { name: 'mp-bench' });
  const n = Number(args[0] ?? 2000);
  const data = Buffer.alloc(8);
  const t: number[] = [];
  for (let i = -Math.floor(n / 10); i < n; i++) {
    const t0 = performance.now();
    const [r] = await eal.mp.request('ping', data, { to: 'primary' });
    if (!r?.ok) throw new Error(`ping: ${r ? (r as { error: Error }).error.message : 'no reply'}`);
    if (i >= 0) t.push((performance.now() - t0) * 1000);
  }
  process.stdout.write(summary(t) + '\n');
  eal.close();
  process.exit(0);
} else {
  process.stderr.write('usage: mp-child.js serve|ask|echo ...\n');
  process.exit(2);
}

export { summary };
