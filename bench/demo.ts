/**
 * The README's main job, `mpdk demo` (npm run demo), run as a user runs it: an mp_server over
 * two net_ring ports, two mp_clients and pktgen at 400 kpps for 3 s on this machine. Figures
 * from its own summary:
 *
 *   demo.lost              packets sent and not forwarded back (the demo promises 0)
 *   demo.forwarded_mpps    packets forwarded per second, both clients (offered: 0.4)
 *   demo.latency_p99_us    pktgen's latency, 99th percentile (p50 beside it)
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeArgs, type Bench } from './harness.js';

const MPDK = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/mpdk.js');

async function demo(): Promise<Record<string, number>> {
  const c = spawn(process.execPath, nodeArgs([MPDK, 'demo']), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const timer = setTimeout(() => c.kill('SIGINT'), 40_000);
  const code = await new Promise<number>((r) => c.on('exit', (k, s) => r(k ?? (s ? 128 : 1))));
  clearTimeout(timer);
  const num = (label: string): number => {
    const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)`, 'm').exec(out);
    if (!m) throw new Error(`demo exited ${code} without '${label}' in its summary:\n${out.trim().split('\n').slice(-8).join('\n')}`);
    return Number(m[1]);
  };
  const sent = num('packets sent');
  const lost = num('packets lost');
  const forwarded = num('packets forwarded');
  const lat = /latency p50 \/ p99\s+([\d.]+) µs \/ ([\d.]+) µs/.exec(out);
  const mpps = [...out.matchAll(/client \d+\s+\d+ forwarded, ([\d.]+) Mpps/g)].reduce((a, m) => a + Number(m[1]), 0);
  if (code !== 0) throw new Error(`demo exited ${code}: ${out.trim().split('\n').slice(-3).join(' | ')}`);
  if (forwarded > sent) throw new Error(`demo: forwarded ${forwarded} > sent ${sent}`);
  return {
    'demo.lost': lost,
    'demo.sent': sent,
    'demo.forwarded_mpps': mpps,
    'demo.latency_p50_us': lat ? Number(lat[1]) : NaN,
    'demo.latency_p99_us': lat ? Number(lat[2]) : NaN,
  };
}

export const benches: Bench[] = [
  { name: 'demo', unit: 'packets', what: 'npm run demo: mp_server, two mp_clients and pktgen at 400 kpps for 3 s: lost (0 promised), Mpps forwarded, latency', run: demo },
];
