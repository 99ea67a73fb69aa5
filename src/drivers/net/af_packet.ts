/**
 * net_af_packet: a port on a real Linux interface through AF_PACKET sockets (DPDK's
 * net_af_packet), copy mode.
 *
 *   --vdev net_af_packet0,iface=veth0[,qpairs=N][,blocksz=B][,blockcnt=C][,qdisc_bypass=0|1][,fanout_mode=hash|lb|cpu]
 *
 * One queue pair per process: every RX queue is its own socket, opened by the process that
 * binds the queue (fds are per process), and all of a port's RX sockets join one
 * PACKET_FANOUT group (hash mode by default, with DEFRAG), so the kernel spreads flows over
 * the bound RX queues as RSS would: a flow goes to one socket, never two. The fanout hash
 * is the kernel's flow hash (symmetric: both directions of a flow pick the same member);
 * only sockets that exist take part, so with one bound queue it gets everything. The hash
 * is stored in the mbuf (MBUF_F_RX_RSS_HASH). Packets that arrive in the microseconds
 * between a socket's bind and its fanout join may be seen by that socket as well.
 *
 *   RX  TPACKET_V3 ring (blockcnt blocks of blocksz bytes, mmap'd; a block is handed over
 *       after 1 ms even when partly filled). A burst takes packets from the current block
 *       only: one Atomics.load of block_status per burst, and an Atomics.store giving the
 *       block back when it is used up. Frames are copied into mbufs from the queue's pool
 *       (all or nothing per burst, as net_null); VLAN tags the kernel stripped go to
 *       VLAN_TCI with RX_VLAN|RX_VLAN_STRIPPED; a frame longer than the data room is
 *       dropped and counted in ierrors. Own transmissions are not seen
 *       (PACKET_IGNORE_OUTGOING). Kernel drops (ring full) are read with
 *       PACKET_STATISTICS every 1024 empty polls and at close, and added to imissed (the
 *       RX owner is this port's only feeder, so it writes the MISSED line).
 *   TX  a send-only socket (protocol 0, PACKET_QDISC_BYPASS unless qdisc_bypass=0);
 *       sendmmsg of up to 64 packets per call, MSG_DONTWAIT, iovecs pointing straight at
 *       the mbuf data in the region (chains: one iovec per segment): no copy in JS. Sent
 *       mbufs are freed; what the kernel refused (full socket buffer, link down) stays the
 *       caller's and is counted in oerrors.
 *
 * Shared words (port DRV, written by probe): 0 ifindex at probe, 1 qpairs, 2 fanout group
 * id, 3 blocksz, 4 blockcnt, 5 flags (AF_QDISC_BYPASS), 6 fanout mode. The interface name
 * comes from the port's devargs. Probe takes the port's MAC, MTU and speed from the
 * interface (/sys/class/net) and refuses an interface that does not exist (ENODEV) or a
 * process without CAP_NET_RAW (EPERM); start checks the interface is still there. The
 * link is the interface's carrier (down while it or its veth peer is down), read at start
 * and whenever linkStatus is asked (the driver owns its link, NetDriver.linkUpdate). Nothing else lives in shared memory: sockets and rings are per process.
 */
import fs from 'node:fs';
import { MpdkError } from '../../eal/errors.js';
import { Devargs, parseVdev, Port, STAT_ERRORS, STAT_MISSED, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS, type DriverPort, type NetDriver, type RxQueue, type TxQueue } from '../../ethdev/driver.js';
import { EP, MAX_QUEUES, PF_PROMISC } from '../../ethdev/layout.js';
import { MBUF_F_RX_RSS_HASH, MBUF_F_RX_VLAN, MBUF_F_RX_VLAN_STRIPPED, MbufRx, Mbufs, type PktmbufPool } from '../../mbuf/mbuf.js';
import type { Mempool } from '../../mempool/mempool.js';
import {
  bufferAddress, closeFd, ETH_P_ALL, getsockoptBuf, ifNameToIndex, mapFd, MSG_DONTWAIT, NativeError, PACKET_ADD_MEMBERSHIP, PACKET_FANOUT,
  PACKET_FANOUT_CPU, PACKET_FANOUT_FLAG_DEFRAG, PACKET_FANOUT_HASH, PACKET_FANOUT_LB, PACKET_IGNORE_OUTGOING, PACKET_MR_PROMISC, PACKET_QDISC_BYPASS,
  PACKET_RX_RING, PACKET_STATISTICS, PACKET_VERSION, packetBind, packetSocket, sendmmsgRaw, setsockoptBuf, setsockoptInt, SO_SNDBUF, SOL_PACKET,
  SOL_SOCKET, TPACKET_V3, unmap, type Mapping,
} from '../../native/libc.js';
import { Bytes, copyBytes } from '../../net/bytes.js';

