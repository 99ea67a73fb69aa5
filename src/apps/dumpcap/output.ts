/**
 * Where dumpcap's packets go: one pcapng (or pcap) file, stdout, or a ring buffer of files
 * (-b), as Wireshark's dumpcap names and rotates them.
 *
 *   one file      -w FILE (created 0600, 0640 with -g), or stdout for -w -, or a new file in
 *                 the temporary folder (DPDK's name: dpdk-dumpcap_<port>_<name>_<time>.pcapng)
 *   ring buffer   FILE_00001_20250102150405.EXT, FILE_00002_..., a new one when the current
 *                 reaches -b filesize / packets (checked before each packet) or duration
 *                 (checked each round); with files:N the oldest beyond N is removed
 *   pcapng        each file: section header (host and application), one interface block per
 *                 -i, the packets (direction and queue in each), then at close one statistics
 *                 block per interface (received, dropped, accepted by the filter)
 *   pcap (-P)     each file: the header (nanoseconds, the largest snap length), the packets
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  EPB_INBOUND, EPB_OUTBOUND, PcapWriter, PcapngWriter, type PcapngInterface, type PcapngSection, type PcapngStats,
} from '../../index.js';
import type { RingSpec } from './options.js';

export interface OutputOptions {
  /** A path, or '-' for stdout. */
  file: string;
  pcapng: boolean;
  /** File permissions. */
  mode: number;
  section: PcapngSection;
  ifaces: readonly PcapngInterface[];
  ring: RingSpec | undefined;
  /** Statistics of interface i at the time of asking (for the blocks at the end of each file). */
  stats: (iface: number) => PcapngStats;
}

/** The time as [seconds, nanoseconds] since 1970. */
export function nowNs(): [number, number] {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

function stamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** DPDK's name for a capture without -w: <tmp>/dpdk-dumpcap_<port>_<name>_<time>.<ext>. */
export function defaultFileName(tmpDir: string, port: number, name: string, pcapng: boolean): string {
  return path.join(tmpDir, `dpdk-dumpcap_${port}_${name}_${stamp(new Date())}.${pcapng ? 'pcapng' : 'pcap'}`);
}

/** The capture's output: packets in, files out. */
export class CaptureOutput {
  /** Packets written in all. */
  written = 0;
  /** Files made (ring buffer: those still kept), the current one last. */
  readonly files: string[] = [];
  /** Files made in all. */
  filesMade = 0;
  private ng: PcapngWriter | undefined;
  private pcap: PcapWriter | undefined;
  private filePackets = 0;
  private fileStart = 0;
  private readonly o: OutputOptions;
  private readonly snaplen: number;

  constructor(o: OutputOptions) {
    this.o = o;
    this.snaplen = Math.max(...o.ifaces.map((i) => i.snaplen ?? 262144));
    this.openNext();
  }

  /** Bytes of the file in use. */
  get fileBytes(): number {
    return this.ng?.bytes ?? this.pcap?.bytes ?? 0;
  }

  /** Where the packets go, for messages. */
  get where(): string {
    if (this.o.file === '-') return 'stdout';
    return this.o.ring ? `${this.files[0]} ...` : this.files[0]!;
  }

  /** One packet of interface `iface`, seen on `queue` going `dir`. */
  packet(iface: number, rx: boolean, queue: number, u8: Uint8Array, off: number, caplen: number, len: number, sec: number, ns: number): void {
    const ring = this.o.ring;
    if (ring !== undefined && this.filePackets > 0 && ((ring.fileBytes !== undefined && this.fileBytes >= ring.fileBytes) || (ring.packets !== undefined && this.filePackets >= ring.packets))) {
      this.rotate();
    }
    if (this.ng) this.ng.writePacket(iface, u8, off, caplen, len, sec, ns, rx ? EPB_INBOUND : EPB_OUTBOUND, queue);
    else this.pcap!.write(u8, off, caplen, len, sec, ns);
    this.filePackets++;
    this.written++;
  }

  /** Once per round: a new file when -b duration says so. */
  tick(now: number): void {
    const s = this.o.ring?.seconds;
    if (s !== undefined && now - this.fileStart >= s * 1000) this.rotate();
  }

  flush(): void {
    this.ng?.flush();
    this.pcap?.flush();
  }

  /** The statistics blocks (pcapng), then close the file in use. */
  close(): void {
    const ng = this.ng;
    this.ng = undefined;
    const pcap = this.pcap;
    this.pcap = undefined;
    if (ng) {
      try {
        this.o.ifaces.forEach((_, i) => ng.writeStats(i, this.o.stats(i)));
      } finally {
        ng.close();
      }
    }
    pcap?.close();
  }

  /** Close without writing anything more (the reader of stdout went away). */
  abandon(): void {
    this.ng = undefined;
    this.pcap = undefined;
  }

  private rotate(): void {
    this.close();
    this.openNext();
  }

  private openNext(): void {
    const o = this.o;
    let file = o.file;
    if (o.ring) {
      const ext = path.extname(file);
      file = `${file.slice(0, file.length - ext.length)}_${String(this.filesMade + 1).padStart(5, '0')}_${stamp(new Date())}${ext}`;
    }
    if (o.pcapng) {
      this.ng = file === '-' ? PcapngWriter.toFd(1, 'stdout', o.section) : PcapngWriter.open(file, o.section, o.mode);
      for (const i of o.ifaces) this.ng.addInterface(i);
    } else {
      const opts = { snaplen: this.snaplen, nanosecond: true };
      this.pcap = file === '-' ? PcapWriter.toFd(1, 'stdout', opts) : PcapWriter.open(file, opts, o.mode);
    }
    this.filesMade++;
    this.filePackets = 0;
    this.fileStart = Date.now();
    if (file !== '-') this.files.push(file);
    const keep = o.ring?.files;
    while (keep !== undefined && this.files.length > keep) fs.rmSync(this.files.shift()!, { force: true });
  }
}
