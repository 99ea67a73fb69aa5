/**
 * Port benches (l2fwd over net_null and net_ring). The processes are bench/ethdev-child.ts;
 * each run lasts ≈ 1.5 s + 0.3 s warm-up, every child is killed and the instance removed
 * whatever happens.
 *
 *   l2fwd.null.1proc   one process, two net_null ports, DPDK l2fwd's loop: rxBurst 32 from
 *                      port p → rewrite the 12 MAC bytes → txBurst on port p^1. Forwarded Mpps;
 *                      `.cpu_ns`: the process's CPU time per packet forwarded (user + system,
 *                      process.cpuUsage), the figure to compare changes by on a busy machine.
 *                      DPDK beside it: the anchor (bench/anchor.ts).
 *   l2fwd.ring.2proc   generator (lcore 0, both wires of two net_ring ports) and forwarder
 *                      (lcore 1: rx port 0 → rewrite → tx port 1). Forwarded Mpps = what
 *                      came back out of port 1 per second; `.loss_pct` = packets the
 *                      generator offered that port 0 could not take (ring full: imissed) or
 *                      the forwarder dropped, in % of offered. Target ≥ 20 Mpps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeArgs, type Bench, removeInstance } from './harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(HERE, 'ethdev-child.js');
const MEASURE_MS = 1500;

let seq = 0;
function prefix(): string {
  return `bEth${process.pid}x${seq++}`;
}

interface Proc {
  c: ChildProcess;
  out: string;
  done: Promise<number>;
}

function start(role: string, p: string): Proc {
  const c = spawn(process.execPath, nodeArgs([CHILD, role, p, String(MEASURE_MS)]), { stdio: ['ignore', 'pipe', 'inherit'] });
  const pr: Proc = { c, out: '', done: new Promise((r) => c.on('exit', (code, sig) => r(code ?? (sig ? 128 : 1)))) };
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (pr.out += d));
  return pr;
}

function lines(p: Proc): Record<string, number>[] {
  return p.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, number>);
}

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function withProcs<T>(fn: (p: string, procs: Proc[]) => Promise<T>): Promise<T> {
  const p = prefix();
  const procs: Proc[] = [];
  try {
    return await fn(p, procs);
  } finally {
    for (const x of procs) if (x.c.exitCode === null && x.c.signalCode === null) x.c.kill('SIGKILL');
    await Promise.all(procs.map((x) => x.done));
    removeInstance(p);
  }
}

async function l2fwdNull(): Promise<Record<string, number>> {
  return withProcs(async (p, procs) => {
    const g = start('null', p);
    procs.push(g);
    const timer = setTimeout(() => g.c.kill('SIGKILL'), 10_000);
    const code = await g.done;
    clearTimeout(timer);
    const r = lines(g).find((l) => 'fwd' in l);
    if (code !== 0 || !r) throw new Error(`l2fwd null child exited ${code} without a result`);
    return { 'l2fwd.null.1proc': r.fwd! / r.sec! / 1e6, 'l2fwd.null.1proc.cpu_ns': (r.cpuSec! * 1e9) / r.fwd! };
  });
}

async function l2fwdRing(): Promise<Record<string, number>> {
  return withProcs(async (p, procs) => {
    const g = start('gen', p);
    procs.push(g);
    await until(() => lines(g).some((l) => 'ready' in l) || g.c.exitCode !== null, 10_000, 'the generator');
    const f = start('fwd', p);
    procs.push(f);
    const timer = setTimeout(() => procs.forEach((x) => x.c.kill('SIGKILL')), 15_000);
    const [gc, fc] = await Promise.all([g.done, f.done]);
    clearTimeout(timer);
    const gr = lines(g).find((l) => 'collected' in l);
    const fr = lines(f).find((l) => 'fwd' in l);
    if (gc !== 0 || fc !== 0 || !gr || !fr) throw new Error(`l2fwd ring children exited ${gc}/${fc} without results`);
    return {
      'l2fwd.ring.2proc': gr.collected! / gr.sec! / 1e6,
      'l2fwd.ring.2proc.loss_pct': (100 * (gr.missed! + fr.dropped!)) / Math.max(1, gr.sent!),
    };
  });
}

export const benches: Bench[] = [
  { name: 'l2fwd.null.1proc', unit: 'Mpps', what: 'l2fwd loop, one process, two net_null ports, burst 32, 64-byte packets (+ .cpu_ns: CPU ns per packet)', run: l2fwdNull },
  {
    name: 'l2fwd.ring.2proc', unit: 'Mpps', what: 'generator + forwarder processes over two net_ring ports, burst 32 (+ .loss_pct: offered packets not taken or dropped)',
    run: l2fwdRing,
  },
];
