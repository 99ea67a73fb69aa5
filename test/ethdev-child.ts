/**
 * A scripted port user for the ethdev tests: `node ethdev-child.js <EAL args> -- <action>`.
 * Prints one JSON line per event on stdout.
 *   info                 attach; print {count, macs, names, stats0} (port 0's stats)
 *   rx:PORT:Q:IDLE_MS[:TOTAL]
 *                        claim RX queue Q of PORT, print {claimed}, then receive (freeing
 *                        each packet) until IDLE_MS pass without a packet after the first
 *                        one and, given TOTAL, the port's queues have received TOTAL in all
 *                        (so a sender descheduled for a while does not end it early), or
 *                        20 s in all; print {got, hashes: distinct RSS hashes}
 *   claim:PORT:Q         try to claim RX queue Q, print {claimed} or {error, message}
 *   hold                 (after claim) stay until stdin closes
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, EthDev, MpdkError, Mbufs, formatMac, stderrLogger } from '../src/index.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const ealArgs = argv.slice(0, dd);
const actions = argv.slice(dd + 1);
const out = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

let eal: Eal;
try {
  eal = Eal.init(ealArgs, { name: 'ethdev-child', logger: stderrLogger, handleSignals: true }).eal;
} catch (e) {
  process.stderr.write(`ethdev-child: ${(e as Error).message}\n`);
  process.exit(1);
}
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
try {
  const dev = EthDev.attach(eal);
  for (const a of actions) {
    const [op, x, y, z, w] = a.split(':');
    if (op === 'info') {
      const macs = [];
      for (let p = 0; p < dev.count; p++) macs.push(formatMac(dev.macAddr(p)));
      out({ count: dev.count, macs, names: Array.from({ length: dev.count }, (_, p) => dev.info(p).name), stats0: dev.count ? dev.stats(0) : null });
    } else if (op === 'claim') {
      try {
        dev.rxQueue(Number(x), Number(y));
        out({ claimed: true, pid: process.pid });
      } catch (e) {
        out({ error: (e as MpdkError).code, message: (e as Error).message });
      }
    } else if (op === 'rx') {
      const port = Number(x);
      const q = Number(y);
      const idleMs = Number(z);
      const total = w === undefined ? 0 : Number(w);
      const allReceived = (): boolean => dev.stats(port).queues.reduce((t, s) => t + s.ipackets, 0) >= total;
      const rxq = dev.rxQueue(port, q);
      out({ claimed: true, pid: process.pid });
      const mbufs = new Mbufs(eal);
      const h = new Uint32Array(32);
      const hashes = new Set<number>();
      let got = 0;
      let last = Date.now();
      const end = Date.now() + 20000;
      for (;;) {
        const n = rxq.rxBurst(h, 32);
        if (n > 0) {
          for (let i = 0; i < n; i++) hashes.add(mbufs.rssHash(h[i]!));
          mbufs.freeBulk(h, n);
          got += n;
          last = Date.now();
          continue;
        }
        const now = Date.now();
        if ((got > 0 && now - last > idleMs && allReceived()) || now > end) break;
        Atomics.wait(sleepCell, 0, 0, 1);
      }
      out({ got, hashes: [...hashes] });
    } else if (op === 'hold') {
      process.stdin.resume();
      await new Promise<void>((r) => process.stdin.on('end', r));
    }
  }
} catch (e) {
  out({ error: (e as MpdkError).code ?? 'ERR', message: (e as Error).message });
}
eal.close();
