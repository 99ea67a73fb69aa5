/**
 * A tiny forwarder for the pktgen tests: `node pktgen-fwd.js <EAL args> -- [QUEUES] [drop]`.
 * The primary of an instance with two net_ring ports (--vdev net_ring0 --vdev net_ring1):
 * creates FWD_POOL, configures both ports with QUEUES RX and TX queues (default 1), starts
 * them, prints `ready`, then forwards unchanged: RX queue q of port 0 → TX queue q of port 1
 * and back. With `drop`, every 10th packet from port 0 is freed instead (to see loss); with
 * `corrupt`, every 10th packet from port 0 has one payload byte flipped (its sequence number's
 * low byte, then the last byte of the frame, in turn) and is forwarded; with `still`, it
 * reads nothing (the ports' RX queues fill up and stay full).
 * Ends when stdin closes or on SIGTERM/SIGINT, printing `forwarded N`.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, EthDev, IdlePolicy, PktmbufPool, stderrLogger } from '../src/index.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const ealArgs = dd < 0 ? argv : argv.slice(0, dd);
const own = dd < 0 ? [] : argv.slice(dd + 1);
const nq = Number(own[0] ?? 1);
const drop = own.includes('drop');
const corrupt = own.includes('corrupt');
const still = own.includes('still');
/** Offset of the payload's SEQ field in a pktgen frame (Eth 14 + IPv4 20 + UDP 8 + magic 4). */
const SEQ_OFF = 46;

const { eal } = Eal.init(ealArgs, { name: 'pktgen-fwd', logger: stderrLogger, handleSignals: true });
const dev = EthDev.attach(eal);
const pool = PktmbufPool.create(eal, 'FWD_POOL', { count: 2047, cacheSize: 64 });
for (let p = 0; p < 2; p++) {
  dev.configure(p, { rxQueues: nq, txQueues: nq });
  for (let q = 0; q < nq; q++) {
    dev.rxQueueSetup(p, q, { descriptors: 1024, pool });
    dev.txQueueSetup(p, q, { descriptors: 1024 });
  }
  dev.start(p);
}
let stop = false;
process.stdin.on('end', () => (stop = true)).resume();
for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => (stop = true));
process.stdout.write('ready\n');

const rxq = [0, 1].map((p) => Array.from({ length: nq }, (_, q) => dev.rxQueue(p, q)));
const txq = [0, 1].map((p) => Array.from({ length: nq }, (_, q) => dev.txQueue(p, q)));
// Per (port, queue): packets the peer's TX queue refused, retried before reading more
// (back-pressure instead of drops, so the tests can expect zero loss).
const pend = [0, 1].map(() => Array.from({ length: nq }, () => new Uint32Array(64)));
const pendN = [0, 1].map(() => new Int32Array(nq));
const idle = new IdlePolicy();
let forwarded = 0;
let seen = 0;
while (!stop && still) await new Promise<void>((r) => setTimeout(r, 20));
while (!stop) {
  const end = performance.now() + 20;
  while (performance.now() < end) {
    let work = 0;
    for (let p = 0; p < 2; p++) {
      for (let q = 0; q < nq; q++) {
        const h = pend[p]![q]!;
        let n = pendN[p]![q]!;
        if (n === 0) {
          n = rxq[p]![q]!.rxBurst(h, 64);
          if (n === 0) continue;
          if (drop && p === 0) {
            // Free every 10th packet (by arrival order), keep the rest in order.
            let k = 0;
            for (let i = 0; i < n; i++) {
              if (++seen % 10 === 0) pool.free(h[i]!);
              else h[k++] = h[i]!;
            }
            n = k;
          }
          if (corrupt && p === 0) {
            for (let i = 0; i < n; i++) {
              if (++seen % 10 !== 0) continue;
              const off = pool.dataOffset(h[i]!);
              const at = (seen / 10) % 2 === 1 ? off + SEQ_OFF : off + pool.dataLen(h[i]!) - 1;
              pool.u8[at] ^= 0x40;
            }
          }
        }
        const s = txq[1 - p]![q]!.txBurst(h, n);
        forwarded += s;
        work += s;
        if (s < n) h.copyWithin(0, s, n);
        pendN[p]![q] = n - s;
      }
    }
    if (work > 0) idle.busy();
    else idle.idle();
  }
  await new Promise<void>((r) => setImmediate(r));
}
process.stdout.write(`forwarded ${forwarded}\n`);
dev.close();
eal.close();
