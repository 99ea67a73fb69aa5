/**
 * pcapng files, read (the format is drawn in pcapng.ts): what net_pcap's RX and the tests
 * read, whether dumpcap, tshark, editcap or Wireshark wrote it. Pure file I/O (pcap-in.ts);
 * nothing lives in shared memory.
 *
 *   blocks read     SHB (a new section: its byte order, interfaces numbered from 0 again),
 *                   IDB (link type, snap length, if_name, if_tsresol, if_tsoffset), EPB, SPB,
 *                   the obsolete PB, ISB (`stats`); every other block (NRB, DSB, custom) is skipped
 *   which packets   one interface: the first Ethernet one of the file, or `iface` N (the Nth
 *                   interface block of the file, from 0, counted across sections); or every
 *                   packet (`iface: 'all'`, rec.iface saying whose)
 *   timestamps      converted exactly to seconds + nanoseconds whatever the resolution
 *                   (decimal up to 10^-9, binary up to 2^-30; finer ones to the nearest ns)
 *
 * A file cut inside a block ends after the last whole packet, with `truncated` saying where;
 * an impossible block (length not a multiple of 4, shorter than 12, longer than 16 MiB, a
 * packet longer than its block, a packet of an interface never described) is EPROTO naming
 * the byte.
 */
import { MpdkError } from '../eal/errors.js';
import { FileIn, type FileInOptions } from './pcap-in.js';
import { LINKTYPE_ETHERNET, PCAPNG_MAGIC, PcapRecord, type CaptureFileReader } from './pcap.js';
import { OPT, PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_EPB, PCAPNG_IDB, PCAPNG_ISB, PCAPNG_SPB } from './pcapng.js';

/** The obsolete Packet Block (pcapng 0.x), still read by libpcap and Wireshark. */
const PCAPNG_PB = 2;
/** libpcap's largest block (MAX_BLOCKSIZE): longer means a corrupt file. */
const MAX_BLOCK = 16 << 20;
const OPT_IF_TSOFFSET = 14;

/** Options of a `PcapngReader`. */
export interface PcapngReaderOptions extends FileInOptions {
  /** The interface whose packets are read (its index in the file), or 'all'; default: the first Ethernet one. */
  iface?: number | 'all';
}

/** An interface (IDB) as the file describes it. */
export interface PcapngIfaceInfo {
  /** Index in the file (from 0, across sections). */
  index: number;
  /** Index of its section in the file. */
  section: number;
  /** Its link type (LINKTYPE_ETHERNET for Ethernet). */
  linktype: number;
  /** 0 = not limited. */
  snaplen: number;
  /** Its if_name option ('' when absent). */
  name: string;
  /** Timestamp units per second (10^6 unless if_tsresol says otherwise). */
  unitsPerSec: number;
  /** if_tsoffset: seconds added to every timestamp. */
  tsOffset: number;
}

/** An interface's statistics block (ISB), the last one read. */
export interface PcapngIfaceStats {
  /** Packets the interface saw (isb_ifrecv). */
  ifRecv?: number;
  /** Packets lost because the capture could not keep up (isb_ifdrop). */
  ifDrop?: number;
  /** Packets the filter accepted (isb_filteraccept). */
  filterAccept?: number;
  /** Packets the operating system dropped (isb_osdrop). */
  osDrop?: number;
  /** Packets delivered to the user (isb_usrdeliv). */
  usrDeliv?: number;
}

const ISB_OPTS: Record<number, keyof PcapngIfaceStats> = { 4: 'ifRecv', 5: 'ifDrop', 6: 'filterAccept', 7: 'osDrop', 8: 'usrDeliv' };

const td = new TextDecoder();

/** Streaming pcapng reader (CaptureFileReader): one interface's packets, or all. */
export class PcapngReader implements CaptureFileReader {
  /** The file read. */
  readonly path: string;
  /** Always `'pcapng'`. */
  readonly format = 'pcapng' as const;
  readonly nanosecond = true;
  /** The interface read (its index), or −1 for all. */
  readonly iface: number;
  readonly linktype: number;
  readonly snaplen: number;
  /** Every interface met so far (all of them up to the one read, from open on). */
  readonly interfaces: PcapngIfaceInfo[] = [];
  /** Statistics blocks met so far, by interface index (the last one of each). */
  readonly stats = new Map<number, PcapngIfaceStats>();
  truncated = '';
  private readonly in: FileIn;
  private le = true;
  private section = -1;
  /** Global index of each interface of the current section. */
  private local: number[] = [];
  /** Where the first section's first block after the SHB starts (rewind). */
  private readonly firstBlock: number;
  /** Where in the buffer the block of the packet next() last returned starts (back()); −1: none. */
  private last = -1;
  /** Where in the buffer the block block() read last starts. */
  private blockStart = 0;

