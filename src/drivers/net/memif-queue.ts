/**
 * net_memif burst paths (copy and zero-copy modes): RX and TX queue objects of one thread. Each reads
 * MIF.CONN (memif-control.ts) once per burst; when it changed, the queue drops its
 * mappings and maps the regions of the new connection itself (in the control process
 * straight from the fd; in another process through /proc/<pid>/fd/<fd>), then checks
 * CONN again (see the invariant in memif-control.ts) before touching them.
 *
 *   queue        ring (memif-proto.ts)    this side reads        this side writes
 *   client RX q  S2C q, our region         tail (acquire)         head (release) + refill
 *   client TX q  C2S q, our region         tail (acquire)         descs, head (release)
 *   server RX q  C2S q, peer's region      head (acquire), descs  tail (release)
 *   server TX q  S2C q, peer's region      head (acquire), descs  descs' length, tail
 *
 * Our own counters (last head/tail) are kept in the queue object, never re-read from
 * shared memory, so a peer scribbling over them cannot make us walk off a ring. Every
 * descriptor the peer can write is checked before use: region index, offset + length
 * inside that region, length inside the mbuf; a bad one is skipped (RX) or ends the burst
 * (TX) and counts one ierror/oerror. A ring whose counters are more than its size apart
 * is refused the same way. Nothing is allocated per burst; one Atomics load + one store
 * per burst on the ring, one plain load of CONN.
 *
 * Zero-copy (client with MIF.ZC; the server side is the same copy code whatever the
 * client does): descriptors name (region 1 = the EAL region file, BUF_OFF + DATA_OFF) of
 * an mbuf, so nothing is copied on our side.
 *   client RX    lend fresh mbufs of the queue's pool to every free slot (at bind, then
 *                whenever ≥ 32 are free); a filled slot's mbuf goes up as it is, its length
 *                from the descriptor (checked against the mbuf's room), chains linked
 *   client TX    each segment of a packet takes a slot (NEXT between them); the packet is
 *                freed, chain and all, when the server's tail passes its last slot
 * Which mbuf sits in which slot is in `slots`, private to this object: the peer's writes
 * to descriptors can never make us free or hand up a buffer we did not lend. The lent
 * mbufs go back to their pool when the queue leaves a connection that is over (rebind,
 * close after the disconnect); a queue closed while the link is still up leaves them lent
 * (the peer may still write into them), with a log line.
 *
 * Interrupts (memif's interrupt mode; IdlePolicy drives it, eal/idle.ts): each ring has one
 * eventfd, created by the client and passed to the server. Every queue keeps its OWN copy
 * (dup in the control process, pidfd_getfd from it in any other: /proc/<pid>/fd cannot
 * reopen an eventfd), taken at rebind and closed with the mappings, so a disconnect that
 * closes the control thread's descriptors never leaves a queue signalling a reused number.
 *   RX intrArm     clear MASK_INT in the RX ring's flags, re-check the producer counter
 *   RX intrDisarm  set MASK_INT again, drain the eventfd
 *   TX burst       after storing the counter: if the ring's MASK_INT is clear, signal
 */
import fs from 'node:fs';
import { STAT_ERRORS, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS, type Port, type RxQueue, type TxQueue } from '../../ethdev/driver.js';
import { MBUF, Mbufs, type PktmbufPool } from '../../mbuf/mbuf.js';
import { INTR_DOWN, INTR_NONE, INTR_PENDING } from '../../eal/idle.js';
import { closeFd, dupFd, eventfdDrain, eventfdSignal, mapFd, takeFdOf, unmap, type Mapping } from '../../native/libc.js';
import { DESC, DESC_FLAG_NEXT, regionLayout, RING, RING_FLAG_MASK_INT, ringBytes } from './memif-proto.js';
import { MIF, mifRingAt, ROLE_SERVER } from './memif-control.js';

const BURST_MAX = 256;
/** Zero-copy: the memif region that is the EAL region (region 0 holds the rings). */
const ZC_REGION = 1;
/** Zero-copy RX posts mbufs once this many slots are free (DPDK's threshold). */
const ZC_REFILL_MIN = 32;

