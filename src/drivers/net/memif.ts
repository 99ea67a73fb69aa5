/**
 * net_memif: a port that is one end of a memif interface (DPDK's net_memif, libmemif,
 * VPP's memif plugin), so an mpdk program exchanges packets with them through shared
 * memory. DPDK's devargs and defaults:
 *
 *   --vdev=net_memif0,role=client|server,socket=/run/memif.sock,socket-abstract=yes|no,
 *          id=0,secret=S,bsize=2048,rsize=10,mac=xx:..,zero-copy=no
 *
 * Files: memif-proto.ts (messages, ring layout), memif-table.ts (the shared per-port table
 * MIF), memif-control.ts (the control channel's loop and link) with its thread
 * (memif-control-worker.ts), state machine (memif-transitions.ts, memif-channel.ts) and
 * message handlers (memif-server.ts, memif-client.ts), memif-socket.ts (what a server may
 * find and remove at its socket path), memif-queue.ts (what every queue does: mapping,
 * rebind) with the bursts (memif-rx.ts, memif-tx.ts copy; memif-zc.ts zero-copy), this
 * file (devargs, ethdev hooks, status).
 *
 *   who calls what                       where
 *   probe                                primary at EthDev.attach: devargs → MIF memzone
 *                                        "MIF_<port>" (offset in port DRV word 0)
 *   start                                the starting process: one control thread per
 *                                        port (server: listens; client: connects, retrying
 *                                        with back-off 50 ms → 1 s); returns at once, the
 *                                        link comes up when a peer connects. A server's
 *                                        socket file: refused unless the path is free or
 *                                        holds a stale socket of ours (memif-socket.ts)
 *   stop                                 the same process: DISCONNECT "device stopped",
 *                                        sockets closed, thread ended
 *   rxQueue / txQueue                    any process (a secondary maps the regions through
 *                                        /proc/<pid>/fd of the controlling process and
 *                                        takes the rings' eventfds with pidfd_getfd)
 *
 * Queue pairs: client TX q ↔ server RX q (ring C2S q), server TX q ↔ client RX q (S2C q).
 * A queue the peer has no ring for stays down (bursts return 0). nbDesc of queue setup is
 * ignored: memif's ring size is rsize (log2), negotiated down to the server's maximum.
 * Link state (EP.FLAGS PF_LINK_UP, `linkStatus`, `mpdk info`) follows the connection: the
 * driver owns its link (NetDriver.ownsLink), so start leaves it down and only the control
 * thread raises it, when the peer has connected, and lowers it when the peer leaves.
 * Counters of the connection (connects, disconnects, refused peer messages, client
 * attempts) and the last reason are in `memifStatus` and `mpdk info` (kind 'memif').
 * Interrupt mode: RX rings poll (MASK_INT set, as DPDK's) while the program is busy; when
 * it idles, IdlePolicy arms the queues (MASK_INT cleared) and sleeps on the rings'
 * eventfds, which the peer's TX signals (memif-queue.ts); any process that uses a queue
 * can sleep on it and wake a peer sleeping on its TX ring.
 * Zero-copy (zero-copy=yes, client role; DPDK's meaning): the client passes the EAL region
 * file itself as memif region 1, so descriptors name mbuf data directly; RX posts mbufs of
 * the queue's pool, TX lends the application's mbufs until the server has read them
 * (memif-queue.ts). The peer then maps the whole shared region: use it with a trusted peer.
 * Which mbuf sits in which slot is the process using the queue's: a zero-copy queue is
 * not taken over by another process on a live connection (it waits for the next one).
 * The mbufs a queue lent (RX: posted for the peer to fill; TX: sent, until the peer read
 * them) are in its lent record (src/ownership/lent.ts): the audit counts them as its
 * process's, and after that process dies (or closes its queue while the link is up)
 * reclaimDead returns them once the connection is over (before, the peer may still use
 * them).
 * A controlling process that dies leaves CONN and the link bit as they were (the peer
 * sees the hang-up; the instance is normally gone with its primary).
 */
