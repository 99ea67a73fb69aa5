/**
 * The process of the dumpcap benches (bench/dumpcap.ts): `node dumpcap-child.js PREFIX MS` (notap and off: best of 3 alternating rounds).
 * One net_null port, burst 32 of 64-byte packets, rxBurst then txBurst (which frees) on:
 *   notap   the driver's own queue objects (no capture hook at all)
 *   off     EthDev's bound queues: the capture hook, unarmed (one load per burst)
 *   armed   the same with RX queue 0 armed and drained here every 8 bursts (a dumpcap
 *           in-process: its drain cost is included), nothing written
 *   reject  armed with a filter that rejects every packet ('udp port 53': the frames are
 *           not IP; the program returns at its second instruction): nothing copied
 *   accept  armed with a filter that accepts every packet ('len >= 14': one load, one
 *           compare), then copied as with `armed`
 * Prints {"notap": Mpps, "off": Mpps, "armed": Mpps, "tapNs": ns per captured packet,
 * "dropPct": % of packets the capture dropped, "reject": Mpps, "rejectNs": ns per packet,
 * "accept": Mpps, "acceptNs": ns per packet}.
 */
import { CaptureReader, Eal, EthDev, PktmbufPool, compileFilter, findDriver } from '../src/index.js';

const [prefix, msArg] = process.argv.slice(2);
const ms = Number(msArg ?? 1000);
const { eal } = Eal.init(['-l', '0', '--file-prefix', prefix!, '--proc-type=primary', '--log-level', 'error', '--vdev', 'net_null0'], { name: 'bench-dumpcap', handleSignals: false });
try {
  const pool = PktmbufPool.create(eal, 'bench_pool', { count: 8191, cacheSize: 256 });
  const dev = EthDev.attach(eal);
  dev.configure(0, { rxQueues: 1, txQueues: 1 });
  dev.rxQueueSetup(0, 0, { descriptors: 1024, pool });
  dev.txQueueSetup(0, 0, { descriptors: 1024 });
  dev.start(0);
  const drv = findDriver('net_null').open(dev.port(0));
  const raw = { rx: drv.rxQueue(0, pool), tx: drv.txQueue(0) };
  const tapped = { rx: dev.rxQueue(0, 0), tx: dev.txQueue(0, 0) };
  const h = new Uint32Array(32);
  let sink = 0;
  const noop = (_u8: Uint8Array, _off: number, caplen: number): void => {
    sink += caplen;
  };
  // One loop per variant (separate functions: each call site stays monomorphic); the
  // variants alternate, three rounds, best of each (the machine is shared and noisy).
  const loopRaw = (dur: number): number => {
    let pkts = 0;
    const rx = raw.rx;
    const tx = raw.tx;
    const end = performance.now() + dur;
    while (performance.now() < end) {
      for (let k = 0; k < 8; k++) {
        const n = rx.rxBurst(h, 32);
        tx.txBurst(h, n);
        pkts += n;
      }
    }
    return pkts / dur / 1000;
  };
  const loopTap = (dur: number): number => {
    let pkts = 0;
    const rx = tapped.rx;
    const tx = tapped.tx;
    const end = performance.now() + dur;
    while (performance.now() < end) {
      for (let k = 0; k < 8; k++) {
        const n = rx.rxBurst(h, 32);
        tx.txBurst(h, n);
        pkts += n;
      }
    }
    return pkts / dur / 1000;
  };
  const loopArmed = (dur: number, reader: CaptureReader): number => {
    let pkts = 0;
    const rx = tapped.rx;
    const tx = tapped.tx;
    const end = performance.now() + dur;
    while (performance.now() < end) {
      for (let k = 0; k < 8; k++) {
        const n = rx.rxBurst(h, 32);
        tx.txBurst(h, n);
        pkts += n;
      }
      reader.drain(noop);
    }
    return pkts / dur / 1000;
  };
  loopRaw(200);
  loopTap(200);
  let notap = 0;
  let off = 0;
  for (let round = 0; round < 3; round++) {
    notap = Math.max(notap, loopRaw(ms / 3));
    off = Math.max(off, loopTap(ms / 3));
  }
  /** One armed variant: Mpps, ns the tap spent per packet it saw, % dropped. */
  const armedRun = (filter?: Uint8Array): { mpps: number; ns: number; dropPct: number } => {
    const reader = CaptureReader.open(eal, 0, 0, 'rx', { ringBytes: 1 << 22, filter });
    loopArmed(200, reader);
    const c0 = reader.counters();
    const mpps = loopArmed(ms, reader);
    const c1 = reader.counters();
    reader.close();
    const copied = c1.packets - c0.packets;
    const dropped = c1.drops - c0.drops;
    const seen = copied + dropped + c1.filtered - c0.filtered;
    return { mpps, ns: seen ? (c1.tapNs - c0.tapNs) / seen : 0, dropPct: copied + dropped ? (100 * dropped) / (copied + dropped) : 0 };
  };
  const armed = armedRun();
  const reject = armedRun(compileFilter('udp port 53'));
  const accept = armedRun(compileFilter('len >= 14'));
  process.stdout.write(JSON.stringify({
    notap, off, armed: armed.mpps, tapNs: armed.ns, dropPct: armed.dropPct, reject: reject.mpps, rejectNs: reject.ns, accept: accept.mpps, acceptNs: accept.ns, sink: sink > 0,
  }) + '\n');
  dev.close();
} finally {
  eal.close();
}
