/**
 * pktgen figures, measured by running the real program (`mpdk pktgen ... --json`):
 *
 *   pktgen.null.tx      pktgen as the primary of one net_null port, sending 64-byte frames
 *                       as fast as it can for 2 s: how fast the generator builds and sends
 *                       (Mpps). Nothing listens: net_null TX frees the frames.
 *   pktgen.ring.fwd     the test forwarder (dist/test/pktgen-fwd.js, primary of two net_ring
 *                       ports, 1 queue each) and pktgen as a secondary playing both wires:
 *                       frames sent into port 0, counted back on port 1, 2 s, as fast as
 *                       possible (Mpps received), with .loss_pct, .p50_us and .p99_us
 *                       (latency under full load: mostly queueing in the 1024-deep rings).
 *
 * Every child is ended before a bench returns; each run uses its own --file-prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeArgs, type Bench } from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MPDK = path.join(ROOT, 'dist/src/cli/mpdk.js');
const FWD = path.join(ROOT, 'dist/test/pktgen-fwd.js');

interface Out {
  code: number;
  out: string;
  err: string;
}

function runNode(args: string[], ms: number): Promise<Out> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, nodeArgs(args), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? 1, out, err });
    });
  });
}

function lastJson(o: Out): Record<string, unknown> {
  if (o.code !== 0) throw new Error(`pktgen exited ${o.code}: ${o.err.trim()}`);
  const lines = o.out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

async function nullTx(): Promise<number> {
  const prefix = `bpg${process.pid}n`;
  const r = lastJson(await runNode([MPDK, 'pktgen', '-l', '0', '--file-prefix', prefix, '--vdev=net_null0', '--log-level', 'error', '--', '--tx-port', '0', '--duration', '2', '--json', '--quiet'], 20000));
  return r.txMpps as number;
}

async function ringFwd(): Promise<Record<string, number>> {
  const prefix = `bpg${process.pid}r`;
  const fwd: ChildProcess = spawn(process.execPath, nodeArgs([FWD, '-l', '0', '--file-prefix', prefix, '--vdev=net_ring0', '--vdev=net_ring1', '--log-level', 'error']), { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => fwd.on('exit', () => r()));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error('forwarder did not start in 10 s')), 10000);
      fwd.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      fwd.on('exit', () => reject(new Error('forwarder exited')));
    });
    const r = lastJson(await runNode([MPDK, 'pktgen', '-l', '1', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', '--tx-port', '0', '--rx-port', '1', '--flows', '64', '--duration', '2', '--json', '--quiet'], 20000));
    const lat = r.latency as { p50Us: number; p99Us: number } | null;
    return {
      'pktgen.ring.fwd': r.rxMpps as number,
      'pktgen.ring.fwd.loss_pct': (100 * (r.lost as number)) / Math.max(1, r.sent as number),
      'pktgen.ring.fwd.p50_us': lat?.p50Us ?? 0,
      'pktgen.ring.fwd.p99_us': lat?.p99Us ?? 0,
    };
  } finally {
    fwd.stdin!.end();
    const t = setTimeout(() => fwd.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

export const benches: Bench[] = [
  { name: 'pktgen.null.tx', unit: 'Mpps', what: 'mpdk pktgen alone over one net_null port: 64-byte frames built and sent per second', run: nullTx },
  {
    name: 'pktgen.ring.fwd', unit: 'Mpps',
    what: 'mpdk pktgen + a forwarder process over two net_ring ports, 64 flows, 64 B (+ .loss_pct, .p50_us, .p99_us)', run: ringFwd,
  },
];
