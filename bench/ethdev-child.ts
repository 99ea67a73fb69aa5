/**
 * Processes of the ethdev benches (bench/ethdev.ts): `node ethdev-child.js ROLE PREFIX MS`.
 * Each prints one JSON line on stdout at the end; progress and errors go to stderr.
 *
 *   null   primary on lcore 0, ports net_null0 + net_null1: the l2fwd loop (rxBurst 32 from
 *          port p, rewrite dst MAC 02:00:00:00:00:<p^1> and src MAC = port p^1's MAC, txBurst
 *          on port p^1) for MS ms after a warm-up; prints {fwd, sec}.
 *   gen    primary on lcore 0, ports net_ring0 + net_ring1 (1 queue each), pool of 64-byte
 *          frames written once; plays both wires: inject bursts of 32 into port 0, collect
 *          port 1. Waits for a forwarder to own port 0's RX queue, measures MS ms, raises the
 *          stop word, prints {sent, missed, collected, sec}.
 *   fwd    secondary on lcore 1: rx port 0 → rewrite → tx port 1 until the stop word; prints
 *          {fwd, dropped}.
 * The stop word is u32 0 of memzone BENCH_ETH (made by gen).
 */
import { Eal, EthDev, PktmbufPool, Mbufs, FlowSet, buildUdpFrame, L2fwdRewriter, type PortConf, type RxQueue, type TxQueue } from '../src/index.js';

const [role, prefix, msArg] = process.argv.slice(2) as [string, string, string];
const MS = Number(msArg);
const WARM_MS = 300;
const BURST = 32;
const out = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};
const nap = new Int32Array(new SharedArrayBuffer(4));

function setup(dev: EthDev, pool: PktmbufPool, port: number, conf: Partial<PortConf> = {}): void {
  dev.configure(port, { rxQueues: 1, txQueues: 1, ...conf });
  dev.rxQueueSetup(port, 0, { descriptors: 1024, pool });
  dev.txQueueSetup(port, 0, { descriptors: 1024 });
  dev.start(port);
}


/**
 * DPDK l2fwd's loop over two ports, in its own function (so TurboFan compiles it as a
 * whole, not by on-stack replacement inside the set-up code).
 */
class L2fwdLoop {
  private readonly h = new Uint32Array(BURST);
  private readonly offs = new Uint32Array(BURST);

  constructor(private readonly m: Mbufs, private readonly rw: L2fwdRewriter, private readonly rx: RxQueue[], private readonly tx: TxQueue[]) {}

  /** `rounds` passes over both ports; returns the packets forwarded. */
  run(rounds: number): number {
    const { m, rw, rx, tx, h, offs } = this;
    let fwd = 0;
    for (let r = 0; r < rounds; r++) {
      for (let p = 0; p < 2; p++) {
        const n = rx[p]!.rxBurst(h, BURST);
        const dst = p ^ 1;
        m.dataOffsets(h, n, offs);
        rw.rewriteBulk(offs, n, dst);
        const s = tx[dst]!.txBurst(h, n);
        if (s < n) m.freeBulk(h.subarray(s), n - s);
        fwd += s;
      }
    }
    return fwd;
  }
}

function runNull(): void {
  const { eal } = Eal.init(['-l', '0', '-m', '128', '--file-prefix', prefix, '--proc-type=primary', '--log-level', 'error', '--vdev', 'net_null0', '--vdev', 'net_null1'], { name: 'bench-l2fwd-null' });
  const dev = EthDev.attach(eal);
  const pool = PktmbufPool.create(eal, 'pkt', { count: 8192, cacheSize: 256 });
  setup(dev, pool, 0);
  setup(dev, pool, 1);
  const m = new Mbufs(eal);
  const rw = new L2fwdRewriter(m.u8);
  rw.setSource(0, dev.macAddr(0));
  rw.setSource(1, dev.macAddr(1));
  const loop = new L2fwdLoop(m, rw, [dev.rxQueue(0, 0), dev.rxQueue(1, 0)], [dev.txQueue(0, 0), dev.txQueue(1, 0)]);
  let fwd = 0;
  let t0 = 0;
  let counted = 0;
  const warmEnd = performance.now() + WARM_MS;
  let end = Infinity;
  let cpu0 = process.cpuUsage();
  for (;;) {
    fwd += loop.run(1024);
    const now = performance.now();
    if (t0 === 0 && now >= warmEnd) {
      t0 = now;
      counted = fwd;
      end = now + MS;
      cpu0 = process.cpuUsage();
    } else if (now >= end) {
      const cpu = process.cpuUsage(cpu0);
      out({ fwd: fwd - counted, sec: (now - t0) / 1000, cpuSec: (cpu.user + cpu.system) / 1e6 });
      break;
    }
  }
  eal.close();
}

