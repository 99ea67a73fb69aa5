/**
 * l2fwd_fork (master-slave forwarding with recovery), with real processes: the master
 * (`mpdk l2fwd_fork`), its slave processes, and a wire generator (src/apps/l2fwd_fork/
 * wiregen.ts) that feeds both net_ring ports and checks every forwarded frame.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

const GEN = 'dist/src/apps/l2fwd_fork/wiregen.js';
const VDEVS = ['--vdev=net_ring0', '--vdev=net_ring1'];
const prefixes: string[] = [];

after(async () => {
  await reapAll();
  for (const p of prefixes) removeInstance(p);
});

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
}

/** Running (a zombie waiting for its reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** The current slave pid of each lcore, from the master's log. */
function slavePids(m: Child): number[] {
  const last = new Map<number, number>();
  for (const x of m.out.matchAll(/slave lcore (\d+) started: pid (\d+)/g)) last.set(Number(x[1]), Number(x[2]));
  return [...last.keys()].sort().map((l) => last.get(l)!);
}

/** Received count of the generator's last progress line. */
function genRx(g: Child): number {
  const m = [...g.out.matchAll(/gen sent=(\d+) rx=(\d+) bad=(\d+)/g)].pop();
  return m ? Number(m[2]) : 0;
}

function genBad(g: Child): number {
  const m = [...g.out.matchAll(/gen (?:final )?sent=(\d+) rx=(\d+) bad=(\d+)/g)].pop();
  return m ? Number(m[3]) : -1;
}

async function startMaster(extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ m: Child; prefix: string; slaves: number[] }> {
  const prefix = uniquePrefix('l2f');
  prefixes.push(prefix);
  const m = spawnNode('mpdk', ['l2fwd_fork', '-l', '0-2', '--file-prefix', prefix, '--log-level', 'error', ...VDEVS, '--', '-p', '3', '-T', '0', ...extra], env);
  await m.waitFor(/slave lcore 2 started: pid \d+/, 15000);
  await m.waitFor(/rx ports 1 -> tx ports 0[\s\S]*rx ports 0 -> tx ports 1|rx ports 0 -> tx ports 1[\s\S]*rx ports 1 -> tx ports 0/, 15000);
  const slaves = await until(() => {
    const c = childrenOf(m.proc.pid!);
    const s = slavePids(m);
    return s.length === 2 && s.every((p) => c.includes(p)) ? s : undefined;
  }, 5000, 'two slave processes, children of the master');
  return { m, prefix, slaves };
}

