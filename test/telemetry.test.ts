/**
 * DPDK's telemetry clients read mpdk (issue 18): Debian's /usr/bin/dpdk-telemetry.py
 * (DPDK 22.11), driven through its stdin, against a primary and a secondary of a running
 * symmetric_mp instance after `mpdk pktgen` traffic, for every command; each reply is
 * parsed and checked against what `mpdk proc-info --json` says. Then: bad commands and
 * parameters (null replies, the connection answers on), the bounds (connections, request
 * size, a client that does not read), another user (uid 65534) refused, --no-telemetry,
 * stale sockets (a killed process's is replaced by the next process and removed by
 * `mpdk cleanup`; what is not a socket of ours is never touched), how busy each lcore is
 * (idle without traffic, busy with it), and the net_ring counters (a full ring is the
 * sender's: no imissed at the receiver while pktgen retries).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Eal, telemetryDir } from '../src/index.js';
import { leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

const CLIENT = '/usr/bin/dpdk-telemetry.py';
const NO_CLIENT = fs.existsSync(CLIENT) && spawnSync('python3', ['--version']).status === 0 ? false : `needs ${CLIENT} and python3 (Debian's dpdk package; .ci/run installs it)`;
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** dpdk-telemetry.py -f PREFIX [-i N] with `lines` on its stdin: one parsed reply per line. */
async function client(prefix: string, lines: string[], instance = 0): Promise<Record<string, any>[]> {
  const args = [CLIENT, '-f', prefix, ...(instance ? ['-i', String(instance)] : [])];
  const p = spawn('python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  p.stdin.end(lines.join('\n') + '\n');
  const t = setTimeout(() => p.kill('SIGKILL'), 15000);
  const code = await new Promise<number | null>((r) => p.on('exit', r));
  clearTimeout(t);
  assert.equal(code, 0, `dpdk-telemetry.py ${args.slice(1).join(' ')}: ${err}`);
  const replies = out.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, any>);
  assert.equal(replies.length, lines.length, `one reply per request: ${out}`);
  return replies;
}

/** The data of each reply (each reply is {"<command>": data}). */
function data(replies: Record<string, any>[], lines: string[]): any[] {
  return replies.map((r, i) => {
    const cmd = lines[i]!.split(',')[0]!;
    assert.deepEqual(Object.keys(r), [cmd], `reply to ${lines[i]}`);
    return r[cmd];
  });
}

async function procInfo(prefix: string): Promise<Record<string, any>> {
  const r = await run('mpdk', ['proc-info', '--file-prefix', prefix, '--json', '--stats', '--xstats', '--procs', '--rings', '--mempools'], 15000);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Record<string, any>;
}