function runGen(): void {
  const { eal } = Eal.init(['-l', '0', '-m', '128', '--file-prefix', prefix, '--proc-type=primary', '--log-level', 'error', '--vdev', 'net_ring0', '--vdev', 'net_ring1'], { name: 'bench-gen' });
  const ctl = eal.memzones.reserve('BENCH_ETH', 64);
  const dev = EthDev.attach(eal);
  const pool = PktmbufPool.create(eal, 'pkt', { count: 16384, cacheSize: 256 });
  setup(dev, pool, 0);
  setup(dev, pool, 1);
  // Write a 64-byte frame into every mbuf once: the loop below only moves handles.
  const flows = FlowSet.make({ count: 64 });
  const all = new Uint32Array(16384);
  let k = 0;
  while (k + BURST <= all.length && pool.mp.getBulk(all.subarray(k), BURST) === BURST) k += BURST;
  for (let i = 0; i < k; i++) {
    const x = all[i]!;
    pool.reset(x);
    buildUdpFrame(pool.u8, pool.dataOffset(x), flows, i % 64, 64, i, 0);
    pool.setDataLen(x, 64);
    pool.setPktLen(x, 64);
  }
  pool.mp.putBulk(all, k);
  const w0 = dev.wire(0);
  const w1 = dev.wire(1);
  out({ ready: true });
  // Wait (bounded) for the forwarder to own port 0's RX queue.
  const waitEnd = Date.now() + 5000;
  while (dev.info(0).rxq[0]!.owner === 0 || !dev.info(1).txq[0]!.ownerAlive) {
    if (Date.now() > waitEnd) throw new Error('no forwarder bound port 0 within 5 s');
    Atomics.wait(nap, 0, 0, 5);
  }
  const h = new Uint32Array(BURST);
  const c = new Uint32Array(64);
  const mp = pool.mp;
  let sent = 0;
  let missed = 0;
  let collected = 0;
  let s0 = 0;
  let m0 = 0;
  let c0 = 0;
  let t0 = 0;
  const warmEnd = performance.now() + WARM_MS;
  let end = Infinity;
  for (let iter = 0; ; iter++) {
    if (mp.getBulk(h, BURST) === BURST) {
      const r = w0.inject(h, BURST);
      sent += BURST;
      if (r < BURST) {
        missed += BURST - r;
        mp.putBulk(h.subarray(r), BURST - r);
      }
    }
    const n = w1.collect(c, 64);
    if (n > 0) {
      collected += n;
      pool.freeBulk(c, n);
    }
    if ((iter & 1023) === 0) {
      const now = performance.now();
      if (t0 === 0 && now >= warmEnd) {
        t0 = now;
        s0 = sent;
        m0 = missed;
        c0 = collected;
        end = now + MS;
      } else if (now >= end) {
        out({ sent: sent - s0, missed: missed - m0, collected: collected - c0, sec: (now - t0) / 1000 });
        break;
      }
    }
  }
  Atomics.store(eal.region.i32, ctl.offset >>> 2, 1);
  const quitEnd = Date.now() + 2000;
  while (dev.info(0).rxq[0]!.ownerAlive && Date.now() < quitEnd) Atomics.wait(nap, 0, 0, 5);
  eal.close();
}

function runFwd(): void {
  const { eal } = Eal.init(['-l', '1', '--file-prefix', prefix, '--proc-type=secondary', '--log-level', 'error'], { name: 'bench-fwd' });
  const stopIdx = eal.memzones.lookup('BENCH_ETH').offset >>> 2;
  const dev = EthDev.attach(eal);
  const rx = dev.rxQueue(0, 0);
  const tx = dev.txQueue(1, 0);
  const m = new Mbufs(eal);
  const rw = new L2fwdRewriter(m.u8);
  rw.setSource(1, dev.macAddr(1));
  const i32 = eal.region.i32;
  const h = new Uint32Array(BURST);
  let fwd = 0;
  let dropped = 0;
  for (let iter = 0; ; iter++) {
    const n = rx.rxBurst(h, BURST);
    if (n > 0) {
      for (let i = 0; i < n; i++) {
        const x = h[i]!;
        rw.rewrite(m.dataOffset(x), 1, 1);
      }
      const s = tx.txBurst(h, n);
      fwd += s;
      if (s < n) {
        dropped += n - s;
        m.freeBulk(h.subarray(s), n - s);
      }
    }
    if ((iter & 255) === 0 && i32[stopIdx] !== 0) break;
  }
  out({ fwd, dropped });
  dev.close();
  eal.close();
}

if (role === 'null') runNull();
else if (role === 'gen') runGen();
else if (role === 'fwd') runFwd();
else {
  process.stderr.write(`ethdev-child: unknown role ${role}\n`);
  process.exit(2);
}