/** Port DRV words. */
const D = { IFINDEX: 0, QPAIRS: 1, GROUP: 2, BLOCKSZ: 3, BLOCKCNT: 4, FLAGS: 5, FANOUT: 6 } as const;
const AF_QDISC_BYPASS = 1;

/** tpacket_block_desc (TPACKET_V3): byte offsets from the block start. */
const BLK = { STATUS: 8, NUM_PKTS: 12, OFFSET_TO_FIRST: 16 } as const;
/** tpacket3_hdr: byte offsets from the packet header. */
const TP3 = { NEXT: 0, SNAPLEN: 12, LEN: 16, STATUS: 20, MAC: 24, RXHASH: 28, VLAN_TCI: 32 } as const;
const TP_STATUS_USER = 1;
const TP_STATUS_VLAN_VALID = 0x10;
const TP_FT_REQ_FILL_RXHASH = 1;
const RX_FLAGS_VLAN = MBUF_F_RX_RSS_HASH | MBUF_F_RX_VLAN | MBUF_F_RX_VLAN_STRIPPED;

const TX_BATCH = 64;
const TX_IOV = 256;
const STATS_EVERY = 1024;
const FANOUT_MODES: Record<string, number> = { hash: PACKET_FANOUT_HASH, lb: PACKET_FANOUT_LB, cpu: PACKET_FANOUT_CPU };

function ifaceOf(port: Port): string {
  return parseVdev(port.devargs ? `${port.name},${port.devargs}` : port.name).args.str('iface') ?? '';
}

function sysNet(iface: string, file: string): string | undefined {
  try {
    return fs.readFileSync(`/sys/class/net/${iface}/${file}`, 'latin1').trim();
  } catch {
    return undefined;
  }
}

function ifIndexOrThrow(port: Port, iface: string): number {
  const idx = ifNameToIndex(iface);
  if (idx === 0) {
    let known = '';
    try {
      known = fs.readdirSync('/sys/class/net').join(', ');
    } catch {
      /* no sysfs */
    }
    throw new MpdkError('ENODEV', `${port.name}: no interface '${iface}' in this network namespace${known ? ` (interfaces: ${known})` : ''}; create it or fix iface=`);
  }
  return idx;
}

function native(port: Port, what: string, e: unknown): MpdkError {
  if (e instanceof NativeError) {
    const hint = e.code === 'EPERM' ? ' (AF_PACKET needs root or CAP_NET_RAW)' : '';
    return new MpdkError(e.code === 'EPERM' ? 'EPERM' : e.code === 'ENOMEM' ? 'ENOMEM' : 'EIO', `${port.name}: ${what}: ${e.message}${hint}`);
  }
  return e as MpdkError;
}


class AfpRx implements RxQueue {
  private readonly port: Port;
  private readonly mp: Mempool;
  private readonly rx: MbufRx;
  /** The region and the kernel ring as copyBytes sees them. */
  private readonly region: Bytes;
  private rbytes: Bytes;
  private readonly f64: Float64Array;
  private readonly st: number;
  private fd: number;
  private ring: Mapping | null;
  private ru8: Uint8Array;
  private ru32: Uint32Array;
  private ri32: Int32Array;
  private ru16: Uint16Array;
  private blockSize: number;
  private nblocks: number;
  /** Current block, packets left in it, offset of the next packet header in the ring. */
  private blk = 0;
  private left = -1;
  private pkt = 0;
  private empty = 0;
  private readonly statsBuf = Buffer.alloc(12);

