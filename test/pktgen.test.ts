/**
 * mpdk pktgen: its traffic, counting and latency parts in-process, then the program with
 * real processes: a forwarder (pktgen-fwd.ts, the primary of two net_ring ports) and
 * pktgen as a secondary playing the wire.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { PcapReader, PcapRecord, PayloadInfo, PacketInfo, parseFrame, readPayload, portMac, formatMac, formatIpv4 } from '../src/index.js';
import { LatencyHistogram, RxCounter } from '../src/apps/pktgen/counter.js';
import { TrafficPlan, parseRate, parseSizeMix, parseDuration, generatorMac } from '../src/apps/pktgen/traffic.js';
import { FrameSeal } from '../src/apps/pktgen/seal.js';
import { ETH, IPV4, UDP, ipv4ChecksumOk, udpChecksumOk4 } from '../src/index.js';
import { get16 } from '../src/net/packet.js';
import { each } from './each.js';
import { exitedWithin, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

after(reapAll);

const EAL = (p: string, lcore: number, type = 'secondary'): string[] => ['-l', String(lcore), `--proc-type=${type}`, '--file-prefix', p, '--log-level', 'error'];

interface Result {
  sent: number;
  received: number | null;
  lost: number | null;
  mpps: number;
  gbps: number;
  seconds: number;
  latency: { p50Us: number; p99Us: number } | null;
  reordered: number;
  duplicates: number;
  foreign: number;
  corrupt: number;
  tx: { port: number; packets: number }[];
  rx: { port: number; packets: number }[];
  perFlow?: { flow: number; sent: number; received: number }[];
}

async function pktgen(p: string, args: string[], ms = 20000, lcore = 1): Promise<Result> {
  const r = await run('mpdk', ['pktgen', ...EAL(p, lcore), '--', ...args, '--json', '--quiet'], ms);
  assert.equal(r.code, 0, `pktgen failed (${r.code}): ${r.err}`);
  const lines = r.out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Result;
}

async function forwarder(p: string, own: string[] = []): Promise<Child> {
  const c = spawnNode('dist/test/pktgen-fwd.js', ['-l', '0', '--file-prefix', p, '--vdev=net_ring0', '--vdev=net_ring1', '--log-level', 'error', '--', ...own]);
  await c.waitFor(/ready/, 10000);
  return c;
}

/** The state letter of process `pid` (/proc/PID/stat: R, S, T for stopped...). */
function stateOf(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

async function stopForwarder(c: Child, p: string): Promise<void> {
  c.proc.stdin!.end();
  const code = await exitedWithin(c, 5000);
  assert.equal(code, 0, `forwarder did not exit cleanly: ${c.err}`);
  await until(() => leftovers(p).length === 0, 5000, `no files of ${p}`);
}

describe('pktgen traffic and counting (in-process)', () => {
  test('a size mix interleaves sizes by weight', () => {
    const s = parseSizeMix('64:7,576:4,1500:1', 'u');
    assert.equal(s.length, 12);
    assert.equal(s.filter((x) => x === 64).length, 7);
    assert.equal(s.filter((x) => x === 576).length, 4);
    assert.equal(s.filter((x) => x === 1500).length, 1);
    assert.notDeepEqual(s.slice(0, 7), [64, 64, 64, 64, 64, 64, 64]);
  });

  test('rates and durations take suffixes; nonsense is a usage error', () => {
    assert.equal(parseRate('1.5M', 'u'), 1.5e6);
    assert.equal(parseRate('250k', 'u'), 250000);
    assert.equal(parseRate('1000', 'u'), 1000);
    assert.equal(parseDuration('500ms', 'u'), 0.5);
    assert.equal(parseDuration('2.5', 'u'), 2.5);
    for (const bad of ['0', 'abc', '-5', '1x']) assert.throws(() => parseRate(bad, 'u'), /invalid --rate/);
    assert.throws(() => parseSizeMix('64:7,10:1', 'u'), /62 to 1514/);
  });

  test('frames carry magic, per-flow sequence, global flow id and TX time; flow f goes to TX port f mod n', () => {
    const u8 = new Uint8Array(4096);
    const plan = new TrafficPlan(u8, { txPorts: [0, 1], flows: 5, sizes: [64, 128] });
    const info = new PayloadInfo();
    const pi = new PacketInfo();
    const seen: { k: number; flow: number; seq: number; len: number; src: string; dst: string }[] = [];
    for (let i = 0; i < 12; i++) {
      const k = i % 2;
      const len = plan.build(k, 100, 1234.5 + i);
      assert.ok(readPayload(u8, 100, len, info));
      assert.ok(parseFrame(u8, 100, len, pi));
      assert.equal(info.txTime, 1234.5 + i);
      seen.push({ k, flow: info.flow, seq: info.seq, len, src: formatIpv4(pi.srcIp), dst: formatMac(u8, 100) });
    }
    for (const s of seen) {
      assert.equal(s.flow % 2, s.k, 'flow on its port');
      assert.equal(s.src, `10.0.0.${1 + s.flow}`);
      assert.equal(s.dst, formatMac(portMac(s.k)));
    }
    assert.equal(formatMac(u8, 106), formatMac(generatorMac(1)));
    // Sequences count up per flow from 0.
    for (let f = 0; f < 5; f++) {
      const seqs = seen.filter((s) => s.flow === f).map((s) => s.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => i));
    }
    assert.deepEqual([...new Set(seen.map((s) => s.len))].sort((a, b) => a - b), [64, 128]);
  });

  test('a sealed frame carries a valid UDP checksum; any flipped byte past the MACs, or a wrong length, breaks the seal', () => {
    const u8 = new Uint8Array(4096);
    const seal = new FrameSeal(u8);
    for (const [size, off] of [62, 64, 65, 128, 1514].flatMap((z) => [[z, 100], [z, 101]] as const)) {
      // Even offsets take the Uint16Array path, odd ones the byte path: the mbuf data offset need not be aligned.
      const plan = new TrafficPlan(u8, { txPorts: [0], flows: 3, sizes: [size] });
      const len = plan.build(0, off, 4321.5);
      const built = u8.slice(off, off + len);
      seal.seal(off);
      assert.deepEqual(u8.slice(off, off + len), built, 'TrafficPlan.build seals as it builds: seal() changes nothing');
      const ip = off + ETH.HLEN;
      const udp = ip + IPV4.HLEN;
      assert.notEqual(get16(u8, udp + UDP.CSUM), 0, 'a checksum is filled in');
      assert.ok(udpChecksumOk4(u8, ip, udp) && ipv4ChecksumOk(u8, ip), `the library's checksums agree (size ${size}, offset ${off})`);
      assert.ok(seal.intact(off, len));
      assert.equal(seal.intact(off, len - 1), false, 'a frame shorter than its IPv4 length');
      u8[off] ^= 1; // destination MAC: l2fwd rewrites it, not covered
      assert.ok(seal.intact(off, len));
      for (let i = ETH.HLEN; i < len; i++) {
        u8[off + i] ^= 0x10;
        assert.equal(seal.intact(off, len), false, `byte ${i} of ${size} at offset ${off} flipped`);
        u8[off + i] ^= 0x10;
      }
      assert.ok(seal.intact(off, len));
    }
  });

  test('the sequence window tells in-order, reordered and duplicate frames apart', () => {
    const c = new RxCounter(2);
    for (const s of [0, 1, 2, 5, 3, 4, 4, 100, 6, 100]) c.record(0, s, 1, 64);
    assert.equal(c.received, 10);
    assert.equal(c.reordered, 3); // 3, 4 (late within the window), 6 (behind 100 by 94)
    assert.equal(c.duplicates, 2); // the second 4, the second 100
    c.record(1, 7, 1, 64);
    c.record(1, 7 + 40, 1, 64);
    c.record(1, 7, 1, 64); // 40 behind: still in the 64-frame window
    assert.equal(c.duplicates, 3);
  });

  test('latency quantiles are within 3 % of the true ones', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10000; i++) h.add(i / 10); // 0.1 .. 1000 µs
    assert.ok(Math.abs(h.quantile(0.5) - 500) / 500 < 0.03, `p50 ${h.quantile(0.5)}`);
    assert.ok(Math.abs(h.quantile(0.99) - 990) / 990 < 0.03, `p99 ${h.quantile(0.99)}`);
    assert.equal(h.minUs, 0.1);
    assert.equal(h.maxUs, 1000);
  });
});

