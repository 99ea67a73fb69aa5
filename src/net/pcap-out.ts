/**
 * The buffered output of the capture-file writers (PcapWriter, PcapngWriter): bytes are
 * packed into one buffer and written to a file descriptor when it fills, on flush() and on
 * close(). Nothing here lives in shared memory.
 *
 *   who calls what
 *   a writer      FileOut.create(path) (a file the user named: openUserFile, no link
 *                 followed) or FileOut.toFd(fd, name) (a descriptor the caller owns, e.g.
 *                 stdout for `dumpcap -w -`); then room(n) + advance(n) per record, or
 *                 put(u8, off, n) for bytes that may exceed the buffer; flush(); close()
 *
 * A pipe whose reader is slow (EAGAIN on a non-blocking descriptor) is waited for, 1 ms at a
 * time, as a blocking write would; a pipe whose reader went away is an MpdkError EPIPE, so
 * that `dumpcap -w - | tcpdump -r - -c 10` ends dumpcap quietly once tcpdump has its 10.
 */
import fs from 'node:fs';
import { MpdkError, type ErrorCode } from '../eal/errors.js';
import { openUserFile } from '../eal/safe-open.js';
import { Bytes, copyBytes } from './bytes.js';

const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));

/** A buffered writer to one descriptor. Not shared between threads. */
export class FileOut {
  /** The file's name in messages (a path, or "stdout"). */
  readonly name: string;
  /** The buffer; a record is written at buf[pos] after room(). */
  readonly buf: Uint8Array;
  readonly dv: DataView;
  /** The buffer as copyBytes sees it. */
  readonly out: Bytes;
  pos = 0;
  /** Bytes accepted so far (written and buffered): the file's size once flushed. */
  bytes = 0;
  private fd: number;
  private readonly ownsFd: boolean;
  /** The last source buffer of put() as copyBytes sees it (made again when it changes). */
  private src = new Bytes(new Uint8Array(0));

  private constructor(name: string, fd: number, ownsFd: boolean, bufferSize: number) {
    if (!Number.isInteger(bufferSize) || bufferSize < 4096) throw new MpdkError('EINVAL', `${name}: buffer size ${bufferSize} must be an integer of at least 4096 bytes`);
    this.name = name;
    this.fd = fd;
    this.ownsFd = ownsFd;
    this.buf = new Uint8Array(bufferSize);
    this.dv = new DataView(this.buf.buffer);
    this.out = new Bytes(this.buf);
  }

  /** Create (or truncate) the file at `path`; no link is followed, nor another user's file written. */
  static create(path: string, bufferSize = 1 << 20, mode?: number): FileOut {
    const fd = openUserFile(path, 'write');
    try {
      if (mode !== undefined) fs.fchmodSync(fd, mode);
      return new FileOut(path, fd, true, bufferSize);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Write to `fd`, which the caller keeps (close() flushes, and leaves it open). */
  static toFd(fd: number, name: string, bufferSize = 1 << 20): FileOut {
    return new FileOut(name, fd, false, bufferSize);
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /**
   * Make room for `n` contiguous bytes at buf[pos], flushing first when needed. False when
   * `n` is larger than the whole buffer (write it with put()).
   */
  room(n: number): boolean {
    if (this.fd < 0) throw new MpdkError('EINVAL', `${this.name}: write after close`);
    if (this.pos + n <= this.buf.length) return true;
    this.flush();
    return n <= this.buf.length;
  }

  /** `n` bytes were written at buf[pos]. */
  advance(n: number): void {
    this.pos += n;
    this.bytes += n;
  }

  /** Append u8[off, off + n): into the buffer, or straight to the file when larger than it. */
  put(u8: Uint8Array, off: number, n: number): void {
    if (this.room(n)) {
      if (u8 !== this.src.view) this.src = new Bytes(u8);
      copyBytes(this.src, off, this.out, this.pos, n);
      this.advance(n);
      return;
    }
    this.writeAll(u8, off, n);
    this.bytes += n;
  }

  /** Write what is buffered. */
  flush(): void {
    if (this.fd < 0 || this.pos === 0) return;
    const n = this.pos;
    this.pos = 0;
    this.writeAll(this.buf, 0, n);
  }

  /** Flush and close (a descriptor given to toFd stays open); later calls do nothing. */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      if (this.ownsFd) fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  private writeAll(src: Uint8Array, off: number, n: number): void {
    while (n > 0) {
      let k: number;
      try {
        k = fs.writeSync(this.fd, src, off, n);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          Atomics.wait(SLEEP_CELL, 0, 0, 1); // a slow reader of a non-blocking pipe
          continue;
        }
        throw outputError(e, this.name);
      }
      off += k;
      n -= k;
    }
  }
}

function outputError(e: unknown, name: string): MpdkError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EPIPE') return new MpdkError('EPIPE', `${name}: the reader closed the pipe`);
  const code: ErrorCode = err.code === 'ENOSPC' ? 'ENOSPC' : err.code === 'EACCES' || err.code === 'EPERM' ? 'EACCES' : 'EIO';
  const hint = code === 'ENOSPC' ? ' (the file system is full)' : '';
  return new MpdkError(code, `${name}: cannot write: ${err.message}${hint}`);
}
