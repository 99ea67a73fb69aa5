/**
 * `mpdk dumpcap` against a running application (test/proc-info-child.ts, port 0 echoing
 * what its wire injects): the pcapng file holds exactly the packets sent, byte for byte,
 * with the interface's name, each packet's direction and queue, and the drop counts;
 * tshark, tcpdump and capinfos read every file it writes (pcapng, -P pcap, -w - through a
 * pipe, each file of a -b ring buffer) without a warning; a stalled dumpcap makes the
 * capture drop (counted in the file), never the forwarding; one dumpcap per queue; a
 * killed dumpcap's ring is taken over; -c, -s, -a, -b, -D, -d, -v; the count updates in
 * place on a terminal.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PcapReader, PcapRecord, PcapngReader, compileFilter, openCaptureFile } from '../src/index.js';
import { MPDK, exitStatus, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, type Child } from './helpers.js';
import { send, startApp } from './proc-info-app.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dumpcap-'));
const HAVE_TSHARK = spawnSync('tshark', ['-v'], { encoding: 'utf8' }).status === 0;
const HAVE_TCPDUMP = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).status === 0;
const HAVE_CAPINFOS = spawnSync('capinfos', ['-h'], { encoding: 'utf8' }).status === 0;
/** libpcap compiles -f (it comes with tcpdump); without it the filter cases are left out. */
const HAVE_LIBPCAP = ((): boolean => {
  try {
    compileFilter('ip');
    return true;
  } catch {
    return false;
  }
})();

interface Pkt {
  iface: number;
  flags: number;
  queue: number;
  len: number;
  bytes: string;
}

/** Every packet of a capture file (pcap or pcapng), with its interface, flags and queue. */
function packets(file: string): Pkt[] {
  const r = openCaptureFile(file, { iface: 'all' });
  const rec = new PcapRecord();
  const out: Pkt[] = [];
  while (r.next(rec)) out.push({ iface: rec.iface, flags: rec.flags, queue: rec.queue, len: rec.len, bytes: Buffer.from(r.buf.subarray(rec.offset, rec.offset + rec.caplen)).toString('hex') });
  assert.equal(r.truncated, '', `${file} is complete`);
  r.close();
  return out;
}

function sentBytes(file: string): string[] {
  const r = PcapReader.open(file);
  const rec = new PcapRecord();
  const out: string[] = [];
  while (r.next(rec)) out.push(Buffer.from(r.buf.subarray(rec.offset, rec.offset + rec.caplen)).toString('hex'));
  r.close();
  return out;
}

/** stderr of a tool without the lines every run as root prints. */
function warnings(stderr: string): string {
  return stderr.split('\n').filter((l) => l && !/^Running as user "root"/.test(l)).join('\n');
}

/** tshark's fields of every packet (one array per packet); asserts it read the file without a word on stderr. */
function tshark(file: string, fields: string[]): string[][] {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', timeout: 30000, maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(warnings(r.stderr), '', `tshark warns about ${file}`);
  return r.stdout.split('\n').filter((l) => l).map((l) => l.split('\t'));
}

