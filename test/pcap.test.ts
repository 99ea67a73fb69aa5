/**
 * pcap files: what the writer writes the reader reads back byte for byte (whole-file and
 * chunked), both magics in both byte orders are read, a damaged file stops with a one-line
 * EPROTO naming the file and byte offset, and tcpdump reads our files (and we read its).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isMpdkError } from '../src/eal/errors.js';
import { FlowSet, buildUdpFrame, frameChecksum, setUdpChecksum4 } from '../src/net/packet.js';
import { LINKTYPE_ETHERNET, PCAP, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, PCAP_REC, PcapReader, PcapRecord, PcapWriter } from '../src/net/pcap.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-pcap-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (name: string): string => path.join(dir, `${n++}-${name}`);

/** Packets of assorted sizes with recognisable bytes. */
function packets(count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = [64, 60, 129, 1514, 9000, 200][i % 6]!;
    out.push(Uint8Array.from({ length: len }, (_, j) => (j * 7 + i) & 255));
  }
  return out;
}

function writeAll(file: string, pkts: Uint8Array[], opts = {}): void {
  const w = PcapWriter.open(file, opts);
  pkts.forEach((p, i) => {
    const buf = new Uint8Array(p.length + 3);
    buf.set(p, 3);
    w.write(buf, 3, p.length, p.length, 1700000000 + i, i * 1000);
  });
  w.close();
}

function readAll(r: PcapReader): { caplen: number; len: number; sec: number; frac: number; sum: number }[] {
  const rec = new PcapRecord();
  const out = [];
  while (r.next(rec)) out.push({ caplen: rec.caplen, len: rec.len, sec: rec.tsSec, frac: rec.tsFrac, sum: frameChecksum(r.buf, rec.offset, rec.caplen) });
  return out;
}

function expected(pkts: Uint8Array[], snaplen = 65535): ReturnType<typeof readAll> {
  return pkts.map((p, i) => ({ caplen: Math.min(p.length, snaplen), len: p.length, sec: 1700000000 + i, frac: i * 1000, sum: frameChecksum(p, 0, Math.min(p.length, snaplen)) }));
}

function errorAt(file: string, re: RegExp): (e: unknown) => boolean {
  return (e) => isMpdkError(e, 'EPROTO') && e.message.includes(file) && re.test(e.message) && !e.message.includes('\n');
}

