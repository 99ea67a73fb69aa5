/**
 * l2fwd_fork: the guide's master-slave example. One process is started by hand — the
 * master, the instance's primary — and it starts one slave PROCESS per worker lcore
 * (slave.ts), each doing DPDK l2fwd's forwarding on its ports:
 *
 *   mpdk l2fwd_fork -l 0-2 --vdev=net_ring0 --vdev=net_ring1 -- -p 3 [-q N] [-T PERIOD] [-f]
 *
 * Master, in order (nothing is started before everything is set up, G46):
 *   options → EAL (primary) → lcore assignment (l2fwd's: -q ports per worker lcore) →
 *   mbuf pool "mbuf_pool" and ports (1 RX + 1 TX queue each) → dependencies → shared
 *   objects (layout.ts: "l2fwd_fork", "port_stat", per slave "l2fwd_res_<L>" and its
 *   command and drop rings) → slaves → supervise, print statistics every PERIOD seconds.
 *
 * Dependencies (T7): slave A depends on slave B when they share a port (A transmits on
 * the port B receives, or the other way round); the groups are the connected components.
 * A slave receiving both ports of its pairs is a group of its own.
 *
 * Slave supervision, per group (a state machine; `recover` is the only way out of DOWN):
 *
 *   state      event                                   action / next state
 *   RUNNING    a member exits without being asked      log lcore, pid, how → STOPPING
 *   STOPPING   —                                       STOP to each live member, wait ACK
 *                                                      ≤ 500 ms (else SIGKILL), wait exit
 *                                                      ≤ 500 ms (else SIGKILL) → DOWN
 *   DOWN       all members gone                        reclaimDead (the library: rings
 *                                                      fixed, what their records held back
 *                                                      to the pool, mempool caches flushed,
 *                                                      lcore ids returned), ports stopped +
 *                                                      started,
 *                                                      command rings drained → WAITING
 *   WAITING    back-off elapsed (0 unless a member     launch every member → RUNNING
 *              failed to start: 0.1, 0.2, 0.4 … 5 s)
 *   any        SIGINT / SIGTERM / SIGHUP               STOP everyone, reclaim, final
 *                                                      statistics and audit, exit
 *   refused: relaunching a member while another member of its group lives (they share
 *   queues); reclaiming a slave whose process may still run.
 * A member that exits before it reported READY counts as a start-up failure; 5 in a row
 * are reported (once), and the back-off goes on while the other groups keep forwarding.
 * A member that acknowledged STOP is gone for reclaiming purposes (the ACK is its last
 * act in the region: queues, lcores and process slot released before it); its process is
 * waited for at exit, and SIGKILLed if it lingers 1 s.
 *
 * Standby slaves (--standby N, default the largest group): slave processes started ahead
 * and idle (module loading done, death watcher running), given their command line over
 * the IPC channel when a slave is (re)launched: recovery does not pay Node's start-up.
 * They are children of the master too (ps --ppid lists slaves + standbys; --standby 0
 * for exactly one child per slave). L2FWD_TRACE=1 adds timestamps to the log.
 */
import type { ChildProcess } from 'node:child_process';
import {
  Eal, EthDev, MAX_LCORE, Mempool, MpdkError, isPktmbufPool, PktmbufPool, Ring, RING_F_SC_DEQ, RING_F_SP_ENQ, Supervisor, UsageError, auditInstance, formatMac, reclaimDead,
  parseArgs, parseCoreList, parseIdleMode, parsePortmask, portmaskOf, type ProgramSpec,
} from '../../index.js';
import {
  CMD_RING_SIZE, CMD_ACK, CMD_STOP, CTL, CTL_MAGIC, CTL_MZ, DROP_RING_SIZE, MAX_PORTS_L2, MAX_RX_PER_LCORE, MBUF_CACHE, NB_MBUF, NB_RXD, NB_TXD,
  POOL_NAME, PORT_STAT_BYTES, PORT_STAT_TAG, PSTAT, RES, RES_MAGIC, dropName, m2sName, resName, s2mName,
} from './layout.js';

