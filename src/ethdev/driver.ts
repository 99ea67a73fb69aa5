/**
 * The driver interface of the ports layer (DPDK's PMD ops, cut to what a software port
 * needs) and the per-process view of one port's shared entry that drivers work through.
 * A driver is one module (src/drivers/net/<name>.ts) exporting a `NetDriver`; the registry
 * (registry.ts) maps names to drivers, and src/drivers/net/index.ts lists the built-in ones.
 * A driver answers for its own queues (queueRing): no code above the drivers names one.
 *
 *   who calls what                                  where it runs
 *   probe(port, args, vdevs)                        the primary, once, at EthDev.attach:
 *                                                   check devargs, fill port.drv words / MAC
 *   rxQueueSetup / txQueueSetup(port, q, nbDesc)    the configuring process, port stopped:
 *                                                   create shared resources (rings), record
 *                                                   their offsets in the queue's DRV words
 *   start / stop(port)                              the configuring process
 *   open(port) -> DriverPort                        each process that uses the port, once
 *   DriverPort.rxQueue(q, pool) / txQueue(q)        each process, once per queue it binds
 *   RxQueue.rxBurst / TxQueue.txBurst               the queue's owner, per burst (hot path)
 *   RxQueue.intrArm / intrDisarm (optional)         the queue's owner, when its loop idles
 *                                                   (IdlePolicy, eal/idle.ts): interrupt mode
 *   DriverPort.wire?()                              the process playing the wire (tests, pktgen)
 *   queueRing?(port, rx, q)                         anyone, read-only (ownership records, the
 *                                                   audit, crash recovery: table.ts)
 *
 * Hot-path contract for RxQueue.rxBurst(handles, n) / TxQueue.txBurst(handles, n):
 *   - move up to n packets; return how many; allocate nothing; no try/catch; no Atomics
 *     beyond the ring's one per side per burst;
 *   - rxBurst writes mbuf handles to handles[0..r); every mbuf is the caller's;
 *   - rxBurst(handles, n, rec): a driver that takes the burst's mbufs from its pool takes
 *     exactly those it fills in ONE get passing `rec` (an ownership record's get record,
 *     hands.ts: the get is then recorded, so a death anywhere in the burst leaks nothing):
 *     Mempool.zcGet then zcGetCommit(filled), or a getBulk / allocBulk of a count worked out
 *     first, straight into handles (heads first, then chains' segments); it gives none back
 *     (a put between the get and the record's commit would leak the burst);
 *   - txBurst takes handles[0..r) (they become the driver's: sent, queued or freed);
 *     handles[r..n) stay the caller's (it frees or retries them), as DPDK. A queue with no
 *     ring behind it (queueRing 0) that does not lend frees handles[0..r) with ONE
 *     Mbufs.freeBulk, its last touch of them, and keeps none: an ownership record's send
 *     (Hands.tx) is then that free's window (hands.ts), exact wherever the sender dies;
 *   - count the burst into the queue's owner stats line once per burst:
 *       f64[port.statIdx(rx, q) + STAT_PACKETS] += r; f64[... + STAT_OCTETS] += bytes
 *     (TX: f64[... + STAT_ERRORS] += n - r when some were not taken; RX: NOMBUF when
 *     the pool ran dry). Only the owner writes that line.
 *   - the ethdev layer checks port state, queue id and ownership ONCE, when it binds the
 *     queue; the burst functions check nothing.
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import type { WakeSource } from '../eal/idle.js';
import type { PktmbufPool } from '../mbuf/mbuf.js';
import { Mbufs } from '../mbuf/mbuf.js';
import { ToeplitzTable } from '../net/rss.js';
import { EP, EQ, entryAt, MAX_QUEUES, PF_LINK_UP, PF_RSS } from './layout.js';

/** f64 offsets (in f64 units) within a queue's stats, from `Port.statIdx`. */
export const STAT_PACKETS = 0;
/** f64 index, from `Port.statIdx`, of a queue's byte count. */
export const STAT_OCTETS = 1;
/** f64 index, from `Port.statIdx`, of a queue's error count. */
export const STAT_ERRORS = 2;
/** f64 index, from `Port.statIdx`, of a queue's count of RX failures for want of an mbuf. */
export const STAT_NOMBUF = 3;
/** From statIdx to the feeder line's MISSED. */
export const STAT_MISSED = (EQ.MISSED - EQ.PACKETS) / 8;

