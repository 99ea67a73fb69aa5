/**
 * net_memif RX in copy mode (`MemifRx`, both roles), and what every memif RX queue shares
 * (`MemifRxQueue`: its pool, interrupt arming). The zero-copy RX is memif-zc.ts; the
 * mapping and the ring table are memif-queue.ts.
 *
 *   server  reads the C2S ring's head (acquire), copies each packet out of the client's
 *           buffers (descriptor checked: region, offset + length, room in the mbuf),
 *           stores tail (release)
 *   client  reads the S2C ring's tail (acquire), copies out of its own buffers, then posts
 *           every free slot again (its own offsets, never read back) and stores head
 *
 * Interrupts (memif's interrupt mode):
 *   intrArm     clear MASK_INT in the RX ring's flags, re-check the producer counter
 *   intrDisarm  set MASK_INT again, drain the eventfd
 */
import { STAT_ERRORS, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS, type Port, type RxQueue } from '../../ethdev/driver.js';
import { MBUF, type PktmbufPool } from '../../mbuf/mbuf.js';
import { INTR_DOWN, INTR_NONE, INTR_PENDING } from '../../eal/idle.js';
import { eventfdDrain } from '../../native/libc.js';
import { DESC, DESC_FLAG_NEXT, RING, RING_FLAG_MASK_INT } from './memif-proto.js';
import { BURST_MAX, copyBytes, MemifQueue } from './memif-queue.js';

/** What every memif RX queue shares: its pool and memif's interrupt mode. */
export abstract class MemifRxQueue extends MemifQueue implements RxQueue {
  protected readonly pool: PktmbufPool;

  constructor(port: Port, q: number, pool: PktmbufPool) {
    super(port, q, true);
    this.pool = pool;
  }

  abstract rxBurst(handles: Uint32Array, n: number, rec?: number): number;

  /**
   * Interrupt mode (memif's): clear MASK_INT in our RX ring's flags so that the peer's TX
   * signals the ring's eventfd, then look at the producer's counter once more (both are
   * seq-cst Atomics, so with an mpdk peer — store counter, then load flags — one of us sees
   * the other). Link down (or this queue has no ring on this connection): INTR_DOWN;
   * no eventfd: INTR_NONE (the caller sleeps a fixed time).
   */
  intrArm(): number {
    if (!this.ready()) return INTR_DOWN; // re-checked at the end of the sleep (≤ wakeMaxMs)
    if (this.intfd < 0) return INTR_NONE;
    const ru16 = this.ringU16;
    const fi = (this.ringOff + RING.FLAGS) >>> 1;
    Atomics.store(ru16, fi, ru16[fi]! & ~RING_FLAG_MASK_INT);
    const prod = this.ringCounter(this.server ? RING.HEAD : RING.TAIL);
    return prod !== this.last ? INTR_PENDING : this.intfd;
  }

  /** Back to polling: MASK_INT set again (not after a disconnect: not the peer's memory), signal consumed. */
  intrDisarm(): void {
    if (!this.up || this.intfd < 0) return;
    if (this.u32[this.connIdx] === this.conn) {
      const ru16 = this.ringU16;
      const fi = (this.ringOff + RING.FLAGS) >>> 1;
      Atomics.store(ru16, fi, ru16[fi]! | RING_FLAG_MASK_INT);
    }
    eventfdDrain(this.intfd);
  }
}

/** Copy-mode RX queue (either role). */
export class MemifRx extends MemifRxQueue {
  private readonly mb = new Uint32Array(BURST_MAX);
  /** Client: region offset of this ring's first buffer. */
  private bufBase = 0;

  /**
   * Start from the counters this side owns, as the last user of the queue left them (0
   * at connect; another process may have used the queue on this connection before us).
   * Client RX refills every free slot at each burst (and the control thread posted them
   * all at link up), so what it has consumed is head − size.
   */
  protected attach(): boolean {
    if (this.server) this.last = this.ringCounter(RING.TAIL);
    else {
      this.bufBase = this.clientBufBase();
      this.head = this.ringCounter(RING.HEAD);
      this.last = (this.head - this.size) & 0xffff;
    }
    return true;
  }

