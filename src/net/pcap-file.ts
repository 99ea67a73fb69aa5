/**
 * Open a capture file whatever its format: pcap (µs or ns, either byte order) or pcapng
 * (either byte order, several interfaces), told apart by its first bytes as libpcap does.
 * What net_pcap's RX and `pktgen`-style tools call; both readers are CaptureFileReaders.
 */
import fs from 'node:fs';
import { MpdkError } from '../eal/errors.js';
import { PCAPNG_MAGIC, PcapReader, type CaptureFileReader } from './pcap.js';
import { PcapngReader } from './pcapng-reader.js';
import type { FileInOptions } from './pcap-in.js';

/** Options of `openCaptureFile`. */
export interface CaptureFileOptions extends FileInOptions {
  /** pcapng: the interface whose packets are read (default: the first Ethernet one), or 'all'. pcap: 0 only. */
  iface?: number | 'all';
}

/** The reader for `path` (ENOENT / EACCES / EPROTO naming it; EINVAL for an `iface` the file lacks). */
export function openCaptureFile(path: string, opts: CaptureFileOptions = {}): CaptureFileReader {
  let first = 0;
  let fd = -1;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const b = Buffer.alloc(4);
    if (fs.fstatSync(fd).isFile() && fs.readSync(fd, b, 0, 4, 0) === 4) first = b.readUInt32LE(0);
  } catch {
    // The reader's own open says what is wrong with the path, in its words.
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
  if (first === PCAPNG_MAGIC) return PcapngReader.open(path, opts);
  if (opts.iface !== undefined && opts.iface !== 0 && opts.iface !== 'all') {
    throw new MpdkError('EINVAL', `pcap ${path}: iface=${opts.iface}: a pcap file has one interface (0); iface= is for pcapng files`);
  }
  return PcapReader.open(path, opts);
}