import { Worker } from 'node:worker_threads';
import type { Eal } from '../../eal/eal.js';
import { MpdkError } from '../../eal/errors.js';
import { registerDescriber, type ObjectDescription } from '../../eal/describe.js';
import { portTable } from '../../ethdev/table.js';
import { Devargs, Port, type DriverPort, type NetDriver, type RxQueue, type TxQueue, type VdevInfo } from '../../ethdev/driver.js';
import type { PktmbufPool } from '../../mbuf/mbuf.js';
import { closeFd, eventfdCreate, eventfdSignal, processAlive } from '../../native/libc.js';
import { parseMac } from '../../net/packet.js';
import { CW } from './memif-control.js';
import { MEMIF_MAX_LOG2_RING, MEMIF_SECRET_SZ } from './memif-proto.js';
import { isZeroCopy } from './memif-queue.js';
import { MemifRx } from './memif-rx.js';
import { claimSocketPath } from './memif-socket.js';
import { MIF, ROLE_CLIENT, ROLE_SERVER } from './memif-table.js';
import { MemifTx } from './memif-tx.js';
import { MemifRxZc, MemifTxZc } from './memif-zc.js';

const DRV_MIF = 0;
/** The control socket net_memif uses when its devargs give no `socket=` (DPDK's default). */
export const MEMIF_DEFAULT_SOCKET = '/run/memif.sock';

function mzName(port: Port): string {
  return `MIF_${port.id}`;
}

/** Per started port of this process: its control thread, their shared words, and the eventfd that wakes the thread to stop. */
const controls = new Map<string, { worker: Worker; ctl: Int32Array; stopFd: number }>();

function key(port: Port): string {
  return `${port.eal.filePrefix}:${port.id}`;
}

function yesNo(vdev: string, args: Devargs, k: string, dflt: boolean): boolean {
  const v = args.str(k);
  if (v === undefined) return dflt;
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new MpdkError('EINVAL', `--vdev ${vdev}: ${k}=${v}: use yes or no`);
}

/** A net_memif vdev's devargs, checked (EINVAL naming the problem); nothing is opened. */
function settingsOf(vdev: string, args: Devargs): { role: number; id: number; bsize: number; rsize: number; socket: string; abstract: boolean; secret: string; zc: boolean; mac: Uint8Array | undefined } {
  const roleS = args.str('role', 'client')!;
  const role = roleS === 'server' || roleS === 'master' ? ROLE_SERVER : roleS === 'client' || roleS === 'slave' ? ROLE_CLIENT : -1;
  if (role < 0) throw new MpdkError('EINVAL', `--vdev ${vdev}: role=${roleS}: use server or client`);
  const id = args.int(vdev, 'id', 0, 0, 0xffffffff);
  const bsize = args.int(vdev, 'bsize', 2048, 1, 0xffff);
  const rsize = args.int(vdev, 'rsize', 10, 1, MEMIF_MAX_LOG2_RING);
  const socket = args.str('socket', MEMIF_DEFAULT_SOCKET)!;
  if (socket === '' || Buffer.byteLength(socket) > 107) throw new MpdkError('EINVAL', `--vdev ${vdev}: socket=${socket}: a socket path is 1 to 107 bytes`);
  const abstract = yesNo(vdev, args, 'socket-abstract', true);
  const secret = args.str('secret', '')!;
  if (Buffer.byteLength(secret) > MEMIF_SECRET_SZ) throw new MpdkError('EINVAL', `--vdev ${vdev}: the secret is longer than ${MEMIF_SECRET_SZ} bytes`);
  // Zero-copy concerns the client only (its buffers are the peer's); a server always
  // copies from and into the client's regions and ignores it, as DPDK's does.
  const zc = yesNo(vdev, args, 'zero-copy', false) && role === ROLE_CLIENT;
  let mac: Uint8Array | undefined;
  if (args.has('mac')) {
    try {
      mac = parseMac(args.str('mac')!);
    } catch {
      throw new MpdkError('EINVAL', `--vdev ${vdev}: mac=${args.str('mac')} is not a MAC address (xx:xx:xx:xx:xx:xx)`);
    }
  }
  return { role, id, bsize, rsize, socket, abstract, secret, zc, mac };
}