  rxBurst(handles: Uint32Array, n: number, rec = -1): number {
    if (!this.ready()) return 0;
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    // client: the server advanced tail; server: the client advanced head
    const prod = Atomics.load(ru16, (ro + (this.server ? RING.HEAD : RING.TAIL)) >>> 1);
    let cur = this.last;
    let avail = (prod - cur) & 0xffff;
    const f64 = this.f64;
    const st = this.st;
    if (avail === 0) {
      if (!this.server) this.refill();
      return 0;
    }
    if (avail > this.size) {
      f64[st + STAT_ERRORS] += 1; // the peer's counter is corrupt: take nothing
      return 0;
    }
    let k = avail < n ? avail : n;
    if (k > BURST_MAX) k = BURST_MAX;
    // Straight into the caller's array, in one recorded get (driver.ts contract).
    if (this.pool.allocBulk(handles, k, rec) === 0) {
      f64[st + STAT_NOMBUF] += k;
      return 0;
    }
    const u32 = this.u32;
    const u16 = this.u16;
    const u8 = this.u8;
    const i32 = this.i32;
    const mask = this.mask;
    const nreg = this.nreg;
    const portId = this.port.id;
    let got = 0;
    let bytes = 0;
    let errors = 0;
    while (got < k && avail > 0) {
      const m = handles[got]!;
      const dst = u32[(m + MBUF.BUF_OFF) >>> 2]! + u16[(m + MBUF.DATA_OFF) >>> 1]!;
      const room = u16[(m + MBUF.BUF_LEN) >>> 1]! - u16[(m + MBUF.DATA_OFF) >>> 1]!;
      const start = cur;
      const startAvail = avail;
      let len = 0;
      let ok = true;
      let complete = false;
      while (avail > 0) {
        const d = ro + RING.DESC + ((cur & mask) << 4);
        const flags = ru16[(d + DESC.FLAGS) >>> 1]!;
        const region = ru16[(d + DESC.REGION) >>> 1]!;
        const length = ru32[(d + DESC.LENGTH) >>> 2]!;
        const offset = ru32[(d + DESC.OFFSET) >>> 2]!;
        cur = (cur + 1) & 0xffff;
        avail--;
        if (ok) {
          if (region >= nreg || offset + length > this.rSize[region]! || len + length > room) ok = false;
          else {
            copyBytes(u8, i32, dst + len, this.rU8[region]!, this.rI32[region]!, offset, length);
            len += length;
          }
        }
        if ((flags & DESC_FLAG_NEXT) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        cur = start; // the rest of this chain is not posted yet
        avail = startAvail;
        break;
      }
      if (!ok) {
        errors++;
        continue; // the mbuf is reused for the next packet
      }
      u16[(m + MBUF.DATA_LEN) >>> 1] = len;
      u32[(m + MBUF.PKT_LEN) >>> 2] = len;
      u16[(m + MBUF.PORT) >>> 1] = portId;
      got++; // m is handles[got] already
      bytes += len;
    }
    if (got < k) {
      const mb = this.mb; // the unfilled ones, back in one put
      for (let i = got; i < k; i++) mb[i - got] = handles[i]!;
      this.pool.freeBulk(mb, k - got);
    }
    this.last = cur;
    if (this.server) Atomics.store(ru16, (ro + RING.TAIL) >>> 1, cur);
    else this.refill();
    if (errors > 0) f64[st + STAT_ERRORS] += errors;
    if (got > 0) {
      f64[st + STAT_PACKETS] += got;
      f64[st + STAT_OCTETS] += bytes;
    }
    return got;
  }

  /** Client: post every free slot back to the server (full-size buffers at our offsets). */
  private refill(): void {
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const lim = (this.last + this.size) & 0xffff;
    let h = this.head;
    if (h === lim) return;
    const mask = this.mask;
    const bsize = this.bsize;
    const base = this.bufBase;
    while (h !== lim) {
      const s = h & mask;
      const d = ro + RING.DESC + (s << 4);
      ru16[(d + DESC.FLAGS) >>> 1] = 0;
      ru16[(d + DESC.REGION) >>> 1] = 0;
      ru32[(d + DESC.LENGTH) >>> 2] = bsize;
      ru32[(d + DESC.OFFSET) >>> 2] = base + s * bsize;
      h = (h + 1) & 0xffff;
    }
    this.head = h;
    Atomics.store(ru16, (ro + RING.HEAD) >>> 1, h);
  }
}
