/**
 * net_memif zero-copy queues (a client with zero-copy=yes; the server side is the same
 * copy code whatever the client does). Descriptors name (region 1 = the EAL region file,
 * BUF_OFF + DATA_OFF) of an mbuf, so nothing is copied on our side.
 *
 *   MemifRxZc   lend fresh mbufs of the queue's pool to every free slot (at bind, then
 *               whenever ≥ 32 are free); a filled slot's mbuf goes up as it is, its length
 *               from the descriptor (checked against the mbuf's room), chains linked
 *   MemifTxZc   each segment of a packet takes a slot (NEXT between them); the packet is
 *               freed, chain and all, when the server's tail passes its last slot
 *
 * Which mbuf sits in which slot is in `Lending.slots`, private to this object: the peer's
 * writes to descriptors can never make us free or hand up a buffer we did not lend. The
 * lent mbufs go back to their pool when the queue leaves a connection that is over
 * (rebind, close after the disconnect); a queue closed while the link is still up leaves
 * them lent (the peer may still write into them), with a log line. Only the process that
 * lent knows the slots: a ring another process used on this connection stays down here
 * until the next connection.
 */
import { STAT_ERRORS, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS } from '../../ethdev/driver.js';
import { DESC, DESC_FLAG_NEXT, RING } from './memif-proto.js';
import { EMPTY_U32 } from './memif-queue.js';
import { MemifRxQueue } from './memif-rx.js';
import { MemifTxQueue } from './memif-tx.js';

/** The memif region that is the EAL region (region 0 holds the rings). */
const ZC_REGION = 1;
/** Zero-copy RX posts mbufs once this many slots are free (DPDK's threshold). */
const ZC_REFILL_MIN = 32;

/**
 * The mbufs a zero-copy queue lent, per slot (RX: posted buffers, slots [last, head);
 * TX: a packet's head mbuf on its last slot, 0 on the others, slots [head, last)), and a
 * scratch of the same size for bulk alloc / free. Empty while the queue is down.
 */
class Lending {
  slots = EMPTY_U32;
  scratch = EMPTY_U32;

  begin(size: number): void {
    this.slots = new Uint32Array(size);
    this.scratch = new Uint32Array(size);
  }

  /**
   * The queue leaves its connection: `collect` gathers the lent mbufs into scratch and
   * `free` gives them back, if the connection is over; on a live one they stay lent.
   */
  end(over: boolean, collect: () => number, free: (a: Uint32Array, k: number) => void, warn: () => void): void {
    if (this.slots.length > 0) {
      if (over) {
        const k = collect();
        if (k > 0) free(this.scratch, k);
      } else warn();
    }
    this.slots = EMPTY_U32;
    this.scratch = EMPTY_U32;
  }
}

const liveWarning = (q: number): string => `zero-copy queue ${q} closed on a live connection: its mbufs stay lent to the peer (lost to their pool)`;

/** Zero-copy client RX queue. */
export class MemifRxZc extends MemifRxQueue {
  private readonly lent = new Lending();

  protected override ownRegion(i: number): boolean {
    return i >= ZC_REGION;
  }

  protected attach(): boolean {
    if (!this.untouchedRing('zero-copy RX')) return false;
    this.lent.begin(this.size);
    this.last = 0;
    this.head = 0;
    this.refill(); // lend the whole ring at once: the server may send at once
    return true;
  }

  protected override detach(): void {
    this.lent.end(this.connectionOver(), () => {
      let k = 0;
      for (let sl = this.last; sl !== this.head; sl = (sl + 1) & 0xffff) this.lent.scratch[k++] = this.lent.slots[sl & this.mask]!;
      return k;
    }, (a, k) => this.pool.freeBulk(a, k), () => this.warn(liveWarning(this.q)));
  }