  private constructor(input: FileIn, want: number | 'all' | undefined) {
    this.in = input;
    this.path = input.path;
    if (input.lim < 28) throw input.corrupt(0, `file is ${input.fileSize} bytes, shorter than a pcapng section header (28)`);
    if (input.dv.getUint32(0, true) !== PCAPNG_MAGIC) throw input.corrupt(0, `not a pcapng file (it does not start with a section header block, 0a0d0d0a)`);
    this.firstBlock = 0;
    // Find the interface to read: its block comes before its packets, so scan the blocks up to it.
    const rec = new PcapRecord();
    let chosen: PcapngIfaceInfo | undefined;
    const found = (): PcapngIfaceInfo | undefined => {
      if (want === 'all') return this.interfaces[0];
      if (want === undefined) return this.interfaces.find((i) => i.linktype === LINKTYPE_ETHERNET);
      return this.interfaces[want];
    };
    while (!(chosen = found()) && this.block(rec, true) !== 'end');
    this.truncated = '';
    if (!chosen) {
      const all = this.interfaces.map((i) => `${i.index}: link type ${i.linktype}${i.name ? ` (${i.name})` : ''}`).join(', ');
      if (want === undefined || want === 'all') {
        throw new MpdkError('EPROTO', `pcapng ${this.path}: no Ethernet interface in the file (${all || 'no interface at all'}); mpdk reads Ethernet (link type 1) packets`);
      }
      throw new MpdkError('EINVAL', `pcapng ${this.path}: iface=${want}: the file has ${this.interfaces.length} interface${this.interfaces.length === 1 ? '' : 's'}${all ? ` (${all})` : ''}`);
    }
    this.iface = want === 'all' ? -1 : chosen.index;
    this.linktype = chosen.linktype;
    this.snaplen = chosen.snaplen;
    this.rewind();
  }

  /** Open `path`: ENOENT/EACCES if it cannot be opened, EPROTO if it is not pcapng, EINVAL for an `iface` it lacks. */
  static open(path: string, opts: PcapngReaderOptions = {}): PcapngReader {
    const input = FileIn.open(path, 'pcapng', opts);
    try {
      return new PcapngReader(input, opts.iface);
    } catch (e) {
      input.close();
      throw e;
    }
  }

  /** A reader over bytes already in memory (`name` is used in messages). */
  static fromBytes(bytes: Uint8Array, name = '<memory>', opts: PcapngReaderOptions = {}): PcapngReader {
    return new PcapngReader(FileIn.fromBytes(bytes, name, 'pcapng'), opts.iface);
  }

  get buf(): Uint8Array {
    return this.in.buf;
  }

  /** The next packet of the interface read into `rec` (rec.iface, flags, queue set); false at the end. */
  next(rec: PcapRecord): boolean {
    if (this.truncated) return false;
    for (;;) {
      const r = this.block(rec, false);
      if (r === 'end') return false;
      if (r === 'packet' && (this.iface < 0 || rec.iface === this.iface)) {
        this.last = this.blockStart; // block() read it whole: the window did not move since
        return true;
      }
    }
  }

  back(): void {
    if (this.last >= 0) this.in.pos = this.last;
    this.last = -1;
  }

  rewind(): void {
    this.in.seek(this.firstBlock);
    this.truncated = '';
    this.section = -1;
    this.local = [];
    this.last = -1;
  }

  /** Release the file descriptor. */
  close(): void {
    this.in.close();
  }

