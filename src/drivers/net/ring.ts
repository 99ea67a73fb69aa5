/**
 * net_ring: ports whose queues are shared-memory rings (DPDK's net_ring), so a whole
 * pipeline runs in software across processes.
 *
 *   --vdev net_ring0              a port with its own "wire" (see below)
 *   --vdev net_ring0,peer=1       ports 0 and 1 wired back to back: what one transmits on
 *                                 TX queue q the other receives on RX queue q (one ring).
 *                                 Declaring it on one side is enough; both sides may
 *                                 declare it if they agree.
 *
 * Rings (memzones "RG_<name>", SP/SC, RING_F_EXACT_SZ of nbDesc: a queue of nbDesc
 * descriptors holds exactly nbDesc packets), created by queue setup, their region offsets
 * kept in the queue entries' DRV0 word:
 *
 *   port P, RX queue q   ring "ETH<P>_RX<q>"        producer: P's wire    consumer: RX q's owner
 *                        or "ETH<peer>_TX<q>"       producer: peer's TX q owner (peered ports)
 *   port P, TX queue q   ring "ETH<P>_TX<q>"        producer: TX q's owner
 *                                                   consumer: P's wire, or the peer's RX q owner
 *
 * Each ring has exactly one producer and one consumer process at a time (queue claims and
 * the wire claim in ethdev.ts make sure), hence SP/SC: one Atomics op per side per burst.
 * Interrupt mode (IdlePolicy): an RX queue arms its ring's not-empty doorbell, so an idle
 * loop over several queues sleeps on all of them at once and wakes at the next enqueue.
 * Peered ports need the same queue counts (one side's RX = the other's TX); start checks
 * it. A ring that a reconfigure resizes (not peered) is drained (its mbufs freed) and
 * re-created; a peered ring is kept as the first setup sized it.
 *
 * The wire (dev.wire(port), for pktgen or a test): `inject` runs RSS over each packet (when
 * the port's RSS is on), stores the hash in the mbuf, sets its port, and enqueues into the
 * chosen RX queue's ring; what a full ring refuses stays the caller's. `collect` drains the
 * TX rings, starting one queue further each call.
 *
 * Counters, as DPDK's net_ring keeps them: a ring that is full is the SENDER's to count.
 * TX q counts in oerrors what its ring did not take (the application frees or retries
 * them); the receiving side counts nothing (imissed stays 0: nothing was lost on the way
 * in, the sender still holds the packets). The wire is a sender with no port of its own:
 * its caller (pktgen) sees what inject did not take and retries or counts it.
 */
import { MpdkError } from '../../eal/errors.js';
import type { FutexSet } from '../../eal/idle.js';
import { Devargs, Port, RssSteer, STAT_ERRORS, STAT_OCTETS, STAT_PACKETS, type DriverPort, type NetDriver, type RxQueue, type TxQueue, type VdevInfo, type Wire } from '../../ethdev/driver.js';
import { MAX_PORTS, MAX_QUEUES, PortState } from '../../ethdev/layout.js';
import { Mbufs } from '../../mbuf/mbuf.js';
import { Ring } from '../../ring/ring.js';

/** Every queue ring: one producer, one consumer, exactly nbDesc slots. */
const QUEUE_RING = { singleProducer: true, singleConsumer: true, exactSize: true } as const;
/** Port DRV word 0: peer port id + 1 (0 = no peer). */
const DRV_PEER = 0;
/** Packets the wire steers per round (per-queue staging arrays of this size). */
const CHUNK = 256;

function peerOf(port: Port): number {
  return port.drv(DRV_PEER) - 1;
}

function rxRingName(port: Port, q: number): string {
  const peer = peerOf(port);
  return peer >= 0 ? `ETH${peer}_TX${q}` : `ETH${port.id}_RX${q}`;
}

function txRingName(port: Port, q: number): string {
  return `ETH${port.id}_TX${q}`;
}

