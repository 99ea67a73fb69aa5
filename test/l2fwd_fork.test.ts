/**
 * l2fwd_fork (master-slave forwarding with recovery), with real processes: the master
 * (`mpdk l2fwd_fork`), its slave processes, and a wire generator (src/apps/l2fwd_fork/
 * wiregen.ts) that feeds both net_ring ports and checks every forwarded frame.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { exited, leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

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

/** Running (a zombie whose threads have all exited counts as gone). */
function alive(pid: number): boolean {
  return !exited(pid);
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

/** The process title (what ps -f shows): /proc/PID/cmdline with its NULs as spaces. */
function title(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Children of the master that are standby slaves (by their title). */
function standbyPids(m: Child): number[] {
  return childrenOf(m.proc.pid!).filter((p) => title(p).startsWith('l2fwd_fork standby slave'));
}

function cpusAllowed(pid: number | 'self'): string {
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? '?';
}

/** The back-off delays the master announced, in order. */
function backoffs(out: string): number[] {
  return [...out.matchAll(/restarting lcores? [\d, ]+ in (\d+) ms \(start-up failure (\d+)\)/g)].map((x) => Number(x[1]));
}

function startGen(prefix: string, rate = 20000, mask = '3'): Child {
  return spawnNode(GEN, ['-l', '120', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', '-p', mask, '--rate', String(rate), '--report', '50']);
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
    assert.match(h.out, /failed N times in a row/, '--help says how start-up failures are retried');
    assert.match(h.out, /l2fwd_fork standby slave/, '--help says what ps shows');
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
    // Where the time went, step by step, in the master's own words.
    assert.match(m.out, /recovery of lcores 1, 2 \(ms after the exit was seen\): partners stopped \+[\d.]+, reclaimed and ports restarted \+[\d.]+, launched \+[\d.]+ \(\d standbys? promoted\), ready \+[\d.]+, first packet forwarded \+[\d.]+/);
    const out = await stopAll(g, m, prefix);
    auditClean(out);
    assert.match(out, /Total packets sent:\s+[1-9]/);
  });

  // The generator holds its frames in its ownership record (Hands, WireSend): killed between an
  // RX ring's head and tail stores (its burst not published), the master's reclaim at the end
  // rolls the ring back and returns the burst. The old generator held them in a plain array and
  // named no ring: the burst stayed past the ring's tail, leaked (32 in the master's audit).
  it('the wire generator killed between an RX ring\'s head and tail stores leaves nothing leaked: the master\'s audit at its end is clean', async () => {
    const { m, prefix } = await startMaster();
    const g = spawnNode(GEN, ['-l', '120', '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--', '-p', '3', '--rate', '20000'], { MPDK_TEST_HOOK: 'ring-sp:prod' });
    await g.waitFor(/ring-sp:prod reached/, 10000);
    g.proc.kill('SIGKILL');
    await g.exited;
    m.proc.kill('SIGTERM');
    assert.equal(await m.exited, 0, m.err);
    auditClean(m.out);
    assert.deepEqual(leftovers(prefix), []);
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

  it('ps shows each process\'s role: "l2fwd_fork slave lcore N" with its real arguments, "l2fwd_fork standby slave"; --standby=0 gives the guide\'s three processes', async () => {
    const { m, prefix, slaves } = await startMaster();
    const master = m.proc.pid!;
    const sb = await until(() => {
      const x = standbyPids(m);
      return x.length === 2 ? x : undefined;
    }, 15000, 'two standby slaves');
    for (const [i, pid] of slaves.entries()) {
      const l = i + 1;
      assert.match(title(pid), new RegExp(`^l2fwd_fork slave lcore ${l} \\(master ${master}\\): -l ${l} --proc-type=secondary --file-prefix ${prefix} --log-level error -- -p 3 -q 1 -T 0 --idle=sleep$`), `slave ${pid}`);
    }
    for (const pid of sb) assert.match(title(pid), new RegExp(`^l2fwd_fork standby slave \\(master ${master}\\): --proc-type=secondary --file-prefix ${prefix} .*-- -p 3 `), `standby ${pid}`);
    // The guide's procedure, as an operator types it.
    const ps = execFileSync('ps', ['-fe'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('l2fwd_fork') && l.includes(prefix));
    assert.equal(ps.length, 5, `master, 2 slaves, 2 standbys:\n${ps.join('\n')}`);
    // A promoted standby takes the slave's title.
    const g = startGen(prefix);
    await forwarding(g, 500, 15000);
    process.kill(slaves[0]!, 'SIGKILL');
    await until(() => slavePids(m).every((p) => !slaves.includes(p)), 10000, 'two new slaves');
    const now = slavePids(m);
    assert.ok(now.some((p) => sb.includes(p)), `a standby was promoted (standbys ${sb}, slaves ${now})`);
    for (const [i, pid] of now.entries()) await until(() => title(pid).startsWith(`l2fwd_fork slave lcore ${i + 1} (master ${master}): -l ${i + 1} `) || undefined, 5000, `slave title of ${pid}: ${title(pid)}`);
    await forwarding(g, 500, 15000);
    await stopAll(g, m, prefix);

    const z = await startMaster(['--standby=0']);
    await sleep(1000);
    const ps0 = execFileSync('ps', ['-fe'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('l2fwd_fork') && l.includes(z.prefix));
    assert.equal(ps0.length, 3, `the guide's three:\n${ps0.join('\n')}`);
    assert.deepEqual(childrenOf(z.m.proc.pid!).sort(), [...z.slaves].sort());
    z.m.proc.kill('SIGTERM');
    assert.equal(await z.m.exited, 0);
  });

  it('both slaves of a pair killed together: no STOP to the dead, exactly two new slaves', async () => {
    const { m, prefix, slaves } = await startMaster();
    const g = startGen(prefix);
    await forwarding(g, 1000, 15000);
    const before = m.out.length;
    const starts = (m.out.match(/started: pid/g) ?? []).length;
    // Together: neither runs between the two kills, even if this process is preempted
    // between them on a loaded host (then the master finds the second stopped, not dying).
    process.kill(slaves[0]!, 'SIGSTOP');
    process.kill(slaves[1]!, 'SIGSTOP');
    process.kill(slaves[0]!, 'SIGKILL');
    process.kill(slaves[1]!, 'SIGKILL');
    await until(() => (m.out.match(/started: pid/g) ?? []).length >= starts + 2, 10000, 'two new slaves');
    await forwarding(g, 500, 15000);
    await sleep(300);
    const after = m.out.slice(before);
    assert.doesNotMatch(after, /STOP sent/, `STOP sent to a dead slave:\n${after}`);
    assert.equal((after.match(/started: pid/g) ?? []).length, 2, `exactly two new slaves:\n${after}`);
    assert.ok(slavePids(m).every((p) => !slaves.includes(p)));
    auditClean(await stopAll(g, m, prefix));
  });

  it('a SIGSTOPped partner is killed at once (it cannot acknowledge STOP) and both are replaced', async () => {
    const { m, prefix, slaves } = await startMaster();
    const g = startGen(prefix);
    await forwarding(g, 1000, 15000);
    process.kill(slaves[1]!, 'SIGSTOP');
    process.kill(slaves[0]!, 'SIGKILL');
    await m.waitFor(new RegExp(`lcore 2 \\(pid ${slaves[1]}\\) is stopped: SIGKILL \\(it cannot acknowledge STOP\\)`), 5000);
    await until(() => slavePids(m).every((p) => !slaves.includes(p)), 10000, 'two new slaves');
    await forwarding(g, 500, 15000);
    assert.doesNotMatch(m.out, /did not acknowledge STOP/, 'no 500 ms wait for an ACK that cannot come');
    assert.ok(!alive(slaves[1]!));
    auditClean(await stopAll(g, m, prefix));
  });

  it('a slave on an lcore beyond this machine\'s CPUs runs on every CPU the master was allowed, not on the master\'s; standbys too', async () => {
    const beyond = os.cpus().length + 8;
    const prefix = uniquePrefix('l2f');
    prefixes.push(prefix);
    const m = spawnNode('mpdk', ['l2fwd_fork', '-l', `0,1,${beyond}`, '--file-prefix', prefix, '--log-level', 'error', ...VDEVS, '--', '-p', '3', '-T', '0']);
    await m.waitFor(new RegExp(`slave lcore ${beyond} started: pid \\d+`), 15000);
    const pid = await until(() => {
      const x = /slave lcore (\d+) \(pid (\d+)\): portmask/.exec(m.out.split('\n').filter((l) => l.includes(`slave lcore ${beyond} (pid`)).join('\n'));
      return x ? Number(x[2]) : undefined;
    }, 15000, 'the slave attached');
    const mine = cpusAllowed('self');
    assert.equal(cpusAllowed(pid), mine, `slave on lcore ${beyond}: allowed ${cpusAllowed(pid)}, the master was allowed ${mine}`);
    if (os.cpus().length > 1) assert.notEqual(cpusAllowed(pid), cpusAllowed(m.proc.pid!), 'not pinned with the master');
    const sb = await until(() => {
      const x = standbyPids(m);
      return x.length > 0 ? x : undefined;
    }, 15000, 'a standby');
    for (const s of sb) assert.equal(cpusAllowed(s), mine, `standby ${s}`);
    m.proc.kill('SIGTERM');
    assert.equal(await m.exited, 0);
    assert.deepEqual(leftovers(prefix), []);
  });

  it('slaves that fail at start-up (no floating lcore id free) are retried with a back-off that doubles, and reported after 5 failures in a row', async () => {
    const prefix = uniquePrefix('l2f');
    prefixes.push(prefix);
    // One floating id for two slaves: whichever starts second finds none, in turn (G64's check).
    const m = spawnNode('mpdk', ['l2fwd_fork', '-l', '0-2', '--file-prefix', prefix, '--log-level', 'error', ...VDEVS, '--', '-p', '3', '-T', '0', '-f'], { MPDK_L2FWD_FLOAT_IDS: '7' });
    await m.waitFor(/the slaves failed 5 times in a row at start-up \(last: lcore \d: exited with status 3 before it was ready\); next try in 1600 ms \(the back-off doubles up to 5000 ms\)/, 30000);
    await m.waitFor(/restarting lcores 1, 2 in 1600 ms \(start-up failure 5\)/, 5000);
    assert.deepEqual(backoffs(m.out).slice(0, 5), [100, 200, 400, 800, 1600]);
    assert.match(m.err, /no free floating lcore id \(all 1 of 7 are leased\)/);
    m.proc.kill('SIGTERM');
    assert.equal(await m.exited, 0);
    assert.deepEqual(leftovers(prefix), []);
  });

  it('a slave that crashes at start-up (MPDK_TEST_HOOK) is retried with back-off while the other slave keeps forwarding', async () => {
    const prefix = uniquePrefix('l2f');
    prefixes.push(prefix);
    // -q 2: lcore 1 forwards ports 0<->1, lcore 2 ports 2<->3: two independent groups.
    const m = spawnNode('mpdk', ['l2fwd_fork', '-l', '0-2', '--file-prefix', prefix, '--log-level', 'error', ...VDEVS, '--vdev=net_ring2', '--vdev=net_ring3', '--', '-p', 'f', '-q', '2', '-T', '0'],
      { MPDK_TEST_HOOK: 'l2fwd:fail-start:2' });
    await m.waitFor(/restarting lcore 2 in 100 ms \(start-up failure 1\)/, 15000);
    const g = startGen(prefix, 20000, 'f');
    await forwarding(g, 1000, 15000);
    await m.waitFor(/restarting lcore 2 in 400 ms \(start-up failure 3\)/, 15000);
    await forwarding(g, 1000, 15000); // lcore 1's group forwards on
    assert.deepEqual(backoffs(m.out).slice(0, 3), [100, 200, 400]);
    assert.doesNotMatch(m.out, /restarting lcore 1/);
    g.proc.kill('SIGTERM');
    assert.equal(await g.exited, 0);
    m.proc.kill('SIGTERM');
    assert.equal(await m.exited, 0);
    assert.deepEqual(leftovers(prefix), []);
  });

  it('the group state machine is a table: a launch or a reset while a member may still run is refused, with the reason', async () => {
    const { Group, GroupState, TRANSITIONS, REFUSED } = await import('../src/apps/l2fwd_fork/group.js');
    for (const r of REFUSED) assert.ok(!TRANSITIONS.some((t) => t.from === r.from && t.on === r.on), `${r.from} ${r.on} is both allowed and refused`);
    const g = new Group(0);
    const refused: string[] = [];
    const fire = (e: Parameters<typeof g.fire>[0]): unknown => g.fire(e, (why) => refused.push(why));
    assert.equal(fire('all-ready'), GroupState.RUNNING);
    assert.equal(fire('member-exit'), GroupState.STOPPING);
    assert.equal(fire('reset-clean'), undefined);
    assert.equal(fire('backoff-elapsed'), undefined);
    assert.equal(g.state, GroupState.STOPPING);
    assert.match(refused[0]!, /reset-clean in STOPPING: a member may still run/);
    assert.match(refused[1]!, /backoff-elapsed in STOPPING: a member may still run: a second launch would put two processes on its queues/);
    assert.equal(fire('all-gone'), GroupState.DOWN);
    assert.equal(fire('reset-failed'), GroupState.WAITING);
    assert.equal(fire('backoff-elapsed'), GroupState.STARTING);
    assert.equal(fire('shutdown'), GroupState.CLOSED);
    assert.equal(fire('member-exit'), undefined);
    assert.equal(refused.length, 2, 'nothing is refused (or reported) once CLOSED');
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
    await until(() => leftovers(b.prefix).length === 0, 5000, 'the last slave out removes the files').catch((e: Error) => {
      throw new Error(`${e.message}: left ${leftovers(b.prefix).join(' ')}; processes ${all.map((s) => `${s} ${alive(s) ? title(s) : 'gone'}`).join(', ')}`);
    });
  });
});
