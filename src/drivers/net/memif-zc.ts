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
 * Which mbuf sits in which slot is the queue's own, kept in its lent record in shared
 * memory (src/ownership/lent.ts: the audit counts those buffers, reclaimDead returns them
 * exactly after a death at any instruction of a burst or of the later free; TX's slots
 * hold chain heads, their segments lent with them). Either way the peer's writes to
 * descriptors can never make us free or hand up a buffer we did not lend. The lent mbufs
 * go back to their pool when the queue leaves a connection that is over (rebind, close
 * after the disconnect); a queue closed while the link is still up leaves them lent (the
 * peer may still use them), with a log line: they stay in its record, which reclaimDead
 * returns once the connection is over and the lender is gone.
 * Only the process that lent uses the slots: a ring another process used on this
 * connection stays down here until the next connection.
 */
import { STAT_ERRORS, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS } from '../../ethdev/driver.js';
import { DESC, DESC_FLAG_NEXT, RING } from './memif-proto.js';
import { EMPTY_U32 } from './memif-queue.js';
import { MemifRxQueue } from './memif-rx.js';
import { MemifTxQueue } from './memif-tx.js';
import { LENT_RX, LENT_TX, type Lent } from '../../ownership/lent.js';
import { RunPutter } from '../../ownership/freeing.js';
import { TEST_HOOK, hookStop } from '../../eal/test-hook.js';

/** The memif region that is the EAL region (region 0 holds the rings). */
const ZC_REGION = 1;
/** Zero-copy RX posts mbufs once this many slots are free (DPDK's threshold). */
const ZC_REFILL_MIN = 32;

const liveWarning = (q: number, rx: boolean): string => `zero-copy ${rx ? 'RX' : 'TX'} queue ${q} closed on a live connection: its mbufs stay lent to the peer (recorded: reclaimed once the connection is over and this process is gone)`;

/** Test hooks (read once; nothing when unset): stop inside a zero-copy RX burst so a test can SIGKILL us there. */
const HOOK = TEST_HOOK;
const HOOK_TAKE = HOOK === 'memif-zc:take'; // heads written to the receiver's array, bad segments staged, CONS not stored
const HOOK_LEND = HOOK === 'memif-zc:lend'; // the first lending's get done, the slots not yet recorded (HEAD)
const HOOK_REFILL = HOOK === 'memif-zc:refill'; // after a take: the refill's get done (if any), HEAD not stored
const HOOK_POST = HOOK === 'memif-zc:post'; // after a take: HEAD stored, the refill's get record not cleared
const HOOK_SEND = HOOK === 'memif-zc:send'; // TX: the burst's slots written, the handover (Lent.sent) not stored
const HOOK_RECYCLE = HOOK === 'memif-zc:recycle'; // TX: the read packets' segments in FRESH, LAST past them, not yet put
const HOOK_FREED = HOOK === 'memif-zc:freed'; // TX: their free done, not yet closed (Lent.freed)

/**
 * Zero-copy client RX queue. Which mbuf sits in which slot is in its lent record (lent.ts,
 * shared memory: the audit and reclaimDead see the buffers it lent, exactly, at any
 * instruction): the slots [last, head), the bad packets' segments staged to be lent again,
 * a refill's get. A burst received through a Hands record hands its packets over with one
 * store (Lent.handOver, which that record's window reads: lent.ts take).
 */
export class MemifRxZc extends MemifRxQueue {
  private rec: Lent | undefined;
  private slots: Uint32Array = EMPTY_U32;
  private bad: Uint32Array = EMPTY_U32;
  private fresh: Uint32Array = EMPTY_U32;
  /** Bad segments staged (the record's NBAD as we stored it). */
  private nbad = 0;

  protected override ownRegion(i: number): boolean {
    return i >= ZC_REGION;
  }

  protected attach(): boolean {
    if (!this.untouchedRing('zero-copy RX')) return false;
    this.rec = this.openLent('zero-copy RX', this.pool.mp, LENT_RX);
    if (!this.rec) return false;
    this.slots = this.rec.slots;
    this.bad = this.rec.bad;
    this.fresh = this.rec.fresh;
    this.nbad = 0;
    this.last = 0;
    this.head = 0;
    this.refill(false); // lend the whole ring at once: the server may send at once
    return true;
  }

