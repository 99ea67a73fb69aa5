/**
 * A packet forwarder: what arrives on port 0 leaves on port 1, and the other way round.
 *
 *   node dist/examples/forwarder.js
 *       two software ports (net_ring: rings in shared memory) and a second process that
 *       plays their far side: it feeds 1000 frames into each port and checks that each
 *       comes out of the other, in order and unchanged
 *   node dist/examples/forwarder.js --vdev net_af_packet0,iface=eth1 --vdev net_af_packet1,iface=eth2
 *       two real interfaces (root, or CAP_NET_RAW), until Ctrl-C
 *
 * A port is DPDK's: numbered from 0 in the order of the `vdevs`, with receive (RX) and
 * transmit (TX) queues. Packets are buffers of a shared pool ("mbufs"), named by 32-bit
 * handles; a burst is up to 32 of them, moved by one call. A handle the forwarder receives
 * is its own until a TX queue takes it; what no queue takes, it must free. (A forwarder
 * killed mid-burst leaks that burst's buffers; one that must not keeps its bursts in an
 * ownership record, `Hands`, as the shipped symmetric_mp does.)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Eal, EthDev, installExit, parseMac, PktmbufPool } from 'mpdk';

// Leave through _exit(2) once the 'exit' listeners ran: Node 24 can hang in its own exit.
installExit();

const { values, positionals } = parseArgs({ options: { vdev: { type: 'string', multiple: true } }, allowPositionals: true });
// The traffic process is this same file, started with 'traffic' and the instance's name.
const [first, prefixArg] = positionals;
const FRAMES = 1000;

if (first !== 'traffic') {
  const prefix = `fwd-${process.pid}`;
  const vdevs = values.vdev ?? ['net_ring0', 'net_ring1'];
  if (vdevs.length !== 2) throw new Error('give two --vdev, or none for two net_ring ports');
  using eal = Eal.init({ filePrefix: prefix, lcores: [0], memoryMiB: 64, vdevs });
  using dev = EthDev.attach(eal);
  const pool = PktmbufPool.create(eal, 'mbufs', { count: 8191, cacheSize: 256 });
  for (const port of [0, 1]) {
    dev.configure(port, { rxQueues: 1, txQueues: 1 });
    dev.rxQueueSetup(port, 0, { descriptors: 1024, pool }); // received packets come from `pool`
    dev.txQueueSetup(port, 0, { descriptors: 1024 });
    dev.start(port);
  }

  // One loop per direction, both on this thread's event loop; each sleeps while its port is idle.
  const stop = new AbortController();
  const forward = async (from: number, to: number): Promise<{ sent: number; dropped: number }> => {
    const handles = new Uint32Array(32); // one array, reused for every burst: nothing allocated per packet
    let sent = 0;
    let dropped = 0;
    try {
      for await (const burst of dev.rxBursts(from, 0, handles, { signal: stop.signal })) {
        const n = dev.txBurst(to, 0, burst, burst.length);
        if (n < burst.length) dropped += pool.freeBulk(burst.subarray(n), burst.length - n); // TX full: drop the rest
        sent += n;
      }
    } catch (e) {
      if (!stop.signal.aborted) throw e;
    }
    return { sent, dropped };
  };
  const loops = Promise.all([forward(0, 1), forward(1, 0)]);

  if (values.vdev === undefined) {
    // Software ports: a second process plays their far side, then we stop.
    const peer = spawn(process.execPath, [import.meta.filename, 'traffic', prefix], { stdio: 'inherit' });
    await once(peer, 'exit');
  } else {
    console.log(`forwarder: ${vdevs.join(' <-> ')}; Ctrl-C stops`);
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  }
  stop.abort();
  const [a, b] = await loops;
  console.log(`forwarder: port 0 -> 1: ${a.sent} sent, ${a.dropped} dropped; port 1 -> 0: ${b.sent} sent, ${b.dropped} dropped`);
} else {
  // The far side of two net_ring ports: `wire(port).inject` is a frame arriving on the
  // port's cable, `wire(port).collect` takes what the port transmitted.
  using eal = Eal.init({ filePrefix: prefixArg!, lcores: [1], procType: 'secondary' });
  using dev = EthDev.attach(eal);
  const pool = PktmbufPool.lookup(eal, 'mbufs');
  const frame = (port: number, i: number): Buffer => Buffer.concat([
    parseMac(`02:00:00:00:00:0${1 - port}`), parseMac(`02:00:00:00:00:0${port}`), // to, from
    Buffer.from([0x88, 0xb5]), // a local EtherType
    Buffer.from(`frame ${i} into port ${port}`.padEnd(46)),
  ]);
  for (const port of [0, 1]) {
    const into = dev.wire(port);
    const outOf = dev.wire(1 - port);
    const h = new Uint32Array(32);
    let sent = 0;
    let got = 0;
    let wrong = 0;
    const deadline = Date.now() + 10_000;
    while (got < FRAMES && Date.now() < deadline) {
      const k = Math.min(32, FRAMES - sent);
      if (k > 0 && pool.allocBulk(h, k) === k) {
        for (let i = 0; i < k; i++) pool.copyIn(h[i]!, frame(port, sent + i));
        const n = into.inject(h, k);
        pool.freeBulk(h.subarray(n), k - n); // the port's RX queue was full
        sent += n;
      }
      const n = outOf.collect(h, 32);
      for (let i = 0; i < n; i++) if (!Buffer.from(pool.bytes(h[i]!)).equals(frame(port, got + i))) wrong++;
      pool.freeBulk(h, n);
      got += n;
      if (n === 0) await sleep(1); // nothing out yet: give the forwarder a moment
    }
    console.log(`traffic: ${sent} frames into port ${port}, ${got} out of port ${1 - port}, ${wrong} changed or out of order`);
  }
}
