/**
 * Classic libpcap files (pcapng is pcapng.ts / pcapng-reader.ts): a buffered writer and a
 * streaming reader, for the net_pcap driver, `dumpcap -P` and `pktgen --pcap`. Pure file
 * I/O with Node's fs on a file descriptor (pcap-out.ts, pcap-in.ts); nothing lives in shared
 * memory. Records are read into and written from (u8, offset) pairs, so the driver copies
 * straight between a file buffer and an mbuf in the region.
 *
 *   file   = global header (PCAP), then records (PCAP_REC header + caplen bytes) to EOF
 *   PCAP      0 MAGIC u32     a1b2c3d4 = µs timestamps, a1b23c4d = ns timestamps; read in
 *                             the writer's byte order (d4c3b2a1 / 4d3cb2a1 = swapped)
 *             4 VERSION_MAJOR u16 = 2, 6 VERSION_MINOR u16 = 4
 *             8 THISZONE i32 = 0, 12 SIGFIGS u32 = 0
 *            16 SNAPLEN u32  largest caplen the writer kept
 *            20 LINKTYPE u32 1 = LINKTYPE_ETHERNET
 *   PCAP_REC  0 TS_SEC u32, 4 TS_FRAC u32 (µs or ns by magic), 8 CAPLEN u32 (bytes stored),
 *            12 LEN u32 (bytes on the wire; ≥ CAPLEN when the writer truncated)
 *
 *   who calls what
 *   net_pcap TX, pktgen   PcapWriter.open(path) -> write(u8, off, caplen, len, sec, frac)
 *                         per packet -> close() (flushes)
 *   net_pcap RX           PcapReader.open(path) -> next(rec) per packet (rec.offset into
 *                         reader.buf) -> rewind() to loop -> close()
 *
 * The writer always writes little-endian, microsecond resolution (what tcpdump writes
 * on x86), unless asked for nanoseconds. The reader accepts both magics in both byte
 * orders. A file cut inside a record ends after the last whole record, with `truncated`
 * saying where (libpcap's behaviour); an impossible record is EPROTO naming the file and the
 * byte offset.
 */
import { MpdkError } from '../eal/errors.js';
import { FileIn } from './pcap-in.js';
import { FileOut } from './pcap-out.js';

/** pcap file header (libpcap's): byte offsets of its fields, and its length (HLEN). */
export const PCAP = {
  /** u32 magic: 0xa1b2c3d4 (µs timestamps) or 0xa1b23c4d (ns), in the writer's byte order. */
  MAGIC: 0,
  /** u16 major version (2). */
  VERSION_MAJOR: 4,
  /** u16 minor version (4). */
  VERSION_MINOR: 6,
  /** i32 time zone correction (0). */
  THISZONE: 8,
  /** u32 timestamp accuracy (0). */
  SIGFIGS: 12,
  /** u32 longest record kept, bytes. */
  SNAPLEN: 16,
  /** u32 link type (1: Ethernet). */
  LINKTYPE: 20,
  /** Length of the file header. */
  HLEN: 24,
} as const;
/** pcap record header, before each packet's bytes: byte offsets of its fields, and its length (HLEN). */
export const PCAP_REC = {
  /** u32 timestamp, seconds. */
  TS_SEC: 0,
  /** u32 timestamp fraction: µs or ns (the file's MAGIC says which). */
  TS_FRAC: 4,
  /** u32 bytes of the packet stored in the file. */
  CAPLEN: 8,
  /** u32 length of the packet on the wire. */
  LEN: 12,
  /** Length of a record header. */
  HLEN: 16,
} as const;

/**
 * Write a record header (PCAP_REC, little-endian: what this writer writes) at `at` of `dv`:
 * the one place its field order is written down in code. The net_pcap driver's TX buffer
 * and the capture rings (ethdev/capture.ts) hold records in exactly this form.
 */