describe('pcap writer and reader', () => {
  it('writes a little-endian microsecond header for Ethernet', () => {
    const f = tmp('hdr.pcap');
    writeAll(f, []);
    const b = fs.readFileSync(f);
    assert.equal(b.length, PCAP.HLEN);
    assert.equal(b.readUInt32LE(PCAP.MAGIC), PCAP_MAGIC_USEC);
    assert.equal(b.readUInt16LE(PCAP.VERSION_MAJOR), 2);
    assert.equal(b.readUInt16LE(PCAP.VERSION_MINOR), 4);
    assert.equal(b.readUInt32LE(PCAP.SNAPLEN), 65535);
    assert.equal(b.readUInt32LE(PCAP.LINKTYPE), LINKTYPE_ETHERNET);
    const r = PcapReader.open(f);
    assert.equal(r.next(new PcapRecord()), false, 'an empty capture has no records');
  });

  it('reads back every record byte for byte, whole-file and in small chunks', () => {
    const f = tmp('rt.pcap');
    const pkts = packets(60);
    writeAll(f, pkts, { bufferSize: 4096 });
    const want = expected(pkts);
    assert.deepEqual(readAll(PcapReader.open(f)), want);
    const chunked = PcapReader.open(f, { chunkSize: 100 });
    assert.deepEqual(readAll(chunked), want);
    chunked.close();
    assert.equal(fs.statSync(f).size, PCAP.HLEN + pkts.reduce((s, p) => s + PCAP_REC.HLEN + p.length, 0));
  });

  it('cuts packets to the snaplen and keeps the original length', () => {
    const f = tmp('snap.pcap');
    const pkts = packets(6);
    writeAll(f, pkts, { snaplen: 100 });
    const r = PcapReader.open(f);
    assert.equal(r.snaplen, 100);
    assert.deepEqual(readAll(r), expected(pkts, 100));
  });

  it('rewinds to the first record (looping RX), in both modes', () => {
    const f = tmp('loop.pcap');
    const pkts = packets(7);
    writeAll(f, pkts);
    for (const r of [PcapReader.open(f), PcapReader.open(f, { chunkSize: 64 })]) {
      const first = readAll(r);
      r.rewind();
      assert.deepEqual(readAll(r), first);
      r.close();
    }
  });

  it('writes and reads nanosecond files', () => {
    const f = tmp('ns.pcap');
    writeAll(f, packets(3), { nanosecond: true });
    assert.equal(fs.readFileSync(f).readUInt32LE(0), PCAP_MAGIC_NSEC);
    const r = PcapReader.open(f);
    assert.ok(r.nanosecond);
    assert.deepEqual(readAll(r), expected(packets(3)));
  });

  it('reads big-endian files, microsecond and nanosecond', () => {
    for (const magic of [PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC]) {
      const pkt = Uint8Array.from({ length: 70 }, (_, i) => i);
      const b = Buffer.alloc(PCAP.HLEN + PCAP_REC.HLEN + 70);
      b.writeUInt32BE(magic, 0);
      b.writeUInt16BE(2, 4);
      b.writeUInt16BE(4, 6);
      b.writeUInt32BE(65535, 16);
      b.writeUInt32BE(1, 20);
      b.writeUInt32BE(12345, 24);
      b.writeUInt32BE(678, 28);
      b.writeUInt32BE(70, 32);
      b.writeUInt32BE(80, 36);
      b.set(pkt, 40);
      const f = tmp('be.pcap');
      fs.writeFileSync(f, b);
      const r = PcapReader.open(f);
      assert.ok(r.swapped);
      assert.equal(r.nanosecond, magic === PCAP_MAGIC_NSEC);
      assert.equal(r.linktype, 1);
      assert.deepEqual(readAll(r), [{ caplen: 70, len: 80, sec: 12345, frac: 678, sum: frameChecksum(pkt, 0, 70) }]);
    }
  });

  it('refuses writes after close', () => {
    const w = PcapWriter.open(tmp('closed.pcap'));
    w.close();
    w.close();
    assert.throws(() => w.write(new Uint8Array(60), 0, 60), (e) => isMpdkError(e, 'EINVAL'));
  });
});

describe('damaged and foreign files', () => {
  const good = tmp('good.pcap');
  writeAll(good, packets(4));
  const bytes = fs.readFileSync(good);
  const rec2 = PCAP.HLEN + 2 * PCAP_REC.HLEN + 64 + 60; // header of the third record

  it('delivers every whole record of a file cut in a record, then says where it was cut', () => {
    const f = tmp('cut.pcap');
    fs.writeFileSync(f, bytes.subarray(0, rec2 + PCAP_REC.HLEN + 10));
    for (const chunkSize of [undefined, 50]) {
      const r = PcapReader.open(f, { chunkSize });
      const rec = new PcapRecord();
      assert.ok(r.next(rec));
      assert.ok(r.next(rec));
      assert.equal(r.truncated, '');
      assert.equal(r.next(rec), false);
      assert.equal(r.truncated, `byte ${rec2}: truncated record: caplen 129 but only 10 bytes left in the file`);
      assert.equal(r.next(rec), false, 'and stays at the end');
      r.rewind();
      assert.ok(r.next(rec), 'rewind reads the file again');
      r.close();
    }
  });

  it('delivers every whole record of a file cut in a record header, then says so', () => {
    const f = tmp('cuthdr.pcap');
    fs.writeFileSync(f, bytes.subarray(0, rec2 + 5));
    const r = PcapReader.open(f);
    const rec = new PcapRecord();
    assert.ok(r.next(rec));
    assert.ok(r.next(rec));
    assert.equal(r.next(rec), false);
    assert.equal(r.truncated, `byte ${rec2}: truncated record header (5 of 16 bytes) at end of file`);
  });

  it('stops with EPROTO on an impossible caplen', () => {
    const f = tmp('caplen.pcap');
    const b = Buffer.from(bytes);
    b.writeUInt32LE(0x7fffffff, PCAP.HLEN + PCAP_REC.CAPLEN);
    fs.writeFileSync(f, b);
    assert.throws(() => PcapReader.open(f).next(new PcapRecord()), errorAt(f, new RegExp(`byte ${PCAP.HLEN}: record caplen 2147483647 is larger than 262144`)));
  });

  it('refuses a file that is not pcap, a pcapng file and a file shorter than the header', () => {
    const junk = tmp('junk.pcap');
    fs.writeFileSync(junk, Buffer.from('this is not a capture file at all'));
    assert.throws(() => PcapReader.open(junk), errorAt(junk, /byte 0: bad magic 0x73696874/));
    const ng = tmp('ng.pcapng');
    const b = Buffer.alloc(28);
    b.writeUInt32LE(0x0a0d0d0a, 0);
    fs.writeFileSync(ng, b);
    assert.throws(() => PcapReader.open(ng), errorAt(ng, /this is a pcapng file; read it with PcapngReader or openCaptureFile/));
    const short = tmp('short.pcap');
    fs.writeFileSync(short, bytes.subarray(0, 10));
    assert.throws(() => PcapReader.open(short), errorAt(short, /file is 10 bytes, shorter than the 24-byte pcap header/));
  });

  it('says ENOENT for a missing file (reader) or directory (writer)', () => {
    const missing = path.join(dir, 'nope', 'x.pcap');
    assert.throws(() => PcapReader.open(missing), (e) => isMpdkError(e, 'ENOENT') && e.message.includes(missing));
    assert.throws(() => PcapWriter.open(missing), (e) => isMpdkError(e, 'ENOENT') && e.message.includes(missing));
  });
});

