/**
 * net_memif's queues: what every RX and TX queue object does around its bursts. A queue
 * object belongs to one thread. It reads MIF.CONN (memif-table.ts) once per burst; when it
 * changed, the queue drops its mappings and maps the regions of the new connection itself
 * (in the control process straight from the fd; in another process through
 * /proc/<pid>/fd/<fd>), then checks CONN again (the invariant in memif-table.ts) before
 * touching them. The bursts themselves are elsewhere, copy and zero-copy apart:
 *
 *   file            class        role     path
 *   memif-rx.ts     MemifRx      both     copy RX (server: from the client's buffers;
 *                                         client: from its own, refilled every burst)
 *   memif-tx.ts     MemifTx      both     copy TX (client: into its own buffers;
 *                                         server: into the buffers the client posted)
 *   memif-zc.ts     MemifRxZc    client   zero-copy RX: posts mbufs, hands them up filled
 *                   MemifTxZc    client   zero-copy TX: lends mbufs until the server read them
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
 * Interrupts (memif's interrupt mode; IdlePolicy drives it, eal/idle.ts): each ring has one
 * eventfd, created by the client and passed to the server. Every queue keeps its OWN copy
 * (dup in the control process, pidfd_getfd from it in any other: /proc/<pid>/fd cannot
 * reopen an eventfd), taken at rebind and closed with the mappings, so a disconnect that
 * closes the control thread's descriptors never leaves a queue signalling a reused number.
 */
import fs from 'node:fs';
import type { Port } from '../../ethdev/driver.js';
import { closeFd, dupFd, mapFd, takeFdOf, unmap, type Mapping } from '../../native/libc.js';
import { Bytes } from '../../net/bytes.js';
import type { Mempool } from '../../mempool/mempool.js';
import { Lent } from '../../ownership/lent.js';
import { RING, ringBytes, regionLayout } from './memif-proto.js';
import { MIF, MIF_NO_RING, MIF_RING, mifRingAt, ROLE_SERVER } from './memif-table.js';

/** Most packets one RX burst takes. */
export const BURST_MAX = 256;

/** Is port's queue a zero-copy one (a client with zero-copy=yes)? */
export function isZeroCopy(port: Port): boolean {
  const r = port.eal.region;
  const mif = port.drv(0);
  return r.u32At(mif + MIF.ROLE) !== ROLE_SERVER && r.u32At(mif + MIF.ZC) === 1;
}

const EMPTY_U8 = new Uint8Array(0);
const EMPTY_U16 = new Uint16Array(0);
export const EMPTY_U32 = new Uint32Array(0);