export function writeRecordHeader(dv: DataView, at: number, tsSec: number, tsFrac: number, caplen: number, len: number): void {
  dv.setUint32(at + PCAP_REC.TS_SEC, tsSec, true);
  dv.setUint32(at + PCAP_REC.TS_FRAC, tsFrac, true);
  dv.setUint32(at + PCAP_REC.CAPLEN, caplen, true);
  dv.setUint32(at + PCAP_REC.LEN, len, true);
}

/**
 * writeRecordHeader for a 4-aligned `at` in the buffer of `u32` (a capture ring in the
 * region): four word stores instead of four DataView stores, on a little-endian host.
 */
export function writeRecordHeaderAligned(u32: Uint32Array, at: number, tsSec: number, tsFrac: number, caplen: number, len: number): void {
  const w = at >>> 2;
  u32[w + (PCAP_REC.TS_SEC >>> 2)] = tsSec;
  u32[w + (PCAP_REC.TS_FRAC >>> 2)] = tsFrac;
  u32[w + (PCAP_REC.CAPLEN >>> 2)] = caplen;
  u32[w + (PCAP_REC.LEN >>> 2)] = len;
}

/** Read the record header at `at` of `dv` into `rec` (byte order `le`); its bytes start at rec.offset. */
export function readRecordHeader(dv: DataView, at: number, rec: PcapRecord, le = true): void {
  rec.tsSec = dv.getUint32(at + PCAP_REC.TS_SEC, le);
  rec.tsFrac = dv.getUint32(at + PCAP_REC.TS_FRAC, le);
  rec.caplen = dv.getUint32(at + PCAP_REC.CAPLEN, le);
  rec.len = dv.getUint32(at + PCAP_REC.LEN, le);
  rec.offset = at + PCAP_REC.HLEN;
}
/** pcap magic number of a file with microsecond timestamps. */
export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
/** pcap magic number of a file with nanosecond timestamps. */
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
/** First word of a pcapng file (its Section Header Block's type). */
export const PCAPNG_MAGIC = 0x0a0d0d0a;
/** pcap link type of Ethernet frames (LINKTYPE_ETHERNET, DLT_EN10MB). */
export const LINKTYPE_ETHERNET = 1;
/** libpcap's largest allowed caplen (MAXIMUM_SNAPLEN); larger means a corrupt file. */
export const PCAP_MAX_CAPLEN = 262144;
const DEFAULT_SNAPLEN = 65535;

/** Options of a `PcapWriter`. */
export interface PcapWriterOptions {
  /** Largest caplen kept; longer packets are truncated to it (default 65535). */
  snaplen?: number;
  /** Link type in the header (default LINKTYPE_ETHERNET). */
  linktype?: number;
  /** Write nanosecond timestamps (magic a1b23c4d) instead of microseconds. */
  nanosecond?: boolean;
  /** Write buffer in bytes (default 1 MiB). */
  bufferSize?: number;
}

/**
 * Streaming pcap writer: records are packed into one buffer (FileOut), written to the file
 * when it fills and on flush()/close(). Not safe to share between threads; one writer per file.
 */
export class PcapWriter {
  /** The file written. */
  readonly path: string;
  /** Largest caplen kept. */
  readonly snaplen: number;
  /** Nanosecond timestamps (else microseconds). */
  readonly nanosecond: boolean;
  /** Records accepted so far. */
  records = 0;
  private readonly out: FileOut;

  private constructor(out: FileOut, snaplen: number, nanosecond: boolean, linktype: number) {
    this.out = out;
    this.path = out.name;
    this.snaplen = snaplen;
    this.nanosecond = nanosecond;
    out.room(PCAP.HLEN);
    const dv = out.dv;
    dv.setUint32(PCAP.MAGIC, nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC, true);
    dv.setUint16(PCAP.VERSION_MAJOR, 2, true);
    dv.setUint16(PCAP.VERSION_MINOR, 4, true);
    dv.setInt32(PCAP.THISZONE, 0, true);
    dv.setUint32(PCAP.SIGFIGS, 0, true);
    dv.setUint32(PCAP.SNAPLEN, snaplen, true);
    dv.setUint32(PCAP.LINKTYPE, linktype, true);
    out.advance(PCAP.HLEN);
  }

