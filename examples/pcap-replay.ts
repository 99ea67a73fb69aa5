/**
 * Replay a capture file onto a real network interface, as fast as it takes them.
 *
 *   node dist/examples/pcap-replay.js FILE.pcap[ng] INTERFACE
 *
 * (root, or CAP_NET_RAW: it sends raw Ethernet frames.) Two ports: port 0 is the file
 * (`net_pcap`: its RX queue reads one record per packet, pcap or pcapng), port 1 the
 * interface (`net_af_packet`: its TX queue hands frames to the kernel). The loop moves
 * bursts of up to 32 packets from one to the other until the file ends. Packets stay in
 * the shared pool's buffers all the way: read once from the file, never copied again
 * before the kernel takes them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Eal, EthDev, installExit, PktmbufPool } from 'mpdk';

// Leave through _exit(2) once the 'exit' listeners ran: Node 24 can hang in its own exit.
installExit();

const [file, iface] = process.argv.slice(2);
if (!file || !iface) {
  console.error('usage: node pcap-replay.js FILE.pcap[ng] INTERFACE');
  process.exit(2);
}

// A --vdev is a port and its driver's options, in DPDK's syntax.
using eal = Eal.init({ filePrefix: `replay-${process.pid}`, memoryMiB: 64, vdevs: [`net_pcap0,rx_pcap=${file}`, `net_af_packet1,iface=${iface}`] });
using dev = EthDev.attach(eal);
const pool = PktmbufPool.create(eal, 'mbufs', { count: 4095, cacheSize: 256 });
for (const port of [0, 1]) {
  dev.configure(port, { rxQueues: 1, txQueues: 1 });
  dev.rxQueueSetup(port, 0, { descriptors: 512, pool });
  dev.txQueueSetup(port, 0, { descriptors: 512 });
  dev.start(port);
}

const handles = new Uint32Array(32);
for (;;) {
  const n = dev.rxBurst(0, 0, handles, 32); // the next (up to) 32 records of the file
  if (n === 0) break; // the end of the file: every buffer is back in the pool, so it is not a lack of them
  let sent = 0;
  for (let waited = 0; sent < n; waited++) {
    sent += dev.txBurst(1, 0, handles.subarray(sent), n - sent); // a TX queue takes what it can
    if (sent === n) break;
    if (waited === 5000) {
      pool.freeBulk(handles.subarray(sent), n - sent); // ours until a queue takes them
      throw new Error(`${iface} took no frame for 5 s: is it up?`);
    }
    await sleep(1); // the interface's queue is full: wait for the kernel to drain it
  }
}

const file0 = dev.stats(0);
const out = dev.stats(1);
console.log(`replayed ${out.opackets} packets (${out.obytes} bytes) from ${file} onto ${iface}` +
  (file0.ierrors > 0 ? `; ${file0.ierrors} records were not packets (shorter than an Ethernet header, or cut)` : ''));