/** A python3 snippet's stdout (bounded). */
function py(code: string, opts: { uid?: number } = {}): { status: number | null; out: string; err: string } {
  const r = spawnSync('python3', ['-c', code], { encoding: 'utf8', timeout: 15000, uid: opts.uid, gid: opts.uid });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function sym(prefix: string, lcore: number, id: number, extra: string[] = []): Child {
  return spawnNode('mpdk', ['symmetric_mp', '-l', String(lcore), '--proc-type=auto', '--file-prefix', prefix, '--log-level', 'error', '--vdev=net_ring0', '--vdev=net_ring1', ...extra,
    '--', '-p', '3', '--num-procs=2', `--proc-id=${id}`]);
}

describe('dpdk-telemetry.py against symmetric_mp (a primary and a secondary)', { skip: NO_CLIENT }, () => {
  const prefix = uniquePrefix('tele');
  const dir = telemetryDir(prefix);
  const procs: Child[] = [];
  let pg: { sent: number; received: number };
  let idleBusy: number[] = [];

  before(async () => {
    for (let id = 0; id < 2; id++) {
      const c = sym(prefix, id + 1, id);
      await c.waitFor(/APP: Finished Process Init\./, 20000);
      procs.push(c);
    }
    // Without traffic the forwarding lcores stay idle: their busy time does not move.
    const u0 = (await procInfo(prefix)).lcores as any[];
    await sleep(1000);
    const u1 = (await procInfo(prefix)).lcores as any[];
    idleBusy = u1.map((l) => l.usage.busyNs - (u0.find((x) => x.lcore === l.lcore)?.usage.busyNs ?? 0));
    assert.ok(u1.every((l) => l.usage.idleNs > (u0.find((x) => x.lcore === l.lcore)?.usage.idleNs ?? 0)), 'the idle lcores polled (idle time grew)');
    // More than the rings hold at once: pktgen is refused by full rings and retries.
    const g = await run('mpdk', ['pktgen', '-l', '7', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--',
      '--tx-port', '0', '--rx-port', '1', '--flows', '64', '--count', '200000', '--size', '64', '--drain', '5000', '--json', '--quiet'], 60000);
    assert.equal(g.code, 0, g.err);
    pg = JSON.parse(g.out) as { sent: number; received: number };
  });
  after(async () => {
    await reapAll();
    removeInstance(prefix);
  });

  test('every process serves the socket dpdk-telemetry.py computes: the first without suffix, the next at :1; mode 0600 in a 0700 folder', () => {
    assert.deepEqual(fs.readdirSync(dir).sort(), ['dpdk_telemetry.v2', 'dpdk_telemetry.v2:1']);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    for (const f of fs.readdirSync(dir)) {
      const st = fs.lstatSync(path.join(dir, f));
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
    }
  });

  test('an idle lcore stays idle; under traffic it turns busy', async () => {
    assert.deepEqual(idleBusy, [0, 0], 'no busy time without packets');
    const r = await procInfo(prefix);
    for (const l of r.lcores) {
      assert.ok(l.usage.busyNs > 0, `lcore ${l.lcore} was busy while pktgen ran`);
      assert.ok(l.usage.busyPolls > 0 && l.usage.idlePolls > 0);
    }
    // Traffic over, top shows both lcores idle again (BUSY% over its interval).
    const t = await run('mpdk', ['top', '--file-prefix', prefix, '--once', '-d', '0.5'], 15000);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /PID +TYPE +NAME +LCORES +CPU% +BUSY%/);
    for (const [i, c] of procs.entries()) assert.match(t.out, new RegExp(`^${c.proc.pid} +(primary|secondary) +symmetric_mp +${i + 1} +\\S+ +0\\.0 `, 'm'), t.out);
  });

  test('the commands answer with DPDK\'s shapes and proc-info --json\'s values, primary and secondary', async () => {
    assert.equal(pg.sent, 200000);
    const pi = await procInfo(prefix);
    const [p0, p1] = procs.map((c) => c.proc.pid!);
    const pool = pi.mempools[0].name as string;
    const lines = [
      '/', '/info', '/help', '/help,/ethdev/stats', '/eal/params', '/eal/app_params', '/eal/lcore/list', '/eal/lcore/info,1', '/eal/lcore/usage',
      '/ethdev/list', '/ethdev/info,0', '/ethdev/stats,0', '/ethdev/stats,1', '/ethdev/xstats,0', '/ethdev/xstats,1', '/ethdev/link_status,1',
      '/mempool/list', `/mempool/info,${pool}`, '/mpdk/info', '/mpdk/process/list', `/mpdk/process/info,${p1}`, '/mpdk/lcore/usage',
      '/mpdk/ring/list', '/mpdk/ring/info,ETH0_RX1', '/mpdk/audit',
    ];
    const [list, info, help, helpStats, params, app, lcores, lcoreInfo, usage, ethList, ethInfo, st0, st1, x0, x1, link, pools, poolInfo,
      mpdkInfo, procList, procInfo1, allUsage, ringList, ringInfo, audit] = data(await client(prefix, lines), lines);
    for (const c of lines.map((l) => l.split(',')[0]!)) assert.ok(list.includes(c), `/ lists ${c}`);
    assert.deepEqual(list, [...list].sort(), 'sorted, as DPDK keeps them');
    assert.deepEqual(info, { version: info.version, pid: p0, max_output_len: 16384 });
    assert.match(info.version, /^mpdk \d/);
    assert.equal(help, 'Returns help text for a command. Parameters: string command');
    assert.deepEqual(helpStats, { '/ethdev/stats': 'Returns the common stats for a port. Parameters: int port_id' });
    assert.deepEqual(params, ['symmetric_mp', '-l', '1', '--proc-type=auto', '--file-prefix', prefix, '--log-level', 'error', '--vdev=net_ring0', '--vdev=net_ring1']);
    assert.deepEqual(app, ['-p', '3', '--num-procs=2', '--proc-id=0']);
    assert.deepEqual(lcores, pi.processes.find((p: any) => p.pid === p0).lcores);
    const l1 = pi.lcores.find((l: any) => l.lcore === 1);
    assert.equal(lcoreInfo.lcore_id, 1);
    assert.equal(lcoreInfo.role, 'RTE');
    assert.deepEqual(lcoreInfo.cpuset, [1]);
    assert.ok(lcoreInfo.busy_cycles >= Math.floor(l1.usage.busyNs) && lcoreInfo.total_cycles >= lcoreInfo.busy_cycles);
    assert.match(lcoreInfo.usage_ratio, /^\d+\.\d\d%$/);
    assert.deepEqual(Object.keys(usage), ['lcore_ids', 'total_cycles', 'busy_cycles', 'usage_ratio']);
    assert.deepEqual(usage.lcore_ids, [1]);
    assert.deepEqual(ethList, pi.ports.map((p: any) => p.id));
    assert.equal(ethInfo.name, 'net_ring0');
    assert.equal(ethInfo.port_id, 0);
    assert.equal(ethInfo.nb_rx_queues, pi.ports[0].nbRx);
    assert.equal(ethInfo.nb_tx_queues, pi.ports[0].nbTx);
    assert.equal(ethInfo.mac_addr, pi.ports[0].mac.toUpperCase());
    assert.equal(ethInfo.dev_started, 1);
    assert.deepEqual(ethInfo.rxq_state, [1, 1]);
    assert.equal(ethInfo.rx_mbuf_size_min, 2176, "a default mbuf's data room, as testpmd's");
    for (const [st, p] of [[st0, pi.ports[0]], [st1, pi.ports[1]]] as const) {
      const s = p.stats;
      assert.deepEqual([st.ipackets, st.opackets, st.ibytes, st.obytes, st.imissed, st.ierrors, st.oerrors, st.rx_nombuf],
        [s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed, s.ierrors, s.oerrors, s.rxNombuf]);
      for (const k of ['q_ipackets', 'q_opackets', 'q_ibytes', 'q_obytes', 'q_errors']) assert.equal(st[k].length, 16, `${k}: 16 counters, as DPDK's`);
      assert.deepEqual(st.q_ipackets.slice(0, 2), s.queues.map((q: any) => q.ipackets));
      assert.deepEqual(st.q_opackets.slice(0, 2), s.queues.map((q: any) => q.opackets));
    }
    assert.equal(st0.ipackets, pg.sent, 'port 0 received every frame pktgen sent');
    assert.equal(st0.imissed, 0, 'pktgen retried what full rings refused: nothing was missed (DPDK\'s net_ring counts nothing at the receiver)');
    assert.equal(st1.opackets, pg.received);
    assert.deepEqual(x0, pi.xstats['0']);
    assert.deepEqual(x1, pi.xstats['1']);
    assert.deepEqual(Object.keys(x0).slice(0, 8), ['rx_good_packets', 'tx_good_packets', 'rx_good_bytes', 'tx_good_bytes', 'rx_missed_errors', 'rx_errors', 'tx_errors', 'rx_mbuf_allocation_errors']);
    assert.deepEqual(link, { status: 'UP', speed: pi.ports[1].link.speedMbps, duplex: 'full-duplex' });
    assert.deepEqual(pools, pi.mempools.map((m: any) => m.name));
    const m = pi.mempools[0];
    assert.deepEqual([poolInfo.name, poolInfo.size, poolInfo.cache_size, poolInfo.elt_size], [m.name, m.size, m.cacheSize, m.eltSize]);
    assert.equal(poolInfo.common_pool_count + poolInfo.total_cache_count, m.available);
    assert.equal(mpdkInfo.file_prefix, prefix);
    assert.equal(mpdkInfo.primary_pid, p0);
    assert.deepEqual([...procList].sort(), pi.processes.map((p: any) => p.pid).sort());
    assert.deepEqual(procInfo1, { pid: p1, type: 'secondary', name: 'symmetric_mp', alive: 1, liveness: 'alive', lcores: [2] });
    assert.deepEqual(allUsage.lcore_ids, [1, 2]);
    assert.deepEqual(allUsage.pids, [p0, p1]);
    assert.deepEqual(ringList, pi.rings.map((r: any) => r.name));
    const r1 = pi.rings.find((r: any) => r.name === 'ETH0_RX1');
    assert.deepEqual([ringInfo.name, ringInfo.capacity, ringInfo.count, ringInfo.free_count, ringInfo.high_water], [r1.name, r1.capacity, r1.count, r1.free, r1.highWater]);
    assert.equal(audit.ok, 1);
    assert.equal(audit.pools[pool].leaked, 0);

    // The secondary, at :1: its own pid, command line and lcores.
    const sl = ['/info', '/eal/params', '/eal/app_params', '/eal/lcore/list', '/eal/lcore/usage', '/ethdev/stats,0', '/mempool/list'];
    const [sInfo, sParams, sApp, sLcores, sUsage, sSt0, sPools] = data(await client(prefix, sl, 1), sl);
    assert.equal(sInfo.pid, p1);
    assert.deepEqual(sParams, ['symmetric_mp', '-l', '2', '--proc-type=auto', '--file-prefix', prefix, '--log-level', 'error', '--vdev=net_ring0', '--vdev=net_ring1']);
    assert.deepEqual(sApp, ['-p', '3', '--num-procs=2', '--proc-id=1']);
    assert.deepEqual(sLcores, [2]);
    assert.deepEqual(sUsage.lcore_ids, [2]);
    assert.deepEqual(sSt0, st0, 'the same port, read by another process');
    assert.deepEqual(sPools, pools);
  });

  test('unknown commands and bad parameters answer null as DPDK does; the connection answers on', async () => {
    const lines = ['/nope', '/ethdev/stats', '/ethdev/stats,x', '/ethdev/stats,9', '/ethdev/info,-1', '/eal/lcore/info,2', '/eal/lcore/info,1x',
      '/mempool/info', '/mempool/info,nosuch', '/help,/nope', '/mpdk/ring/info,nosuch', '/ethdev/stats,0x1', '/info'];
    const d = data(await client(prefix, lines), lines);
    assert.deepEqual(d.slice(0, 8), [null, null, null, null, null, null, null, null], 'null data: unknown, missing, not a port, not this process\'s lcore');
    assert.deepEqual(d[8], {}, 'an unknown pool: an empty dictionary, as DPDK 22.11');
    assert.deepEqual(d.slice(9, 11), [null, null]);
    assert.equal(d[11].ipackets, 200000, '/ethdev/stats reads its port as atoi does: 0x1 is port 0');
    assert.equal(d[12].pid, procs[0]!.proc.pid);
  });

  test('bounded: an 11th connection is closed at once, a long request is cut, a client that does not read is dropped', () => {
    const sock = path.join(dir, 'dpdk_telemetry.v2');
    const r = py(`
import socket, json
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(${JSON.stringify(sock)}); s.settimeout(5); return s
held = [conn() for i in range(10)]
greet = [json.loads(s.recv(1024))['pid'] for s in held]
extra = conn()
print('eleventh', repr(extra.recv(1024)))
held[0].send(b'/info,' + b'x' * 5000)
print('long', json.loads(held[0].recv(16384))['/info']['max_output_len'])
import time
hog = held[1]
hog.setblocking(False)
end = time.time() + 5
while time.time() < end:
    try:
        hog.send(b'/ethdev/stats,0')
    except BlockingIOError:
        time.sleep(0.005)
    except OSError as e:
        print('hog dropped', e.errno)
        break
for s in held: s.close()
extra.close()
s = conn(); s.recv(1024); s.send(b'/info'); print('after', json.loads(s.recv(16384))['/info']['pid'])
`);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /^eleventh b''$/m, 'closed without a greeting (DPDK: MAX_CONNECTIONS 10)');
    assert.match(r.out, /^long 16384$/m, 'a request longer than 1023 bytes is cut and still answered');
    assert.match(r.out, /^hog dropped (32|104)$/m, 'a client that sends without reading is disconnected (EPIPE or ECONNRESET), not waited for');
    assert.match(r.out, new RegExp(`^after ${procs[0]!.proc.pid}$`, 'm'), 'the server serves on');
  });

  test('another user (uid 65534) cannot connect, and the process serves on', { skip: isRoot ? false : 'needs root to play uid 65534' }, async () => {
    const r = py(`
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(${JSON.stringify(path.join(dir, 'dpdk_telemetry.v2'))}); print('connected', s.recv(1024))
except OSError as e:
    print('refused', e.errno)
`, { uid: NOBODY });
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /^refused 13$/m, 'EACCES: the folder is 0700');
    const lines = ['/info'];
    assert.equal(data(await client(prefix, lines), lines)[0].pid, procs[0]!.proc.pid);
  });

  test('the sockets and their folder go with the processes', async () => {
    for (const c of [...procs].reverse()) c.proc.kill('SIGINT');
    for (const c of procs) assert.equal(await c.exited, 0, c.err);
    assert.equal(fs.existsSync(dir), false);
    await until(() => leftovers(prefix).length === 0, 5000, 'the instance files to go');
  });
});