  /** Create (or truncate) `path` and write the global header. `mode`: the file's permissions (default 0644 less the umask). */
  static open(path: string, opts: PcapWriterOptions = {}, mode?: number): PcapWriter {
    const o = checkWriterOptions(path, opts);
    let out: FileOut;
    try {
      out = FileOut.create(path, o.bufferSize, mode); // no link followed, no FIFO, not another user's file
    } catch (e) {
      throw new MpdkError((e as MpdkError).code ?? 'EIO', `pcap ${(e as Error).message}`);
    }
    return new PcapWriter(out, o.snaplen, opts.nanosecond === true, o.linktype);
  }

  /** Write to descriptor `fd` (stdout for `-w -`), named `name` in messages; close() leaves it open. */
  static toFd(fd: number, name: string, opts: PcapWriterOptions = {}): PcapWriter {
    const o = checkWriterOptions(name, opts);
    return new PcapWriter(FileOut.toFd(fd, name, o.bufferSize), o.snaplen, opts.nanosecond === true, o.linktype);
  }

  /** Bytes of the file so far (header and records, written or buffered). */
  get bytes(): number {
    return this.out.bytes;
  }

  /**
   * Append one record: u8[off .. off+caplen) (cut to snaplen), original length `len`,
   * timestamp tsSec + tsFrac (µs, or ns for a nanosecond file). No allocation for records
   * ≤ 256 bytes (views of `u8` are made when the source buffer changes); longer ones
   * are copied with one subarray view.
   */
  write(u8: Uint8Array, off: number, caplen: number, len: number = caplen, tsSec = 0, tsFrac = 0): void {
    const out = this.out;
    if (caplen > this.snaplen) caplen = this.snaplen;
    if (out.room(PCAP_REC.HLEN + caplen)) {
      writeRecordHeader(out.dv, out.pos, tsSec, tsFrac, caplen, len < caplen ? caplen : len);
      out.advance(PCAP_REC.HLEN);
    } else {
      // Larger than the whole buffer: the header through the buffer, the bytes straight from u8.
      out.room(PCAP_REC.HLEN);
      writeRecordHeader(out.dv, out.pos, tsSec, tsFrac, caplen, len < caplen ? caplen : len);
      out.advance(PCAP_REC.HLEN);
      out.flush();
    }
    out.put(u8, off, caplen);
    this.records++;
  }

  /** Write what is buffered to the file. */
  flush(): void {
    this.out.flush();
  }

  /** Flush and close the file; later calls do nothing. */
  close(): void {
    this.out.close();
  }
}

function checkWriterOptions(path: string, opts: PcapWriterOptions): { snaplen: number; linktype: number; bufferSize: number } {
  const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
  const linktype = opts.linktype ?? LINKTYPE_ETHERNET;
  const bufferSize = opts.bufferSize ?? 1 << 20;
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > PCAP_MAX_CAPLEN) {
    throw new MpdkError('EINVAL', `pcap ${path}: snaplen ${snaplen} must be an integer from 1 to ${PCAP_MAX_CAPLEN}`);
  }
  if (!Number.isInteger(linktype) || linktype < 0 || linktype > 0xffff) {
    throw new MpdkError('EINVAL', `pcap ${path}: link type ${linktype} must be an integer from 0 to 65535 (1 = Ethernet)`);
  }
  if (!Number.isInteger(bufferSize) || bufferSize < 4096) {
    throw new MpdkError('EINVAL', `pcap ${path}: buffer size ${bufferSize} must be an integer of at least 4096 bytes`);
  }
  return { snaplen, linktype, bufferSize };
}