  /** Read one block: a packet into rec, or an interface into the table; 'end' at the end of the file. */
  private block(rec: PcapRecord, scanning: boolean): 'packet' | 'other' | 'end' {
    const input = this.in;
    if (!input.ensure(8)) {
      const left = input.lim - input.pos;
      if (left !== 0) this.truncated = `byte ${input.offset}: truncated block header (${left} of 8 bytes) at end of file`;
      return 'end';
    }
    const at = input.offset;
    const type = input.dv.getUint32(input.pos, true); // the SHB's type reads the same in both orders
    if (type === PCAPNG_MAGIC) {
      if (!input.ensure(12)) {
        this.truncated = `byte ${at}: truncated section header at end of file`;
        return 'end';
      }
      const bom = input.dv.getUint32(input.pos + 8, true);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.le = true;
      else if (bom === 0x4d3c2b1a) this.le = false;
      else throw input.corrupt(at + 8, `bad byte-order magic 0x${bom.toString(16)} in a section header`);
    }
    const le = this.le;
    const len = input.dv.getUint32(input.pos + 4, le);
    if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) throw input.corrupt(at, `block length ${len} is impossible (a multiple of 4 from 12 to ${MAX_BLOCK})`);
    if (!input.ensure(len)) {
      this.truncated = `byte ${at}: truncated block: ${len} bytes long but only ${input.lim - input.pos} left in the file`;
      return 'end';
    }
    const dv = input.dv;
    const p = input.pos;
    this.blockStart = p;
    let out: 'packet' | 'other' = 'other';
    if (type === PCAPNG_MAGIC) {
      if (len < 28) throw input.corrupt(at, `section header block of ${len} bytes (at least 28)`);
      const major = dv.getUint16(p + 12, le);
      if (major !== 1) throw input.corrupt(at + 12, `unsupported pcapng version ${major}.${dv.getUint16(p + 14, le)} (only 1.x exists)`);
      this.section++;
      this.local = [];
    } else if (this.section < 0) {
      throw input.corrupt(at, 'the file does not start with a section header block');
    } else if (type === PCAPNG_IDB) {
      this.interfaceBlock(p, len, at);
    } else if (type === PCAPNG_ISB && !scanning) {
      this.statisticsBlock(p, len, at);
    } else if (!scanning && (type === PCAPNG_EPB || type === PCAPNG_PB || type === PCAPNG_SPB)) {
      this.packet(type, p, len, at, rec);
      out = 'packet';
    }
    input.pos = p + len;
    return out;
  }

  private interfaceBlock(p: number, len: number, at: number): void {
    const dv = this.in.dv;
    const le = this.le;
    if (len < 20) throw this.in.corrupt(at, `interface description block of ${len} bytes (at least 20)`);
    const n = this.local.length;
    // An interface is new the first time it is met; after a rewind its block is met again.
    const globalIndex = this.globalCount(this.section, n);
    this.local.push(globalIndex);
    if (globalIndex < this.interfaces.length) return;
    const info: PcapngIfaceInfo = { index: globalIndex, section: this.section, linktype: dv.getUint16(p + 8, le), snaplen: dv.getUint32(p + 12, le), name: '', unitsPerSec: 1e6, tsOffset: 0 };
    let o = p + 16;
    const end = p + len - 4;
    while (o + 4 <= end) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      if (code === OPT.END) break;
      if (o + 4 + olen > end) throw this.in.corrupt(this.in.base + o, `option ${code} of ${olen} bytes runs past its block`);
      const v = o + 4;
      if (code === OPT.IF_NAME) info.name = td.decode(this.in.buf.subarray(v, v + olen));
      else if (code === OPT.IF_TSRESOL && olen >= 1) {
        const r = this.in.buf[v]!;
        info.unitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
      } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
        info.tsOffset = dv.getUint32(v + (le ? 0 : 4), le) + dv.getInt32(v + (le ? 4 : 0), le) * 4294967296;
      }
      o = v + ((olen + 3) & ~3);
    }
    this.interfaces.push(info);
  }

  private statisticsBlock(p: number, len: number, at: number): void {
    const dv = this.in.dv;
    const le = this.le;
    if (len < 24) throw this.in.corrupt(at, `interface statistics block of ${len} bytes (at least 24)`);
    const g = this.local[dv.getUint32(p + 8, le)];
    if (g === undefined) return;
    const st: PcapngIfaceStats = {};
    let o = p + 20;
    const end = p + len - 4;
    while (o + 4 <= end) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      if (code === OPT.END || o + 4 + olen > end) break;
      const key = ISB_OPTS[code];
      if (key && olen === 8) st[key] = dv.getUint32(o + (le ? 4 : 8), le) + dv.getUint32(o + (le ? 8 : 4), le) * 4294967296;
      o += 4 + ((olen + 3) & ~3);
    }
    this.stats.set(g, st);
  }

  /** The file-wide index of interface `n` of section `s` (sections are met in order). */
  private globalCount(s: number, n: number): number {
    // Interfaces of earlier sections come first: count them from the table.
    let before = 0;
    for (const i of this.interfaces) if (i.section < s) before++;
    return before + n;
  }

  private packet(type: number, p: number, len: number, at: number, rec: PcapRecord): void {
    const input = this.in;
    const dv = input.dv;
    const le = this.le;
    let local: number;
    let hi = 0;
    let lo = 0;
    let caplen: number;
    let wire: number;
    let data: number;
    let optAt = 0;
    if (type === PCAPNG_SPB) {
      if (len < 16) throw input.corrupt(at, `simple packet block of ${len} bytes (at least 16)`);
      local = 0;
      wire = dv.getUint32(p + 8, le);
      data = p + 12;
      caplen = Math.min(wire, len - 16);
    } else {
      const hdr = 28; // EPB: iface u32; PB: iface u16 + drops u16; then ts high, ts low, caplen, len
      if (len < hdr + 4) throw input.corrupt(at, `packet block of ${len} bytes (at least ${hdr + 4})`);
      local = type === PCAPNG_EPB ? dv.getUint32(p + 8, le) : dv.getUint16(p + 8, le);
      hi = dv.getUint32(p + 12, le);
      lo = dv.getUint32(p + 16, le);
      caplen = dv.getUint32(p + 20, le);
      wire = dv.getUint32(p + 24, le);
      data = p + hdr;
      if (caplen > len - hdr - 4) throw input.corrupt(at, `packet of ${caplen} bytes in a block of ${len}`);
      optAt = data + ((caplen + 3) & ~3);
    }
    const g = this.local[local];
    if (g === undefined) throw input.corrupt(at, `packet of interface ${local}, which section ${this.section} does not describe`);
    const info = this.interfaces[g]!;
    if (type === PCAPNG_SPB && info.snaplen !== 0 && caplen > info.snaplen) caplen = info.snaplen;
    rec.iface = g;
    rec.caplen = caplen;
    rec.len = wire < caplen ? caplen : wire;
    rec.offset = data;
    rec.fileOffset = at;
    rec.flags = 0;
    rec.queue = -1;
    this.timestamp(hi, lo, info, rec);
    if (type === PCAPNG_EPB) {
      const end = p + len - 4;
      let o = optAt;
      while (o + 4 <= end) {
        const code = dv.getUint16(o, le);
        const olen = dv.getUint16(o + 2, le);
        if (code === OPT.END || o + 4 + olen > end) break;
        if (code === OPT.EPB_FLAGS && olen === 4) rec.flags = dv.getUint32(o + 4, le);
        else if (code === OPT.EPB_QUEUE && olen === 4) rec.queue = dv.getUint32(o + 4, le);
        o += 4 + ((olen + 3) & ~3);
      }
    }
  }

  /**
   * rec.tsSec, tsFrac (ns) from the 64-bit count hi·2^32 + lo of 1/U s, exactly: long
   * division in 16-bit steps keeps every intermediate below 2^53 for U ≤ 2^30.
   */
  private timestamp(hi: number, lo: number, info: PcapngIfaceInfo, rec: PcapRecord): void {
    const u = info.unitsPerSec;
    let sec: number;
    let frac: number;
    if (u <= 2 ** 30) {
      const q1 = Math.floor(hi / u);
      const r1 = hi % u;
      const x = r1 * 65536 + (lo >>> 16);
      const q2 = Math.floor(x / u);
      const y = (x % u) * 65536 + (lo & 0xffff);
      const q3 = Math.floor(y / u);
      sec = q1 * 4294967296 + q2 * 65536 + q3;
      frac = y % u;
    } else {
      const t = hi * 4294967296 + lo; // finer than 2^-30 s: to the nearest representable unit
      sec = Math.floor(t / u);
      frac = t - sec * u;
    }
    rec.tsSec = sec + info.tsOffset;
    rec.tsFrac = u === 1e9 ? frac : Math.floor((frac * 1e9) / u);
  }
}
