/**
 * l2fwd_fork's watch on stopped slaves. A slave stopped by SIGSTOP (or a debugger) neither
 * exits nor forwards: its RX ports' direction stalls, and without this nothing says so
 * (the master hears of a slave only when it exits, or when its partner does: then a
 * stopped partner is killed, master.ts). Every WATCH_MS the master reads each live slave's
 * state (/proc, through stateOf: evidence, never a guess) and names one stopped for
 * NOTICE_MS, once, with what it stalls and what to do; and again when it runs again.
 *
 * Decided: named, not killed. A stop is deliberate (an operator, a debugger) and SIGCONT
 * resumes it with nothing lost; killing it is the operator's call (the master then starts
 * a new one). A slave that runs but does not forward (a bug, a spin) is not detected here.
 *
 *   who calls what   master.ts run(): watch.tick() from a timer; it reads topo.slaves only
 */
import { stateOf } from '../../index.js';
import type { Slave } from './topology.js';

export const WATCH_MS = 250;
/** A slave stopped this long is named (within a second). */
export const NOTICE_MS = 750;

export class StallWatch {
  private readonly since = new Map<Slave, { pid: number; at: number; named: boolean }>();

  constructor(private readonly slaves: readonly Slave[], private readonly log: (s: string) => void) {}

  tick(now = performance.now()): void {
    for (const s of this.slaves) {
      const state = s.alive && s.pid > 0 ? stateOf({ pid: s.pid, start: s.start }) : 'dead';
      const stopped = state === 'alive, stopped' || state === 'alive, stopped by a debugger';
      const seen = this.since.get(s);
      if (seen && seen.pid !== s.pid) this.since.delete(s); // a new process for that lcore
      const cur = this.since.get(s);
      if (stopped) {
        if (!cur) this.since.set(s, { pid: s.pid, at: now, named: false });
        else if (!cur.named && now - cur.at >= NOTICE_MS) {
          cur.named = true;
          this.log(`slave lcore ${s.lcore} (pid ${s.pid}) is ${state.replace('alive, ', '')} for ${((now - cur.at) / 1000).toFixed(1)} s: port${s.rxPorts.length > 1 ? 's' : ''} ${s.rxPorts.join(',')} -> ${s.dstPorts.join(',')} not forwarded; kill -CONT ${s.pid} resumes it (nothing lost), or kill it and a new slave takes over`);
        }
      } else if (cur) {
        if (cur.named && state !== 'dead') this.log(`slave lcore ${s.lcore} (pid ${s.pid}) runs again after ${((now - cur.at) / 1000).toFixed(1)} s`);
        this.since.delete(s);
      }
    }
  }
}
