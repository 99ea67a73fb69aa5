/**
 * symmetric_mp: the guide's symmetric multi-process example. N identical processes share
 * the ports; process k reads RX queue k of every port in the mask and forwards to the
 * paired port (0↔1, 2↔3) on TX queue k, so no two processes touch one queue:
 *
 *   mpdk symmetric_mp -l 1 --proc-type=auto --vdev=net_ring0 --vdev=net_ring1 -- -p 3 --num-procs=4 --proc-id=0
 *   ... -l 2 ... --proc-id=1, -l 3 ... --proc-id=2, -l 4 ... --proc-id=3
 *
 * Whoever starts first (auto, any id) is the primary: it creates the mbuf pool
 * "MProc_pktmbuf_pool", configures every port of the mask with num-procs RX and TX
 * queues (RSS spreads flows over the RX queues), starts them, and records {portmask,
 * num-procs} in the memzone "symmetric_mp_conf" (conf.ts). The others find all three by
 * name and must agree with it.
 *
 * Refused, each with one line, nothing in the instance touched:
 *   exit 2  (the command line alone) unknown option, bad or missing -p, an odd number of
 *           ports, --proc-id outside 0..N-1
 *   exit 1  (what it met) a port of the mask that does not exist; -p or --num-procs
 *           different from what the primary recorded (both values named), or a --proc-id
 *           beyond its --num-procs; no --num-procs in the process that sets the instance
 *           up; a proc-id already running (the holder's pid named: the ethdev
 *           queue claims, pid + start time, tell a live holder from a dead one, whose claim
 *           is taken over)
 *
 * Life cycle of one process:
 *   start --setup ok--> FORWARDING --SIGINT/SIGTERM/SIGHUP--> prints "Port P: RX - n, TX - n,
 *   Drop - n" per port, releases its queue claims, leaves the EAL, exit 0
 *   The primary's death is logged and forwarding goes on (the guide's note); the dead id
 *   restarts with --proc-type=secondary (or auto: the EAL adopts the live instance instead
 *   of re-initialising it), returns what its dead predecessor held (reclaimDead: the
 *   burst in its ownership record, its lcore caches) and takes over its queues.
 *
 * The loop (forwarder.ts) runs on the main lcore in slices of SLICE_MS between which the
 * event loop runs (signals, the statistics timer, the primary's death watch). With more
 * lcores (-l 1-2), the port pairs are spread over them as DPDK's assign_ports_to_cores
 * does; worker lcores run lcore.ts and count into a shared statistics array. Every lcore
 * of a process uses queue proc-id; each port pair belongs to one lcore.
 */
import {
  stderrLogger, awaitFromPrimary, Eal, EthDev, Hands, IdlePolicy, MAX_QUEUES, MpdkError, PktmbufPool, UsageError, parseArgs, parseIdleMode, parsePortmask, portmaskOf, isMpdkError, reclaimDead, remoteLaunch,
  type IdleMode, type LcoreJob, type ProgramArgs, type ProgramSpec,
} from '../../index.js';
import { confExists, createConf, readConf } from './conf.js';
import { Forwarder, PKT_BURST, ST_DROP, ST_RX, ST_TX, assignPairs, bindQueues } from './forwarder.js';
import type { LcoreArg } from './lcore.js';

/** The pool's name in DPDK's current example. */
export const POOL_NAME = 'MProc_pktmbuf_pool';
/** DPDK's NB_MBUFS and MBUF_CACHE_SIZE. */
export const NB_MBUFS = 64 * 1024;
export const MBUF_CACHE_SIZE = 256;
/**
 * Descriptors per queue. DPDK's example uses 128 for both; our net_ring queues are rings
 * whose far side is software (pktgen, a test) that may be descheduled for a while, so they
 * get more slack, TX most: a TX ring must absorb a whole RX ring's backlog arriving while
 * the far side still has not collected the previous one (else those packets are drops).
 */
export const RX_DESC = 1024;
export const TX_DESC = 4096;
/** Longest stretch the loop runs without letting the event loop in (signals, timers). */
const SLICE_MS = 10;
/** How long an auto start retries a primary that has the lock but not yet its region, and how long a worker lcore may take to start forwarding. */
const CONF_WAIT_MS = 5000;
/** How long a process waits for a live primary still setting the instance up (its pool of NB_MBUFS, its ports, the record): long on a loaded host. */
const SETUP_WAIT_MS = 15000;

