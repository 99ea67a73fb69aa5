/**
 * net_pcap: probe checks (missing rx file named, bad devargs), a pcap read → forwarded →
 * written byte for byte, tcpdump reading the output, infinite_rx, RSS splitting one file
 * over two RX queues with no record twice, stop flushing, and a forwarder process killed
 * half-way whose successor resumes the read position and continues the file (no packet
 * duplicated or lost). What it reads: pcapng (editcap's, several interfaces, iface=N), pcap
 * in µs and ns in both byte orders, a truncated file's whole records, runts and records over
 * the snap length as errors, other link types refused, records longer than a buffer as
 * chains written back as one record.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Eal, EthDev, PktmbufPool, FlowSet, buildUdpFrame, isMpdkError, PcapReader, PcapRecord, PcapWriter, PcapngWriter, EPB_INBOUND, EPB_OUTBOUND, openCaptureFile, type ErrorCode,
} from '../src/index.js';
import { leftovers, reapAll, removeInstance, spawnNode, uniquePrefix, until, refused } from './helpers.js';

const CHILD = 'dist/test/pcap-child.js';
const hasTool = (t: string): boolean => {
  try {
    execFileSync(t, ['-h'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-pcap-'));
after(async () => {
  await reapAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

function ealArgs(prefix: string, vdevs: string[]): string[] {
  return ['-l', '0', '-m', '64', '--file-prefix', prefix, '--proc-type=primary', '--log-level', 'error', ...vdevs.flatMap((v) => ['--vdev', v])];
}

/** Write `n` UDP frames of mixed sizes (60..1514) over `flows` flows; returns the frames. */
function makeInput(file: string, n: number, flows = 16): Uint8Array[] {
  const fs_ = FlowSet.make({ count: flows });
  const buf = new Uint8Array(2048);
  const w = PcapWriter.open(file);
  const frames: Uint8Array[] = [];
  const sizes = [60, 64, 128, 333, 1000, 1514];
  for (let i = 0; i < n; i++) {
    const size = sizes[i % sizes.length]!;
    buildUdpFrame(buf, 0, fs_, i % flows, size, i, 0);
    w.write(buf, 0, size, size, 1700000000 + i, i);
    frames.push(buf.slice(0, size));
  }
  w.close();
  return frames;
}

function readAll(file: string): Uint8Array[] {
  const r = openCaptureFile(file);
  const rec = new PcapRecord();
  const out: Uint8Array[] = [];
  while (r.next(rec)) {
    assert.equal(rec.len, rec.caplen);
    out.push(r.buf.slice(rec.offset, rec.offset + rec.caplen));
  }
  r.close();
  return out;
}

function sameFrames(got: Uint8Array[], want: Uint8Array[]): void {
  assert.equal(got.length, want.length, `records: got ${got.length}, want ${want.length}`);
  for (let i = 0; i < want.length; i++) assert.ok(Buffer.from(got[i]!).equals(Buffer.from(want[i]!)), `record ${i} differs`);
}


/** Forward RX q → TX q in this process until RX is empty (a bounded loop). */
function forward(dev: EthDev, port: number, q: number, txq = q): number {
  const rx = dev.rxQueue(port, q);
  const tx = dev.txQueue(port, txq);
  const h = new Uint32Array(32);
  let n = 0;
  for (let i = 0; i < 100000; i++) {
    const r = rx.rxBurst(h, 32);
    if (r === 0) break;
    assert.equal(tx.txBurst(h, r), r);
    n += r;
  }
  return n;
}

