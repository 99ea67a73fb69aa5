/**
 * net_memif TX in copy mode (`MemifTx`, both roles), and what every memif TX queue shares
 * (`MemifTxQueue`: the burst's frame: link check, counting, waking the peer). The
 * zero-copy TX is memif-zc.ts; the mapping and the ring table are memif-queue.ts.
 *
 *   client  reads the C2S ring's tail (acquire), copies each packet into its own buffers
 *           (offsets from its layout, never read back; a packet longer than a buffer takes
 *           several slots, NEXT between them), stores head (release)
 *   server  reads the S2C ring's head (acquire), copies into the buffers the client posted
 *           (each descriptor checked: region, offset + room inside it), writes each
 *           descriptor's length, stores tail (release)
 * After the counter store: if the ring's MASK_INT is clear, signal its eventfd (the peer
 * sleeps on it).
 */
import { STAT_ERRORS, STAT_OCTETS, STAT_PACKETS, type Port, type TxQueue } from '../../ethdev/driver.js';
import { Mbufs } from '../../mbuf/mbuf.js';
import { eventfdSignal } from '../../native/libc.js';
import { DESC, DESC_FLAG_NEXT, RING, RING_FLAG_MASK_INT } from './memif-proto.js';
import { copyBytes } from '../../net/bytes.js';
import { MemifQueue } from './memif-queue.js';

/** What every memif TX queue shares: the burst around the ring work of its mode. */
export abstract class MemifTxQueue extends MemifQueue implements TxQueue {
  protected readonly mbufs: Mbufs;
  /** The mode keeps the mbufs it sent (zero-copy: lent until the server read them, recorded: lent.ts). */
  abstract readonly lends: boolean;

  constructor(port: Port, q: number) {
    super(port, q, false);
    this.mbufs = new Mbufs(port.eal);
  }

  /** Put handles[0..r) of n on the ring (the mode's work); returns r. Link known up. `rec`: txBurst's. */
  protected abstract fill(handles: Uint32Array, n: number, rec: number): number;

  txBurst(handles: Uint32Array, n: number, rec = -1): number {
    const f64 = this.f64;
    const st = this.st;
    if (!this.ready()) {
      if (n > 0) f64[st + STAT_ERRORS] += n;
      return 0;
    }
    const sent = this.fill(handles, n, rec);
    if (sent > 0) {
      if (!this.lends) this.mbufs.freeBulk(handles, sent);
      if (this.intfd >= 0 && (this.ringU16[(this.ringOff + RING.FLAGS) >>> 1]! & RING_FLAG_MASK_INT) === 0) eventfdSignal(this.intfd);
    }
    if (sent < n) f64[st + STAT_ERRORS] += n - sent;
    return sent;
  }
}

/** Copy-mode TX queue (either role). */
export class MemifTx extends MemifTxQueue {
  readonly lends = false;
  /** Client: region offset of this ring's first buffer. */
  private bufBase = 0;

  /** Start from the counter this side owns, as the last user of the queue left it (0 at connect). */
  protected attach(): boolean {
    if (this.server) this.last = this.ringCounter(RING.TAIL);
    else {
      this.bufBase = this.clientBufBase();
      this.last = this.ringCounter(RING.HEAD);
    }
    return true;
  }

  protected fill(handles: Uint32Array, n: number): number {
    return this.server ? this.txServer(handles, n) : this.txClient(handles, n);
  }

