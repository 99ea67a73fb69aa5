/**
 * Ports (DPDK's rte_ethdev): numbered 0..n−1 in the order of the primary's --vdev options,
 * each with N RX and M TX queues, RSS, per-queue statistics, and a driver behind it
 * (src/drivers/net/*, interface in driver.ts, registry.ts). Shared layout: layout.ts; the
 * read-only walks of it (observers, audit, recovery): table.ts.
 *
 *   who calls what
 *   every process      EthDev.attach(eal) (the primary's first call probes the ports and
 *                      creates ETHDEV_DATA; the others find it — a secondary never
 *                      re-initialises a port and attach resets no counter), count, info,
 *                      macAddr, linkStatus, stats
 *   configuring proc.  configure, rxQueueSetup, txQueueSetup, start, stop, promiscuous*,
 *   (the primary, as   resetStats: under ED.LOCK, refused (EBUSY) on a started port where
 *    a rule)           DPDK forbids it
 *   queue user         rxQueue(port, q) / txQueue(port, q): check once (port exists: else
 *                      ENODEV; started: else ENODEV; queue exists: else EINVAL), claim the
 *                      queue for this process (a live other owner: EBUSY naming its pid),
 *                      and return the driver's queue object whose rxBurst/txBurst is the
 *                      hot call. rxBurst(port, q, ...) / txBurst(...) are the DPDK-shaped
 *                      conveniences over the same objects (one array load + one compare more).
 *   the wire           wire(port): the far side of a software port (net_ring), one process
 *                      at a time
 *   queue user, async  rxBurstAsync / rxBursts: the same receive, waiting without blocking
 *                      the event loop while the queue is empty (rx-wait.ts)
 *
 * Port state machine (EP.STATE; transitions under ED.LOCK):
 *   PROBED      --configure-->            CONFIGURED   queues must be set up again
 *   CONFIGURED  --configure / queue setup--> CONFIGURED
 *   CONFIGURED  --start-->                STARTED      every queue set up; link up (a driver
 *                                                      that owns its link, net_memif: when
 *                                                      its peer connects)
 *   STARTED     --stop-->                 CONFIGURED   link down; setups kept, start again
 *   refused: configure or queue setup on a STARTED port (EBUSY: stop it first); queue
 *   setup or start on a PROBED port (EINVAL: configure first); start with a queue not set
 *   up (EINVAL naming it); binding a queue of a port that is not STARTED (ENODEV).
 *   Queue objects bound before a stop keep working (the hot path checks nothing); a
 *   configure or queue setup bumps EP.GEN so the conveniences re-bind.
 *
 * Queue ownership: EQ.OWNER_PID/LCORE/START, written under ED.LOCK by the claimer. A claim
 * succeeds when the queue is free, ours (same pid and lcore), or its owner is dead (pid +
 * start time, so a reused pid is not mistaken for the owner). Nothing releases a dead
 * owner's claim: the next claimer takes it over.
 *
 * RSS: our drivers have no hardware, so RSS is applied where packets ENTER a port (the
 * wire: Toeplitz over the 5-tuple with the port's key → RETA → RX queue; hash stored in
 * the mbuf with MBUF_F_RX_RSS_HASH). On when configure asks for it or nbRx > 1. The
 * symmetric mode uses the 0x6d5a key (net/rss.ts), so both directions of a flow land on
 * one queue.
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { RobustLock } from '../eal/lock.js';
import { registerDescriber, type ObjectDescription } from '../eal/describe.js';
import { processAlive, processStartTime } from '../native/libc.js';
import { Mempool } from '../mempool/mempool.js';
import { PktmbufPool } from '../mbuf/mbuf.js';
import { formatMac, portMac } from '../net/packet.js';
import { Reta, RETA_SIZE_DEFAULT, RSS_HF, RSS_KEY_DEFAULT, RSS_KEY_LEN, RSS_KEY_SYMMETRIC } from '../net/rss.js';
import { findDriver } from './registry.js';
import { RxWaiter } from './rx-wait.js';
import { Ring } from '../ring/ring.js';
import { waiter, type WaitOptions, type Waiter } from '../ring/doorbell-async.js';
import { checkPortTable, portPresent, portTable } from './table.js';
import { writeEntry } from './entry.js';
import { PortOwners, PortOwnership, type PortOwnerInfo } from './port-owner.js';
import { attachPort, detachPort, listenHotplug, type AttachOptions, type DetachOptions } from './hotplug.js';
import { tapRx, tapTx } from './capture.js';
import { parseVdev, Port, STAT_ERRORS, STAT_MISSED, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS, type DriverPort, type RxQueue, type TxQueue, type VdevInfo, type Wire } from './driver.js';
import {
  ED, entryAt, EP, EP_STRIDE, EQ, ETHDEV_MAGIC, ETHDEV_MZ, ETHDEV_VERSION, HP_DETACH, MAX_PORTS, MAX_QUEUES, PF_LINK_UP, PF_PROMISC, PF_RSS, PF_RSS_SYMMETRIC,
  PortState, RETA_MAX,
} from './layout.js';

/** Which side of a software port's wire a process plays (see `wire`). */
export type WireSide = 'both' | 'inject' | 'collect';
const WIRE_SIDES: readonly WireSide[] = ['both', 'inject', 'collect'];

/**
 * A port's receive-side scaling (`PortConf.rss`): which packet fields spread flows over the RX queues, and the key.
 */
export interface RssConf {
  /** 40-byte Toeplitz key (default: the Microsoft key; not with `symmetric`). */
  key?: Uint8Array;
  /** RSS_HF bits (default RSS_HF.ALL). */
  hashFunctions?: number;
  /** Both directions of a flow on one queue (uses the symmetric key). */
  symmetric?: boolean;
}

/** How a port is configured (`configure`). */
export interface PortConf {
  /** RX queues, 0 to 32 (not both counts 0). */
  rxQueues: number;
  /** TX queues, 0 to 32. */
  txQueues: number;
  /** RSS: spread received flows over the RX queues (on by itself when rxQueues > 1). */
  rss?: RssConf;
  /** Redirection table entries: a power of two ≤ 512 (default 128). */
  retaSize?: number;
  /** This process's ownership of the port, when it owns it (port-owner.ts). */
  owner?: PortOwnership;
}

/** Options of start and stop. */
export interface PortOpOptions {
  /** This process's ownership of the port, when it owns it (port-owner.ts). */
  owner?: PortOwnership;
}

/** How an RX queue is set up (`rxQueueSetup`). */
export interface RxQueueConf {
  /** Descriptors (slots) of the queue, 1 to 65536 (a power of two such as 1024 is usual). */
  descriptors: number;
  /** The packet-buffer pool received packets are put in. */
  pool: PktmbufPool;
  /** This process's ownership of the port, when it owns it. */
  owner?: PortOwnership;
}

/** How a TX queue is set up (`txQueueSetup`). */
export interface TxQueueConf {
  /** Descriptors (slots) of the queue, 1 to 65536. */
  descriptors: number;
  /** This process's ownership of the port, when it owns it. */
  owner?: PortOwnership;
}

/** A port's link (`dev.linkStatus(port)`), speed in Mbit/s. */
export interface LinkStatus {
  /** Whether the link is up (carrier, or a connected peer). */
  up: boolean;
  /** Link speed in Mbit/s (0 when not known). */
  speedMbps: number;
  /** Always full duplex. */
  duplex: 'full';
}

