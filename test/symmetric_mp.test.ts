/**
 * symmetric_mp as the guide runs it: real `mpdk symmetric_mp` processes over two net_ring
 * ports, the test process playing both ports' wires (inject frames where a port receives,
 * collect what it transmits) as an EAL secondary on lcore 7 (beyond this machine's CPUs:
 * not pinned). Every frame carries a unique sequence number, so its checksum identifies
 * it: each one sent on port P must come out of port P^1 exactly once, byte for byte
 * (DPDK's symmetric_mp rewrites no MAC).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Eal, EthDev, FlowSet, PktmbufPool, auditInstance, buildUdpFrame, frameChecksum, type Wire } from '../src/index.js';
import { exitedWithin, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

after(reapAll);

const R2 = ['--vdev=net_ring0', '--vdev=net_ring1'];
const QUIET = ['--log-level', 'error'];
const POOL = 'MProc_pktmbuf_pool';
/** Packets the test's generator lets be in flight per direction (an RX ring's worth). */
const WINDOW = 1024;

function symArgs(prefix: string, lcore: number, type: string, app: string[], vdevs = R2): string[] {
  return ['symmetric_mp', '-l', String(lcore), `--proc-type=${type}`, '--file-prefix', prefix, ...QUIET, ...vdevs, '--', ...app];
}

/** Start one symmetric_mp and wait until it forwards. */
async function startSym(prefix: string, id: number, n: number, type = 'auto', extra: string[] = []): Promise<Child> {
  const c = spawnNode('mpdk', symArgs(prefix, id + 1, type, ['-p', '3', `--num-procs=${n}`, `--proc-id=${id}`, ...extra]));
  await c.waitFor(/APP: Finished Process Init\./, 15000);
  return c;
}

/** SIGINT: the process prints its per-port counters and exits 0. */
async function interrupt(c: Child): Promise<Map<number, { rx: number; tx: number; drop: number }>> {
  c.proc.kill('SIGINT');
  const code = await exitedWithin(c, 8000);
  assert.equal(code, 0, `exit status after SIGINT; stdout:\n${c.out}\nstderr:\n${c.err}`);
  const m = new Map<number, { rx: number; tx: number; drop: number }>();
  for (const x of c.out.matchAll(/^Port (\d+): RX - (\d+), TX - (\d+), Drop - (\d+)$/gm)) {
    m.set(Number(x[1]), { rx: Number(x[2]), tx: Number(x[3]), drop: Number(x[4]) });
  }
  assert.match(c.out, /Exiting on signal 2/);
  return m;
}

/**
 * Run `fn` on a fresh instance; afterwards every process is gone and so are the files
 * (a failed test's instance is removed so that it does not outlive the run).
 */
async function withInstance(fn: (prefix: string) => Promise<void>): Promise<void> {
  const p = uniquePrefix('sym');
  let ok = false;
  try {
    await fn(p);
    ok = true;
  } finally {
    await reapAll();
    if (!ok) removeInstance(p);
  }
  await until(() => leftovers(p).length === 0, 5000, 'the instance files to go');
}

/** The test's side of the network: an EAL secondary holding both ports' wires. */
class Net {
  readonly eal: Eal;
  readonly dev: EthDev;
  readonly pool: PktmbufPool;
  readonly wires: Wire[];
  /** Checksums expected out of port P (multiset). */
  readonly expect: Map<number, number>[];
  readonly got: number[];
  unexpected = 0;
  private seq = 0;
  private readonly buf = new Uint32Array(256);

