/**
 * `mpdk proc-info` and the Prometheus exporter against a running instance
 * (test/proc-info-child.ts: port 0 = net_ring0 with 2 queues, echoing what its wire
 * injects): the counters match what was sent, per port and per queue; rings, mempools,
 * memzones, processes; DPDK's options (--show-port, --show-ring[=NAME],
 * --show-mempool[=NAME], -m, --stats-reset, --xstats-reset); the metrics endpoint parses,
 * passes `promtool check metrics`, keeps its series across restarts and follows the
 * instance; refusals.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { leftovers, reapAll, removeInstance, run, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

const PROMTOOL = fs.existsSync('/usr/bin/promtool') ? '/usr/bin/promtool' : undefined;

/** `promtool check metrics` on a scrape: its exit status and what it said. */
function promtool(text: string): { status: number | null; said: string } {
  const r = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 15000 });
  return { status: r.status, said: (r.stdout + r.stderr).trim() };
}

async function scrape(port: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  return res.text();
}
import { send, startApp } from './proc-info-app.js';

async function json(prefix: string, ...args: string[]): Promise<Record<string, any>> {
  const r = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--json', ...args], 15000);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Record<string, any>;
}

/** Prometheus text format: every line a comment or `name{labels} value`; returns the samples. */
export function parseProm(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.eE+-]+|NaN)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const kv of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]!] = kv[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

describe('mpdk proc-info', () => {
  const prefix = uniquePrefix('pinfo');
  let app: Child;
  let pid: number;
  before(async () => {
    app = await startApp(prefix, 2);
    pid = Number(/"ready":(\d+)/.exec(app.out)![1]);
    await send(app, 200, 100);
  });
  after(async () => {
    await reapAll();
    removeInstance(prefix); // a failed or filtered run's app was killed: its files (the last test checks a clean exit)
  });

  test('the port and queue counters match what was sent; rings, pools, memzones, processes', async () => {
    const r = await json(prefix);
    const port = r.ports[0];
    assert.equal(port.name, 'net_ring0');
    assert.equal(port.state, 'started');
    assert.equal(port.stats.ipackets, 200);
    assert.equal(port.stats.ibytes, 200 * 100);
    assert.equal(port.stats.opackets, 200);
    assert.equal(port.stats.obytes, 200 * 100);
    assert.equal(port.stats.imissed + port.stats.ierrors + port.stats.oerrors + port.stats.rxNombuf, 0);
    assert.equal(port.stats.queues.length, 2);
    const [q0, q1] = port.stats.queues;
    assert.equal(q0.ipackets + q1.ipackets, 200);
    assert.ok(q0.ipackets > 0 && q1.ipackets > 0, 'RSS spread the 16 flows over both queues');
    assert.equal(q0.opackets, q0.ipackets, 'echoed on the same queue');
    assert.equal(q0.rxOwner, pid);
    assert.equal(r.xstats['0'].rx_q0_packets + r.xstats['0'].rx_q1_packets, 200);
    assert.equal(r.xstats['0'].rx_good_bytes, 20000);
    const ring = r.rings.find((x: any) => x.name === 'pi_ring');
    assert.deepEqual([ring.count, ring.capacity, ring.free], [10, 63, 53]);
    assert.ok(r.rings.some((x: any) => x.name === 'ETH0_RX1' && x.highWater > 0));
    const pool = r.mempools.find((x: any) => x.name === 'pi_pool');
    assert.equal(pool.size, 4095);
    assert.equal(pool.available + pool.inUse, 4095);
    assert.equal(pool.inUse, 0, 'every mbuf came back');
    assert.ok(r.memzones.some((z: any) => z.name === 'ETHDEV_DATA'));
    assert.deepEqual(r.processes.map((p: any) => [p.pid, p.type, p.lcores]), [[pid, 'primary', [0]]]);
    assert.ok(r.processes[0].cpuSeconds > 0);
  });

  test('text sections, one ring by name, and one-line refusals', async () => {
    const s = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--stats'], 15000);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /RX-packets: 200 {2}RX-bytes: 20000/);
    assert.match(s.out, /TX-packets: 200 {2}TX-bytes: 20000/);
    assert.doesNotMatch(s.out, /memzones/);
    const g = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--ring', 'pi_ring'], 15000);
    assert.match(g.out, /pi_ring +size +64 capacity +63 count +10 free +53/);
    assert.doesNotMatch(g.out, /ETH0_RX0|NIC statistics/);
    const m = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--mempool', 'pi_pool'], 15000);
    assert.match(m.out, /pi_pool +size 4095 .*available 4095 {2}in use 0 {2}cache 32\/lcore/);
    const bad = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--ring', 'nosuch'], 15000);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^proc-info: no ring named 'nosuch' in instance '.*'; rings: .*pi_ring.*\n$/);
    const none = await run('mpdk', ['proc-info', '--file-prefix', uniquePrefix('gone')], 15000);
    assert.equal(none.code, 1);
    assert.match(none.err, /^proc-info: no instance with --file-prefix=\S+ .*\n$/);
    const opt = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--bogus'], 15000);
    assert.equal(opt.code, 2);
    const help = await run('mpdk', ['proc-info', '--help'], 15000);
    assert.equal(help.code, 0);
    assert.match(help.out, /--stats-reset/);
  });

  test('--stats-reset zeroes the counters, leaves nothing registered; counting goes on', async () => {
    const r = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--stats-reset'], 15000);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /reset the counters of port 0/);
    let j = await json(prefix, '--stats', '--procs');
    assert.equal(j.ports[0].stats.ipackets, 0);
    assert.equal(j.ports[0].stats.obytes, 0);
    assert.deepEqual(j.processes.filter((p: any) => p.alive).map((p: any) => p.pid), [pid], 'the resetting secondary left');
    await send(app, 50, 64);
    j = await json(prefix, '--stats');
    assert.equal(j.ports[0].stats.ipackets, 50);
    assert.equal(j.ports[0].stats.ibytes, 50 * 64);
  });

  test("DPDK's options: --show-port, --show-ring[=NAME], --show-mempool[=NAME], -m, --xstats-reset", async () => {
    const port = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--show-port'], 15000);
    assert.equal(port.code, 0, port.err);
    assert.match(port.out, /^=+ show - Port PMD =+$/m);
    assert.match(port.out, /-- driver net_ring device net_ring0 socket 0/);
    assert.match(port.out, /^\tLink up at 10 Gbps FDX Fixed$/m);
    assert.match(port.out, /-- 1 descriptors \d+ mempool pi_pool socket 0 owner pid \d+ lcore 0/);
    assert.doesNotMatch(port.out, /NIC statistics|rings \(/, 'only the section asked for');
    const all = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--show-ring'], 15000);
    assert.equal(all.code, 0, all.err);
    for (const r of ['pi_ring', 'ETH0_RX0', 'ETH0_TX1']) assert.match(all.out, new RegExp(`^ring <${r}>@\\d+$`, 'm'), `every ring, as DPDK's list dump: ${r}`);
    const one = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--show-ring=pi_ring', '--show-mempool=pi_pool'], 15000);
    assert.match(one.out, /- Name \(pi_ring\) on socket \(0\)\n[^]*- size \(64\) mask \(0x3f\) capacity \(63\)\n {2}- count \(10\) free count \(53\)/);
    assert.doesNotMatch(one.out, /ETH0_RX0/);
    assert.match(one.out, /- Name: pi_pool on socket 0\n {2}- Size 4095 Cache 32 element \d+\n {2}- Count: avail \(4095\), in use \(0\)/);
    const pools = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--show-mempool', '--show-ring', '--json'], 15000);
    const pj = JSON.parse(pools.out) as Record<string, any>;
    assert.deepEqual(Object.keys(pj).filter((k) => k.endsWith('Detail')), ['ringDetail', 'mempoolDetail'], 'an option without =NAME takes no word after it');
    const mem = await run('mpdk', ['proc-info', '--file-prefix', prefix, '-m'], 15000);
    assert.equal(mem.code, 0, mem.err);
    assert.match(mem.out, /^-+ MEMORY_SEGMENTS -+\nSegment 0: \S+region, len:\d+/m);
    assert.match(mem.out, /^Zone \d+: name:<ETHDEV_DATA>, offset:0x[0-9a-f]+, len:0x[0-9a-f]+/m);
    assert.match(mem.out, /^Tailq \d+: qname:<rings>, entries:\d+$/m);
    const x = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--xstats-reset', '--xstats', '--json'], 15000);
    assert.equal(x.code, 0, x.err);
    assert.match(x.out, /^reset the extended statistics of port 0$/m);
    const xs = JSON.parse(x.out.slice(x.out.indexOf('{'))) as Record<string, any>;
    assert.equal(xs.xstats['0'].rx_good_packets, 0);
    const bad = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--show-ring=nosuch'], 15000);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^proc-info: no ring named 'nosuch'/);
  });

  test('the Prometheus endpoint serves the same counters, passes promtool, names processes by lcore (pid only in an info metric)', async () => {
    await send(app, 50, 64);
    const exp = spawnNode('mpdk', ['exporter', '--file-prefix', prefix, '--prometheus', ':0']);
    const [, port] = await exp.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\/metrics/, 10000);
    assert.equal(exp.err, '', 'no warning on the loopback');
    const text = await scrape(port!);
    const samples = parseProm(text);
    const sum = (name: string): number => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
    assert.equal(samples.find((s) => s.name === 'mpdk_up')?.value, 1);
    assert.equal(sum('mpdk_port_rx_packets_total'), 50);
    assert.equal(sum('mpdk_port_tx_bytes_total'), 50 * 64);
    assert.equal(samples.filter((s) => s.name === 'mpdk_port_rx_packets_total').length, 2, 'one series per RX queue');
    assert.equal(samples.find((s) => s.name === 'mpdk_ring_entries' && s.labels.ring === 'pi_ring')?.value, 10);
    assert.equal(samples.find((s) => s.name === 'mpdk_mempool_size_objects' && s.labels.mempool === 'pi_pool')?.value, 4095);
    const info = samples.find((s) => s.name === 'mpdk_process_info');
    assert.deepEqual(info?.labels, { instance_prefix: prefix, lcore: '0', name: 'pi-child', pid: String(pid), type: 'primary', lcores: '0' });
    assert.deepEqual(samples.filter((s) => s.labels.pid !== undefined).map((s) => s.name), ['mpdk_process_info'], 'no other series carries a pid');
    assert.ok(samples.find((s) => s.name === 'mpdk_lcore_idle_seconds_total' && s.labels.lcore === '0'));
    if (PROMTOOL) {
      const r = promtool(text);
      assert.equal(r.status, 0, r.said);
      assert.equal(r.said, '', 'promtool check metrics: nothing to say');
    }
    const nf = await fetch(`http://127.0.0.1:${port}/nope`, { signal: AbortSignal.timeout(5000) });
    assert.equal(nf.status, 404);
    exp.proc.kill('SIGTERM');
    assert.equal(await exp.exited, 0);
  });

  test('the instance leaves nothing behind', async () => {
    app.send('quit');
    assert.equal(await app.exited, 0, app.err);
    assert.deepEqual(leftovers(prefix), []);
  });
});

describe('mpdk exporter across instance restarts', () => {
  after(async () => {
    await reapAll();
  });

  test('it starts before the instance (mpdk_up 0), follows it, says 0 when it goes and follows the next one; series keep their labels', async () => {
    const prefix = uniquePrefix('pexp');
    try {
      const exp = spawnNode('mpdk', ['exporter', '--file-prefix', prefix, '--prometheus', '127.0.0.1:0']);
      const [, port] = await exp.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\/metrics/, 10000);
      const up = async (): Promise<number | undefined> => parseProm(await scrape(port!)).find((s) => s.name === 'mpdk_up')?.value;
      assert.equal(await up(), 0, 'no instance yet');
      const series = async (): Promise<string[]> => parseProm(await scrape(port!)).filter((s) => s.name !== 'mpdk_process_info').map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort();
      let a = await startApp(prefix, 2);
      assert.equal(await up(), 1);
      const first = await series();
      a.send('quit');
      assert.equal(await a.exited, 0, a.err);
      assert.equal(await up(), 0, 'the instance went');
      const maps = fs.readFileSync(`/proc/${exp.proc.pid}/maps`, 'utf8');
      assert.doesNotMatch(maps, new RegExp(`mpdk\\.${prefix}/region`), 'the gone instance is unmapped (its memory freed)');
      a = await startApp(prefix, 2);
      assert.equal(await up(), 1, 'the next instance is followed');
      assert.deepEqual(await series(), first, 'the same series (a new pid changes only mpdk_process_info)');
      a.send('quit');
      assert.equal(await a.exited, 0, a.err);
      exp.proc.kill('SIGTERM');
      assert.equal(await exp.exited, 0, exp.err);
    } finally {
      removeInstance(prefix);
    }
  });

  test('any listen address, with a warning off the loopback; a bad one is refused in one line', async () => {
    const exp = spawnNode('mpdk', ['exporter', '--file-prefix', uniquePrefix('pany'), '--prometheus', '0.0.0.0:0']);
    const [, port] = await exp.waitFor(/http:\/\/0\.0\.0\.0:(\d+)\/metrics/, 10000);
    assert.match(exp.err, /^mpdk exporter: warning: listening on 0\.0\.0\.0:\d+, not the loopback: whoever reaches this port reads/m);
    assert.equal(parseProm(await scrape(port!)).find((s) => s.name === 'mpdk_up')?.value, 0);
    exp.proc.kill('SIGTERM');
    assert.equal(await exp.exited, 0);
    const bad = await run('mpdk', ['exporter', '--prometheus', 'nope:x'], 15000);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^exporter: invalid --prometheus 'nope:x': use \[ADDRESS\]:PORT/);
    const help = await run('mpdk', ['exporter', '--help'], 15000);
    assert.match(help.out, /default 127\.0\.0\.1:6735/);
  });
});