/**
 * An RX queue. Interrupt mode is optional (WakeSource, eal/idle.ts): a driver whose
 * producer can signal a descriptor (memif: the ring's eventfd) implements intrArm /
 * intrDisarm; without them an idle loop sleeps a short fixed time instead.
 */
export interface RxQueue extends WakeSource {
  /**
   * Receive up to n packets into handles[0..r); returns r. Hot path. `rec` (optional): the
   * u32 index of the ownership record word to pass to the one pool get of the burst.
   */
  rxBurst(handles: Uint32Array, n: number, rec?: number): number;
}

/** A driver's TX queue in this process: the transmit hot path. */
export interface TxQueue {
  /**
   * Send handles[0..r) of n; handles[r..n) stay the caller's. Hot path. `rec` (optional,
   * queues that `lends`): the u32 index of the ownership record's SNAP word, in which the
   * queue names its lent record (lent.ts take) before it lends any of the burst.
   */
  txBurst(handles: Uint32Array, n: number, rec?: number): number;
  /** The queue lends what it sends to its peer, recorded (net_memif zero-copy: lent.ts). */
  readonly lends?: boolean;
}

/**
 * The far side of a software port, for whoever plays the network (pktgen, a test):
 * `inject` puts packets where the port receives them (RSS picks the RX queue; the hash
 * is stored in the mbuf); `collect` takes what the port transmitted (all TX queues, fairly).
 * inject returns r: handles[r..n) then hold the packets NOT taken (still the caller's; with
 * RSS on, grouped by queue rather than in their original order). Who counts them is the
 * driver's to say (net_ring: the sender, as DPDK's net_ring does; the port counts nothing).
 */
export interface Wire {
  /**
   * Put handles[0..n) where the port receives them; returns how many were taken (the rest stay
   * the caller's, at handles[r..n)). A port of one RX queue takes a prefix in one enqueue and
   * only reads the array; with several (RSS), what full queues refused is moved to the end of
   * the array, rewritten meanwhile: an ownership record sends to such a port per queue
   * (`WireSend`: queueOf, Hands.group, injectQueue).
   */
  inject(handles: Uint32Array, n: number): number;
  /** The RX queue `inject` would put this packet in (RSS; 0 without it). Reads the packet, changes nothing. */
  queueOf(handle: number): number;
  /**
   * Put handles[0..n) into RX queue q alone, in one enqueue: what it takes is a prefix
   * handles[0..r) (the rest stay the caller's, in place). EINVAL for a queue the port lacks.
   */
  injectQueue(q: number, handles: Uint32Array, n: number): number;
  /** Take up to n packets the port transmitted into handles; returns how many (now the caller's). */
  collect(handles: Uint32Array, n: number): number;
}

/**
 * A driver's side of one port in one process (`NetDriver.open`): makes the queue objects the hot paths call.
 */
export interface DriverPort {
  /** This process's object for RX queue q, receiving into mbufs of `pool`. */
  rxQueue(q: number, pool: PktmbufPool): RxQueue;
  /** This process's object for TX queue q. */
  txQueue(q: number): TxQueue;
  /** Only drivers whose far side is software (net_ring). */
  wire?(): Wire;
  /** The process is done with the port (close files, flush). */
  close?(): void;
}

/** What probe learns about every port being probed (in port order). */
export interface VdevInfo {
  /** The port number it became. */
  port: number;
  /** The vdev's name (`net_ring0`). */
  name: string;
  /** Its driver's name (`net_ring`). */
  driver: string;
  /** Its parsed devargs. */
  args: Devargs;
}

/**
 * A network driver (a vdev kind such as `net_ring`), registered with `registerDriver`: checks devargs, sets ports up, opens them in each process.
 */
