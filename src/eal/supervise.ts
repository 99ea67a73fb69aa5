/**
 * Supervised child processes: what DPDK's l2fwd_fork does with fork() and prctl(), for a
 * program that starts and restarts worker processes of its own (l2fwd_fork's master and
 * its slaves).
 *
 *   supervisor                                         child
 *   const sup = new Supervisor()   (before Eal.init,
 *     while this thread still has the process's CPUs)
 *   sup.fork(script, args)  ───────────────────────▶   const me = joinSupervisor()  (first thing)
 *                                                       if (me.orphaned) exit: it died before
 *                                                       me.runOnSupervisorCpus()     (a worker with no lcore pin)
 *
 * A joined child gets SIGTERM from the kernel when its supervisor dies, however it dies
 * (PR_SET_PDEATHSIG). The signal is set up before the child looks at its parent, so no
 * death is missed: a supervisor that died before that has already reparented the child,
 * which `orphaned` then says. What passes from the supervisor to the child
 * (its pid, its CPU set) travels in the child's environment, set by `fork`.
 */
import { fork, type ChildProcess, type StdioOptions } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { allowedCpus, setAffinity, setParentDeathSignal } from '../native/libc.js';

const ENV_PID = 'MPDK_SUPERVISOR_PID';
const ENV_CPUS = 'MPDK_SUPERVISOR_CPUS';

/** The supervising side: starts children that die with it. */
export class Supervisor {
  /** The CPUs this thread may run on when the supervisor is made (before the EAL pins it to its lcore). */
  readonly cpus: readonly number[];

  constructor() {
    this.cpus = allowedCpus();
  }

  /**
   * Start `script` (a Node module) as a supervised child with an IPC channel, its stdout
   * and stderr ours. `env` adds to this process's environment.
   */
  fork(script: string | URL, args: readonly string[], options: { env?: NodeJS.ProcessEnv; stdio?: StdioOptions } = {}): ChildProcess {
    const file = script instanceof URL ? fileURLToPath(script) : script;
    return fork(file, [...args], {
      stdio: options.stdio ?? ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...options.env, [ENV_PID]: String(process.pid), [ENV_CPUS]: this.cpus.join(',') },
    });
  }
}

/** A child's view of its supervisor (joinSupervisor). */
export interface Supervised {
  /** The supervisor's pid (0: this process was not started by a Supervisor). */
  readonly supervisorPid: number;
  /** The supervisor died before this child joined it: no signal will come, the child should exit. */
  readonly orphaned: boolean;
  /** Run this process on the CPUs its supervisor had (for a worker not pinned to an lcore of its own). */
  runOnSupervisorCpus(): void;
}

/**
 * Join the supervisor that started this process (Supervisor.fork): from now on the kernel
 * sends `signal` (default SIGTERM) to this process when the supervisor dies. Call it first
 * thing in the child. Outside a supervised child it changes nothing and says so (pid 0).
 */
export function joinSupervisor(signal: NodeJS.Signals = 'SIGTERM'): Supervised {
  const supervisorPid = Number(process.env[ENV_PID] ?? 0);
  const cpus = (process.env[ENV_CPUS] ?? '').split(',').filter((s) => s !== '').map(Number);
  if (supervisorPid > 0) setParentDeathSignal(os.constants.signals[signal]);
  // After the signal is armed: a parent that is not ours any more died before, not after.
  const orphaned = supervisorPid > 0 && process.ppid !== supervisorPid;
  return {
    supervisorPid,
    orphaned,
    runOnSupervisorCpus: () => {
      if (cpus.length > 0) setAffinity(cpus);
    },
  };
}
