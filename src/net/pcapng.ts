/**
 * pcapng files (the IETF draft "PCAP Next Generation Dump File Format"), written: what
 * `mpdk dumpcap` writes by default, as DPDK's dpdk-dumpcap and Wireshark's dumpcap do.
 * Pure file I/O (FileOut); nothing lives in shared memory. Little-endian, as written on x86.
 *
 *   file = SHB, IDB per interface, then EPBs (packets) and ISBs (statistics), in any order
 *   block   0 TYPE u32, 4 TOTAL_LEN u32, body, options, TOTAL_LEN u32 again (a multiple of 4)
 *   option  CODE u16, LEN u16, value padded to 4; the list ends with code 0 (opt_endofopt)
 *
 *   SHB  0x0A0D0D0A   BYTE_ORDER_MAGIC 1A2B3C4D, MAJOR 1, MINOR 0, SECTION_LEN i64 −1;
 *                     shb_hardware 2, shb_os 3, shb_userappl 4, opt_comment 1
 *   IDB  1            LINKTYPE u16, reserved u16, SNAPLEN u32; if_name 2, if_description 3,
 *                     if_tsresol 9 (one byte: 9 = nanoseconds, what this writer uses),
 *                     if_filter 11 (first byte 0: a libpcap filter string)
 *   EPB  6            IFACE u32, TS_HIGH u32, TS_LOW u32 (ns since 1970 as a u64), CAPLEN u32,
 *                     LEN u32, the bytes padded to 4; epb_flags 2 (bits 0-1: 1 inbound,
 *                     2 outbound), epb_queue 6 (u32: the queue the packet was seen on)
 *   ISB  5            IFACE u32, TS_HIGH u32, TS_LOW u32; isb_starttime 2, isb_endtime 3,
 *                     isb_ifrecv 4, isb_ifdrop 5, isb_filteraccept 6 (u64 each)
 *
 *   who calls what
 *   dumpcap   PcapngWriter.open(path, section) or toFd(1, 'stdout', section);
 *             addInterface(iface) per interface (before its first packet); writePacket per
 *             record; writeStats(iface, ...) before close(); close() flushes
 */
import { MpdkError } from '../eal/errors.js';
import { LINKTYPE_ETHERNET } from './pcap.js';
import { FileOut } from './pcap-out.js';