describe('telemetry sockets on the host', { skip: NO_CLIENT }, () => {
  after(async () => {
    await reapAll();
  });

  test('--no-telemetry (and EalInitOptions.telemetry false) serve no socket; the options-object form serves one only when asked', async () => {
    const prefix = uniquePrefix('tnone');
    try {
      const c = sym(prefix, 1, 0, ['--no-telemetry']);
      await c.waitFor(/APP: Finished Process Init\./, 20000);
      assert.equal(fs.existsSync(telemetryDir(prefix)), false);
      c.proc.kill('SIGINT');
      assert.equal(await c.exited, 0, c.err);
      const { eal } = Eal.init(['-l', '9', '--file-prefix', prefix, '--log-level', 'error'], { telemetry: false });
      assert.equal(eal.telemetryPath, undefined);
      assert.equal(fs.existsSync(telemetryDir(prefix)), false);
      eal.close();
      const lib = Eal.init({ lcores: [9], filePrefix: prefix });
      assert.equal(lib.telemetryPath, undefined, 'off by default in a Node program: no side effect unless asked');
      assert.equal(fs.existsSync(telemetryDir(prefix)), false);
      lib.close();
      const on = Eal.init({ lcores: [9], filePrefix: prefix, telemetry: true });
      assert.equal(on.telemetryPath, path.join(telemetryDir(prefix), 'dpdk_telemetry.v2'));
      on.close();
      const argv = Eal.init(['-l', '9', '--file-prefix', prefix, '--log-level', 'error']).eal;
      assert.equal(argv.telemetryPath, path.join(telemetryDir(prefix), 'dpdk_telemetry.v2'), 'on by default on a DPDK command line, as in DPDK');
      argv.close();
      assert.equal(fs.existsSync(telemetryDir(prefix)), false, 'gone with the process');
    } finally {
      removeInstance(prefix);
    }
  });

  test('a killed process leaves a stale socket: the next process takes its name, mpdk cleanup removes it; what is not a socket of ours is left alone', async () => {
    const prefix = uniquePrefix('tstale');
    const dir = telemetryDir(prefix);
    try {
      const a = sym(prefix, 1, 0);
      await a.waitFor(/APP: Finished Process Init\./, 20000);
      const b = sym(prefix, 2, 1);
      await b.waitFor(/APP: Finished Process Init\./, 20000);
      fs.writeFileSync(path.join(dir, 'dpdk_telemetry.v2:2'), 'not a socket'); // planted: never removed
      a.proc.kill('SIGKILL');
      await a.exited;
      assert.ok(fs.lstatSync(path.join(dir, 'dpdk_telemetry.v2')).isSocket(), 'a SIGKILL leaves the socket');
      // The next process takes the stale name (DPDK's rule); :1 is live, :2 not a socket.
      const c = sym(prefix, 1, 0);
      await c.waitFor(/APP: Finished Process Init\./, 20000);
      const lines = ['/info'];
      assert.equal(data(await client(prefix, lines), lines)[0].pid, c.proc.pid);
      c.proc.kill('SIGKILL');
      b.proc.kill('SIGKILL');
      await Promise.all([b.exited, c.exited]);
      const r = await run('mpdk', ['cleanup', '--file-prefix', prefix], 15000);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(fs.readdirSync(dir), ['dpdk_telemetry.v2:2'], 'the stale sockets went, the planted file stayed');
      assert.equal(fs.readFileSync(path.join(dir, 'dpdk_telemetry.v2:2'), 'utf8'), 'not a socket');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      removeInstance(prefix);
    }
  });

  test('mpdk cleanup removes the sockets of killed processes whose instance folder is already gone', async () => {
    const prefix = uniquePrefix('tgone');
    const dir = telemetryDir(prefix);
    try {
      const a = sym(prefix, 1, 0);
      await a.waitFor(/APP: Finished Process Init\./, 20000);
      a.proc.kill('SIGKILL');
      await a.exited;
      fs.rmSync(path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${prefix}`), { recursive: true }); // as a user's rm -rf would
      assert.ok(fs.lstatSync(path.join(dir, 'dpdk_telemetry.v2')).isSocket(), 'a SIGKILL leaves the socket');
      const r = await run('mpdk', ['cleanup', '--file-prefix', prefix], 15000);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /dpdk_telemetry\.v2/);
      assert.equal(fs.existsSync(dir), false, 'the telemetry folder went with its last stale socket');
      const again = await run('mpdk', ['cleanup', '--file-prefix', prefix], 15000);
      assert.equal(again.code, 1, 'nothing left: nothing to clean up');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      removeInstance(prefix);
    }
  });

  test('a telemetry folder another user made is refused with a warning, and the program runs without it', { skip: isRoot ? false : 'needs root to play uid 65534' }, async () => {
    const prefix = uniquePrefix('tsquat');
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-rt-'));
    try {
      fs.mkdirSync(path.join(base, 'dpdk', prefix), { recursive: true, mode: 0o700 });
      fs.chownSync(path.join(base, 'dpdk', prefix), NOBODY, NOBODY);
      const c = spawnNode('mpdk', ['symmetric_mp', '-l', '1', '--file-prefix', prefix, '--vdev=net_ring0', '--vdev=net_ring1', '--', '-p', '3', '--num-procs=1', '--proc-id=0'], { RUNTIME_DIRECTORY: base });
      await c.waitFor(/APP: Finished Process Init\./, 20000);
      assert.match(c.err, /no telemetry socket \(.*belongs to uid 65534, not to you/);
      assert.deepEqual(fs.readdirSync(path.join(base, 'dpdk', prefix)), []);
      c.proc.kill('SIGINT');
      assert.equal(await c.exited, 0, c.err);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
      removeInstance(prefix);
    }
  });
});