  constructor(prefix: string, nports = 2) {
    this.eal = Eal.init(['-l', '7', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error'], { handleSignals: false }).eal;
    this.eal.onPrimaryExit(() => undefined); // the test goes on when the primary dies
    this.dev = EthDev.attach(this.eal);
    this.pool = PktmbufPool.lookup(this.eal, POOL);
    this.wires = Array.from({ length: nports }, (_, i) => this.dev.wire(i));
    this.expect = Array.from({ length: nports }, () => new Map<number, number>());
    this.got = new Array<number>(nports).fill(0);
  }

  /** Inject n frames (flow flowOf(i)) where port `from` receives; retries what a full queue refuses. */
  async send(from: number, flows: FlowSet, n: number, flowOf = (i: number): number => i % flows.count, ms = 10000, drain = true): Promise<void> {
    const pool = this.pool;
    const exp = this.expect[from ^ 1]!;
    const h = new Uint32Array(256);
    const end = Date.now() + ms;
    for (let done = 0; done < n;) {
      // A well-behaved far side: at most WINDOW packets of this direction in flight.
      while (drain && this.inFlight(from ^ 1) > WINDOW) {
        if (this.drainAll() === 0) await sleep(1);
        if (Date.now() > end) throw new Error(`port ${from ^ 1} returned too little: ${this.inFlight(from ^ 1)} packets outstanding after ${ms} ms`);
      }
      const k = Math.min(256, n - done);
      assert.equal(pool.allocBulk(h, k), k, 'mbufs for the generator');
      for (let i = 0; i < k; i++) {
        const off = pool.dataOffset(h[i]!);
        buildUdpFrame(pool.u8, off, flows, flowOf(done + i), 64, this.seq++, 0);
        pool.setDataLen(h[i]!, 64);
        pool.setPktLen(h[i]!, 64);
        const sum = frameChecksum(pool.u8, off, 64);
        exp.set(sum, (exp.get(sum) ?? 0) + 1);
      }
      let off = 0;
      while (off < k) {
        const r = this.wires[from]!.inject(h.subarray(off), k - off);
        off += r;
        if (off < k) {
          if (drain) this.drainAll();
          if (Date.now() > end) throw new Error(`port ${from} took only ${done + off} of ${n} packets in ${ms} ms`);
          await sleep(2);
        }
      }
      done += k;
      if (drain) this.drainAll();
    }
  }

  /** Collect what every port transmitted so far, checking each frame against `expect`. */
  drainAll(): number {
    let total = 0;
    const pool = this.pool;
    for (let p = 0; p < this.wires.length; p++) {
      const exp = this.expect[p]!;
      for (let k = this.wires[p]!.collect(this.buf, 256); k > 0; k = this.wires[p]!.collect(this.buf, 256)) {
        for (let i = 0; i < k; i++) {
          const h = this.buf[i]!;
          const sum = frameChecksum(pool.u8, pool.dataOffset(h), pool.dataLen(h));
          const left = exp.get(sum);
          if (left === undefined) this.unexpected++;
          else if (left === 1) exp.delete(sum);
          else exp.set(sum, left - 1);
        }
        this.got[p]! += k;
        total += k;
        pool.freeBulk(this.buf, k);
      }
    }
    return total;
  }

  /** Collect until nothing more is expected (or `ms` passes); returns how many are still missing. */
  async settle(ms = 10000): Promise<number> {
    const end = Date.now() + ms;
    while (this.missing() > 0 && Date.now() < end) {
      if (this.drainAll() === 0) await sleep(5);
    }
    return this.missing();
  }

  /** Collect for `ms` whatever comes (to show that nothing more does). */
  async drainFor(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (this.drainAll() === 0) await sleep(5);
    }
  }

  /** Packets still expected out of `port`. */
  inFlight(port: number): number {
    let n = 0;
    for (const v of this.expect[port]!.values()) n += v;
    return n;
  }

  missing(): number {
    let n = 0;
    for (const m of this.expect) for (const v of m.values()) n += v;
    return n;
  }

  /** RX packets per queue of `port` (port counters). */
  rxPerQueue(port: number): number[] {
    return this.dev.stats(port).queues.map((q) => q.ipackets);
  }

  close(): void {
    this.dev.close();
    this.eal.close();
  }
}

/** Send one flow's packets and return the RX queue of port `from` that took them. */
async function queueOfFlow(net: Net, from: number, flows: FlowSet, flow: number, n: number): Promise<number> {
  const before = net.rxPerQueue(from);
  await net.send(from, flows, n, () => flow);
  assert.equal(await net.settle(), 0, `flow ${flow} forwarded`);
  const after = net.rxPerQueue(from);
  const moved = after.map((v, q) => v - before[q]!);
  const qs = moved.flatMap((d, q) => (d > 0 ? [q] : []));
  assert.equal(qs.length, 1, `flow ${flow} on one queue only (moved: ${moved.join(',')})`);
  assert.equal(moved[qs[0]!], n);
  return qs[0]!;
}

function forwardsEverything(nprocs: number): Promise<void> {
  return withInstance(async (p) => {
  const procs: Child[] = [];
  let net: Net | undefined;
  try {
    // Start the highest id first: with auto, whoever comes first is the primary (G26).
    for (let id = nprocs - 1; id >= 0; id--) procs.unshift(await startSym(p, id, nprocs));
    assert.match(procs[nprocs - 1]!.out, /primary: created MProc_pktmbuf_pool/);
    for (let id = 0; id < nprocs - 1; id++) assert.match(procs[id]!.out, /secondary: using MProc_pktmbuf_pool/);
    net = new Net(p);
    const info = net.dev.info(0);
    assert.equal(info.nbRx, nprocs);
    assert.equal(info.nbTx, nprocs);
    // Queue k of every port is held by process k (G19).
    for (let q = 0; q < nprocs; q++) {
      for (const port of [0, 1]) {
        assert.equal(net.dev.info(port).rxq[q]!.owner, procs[q]!.proc.pid);
        assert.equal(net.dev.info(port).txq[q]!.owner, procs[q]!.proc.pid);
      }
    }
    const flows = FlowSet.make({ count: 64 });
    const N = 4000;
    await net.send(0, flows, N);
    await net.send(1, flows, N);
    assert.equal(await net.settle(), 0, `every packet came out of the paired port (port stats: ${JSON.stringify([0, 1].map((x) => net!.dev.stats(x)))})`);
    assert.equal(net.unexpected, 0, 'no packet twice, none altered');
    assert.deepEqual(net.got, [N, N]);
    if (nprocs === 2) {
      const share = net.rxPerQueue(0).map((v) => v / N);
      assert.ok(share.every((x) => x >= 0.3 && x <= 0.7), `RSS spreads 64 flows over both queues (G18): ${share.join(', ')}`);
    }
    // Flows stay on one queue, i.e. one process; the same flow again takes the same queue (G18).
    const qOf: number[] = [];
    for (let f = 0; f < 8; f++) qOf.push(await queueOfFlow(net, 0, flows, f, 50));
    for (let f = 0; f < 8; f++) assert.equal(await queueOfFlow(net, 0, flows, f, 20), qOf[f]);
    const perQ = net.rxPerQueue(0);
    if (nprocs > 1) assert.ok(perQ.every((v) => v > 0), `64 flows reach every queue: ${perQ.join(',')}`);
    const total0 = N + 8 * 70;
    // Each process reports what its queue did (DPDK's exit line), and the sums match.
    const sums = { rx0: 0, tx1: 0, rx1: 0, tx0: 0, drop: 0 };
    for (let k = 0; k < nprocs; k++) {
      const s = await interrupt(procs[k]!);
      assert.equal(s.get(0)!.rx, perQ[k], `process ${k} received queue ${k}'s packets of port 0`);
      if (nprocs > 1) assert.ok(s.get(0)!.rx > 0 && s.get(1)!.rx > 0, `process ${k} receives from both ports (G17)`);
      sums.rx0 += s.get(0)!.rx;
      sums.rx1 += s.get(1)!.rx;
      sums.tx0 += s.get(0)!.tx;
      sums.tx1 += s.get(1)!.tx;
      sums.drop += s.get(0)!.drop + s.get(1)!.drop;
    }
    assert.deepEqual(sums, { rx0: total0, tx1: total0, rx1: N, tx0: N, drop: 0 });
  } finally {
    net?.close();
  }
  });
}

test('one process forwards every packet once each way, unchanged, and reports its counters on SIGINT', () => forwardsEverything(1));

test('two processes share both ports by queue: every packet once, flows stay on one process', () => forwardsEverything(2));

test("the guide's four processes: whoever starts first is primary; every packet once, each queue its process's", () => forwardsEverything(4));

test("G24 with mpdk pktgen: four processes forward 100,000 packets each way in 256 flows, none lost, every process busy", () => withInstance(async (p) => {
  const procs: Child[] = [];
  for (let id = 0; id < 4; id++) procs.push(await startSym(p, id, 4));
  const results: Record<string, number>[] = [];
  for (const [tx, rx] of [[0, 1], [1, 0]]) {
    const r = await run('mpdk', [
      'pktgen', '-l', '7', '--proc-type=secondary', '--file-prefix', p, ...QUIET, '--',
      '--tx-port', String(tx), '--rx-port', String(rx), '--flows', '256', '--count', '100000', '--drain', '5000', '--json', '--quiet',
    ], 60000);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Record<string, number>;
    results.push({ sent: j.sent!, received: j.received!, lost: j.lost!, duplicates: j.duplicates!, foreign: j.foreign! });
  }
  const stats = [];
  for (const c of procs) stats.push(await interrupt(c));
  const detail = JSON.stringify(stats.map((m) => Object.fromEntries(m)));
  for (const r of results) assert.deepEqual(r, { sent: 100000, received: 100000, lost: 0, duplicates: 0, foreign: 0 }, detail);
  for (const s of stats) assert.ok(s.get(0)!.rx > 0 && s.get(1)!.rx > 0, `every process forwarded in both directions: ${detail}`);
  assert.equal(stats.reduce((a, s) => a + s.get(0)!.rx, 0), 100000);
  assert.equal(stats.reduce((a, s) => a + s.get(1)!.tx, 0), 100000);
}));

test('two processes started at the same moment with auto: one sets up, the other waits for it and joins', () => withInstance(async (p) => {
  const both = await Promise.all([startSym(p, 0, 2), startSym(p, 1, 2)]);
  const primaries = both.filter((c) => /primary: created MProc_pktmbuf_pool/.test(c.out));
  assert.equal(primaries.length, 1, both.map((c) => c.out).join('\n'));
  let net: Net | undefined;
  try {
    net = new Net(p);
    await net.send(0, FlowSet.make({ count: 32 }), 1000);
    assert.equal(await net.settle(), 0);
    assert.equal(net.unexpected, 0);
  } finally {
    net?.close();
  }
  for (const c of both) await interrupt(c);
}));

test('a process that comes while the primary is still setting up waits for it, says so after 2 s naming it, and gives up at once when it dies', () => withInstance(async (p) => {
  const a = spawnNode('mpdk', symArgs(p, 1, 'primary', ['-p', '3', '--num-procs=2', '--proc-id=0']), { MPDK_TEST_HOOK: 'symmetric_mp:setup' });
  await a.waitFor(/symmetric_mp:setup reached/, 15000);
  const b = spawnNode('mpdk', symArgs(p, 2, 'secondary', ['-p', '3', '--num-procs=2', '--proc-id=1']));
  await b.waitFor(new RegExp(`waiting for the primary \\(pid ${a.proc.pid}, alive, [a-z ]+\\) to create its configuration \\(memzone symmetric_mp_conf\\)\\.\\.\\. \\(giving up after 15 s\\)`), 10000);
  a.proc.kill('SIGKILL');
  await a.exited;
  assert.equal(await b.exited, 1, b.err);
  assert.match(b.err, /has no symmetric_mp configuration \(memzone symmetric_mp_conf\): its primary is not running; start the first symmetric_mp/);
  assert.equal(b.err.trim().split('\n').length, 2, `the notice and the refusal, nothing else:\n${b.err}`);
  removeInstance(p);
}));

test('one process with two lcores and -p f: each lcore forwards one pair, 2→3 and 1→0 stay in their pair (G32)', () => withInstance(async (p) => {
  const R4 = [...R2, '--vdev=net_ring2', '--vdev=net_ring3'];
  const a = spawnNode('mpdk', ['symmetric_mp', '-l', '1-2', '--proc-type=auto', '--file-prefix', p, ...QUIET, ...R4, '--', '-p', 'f', '--num-procs=1', '--proc-id=0']);
  await a.waitFor(/APP: Finished Process Init\./, 15000);
  assert.match(a.out, /Lcore 1 using ports 0 1\n/);
  assert.match(a.out, /Lcore 2 using ports 2 3\n/);
  let net: Net | undefined;
  try {
    net = new Net(p, 4);
    assert.equal(net.dev.info(2).rxq[0]!.ownerLcore, 2, 'the worker lcore holds the queues of its pair');
    const flows = FlowSet.make({ count: 16 });
    await net.send(2, flows, 1000);
    assert.equal(await net.settle(), 0);
    assert.deepEqual(net.got, [0, 0, 0, 1000]);
    await net.send(1, flows, 1000);
    assert.equal(await net.settle(), 0);
    assert.deepEqual(net.got, [1000, 0, 0, 1000]);
    assert.equal(net.unexpected, 0);
  } finally {
    net?.close();
  }
  const s = await interrupt(a);
  assert.deepEqual(Object.fromEntries(s), {
    0: { rx: 0, tx: 1000, drop: 0 }, 1: { rx: 1000, tx: 0, drop: 0 }, 2: { rx: 1000, tx: 0, drop: 0 }, 3: { rx: 0, tx: 1000, drop: 0 },
  });
}));

test('refusals: odd ports, bad or taken proc-id, mismatched -p / --num-procs, absent port, no --num-procs; nothing disturbed', () => withInstance(async (p) => {
  const bad = (lcore: number, app: string[], type = 'auto', vdevs = R2): Promise<{ code: number; out: string; err: string }> =>
    run('mpdk', symArgs(p, lcore, type, app, vdevs), 15000);
  let net: Net | undefined;
  try {
    // Before any instance exists: refused from the options alone, nothing created.
    let r = await bad(1, ['-p', '1', '--num-procs=2', '--proc-id=0']);
    assert.equal(r.code, 2);
    assert.match(r.err, /even number of ports/);
    r = await bad(1, ['-p', '3', '--num-procs=4', '--proc-id=4']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--proc-id 4.*from 0 to 3/);
    r = await bad(1, ['-p', '3', '--num-procs=4', '--proc-id=-1']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--proc-id -1.*from 0 to 3/);
    r = await bad(1, ['-p', '3', '--proc-id=0']);
    assert.equal(r.code, 1, 'with auto, whether this process sets the instance up is decided at run time');
    assert.match(r.err, /missing --num-procs/);
    for (const [app, re] of [
      [['-p', '0', '--num-procs=2', '--proc-id=0'], /selects no port/],
      [['-p', 'zz', '--num-procs=2', '--proc-id=0'], /invalid -p 'zz'/],
      [['--num-procs=2', '--proc-id=0'], /a port mask is required/],
      [['-p', '3', '--num-procs=0', '--proc-id=0'], /invalid --num-procs 0/],
    ] as const) {
      r = await bad(1, [...app]);
      assert.equal(r.code, 2, `${app.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    }
    r = await bad(1, ['-p', '3', '--num-procs=2', '--proc-id=0'], 'auto', ['--vdev=net_ring0']);
    assert.equal(r.code, 1);
    assert.match(r.err, /port 1 .*does not exist/);
    r = await run('mpdk', ['symmetric_mp', '-l', '1', '--file-prefix', p, ...R2, '-p', '3', '--num-procs=2', '--proc-id=0']);
    assert.equal(r.code, 2, 'app options before -- are unknown EAL options');
    assert.match(r.err, /'-p'/);
    assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    assert.deepEqual(leftovers(p), []);

    const a = await startSym(p, 0, 4);
    net = new Net(p);
    const flows = FlowSet.make({ count: 16 });
    r = await bad(2, ['-p', '3', '--num-procs=2', '--proc-id=1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /--num-procs=2 differs from --num-procs=4/);
    r = await bad(2, ['-p', '1', '--num-procs=4', '--proc-id=1']);
    assert.equal(r.code, 2, 'an odd mask is a usage error even as a secondary');
    r = await bad(2, ['-p', '3', '--num-procs=4', '--proc-id=0']);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`--proc-id=0 is already running as pid ${a.proc.pid}`));
    assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    r = await bad(2, ['-p', '3', '--proc-id=7'], 'secondary');
    assert.equal(r.code, 1, 'refused by what the primary configured: run time');
    assert.match(r.err, /--num-procs=4, so it must be from 0 to 3/);
    // A secondary may leave out --num-procs: it takes the primary's.
    const b = spawnNode('mpdk', symArgs(p, 2, 'secondary', ['-p', '3', '--proc-id=1']));
    await b.waitFor(/APP: Finished Process Init\./, 15000);
    const c = await startSym(p, 2, 4);
    const d = await startSym(p, 3, 4);
    // The primary still owns its queues and all four forward: nothing was disturbed.
    assert.equal(net.dev.info(0).rxq[0]!.owner, a.proc.pid);
    await net.send(0, flows, 500);
    await net.send(1, flows, 500);
    assert.equal(await net.settle(), 0);
    assert.equal(net.unexpected, 0);
    for (const x of [b, c, d, a]) await interrupt(x);
  } finally {
    net?.close();
  }
}));

test('a mask that differs from the primary\'s is refused naming both masks', () => withInstance(async (p) => {
  const R4 = [...R2, '--vdev=net_ring2', '--vdev=net_ring3'];
  const a = spawnNode('mpdk', symArgs(p, 1, 'auto', ['-p', 'f', '--num-procs=2', '--proc-id=0'], R4));
  await a.waitFor(/APP: Finished Process Init\./, 15000);
  const r = await run('mpdk', symArgs(p, 2, 'auto', ['-p', '3', '--num-procs=2', '--proc-id=1'], R4));
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /-p 3 differs from -p f/);
  assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
  await interrupt(a);
}));

test('what the TX queue does not take is freed and counted as drops; --stats-period prints a periodic line', () => withInstance(async (p) => {
  let net: Net | undefined;
  try {
    const a = await startSym(p, 0, 1, 'auto', ['--stats-period', '1']);
    net = new Net(p);
    const flows = FlowSet.make({ count: 8 });
    // Nobody collects port 1 meanwhile: its TX ring fills and the rest is dropped.
    const txRing = net.dev.info(1).txq[0]!.nbDesc;
    const N = txRing + 2000;
    await net.send(0, flows, N, undefined, 10000, false);
    await until(() => net!.dev.stats(0).ipackets === N, 5000, 'port 0 to receive everything');
    await net.drainFor(200);
    assert.equal(net.got[1], txRing, 'the TX ring held what it could');
    assert.equal(net.missing(), N - txRing);
    assert.equal(net.pool.inUse(), 0, 'every dropped mbuf went back to the pool');
    await a.waitFor(new RegExp(`stats proc-id 0: Port 0: RX - ${N}, TX - 0, Drop - 0; Port 1: RX - 0, TX - ${txRing}, Drop - ${N - txRing}`), 5000);
    // Idle costs nothing: with no traffic the loop sleeps (IdlePolicy), well under a core.
    const cpu = (): number => {
      const f = fs.readFileSync(`/proc/${a.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks
    };
    const c0 = cpu();
    await sleep(1000);
    const ticks = cpu() - c0;
    assert.ok(ticks < 30, `an idle symmetric_mp used ${ticks} ticks of CPU in 1 s`);
    const s = await interrupt(a);
    assert.deepEqual(s.get(1), { rx: 0, tx: txRing, drop: N - txRing });
    assert.deepEqual(s.get(0), { rx: N, tx: 0, drop: 0 });
  } finally {
    net?.close();
  }
}));

function primaryDies(restartType: 'secondary' | 'auto'): Promise<void> {
  return withInstance(async (p) => {
  let net: Net | undefined;
  try {
    const a = await startSym(p, 0, 2); // the primary, id 0
    const b = await startSym(p, 1, 2);
    net = new Net(p);
    const flows = FlowSet.make({ count: 16 });
    const qOf: number[] = [];
    for (let f = 0; f < 16; f++) qOf.push(await queueOfFlow(net, 0, flows, f, 10));
    assert.ok(qOf.includes(0) && qOf.includes(1), `16 flows use both queues: ${qOf.join(',')}`);

    a.proc.kill('SIGKILL');
    await a.exited;
    await b.waitFor(/primary process \(pid \d+\) has exited; proc-id 1 keeps forwarding/, 5000);
    // Queue 1's flows still go through; queue 0's wait in its RX ring, unread.
    const before = net.got[1]!;
    await net.send(0, flows, 320);
    const onQ1 = 320 / 16 * qOf.filter((q) => q === 1).length;
    await until(() => (net!.drainAll(), net!.got[1]! - before >= onQ1), 5000, 'queue 1 flows forwarded');
    await net.drainFor(300);
    assert.equal(net.got[1]! - before, onQ1, 'only the dead process\'s queue stopped');
    assert.equal(net.missing(), 320 - onQ1);

    // The dead id comes back and takes over its queues: what waited comes out, once.
    const a2 = await startSym(p, 0, 2, restartType);
    assert.match(a2.out, restartType === 'auto' ? /adopted the live instance/ : /secondary: using/);
    assert.equal(net.dev.info(0).rxq[0]!.owner, a2.proc.pid);
    assert.equal(await net.settle(), 0, 'the waiting packets were forwarded');
    await net.send(0, flows, 500);
    await net.send(1, flows, 500);
    assert.equal(await net.settle(), 0);
    assert.equal(net.unexpected, 0, 'nothing twice');
    const sb = await interrupt(b);
    assert.equal(sb.get(0)!.drop + sb.get(1)!.drop, 0);
    await interrupt(a2);
  } finally {
    net?.close();
  }
  });
}

test('the primary is killed: the other keeps forwarding; restarted as secondary, id 0 resumes its queues', () => primaryDies('secondary'));

test('after the primary died, --proc-type=auto adopts the live instance instead of wiping it', () => primaryDies('auto'));

test('a process killed with a burst in hand: restarted with its --proc-id, it returns what its predecessor held; nothing leaked, nothing twice', () => withInstance(async (p) => {
  let net: Net | undefined;
  try {
    const a = await startSym(p, 0, 1); // the primary; one queue per port
    net = new Net(p);
    const flows = FlowSet.make({ count: 16 });
    await net.send(0, flows, 64);
    assert.equal(await net.settle(), 0);
    await interrupt(a);
    // id 0 again, stopped by the test hook right after its next receive, then killed there
    const b = spawnNode('mpdk', symArgs(p, 1, 'auto', ['-p', '3', '--num-procs=1', '--proc-id=0']), { MPDK_TEST_HOOK: 'hands:rx' });
    await b.waitFor(/APP: Finished Process Init\./, 15000);
    await net.send(0, flows, 100, undefined, 10000, false);
    await b.waitFor(/hands:rx reached/, 5000);
    const held = auditInstance(net.eal).pools.find((x) => x.name === POOL)!;
    assert.ok(held.heldByLive > 0 && held.leaked === 0, `held ${held.heldByLive}, leaked ${held.leaked}`);
    b.proc.kill('SIGKILL');
    await b.exited;
    const c = await startSym(p, 0, 1, 'auto');
    assert.match(c.out, /symmetric_mp: reclaimed what pid \d+ held/);
    // The rest comes out once the successor forwards (waited for: a successor descheduled for
    // the old fixed 3 s had forwarded nothing yet); then 3 s more in which the held burst, returned, does not.
    // (Not out within 15 s: the assertion below says how many are missing.)
    await until(() => (net!.drainAll(), net!.missing() <= held.heldByLive), 15000).catch(() => undefined);
    assert.equal(await net.settle(3000), held.heldByLive, 'the burst it held was returned, not forwarded; the rest came out');
    assert.equal(net.unexpected, 0, 'nothing twice');
    const after = auditInstance(net.eal).pools.find((x) => x.name === POOL)!;
    assert.deepEqual([after.leaked, after.duplicates, after.heldByDead], [0, 0, 0]);
    await interrupt(c);
  } finally {
    net?.close();
  }
}));