  /** Client: fill our own buffers (offsets from our layout, never read back). */
  private txClient(handles: Uint32Array, n: number): number {
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const size = this.size;
    const mask = this.mask;
    const tail = Atomics.load(ru16, (ro + RING.TAIL) >>> 1);
    let slot = this.last;
    const inFlight = (slot - tail) & 0xffff;
    if (inFlight > size) {
      this.f64[this.st + STAT_ERRORS] += 1;
      return 0;
    }
    let free = size - inFlight;
    const mb = this.mbufs;
    const bsize = this.bsize;
    const base = this.bufBase;
    const from = this.bytes;
    const to = this.rBytes[0]!;
    let sent = 0;
    let bytes = 0;
    while (sent < n && free > 0) {
      const h = handles[sent]!;
      const pktLen = mb.pktLen(h);
      const need = pktLen <= bsize ? 1 : Math.ceil(pktLen / bsize);
      if (need > free) break;
      let s = slot;
      let d = ro + RING.DESC + ((s & mask) << 4);
      let dst = base + (s & mask) * bsize;
      let dOff = 0;
      for (let seg = h; seg !== 0; seg = mb.next(seg)) {
        let src = mb.dataOffset(seg);
        let left = mb.dataLen(seg);
        while (left > 0) {
          if (dOff === bsize) {
            ru16[(d + DESC.FLAGS) >>> 1] = DESC_FLAG_NEXT;
            ru16[(d + DESC.REGION) >>> 1] = 0;
            ru32[(d + DESC.LENGTH) >>> 2] = bsize;
            ru32[(d + DESC.OFFSET) >>> 2] = dst;
            s = (s + 1) & 0xffff;
            d = ro + RING.DESC + ((s & mask) << 4);
            dst = base + (s & mask) * bsize;
            dOff = 0;
          }
          const c = left < bsize - dOff ? left : bsize - dOff;
          copyBytes(from, src, to, dst + dOff, c);
          dOff += c;
          src += c;
          left -= c;
        }
      }
      ru16[(d + DESC.FLAGS) >>> 1] = 0;
      ru16[(d + DESC.REGION) >>> 1] = 0;
      ru32[(d + DESC.LENGTH) >>> 2] = dOff;
      ru32[(d + DESC.OFFSET) >>> 2] = dst;
      free -= ((s - slot) & 0xffff) + 1;
      slot = (s + 1) & 0xffff;
      bytes += pktLen;
      sent++;
    }
    if (sent > 0) {
      this.last = slot;
      Atomics.store(ru16, (ro + RING.HEAD) >>> 1, slot);
      this.f64[this.st + STAT_PACKETS] += sent;
      this.f64[this.st + STAT_OCTETS] += bytes;
    }
    return sent;
  }

  /** Server: fill the buffers the client posted (each descriptor checked first). */
  private txServer(handles: Uint32Array, n: number): number {
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const mask = this.mask;
    const head = Atomics.load(ru16, (ro + RING.HEAD) >>> 1);
    let slot = this.last;
    let free = (head - slot) & 0xffff;
    if (free > this.size) {
      this.f64[this.st + STAT_ERRORS] += 1;
      return 0;
    }
    const mb = this.mbufs;
    const nreg = this.nreg;
    let sent = 0;
    let bytes = 0;
    let bad = false;
    outer: while (sent < n && free > 0) {
      const h = handles[sent]!;
      let s = slot;
      let used = 1;
      let d = ro + RING.DESC + ((s & mask) << 4);
      let region = ru16[(d + DESC.REGION) >>> 1]!;
      let room = ru32[(d + DESC.LENGTH) >>> 2]!;
      let dst = ru32[(d + DESC.OFFSET) >>> 2]!;
      if (region >= nreg || room === 0 || dst + room > this.rSize[region]!) {
        bad = true;
        break;
      }
      let dOff = 0;
      for (let seg = h; seg !== 0; seg = mb.next(seg)) {
        let src = mb.dataOffset(seg);
        let left = mb.dataLen(seg);
        while (left > 0) {
          if (dOff === room) {
            if (used === free) break outer; // no slot left for the rest of this packet
            ru16[(d + DESC.FLAGS) >>> 1] = DESC_FLAG_NEXT;
            ru32[(d + DESC.LENGTH) >>> 2] = dOff;
            s = (s + 1) & 0xffff;
            used++;
            d = ro + RING.DESC + ((s & mask) << 4);
            region = ru16[(d + DESC.REGION) >>> 1]!;
            room = ru32[(d + DESC.LENGTH) >>> 2]!;
            dst = ru32[(d + DESC.OFFSET) >>> 2]!;
            if (region >= nreg || room === 0 || dst + room > this.rSize[region]!) {
              bad = true;
              break outer;
            }
            dOff = 0;
          }
          const c = left < room - dOff ? left : room - dOff;
          copyBytes(this.bytes, src, this.rBytes[region]!, dst + dOff, c);
          dOff += c;
          src += c;
          left -= c;
        }
      }
      ru16[(d + DESC.FLAGS) >>> 1] = 0;
      ru32[(d + DESC.LENGTH) >>> 2] = dOff;
      free -= used;
      slot = (s + 1) & 0xffff;
      bytes += mb.pktLen(h);
      sent++;
    }
    if (bad) this.f64[this.st + STAT_ERRORS] += 1;
    if (sent > 0) {
      this.last = slot;
      Atomics.store(ru16, (ro + RING.TAIL) >>> 1, slot);
      this.f64[this.st + STAT_PACKETS] += sent;
      this.f64[this.st + STAT_OCTETS] += bytes;
    }
    return sent;
  }
}
