/**
 * Idle benches: each program running with no traffic, its CPU use over IDLE_MS read from
 * /proc (the run time of every thread: harness.ts cpuMs), in % of one core. The
 * ports are net_ring (nothing arrives unless someone sends); every program runs as a
 * user would start it (the default --idle=sleep), after SETTLE_MS to start up.
 *
 *   idle.simple_mp.cpu_pct              primary and secondary at their prompts: the larger
 *   idle.symmetric_mp.cpu_pct           one process, two ports
 *   idle.mp_server.cpu_pct              the server of a system with one client ...
 *   idle.mp_client.cpu_pct              ... and that client, measured together
 *   idle.l2fwd_fork.master.cpu_pct      l2fwd_fork -l 0-2 ...
 *   idle.l2fwd_fork.slave.cpu_pct       ... and its busier slave (standbys included)
 *   idle.pktgen.cpu_pct                 pktgen at 10 packets/s through mp_server/mp_client
 *   idle.top.cpu_pct                    `mpdk top` (on a pseudo-terminal: script(1)) over symmetric_mp
 *   idle.exporter.cpu_pct               `mpdk proc-info --prometheus`, nobody scraping
 *
 * Every child is stopped (SIGINT, then SIGKILL) and the instance removed whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, nodeArgs, type Bench, removeInstance } from './harness.js';

const MPDK = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/mpdk.js');
const SETTLE_MS = 1500;
const IDLE_MS = 10_000;

let seq = 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc {
  c: ChildProcess;
  out: string;
  done: Promise<number>;
}

function start(cmd: string, args: string[]): Proc {
  const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const p: Proc = { c, out: '', done: new Promise((r) => c.on('exit', (code, sig) => r(code ?? (sig ? 128 : 1)))) };
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (p.out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (p.out += d));
  return p;
}

const mpdk = (args: string[]): Proc => start(process.execPath, nodeArgs([MPDK, ...args]));

async function waitFor(p: Proc, re: RegExp, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(p.out)) {
    if (Date.now() > end || p.c.exitCode !== null) throw new Error(`timed out waiting for ${re}: ${p.out.trim().split('\n').slice(-3).join(' | ')}`);
    await sleep(20);
  }
}


/** The pids of the processes whose command line contains `needle` (top under script), or whose parent is `ppid` (l2fwd_fork's slaves). */
function pidsOf(needle: string, ppid = -1): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (ppid >= 0) {
        const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
      } else if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** % of one core each of `pids` used over IDLE_MS. */
async function cpuPct(pids: number[]): Promise<number[]> {
  const k0 = pids.map(cpuMs);
  const t0 = performance.now();
  await sleep(IDLE_MS);
  const k1 = pids.map(cpuMs);
  const ms = performance.now() - t0;
  return pids.map((_, i) => {
    const d = k1[i]! - k0[i]!;
    if (!Number.isFinite(d)) throw new Error(`process ${pids[i]} exited during the measurement`);
    return (100 * d) / ms;
  });
}

/** Run `fn` with a fresh instance name; stop every process it started (in reverse), remove the instance. */
async function system<T>(fn: (prefix: string, procs: Proc[]) => Promise<T>): Promise<T> {
  const prefix = `bIdle${process.pid}x${seq++}`;
  const procs: Proc[] = [];
  try {
    return await fn(prefix, procs);
  } finally {
    for (const p of procs.reverse()) {
      if (p.c.exitCode === null && p.c.signalCode === null) p.c.kill('SIGINT');
      const t = setTimeout(() => p.c.kill('SIGKILL'), 5000);
      await p.done;
      clearTimeout(t);
    }
    removeInstance(prefix);
  }
}

const ealArgs = (prefix: string): string[] => ['--file-prefix', prefix, '--log-level', 'warning'];
const RING_PORTS = ['--vdev=net_ring0', '--vdev=net_ring1'];

async function clientServer(prefix: string, procs: Proc[]): Promise<[Proc, Proc]> {
  const s = mpdk(['mp_server', '-l', '0', ...RING_PORTS, ...ealArgs(prefix), '--', '-p', '3', '-n', '1']);
  procs.push(s);
  await waitFor(s, /Finished Process Init/);
  const c = mpdk(['mp_client', '-l', '1', '--proc-type=auto', ...ealArgs(prefix), '--', '-n', '0']);
  procs.push(c);
  await waitFor(c, /handling packets/);
  return [s, c];
}

async function symmetric(prefix: string, procs: Proc[]): Promise<Proc> {
  const p = mpdk(['symmetric_mp', '-l', '1', '--proc-type=auto', ...RING_PORTS, ...ealArgs(prefix), '--', '-p', '3', '--num-procs=1', '--proc-id=0']);
  procs.push(p);
  await waitFor(p, /Finished Process Init/);
  return p;
}