const tcpdump = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
const noTcpdump = tcpdump.error || tcpdump.status !== 0 ? 'tcpdump is not installed (apt-get install -y tcpdump)' : false;

describe('interoperability with tcpdump', { skip: noTcpdump }, () => {
  /** 20 pktgen frames (UDP checksum filled in) written by PcapWriter. */
  function ours(): { file: string; frames: Uint8Array[] } {
    const file = tmp('ours.pcap');
    const flows = FlowSet.make({ count: 5 });
    const w = PcapWriter.open(file);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) {
      const size = i % 2 ? 64 : 128;
      const u8 = new Uint8Array(size);
      buildUdpFrame(u8, 0, flows, i % 5, size, i, i * 1.5);
      setUdpChecksum4(u8, 14, 34);
      w.write(u8, 0, size, size, 1700000000, i);
      frames.push(u8);
    }
    w.close();
    return { file, frames };
  }

  it('reads our file: every frame, addresses and ports, IP and UDP checksums correct', () => {
    const { file } = ours();
    const out = execFileSync('tcpdump', ['-nn', '-vv', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = out.trim().split('\n').filter((l) => /^\d\d:\d\d:\d\d/.test(l));
    assert.equal(lines.length, 20, out);
    assert.match(out, /10\.0\.0\.1\.1024 > 10\.1\.0\.1\.5001: \[udp sum ok\] UDP, length 22/);
    assert.match(out, /10\.0\.0\.5\.1024 > 10\.1\.0\.1\.5001: \[udp sum ok\] UDP, length 86/);
    assert.doesNotMatch(out, /bad|truncated|invalid/i);
    assert.equal(out.match(/udp sum ok/g)!.length, 20);
  });

  it('reads back what tcpdump rewrites from our file, byte for byte, microsecond and nanosecond', () => {
    const { file, frames } = ours();
    for (const precision of ['micro', 'nano']) {
      const theirs = tmp(`theirs-${precision}.pcap`);
      execFileSync('tcpdump', ['-r', file, '-w', theirs, `--time-stamp-precision=${precision}`], { stdio: 'ignore' });
      const r = PcapReader.open(theirs);
      assert.equal(r.nanosecond, precision === 'nano');
      const got = readAll(r);
      assert.equal(got.length, 20);
      got.forEach((g, i) => {
        assert.equal(g.sum, frameChecksum(frames[i]!, 0, frames[i]!.length), `frame ${i}`);
        assert.equal(g.sec, 1700000000);
        assert.equal(g.frac, precision === 'nano' ? i * 1000 : i);
      });
    }
  });
});
