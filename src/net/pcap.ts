/**
 * Classic libpcap files (not pcapng): a buffered writer and a streaming reader, for the
 * net_pcap driver and `pktgen --pcap`. Pure file I/O with Node's fs on a file descriptor;
 * nothing lives in shared memory. Records are read into and written from (u8, offset)
 * pairs, so the driver copies straight between a file buffer and an mbuf in the region.
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
 * orders and stops with EPROTO naming the file and byte offset on a truncated or corrupt
 * file; a clean end of file after a whole record is the normal end.
 */
import fs from 'node:fs';
import { MpdkError, type ErrorCode } from '../eal/errors.js';
import { openUserFile } from '../eal/safe-open.js';
import { Bytes, copyBytes } from './bytes.js';

export const PCAP = { MAGIC: 0, VERSION_MAJOR: 4, VERSION_MINOR: 6, THISZONE: 8, SIGFIGS: 12, SNAPLEN: 16, LINKTYPE: 20, HLEN: 24 } as const;
export const PCAP_REC = { TS_SEC: 0, TS_FRAC: 4, CAPLEN: 8, LEN: 12, HLEN: 16 } as const;

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
export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
const PCAPNG_MAGIC = 0x0a0d0d0a;
export const LINKTYPE_ETHERNET = 1;
/** libpcap's largest allowed caplen (MAXIMUM_SNAPLEN); larger means a corrupt file. */
export const PCAP_MAX_CAPLEN = 262144;
const DEFAULT_SNAPLEN = 65535;

function fsError(e: unknown, what: string, file: string): MpdkError {
  const err = e as NodeJS.ErrnoException;
  const code: ErrorCode = err.code === 'ENOENT' ? 'ENOENT' : err.code === 'EACCES' || err.code === 'EPERM' ? 'EACCES' : 'EIO';
  const hint = code === 'ENOENT' ? ' (check the path and that its directory exists)' : code === 'EACCES' ? ' (check the file permissions)' : '';
  return new MpdkError(code, `pcap ${file}: cannot ${what}: ${err.message}${hint}`);
}

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
 * Streaming pcap writer: records are packed into one buffer, written to the fd when it
 * fills and on flush()/close(). Not safe to share between threads; one writer per file.
 */
export class PcapWriter {
  readonly path: string;
  readonly snaplen: number;
  readonly nanosecond: boolean;
  /** Records and record bytes (headers included) accepted so far. */
  records = 0;
  bytes = PCAP.HLEN;
  private fd: number;
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private pos = 0;
  /** The buffer as copyBytes sees it, and the last source buffer's (write's copy path). */
  private readonly out: Bytes;
  private src = new Bytes(new Uint8Array(0));

  private constructor(path: string, fd: number, snaplen: number, nanosecond: boolean, bufferSize: number) {
    this.path = path;
    this.fd = fd;
    this.snaplen = snaplen;
    this.nanosecond = nanosecond;
    this.buf = new Uint8Array(bufferSize);
    this.dv = new DataView(this.buf.buffer);
    this.out = new Bytes(this.buf);
  }

  /** Create (or truncate) `path` and write the global header. */
  static open(path: string, opts: PcapWriterOptions = {}): PcapWriter {
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
    let fd: number;
    try {
      fd = openUserFile(path, 'write'); // no link followed, no FIFO, not another user's file
    } catch (e) {
      throw new MpdkError((e as MpdkError).code, `pcap ${(e as Error).message}`);
    }
    const w = new PcapWriter(path, fd, snaplen, opts.nanosecond === true, bufferSize);
    const dv = w.dv;
    dv.setUint32(PCAP.MAGIC, w.nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC, true);
    dv.setUint16(PCAP.VERSION_MAJOR, 2, true);
    dv.setUint16(PCAP.VERSION_MINOR, 4, true);
    dv.setInt32(PCAP.THISZONE, 0, true);
    dv.setUint32(PCAP.SIGFIGS, 0, true);
    dv.setUint32(PCAP.SNAPLEN, snaplen, true);
    dv.setUint32(PCAP.LINKTYPE, linktype, true);
    w.pos = PCAP.HLEN;
    return w;
  }

  /**
   * Append one record: u8[off .. off+caplen) (cut to snaplen), original length `len`,
   * timestamp tsSec + tsFrac (µs, or ns for a nanosecond file). No allocation for records
   * ≤ 256 bytes (views of `u8` are made when the source buffer changes); longer ones
   * are copied with one subarray view.
   */
  write(u8: Uint8Array, off: number, caplen: number, len: number = caplen, tsSec = 0, tsFrac = 0): void {
    if (this.fd < 0) throw new MpdkError('EINVAL', `pcap ${this.path}: write after close`);
    if (caplen > this.snaplen) caplen = this.snaplen;
    const need = PCAP_REC.HLEN + caplen;
    if (this.pos + need > this.buf.length) this.flush();
    let p = this.pos;
    writeRecordHeader(this.dv, p, tsSec, tsFrac, caplen, len < caplen ? caplen : len);
    p += PCAP_REC.HLEN;
    if (need > this.buf.length) {
      // Larger than the whole buffer: header through the buffer, data straight from u8.
      this.pos = p;
      this.flush();
      this.writeAll(u8, off, caplen);
    } else {
      // The source's views are made when it changes (the region: once).
      if (u8 !== this.src.view) this.src = new Bytes(u8);
      copyBytes(this.src, off, this.out, p, caplen);
      this.pos = p + caplen;
    }
    this.records++;
    this.bytes += need;
  }

