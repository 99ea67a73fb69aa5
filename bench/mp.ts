/**
 * The message channel's figure: the round trip of a request and its reply between two
 * processes (a secondary asking the primary, 8 bytes each way, one request at a time),
 * beside the same round trip through DPDK's own channel (rte_mp_request_sync, measured by
 * bench/dpdk/mp_request.c against Debian's libdpdk-dev) and through Node's IPC
 * (child_process.send to a forked child that sends it back):
 *
 *   mp.request_p50_us / _p99_us        eal.mp.request → the primary's handler → its reply, the
 *                                      two processes on lcores 0 and 1 (each pinned to its CPU,
 *                                      as the shipped programs run, and as DPDK's lcores)
 *   mp.request_unpinned_p50_us / _p99_us  the same on lcores 100 and 101 (beyond the CPUs:
 *                                      unpinned, as Node's processes and DPDK's mp thread run).
 *                                      On a loaded machine a pinned process waits for its own
 *                                      CPU: measured 63-74 µs pinned against 21-23 µs unpinned
 *                                      at load 7 on 2 cores
 *   mp.dpdk_request_sync_p50_us / _p99_us
 *   mp.node_send_p50_us / _p99_us      process.send → child → process.send back
 *
 * DPDK's figure is skipped, with the reason on stderr, without a C compiler, without
 * libdpdk-dev, or without hugepages (its secondaries cannot attach with --no-huge, and
 * --in-memory turns its channel off): when none are free and the bench runs as root, it
 * reserves 48 pages of 2 MiB and mounts a hugetlbfs for the run, then restores both.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { have } from './cc.js';
import { exitOf, nodeArgs, type Bench } from './harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(HERE, 'mp-child.js');
/** The C source: dist/bench/ → bench/dpdk/. */
const C_SOURCE = path.join(HERE, '../../bench/dpdk/mp_request.c');
const N = 3000;
let seq = 0;

function lines(c: ChildProcess): { out: () => string } {
  let out = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { out: () => out };
}

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Times {
  p50_us: number;
  p99_us: number;
}

