/**
 * symmetric_mp benches: real `mpdk symmetric_mp` processes (--idle=poll, as DPDK spins)
 * over two net_null ports (RX hands out fresh 64-byte mbufs as fast as asked, TX frees
 * them), so the figure is the forwarding loop's own cost. The rate is read from the
 * ports' shared counters by this process (a read-only observer of the instance): packets
 * transmitted on both ports over MEASURE_MS, after WARMUP_MS.
 *
 *   symmetric.null.2proc   two processes (lcores 0 and 1, --num-procs=2, ids 0 and 1),
 *                          Mpps together. DPDK C on this 2-core machine ≈ 120 + 90 = 210;
 *                          target ≥ 100.
 *   symmetric.null.1proc   one process (lcore 1, --num-procs=1), Mpps.
 *   .cpu_ns                the processes' CPU time (all of them, from /proc) per packet forwarded:
 *                          the figure to compare changes by on a busy machine.
 *   symmetric.ring.1proc   `mpdk pktgen` feeding net_ring port 0 and counting port 1, with
 *   symmetric.ring.2proc   one / two forwarders (idle: sleep); Mpps back at pktgen, and
 *                          `.loss_pct` (lost in % of sent).
 *
 * Every child is ended (SIGINT, then SIGKILL) and the instance removed whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eal, EthDev } from '../src/index.js';
import { cpuMs, nodeArgs, type Bench, removeInstance } from './harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MPDK = path.join(HERE, '../src/cli/mpdk.js');
const WARMUP_MS = 400;
const MEASURE_MS = 2000;

let seq = 0;

interface Proc {
  c: ChildProcess;
  out: string;
  done: Promise<number>;
}

function startSym(prefix: string, lcore: number, id: number, n: number, driver: 'null' | 'ring', idle = 'poll'): Proc {
  return startMpdk([
    'symmetric_mp', '-l', String(lcore), '--proc-type=auto', '--file-prefix', prefix, '--log-level', 'error',
    `--vdev=net_${driver}0`, `--vdev=net_${driver}1`, '--', '-p', '3', `--num-procs=${n}`, `--proc-id=${id}`, '--idle', idle,
  ]);
}

function startMpdk(args: string[]): Proc {
  const c = spawn(process.execPath, nodeArgs([MPDK, ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
  const pr: Proc = { c, out: '', done: new Promise((r) => c.on('exit', (code, sig) => r(code ?? (sig ? 128 : 1)))) };
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (pr.out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (pr.out += d));
  return pr;
}

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Packets transmitted on every port of the instance so far. */
function txTotal(eal: Eal): number {
  let n = 0;
  for (const o of EthDev.describe(eal)) n += (o as unknown as { stats: { opackets: number } }).stats.opackets;
  return n;
}

/** Start nprocs forwarders, the primary first (it sets the ports up). */
async function startAll(prefix: string, procs: Proc[], nprocs: number, driver: 'null' | 'ring', idle = 'poll'): Promise<void> {
  for (let id = 0; id < nprocs; id++) {
    const p = startSym(prefix, nprocs === 1 ? 1 : id, id, nprocs, driver, idle);
    procs.push(p);
    await until(() => /APP: Finished Process Init\./.test(p.out) || p.c.exitCode !== null, 15_000, `symmetric_mp --proc-id=${id}`);
    if (p.c.exitCode !== null) throw new Error(`symmetric_mp --proc-id=${id} exited ${p.c.exitCode}: ${p.out.trim().split('\n').pop()}`);
  }
}

/** SIGINT every child (SIGKILL after 5 s), then remove the instance. */
async function endAll(prefix: string, procs: Proc[]): Promise<void> {
  for (const p of procs) if (p.c.exitCode === null && p.c.signalCode === null) p.c.kill('SIGINT');
  const timer = setTimeout(() => procs.forEach((p) => p.c.kill('SIGKILL')), 5000);
  await Promise.all(procs.map((p) => p.done));
  clearTimeout(timer);
  removeInstance(prefix);
}

async function symmetricNull(nprocs: number): Promise<Record<string, number>> {
  const prefix = `bSym${process.pid}x${seq++}`;
  const procs: Proc[] = [];
  let eal: Eal | undefined;
  try {
    await startAll(prefix, procs, nprocs, 'null');
    eal = Eal.observe(prefix, { logLevel: 'error' });
    await sleep(WARMUP_MS);
    const cpu = (): number => procs.reduce((a, p) => a + cpuMs(p.c.pid!), 0);
    const n0 = txTotal(eal);
    const c0 = cpu();
    const t0 = performance.now();
    await sleep(MEASURE_MS);
    const n1 = txTotal(eal);
    const c1 = cpu();
    const t1 = performance.now();
    const name = `symmetric.null.${nprocs}proc`;
    return { [name]: (n1 - n0) / ((t1 - t0) / 1000) / 1e6, [`${name}.cpu_ns`]: ((c1 - c0) * 1e6) / (n1 - n0) };
  } finally {
    eal?.close();
    await endAll(prefix, procs);
  }
}

/**
 * net_ring: `mpdk pktgen` (lcore 7, as fast as it can, 256 flows) plays both wires, sending
 * into port 0 and counting what comes out of port 1 for MEASURE_MS; the forwarders idle
 * in sleep mode (they share 2 cores with the generator). Mpps received by pktgen.
 */
async function symmetricRing(nprocs: number): Promise<Record<string, number>> {
  const prefix = `bSym${process.pid}x${seq++}`;
  const procs: Proc[] = [];
  try {
    await startAll(prefix, procs, nprocs, 'ring', 'sleep');
    const g = startMpdk([
      'pktgen', '-l', '7', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--',
      '--tx-port', '0', '--rx-port', '1', '--flows', '256', '--duration', `${MEASURE_MS}ms`, '--json', '--quiet',
    ]);
    procs.push(g);
    const timer = setTimeout(() => g.c.kill('SIGKILL'), 30_000);
    const code = await g.done;
    clearTimeout(timer);
    const line = g.out.split('\n').find((l) => l.startsWith('{'));
    if (code !== 0 || !line) throw new Error(`pktgen exited ${code}: ${g.out.trim().split('\n').pop()}`);
    const j = JSON.parse(line) as { rxMpps: number; sent: number; lost: number };
    const name = `symmetric.ring.${nprocs}proc`;
    return { [name]: j.rxMpps, [`${name}.loss_pct`]: (100 * j.lost) / Math.max(1, j.sent) };
  } finally {
    await endAll(prefix, procs);
  }
}

export const benches: Bench[] = [
  {
    name: 'symmetric.null.2proc', unit: 'Mpps',
    what: 'symmetric_mp, two processes over two net_null ports, burst 32, 64-byte packets, forwarded together (DPDK C ≈ 120 + 90; target ≥ 100)',
    run: () => symmetricNull(2),
  },
  { name: 'symmetric.null.1proc', unit: 'Mpps', what: 'symmetric_mp, one process over two net_null ports, burst 32, 64-byte packets', run: () => symmetricNull(1) },
  {
    name: 'symmetric.ring.1proc', unit: 'Mpps', what: 'mpdk pktgen → net_ring port 0 → one symmetric_mp → port 1 → pktgen, 256 flows, 64-byte packets (+ .loss_pct)',
    run: () => symmetricRing(1),
  },
  {
    name: 'symmetric.ring.2proc', unit: 'Mpps', what: 'as symmetric.ring.1proc with two symmetric_mp processes sharing the ports by queue (+ .loss_pct)',
    run: () => symmetricRing(2),
  },
];
