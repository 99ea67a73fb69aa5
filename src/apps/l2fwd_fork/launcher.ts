/**
 * How the master starts slave processes (slave.ts), with standbys: slave processes
 * started ahead, which have paid Node's start-up and module loading and wait, idle, for
 * their lcore. Recovery then costs an attach, not a process start.
 *
 *   process              argv (what ps -f shows is its title, set by slave.ts)
 *   slave, forked        slave.js -l L <common>             "l2fwd_fork slave lcore L (master M): -l L <common>"
 *                        (--lcores=L@(cpus) when the master's --lcores puts L on other CPUs)
 *   standby              slave.js --standby <common>        "l2fwd_fork standby slave (master M): <common>"
 *   standby, promoted    gets {lcore: L} over IPC           "l2fwd_fork slave lcore L (master M): -l L <common>"
 *   <common> = --proc-type=secondary --file-prefix P --log-level X -- -p MASK -q N -T T [-f] --idle=MODE
 *
 * Standbys are started one at a time, the next once the previous said it is ready
 * ({standby: 'ready'}: its modules loaded), and only while `mayStart()` (the master says
 * no while any group recovers: a Node start-up takes a core for ~0.2 s, which the slaves
 * being promoted need more). Only a ready standby is promoted; otherwise a slave is forked.
 * Every child is a Supervisor's (it dies with the master) and takes the CPUs the master was
 * allowed first thing (slave.ts), so none stays on the master's own CPU, which a fork inherits.
 */
import type { ChildProcess } from 'node:child_process';
import type { Supervisor } from '../../index.js';

/** What every slave is given: the EAL options but -l, `--`, the program options. */
export interface LaunchConfig {
  supervisor: Supervisor;
  common: string[];
  /** The EAL option giving a slave its lcore with the master's CPUs for it (`-l L`, or `--lcores=L@(cpus)`). */
  lcoreArgs: (lcore: number) => string[];
  /** Added to the children's environment. */
  env: NodeJS.ProcessEnv;
}

export class Launcher {
  private readonly script = new URL('./slave.js', import.meta.url);
  private readonly cfg: LaunchConfig;
  /** Started standbys, oldest first; `ready` once it said so. */
  private readonly pool: { child: ChildProcess; ready: boolean }[] = [];
  private wanted = 0;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly mayStart: () => boolean;

  constructor(cfg: LaunchConfig, mayStart: () => boolean) {
    this.cfg = cfg;
    this.mayStart = mayStart;
  }

  /** A slave process for `lcore`: a ready standby given its lcore, else a new fork. */
  launch(lcore: number): { child: ChildProcess; standby: boolean } {
    const i = this.pool.findIndex((x) => x.ready && x.child.connected);
    if (i >= 0) {
      const { child } = this.pool.splice(i, 1)[0]!;
      child.removeAllListeners('exit');
      child.removeAllListeners('message');
      child.send({ lcore, args: this.cfg.lcoreArgs(lcore) });
      return { child, standby: true };
    }
    const child = this.cfg.supervisor.fork(this.script, [...this.cfg.lcoreArgs(lcore), ...this.cfg.common], { env: this.cfg.env });
    return { child, standby: false };
  }

  /** Keep `n` standbys (from now on: see `refill`). */
  want(n: number): void {
    this.wanted = n;
  }

  /** Start the missing standbys after `delayMs`, one at a time (see the file header). */
  refill(delayMs: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startOne();
    }, delayMs);
  }

  private startOne(): void {
    if (this.closed || this.pool.length >= this.wanted || this.pool.some((x) => !x.ready)) return;
    if (!this.mayStart()) return; // the master calls refill again when its groups run
    const child = this.cfg.supervisor.fork(this.script, ['--standby', ...this.cfg.common], { env: this.cfg.env });
    const entry = { child, ready: false };
    this.pool.push(entry);
    child.once('exit', () => {
      const i = this.pool.indexOf(entry);
      if (i >= 0) this.pool.splice(i, 1);
    });
    child.on('message', (m: { standby?: string }) => {
      if (m?.standby !== 'ready') return;
      entry.ready = true;
      this.startOne();
    });
  }

  /** Standbys now (pids), for the exit handler. */
  pids(): number[] {
    return this.pool.map((x) => x.child.pid ?? 0).filter((p) => p > 0);
  }

  /** Stop every standby (SIGTERM: a standby holds nothing yet); returns them, to wait for. */
  close(signal: NodeJS.Signals = 'SIGTERM'): ChildProcess[] {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const all = this.pool.splice(0).map((x) => x.child);
    for (const c of all) c.kill(signal);
    return all;
  }
}

/** The arguments every slave shares (see the file header). */
export function commonArgs(filePrefix: string, logLevel: string, cfg: { mask: string; q: number; period: number; float: boolean; idle: string }): string[] {
  return [
    '--proc-type=secondary', '--file-prefix', filePrefix, '--log-level', logLevel,
    '--', '-p', cfg.mask, '-q', String(cfg.q), '-T', String(cfg.period), ...(cfg.float ? ['-f'] : []), `--idle=${cfg.idle}`,
  ];
}