export interface NetDriver {
  /** Driver name: vdev `net_ring0` → driver `net_ring`. */
  readonly name: string;
  /** Valid devargs keys, each with a one-line description (for errors and --help). */
  readonly args: Readonly<Record<string, string>>;
  /**
   * Check what can be checked of the devargs' values without opening anything (ranges,
   * choices, keys that must come together): EINVAL naming the problem. The programs call it
   * when they parse their command line (ethdev/vdev-check.ts), so such a mistake is refused
   * before the instance is touched; probe checks the same values again (one function serves both).
   * `vdevs`: every vdev of that command line, as probe would see them (port ids in their
   * order), for checks between ports; absent for one port attached alone (`mpdk port attach`).
   */
  checkArgs?(vdev: string, args: Devargs, vdevs?: readonly VdevInfo[]): void;
  /** Primary, once per port. Validate `args` (EINVAL naming the problem); fill drv words. */
  probe(port: Port, args: Devargs, vdevs: readonly VdevInfo[]): void;
  /** Configuring process: set up RX queue q with nbDesc descriptors (the port is stopped). */
  rxQueueSetup?(port: Port, q: number, nbDesc: number): void;
  /** Configuring process: set up TX queue q with nbDesc descriptors (the port is stopped). */
  txQueueSetup?(port: Port, q: number, nbDesc: number): void;
  /** Configuring process: the port starts (open files, sockets, raise the link). */
  start?(port: Port): void;
  /** Configuring process: the port stops. */
  stop?(port: Port): void;
  /** Each process that uses the port, once: its side of the port. */
  open(port: Port): DriverPort;
  /**
   * The driver sets and clears the port's link bit (Port.setLinkUp) itself: when its peer
   * comes and goes (net_memif), or from the device's carrier (net_af_packet); ethdev's
   * start then leaves the link as the driver's start set it. Without it the link is up
   * from start to stop.
   */
  readonly ownsLink?: boolean;
  /**
   * Refresh the link bit and speed from the device (DPDK's link_update), in the process
   * that asks: EthDev.linkStatus calls it on a started port. For drivers whose link state
   * lives outside the region (a kernel interface's carrier).
   */
  linkUpdate?(port: Port): void;
  /**
   * The ring in the region behind queue q (its region offset; 0 = none), for whoever must
   * account for the packets a queue holds without knowing the driver: ownership records
   * (a burst on a ring is exact at any instruction), the audit (what the ring holds is in
   * the port's queues) and crash recovery (a dead owner's half-done burst is rolled back).
   * Read-only and callable in any process, a read-only observer included. Drivers whose
   * queues are not rings of the region (net_null, net_pcap, net_af_packet, net_memif) leave
   * it out: their in-flight packets are then not seen (a death inside a burst leaks it,
   * never duplicates it).
   */
  queueRing?(port: Port, rx: boolean, q: number): number;
  /**
   * Free what probe and queue setup made in the region for this port (its memzones, its
   * rings and the mbufs in them), when it is detached (ethdev/hotplug.ts) or an attach is
   * undone: the port is stopped and no process uses its queues. It may run after a crash
   * half way through an earlier call: what is already gone is skipped. A driver with this
   * can be attached and detached while the instance runs; one without cannot.
   */
  remove?(port: Port): void;
}

/** Parsed `key=value,...` devargs of one vdev. */
export class Devargs {
  /** The devargs as given (`iface=veth0,qdisc_bypass=1`). */
  readonly text: string;
  /** Each key's value. */
  readonly map: ReadonlyMap<string, string>;

  constructor(text: string, map: Map<string, string>) {
    this.text = text;
    this.map = map;
  }

  /** Whether the devargs give `key`. */
  has(key: string): boolean {
    return this.map.has(key);
  }

  /** The value of `key`, else `dflt`. */
  str(key: string, dflt?: string): string | undefined {
    return this.map.get(key) ?? dflt;
  }

  /** An integer argument in [min, max]; EINVAL naming the vdev otherwise. */
  int(vdev: string, key: string, dflt: number, min: number, max: number): number {
    const s = this.map.get(key);
    if (s === undefined) return dflt;
    const v = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new MpdkError('EINVAL', `--vdev ${vdev}: ${key}=${s} is not an integer from ${min} to ${max}`);
    }
    return v;
  }
}

/**
 * Split a --vdev spec `net_null0,size=64` into the port name, the driver name (the name
 * without its trailing digits, as DPDK matches vdev drivers) and its devargs.
 * EINVAL for an empty name, a key without `=`, a duplicate key, or a key the driver does
 * not know (the message lists the valid ones).
 */