/** One record as a reader found it (caller-owned, reused: no allocation per record). */
export class PcapRecord {
  /** Timestamp, whole seconds since 1970. */
  tsSec = 0;
  /** Microseconds or nanoseconds, as the reader says (reader.nanosecond; pcapng: always ns). */
  tsFrac = 0;
  /** Bytes present at reader.buf[offset .. offset+caplen). */
  caplen = 0;
  /** Bytes the packet had on the wire. */
  len = 0;
  /** Offset of the packet bytes in reader.buf (valid until the next next()/rewind()). */
  offset = 0;
  /** Offset of the record (header or block) in the file (for messages). */
  fileOffset = 0;
  /** pcapng: the index of the packet's interface in the file (pcap: 0). */
  iface = 0;
  /** pcapng: the packet's epb_flags (direction in bits 0-1), 0 when absent. */
  flags = 0;
  /** pcapng: the packet's epb_queue, −1 when absent. */
  queue = -1;
}

/** Options of `PcapReader.open`. */
export interface PcapReaderOptions {
  /** Read the file in chunks of this many bytes (default: whole file if ≤ 64 MiB, else 4 MiB). */
  chunkSize?: number;
}

/**
 * The reading side every capture-file reader offers (PcapReader, PcapngReader; net/pcap-file.ts
 * opens either): records one by one into a caller-owned PcapRecord, whose bytes are in `buf`.
 */
export interface CaptureFileReader {
  /** The file read. */
  readonly path: string;
  /** The file's format. */
  readonly format: 'pcap' | 'pcapng';
  /** Link type of the packets delivered (1 = Ethernet). */
  readonly linktype: number;
  /** Largest caplen the writer kept (0 = not said). */
  readonly snaplen: number;
  /** tsFrac is in nanoseconds (otherwise microseconds). */
  readonly nanosecond: boolean;
  /** The bytes records point into (changes as a chunked reader slides). */
  readonly buf: Uint8Array;
  /**
   * Set when next() returned false because the file ends inside a record: what was cut and
   * where. Every whole record before it was delivered (as libpcap does).
   */
  readonly truncated: string;
  /**
   * The next record into `rec`; false at the end of the file (clean, or `truncated`).
   * Throws MpdkError EPROTO naming the byte for a record that cannot be (a corrupt file).
   */
  next(rec: PcapRecord): boolean;
  /** Back to the first record (looping RX). */
  rewind(): void;
  /**
   * Step back to the record next() last returned, so that the next next() returns it again
   * (once: a record that could not be taken yet, e.g. for want of buffers).
   */
  back(): void;
  /** Release the file descriptor. */
  close(): void;
}

/**
 * pcap reader. Whole-file mode keeps the file in `buf`; chunked mode keeps a window of it
 * and slides it as records are consumed (a record is never split: the window grows to
 * hold the largest record).
 */
export class PcapReader implements CaptureFileReader {
  /** The file read. */
  readonly path: string;
  /** Always `'pcap'`. */
  readonly format = 'pcap' as const;
  readonly nanosecond: boolean;
  /** The file was written in the other byte order. */
  readonly swapped: boolean;
  readonly snaplen: number;
  readonly linktype: number;
  /** The file's format version, major. */
  readonly versionMajor: number;
  /** The file's format version, minor. */
  readonly versionMinor: number;
  truncated = '';
  private readonly in: FileIn;
  private readonly le: boolean;
  /** Where in the buffer the record next() last returned starts (back()); −1: none. */
  private last = -1;

