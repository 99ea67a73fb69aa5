/**
 * The benchmark registry: each bench module exports `benches`, a list of figures. The
 * runner (run.ts) measures the ones whose name matches the filter, in order, and prints
 * each beside its baseline (a figure measured in the same run), or as JSON:
 *   {"figures": [{"name", "value", "unit", "baseline"?}]}
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cleanupInstance } from '../src/index.js';

import type { ChildProcess } from 'node:child_process';

export interface Bench {
  /** Dotted name, e.g. "ring.spsc.burst32.xproc". */
  name: string;
  unit: string;
  /** Name of the figure this one is judged against (measured in the same run), if any. */
  baseline?: string;
  /** For a bench of several figures: the baseline of each figure by its full name (wins over `baseline`). */
  baselines?: Record<string, string>;
  /** Human description for the table. */
  what: string;
  /**
   * Measure and return the value, or several values for a bench that reports more than one.
   * - a number: one figure named `name`, in `unit`, judged against `baseline`;
   * - a Record: one figure per key, and each KEY IS THE FULL FIGURE NAME (e.g.
   *   {"ring.doorbell.wake_p50_us": 12, "ring.doorbell.wake_p99_us": 40}); each takes `unit`
   *   and `baseline` from the bench, except that a key ending in `_us`, `_ns`, `_ms`, `_pct` or
   *   `_mpps` has that unit (us, ns, ms, %, Mpps). Keys should start with `name` + "." so that a filter
   *   naming one of them (`run.js ring.doorbell.wake_p99_us`) selects this bench.
   * Throwing reports an error for this bench; the runner goes on with the next one. Every
   * child process or worker the run starts must be ended before the promise settles.
   */
  run(): Promise<number | Record<string, number>>;
}

/** Wait for child `c` to exit, killing it (SIGKILL) after `ms`. */
export function exitOf(c: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    const t = setTimeout(() => c.kill('SIGKILL'), ms);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: string;
}

/**
 * Node's arguments for a bench child running `args` (a script and its arguments). With
 * MPDK_BENCH_PROF=DIR in the environment every child is profiled: `--cpu-prof` writes
 * DIR/CPU.<date>.<pid>...cpuprofile when the child exits (mpdk programs then leave through
 * Node's own exit: src/eal/exit.ts). Children that are SIGKILLed write nothing.
 */
export function nodeArgs(args: readonly string[]): string[] {
  const dir = process.env.MPDK_BENCH_PROF ?? '';
  return dir === '' ? [...args] : ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...args];
}

/** Whether this kernel gives each thread's run time in ns (CONFIG_SCHED_INFO). */
const SCHEDSTAT = existsSync('/proc/self/schedstat');

/**
 * CPU time process `pid` has used (all its threads, user + system), in ms; NaN once it is
 * gone. From each live thread's /proc/PID/task/TID/schedstat (the scheduler's run time, ns:
 * an idle figure over a second needs better than /proc/PID/stat's 10 ms ticks; a thread that
 * has exited is no longer counted, so compare readings of a process whose threads stay), or
 * /proc/PID/stat where there is no schedstat.
 */
export function cpuMs(pid: number): number {
  if (SCHEDSTAT) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      return NaN;
    }
    let ns = 0;
    for (const t of tasks) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'latin1').split(' ')[0]);
      } catch {
        /* the thread exited meanwhile */
      }
    }
    return ns / 1e6;
  }
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10; // utime + stime, 100 Hz clock ticks
  } catch {
    return NaN;
  }
}

/**
 * Remove what a bench's instance left: through `cleanupInstance` (region, config, message
 * sockets, the telemetry sockets of processes the bench killed); when that refuses (a
 * process of it still registered), its instance folder as before.
 */
export function removeInstance(prefix: string): void {
  try {
    cleanupInstance(prefix);
  } catch {
    rmSync(path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${prefix}`), { recursive: true, force: true });
  }
}
