/**
 * simple_mp as a person uses it, with its standard input piped: two real processes,
 * messages both ways, restarts, the primary's death, and every refusal.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { leftovers, reapAll, removeInstance, run, sleep, spawnNode, uniquePrefix, until, type Child } from './helpers.js';

after(reapAll);

const QUIET = ['--log-level', 'warning'];

async function startSimple(prefix: string, lcores: string, type: string): Promise<Child> {
  const c = spawnNode('mpdk', ['simple_mp', '-l', lcores, `--proc-type=${type}`, '--file-prefix', prefix, ...QUIET]);
  await c.waitFor(/simple_mp > /, 8000);
  return c;
}

function received(c: Child): string[] {
  return [...c.out.matchAll(/core \d+: Received '(.*)'/g)].map((m) => m[1]!);
}

async function info(prefix: string): Promise<{ objects: { kind: string; name: string; count?: number; inUse?: number }[]; processes: { pid: number }[] }> {
  const r = await run('mpdk', ['info', '--file-prefix', prefix, '--json']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

test('primary and secondary exchange 1,000 messages each way, in order, none lost, non-ASCII included', async () => {
  const p = uniquePrefix('smp');
  const a = await startSimple(p, '0-1', 'primary');
  assert.match(a.out, /Starting core 1/);
  const b = await startSimple(p, '2-3', 'secondary');
  assert.match(b.out, /Starting core 3/);
  const N = 1000;
  const fromA: string[] = [];
  const fromB: string[] = [];
  for (let i = 0; i < N; i++) {
    fromA.push(`a${i} héllo wörld ✓`);
    fromB.push(`b${i} 日本語 ${'x'.repeat(i % 20)}`);
  }
  // Interleave writes in chunks smaller than the rings (63 entries), waiting for each chunk
  // to be received, as a sender that respects "ring full" would.
  for (let i = 0; i < N; i += 25) {
    a.proc.stdin!.write(fromA.slice(i, i + 25).map((m) => `send ${m}\n`).join(''));
    b.proc.stdin!.write(fromB.slice(i, i + 25).map((m) => `send ${m}\n`).join(''));
    const want = Math.min(N, i + 25);
    await until(() => received(b).length >= want && received(a).length >= want, 10000, `${want} messages each way`);
  }
  assert.deepEqual(received(b), fromA);
  assert.deepEqual(received(a), fromB);
  assert.doesNotMatch(a.out + b.out, /not sent/);
  const i = await info(p);
  const pool = i.objects.find((o) => o.name === 'MSG_POOL');
  assert.equal(pool?.inUse, 0, 'every buffer went back to the pool');
  b.send('quit');
  assert.equal(await b.exited, 0);
  a.send('quit');
  assert.equal(await a.exited, 0);
  assert.deepEqual(leftovers(p), []);
});

test('the secondary can quit and restart mid-stream; messages sent meanwhile arrive, in order', async () => {
  const p = uniquePrefix('smp');
  const a = await startSimple(p, '0-1', 'primary');
  let b = await startSimple(p, '2-3', 'auto');
  const got: string[] = [];
  let next = 0;
  for (let round = 0; round < 5; round++) {
    for (let k = 0; k < 10; k++) a.send(`send m${next++}`);
    const want = round === 0 ? 10 : 15; // 5 waited in the ring while no secondary ran
    await until(() => received(b).length === want, 5000, `${want} messages`);
    b.send('quit');
    assert.equal(await b.exited, 0);
    got.push(...received(b));
    // While no secondary runs, the messages wait in PRI_2_SEC.
    for (let k = 0; k < 5; k++) a.send(`send m${next++}`);
    await sleep(50);
    b = await startSimple(p, '2-3', 'secondary');
  }
  await until(() => got.length + received(b).length === next, 5000, 'the rest');
  got.push(...received(b));
  assert.deepEqual(got, Array.from({ length: next }, (_, i) => `m${i}`));
  assert.equal(a.proc.exitCode, null, 'the primary was not disturbed');
  assert.doesNotMatch(a.err, /error/i);
  b.send('quit');
  await b.exited;
  a.send('quit');
  await a.exited;
  assert.deepEqual(leftovers(p), []);
});

test('when the primary is killed the secondary says so and exits within a second', async () => {
  const p = uniquePrefix('smp');
  const a = await startSimple(p, '0-1', 'primary');
  const b = await startSimple(p, '2-3', 'secondary');
  a.proc.kill('SIGKILL');
  const t0 = Date.now();
  const code = await b.exited;
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  assert.notEqual(code, 0);
  assert.match(b.out + b.err, new RegExp(`primary process \\(pid ${a.proc.pid}\\) has exited`));
  assert.deepEqual(leftovers(p), []);
  // A new primary and secondary work again.
  const a2 = await startSimple(p, '0-1', 'primary');
  const b2 = await startSimple(p, '2-3', 'secondary');
  a2.send('send again');
  await b2.waitFor(/core 3: Received 'again'/);
  b2.send('quit');
  a2.send('quit');
  await Promise.all([a2.exited, b2.exited]);
  assert.deepEqual(leftovers(p), []);
});

test('refusals: one lcore, a second primary, a secondary without primary, a non-simple_mp primary', async () => {
  const p = uniquePrefix('smp');
  const one = await run('mpdk', ['simple_mp', '-l', '0', '--file-prefix', p]);
  assert.equal(one.code, 2);
  assert.match(one.err, /at least 2 lcores/);
  const noPri = await run('mpdk', ['simple_mp', '-l', '2-3', '--proc-type=secondary', '--file-prefix', p]);
  assert.equal(noPri.code, 1);
  assert.match(noPri.err, new RegExp(`no primary process is running for --file-prefix=${p}`));
  assert.deepEqual(leftovers(p), []);
  const a = await startSimple(p, '0-1', 'primary');
  const second = await run('mpdk', ['simple_mp', '-l', '2-3', '--file-prefix', p]);
  assert.equal(second.code, 1);
  assert.match(second.err, new RegExp(`primary process \\(pid ${a.proc.pid}\\) is already running`));
  a.send('send still-alive');
  const b = await startSimple(p, '2-3', 'secondary');
  await b.waitFor(/Received 'still-alive'/);
  b.send('quit');
  a.send('quit');
  await Promise.all([a.exited, b.exited]);
  // An instance whose primary is not simple_mp.
  const q = uniquePrefix('smp');
  const other = spawnNode('dist/test/eal-child.js', ['-l', '0', '--file-prefix', q, ...QUIET, '--', 'hold']);
  await other.waitFor(/"ready":true/);
  const wrong = await run('mpdk', ['simple_mp', '-l', '2-3', '--proc-type=secondary', '--file-prefix', q]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /PRI_2_SEC/);
  other.proc.stdin!.end();
  await other.exited;
  assert.deepEqual(leftovers(q), []);
});

test('an over-long message is refused with the limit named; a full ring or pool is reported; nothing is lost', async () => {
  const p = uniquePrefix('smp');
  const a = await startSimple(p, '0-1', 'primary');
  a.send(`send ${'y'.repeat(64)}`);
  await a.waitFor(/message not sent: it is 64 bytes, and a MSG_POOL buffer holds at most 63/);
  a.send(`send ${'é'.repeat(32)}`); // 64 bytes of UTF-8
  await a.waitFor(/it is 64 bytes/);
  // No secondary: PRI_2_SEC fills (63 entries) and the sender is told every time after that.
  for (let i = 0; i < 70; i++) a.send(`send fill${i}`);
  await until(() => (a.out.match(/ring PRI_2_SEC is full \(63 waiting/g) ?? []).length === 7, 5000, 'seven refusals');
  const b = await startSimple(p, '2-3', 'secondary');
  await until(() => received(b).length === 63, 5000, '63 delivered');
  assert.deepEqual(received(b), Array.from({ length: 63 }, (_, i) => `fill${i}`));
  a.send('help');
  await a.waitFor(/send <string>/);
  a.send('bogus');
  await a.waitFor(/unknown command 'bogus'/);
  b.send('quit');
  a.proc.stdin!.end(); // Ctrl-D / end of input quits cleanly
  assert.equal(await a.exited, 0);
  await b.exited;
  assert.deepEqual(leftovers(p), []);
});

test('an idle simple_mp sleeps: its receiving lcore uses almost no CPU', async () => {
  const p = uniquePrefix('smp');
  const a = await startSimple(p, '0-1', 'primary');
  await sleep(300);
  const ticks = (): number => {
    const f = require('node:fs').readFileSync(`/proc/${a.proc.pid}/stat`, 'utf8') as string;
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  };
  const t0 = ticks();
  await sleep(1000);
  const used = ticks() - t0; // clock ticks (100/s): a busy loop would use ~100
  assert.ok(used < 10, `idle simple_mp used ${used} ticks in 1 s`);
  a.send('quit');
  await a.exited;
});

import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);

test('a secondary started while its simple_mp primary is still creating the channels waits for it, says so naming it, and gives up at its bound', async () => {
  const p = uniquePrefix('smp');
  const a = spawnNode('mpdk', ['simple_mp', '-l', '0-1', '--proc-type=primary', '--file-prefix', p, ...QUIET], { MPDK_TEST_HOOK: 'simple_mp:channels' });
  try {
    await a.waitFor(/simple_mp:channels reached/, 15000);
    const b = await run('mpdk', ['simple_mp', '-l', '2-3', '--proc-type=secondary', '--file-prefix', p, ...QUIET], 20000);
    assert.equal(b.code, 1, b.err);
    assert.match(b.err, new RegExp(`waiting for the primary \\(pid ${a.proc.pid}, alive, [a-z ]+\\) to create the channels PRI_2_SEC and SEC_2_PRI`));
    assert.match(b.err, new RegExp(`its primary \\(pid ${a.proc.pid}, alive, [a-z ]+\\) has not created them after 5 s`));
  } finally {
    a.proc.kill('SIGKILL');
    await a.exited;
    removeInstance(p);
  }
});
