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
 * RX per packet: mbuf.ts MbufRx.setFixedBulk, the fields of rte_pktmbuf_reset that matter on a
 * pool mbuf in 4 stores (the second cache line is not touched), done in the same pass as the
 * copy out of the lcore's mempool cache (Mempool.zcGet, MbufRx.takeFixedBulk). When the pool cannot
 * supply the whole burst, nothing is received and rx_nombuf grows by n (as DPDK's null
 * PMD: all or nothing). TX: Mbufs.freeBulk (one putBulk of the caller's array when every
 * mbuf is a lone, unshared segment of one pool).
 */
import { MpdkError } from '../../eal/errors.js';
import { Devargs, Port, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS, type DriverPort, type NetDriver, type RxQueue, type TxQueue } from '../../ethdev/driver.js';
import { MbufRx, Mbufs, type PktmbufPool } from '../../mbuf/mbuf.js';
import type { Mempool } from '../../mempool/mempool.js';

const DEFAULT_SIZE = 64;

class NullRx implements RxQueue {
  private readonly mp: Mempool;
  private readonly rx: MbufRx;
  private readonly f64: Float64Array;
  private readonly st: number;
  private readonly size: number;

  constructor(port: Port, q: number, pool: PktmbufPool, size: number) {
    this.mp = pool.mp;
    this.f64 = port.f64;
    this.st = port.statIdx(true, q);
    this.size = size;
    this.rx = new MbufRx(pool, port.id, size);
    if (size > this.rx.room) {
      throw new MpdkError('EINVAL', `${port.name}: size=${size} does not fit the ${this.rx.room}-byte data room of pool '${pool.name}'; use a smaller size or a pool with a larger data room`);
    }
  }

  rxBurst(handles: Uint32Array, n: number, rec = -1): number {
    const mp = this.mp;
    const at = mp.zcGet(n, rec); // rec: the ownership record's get (driver.ts)
    if (at >= 0) {
      this.rx.takeFixedBulk(mp.cacheSlots, at, handles, n); // one pass: copy out and stamp
      mp.zcGetCommit(n);
    } else if (mp.getBulk(handles, n, rec) === n) {
      this.rx.setFixedBulk(handles, n);
    } else {
      this.f64[this.st + STAT_NOMBUF] += n;
      return 0;
    }
    const f64 = this.f64;
    const st = this.st;
    f64[st + STAT_PACKETS] += n;
    f64[st + STAT_OCTETS] += n * this.size;
    return n;
  }
}

class NullTx implements TxQueue {
  private readonly mbufs: Mbufs;
  private readonly f64: Float64Array;
  private readonly st: number;

  constructor(port: Port, q: number) {
    this.mbufs = new Mbufs(port.eal);
    this.f64 = port.f64;
    this.st = port.statIdx(false, q);
  }

  /** Free the burst (Mbufs.freeBulk: its common case is one putBulk of `handles`). */
  txBurst(handles: Uint32Array, n: number): number {
    if (n === 0) return 0;
    const bytes = this.mbufs.freeBulk(handles, n);
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

/** The `size=` of a net_null vdev; EINVAL out of range. */
function sizeOf(vdev: string, args: Devargs): number {
  return args.int(vdev, 'size', DEFAULT_SIZE, 1, 65535);
}

export const netNull: NetDriver = {
  name: 'net_null',
  args: { size: `bytes per received packet, 1..65535 (default ${DEFAULT_SIZE})` },
  checkArgs(vdev: string, args: Devargs): void {
    sizeOf(vdev, args);
  },
  probe(port: Port, args: Devargs): void {
    port.setDrv(0, sizeOf(port.name, args));
  },
  open(port: Port): DriverPort {
    return new NullPort(port);
  },
  /** Nothing of a net_null port lives outside its entry: it can be detached at any time. */
  remove(): void {},
};
