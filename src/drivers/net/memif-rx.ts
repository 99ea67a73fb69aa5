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
import { MbufRx, type PktmbufPool } from '../../mbuf/mbuf.js';
import { INTR_DOWN, INTR_NONE, INTR_PENDING } from '../../eal/idle.js';
import { eventfdDrain } from '../../native/libc.js';
import { DESC, DESC_FLAG_NEXT, RING, RING_FLAG_MASK_INT } from './memif-proto.js';
import { copyBytes } from '../../net/bytes.js';
import { BURST_MAX, MemifQueue } from './memif-queue.js';
import { TEST_HOOK, hookStop, hookSigstop } from '../../eal/test-hook.js';

/**
 * Test hook (read once): a copy-mode burst through one getBulk stops itself (SIGSTOP) after
 * its get, so the test, as a faulty peer, can rewrite the descriptors it counted; after the
 * unfilled mbufs went back it stops for good (the test SIGKILLs it there).
 */
const HOOK_REWRITE = TEST_HOOK === 'memif:rewrite';

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
  private readonly rx: MbufRx;
  /** Client: region offset of this ring's first buffer. */
  private bufBase = 0;
  /** countPackets's answer besides its count: the consumer position after what it read, and the bad packets in it. */
  private scanCur = 0;
  private scanBad = 0;

  constructor(port: Port, q: number, pool: PktmbufPool) {
    super(port, q, pool);
    this.rx = new MbufRx(pool, port.id);
  }

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

  /**
   * The mbufs: from this lcore's cache in place (Mempool.zcGet), committed once the packets
   * are in them; else (no cache, a burst larger than it, a debug pool) exactly as many as
   * the posted packets need (countPackets), in one getBulk. One recorded get either way and
   * nothing given back, so an ownership record's POOL_GET window is exact (hands.ts). A
   * chain not wholly posted waits for the next burst.
   */
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
    const rx = this.rx;
    const room = rx.room;
    const mp = this.pool.mp;
    const at = mp.zcGet(k, rec);
    let from = handles;
    let base = 0;
    let step = 1;
    if (at >= 0) {
      from = mp.cacheSlots;
      base = at;
      step = -1;
    } else {
      k = this.countPackets(cur, avail, k, room);
      if (k > 0 && mp.getBulk(handles, k, rec) !== k) {
        f64[st + STAT_NOMBUF] += k;
        return 0;
      }
      if (HOOK_REWRITE && k > 0) hookSigstop('memif:rewrite', 'paused');
    }
    const mask = this.mask;
    const nreg = this.nreg;
    let got = 0;
    let bytes = 0;
    let errors = 0;
    while (got < k && avail > 0) {
      const m = from[base + step * got]!;
      const dst = rx.dataAt(m);
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
            copyBytes(this.rBytes[region]!, offset, this.bytes, dst + len, length);
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
      rx.set(m, len, 0, 0, 0);
      handles[got++] = m;
      bytes += len;
    }
    if (at >= 0) mp.zcGetCommit(got, rec); // handles[0..got) are ours from this store on
    else if (got === k) {
      // Past the bad packets after the last good one countPackets read (no mbuf needed for them).
      if (((this.scanCur - this.last) & 0xffff) > ((cur - this.last) & 0xffff)) cur = this.scanCur;
      errors = this.scanBad;
    } else {
      // The peer rewrote posted descriptors between countPackets and the copy (only a
      // faulty peer does): the unfilled mbufs, handles[got .. k) as the get left them, go
      // back recorded (the get's record holds [0 .. got) after: Mempool.putBackRecorded).
      mp.holdRecorded(rec, k);
      mp.putBackRecorded(handles.subarray(got), k - got, rec, got);
      if (HOOK_REWRITE) hookStop('memif:rewrite');
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

  /**
   * How many good packets (whole chains whose descriptors pass rxBurst's checks and fit
   * `room`) the posted descriptors from `cur` hold, at most `k`: what rxBurst's loop will
   * fill. scanCur / scanBad: where that loop ends (after the bad packets that follow the
   * last good one, before a chain not wholly posted) and the bad packets it passes.
   */
  private countPackets(cur: number, avail: number, k: number, room: number): number {
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const mask = this.mask;
    let good = 0;
    let bad = 0;
    let end = cur;
    while (good < k && avail > 0) {
      let len = 0;
      let ok = true;
      let complete = false;
      while (avail > 0) {
        const d = ro + RING.DESC + ((cur & mask) << 4);
        const region = ru16[(d + DESC.REGION) >>> 1]!;
        const length = ru32[(d + DESC.LENGTH) >>> 2]!;
        cur = (cur + 1) & 0xffff;
        avail--;
        if (ok && (region >= this.nreg || ru32[(d + DESC.OFFSET) >>> 2]! + length > this.rSize[region]! || len + length > room)) ok = false;
        else len += length;
        if ((ru16[(d + DESC.FLAGS) >>> 1]! & DESC_FLAG_NEXT) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      if (ok) good++;
      else bad++;
      end = cur;
    }
    this.scanCur = end;
    this.scanBad = bad;
    return good;
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
