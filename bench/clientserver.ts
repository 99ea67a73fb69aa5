/**
 * client_server_mp benches: the real `mpdk mp_server` / `mpdk mp_client` processes,
 * measured from the outside through the server's port table (MProc_port_info, read with
 * a read-only Eal.observe) over MEASURE_MS after WARMUP_MS. Every child is killed (SIGINT
 * first under MPDK_BENCH_PROF, so that profiles get written) and the instance removed whatever happens.
 *
 *   clientserver.null.1client   server (lcore 0, --idle=poll) receives from two net_null
 *                               ports and feeds one client (lcore 1, --idle=poll), which
 *                               transmits on net_null (frees). Figure: Mpps forwarded by
 *                               the client (its tx). DPDK's C here ≈ 17; target ≥ 10.
 *                               `.cpu_ns`: server and client CPU time (from /proc) per
 *                               packet forwarded, for comparing changes on a busy machine;
 *                               `.client_ns`: the client's alone (net_null's RX never runs
 *                               dry, so the client is the limit: the server polls and drops
 *                               what its ring cannot take).
 *   clientserver.ring.2clients  server + two clients over two net_ring ports, the bench
 *                               process playing both wires flat out (mp_server/traffic.ts):
 *                               4 processes on 2 cores, so server and clients idle by
 *                               sleeping (--idle=sleep). Figure: Mpps forwarded by both
 *                               clients together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, nodeArgs, removeInstance, type Bench } from './harness.js';
import { Eal } from '../src/index.js';
import { PortInfoView } from '../src/apps/mp_server/common.js';
import { Traffic } from '../src/apps/mp_server/traffic.js';

const MPDK = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/mpdk.js');
const WARMUP_MS = 700;
const MEASURE_MS = 1500;

let seq = 0;
const prefix = (): string => `bCs${process.pid}x${seq++}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc {
  c: ChildProcess;
  out: string;
  done: Promise<number>;
}

function start(args: string[]): Proc {
  const c = spawn(process.execPath, nodeArgs([MPDK, ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { c, out: '', done: new Promise((r) => c.on('exit', (code) => r(code ?? 1))) };
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (p.out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (p.out += d));
  return p;
}

async function waitFor(p: Proc, re: RegExp, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(p.out)) {
    if (Date.now() > end || p.c.exitCode !== null) throw new Error(`timed out waiting for ${re}:\n${p.out}`);
    await sleep(20);
  }
}

async function system<T>(p: string, vdev: string, clients: number, idle: string, body: (info: PortInfoView, pids: number[]) => Promise<T>): Promise<T> {
  const procs: Proc[] = [];
  const common = ['--file-prefix', p, '--log-level', 'warning'];
  try {
    const s = start(['mp_server', '-l', '0', `--vdev=${vdev}0`, `--vdev=${vdev}1`, ...common, '--', '-p', '3', '-n', String(clients), `--idle=${idle}`]);
    procs.push(s);
    await waitFor(s, /Finished Process Init/, 10000);
    for (let i = 0; i < clients; i++) {
      const c = start(['mp_client', '-l', String(1 + i), '--proc-type=auto', ...common, '--', '-n', String(i), `--idle=${idle}`]);
      procs.push(c);
      await waitFor(c, /handling packets/, 10000);
    }
    const view = Eal.observe(p);
    try {
      return await body(PortInfoView.lookup(view), procs.map((x) => x.c.pid!));
    } finally {
      view.release();
    }
  } finally {
    // Clients first, then the server; SIGINT (a profiled child writes its profile), SIGKILL after 5 s.
    for (const x of procs.reverse()) {
      if (x.c.exitCode === null) x.c.kill(process.env.MPDK_BENCH_PROF ? 'SIGINT' : 'SIGKILL');
      const timer = setTimeout(() => x.c.kill('SIGKILL'), 5000);
      await x.done;
      clearTimeout(timer);
    }
    removeInstance(p);
  }
}

function forwarded(info: PortInfoView): number {
  let s = 0;
  for (let i = 0; i < info.numClients; i++) s += info.client(i).tx;
  return s;
}

export const benches: Bench[] = [
  {
    name: 'clientserver.null.1client',
    unit: 'Mpps',
    what: 'client-server, net_null: server RX on one core, one client forwarding on the other (client tx)',
    run: () => system(prefix(), 'net_null', 1, 'poll', async (info, pids) => {
      await sleep(WARMUP_MS);
      const cpu = (): number => pids.reduce((a, pid) => a + cpuMs(pid), 0);
      const a = forwarded(info);
      const c0 = cpu();
      const k0 = cpuMs(pids[1]!);
      const t0 = performance.now();
      await sleep(MEASURE_MS);
      const n = forwarded(info) - a;
      return {
        'clientserver.null.1client': n / ((performance.now() - t0) * 1000),
        'clientserver.null.1client.cpu_ns': ((cpu() - c0) * 1e6) / n,
        'clientserver.null.1client.client_ns': ((cpuMs(pids[1]!) - k0) * 1e6) / n,
      };
    }),
  },
  {
    name: 'clientserver.ring.2clients',
    unit: 'Mpps',
    what: 'client-server, net_ring: server + 2 clients, this process playing both wires flat out (4 processes, 2 cores)',
    run: () => {
      const p = prefix();
      return system(p, 'net_ring', 2, 'sleep', async () => {
        const { eal } = Eal.init(['-l', '5', '--file-prefix', p, '--proc-type=secondary', '--log-level', 'error'], { handleSignals: false });
        eal.onPrimaryExit(() => undefined);
        const info = PortInfoView.lookup(eal);
        const t = new Traffic(eal, info);
        try {
          const loop = async (ms: number): Promise<void> => {
            const end = performance.now() + ms;
            while (performance.now() < end) {
              for (let i = 0; i < 64; i++) {
                t.inject(32);
                t.collect();
              }
              await new Promise((r) => setImmediate(r));
            }
          };
          await loop(WARMUP_MS);
          const a = forwarded(info);
          const t0 = performance.now();
          await loop(MEASURE_MS);
          return (forwarded(info) - a) / ((performance.now() - t0) * 1000);
        } finally {
          t.close();
          eal.close();
        }
      });
    },
  },
];