/** EINVAL when a port before port `portId` among `vdevs` is on the same socket in a role that clashes with this one. */
function checkSiblings(vdev: string, portId: number, s: { role: number; id: number; socket: string; abstract: boolean }, vdevs: readonly VdevInfo[]): void {
  for (const v of vdevs) {
    if (v.port >= portId || v.driver !== 'net_memif') continue;
    const sameSock = (v.args.str('socket', MEMIF_DEFAULT_SOCKET) === s.socket) && (v.args.str('socket-abstract', 'yes') === (s.abstract ? 'yes' : 'no'));
    if (!sameSock) continue;
    const vRole = v.args.str('role', 'client');
    const vServer = vRole === 'server' || vRole === 'master';
    if (vServer && s.role === ROLE_SERVER) throw new MpdkError('EINVAL', `--vdev ${vdev}: ${v.name} is already a server on socket ${s.socket}; give each server port its own socket`);
    if (!vServer && s.role === ROLE_CLIENT && Number(v.args.str('id', '0')) === s.id) {
      throw new MpdkError('EINVAL', `--vdev ${vdev}: ${v.name} is already client id ${s.id} on socket ${s.socket}; two interfaces with the same id cannot have the same role`);
    }
  }
}

class MemifPort implements DriverPort {
  private readonly queues: { close(): void }[] = [];
  /** The mode is the probe's (MIF.ZC, client role) and never changes: each queue is of one. */
  private readonly zc: boolean;
  constructor(private readonly port: Port) {
    this.zc = isZeroCopy(port);
  }

  rxQueue(q: number, pool: PktmbufPool): RxQueue {
    const x = this.zc ? new MemifRxZc(this.port, q, pool) : new MemifRx(this.port, q, pool);
    this.queues.push(x);
    return x;
  }

  txQueue(q: number): TxQueue {
    const x = this.zc ? new MemifTxZc(this.port, q) : new MemifTx(this.port, q);
    this.queues.push(x);
    return x;
  }

  close(): void {
    for (const x of this.queues) x.close();
    this.queues.length = 0;
  }
}

/**
 * The net_memif driver (shared-memory packet interface, libmemif's protocol over a Unix
 * socket), registered when the package loads: vdev `net_memif0,role=server,socket=...`.
 */
