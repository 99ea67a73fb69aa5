/**
 * What the capture hook (src/ethdev/capture.ts) costs the application. One process
 * (bench/dumpcap-child.ts), one net_null port, rxBurst 32 + txBurst of 64-byte packets:
 *
 *   dumpcap.notap          the driver's queue objects, no hook (the baseline)
 *   dumpcap.tap_off        EthDev's bound queues, hook present, nobody capturing
 *                          (target: within noise of notap — one load + one call per burst)
 *   dumpcap.tap_armed      RX queue captured (copy of each packet into the capture ring,
 *                          drained in the same process every 8 bursts), with
 *   dumpcap.tap_armed.tap_ns   ns the tap spent per captured packet (its own TAP_NS counter)
 *   dumpcap.tap_armed.drop_pct packets the capture dropped (ring full)
 *   dumpcap.tap_filter_reject  RX captured with a filter that rejects every packet (run by
 *                          the queue's owner; nothing copied), with .tap_ns per packet
 *   dumpcap.tap_filter_accept  RX captured with a filter that accepts every packet, then
 *                          copied as tap_armed, with .tap_ns per packet
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeArgs, type Bench, removeInstance } from './harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(HERE, 'dumpcap-child.js');
let result: Promise<Record<string, number>> | undefined;
let seq = 0;

function measure(): Promise<Record<string, number>> {
  result ??= new Promise((resolve, reject) => {
    const prefix = `bCap${process.pid}x${seq++}`;
    const c = spawn(process.execPath, nodeArgs([CHILD, prefix, '1000']), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const t = setTimeout(() => c.kill('SIGKILL'), 30000);
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('exit', (code) => {
      clearTimeout(t);
      removeInstance(prefix);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`dumpcap bench child exited ${code}: ${out}`));
      resolve(JSON.parse(line) as Record<string, number>);
    });
  });
  return result;
}

export const benches: Bench[] = [
  { name: 'dumpcap.notap', unit: 'Mpps', what: 'net_null rx+tx burst 32 through the driver queues (no capture hook)', run: async () => (await measure()).notap! },
  { name: 'dumpcap.tap_off', unit: 'Mpps', baseline: 'dumpcap.notap', what: 'the same through EthDev bound queues: capture hook present, not armed', run: async () => (await measure()).off! },
  {
    name: 'dumpcap.tap_armed', unit: 'Mpps', baseline: 'dumpcap.notap', what: 'RX captured: 64-byte copies into the capture ring, drained in-process (+ .tap_ns per packet, .drop_pct)',
    run: async () => {
      const m = await measure();
      return { 'dumpcap.tap_armed': m.armed!, 'dumpcap.tap_armed.tap_ns': m.tapNs!, 'dumpcap.tap_armed.drop_pct': m.dropPct! };
    },
  },
  {
    name: 'dumpcap.tap_filter_reject', unit: 'Mpps', baseline: 'dumpcap.notap', what: "RX captured with -f 'udp port 53' rejecting every packet: the filter only (+ .tap_ns per packet)",
    run: async () => {
      const m = await measure();
      return { 'dumpcap.tap_filter_reject': m.reject!, 'dumpcap.tap_filter_reject.tap_ns': m.rejectNs! };
    },
  },
  {
    name: 'dumpcap.tap_filter_accept', unit: 'Mpps', baseline: 'dumpcap.notap', what: "RX captured with -f 'len >= 14' accepting every packet, then copied (+ .tap_ns per packet)",
    run: async () => {
      const m = await measure();
      return { 'dumpcap.tap_filter_accept': m.accept!, 'dumpcap.tap_filter_accept.tap_ns': m.acceptNs! };
    },
  },
];
