/**
 * The master's set-up, before any slave exists (G46, G62): l2fwd's lcore assignment (each
 * worker lcore in order takes up to -q RX ports), the mbuf pool and the ports (1 RX + 1 TX
 * queue each), the dependency groups (group.ts), and the shared objects of layout.ts:
 * "l2fwd_fork" (CTL), "port_stat", and per slave "l2fwd_res_<L>" and its command and drop
 * rings. Prints the guide's lines (Lcore N: RX port P, Initializing port..., lcore A and B
 * paired). Everything here is created once; recovery reuses it.
 */
import type { ChildProcess } from 'node:child_process';
import { EthDev, MAX_LCORE, MpdkError, PktmbufPool, Ring, UsageError, formatMac, parseCoreList, type Eal } from '../../index.js';
import { Group } from './group.js';
import {
  CMD_RING_SIZE, CTL, CTL_MAGIC, CTL_MZ, DROP_RING_SIZE, MAX_PORTS_L2, MBUF_CACHE, NB_MBUF, NB_RXD, NB_TXD, POOL_NAME, PORT_STAT_BYTES, PORT_STAT_TAG, RES, RES_MAGIC,
  dropName, m2sName, resName, s2mName,
} from './layout.js';
import type { MasterConfig } from './options.js';

/** The master's record of one slave lcore and the process that currently serves it. */
export interface Slave {
  lcore: number;
  /** Region offset of its RES memzone. */
  res: number;
  rxPorts: number[];
  dstPorts: number[];
  group: Group<Slave>;
  m2s: Ring;
  s2m: Ring;
  drop: Ring;
  child: ChildProcess | undefined;
  pid: number;
  /** The process's start time (/proc), so that a reused pid is never taken for it. */
  start: number;
  /** Its process has not exited (as far as the master's exit events and STOP ACKs go). */
  alive: boolean;
  ready: boolean;
  /** The master asked it to go (STOP, or SIGKILL after no ACK): its exit is expected. */
  stopRequested: boolean;
  /** Resolves when the current process has exited. */
  exited: Promise<void>;
  /** Epoch ms of its first forwarded packet (0: not yet), as the slave reported it. */
  forwardingAt: number;
  lastEnd: string;
}

export interface Topology {
  dev: EthDev;
  pool: PktmbufPool;
  slaves: Slave[];
  groups: Group<Slave>[];
  /** Region offset of "port_stat". */
  portStat: number;
  /** Lcore ids floating slaves may lease (not in -l). */
  floatIds: number[];
}