/** One queue's counters (`PortStats.queues`). */
export interface QueueStats {
  /** The queue's number. */
  q: number;
  /** Packets received on RX queue q. */
  ipackets: number;
  /** Bytes received on RX queue q. */
  ibytes: number;
  /** Packets received in error on RX queue q. */
  ierrors: number;
  /** Packets dropped for want of room in RX queue q. */
  imissed: number;
  /** RX failures of queue q for want of an mbuf. */
  rxNombuf: number;
  /** Packets sent on TX queue q. */
  opackets: number;
  /** Bytes sent on TX queue q. */
  obytes: number;
  /** Packets TX queue q failed to send. */
  oerrors: number;
  /** Pid using the queue (0 = none or dead). */
  rxOwner: number;
  /** Pid using TX queue q (0 = none or dead). */
  txOwner: number;
}

/**
 * A port's counters (`dev.stats(port)`), DPDK's rte_eth_stats: packets and bytes in and out, misses, errors.
 */
export interface PortStats {
  /** Packets received (all RX queues). */
  ipackets: number;
  /** Packets sent (all TX queues). */
  opackets: number;
  /** Bytes received. */
  ibytes: number;
  /** Bytes sent. */
  obytes: number;
  /** Packets the port dropped for want of room in an RX queue. */
  imissed: number;
  /** Packets received in error (dropped). */
  ierrors: number;
  /** Packets the port failed to send. */
  oerrors: number;
  /** RX failures for want of an mbuf in the queue's pool. */
  rxNombuf: number;
  /** Per-queue counters, one entry per queue that is set up. */
  queues: QueueStats[];
}

/** One queue of a port (`PortInfo.rxq` / `.txq`): set up or not, descriptors, RX pool, the pid using it. */
export interface QueueInfo {
  /** The queue's number. */
  q: number;
  /** Whether the queue is set up. */
  setUp: boolean;
  /** Its descriptors (slots). */
  nbDesc: number;
  /** RX: the mbuf pool's name. */
  pool?: string;
  /** Pid that last bound the queue (0: none). */
  owner: number;
  /** Lcore of that process that bound it. */
  ownerLcore: number;
  /** Whether that process lives. */
  ownerAlive: boolean;
}

/** A port as `dev.info(port)` shows it: id, name, driver and devargs, state, queues. */
export interface PortInfo {
  /** Port number (0..n-1, the order of the primary's `--vdev`s). */
  id: number;
  /** The vdev's name (`net_ring0`). */
  name: string;
  /** The driver's name (`net_ring`). */
  driver: string;
  /** The vdev's arguments as given (`iface=veth0`). */
  devargs: string;
  /** Its place in the port's life cycle. */
  state: 'probed' | 'configured' | 'started';
  /** RX queues configured. */
  nbRx: number;
  /** TX queues configured. */
  nbTx: number;
  /** Its MAC address, `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** Whether it receives frames for any MAC. */
  promiscuous: boolean;
  /** Its link. */
  link: LinkStatus;
  /** Receive-side scaling: on or off, symmetric key, RSS_HF bits, redirection table size. */
  rss: {
    /** RSS spreads received packets over the RX queues. */
    on: boolean;
    /** The symmetric key: both directions of a flow hash alike. */
    symmetric: boolean;
    /** Enabled hash types (RSS_HF bits). */
    hashFunctions: number;
    /** Entries of the redirection table (hash to queue). */
    retaSize: number;
  };
  /** Pid playing its software wire (`dev.wire`), 0 for none. */
  wire: number;
  /** Its RX queues. */
  rxq: QueueInfo[];
  /** Its TX queues. */
  txq: QueueInfo[];
}