function startGen(prefix: string, rate = 20000): Child {
  return spawnNode(GEN, ['-l', '120', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', '-p', '3', '--rate', String(rate), '--report', '50']);
}

/** Wait until the generator has received `more` frames beyond now. */
async function forwarding(g: Child, more = 500, ms = 10000): Promise<void> {
  const base = genRx(g);
  await until(() => genRx(g) >= base + more, ms, `forwarding (generator rx beyond ${base + more}; output:\n${g.out.slice(-300)})`);
}

/** Stop the generator, then the master; return the master's output. */
async function stopAll(g: Child, m: Child, prefix: string): Promise<string> {
  g.proc.kill('SIGTERM');
  assert.equal(await g.exited, 0);
  assert.equal(genBad(g), 0, `corrupted frames: ${g.out.slice(-400)}`);
  await sleep(200);
  m.proc.kill('SIGTERM');
  assert.equal(await m.exited, 0, m.err);
  assert.deepEqual(leftovers(prefix), []);
  return m.out;
}

function auditClean(out: string): void {
  const a = out.match(/mbuf_pool audit: (\d+) mbufs: .* (\d+) elsewhere \(held by other processes, or leaked\), (\d+) duplicates/);
  assert.ok(a, `no audit line in:\n${out.slice(-1500)}`);
  assert.equal(Number(a[2]), 0, `leaked mbufs: ${a[0]}`);
  assert.equal(Number(a[3]), 0, `duplicated mbufs: ${a[0]}`);
}

describe('l2fwd_fork', () => {
  it('prints its usage with --help and refuses bad options and too few lcores', async () => {
    const h = await run('mpdk', ['l2fwd_fork', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /usage: mpdk l2fwd_fork/);
    const bad = await run('mpdk', ['l2fwd_fork', '-l', '0-2', '--file-prefix', uniquePrefix('l2f'), ...VDEVS, '--', '-p', '3', '-x']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown option '-x'/);
    const odd = await run('mpdk', ['l2fwd_fork', '-l', '0-3', '--file-prefix', uniquePrefix('l2f'), ...VDEVS, '--vdev=net_ring2', '--', '-p', '7']);
    assert.equal(odd.code, 2);
    assert.match(odd.err, /port 2 has no pair/);
    const p = uniquePrefix('l2f');
    const few = await run('mpdk', ['l2fwd_fork', '-l', '0-1', '--file-prefix', p, '--log-level', 'error', ...VDEVS, '--', '-p', '3']);
    assert.equal(few.code, 2); // -l and -p alone decide it: a wrong command line
    assert.match(few.err, /needs 3 lcores for 2 ports/);
    assert.doesNotMatch(few.out, /slave lcore/);
    assert.deepEqual(leftovers(p), []);
  });

  it('forwards with the MAC rewrite, replaces both slaves of the pair after each kill -9, and accounts for every mbuf', async () => {
    const { m, prefix } = await startMaster();
    assert.match(m.out, /Initializing port 0[\s\S]*lcore 1 and 2 paired[\s\S]*slave lcore 1 started/);
    const g = startGen(prefix);
    await forwarding(g, 2000, 15000);
    for (let k = 0; k < 5; k++) {
      const slaves = slavePids(m);
      assert.equal(slaves.length, 2, `two slaves before kill ${k}`);
      const victim = slaves[k % 2]!;
      const starts = (m.out.match(/started: pid/g) ?? []).length;
      await sleep(Math.floor(Math.random() * 100));
      process.kill(victim, 'SIGKILL');
      await m.waitFor(new RegExp(`\\(pid ${victim}\\) killed by SIGKILL`), 5000);
      await until(() => (m.out.match(/started: pid/g) ?? []).length >= starts + 2, 10000, 'two new slaves');
      await forwarding(g, 500, 15000);
      const now = slavePids(m);
      assert.ok(now.every((p) => childrenOf(m.proc.pid!).includes(p)), 'the new slaves are children of the master');
      assert.ok(!now.includes(victim) && now.every((p) => !slaves.includes(p)), `both slaves replaced: ${slaves} -> ${now}`);
    }
    assert.match(m.out, /STOP sent to lcore \d \(pid \d+\), which depends on lcore \d/);
    assert.match(m.out, /acknowledged STOP/);
    const out = await stopAll(g, m, prefix);
    auditClean(out);
    assert.match(out, /Total packets sent:\s+[1-9]/);
  });

  it('floating slaves lease unused lcore ids, recover the same way, and return their ids', async () => {
    const { m, prefix } = await startMaster(['-f']);
    const ids = await until(() => {
      const all = [...m.out.matchAll(/Org lcore_id = (\d+), cur lcore_id = (\d+)/g)];
      return all.length >= 2 ? all.map((x) => Number(x[2])) : undefined;
    }, 10000, 'floating id lines');
    assert.equal(new Set(ids).size, 2);
    for (const x of ids) assert.ok(x > 2, `floating id ${x} is not one of -l 0-2`);
    const g = startGen(prefix);
    await forwarding(g, 1000, 15000);
    for (let k = 0; k < 3; k++) {
      const slaves = slavePids(m);
      const starts = (m.out.match(/started: pid/g) ?? []).length;
      process.kill(slaves[k % 2]!, 'SIGKILL');
      await until(() => (m.out.match(/started: pid/g) ?? []).length >= starts + 2, 10000, 'two new slaves');
      await forwarding(g, 500, 15000);
    }
    assert.match(m.out, /floating id \d+/);
    const out = await stopAll(g, m, prefix);
    auditClean(out);
  });

  it('stops everything on SIGTERM, and its slaves exit within a second when the master is killed', async () => {
    const a = await startMaster();
    a.m.proc.kill('SIGTERM');
    assert.equal(await a.m.exited, 0);
    for (const s of a.slaves) assert.ok(!alive(s), `slave ${s} still alive`);
    assert.deepEqual(childrenOf(a.m.proc.pid!), []);
    assert.match(a.m.out, /Port statistics/);
    assert.deepEqual(leftovers(a.prefix), []);

    const b = await startMaster();
    await sleep(500);
    const all = childrenOf(b.m.proc.pid!); // the slaves, and standby slaves still starting
    b.m.proc.kill('SIGKILL');
    await b.m.exited;
    await until(() => b.slaves.every((s) => !alive(s)), 1000, 'slaves gone within a second of the master');
    // A standby still loading its modules checks its parent once they are loaded.
    await until(() => all.every((s) => !alive(s)), 5000, 'standby slaves gone');
    await until(() => leftovers(b.prefix).length === 0, 5000, 'the last slave out removes the files');
  });
});