export const spec: ProgramSpec = {
  name: 'symmetric_mp',
  synopsis: '[EAL options] -- -p PORTMASK --num-procs N --proc-id ID [--stats-period S] [--idle sleep|poll]',
  eal: true,
  about: `Every process gets the same -p and --num-procs and its own --proc-id; the first one
(--proc-type=auto or primary) creates the mbuf pool and configures the ports.
Ctrl-C (SIGINT) prints "Port P: RX - n, TX - n, Drop - n" for each port and exits.`,
  options: [
    { names: ['-p'], value: 'PORTMASK', help: 'hexadecimal mask of the ports to use (an even number of them), e.g. 3 for ports 0 and 1' },
    { names: ['--num-procs'], value: 'N', help: `number of symmetric_mp processes (1..${MAX_QUEUES}): RX and TX queues per port; required for the primary` },
    { names: ['--proc-id'], value: 'ID', help: 'this process: 0..N-1; it reads RX queue ID of every port and sends on TX queue ID' },
    { names: ['--stats-period'], value: 'S', help: 'print this process\'s counters every S seconds (1..3600; default: only at exit)' },
    { names: ['--idle'], value: 'MODE', help: 'sleep (default: back off to sleeping when no packet comes) or poll (spin, as DPDK)' },
  ],
};

const HINT = "(see 'mpdk symmetric_mp --help')";

interface AppOptions {
  ports: number[];
  mask: number;
  numProcs: number | undefined;
  procId: number;
  statsPeriod: number;
  idle: IdleMode;
}

/** A whole number in [min, max] (one-line UsageError otherwise). */
function wholeNumber(v: string | undefined, name: string, min: number, max: number, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`invalid ${name} '${v}': expected a whole number from ${min} to ${max} ${HINT}`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`invalid ${name} ${n}: ${what} ${HINT}`);
  return n;
}

function parseAppOptions(o: ProgramArgs): AppOptions {
  const ports = parsePortmask(o.value('-p'));
  const mask = ports.reduce((m, p) => (m | (1 << p)) >>> 0, 0);
  if (ports.length % 2 !== 0) {
    throw new UsageError(`-p ${portmaskOf(ports)} selects ${ports.length} port${ports.length === 1 ? '' : 's'} (${ports.join(' ')}): symmetric_mp needs an even number of ports, forwarding between pairs (0↔1, 2↔3, ...)`);
  }
  const numProcs = wholeNumber(o.value('--num-procs'), '--num-procs', 1, MAX_QUEUES, `the number of processes must be from 1 to ${MAX_QUEUES} (one RX and one TX queue per process on every port)`);
  const top = numProcs === undefined ? MAX_QUEUES - 1 : numProcs - 1;
  const procIdOpt = o.value('--proc-id');
  if (procIdOpt === undefined) throw new UsageError(`missing --proc-id ID: each symmetric_mp process needs its own id from 0 to ${numProcs === undefined ? 'N-1' : top} ${HINT}`);
  const procId = wholeNumber(procIdOpt, '--proc-id', 0, top, numProcs === undefined ? `it must be from 0 to N-1 (at most ${top})` : `with --num-procs=${numProcs} it must be from 0 to ${top}`)!;
  const statsPeriod = wholeNumber(o.value('--stats-period'), '--stats-period', 1, 3600, 'give a period from 1 to 3600 seconds') ?? 0;
  const idleOpt = o.value('--idle');
  const idle = idleOpt === undefined ? 'sleep' : parseIdleMode(idleOpt);
  if (idle === undefined) throw new UsageError(`invalid --idle '${String(idleOpt)}': expected sleep or poll ${HINT}`);
  return { ports, mask, numProcs, procId, statsPeriod, idle };
}

const out = (s: string): void => {
  process.stdout.write(s + '\n');
};

