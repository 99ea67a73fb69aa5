/**
 * l2fwd_fork figures: recovery time (kill -9 of a slave → the replacement pair forwards
 * again) over repeated kills, and the forwarding rate of a pair of slaves fed by the wire
 * generator (src/apps/l2fwd_fork/wiregen.ts). The bench process observes the instance
 * read-only (Eal.observe) and polls the "port_stat" counters every millisecond: recovery
 * ends when the victim's TX port counter moves again (only the victim sends on it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eal } from '../src/index.js';
import { CTL, CTL_MZ, PSTAT, RES, resName } from '../src/apps/l2fwd_fork/layout.js';
import type { Bench } from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MPDK = path.join(ROOT, 'dist/src/cli/mpdk.js');
const GEN = path.join(ROOT, 'dist/src/apps/l2fwd_fork/wiregen.js');
const KILLS = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(file: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
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

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(): Promise<Record<string, number>> {
  const prefix = `l2fb${process.pid}`;
  const procs: ChildProcess[] = [];
  const master = start(MPDK, ['l2fwd_fork', '-l', '0-2', '--file-prefix', prefix, '--log-level', 'error', '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '-T', '0']);
  procs.push(master);
  let eal: Eal | undefined;
  try {
    eal = await until(() => {
      try {
        const e = Eal.observe(prefix, 'error');
        if (e.memzones.tryLookup(CTL_MZ) && e.region.u32At(e.memzones.lookup(CTL_MZ).offset + CTL.MAGIC) !== 0) return e;
        e.close();
      } catch {
        /* not up yet */
      }
      return undefined;
    }, 20000, 'the master', 20);
    const r = eal.region;
    const stat = r.u32At(eal.memzones.lookup(CTL_MZ).offset + CTL.PORT_STAT) >>> 3;
    const tx1 = (): number => r.f64[stat + 1 * PSTAT.STRIDE + PSTAT.TX]!; // sent by lcore 1's slave
    const total = (): number => r.f64[stat + PSTAT.TX]! + tx1();
    const res1 = eal.memzones.lookup(resName(1)).offset;
    const pid1 = (): number => r.i32[(res1 + RES.PID) >>> 2]!;

    const gen = start(GEN, ['-l', '120', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', '-p', '3', '--rate', '50000', '--report', '60000']);
    procs.push(gen);
    await until(() => tx1() > 1000, 20000, 'forwarding');
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
    rec.sort((a, b) => a - b);
    return { 'l2fwd_fork.recovery_p50_ms': pct(rec, 50), 'l2fwd_fork.recovery_p99_ms': pct(rec, 99), 'l2fwd_fork.fwd_mpps': mpps };
  } finally {
    eal?.close();
    master.kill('SIGTERM');
    await Promise.race([new Promise((res) => master.once('exit', res)), sleep(3000)]);
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

export const benches: Bench[] = [
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