  private constructor(input: FileIn) {
    this.in = input;
    this.path = input.path;
    if (input.lim < PCAP.HLEN) {
      throw input.corrupt(0, `file is ${input.fileSize} bytes, shorter than the ${PCAP.HLEN}-byte pcap header`);
    }
    const dv = input.dv;
    const m = dv.getUint32(0, true);
    let le: boolean;
    let ns: boolean;
    if (m === PCAP_MAGIC_USEC || m === PCAP_MAGIC_NSEC) {
      le = true;
      ns = m === PCAP_MAGIC_NSEC;
    } else {
      const b = dv.getUint32(0, false);
      if (b === PCAP_MAGIC_USEC || b === PCAP_MAGIC_NSEC) {
        le = false;
        ns = b === PCAP_MAGIC_NSEC;
      } else if (m === PCAPNG_MAGIC) {
        throw input.corrupt(0, 'this is a pcapng file; read it with PcapngReader or openCaptureFile (or convert it with `editcap -F pcap IN OUT`)');
      } else {
        throw input.corrupt(0, `bad magic 0x${m.toString(16).padStart(8, '0')}: not a pcap file (expected a1b2c3d4 or a1b23c4d in either byte order)`);
      }
    }
    this.le = le;
    this.nanosecond = ns;
    this.swapped = !le;
    this.versionMajor = dv.getUint16(PCAP.VERSION_MAJOR, le);
    this.versionMinor = dv.getUint16(PCAP.VERSION_MINOR, le);
    this.snaplen = dv.getUint32(PCAP.SNAPLEN, le);
    this.linktype = dv.getUint32(PCAP.LINKTYPE, le) & 0xffff;
    if (this.versionMajor !== 2) {
      throw input.corrupt(PCAP.VERSION_MAJOR, `unsupported pcap version ${this.versionMajor}.${this.versionMinor} (only 2.x exists)`);
    }
    input.pos = PCAP.HLEN;
  }

  /** Open `path` and check its header. ENOENT/EACCES if it cannot be opened, EPROTO if it is not pcap. */
  static open(path: string, opts: PcapReaderOptions = {}): PcapReader {
    const input = FileIn.open(path, 'pcap', opts);
    try {
      return new PcapReader(input);
    } catch (e) {
      input.close();
      throw e;
    }
  }

  /** A reader over bytes already in memory (`name` is used in messages). */
  static fromBytes(bytes: Uint8Array, name = '<memory>'): PcapReader {
    return new PcapReader(FileIn.fromBytes(bytes, name, 'pcap'));
  }

  get buf(): Uint8Array {
    return this.in.buf;
  }

  /**
   * Read the next record into `rec`.
   * @returns true with `rec` filled; false at the end of the file — clean, or inside a
   *          record (`truncated` then says where: every whole record before was delivered)
   * @throws MpdkError EPROTO naming the file and byte offset for an impossible caplen (> 262144)
   */
  next(rec: PcapRecord): boolean {
    const input = this.in;
    if (this.truncated) return false;
    if (!input.ensure(PCAP_REC.HLEN)) {
      const left = input.lim - input.pos;
      if (left === 0) return false;
      this.truncated = `byte ${input.offset}: truncated record header (${left} of ${PCAP_REC.HLEN} bytes) at end of file`;
      return false;
    }
    const at = input.offset;
    readRecordHeader(input.dv, input.pos, rec, this.le);
    const caplen = rec.caplen;
    if (caplen > PCAP_MAX_CAPLEN) {
      throw input.corrupt(at, `record caplen ${caplen} is larger than ${PCAP_MAX_CAPLEN}: the file is corrupt`);
    }
    // ensure() may slide (or replace) the window: the record is at input.pos again afterwards.
    if (!input.ensure(PCAP_REC.HLEN + caplen)) {
      this.truncated = `byte ${at}: truncated record: caplen ${caplen} but only ${input.lim - input.pos - PCAP_REC.HLEN} bytes left in the file`;
      return false;
    }
    this.last = input.pos;
    rec.offset = input.pos + PCAP_REC.HLEN;
    rec.fileOffset = at;
    input.pos += PCAP_REC.HLEN + caplen;
    return true;
  }

  back(): void {
    if (this.last >= 0) this.in.pos = this.last;
    this.last = -1;
  }

  /** Go back to the first record (for looping RX). */
  rewind(): void {
    this.in.seek(PCAP.HLEN);
    this.truncated = '';
    this.last = -1;
  }

  /** Release the file descriptor (chunked mode). */
  close(): void {
    this.in.close();
  }

  /** Convenience (allocates a record per call, not per packet): iterate all records from here. */
  *records(): Generator<PcapRecord> {
    const rec = new PcapRecord();
    while (this.next(rec)) yield rec;
  }
}
