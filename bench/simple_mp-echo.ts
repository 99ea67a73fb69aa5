/**
 * The secondary of bench/simple_mp.ts: looks up simple_mp's channels (PRI_2_SEC, SEC_2_PRI)
 * and sends every message it receives straight back, until the stop word is set.
 *   node simple_mp-echo.js <EAL args> -- spin|sleep CTL_MEMZONE
 * spin: polls (tryReceive, DPDK's way); sleep: awaits receive (simple_mp's way: the ring's
 * doorbell, no CPU while nothing arrives).
 */
import { Channel, Eal } from '../src/index.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const [mode, ctlName] = argv.slice(dd + 1);
const { eal } = Eal.init([...argv.slice(0, dd), '--proc-type=secondary', '--log-level', 'error'], { name: 'simple_mp-echo' });
const rx = Channel.lookup(eal, 'PRI_2_SEC').receiver();
const tx = Channel.lookup(eal, 'SEC_2_PRI').sender();
const ctl = eal.memzones.lookup(ctlName!).offset >>> 2;
const i32 = eal.region.i32;
const back: Uint8Array[] = [];
Atomics.store(i32, ctl + 1, 1); // ready
const spin = mode === 'spin';
while (Atomics.load(i32, ctl) === 0) {
  const b = spin ? rx.tryReceive() : await rx.receive({ timeout: 50 });
  if (b.length === 0) continue;
  back.length = 0;
  for (let i = 0; i < b.length; i++) back.push(b.bytes(i));
  while (tx.trySendMany(back) !== 'sent');
  b.release();
}
rx.close();
tx.close();
eal.close();