describe('mpdk pktgen (real processes)', () => {
  test('--help prints the options and exits 0', async () => {
    const r = await run('mpdk', ['pktgen', '--', '--help']);
    assert.equal(r.code, 0);
    for (const o of ['--tx-port', '--rx-port', '--flows', '--size-mix', '--rate', '--count', '--duration', '--pcap', '--json', '--queue']) assert.match(r.out, new RegExp(o));
    assert.match(r.out, /20 bytes of preamble/);
  });

  test('bad options exit 2 with one line and touch nothing', async () => {
    const p = uniquePrefix('pgbad');
    await each([
      ['--tx-port', '0', '--bogus'],
      ['--tx-port', '0', '--size', '10'],
      ['--tx-port', '0', '--rate', 'fast'],
      ['--rx-port', '1'],
      ['--tx-port', '0', '--count', '5', '--duration', '1'],
      ['--tx-port', 'x'],
      ['--tx-port', '0,1', '--flows', '1'],
      ['--pcap', '/tmp/x.pcap'],
      ['--tx-port', '0', '--window', '8'],
    ], 3, async (args) => {
      const r = await run('mpdk', ['pktgen', ...EAL(p, 1), '--', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^pktgen: /);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    });
    assert.deepEqual(leftovers(p), []);
  });

  test('with no instance it exits 1 with one line and leaves no files', async () => {
    const p = uniquePrefix('pgnone');
    for (const type of ['secondary', 'auto']) {
      const r = await run('mpdk', ['pktgen', ...EAL(p, 1, type), '--', '--tx-port', '0', '--rx-port', '1', '--count', '10']);
      assert.equal(r.code, 1, r.err);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, /no (primary|instance)/);
    }
    assert.deepEqual(leftovers(p), []);
  });

  test('through a forwarder: every packet of every flow comes back, in order, with latency', async () => {
    const p = uniquePrefix('pgfwd');
    const fwd = await forwarder(p, ['2']); // 2 queues per port: RSS spreads the flows
    try {
      const r = await pktgen(p, ['--tx-port', '0', '--rx-port', '1', '--flows', '16', '--count', '5000', '--per-flow']);
      assert.equal(r.sent, 5000);
      assert.equal(r.received, 5000);
      assert.equal(r.lost, 0);
      assert.equal(r.reordered, 0);
      assert.equal(r.duplicates, 0);
      assert.ok(r.latency && r.latency.p50Us > 0 && r.latency.p99Us >= r.latency.p50Us, JSON.stringify(r.latency));
      assert.ok(r.mpps > 0 && r.gbps > 0);
      assert.equal(r.perFlow!.length, 16);
      // Flows take turns (5000 / 16 = 312.5 each) while every RX queue takes frames; while
      // one is full only its flows are held back (pktgen/hold.ts: no head-of-line blocking)
      // and the others go on, so the split is even only without back-pressure.
      let sum = 0;
      for (const f of r.perFlow!) {
        assert.equal(f.sent, f.received);
        assert.ok(f.sent > 0, `flow ${f.flow}: ${f.sent}`);
        sum += f.sent;
      }
      assert.equal(sum, 5000);

      // Both directions at once from one pktgen; a second run ignores nothing of its own.
      const b = await pktgen(p, ['--tx-port', '0,1', '--rx-port', '0-1', '--flows', '8', '--count', '2000', '--size-mix', '64:3,1500:1']);
      assert.equal(b.sent, 2000);
      assert.equal(b.lost, 0);
      // What went into port 0 came back out of port 1 and the other way round.
      assert.equal(b.tx[0]!.packets + b.tx[1]!.packets, 2000);
      assert.ok(b.tx[0]!.packets > 0 && b.tx[1]!.packets > 0);
      assert.equal(b.rx[1]!.packets, b.tx[0]!.packets);
      assert.equal(b.rx[0]!.packets, b.tx[1]!.packets);
      assert.equal(b.foreign, 0);

      // --rate: 300 packets at 1000 pps take about 0.3 s (generous bounds only).
      const t = await pktgen(p, ['--tx-port', '0', '--rx-port', '1', '--flows', '4', '--count', '300', '--rate', '1k']);
      assert.equal(t.received, 300);
      assert.ok(t.seconds >= 0.2 && t.seconds < 10, `took ${t.seconds} s`);

      // --duration with a rate sends roughly rate × duration.
      const d = await pktgen(p, ['--tx-port', '0', '--rx-port', '1', '--duration', '500ms', '--rate', '2k']);
      assert.ok(d.sent >= 300 && d.sent <= 1100, `sent ${d.sent}`);
      assert.equal(d.lost, 0);
    } finally {
      await stopForwarder(fwd, p);
    }
  });

  test('--window N: with the forwarder stopped pktgen keeps N in flight and waits; resumed, every packet comes back', async () => {
    const p = uniquePrefix('pgwin');
    const fwd = await forwarder(p);
    try {
      const g = spawnNode('mpdk', ['pktgen', ...EAL(p, 1), '--', '--tx-port', '0', '--rx-port', '1', '--count', '20000', '--rate', '10k', '--window', '40',
        '--drain', '60000', '--json', '--progress', '50']);
      await g.waitFor(/"received":[1-9]/, 10000);
      fwd.proc.kill('SIGSTOP'); // nothing comes back now; the RX ring (1024) would take far more than the window
      await until(() => stateOf(fwd.proc.pid!) === 'T', 5000, 'the forwarder stopped');
      const progress = (): { sent: number; received: number }[] => g.err.split('\n').slice(0, -1).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { sent: number; received: number });
      const last = (): { sent: number; received: number } => progress().at(-1)!;
      // From the second progress line after the stop on, what comes back is all there is
      // (pktgen read its RX ring after the stop); waited for, not assumed after a fixed time (a
      // pktgen descheduled then had not taken what was on its way back yet, nor filled the window).
      const n0 = progress().length;
      const a = await until(() => progress().slice(n0 + 1).find((x) => x.sent - x.received === 40), 10000, `the window of 40 filled after the stop: ${g.err.slice(-400)}`);
      await sleep(500);
      const b = last();
      assert.equal(b.sent, a.sent, `nothing more sent while nothing comes back: ${JSON.stringify([a, b])}`);
      assert.ok(b.sent - b.received <= 40, `at most the window in flight: ${JSON.stringify(b)}`);
      fwd.proc.kill('SIGCONT');
      assert.equal(await g.exited, 0, g.err);
      const r = JSON.parse(g.out.trim().split('\n').pop()!) as Result;
      assert.equal(r.sent, 20000);
      assert.equal(r.received, 20000);
      assert.equal(r.lost, 0);
    } finally {
      fwd.proc.kill('SIGCONT');
      await stopForwarder(fwd, p);
    }
  });

  test('frames a full queue refused are counted once and said in the summary; resent, none is lost', async () => {
    const p = uniquePrefix('pgfull');
    const fwd = await forwarder(p);
    try {
      const g = spawnNode('mpdk', ['pktgen', ...EAL(p, 1), '--', '--tx-port', '0', '--rx-port', '1', '--count', '12000', '--rate', '20k', '--drain', '30000', '--progress', '50']);
      await g.waitFor(/rx [1-9]/, 10000);
      fwd.proc.kill('SIGSTOP'); // its RX queue (1024 descriptors) fills within 0.1 s at 20 kpps
      await sleep(400);
      fwd.proc.kill('SIGCONT');
      assert.equal(await g.exited, 0, g.err);
      const refused = /^ {2}refused +(\d+) frames by full queues, each resent until taken$/m.exec(g.out);
      assert.ok(refused, `the summary says what full queues refused: ${g.out}`);
      assert.ok(Number(refused[1]) > 0 && Number(refused[1]) < 12000, `counted once each: ${refused[1]}`);
      assert.match(g.out, /^ {2}received +12000 /m);
      assert.match(g.out, /^ {2}lost +0 /m);
    } finally {
      fwd.proc.kill('SIGCONT');
      await stopForwarder(fwd, p);
    }
  });

  test('two generators play opposite directions of the same two ports at once', async () => {
    const p = uniquePrefix('pg2dir');
    const fwd = await forwarder(p);
    try {
      const [a, b] = await Promise.all([
        pktgen(p, ['--tx-port', '0', '--rx-port', '1', '--flows', '8', '--count', '3000', '--rate', '100k'], 20000, 1),
        pktgen(p, ['--tx-port', '1', '--rx-port', '0', '--flows', '8', '--count', '3000', '--rate', '100k'], 20000, 2),
      ]);
      for (const r of [a, b]) {
        assert.equal(r.sent, 3000);
        assert.equal(r.received, 3000);
        assert.equal(r.lost, 0);
        assert.equal(r.foreign, 0, 'each generator sees only its own frames');
      }
    } finally {
      await stopForwarder(fwd, p);
    }
  });

  test('loss by the application is reported as lost, exit status still 0', async () => {
    const p = uniquePrefix('pgdrop');
    const fwd = await forwarder(p, ['1', 'drop']);
    try {
      const r = await pktgen(p, ['--tx-port', '0', '--rx-port', '1', '--flows', '4', '--count', '1000', '--drain', '1500']);
      assert.equal(r.sent, 1000);
      assert.equal(r.lost, 100);
      assert.equal(r.received, 900);
      assert.equal(r.duplicates, 0);
    } finally {
      await stopForwarder(fwd, p);
    }
  });

  test('a frame damaged on the way is counted corrupt, not received; the others are intact', async () => {
    const p = uniquePrefix('pgbad');
    const fwd = await forwarder(p, ['1', 'corrupt']);
    try {
      const r = await pktgen(p, ['--tx-port', '0', '--rx-port', '1', '--flows', '4', '--count', '1000', '--size-mix', '64:1,300:1', '--drain', '1500']);
      assert.equal(r.sent, 1000);
      assert.equal(r.corrupt, 100);
      assert.equal(r.received, 900);
      assert.equal(r.duplicates, 0);
    } finally {
      await stopForwarder(fwd, p);
    }
  });

  test('--progress with --json prints one JSON progress object per interval on stderr', async () => {
    const p = uniquePrefix('pgprog');
    const fwd = await forwarder(p);
    try {
      const r = await run('mpdk', ['pktgen', ...EAL(p, 1), '--', '--tx-port', '0', '--rx-port', '1', '--duration', '600ms', '--rate', '5k', '--progress', '50', '--json'], 20000);
      assert.equal(r.code, 0, r.err);
      const lines = r.err.trim().split('\n').map((l) => JSON.parse(l) as { t: number; sent: number; received: number; corrupt: number });
      assert.ok(lines.length >= 5, `${lines.length} progress lines`);
      for (let i = 1; i < lines.length; i++) assert.ok(lines[i]!.received >= lines[i - 1]!.received && lines[i]!.t > lines[i - 1]!.t);
      assert.ok(lines.at(-1)!.received > 0 && lines.every((l) => l.corrupt === 0));
    } finally {
      await stopForwarder(fwd, p);
    }
  });

  test('a pktgen killed with frames in hand: the audit finds them held by the dead process, the next pktgen returns them', async () => {
    const p = uniquePrefix('pgkill');
    const fwd = await forwarder(p, ['1', 'still']); // RX queues fill up: pktgen keeps its last burst
    try {
      const g = spawnNode('mpdk', ['pktgen', ...EAL(p, 1), '--', '--tx-port', '0', '--burst', '32', '--duration', '30', '--progress', '20', '--json']);
      await g.waitFor(/"sent":1024,/, 10000); // the port's 1024 RX descriptors are full
      // Its next burst refused and held: pktgen names the full queue 0.5 s after (a fixed 50 ms
      // assumed a pktgen that printed its progress was not descheduled before that burst)
      await g.waitFor(/port 0 RX queue 0 is full and takes nothing for/, 10000);
      g.proc.kill('SIGKILL');
      await g.exited;
      const a = await run('mpdk', ['audit', '--file-prefix', p, '--json']);
      const pool = (JSON.parse(a.out) as { pools: { name: string; heldByDead: number; leaked: number; duplicates: number }[] }).pools.find((x) => x.name === 'PKTGEN_POOL')!;
      assert.equal(pool.heldByDead, 32, `its pending burst is recorded: ${a.out}`);
      assert.equal(pool.leaked, 0);
      assert.equal(pool.duplicates, 0);
      // The next pktgen reclaims what the dead one held before it starts.
      await pktgen(p, ['--tx-port', '0', '--duration', '100ms']);
      const b = await run('mpdk', ['audit', '--file-prefix', p, '--json']);
      assert.equal(b.code, 0, b.out + b.err);
      const after = (JSON.parse(b.out) as { pools: { name: string; heldByDead: number; leaked: number }[] }).pools.find((x) => x.name === 'PKTGEN_POOL')!;
      assert.equal(after.heldByDead, 0);
      assert.equal(after.leaked, 0);
    } finally {
      await stopForwarder(fwd, p);
    }
  });

  // A port of several RX queues: a burst spreads over their rings (RSS). Stopped inside a
  // send that left some of the burst (a full queue refused them: hands:tx-part), killed,
  // then reclaimed: each frame is in a ring or back in the pool, once. The old code sent the
  // whole burst through one window naming no ring (counted as sent): the refused leaked.
  // With 32 RX queues, more than a record's table of 30 rings, the windows of the queues past
  // the table name their ring themselves (the array's RINGW word), exact as the others (the
  // old pktgen fell back to that ring-less window for such a port).
  for (const [queues, flows, what] of [['2', '3', 'several RX queues'], ['32', '8', '32 RX queues (more than a record\'s 30 rings)']] as const) {
    test(`a pktgen killed inside a send over ${what}, part refused: reclaim leaks nothing, duplicates nothing`, async () => {
      const p = uniquePrefix(`pgkill${queues}`);
      const fwd = await forwarder(p, [queues, 'still']);
      let done = false;
      try {
        const g = spawnNode('mpdk', ['pktgen', ...EAL(p, 1), '--', '--tx-port', '0', '--burst', '64', '--flows', flows, '--duration', '30', '--quiet'], { MPDK_TEST_HOOK: 'hands:tx-part' });
        await g.waitFor(/MPDK_TEST_HOOK hands:tx-part reached/, 15000);
        g.proc.kill('SIGKILL');
        await g.exited;
        type Pool = { name: string; heldByDead: number; leaked: number; duplicates: number };
        const a = await run('mpdk', ['audit', '--file-prefix', p, '--json']);
        const pool = (JSON.parse(a.out) as { pools: Pool[] }).pools.find((x) => x.name === 'PKTGEN_POOL')!;
        assert.equal(pool.leaked, 0, `the refused frames are held by the dead: ${a.out}`);
        assert.equal(pool.duplicates, 0);
        assert.ok(pool.heldByDead > 0, a.out);
        await pktgen(p, ['--tx-port', '0', '--duration', '100ms']); // reclaims first
        const b = await run('mpdk', ['audit', '--file-prefix', p, '--json']);
        assert.equal(b.code, 0, b.out + b.err);
        const after = (JSON.parse(b.out) as { pools: Pool[] }).pools.find((x) => x.name === 'PKTGEN_POOL')!;
        assert.deepEqual([after.heldByDead, after.leaked, after.duplicates], [0, 0, 0], b.out);
        done = true;
      } finally {
        // After a failed assertion the forwarder's files may stay: that failure is the one to see.
        await stopForwarder(fwd, p).catch((e: unknown) => {
          if (done) throw e;
          removeInstance(p);
        });
      }
    });
  }

  test('a port that does not exist, or a wire already played, is refused with one line', async () => {
    const p = uniquePrefix('pgport');
    const fwd = await forwarder(p);
    try {
      const r = await run('mpdk', ['pktgen', ...EAL(p, 1), '--', '--tx-port', '5', '--count', '10']);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /no port 5/);
      const long = spawnNode('mpdk', ['pktgen', ...EAL(p, 1), '--', '--tx-port', '0', '--rx-port', '1', '--rate', '100', '--duration', '20']);
      await long.waitFor(/pktgen 1\.\ds/, 10000); // its first progress line: it holds the wires
      const second = await run('mpdk', ['pktgen', ...EAL(p, 2), '--', '--tx-port', '0', '--count', '10']);
      assert.equal(second.code, 1, second.err);
      assert.match(second.err, /already used by pid/);
      // Ctrl-C ends the first one early, with its summary and status 0.
      long.proc.kill('SIGINT');
      assert.equal(await long.exited, 0, long.err);
      assert.match(long.out, /pktgen summary[\s\S]*interrupted/);
    } finally {
      await stopForwarder(fwd, p);
    }
  });

  test('--pcap writes the same traffic as a pcap file, without an instance', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pktgen-'));
    const file = path.join(dir, 'out.pcap');
    try {
      const r = await run('mpdk', ['pktgen', '--', '--pcap', file, '--count', '120', '--flows', '6', '--size-mix', '64:1,576:1,1500:1', '--rate', '1k']);
      assert.equal(r.code, 0, r.err);
      const rd = PcapReader.open(file);
      const rec = new PcapRecord();
      const info = new PayloadInfo();
      const sizes = new Map<number, number>();
      const flows = new Set<number>();
      let n = 0;
      let prevUs = 0;
      while (rd.next(rec)) {
        assert.equal(rec.caplen, rec.len);
        assert.ok(readPayload(rd.buf, rec.offset, rec.caplen, info));
        flows.add(info.flow);
        sizes.set(rec.len, (sizes.get(rec.len) ?? 0) + 1);
        const us = rec.tsSec * 1e6 + rec.tsFrac;
        if (n > 0) assert.ok(us - prevUs >= 999 && us - prevUs <= 1001, `1 ms apart at 1k pps: ${us - prevUs}`);
        prevUs = us;
        n++;
      }
      rd.close();
      assert.equal(n, 120);
      assert.deepEqual([...sizes.entries()].sort((a, b) => a[0] - b[0]), [[64, 40], [576, 40], [1500, 40]]);
      assert.equal(flows.size, 6);
      let tcpdump = '';
      try {
        tcpdump = execFileSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        /* no tcpdump here */
      }
      if (tcpdump) {
        assert.equal(tcpdump.trim().split('\n').length, 120);
        assert.match(tcpdump, /10\.0\.0\.1\.1024 > 10\.1\.0\.1\.5001: UDP/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
