/**
 * Telemetry figures: how long a telemetry request waits for its answer when the answering
 * process is busy forwarding. symmetric_mp, two processes over two net_null ports with
 * --idle=poll (both cores saturated: every round moves packets, nothing ever sleeps), and
 * this process asking the primary's socket `/ethdev/stats,0` REQUESTS times in a row,
 * waiting for each reply (the primary's main thread forwards and answers between its
 * slices). Figures: the reply time p50 / p99 / max, and the same against an idle instance
 * (--idle=sleep, no traffic) as the baseline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeFd, pollFds, POLLIN, seqRecv, seqSend, seqpacketSocket, unixConnect } from '../src/native/libc.js';
import { telemetryDir } from '../src/index.js';
import type { Bench } from './harness.js';
import { removeInstance } from './harness.js';

const MPDK = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/mpdk.js');
const REQUESTS = 300;
let seq = 0;

function start(prefix: string, lcore: number, id: number, idle: string): { c: ChildProcess; out: () => string } {
  let out = '';
  const c = spawn(process.execPath, [MPDK, 'symmetric_mp', '-l', String(lcore), '--proc-type=auto', '--file-prefix', prefix, '--log-level', 'error',
    '--vdev=net_null0', '--vdev=net_null1', '--', '-p', '3', '--num-procs=2', `--proc-id=${id}`, '--idle', idle], { stdio: ['ignore', 'pipe', 'pipe'] });
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { c, out: () => out };
}

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Wait (blocking, bounded) for one message on fd. */
function recvOne(fd: number, buf: Uint8Array): number {
  const fds = Int32Array.of(fd);
  const ev = Int16Array.of(POLLIN);
  const rev = new Int16Array(1);
  if (pollFds(fds, ev, 1, 5000, rev) !== 1) throw new Error('no telemetry reply within 5 s');
  const n = seqRecv(fd, buf);
  if (n <= 0) throw new Error(`telemetry socket: ${n}`);
  return n;
}

/** Reply times (ms) of REQUESTS requests in a row to the primary's socket. */
function measure(prefix: string): number[] {
  const fd = seqpacketSocket();
  try {
    const e = unixConnect(fd, path.join(telemetryDir(prefix), 'dpdk_telemetry.v2'), false);
    if (e !== 0) throw new Error(`connect: errno ${e}`);
    const buf = new Uint8Array(16384);
    recvOne(fd, buf); // the greeting
    const req = Buffer.from('/ethdev/stats,0');
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = performance.now();
      if (seqSend(fd, req, req.length) !== req.length) throw new Error('send failed');
      recvOne(fd, buf);
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b);
  } finally {
    closeFd(fd);
  }
}

async function replyTimes(idle: string): Promise<number[]> {
  const prefix = `bTel${process.pid}x${seq++}`;
  const procs: ReturnType<typeof start>[] = [];
  try {
    for (let id = 0; id < 2; id++) {
      const p = start(prefix, id, id, idle);
      procs.push(p);
      await until(() => /APP: Finished Process Init\./.test(p.out()) || p.c.exitCode !== null, 15_000, `symmetric_mp --proc-id=${id}`);
      if (p.c.exitCode !== null) throw new Error(`symmetric_mp exited: ${p.out()}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    return measure(prefix);
  } finally {
    for (const p of procs) p.c.kill('SIGINT');
    const t = setTimeout(() => procs.forEach((p) => p.c.kill('SIGKILL')), 5000);
    await Promise.all(procs.map((p) => (p.c.exitCode !== null ? Promise.resolve() : new Promise((r) => p.c.once('exit', r)))));
    clearTimeout(t);
    removeInstance(prefix);
  }
}

const pct = (s: number[], p: number): number => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;

export const benches: Bench[] = [
  {
    name: 'telemetry.reply.idle', unit: 'ms',
    what: `telemetry /ethdev/stats,0 reply time, symmetric_mp idle (sleep mode, no traffic), ${REQUESTS} requests: p50 / p99 / max`,
    run: async () => {
      const s = await replyTimes('sleep');
      return { 'telemetry.reply.idle.p50_ms': pct(s, 50), 'telemetry.reply.idle.p99_ms': pct(s, 99), 'telemetry.reply.idle.max_ms': s[s.length - 1]! };
    },
  },
  {
    name: 'telemetry.reply.loaded', unit: 'ms', baseline: 'telemetry.reply.idle.p50_ms',
    what: `telemetry /ethdev/stats,0 reply time while symmetric_mp forwards flat out (2 procs, net_null, --idle=poll), ${REQUESTS} requests: p50 / p99 / max`,
    run: async () => {
      const s = await replyTimes('poll');
      return { 'telemetry.reply.loaded.p50_ms': pct(s, 50), 'telemetry.reply.loaded.p99_ms': pct(s, 99), 'telemetry.reply.loaded.max_ms': s[s.length - 1]! };
    },
  },
];
