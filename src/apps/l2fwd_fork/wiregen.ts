/**
 * l2fwd_fork's test traffic: plays the wire of every enabled net_ring port of a running
 * l2fwd_fork instance (a secondary; used by test/l2fwd_fork.test.ts and bench/l2fwd_fork.ts):
 *
 *   node wiregen.js -l 3 --proc-type=secondary --file-prefix P -- -p 3 [--rate PPS] [--report MS]
 *
 * Each round injects a burst into each port (mbufs of "mbuf_pool"; 64-byte frames with a
 * sequence number, the input port and a byte pattern) and collects what the slaves sent
 * out of each port, checking l2fwd's rewrite: dst MAC 02:00:00:00:00:<port>, src MAC the
 * port's MAC, came in on the paired port, every byte after the MACs intact. Frames a full
 * RX ring refuses are freed at once; collected frames are freed after the check.
 * Every mbuf it holds is in its ownership record (Hands: one send array per port, received
 * from and sent to the port's rings in windows naming them, WireSend), so a generator killed
 * at any instruction leaves nothing leaked (its successor, or the master at its end, reclaims
 * it: reclaimDead).
 * Prints `gen sent=S rx=R bad=B t=MS` every --report ms (default 100) and, on SIGTERM or
 * SIGINT, stops sending, collects for 200 ms, prints `gen final ...` and exits 0.
 */
import { stderrLogger, Eal, EthDev, Hands, MpdkError, PktmbufPool, Ring, UsageError, WireSend, parseArgs, parsePortmask, portMac, reclaimDead, type ProgramSpec, type Source } from '../../index.js';
import { POOL_NAME } from './layout.js';

const spec: ProgramSpec = {
  name: 'l2fwd_fork wiregen',
  synopsis: '[EAL options] -- -p PORTMASK [--rate PPS] [--report MS]',
  eal: true,
  options: [
    { names: ['-p'], value: 'PORTMASK', help: 'ports to play the wire of (pairs, as l2fwd_fork)' },
    { names: ['--rate'], value: 'PPS', help: 'packets per second in all (0 = as fast as possible)' },
    { names: ['--report'], value: 'MS', help: 'progress line period (default 100)' },
  ],
};
const BURST = 32;
const RX_BURST = 64;
const FRAME = 64;

