/**
 * l2fwd_fork figures: recovery time (kill -9 of a slave → the replacement pair forwards
 * again) over repeated kills, and the forwarding rate of a pair of slaves fed by the wire
 * generator (src/apps/l2fwd_fork/wiregen.ts). The bench process observes the instance
 * read-only (Eal.observe) and polls the "port_stat" counters every millisecond: recovery
 * ends when the victim's TX port counter moves again (only the victim sends on it).
 * Between kills it waits until the master has its standby slaves again (the steady state
 * the figure is about; a kill before that pays a process start): 1.5 s, then until two
 * children of the master are standbys (bounded, 10 s).
 * `l2fwd.null.l2fwd_fork`: the program's own forwarding loop over net_null (nullRate).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eal } from '../src/index.js';
import { CTL, CTL_MZ, PSTAT, RES, resName } from '../src/apps/l2fwd_fork/layout.js';
import { cpuMs, nodeArgs, type Bench } from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MPDK = path.join(ROOT, 'dist/src/cli/mpdk.js');
const GEN = path.join(ROOT, 'dist/src/apps/l2fwd_fork/wiregen.js');
const KILLS = 20;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(file: string, args: string[]): ChildProcess {
  return spawn(process.execPath, nodeArgs([file, ...args]), { stdio: ['ignore', 'ignore', 'ignore'] });
}

/** The master's own account of each recovery ("recovery of lcores ...: partners stopped +x, ..."), in order. */
function recoveryLines(out: string): string[] {
  return [...out.matchAll(/recovery of lcores? [\d, ]+ \(ms after the exit was seen\): (.*)/g)].map((m) => m[1]!);
}

async function until<T>(fn: () => T | undefined | false, ms: number, what: string, every = 5): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (performance.now() > end) throw new Error(`l2fwd_fork bench: timed out waiting for ${what}`);
    await sleep(every);
  }
}

/** Children of `pid` that are standby slaves (title "l2fwd_fork standby ...", or a slave.js with no arguments). */
function standbys(pid: number): number {
  let n = 0;
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'latin1').replace(/\0+$/, '').split('\0');
      if (cmd[0]!.startsWith('l2fwd_fork standby') || (cmd.length === 2 && cmd[1]!.endsWith('slave.js'))) n++;
    } catch {
      /* gone meanwhile */
    }
  }
  return n;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A read-only view of instance `prefix` once its l2fwd_fork master has set up its state. */
function observeMaster(prefix: string): Promise<Eal> {
  return until(() => {
    try {
      const e = Eal.observe(prefix, { logLevel: 'error' });
      if (e.memzones.tryLookup(CTL_MZ) && e.region.u32At(e.memzones.lookup(CTL_MZ).offset + CTL.MAGIC) !== 0) return e;
      e.close();
    } catch {
      /* not up yet */
    }
    return undefined;
  }, 20000, 'the master', 20);
}

