/**
 * The programs of examples/, run as a user runs them (`node dist/examples/X.js`, real
 * processes, the package imported by its name), each checked by what it prints and by
 * what it leaves behind (nothing). The real-interface variants run on veth pairs in a
 * network namespace this file creates and removes: root and `ip` needed, tcpdump for the
 * replay's capture; skipped with the reason otherwise.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PcapReader, PcapRecord, PcapWriter, parseMac } from '../src/index.js';
import { exitStatus, leftovers, removeInstance, ROOT, uniquePrefix } from './helpers.js';

const EXAMPLES = path.join(ROOT, 'dist/examples');
const NS = `mpdkex${process.pid}`;

function has(cmd: string, arg: string): boolean {
  try {
    execFileSync(cmd, [arg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const netSkip = process.getuid?.() !== 0 ? 'needs root (network namespace, veth, AF_PACKET)' : !has('ip', '-V') ? 'the `ip` command (iproute2) is missing' : false;
const tcpdumpSkip = netSkip || (!has('tcpdump', '--version') ? 'tcpdump is missing (it captures what the replay sends)' : false);
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-examples-'));

interface Run {
  proc: ChildProcess;
  out: string;
  exited: Promise<number>;
  waitFor(re: RegExp, ms: number): Promise<void>;
}
const running = new Set<ChildProcess>();

/** Start a program (`node FILE args`, or `ip netns exec NS ...` with `ns`), its output gathered. */
function start(cmd: string[], ns = false): Run {
  const argv = ns ? ['ip', 'netns', 'exec', NS, ...cmd] : cmd;
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const r: Run = {
    proc, out: '',
    exited: exitStatus(proc, () => running.delete(proc)),
    waitFor: async (re, ms) => {
      const end = Date.now() + ms;
      while (!re.test(r.out)) {
        if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${re}; output:\n${r.out}`);
        await new Promise((w) => setTimeout(w, 10));
      }
    },
  };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (r.out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (r.out += d));
  return r;
}

/** Run an example to its end (bounded); returns its status and output, and checks it left no instance. */
async function example(name: string, args: string[] = [], prefixOf?: (pid: number) => string, ns = false): Promise<{ code: number; out: string }> {
  const r = start([process.execPath, path.join(EXAMPLES, `${name}.js`), ...args], ns);
  const kill = setTimeout(() => r.proc.kill('SIGKILL'), 40000); // a safety net: each takes a few seconds
  const code = await r.exited;
  clearTimeout(kill);
  if (prefixOf) {
    const prefix = prefixOf(r.proc.pid!);
    assert.deepEqual(leftovers(prefix), [], `${name} left files of instance ${prefix}`);
    removeInstance(prefix);
  }
  return { code, out: r.out };
}

after(async () => {
  await Promise.all([...running].map((p) => new Promise<void>((r) => {
    if (p.exitCode !== null || p.signalCode !== null) return r();
    p.once('exit', () => r());
    p.kill('SIGKILL');
  })));
  fs.rmSync(scratch, { recursive: true, force: true });
  if (!netSkip) {
    try {
      ip('netns', 'del', NS);
    } catch {
      /* not made, or gone */
    }
    assert.ok(!ip('netns', 'list').includes(NS), 'the namespace is removed');
  }
});

test('the examples import the package by its name (and Node\'s modules), nothing relative', () => {
  const names = fs.readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.ts'));
  assert.ok(names.length >= 5, names.join(' '));
  for (const f of names) {
    const specs = [...fs.readFileSync(path.join(ROOT, 'examples', f), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]!);
    assert.ok(specs.includes('mpdk'), `${f} imports 'mpdk'`);
    assert.deepEqual(specs.filter((s) => s !== 'mpdk' && !s.startsWith('node:')), [], f);
  }
});

test('messages: two processes exchange messages through two channels', async () => {
  const { code, out } = await example('messages', [], (pid) => `messages-${pid}`);
  assert.equal(code, 0, out);
  for (const w of ['hello', 'from', 'the', 'primary']) assert.match(out, new RegExp(`primary: sent '${w}', got '${w.toUpperCase()}' back`));
  assert.match(out, /secondary: done\n/);
  assert.match(out, /primary: the secondary exited with status 0\n/);
});

test('job-queue: 3 worker processes serve 300 jobs, each done once and right', async () => {
  const { code, out } = await example('job-queue', ['3', '300'], (pid) => `jobs-${pid}`);
  assert.equal(code, 0, out);
  const m = /main: 300 of 300 jobs done, 0 wrong; per worker: (\d+), (\d+), (\d+)\n/.exec(out);
  assert.ok(m, out);
  assert.equal(Number(m[1]) + Number(m[2]) + Number(m[3]), 300, 'no job done twice');
  assert.match(out, /main: workers exited with 0, 0, 0\n/);
});

test('crash-safe-consumer: a consumer killed with SIGKILL and restarted loses no job and leaks no buffer', async () => {
  const { code, out } = await example('crash-safe-consumer', ['100'], (pid) => `crash-${pid}`);
  assert.equal(code, 0, out);
  assert.match(out, /producer: consumer \d+ killed after \d+ jobs were reported; reclaimDead gave back \d+ job buffer\(s\) it held/);
  assert.match(out, /producer: \d+ jobs not done queued again; starting a new consumer\n/);
  assert.match(out, /producer: all 100 jobs done; the consumer exited with 0; audit: every buffer accounted for\n/);
});

test('forwarder: over two net_ring ports, 1000 frames each way come out of the other port unchanged and in order', async () => {
  const { code, out } = await example('forwarder', [], (pid) => `fwd-${pid}`);
  assert.equal(code, 0, out);
  assert.match(out, /traffic: 1000 frames into port 0, 1000 out of port 1, 0 changed or out of order\n/);
  assert.match(out, /traffic: 1000 frames into port 1, 1000 out of port 0, 0 changed or out of order\n/);
  assert.match(out, /forwarder: port 0 -> 1: 1000 sent, 0 dropped; port 1 -> 0: 1000 sent, 0 dropped\n/);
});

/** The namespace, and veth pairs in it (each end up), made once for the tests that need them. */
let nsMade = false;
function veths(...pairs: [string, string][]): void {
  if (!nsMade) {
    ip('netns', 'add', NS);
    execFileSync('ip', ['netns', 'exec', NS, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6']);
    nsMade = true;
  }
  for (const [a, b] of pairs) {
    ip('-n', NS, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    ip('-n', NS, 'link', 'set', a, 'up');
    ip('-n', NS, 'link', 'set', b, 'up');
  }
}

before(() => {
  if (!netSkip) veths(['fa0', 'fa1'], ['fb0', 'fb1'], ['ra', 'rb']);
});

test('forwarder: between two real interfaces (veth), frames cross it both ways byte for byte, and SIGTERM stops it', { skip: netSkip }, async () => {
  const fwd = start([process.execPath, path.join(EXAMPLES, 'forwarder.js'), '--vdev', 'net_af_packet0,iface=fa1', '--vdev', 'net_af_packet1,iface=fb1'], true);
  const prefix = uniquePrefix('exfwd');
  try {
    await fwd.waitFor(/Ctrl-C stops/, 15000);
    // The far ends: a test program sends 300 frames into fa0 (they come out of fb0 through the forwarder), then 300 back.
    const peer = start([process.execPath, path.join(ROOT, 'dist/test/af_packet-child.js'), '-l', '5', '-m', '64', '--file-prefix', prefix, '--log-level', 'error',
      '--vdev', 'net_af_packet0,iface=fa0', '--vdev', 'net_af_packet1,iface=fb0', '--', 'pair:300'], true);
    assert.equal(await peer.exited, 0, peer.out);
    const r = JSON.parse(peer.out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.deepEqual([r.sentAB, r.ab, r.sentBA, r.ba, r.identical], [300, 300, 300, 300, true], peer.out);
    fwd.proc.kill('SIGTERM'); // ip netns exec execs node: the signal reaches the forwarder itself
    assert.equal(await fwd.exited, 0, fwd.out);
    const m = /forwarder: port 0 -> 1: (\d+) sent, 0 dropped; port 1 -> 0: (\d+) sent, 0 dropped\n/.exec(fwd.out);
    assert.ok(m && Number(m[1]) >= 300 && Number(m[2]) >= 300, fwd.out);
    assert.deepEqual(leftovers(`fwd-${fwd.proc.pid}`), []);
  } finally {
    removeInstance(prefix);
    removeInstance(`fwd-${fwd.proc.pid}`);
  }
});

test('pcap-replay: a capture file replayed onto a veth arrives on its peer byte for byte (tcpdump captures it)', { skip: tcpdumpSkip }, async () => {
  // 200 frames of 60 to 1514 bytes from one MAC address, so that the capture can keep to them.
  const input = path.join(scratch, 'in.pcap');
  const frames: Buffer[] = [];
  const w = PcapWriter.open(input);
  for (let i = 0; i < 200; i++) {
    const f = Buffer.alloc(60 + ((i * 97) % 1455), i & 0xff);
    f.set(parseMac('02:00:00:00:00:02'), 0);
    f.set(parseMac('02:00:00:00:00:01'), 6);
    f.writeUInt16BE(0x88b5, 12);
    f.writeUInt32BE(i, 14);
    frames.push(f);
    w.write(f, 0, f.length, f.length, 1_700_000_000, i * 1000);
  }
  w.close();
  const captured = path.join(scratch, 'out.pcap');
  const dump = start(['tcpdump', '-i', 'rb', '-nn', '-U', '-c', '200', '-w', captured, 'ether src 02:00:00:00:00:01'], true);
  try {
    await dump.waitFor(/listening on rb/, 15000);
    const { code, out } = await example('pcap-replay', [input, 'ra'], (pid) => `replay-${pid}`, true);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`replayed 200 packets \\(${frames.reduce((s, f) => s + f.length, 0)} bytes\\) from ${input} onto ra\\n`));
    let late: NodeJS.Timeout | undefined;
    const dumped = await Promise.race([dump.exited, new Promise((r) => (late = setTimeout(() => r('tcpdump still waiting'), 10000)))]);
    clearTimeout(late); // a pending bound would hold the file open after its last test
    assert.equal(dumped, 0, dump.out);
    const got: Buffer[] = [];
    const reader = PcapReader.open(captured);
    for (const rec = new PcapRecord(); reader.next(rec);) got.push(Buffer.from(reader.buf.subarray(rec.offset, rec.offset + rec.caplen)));
    reader.close();
    assert.equal(got.length, 200);
    for (let i = 0; i < 200; i++) assert.ok(got[i]!.equals(frames[i]!), `frame ${i} arrived as it was in the file`);
  } finally {
    dump.proc.kill('SIGKILL');
  }
});