export const benches: Bench[] = [
  {
    name: 'idle.simple_mp.cpu_pct', unit: '%', what: 'simple_mp primary and secondary at their prompts, nothing sent: the larger CPU use',
    run: () => system(async (prefix, procs) => {
      const a = mpdk(['simple_mp', '-l', '0-1', '--proc-type=primary', ...ealArgs(prefix)]);
      procs.push(a);
      await waitFor(a, /simple_mp > /);
      const b = mpdk(['simple_mp', '-l', '2-3', '--proc-type=secondary', ...ealArgs(prefix)]);
      procs.push(b);
      await waitFor(b, /simple_mp > /);
      await sleep(SETTLE_MS);
      return Math.max(...(await cpuPct([a.c.pid!, b.c.pid!])));
    }),
  },
  {
    name: 'idle.symmetric_mp.cpu_pct', unit: '%', what: 'symmetric_mp, one process over two net_ring ports, no traffic',
    run: () => system(async (prefix, procs) => {
      const p = await symmetric(prefix, procs);
      await sleep(SETTLE_MS);
      return (await cpuPct([p.c.pid!]))[0]!;
    }),
  },
  {
    name: 'idle.client_server', unit: '%', what: 'mp_server (two net_ring ports) and one mp_client, no traffic: CPU of each (.mp_server / .mp_client)',
    run: () => system(async (prefix, procs) => {
      const [s, c] = await clientServer(prefix, procs);
      await sleep(SETTLE_MS);
      const [ps, pc] = await cpuPct([s.c.pid!, c.c.pid!]);
      return { 'idle.mp_server.cpu_pct': ps!, 'idle.mp_client.cpu_pct': pc! };
    }),
  },
  {
    name: 'idle.l2fwd_fork', unit: '%', what: 'l2fwd_fork -l 0-2 over two net_ring ports, no traffic: the master and its busier slave (.master / .slave)',
    run: () => system(async (prefix, procs) => {
      const m = mpdk(['l2fwd_fork', '-l', '0-2', ...RING_PORTS, ...ealArgs(prefix), '--', '-p', '3', '-T', '0']);
      procs.push(m);
      await waitFor(m, /forwarding|Forwarding|slave/);
      await sleep(SETTLE_MS + 1000);
      const slaves = pidsOf('', m.c.pid!);
      if (slaves.length === 0) throw new Error(`no slave of l2fwd_fork found: ${m.out.trim().split('\n').slice(-3).join(' | ')}`);
      const [master, ...rest] = await cpuPct([m.c.pid!, ...slaves]);
      return { 'idle.l2fwd_fork.master.cpu_pct': master!, 'idle.l2fwd_fork.slave.cpu_pct': Math.max(...rest) };
    }),
  },
  {
    name: 'idle.pktgen.cpu_pct', unit: '%', what: 'pktgen sending 10 packets/s through mp_server and mp_client (waiting between packets)',
    run: () => system(async (prefix, procs) => {
      await clientServer(prefix, procs);
      const g = mpdk(['pktgen', '-l', '4', '--proc-type=secondary', ...ealArgs(prefix), '--', '--tx-port', '0', '--rx-port', '1', '--rate', '10',
        '--duration', String((SETTLE_MS + IDLE_MS) / 1000 + 3), '--quiet']);
      procs.push(g);
      await sleep(SETTLE_MS + 500);
      return (await cpuPct([g.c.pid!]))[0]!;
    }),
  },
  {
    name: 'idle.top.cpu_pct', unit: '%', what: 'mpdk top (live, on a pseudo-terminal, 1 s refresh) over an idle symmetric_mp',
    run: () => system(async (prefix, procs) => {
      await symmetric(prefix, procs);
      const cmd = [process.execPath, ...nodeArgs([MPDK, 'top', '--file-prefix', prefix, '-d', '1'])].map((a) => `'${a}'`).join(' ');
      const t = start('script', ['-qfec', cmd, '/dev/null']);
      procs.push(t);
      await sleep(SETTLE_MS);
      const pid = pidsOf(`top\0--file-prefix\0${prefix}`)[0];
      if (pid === undefined) throw new Error(`mpdk top did not start: ${t.out.slice(-300)}`);
      return (await cpuPct([pid]))[0]!;
    }),
  },
  {
    name: 'idle.exporter.cpu_pct', unit: '%', what: 'mpdk proc-info --prometheus over an idle symmetric_mp, nobody scraping',
    run: () => system(async (prefix, procs) => {
      await symmetric(prefix, procs);
      const port = 20000 + ((process.pid * 7 + seq) % 20000);
      const e = mpdk(['proc-info', '--file-prefix', prefix, '--prometheus', `127.0.0.1:${port}`]);
      procs.push(e);
      await sleep(SETTLE_MS);
      if (e.c.exitCode !== null) throw new Error(`the exporter exited: ${e.out.trim()}`);
      return (await cpuPct([e.c.pid!]))[0]!;
    }),
  },
];