export const netMemif: NetDriver = {
  name: 'net_memif',
  ownsLink: true,
  args: {
    role: 'server or client (default client)',
    socket: `control socket path (default ${MEMIF_DEFAULT_SOCKET}); a server refuses a path holding anything but a stale socket of its own user`,
    'socket-abstract': 'yes (default) = abstract namespace, no = a file',
    id: 'interface id, 0..2^32-1 (default 0)',
    secret: `shared secret, at most ${MEMIF_SECRET_SZ} characters (default none)`,
    bsize: 'buffer size in bytes, 1..65535 (default 2048)',
    rsize: `log2 of the ring size, 1..${MEMIF_MAX_LOG2_RING} (default 10)`,
    mac: 'port MAC address xx:xx:xx:xx:xx:xx',
    'zero-copy': 'yes = a client passes its mbufs to the peer, no copy (default no; a server ignores it)',
  },

  checkArgs(vdev: string, args: Devargs, vdevs?: readonly VdevInfo[]): void {
    const s = settingsOf(vdev, args);
    const me = vdevs?.find((v) => v.name === vdev);
    if (vdevs && me) checkSiblings(vdev, me.port, s, vdevs);
  },

  probe(port: Port, args: Devargs, vdevs: readonly VdevInfo[]): void {
    const vdev = port.name;
    const settings = settingsOf(vdev, args);
    const { role, id, bsize, rsize, socket, abstract, secret, zc, mac } = settings;
    if (zc && port.eal.region.size > 0xffffffff) {
      throw new MpdkError('EINVAL', `--vdev ${vdev}: zero-copy=yes passes the whole shared region (${port.eal.region.size} bytes) as a memif region, which is at most 4 GiB - 1: lower -m or use zero-copy=no`);
    }
    if (mac) port.setMac(mac);
    checkSiblings(vdev, port.id, settings, vdevs);
    const eal = port.eal;
    const mz = eal.memzones.tryLookup(mzName(port)) ?? eal.memzones.reserve(mzName(port), MIF.BYTES, 64);
    const r = eal.region;
    const m = mz.offset;
    r.u8.fill(0, m, m + MIF.BYTES);
    r.u32[(m + MIF.ROLE) >>> 2] = role;
    r.u32[(m + MIF.ID) >>> 2] = id;
    r.u32[(m + MIF.BSIZE) >>> 2] = bsize;
    r.u32[(m + MIF.LOG2) >>> 2] = rsize;
    r.u32[(m + MIF.ABSTRACT) >>> 2] = abstract ? 1 : 0;
    r.writeString(m + MIF.SOCKET, MIF.SOCKET_MAX, socket);
    r.writeString(m + MIF.SECRET, 32, secret);
    r.u32[(m + MIF.ZC) >>> 2] = zc ? 1 : 0;
    port.setDrv(DRV_MIF, m);
  },

  start(port: Port): void {
    const eal = port.eal;
    const k = key(port);
    if (controls.has(k)) return;
    const mif = port.drv(DRV_MIF);
    const r = eal.region;
    const pid = r.i32[(mif + MIF.CTL_PID) >>> 2]!;
    if (pid !== 0 && pid !== process.pid && processAlive(pid, 0)) {
      throw new MpdkError('EBUSY', `${port.name}: its memif control channel runs in pid ${pid}; start and stop the port in that process`);
    }
    if (r.u32At(mif + MIF.ROLE) === ROLE_SERVER && r.u32At(mif + MIF.ABSTRACT) === 0) {
      try {
        claimSocketPath(r.readString(mif + MIF.SOCKET, MIF.SOCKET_MAX));
      } catch (e) {
        throw e instanceof MpdkError ? new MpdkError(e.code, `${port.name}: ${e.message}`) : e;
      }
    }
    const ctl = new Int32Array(new SharedArrayBuffer(16));
    const stopFd = eventfdCreate();
    const worker = new Worker(new URL('./memif-control-worker.js', import.meta.url), {
      workerData: { handoff: eal.handoff(eal.lcoreId), header: port.header, port: port.id, mif, ctl, stopFd },
    });
    worker.on('error', (e) => eal.log('error', `${port.name}: memif control thread failed: ${e.message}`));
    worker.unref();
    controls.set(k, { worker, ctl, stopFd });
    // The thread marks the link down and (server) listens before start returns.
    Atomics.wait(ctl, CW.READY, 0, 3000);
  },

  stop(port: Port): void {
    const k = key(port);
    const c = controls.get(k);
    if (!c) {
      const pid = port.eal.region.i32[(port.drv(DRV_MIF) + MIF.CTL_PID) >>> 2]!;
      if (pid !== 0 && pid !== process.pid && processAlive(pid, 0)) {
        throw new MpdkError('EBUSY', `${port.name}: its memif control channel runs in pid ${pid}; stop the port in that process`);
      }
      return;
    }
    Atomics.store(c.ctl, CW.STOP, 1);
    eventfdSignal(c.stopFd); // the thread sleeps in poll(2) with no timeout while nothing is due
    if (Atomics.wait(c.ctl, CW.DONE, 0, 3000) !== 'timed-out') closeFd(c.stopFd); // else the thread may still poll it: left open
    controls.delete(k);
  },

  open(port: Port): DriverPort {
    return new MemifPort(port);
  },
};

