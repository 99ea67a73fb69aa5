/**
 * The application of test/dumpcap-filter.test.ts: a primary whose ports are all net_pcap,
 * each reading the same file (`--vdev net_pcapK,rx_pcap=FILE`), configured and started,
 * then {"ready":pid}. On "run" (stdin) it receives every port's file to the end and frees
 * the packets — through EthDev's queues, so that a dumpcap attached meanwhile sees each
 * one — and prints {"read":N}; on "quit" it leaves.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import readline from 'node:readline';
import { Eal, EthDev, Mbufs, PktmbufPool } from '../src/index.js';

const argv = process.argv.slice(2);
const { eal } = Eal.init(argv, { name: 'filter-child', handleSignals: true });
const pool = PktmbufPool.create(eal, 'fc_pool', { count: 4095, cacheSize: 32 });
const dev = EthDev.attach(eal);
for (let p = 0; p < dev.count; p++) {
  dev.configure(p, { rxQueues: 1, txQueues: 1 });
  dev.rxQueueSetup(p, 0, { descriptors: 256, pool });
  dev.txQueueSetup(p, 0, { descriptors: 256 });
  dev.start(p);
}
const rxq = Array.from({ length: dev.count }, (_, p) => dev.rxQueue(p, 0));
const mbufs = new Mbufs(eal);
const h = new Uint32Array(32);
const out = (o: unknown): boolean => process.stdout.write(JSON.stringify(o) + '\n');
out({ ready: process.pid });

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (line.trim() === 'run') {
    let read = 0;
    for (const q of rxq) {
      for (let n = q.rxBurst(h, 32); n > 0; n = q.rxBurst(h, 32)) {
        read += n;
        mbufs.freeBulk(h, n);
      }
    }
    out({ read });
  } else if (line.trim() === 'quit') break;
}
rl.close();
dev.close();
eal.close();
process.exit(0);