  /** Write what is buffered to the file. */
  flush(): void {
    if (this.fd < 0 || this.pos === 0) return;
    this.writeAll(this.buf, 0, this.pos);
    this.pos = 0;
  }

  /** Flush and close the file; later calls do nothing. */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  private writeAll(src: Uint8Array, off: number, n: number): void {
    try {
      while (n > 0) {
        const k = fs.writeSync(this.fd, src, off, n);
        off += k;
        n -= k;
      }
    } catch (e) {
      throw fsError(e, 'write', this.path);
    }
  }
}

/** One record as the reader found it (caller-owned, reused: no allocation per record). */
export class PcapRecord {
  tsSec = 0;
  /** Microseconds or nanoseconds, as the file's magic says (reader.nanosecond). */
  tsFrac = 0;
  /** Bytes present at reader.buf[offset .. offset+caplen). */
  caplen = 0;
  /** Bytes the packet had on the wire. */
  len = 0;
  /** Offset of the packet bytes in reader.buf (valid until the next next()/rewind()). */
  offset = 0;
  /** Offset of the record header in the file (for messages). */
  fileOffset = 0;
}

export interface PcapReaderOptions {
  /** Read the file in chunks of this many bytes (default: whole file if ≤ 64 MiB, else 4 MiB). */
  chunkSize?: number;
}

/**
 * pcap reader. Whole-file mode keeps the file in `buf`; chunked mode keeps a window of it
 * and slides it as records are consumed (a record is never split: the window grows to
 * hold the largest record).
 */
export class PcapReader {
  readonly path: string;
  readonly nanosecond: boolean;
  /** The file was written in the other byte order. */
  readonly swapped: boolean;
  readonly snaplen: number;
  readonly linktype: number;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Bytes of the file (whole-file mode: all of it; chunked: a window). */
  buf: Uint8Array;
  private dv: DataView;
  private fd: number;
  private readonly fileSize: number;
  /** File offset of buf[0]. */
  private base = 0;
  /** Next record header at buf[pos]; valid bytes end at buf[lim]. */
  private pos: number = PCAP.HLEN;
  private lim: number;
  private readonly le: boolean;

  private constructor(path: string, buf: Uint8Array, lim: number, fd: number, fileSize: number) {
    this.path = path;
    this.buf = buf;
    this.lim = lim;
    this.fd = fd;
    this.fileSize = fileSize;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (lim < PCAP.HLEN) {
      throw this.corrupt(0, `file is ${fileSize} bytes, shorter than the ${PCAP.HLEN}-byte pcap header`);
    }
    const m = this.dv.getUint32(0, true);
    let le: boolean;
    let ns: boolean;
    if (m === PCAP_MAGIC_USEC || m === PCAP_MAGIC_NSEC) {
      le = true;
      ns = m === PCAP_MAGIC_NSEC;
    } else {
      const b = this.dv.getUint32(0, false);
      if (b === PCAP_MAGIC_USEC || b === PCAP_MAGIC_NSEC) {
        le = false;
        ns = b === PCAP_MAGIC_NSEC;
      } else if (m === PCAPNG_MAGIC) {
        throw this.corrupt(0, 'this is a pcapng file; convert it with `editcap -F pcap IN OUT` (or `tshark -F pcap -r IN -w OUT`)');
      } else {
        throw this.corrupt(0, `bad magic 0x${m.toString(16).padStart(8, '0')}: not a pcap file (expected a1b2c3d4 or a1b23c4d in either byte order)`);
      }
    }
    this.le = le;
    this.nanosecond = ns;
    this.swapped = !le;
    this.versionMajor = this.dv.getUint16(PCAP.VERSION_MAJOR, le);
    this.versionMinor = this.dv.getUint16(PCAP.VERSION_MINOR, le);
    this.snaplen = this.dv.getUint32(PCAP.SNAPLEN, le);
    this.linktype = this.dv.getUint32(PCAP.LINKTYPE, le) & 0xffff;
    if (this.versionMajor !== 2) {
      throw this.corrupt(PCAP.VERSION_MAJOR, `unsupported pcap version ${this.versionMajor}.${this.versionMinor} (only 2.x exists)`);
    }
  }