function withPort(vdev: string, nbRx: number, fn: (dev: EthDev, eal: Eal) => void): void {
  const p = uniquePrefix('pc');
  const eal = Eal.init(ealArgs(p, [vdev]), { handleSignals: false }).eal;
  try {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pool', { count: 1023, cacheSize: 32 });
    dev.configure(0, { rxQueues: nbRx, txQueues: 1 });
    for (let q = 0; q < nbRx; q++) dev.rxQueueSetup(0, q, { descriptors: 256, pool });
    dev.txQueueSetup(0, 0, { descriptors: 256 });
    dev.start(0);
    fn(dev, eal);
    dev.close();
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
}

test('probe refuses a missing rx file (naming it), bad devargs, and rx = tx', () => {
  const p = uniquePrefix('pc');
  const missing = path.join(dir, 'nope.pcap');
  const init = (v: string): void => {
    const eal = Eal.init(ealArgs(p, [v]), { handleSignals: false }).eal;
    try {
      EthDev.attach(eal);
    } finally {
      eal.close();
    }
  };
  refused('ENOENT', () => init(`net_pcap0,rx_pcap=${missing}`), /net_pcap0: rx_pcap=.*nope\.pcap/);
  const notPcap = path.join(dir, 'text.pcap');
  fs.writeFileSync(notPcap, 'hello, this is not a capture file at all');
  refused('EPROTO', () => init(`net_pcap0,rx_pcap=${notPcap}`), /not a pcap file/);
  refused('EINVAL', () => init('net_pcap0'), /rx_pcap=FILE and\/or tx_pcap=FILE/);
  refused('EINVAL', () => init(`net_pcap0,rx_pcap=${notPcap},tx_pcap=${notPcap}`), /same file/);
  refused('EINVAL', () => init(`net_pcap0,tx_pcap=${path.join(dir, 'o.pcap')},infinite_rx=2`), /infinite_rx=2/);
  refused('EINVAL', () => init(`net_pcap0,rx_iface=eth0`), /unknown argument 'rx_iface'.*rx_pcap/);
  assert.deepEqual(leftovers(p), []);
});

test('a pcap read, forwarded and written is byte-identical; tcpdump reads it', () => {
  const inFile = path.join(dir, 'in1.pcap');
  const outFile = path.join(dir, 'out1.pcap');
  const frames = makeInput(inFile, 500);
  withPort(`net_pcap0,rx_pcap=${inFile},tx_pcap=${outFile}`, 1, (dev) => {
    assert.equal(forward(dev, 0, 0), 500);
    const s = dev.stats(0);
    assert.equal(s.ipackets, 500);
    assert.equal(s.opackets, 500);
    assert.equal(s.ibytes, frames.reduce((a, f) => a + f.length, 0));
    assert.equal(dev.rxBurst(0, 0, new Uint32Array(32), 32), 0, 'the file is over (no infinite_rx)');
    dev.stop(0); // flushes
    sameFrames(readAll(outFile), frames);
  });
  let tcpdump: string | undefined;
  try {
    tcpdump = execFileSync('tcpdump', ['-nn', '-r', outFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return void console.log('# tcpdump is not installed: skipped reading the output with it');
    throw e;
  }
  const lines = tcpdump.trim().split('\n');
  assert.equal(lines.length, 500);
  assert.match(lines[0]!, /IP \d+\.\d+\.\d+\.\d+\.\d+ > \d+\.\d+\.\d+\.\d+\.\d+: UDP, length/);
});

test('infinite_rx loops over the file and counts the passes', () => {
  const inFile = path.join(dir, 'in2.pcap');
  const outFile = path.join(dir, 'out2.pcap');
  const frames = makeInput(inFile, 10);
  withPort(`net_pcap0,rx_pcap=${inFile},tx_pcap=${outFile},infinite_rx=1`, 1, (dev) => {
    const rx = dev.rxQueue(0, 0);
    const tx = dev.txQueue(0, 0);
    const h = new Uint32Array(32);
    let n = 0;
    while (n < 95) {
      const r = rx.rxBurst(h, Math.min(32, 95 - n));
      assert.ok(r > 0);
      tx.txBurst(h, r);
      n += r;
    }
    tx.txBurst(h, 0);
    const got = readAll(outFile);
    assert.equal(got.length, 95);
    for (let i = 0; i < 95; i++) assert.ok(Buffer.from(got[i]!).equals(Buffer.from(frames[i % 10]!)), `record ${i}`);
    assert.equal(dev.port(0).qDrv(true, 0, 1), 9, 'nine passes completed'); // RX queue DRV1 = passes
    assert.equal(dev.port(0).qDrv(true, 0, 0), 5, 'read position: record 5');
  });
});

test('two RX queues split one file by RSS: every record once, flows never on both', () => {
  const inFile = path.join(dir, 'in3.pcap');
  const outFile = path.join(dir, 'out3.pcap');
  makeInput(inFile, 640, 64);
  withPort(`net_pcap0,rx_pcap=${inFile},tx_pcap=${outFile}`, 2, (dev, eal) => {
    const h = new Uint32Array(32);
    const flowsOf = [new Set<number>(), new Set<number>()];
    let total = 0;
    for (let q = 0; q < 2; q++) {
      const rx = dev.rxQueue(0, q);
      for (let r = rx.rxBurst(h, 32); r > 0; r = rx.rxBurst(h, 32)) {
        for (let i = 0; i < r; i++) {
          const pool = PktmbufPool.lookup(eal, 'pool');
          flowsOf[q]!.add(pool.rssHash(h[i]!));
        }
        dev.txBurst(0, 0, h, r);
        total += r;
      }
    }
    assert.equal(total, 640);
    assert.ok(flowsOf[0]!.size > 0 && flowsOf[1]!.size > 0, `both queues got flows: ${flowsOf[0]!.size} / ${flowsOf[1]!.size}`);
    for (const f of flowsOf[0]!) assert.ok(!flowsOf[1]!.has(f), 'a flow on both queues');
    assert.equal(flowsOf[0]!.size + flowsOf[1]!.size, 64);
    const st = dev.stats(0);
    assert.equal(st.queues[0]!.ipackets + st.queues[1]!.ipackets, 640);
  });
});

test('a forwarder killed half-way: its successor resumes the read position and continues the file', async () => {
  const inFile = path.join(dir, 'in4.pcap');
  const outFile = path.join(dir, 'out4.pcap');
  const frames = makeInput(inFile, 300);
  const p = uniquePrefix('pc');
  const eal = Eal.init(ealArgs(p, [`net_pcap0,rx_pcap=${inFile},tx_pcap=${outFile}`]), { handleSignals: false }).eal;
  try {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pool', { count: 1023, cacheSize: 32 });
    dev.configure(0, { rxQueues: 1, txQueues: 1 });
    dev.rxQueueSetup(0, 0, { descriptors: 256, pool });
    dev.txQueueSetup(0, 0, { descriptors: 256 });
    dev.start(0);
    const sec = (lcore: number, action: string) => spawnNode(CHILD, ['-l', String(lcore), '--file-prefix', p, '--proc-type=secondary', '--log-level', 'error', '--', action]);
    const a = sec(1, 'fwd:100:1');
    await a.waitFor(/"fwd":100/, 15000);
    a.proc.kill('SIGKILL');
    await a.exited;
    const b = sec(2, 'fwd:1000:0');
    await b.waitFor(/"fwd":200/, 15000);
    assert.equal(await b.exited, 0);
    sameFrames(readAll(outFile), frames);
    await until(() => dev.stats(0).opackets === 300, 5000, 'stats');
    assert.equal(dev.stats(0).ipackets, 300);
  } finally {
    eal.close();
    removeInstance(p);
  }
  assert.deepEqual(leftovers(p), []);
});

test('a writer that died inside write() leaves a partial record: the next append cuts it off', () => {
  const inFile = path.join(dir, 'in5.pcap');
  const outFile = path.join(dir, 'out5.pcap');
  const frames = makeInput(inFile, 40);
  withPort(`net_pcap0,rx_pcap=${inFile},tx_pcap=${outFile}`, 1, (dev) => {
    const rx = dev.rxQueue(0, 0);
    const tx = dev.txQueue(0, 0);
    const h = new Uint32Array(32);
    const r1 = rx.rxBurst(h, 20);
    tx.txBurst(h, r1);
    tx.txBurst(h, 0);
    fs.appendFileSync(outFile, Buffer.from([1, 2, 3, 4, 5, 6, 7])); // a torn record
    const r2 = rx.rxBurst(h, 20);
    tx.txBurst(h, r2);
    tx.txBurst(h, 0);
    sameFrames(readAll(outFile), frames);
  });
});

// --- what net_pcap reads: pcapng, pcap variants, truncated files, link types, runts, chains ---

/** Frames 0..n-1 (UDP, 60..1514 bytes) as Uint8Arrays, not written anywhere. */
function frames(n: number): Uint8Array[] {
  const fs_ = FlowSet.make({ count: 8 });
  const buf = new Uint8Array(2048);
  const sizes = [60, 64, 128, 333, 1000, 1514];
  return Array.from({ length: n }, (_, i) => {
    const size = sizes[i % sizes.length]!;
    buildUdpFrame(buf, 0, fs_, i % 8, size, i, 0);
    return buf.slice(0, size);
  });
}

/** Forward everything port 0 receives (its own TX writes tx_pcap), then return what tx_pcap holds. */
function replay(rxArgs: string, nbRx = 1, logs: string[] = [], count = 1023): { out: Uint8Array[]; ierrors: number; nombuf: number } {
  const outFile = path.join(dir, `replay-${uniquePrefix('o')}.pcap`);
  let res = { out: [] as Uint8Array[], ierrors: 0, nombuf: 0 };
  const p = uniquePrefix('pc');
  const args = ealArgs(p, [`net_pcap0,${rxArgs},tx_pcap=${outFile}`]).map((a) => (a === 'error' ? 'warning' : a)); // --log-level
  const eal = Eal.init(args, { handleSignals: false, logger: (level, msg) => logs.push(`${level}: ${msg}`) }).eal;
  try {
    const dev = EthDev.attach(eal);
    const pool = PktmbufPool.create(eal, 'pool', { count, cacheSize: 0 });
    dev.configure(0, { rxQueues: nbRx, txQueues: 1 });
    for (let q = 0; q < nbRx; q++) dev.rxQueueSetup(0, q, { descriptors: 256, pool });
    dev.txQueueSetup(0, 0, { descriptors: 256 });
    dev.start(0);
    for (let q = 0; q < nbRx; q++) forward(dev, 0, q, 0);
    dev.stop(0);
    const st = dev.stats(0);
    res = { out: readAll(outFile), ierrors: st.ierrors, nombuf: st.rxNombuf };
    assert.equal(pool.inUse(), 0, 'every segment back in the pool');
    dev.close();
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
  return res;
}

test('pcapng files editcap writes replay byte-identical to their pcap originals (µs and ns)', { skip: !hasTool('editcap') && 'editcap (wireshark-common) is not installed' }, () => {
  const orig = path.join(dir, 'orig.pcap');
  const want = makeInput(orig, 200);
  for (const ts of ['', 'ns']) {
    const src = ts ? path.join(dir, 'orig-ns.pcap') : orig;
    if (ts) execFileSync('editcap', ['-F', 'nseclibpcap', orig, src]);
    const ng = path.join(dir, `edit${ts}.pcapng`);
    execFileSync('editcap', ['-F', 'pcapng', src, ng]);
    sameFrames(replay(`rx_pcap=${src}`).out, want);
    sameFrames(replay(`rx_pcap=${ng}`).out, want);
  }
});

test('a pcapng of several interfaces: the first Ethernet one by default, or iface=N; others refused by name', () => {
  const a = frames(30);
  const b = frames(45).slice(15);
  const f = path.join(dir, 'multi.pcapng');
  const w = PcapngWriter.open(f, { userappl: 'test' });
  w.addInterface({ name: 'wlan0', linktype: 105 });
  w.addInterface({ name: 'eth0' });
  w.addInterface({ name: 'eth1' });
  for (let i = 0; i < 30; i++) {
    w.writePacket(0, a[i]!, 0, a[i]!.length, a[i]!.length, 1, 0, 0, -1); // 802.11: never read
    w.writePacket(1, a[i]!, 0, a[i]!.length, a[i]!.length, 2, i, EPB_INBOUND, 0);
    w.writePacket(2, b[i]!, 0, b[i]!.length, b[i]!.length, 3, i, EPB_OUTBOUND, 1);
  }
  w.close();
  sameFrames(replay(`rx_pcap=${f}`).out, a);
  sameFrames(replay(`rx_pcap=${f},iface=2`).out, b);
  sameFrames(replay(`rx_pcap=${f},iface=1`, 2).out.sort(Buffer.compare), [...a].sort(Buffer.compare)); // RSS over 2 queues
  const p = uniquePrefix('pc');
  const init = (v: string): void => {
    const eal = Eal.init(ealArgs(p, [v]), { handleSignals: false }).eal;
    try {
      EthDev.attach(eal);
    } finally {
      eal.close();
    }
  };
  refused('EINVAL', () => init(`net_pcap0,rx_pcap=${f},iface=0`), /rx_pcap=.*multi\.pcapng: link type 105 \(IEEE 802\.11\) is not Ethernet: net_pcap reads Ethernet \(link type 1\) captures$/);
  refused('EINVAL', () => init(`net_pcap0,rx_pcap=${f},iface=3`), /iface=3: the file has 3 interfaces \(0: link type 105 \(wlan0\), 1: link type 1 \(eth0\), 2: link type 1 \(eth1\)\)$/);
  refused('EINVAL', () => init(`net_pcap0,tx_pcap=${path.join(dir, 'x.pcap')},iface=1`), /iface=N chooses an interface of rx_pcap=FILE/);
  const wifi = path.join(dir, 'wifi.pcapng');
  const v = PcapngWriter.open(wifi);
  v.addInterface({ name: 'wlan0', linktype: 105 });
  v.close();
  refused('EPROTO', () => init(`net_pcap0,rx_pcap=${wifi}`), /no Ethernet interface in the file \(0: link type 105 \(wlan0\)\); mpdk reads Ethernet \(link type 1\) packets$/);
  assert.deepEqual(leftovers(p), []);
});

test('pcap in µs and ns, in both byte orders, gives the same packets; another link type is refused', () => {
  const want = frames(40);
  const le = path.join(dir, 'le.pcap');
  const w = PcapWriter.open(le);
  want.forEach((f, i) => w.write(f, 0, f.length, f.length, 1700000000 + i, i));
  w.close();
  /** The same file written on a big-endian machine (and with ns timestamps: magic a1b23c4d). */
  const variant = (name: string, bigEndian: boolean, ns: boolean): string => {
    const b = Buffer.from(fs.readFileSync(le));
    const u32 = (at: number): void => {
      const v = b.readUInt32LE(at);
      if (bigEndian) b.writeUInt32BE(v, at);
    };
    if (ns) b.writeUInt32LE(0xa1b23c4d, 0);
    u32(0);
    for (const at of [4, 6]) if (bigEndian) b.writeUInt16BE(b.readUInt16LE(at), at);
    for (const at of [8, 12, 16, 20]) u32(at);
    for (let at = 24; at < b.length;) {
      const caplen = b.readUInt32LE(at + 8);
      for (let k = 0; k < 16; k += 4) u32(at + k);
      at += 16 + caplen;
    }
    const f = path.join(dir, name);
    fs.writeFileSync(f, b);
    return f;
  };
  for (const [be, ns] of [[false, true], [true, false], [true, true]] as const) {
    const f = variant(`v-${be}-${ns}.pcap`, be, ns);
    const r = PcapReader.open(f);
    assert.equal(r.swapped, be);
    assert.equal(r.nanosecond, ns);
    r.close();
    sameFrames(replay(`rx_pcap=${f}`).out, want);
  }
  const linux = path.join(dir, 'sll.pcap');
  PcapWriter.open(linux, { linktype: 113 }).close();
  const p = uniquePrefix('pc');
  refused('EINVAL', () => {
    const eal = Eal.init(ealArgs(p, [`net_pcap0,rx_pcap=${linux}`]), { handleSignals: false }).eal;
    try {
      EthDev.attach(eal);
    } finally {
      eal.close();
    }
  }, /link type 113 \(Linux cooked\) is not Ethernet/);
  assert.deepEqual(leftovers(p), []);
});

test('a file cut inside a record delivers every whole record, then says where it was cut', () => {
  const full = path.join(dir, 'full.pcap');
  const want = makeInput(full, 50);
  const cut = path.join(dir, 'cut.pcap');
  const b = fs.readFileSync(full);
  fs.writeFileSync(cut, b.subarray(0, b.length - 10)); // the last record (64 bytes) loses its end
  const logs: string[] = [];
  const r = replay(`rx_pcap=${cut}`, 1, logs);
  sameFrames(r.out, want.slice(0, 49));
  assert.ok(logs.some((l) => /^warning: --vdev net_pcap0: rx_pcap=.*cut\.pcap is cut short \(byte \d+: truncated record: caplen \d+ but only \d+ bytes left in the file\): its 49 whole records are read$/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /^warning: net_pcap0: RX queue 0 read the 49 whole records of rx_pcap=.*cut\.pcap, which is cut short/.test(l)), logs.join('\n'));
  const ng = path.join(dir, 'cut.pcapng');
  const w = PcapngWriter.open(ng);
  w.addInterface({});
  want.forEach((f) => w.writePacket(0, f, 0, f.length, f.length, 0, 0, 0, -1));
  w.close();
  const nb = fs.readFileSync(ng);
  fs.writeFileSync(ng, nb.subarray(0, nb.length - 7));
  sameFrames(replay(`rx_pcap=${ng}`).out, want.slice(0, 49));
});

test('records shorter than an Ethernet header or longer than the snap length are counted in ierrors, not forwarded', () => {
  const f = path.join(dir, 'runts.pcap');
  const ok = frames(4);
  const w = PcapWriter.open(f, { snaplen: 1000 });
  const big = new Uint8Array(2000);
  const put = (u8: Uint8Array, n: number): void => w.write(u8, 0, n, n);
  put(ok[0]!, 60);
  put(ok[1]!, 0); // caplen 0
  put(ok[1]!, 3); // a 3-byte runt
  put(ok[1]!, 13);
  put(ok[1]!, 14); // a bare Ethernet header: a packet
  put(ok[2]!, 128);
  w.close();
  // A record longer than the header's snap length (1000): written by hand after the others.
  const b = Buffer.concat([fs.readFileSync(f), Buffer.alloc(16 + 1001)]);
  const at = b.length - 16 - 1001;
  b.writeUInt32LE(1001, at + 8);
  b.writeUInt32LE(1001, at + 12);
  b.set(big.subarray(0, 1001), at + 16);
  fs.writeFileSync(f, b);
  const r = replay(`rx_pcap=${f}`);
  sameFrames(r.out, [ok[0]!, ok[1]!.slice(0, 14), ok[2]!.slice(0, 128)]);
  assert.equal(r.ierrors, 4, '0, 3 and 13 bytes, and 1001 > snap length 1000');
});

test('a record longer than one buffer arrives as a chain and leaves as one record: 2 KB to 100 KB byte-identical', () => {
  const sizes = [60, 2048, 2049, 4096, 9000, 9018, 16000, 65535, 65549, 100000, 1514];
  const want = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (j * 13 + i) & 255));
  const f = path.join(dir, 'jumbo.pcap');
  const w = PcapWriter.open(f, { snaplen: 262144 });
  want.forEach((x) => w.write(x, 0, x.length, x.length));
  w.close();
  const r = replay(`rx_pcap=${f}`);
  sameFrames(r.out, want);
  assert.equal(r.ierrors, 0);
  // The segments as RX made them: each full to the data room (2048) but the last; the first holds NB_SEGS and PKT_LEN.
  const p = uniquePrefix('pc');
  const eal = Eal.init(ealArgs(p, [`net_pcap0,rx_pcap=${f}`]), { handleSignals: false }).eal;
  try {
    const dev = EthDev.attach(eal);
    // 40 mbufs, no cache: a 100 KB record (49 segments) never fits; a 64 KB one only in a burst of 1
    const pool = PktmbufPool.create(eal, 'pool', { count: 40 });
    dev.configure(0, { rxQueues: 1, txQueues: 1 });
    dev.rxQueueSetup(0, 0, { descriptors: 256, pool });
    dev.txQueueSetup(0, 0, { descriptors: 256 });
    dev.start(0);
    const rx = dev.rxQueue(0, 0);
    const h = new Uint32Array(32);
    const segsOf = (m: number): number[] => {
      const l: number[] = [];
      for (let s = m; s !== 0; s = pool.next(s)) l.push(pool.dataLen(s));
      return l;
    };
    assert.equal(rx.rxBurst(h, 8), 7, 'the 65535-byte record needs 32 mbufs, more than the 8 heads leave in the array of 32: the burst ends before it');
    assert.deepEqual([...h.subarray(0, 7)].map((m) => [pool.pktLen(m), pool.nbSegs(m)]), [[60, 1], [2048, 1], [2049, 2], [4096, 2], [9000, 5], [9018, 5], [16000, 8]]);
    assert.deepEqual(segsOf(h[4]!), [2048, 2048, 2048, 2048, 808]);
    pool.freeBulk(h, 7);
    assert.equal(dev.stats(0).rxNombuf, 0, 'it waits for room in the array, not for the pool');
    assert.equal(rx.rxBurst(h, 1), 1, 'then the same record, in a burst of one');
    assert.equal(pool.pktLen(h[0]!), 65535);
    assert.equal(pool.nbSegs(h[0]!), 32);
    pool.freeBulk(h, 1);
    assert.equal(pool.inUse(), 0, 'the chain freed whole');
    assert.equal(rx.rxBurst(h, 1), 1, 'a record of 33 mbufs, more than the array holds: head, then its segments apart');
    assert.deepEqual([pool.pktLen(h[0]!), pool.nbSegs(h[0]!)], [65549, 33]);
    pool.freeBulk(h, 1);
    assert.equal(rx.rxBurst(h, 1), 0, 'one of 49 mbufs from a pool of 40: waits');
    assert.equal(dev.stats(0).rxNombuf, 1, 'counted once');
    assert.equal(pool.inUse(), 0, 'nothing kept of the attempt');
    dev.close();
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
});