export abstract class MemifQueue {
  protected readonly port: Port;
  protected readonly q: number;
  protected readonly mif: number;
  protected readonly server: boolean;
  /** The ring this queue uses: C2S for client TX / server RX. */
  protected readonly c2s: boolean;
  protected readonly st: number;
  protected readonly u32: Uint32Array;
  protected readonly u16: Uint16Array;
  /** The EAL region (mbufs; a zero-copy queue's own memif region) as copyBytes reads and writes it. */
  protected readonly bytes: Bytes;
  protected readonly f64: Float64Array;
  protected readonly connIdx: number;
  protected conn = -1;
  protected up = false;
  private maps: Mapping[] = [];
  /** The connection's memif regions, as copyBytes works through them. */
  protected rBytes: Bytes[] = [];
  protected rSize: number[] = [];
  protected nreg = 0;
  /** The ring's region as u16 / u32 views, and the ring's byte offset in it. */
  protected ringU16 = EMPTY_U16;
  protected ringU32 = EMPTY_U32;
  protected ringOff = 0;
  protected log2 = 0;
  protected size = 0;
  protected mask = 0;
  protected bsize = 0;
  /** This process's copy of the ring's eventfd (-1: none); closed when the mappings go. */
  protected intfd = -1;
  /** A warning about this queue was logged (each is logged once). */
  protected warned = false;
  /** Our counter: RX the next slot to read, TX the next slot to fill. */
  protected last = 0;
  /** Client RX: head as we last stored it. Zero-copy TX: the first slot whose mbuf is not yet freed. */
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
    this.bytes = new Bytes(r.u8);
    this.f64 = r.f64;
    this.connIdx = (this.mif + MIF.CONN) >>> 2;
  }

  /**
   * The queue is bound to a new connection: mappings made, ring, size, mask and bsize set.
   * Set this side's counters; false keeps the queue down until the next connection.
   */
  protected abstract attach(): boolean;

  /** The mappings are about to go (rebind or close). */
  protected detach(): void {
    /* nothing by default */
  }

  /** Is memif region `i` our own EAL region (zero-copy), which needs no mapping? */
  protected ownRegion(_i: number): boolean {
    return false;
  }

  /** Is the link usable for this queue? Re-maps when the connection changed (cold). */
  protected ready(): boolean {
    if (this.u32[this.connIdx] !== this.conn) this.rebind();
    return this.up;
  }

  /** The connection this queue was bound to is over (CONN moved on, or down). */
  protected connectionOver(): boolean {
    const c = this.u32[this.connIdx]!;
    return (c & 1) === 0 || c !== this.conn;
  }

  /** Copy mode, client: region offset of this ring's first buffer (its slots' buffers follow). */
  protected clientBufBase(): number {
    const r = this.port.eal.region;
    const nC2S = r.u32At(this.mif + MIF.RUN_C2S);
    const nS2C = r.u32At(this.mif + MIF.RUN_S2C);
    const lay = regionLayout(nC2S, nS2C, this.log2, this.bsize);
    return lay.bufOffset + ((this.c2s ? 0 : nC2S) + this.q) * this.size * this.bsize;
  }

  protected warn(msg: string): void {
    this.port.eal.log('warning', `${this.port.name}: ${msg}`);
  }

  /**
   * Zero-copy attach: which mbuf is in which slot is known only to the process that lent
   * it, so a ring another process used on this connection (counters not both 0) stays
   * down here until the next one.
   */
  protected untouchedRing(what: string): boolean {
    if (this.ringCounter(RING.HEAD) === 0 && this.ringCounter(RING.TAIL) === 0) return true;
    if (!this.warned) this.warn(`${what} queue ${this.q} was used by another process on this connection; it resumes at the next connection`);
    this.warned = true;
    return false;
  }

  /**
   * A zero-copy queue's lent record for this connection (lent.ts: guarded by the connection
   * word and its controlling process), or undefined when it cannot be made (warned once:
   * the queue stays down until the next connection). `what`: 'zero-copy RX' / 'zero-copy TX'.
   */
  protected openLent(what: string, pool: Mempool | undefined, kind: number): Lent | undefined {
    const r = this.port.eal.region;
    try {
      return Lent.open(this.port.eal, this.size, pool, { word: this.mif + MIF.CONN, value: this.conn, pid: r.i32[(this.mif + MIF.CTL_PID) >>> 2]! }, kind);
    } catch (e) {
      if (!this.warned) this.warn(`${what} queue ${this.q} cannot record the buffers it would lend (${(e as Error).message}): it stays down until the next connection`);
      this.warned = true;
      return undefined;
    }
  }

  /** A counter (RING.HEAD / RING.TAIL) of our ring, with acquire. */
  protected ringCounter(at: number): number {
    return Atomics.load(this.ringU16, (this.ringOff + at) >>> 1);
  }

  private release(): void {
    this.detach();
    this.up = false;
    if (this.intfd >= 0) closeFd(this.intfd);
    this.intfd = -1;
    this.ringU16 = EMPTY_U16;
    this.ringU32 = EMPTY_U32;
    this.rBytes = [];
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
    const region = r.u32At(at + MIF_RING.REGION);
    if (region === MIF_NO_RING) return; // the peer has no ring for this queue
    const pid = r.i32[(mif + MIF.CTL_PID) >>> 2]!;
    const nreg = r.u32At(mif + MIF.NB_REGIONS);
    try {
      for (let i = 0; i < nreg; i++) {
        const ra = mif + MIF.REGIONS + i * MIF.REGION_BYTES;
        const fd = r.i32[ra >>> 2]!;
        const size = r.f64[(ra + 8) >>> 3]!;
        if (this.ownRegion(i)) {
          // our own EAL region: already mapped (we never read it as a memif region anyway)
          this.rBytes.push(this.bytes);
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
        this.rBytes.push(new Bytes(new Uint8Array(m.buffer)));
        this.rSize.push(size);
      }
    } catch {
      this.release();
      this.conn = -1;
      return;
    }
    // Our own copy of the ring's eventfd (the control thread closes its own at disconnect).
    const ifd = r.i32[(at + MIF_RING.INTFD) >>> 2]!;
    if (ifd >= 0) {
      try {
        this.intfd = pid === process.pid ? dupFd(ifd) : takeFdOf(pid, ifd);
      } catch (e) {
        if (!this.warned) this.warn(`queue ${this.q} cannot take the ring's interrupt fd from pid ${pid} (${(e as Error).message}): it polls, and its peer is not woken`);
        this.warned = true;
      }
    }
    if (Atomics.load(this.u32, this.connIdx) !== conn) {
      this.release(); // it changed while we mapped: the fds may not have been these
      this.conn = -1;
      return;
    }
    this.nreg = nreg;
    const log2 = r.u32At(at + MIF_RING.LOG2);
    this.ringOff = r.u32At(at + MIF_RING.OFFSET);
    if (region >= nreg || this.ringOff + ringBytes(log2) > this.rSize[region]!) return;
    this.ringU16 = new Uint16Array(this.rBytes[region]!.u8.buffer as ArrayBuffer, 0, this.rSize[region]! >>> 1);
    this.ringU32 = new Uint32Array(this.rBytes[region]!.u8.buffer as ArrayBuffer, 0, this.rSize[region]! >>> 2);
    this.log2 = log2;
    this.size = 1 << log2;
    this.mask = this.size - 1;
    this.bsize = r.u32At(mif + MIF.RUN_BSIZE);
    this.up = this.attach();
  }

  close(): void {
    this.release();
  }
}