  constructor(port: Port, q: number, pool: PktmbufPool) {
    const r = port.eal.region;
    this.port = port;
    this.mp = pool.mp;
    this.region = new Bytes(r.u8);
    this.f64 = r.f64;
    this.st = port.statIdx(true, q);
    this.rx = new MbufRx(pool, port.id);
    this.blockSize = port.drv(D.BLOCKSZ);
    this.nblocks = port.drv(D.BLOCKCNT);
    const iface = ifaceOf(port);
    const ifindex = ifIndexOrThrow(port, iface);
    let fd = -1;
    let ring: Mapping | null = null;
    try {
      fd = packetSocket(ETH_P_ALL);
      setsockoptInt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3, 'setsockopt(PACKET_VERSION, TPACKET_V3)');
      const req = Buffer.alloc(28);
      const frame = 2048;
      req.writeUInt32LE(this.blockSize, 0); // tp_block_size
      req.writeUInt32LE(this.nblocks, 4); // tp_block_nr
      req.writeUInt32LE(frame, 8); // tp_frame_size
      req.writeUInt32LE((this.blockSize / frame) * this.nblocks, 12); // tp_frame_nr
      req.writeUInt32LE(1, 16); // tp_retire_blk_tov (ms)
      req.writeUInt32LE(0, 20); // tp_sizeof_priv
      req.writeUInt32LE(TP_FT_REQ_FILL_RXHASH, 24); // tp_feature_req_word
      setsockoptBuf(fd, SOL_PACKET, PACKET_RX_RING, req, 'setsockopt(PACKET_RX_RING)');
      ring = mapFd(fd, this.blockSize * this.nblocks);
      packetBind(fd, ifindex, ETH_P_ALL);
      setsockoptInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, 'setsockopt(PACKET_IGNORE_OUTGOING)');
      if ((port.get(EP.FLAGS) & PF_PROMISC) !== 0) {
        const mreq = Buffer.alloc(16);
        mreq.writeInt32LE(ifindex, 0);
        mreq.writeUInt16LE(PACKET_MR_PROMISC, 4);
        setsockoptBuf(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 'setsockopt(PACKET_ADD_MEMBERSHIP, PROMISC)');
      }
      const mode = port.drv(D.FANOUT) | PACKET_FANOUT_FLAG_DEFRAG;
      setsockoptInt(fd, SOL_PACKET, PACKET_FANOUT, port.drv(D.GROUP) | (mode << 16), 'setsockopt(PACKET_FANOUT)');
    } catch (e) {
      if (ring) unmap(ring);
      closeFd(fd);
      throw native(port, `RX queue ${q} on ${iface}`, e);
    }
    this.fd = fd;
    this.ring = ring;
    this.ru8 = new Uint8Array(ring.buffer);
    this.ru32 = new Uint32Array(ring.buffer);
    this.ri32 = new Int32Array(ring.buffer);
    this.ru16 = new Uint16Array(ring.buffer);
    this.rbytes = new Bytes(this.ru8);
  }

  rxBurst(handles: Uint32Array, n: number, rec = -1): number {
    let left = this.left;
    if (left <= 0) {
      // Open the current block if the kernel has handed it over (one Atomics per burst).
      const b = this.blk * this.blockSize;
      if ((Atomics.load(this.ri32, (b + BLK.STATUS) >>> 2) & TP_STATUS_USER) === 0) {
        if (++this.empty >= STATS_EVERY) this.readDrops();
        return 0;
      }
      left = this.ru32[(b + BLK.NUM_PKTS) >>> 2]!;
      this.pkt = b + this.ru32[(b + BLK.OFFSET_TO_FIRST) >>> 2]!;
      if (left === 0) {
        this.releaseBlock();
        return 0;
      }
    }
    const k = n < left ? n : left;
    const ru32 = this.ru32;
    const ru16 = this.ru16;
    const rx = this.rx;
    const room = rx.room;
    // The mbufs: from this lcore's cache in place (zcGet), committed once the frames that fit
    // are in them; else exactly as many as fit, in one getBulk. One recorded get either way,
    // nothing given back: an ownership record's POOL_GET window is exact (hands.ts).
    const mp = this.mp;
    const at = mp.zcGet(k, rec);
    let from = handles;
    let base = 0;
    let step = 1;
    if (at >= 0) {
      from = mp.cacheSlots;
      base = at;
      step = -1;
    } else {
      const fit = this.fitting(k, room);
      if (fit > 0 && mp.getBulk(handles, fit, rec) !== fit) {
        this.left = left;
        this.f64[this.st + STAT_NOMBUF] += k;
        return 0;
      }
    }
    let pkt = this.pkt;
    let got = 0;
    let bytes = 0;
    let errors = 0;
    for (let i = 0; i < k; i++) {
      const len = ru32[(pkt + TP3.SNAPLEN) >>> 2]!;
      if (len <= room) {
        const h = from[base + step * got]!;
        handles[got++] = h;
        copyBytes(this.rbytes, pkt + ru16[(pkt + TP3.MAC) >>> 1]!, this.region, rx.dataAt(h), len);
        const hash = ru32[(pkt + TP3.RXHASH) >>> 2]!;
        // VLAN tags the kernel stripped go to VLAN_TCI (RX_VLAN | RX_VLAN_STRIPPED).
        if ((ru32[(pkt + TP3.STATUS) >>> 2]! & TP_STATUS_VLAN_VALID) !== 0) rx.set(h, len, RX_FLAGS_VLAN, hash, ru32[(pkt + TP3.VLAN_TCI) >>> 2]! & 0xffff);
        else rx.set(h, len, MBUF_F_RX_RSS_HASH, hash, 0);
        bytes += len;
      } else {
        errors++;
      }
      pkt += ru32[(pkt + TP3.NEXT) >>> 2]!;
    }
    if (at >= 0) mp.zcGetCommit(got, rec); // handles[0..got) are ours from this store on
    this.pkt = pkt;
    this.left = left - k;
    if (this.left === 0) this.releaseBlock();
    const f64 = this.f64;
    const st = this.st;
    if (errors > 0) f64[st + STAT_ERRORS] += errors;
    f64[st + STAT_PACKETS] += got;
    f64[st + STAT_OCTETS] += bytes;
    this.empty = 0;
    return got;
  }

  /** How many of the next k frames of the open block fit an mbuf of `room` bytes (the others are dropped). */
  private fitting(k: number, room: number): number {
    const ru32 = this.ru32;
    let pkt = this.pkt;
    let fit = 0;
    for (let i = 0; i < k; i++) {
      if (ru32[(pkt + TP3.SNAPLEN) >>> 2]! <= room) fit++;
      pkt += ru32[(pkt + TP3.NEXT) >>> 2]!;
    }
    return fit;
  }

  /** Hand the current block back to the kernel and move to the next. */
  private releaseBlock(): void {
    Atomics.store(this.ri32, (this.blk * this.blockSize + BLK.STATUS) >>> 2, 0);
    this.blk = this.blk + 1 === this.nblocks ? 0 : this.blk + 1;
    this.left = -1;
  }

  /** Kernel drops since the last read (PACKET_STATISTICS resets them) → imissed. */
  private readDrops(): void {
    this.empty = 0;
    if (this.fd < 0) return;
    try {
      getsockoptBuf(this.fd, SOL_PACKET, PACKET_STATISTICS, this.statsBuf);
      const drops = this.statsBuf.readUInt32LE(4);
      if (drops > 0) this.f64[this.st + STAT_MISSED] += drops;
    } catch {
      /* statistics are best effort */
    }
  }

  close(): void {
    if (this.fd < 0) return;
    this.readDrops();
    closeFd(this.fd);
    this.fd = -1;
    // Later bursts (none should come) see an empty one-block ring instead of a dead mapping.
    const dummy = new ArrayBuffer(64);
    this.ru8 = new Uint8Array(dummy);
    this.ru32 = new Uint32Array(dummy);
    this.ri32 = new Int32Array(dummy);
    this.ru16 = new Uint16Array(dummy);
    this.rbytes = new Bytes(this.ru8);
    this.nblocks = 1;
    this.blk = 0;
    this.left = -1;
    this.blockSize = 0;
    if (this.ring) unmap(this.ring);
    this.ring = null;
  }
}

