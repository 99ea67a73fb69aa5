/**
 * net_af_packet on a veth pair inside a network namespace the test creates and removes:
 * frames both ways byte for byte (and the port's MAC from the interface), PACKET_FANOUT
 * spreading flows over two processes with no flow seen by both, and the probe's refusals.
 * Skipped with the reason when not root or when `ip` is missing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { exitStatus, leftovers, removeInstance, ROOT, uniquePrefix } from './helpers.js';

const CHILD = path.join(ROOT, 'dist/test/af_packet-child.js');
const NS = `mpdkafp${process.pid}`;

function hasIp(): boolean {
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const skip = process.getuid?.() !== 0 ? 'needs root (network namespace, veth, AF_PACKET)' : !hasIp() ? 'the `ip` command (iproute2) is missing' : false;

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

interface NsChild {
  proc: ChildProcess;
  out: string;
  exited: Promise<number>;
  lines(): Record<string, unknown>[];
  waitFor(re: RegExp, ms: number): Promise<void>;
  send(line: string): void;
}
const children = new Set<ChildProcess>();

/** `node af_packet-child.js args` inside the namespace (ip netns exec execs node itself). */
function nsNode(args: string[]): NsChild {
  const proc = spawn('ip', ['netns', 'exec', NS, process.execPath, CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  const c: NsChild = {
    proc, out: '',
    exited: exitStatus(proc, () => children.delete(proc)),
    lines: () => c.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    waitFor: (re, ms) => new Promise((resolve, reject) => {
      const t = setInterval(() => {
        if (re.test(c.out)) {
          clearInterval(t);
          clearTimeout(to);
          resolve();
        }
      }, 10);
      const to = setTimeout(() => {
        clearInterval(t);
        reject(new Error(`timed out after ${ms} ms waiting for ${re}; output:\n${c.out}`));
      }, ms);
    }),
    send: (line) => void proc.stdin!.write(line + '\n'),
  };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (c.out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (c.out += d));
  return c;
}

async function reap(): Promise<void> {
  await Promise.all([...children].map((p) => new Promise<void>((r) => {
    if (p.exitCode !== null || p.signalCode !== null) return r();
    p.once('exit', () => r());
    p.kill('SIGKILL');
  })));
}

before(() => {
  if (skip) return;
  ip('netns', 'add', NS);
  ip('-n', NS, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
  execFileSync('ip', ['netns', 'exec', NS, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6']);
  ip('-n', NS, 'link', 'set', 'va', 'up');
  ip('-n', NS, 'link', 'set', 'vb', 'up');
});

after(async () => {
  await reap();
  if (!skip) {
    try {
      ip('netns', 'del', NS);
    } catch {
      /* already gone */
    }
    assert.ok(!ip('netns', 'list').includes(NS), 'the namespace is removed');
  }
});

function ealArgs(prefix: string, lcore: number, primary: boolean, vdevs: string[]): string[] {
  return ['-l', String(lcore), '-m', '64', '--file-prefix', prefix, `--proc-type=${primary ? 'primary' : 'secondary'}`, '--log-level', 'error', ...vdevs.flatMap((v) => ['--vdev', v])];
}

test('frames cross the veth pair both ways byte for byte; MAC from the interface', { skip, timeout: 30000 }, async () => {
  const p = uniquePrefix('afp');
  try {
    const c = nsNode([...ealArgs(p, 0, true, ['net_af_packet0,iface=va', 'net_af_packet1,iface=vb']), '--', 'pair:500']);
    c.proc.stdin!.end();
    assert.equal(await c.exited, 0, c.out);
    const r = c.lines().at(-1)!;
    assert.equal(r.error, undefined, String(r.message));
    assert.equal(r.sentAB, 500);
    assert.equal(r.sentBA, 500);
    assert.equal(r.ab, 500, c.out);
    assert.equal(r.ba, 500, c.out);
    assert.equal(r.identical, true);
    const macA = execFileSync('ip', ['netns', 'exec', NS, 'cat', '/sys/class/net/va/address'], { encoding: 'utf8' }).trim();
    assert.equal((r.macs as string[])[0], macA);
    assert.equal((r.link as { up: boolean }).up, true);
    assert.equal(r.available, 4095, 'every mbuf back in the pool');
    const st = r.stats0 as { ipackets: number; opackets: number; oerrors: number };
    assert.equal(st.opackets, 500);
    assert.equal(st.ipackets, 500);
  } finally {
    removeInstance(p);
  }
  assert.deepEqual(leftovers(p), []);
});

test('the link follows the interface carrier: down while the veth peer is down, up again after', { skip, timeout: 30000 }, async () => {
  const p = uniquePrefix('afp');
  const prim = nsNode([...ealArgs(p, 0, true, ['net_af_packet0,iface=va,qpairs=2', 'net_af_packet1,iface=vb']), '--', 'serve']);
  /** Ask until the port's link reads `want` (carrier changes reach sysfs asynchronously). */
  const linkBecomes = async (want: boolean): Promise<void> => {
    const end = Date.now() + 5000;
    for (;;) {
      const n = prim.lines().length;
      prim.send('link');
      const t = Date.now() + 2000;
      while (prim.lines().length === n && Date.now() < t) await new Promise((r) => setTimeout(r, 20));
      if (prim.lines().at(-1)?.link === want) return;
      if (Date.now() > end) assert.fail(`link never read ${want}; output:\n${prim.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await prim.waitFor(/"ready":true/, 10000);
    await linkBecomes(true);
    ip('-n', NS, 'link', 'set', 'vb', 'down');
    await linkBecomes(false);
    ip('-n', NS, 'link', 'set', 'vb', 'up');
    await linkBecomes(true);
    prim.proc.stdin!.end();
    assert.equal(await prim.exited, 0, prim.out);
  } finally {
    ip('-n', NS, 'link', 'set', 'vb', 'up');
    removeInstance(p);
  }
  assert.deepEqual(leftovers(p), []);
});

test('PACKET_FANOUT splits flows over two processes; no flow is seen by both', { skip, timeout: 40000 }, async () => {
  const p = uniquePrefix('afp');
  try {
    const prim = nsNode([...ealArgs(p, 0, true, ['net_af_packet0,iface=va,qpairs=2', 'net_af_packet1,iface=vb']), '--', 'serve']);
    await prim.waitFor(/"ready":true/, 10000);
    // Each ends 500 ms after its last frame once the two queues together have the 2560 sent
    // below (a sender descheduled for 500 ms ended them early: 677 + 1360 once under load).
    const rx0 = nsNode([...ealArgs(p, 1, false, []), '--', 'rx:0:0:500:2560']);
    const rx1 = nsNode([...ealArgs(p, 2, false, []), '--', 'rx:0:1:500:2560']);
    await rx0.waitFor(/"claimed":true/, 10000);
    await rx1.waitFor(/"claimed":true/, 10000);
    prim.send('send:256:2560');
    await prim.waitFor(/"sent":\d+/, 10000);
    const sent = prim.lines().find((l) => 'sent' in l)!.sent as number;
    assert.equal(sent, 2560);
    await rx0.waitFor(/"got":/, 25000);
    await rx1.waitFor(/"got":/, 25000);
    const a = rx0.lines().find((l) => 'got' in l)! as { got: number; flows: number[] };
    const b = rx1.lines().find((l) => 'got' in l)! as { got: number; flows: number[] };
    assert.equal(a.got + b.got, sent, `every frame received once: ${a.got} + ${b.got}`);
    assert.ok(a.flows.length > 0 && b.flows.length > 0, `both processes got flows: ${a.flows.length} / ${b.flows.length}`);
    const shared = a.flows.filter((f) => b.flows.includes(f));
    assert.deepEqual(shared, [], 'no flow on both queues');
    assert.equal(a.flows.length + b.flows.length, 256);
    console.log(`# fanout: ${a.flows.length} / ${b.flows.length} flows, ${a.got} / ${b.got} frames`);
    assert.equal(await rx0.exited, 0);
    assert.equal(await rx1.exited, 0);
    prim.proc.stdin!.end();
    assert.equal(await prim.exited, 0, prim.out);
  } finally {
    await reap();
    removeInstance(p);
  }
  assert.deepEqual(leftovers(p), []);
});

test('a receiver killed after a burst that dropped frames too large for its mbufs, before its record\'s commit: it holds exactly the frames it kept, returned once', { skip, timeout: 40000 }, async () => {
  const p = uniquePrefix('afp');
  try {
    const prim = nsNode([...ealArgs(p, 0, true, ['net_af_packet0,iface=va,qpairs=2', 'net_af_packet1,iface=vb']), '--', 'serve:small']);
    await prim.waitFor(/"ready":true/, 10000);
    const own = spawn('ip', ['netns', 'exec', NS, process.execPath, CHILD, ...ealArgs(p, 1, false, []), '--', 'own'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MPDK_TEST_HOOK: 'hands:rx' } });
    children.add(own);
    let ownOut = '';
    own.stdout!.setEncoding('utf8').on('data', (d: string) => (ownOut += d));
    own.stderr!.setEncoding('utf8').on('data', (d: string) => (ownOut += d));
    const exited = new Promise<void>((r) => own.on('exit', () => r()));
    for (const end = Date.now() + 10000; !ownOut.includes('"claimed":true'); await new Promise((r) => setTimeout(r, 20))) if (Date.now() > end) assert.fail(ownOut);
    prim.send('send:8:70'); // 60 to 660 bytes: 2 in 7 fit a 256-byte buffer, the first does not (whatever burst reaches the hook)
    for (const end = Date.now() + 10000; !ownOut.includes('hands:rx reached'); await new Promise((r) => setTimeout(r, 20))) if (Date.now() > end) assert.fail(`no burst reached the hook: ${ownOut}`);
    own.kill('SIGKILL');
    await exited;
    const aud = nsNode([...ealArgs(p, 2, false, []), '--', 'audit']);
    assert.equal(await aud.exited, 0, aud.out);
    const r = aud.lines().at(-1) as { dead: { heldByDead: number; leaked: number; duplicates: number }; returned: number; after: { heldByDead: number; leaked: number; duplicates: number }; ierrors: number; available: number; size: number };
    assert.ok(r.ierrors > 0, `the burst dropped frames too large for the buffers: ${JSON.stringify(r)}`);
    assert.ok(r.dead.heldByDead > 0, JSON.stringify(r));
    assert.deepEqual([r.dead.leaked, r.dead.duplicates], [0, 0], `the kept frames are the dead one's, the others back in the pool: ${JSON.stringify(r)}`);
    assert.equal(r.returned, r.dead.heldByDead);
    assert.deepEqual([r.after.heldByDead, r.after.leaked, r.after.duplicates], [0, 0, 0]);
    assert.equal(r.available, r.size, 'every buffer of the RX pool back');
    prim.proc.stdin!.end();
    assert.equal(await prim.exited, 0, prim.out);
  } finally {
    await reap();
    removeInstance(p);
  }
  assert.deepEqual(leftovers(p), []);
});

test('probe refuses a missing interface (naming it), a missing iface=, bad devargs', { skip, timeout: 30000 }, async () => {
  const p = uniquePrefix('afp');
  const cases: [string, RegExp][] = [
    ['net_af_packet0,iface=nosuch0', /ENODEV.*no interface 'nosuch0'.*interfaces: .*va/],
    ['net_af_packet0', /EINVAL.*iface=NAME is required/],
    ['net_af_packet0,iface=va,blocksz=5000', /power of two/],
    ['net_af_packet0,iface=va,fanout_mode=rr', /fanout_mode=rr/],
    ['net_af_packet0,iface=va,qpairs=0', /qpairs=0 is not an integer from 1/],
  ];
  for (const [vdev, re] of cases) {
    const c = nsNode([...ealArgs(p, 0, true, [vdev]), '--', 'rx:0:0:10']);
    c.proc.stdin!.end();
    await c.exited;
    assert.match(c.lines().map((l) => `${String(l.error)} ${String(l.message)}`).join('\n'), re, c.out);
  }
  removeInstance(p);
  assert.deepEqual(leftovers(p), []);
});

test('nothing of the namespace leaks into the host', { skip }, () => {
  assert.ok(!fs.existsSync('/sys/class/net/va'), 'va lives only in the namespace');
});