/** Free ring `ring` and the mbufs in it (nobody uses it any more). */
function dropRing(port: Port, ring: Ring): void {
  const mbufs = new Mbufs(port.eal);
  const buf = new Uint32Array(256);
  for (let k = ring.dequeueBurst(buf, buf.length); k > 0; k = ring.dequeueBurst(buf, buf.length)) mbufs.freeBulk(buf, k);
  ring.free();
}

/** Find or create the ring `name` of nbDesc entries (see the header for resizing). */
function setupRing(port: Port, name: string, nbDesc: number, keep: boolean): Ring {
  const eal = port.eal;
  let ring = Ring.tryLookup(eal, name);
  if (ring && !keep && ring.capacity !== nbDesc) {
    dropRing(port, ring);
    ring = undefined;
  }
  return ring ?? Ring.create(eal, name, { count: nbDesc, ...QUEUE_RING });
}

class RingRx implements RxQueue {
  private readonly ring: Ring;
  private readonly mbufs: Mbufs;
  private readonly f64: Float64Array;
  private readonly st: number;

  constructor(port: Port, q: number) {
    this.ring = Ring.attach(port.eal, port.qDrv(true, q, 0));
    this.mbufs = new Mbufs(port.eal);
    this.f64 = port.f64;
    this.st = port.statIdx(true, q);
  }

  /** Interrupt mode (IdlePolicy): the RX ring's not-empty doorbell. */
  intrArm(bells?: FutexSet): number {
    return this.ring.intrArm(bells);
  }

  intrDisarm(): void {
    this.ring.intrDisarm();
  }

  rxBurst(handles: Uint32Array, n: number): number {
    const r = this.ring.dequeueBurst(handles, n);
    if (r === 0) return 0;
    const bytes = this.mbufs.pktLenSum(handles, r);
    const f64 = this.f64;
    const st = this.st;
    f64[st + STAT_PACKETS] += r;
    f64[st + STAT_OCTETS] += bytes;
    return r;
  }
}

class RingTx implements TxQueue {
  private readonly ring: Ring;
  private readonly mbufs: Mbufs;
  private readonly f64: Float64Array;
  private readonly st: number;

  constructor(port: Port, q: number) {
    this.ring = Ring.attach(port.eal, port.qDrv(false, q, 0));
    this.mbufs = new Mbufs(port.eal);
    this.f64 = port.f64;
    this.st = port.statIdx(false, q);
  }

  txBurst(handles: Uint32Array, n: number): number {
    const r = this.ring.enqueueBurst(handles, n);
    const f64 = this.f64;
    const st = this.st;
    if (r < n) f64[st + STAT_ERRORS] += n - r;
    if (r === 0) return 0;
    f64[st + STAT_PACKETS] += r;
    f64[st + STAT_OCTETS] += this.mbufs.pktLenSum(handles, r);
    return r;
  }
}

class RingWire implements Wire {
  private readonly id: number;
  private readonly rx: Ring[];
  private readonly tx: Ring[];
  private readonly steer: RssSteer | null;
  private readonly mbufs: Mbufs;
  private readonly parts: Uint32Array[];
  private readonly cnt: Int32Array;
  private scratch = new Uint32Array(64);
  private next = 0;

  constructor(port: Port) {
    const eal = port.eal;
    this.id = port.id;
    this.rx = [];
    this.tx = [];
    for (let q = 0; q < port.nbRx; q++) this.rx.push(Ring.attach(eal, port.qDrv(true, q, 0)));
    for (let q = 0; q < port.nbTx; q++) this.tx.push(Ring.attach(eal, port.qDrv(false, q, 0)));
    this.steer = port.rssOn ? new RssSteer(port) : null;
    this.mbufs = new Mbufs(eal);
    this.parts = this.rx.map(() => new Uint32Array(CHUNK));
    this.cnt = new Int32Array(this.rx.length);
  }