class AfpTx implements TxQueue {
  private readonly mbufs: Mbufs;
  private readonly f64: Float64Array;
  private readonly st: number;
  private readonly base: number;
  private readonly iovAddr: number;
  private fd: number;
  /** mmsghdr[TX_BATCH] (64 B each) and iovec[TX_IOV] (16 B each), kept alive here. */
  private readonly msgs: Buffer;
  private readonly iovs: Buffer;
  private readonly m32: Uint32Array;
  private readonly v32: Uint32Array;

  constructor(port: Port, q: number) {
    const r = port.eal.region;
    this.mbufs = new Mbufs(port.eal);
    this.f64 = r.f64;
    this.st = port.statIdx(false, q);
    this.base = r.mapping.addr;
    const iface = ifaceOf(port);
    const ifindex = ifIndexOrThrow(port, iface);
    let fd = -1;
    try {
      fd = packetSocket(0);
      packetBind(fd, ifindex, 0);
      if (port.drv(D.FLAGS) & AF_QDISC_BYPASS) setsockoptInt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, 'setsockopt(PACKET_QDISC_BYPASS)');
      setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20, 'setsockopt(SO_SNDBUF)');
    } catch (e) {
      closeFd(fd);
      throw native(port, `TX queue ${q} on ${iface}`, e);
    }
    this.fd = fd;
    this.msgs = Buffer.alloc(TX_BATCH * 64);
    this.iovs = Buffer.alloc(TX_IOV * 16);
    this.m32 = new Uint32Array(this.msgs.buffer, this.msgs.byteOffset, this.msgs.length >>> 2);
    this.v32 = new Uint32Array(this.iovs.buffer, this.iovs.byteOffset, this.iovs.length >>> 2);
    this.iovAddr = bufferAddress(this.iovs);
  }

  txBurst(handles: Uint32Array, n: number): number {
    const mbufs = this.mbufs;
    const m32 = this.m32;
    const v32 = this.v32;
    const base = this.base;
    const iovAddr = this.iovAddr;
    let sent = 0;
    let bytes = 0;
    while (sent < n) {
      // Lay out up to TX_BATCH messages, one iovec per segment, pointing into the region.
      let nm = 0;
      let nv = 0;
      let chunkBytes = 0;
      for (let i = sent; i < n && nm < TX_BATCH; i++) {
        const h = handles[i]!;
        const segs = mbufs.nbSegs(h);
        if (nv + segs > TX_IOV) break;
        const m = nm * 16; // u32 index of mmsghdr nm
        const first = nv;
        for (let s = h; s !== 0; s = mbufs.next(s)) {
          const addr = base + mbufs.dataOffset(s);
          const v = nv * 4;
          v32[v] = addr >>> 0;
          v32[v + 1] = Math.floor(addr / 4294967296);
          v32[v + 2] = mbufs.dataLen(s);
          v32[v + 3] = 0;
          nv++;
        }
        const ia = iovAddr + first * 16;
        m32[m + 4] = ia >>> 0; // msg_iov
        m32[m + 5] = Math.floor(ia / 4294967296);
        m32[m + 6] = nv - first; // msg_iovlen
        m32[m + 7] = 0;
        chunkBytes += mbufs.pktLen(h);
        nm++;
      }
      if (nm === 0) break;
      const r = sendmmsgRaw(this.fd, this.msgs, nm, MSG_DONTWAIT);
      if (r <= 0) break;
      if (r < nm) {
        for (let i = sent; i < sent + r; i++) bytes += mbufs.pktLen(handles[i]!);
        sent += r;
        break;
      }
      bytes += chunkBytes;
      sent += nm;
    }
    if (sent > 0) this.mbufs.freeBulk(handles, sent);
    const f64 = this.f64;
    const st = this.st;
    if (sent < n) f64[st + STAT_ERRORS] += n - sent;
    f64[st + STAT_PACKETS] += sent;
    f64[st + STAT_OCTETS] += bytes;
    return sent;
  }

  close(): void {
    closeFd(this.fd);
    this.fd = -1;
  }
}

