/**
 * A net_af_packet user for test/af_packet.test.ts, run inside the test's network namespace
 * (`ip netns exec NS node af_packet-child.js <EAL args> -- <action>`). One JSON line per event.
 *   pair:N            primary with ports 0 and 1 on the two ends of a veth pair: N frames
 *                     0 → 1, then N frames 1 → 0; prints {ab, ba, identical, macs, link}
 *   serve             primary: port 0 with 2 queue pairs, port 1 with 1; prints {ready};
 *                     then per stdin line `send:FLOWS:N` sends N frames over FLOWS flows
 *                     on port 1 and prints {sent}, `link` prints {link: port 0 up};
 *                     leaves when stdin closes
 *   rx:PORT:Q:IDLE[:TOTAL]  secondary: binds RX queue Q, prints {claimed}, receives until IDLE ms
 *                     pass without a packet after the first and the port's queues together
 *                     have received TOTAL (20 s at most; without TOTAL, 8 s); prints {got, flows}
 *   serve:small       as serve, port 0's RX pool ('small') of 256-byte buffers: the frames of
 *                     260 bytes and more that `send` makes are too large for them
 *   own               secondary: RX queue 0 of port 0 into an ownership record (Hands), until a
 *                     burst brings something (MPDK_TEST_HOOK=hands:rx stops there); prints {got}
 *   audit             secondary: pool 'small' audited, then reclaimDead, audited again, and port
 *                     0's ierrors; prints {dead, returned, after, ierrors, available, size}
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import readline from 'node:readline';
import { Eal, EthDev, FlowSet, Hands, Mbufs, MpdkError, PayloadInfo, PktmbufPool, auditInstance, buildUdpFrame, formatMac, readPayload, reclaimDead, stderrLogger } from '../src/index.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const [op, a1, a2, a3, a4] = (argv[dd + 1] ?? '').split(':');
const out = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};
const cell = new Int32Array(new SharedArrayBuffer(4));
const nap = (ms: number): void => void Atomics.wait(cell, 0, 0, ms);
const eal = Eal.init(argv.slice(0, dd), { name: 'afp-child', logger: stderrLogger, handleSignals: true }).eal;

/** Send n frames (flow i % flows) on port/queue 0, retrying refused ones for up to 3 s. */
function send(dev: EthDev, pool: PktmbufPool, port: number, flows: FlowSet, n: number, keep?: Uint8Array[]): number {
  const tx = dev.txQueue(port, 0);
  const h = new Uint32Array(32);
  let sent = 0;
  const end = Date.now() + 3000;
  while (sent < n && Date.now() < end) {
    const k = Math.min(32, n - sent);
    if (pool.allocBulk(h, k) !== k) throw new Error('pool empty');
    for (let i = 0; i < k; i++) {
      // 260, 360, ..., 660, 60, 160: 2 in 7 fit a 256-byte buffer, and the first does not (a
      // receiver with such buffers has dropped one, counted in ierrors, before it keeps any).
      const size = 60 + ((sent + i + 2) % 7) * 100;
      buildUdpFrame(pool.u8, pool.dataOffset(h[i]!), flows, (sent + i) % flows.count, size, sent + i, 0);
      pool.setDataLen(h[i]!, size);
      pool.setPktLen(h[i]!, size);
      keep?.push(pool.u8.slice(pool.dataOffset(h[i]!), pool.dataOffset(h[i]!) + size));
    }
    let off = 0;
    while (off < k && Date.now() < end) {
      const r = tx.txBurst(h.subarray(off), k - off);
      off += r;
      if (off < k) nap(1);
    }
    if (off < k) pool.freeBulk(h.subarray(off), k - off);
    sent += off;
  }
  return sent;
}

/**
 * Receive on port/queue until `want` packets, or idleMs of silence after the first once the
 * port's queues together have received `total` (a sender descheduled longer than idleMs does
 * not end it early); 8 s at most, 20 s with a total.
 */
function receive(dev: EthDev, port: number, q: number, idleMs: number, want: number, frames?: Uint8Array[], total = 0): { got: number; flows: number[] } {
  const rx = dev.rxQueue(port, q);
  const mbufs = new Mbufs(eal);
  const h = new Uint32Array(32);
  const flows = new Set<number>();
  const pi = new PayloadInfo();
  let got = 0;
  let last = Date.now();
  const end = Date.now() + (total > 0 ? 20000 : 8000);
  const allReceived = (): boolean => dev.stats(port).queues.reduce((t, s) => t + s.ipackets, 0) >= total;
  while (got < want && Date.now() < end) {
    const r = rx.rxBurst(h, 32);
    if (r === 0) {
      if (got > 0 && Date.now() - last > idleMs && allReceived()) break;
      nap(1);
      continue;
    }
    for (let i = 0; i < r; i++) {
      const off = mbufs.dataOffset(h[i]!);
      const len = mbufs.dataLen(h[i]!);
      if (readPayload(mbufs.u8, off, len, pi)) flows.add(pi.flow);
      frames?.push(mbufs.u8.slice(off, off + len));
    }
    mbufs.freeBulk(h, r);
    got += r;
    last = Date.now();
  }
  return { got, flows: [...flows].sort((x, y) => x - y) };
}

