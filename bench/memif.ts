/**
 * net_memif against DPDK's testpmd (copy mode, 64-byte frames, one queue pair, role
 * client for mpdk, testpmd the server), beside testpmd ↔ testpmd over memif measured in
 * the same run as the baseline. Each figure: packets that crossed in a ~3 s window / time,
 * counted once the link is up.
 *   memif.testpmd_to_testpmd   testpmd txonly (server) → testpmd rxonly (client): the mean
 *                              of the client's per-second Rx-pps (--stats-period 1) after
 *                              the first second with traffic (that one holds the connect)
 *   memif.testpmd_to_mpdk      testpmd txonly (server) → mpdk (test/memif-child.ts rx)
 *   memif.mpdk_to_testpmd      mpdk (memif-child tx) → testpmd rxonly (server)
 *   memif.*_zc                 the same two with the mpdk client in zero-copy mode
 *
 * CPU placement (2 cores: one busy-polling forwarder per core, never two on one). testpmd
 * needs two lcores (a main lcore, which only waits for Enter, and one that forwards: the
 * lowest lcore of -l is the main unless --main-lcore says otherwise), and DPDK pins each
 * lcore thread to its CPU. Both testpmd processes with `-l 0-1` forward on CPU 1, and
 * two busy pollers sharing one CPU take turns per scheduler slice while the other CPU
 * idles: that is why this baseline once read 0.06 Mpps. So the server forwards on CPU 0
 * (`--main-lcore 1`) and the client on CPU 1 (`--main-lcore 0`), the idle mains sharing.
 * Against mpdk, testpmd forwards on CPU 1 and the mpdk child (`-l 0`, which pins its main
 * thread to CPU 0; its memif control thread inherits that mask) polls on CPU 0, in
 * --idle=poll style (MEMIF_CHILD_IDLE=poll), as testpmd does.
 * When dpdk-testpmd is missing every bench throws saying so (apt-get install dpdk dpdk-dev).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench } from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = path.join(ROOT, 'dist/test/memif-child.js');
const TESTPMD = spawnSync('sh', ['-c', 'command -v dpdk-testpmd'], { encoding: 'utf8' }).stdout.trim();
const STDBUF = spawnSync('sh', ['-c', 'command -v stdbuf'], { encoding: 'utf8' }).stdout.trim();
const WINDOW_MS = 3000;
const kids = new Set<ChildProcess>();
process.on('exit', () => {
  for (const k of kids) k.kill('SIGKILL');
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let n = 0;

function need(): void {
  if (!TESTPMD) throw new Error('DPDK is not installed (no dpdk-testpmd): apt-get install -y dpdk dpdk-dev to measure memif against it');
}

function proc(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { text: string } {
  const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } }) as ChildProcess & { text: string };
  p.text = '';
  p.stdout!.on('data', (d: Buffer) => (p.text += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (p.text += d.toString()));
  kids.add(p);
  p.on('exit', () => kids.delete(p));
  return p;
}

/** testpmd on lcores 0-1 whose forwarding lcore is `fwdCpu` (the other one is its idle main). */
function testpmd(fp: string, vdev: string, mode: string, fwdCpu: 0 | 1, extra: string[] = []): ChildProcess & { text: string } {
  // Line-buffered stdout where coreutils' stdbuf is there: the Rx-pps lines come as printed.
  const [cmd, pre] = STDBUF ? [STDBUF, ['-oL', TESTPMD!]] : [TESTPMD!, []];
  return proc(cmd, [...pre, '-l', '0-1', '--main-lcore', String(1 - fwdCpu), '--no-pci', '--no-huge', '-m', '512', '--file-prefix', fp, `--vdev=${vdev}`, '--',
    `--forward-mode=${mode}`, '--auto-start', '--total-num-mbufs=16384', ...extra]);
}

async function end(p: ChildProcess, how: 'enter' | 'quit' | 'int' | 'kill'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  if (how === 'kill') p.kill('SIGKILL');
  else if (how === 'int') p.kill('SIGINT'); // testpmd with --stats-period ignores stdin
  else p.stdin!.write(how === 'enter' ? '\n' : 'quit\n');
  const t = setTimeout(() => p.kill('SIGKILL'), 8000);
  await new Promise<void>((r) => (p.exitCode !== null ? r() : p.once('exit', () => r())));
  clearTimeout(t);
}

