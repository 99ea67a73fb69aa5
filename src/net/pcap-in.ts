/**
 * The buffered input of the capture-file readers (PcapReader, PcapngReader): a file held
 * whole in memory, or a window of it that slides forward as records are consumed (a record
 * is never split: the window grows to hold the largest one). Nothing lives in shared memory.
 *
 *   reader    FileIn.open(path) (openUserFile: no link followed, no FIFO) or fromBytes;
 *             ensure(n) before reading n bytes at buf[pos]; pos += what was consumed;
 *             seek(fileOffset) to go back (looping RX); close()
 */
import fs from 'node:fs';
import { MpdkError, type ErrorCode } from '../eal/errors.js';
import { openUserFile } from '../eal/safe-open.js';

export interface FileInOptions {
  /** Read the file in chunks of this many bytes (default: whole file if ≤ 64 MiB, else 4 MiB). */
  chunkSize?: number;
}

function fsError(e: unknown, what: string, file: string, kind: string): MpdkError {
  const err = e as NodeJS.ErrnoException;
  const code: ErrorCode = err.code === 'ENOENT' ? 'ENOENT' : err.code === 'EACCES' || err.code === 'EPERM' ? 'EACCES' : 'EIO';
  const hint = code === 'ENOENT' ? ' (check the path and that its directory exists)' : code === 'EACCES' ? ' (check the file permissions)' : '';
  return new MpdkError(code, `${kind} ${file}: cannot ${what}: ${err.message}${hint}`);
}

/** A file's bytes, whole or through a sliding window. */
export class FileIn {
  readonly path: string;
  /** `pcap` or `pcapng`: the word messages start with. */
  readonly kind: string;
  readonly fileSize: number;
  /** Bytes of the file (whole-file mode: all of it; chunked: a window). */
  buf: Uint8Array;
  dv: DataView;
  /** File offset of buf[0]. */
  base = 0;
  /** The reader's position in buf; valid bytes end at buf[lim]. */
  pos = 0;
  lim: number;
  private fd: number;

  private constructor(path: string, kind: string, buf: Uint8Array, lim: number, fd: number, fileSize: number) {
    this.path = path;
    this.kind = kind;
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.lim = lim;
    this.fd = fd;
    this.fileSize = fileSize;
  }

  /** Open `path` (ENOENT / EACCES naming it). */
  static open(path: string, kind: string, opts: FileInOptions = {}): FileIn {
    let fd: number;
    try {
      fd = openUserFile(path, 'read'); // no link followed; a FIFO is refused, never waited on
    } catch (e) {
      throw new MpdkError((e as MpdkError).code ?? 'EIO', `${kind} ${(e as Error).message}`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      const chunk = opts.chunkSize ?? (size <= 64 << 20 ? Math.max(size, 24) : 4 << 20);
      if (!Number.isInteger(chunk) || chunk < 24) throw new MpdkError('EINVAL', `${kind} ${path}: chunk size ${chunk} must be an integer of at least 24 bytes`);
      const whole = chunk >= size;
      const buf = new Uint8Array(whole ? Math.max(size, 1) : chunk);
      const lim = readFully(fd, buf, 0, whole ? size : chunk, 0, path, kind);
      if (whole) {
        fs.closeSync(fd);
        fd = -1;
      }
      return new FileIn(path, kind, buf, lim, fd, size);
    } catch (e) {
      if (fd >= 0) fs.closeSync(fd);
      throw e;
    }
  }

  /** Bytes already in memory (`name` is used in messages). */
  static fromBytes(bytes: Uint8Array, name: string, kind: string): FileIn {
    return new FileIn(name, kind, bytes, bytes.length, -1, bytes.length);
  }

  /** File offset of buf[pos]. */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * Make `n` bytes from pos available in buf; false if the file ends first. May slide or
   * replace the window: offsets into buf taken before the call are stale after it.
   */
  ensure(n: number): boolean {
    if (this.lim - this.pos >= n) return true;
    if (this.fd < 0) return false;
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
    this.lim = left + readFully(this.fd, this.buf, left, this.buf.length - left, this.base + left, this.path, this.kind);
    return this.lim >= n;
  }

  /** Continue at file offset `at` (a record boundary seen before). */
  seek(at: number): void {
    if (this.fd < 0) {
      this.pos = at;
      return;
    }
    this.base = at;
    this.pos = 0;
    this.lim = readFully(this.fd, this.buf, 0, this.buf.length, at, this.path, this.kind);
  }

  /** Release the file descriptor (chunked mode). */
  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** An EPROTO naming the file and the byte. */
  corrupt(offset: number, what: string): MpdkError {
    return new MpdkError('EPROTO', `${this.kind} ${this.path}: byte ${offset}: ${what}`);
  }
}

/** Read up to n bytes at file position `at` into buf[off..]; returns bytes read (short only at EOF). */
function readFully(fd: number, buf: Uint8Array, off: number, n: number, at: number, path: string, kind: string): number {
  let got = 0;
  try {
    while (got < n) {
      const k = fs.readSync(fd, buf, off + got, n - got, at + got);
      if (k === 0) break;
      got += k;
    }
  } catch (e) {
    throw fsError(e, 'read', path, kind);
  }
  return got;
}