function run(): void {
  const { eal } = Eal.init(process.argv.slice(2), { name: 'l2fwd_fork:wiregen', logger: stderrLogger, handleSignals: true });
  let hands: Hands | undefined;
  const close = (): void => {
    hands?.close(); // what it still holds, then the record
    eal.close();
  };
  process.once('exit', close);
  const o = parseArgs(spec, process.argv.slice(2));
  const ports = parsePortmask(o.value('-p'));
  const rate = o.int('--rate', 0, 1e9) ?? 0;
  const reportMs = o.int('--report', 10, 60000) ?? 100;
  const dev = EthDev.attach(eal);
  const pool = PktmbufPool.lookup(eal, POOL_NAME);
  const partner = new Map<number, number>();
  for (let i = 0; i + 1 < ports.length; i += 2) {
    partner.set(ports[i]!, ports[i + 1]!);
    partner.set(ports[i + 1]!, ports[i]!);
  }
  reclaimDead(eal); // a dead generator's wire, rings and lcore are ours now: what it held first
  // Arrays: 0..P-1 each port's send burst, P the received burst.
  const h = Hands.open(eal, 'wiregen', ports.length + 1, RX_BURST);
  hands = h;
  const senders = ports.map((p) => new WireSend(h, dev, p, dev.wire(p)));
  const sources: Source[][] = ports.map((p) => Array.from({ length: dev.info(p).nbTx }, (_, q) => h.source(Ring.attach(eal, dev.queueRing(p, q, 'tx')))));
  const ra = ports.length;
  const u8 = eal.region.u8;
  let seq = 0;
  let sent = 0;
  let rx = 0;
  let bad = 0;
  let firstBad = '';
  let sending = true;
  const t0 = performance.now();
  let lastReport = t0;

  const collect = (i: number): number => {
    const c = ports[i]!;
    const mac = portMac(c);
    const from = partner.get(c)!;
    let k = 0;
    for (const src of sources[i]!) k += h.rx(ra, src, RX_BURST - k);
    const cbuf = h.array(ra);
    for (let j = 0; j < k; j++) {
      const h = cbuf[j]!;
      const off = pool.dataOffset(h);
      let ok = pool.dataLen(h) === FRAME && u8[off] === 2 && u8[off + 5] === c && u8[off + 12] === 0x08 && u8[off + 13] === 0 && u8[off + 18] === from;
      for (let b = 0; ok && b < 6; b++) ok = u8[off + 6 + b] === mac[b];
      const s = u8[off + 14]! | (u8[off + 15]! << 8) | (u8[off + 16]! << 16) | (u8[off + 17]! << 24);
      for (let b = 19; ok && b < FRAME; b++) ok = u8[off + b] === ((s + b) & 255);
      if (!ok) {
        bad++;
        if (!firstBad) firstBad = `port ${c}: ${Buffer.from(u8.subarray(off, off + 20)).toString('hex')}`;
      }
    }
    if (k > 0) h.free(ra);
    rx += k;
    return k;
  };

  const inject = (i: number): void => {
    const p = ports[i]!;
    const n = h.alloc(i, pool, BURST);
    if (n === 0) return;
    const buf = h.array(i);
    for (let j = 0; j < n; j++) {
      const h = buf[j]!;
      const off = pool.dataOffset(h);
      const s = seq++ >>> 0;
      u8[off] = 2; u8[off + 1] = 0; u8[off + 2] = 0; u8[off + 3] = 0; u8[off + 4] = 0; u8[off + 5] = 0xff;
      u8[off + 6] = 2; u8[off + 7] = 0; u8[off + 8] = 0; u8[off + 9] = 0; u8[off + 10] = 1; u8[off + 11] = p;
      u8[off + 12] = 0x08; u8[off + 13] = 0;
      u8[off + 14] = s & 255; u8[off + 15] = (s >>> 8) & 255; u8[off + 16] = (s >>> 16) & 255; u8[off + 17] = s >>> 24;
      u8[off + 18] = p;
      for (let b = 19; b < FRAME; b++) u8[off + b] = (s + b) & 255;
      pool.setDataLen(h, FRAME);
      pool.setPktLen(h, FRAME);
    }
    const r = senders[i]!.send(i);
    if (r < n) h.free(i); // what full RX rings refused
    sent += r;
  };

  const report = (final: boolean): void => {
    process.stdout.write(`gen ${final ? 'final ' : ''}sent=${sent} rx=${rx} bad=${bad} t=${Math.round(performance.now() - t0)}${firstBad && final ? ` first-bad=${firstBad}` : ''}\n`);
  };

  const sleepCell = new Int32Array(new SharedArrayBuffer(4));
  const tick = (): void => {
    const end = performance.now() + 5;
    for (;;) {
      const now = performance.now();
      let work = 0;
      if (sending && (rate === 0 || sent < ((now - t0) / 1000) * rate)) {
        for (let i = 0; i < ports.length; i++) inject(i);
        work++;
      }
      for (let i = 0; i < ports.length; i++) work += collect(i);
      if (work === 0) Atomics.wait(sleepCell, 0, 0, 0.2);
      if (now >= end) break;
    }
    if (performance.now() - lastReport >= reportMs) {
      lastReport = performance.now();
      report(false);
    }
    setImmediate(tick);
  };
  const stop = (): void => {
    if (!sending) return;
    sending = false;
    setTimeout(() => {
      for (let i = 0; i < ports.length; i++) while (collect(i) > 0);
      report(true);
      close();
      process.exit(0);
    }, 200);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  eal.onPrimaryExit(() => {
    report(true);
    close();
    process.exit(1);
  });
  setImmediate(tick);
}

try {
  run();
} catch (e) {
  process.stderr.write(`wiregen: ${e instanceof MpdkError || e instanceof UsageError ? e.message : (e as Error).stack}\n`);
  process.exit(1);
}