function lastCount(text: string, key: 'rx' | 'tx'): number {
  const lines = text.split('\n').filter((l) => l.startsWith('rx '));
  const f = (lines[lines.length - 1] ?? '').split(' ');
  const i = f.indexOf(key);
  return i >= 0 ? Number(f[i + 1]) : 0;
}

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const e = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > e) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** mpdk child on one side, testpmd (server) on the other: Mpps over the window. */
async function withMpdk(mode: 'rx' | 'tx', zc = false): Promise<number> {
  need();
  const id = `${process.pid}x${n++}`;
  const sock = `/tmp/mpdk-bench-${id}`;
  const fp = `mpdkbench${id}`;
  const t = testpmd(fp, `net_memif0,role=server,socket=${sock}`, mode === 'rx' ? 'txonly' : 'rxonly', 1);
  let c: (ChildProcess & { text: string }) | undefined;
  try {
    await sleep(1500);
    c = proc(process.execPath, [CHILD, `mb${id}`, `net_memif0,role=client,socket=${sock}${zc ? ',zero-copy=yes' : ''}`, mode, '0', '64'], { MEMIF_CHILD_IDLE: 'poll' });
    await until(() => /\nup\n/.test(c!.text), 15000, 'the memif link');
    await sleep(500);
    const key = mode === 'rx' ? 'rx' : 'tx';
    const a = lastCount(c.text, key);
    const t0 = Date.now();
    await sleep(WINDOW_MS);
    const b = lastCount(c.text, key);
    const secs = (Date.now() - t0) / 1000;
    return (b - a) / secs / 1e6;
  } finally {
    if (c) await end(c, 'quit');
    await end(t, 'enter');
    fs.rmSync(`/var/run/dpdk/${fp}`, { recursive: true, force: true });
  }
}

async function testpmdPair(): Promise<number> {
  need();
  const id = `${process.pid}x${n++}`;
  const sock = `/tmp/mpdk-bench-${id}`;
  const s = testpmd(`mpdkbench${id}s`, `net_memif0,role=server,socket=${sock}`, 'txonly', 0);
  let c: (ChildProcess & { text: string }) | undefined;
  try {
    await sleep(1500);
    c = testpmd(`mpdkbench${id}c`, `net_memif0,role=client,socket=${sock}`, 'rxonly', 1, ['--stats-period', '1']);
    const pps = (): number[] => [...c!.text.matchAll(/Rx-pps:\s+(\d+)/g)].map((m) => Number(m[1]));
    await until(() => pps().some((v) => v > 0), 15000, 'testpmd rxonly receiving');
    const first = pps().length;
    await sleep(WINDOW_MS + 500);
    // testpmd's stdout is a pipe (block-buffered unless stdbuf could make it line-buffered):
    // its per-second blocks may come in bunches, so wait (bounded) for the window's samples.
    const want = Math.floor(WINDOW_MS / 1000);
    await until(() => pps().length - first >= want, 10000, `${want} Rx-pps samples from testpmd`).catch(() => {});
    const samples = pps().slice(first); // whole seconds after the one the traffic began in
    if (samples.length < 2) throw new Error(`testpmd printed ${samples.length} Rx-pps samples in ${WINDOW_MS} ms: ${c.text.slice(-300)}`);
    return samples.reduce((a, b) => a + b, 0) / samples.length / 1e6;
  } finally {
    if (c) await end(c, 'int');
    await end(s, 'enter');
    for (const x of ['s', 'c']) fs.rmSync(`/var/run/dpdk/mpdkbench${id}${x}`, { recursive: true, force: true });
  }
}

export const benches: Bench[] = [
  { name: 'memif.testpmd_to_testpmd', unit: 'Mpps', what: 'testpmd txonly (CPU 0) → testpmd rxonly (CPU 1) over memif, 64 B, copy mode (baseline)', run: testpmdPair },
  { name: 'memif.testpmd_to_mpdk', unit: 'Mpps', baseline: 'memif.testpmd_to_testpmd', what: 'testpmd txonly (server) → mpdk net_memif client, 64 B, bytes checked', run: () => withMpdk('rx') },
  { name: 'memif.mpdk_to_testpmd', unit: 'Mpps', baseline: 'memif.testpmd_to_testpmd', what: 'mpdk net_memif client → testpmd rxonly (server), 64 B', run: () => withMpdk('tx') },
  { name: 'memif.testpmd_to_mpdk_zc', unit: 'Mpps', baseline: 'memif.testpmd_to_testpmd', what: 'as testpmd_to_mpdk, mpdk client in zero-copy mode (testpmd writes into its mbufs)', run: () => withMpdk('rx', true) },
  { name: 'memif.mpdk_to_testpmd_zc', unit: 'Mpps', baseline: 'memif.testpmd_to_testpmd', what: 'as mpdk_to_testpmd, mpdk client in zero-copy mode (testpmd reads its mbufs)', run: () => withMpdk('tx', true) },
];