/** Copy len bytes between two mappings (word copy when both ends are 4-aligned). */
function copyBytes(dU8: Uint8Array, dI32: Int32Array, d: number, sU8: Uint8Array, sI32: Int32Array, s: number, len: number): void {
  if (((d | s) & 3) === 0) {
    const w = len >>> 2;
    const di = d >>> 2;
    const si = s >>> 2;
    for (let i = 0; i < w; i++) dI32[di + i] = sI32[si + i]!;
    for (let i = w << 2; i < len; i++) dU8[d + i] = sU8[s + i]!;
  } else {
    for (let i = 0; i < len; i++) dU8[d + i] = sU8[s + i]!;
  }
}

const EMPTY_U8 = new Uint8Array(0);
const EMPTY_I32 = new Int32Array(0);
const EMPTY_U16 = new Uint16Array(0);
const EMPTY_U32 = new Uint32Array(0);

abstract class MemifQueue {
  protected readonly port: Port;
  protected readonly q: number;
  protected readonly mif: number;
  protected readonly server: boolean;
  /** The ring this queue uses: C2S for client TX / server RX. */
  protected readonly c2s: boolean;
  protected readonly st: number;
  protected readonly u32: Uint32Array;
  protected readonly u16: Uint16Array;
  protected readonly u8: Uint8Array;
  protected readonly i32: Int32Array;
  protected readonly f64: Float64Array;
  protected readonly connIdx: number;
  protected conn = -1;
  protected up = false;
  private maps: Mapping[] = [];
  protected rU8: Uint8Array[] = [];
  protected rI32: Int32Array[] = [];
  protected rSize: number[] = [];
  protected nreg = 0;
  /** The ring's region as u16 / u32 views, and the ring's byte offset in it. */
  protected ringU16 = EMPTY_U16;
  protected ringU32 = EMPTY_U32;
  protected ringOff = 0;
  protected size = 0;
  protected mask = 0;
  protected bsize = 0;
  /** Client: region offset of this ring's first buffer (its slots' buffers follow). */
  protected bufBase = 0;
  /** This process's copy of the ring's eventfd (-1: none); closed when the mappings go. */
  protected intfd = -1;
  private warned = false;
  /** Our counter: RX the next slot to read, TX the next slot to fill. */
  protected last = 0;
  /** Client RX: head as we last stored it. Zero-copy TX: the first slot whose mbuf is not yet freed. */
  protected head = 0;
  /** Client in zero-copy mode: descriptors name mbufs of the EAL region (memif region 1). */
  protected readonly zc: boolean;
  /**
   * Zero-copy: the mbuf lent to each slot, private to this process (RX: posted buffers,
   * slots [last, head); TX: a packet's head mbuf on its last slot, 0 on the others,
   * slots [head, last)). Also a scratch of the same size for bulk alloc / free.
   */
  protected slots = EMPTY_U32;
  protected scratch = EMPTY_U32;

  constructor(port: Port, q: number, rx: boolean) {
    const r = port.eal.region;
    this.port = port;
    this.q = q;
    this.mif = port.drv(0);
    this.server = r.u32At(this.mif + MIF.ROLE) === ROLE_SERVER;
    this.c2s = rx === this.server;
    this.st = port.statIdx(rx, q);
    this.u32 = r.u32;
    this.u16 = new Uint16Array(r.buffer);
    this.u8 = r.u8;
    this.i32 = r.i32;
    this.f64 = r.f64;
    this.connIdx = (this.mif + MIF.CONN) >>> 2;
    this.zc = !this.server && r.u32At(this.mif + MIF.ZC) === 1;
  }

  /** Zero-copy: give back the mbufs still lent to the ring (the connection is over). */
  protected abstract releaseLent(): void;

  /** Called once the queue is bound to a new connection (zero-copy RX posts its mbufs). */
  protected bound(): void {
    /* nothing by default */
  }

  /** Is the link usable for this queue? Re-maps when the connection changed (cold). */
  protected ready(): boolean {
    if (this.u32[this.connIdx] !== this.conn) this.rebind();
    return this.up;
  }

