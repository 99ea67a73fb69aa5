/**
 * l2fwd_fork's master at run time: it launches the slaves (launcher.ts), supervises each
 * group through the state machine of group.ts, frees what the slaves' drop rings hold,
 * prints statistics every PERIOD seconds, names a slave stopped by SIGSTOP (stall.ts), and on SIGINT / SIGTERM / SIGHUP stops
 * everyone, reclaims, prints the final statistics and audit, and exits.
 *
 *   event (from a slave process)        handled by   group event
 *   READY (IPC, slave.ts step 4)        onReady      member-ready / all-ready
 *   first packet forwarded (IPC)        onForwarding (the recovery's timeline line)
 *   exit (the kernel's notice, at once) onExit       member-exit
 *
 * Recovery, timed per step and logged in one line once every member forwards again:
 * exit seen → partners stopped (STOP + ACK) → reclaimed and ports restarted → launched
 * (standbys promoted) → ready → first packet forwarded.
 * A member that acknowledged STOP is gone for reclaiming purposes (the ACK is its last act
 * in the region: queues, lcores and process slot released before it); its process is
 * waited for at exit, and SIGKILLed if it lingers 1 s.
 * L2FWD_TRACE=1 adds timestamps to every log line.
 */
import type { ChildProcess } from 'node:child_process';
import { Mempool, auditInstance, lcoreArg, identityOf, isPktmbufPool, livenessOf, reclaimDead, stateOf, type Eal, type Supervisor } from '../../index.js';
import { BACKOFF_MAX_MS, backoffMs, GroupState, shouldReport, type Group, type GroupEvent } from './group.js';
import { CMD_ACK, CMD_STOP, RES } from './layout.js';
import { Launcher } from './launcher.js';
import { StallWatch, WATCH_MS } from './stall.js';
import { portStatsText } from './stats.js';
import type { Slave, Topology } from './topology.js';

const STOP_ACK_MS = 500;
const EXIT_WAIT_MS = 500;
const DROP_DRAIN_MS = 10;
/** Drop rings found empty: the next look doubles its delay up to this (an idle master sleeps). */
const DROP_DRAIN_IDLE_MS = 160;
/** Standbys are started again this long after every group runs (their start-up takes a core). */
const REFILL_AFTER_MS = 200;