  /**
   * One RX queue (RSS on or off): handles[0..n) go into its ring in one enqueue, which takes a
   * prefix; the caller's array is only read (an ownership record's window naming that ring is
   * exact, as for injectQueue). Several RX queues: each chunk's frames are gathered per queue
   * and enqueued, and those a full queue refused are moved to the end of the caller's array,
   * which is rewritten meanwhile; an ownership record sends to such a port per queue instead
   * (queueOf, Hands.group, injectQueue).
   */
  inject(handles: Uint32Array, n: number): number {
    const mbufs = this.mbufs;
    const id = this.id;
    const steer = this.steer;
    const parts = this.parts;
    const cnt = this.cnt;
    const nq = cnt.length;
    if (steer === null || nq === 1) {
      for (let i = 0; i < n; i++) {
        const h = handles[i]!;
        mbufs.setPort(h, id);
        if (steer !== null) steer.queueOf(h); // records the hash
      }
      return this.rx[0]!.enqueueBurst(handles, n);
    }
    let nt = 0; // packets not taken, gathered at handles[0..nt): nt never passes the read position
    for (let c = 0; c < n; c += CHUNK) {
      const end = c + CHUNK < n ? c + CHUNK : n;
      for (let q = 0; q < nq; q++) cnt[q] = 0;
      for (let i = c; i < end; i++) {
        const h = handles[i]!;
        mbufs.setPort(h, id);
        const q = steer.queueOf(h);
        parts[q]![cnt[q]!++] = h;
      }
      for (let q = 0; q < nq; q++) {
        const k = cnt[q]!;
        if (k === 0) continue;
        const part = parts[q]!;
        const r = this.rx[q]!.enqueueBurst(part, k);
        for (let j = r; j < k; j++) handles[nt++] = part[j]!;
      }
    }
    if (nt > 0) handles.copyWithin(n - nt, 0, nt);
    return n - nt;
  }

  queueOf(handle: number): number {
    return this.steer === null ? 0 : this.steer.queueOf(handle);
  }

  injectQueue(q: number, handles: Uint32Array, n: number): number {
    const ring = this.rx[q];
    if (ring === undefined) throw new MpdkError('EINVAL', `port ${this.id} has ${this.rx.length} RX queues; no queue ${q}`);
    const mbufs = this.mbufs;
    const id = this.id;
    for (let i = 0; i < n; i++) mbufs.setPort(handles[i]!, id);
    return ring.enqueueBurst(handles, n);
  }

  collect(handles: Uint32Array, n: number): number {
    const tx = this.tx;
    const nq = tx.length;
    if (nq === 1) return tx[0]!.dequeueBurst(handles, n);
    const start = this.next;
    this.next = start + 1 === nq ? 0 : start + 1;
    let k = 0;
    for (let i = 0; i < nq && k < n; i++) {
      const q = start + i < nq ? start + i : start + i - nq;
      if (k === 0) {
        k = tx[q]!.dequeueBurst(handles, n);
        continue;
      }
      if (this.scratch.length < n) this.scratch = new Uint32Array(n);
      const s = this.scratch;
      const r = tx[q]!.dequeueBurst(s, n - k);
      for (let j = 0; j < r; j++) handles[k + j] = s[j]!;
      k += r;
    }
    return k;
  }
}

class RingPort implements DriverPort {
  constructor(private readonly port: Port) {}

  rxQueue(q: number): RxQueue {
    return new RingRx(this.port, q);
  }

  txQueue(q: number): TxQueue {
    return new RingTx(this.port, q);
  }

  wire(): Wire {
    const peer = peerOf(this.port);
    if (peer >= 0) {
      throw new MpdkError('EINVAL', `${this.port.name} is wired back to back with port ${peer} (peer): it receives what port ${peer} transmits and has no wire of its own; use the ports' queues`);
    }
    return new RingWire(this.port);
  }
}

/**
 * The peer of port `id` (vdev `name`) among `vdevs` (every port, in port order), or -1: its
 * own `peer=`, or the port that names it as its peer. EINVAL for a peer out of range, itself,
 * not a net_ring port, or two ports claiming it.
 */