async function measure(): Promise<Record<string, number>> {
  const prefix = `l2fb${process.pid}`;
  const procs: ChildProcess[] = [];
  const master = spawn(process.execPath, nodeArgs([MPDK, 'l2fwd_fork', '-l', '0-2', '--file-prefix', prefix, '--log-level', 'error', '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '-T', '0']),
    { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  master.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  procs.push(master);
  let eal: Eal | undefined;
  try {
    eal = await observeMaster(prefix);
    const r = eal.region;
    const stat = r.u32At(eal.memzones.lookup(CTL_MZ).offset + CTL.PORT_STAT) >>> 3;
    const tx1 = (): number => r.f64[stat + 1 * PSTAT.STRIDE + PSTAT.TX]!; // sent by lcore 1's slave
    const total = (): number => r.f64[stat + PSTAT.TX]! + tx1();
    const res1 = eal.memzones.lookup(resName(1)).offset;
    const pid1 = (): number => r.i32[(res1 + RES.PID) >>> 2]!;

    const gen = start(GEN, ['-l', '120', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', '-p', '3', '--rate', '50000', '--report', '60000']);
    procs.push(gen);
    await until(() => tx1() > 1000, 20000, 'forwarding');
    await until(() => standbys(master.pid!) >= 2, 10000, 'two standby slaves', 50);
    const rec: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const victim = pid1();
      const before = tx1();
      await until(() => tx1() > before, 5000, 'traffic before the kill', 1);
      const seen = tx1();
      const t0 = performance.now();
      process.kill(victim, 'SIGKILL');
      // Packets the victim sent just before dying may still land: wait for a new pid first.
      await until(() => pid1() !== victim && pid1() !== 0, 10000, 'a new slave', 1);
      const base = Math.max(seen, tx1());
      await until(() => tx1() > base, 10000, 'forwarding again', 1);
      rec.push(performance.now() - t0);
      await sleep(1500); // the master's standby slaves start again (they are what makes recovery fast)
      await until(() => standbys(master.pid!) >= 2, 10000, 'two standby slaves', 50);
    }
    // Forwarding rate: the generator as fast as it can for 2 s.
    gen.kill('SIGTERM');
    await new Promise((res) => gen.once('exit', res));
    const fast = start(GEN, ['-l', '121', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', '-p', '3', '--rate', '0', '--report', '60000']);
    procs.push(fast);
    await sleep(500);
    const c0 = total();
    const t0 = performance.now();
    await sleep(2000);
    const mpps = (total() - c0) / ((performance.now() - t0) * 1000);
    fast.kill('SIGTERM');
    await new Promise((res) => fast.once('exit', res));
    // Where the time went in the slowest recovery, by the master's log (its clock starts when it sees the exit).
    const steps = recoveryLines(out);
    const worst = rec.indexOf(Math.max(...rec));
    process.stderr.write(`  l2fwd_fork: slowest recovery ${rec[worst]!.toFixed(0)} ms after the kill; the master's steps: ${steps[worst] ?? '(no recovery line)'}\n`);
    rec.sort((a, b) => a - b);
    process.stderr.write(`  l2fwd_fork: recovery times (ms), sorted: ${rec.map((x) => x.toFixed(0)).join(' ')}\n`);
    return { 'l2fwd_fork.recovery_p50_ms': pct(rec, 50), 'l2fwd_fork.recovery_p99_ms': pct(rec, 99), 'l2fwd_fork.fwd_mpps': mpps };
  } finally {
    eal?.close();
    master.kill('SIGTERM');
    await Promise.race([new Promise((res) => master.once('exit', res)), sleep(3000)]);
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

/**
 * The shipped l2fwd_fork over two net_null ports, as l2fwd.null.1proc's loop and DPDK's
 * l2fwd in the anchor: one slave (lcore 1, -q 2: both ports), busy-polling. Mpps from the
 * slave's own "port_stat" counters (TX of both ports) over 1.5 s after 0.5 s; `.cpu_ns`:
 * the slave's CPU time (from /proc) per packet.
 */
async function nullRate(): Promise<Record<string, number>> {
  const prefix = `l2fn${process.pid}`;
  const master = spawn(process.execPath, nodeArgs([MPDK, 'l2fwd_fork', '-l', '0-1', '--file-prefix', prefix, '--log-level', 'error', '--vdev=net_null0', '--vdev=net_null1', '--',
    '-p', '3', '-q', '2', '-T', '0', '--idle=poll', '--standby=0']), { stdio: ['ignore', 'ignore', 'ignore'] });
  let eal: Eal | undefined;
  try {
    eal = await observeMaster(prefix);
    const r = eal.region;
    const stat = r.u32At(eal.memzones.lookup(CTL_MZ).offset + CTL.PORT_STAT) >>> 3;
    const total = (): number => r.f64[stat + PSTAT.TX]! + r.f64[stat + PSTAT.STRIDE + PSTAT.TX]!;
    const res1 = eal.memzones.lookup(resName(1)).offset;
    await until(() => total() > 1000, 20000, 'forwarding');
    const pid = r.i32[(res1 + RES.PID) >>> 2]!;
    await sleep(500);
    const n0 = total();
    const c0 = cpuMs(pid);
    const t0 = performance.now();
    await sleep(1500);
    const n = total() - n0;
    return { 'l2fwd.null.l2fwd_fork': n / ((performance.now() - t0) * 1000), 'l2fwd.null.l2fwd_fork.cpu_ns': ((cpuMs(pid) - c0) * 1e6) / n };
  } finally {
    eal?.close();
    master.kill('SIGTERM');
    await Promise.race([new Promise((res) => master.once('exit', res)), sleep(3000)]);
    if (master.exitCode === null && master.signalCode === null) master.kill('SIGKILL');
  }
}

export const benches: Bench[] = [
  {
    name: 'l2fwd.null.l2fwd_fork',
    unit: 'Mpps',
    what: 'l2fwd_fork itself, one slave busy-polling two net_null ports (-q 2), 64-byte packets, forwarded per s (+ .cpu_ns: the slave\'s CPU ns per packet)',
    run: nullRate,
  },
  {
    name: 'l2fwd_fork',
    unit: 'Mpps',
    what: `l2fwd_fork: kill -9 of a slave under 50 kpps → forwarding again, p50/p99 over ${KILLS} kills; forwarding rate (Mpps, both directions)`,
    run: async () => {
      const f = await measure();
      return f;
    },
  },
];