function same(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.from(x).equals(Buffer.from(b[i]!)));
}

try {
  const dev = EthDev.attach(eal);
  if (op === 'pair') {
    const n = Number(a1);
    const pool = PktmbufPool.create(eal, 'pool', { count: 4095, cacheSize: 32 });
    for (const p of [0, 1]) {
      dev.configure(p, { rxQueues: 1, txQueues: 1 });
      dev.rxQueueSetup(p, 0, { descriptors: 1024, pool });
      dev.txQueueSetup(p, 0, { descriptors: 1024 });
      dev.start(p);
    }
    dev.rxQueue(0, 0);
    dev.rxQueue(1, 0);
    const flows = FlowSet.make({ count: 8 });
    const sentAB: Uint8Array[] = [];
    const gotAB: Uint8Array[] = [];
    const ab = send(dev, pool, 0, flows, n, sentAB);
    const rab = receive(dev, 1, 0, 300, ab, gotAB);
    const sentBA: Uint8Array[] = [];
    const gotBA: Uint8Array[] = [];
    const ba = send(dev, pool, 1, flows, n, sentBA);
    const rba = receive(dev, 0, 0, 300, ba, gotBA);
    out({
      sentAB: ab, ab: rab.got, sentBA: ba, ba: rba.got, identical: same(sentAB, gotAB) && same(sentBA, gotBA),
      macs: [formatMac(dev.macAddr(0)), formatMac(dev.macAddr(1))], link: dev.linkStatus(0), stats0: dev.stats(0),
      available: pool.available(),
    });
  } else if (op === 'serve') {
    const pool = PktmbufPool.create(eal, 'pool', { count: 8191, cacheSize: 32 });
    const rxPool = a1 === 'small' ? PktmbufPool.create(eal, 'small', { count: 1023, cacheSize: 32, dataRoomSize: 128 + 256 }) : pool;
    dev.configure(0, { rxQueues: 2, txQueues: 2 });
    for (let q = 0; q < 2; q++) {
      dev.rxQueueSetup(0, q, { descriptors: 1024, pool: rxPool });
      dev.txQueueSetup(0, q, { descriptors: 1024 });
    }
    dev.start(0);
    dev.configure(1, { rxQueues: 1, txQueues: 1 });
    dev.rxQueueSetup(1, 0, { descriptors: 1024, pool });
    dev.txQueueSetup(1, 0, { descriptors: 1024 });
    dev.start(1);
    out({ ready: true });
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
      const [cmd, f, k] = line.trim().split(':');
      if (cmd === 'send') out({ sent: send(dev, pool, 1, FlowSet.make({ count: Number(f), vary: ['srcIp', 'sport'] }), Number(k)) });
      if (cmd === 'link') out({ link: dev.linkStatus(0).up });
    }
  } else if (op === 'own') {
    const hands = Hands.open(eal, 'afp-own', 1, 64);
    const src = hands.rxSource(dev, 0, 0);
    out({ claimed: true });
    let got = 0;
    for (const end = Date.now() + 8000; got === 0 && Date.now() < end;) if ((got = hands.rx(0, src, 32)) === 0) nap(1);
    out({ got });
    hands.close();
  } else if (op === 'audit') {
    const of = (): unknown => auditInstance(eal).pools.find((a) => a.name === 'small');
    const dead = of();
    const returned = reclaimDead(eal).pools.small?.returned ?? 0;
    const small = PktmbufPool.lookup(eal, 'small');
    out({ dead, returned, after: of(), ierrors: dev.stats(0).ierrors, available: small.available(), size: small.mp.size });
  } else if (op === 'rx') {
    dev.rxQueue(Number(a1), Number(a2));
    out({ claimed: true, pid: process.pid });
    out(receive(dev, Number(a1), Number(a2), Number(a3), Infinity, undefined, a4 === undefined ? 0 : Number(a4)));
  }
  dev.close();
} catch (e) {
  out({ error: (e as MpdkError).code ?? 'ERR', message: (e as Error).message });
}
eal.close();