const STATE_NAMES = ['unused', 'probed', 'configured', 'started'] as const;
const instances = new WeakMap<Eal, EthDev>();
let ownStart = -1;
function myStart(): number {
  if (ownStart < 0) ownStart = processStartTime(process.pid);
  return ownStart;
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/**
 * The ports of an instance (DPDK's rte_ethdev): one per `--vdev` of the primary, numbered from 0,
 * each with RX and TX queues, RSS, statistics and a driver behind it. `EthDev.attach(eal)` in
 * every process; configure, set up queues, start and stop in one (the primary, as a rule);
 * `rxBurst`/`txBurst` on a queue from one thread at a time (EBUSY naming the other user).
 * Refusals are MpdkErrors: ENODEV an unknown port, EBUSY a started port or a used queue,
 * EINVAL a bad count.
 *
 * @example
 * ```ts
 * const dev = EthDev.attach(eal);
 * dev.configure(0, { rxQueues: 1, txQueues: 1 });
 * dev.rxQueueSetup(0, 0, { descriptors: 1024, pool });
 * dev.txQueueSetup(0, 0, { descriptors: 1024 });
 * dev.start(0);
 * const n = dev.rxBurst(0, 0, burst, 32);
 * ```
 */
export class EthDev {
  /** The Eal the ports were attached with. */
  readonly eal: Eal;
  /** Region offset of ETHDEV_DATA. */
  readonly header: number;
  /** Port views by id, made again when the entry's EPOCH moves (a detach, an attach). */
  private readonly ports: (Port | undefined)[];
  private readonly epochs: Uint32Array;
  /** Who owns which port (port-owner.ts). */
  readonly owners: PortOwners;
  private readonly lock: RobustLock;
  private readonly opened: (DriverPort | undefined)[];
  private readonly rxBound: (RxQueue | undefined)[];
  private readonly txBound: (TxQueue | undefined)[];
  /** EP.GEN each bound queue was bound at; u32 index of each port's GEN. */
  private readonly rxGen: Uint32Array;
  private readonly txGen: Uint32Array;
  private readonly genIdx: Uint32Array;
  private readonly u32: Uint32Array;
  private readonly wires: (Wire | undefined)[];
  private readonly wireGen: Uint32Array;
  /** Async RX waits per queue index (rx-wait.ts), with the queue object they were made for. */
  private readonly rxWaiters = new Map<number, { q: RxQueue; w: RxWaiter }>();
  /** Aborts pending async waits when this object is closed. */
  private closer: AbortController | undefined;
  /** The ownerships taken through this object: given back by close(). */
  private readonly owned = new Set<PortOwnership>();
  /** Cancels close() at the Eal's close. */
  private unhook: (() => void) | undefined;

  private constructor(eal: Eal, header: number) {
    this.eal = eal;
    this.header = header;
    this.u32 = eal.region.u32;
    // Every array has room for MAX_PORTS: ports come and go while the process runs.
    this.ports = new Array<Port | undefined>(MAX_PORTS).fill(undefined);
    this.epochs = new Uint32Array(MAX_PORTS);
    this.owners = new PortOwners(eal);
    this.lock = new RobustLock(eal.region.i32, header + ED.LOCK);
    this.opened = new Array<DriverPort | undefined>(MAX_PORTS).fill(undefined);
    this.rxBound = new Array<RxQueue | undefined>(MAX_PORTS * MAX_QUEUES).fill(undefined);
    this.txBound = new Array<TxQueue | undefined>(MAX_PORTS * MAX_QUEUES).fill(undefined);
    this.rxGen = new Uint32Array(MAX_PORTS * MAX_QUEUES);
    this.txGen = new Uint32Array(MAX_PORTS * MAX_QUEUES);
    this.genIdx = Uint32Array.from({ length: MAX_PORTS }, (_, i) => (header + ED.BYTES + i * EP_STRIDE + EP.GEN) >>> 2);
    this.wires = new Array<Wire | undefined>(MAX_PORTS * 3).fill(undefined);
    this.wireGen = new Uint32Array(MAX_PORTS * 3);
  }

  // --- attach and probe -------------------------------------------------------------------

  /**
   * The ports of this instance, for this thread's Eal. The primary's first call probes
   * eal.options.vdevs (bad devargs: EINVAL, unknown driver: ENODEV; nothing is left
   * behind). A secondary finds the ports the primary probed (ENOENT when it has not yet);
   * --vdev options given to it must match the primary's (EINVAL naming both).
   */
  static attach(eal: Eal): EthDev {
    const cached = instances.get(eal);
    if (cached) return cached;
    let mz: { offset: number } | undefined = eal.memzones.tryLookup(ETHDEV_MZ);
    let probedHere = false;
    if (!mz) {
      if (!eal.isPrimary) {
        throw new MpdkError('ENOENT', `no ports in instance '${eal.filePrefix}': the primary (pid ${eal.primaryPid()}) has not set them up (EthDev.attach) yet; start the primary first`);
      }
      mz = EthDev.probeAll(eal);
      probedHere = mz !== undefined;
      mz ??= eal.memzones.lookup(ETHDEV_MZ);
    }
    const r = eal.region;
    const deadline = Date.now() + 2000;
    while (r.loadAcquire(mz.offset + ED.MAGIC) !== ETHDEV_MAGIC) {
      if (Date.now() > deadline) throw new MpdkError('ETIMEDOUT', `ports of instance '${eal.filePrefix}' are still being probed after 2 s (by pid ${r.i32[(mz.offset + ED.CREATOR) >>> 2]}); is the primary stuck?`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
    checkPortTable(eal, mz.offset);
    const dev = new EthDev(eal, mz.offset);
    if (!probedHere && eal.options.vdevs.length > 0) {
      const mine = eal.options.vdevs.map((v) => v.trim());
      const theirs = dev.portIds().map((i) => dev.portObj(i)).map((p) => (p.devargs ? `${p.name},${p.devargs}` : p.name));
      // Each --vdev given must be a port there is (ports attached at run time may be more).
      const missing = mine.filter((v) => !theirs.includes(v));
      if (missing.length > 0) {
        throw new MpdkError('EINVAL', `--vdev ${missing.join(' --vdev ')} differs from the ports the instance has (${theirs.length ? theirs.join(', ') : 'none'}); a secondary needs no --vdev: drop it or pass the same ones`);
      }
    }
    instances.set(eal, dev);
    dev.unhook = eal.onClose(() => dev.close()); // what this thread holds goes back when its Eal closes
    if (!eal.isWorker && eal.slot >= 0) listenHotplug(dev); // answer the others' attach and detach (hotplug.ts)
    return dev;
  }

  /** Probe the vdevs into a new ETHDEV_DATA; undefined when another thread just did. */
  private static probeAll(eal: Eal): { offset: number } | undefined {
    const specs = eal.options.vdevs;
    if (specs.length > MAX_PORTS) throw new MpdkError('EINVAL', `${specs.length} --vdev options: at most ${MAX_PORTS} ports`);
    const vdevs: VdevInfo[] = [];
    for (let i = 0; i < specs.length; i++) {
      const { driver } = parseVdev(specs[i]!);
      const d = findDriver(driver);
      const v = parseVdev(specs[i]!, d.args, d.name);
      if (vdevs.some((o) => o.name === v.name)) throw new MpdkError('EINVAL', `--vdev ${v.name} is given twice; each port needs its own name (net_ring0, net_ring1, ...)`);
      vdevs.push({ port: i, name: v.name, driver: d.name, args: v.args });
    }
    let mz;
    try {
      mz = eal.memzones.reserve(ETHDEV_MZ, ED.BYTES + MAX_PORTS * EP_STRIDE, 64);
    } catch (e) {
      if (e instanceof MpdkError && e.code === 'EEXIST') return undefined;
      throw e;
    }
    const r = eal.region;
    const z = mz.offset;
    try {
      r.u32[(z + ED.VERSION) >>> 2] = ETHDEV_VERSION;
      r.u32[(z + ED.NB_PORTS) >>> 2] = vdevs.length;
      r.u32[(z + ED.MAX_QUEUES) >>> 2] = MAX_QUEUES;
      r.u32[(z + ED.PORT_STRIDE) >>> 2] = EP_STRIDE;
      r.i32[(z + ED.CREATOR) >>> 2] = process.pid;
      for (const v of vdevs) writeEntry(r, z, v);
      for (const v of vdevs) findDriver(v.driver).probe(new Port(eal, z, v.port), v.args, vdevs);
    } catch (e) {
      eal.memzones.free(ETHDEV_MZ);
      throw e;
    }
    r.storeRelease(z + ED.MAGIC, ETHDEV_MAGIC);
    eal.log('info', `ports: ${vdevs.map((v) => `${v.port}=${v.name}`).join(' ') || 'none'}`);
    return mz;
  }

  // --- lookups ----------------------------------------------------------------------------

  /**
   * One more than the highest port id the instance has had (ids stay with their ports:
   * a detached port leaves a gap, `portIds()` lists the ports there are now).
   */
  get count(): number {
    return this.eal.region.u32At(this.header + ED.NB_PORTS);
  }

  /** The ids of the ports there are now, ascending. */
  portIds(): number[] {
    const out: number[] = [];
    for (let i = 0, n = this.count; i < n; i++) if (this.portAt(i)) out.push(i);
    return out;
  }

  /** The view of port `id` if it exists now; made again after a detach or attach at that id. */
  private portAt(id: number): Port | undefined {
    if (!(Number.isInteger(id) && id >= 0 && id < MAX_PORTS)) return undefined;
    if (id >= this.count || !portPresent(this.eal, this.header, id)) {
      if (this.ports[id]) this.forget(id); // detached while this thread was not told (a worker, a missed message): its files close now
      return undefined;
    }
    const epoch = this.u32[(entryAt(this.header, id) + EP.EPOCH) >>> 2]!;
    let p = this.ports[id];
    if (!p || this.epochs[id] !== epoch) {
      this.forget(id);
      p = new Port(this.eal, this.header, id);
      this.ports[id] = p;
      this.epochs[id] = epoch;
    }
    return p;
  }

  /** Drop what this thread kept of port `id` (an earlier port at that id, or one just detached). */
  forget(id: number): void {
    this.opened[id]?.close?.();
    this.opened[id] = undefined;
    this.ports[id] = undefined;
    for (let q = 0; q < MAX_QUEUES; q++) {
      this.rxBound[id * MAX_QUEUES + q] = undefined;
      this.txBound[id * MAX_QUEUES + q] = undefined;
    }
    for (let k = 0; k < 3; k++) this.wires[id * 3 + k] = undefined;
    for (const i of [...this.rxWaiters.keys()]) if (Math.floor(i / MAX_QUEUES) === id) this.rxWaiters.delete(i);
  }

  /** @internal The view of port `port`; ENODEV when there is none. */
  portObj(port: number): Port {
    const p = this.portAt(port);
    if (!p) {
      const ids = this.portIds();
      throw new MpdkError('ENODEV', `no port ${port}: this instance has ${ids.length} port${ids.length === 1 ? '' : 's'}${ids.length ? ` (${ids.join(', ')})` : ''}; ports come from the primary's --vdev options or mpdk port attach`);
    }
    return p;
  }

  /** The port id of `name` (e.g. "net_ring1"); ENODEV when there is none. */
  portId(name: string): number {
    const ps = this.portIds().map((i) => this.portObj(i));
    const p = ps.find((x) => x.name === name);
    if (!p) throw new MpdkError('ENODEV', `no port named '${name}'; ports: ${ps.map((x) => x.name).join(', ') || 'none'}`);
    return p.id;
  }

  // --- hotplug and ownership (hotplug.ts, port-owner.ts) ----------------------------------

  /**
   * Attach a port while the instance runs, from any process (`--vdev` syntax:
   * `await dev.attachPort('net_pcap2,rx_pcap=in.pcap')`), every process agreeing: all or
   * nothing. Resolves with its id; it is probed (configure and start it as any port).
   * EINVAL / ENODEV for a bad spec or driver, ENOTSUP for a driver that cannot be attached
   * at run time, EBUSY naming the processes that refused (nothing changed).
   */
  attachPort(spec: string, opts?: AttachOptions): Promise<number> {
    return attachPort(this, spec, opts);
  }

  /**
   * Detach port `port` from every process of the instance, all or nothing: refused (EBUSY,
   * naming pid and program) while any live process uses one of its queues or its wire, or
   * while someone else owns it; nothing changes then. Stops it first if started.
   */
  detachPort(port: number, opts?: DetachOptions): Promise<void> {
    return detachPort(this, port, opts);
  }

  /**
   * Take port `port` for this process (or a named component of it): configure, queue setup,
   * start, stop and detach are then refused to anyone else, naming the owner, and allowed
   * with `{ owner }`. EBUSY naming the current owner; a dead one's ownership is released.
   * Held until `release()`, or until this EthDev (or its Eal) closes.
   */
  takeOwnership(port: number, component = ''): PortOwnership {
    const p = this.portObj(port);
    this.withLock(() => this.owners.take(p, component, (t) => this.ownerChanged(p, t)));
    const own = new PortOwnership(p.id, component, (o) => {
      this.owned.delete(o);
      const q = this.portAt(o.port);
      if (q) this.withLock(() => this.owners.release(q, o.component, (t) => this.ownerChanged(q, t)));
    });
    this.owned.add(own);
    this.unhook ??= this.eal.onClose(() => this.close()); // used again after a close()
    return own;
  }

  /** Who owns port `port` (undefined: nobody, or an owner that died). */
  owner(port: number): PortOwnerInfo | undefined {
    return this.owners.owner(this.portObj(port).id);
  }

  /** @internal Publish an owner change (after the lock: callbacks run on the event loop). */
  ownerChanged(p: Port, text: string): void {
    this.eal.events.publish('owner-changed', { port: p.id, text });
  }

  /** @internal Refuse `what` on p unless its owner (if any) is `token` (under the ports lock). */
  checkOwner(p: Port, what: string, token: PortOwnership | undefined): void {
    this.owners.check(p, what, token, (t) => this.ownerChanged(p, t));
  }

  /** @internal Run fn under the ports lock (ED.LOCK). */
  locked<T>(fn: () => T): T {
    return this.withLock(fn);
  }

  /**
   * Region offset of the ring behind a queue, as its driver answers (NetDriver.queueRing;
   * 0 for drivers whose queues are not rings). ENODEV for an unknown port.
   */
  queueRing(port: number, q: number, dir: 'rx' | 'tx'): number {
    const p = this.portObj(port);
    if (!isUint(q, MAX_QUEUES - 1)) return 0;
    return findDriver(p.driverName).queueRing?.(p, dir === 'rx', q) ?? 0;
  }

  /** The driver's view of port `port` (for drivers and tools). */
  port(port: number): Port {
    return this.portObj(port);
  }

  private withLock<T>(fn: () => T): T {
    return this.lock.with(fn, { what: 'the port configuration' });
  }

  // --- configuration ----------------------------------------------------------------------

  /**
   * Set the queue counts and RSS of a stopped port (rte_eth_dev_configure), e.g.
   * `configure(0, { rxQueues: 2, txQueues: 2, rss: { symmetric: true } })`. Every queue
   * must be set up again afterwards. EBUSY when started; EINVAL for bad counts or RSS.
   */
  configure(port: number, conf: PortConf): void {
    const p = this.portObj(port);
    if (conf === null || typeof conf !== 'object') throw new MpdkError('EINVAL', `${p.name}: configure needs { rxQueues, txQueues }, not ${String(conf)}`);
    const { rxQueues: nbRx, txQueues: nbTx } = conf;
    if (!isUint(nbRx, MAX_QUEUES) || !isUint(nbTx, MAX_QUEUES) || nbRx + nbTx === 0) {
      throw new MpdkError('EINVAL', `${p.name}: cannot configure ${nbRx} RX and ${nbTx} TX queues: each count must be 0..${MAX_QUEUES}, not both 0`);
    }
    const rss = conf.rss;
    const symmetric = rss?.symmetric === true;
    let key = RSS_KEY_DEFAULT;
    if (rss?.key !== undefined) {
      if (symmetric) throw new MpdkError('EINVAL', `${p.name}: symmetric RSS uses its own key (0x6d5a repeated); do not pass a key with it`);
      if (!(rss.key instanceof Uint8Array) || rss.key.length !== RSS_KEY_LEN) {
        throw new MpdkError('EINVAL', `${p.name}: the RSS key must be ${RSS_KEY_LEN} bytes (a Uint8Array); it is ${rss.key?.length ?? 0}`);
      }
      key = rss.key;
    }
    if (symmetric) key = RSS_KEY_SYMMETRIC;
    const hf = rss?.hashFunctions ?? RSS_HF.ALL;
    if (!isUint(hf, RSS_HF.ALL)) throw new MpdkError('EINVAL', `${p.name}: RSS hash functions ${hf} are not a combination of RSS_HF bits (0..${RSS_HF.ALL})`);
    const retaSize = conf.retaSize ?? RETA_SIZE_DEFAULT;
    if (!isUint(retaSize, RETA_MAX) || retaSize < 1 || (retaSize & (retaSize - 1)) !== 0) {
      throw new MpdkError('EINVAL', `${p.name}: RETA size ${retaSize} must be a power of two from 1 to ${RETA_MAX}`);
    }
    this.withLock(() => {
      this.checkOwner(p, 'configure', conf.owner);
      if (p.state === PortState.STARTED) throw new MpdkError('EBUSY', `${p.name} is started: stop it before configuring it`);
      p.set(EP.NB_RXQ, nbRx);
      p.set(EP.NB_TXQ, nbTx);
      let flags = p.get(EP.FLAGS) & PF_PROMISC;
      if (rss !== undefined || nbRx > 1) flags |= PF_RSS;
      if (symmetric) flags |= PF_RSS_SYMMETRIC;
      p.set(EP.FLAGS, flags);
      p.set(EP.RSS_HF, hf);
      p.set(EP.RETA_SIZE, retaSize);
      this.eal.region.u8.set(key, p.entry + EP.RSS_KEY);
      new Reta(Math.max(nbRx, 1), retaSize, p.reta); // round-robin fill of the shared RETA
      for (let q = 0; q < MAX_QUEUES; q++) {
        p.u32[(p.queue(true, q) + EQ.STATE) >>> 2] = 0;
        p.u32[(p.queue(false, q) + EQ.STATE) >>> 2] = 0;
      }
      p.set(EP.GEN, (p.get(EP.GEN) + 1) >>> 0);
      this.eal.region.storeRelease(p.entry + EP.STATE, PortState.CONFIGURED);
    });
  }

  /** Point RETA entry `index` at RX queue `queue` (rte_eth_dev_rss_reta_update, one entry). */
  retaUpdate(port: number, index: number, queue: number): void {
    const p = this.portObj(port);
    if (!isUint(index, p.retaMask)) throw new MpdkError('EINVAL', `${p.name}: RETA index ${index} is outside 0..${p.retaMask}`);
    if (!isUint(queue, Math.max(0, p.nbRx - 1)) || p.nbRx === 0) throw new MpdkError('EINVAL', `${p.name}: RX queue ${queue} does not exist (0..${p.nbRx - 1})`);
    p.reta[index] = queue;
  }

  private checkSetup(p: Port, rx: boolean, q: number, nbDesc: number): void {
    const st = p.state;
    if (st === PortState.STARTED) throw new MpdkError('EBUSY', `${p.name} is started: stop it before setting up queues`);
    if (st !== PortState.CONFIGURED) throw new MpdkError('EINVAL', `${p.name} is not configured: call configure(${p.id}, { rxQueues, txQueues }) first`);
    const nb = rx ? p.nbRx : p.nbTx;
    if (!isUint(q, MAX_QUEUES - 1) || q >= nb) {
      throw new MpdkError('EINVAL', `${p.name} has ${nb} ${rx ? 'RX' : 'TX'} queue${nb === 1 ? '' : 's'}${nb ? ` (0..${nb - 1})` : ''}: queue ${q} does not exist`);
    }
    if (!isUint(nbDesc, 65536) || nbDesc < 1) throw new MpdkError('EINVAL', `${p.name}: ${nbDesc} descriptors: use 1..65536 (a power of two such as 1024 is usual)`);
  }

  /**
   * Set up RX queue q of a configured, stopped port (rte_eth_rx_queue_setup), e.g.
   * `rxQueueSetup(0, 0, { descriptors: 1024, pool })`: its driver makes the queue, received
   * packets come in mbufs of `pool`. EBUSY when started, EINVAL for a bad queue or count.
   */
  rxQueueSetup(port: number, q: number, conf: RxQueueConf): void {
    const p = this.portObj(port);
    const { descriptors: nbDesc, pool } = conf ?? {};
    if (!(pool instanceof PktmbufPool)) throw new MpdkError('EINVAL', `${p.name}: RX queue ${q} needs a PktmbufPool`);
    this.withLock(() => {
      this.checkOwner(p, 'set up a queue of', conf.owner);
      this.checkSetup(p, true, q, nbDesc);
      findDriver(p.driverName).rxQueueSetup?.(p, q, nbDesc);
      const e = p.queue(true, q);
      p.u32[(e + EQ.NB_DESC) >>> 2] = nbDesc;
      p.u32[(e + EQ.POOL) >>> 2] = pool.mp.header;
      p.u32[(e + EQ.STATE) >>> 2] = 1;
      p.set(EP.GEN, (p.get(EP.GEN) + 1) >>> 0);
    });
  }

  /** Set up TX queue q (rte_eth_tx_queue_setup), e.g. `txQueueSetup(0, 0, { descriptors: 1024 })`; errors as rxQueueSetup. */
  txQueueSetup(port: number, q: number, conf: TxQueueConf): void {
    const p = this.portObj(port);
    const nbDesc = conf?.descriptors;
    this.withLock(() => {
      this.checkOwner(p, 'set up a queue of', conf?.owner);
      this.checkSetup(p, false, q, nbDesc);
      findDriver(p.driverName).txQueueSetup?.(p, q, nbDesc);
      const e = p.queue(false, q);
      p.u32[(e + EQ.NB_DESC) >>> 2] = nbDesc;
      p.u32[(e + EQ.POOL) >>> 2] = 0;
      p.u32[(e + EQ.STATE) >>> 2] = 1;
      p.set(EP.GEN, (p.get(EP.GEN) + 1) >>> 0);
    });
  }

  /** Start the port (link up). EINVAL when not configured or a queue is not set up; EBUSY when another owns it. */
  start(port: number, opts?: PortOpOptions): void {
    const p = this.portObj(port);
    this.withLock(() => {
      this.checkOwner(p, 'start', opts?.owner);
      const st = p.state;
      if (st === PortState.STARTED) return;
      if (st !== PortState.CONFIGURED) throw new MpdkError('EINVAL', `${p.name} is not configured: call configure(${p.id}, nbRx, nbTx) and set up its queues first`);
      for (const rx of [true, false]) {
        const nb = rx ? p.nbRx : p.nbTx;
        for (let q = 0; q < nb; q++) {
          if (p.u32[(p.queue(rx, q) + EQ.STATE) >>> 2] !== 1) {
            throw new MpdkError('EINVAL', `${p.name}: ${rx ? 'RX' : 'TX'} queue ${q} is not set up; call ${rx ? 'rxQueueSetup' : 'txQueueSetup'}(${p.id}, ${q}, ...) before start`);
          }
        }
      }
      const drv = findDriver(p.driverName);
      drv.start?.(p);
      if (!drv.ownsLink) p.setLinkUp(true);
      this.eal.region.storeRelease(p.entry + EP.STATE, PortState.STARTED);
    });
  }

  /** Stop the port (link down). Queues stay set up; start again without reconfiguring. EBUSY when another owns it. */
  stop(port: number, opts?: PortOpOptions): void {
    const p = this.portObj(port);
    this.withLock(() => {
      this.checkOwner(p, 'stop', opts?.owner);
      if (p.state !== PortState.STARTED) return;
      findDriver(p.driverName).stop?.(p);
      p.setLinkUp(false);
      this.eal.region.storeRelease(p.entry + EP.STATE, PortState.CONFIGURED);
    });
  }

  /** Whether `port` is started. ENODEV for an unknown port. */
  isStarted(port: number): boolean {
    return this.portObj(port).state === PortState.STARTED;
  }

  /** A copy of the port's MAC address (6 bytes). ENODEV for an unknown port. */
  macAddr(port: number): Uint8Array {
    return this.portObj(port).mac();
  }

  /** Set the port's MAC (6 bytes). */
  macAddrSet(port: number, mac: Uint8Array): void {
    const p = this.portObj(port);
    if (!(mac instanceof Uint8Array) || mac.length !== 6) throw new MpdkError('EINVAL', `${p.name}: a MAC address is 6 bytes`);
    this.withLock(() => p.setMac(mac));
  }

  /** The port's link now (a started port's driver is asked first). ENODEV for an unknown port. */
  linkStatus(port: number): LinkStatus {
    const p = this.portObj(port);
    if (p.state === PortState.STARTED) findDriver(p.driverName).linkUpdate?.(p);
    return { up: (p.get(EP.FLAGS) & PF_LINK_UP) !== 0, speedMbps: p.get(EP.LINK_SPEED), duplex: 'full' };
  }

  /** Receive frames for any destination MAC (where the driver filters). ENODEV for an unknown port. */
  promiscuousEnable(port: number): void {
    const p = this.portObj(port);
    this.withLock(() => Atomics.or(p.u32, (p.entry + EP.FLAGS) >>> 2, PF_PROMISC)); // atomic: a driver that owns its link flips PF_LINK_UP without the lock
  }

  /** Receive only frames for the port's MAC, broadcast and multicast (where the driver filters). */
  promiscuousDisable(port: number): void {
    const p = this.portObj(port);
    this.withLock(() => Atomics.and(p.u32, (p.entry + EP.FLAGS) >>> 2, ~PF_PROMISC));
  }

  /** Whether the port is promiscuous. */
  promiscuous(port: number): boolean {
    return (this.portObj(port).get(EP.FLAGS) & PF_PROMISC) !== 0;
  }

  // --- queues: bind once, then burst ----------------------------------------------------------

  private checkBind(p: Port, rx: boolean, q: number): void {
    if (p.state !== PortState.STARTED) throw new MpdkError('ENODEV', `${p.name} (port ${p.id}) is not started: the primary must configure and start it first`);
    const nb = rx ? p.nbRx : p.nbTx;
    if (!isUint(q, MAX_QUEUES - 1) || q >= nb) {
      throw new MpdkError('EINVAL', `${p.name} (port ${p.id}) has ${nb} ${rx ? 'RX' : 'TX'} queue${nb === 1 ? '' : 's'}${nb ? ` (0..${nb - 1})` : ''}: queue ${q} does not exist`);
    }
  }

  /**
   * Record this process (and lcore) as the user of a queue. EBUSY naming the owner when
   * a live other process or lcore uses it; a dead owner's claim is taken over.
   */
  claimQueue(port: number, q: number, dir: 'rx' | 'tx'): void {
    const p = this.portObj(port);
    const rx = dir === 'rx';
    this.checkBind(p, rx, q);
    this.claimEntry(p, p.queue(rx, q) + EQ.OWNER_PID, `${dir.toUpperCase()} queue ${q} of ${p.name} (port ${p.id})`);
  }

  /** Give up this process's claim on a queue (no-op if it is not ours). */
  releaseQueue(port: number, q: number, dir: 'rx' | 'tx'): void {
    const p = this.portObj(port);
    if (!isUint(q, MAX_QUEUES - 1)) return;
    const rx = dir === 'rx';
    this.releaseEntry(p.queue(rx, q) + EQ.OWNER_PID);
    const i = port * MAX_QUEUES + q;
    if (rx) this.rxBound[i] = undefined;
    else this.txBound[i] = undefined;
  }

  /**
   * Under the ports lock: EBUSY while port p is being detached (hotplug.ts: from its claim of
   * the transaction on, nothing of the port may be taken), ENODEV once it was (p is a view
   * of a port gone from its id).
   */
  private refuseDetached(p: Port): void {
    const r = this.eal.region;
    const h = this.header;
    const hp = r.i32[(h + ED.HP_PID) >>> 2]!;
    if (hp !== 0 && r.u32At(h + ED.HP_OP) === HP_DETACH && r.i32[(h + ED.HP_PORT) >>> 2] === p.id && processAlive(hp, r.f64[(h + ED.HP_START) >>> 3]!)) {
      throw new MpdkError('EBUSY', `${p.name} (port ${p.id}) is being detached by pid ${hp}: its queues and its wire cannot be taken`);
    }
    if (r.loadAcquire(p.entry + EP.STATE) === PortState.UNUSED || p.get(EP.EPOCH) !== this.epochs[p.id]) {
      throw new MpdkError('ENODEV', `${p.name} (port ${p.id}) was detached`);
    }
  }

  /** Claim port p's owner words at `at`: PID (i32), LCORE (i32, +4), START (f64, +8); refused while p is being detached. */
  private claimEntry(p: Port, at: number, what: string): void {
    const r = this.eal.region;
    const lcore = this.eal.lcoreId;
    this.withLock(() => {
      this.refuseDetached(p);
      const pid = r.i32[at >>> 2]!;
      const olc = r.i32[(at + 4) >>> 2]!;
      if (pid === process.pid && olc === lcore) return;
      if (pid !== 0 && processAlive(pid, r.f64[(at + 8) >>> 3]!)) {
        throw new MpdkError('EBUSY', `${what} is already used by pid ${pid} (lcore ${olc})${pid === process.pid ? ', another thread of this process' : ''}; each queue has one user: pick another queue or stop that process`);
      }
      r.f64[(at + 8) >>> 3] = myStart();
      r.i32[(at + 4) >>> 2] = lcore;
      Atomics.store(r.i32, at >>> 2, process.pid);
    });
  }

  private releaseEntry(at: number): void {
    const r = this.eal.region;
    this.withLock(() => {
      if (r.i32[at >>> 2] === process.pid && r.i32[(at + 4) >>> 2] === this.eal.lcoreId) Atomics.store(r.i32, at >>> 2, 0);
    });
  }

  private open(p: Port): DriverPort {
    let d = this.opened[p.id];
    if (!d) {
      d = findDriver(p.driverName).open(p);
      this.opened[p.id] = d;
    }
    return d;
  }

  /**
   * Bind RX queue q of `port` for this thread: checks once (ENODEV / EINVAL), claims it
   * (EBUSY), returns the object whose `rxBurst(handles, n)` is the hot call.
   */
  rxQueue(port: number, q: number): RxQueue {
    const p = this.portObj(port);
    const i = port * MAX_QUEUES + q;
    const gen = p.get(EP.GEN);
    const have = this.rxBound[i];
    if (have && this.rxGen[i] === gen && p.state === PortState.STARTED) return have;
    this.checkBind(p, true, q);
    const poolOff = p.u32[(p.queue(true, q) + EQ.POOL) >>> 2]!;
    const pool = PktmbufPool.lookup(this.eal, Mempool.attachAt(this.eal, poolOff).name);
    this.claimQueue(port, q, 'rx');
    let rxq: RxQueue;
    try {
      rxq = tapRx(p, q, this.open(p).rxQueue(q, pool)); // capture hook: one load per burst (capture.ts)
    } catch (e) {
      if (!have) this.releaseQueue(port, q, 'rx'); // the driver refused (net_pcap: no room for its scatter record): a first bind leaves the queue unclaimed
      throw e;
    }
    this.rxBound[i] = rxq;
    this.rxGen[i] = gen;
    return rxq;
  }

  /** Bind TX queue q of `port` for this thread (see rxQueue). */
  txQueue(port: number, q: number): TxQueue {
    const p = this.portObj(port);
    const i = port * MAX_QUEUES + q;
    const gen = p.get(EP.GEN);
    const have = this.txBound[i];
    if (have && this.txGen[i] === gen && p.state === PortState.STARTED) return have;
    this.checkBind(p, false, q);
    this.claimQueue(port, q, 'tx');
    let txq: TxQueue;
    try {
      txq = tapTx(p, q, this.open(p).txQueue(q)); // capture hook: one load per burst (capture.ts)
    } catch (e) {
      if (!have) this.releaseQueue(port, q, 'tx'); // the driver refused: a first bind leaves the queue unclaimed
      throw e;
    }
    this.txBound[i] = txq;
    this.txGen[i] = gen;
    return txq;
  }

  /**
   * rte_eth_rx_burst: receive up to n packets from RX queue q into handles[0..r).
   * The first call binds the queue (errors as rxQueue); later calls cost one array load
   * and one compare more than the bound object's rxBurst.
   */
  rxBurst(port: number, q: number, handles: Uint32Array, n: number): number {
    const i = port * MAX_QUEUES + q;
    let b = this.rxBound[i];
    if (b === undefined || this.rxGen[i] !== this.u32[this.genIdx[port]!]) b = this.rxQueue(port, q);
    return b.rxBurst(handles, n);
  }

  /**
   * Receive up to n packets from RX queue q into handles[0..), waiting without blocking the
   * event loop while the queue is empty (rx-wait.ts: the queue's ring doorbell, its driver's
   * wake-up descriptor, or a short timer). Resolves how many came (≥ 1), or 0 when
   * `opts.timeout` ms pass first; rejects with `opts.signal`'s reason when it aborts, or an
   * AbortError when this EthDev is closed. Binds the queue at the first call (errors as rxQueue).
   */
  rxBurstAsync(port: number, q: number, handles: Uint32Array, n: number, opts?: WaitOptions): Promise<number> {
    return this.rxWaiter(port, q).burst(handles, n, this.withClose(opts));
  }

  /**
   * RX queue q's bursts as they come, for `for await (const burst of dev.rxBursts(0, 0,
   * handles))`: each is `handles.subarray(0, k)` (k ≥ 1; one view per k, made once), its
   * mbufs the caller's, valid until the next step. Ends after `opts.timeout` ms without a
   * burst; throws the abort reason when `opts.signal` aborts or this EthDev is closed;
   * `await using` ends a pending wait at the end of the scope.
   */
  rxBursts(port: number, q: number, handles: Uint32Array, opts?: WaitOptions): Waiter<Uint32Array> {
    const w = this.rxWaiter(port, q);
    const subs: Uint32Array[] = [];
    return waiter(opts, async function* (this: EthDev, o: WaitOptions): AsyncGenerator<Uint32Array, void, undefined> {
      for (;;) {
        const k = await w.burst(handles, handles.length, this.withClose(o));
        if (k === 0) return;
        yield (subs[k] ??= handles.subarray(0, k));
      }
    }.bind(this));
  }

  /** The waiter of RX queue q, bound (and its queue claimed) at first use, re-bound after a reconfiguration. */
  private rxWaiter(port: number, q: number): RxWaiter {
    const i = port * MAX_QUEUES + q;
    const rxq = this.rxQueue(port, q);
    const have = this.rxWaiters.get(i);
    if (have && have.q === rxq) return have.w;
    const off = this.queueRing(port, q, 'rx');
    const w = new RxWaiter(rxq, off !== 0 ? Ring.attach(this.eal, off) : undefined, `${this.portObj(port).name} RX queue ${q}`);
    this.rxWaiters.set(i, { q: rxq, w });
    return w;
  }

  /** `opts` with this EthDev's close signal joined to the caller's. */
  private withClose(opts: WaitOptions | undefined): WaitOptions {
    this.closer ??= new AbortController();
    const signal = opts?.signal ? AbortSignal.any([opts.signal, this.closer.signal]) : this.closer.signal;
    return { timeout: opts?.timeout, signal };
  }

  /**
   * rte_eth_tx_burst: send handles[0..r) of n; handles[r..n) stay the caller's.
   *
   * This plain path records nothing, as rxBurst: the mbufs in `handles` are the caller's own,
   * and a process killed while it holds them (inside this call too) leaks them (the audit
   * counts them leaked, never twice). A program that must lose nothing when killed receives
   * and sends through its ownership record instead (Hands.rxSource / txSink, then Hands.rx /
   * tx: exact at every instruction, one store per window). Recording here would not make
   * the caller's own array exact between calls, and costs a copy of every burst into shared
   * memory (+1.1 to 1.9 ns per packet on l2fwd.null.1proc, +1.2 on symmetric.null.1proc).
   */
  txBurst(port: number, q: number, handles: Uint32Array, n: number): number {
    const i = port * MAX_QUEUES + q;
    let b = this.txBound[i];
    if (b === undefined || this.txGen[i] !== this.u32[this.genIdx[port]!]) b = this.txQueue(port, q);
    return b.txBurst(handles, n);
  }

  /**
   * The far side of a started software port (net_ring): `inject` feeds its RX queues,
   * `collect` drains its TX queues. Each side has one player at a time (EBUSY naming it),
   * so one process may feed a port while another drains it (two generators, one per
   * direction); `side` says which this process plays (default both). Calling the side
   * not claimed throws. EINVAL for drivers without a wire.
   */
  wire(port: number, side: WireSide = 'both'): Wire {
    const p = this.portObj(port);
    const gen = p.get(EP.GEN);
    const slot = port * 3 + WIRE_SIDES.indexOf(side);
    const have = this.wires[slot];
    if (have && this.wireGen[slot] === gen) return have;
    if (p.state !== PortState.STARTED) throw new MpdkError('ENODEV', `${p.name} (port ${p.id}) is not started: start it before playing its wire`);
    const d = this.open(p);
    if (!d.wire) throw new MpdkError('EINVAL', `${p.name}: driver ${p.driverName} has no software wire (only net_ring ports do)`);
    const w = d.wire();
    if (side !== 'collect') this.claimEntry(p, p.entry + EP.WIRE_PID, `the inject side of the wire of ${p.name} (port ${p.id})`);
    if (side !== 'inject') {
      try {
        this.claimEntry(p, p.entry + EP.WIRE_COLLECT_PID, `the collect side of the wire of ${p.name} (port ${p.id})`);
      } catch (e) {
        if (side === 'both') this.releaseEntry(p.entry + EP.WIRE_PID);
        throw e;
      }
    }
    const refuse = (what: string) => (): number => {
      throw new MpdkError('EINVAL', `this process plays only the ${side} side of the wire of ${p.name}: it cannot ${what}; ask for dev.wire(${port}, '${what}') or 'both'`);
    };
    const sided: Wire =
      side === 'both'
        ? w
        : side === 'inject'
          ? { inject: w.inject.bind(w), queueOf: w.queueOf.bind(w), injectQueue: w.injectQueue.bind(w), collect: refuse('collect') }
          : { inject: refuse('inject'), queueOf: refuse('inject'), injectQueue: refuse('inject'), collect: w.collect.bind(w) };
    this.wires[slot] = sided;
    this.wireGen[slot] = gen;
    return sided;
  }

  /** Give up this process's claim on the port's software wire (`wire`), so another process may play it. */
  releaseWire(port: number, side: WireSide = 'both'): void {
    const p = this.portObj(port);
    if (side !== 'collect') this.releaseEntry(p.entry + EP.WIRE_PID);
    if (side !== 'inject') this.releaseEntry(p.entry + EP.WIRE_COLLECT_PID);
    this.wires[port * 3 + WIRE_SIDES.indexOf(side)] = undefined;
  }

  /** Give back the ports owned through this object, release every claim this thread holds and close the drivers' per-process state (Eal.close does it too). */
  close(): void {
    this.unhook?.();
    this.unhook = undefined;
    for (const o of [...this.owned]) o.release();
    this.owned.clear();
    for (let port = 0; port < MAX_PORTS; port++) {
      if (!this.ports[port]) continue; // never used here (or detached: nothing of it is held)
      for (let q = 0; q < MAX_QUEUES; q++) {
        if (this.rxBound[port * MAX_QUEUES + q]) this.releaseQueue(port, q, 'rx');
        if (this.txBound[port * MAX_QUEUES + q]) this.releaseQueue(port, q, 'tx');
      }
      for (const side of WIRE_SIDES) if (this.wires[port * 3 + WIRE_SIDES.indexOf(side)]) this.releaseWire(port, side);
      this.opened[port]?.close?.();
      this.opened[port] = undefined;
    }
    instances.delete(this.eal);
    this.rxWaiters.clear();
    const c = this.closer;
    this.closer = undefined;
    c?.abort(new DOMException(`the ports of '${this.eal.filePrefix}' were closed in this thread`, 'AbortError'));
  }

  /** `close()`: `using dev = EthDev.attach(eal)` releases this thread's queues and wires at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  // --- statistics -------------------------------------------------------------------------------

  /** Counters since the last reset, per port and per queue (any process; momentary values). */
  stats(port: number): PortStats {
    return portStats(this.portObj(port));
  }

  /** Zero the port's counters for every reader (moves the base; the owners keep counting). */
  resetStats(port: number): void {
    const p = this.portObj(port);
    const f64 = p.f64;
    this.withLock(() => {
      for (let q = 0; q < MAX_QUEUES; q++) {
        for (const rx of [true, false]) {
          const s = p.statIdx(rx, q);
          const b = (p.queue(rx, q) + EQ.B_PACKETS) >>> 3;
          f64[b] = f64[s + STAT_PACKETS]!;
          f64[b + 1] = f64[s + STAT_OCTETS]!;
          f64[b + 2] = f64[s + STAT_ERRORS]!;
          f64[b + 3] = f64[s + STAT_NOMBUF]!;
          f64[b + 4] = f64[s + STAT_MISSED]!;
        }
      }
    });
  }

  // --- description --------------------------------------------------------------------------------

  /** The port's name, driver, state and queues, for tools. ENODEV for an unknown port. */
  info(port: number): PortInfo {
    return portInfo(this.portObj(port));
  }

  /** Every port of the instance, read-only (works on an observer Eal: `mpdk info`). */
  static describe(eal: Eal): ObjectDescription[] {
    return (portTable(eal) ?? []).map((p) => {
      const { name, ...rest } = portInfo(p);
      return { kind: 'port', name, ...rest, stats: portStats(p) };
    });
  }
}

function ownerAlive(r: Eal['region'], at: number): number {
  const pid = r.i32[at >>> 2]!;
  return pid !== 0 && processAlive(pid, r.f64[(at + 8) >>> 3]!) ? pid : 0;
}

function portStats(p: Port): PortStats {
  const f64 = p.f64;
  const r = p.eal.region;
  const s: PortStats = { ipackets: 0, opackets: 0, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rxNombuf: 0, queues: [] };
  const nq = Math.max(p.nbRx, p.nbTx);
  const val = (rx: boolean, q: number, k: number): number => f64[p.statIdx(rx, q) + k]! - f64[((p.queue(rx, q) + EQ.B_PACKETS) >>> 3) + (k === STAT_MISSED ? 4 : k)]!;
  for (let q = 0; q < MAX_QUEUES; q++) {
    const qs: QueueStats = {
      q, ipackets: val(true, q, STAT_PACKETS), ibytes: val(true, q, STAT_OCTETS), ierrors: val(true, q, STAT_ERRORS), imissed: val(true, q, STAT_MISSED),
      rxNombuf: val(true, q, STAT_NOMBUF), opackets: val(false, q, STAT_PACKETS), obytes: val(false, q, STAT_OCTETS), oerrors: val(false, q, STAT_ERRORS),
      rxOwner: ownerAlive(r, p.queue(true, q) + EQ.OWNER_PID), txOwner: ownerAlive(r, p.queue(false, q) + EQ.OWNER_PID),
    };
    s.ipackets += qs.ipackets;
    s.ibytes += qs.ibytes;
    s.ierrors += qs.ierrors;
    s.imissed += qs.imissed;
    s.rxNombuf += qs.rxNombuf;
    s.opackets += qs.opackets;
    s.obytes += qs.obytes;
    s.oerrors += qs.oerrors;
    if (q < nq) s.queues.push(qs);
  }
  return s;
}

/** The name of the pool whose header is at `off` (an RX queue's), or what stops its reading. */
function poolName(eal: Eal, off: number): string {
  try {
    return Mempool.attachAt(eal, off).name;
  } catch (e) {
    return `(unreadable: ${(e as Error).message})`;
  }
}

function queueInfo(p: Port, rx: boolean, q: number): QueueInfo {
  const r = p.eal.region;
  const e = p.queue(rx, q);
  const poolOff = r.u32At(e + EQ.POOL);
  const pool = rx && poolOff !== 0 ? poolName(p.eal, poolOff) : undefined;
  const owner = r.i32[(e + EQ.OWNER_PID) >>> 2]!;
  return {
    q, setUp: r.u32At(e + EQ.STATE) === 1, nbDesc: r.u32At(e + EQ.NB_DESC), ...(rx ? { pool } : {}),
    owner, ownerLcore: r.i32[(e + EQ.OWNER_LCORE) >>> 2]!, ownerAlive: ownerAlive(r, e + EQ.OWNER_PID) !== 0,
  };
}

function portInfo(p: Port): PortInfo {
  const flags = p.get(EP.FLAGS);
  const mac = p.eal.region.u8;
  return {
    id: p.id, name: p.name, driver: p.driverName, devargs: p.devargs,
    state: (STATE_NAMES[p.state] ?? 'probed') as PortInfo['state'],
    nbRx: p.nbRx, nbTx: p.nbTx, mac: formatMac(mac, p.entry + EP.MAC), promiscuous: (flags & PF_PROMISC) !== 0,
    link: { up: (flags & PF_LINK_UP) !== 0, speedMbps: p.get(EP.LINK_SPEED), duplex: 'full' },
    rss: { on: (flags & PF_RSS) !== 0, symmetric: (flags & PF_RSS_SYMMETRIC) !== 0, hashFunctions: p.get(EP.RSS_HF), retaSize: p.get(EP.RETA_SIZE) },
    wire: ownerAlive(p.eal.region, p.entry + EP.WIRE_PID) || ownerAlive(p.eal.region, p.entry + EP.WIRE_COLLECT_PID),
    rxq: Array.from({ length: p.nbRx }, (_, q) => queueInfo(p, true, q)),
    txq: Array.from({ length: p.nbTx }, (_, q) => queueInfo(p, false, q)),
  };
}

registerDescriber('port', (eal) => {
  try {
    return EthDev.describe(eal);
  } catch (e) {
    return [{ kind: 'port', name: ETHDEV_MZ, error: (e as Error).message }];
  }
});