  protected override detach(): void {
    const rec = this.rec;
    if (!rec) return;
    const live = !this.connectionOver();
    if (live) this.warn(liveWarning(this.q, true));
    rec.close(this.last, this.head, this.nbad, live);
    this.rec = undefined;
    this.slots = this.bad = this.fresh = EMPTY_U32;
  }

  /**
   * The server wrote into the mbufs we posted; hand them up as they are (a chain when the
   * packet spans slots). Only the LENGTH of each descriptor is the server's to write and
   * it is checked against the mbuf's room; which mbuf a slot holds comes from our own
   * record, never from the ring (a peer that rewrites a posted descriptor's region or
   * offset changes nothing here). The server may fill only what we posted: tail more than
   * head − last ahead is refused (one ierror, nothing taken). A bad packet (too long for
   * its mbufs) counts one ierror; its mbufs are lent again. `rec`: the SNAP word of the
   * receiving Hands window (driver.ts), which then names our record (Lent.take).
   */
  rxBurst(handles: Uint32Array, n: number, rec = -1): number {
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
    if (avail === 0) {
      if (this.head !== ((cur + this.size) & 0xffff)) this.refill(false); // a lending the pool could not serve
      return 0;
    }
    const lent = this.rec!;
    if (rec >= 0) lent.take(rec);
    const slots = this.slots;
    const mask = this.mask;
    const mb = this.pool;
    const portId = this.port.id;
    const bad = this.bad;
    let nbad = this.nbad;
    let errors = 0;
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
      if (!ok || segs > 0xffff) {
        // Staged to be lent again, each segment alone (still lent until handOver).
        for (let sl = cur; sl !== end; sl = (sl + 1) & 0xffff) {
          const m = slots[sl & mask]!;
          mb.setNext(m, 0);
          bad[nbad++] = m;
        }
        errors++;
        cur = end;
        continue;
      }
      cur = end;
      mb.setNbSegs(first, segs);
      mb.setPktLen(first, len);
      mb.setPort(first, portId);
      handles[got++] = first;
      bytes += len;
    }
    if (nbad !== this.nbad) lent.setBad(nbad);
    if (HOOK_TAKE) hookStop('memif-zc:take');
    lent.handOver(got, cur); // the handover: one store
    this.last = cur;
    this.nbad = nbad;
    this.refill(true);
    if (errors > 0) f64[st + STAT_ERRORS] += errors;
    if (got > 0) {
      f64[st + STAT_PACKETS] += got;
      f64[st + STAT_OCTETS] += bytes;
    }
    return got;
  }

  /**
   * Lend mbufs to the free slots: the staged bad ones, then fresh ones of the pool (once at
   * least 32 are free, as DPDK), got into the record's FRESH by one recorded get. `after`:
   * a take came first (test hooks).
   */
  private refill(after: boolean): void {
    const want = (this.last + this.size - this.head) & 0xffff;
    const nb = this.nbad;
    let fresh = want - nb;
    if (fresh < ZC_REFILL_MIN && want < this.size) fresh = 0;
    if (nb + fresh === 0) return;
    const lent = this.rec!;
    if (fresh > 0 && this.pool.allocBulk(this.fresh, fresh, lent.getIdx) === 0) {
      this.f64[this.st + STAT_NOMBUF] += fresh;
      fresh = 0;
      lent.lent(); // the failed get's record cleared (nb > 0: they are still staged, and posted below)
      if (nb === 0) return;
    }
    if (after ? HOOK_REFILL : HOOK_LEND && fresh > 0) hookStop(after ? 'memif-zc:refill' : 'memif-zc:lend');
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const mb = this.pool;
    const slots = this.slots;
    const bad = this.bad;
    const fr = this.fresh;
    const mask = this.mask;
    let h = this.head;
    for (let i = 0; i < nb + fresh; i++) {
      const m = i < nb ? bad[i]! : fr[i - nb]!;
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
    lent.posted(h);
    if (after && HOOK_POST) hookStop('memif-zc:post');
    lent.lent();
    this.nbad = 0;
    this.head = h;
    Atomics.store(ru16, (ro + RING.HEAD) >>> 1, h);
  }
}

