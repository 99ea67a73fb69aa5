/**
 * net_null: the benchmark driver (DPDK's net_null without copy). RX hands out fresh mbufs
 * of `size` bytes from the queue's pool as fast as asked (no data is written: what the
 * buffer held stays); TX frees what it is given. Nothing is shared but the port's stats.
 *
 *   --vdev net_null0[,size=N]   size: bytes per received packet (default 64)
 *
 *   shared words: port DRV[0] = size (probe)
 *   per process:  NullRx (pool, size) and NullTx (a Mbufs for freeing) per bound queue
 *
 * RX per packet: the fields of rte_pktmbuf_reset that matter on a pool mbuf (data_off|
 * refcnt, nb_segs|port, ol_flags ×2, packet_type, pkt_len, data_len|vlan) in 4 plain
 * stores: adjacent word pairs go as one 8-byte store (wordsAsF64);
 * NEXT is not written: an mbuf in its pool always has NEXT 0 (Mbufs' free clears it
 * before the put; DPDK's rx rearm relies on the same invariant). The second cache line
 * is not touched. When the pool cannot supply the whole burst,
 * nothing is received and rx_nombuf grows by n (as DPDK's null PMD: all or nothing).
 */
import { MpdkError } from '../../eal/errors.js';
import { Devargs, Port, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS, type DriverPort, type NetDriver, type RxQueue, type TxQueue } from '../../ethdev/driver.js';
import { MBUF, Mbufs, type PktmbufPool } from '../../mbuf/mbuf.js';
import type { Mempool } from '../../mempool/mempool.js';
import { wordsAsF64 } from '../../net/bytes.js';

const DEFAULT_SIZE = 64;

class NullRx implements RxQueue {
  private readonly mp: Mempool;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly st: number;
  /** DATA_OFF | REFCNT 1 << 16, as one u32. */
  private readonly rearm: number;
  /** NB_SEGS 1 | PORT << 16, as one u32. */
  private readonly segsPort: number;
  private readonly size: number;
  /** Words 2-3 (REARM, NB_SEGS|PORT) and 6-7 (PACKET_TYPE 0, PKT_LEN) as the bits of one f64 each. */
  private readonly rearmSegs: number;
  private readonly typeLen: number;

  constructor(port: Port, q: number, pool: PktmbufPool, size: number) {
    this.mp = pool.mp;
    this.u32 = port.u32;
    this.f64 = port.f64;
    this.st = port.statIdx(true, q);
    this.size = size;
    const headroom = Math.min(128, pool.dataRoomSize);
    if (size > pool.dataRoomSize - headroom) {
      throw new MpdkError('EINVAL', `${port.name}: size=${size} does not fit the ${pool.dataRoomSize - headroom}-byte data room of pool '${pool.name}'; use a smaller size or a pool with a larger data room`);
    }
    this.rearm = (headroom | (1 << 16)) >>> 0;
    this.segsPort = (1 | (port.id << 16)) >>> 0;
    // Neither pattern is a NaN: the high words (1 | port << 16 with port < MAX_PORTS, and size
    // < 2^16) never have the exponent bits 20-30 all set.
    this.rearmSegs = wordsAsF64(this.rearm, this.segsPort);
    this.typeLen = wordsAsF64(0, size);
  }

  rxBurst(handles: Uint32Array, n: number): number {
    if (this.mp.getBulk(handles, n) !== n) {
      this.f64[this.st + STAT_NOMBUF] += n;
      return 0;
    }
    const u32 = this.u32;
    const f64 = this.f64;
    const size = this.size;
    const rs = this.rearmSegs;
    const tl = this.typeLen;
    for (let i = 0; i < n; i++) {
      const h = handles[i]!;
      const d = h >>> 3; // handles are 64-aligned: 8-byte stores never straddle
      f64[d + (MBUF.DATA_OFF >>> 3)] = rs; // DATA_OFF|REFCNT, NB_SEGS|PORT
      f64[d + (MBUF.OL_FLAGS >>> 3)] = 0; // OL_FLAGS, OL_FLAGS_HI
      f64[d + (MBUF.PACKET_TYPE >>> 3)] = tl; // PACKET_TYPE 0, PKT_LEN
      u32[(h >>> 2) + (MBUF.DATA_LEN >>> 2)] = size; // and VLAN_TCI = 0
    }
    const st = this.st;
    f64[st + STAT_PACKETS] += n;
    f64[st + STAT_OCTETS] += n * size;
    return n;
  }
}

class NullTx implements TxQueue {
  private readonly mbufs: Mbufs;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly st: number;
  /** The pool the last burst went back to (header offset), and its Mempool. */
  private poolOff = -1;
  private pool: Mempool | undefined;

  constructor(port: Port, q: number) {
    this.mbufs = new Mbufs(port.eal);
    this.u32 = port.u32;
    this.f64 = port.f64;
    this.st = port.statIdx(false, q);
  }

  /**
   * Free the burst. Fast path (rte_pktmbuf_free_bulk's common case): every mbuf a lone
   * segment (NEXT 0) with refcnt 1 from one pool → one putBulk of the caller's array.
   * Anything else (chains, shared mbufs, mixed pools) goes through Mbufs.freeBulk.
   */
  txBurst(handles: Uint32Array, n: number): number {
    if (n === 0) return 0;
    const u32 = this.u32;
    const pool = u32[(handles[0]! + MBUF.POOL) >>> 2]!;
    let bytes = 0;
    let plain = true;
    for (let i = 0; i < n; i++) {
      const w = handles[i]! >>> 2;
      bytes += u32[w + (MBUF.PKT_LEN >>> 2)]!;
      // DATA_OFF|REFCNT word: refcnt is the high half.
      if ((u32[w + (MBUF.DATA_OFF >>> 2)]! >>> 16) !== 1 || u32[w + (MBUF.NEXT >>> 2)] !== 0 || u32[w + (MBUF.POOL >>> 2)] !== pool) plain = false;
    }
    if (plain) {
      if (pool !== this.poolOff) {
        this.pool = this.mbufs.poolAt(pool);
        this.poolOff = pool;
      }
      this.pool!.putBulk(handles, n);
    } else {
      this.mbufs.freeBulk(handles, n);
    }
    const f64 = this.f64;
    const st = this.st;
    f64[st + STAT_PACKETS] += n;
    f64[st + STAT_OCTETS] += bytes;
    return n;
  }
}

class NullPort implements DriverPort {
  constructor(private readonly port: Port) {}

  rxQueue(q: number, pool: PktmbufPool): RxQueue {
    return new NullRx(this.port, q, pool, this.port.drv(0));
  }

  txQueue(q: number): TxQueue {
    return new NullTx(this.port, q);
  }
}

export const netNull: NetDriver = {
  name: 'net_null',
  args: { size: `bytes per received packet, 1..65535 (default ${DEFAULT_SIZE})` },
  probe(port: Port, args: Devargs): void {
    port.setDrv(0, args.int(port.name, 'size', DEFAULT_SIZE, 1, 65535));
  },
  open(port: Port): DriverPort {
    return new NullPort(port);
  },
};
