/**
 * A small running application for the proc-info / top / dumpcap tests:
 *   node proc-info-child.js <EAL args incl. --vdev net_ring0> -- QUEUES
 * The primary: mbuf pool "pi_pool", port 0 with QUEUES RX and TX queues (started), a ring
 * "pi_ring" holding 10 entries, then {"ready":pid} on stdout. It plays port 0's wire AND
 * forwards every RX queue to the same TX queue (echo). Commands on stdin, one per line:
 *   send N SIZE [FILE]   inject N frames of SIZE bytes (16 flows, seq 0..N-1), forward them,
 *                        collect them from the wire; {"sent":N,"collected":M}. FILE: also
 *                        write the frames sent, in order, to FILE (pcap) for comparison
 *   flow MS              the same at ~32 packets per ms for MS ms, or until a `stop` line
 *                        comes (whichever is first); {"flowing":true} once the first are
 *                        back, {"flowed":N} at the end
 *   quit                 leave (eal.close) and exit 0
 * Every wait is bounded; nothing busy-polls while idle (the process waits on stdin).
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import readline from 'node:readline';
import { Eal, EthDev, FlowSet, Mbufs, PcapWriter, PktmbufPool, Ring, buildUdpFrame, type RxQueue, type TxQueue, stderrLogger } from '../src/index.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const nq = Number(argv[dd + 1] ?? 1);
const { eal } = Eal.init(argv.slice(0, dd), { name: 'pi-child', logger: stderrLogger, handleSignals: true });
const pool = PktmbufPool.create(eal, 'pi_pool', { count: 4095, cacheSize: 32 });
const dev = EthDev.attach(eal);
dev.configure(0, { rxQueues: nq, txQueues: nq });
for (let q = 0; q < nq; q++) {
  dev.rxQueueSetup(0, q, { descriptors: 1024, pool });
  dev.txQueueSetup(0, q, { descriptors: 1024 });
}
dev.start(0);
const ring = Ring.create(eal, 'pi_ring', { count: 64 });
const vals = Uint32Array.from({ length: 10 }, (_, i) => i + 1);
ring.enqueueBurst(vals, 10);
const rxq: RxQueue[] = [];
const txq: TxQueue[] = [];
for (let q = 0; q < nq; q++) {
  rxq.push(dev.rxQueue(0, q));
  txq.push(dev.txQueue(0, q));
}
const wire = dev.wire(0);
const mbufs = new Mbufs(eal);
const flows = FlowSet.make({ count: 16 });
const u8 = eal.region.u8;
const h = new Uint32Array(64);
const out = (o: unknown): boolean => process.stdout.write(JSON.stringify(o) + '\n');

/** Inject frames seq [from, to) in bursts; forward; collect. Returns packets collected. */
function pump(from: number, to: number, size: number, pcap?: PcapWriter): number {
  let seq = from;
  let collected = 0;
  const end = Date.now() + 5000;
  let inFlight = 0;
  while ((seq < to || inFlight > 0) && Date.now() < end) {
    if (seq < to) {
      const n = Math.min(32, to - seq);
      if (pool.allocBulk(h, n) === n) {
        for (let i = 0; i < n; i++) {
          const m = h[i]!;
          const off = mbufs.dataOffset(m);
          buildUdpFrame(u8, off, flows, (seq + i) % 16, size, seq + i, 0);
          mbufs.setDataLen(m, size);
          mbufs.setPktLen(m, size);
          pcap?.write(u8, off, size, size, 0, 0);
        }
        const r = wire.inject(h, n);
        if (r < n) mbufs.freeBulk(h.subarray(r), n - r);
        seq += n;
        inFlight += r;
      }
    }
    for (let q = 0; q < nq; q++) {
      const r = rxq[q]!.rxBurst(h, 64);
      if (r === 0) continue;
      const t = txq[q]!.txBurst(h, r);
      if (t < r) mbufs.freeBulk(h.subarray(t), r - t);
    }
    const c = wire.collect(h, 64);
    if (c > 0) {
      mbufs.freeBulk(h, c);
      collected += c;
      inFlight -= c;
    }
  }
  return collected;
}

out({ ready: process.pid });
const rl = readline.createInterface({ input: process.stdin });
/** Set by a `stop` line, read while a flow runs (the loop below reads its next line only after it). */
let stopFlow = false;
rl.on('line', (l) => {
  if (l.trim() === 'stop') stopFlow = true;
});
for await (const line of rl) {
  const [cmd, a, b, c] = line.trim().split(/\s+/);
  if (cmd === 'send') {
    const pcap = c ? PcapWriter.open(c) : undefined;
    const n = Number(a);
    const got = pump(0, n, Number(b), pcap);
    pcap?.close();
    out({ sent: n, collected: got });
  } else if (cmd === 'flow') {
    const end = Date.now() + Number(a);
    let n = 0;
    stopFlow = false;
    while (Date.now() < end && !stopFlow) {
      const was = n;
      n += pump(n, n + 32, 64);
      if (was === 0 && n > 0) out({ flowing: true });
      await new Promise((r) => setTimeout(r, 1));
    }
    out({ flowed: n });
  } else if (cmd === 'quit') break;
}
rl.close();
dev.close();
eal.close();
process.exit(0);