function peerAmong(name: string, id: number, args: Devargs, vdevs: readonly VdevInfo[]): number {
  let peer = args.has('peer') ? args.int(name, 'peer', -1, 0, vdevs.length - 1) : -1;
  // A port named as peer by another one is that one's peer too.
  for (const v of vdevs) {
    if (v.port === id || v.driver !== 'net_ring' || !v.args.has('peer')) continue;
    if (Number(v.args.str('peer')) !== id) continue;
    if (peer >= 0 && peer !== v.port) {
      throw new MpdkError('EINVAL', `--vdev ${name}: peer=${peer}, but port ${v.port} (${v.name}) also names it as its peer; a port has one peer`);
    }
    peer = v.port;
  }
  if (peer === id) throw new MpdkError('EINVAL', `--vdev ${name}: peer=${peer} is the port itself`);
  if (peer >= 0 && vdevs[peer]!.driver !== 'net_ring') {
    throw new MpdkError('EINVAL', `--vdev ${name}: peer=${peer} is ${vdevs[peer]!.name}, not a net_ring port`);
  }
  return peer;
}

export const netRing: NetDriver = {
  name: 'net_ring',
  args: { peer: 'port id of another net_ring port wired back to back with this one' },

  checkArgs(vdev: string, args: Devargs, vdevs?: readonly VdevInfo[]): void {
    const me = vdevs?.find((v) => v.name === vdev);
    if (vdevs && me) peerAmong(vdev, me.port, args, vdevs);
    else args.int(vdev, 'peer', -1, 0, MAX_PORTS - 1);
  },

  probe(port: Port, args: Devargs, vdevs: readonly VdevInfo[]): void {
    port.setDrv(DRV_PEER, peerAmong(port.name, port.id, args, vdevs) + 1);
  },

  rxQueueSetup(port: Port, q: number, nbDesc: number): void {
    const ring = setupRing(port, rxRingName(port, q), nbDesc, peerOf(port) >= 0);
    port.setQDrv(true, q, 0, ring.offset);
  },

  txQueueSetup(port: Port, q: number, nbDesc: number): void {
    const ring = setupRing(port, txRingName(port, q), nbDesc, peerOf(port) >= 0);
    port.setQDrv(false, q, 0, ring.offset);
  },

  start(port: Port): void {
    const peer = peerOf(port);
    if (peer < 0) return;
    const p = new Port(port.eal, port.header, peer);
    if (p.state < PortState.CONFIGURED) return; // checked again when the peer starts
    if (p.nbTx !== port.nbRx || p.nbRx !== port.nbTx) {
      throw new MpdkError('EINVAL', `${port.name} (${port.nbRx} RX / ${port.nbTx} TX queues) is wired to ${p.name} (${p.nbRx} RX / ${p.nbTx} TX): peered ports need one side's RX queue count equal to the other's TX count`);
    }
  },

  open(port: Port): DriverPort {
    return new RingPort(port);
  },

  queueRing(port: Port, rx: boolean, q: number): number {
    return port.qDrv(rx, q, 0);
  },

  /**
   * Detached: its rings go, with the mbufs in them. A peered port's TX rings are its live
   * peer's RX rings: they stay while the peer is there; its RX rings are the peer's TX
   * rings, left by the peer's own removal while this port was there: they go with the last
   * of the two (unless the peer's id was taken since by another port: they are its now).
   */
  remove(port: Port): void {
    const peer = peerOf(port);
    const other = peer >= 0 ? new Port(port.eal, port.header, peer) : undefined;
    const peerThere = other !== undefined && other.state !== PortState.UNUSED && other.driverName === 'net_ring' && peerOf(other) === port.id;
    const peerGone = other !== undefined && other.state === PortState.UNUSED;
    for (let q = 0; q < MAX_QUEUES; q++) {
      const names = peerThere ? [`ETH${port.id}_RX${q}`] : [`ETH${port.id}_RX${q}`, txRingName(port, q)];
      if (peerGone) names.push(rxRingName(port, q));
      for (const name of names) {
        const ring = Ring.tryLookup(port.eal, name);
        if (ring) dropRing(port, ring);
      }
    }
  },
};
