/**
 * Chained mbufs through the guide's forwarders: a capture of jumbo (9 KB) and 64 KB frames,
 * read by net_pcap as chains (records longer than one 2 KB buffer), forwarded by
 * symmetric_mp, l2fwd_fork and client_server_mp from port 0 to port 1 and written back by
 * net_pcap as one record each: every frame comes out whole and byte-identical (l2fwd_fork
 * rewrites the MAC addresses, as it must), and `mpdk audit` then accounts for every buffer
 * (no segment of a chain leaked).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Eal, EthDev, PcapRecord, PcapWriter, openCaptureFile } from '../src/index.js';
import { leftovers, reapAll, removeInstance, run, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-chains-'));
const prefixes: string[] = [];
after(async () => {
  await reapAll();
  for (const p of prefixes) removeInstance(p);
  fs.rmSync(dir, { recursive: true, force: true });
});

const SIZES = [60, 2049, 9000, 9018, 1514, 16000, 65535, 65549, 4096, 64];

/** The input capture: frames of SIZES (IPv4 ethertype, patterned bytes). */
function input(): { file: string; frames: Buffer[] } {
  const file = path.join(dir, 'jumbo.pcap');
  const frames = SIZES.map((n, i) => {
    const b = Buffer.alloc(n);
    for (let j = 0; j < n; j++) b[j] = (j * 13 + i * 7) & 255;
    b[12] = 0x08;
    b[13] = 0x00;
    return b;
  });
  const w = PcapWriter.open(file, { snaplen: 262144 });
  frames.forEach((f) => w.write(f, 0, f.length, f.length));
  w.close();
  return { file, frames };
}

function records(file: string): Buffer[] {
  const r = openCaptureFile(file);
  const rec = new PcapRecord();
  const out: Buffer[] = [];
  while (r.next(rec)) {
    assert.equal(rec.caplen, rec.len, 'whole');
    out.push(Buffer.from(r.buf.subarray(rec.offset, rec.offset + rec.caplen)));
  }
  r.close();
  return out;
}

/** Port 1's transmitted packets, seen from outside (a read-only observer). */
function opackets(prefix: string, port: number): number {
  const obs = Eal.observe(prefix);
  try {
    const p = EthDev.describe(obs).find((d) => d.name === `net_pcap${port}`) as unknown as { stats: { opackets: number } } | undefined;
    return p?.stats.opackets ?? -1;
  } finally {
    obs.close();
  }
}

async function forwardAndCheck(prefix: string, out: string, frames: Buffer[], apps: Child[], sameBytesFrom = 0): Promise<void> {
  await until(() => opackets(prefix, 1) === frames.length, 20000, `${frames.length} packets transmitted on port 1`);
  const audit = await run('mpdk', ['audit', '--file-prefix', prefix], 20000);
  assert.equal(audit.code, 0, `audit: ${audit.out}${audit.err}`);
  assert.match(audit.out, /every element accounted for/);
  for (const a of [...apps].reverse()) {
    a.proc.kill('SIGINT');
    assert.equal(await a.exited, 0, a.err);
  }
  const got = records(out);
  assert.deepEqual(got.map((g) => g.length), frames.map((f) => f.length), 'every frame, whole, in order');
  got.forEach((g, i) => assert.ok(g.subarray(sameBytesFrom).equals(frames[i]!.subarray(sameBytesFrom)), `frame ${i} (${frames[i]!.length} bytes) changed`));
  assert.deepEqual(leftovers(prefix), []);
}

const vdevs = (file: string, out: string): string[] => [`--vdev=net_pcap0,rx_pcap=${file}`, `--vdev=net_pcap1,tx_pcap=${out}`];

test('symmetric_mp forwards 9 KB and 64 KB frames (chains) byte-identical; audit finds every buffer', async () => {
  const { file, frames } = input();
  const out = path.join(dir, 'sym.pcap');
  const p = uniquePrefix('chs');
  prefixes.push(p);
  const a = spawnNode('mpdk', ['symmetric_mp', '-l', '0', '--proc-type=primary', '--file-prefix', p, '--log-level', 'warning', ...vdevs(file, out), '--', '-p', '3', '--num-procs=1', '--proc-id=0']);
  await a.waitFor(/APP: Finished Process Init\./, 15000);
  await forwardAndCheck(p, out, frames, [a]);
});

test('l2fwd_fork forwards chains whole (MAC addresses rewritten, every other byte kept); audit finds every buffer', async () => {
  const { file, frames } = input();
  const out = path.join(dir, 'l2fwd.pcap');
  const p = uniquePrefix('chl');
  prefixes.push(p);
  const m = spawnNode('mpdk', ['l2fwd_fork', '-l', '0-2', '--file-prefix', p, '--log-level', 'error', ...vdevs(file, out), '--', '-p', '3', '-T', '0', '--standby=0']);
  await m.waitFor(/slave lcore 2 started: pid \d+/, 15000);
  await forwardAndCheck(p, out, frames, [m], 12);
});

test('client_server_mp forwards chains whole; audit finds every buffer', async () => {
  const { file, frames } = input();
  const out = path.join(dir, 'cs.pcap');
  const p = uniquePrefix('chc');
  prefixes.push(p);
  const s = spawnNode('mpdk', ['mp_server', '-l', '0', '--file-prefix', p, '--log-level', 'warning', ...vdevs(file, out), '--', '-p', '3', '-n', '1']);
  await s.waitFor(/Finished Process Init/, 15000);
  const c = spawnNode('mpdk', ['mp_client', '-l', '1', '--proc-type=auto', '--file-prefix', p, '--log-level', 'warning', '--', '-n', '0']);
  await c.waitFor(/Client process \d+ handling packets/, 15000);
  await forwardAndCheck(p, out, frames, [s, c]);
});