export const spec: ProgramSpec = {
  name: 'l2fwd_fork',
  synopsis: '[EAL options] -- -p PORTMASK [-q NQ] [-T PERIOD] [-f] [--idle=MODE]',
  eal: true,
  about: `Only this master is started by hand, as the primary of its instance; it starts one slave process
per worker lcore, so give one lcore for the master plus one per slave (-l 0-2 for two ports with -q 1).`,
  options: [
    { names: ['-p'], value: 'PORTMASK', help: 'hexadecimal mask of the ports to forward between, in pairs (0<->1, 2<->3, ...)' },
    { names: ['-q'], value: 'NQ', help: 'ports each slave receives on (1-16, default 1)' },
    { names: ['-T'], value: 'PERIOD', help: 'statistics every PERIOD seconds (default 10, 0 = off)' },
    { names: ['-f'], help: 'floating slaves: no CPU affinity, each leases an lcore id not given with -l' },
    { names: ['--idle'], value: 'MODE', help: 'slaves idle by sleeping (sleep, default) or busy-poll (poll)' },
    { names: ['--standby'], value: 'N', help: 'slave processes kept started and idle for fast recovery (default: the largest group, 0 = none)' },
  ],
  notes: 'Environment: MPDK_L2FWD_FLOAT_IDS=LIST limits the lcore ids floating slaves may lease.',
};

const STOP_ACK_MS = 500;
const EXIT_WAIT_MS = 500;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5000;
const REPORT_AFTER = 5;
const DROP_DRAIN_MS = 10;

interface Group {
  id: number;
  members: Slave[];
  ports: number[];
  recovering: boolean;
  reported: boolean;
  /** performance.now() when the member that started the current recovery exited (0: none). */
  downAt: number;
}

interface Slave {
  lcore: number;
  res: number;
  rxPorts: number[];
  dstPorts: number[];
  group: Group;
  m2s: Ring;
  s2m: Ring;
  drop: Ring;
  child: ChildProcess | undefined;
  pid: number;
  alive: boolean;
  ready: boolean;
  stopRequested: boolean;
  exited: Promise<void>;
  failures: number;
  lastEnd: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolve when `child` has exited; SIGKILL it if it has not within `ms`. */
async function gone(child: ChildProcess | undefined, ms: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if ((await Promise.race([exited.then(() => true), sleep(ms).then(() => false)])) === false) child.kill('SIGKILL');
  await exited;
}
const TRACE = process.env.L2FWD_TRACE === '1';
const T0 = performance.now();
const log = (s: string): void => {
  process.stdout.write(`l2fwd_fork: ${TRACE ? `[${Math.round(performance.now() - T0)}] ` : ''}${s}\n`);
};

export async function main(argv: string[]): Promise<number> {
  // Options first: a bad one creates nothing.
  const opts = parseArgs(spec, argv);
  if (opts.eal!.procType === 'secondary') throw new UsageError('l2fwd_fork runs only as the primary (the master sets up the instance its slaves join); drop --proc-type=secondary');
  const ports = parsePortmask(opts.value('-p'));
  const q = opts.int('-q', 1, MAX_RX_PER_LCORE) ?? 1;
  const period = opts.int('-T', 0, 86400) ?? 10;
  const float = opts.has('-f');
  const standby = opts.int('--standby', 0, 16);
  const idleArg = opts.value('--idle');
  const idle = idleArg === undefined ? 'sleep' : parseIdleMode(idleArg);
  if (!idle) throw new UsageError(`invalid --idle '${idleArg}': expected poll or sleep`);
  if (ports.some((p) => p >= MAX_PORTS_L2)) throw new UsageError(`-p selects port ${Math.max(...ports)}: at most ${MAX_PORTS_L2} ports`);
  if (ports.length % 2 !== 0) {
    throw new UsageError(`port ${ports[ports.length - 1]} has no pair: l2fwd_fork forwards between pairs of ports (the 1st and 2nd of -p, the 3rd and 4th, ...); give an even number of ports in -p`);
  }
  const supervisor = new Supervisor(); // before the EAL pins this thread to its lcore: slaves get all our CPUs

  const { eal } = Eal.init(argv, { name: 'l2fwd_fork:master', handleSignals: false, only: 'primary' });
  if (!eal.isPrimary || eal.adopted) {
    const pids = eal.processes.livePids().join(', ');
    eal.close();
    throw new MpdkError('EBUSY', `the l2fwd_fork master must start the instance '${eal.filePrefix}' as its primary, but processes of it are running (pids ${pids}); stop them or use another --file-prefix`);
  }
  let master: Master;
  try {
    master = new Master(eal, { ports, q, period, float, idle, supervisor, mask: portmaskOf(ports), standby });
  } catch (e) {
    eal.close();
    throw e;
  }
  return master.run();
}

interface Config {
  ports: number[];
  q: number;
  period: number;
  float: boolean;
  idle: string;
  supervisor: Supervisor;
  mask: string;
  standby: number | undefined;
}

class Master {
  private readonly eal: Eal;
  private readonly cfg: Config;
  private readonly dev: EthDev;
  private readonly pool: PktmbufPool;
  private readonly slaves: Slave[] = [];
  private readonly groups: Group[] = [];
  private readonly dst = new Map<number, number>();
  private readonly portStat: number;
  private readonly floatIds: number[];
  private readonly slaveScript = new URL('./slave.js', import.meta.url);
  private readonly cmd = new Uint32Array(8);
  private readonly dropBuf = new Uint32Array(256);
  private shuttingDown = false;
  /** Started, idle slave processes waiting for a command line (slave.ts, standby). */
  private readonly standby: ChildProcess[] = [];
  private standbyWanted = 0;
  private stopAsked = 0;
  private timers: NodeJS.Timeout[] = [];
  private done: (code: number) => void = () => {};

