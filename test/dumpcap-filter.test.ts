/**
 * `dumpcap -f` is tcpdump's filter, exactly: one varied capture (test/pcap-varied.ts: VLAN
 * and QinQ tags, IPv6, fragments, IP options, TCP flags, ARP, broadcast and multicast)
 * replayed through 32 net_pcap ports of one application, one dumpcap capturing every port
 * with its own expression (`-i K -f EXPR`, DPDK's per-interface filters), and for each
 * expression the packets of that interface in the pcapng file are exactly, in order, those
 * `tcpdump -r FILE EXPR` keeps. The filter runs in the application (the queue's owner):
 * what it rejects is counted there, never copied.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PcapReader, PcapRecord, PcapWriter, PcapngReader } from '../src/index.js';
import { leftovers, reapAll, removeInstance, sleep, spawnNode, uniquePrefix } from './helpers.js';
import { writeVariedPcap } from './pcap-varied.js';

const HAVE_TCPDUMP = spawnSync('tcpdump', ['--version']).status === 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dumpcap-filter-'));
const prefix = uniquePrefix('dflt');
const prefixes = [prefix];
after(async () => {
  await reapAll();
  for (const p of prefixes) removeInstance(p);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** 32 expressions (one port each): protocols, ports, hosts and nets, VLANs, TCP flags, byte offsets, lengths, and/or/not, IPv6, ICMP, ARP, broadcast and multicast. */
const EXPRESSIONS = [
  'udp',
  'tcp',
  'icmp',
  'arp',
  'ip6',
  'udp port 53',
  'tcp dst port 80',
  'tcp src port 443 or tcp dst port 443',
  'host 10.0.0.1',
  'src host 10.0.0.2',
  'dst net 10.1.0.0/16',
  'net 192.168.0.0/16',
  'vlan',
  'vlan 100',
  'vlan and udp port 53',
  'tcp[tcpflags] & tcp-syn != 0',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)',
  'tcp[tcpflags] & tcp-rst != 0',
  'ip[8] < 64',
  'ip[6:2] & 0x1fff != 0',
  'len > 500',
  'less 64',
  'not udp',
  'udp and not port 53',
  '(tcp or icmp) and not host 10.9.9.9',
  'ip6 and udp',
  'icmp6',
  'icmp[icmptype] = icmp-echoreply',
  'ether broadcast',
  'ether multicast and not ip6',
  'ip multicast or ip broadcast',
  'portrange 5000-6000 or arp[7] = 2',
];

function bytesOf(r: PcapReader | PcapngReader, rec: PcapRecord): string {
  return Buffer.from(r.buf.subarray(rec.offset, rec.offset + rec.caplen)).toString('hex');
}

/**
 * Replay `input` through one net_pcap port per expression, capture port k with `-f
 * expressions[k]`, and check each interface against `tcpdump -r input EXPR`.
 */
async function compareWithTcpdump(prefix: string, input: string, nframes: number, expressions: string[], tag: string): Promise<void> {
  const vdevs = expressions.map((_, k) => `--vdev=net_pcap${k},rx_pcap=${input}`);
  const app = spawnNode('dist/test/dumpcap-filter-child.js', ['-l', '0', '--proc-type=primary', '--file-prefix', prefix, '--log-level', 'error', ...vdevs]);
  await app.waitFor(/"ready":\d+/, 20000);
  const cap = path.join(tmp, `${tag}.pcapng`);
  const d = spawnNode('mpdk', ['dumpcap', '--file-prefix', prefix, '-q', '-Q', 'in', '-w', cap, ...expressions.flatMap((e, k) => ['-i', String(k), '-f', e])]);
  await d.waitFor(/Capturing on/, 20000);
  app.send('run');
  await app.waitFor(/"read":\d+/, 20000);
  assert.match(app.out, new RegExp(`"read":${nframes * expressions.length}`), 'every port read the whole file');
  await sleep(200);
  d.proc.kill('SIGINT');
  assert.equal(await d.exited, 0, d.err);

  // What dumpcap kept, per interface.
  const ng = PcapngReader.open(cap, { iface: 'all' });
  const rec = new PcapRecord();
  const got: string[][] = expressions.map(() => []);
  while (ng.next(rec)) got[rec.iface]!.push(bytesOf(ng, rec));
  assert.equal(ng.interfaces.length, expressions.length);

  expressions.forEach((expr, k) => {
    const ref = path.join(tmp, `${tag}-ref${k}.pcap`);
    const t = spawnSync('tcpdump', ['-r', input, '-w', ref, expr], { encoding: 'utf8', timeout: 10000 });
    assert.equal(t.status, 0, `tcpdump '${expr}': ${t.stderr}`);
    const r = PcapReader.open(ref);
    const want: string[] = [];
    while (r.next(rec)) want.push(bytesOf(r, rec));
    r.close();
    assert.deepEqual(got[k], want, `'${expr}': dumpcap kept ${got[k]!.length}, tcpdump ${want.length}`);
    assert.ok(want.length > 0 && want.length < nframes, `'${expr}' keeps some packets and not all (${want.length} of ${nframes}): the comparison means something`);
    const st = ng.stats.get(k)!;
    assert.deepEqual(st, { ifRecv: nframes, ifDrop: 0, filterAccept: want.length }, `'${expr}': counted by the application`);
  });
  assert.match(d.err, new RegExp(`${nframes * expressions.length - got.flat().length} filtered out`));

  app.send('quit');
  assert.equal(await app.exited, 0, app.err);
  assert.deepEqual(leftovers(prefix), []);
}

test('for 32 expressions, dumpcap -f keeps exactly the packets tcpdump -r keeps', { skip: !HAVE_TCPDUMP && 'tcpdump is not installed (it is the reference)' }, async () => {
  const input = path.join(tmp, 'varied.pcap');
  const frames = writeVariedPcap(input);
  await compareWithTcpdump(prefix, input, frames.length, EXPRESSIONS, 'varied');
});

test('the filter sees the whole of a chained packet (jumbo and 64 KB frames, loads beyond the first buffer)', { skip: !HAVE_TCPDUMP && 'tcpdump is not installed (it is the reference)' }, async () => {
  const input = path.join(tmp, 'jumbo.pcap');
  const sizes = [60, 2049, 9000, 9018, 1514, 16000, 65535, 4096];
  const w = PcapWriter.open(input, { snaplen: 262144 });
  sizes.forEach((n, i) => {
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j++) b[j] = (j * 13 + i * 7) & 255;
    w.write(b, 0, n, n);
  });
  w.close();
  const p = uniquePrefix('dfj');
  prefixes.push(p);
  await compareWithTcpdump(p, input, sizes.length, ['len > 9000', 'ether[9010] = 0x9f or ether[4000] = 0x2e', 'ether[65534] = 0x10 or ether[2048:4] = 0x0e1b2835'], 'jumbo');
});
