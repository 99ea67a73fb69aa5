/**
 * A net_pcap queue user for test/pcap_driver.test.ts (a secondary):
 *   node pcap-child.js <EAL args> -- fwd:MAX:HOLD
 * binds RX queue 0 and TX queue 0 of port 0, forwards (RX → TX, bytes untouched) up to MAX
 * packets or until RX stays empty for 300 ms, flushes TX (txBurst(h, 0)), prints
 * {"fwd": n}; HOLD=1 then waits for stdin to close (the test kills it), else it leaves.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, EthDev, MpdkError, stderrLogger } from '../src/index.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const [op, maxS, holdS] = (argv[dd + 1] ?? '').split(':');
const out = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};
const eal = Eal.init(argv.slice(0, dd), { name: 'pcap-child', logger: stderrLogger, handleSignals: true }).eal;
const cell = new Int32Array(new SharedArrayBuffer(4));
try {
  const dev = EthDev.attach(eal);
  if (op === 'fwd') {
    const max = Number(maxS);
    const rxq = dev.rxQueue(0, 0);
    const txq = dev.txQueue(0, 0);
    const h = new Uint32Array(32);
    let fwd = 0;
    let last = Date.now();
    const end = Date.now() + 10000;
    while (fwd < max && Date.now() < end) {
      const r = rxq.rxBurst(h, Math.min(32, max - fwd));
      if (r === 0) {
        if (Date.now() - last > 300) break;
        Atomics.wait(cell, 0, 0, 1);
        continue;
      }
      last = Date.now();
      const t = txq.txBurst(h, r);
      if (t !== r) throw new Error(`txBurst took ${t} of ${r}`);
      fwd += r;
    }
    txq.txBurst(h, 0);
    out({ fwd });
    if (holdS === '1') {
      process.stdin.resume();
      await new Promise<void>((r) => process.stdin.on('end', r));
    }
  }
  dev.close();
} catch (e) {
  out({ error: (e as MpdkError).code ?? 'ERR', message: (e as Error).message });
}
eal.close();