  private release(): void {
    if (this.slots.length > 0) {
      // Lent mbufs go back only once the connection is over: on a live one (a process
      // closing its queue while the link stays up) the peer may still write into them,
      // so they stay lent (lost to the pool) rather than be reused under its writes.
      if ((this.u32[this.connIdx]! & 1) === 0 || this.u32[this.connIdx] !== this.conn) this.releaseLent();
      else this.port.eal.log('warning', `${this.port.name}: zero-copy queue ${this.q} closed on a live connection: its mbufs stay lent to the peer (lost to their pool)`);
    }
    this.slots = EMPTY_U32;
    this.scratch = EMPTY_U32;
    this.up = false;
    if (this.intfd >= 0) closeFd(this.intfd);
    this.intfd = -1;
    this.ringU16 = EMPTY_U16;
    this.ringU32 = EMPTY_U32;
    this.rU8 = [];
    this.rI32 = [];
    this.rSize = [];
    this.nreg = 0;
    for (const m of this.maps) unmap(m);
    this.maps = [];
  }

  private rebind(): void {
    const r = this.port.eal.region;
    const conn = Atomics.load(this.u32, this.connIdx);
    this.release();
    this.conn = conn;
    if ((conn & 1) === 0) return;
    const mif = this.mif;
    const at = mifRingAt(mif, this.c2s, this.q);
    const region = r.u32At(at);
    if (region === 0xffffffff) return; // the peer has no ring for this queue
    const pid = r.i32[(mif + MIF.CTL_PID) >>> 2]!;
    const nreg = r.u32At(mif + MIF.NB_REGIONS);
    try {
      for (let i = 0; i < nreg; i++) {
        const ra = mif + MIF.REGIONS + i * MIF.REGION_BYTES;
        const fd = r.i32[ra >>> 2]!;
        const size = r.f64[(ra + 8) >>> 3]!;
        if (this.zc && i >= 1) {
          // our own EAL region: already mapped (we never read it as a memif region anyway)
          this.rU8.push(this.u8);
          this.rI32.push(this.i32);
          this.rSize.push(size);
          continue;
        }
        let m: Mapping;
        if (pid === process.pid) m = mapFd(fd, size);
        else {
          const f = fs.openSync(`/proc/${pid}/fd/${fd}`, 'r+');
          try {
            m = mapFd(f, size);
          } finally {
            fs.closeSync(f);
          }
        }
        this.maps.push(m);
        this.rU8.push(new Uint8Array(m.buffer));
        this.rI32.push(new Int32Array(m.buffer, 0, size >>> 2));
        this.rSize.push(size);
      }
    } catch {
      this.release();
      this.conn = -1;
      return;
    }
    // Our own copy of the ring's eventfd (the control thread closes its own at disconnect).
    const ifd = r.i32[(at + 12) >>> 2]!;
    if (ifd >= 0) {
      try {
        this.intfd = pid === process.pid ? dupFd(ifd) : takeFdOf(pid, ifd);
      } catch (e) {
        if (!this.warned) this.port.eal.log('warning', `${this.port.name}: queue ${this.q} cannot take the ring's interrupt fd from pid ${pid} (${(e as Error).message}): it polls, and its peer is not woken`);
        this.warned = true;
      }
    }
    if (Atomics.load(this.u32, this.connIdx) !== conn) {
      this.release(); // it changed while we mapped: the fds may not have been these
      this.conn = -1;
      return;
    }
    this.nreg = nreg;
    const log2 = r.u32At(at + 8);
    this.ringOff = r.u32At(at + 4);
    if (region >= nreg || this.ringOff + ringBytes(log2) > this.rSize[region]!) return;
    this.ringU16 = new Uint16Array(this.rU8[region]!.buffer as ArrayBuffer, 0, this.rSize[region]! >>> 1);
    this.ringU32 = new Uint32Array(this.rU8[region]!.buffer as ArrayBuffer, 0, this.rSize[region]! >>> 2);
    this.size = 1 << log2;
    this.mask = this.size - 1;
    this.bsize = r.u32At(mif + MIF.RUN_BSIZE);
    if (!this.server) {
      const nC2S = r.u32At(mif + MIF.RUN_C2S);
      const nS2C = r.u32At(mif + MIF.RUN_S2C);
      const lay = regionLayout(nC2S, nS2C, log2, this.bsize);
      this.bufBase = lay.bufOffset + ((this.c2s ? 0 : nC2S) + this.q) * this.size * this.bsize;
    }
    // Start from the counters this side owns, as the last user of the queue left them (0
    // at connect; another process may have used the queue on this connection before us).
    // Client RX refills every free slot at each burst (and the control thread posted them
    // all at link up), so what it has consumed is head − size.
    const ru16 = this.ringU16;
    const ro = this.ringOff;
    if (this.zc) {
      // Which mbuf is in which slot is known only to the process that lent it: a ring
      // another process used on this connection stays down here until the next one.
      if (Atomics.load(ru16, (ro + RING.HEAD) >>> 1) !== 0 || Atomics.load(ru16, (ro + RING.TAIL) >>> 1) !== 0) {
        if (!this.warned) this.port.eal.log('warning', `${this.port.name}: zero-copy ${this.c2s ? 'TX' : 'RX'} queue ${this.q} was used by another process on this connection; it resumes at the next connection`);
        this.warned = true;
        return;
      }
      this.slots = new Uint32Array(this.size);
      this.scratch = new Uint32Array(this.size);
      this.last = 0;
      this.head = 0;
    } else if (this.server) this.last = Atomics.load(ru16, (ro + RING.TAIL) >>> 1);
    else if (this.c2s) this.last = Atomics.load(ru16, (ro + RING.HEAD) >>> 1);
    else {
      this.head = Atomics.load(ru16, (ro + RING.HEAD) >>> 1);
      this.last = (this.head - this.size) & 0xffff;
    }
    this.up = true;
    this.bound();
  }