/** Block types. */
export const PCAPNG_SHB = 0x0a0d0d0a;
/** pcapng block type: Interface Description Block. */
export const PCAPNG_IDB = 1;
/** pcapng block type: Interface Statistics Block. */
export const PCAPNG_ISB = 5;
/** pcapng block type: Enhanced Packet Block (one packet). */
export const PCAPNG_EPB = 6;
/** pcapng block type: Simple Packet Block. */
export const PCAPNG_SPB = 3;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Option codes (a block's own codes start at 2; 0 ends the list, 1 is a comment in every block). */
export const OPT = {
  END: 0, COMMENT: 1,
  SHB_HARDWARE: 2, SHB_OS: 3, SHB_USERAPPL: 4,
  IF_NAME: 2, IF_DESCRIPTION: 3, IF_TSRESOL: 9, IF_FILTER: 11, IF_OS: 12,
  EPB_FLAGS: 2, EPB_QUEUE: 6,
  ISB_STARTTIME: 2, ISB_ENDTIME: 3, ISB_IFRECV: 4, ISB_IFDROP: 5, ISB_FILTERACCEPT: 6,
} as const;

/** epb_flags direction bits (0 = not known). */
export const EPB_INBOUND = 1;
/** epb_flags direction: sent by the interface (transmitted). */
export const EPB_OUTBOUND = 2;

/** Fixed part of an EPB before the packet bytes: type, length, iface, ts high, ts low, caplen, len. */
const EPB_HLEN = 28;
/** An EPB's options: epb_flags (4 + 4), epb_queue (4 + 4), opt_endofopt (4); then the trailing length. */
const EPB_TAIL = 8 + 8 + 4 + 4;

/** The section header's description of the capture (each a UTF-8 string; absent ones are left out). */
export interface PcapngSection {
  /** shb_hardware: the machine's description. */
  hardware?: string;
  /** shb_os: the operating system. */
  os?: string;
  /** shb_userappl: the writing application. */
  userappl?: string;
  /** A comment on the section. */
  comment?: string;
}

/** One interface (IDB). */
export interface PcapngInterface {
  /** if_name: the interface's name. */
  name?: string;
  /** if_description: a description of it. */
  description?: string;
  /** Default LINKTYPE_ETHERNET. */
  linktype?: number;
  /** Largest caplen written for it (default 262144). */
  snaplen?: number;
  /** The capture filter, as libpcap's expression. */
  filter?: string;
}

/** What an ISB reports about an interface (counts since the capture started). */
export interface PcapngStats {
  /** Capture start and end, ns since 1970 as [seconds, nanoseconds]. */
  start: readonly [number, number];
  /** Capture end, as `start`. */
  end: readonly [number, number];
  /** Packets the interface saw (accepted, filtered out and dropped). */
  ifRecv: number;
  /** Packets lost because the capture could not keep up. */
  ifDrop: number;
  /** Packets the filter accepted. */
  filterAccept: number;
}

const te = new TextEncoder();

/**
 * Streaming pcapng writer (one section). Timestamps are nanoseconds (if_tsresol 9) for
 * every interface. writePacket allocates nothing.
 */
export class PcapngWriter {
  /** The file written, or the name `toFd` was given (`stdout`). */
  readonly path: string;
  /** Packets written. */
  records = 0;
  private readonly out: FileOut;
  private readonly snaplens: number[] = [];
  /** writePacket's timestamp words (ts64 writes them). */
  private tsHi = 0;
  private tsLo = 0;

  private constructor(out: FileOut, section: PcapngSection) {
    this.out = out;
    this.path = out.name;
    const opts: [number, Uint8Array][] = [];
    if (section.comment) opts.push([OPT.COMMENT, te.encode(section.comment)]);
    if (section.hardware) opts.push([OPT.SHB_HARDWARE, te.encode(section.hardware)]);
    if (section.os) opts.push([OPT.SHB_OS, te.encode(section.os)]);
    if (section.userappl) opts.push([OPT.SHB_USERAPPL, te.encode(section.userappl)]);
    const body = new Uint8Array(16);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, PCAPNG_BYTE_ORDER_MAGIC, true);
    dv.setUint16(4, 1, true);
    dv.setUint16(6, 0, true);
    dv.setInt32(8, -1, true); // section length −1: not known (a stream)
    dv.setInt32(12, -1, true);
    this.block(PCAPNG_SHB, body, opts);
  }

  /** Create (or truncate) `path` and write the section header. `mode`: the file's permissions. */
  static open(path: string, section: PcapngSection = {}, mode?: number): PcapngWriter {
    let out: FileOut;
    try {
      out = FileOut.create(path, 1 << 20, mode); // no link followed, no FIFO, not another user's file
    } catch (e) {
      throw new MpdkError((e as MpdkError).code ?? 'EIO', `pcapng ${(e as Error).message}`);
    }
    return new PcapngWriter(out, section);
  }

  /** Write to descriptor `fd` (stdout for `-w -`), named `name` in messages; close() leaves it open. */
  static toFd(fd: number, name: string, section: PcapngSection = {}): PcapngWriter {
    return new PcapngWriter(FileOut.toFd(fd, name), section);
  }

  /** Bytes of the file so far (written or buffered). */
  get bytes(): number {
    return this.out.bytes;
  }

  /** Describe the next interface (IDB); returns its id (0, 1, ...), which packets and statistics name. */
  addInterface(i: PcapngInterface): number {
    const snaplen = i.snaplen ?? 262144;
    const linktype = i.linktype ?? LINKTYPE_ETHERNET;
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0x7fffffff) throw new MpdkError('EINVAL', `pcapng ${this.path}: snaplen ${snaplen} must be a positive integer`);
    const opts: [number, Uint8Array][] = [];
    if (i.name) opts.push([OPT.IF_NAME, te.encode(i.name)]);
    if (i.description) opts.push([OPT.IF_DESCRIPTION, te.encode(i.description)]);
    opts.push([OPT.IF_TSRESOL, Uint8Array.of(9)]);
    if (i.filter) {
      const f = te.encode(i.filter);
      const v = new Uint8Array(1 + f.length); // first byte 0: a libpcap filter string
      v.set(f, 1);
      opts.push([OPT.IF_FILTER, v]);
    }
    const body = new Uint8Array(8);
    const dv = new DataView(body.buffer);
    dv.setUint16(0, linktype, true);
    dv.setUint32(4, snaplen, true);
    this.block(PCAPNG_IDB, body, opts);
    this.snaplens.push(snaplen);
    return this.snaplens.length - 1;
  }

  /**
   * One packet (EPB) of interface `iface`: u8[off, off + caplen) (cut to the interface's
   * snaplen), wire length `len`, time tsSec + tsNs, epb_flags `flags` (EPB_INBOUND /
   * EPB_OUTBOUND; 0 = none) and the queue it was seen on (epb_queue; −1 = none).
   */
  writePacket(iface: number, u8: Uint8Array, off: number, caplen: number, len: number, tsSec: number, tsNs: number, flags: number, queue: number): void {
    const snap = this.snaplens[iface];
    if (snap === undefined) throw new MpdkError('EINVAL', `pcapng ${this.path}: interface ${iface} was not added (it has ${this.snaplens.length})`);
    if (caplen > snap) caplen = snap;
    const pad = (4 - (caplen & 3)) & 3;
    const tail = EPB_TAIL - (flags === 0 ? 8 : 0) - (queue < 0 ? 8 : 0);
    const total = EPB_HLEN + caplen + pad + tail;
    const out = this.out;
    this.ts64(tsSec, tsNs);
    const whole = out.room(total);
    if (!whole) out.room(EPB_HLEN);
    let dv = out.dv;
    let p = out.pos;
    dv.setUint32(p, PCAPNG_EPB, true);
    dv.setUint32(p + 4, total, true);
    dv.setUint32(p + 8, iface, true);
    dv.setUint32(p + 12, this.tsHi, true);
    dv.setUint32(p + 16, this.tsLo, true);
    dv.setUint32(p + 20, caplen, true);
    dv.setUint32(p + 24, len < caplen ? caplen : len, true);
    out.advance(EPB_HLEN);
    out.put(u8, off, caplen);
    if (!whole) out.room(pad + tail);
    dv = out.dv;
    p = out.pos;
    for (let k = 0; k < pad; k++) out.buf[p + k] = 0;
    p += pad;
    if (flags !== 0) {
      dv.setUint32(p, OPT.EPB_FLAGS | (4 << 16), true);
      dv.setUint32(p + 4, flags, true);
      p += 8;
    }
    if (queue >= 0) {
      dv.setUint32(p, OPT.EPB_QUEUE | (4 << 16), true);
      dv.setUint32(p + 4, queue, true);
      p += 8;
    }
    dv.setUint32(p, 0, true); // opt_endofopt
    dv.setUint32(p + 4, total, true);
    out.advance(pad + tail);
    this.records++;
  }

  /** The statistics of interface `iface` (ISB), stamped with the capture's end. */
  writeStats(iface: number, s: PcapngStats): void {
    if (this.snaplens[iface] === undefined) throw new MpdkError('EINVAL', `pcapng ${this.path}: interface ${iface} was not added`);
    const u64 = (v: number): Uint8Array => {
      const b = new Uint8Array(8);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, v % 2 ** 32, true);
      dv.setUint32(4, Math.floor(v / 2 ** 32), true);
      return b;
    };
    const ts = (t: readonly [number, number]): Uint8Array => {
      this.ts64(t[0], t[1]);
      const b = new Uint8Array(8);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, this.tsHi, true);
      dv.setUint32(4, this.tsLo, true);
      return b;
    };
    const body = new Uint8Array(12);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, iface, true);
    body.set(ts(s.end), 4);
    this.block(PCAPNG_ISB, body, [
      [OPT.ISB_STARTTIME, ts(s.start)], [OPT.ISB_ENDTIME, ts(s.end)],
      [OPT.ISB_IFRECV, u64(s.ifRecv)], [OPT.ISB_IFDROP, u64(s.ifDrop)], [OPT.ISB_FILTERACCEPT, u64(s.filterAccept)],
    ]);
  }

  /** Write out what is buffered. */
  flush(): void {
    this.out.flush();
  }

  /** Flush and close; later calls do nothing. */
  close(): void {
    this.out.close();
  }

  /**
   * tsHi, tsLo = the u64 sec × 10^9 + ns, exactly (doubles hold 53 bits: the product is
   * split at 2^16 so every partial result stays below 2^53).
   */
  private ts64(sec: number, ns: number): void {
    const b = Math.floor(sec / 65536) * 1e9; // (sec >> 16) × 10^9 < 2^46
    const a = (sec % 65536) * 1e9 + ns; // < 2^47
    const bHi = Math.floor(b / 65536);
    const t = (b % 65536) * 65536 + a; // < 2^48
    this.tsLo = t % 4294967296;
    this.tsHi = bHi + Math.floor(t / 4294967296);
  }

  /** A block with a fixed body and options (not on the per-packet path: allocates). */
  private block(type: number, body: Uint8Array, opts: readonly (readonly [number, Uint8Array])[]): void {
    let optLen = 0;
    for (const [, v] of opts) optLen += 4 + ((v.length + 3) & ~3);
    if (opts.length > 0) optLen += 4;
    const total = 8 + body.length + optLen + 4;
    const b = new Uint8Array(total);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, true);
    dv.setUint32(4, total, true);
    b.set(body, 8);
    let p = 8 + body.length;
    for (const [code, v] of opts) {
      if (v.length > 0xffff) throw new MpdkError('EINVAL', `pcapng ${this.path}: option ${code} of ${v.length} bytes is longer than 65535`);
      dv.setUint16(p, code, true);
      dv.setUint16(p + 2, v.length, true);
      b.set(v, p + 4);
      p += 4 + ((v.length + 3) & ~3);
    }
    if (opts.length > 0) p += 4; // opt_endofopt: zeros
    dv.setUint32(p, total, true);
    this.out.put(b, 0, total);
  }
}