export function parseVdev(spec: string, validKeys?: Readonly<Record<string, string>>, driverName?: string): {
  /** The device's name (`net_ring0`). */
  name: string;
  /** Its driver's name: the name less its trailing digits (`net_ring`). */
  driver: string;
  /** Its key=value arguments. */
  args: Devargs;
} {
  const s = String(spec).trim();
  const comma = s.indexOf(',');
  const name = comma < 0 ? s : s.slice(0, comma);
  const rest = comma < 0 ? '' : s.slice(comma + 1);
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name) || name.length >= EP.NAME_MAX) {
    throw new MpdkError('EINVAL', `--vdev '${s}': the device name '${name}' must be letters, digits and '_' (at most ${EP.NAME_MAX - 1}), e.g. net_ring0`);
  }
  if (Buffer.byteLength(rest) >= EP.DEVARGS_MAX) {
    throw new MpdkError('EINVAL', `--vdev '${name}': its arguments are longer than ${EP.DEVARGS_MAX - 1} bytes`);
  }
  const driver = driverName ?? name.replace(/\d+$/, '');
  const map = new Map<string, string>();
  if (rest !== '') {
    for (const kv of rest.split(',')) {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      if (eq <= 0) throw new MpdkError('EINVAL', `--vdev ${name}: argument '${kv}' is not key=value`);
      if (map.has(key)) throw new MpdkError('EINVAL', `--vdev ${name}: argument '${key}' is given twice`);
      if (validKeys && !Object.prototype.hasOwnProperty.call(validKeys, key)) {
        const valid = Object.keys(validKeys);
        throw new MpdkError('EINVAL', `--vdev ${name}: unknown argument '${key}' for driver ${driver}; valid: ${valid.length ? valid.map((k) => `${k} (${validKeys[k]})`).join(', ') : 'none'}`);
      }
      map.set(key, kv.slice(eq + 1));
    }
  }
  return { name, driver, args: new Devargs(rest, map) };
}

/**
 * One port as one process (thread) sees it: byte offsets of its shared entry and typed
 * views, plus process-local RSS tables. Drivers read and write the shared entry through
 * this object; EthDev makes one per port per Eal.
 */
export class Port {
  /** The Eal this port object was made with. */
  readonly eal: Eal;
  /** The port number. */
  readonly id: number;
  /** Region offset of the port entry. */
  readonly entry: number;
  /** Region offset of the ETHDEV_DATA header (the lock lives there). */
  readonly header: number;
  /** The vdev's name. */
  readonly name: string;
  /** The driver's name. */
  readonly driverName: string;
  /** The vdev's arguments as given. */
  readonly devargs: string;
  /** u32 view over the region (the port entry's fields). */
  readonly u32: Uint32Array;
  /** i32 view over the region. */
  readonly i32: Int32Array;
  /** f64 view over the region (the queues' statistics). */
  readonly f64: Float64Array;
  private rssTable: ToeplitzTable | undefined;
  private rssKeyGen = -1;
  /** RETA over the shared entry (u16 view), for steering. */
  readonly reta: Uint16Array;

  constructor(eal: Eal, header: number, id: number) {
    const r = eal.region;
    this.eal = eal;
    this.header = header;
    this.id = id;
    this.entry = entryAt(header, id); // the table's stride was checked equal to EP_STRIDE (table.ts)
    this.u32 = r.u32;
    this.i32 = r.i32;
    this.f64 = r.f64;
    this.name = r.readString(this.entry + EP.NAME, EP.NAME_MAX);
    this.driverName = r.readString(this.entry + EP.DRIVER, 32);
    this.devargs = r.readString(this.entry + EP.DEVARGS, EP.DEVARGS_MAX);
    this.reta = new Uint16Array(r.buffer, this.entry + EP.RETA, 512);
  }

  /** A u32 field of the port entry (EP.*). */
  get(field: number): number {
    return this.u32[(this.entry + field) >>> 2]!;
  }

  /** Write a u32 field of the port entry (EP.*): the configuring process, under the port lock. */
  set(field: number, v: number): void {
    this.u32[(this.entry + field) >>> 2] = v;
  }

  /**
   * Raise or clear the link bit (atomic: EP.FLAGS is shared with promiscuous and RSS bits);
   * a change is published as a link-up / link-down event (eal/events.ts) by whoever makes it.
   */
  setLinkUp(up: boolean): void {
    const at = (this.entry + EP.FLAGS) >>> 2;
    if (((Atomics.load(this.u32, at) & PF_LINK_UP) !== 0) === up) return; // no write: the line is read per burst (EP.GEN)
    const was = (up ? Atomics.or(this.u32, at, PF_LINK_UP) : Atomics.and(this.u32, at, ~PF_LINK_UP)) & PF_LINK_UP;
    if ((was !== 0) !== up) this.eal.events.publish(up ? 'link-up' : 'link-down', { port: this.id, text: `${this.name} (port ${this.id}) link ${up ? 'up' : 'down'}` });
  }

  /** The port's state (PortState), loaded with acquire ordering. */
  get state(): number {
    return this.eal.region.loadAcquire(this.entry + EP.STATE);
  }

