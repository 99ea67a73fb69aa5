/**
 * The secondary of bench/simple_mp.ts: looks up simple_mp's objects (PRI_2_SEC, SEC_2_PRI,
 * MSG_POOL), and sends every message it receives straight back, until the stop word is set.
 *   node simple_mp-echo.js <EAL args> -- spin|sleep CTL_MEMZONE
 * spin: polls the ring (DPDK's way); sleep: waits on the ring's doorbell (simple_mp's way).
 */
import { Eal, Ring } from '../src/index.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const [mode, ctlName] = argv.slice(dd + 1);
const { eal } = Eal.init([...argv.slice(0, dd), '--proc-type=secondary', '--log-level', 'error'], { name: 'simple_mp-echo' });
const rx = Ring.lookup(eal, 'PRI_2_SEC');
const tx = Ring.lookup(eal, 'SEC_2_PRI');
const ctl = eal.memzones.lookup(ctlName!).offset >>> 2;
const i32 = eal.region.i32;
const h = new Uint32Array(32);
Atomics.store(i32, ctl + 1, 1); // ready
const spin = mode === 'spin';
while (Atomics.load(i32, ctl) === 0) {
  const n = spin ? rx.dequeueBurst(h, 32) : rx.waitDequeueBurst(h, 32, 50);
  if (n > 0) while (tx.enqueueBulk(h, n) === 0);
}
eal.close();
