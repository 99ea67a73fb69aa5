/**
 * Packet-module figures (src/net): the per-packet work of an RX path and of pktgen, in one
 * thread, over frames laid out in one buffer as they would be in mbufs of the region.
 *
 *   rss.toeplitz.ipv4_udp  M hashes/s: PacketHasher.hash (the RX path's) over 1024 different
 *                          64-byte Eth/IPv4/UDP frames (parse Ethernet + IPv4, 12 table lookups)
 *   packet.build64         M frames/s: UdpFrameBuilder.build of 64-byte frames over 1024 flows
 *                          into 256 frame slots (per-flow header template + seq/flow/time payload)
 *   pcap.write64           M records/s: PcapWriter.write of 64-byte frames to a file in the
 *                          OS temp dir (1 MiB buffer, writeSync), close included
 *   pcap.read64            M records/s: PcapReader.next over that file (whole-file mode)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FlowSet, UdpFrameBuilder, buildUdpFrame } from '../src/net/packet.js';
import { PcapReader, PcapRecord, PcapWriter } from '../src/net/pcap.js';
import { PacketHasher, RSS_KEY_DEFAULT, ToeplitzTable } from '../src/net/rss.js';
import type { Bench } from './harness.js';

const FRAME = 64;
const FLOWS = 1024;
/** Stride of frames in the buffer: an mbuf's data room is 2 KiB + headroom; 128 keeps it small but not packed. */
const STRIDE = 128;
const MEASURE_MS = 1000;
const WARMUP_MS = 200;

/** Frames of flows 0..n-1 at i * STRIDE + 2 (an odd-ish data offset, as behind a headroom). */
function frames(n: number): Uint8Array {
  const flows = FlowSet.make({ count: FLOWS, vary: ['srcIp', 'dport'] });
  const u8 = new Uint8Array(n * STRIDE + 2);
  for (let i = 0; i < n; i++) buildUdpFrame(u8, i * STRIDE + 2, flows, i % FLOWS, FRAME, i, 0);
  return u8;
}

/** Hash all n frames once; returns an XOR of the hashes so the work cannot be dropped. */
function hashRound(h: PacketHasher, n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x ^= h.hash(i * STRIDE + 2, FRAME);
  return x;
}

function buildRound(b: UdpFrameBuilder, slots: number, seq: number, txTime: number): number {
  for (let i = 0; i < slots; i++) b.build(i * STRIDE + 2, (seq + i) & (FLOWS - 1), seq + i, txTime);
  return seq + slots;
}

/** Run `round` (doing `per` operations) for `ms`; M operations per second. */
function rate(ms: number, per: number, round: () => void): number {
  const t0 = performance.now();
  let ops = 0;
  let t = t0;
  while (t - t0 < ms) {
    for (let k = 0; k < 16; k++) round();
    ops += 16 * per;
    t = performance.now();
  }
  return ops / ((t - t0) * 1000);
}

let sink = 0;

export const benches: Bench[] = [
  {
    name: 'rss.toeplitz.ipv4_udp',
    unit: 'M hashes/s',
    what: 'Toeplitz RSS hash of 64-byte Eth/IPv4/UDP frames from packet bytes (table-driven, one thread)',
    async run() {
      const u8 = frames(FLOWS);
      const h = new PacketHasher(new ToeplitzTable(RSS_KEY_DEFAULT), u8);
      const round = (): void => {
        sink = (sink + hashRound(h, FLOWS)) | 0;
      };
      rate(WARMUP_MS, FLOWS, round);
      return rate(MEASURE_MS, FLOWS, round);
    },
  },
  {
    name: 'packet.build64',
    unit: 'M frames/s',
    what: 'build 64-byte Eth/IPv4/UDP pktgen frames (headers, IPv4 checksum, seq/time payload), one thread',
    async run() {
      const flows = FlowSet.make({ count: FLOWS });
      const slots = 256;
      const u8 = new Uint8Array(slots * STRIDE + 2);
      let seq = 0;
      const b = new UdpFrameBuilder(u8, flows, FRAME);
      const round = (): void => {
        seq = buildRound(b, slots, seq, performance.now());
      };
      rate(WARMUP_MS, slots, round);
      const r = rate(MEASURE_MS, slots, round);
      sink ^= u8[50]!;
      return r;
    },
  },
];

/** Write `n` 64-byte records to `file`; returns M records/s (open to close). */
function writePcap(file: string, u8: Uint8Array, n: number): number {
  const t0 = performance.now();
  const w = PcapWriter.open(file);
  for (let i = 0; i < n; i++) w.write(u8, (i & 1023) * STRIDE + 2, FRAME, FRAME, i >>> 20, i & 0xfffff);
  w.close();
  return n / ((performance.now() - t0) * 1000);
}

const PCAP_RECORDS = 1 << 20;

benches.push(
  {
    name: 'pcap.write64',
    unit: 'M records/s',
    what: 'pcap writer: 64-byte records through a 1 MiB buffer to a file (tmp dir), close included',
    async run() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-bench-'));
      try {
        const u8 = frames(FLOWS);
        writePcap(path.join(dir, 'w.pcap'), u8, PCAP_RECORDS / 8);
        let best = 0;
        for (let r = 0; r < 3; r++) best = Math.max(best, writePcap(path.join(dir, 'w.pcap'), u8, PCAP_RECORDS));
        return best;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'pcap.read64',
    unit: 'M records/s',
    what: 'pcap reader: next() over a file of 64-byte records (whole-file mode, no allocation per record)',
    async run() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-bench-'));
      try {
        const file = path.join(dir, 'r.pcap');
        writePcap(file, frames(FLOWS), PCAP_RECORDS);
        const r = PcapReader.open(file);
        const rec = new PcapRecord();
        let best = 0;
        for (let k = 0; k < 4; k++) {
          r.rewind();
          const t0 = performance.now();
          let n = 0;
          while (r.next(rec)) n++;
          sink = (sink + rec.caplen) | 0;
          best = Math.max(best, n / ((performance.now() - t0) * 1000));
        }
        r.close();
        return best;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  },
);

/** Keeps the hash results observable (never read in practice). */
export function benchSink(): number {
  return sink;
}