  constructor(eal: Eal, cfg: Config) {
    this.eal = eal;
    this.cfg = cfg;
    const { ports, q } = cfg;
    const workers = eal.workerLcores;
    const need = Math.ceil(ports.length / q);
    if (workers.length < need) {
      throw new UsageError(`not enough lcores: l2fwd_fork needs ${need + 1} lcores for ${ports.length} ports with -q ${q} (one for the master, which only supervises, and ${need} for the slaves), but -l gave ${eal.options.lcores.length}; use e.g. -l 0-${need}`);
    }
    this.dev = EthDev.attach(eal);
    for (const p of ports) {
      if (p >= this.dev.count) throw new MpdkError('ENODEV', `port ${p} (in -p ${cfg.mask}) does not exist: the instance has ${this.dev.count} port${this.dev.count === 1 ? '' : 's'} (one per --vdev)`);
    }
    for (let i = 0; i < ports.length; i += 2) {
      this.dst.set(ports[i]!, ports[i + 1]!);
      this.dst.set(ports[i + 1]!, ports[i]!);
    }
    // l2fwd's assignment: each worker lcore in order takes up to -q RX ports.
    const rxOf = new Map<number, number[]>();
    let wi = 0;
    for (const p of ports) {
      if ((rxOf.get(workers[wi]!)?.length ?? 0) === q) wi++;
      const l = workers[wi]!;
      rxOf.set(l, [...(rxOf.get(l) ?? []), p]);
      process.stdout.write(`Lcore ${l}: RX port ${p}\n`);
    }

    this.pool = PktmbufPool.create(eal, POOL_NAME, NB_MBUF, MBUF_CACHE);
    for (const p of ports) {
      process.stdout.write(`Initializing port ${p}... `);
      this.dev.configure(p, 1, 1);
      this.dev.rxQueueSetup(p, 0, NB_RXD, this.pool);
      this.dev.txQueueSetup(p, 0, NB_TXD);
      this.dev.start(p);
      this.dev.promiscuousEnable(p);
      process.stdout.write(`done: Port ${p}, MAC address: ${formatMac(this.dev.macAddr(p))}\n`);
    }

    // Dependencies: groups of slaves that share ports (T7), and the guide's pair lines.
    const lcoreOfPort = new Map<number, number>();
    for (const [l, ps] of rxOf) for (const p of ps) lcoreOfPort.set(p, l);
    const groupOf = new Map<number, number>();
    const find = (l: number): number => {
      let r = l;
      while (groupOf.get(r) !== undefined && groupOf.get(r) !== r) r = groupOf.get(r)!;
      return r;
    };
    for (const l of rxOf.keys()) groupOf.set(l, l);
    for (const p of ports) {
      const d = this.dst.get(p)!;
      const a = lcoreOfPort.get(p)!;
      const b = lcoreOfPort.get(d)!;
      if (p < d) {
        if (a !== b) process.stdout.write(`lcore ${a} and ${b} paired\n`);
        else process.stdout.write(`lcore ${a} forwards ports ${p} and ${d} alone (no dependency)\n`);
      }
      groupOf.set(find(a), find(b));
    }

    // Shared objects, all before any slave exists (G62).
    const r = eal.region;
    this.portStat = eal.zmalloc(PORT_STAT_TAG, PORT_STAT_BYTES);
    const ctl = eal.memzones.reserve(CTL_MZ, CTL.BYTES).offset;
    r.u32[(ctl + CTL.NB_PORTS) >>> 2] = this.dev.count;
    r.u32[(ctl + CTL.PORTMASK) >>> 2] = parseInt(cfg.mask, 16);
    r.u32[(ctl + CTL.Q) >>> 2] = q;
    r.u32[(ctl + CTL.PERIOD) >>> 2] = cfg.period;
    r.u32[(ctl + CTL.FLOAT) >>> 2] = cfg.float ? 1 : 0;
    r.u32[(ctl + CTL.PORT_STAT) >>> 2] = this.portStat;
    r.u32[(ctl + CTL.NB_SLAVES) >>> 2] = rxOf.size;
    r.i32[(ctl + CTL.MASTER_PID) >>> 2] = process.pid;
    for (let p = 0; p < MAX_PORTS_L2; p++) r.i32[(ctl + CTL.DST) / 4 + p] = this.dst.get(p) ?? -1;
    [...rxOf.keys()].forEach((l, i) => (r.u32[(ctl + CTL.SLAVES) / 4 + i] = l));

    const byRoot = new Map<number, Group>();
    for (const [l, rx] of rxOf) {
      const root = find(l);
      let g = byRoot.get(root);
      if (!g) {
        g = { id: this.groups.length, members: [], ports: [], recovering: false, reported: false, downAt: 0 };
        byRoot.set(root, g);
        this.groups.push(g);
      }
      const dstPorts = rx.map((p) => this.dst.get(p)!);
      for (const p of [...rx, ...dstPorts]) if (!g.ports.includes(p)) g.ports.push(p);
      const res = eal.memzones.reserve(resName(l), RES.BYTES).offset;
      r.u32[(res + RES.LCORE) >>> 2] = l;
      r.u32[(res + RES.NRX) >>> 2] = rx.length;
      r.i32[(res + RES.FLOAT_ID) >>> 2] = -1;
      rx.forEach((p, i) => {
        r.u32[(res + RES.RX_PORTS) / 4 + i] = p;
        r.u32[(res + RES.DST_PORTS) / 4 + i] = dstPorts[i]!;
      });
      r.storeRelease(res + RES.MAGIC, RES_MAGIC);
      const flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
      const m2s = Ring.create(eal, m2sName(l), CMD_RING_SIZE, flags);
      const s2m = Ring.create(eal, s2mName(l), CMD_RING_SIZE, flags);
      const drop = Ring.create(eal, dropName(l), DROP_RING_SIZE, flags);
      const s: Slave = {
        lcore: l, res, rxPorts: rx, dstPorts, group: g, m2s, s2m, drop,
        child: undefined, pid: 0, alive: false, ready: false, stopRequested: false, exited: Promise.resolve(), failures: 0, lastEnd: '',
      };
      g.members.push(s);
      this.slaves.push(s);
    }
    r.storeRelease(ctl + CTL.MAGIC, CTL_MAGIC);

    const env = process.env.MPDK_L2FWD_FLOAT_IDS;
    const given = new Set(eal.options.lcores);
    this.floatIds = (env ? parseCoreList(env, 'MPDK_L2FWD_FLOAT_IDS') : Array.from({ length: MAX_LCORE }, (_, i) => i)).filter((i) => !given.has(i));
    // The slaves claim the worker lcores themselves.
    for (const l of workers) eal.lcoreTable.release(l);
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
            for (const s of this.slaves) s.child?.kill('SIGKILL');
          }
        });
      }
      process.once('exit', () => {
        for (const c of this.standby) c.kill('SIGKILL');
        for (const s of this.slaves) if (s.alive) s.child?.kill('SIGKILL');
        this.eal.close();
      });
      for (const s of this.slaves) this.launch(s);
      this.standbyWanted = this.cfg.standby ?? Math.max(...this.groups.map((g) => g.members.length));
      setTimeout(() => this.fillStandby(), 300);
      this.timers.push(setInterval(() => this.drainDropRings(), DROP_DRAIN_MS));
      if (this.cfg.period > 0) this.timers.push(setInterval(() => this.printStats(), this.cfg.period * 1000));
    });
  }

  // --- slaves -------------------------------------------------------------------------------

  private launch(s: Slave): void {
    const { eal, cfg } = this;
    const args = [
      '-l', String(s.lcore), '--proc-type=secondary', '--file-prefix', eal.filePrefix, '--log-level', eal.options.logLevel,
      '--', '-p', cfg.mask, '-q', String(cfg.q), '-T', String(cfg.period), ...(cfg.float ? ['-f'] : []), `--idle=${cfg.idle}`,
    ];
    let child = this.standby.shift();
    if (child) {
      child.removeAllListeners('exit');
      child.send({ argv: args });
      setImmediate(() => this.fillStandby());
    } else {
      child = this.cfg.supervisor.fork(this.slaveScript, args, { env: this.slaveEnv(false) });
    }
    s.child = child;
    s.pid = child.pid ?? 0;
    s.alive = true;
    s.ready = false;
    s.stopRequested = false;
    const r = eal.region;
    r.i32[(s.res + RES.PID) >>> 2] = s.pid;
    r.u32[(s.res + RES.LAUNCHES) >>> 2] = r.u32At(s.res + RES.LAUNCHES) + 1;
    const pid = s.pid;
    s.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        if (s.child !== child) {
          // An earlier instance that acknowledged STOP and was already replaced.
          log(`slave lcore ${s.lcore} (pid ${pid}) ${signal ? `killed by ${signal}` : `exited with status ${code}`}`);
          return;
        }
        s.alive = false;
        this.onExit(s, code, signal);
        done();
      });
    });
    child.on('message', (m: { ready?: number }) => {
      if (m && m.ready !== undefined) {
        s.ready = true;
        s.failures = 0;
        const g = s.group;
        if (g.downAt > 0 && g.members.every((x) => x.ready)) {
          log(`lcore${g.members.length > 1 ? 's' : ''} ${g.members.map((x) => x.lcore).join(', ')} forwarding again ${Math.round(performance.now() - g.downAt)} ms after the exit`);
          g.downAt = 0;
        }
      }
    });
    child.on('error', (e) => log(`slave lcore ${s.lcore}: ${e.message}`));
    log(`slave lcore ${s.lcore} started: pid ${s.pid}`);
  }

  private slaveEnv(standby: boolean): NodeJS.ProcessEnv {
    return {
      L2FWD_FLOAT_IDS: this.floatIds.join(','), L2FWD_STANDBY: standby ? '1' : '0',
    };
  }

  /** Keep `standbyWanted` standby slaves started (one at a time: they load modules). */
  private fillStandby(): void {
    if (this.shuttingDown || this.standby.length >= this.standbyWanted) return;
    const c = this.cfg.supervisor.fork(this.slaveScript, [], { env: this.slaveEnv(true) });
    this.standby.push(c);
    c.once('exit', () => {
      const i = this.standby.indexOf(c);
      if (i >= 0) this.standby.splice(i, 1);
    });
    c.once('spawn', () => setTimeout(() => this.fillStandby(), 50));
  }

  private onExit(s: Slave, code: number | null, signal: NodeJS.Signals | null): void {
    s.lastEnd = signal ? `killed by ${signal}` : `exited with status ${code}`;
    log(`slave lcore ${s.lcore} (pid ${s.pid}) ${s.lastEnd}${s.ready ? '' : ' before it was ready'}`);
    s.child?.removeAllListeners('message');
    if (this.shuttingDown || s.stopRequested) return;
    if (!s.ready) s.failures++;
    if (s.group.downAt === 0) s.group.downAt = performance.now();
    void this.recover(s.group, s);
  }

  /** STOP a live slave and wait until it is gone (bounded: SIGKILL after the timeouts). */
  private async stopSlave(s: Slave, cause: Slave | null): Promise<void> {
    if (!s.alive) return;
    s.stopRequested = true;
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
    if (s.alive && (await Promise.race([s.exited.then(() => true), sleep(EXIT_WAIT_MS).then(() => false)])) === false) {
      log(`lcore ${s.lcore} (pid ${s.pid}) still running ${EXIT_WAIT_MS} ms after STOP: SIGKILL`);
      s.child?.kill('SIGKILL');
    }
    await s.exited;
  }

  private async recover(g: Group, cause: Slave): Promise<void> {
    if (g.recovering) return; // that recovery waits for every member to be gone
    g.recovering = true;
    try {
      await Promise.all(g.members.map((m) => this.stopSlave(m, cause)));
      this.resetGroup(g);
      const f = Math.max(...g.members.map((m) => m.failures));
      if (f >= REPORT_AFTER && !g.reported) {
        g.reported = true;
        log(`lcore ${cause.lcore}: the slave failed ${f} times in a row (last: ${cause.lastEnd}); still retrying with back-off, the other slaves keep forwarding`);
      }
      if (f > 0) {
        const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (f - 1), BACKOFF_MAX_MS);
        log(`restarting lcore${g.members.length > 1 ? 's' : ''} ${g.members.map((m) => m.lcore).join(', ')} in ${delay} ms (start-up failure ${f})`);
        await sleep(delay);
      }
      if (this.shuttingDown) return;
      for (const m of g.members) this.launch(m);
      if (f === 0) g.reported = false;
    } finally {
      g.recovering = false;
    }
  }

  /** Every member is gone: reclaim what they held, restart their ports, drain their channels. */
  private resetGroup(g: Group): void {
    this.reclaim(g.members);
    for (const p of g.ports) this.dev.stop(p);
    for (const p of g.ports) this.dev.start(p);
    for (const m of g.members) {
      while (m.m2s.dequeueBurst(this.cmd, this.cmd.length) > 0);
      while (m.s2m.dequeueBurst(this.cmd, this.cmd.length) > 0);
    }
    log(`ports ${g.ports.join(',')} stopped and started again; command rings of lcore${g.members.length > 1 ? 's' : ''} ${g.members.map((m) => m.lcore).join(', ')} drained`);
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

  private drainDropRings(): void {
    const buf = this.dropBuf;
    for (const s of this.slaves) {
      for (let k = s.drop.dequeueBurst(buf, buf.length); k > 0; k = s.drop.dequeueBurst(buf, buf.length)) this.pool.freeBulk(buf, k);
    }
  }

  // --- statistics and exit -----------------------------------------------------------------

  private printStats(): void {
    const f64 = this.eal.region.f64;
    const ps = this.portStat >>> 3;
    const lines = ['', 'Port statistics ===================================='];
    let tx = 0;
    let rx = 0;
    let dropped = 0;
    for (const p of this.cfg.ports) {
      const b = ps + p * PSTAT.STRIDE;
      const t = f64[b + PSTAT.TX]!;
      const rcv = f64[b + PSTAT.RX]!;
      const d = f64[b + PSTAT.DROPPED]!;
      tx += t;
      rx += rcv;
      dropped += d;
      lines.push(
        `Statistics for port ${p} ------------------------------`,
        `Packets sent: ${String(t).padStart(24)}`,
        `Packets received: ${String(rcv).padStart(20)}`,
        `Packets dropped: ${String(d).padStart(21)}`,
      );
    }
    lines.push(
      'Aggregate statistics ===============================',
      `Total packets sent: ${String(tx).padStart(18)}`,
      `Total packets received: ${String(rx).padStart(14)}`,
      `Total packets dropped: ${String(dropped).padStart(15)}`,
      '====================================================',
    );
    process.stdout.write(lines.join('\n') + '\n');
  }

  private async shutdown(sig: string): Promise<void> {
    this.shuttingDown = true;
    log(`${sig}: stopping the slaves`);
    for (const c of this.standby.splice(0)) c.kill('SIGTERM');
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.slaves.map((s) => this.stopSlave(s, null)));
    // No process left behind: wait for the acknowledged ones to be gone (bounded).
    await Promise.all(this.slaves.map((s) => gone(s.child, EXIT_WAIT_MS)));
    this.reclaim(this.slaves);
    this.drainDropRings();
    this.printStats();
    // Where every mbuf is (the library's audit: exact now that traffic is still).
    for (const a of auditInstance(this.eal, { settle: 3 }).pools) {
      if (!isPktmbufPool(Mempool.lookup(this.eal, a.name))) continue;
      log(`${a.name} audit: ${a.size} mbufs: ${a.inPool} in the pool, ${a.inCaches} in caches, ${a.inPortQueues} in port queues, ${a.inRings} in other rings, ${a.heldByLive + a.heldByDead} held by processes, ${a.leaked} elsewhere (held by other processes, or leaked), ${a.duplicates} duplicates`);
    }
    try {
      this.dev.close();
    } catch {
      /* leaving anyway */
    }
    this.eal.close();
    this.done(0);
  }
}