  close(): void {
    this.release();
  }
}

export class MemifRx extends MemifQueue implements RxQueue {
  private readonly pool: PktmbufPool;
  private readonly mb = new Uint32Array(BURST_MAX);

  constructor(port: Port, q: number, pool: PktmbufPool) {
    super(port, q, true);
    this.pool = pool;
  }

  rxBurst(handles: Uint32Array, n: number): number {
    if (!this.ready()) return 0;
    if (this.zc) return this.rxZeroCopy(handles, n);
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
    const mb = this.mb;
    if (this.pool.allocBulk(mb, k) === 0) {
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
      const m = mb[got]!;
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
      handles[got++] = m;
      bytes += len;
    }
    if (got < k) {
      mb.copyWithin(0, got, k);
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

  /**
   * Zero-copy client RX: the server wrote into the mbufs we posted; hand them up as they
   * are (a chain when the packet spans slots). Only the LENGTH of each descriptor is the
   * server's to write and it is checked against the mbuf's room; which mbuf a slot holds
   * comes from our own `slots`, never from the ring. The server may fill only what we
   * posted: tail more than head − last ahead is refused (one ierror, nothing taken).
   */
  private rxZeroCopy(handles: Uint32Array, n: number): number {
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
    const slots = this.slots;
    const mask = this.mask;
    const u16 = this.u16;
    const u32 = this.u32;
    const portId = this.port.id;
    const bad = this.scratch;
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
        if (length > u16[(m + MBUF.BUF_LEN) >>> 1]! - u16[(m + MBUF.DATA_OFF) >>> 1]!) ok = false;
        u16[(m + MBUF.DATA_LEN) >>> 1] = length;
        u32[(m + MBUF.NEXT) >>> 2] = 0;
        if (prev === 0) first = m;
        else u32[(prev + MBUF.NEXT) >>> 2] = m;
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
      u16[(first + MBUF.NB_SEGS) >>> 1] = segs;
      u32[(first + MBUF.PKT_LEN) >>> 2] = len;
      u16[(first + MBUF.PORT) >>> 1] = portId;
      handles[got++] = first;
      bytes += len;
    }
    this.last = cur;
    if (nbad > 0) {
      this.pool.freeBulk(bad, nbad);
      f64[st + STAT_ERRORS] += nbad;
    }
    this.refillZeroCopy();
    if (got > 0) {
      f64[st + STAT_PACKETS] += got;
      f64[st + STAT_OCTETS] += bytes;
    }
    return got;
  }

  /** Zero-copy: lend fresh mbufs to every free slot (once at least 32 are free, as DPDK). */
  private refillZeroCopy(): void {
    const want = (this.last + this.size - this.head) & 0xffff;
    if (want === 0 || (want < ZC_REFILL_MIN && want < this.size)) return;
    const mb = this.scratch;
    if (this.pool.allocBulk(mb, want) === 0) {
      this.f64[this.st + STAT_NOMBUF] += want;
      return;
    }
    const ru16 = this.ringU16;
    const ru32 = this.ringU32;
    const ro = this.ringOff;
    const u16 = this.u16;
    const u32 = this.u32;
    const slots = this.slots;
    const mask = this.mask;
    let h = this.head;
    for (let i = 0; i < want; i++) {
      const m = mb[i]!;
      const sl = h & mask;
      const d = ro + RING.DESC + (sl << 4);
      const off = u16[(m + MBUF.DATA_OFF) >>> 1]!;
      slots[sl] = m;
      ru16[(d + DESC.FLAGS) >>> 1] = 0;
      ru16[(d + DESC.REGION) >>> 1] = ZC_REGION;
      ru32[(d + DESC.LENGTH) >>> 2] = u16[(m + MBUF.BUF_LEN) >>> 1]! - off;
      ru32[(d + DESC.OFFSET) >>> 2] = u32[(m + MBUF.BUF_OFF) >>> 2]! + off;
      h = (h + 1) & 0xffff;
    }
    this.head = h;
    Atomics.store(ru16, (ro + RING.HEAD) >>> 1, h);
  }

  protected override bound(): void {
    if (this.zc) this.refillZeroCopy(); // lend the whole ring at once: the server may send at once
  }

  protected releaseLent(): void {
    let k = 0;
    for (let sl = this.last; sl !== this.head; sl = (sl + 1) & 0xffff) this.scratch[k++] = this.slots[sl & this.mask]!;
    if (k > 0) this.pool.freeBulk(this.scratch, k);
  }

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
    const prod = Atomics.load(ru16, (this.ringOff + (this.server ? RING.HEAD : RING.TAIL)) >>> 1);
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

export class MemifTx extends MemifQueue implements TxQueue {
  private readonly mbufs: Mbufs;

  constructor(port: Port, q: number) {
    super(port, q, false);
    this.mbufs = new Mbufs(port.eal);
  }

  txBurst(handles: Uint32Array, n: number): number {
    const f64 = this.f64;
    const st = this.st;
    if (!this.ready()) {
      if (n > 0) f64[st + STAT_ERRORS] += n;
      return 0;
    }
    const sent = this.zc ? this.txZeroCopy(handles, n) : this.server ? this.txServer(handles, n) : this.txClient(handles, n);
    if (sent > 0) {
      if (!this.zc) this.mbufs.freeBulk(handles, sent); // zero-copy: lent until the server is done
      if (this.intfd >= 0 && (this.ringU16[(this.ringOff + RING.FLAGS) >>> 1]! & RING_FLAG_MASK_INT) === 0) eventfdSignal(this.intfd);
    }
    if (sent < n) f64[st + STAT_ERRORS] += n - sent;
    return sent;
  }

  /**
   * Zero-copy client TX: free the mbufs of the slots the server has read (tail), then lend
   * the new packets' segments, one slot each (NEXT between the segments of a packet).
   * A tail beyond what we lent is refused (one oerror, nothing sent).
   */
  private txZeroCopy(handles: Uint32Array, n: number): number {
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
    if (done > 0) {
      const fr = this.scratch;
      let k = 0;
      for (let sl = this.head; sl !== tail; sl = (sl + 1) & 0xffff) {
        const m = slots[sl & mask]!;
        if (m !== 0) fr[k++] = m;
      }
      if (k > 0) this.mbufs.freeBulk(fr, k);
      this.head = tail;
    }
    let free = this.size - ((head - tail) & 0xffff);
    const u16 = this.u16;
    const u32 = this.u32;
    let sent = 0;
    let bytes = 0;
    while (sent < n) {
      const h = handles[sent]!;
      let segs = 0;
      for (let seg = h; seg !== 0; seg = u32[(seg + MBUF.NEXT) >>> 2]!) segs++;
      if (segs > free) break;
      for (let seg = h; seg !== 0; ) {
        const next = u32[(seg + MBUF.NEXT) >>> 2]!;
        const sl = head & mask;
        const d = ro + RING.DESC + (sl << 4);
        ru16[(d + DESC.FLAGS) >>> 1] = next !== 0 ? DESC_FLAG_NEXT : 0;
        ru16[(d + DESC.REGION) >>> 1] = ZC_REGION;
        ru32[(d + DESC.LENGTH) >>> 2] = u16[(seg + MBUF.DATA_LEN) >>> 1]!;
        ru32[(d + DESC.OFFSET) >>> 2] = u32[(seg + MBUF.BUF_OFF) >>> 2]! + u16[(seg + MBUF.DATA_OFF) >>> 1]!;
        slots[sl] = next !== 0 ? 0 : h; // freed, chain and all, when its last slot is read
        head = (head + 1) & 0xffff;
        seg = next;
      }
      free -= segs;
      bytes += u32[(h + MBUF.PKT_LEN) >>> 2]!;
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

  protected releaseLent(): void {
    let k = 0;
    for (let sl = this.head; sl !== this.last; sl = (sl + 1) & 0xffff) {
      const m = this.slots[sl & this.mask]!;
      if (m !== 0) this.scratch[k++] = m;
    }
    if (k > 0) this.mbufs.freeBulk(this.scratch, k);
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
    const u32 = this.u32;
    const u16 = this.u16;
    const u8 = this.u8;
    const i32 = this.i32;
    const bsize = this.bsize;
    const base = this.bufBase;
    const dU8 = this.rU8[0]!;
    const dI32 = this.rI32[0]!;
    let sent = 0;
    let bytes = 0;
    while (sent < n && free > 0) {
      const h = handles[sent]!;
      const pktLen = u32[(h + MBUF.PKT_LEN) >>> 2]!;
      const need = pktLen <= bsize ? 1 : Math.ceil(pktLen / bsize);
      if (need > free) break;
      let s = slot;
      let d = ro + RING.DESC + ((s & mask) << 4);
      let dst = base + (s & mask) * bsize;
      let dOff = 0;
      for (let seg = h; seg !== 0; seg = u32[(seg + MBUF.NEXT) >>> 2]!) {
        let src = u32[(seg + MBUF.BUF_OFF) >>> 2]! + u16[(seg + MBUF.DATA_OFF) >>> 1]!;
        let left = u16[(seg + MBUF.DATA_LEN) >>> 1]!;
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
          copyBytes(dU8, dI32, dst + dOff, u8, i32, src, c);
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
    const u32 = this.u32;
    const u16 = this.u16;
    const u8 = this.u8;
    const i32 = this.i32;
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
      for (let seg = h; seg !== 0; seg = u32[(seg + MBUF.NEXT) >>> 2]!) {
        let src = u32[(seg + MBUF.BUF_OFF) >>> 2]! + u16[(seg + MBUF.DATA_OFF) >>> 1]!;
        let left = u16[(seg + MBUF.DATA_LEN) >>> 1]!;
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
          copyBytes(this.rU8[region]!, this.rI32[region]!, dst + dOff, u8, i32, src, c);
          dOff += c;
          src += c;
          left -= c;
        }
      }
      ru16[(d + DESC.FLAGS) >>> 1] = 0;
      ru32[(d + DESC.LENGTH) >>> 2] = dOff;
      free -= used;
      slot = (s + 1) & 0xffff;
      bytes += u32[(h + MBUF.PKT_LEN) >>> 2]!;
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
