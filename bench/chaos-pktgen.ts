/**
 * The chaos run's traffic: one `mpdk pktgen` per system, both wires of ports 0 and 1
 * (frames into each port, counted when they come back out of the other), a fixed moderate
 * rate, sleeping when idle, a JSON progress line every PROGRESS_MS on stderr. Its counters
 * are read from those lines: `received` only grows while the system forwards; `corrupt`
 * (a frame back with pktgen's magic but a broken checksum or length, pktgen/seal.ts) and
 * `duplicates` (a sequence seen twice) must stay 0.
 *
 * A generator that is SIGKILLed keeps the counts of its last line; a new one starts from 0
 * (frames of the dead one still in flight are `foreign` to it: their TX time is older).
 */
import type { Fleet, Proc } from './chaos-fleet.js';

export const PROGRESS_MS = 20;

export interface GenCounts {
  sent: number;
  received: number;
  corrupt: number;
  duplicates: number;
}

export interface GenOptions {
  prefix: string;
  lcore: number;
  ratePps: number;
  flows: number;
}

export class Generator {
  readonly proc: Proc;
  readonly last: GenCounts = { sent: 0, received: 0, corrupt: 0, duplicates: 0 };
  /** Progress lines seen. */
  lines = 0;
  /** The summary it printed when stopped (undefined when killed). */
  final: (GenCounts & { lost: number; foreign: number }) | undefined;

  constructor(fleet: Fleet, o: GenOptions) {
    this.proc = fleet.start('pktgen', [
      'pktgen', '-l', String(o.lcore), '--proc-type=secondary', '--file-prefix', o.prefix, '--log-level', 'error', '--',
      '--tx-port', '0,1', '--rx-port', '0,1', '--flows', String(o.flows), '--rate', String(o.ratePps), '--duration', '86400',
      '--drain', '300', '--progress', String(PROGRESS_MS), '--json',
    ]);
    this.proc.onLine((line, stream) => {
      if (!line.startsWith('{')) return;
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const c = { sent: Number(j.sent), received: Number(j.received), corrupt: Number(j.corrupt), duplicates: Number(j.duplicates) };
      if (stream === 'err') {
        Object.assign(this.last, c);
        this.lines++;
      } else this.final = { ...c, lost: Number(j.lost), foreign: Number(j.foreign) };
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Resolves once it has received `n` frames (rejects after `ms`, or if it exits). */
  async receiving(n: number, ms: number): Promise<void> {
    const end = performance.now() + ms;
    while (this.last.received < n) {
      if (!this.proc.running) throw new Error(`pktgen (pid ${this.pid}) exited with ${this.proc.code}:\n${this.proc.output.slice(-1500)}`);
      if (performance.now() > end) throw new Error(`pktgen (pid ${this.pid}) received ${this.last.received} < ${n} frames within ${ms} ms:\n${this.proc.output.slice(-600)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stop it (SIGINT: drain, summary), SIGKILL after `ms`. */
  async stop(ms: number): Promise<number> {
    return this.proc.stop(ms, 'SIGINT');
  }
}
