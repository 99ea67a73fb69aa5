/**
 * Test program for net_memif (test/memif.test.ts, bench/memif.ts): one port, N queue
 * pairs, one of these modes, stats on stdout:
 *   node dist/test/memif-child.js PREFIX VDEV MODE COUNT SIZE [QUEUES] [SECONDARY]
 *   MODE rx     count packets; check each one's bytes (ours: pattern; testpmd: IPv4/UDP)
 *        tx     send COUNT (0 = until 'quit') SIZE-byte packets carrying our pattern
 *        echo   send back what arrives (io forwarding)
 * After COUNT packets (tx) it prints 'txdone <n>' and stays connected until 'quit'.
 * Prints 'ready link up|down' (the link right after start), 'up' / 'down' when the link
 * changes (dev.linkStatus), 'inuse <n>' at exit (mbufs of its pool not given back), 'rx <n> bad <b> ...'
 * every 200 ms and at the end, 'txdone <n>' when COUNT were sent. stdin: 'quit', 'stats',
 * 'send N' (tx: N packets more). Idles through IdlePolicy sleeping on its RX queues'
 * wake-up descriptors (memif interrupt mode), so an idle child costs ~no CPU
 * (MEMIF_CHILD_IDLE=poll: never sleeps, for benchmarks).
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import readline from 'node:readline';
import { setImmediate as tick } from 'node:timers/promises';
import { Eal, EthDev, IdlePolicy, PktmbufPool, memifStatus, stderrLogger } from '../src/index.js';

const [prefix, vdev, mode, countS, sizeS, queuesS, secondary] = process.argv.slice(2) as [string, string, string, string, string, string?, string?];
let count = Number(countS);
const size = Number(sizeS);
const nq = Number(queuesS ?? '1');
const sec = secondary === 'secondary';
const argv = ['-l', sec ? '1' : '0', '--file-prefix', prefix, `--proc-type=${sec ? 'secondary' : 'primary'}`, '--log-level', 'info'];
if (!sec) argv.push('--vdev', vdev);
const { eal } = Eal.init(argv, { name: 'memif-child', logger: stderrLogger, handleSignals: true });
const dev = EthDev.attach(eal);
let pool: PktmbufPool;
if (!sec) {
  pool = PktmbufPool.create(eal, 'MIFPOOL', { count: 8191, cacheSize: 256 });
  dev.configure(0, { rxQueues: nq, txQueues: nq });
  for (let q = 0; q < nq; q++) {
    dev.rxQueueSetup(0, q, { descriptors: 1024, pool });
    dev.txQueueSetup(0, q, { descriptors: 1024 });
  }
  dev.start(0);
} else {
  pool = PktmbufPool.lookup(eal, 'MIFPOOL');
}
// mode 'none': keep the port (and its control channel) without using its queues
const rxq = mode === 'none' ? [] : Array.from({ length: nq }, (_, q) => dev.rxQueue(0, q));
const txq = mode === 'none' ? [] : Array.from({ length: nq }, (_, q) => dev.txQueue(0, q));
const u8 = eal.region.u8;
const u16 = new Uint16Array(eal.region.buffer);
const u32 = eal.region.u32;
const BURST = 32;
const hs = new Uint32Array(BURST);
let quit = false;
let rx = 0;
let bad = 0;
let tx = 0;
let lastUp = false;
let txDone = false;
const perQ = new Array<number>(nq).fill(0);

readline.createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() === 'quit') quit = true;
  if (l.trim() === 'stats') report();
  const m = /^send (\d+)$/.exec(l.trim());
  if (m) {
    count = tx + Number(m[1]);
    txDone = false;
  }
});
process.stdout.write(`ready link ${dev.linkStatus(0).up ? 'up' : 'down'}\n`); // as the port is right after start

function report(): void {
  const s = dev.stats(0);
  const st = memifStatus(eal, dev, 0);
  process.stdout.write(`rx ${rx} bad ${bad} tx ${tx} q ${perQ.join(',')} ipackets ${s.ipackets} opackets ${s.opackets} ierrors ${s.ierrors} oerrors ${s.oerrors} disconnects ${st.disconnects} connects ${st.connects} refused ${st.refused} sleeps ${idle.sleeps} wakeups ${idle.wakeups} regions ${st.regions}\n`);
}

/** Our pattern: byte i of packet = (seq + i) & 0xff, seq in bytes 14..17 after a dummy Ethernet header. */
function fill(h: number, seq: number): void {
  const d = u32[h >>> 2]! + u16[(h + 8) >>> 1]!;
  for (let i = 0; i < 12; i++) u8[d + i] = 0x02;
  u8[d + 12] = 0x88;
  u8[d + 13] = 0xb5; // local experimental ethertype
  u8[d + 14] = seq & 0xff;
  u8[d + 15] = (seq >>> 8) & 0xff;
  u8[d + 16] = (seq >>> 16) & 0xff;
  u8[d + 17] = (seq >>> 24) & 0xff;
  for (let i = 18; i < size; i++) u8[d + i] = (seq + i) & 0xff;
  u16[(h + 32) >>> 1] = size;
  u32[(h + 28) >>> 2] = size;
}

