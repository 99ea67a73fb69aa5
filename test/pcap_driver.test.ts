/**
 * net_pcap: probe checks (missing rx file named, bad devargs), a pcap read → forwarded →
 * written byte for byte, tcpdump reading the output, infinite_rx, RSS splitting one file
 * over two RX queues with no record twice, stop flushing, and a forwarder process killed
 * half-way whose successor resumes the read position and continues the file (no packet
 * duplicated or lost).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Eal, EthDev, PktmbufPool, FlowSet, buildUdpFrame, isMpdkError, PcapReader, PcapRecord, PcapWriter, type ErrorCode,
} from '../src/index.js';
import { leftovers, reapAll, removeInstance, spawnNode, uniquePrefix, until, refused } from './helpers.js';

const CHILD = 'dist/test/pcap-child.js';
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
  const r = PcapReader.open(file);
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