/** Start `serve`, run `ask` to its end, parse its summary line. */
async function serveAndAsk(serve: [string, string[]], ask: [string, string[]], what: string): Promise<Times> {
  const s = spawn(serve[0], serve[1], { stdio: ['pipe', 'pipe', 'pipe'] });
  const so = lines(s);
  let a: ChildProcess | undefined;
  try {
    await until(() => /READY/.test(so.out()) || s.exitCode !== null, 15_000, `the ${what} primary`);
    if (s.exitCode !== null) throw new Error(`the ${what} primary exited: ${so.out()}`);
    a = spawn(ask[0], ask[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ao = lines(a);
    await until(() => a!.exitCode !== null, 50_000, `the ${what} requests`);
    const m = /\{"p50_us".*\}/.exec(ao.out());
    if (a.exitCode !== 0 || !m) throw new Error(`the ${what} secondary failed (${a.exitCode}): ${ao.out()}`);
    return JSON.parse(m[0]) as Times;
  } finally {
    s.stdin!.end();
    if (a) await exitOf(a, 2000);
    await exitOf(s, 3000);
  }
}

/** mpdk's round trip, the primary on lcore `a` and the secondary on `b` (ids beyond the CPUs run unpinned). */
async function mpdk(a: number, b: number): Promise<Times> {
  const prefix = `bMp${process.pid}x${seq++}`;
  const eal = ['--file-prefix', prefix, '--log-level', 'error', '--no-telemetry', '-m', '64'];
  return serveAndAsk(
    [process.execPath, nodeArgs([CHILD, 'serve', '-l', String(a), '--proc-type=primary', ...eal])],
    [process.execPath, nodeArgs([CHILD, 'ask', '-l', String(b), '--proc-type=secondary', ...eal, '--', String(N)])],
    'mpdk',
  );
}

async function nodeSend(): Promise<Times> {
  const c = fork(CHILD, ['echo'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    const t: number[] = [];
    const msg = { ping: 'abcdefgh' };
    for (let i = -Math.floor(N / 10); i < N; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        c.once('message', () => resolve());
        c.send(msg);
      });
      if (i >= 0) t.push((performance.now() - t0) * 1000);
    }
    t.sort((a, b) => a - b);
    return { p50_us: t[t.length >> 1]!, p99_us: t[Math.floor(t.length * 0.99)]! };
  } finally {
    c.kill('SIGKILL');
    await exitOf(c, 2000);
  }
}

function meminfo(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** A hugetlbfs folder with free 2 MiB pages for the run, and how to give them back; or why not. */
function hugepages(tmp: string): { dir: string; restore(): void } | string {
  const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'hugetlbfs' && !/pagesize=1G/.test(f[3] ?? ''));
  if (meminfo('HugePages_Free') >= 32 && meminfo('Hugepagesize') === 2048 && mounts.length > 0) return { dir: mounts[0]![1]!, restore: () => undefined };
  if (process.getuid?.() !== 0) return 'DPDK secondaries need hugepages: none free (and not root to reserve some for the run); e.g. echo 64 > /proc/sys/vm/nr_hugepages and mount -t hugetlbfs nodev DIR';
  const knob = '/proc/sys/vm/nr_hugepages';
  const before = Number(fs.readFileSync(knob, 'utf8'));
  fs.writeFileSync(knob, String(before + 48));
  const dir = path.join(tmp, 'huge');
  fs.mkdirSync(dir);
  let mounted = false;
  const restore = (): void => {
    if (mounted) have('umount', [dir]);
    fs.writeFileSync(knob, String(before));
  };
  if (meminfo('HugePages_Free') < 32) {
    restore();
    return `DPDK secondaries need hugepages: could not reserve 48 (memory too fragmented?)`;
  }
  if (have('mount', ['-t', 'hugetlbfs', '-o', 'pagesize=2M', 'nodev', dir]) === undefined) {
    restore();
    return 'DPDK secondaries need hugepages: could not mount a hugetlbfs';
  }
  mounted = true;
  return { dir, restore };
}

async function dpdk(): Promise<Times | string> {
  if (have('cc', ['--version']) === undefined) return 'no C compiler (cc)';
  const flags = have('pkg-config', ['--cflags', '--libs', 'libdpdk']);
  if (flags === undefined) return 'no libdpdk-dev (pkg-config libdpdk)';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-dpdk-'));
  const prefix = `bMpD${process.pid}x${seq++}`;
  try {
    const bin = path.join(tmp, 'mp_request');
    try {
      execFileSync('cc', ['-O2', '-o', bin, C_SOURCE, ...flags.split(/\s+/)], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return `cannot build ${C_SOURCE}: ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}`;
    }
    const huge = hugepages(tmp);
    if (typeof huge === 'string') return huge;
    try {
      const eal = ['--no-pci', '--no-telemetry', '-m', '32', '--huge-dir', huge.dir, '--file-prefix', prefix, '--log-level=error'];
      return await serveAndAsk([bin, ['-l', '0', ...eal]], [bin, ['-l', '1', '--proc-type=secondary', ...eal, '--', String(N)]], 'DPDK');
    } finally {
      huge.restore();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    // DPDK's runtime folder of this run's prefix (its config and mp sockets).
    for (const run of ['/var/run/dpdk', path.join(process.env.XDG_RUNTIME_DIR ?? '/tmp', 'dpdk')]) fs.rmSync(path.join(run, prefix), { recursive: true, force: true });
  }
}

export const benches: Bench[] = [
  {
    name: 'mp',
    unit: 'us',
    baselines: {
      'mp.request_p50_us': 'mp.node_send_p50_us',
      'mp.request_p99_us': 'mp.node_send_p99_us',
      'mp.request_unpinned_p50_us': 'mp.node_send_p50_us',
      'mp.request_unpinned_p99_us': 'mp.node_send_p99_us',
      'mp.dpdk_request_sync_p50_us': 'mp.node_send_p50_us',
      'mp.dpdk_request_sync_p99_us': 'mp.node_send_p99_us',
    },
    what: `request/reply round trip between two processes (${N} in a row): eal.mp.request, DPDK's rte_mp_request_sync, Node's child_process.send`,
    async run() {
      const node = await nodeSend();
      const pinned = await mpdk(0, 1);
      const free = await mpdk(100, 101);
      const out: Record<string, number> = {
        'mp.node_send_p50_us': node.p50_us, 'mp.node_send_p99_us': node.p99_us,
        'mp.request_p50_us': pinned.p50_us, 'mp.request_p99_us': pinned.p99_us,
        'mp.request_unpinned_p50_us': free.p50_us, 'mp.request_unpinned_p99_us': free.p99_us,
      };
      const d = await dpdk();
      if (typeof d === 'string') process.stderr.write(`mp: DPDK's figure skipped: ${d}\n`);
      else Object.assign(out, { 'mp.dpdk_request_sync_p50_us': d.p50_us, 'mp.dpdk_request_sync_p99_us': d.p99_us });
      return out;
    },
  },
];