/** Set up as the primary: the pool, then every port of the mask, then the record. */
function setUpInstance(eal: Eal, dev: EthDev, o: AppOptions, numProcs: number): PktmbufPool {
  let pool: PktmbufPool;
  try {
    pool = PktmbufPool.create(eal, POOL_NAME, { count: NB_MBUFS, cacheSize: MBUF_CACHE_SIZE });
  } catch (e) {
    if (isMpdkError(e, 'ENOSPC')) throw new MpdkError('ENOSPC', `cannot create ${POOL_NAME} (${NB_MBUFS} mbufs of 2 KiB, about 150 MiB): ${e.message}; give the primary more memory (-m 256 or more)`);
    throw e;
  }
  for (const p of o.ports) {
    process.stdout.write(`# Initialising port ${p}... `);
    // RSS on (even with one queue) over every hash type: flows spread over the queues.
    dev.configure(p, { rxQueues: numProcs, txQueues: numProcs, rss: {} });
    for (let q = 0; q < numProcs; q++) dev.rxQueueSetup(p, q, { descriptors: RX_DESC, pool });
    for (let q = 0; q < numProcs; q++) dev.txQueueSetup(p, q, { descriptors: TX_DESC });
    dev.promiscuousEnable(p);
    dev.start(p);
    out('done');
  }
  if (process.env.MPDK_TEST_HOOK === 'symmetric_mp:setup') {
    process.stderr.write('MPDK_TEST_HOOK symmetric_mp:setup reached\n'); // a primary stuck before its record
    for (;;) Atomics.wait(pause, 0, 0, 1000);
  }
  createConf(eal, { portmask: o.mask, numProcs, creatorPid: process.pid, rxDesc: RX_DESC, txDesc: TX_DESC, poolSize: NB_MBUFS });
  return pool;
}