/** Set up everything the slaves will use; throws (nothing started) if a port or lcore is missing. */
export function buildTopology(eal: Eal, cfg: MasterConfig): Topology {
  const { ports, q } = cfg;
  const workers = eal.workerLcores;
  const need = Math.ceil(ports.length / q);
  if (workers.length < need) {
    throw new UsageError(`not enough lcores: l2fwd_fork needs ${need + 1} lcores for ${ports.length} ports with -q ${q} (one for the master, which only supervises, and ${need} for the slaves), but -l gave ${eal.options.lcores.length}; use e.g. -l 0-${need}`);
  }
  const dev = EthDev.attach(eal);
  for (const p of ports) {
    if (p >= dev.count) throw new MpdkError('ENODEV', `port ${p} (in -p ${cfg.mask}) does not exist: the instance has ${dev.count} port${dev.count === 1 ? '' : 's'} (one per --vdev)`);
  }
  const dst = new Map<number, number>();
  for (let i = 0; i < ports.length; i += 2) {
    dst.set(ports[i]!, ports[i + 1]!);
    dst.set(ports[i + 1]!, ports[i]!);
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

  const pool = PktmbufPool.create(eal, POOL_NAME, { count: NB_MBUF, cacheSize: MBUF_CACHE });
  for (const p of ports) {
    process.stdout.write(`Initializing port ${p}... `);
    dev.configure(p, { rxQueues: 1, txQueues: 1 });
    dev.rxQueueSetup(p, 0, { descriptors: NB_RXD, pool });
    dev.txQueueSetup(p, 0, { descriptors: NB_TXD });
    dev.start(p);
    dev.promiscuousEnable(p);
    process.stdout.write(`done: Port ${p}, MAC address: ${formatMac(dev.macAddr(p))}\n`);
  }

  const root = dependencyRoots(rxOf, dst, ports);

  // Shared objects, all before any slave exists (G62).
  const r = eal.region;
  const portStat = eal.zmalloc(PORT_STAT_TAG, PORT_STAT_BYTES);
  const ctl = eal.memzones.reserve(CTL_MZ, CTL.BYTES).offset;
  r.u32[(ctl + CTL.NB_PORTS) >>> 2] = dev.count;
  r.u32[(ctl + CTL.PORTMASK) >>> 2] = parseInt(cfg.mask, 16);
  r.u32[(ctl + CTL.Q) >>> 2] = q;
  r.u32[(ctl + CTL.PERIOD) >>> 2] = cfg.period;
  r.u32[(ctl + CTL.FLOAT) >>> 2] = cfg.float ? 1 : 0;
  r.u32[(ctl + CTL.PORT_STAT) >>> 2] = portStat;
  r.u32[(ctl + CTL.NB_SLAVES) >>> 2] = rxOf.size;
  r.i32[(ctl + CTL.MASTER_PID) >>> 2] = process.pid;
  for (let p = 0; p < MAX_PORTS_L2; p++) r.i32[(ctl + CTL.DST) / 4 + p] = dst.get(p) ?? -1;
  [...rxOf.keys()].forEach((l, i) => (r.u32[(ctl + CTL.SLAVES) / 4 + i] = l));

  const slaves: Slave[] = [];
  const groups: Group<Slave>[] = [];
  const byRoot = new Map<number, Group<Slave>>();
  for (const [l, rx] of rxOf) {
    let g = byRoot.get(root(l));
    if (!g) {
      g = new Group<Slave>(groups.length);
      byRoot.set(root(l), g);
      groups.push(g);
    }
    const dstPorts = rx.map((p) => dst.get(p)!);
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
    const spsc = { singleProducer: true, singleConsumer: true };
    const s: Slave = {
      lcore: l, res, rxPorts: rx, dstPorts, group: g,
      m2s: Ring.create(eal, m2sName(l), { count: CMD_RING_SIZE, ...spsc }), s2m: Ring.create(eal, s2mName(l), { count: CMD_RING_SIZE, ...spsc }), drop: Ring.create(eal, dropName(l), { count: DROP_RING_SIZE, ...spsc }),
      child: undefined, pid: 0, start: 0, alive: false, ready: false, stopRequested: false, exited: Promise.resolve(), forwardingAt: 0, lastEnd: '',
    };
    g.members.push(s);
    slaves.push(s);
  }
  r.storeRelease(ctl + CTL.MAGIC, CTL_MAGIC);

  const env = process.env.MPDK_L2FWD_FLOAT_IDS;
  const given = new Set(eal.options.lcores);
  const floatIds = (env ? parseCoreList(env, 'MPDK_L2FWD_FLOAT_IDS') : Array.from({ length: MAX_LCORE }, (_, i) => i)).filter((i) => !given.has(i));
  // The slaves claim the worker lcores themselves.
  for (const l of workers) eal.lcoreTable.release(l);
  return { dev, pool, slaves, groups, portStat, floatIds };
}

/**
 * Dependencies (T7): lcores whose slaves share a port are joined (union-find); prints the
 * guide's pair lines. Returns each lcore's group root.
 */
function dependencyRoots(rxOf: Map<number, number[]>, dst: Map<number, number>, ports: readonly number[]): (l: number) => number {
  const lcoreOfPort = new Map<number, number>();
  for (const [l, ps] of rxOf) for (const p of ps) lcoreOfPort.set(p, l);
  const parent = new Map<number, number>();
  for (const l of rxOf.keys()) parent.set(l, l);
  const find = (l: number): number => {
    let r = l;
    while (parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  for (const p of ports) {
    const d = dst.get(p)!;
    const a = lcoreOfPort.get(p)!;
    const b = lcoreOfPort.get(d)!;
    if (p < d) {
      if (a !== b) process.stdout.write(`lcore ${a} and ${b} paired\n`);
      else process.stdout.write(`lcore ${a} forwards ports ${p} and ${d} alone (no dependency)\n`);
    }
    parent.set(find(a), find(b));
  }
  return find;
}