/**
 * Zero-copy client TX queue. Which mbufs are lent is in its lent record (lent.ts, a sender's:
 * shared memory, exact at any instruction): SLOTS [LAST, HEAD) hold each packet's head on
 * its last slot (0 on the others); a send through a Hands record lends with one store that
 * counts the packets (Lent.sent: the record's window reads it, lent.ts take); the segments of
 * the packets the server has read are copied to FRESH and LAST moved past them in one step
 * (Lent.freeing), then put back run by run, recorded (Lent.putFreed), the free closed (Lent.freed).
 */
export class MemifTxZc extends MemifTxQueue {
  readonly lends = true;
  private rec: Lent | undefined;
  private slots: Uint32Array = EMPTY_U32;
  private fresh: Uint32Array = EMPTY_U32;
  private putter: RunPutter | undefined;

  protected override ownRegion(i: number): boolean {
    return i >= ZC_REGION;
  }

  protected attach(): boolean {
    if (!this.untouchedRing('zero-copy TX')) return false;
    this.putter ??= new RunPutter(this.port.eal, this.mbufs);
    this.rec = this.openLent('zero-copy TX', undefined, LENT_TX);
    if (!this.rec) return false;
    this.slots = this.rec.slots;
    this.fresh = this.rec.fresh;
    this.last = 0;
    this.head = 0;
    return true;
  }

  protected override detach(): void {
    const rec = this.rec;
    if (!rec) return;
    const live = !this.connectionOver();
    if (live) this.warn(liveWarning(this.q, false));
    else this.recycle(this.last); // every lent packet back, recorded
    rec.close(this.head, this.last, 0, live);
    this.rec = undefined;
    this.slots = this.fresh = EMPTY_U32;
  }

  /**
   * Free the packets of slots [head, upto) (the server read them, or the connection is
   * over): the segments they give back flattened into FRESH and LAST moved past them (one
   * step: Lent.freeing), the chains cut, the segments put back run by run, each recorded
   * (Lent.putFreed), the free closed.
   */
  private recycle(upto: number): void {
    const slots = this.slots;
    const fr = this.fresh;
    const mask = this.mask;
    const mb = this.mbufs;
    let k = 0;
    for (let sl = this.head; sl !== upto; sl = (sl + 1) & 0xffff) {
      const m = slots[sl & mask]!;
      if (m !== 0) k = mb.collectFreed(m, fr, k);
    }
    const lent = this.rec!;
    lent.freeing(k, upto);
    this.head = upto;
    if (k === 0) return;
    mb.unlinkFreed(fr, k);
    if (HOOK_RECYCLE) hookStop('memif-zc:recycle');
    lent.putFreed(this.putter!, k);
    if (HOOK_FREED) hookStop('memif-zc:freed');
    lent.freed();
  }

  /**
   * Free the mbufs of the slots the server has read (tail), then lend the new packets'
   * segments, one slot each (NEXT between the segments of a packet). A tail beyond what
   * we lent is refused (one oerror, nothing sent). `rec` (a Hands window's SNAP word, or
   * −1): named before anything is lent (Lent.take).
   */
  protected fill(handles: Uint32Array, n: number, rec: number): number {
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const mask = this.mask;
    const slots = this.slots;
    const tail = Atomics.load(ru16, (ro + RING.TAIL) >>> 1);
    let head = this.last;
    const done = (tail - this.head) & 0xffff; // this.head: the first slot not yet freed
    if (done > ((head - this.head) & 0xffff)) {
      this.f64[this.st + STAT_ERRORS] += 1;
      return 0;
    }
    if (done > 0) this.recycle(tail);
    const lent = this.rec!;
    if (rec >= 0) lent.take(rec);
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
      if (HOOK_SEND) hookStop('memif-zc:send');
      lent.sent(sent, head); // the handover: one store
      this.last = head;
      Atomics.store(ru16, (ro + RING.HEAD) >>> 1, head);
      this.f64[this.st + STAT_PACKETS] += sent;
      this.f64[this.st + STAT_OCTETS] += bytes;
    }
    return sent;
  }
}