/** Join a set-up instance: its record must match our options. */
function joinInstance(eal: Eal, o: AppOptions): { pool: PktmbufPool; numProcs: number } {
  const c = readConf(eal, SETUP_WAIT_MS);
  if (c.portmask !== o.mask) {
    throw new MpdkError('EINVAL', `-p ${o.mask.toString(16)} differs from -p ${c.portmask.toString(16)} that the primary (pid ${c.creatorPid}) configured; give every symmetric_mp process of '${eal.filePrefix}' the same -p`);
  }
  if (o.numProcs !== undefined && o.numProcs !== c.numProcs) {
    throw new MpdkError('EINVAL', `--num-procs=${o.numProcs} differs from --num-procs=${c.numProcs} that the primary (pid ${c.creatorPid}) configured; give every symmetric_mp process of '${eal.filePrefix}' the same --num-procs`);
  }
  if (o.procId >= c.numProcs) {
    throw new MpdkError('EINVAL', `invalid --proc-id ${o.procId}: the primary configured --num-procs=${c.numProcs}, so it must be from 0 to ${c.numProcs - 1}`);
  }
  let pool: PktmbufPool;
  try {
    pool = PktmbufPool.lookup(eal, POOL_NAME);
  } catch (e) {
    if (isMpdkError(e, 'ENOENT')) throw new MpdkError('ENOENT', `instance '${eal.filePrefix}' has no mbuf pool ${POOL_NAME}: its primary is not symmetric_mp; start the first symmetric_mp with --proc-type=auto`);
    throw e;
  }
  return { pool, numProcs: c.numProcs };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Eal.init, retried for a moment with --proc-type=auto: when several processes start at
 * once, one takes the primary lock and the others may look before it has published the
 * region (the EAL then says there is no primary); they try again, up to CONF_WAIT_MS.
 */
function initEal(argv: string[], auto: boolean): Eal {
  const deadline = Date.now() + CONF_WAIT_MS;
  for (;;) {
    try {
      return Eal.init(argv, { name: 'symmetric_mp', logger: stderrLogger, handleSignals: true }).eal;
    } catch (e) {
      if (!auto || !isMpdkError(e, 'ENOENT') || Date.now() > deadline) throw e;
    }
    Atomics.wait(pause, 0, 0, 20);
  }
}

/** The instance's ports; a process that comes while the primary is still probing waits for them (said, bounded). */
function attachPorts(eal: Eal): EthDev {
  if (eal.isPrimary) return EthDev.attach(eal);
  let why = '';
  return awaitFromPrimary(eal, {
    program: 'symmetric_mp',
    what: 'its ports',
    look: () => {
      try {
        return EthDev.attach(eal);
      } catch (e) {
        if (!isMpdkError(e, 'ENOENT')) throw e;
        why = e.message;
        return undefined;
      }
    },
    refuse: (w) => new MpdkError('ENOENT', `${why}: ${w}`),
    say: (line) => process.stderr.write(`symmetric_mp: ${line}\n`),
    boundMs: SETUP_WAIT_MS,
  });
}

const SIGNO: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export async function main(argv: string[]): Promise<number> {
  // Every option is checked before the instance is touched.
  const parsed = parseArgs(spec, argv);
  const o = parseAppOptions(parsed);
  const eal = initEal(argv, parsed.eal!.procType === 'auto');
  const mainLcore = eal.lcoreId;
  const plan = assignPairs(o.ports.length, [mainLcore, ...eal.workerLcores]);
  const mineAt = plan.get(mainLcore)!;
  /** [rx, tx, drop] per port of o.ports, written by whichever lcore serves the port. */
  const stats = new Float64Array(new SharedArrayBuffer(o.ports.length * 3 * 8));
  const stopWord = new SharedArrayBuffer(4);
  const jobs: LcoreJob[] = [];
  let dev: EthDev | undefined;
  let fwd: Forwarder | undefined;
  let hands: Hands | undefined;
  let numProcs: number;
  try {
    dev = attachPorts(eal);
    for (const p of o.ports) {
      if (p >= dev.count) {
        const have = Array.from({ length: dev.count }, (_, i) => `${i}=${dev!.info(i).name}`).join(' ') || 'none';
        throw new MpdkError('ENODEV', `port ${p} (in -p ${o.mask.toString(16)}) does not exist: instance '${eal.filePrefix}' has ${dev.count} port${dev.count === 1 ? '' : 's'} (${have}); give the primary one --vdev per port`);
      }
    }
    let pool: PktmbufPool;
    if (eal.isPrimary && !eal.adopted && !confExists(eal)) {
      if (o.numProcs === undefined) throw new MpdkError('EINVAL', `missing --num-procs N: this process sets up the instance '${eal.filePrefix}' as its primary, and the primary configures N RX and TX queues on every port ${HINT}`);
      numProcs = o.numProcs;
      pool = setUpInstance(eal, dev, o, numProcs);
      out(`symmetric_mp: primary: created ${POOL_NAME} (${NB_MBUFS} mbufs) and ports ${o.ports.join(' ')} with ${numProcs} RX/TX queues each`);
    } else {
      ({ pool, numProcs } = joinInstance(eal, o));
      out(`symmetric_mp: ${eal.adopted ? 'primary (adopted the live instance)' : 'secondary'}: using ${POOL_NAME} and ports ${o.ports.join(' ')} as set up (${numProcs} queues each)`);
    }
    // A live holder of our id is refused here, before any lcore starts.
    refuseTakenId(dev, o, numProcs);
    // A dead predecessor with our id: what it held goes back before we take its queues.
    const rep = reclaimDead(eal);
    const back = Object.entries(rep.pools).map(([n, x]) => `${x.returned + x.flushed} buffers back to ${n}`);
    if (rep.processes.length > 0) out(`symmetric_mp: reclaimed what pid ${rep.processes.map((x) => x.pid).join(', pid ')} held: ${back.join(', ') || 'nothing'}`);
    if (mineAt.count > 0) {
      const mine = o.ports.slice(mineAt.start, mineAt.start + mineAt.count);
      bindQueues(dev, mine, o.procId, numProcs);
      hands = Hands.open(eal, `symmetric_mp:${o.procId}:${mainLcore}`, 1, PKT_BURST);
      fwd = new Forwarder(hands, dev, mine, o.procId, new Float64Array(stats.buffer, mineAt.start * 3 * 8, mineAt.count * 3));
    }
    await launchWorkers(eal, o, numProcs, plan, stats, stopWord, jobs);
  } catch (e) {
    Atomics.store(new Int32Array(stopWord), 0, 1);
    await Promise.all(jobs.map((j) => j.done.catch(() => undefined)));
    hands?.close();
    dev?.close();
    eal.close();
    throw e;
  }
  for (const p of o.ports) {
    const l = dev.linkStatus(p);
    out(l.up ? `Port ${p}: Link Up - ${l.speedMbps / 1000} Gbps - full-duplex` : `Port ${p}: Link Down`);
  }
  for (const [lcore, at] of plan) {
    if (at.count === 0) {
      out(`Lcore ${lcore} has nothing to do`);
      continue;
    }
    out(`Lcore ${lcore} using ports ${o.ports.slice(at.start, at.start + at.count).join(' ')}`);
    out(`lcore ${lcore} using queue ${o.procId} of each port`);
  }
  out('APP: Finished Process Init.');

  const lines = (): string[] => o.ports.map((p, i) => `Port ${p}: RX - ${stats[i * 3 + ST_RX]}, TX - ${stats[i * 3 + ST_TX]}, Drop - ${stats[i * 3 + ST_DROP]}`);
  const idle = new IdlePolicy({ mode: o.idle, wake: fwd?.rxQueues ?? [] }); // interrupt mode where the driver has it (memif)
  let stopping = false;
  const stop = async (why: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    Atomics.store(new Int32Array(stopWord), 0, 1);
    await Promise.race([Promise.all(jobs.map((j) => j.done.catch(() => undefined))), new Promise((r) => setTimeout(r, 1000))]);
    out(`\n${why}\n`);
    for (const l of lines()) out(l);
    hands?.close();
    dev!.close();
    eal.close();
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => void stop(`Exiting on signal ${SIGNO[sig]}`, 0));
  for (const j of jobs) {
    j.done.catch((e: Error) => {
      if (stopping) return;
      process.stderr.write(`symmetric_mp: lcore ${j.lcore} failed: ${e.message}\n`);
      void stop('Exiting: a forwarding lcore failed', 1);
    });
  }
  eal.onPrimaryExit((pid) => {
    if (pid === process.pid) return;
    process.stderr.write(`symmetric_mp: the primary process (pid ${pid}) has exited; proc-id ${o.procId} keeps forwarding on queue ${o.procId} (restart the dead one with --proc-type=secondary)\n`);
  });
  if (o.statsPeriod > 0) {
    setInterval(() => out(`stats proc-id ${o.procId}: ${lines().join('; ')}`), o.statsPeriod * 1000);
  }
  if (fwd !== undefined) {
    const f = fwd;
    const slice = (): void => {
      if (stopping) return;
      f.run(idle, performance.now() + SLICE_MS);
      setImmediate(slice);
    };
    setImmediate(slice);
  } else {
    setInterval(() => undefined, 1 << 30); // the main lcore has no pair: it only waits for signals
  }
  return new Promise<number>(() => undefined); // runs until a signal
}

/** Refuse (EBUSY, naming the pid) when a live process holds queue procId of a port. */
function refuseTakenId(dev: EthDev, o: AppOptions, numProcs: number): void {
  for (const p of o.ports) {
    const info = dev.info(p);
    for (const [dir, q] of [['RX', info.rxq[o.procId]], ['TX', info.txq[o.procId]]] as const) {
      if (q && q.ownerAlive && q.owner !== process.pid) {
        throw new MpdkError('EBUSY', `--proc-id=${o.procId} is already running as pid ${q.owner} (it holds ${dir} queue ${o.procId} of port ${p}); give this process a free id from 0 to ${numProcs - 1}, or stop pid ${q.owner} first`);
      }
    }
  }
}

/** Start lcore.ts on every worker lcore that has port pairs; resolve when all forward. */
async function launchWorkers(
  eal: Eal, o: AppOptions, numProcs: number, plan: Map<number, { start: number; count: number }>, stats: Float64Array, stop: SharedArrayBuffer, jobs: LcoreJob[],
): Promise<void> {
  const ready: Promise<void>[] = [];
  for (const lcore of eal.workerLcores) {
    const at = plan.get(lcore)!;
    if (at.count === 0) continue;
    const arg: LcoreArg = {
      pool: POOL_NAME, ports: o.ports, start: at.start, count: at.count, procId: o.procId, numProcs, idle: o.idle, stop, stats: stats.buffer as SharedArrayBuffer,
    };
    let up!: () => void;
    const isUp = new Promise<void>((r) => (up = r));
    const job = remoteLaunch(eal, lcore, new URL('./lcore.js', import.meta.url), arg, { onMessage: (m) => (m as { ready?: number }).ready !== undefined && up() });
    jobs.push(job);
    ready.push(Promise.race([
      isUp,
      job.done.then(() => {
        throw new MpdkError('EIO', `lcore ${lcore} ended before forwarding`);
      }, (e: Error) => {
        throw isMpdkError(e) ? e : new MpdkError('EIO', e.message.replace(/^lcore \d+: /, ''));
      }),
      new Promise<void>((_, rej) => setTimeout(() => rej(new MpdkError('ETIMEDOUT', `lcore ${lcore} did not start forwarding within ${CONF_WAIT_MS} ms`)), CONF_WAIT_MS).unref()),
    ]));
  }
  await Promise.all(ready);
}