/** tcpdump -r's packet lines; asserts it read the file cleanly. */
function tcpdump(file: string, extra: string[] = []): string[] {
  const r = spawnSync('tcpdump', ['-nr', file, ...extra], { encoding: 'utf8', timeout: 30000, maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^reading from file .*, link-type EN10MB \(Ethernet\), snapshot length \d+\n$/);
  return r.stdout.trim().split('\n').filter((l) => l);
}

function capinfos(file: string): string {
  const r = spawnSync('capinfos', [file], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(warnings(r.stderr), '', `capinfos warns about ${file}`);
  return r.stdout;
}

/** dumpcap with its stdout as bytes (for -w -); killed by the file's after hook if still running. */
const raw = new Set<ChildProcess>();
function dumpcapRaw(args: string[]): { proc: ChildProcess; err: () => string; exited: Promise<number> } {
  const proc = spawn(process.execPath, [MPDK, 'dumpcap', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  raw.add(proc);
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = exitStatus(proc, () => raw.delete(proc));
  return { proc, err: () => err, exited };
}

async function waitFor(get: () => string, re: RegExp, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(get())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}: ${get()}`);
    await sleep(20);
  }
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
    for (const p of raw) p.kill('SIGKILL');
    await reapAll();
    removeInstance(prefix); // a failed or filtered run's app was killed: its files (the last test checks a clean exit)
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the pcapng file holds exactly the packets received, byte for byte, with interface name, direction, queue and counts', async () => {
    const cap = path.join(tmp, 'rx.pcapng');
    const sent = path.join(tmp, 'sent.pcap');
    // -B 1: this RX queue's ring is made 1 MiB here, so that the stall test below overflows it.
    const d = dumpcap(prefix, '-i', '0', '-Q', 'in', '-w', cap, '-c', '300', '-B', '1');
    await d.waitFor(/Capturing on 'net_ring0' \(RX\)/, 10000);
    await send(app, 300, 200, sent);
    assert.equal(await d.exited, 0, d.err);
    assert.match(d.err, /300 packets written to 1 file, 300 copied by the application, 0 dropped \(capture ring full\), 0 filtered out/);
    assert.match(d.err, /Packets received\/dropped on interface 'net_ring0': 300\/0 \(100\.0%\)/);
    const got = packets(cap);
    assert.deepEqual(got.map((p) => p.bytes), sentBytes(sent));
    assert.ok(got.every((p) => p.iface === 0 && p.flags === 1 && p.queue === 0 && p.len === 200), 'inbound, queue 0, interface 0');
    const r = PcapngReader.open(cap, { iface: 'all' });
    const rec = new PcapRecord();
    while (r.next(rec));
    assert.deepEqual(r.interfaces.map((i) => [i.name, i.linktype, i.snaplen, i.unitsPerSec]), [['net_ring0', 1, 262144, 1e9]]);
    assert.deepEqual(r.stats.get(0), { ifRecv: 300, ifDrop: 0, filterAccept: 300 });
    if (HAVE_TSHARK) {
      const rows = tshark(cap, ['frame.interface_name', 'frame.packet_flags_direction', 'frame.p2p_dir', 'frame.interface_queue', 'frame.len']);
      assert.equal(rows.length, 300);
      assert.deepEqual(new Set(rows.map((x) => x.join(' '))), new Set(['net_ring0 0x00000001 1 0 200']), 'interface name, inbound, queue 0');
    }
    if (HAVE_TCPDUMP) {
      assert.equal(tcpdump(cap).filter((l) => / IP 10\.0\.0\.\d+\.1024 > 10\.1\.0\.1\.5001: UDP, length 158$/.test(l)).length, 300);
    }
    if (HAVE_CAPINFOS) {
      const info = capinfos(cap);
      assert.match(info, /File type:\s+Wireshark\/\.\.\. - pcapng/);
      assert.match(info, /Number of packets:\s+300\n/);
      assert.match(info, /Capture application:\s+dumpcap 1\.0 \(mpdk \d/);
      assert.match(info, /Capture oper-sys:\s+Linux /);
      assert.match(info, /Name = net_ring0\n/);
    }
  });

  test('RX and TX by default, each packet with its direction; -i by name with a queue; -a duration ends it', async () => {
    const cap = path.join(tmp, 'both.pcapng');
    const sent = path.join(tmp, 'sent2.pcap');
    const d = dumpcap(prefix, '-i', 'net_ring0:0', '-w', cap, '-a', 'duration:3');
    await d.waitFor(/Capturing on 'net_ring0:0' \(RX\+TX\)/, 10000);
    await send(app, 40, 80, sent);
    assert.equal(await d.exited, 0, d.err);
    assert.match(d.err, /stopped \(3 s\)/);
    const got = packets(cap);
    const want = sentBytes(sent);
    assert.deepEqual(got.filter((p) => p.flags === 1).map((p) => p.bytes), want, 'each packet once received');
    assert.deepEqual(got.filter((p) => p.flags === 2).map((p) => p.bytes), want, 'and once transmitted');
    if (HAVE_TSHARK) {
      const dirs = tshark(cap, ['frame.interface_name', 'frame.p2p_dir']).map((x) => x.join(' '));
      assert.equal(dirs.filter((x) => x === 'net_ring0:0 1').length, 40, 'tshark: received');
      assert.equal(dirs.filter((x) => x === 'net_ring0:0 0').length, 40, 'tshark: sent');
    }
  });

  test('a stalled dumpcap costs drops in the capture, counted in the file, and none in forwarding', async () => {
    const cap = path.join(tmp, 'stall.pcapng');
    const d = dumpcap(prefix, '-i', '0', '-Q', 'in', '-w', cap); // the 1 MiB ring of the first test
    await d.waitFor(/Capturing on/, 10000);
    d.proc.kill('SIGSTOP');
    try {
      await send(app, 2000, 1000); // 2 MB through a 1 MiB capture ring: forwarding still collects all
    } finally {
      d.proc.kill('SIGCONT');
    }
    await sleep(100);
    d.proc.kill('SIGINT');
    assert.equal(await d.exited, 0, d.err);
    const m = /(\d+) packets written to 1 file, (\d+) copied by the application, (\d+) dropped/.exec(d.err);
    assert.ok(m, d.err);
    const [written, copied, dropped] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.equal(written, copied);
    assert.ok(dropped > 0, 'the ring overflowed');
    assert.equal(copied + dropped, 2000);
    // As Wireshark's dumpcap: received excludes the dropped, and the share is received of all seen.
    assert.match(d.err, new RegExp(`Packets received/dropped on interface 'net_ring0': ${copied}/${dropped} \\(${((100 * copied) / 2000).toFixed(1)}%\\)\n`));
    assert.equal(packets(cap).length, written);
    const r = PcapngReader.open(cap, { iface: 'all' });
    while (r.next(new PcapRecord()));
    assert.deepEqual(r.stats.get(0), { ifRecv: 2000, ifDrop: dropped, filterAccept: 2000 }, 'the drops are in the statistics block');
    const info = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--captures', '--json'], 15000);
    const c = JSON.parse(info.out).captures.find((x: any) => x.port === 0 && x.dir === 'rx' && x.queue === 0);
    assert.equal(c.armed, false, 'disarmed on exit');
  });

  test('nothing seen is 0/0 (0.0%), as Wireshark\'s dumpcap prints it (`dumpcap -a duration:1 -i lo` on an idle lo)', async () => {
    const d = dumpcap(prefix, '-i', '0', '-Q', 'in', '-w', path.join(tmp, 'idle.pcapng'), '-a', 'duration:1');
    assert.equal(await d.exited, 0, d.err);
    assert.match(d.err, /Packets received\/dropped on interface 'net_ring0': 0\/0 \(0\.0%\)\n/);
  });

  test('-P writes nanosecond pcap, -w - writes to a pipe, and tcpdump and tshark read both', async () => {
    const cap = path.join(tmp, 'classic.pcap');
    const sent = path.join(tmp, 'sent4.pcap');
    const d = dumpcap(prefix, '-i', '0', '-Q', 'in', '-P', '-w', cap, '-c', '20');
    await d.waitFor(/Capturing on/, 10000);
    await send(app, 20, 100, sent);
    assert.equal(await d.exited, 0, d.err);
    const r = PcapReader.open(cap);
    assert.ok(r.nanosecond, 'nanosecond pcap, as DPDK writes it');
    r.close();
    assert.deepEqual(packets(cap).map((p) => p.bytes), sentBytes(sent));
    if (HAVE_TCPDUMP) assert.equal(tcpdump(cap).length, 20);
    if (HAVE_TSHARK) assert.equal(tshark(cap, ['frame.len']).length, 20);
    if (HAVE_CAPINFOS) assert.match(capinfos(cap), /File type:\s+Wireshark\/tcpdump\/\.\.\. - nanosecond pcap/);

    // -w -: the pcapng stream through a pipe, kept and read afterwards.
    const piped = path.join(tmp, 'piped.pcapng');
    const p = dumpcapRaw(['--file-prefix', prefix, '-q', '-i', '0', '-Q', 'in', '-w', '-', '-c', '10']);
    const chunks: Buffer[] = [];
    p.proc.stdout!.on('data', (b: Buffer) => chunks.push(b));
    await waitFor(p.err, /Capturing on/, 10000);
    await send(app, 10, 90);
    assert.equal(await p.exited, 0, p.err());
    assert.doesNotMatch(p.err(), /File:/, 'nothing but the capture on stdout, no file named');
    fs.writeFileSync(piped, Buffer.concat(chunks));
    assert.equal(packets(piped).length, 10);
    if (HAVE_TSHARK) assert.equal(tshark(piped, ['frame.interface_name']).length, 10);
  });

  test('-w - into a reader that stops early (| tcpdump -c 5) ends dumpcap quietly, status 0', { skip: !HAVE_TCPDUMP && 'tcpdump is not installed' }, async () => {
    const errFile = path.join(tmp, 'pipe.err');
    const sh = spawn('bash', ['-c', `"${process.execPath}" "${MPDK}" dumpcap --file-prefix ${prefix} -q -i 0 -Q in -w - -a duration:20 2>${errFile} | tcpdump -nr - -c 5 2>/dev/null | wc -l; echo "status \${PIPESTATUS[0]} \${PIPESTATUS[1]}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    raw.add(sh);
    let out = '';
    sh.stdout!.setEncoding('utf8').on('data', (x: string) => (out += x));
    const done = new Promise<number>((r) => sh.on('exit', (code) => r(code ?? -1)));
    const err = (): string => (fs.existsSync(errFile) ? fs.readFileSync(errFile, 'utf8') : '');
    await waitFor(err, /Capturing on/, 10000);
    await send(app, 50, 90); // tcpdump takes 5 and leaves
    // dumpcap's next write after tcpdump left: EPIPE, and it leaves. Sent again until dumpcap
    // says it stopped (bounded): tcpdump may take longer than a fixed wait to start or to leave.
    for (const end = Date.now() + 10000; !/dumpcap: stopped/.test(err()) && Date.now() < end;) {
      await send(app, 50, 90);
      await sleep(100);
    }
    assert.equal(await done, 0);
    raw.delete(sh);
    assert.equal(out, '5\nstatus 0 0\n', err());
    assert.match(err(), /stopped \(the reader closed the pipe\)/);
  });

  test('-b writes a ring buffer of complete files: a new one at filesize or packets, files:N keeps the last N', async () => {
    const base = path.join(tmp, 'ring.pcapng');
    const d = dumpcap(prefix, '-i', '0', '-Q', 'in', '-w', base, '-b', 'packets:30', '-b', 'files:3', '-c', '100');
    await d.waitFor(/Capturing on/, 10000);
    await send(app, 100, 120);
    assert.equal(await d.exited, 0, d.err);
    assert.match(d.err, /100 packets written to 4 files/);
    const files = fs.readdirSync(tmp).filter((f) => /^ring_\d{5}_\d{14}\.pcapng$/.test(f)).sort();
    assert.deepEqual(files.map((f) => f.slice(0, 10)), ['ring_00002', 'ring_00003', 'ring_00004'], 'the first file was removed (files:3)');
    assert.deepEqual(files.map((f) => packets(path.join(tmp, f)).length), [30, 30, 10]);
    for (const f of files) {
      const r = PcapngReader.open(path.join(tmp, f), { iface: 'all' });
      while (r.next(new PcapRecord()));
      assert.equal(r.stats.get(0)?.ifDrop, 0, `${f} ends with its statistics block`);
      if (HAVE_CAPINFOS) capinfos(path.join(tmp, f));
      if (HAVE_TSHARK) tshark(path.join(tmp, f), ['frame.interface_name']);
    }

    const sized = path.join(tmp, 'size.pcap');
    const s = dumpcap(prefix, '-i', '0', '-Q', 'in', '-P', '-w', sized, '-b', 'filesize:10', '-c', '60');
    await s.waitFor(/Capturing on/, 10000);
    await send(app, 60, 1000);
    assert.equal(await s.exited, 0, s.err);
    const parts = fs.readdirSync(tmp).filter((f) => /^size_\d{5}_\d{14}\.pcap$/.test(f)).sort();
    const counts = parts.map((f) => packets(path.join(tmp, f)).length);
    assert.equal(counts.reduce((a, b) => a + b, 0), 60);
    // 10 KB: a file takes packets while it is smaller than 10240 bytes (24 + 10 × 1016 = 10184).
    assert.deepEqual(counts, [11, 11, 11, 11, 11, 5]);
    for (const f of parts) assert.ok(fs.statSync(path.join(tmp, f)).size < 10240 + 1016);
    if (HAVE_TCPDUMP) for (const f of parts) tcpdump(path.join(tmp, f));
  });

  test('one dumpcap per queue; a killed one is taken over; refusals are one line', async () => {
    const a = dumpcap(prefix, '-i', '0', '-w', path.join(tmp, 'a.pcapng'));
    await a.waitFor(/Capturing on/, 10000);
    const b = await run('mpdk', ['dumpcap', '--file-prefix', prefix, '-i', '0', '-w', path.join(tmp, 'b.pcapng')], 15000);
    assert.equal(b.code, 1);
    assert.match(b.err, new RegExp(`^dumpcap: RX queue 0 of port 0 is already being captured by pid ${a.proc.pid}; stop that dumpcap first\\n$`));
    a.proc.kill('SIGKILL');
    await a.exited;
    await send(app, 20, 64); // the app is not bothered by a dead capturer
    const c = dumpcap(prefix, '-i', '0', '-Q', 'in', '-w', path.join(tmp, 'c.pcapng'), '-c', '5', '-s', '40');
    await c.waitFor(/Capturing on/, 10000);
    await send(app, 8, 64, path.join(tmp, 'sent3.pcap'));
    assert.equal(await c.exited, 0, c.err);
    const snapped = packets(path.join(tmp, 'c.pcapng'));
    const sent = sentBytes(path.join(tmp, 'sent3.pcap')).slice(0, 5);
    assert.deepEqual(snapped.map((p) => [p.len, p.bytes]), sent.map((p) => [64, p.slice(0, 80)]), 'the first 5, cut to 40 bytes, wire length kept');
    const port = await run('mpdk', ['dumpcap', '--file-prefix', prefix, '-i', '3', '-w', path.join(tmp, 'x.pcapng')], 15000);
    assert.equal(port.code, 1);
    assert.match(port.err, /^dumpcap: no port 3: .*\n$/);
    const none = await run('mpdk', ['dumpcap', '--file-prefix', uniquePrefix('gone'), '-i', '0', '-w', path.join(tmp, 'x.pcapng')], 15000);
    assert.equal(none.code, 1);
    assert.match(none.err, /^dumpcap: no instance with --file-prefix=\S+ .*\n$/);
    for (const [args, re] of [
      [['-a', 'duration'], /^dumpcap: invalid -a 'duration': missing colon; use duration:N, filesize:N, packets:N, files:N\n$/],
      [['-a', 'size:3'], /^dumpcap: invalid -a 'size:3': unknown condition 'size'/],
      [['-b', 'files:3', '-w', 'x.pcapng'], /^dumpcap: -b files:N needs a condition to start a new file/],
      [['-b', 'packets:3'], /^dumpcap: -b writes several files: give their name with -w FILE/],
      [['-Q', 'both'], /^dumpcap: invalid -Q 'both': use in, out or inout\n$/],
      [['-B', '3'], /^dumpcap: invalid -B 3: a power of two/],
      [['-s', '300000'], /^dumpcap: invalid -s 300000: at most 262144\n$/],
      ...(HAVE_LIBPCAP ? [[['-f', 'udp and'], /^dumpcap: invalid capture filter 'udp and': can't parse filter expression: syntax error\n$/]] : []),
    ] as [string[], RegExp][]) {
      const u = await run('mpdk', ['dumpcap', '--file-prefix', uniquePrefix('none'), ...args], 15000);
      assert.equal(u.code, 2, `${args.join(' ')}: ${u.err}`);
      assert.match(u.err, re);
    }
  });

  test('-D lists the ports, -d prints the filter program, -v the version', async () => {
    const list = await run('mpdk', ['dumpcap', '--file-prefix', prefix, '-D'], 15000);
    assert.equal(list.code, 0, list.err);
    assert.equal(list.out, '0. net_ring0\n');
    if (HAVE_LIBPCAP) {
      const d = await run('mpdk', ['dumpcap', '-d', '-f', 'udp port 53'], 15000); // no instance needed
      assert.equal(d.code, 0, d.err);
      if (HAVE_TCPDUMP) {
        const t = spawnSync('tcpdump', ['-d', 'udp port 53'], { encoding: 'utf8' }); // -d without a device compiles for Ethernet
        if (t.status === 0) assert.equal(d.out, `cBPF program (${t.stdout.trim().split('\n').length} insns)\n${t.stdout}`);
      }
      assert.match(d.out, /^cBPF program \(\d+ insns\)\n\(000\) ldh +\[12\]\n/);
    }
    const v = await run('mpdk', ['dumpcap', '-v'], 15000);
    assert.match(v.out, /^dumpcap 1\.0 \(mpdk \d+\.\d+\.\d+\)\n$/);
  });

  test('on a terminal the packet count is one line updated in place', async () => {
    const cap = path.join(tmp, 'tty.pcapng');
    const cmd = `"${process.execPath}" "${MPDK}" dumpcap --file-prefix ${prefix} -i 0 -Q in -w ${cap} -c 300`;
    const s = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    raw.add(s);
    let out = '';
    s.stdout.setEncoding('utf8').on('data', (x: string) => (out += x));
    const exited = new Promise<number>((r) => s.on('exit', (code) => r(code ?? -1)));
    const until = Date.now() + 10000;
    while (!/Capturing on/.test(out) && Date.now() < until) await sleep(20);
    for (let i = 0; i < 3; i++) {
      await send(app, 100, 64);
      await sleep(150);
    }
    assert.equal(await exited, 0, out);
    raw.delete(s);
    const counts = out.split('\n').filter((l) => l.includes('Packets captured'));
    assert.equal(counts.length, 1, `one line: ${JSON.stringify(out)}`);
    assert.match(counts[0]!, /^Packets captured: 0(\rPackets captured: \d+)+\r?$/, 'updated with carriage returns');
    assert.match(counts[0]!, /\rPackets captured: 300\r?$/);
  });

  test('the instance leaves nothing behind', async () => {
    app.send('quit');
    assert.equal(await app.exited, 0, app.err);
    assert.deepEqual(leftovers(prefix), []);
  });
});