  /**
   * The server wrote into the mbufs we posted; hand them up as they are (a chain when the
   * packet spans slots). Only the LENGTH of each descriptor is the server's to write and
   * it is checked against the mbuf's room; which mbuf a slot holds comes from our own
   * `slots`, never from the ring. The server may fill only what we posted: tail more than
   * head − last ahead is refused (one ierror, nothing taken).
   */
  rxBurst(handles: Uint32Array, n: number): number {
    if (!this.ready()) return 0;
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const tail = Atomics.load(ru16, (ro + RING.TAIL) >>> 1);
    let cur = this.last;
    let avail = (tail - cur) & 0xffff;
    const f64 = this.f64;
    const st = this.st;
    if (avail > ((this.head - cur) & 0xffff)) {
      f64[st + STAT_ERRORS] += 1;
      return 0;
    }
    const slots = this.lent.slots;
    const mask = this.mask;
    const mb = this.pool;
    const portId = this.port.id;
    const bad = this.lent.scratch;
    let nbad = 0;
    let got = 0;
    let bytes = 0;
    while (got < n && avail > 0) {
      let end = cur; // find the packet's last slot: a chain not wholly posted waits
      let left = avail;
      let complete = false;
      while (left > 0) {
        const fl = ru16[(ro + RING.DESC + ((end & mask) << 4) + DESC.FLAGS) >>> 1]!;
        end = (end + 1) & 0xffff;
        left--;
        if ((fl & DESC_FLAG_NEXT) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      let first = 0;
      let prev = 0;
      let segs = 0;
      let len = 0;
      let ok = true;
      for (let sl = cur; sl !== end; sl = (sl + 1) & 0xffff) {
        const m = slots[sl & mask]!;
        const length = ru32[(ro + RING.DESC + ((sl & mask) << 4) + DESC.LENGTH) >>> 2]!;
        if (length > mb.bufLen(m) - mb.dataOff(m)) ok = false;
        mb.setDataLen(m, length);
        mb.setNext(m, 0);
        if (prev === 0) first = m;
        else mb.setNext(prev, m);
        prev = m;
        segs++;
        len += length;
      }
      avail -= (end - cur) & 0xffff;
      cur = end;
      if (!ok || segs > 0xffff) {
        bad[nbad++] = first; // freed below, chain and all
        continue;
      }
      mb.setNbSegs(first, segs);
      mb.setPktLen(first, len);
      mb.setPort(first, portId);
      handles[got++] = first;
      bytes += len;
    }
    this.last = cur;
    if (nbad > 0) {
      this.pool.freeBulk(bad, nbad);
      f64[st + STAT_ERRORS] += nbad;
    }
    this.refill();
    if (got > 0) {
      f64[st + STAT_PACKETS] += got;
      f64[st + STAT_OCTETS] += bytes;
    }
    return got;
  }

  /** Lend fresh mbufs to every free slot (once at least 32 are free, as DPDK). */
  private refill(): void {
    const want = (this.last + this.size - this.head) & 0xffff;
    if (want === 0 || (want < ZC_REFILL_MIN && want < this.size)) return;
    const fresh = this.lent.scratch;
    if (this.pool.allocBulk(fresh, want) === 0) {
      this.f64[this.st + STAT_NOMBUF] += want;
      return;
    }
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const mb = this.pool;
    const slots = this.lent.slots;
    const mask = this.mask;
    let h = this.head;
    for (let i = 0; i < want; i++) {
      const m = fresh[i]!;
      const sl = h & mask;
      const d = ro + RING.DESC + (sl << 4);
      const off = mb.dataOff(m);
      slots[sl] = m;
      ru16[(d + DESC.FLAGS) >>> 1] = 0;
      ru16[(d + DESC.REGION) >>> 1] = ZC_REGION;
      ru32[(d + DESC.LENGTH) >>> 2] = mb.bufLen(m) - off;
      ru32[(d + DESC.OFFSET) >>> 2] = mb.bufOffset(m) + off;
      h = (h + 1) & 0xffff;
    }
    this.head = h;
    Atomics.store(ru16, (ro + RING.HEAD) >>> 1, h);
  }
}

/** Zero-copy client TX queue. */
export class MemifTxZc extends MemifTxQueue {
  protected readonly lends = true;
  private readonly lent = new Lending();

  protected override ownRegion(i: number): boolean {
    return i >= ZC_REGION;
  }

  protected attach(): boolean {
    if (!this.untouchedRing('zero-copy TX')) return false;
    this.lent.begin(this.size);
    this.last = 0;
    this.head = 0;
    return true;
  }

  protected override detach(): void {
    this.lent.end(this.connectionOver(), () => {
      let k = 0;
      for (let sl = this.head; sl !== this.last; sl = (sl + 1) & 0xffff) {
        const m = this.lent.slots[sl & this.mask]!;
        if (m !== 0) this.lent.scratch[k++] = m;
      }
      return k;
    }, (a, k) => this.mbufs.freeBulk(a, k), () => this.warn(liveWarning(this.q)));
  }

  /**
   * Free the mbufs of the slots the server has read (tail), then lend the new packets'
   * segments, one slot each (NEXT between the segments of a packet). A tail beyond what
   * we lent is refused (one oerror, nothing sent).
   */
  protected fill(handles: Uint32Array, n: number): number {
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const mask = this.mask;
    const slots = this.lent.slots;
    const tail = Atomics.load(ru16, (ro + RING.TAIL) >>> 1);
    let head = this.last;
    const done = (tail - this.head) & 0xffff; // this.head: the first slot not yet freed
    if (done > ((head - this.head) & 0xffff)) {
      this.f64[this.st + STAT_ERRORS] += 1;
      return 0;
    }
    if (done > 0) {
      const fr = this.lent.scratch;
      let k = 0;
      for (let sl = this.head; sl !== tail; sl = (sl + 1) & 0xffff) {
        const m = slots[sl & mask]!;
        if (m !== 0) fr[k++] = m;
      }
      if (k > 0) this.mbufs.freeBulk(fr, k);
      this.head = tail;
    }
    let free = this.size - ((head - tail) & 0xffff);
    const mb = this.mbufs;
    let sent = 0;
    let bytes = 0;
    while (sent < n) {
      const h = handles[sent]!;
      let segs = 0;
      for (let seg = h; seg !== 0; seg = mb.next(seg)) segs++;
      if (segs > free) break;
      for (let seg = h; seg !== 0; ) {
        const next = mb.next(seg);
        const sl = head & mask;
        const d = ro + RING.DESC + (sl << 4);
        ru16[(d + DESC.FLAGS) >>> 1] = next !== 0 ? DESC_FLAG_NEXT : 0;
        ru16[(d + DESC.REGION) >>> 1] = ZC_REGION;
        ru32[(d + DESC.LENGTH) >>> 2] = mb.dataLen(seg);
        ru32[(d + DESC.OFFSET) >>> 2] = mb.dataOffset(seg);
        slots[sl] = next !== 0 ? 0 : h; // freed, chain and all, when its last slot is read
        head = (head + 1) & 0xffff;
        seg = next;
      }
      free -= segs;
      bytes += mb.pktLen(h);
      sent++;
    }
    if (sent > 0) {
      this.last = head;
      Atomics.store(ru16, (ro + RING.HEAD) >>> 1, head);
      this.f64[this.st + STAT_PACKETS] += sent;
      this.f64[this.st + STAT_OCTETS] += bytes;
    }
    return sent;
  }
}