class AfpPort implements DriverPort {
  private readonly rxqs: AfpRx[] = [];
  private readonly txqs: AfpTx[] = [];

  constructor(private readonly port: Port) {}

  rxQueue(q: number, pool: PktmbufPool): RxQueue {
    const rx = new AfpRx(this.port, q, pool);
    this.rxqs.push(rx);
    return rx;
  }

  txQueue(q: number): TxQueue {
    const tx = new AfpTx(this.port, q);
    this.txqs.push(tx);
    return tx;
  }

  close(): void {
    for (const r of this.rxqs) r.close();
    for (const t of this.txqs) t.close();
    this.rxqs.length = 0;
    this.txqs.length = 0;
  }
}

function refreshSpeed(port: Port, iface: string): void {
  const speed = Number(sysNet(iface, 'speed'));
  port.set(EP.LINK_SPEED, Number.isInteger(speed) && speed > 0 ? speed : 10000);
}

/** Link up = the interface has carrier (reading it fails while the interface is down). */
function refreshLink(port: Port, iface: string): void {
  port.setLinkUp(sysNet(iface, 'carrier') === '1');
  refreshSpeed(port, iface);
}

function checkQueue(port: Port, q: number, rx: boolean): void {
  const qp = port.drv(D.QPAIRS);
  if (q >= qp) {
    throw new MpdkError('EINVAL', `${port.name}: ${rx ? 'RX' : 'TX'} queue ${q} is beyond qpairs=${qp}; give the vdev qpairs=${q + 1} or more`);
  }
}