  /** Open `path` and check its header. ENOENT/EACCES if it cannot be opened, EPROTO if it is not pcap. */
  static open(path: string, opts: PcapReaderOptions = {}): PcapReader {
    let fd: number;
    try {
      fd = openUserFile(path, 'read'); // no link followed; a FIFO is refused, never waited on
    } catch (e) {
      throw new MpdkError((e as MpdkError).code, `pcap ${(e as Error).message}`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      const chunk = opts.chunkSize ?? (size <= 64 << 20 ? Math.max(size, PCAP.HLEN) : 4 << 20);
      if (!Number.isInteger(chunk) || chunk < PCAP.HLEN) {
        throw new MpdkError('EINVAL', `pcap ${path}: chunk size ${chunk} must be an integer of at least ${PCAP.HLEN} bytes`);
      }
      const whole = chunk >= size;
      const buf = new Uint8Array(whole ? Math.max(size, 1) : chunk);
      const lim = readFully(fd, buf, 0, whole ? size : chunk, 0, path);
      if (whole) {
        fs.closeSync(fd);
        fd = -1;
      }
      return new PcapReader(path, buf, lim, fd, size);
    } catch (e) {
      if (fd >= 0) fs.closeSync(fd);
      throw e;
    }
  }

  /** A reader over bytes already in memory (`name` is used in messages). */
  static fromBytes(bytes: Uint8Array, name = '<memory>'): PcapReader {
    return new PcapReader(name, bytes, bytes.length, -1, bytes.length);
  }

  /**
   * Read the next record into `rec`.
   * @returns true with `rec` filled; false at a clean end of file
   * @throws MpdkError EPROTO naming the file and byte offset if the file is truncated in
   *         a record or a caplen is impossible (> 262144)
   */
  next(rec: PcapRecord): boolean {
    if (!this.ensure(PCAP_REC.HLEN)) {
      const left = this.lim - this.pos;
      if (left === 0) return false;
      throw this.corrupt(this.base + this.pos, `truncated record header (${left} of ${PCAP_REC.HLEN} bytes) at end of file`);
    }
    const h = this.pos;
    readRecordHeader(this.dv, h, rec, this.le);
    const caplen = rec.caplen;
    if (caplen > PCAP_MAX_CAPLEN) {
      throw this.corrupt(this.base + h, `record caplen ${caplen} is larger than ${PCAP_MAX_CAPLEN}: the file is corrupt`);
    }
    // ensure() may slide (or replace) the window: the record is at base + pos again afterwards.
    if (!this.ensure(PCAP_REC.HLEN + caplen)) {
      throw this.corrupt(this.base + this.pos, `truncated record: caplen ${caplen} but only ${this.lim - this.pos - PCAP_REC.HLEN} bytes left in the file`);
    }
    const r = this.pos;
    if (r !== h) rec.offset = r + PCAP_REC.HLEN;
    rec.fileOffset = this.base + r;
    this.pos = r + PCAP_REC.HLEN + caplen;
    return true;
  }

  /** Go back to the first record (for looping RX). */
  rewind(): void {
    if (this.fd < 0) {
      this.pos = PCAP.HLEN;
      return;
    }
    this.base = 0;
    this.pos = PCAP.HLEN;
    this.lim = readFully(this.fd, this.buf, 0, this.buf.length, 0, this.path);
  }

  /** Release the file descriptor (chunked mode). */
  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Convenience (allocates a record per call, not per packet): iterate all records from here. */
  *records(): Generator<PcapRecord> {
    const rec = new PcapRecord();
    while (this.next(rec)) yield rec;
  }

  /** Make `n` bytes from pos available in buf; false if the file ends first. */
  private ensure(n: number): boolean {
    if (this.lim - this.pos >= n) return true;
    if (this.fd < 0) return false;
    // Slide the window: keep the unread tail, refill after it, grow for a big record.
    const left = this.lim - this.pos;
    if (n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(n, this.buf.length * 2));
      bigger.set(this.buf.subarray(this.pos, this.lim), 0);
      this.buf = bigger;
      this.dv = new DataView(bigger.buffer);
    } else {
      this.buf.copyWithin(0, this.pos, this.lim);
    }
    this.base += this.pos;
    this.pos = 0;
    this.lim = left + readFully(this.fd, this.buf, left, this.buf.length - left, this.base + left, this.path);
    return this.lim >= n;
  }

  private corrupt(offset: number, what: string): MpdkError {
    return new MpdkError('EPROTO', `pcap ${this.path}: byte ${offset}: ${what}`);
  }
}

/** Read up to n bytes at file position `at` into buf[off..]; returns bytes read (short only at EOF). */
function readFully(fd: number, buf: Uint8Array, off: number, n: number, at: number, path: string): number {
  let got = 0;
  try {
    while (got < n) {
      const k = fs.readSync(fd, buf, off + got, n - got, at + got);
      if (k === 0) break;
      got += k;
    }
  } catch (e) {
    throw fsError(e, 'read', path);
  }
  return got;
}