describe('mpdk proc-info against symmetric_mp and pktgen', () => {
  const prefix = uniquePrefix('pisym');
  after(async () => {
    await reapAll();
    removeInstance(prefix); // only left by a failure (the test checks a clean exit)
  });

  test('the counters match what pktgen sent and received, per queue and per process', async () => {
    const sym: Child[] = [];
    for (let id = 0; id < 2; id++) {
      const c = spawnNode('mpdk', ['symmetric_mp', '-l', String(id + 1), '--proc-type=auto', '--file-prefix', prefix, '--log-level', 'error', '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '--num-procs=2', `--proc-id=${id}`]);
      await c.waitFor(/APP: Finished Process Init\./, 20000);
      sym.push(c);
    }
    const g = await run('mpdk', ['pktgen', '-l', '7', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--',
      '--tx-port', '0', '--rx-port', '1', '--flows', '64', '--count', '20000', '--size', '128', '--drain', '5000', '--json', '--quiet'], 60000);
    assert.equal(g.code, 0, g.err);
    const pg = JSON.parse(g.out) as { sent: number; received: number };
    assert.equal(pg.sent, 20000);
    const r = await json(prefix, '--stats', '--procs');
    const [p0, p1] = r.ports;
    assert.equal(p0.stats.ipackets, pg.sent, 'port 0 received what pktgen sent');
    assert.equal(p0.stats.ibytes, pg.sent * 128);
    assert.equal(p1.stats.opackets, pg.received, 'port 1 transmitted what pktgen got back');
    const pids = sym.map((c) => c.proc.pid);
    assert.deepEqual(p0.stats.queues.map((q: any) => q.rxOwner).sort(), [...pids].sort(), 'each symmetric_mp owns its RX queue');
    assert.ok(p0.stats.queues.every((q: any) => q.ipackets > 0), 'RSS spread the flows over both queues');
    const live = r.processes.filter((p: any) => p.alive);
    assert.deepEqual(live.map((p: any) => p.pid).sort(), [...pids].sort());
    assert.deepEqual(live.map((p: any) => p.lcores[0]).sort(), [1, 2]);
    for (const c of sym) c.proc.kill('SIGINT');
    for (const c of sym) assert.equal(await c.exited, 0, c.err);
    await until(() => leftovers(prefix).length === 0, 5000, 'the instance files to go');
  });
});

test('Eal.release: an observer unmaps the region (nothing of it left in /proc/self/maps), once; a process of the instance cannot', async () => {
  const { Eal } = await import('../src/index.js');
  const p = uniquePrefix('obs');
  const { eal } = Eal.init(['-l', '1', '--proc-type=primary', '--file-prefix', p, '-m', '16', '--log-level', 'error'], { handleSignals: false });
  try {
    const region = new RegExp(`mpdk\\.${p}/region`);
    const o = Eal.observe(p, { logLevel: 'error' });
    const mapped = (): number => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => region.test(l)).length;
    assert.equal(mapped(), 2, 'the primary\'s mapping and the observer\'s');
    o.release();
    assert.equal(mapped(), 1, 'the observer\'s is gone');
    o.release(); // a second release unmaps nothing (it could hit a later mapping at that address)
    assert.equal(mapped(), 1);
    assert.throws(() => eal.release(), /only an observer/);
  } finally {
    eal.close();
  }
  assert.deepEqual(leftovers(p), []);
});

test('--huge-dir: proc-info (observing, and attaching for --stats-reset), top and dumpcap find an instance whose region is there; without it one line says to give it', async () => {
  const prefix = uniquePrefix('pihuge');
  const huge = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-huge-'));
  const cap = path.join(os.tmpdir(), `${prefix}.pcapng`);
  const app = await startApp(prefix, 1, ['--huge-dir', huge]);
  try {
    assert.deepEqual(fs.readdirSync(huge), [`mpdk.${prefix}.region`]);
    for (const tool of [['proc-info'], ['top', '--once'], ['dumpcap', '-q', '-i', '0', '-w', cap, '-a', 'duration:1']]) {
      const no = await run('mpdk', [...tool, '--file-prefix', prefix], 15000);
      assert.notEqual(no.code, 0, `${tool[0]} without --huge-dir`);
      assert.match(no.err, /give the same --huge-dir DIR/, `${tool[0]}: ${no.err}`);
    }
    const pi = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--huge-dir', huge, '--json'], 15000);
    assert.equal(pi.code, 0, pi.err);
    assert.equal((JSON.parse(pi.out) as { ports: unknown[] }).ports.length, 1);
    const reset = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--huge-dir', huge, '--stats-reset'], 15000);
    assert.equal(reset.code, 0, reset.err);
    const t = await run('mpdk', ['top', '--once', '-d', '0.1', '--file-prefix', prefix, '--huge-dir', huge], 15000);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, new RegExp(`mpdk top - '${prefix}'`));
    const d = await run('mpdk', ['dumpcap', '--file-prefix', prefix, '--huge-dir', huge, '-q', '-i', '0', '-w', cap, '-a', 'duration:1'], 15000);
    assert.equal(d.code, 0, d.err);
    assert.ok(fs.existsSync(cap), 'the capture file was written');
  } finally {
    app.send('quit');
    await app.exited;
    removeInstance(prefix);
    fs.rmSync(huge, { recursive: true, force: true });
    fs.rmSync(cap, { force: true });
  }
});