function check(h: number): boolean {
  const d = u32[h >>> 2]! + u16[(h + 8) >>> 1]!;
  const len = u16[(h + 32) >>> 1]!;
  if (u8[d + 12] === 0x88 && u8[d + 13] === 0xb5) {
    if (len !== size) return false;
    const seq = u8[d + 14]! | (u8[d + 15]! << 8) | (u8[d + 16]! << 16) | (u8[d + 17]! << 24);
    for (let i = 18; i < len; i++) if (u8[d + i] !== ((seq + i) & 0xff)) return false;
    return true;
  }
  // testpmd txonly: IPv4 (0x0800) / UDP (17), 64 bytes by default
  return len >= 42 && u8[d + 12] === 0x08 && u8[d + 13] === 0x00 && u8[d + 23] === 17;
}

const idle = new IdlePolicy({ mode: process.env.MEMIF_CHILD_IDLE === 'poll' ? 'poll' : 'sleep', wake: rxq }); // poll: for benchmarks
let lastReport = Date.now();
let seq = 0;
while (!quit) {
  const end = Date.now() + 20;
  let work = 0;
  while (Date.now() < end) {
    let did = 0;
    for (let q = 0; q < rxq.length; q++) {
      if (mode === 'tx') {
        if (count > 0 && tx >= count) break;
        const want = count > 0 ? Math.min(BURST, count - tx) : BURST;
        if (pool.allocBulk(hs, want) === 0) continue;
        for (let i = 0; i < want; i++) fill(hs[i]!, seq++);
        const k = txq[q]!.txBurst(hs, want);
        if (k < want) {
          pool.freeBulk(hs.subarray(k), want - k);
          seq -= want - k;
        }
        tx += k;
        did += k;
      } else {
        const k = rxq[q]!.rxBurst(hs, BURST);
        if (k === 0) continue;
        did += k;
        for (let i = 0; i < k; i++) if (!check(hs[i]!)) bad++;
        rx += k;
        perQ[q]! += k;
        if (mode === 'echo') {
          let s = 0;
          for (let tries = 0; s < k && tries < 1000; tries++) {
            const part = s === 0 ? hs : hs.subarray(s);
            s += txq[q]!.txBurst(part, k - s);
          }
          tx += s;
          if (s < k) pool.freeBulk(hs.subarray(s), k - s);
        } else pool.freeBulk(hs, k);
      }
    }
    work += did;
    if (did === 0) break;
  }
  if (work === 0) idle.idle();
  else idle.busy();
  const up = dev.linkStatus(0).up;
  if (up !== lastUp) {
    process.stdout.write(up ? 'up\n' : `down ${memifStatus(eal, dev, 0).reason}\n`);
    lastUp = up;
  }
  if (mode === 'tx' && count > 0 && tx >= count && !txDone) {
    process.stdout.write(`txdone ${tx}\n`); // then stay connected until 'quit'
    report();
    txDone = true;
  }
  if (Date.now() - lastReport >= 200) {
    report();
    lastReport = Date.now();
  }
  await tick();
}
report();
if (!sec) dev.stop(0);
dev.close();
if (!sec) process.stdout.write(`inuse ${pool.mp.inUse()}\n`); // mbufs not back in the pool (zero-copy lends them)
eal.close();
process.exit(0);
