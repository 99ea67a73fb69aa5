/**
 * `mpdk dumpcap` against a running application (test/proc-info-child.ts, port 0 echoing
 * what its wire injects): the pcap file holds exactly the packets sent, byte for byte;
 * --tx adds what the port transmits; a stalled dumpcap makes the capture drop (counted),
 * never the forwarding; one dumpcap per queue; a killed dumpcap's ring is taken over;
 * -c and -s (snaplen).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PcapReader, PcapRecord } from '../src/index.js';
import { leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, type Child } from './helpers.js';
import { send, startApp } from './proc-info-app.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dumpcap-'));

function packets(file: string): { len: number; bytes: string }[] {
  const r = PcapReader.open(file);
  const rec = new PcapRecord();
  const out = [];
  while (r.next(rec)) out.push({ len: rec.len, bytes: Buffer.from(r.buf.subarray(rec.offset, rec.offset + rec.caplen)).toString('hex') });
  r.close();
  return out;
}

function dumpcap(prefix: string, ...args: string[]): Child {
  return spawnNode('mpdk', ['dumpcap', '--file-prefix', prefix, '-q', ...args]);
}

describe('mpdk dumpcap', () => {
  const prefix = uniquePrefix('dcap');
  let app: Child;
  before(async () => {
    app = await startApp(prefix, 1);
  });
  after(async () => {
    await reapAll();
    removeInstance(prefix); // a failed or filtered run's app was killed: its files (the last test checks a clean exit)
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the capture file holds exactly the packets received, byte for byte, in order', async () => {
    const cap = path.join(tmp, 'rx.pcap');
    const sent = path.join(tmp, 'sent.pcap');
    const d = dumpcap(prefix, '-i', '0', '-w', cap, '-c', '300');
    await d.waitFor(/capturing on 0:rx0/, 10000);
    await send(app, 300, 200, sent);
    assert.equal(await d.exited, 0, d.err);
    assert.match(d.err, /300 packets written, 300 copied by the application, 0 dropped/);
    const got = packets(cap);
    const want = packets(sent);
    assert.equal(want.length, 300);
    assert.deepEqual(got, want);
    const tcpdump = spawnSync('tcpdump', ['-nr', cap], { encoding: 'utf8', timeout: 10000 });
    if (!tcpdump.error) { // tcpdump installed: it reads the file as written
      assert.equal(tcpdump.status, 0, tcpdump.stderr);
      assert.equal(tcpdump.stdout.trim().split('\n').filter((l) => / IP 10\.0\.0\.\d+\.1024 > 10\.1\.0\.1\.5001: UDP, length 158$/.test(l)).length, 300);
    }
  });

  test('--tx adds what the port transmits; -i by name; --duration ends it', async () => {
    const cap = path.join(tmp, 'both.pcap');
    const sent = path.join(tmp, 'sent2.pcap');
    const d = dumpcap(prefix, '-i', 'net_ring0:0', '--tx', '-w', cap, '--duration', '3');
    await d.waitFor(/capturing on 0:rx0 0:tx0/, 10000);
    await send(app, 40, 80, sent);
    assert.equal(await d.exited, 0, d.err);
    const got = packets(cap).map((p) => p.bytes).sort();
    const want = packets(sent).flatMap((p) => [p.bytes, p.bytes]).sort();
    assert.deepEqual(got, want, 'each packet once received and once transmitted');
  });

  test('a stalled dumpcap costs drops in the capture, counted, and none in forwarding', async () => {
    const cap = path.join(tmp, 'stall.pcap');
    const d = dumpcap(prefix, '-i', '0', '-w', cap, '--buffer', '128'); // the ring exists already (1 MiB): kept
    await d.waitFor(/capturing on 0:rx0/, 10000);
    d.proc.kill('SIGSTOP');
    try {
      await send(app, 2000, 1000); // 2 MB through a 1 MiB capture ring: forwarding still collects all
    } finally {
      d.proc.kill('SIGCONT');
    }
    await sleep(100);
    d.proc.kill('SIGINT');
    assert.equal(await d.exited, 0, d.err);
    const m = /(\d+) packets written, (\d+) copied by the application, (\d+) dropped/.exec(d.err);
    assert.ok(m, d.err);
    const [written, copied, dropped] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.equal(written, copied);
    assert.ok(dropped > 0, 'the ring overflowed');
    assert.equal(copied + dropped, 2000);
    assert.equal(packets(cap).length, written);
    const info = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--captures', '--json'], 15000);
    const c = JSON.parse(info.out).captures.find((x: any) => x.port === 0 && x.dir === 'rx' && x.queue === 0);
    assert.equal(c.armed, false, 'disarmed on exit');
  });

  test('one dumpcap per queue; a killed one is taken over; refusals are one line', async () => {
    const a = dumpcap(prefix, '-i', '0', '-w', path.join(tmp, 'a.pcap'));
    await a.waitFor(/capturing on/, 10000);
    const b = await run('mpdk', ['dumpcap', '--file-prefix', prefix, '-i', '0', '-w', path.join(tmp, 'b.pcap')], 15000);
    assert.equal(b.code, 1);
    assert.match(b.err, new RegExp(`^dumpcap: RX queue 0 of port 0 is already being captured by pid ${a.proc.pid}; stop that dumpcap first\\n$`));
    a.proc.kill('SIGKILL');
    await a.exited;
    await send(app, 20, 64); // the app is not bothered by a dead capturer
    const c = dumpcap(prefix, '-i', '0', '-w', path.join(tmp, 'c.pcap'), '-c', '5', '-s', '40');
    await c.waitFor(/capturing on/, 10000);
    await send(app, 8, 64, path.join(tmp, 'sent3.pcap'));
    assert.equal(await c.exited, 0, c.err);
    const snapped = packets(path.join(tmp, 'c.pcap'));
    const sent = packets(path.join(tmp, 'sent3.pcap')).slice(0, 5);
    assert.deepEqual(snapped, sent.map((p) => ({ len: 64, bytes: p.bytes.slice(0, 80) })), 'the first 5, cut to 40 bytes, wire length kept');
    const port = await run('mpdk', ['dumpcap', '--file-prefix', prefix, '-i', '3', '-w', path.join(tmp, 'x.pcap')], 15000);
    assert.equal(port.code, 1);
    assert.match(port.err, /^dumpcap: no port 3: .*\n$/);
    const none = await run('mpdk', ['dumpcap', '--file-prefix', uniquePrefix('gone'), '-i', '0', '-w', path.join(tmp, 'x.pcap')], 15000);
    assert.equal(none.code, 1);
    assert.match(none.err, /^dumpcap: no instance with --file-prefix=\S+ .*\n$/);
    const usage = await run('mpdk', ['dumpcap', '--file-prefix', prefix, '-w', path.join(tmp, 'x.pcap')], 15000);
    assert.equal(usage.code, 2);
  });

  test('the instance leaves nothing behind', async () => {
    app.send('quit');
    assert.equal(await app.exited, 0, app.err);
    assert.deepEqual(leftovers(prefix), []);
  });
});