  /** RX queues configured. */
  get nbRx(): number {
    return this.get(EP.NB_RXQ);
  }

  /** TX queues configured. */
  get nbTx(): number {
    return this.get(EP.NB_TXQ);
  }

  /** Driver word i (0..15) of the port (written by probe). */
  drv(i: number): number {
    return this.u32[((this.entry + EP.DRV) >>> 2) + i]!;
  }

  /** Write driver word i (0..15) of the port (the driver's own state). */
  setDrv(i: number, v: number): void {
    this.u32[((this.entry + EP.DRV) >>> 2) + i] = v;
  }

  /** Region offset of RX (rx = true) or TX queue q's entry. */
  queue(rx: boolean, q: number): number {
    return this.entry + EP.RXQ + ((rx ? 0 : MAX_QUEUES) + q) * EQ.BYTES;
  }

  /** Driver word i (0..3) of queue q. */
  qDrv(rx: boolean, q: number, i: number): number {
    return this.u32[((this.queue(rx, q) + EQ.DRV0) >>> 2) + i]!;
  }

  /** Write driver word i (0..3) of queue q. */
  setQDrv(rx: boolean, q: number, i: number, v: number): void {
    this.u32[((this.queue(rx, q) + EQ.DRV0) >>> 2) + i] = v;
  }

  /** u32 index (into `u32`) of driver word i of queue q: for a queue's owner that stores it once per burst. */
  qDrvIndex(rx: boolean, q: number, i: number): number {
    return ((this.queue(rx, q) + EQ.DRV0) >>> 2) + i;
  }

  /** f64 index of queue q's PACKETS counter; add STAT_* for the others. */
  statIdx(rx: boolean, q: number): number {
    return (this.queue(rx, q) + EQ.PACKETS) >>> 3;
  }

  /** A copy of the port's MAC address (6 bytes). */
  mac(): Uint8Array {
    return this.eal.region.u8.slice(this.entry + EP.MAC, this.entry + EP.MAC + 6);
  }

  /** Write the port's MAC address (its first 6 bytes). */
  setMac(mac: Uint8Array): void {
    this.eal.region.u8.set(mac.subarray(0, 6), this.entry + EP.MAC);
  }

  /** Is RSS steering on (the wire spreads packets over the RX queues)? */
  get rssOn(): boolean {
    return (this.get(EP.FLAGS) & PF_RSS) !== 0;
  }

  /**
   * The Toeplitz table of the port's current key and hash types (built in this process
   * on first use and after a reconfigure; 36 KiB, a few ms). Off the hot path.
   */
  rss(): ToeplitzTable {
    const gen = this.get(EP.GEN);
    if (!this.rssTable || this.rssKeyGen !== gen) {
      const key = this.eal.region.u8.slice(this.entry + EP.RSS_KEY, this.entry + EP.RSS_KEY + 40);
      this.rssTable = new ToeplitzTable(key, this.get(EP.RSS_HF));
      this.rssKeyGen = gen;
    }
    return this.rssTable;
  }

  /** RETA mask (size − 1). */
  get retaMask(): number {
    return this.get(EP.RETA_SIZE) - 1;
  }
}

/**
 * RSS where packets ENTER a software port: hash the frame as a NIC with the port's key
 * would, store the hash in the mbuf (HASH_RSS + RX_RSS_HASH flag), and return the RX queue
 * from the RETA. Build one per wire (per process); `queueOf` allocates nothing.
 */
export class RssSteer {
  private readonly table: ToeplitzTable;
  private readonly reta: Uint16Array;
  private readonly mask: number;
  private readonly nbRx: number;
  private readonly u8: Uint8Array;
  private readonly mbufs: Mbufs;

  constructor(port: Port) {
    this.table = port.rss();
    this.reta = port.reta;
    this.mask = port.retaMask;
    this.nbRx = port.nbRx;
    this.u8 = port.eal.region.u8;
    this.mbufs = new Mbufs(port.eal);
  }

  /** Hash mbuf h, record the hash in it, return its RX queue. */
  queueOf(h: number): number {
    const mbufs = this.mbufs;
    const hash = this.table.hashPacket(this.u8, mbufs.dataOffset(h), mbufs.dataLen(h));
    mbufs.setRxRssHash(h, hash);
    const q = this.reta[hash & this.mask]!;
    return q < this.nbRx ? q : q % this.nbRx;
  }
}
