/**
 * net_memif burst paths (copy mode): RX and TX queue objects of one thread. Each reads
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
 */
import fs from 'node:fs';
import { STAT_ERRORS, STAT_NOMBUF, STAT_OCTETS, STAT_PACKETS, type Port, type RxQueue, type TxQueue } from '../../ethdev/driver.js';
import { MBUF, Mbufs, type PktmbufPool } from '../../mbuf/mbuf.js';
import { eventfdSignal, mapFd, unmap, type Mapping } from '../../native/libc.js';
import { DESC, DESC_FLAG_NEXT, regionLayout, RING, RING_FLAG_MASK_INT, ringBytes } from './memif-proto.js';
import { MIF, mifRingAt, ROLE_SERVER } from './memif-control.js';

const BURST_MAX = 256;

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
  private readonly connIdx: number;
  private conn = -1;
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
  protected intfd = -1;
  /** Our counter: RX the next slot to read, TX the next slot to fill. */
  protected last = 0;
  /** Client RX: head as we last stored it. */
  protected head = 0;

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
  }

  /** Is the link usable for this queue? Re-maps when the connection changed (cold). */
  protected ready(): boolean {
    if (this.u32[this.connIdx] !== this.conn) this.rebind();
    return this.up;
  }

  private release(): void {
    this.up = false;
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
    if (Atomics.load(this.u32, this.connIdx) !== conn) {
      this.release(); // it changed while we mapped: the fds may not have been these
      this.conn = -1;
      return;
    }
    this.nreg = nreg;
    const log2 = r.u32At(at + 8);
    this.ringOff = r.u32At(at + 4);
    if (region >= nreg || this.ringOff + ringBytes(log2) > this.rSize[region]!) return;
    this.ringU16 = new Uint16Array(this.maps[region]!.buffer, 0, this.rSize[region]! >>> 1);
    this.ringU32 = new Uint32Array(this.maps[region]!.buffer, 0, this.rSize[region]! >>> 2);
    this.size = 1 << log2;
    this.mask = this.size - 1;
    this.bsize = r.u32At(mif + MIF.RUN_BSIZE);
    this.intfd = pid === process.pid ? r.i32[(at + 12) >>> 2]! : -1;
    if (!this.server) {
      const nC2S = r.u32At(mif + MIF.RUN_C2S);
      const nS2C = r.u32At(mif + MIF.RUN_S2C);
      const lay = regionLayout(nC2S, nS2C, log2, this.bsize);
      this.bufBase = lay.bufOffset + ((this.c2s ? 0 : nC2S) + this.q) * this.size * this.bsize;
    }
    this.last = 0;
    this.head = 0;
    this.up = true;
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
    const sent = this.server ? this.txServer(handles, n) : this.txClient(handles, n);
    if (sent > 0) {
      this.mbufs.freeBulk(handles, sent);
      if (this.intfd >= 0 && (this.ringU16[(this.ringOff + RING.FLAGS) >>> 1]! & RING_FLAG_MASK_INT) === 0) eventfdSignal(this.intfd);
    }
    if (sent < n) f64[st + STAT_ERRORS] += n - sent;
    return sent;
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