const TRACE = process.env.L2FWD_TRACE === '1';
const T0 = performance.now();
export const log = (s: string): void => {
  process.stdout.write(`l2fwd_fork: ${TRACE ? `[${Math.round(performance.now() - T0)}] ` : ''}${s}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Epoch milliseconds, comparable with the slaves' (performance.timeOrigin + now). */
const epochMs = (): number => performance.timeOrigin + performance.now();
const lcoresOf = (g: Group<Slave>): string => `lcore${g.members.length > 1 ? 's' : ''} ${g.members.map((m) => m.lcore).join(', ')}`;

/** Resolve when `child` has exited; SIGKILL it if it has not within `ms`. */
async function gone(child: ChildProcess | undefined, ms: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if ((await Promise.race([exited.then(() => true), sleep(ms).then(() => false)])) === false) child.kill('SIGKILL');
  await exited;
}

/** Epoch ms of each step of a group's current recovery (0: not reached). */
interface Timeline {
  seen: number;
  stopped: number;
  reset: number;
  launched: number;
  promoted: number;
  ready: number;
}

export class Master {
  private readonly eal: Eal;
  private readonly topo: Topology;
  private readonly launcher: Launcher;
  private readonly standbyWanted: number;
  private readonly cmd = new Uint32Array(8);
  private readonly dropBuf = new Uint32Array(256);
  private readonly timeline = new Map<Group<Slave>, Timeline>();
  private shuttingDown = false;
  private stopAsked = 0;
  private timers: NodeJS.Timeout[] = [];
  private done: (code: number) => void = () => {};

  /** -p's ports in its order (the statistics table), and -T in seconds. */
  private readonly ports: readonly number[];
  private readonly period: number;

  constructor(eal: Eal, topo: Topology, cfg: { ports: number[]; period: number; common: string[]; supervisor: Supervisor; standby: number | undefined }) {
    this.eal = eal;
    this.topo = topo;
    this.ports = cfg.ports;
    this.period = cfg.period;
    const launch = cfg;
    const env = { L2FWD_FLOAT_IDS: topo.floatIds.join(',') };
    this.launcher = new Launcher({ supervisor: launch.supervisor, common: launch.common, lcoreArgs: (l) => lcoreArg(eal.options.cpusets, l), env }, () => !this.shuttingDown && topo.groups.every((g) => g.state === GroupState.RUNNING || g.state === GroupState.WAITING));
    this.standbyWanted = launch.standby ?? Math.max(...topo.groups.map((g) => g.members.length));
    this.launcher.want(this.standbyWanted);
  }

  run(): Promise<number> {
    return new Promise((resolve) => {
      this.done = resolve;
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        process.on(sig, () => {
          if (!this.shuttingDown) {
            this.stopAsked = performance.now();
            void this.shutdown(sig);
          } else if (performance.now() - this.stopAsked > 1000) {
            // Asked again a second later: do not wait for the slaves any more.
            for (const s of this.topo.slaves) s.child?.kill('SIGKILL');
          }
        });
      }
      process.once('exit', () => {
        this.launcher.close('SIGKILL');
        for (const s of this.topo.slaves) if (s.alive) s.child?.kill('SIGKILL');
        this.eal.close();
      });
      for (const s of this.topo.slaves) this.launch(s);
      this.drainLater(DROP_DRAIN_MS);
      const stalls = new StallWatch(this.topo.slaves, log);
      this.timers.push(setInterval(() => stalls.tick(), WATCH_MS));
      if (this.period > 0) this.timers.push(setInterval(() => process.stdout.write(this.statsText()), this.period * 1000));
    });
  }

  // --- the state machine ---------------------------------------------------------------------

  /** Apply `event` to g's state machine; a refused event is logged and changes nothing. */
  private fire(g: Group<Slave>, event: GroupEvent): GroupState | undefined {
    return g.fire(event, (why) => log(`${lcoresOf(g)}: refused ${why}`));
  }

  // --- slave processes -----------------------------------------------------------------------

  private launch(s: Slave): void {
    const { child, standby } = this.launcher.launch(s.lcore);
    s.child = child;
    s.pid = child.pid ?? 0;
    s.start = s.pid > 0 ? identityOf(s.pid).start : 0;
    s.alive = true;
    s.ready = false;
    s.stopRequested = false;
    s.forwardingAt = 0;
    const r = this.eal.region;
    r.i32[(s.res + RES.PID) >>> 2] = s.pid;
    r.u32[(s.res + RES.LAUNCHES) >>> 2] = r.u32At(s.res + RES.LAUNCHES) + 1;
    const pid = s.pid;
    s.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        if (s.child !== child) {
          // An earlier process of this lcore that acknowledged STOP and was already replaced.
          log(`slave lcore ${s.lcore} (pid ${pid}) ${signal ? `killed by ${signal}` : `exited with status ${code}`}`);
          return;
        }
        s.alive = false;
        done();
        this.onExit(s, code, signal);
      });
    });
    child.on('message', (m: { ready?: number; forwarding?: number }) => {
      if (s.child !== child || !m) return;
      if (m.ready !== undefined) this.onReady(s);
      if (m.forwarding !== undefined) this.onForwarding(s, m.forwarding);
    });
    child.on('error', (e) => log(`slave lcore ${s.lcore}: ${e.message}`));
    log(`slave lcore ${s.lcore} started: pid ${s.pid}${standby ? ' (a standby)' : ''}`);
  }

  private onReady(s: Slave): void {
    s.ready = true;
    const g = s.group;
    if (g.state !== GroupState.STARTING) return; // late: that process is being stopped
    const all = g.members.every((m) => m.ready);
    if (this.fire(g, all ? 'all-ready' : 'member-ready') !== GroupState.RUNNING) return;
    const t = this.timeline.get(g);
    if (t) {
      t.ready = epochMs();
      log(`${lcoresOf(g)} forwarding again ${Math.round(t.ready - t.seen)} ms after the exit`);
    }
    if (g.failures >= 5) log(`${lcoresOf(g)} running again after ${g.failures} failed starts`);
    g.failures = 0;
    this.launcher.refill(REFILL_AFTER_MS);
  }

  private onForwarding(s: Slave, at: number): void {
    s.forwardingAt = at;
    const g = s.group;
    const t = this.timeline.get(g);
    if (!t || t.ready === 0 || !g.members.every((m) => m.forwardingAt > 0)) return;
    this.timeline.delete(g);
    const first = Math.max(...g.members.map((m) => m.forwardingAt));
    const d = (x: number): string => `+${(x - t.seen).toFixed(1)}`;
    log(`recovery of ${lcoresOf(g)} (ms after the exit was seen): partners stopped ${d(t.stopped)}, reclaimed and ports restarted ${d(t.reset)}, `
      + `launched ${d(t.launched)} (${t.promoted} standby${t.promoted === 1 ? '' : 's'} promoted), ready ${d(t.ready)}, first packet forwarded ${d(first)}`);
  }

  private onExit(s: Slave, code: number | null, signal: NodeJS.Signals | null): void {
    s.lastEnd = signal ? `killed by ${signal}` : `exited with status ${code}`;
    log(`slave lcore ${s.lcore} (pid ${s.pid}) ${s.lastEnd}${s.ready ? '' : ' before it was ready'}`);
    if (this.shuttingDown || s.stopRequested) return;
    const g = s.group;
    const from = g.state;
    if (this.fire(g, 'member-exit') !== GroupState.STOPPING || from === GroupState.STOPPING) return;
    if (from === GroupState.STARTING) g.failures++;
    g.lastEnd = `lcore ${s.lcore}: ${s.lastEnd}${s.ready ? '' : ' before it was ready'}`;
    this.timeline.set(g, { seen: epochMs(), stopped: 0, reset: 0, launched: 0, promoted: 0, ready: 0 });
    void this.recover(g, s);
  }

  /**
   * STOPPING → DOWN → (WAITING →) STARTING: stop the live members, reclaim, restart the
   * ports, back off if the group failed at start-up, launch.
   */
  private async recover(g: Group<Slave>, cause: Slave): Promise<void> {
    await Promise.all(g.members.map((m) => this.stopSlave(m, cause)));
    const t = this.timeline.get(g);
    if (t) t.stopped = epochMs();
    if (this.fire(g, 'all-gone') !== GroupState.DOWN) return;
    this.resetGroup(g);
    if (t) t.reset = epochMs();
    const f = g.failures;
    if (f === 0) {
      if (this.fire(g, 'reset-clean') === GroupState.STARTING) this.launchGroup(g);
      return;
    }
    if (this.fire(g, 'reset-failed') !== GroupState.WAITING) return;
    const delay = backoffMs(f);
    if (shouldReport(f)) log(`${lcoresOf(g)}: the slaves failed ${f} times in a row at start-up (last: ${g.lastEnd}); next try in ${delay} ms (the back-off doubles up to ${BACKOFF_MAX_MS} ms); the other slaves keep forwarding`);
    log(`restarting ${lcoresOf(g)} in ${delay} ms (start-up failure ${f})`);
    await sleep(delay);
    if (this.fire(g, 'backoff-elapsed') === GroupState.STARTING) this.launchGroup(g);
  }

  private launchGroup(g: Group<Slave>): void {
    const before = this.launcher.pids();
    for (const m of g.members) this.launch(m);
    const t = this.timeline.get(g);
    if (t) {
      t.launched = epochMs();
      t.promoted = g.members.filter((m) => before.includes(m.pid)).length;
    }
  }

  /**
   * Make a member go, bounded: nothing for one already dead (no STOP to the dead: a
   * process that is gone, a zombie, or dying with a SIGKILL pending, by /proc, even before
   * its exit event is delivered);
   * SIGKILL at once for one that is stopped (SIGSTOP: it cannot ACK); else STOP, the ACK
   * within STOP_ACK_MS, else SIGKILL; then wait for its exit (≤ EXIT_WAIT_MS after a kill).
   */
  private async stopSlave(s: Slave, cause: Slave | null): Promise<void> {
    if (!s.alive) return;
    s.stopRequested = true;
    const state = stateOf({ pid: s.pid, start: s.start });
    if (state === 'dead' || state === 'alive, dying') {
      // Its exit event is on its way (killed together with the cause, say: on a loaded
      // host it may not have run since its SIGKILL).
      await this.exitOf(s, EXIT_WAIT_MS);
      return;
    }
    if (state === 'alive, stopped' || state === 'alive, stopped by a debugger') {
      log(`lcore ${s.lcore} (pid ${s.pid}) is ${state.slice(7)}: SIGKILL (it cannot acknowledge STOP)`);
      s.child?.kill('SIGKILL');
      await this.exitOf(s, EXIT_WAIT_MS);
      return;
    }
    this.cmd[0] = CMD_STOP;
    s.m2s.enqueueBulk(this.cmd, 1);
    log(`STOP sent to lcore ${s.lcore} (pid ${s.pid})${cause ? `, which depends on lcore ${cause.lcore}` : ''}`);
    const end = performance.now() + STOP_ACK_MS;
    let acked = false;
    while (!acked && s.alive && performance.now() < end) {
      const k = s.s2m.dequeueBurst(this.cmd, this.cmd.length);
      for (let i = 0; i < k; i++) if (this.cmd[i] === CMD_ACK) acked = true;
      if (!acked) await sleep(1);
    }
    if (acked) {
      // Its last act in the region was the ACK (slave.ts): it is gone for our purposes; make
      // sure the process follows.
      log(`lcore ${s.lcore} (pid ${s.pid}) acknowledged STOP`);
      const child = s.child;
      s.alive = false;
      if (child) setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 1000).unref();
      return;
    }
    if (s.alive) {
      log(`lcore ${s.lcore} (pid ${s.pid}) did not acknowledge STOP within ${STOP_ACK_MS} ms: SIGKILL`);
      s.child?.kill('SIGKILL');
    }
    await this.exitOf(s, EXIT_WAIT_MS);
  }

  /** Wait for s's exit event, at most `ms` (then SIGKILL again; its record is reclaimed only once it is dead). */
  private async exitOf(s: Slave, ms: number): Promise<void> {
    if (!s.alive) return;
    if ((await Promise.race([s.exited.then(() => true), sleep(ms).then(() => false)])) === false) {
      log(`lcore ${s.lcore} (pid ${s.pid}) still running ${ms} ms after it was asked to go: SIGKILL`);
      s.child?.kill('SIGKILL');
      await s.exited;
    }
  }

  /** Every member is gone: reclaim what they held, restart their ports, drain their channels. */
  private resetGroup(g: Group<Slave>): void {
    this.reclaim(g.members);
    const dev = this.topo.dev;
    for (const p of g.ports) dev.stop(p);
    for (const p of g.ports) dev.start(p);
    for (const m of g.members) {
      while (m.m2s.dequeueBurst(this.cmd, this.cmd.length) > 0);
      while (m.s2m.dequeueBurst(this.cmd, this.cmd.length) > 0);
    }
    log(`ports ${g.ports.join(',')} stopped and started again; command rings of ${lcoresOf(g)} drained`);
  }

  /**
   * Return what gone slaves held (reclaimDead: every dead process of the instance at once;
   * a slave that acknowledged STOP freed its record itself), clear their floating leases,
   * and say what came back, per slave.
   */
  private reclaim(members: readonly Slave[]): void {
    const r = this.eal.region;
    const rep = reclaimDead(this.eal);
    for (const s of members) {
      const floatId = r.i32[(s.res + RES.FLOAT_ID) >>> 2]!;
      r.i32[(s.res + RES.FLOAT_ID) >>> 2] = -1;
      const d = rep.processes.find((p) => p.pid === s.pid);
      if (!d) continue;
      const parts = [`reclaimed what it held`];
      if (d.lcores.length) parts.push(`returned lcore id${d.lcores.length > 1 ? 's' : ''} ${d.lcores.join(',')}`);
      if (floatId >= 0 && floatId !== s.lcore) parts.push(`(floating id ${floatId})`);
      log(`lcore ${s.lcore} (pid ${s.pid}): ${parts.join(', ')}`);
    }
    if (rep.processes.length > 0) {
      const pools = Object.entries(rep.pools).map(([n, p]) => `${n}: ${p.returned} returned from records, ${p.flushed} flushed from caches`);
      const fixes = rep.singleFixed + rep.repaired;
      log(`reclaim: ${pools.join('; ') || 'no buffers'}${fixes ? `, ${fixes} half-done ring burst${fixes > 1 ? 's' : ''} finished or undone` : ''}${rep.skipped ? `, ${rep.skipped} recorded mbufs were already back` : ''}${rep.errors.length ? `; ${rep.errors.join('; ')}` : ''}`);
    }
  }

  /** Free what the slaves' drop rings hold; returns how many. */
  private drainDropRings(): number {
    const buf = this.dropBuf;
    let n = 0;
    for (const s of this.topo.slaves) {
      for (let k = s.drop.dequeueBurst(buf, buf.length); k > 0; k = s.drop.dequeueBurst(buf, buf.length)) {
        this.topo.pool.freeBulk(buf, k);
        n += k;
      }
    }
    return n;
  }

  /** Drain the drop rings in `ms`, then again: every DROP_DRAIN_MS while they hold something, less often while not. */
  private drainLater(ms: number): void {
    const t = setTimeout(() => {
      this.timers.splice(this.timers.indexOf(t), 1);
      if (!this.shuttingDown) this.drainLater(this.drainDropRings() > 0 ? DROP_DRAIN_MS : Math.min(DROP_DRAIN_IDLE_MS, ms * 2));
    }, ms);
    this.timers.push(t);
  }

  private statsText(): string {
    return portStatsText(this.eal.region.f64, this.topo.portStat, this.ports);
  }

  private async shutdown(sig: string): Promise<void> {
    this.shuttingDown = true;
    log(`${sig}: stopping the slaves`);
    for (const g of this.topo.groups) this.fire(g, 'shutdown');
    const standbys = this.launcher.close();
    for (const t of this.timers) clearInterval(t);
    const slaves = this.topo.slaves;
    await Promise.all(slaves.map((s) => this.stopSlave(s, null)));
    // No process left behind: wait for the acknowledged ones and the standbys to be gone (bounded).
    await Promise.all([...slaves.map((s) => gone(s.child, EXIT_WAIT_MS)), ...standbys.map((c) => gone(c, EXIT_WAIT_MS))]);
    this.reclaim(slaves);
    this.drainDropRings();
    process.stdout.write(this.statsText());
    // Where every mbuf is (the library's audit: exact now that traffic is still).
    for (const a of auditInstance(this.eal, { settle: 3 }).pools) {
      if (!isPktmbufPool(Mempool.lookup(this.eal, a.name))) continue;
      log(`${a.name} audit: ${a.size} mbufs: ${a.inPool} in the pool, ${a.inCaches} in caches, ${a.inPortQueues} in port queues, ${a.inRings} in other rings, ${a.heldByLive + a.heldByDead} held by processes, ${a.leaked} elsewhere (held by other processes, or leaked), ${a.duplicates} duplicates`);
    }
    try {
      this.topo.dev.close();
    } catch {
      /* leaving anyway */
    }
    this.eal.close();
    this.done(0);
  }
}