/** A net_af_packet vdev's devargs, checked (EINVAL naming the problem); nothing is opened. */
function settingsOf(vdev: string, args: Devargs): { iface: string; qpairs: number; blocksz: number; blockcnt: number; bypass: number; mode: number } {
  const iface = args.str('iface');
  if (!iface) throw new MpdkError('EINVAL', `--vdev ${vdev}: iface=NAME is required (the Linux interface, e.g. iface=veth0)`);
  const qpairs = args.int(vdev, 'qpairs', 1, 1, MAX_QUEUES);
  const blocksz = args.int(vdev, 'blocksz', 1 << 18, 4096, 1 << 26);
  if ((blocksz & (blocksz - 1)) !== 0) throw new MpdkError('EINVAL', `--vdev ${vdev}: blocksz=${blocksz} must be a power of two (4096, 65536, 262144 ...)`);
  const blockcnt = args.int(vdev, 'blockcnt', 16, 2, 1024);
  if (blocksz * blockcnt >= 2 ** 31) throw new MpdkError('EINVAL', `--vdev ${vdev}: blocksz × blockcnt is ${blocksz * blockcnt} bytes; keep the ring under 2 GiB`);
  const bypass = args.int(vdev, 'qdisc_bypass', 1, 0, 1);
  const modeName = args.str('fanout_mode', 'hash')!;
  const mode = FANOUT_MODES[modeName];
  if (mode === undefined) throw new MpdkError('EINVAL', `--vdev ${vdev}: fanout_mode=${modeName}: use hash, lb or cpu`);
  return { iface, qpairs, blocksz, blockcnt, bypass, mode };
}

export const netAfPacket: NetDriver = {
  name: 'net_af_packet',
  args: {
    iface: 'Linux interface to use (required), e.g. veth0',
    qpairs: `queue pairs, 1..${MAX_QUEUES} (default 1); each RX queue joins the port's fanout group`,
    blocksz: 'RX ring block size in bytes, a power of two from 4096 (default 262144)',
    blockcnt: 'RX ring blocks per queue, 2..1024 (default 16)',
    qdisc_bypass: '1 (default) to send bypassing the qdisc layer, 0 not to',
    fanout_mode: 'how the kernel spreads packets over the RX queues: hash (default), lb, cpu',
  },

  checkArgs(vdev: string, args: Devargs): void {
    settingsOf(vdev, args);
  },

  probe(port: Port, args: Devargs): void {
    const { iface, qpairs, blocksz, blockcnt, bypass, mode } = settingsOf(port.name, args);
    const ifindex = ifIndexOrThrow(port, iface);
    // Fail here, not in the first process binding a queue, when raw sockets are not allowed.
    try {
      closeFd(packetSocket(0));
    } catch (e) {
      throw native(port, `cannot open an AF_PACKET socket for ${iface}`, e);
    }
    port.setDrv(D.IFINDEX, ifindex);
    port.setDrv(D.QPAIRS, qpairs);
    // A fanout group id (16 bits) per port of this instance; groups are per network namespace.
    port.setDrv(D.GROUP, ((process.pid * 37 + port.id * 4099 + ifindex) & 0xffff) >>> 0);
    port.setDrv(D.BLOCKSZ, blocksz);
    port.setDrv(D.BLOCKCNT, blockcnt);
    port.setDrv(D.FLAGS, bypass ? AF_QDISC_BYPASS : 0);
    port.setDrv(D.FANOUT, mode);
    const mac = sysNet(iface, 'address');
    if (mac && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) port.setMac(Uint8Array.from(mac.split(':').map((x) => parseInt(x, 16))));
    const mtu = Number(sysNet(iface, 'mtu'));
    if (Number.isInteger(mtu) && mtu > 0) port.set(EP.MTU, mtu);
    refreshSpeed(port, iface);
  },

  rxQueueSetup(port: Port, q: number): void {
    checkQueue(port, q, true);
  },

  txQueueSetup(port: Port, q: number): void {
    checkQueue(port, q, false);
  },

  ownsLink: true,

  start(port: Port): void {
    const iface = ifaceOf(port);
    ifIndexOrThrow(port, iface);
    refreshLink(port, iface);
  },

  linkUpdate(port: Port): void {
    refreshLink(port, ifaceOf(port));
  },

  open(port: Port): DriverPort {
    return new AfpPort(port);
  },
};

/** The interface's operational state as the kernel reports it ('up', 'down', 'unknown' ...). */
export function afPacketOperState(iface: string): string {
  return sysNet(iface, 'operstate') ?? 'absent';
}