/** A net_memif port's connection as `memifStatus` reports it. */
export interface MemifStatus {
  /** The port number. */
  port: number;
  /** The port's vdev name. */
  name: string;
  /** This side's role in the memif protocol. */
  role: 'client' | 'server';
  /** The control socket's path (or abstract name). */
  socket: string;
  /** Whether the socket is in the abstract namespace. */
  abstract: boolean;
  /** The memif interface id (`id=` devarg). */
  id: number;
  /** Whether a peer is connected. */
  up: boolean;
  /** Connection generation (bumped on every connect and disconnect). */
  generation: number;
  /** Pid running the control channel (0: none). */
  controlPid: number;
  /** The peer's application name (memif's HELLO). */
  peerName: string;
  /** The peer's interface name. */
  peerInterface: string;
  /** Why the last connection ended or was refused ('' while up). */
  reason: string;
  /** Connections made. */
  connects: number;
  /** Connections ended. */
  disconnects: number;
  /** Connections refused (the reason is in `reason`). */
  refused: number;
  /** Connection attempts (client). */
  attempts: number;
  /** Slots of each ring. */
  ringSize: number;
  /** Bytes of each buffer. */
  bufferSize: number;
  /** Client-to-server rings. */
  c2sRings: number;
  /** Server-to-client rings. */
  s2cRings: number;
  /** Client in zero-copy mode (its mbufs are the buffers). */
  zeroCopy: boolean;
  /** Regions of the connection (zero-copy: 2, the second is the EAL region). */
  regions: number;
}

function statusAt(eal: Eal, port: Port): MemifStatus {
  const r = eal.region;
  const m = port.drv(DRV_MIF);
  const conn = Atomics.load(r.u32, (m + MIF.CONN) >>> 2);
  const up = (conn & 1) === 1;
  return {
    port: port.id, name: port.name, role: r.u32At(m + MIF.ROLE) === ROLE_SERVER ? 'server' : 'client',
    socket: r.readString(m + MIF.SOCKET, MIF.SOCKET_MAX), abstract: r.u32At(m + MIF.ABSTRACT) === 1, id: r.u32At(m + MIF.ID),
    up, generation: conn >>> 1, controlPid: r.i32[(m + MIF.CTL_PID) >>> 2]!,
    peerName: r.readString(m + MIF.PEER_NAME, 32), peerInterface: r.readString(m + MIF.PEER_IF, 32), reason: r.readString(m + MIF.REASON, MIF.REASON_MAX),
    connects: r.f64[(m + MIF.CONNECTS) >>> 3]!, disconnects: r.f64[(m + MIF.DISCONNECTS) >>> 3]!, refused: r.f64[(m + MIF.REFUSED) >>> 3]!,
    attempts: r.f64[(m + MIF.ATTEMPTS) >>> 3]!,
    ringSize: up ? 1 << r.u32At(m + MIF.RUN_LOG2) : 0, bufferSize: up ? r.u32At(m + MIF.RUN_BSIZE) : 0,
    c2sRings: up ? r.u32At(m + MIF.RUN_C2S) : 0, s2cRings: up ? r.u32At(m + MIF.RUN_S2C) : 0,
    zeroCopy: r.u32At(m + MIF.ZC) === 1, regions: up ? r.u32At(m + MIF.NB_REGIONS) : 0,
  };
}

/** The memif connection state of port `port` (a net_memif port of `eal`'s instance). */
export function memifStatus(eal: Eal, port: Port | { port(id: number): Port }, id?: number): MemifStatus {
  const p = port instanceof Port ? port : port.port(id ?? 0);
  if (p.driverName !== 'net_memif') throw new MpdkError('EINVAL', `${p.name} is a ${p.driverName} port, not net_memif`);
  return statusAt(eal, p);
}

registerDescriber('memif', (eal: Eal): ObjectDescription[] => {
  const out: ObjectDescription[] = [];
  for (const p of portTable(eal) ?? []) {
    if (p.driverName !== 'net_memif' || p.drv(DRV_MIF) === 0) continue;
    const { name, ...rest } = statusAt(eal, p);
    out.push({ kind: 'memif', name, ...rest });
  }
  return out;
});
