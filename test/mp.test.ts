/**
 * The instance's message channel (eal.mp) between real processes: this test process is the
 * primary, test/mp-child.ts runs the secondaries (each its own lcore), and everything goes
 * through the sockets in the instance folder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Eal, MP_DATA_MAX, MP_QUEUE_MAX, MpdkError, isMpdkError, reclaimDead, type MpReply } from '../src/index.js';
import { EventLog } from '../src/eal/event-log.js';
import { PROC_MAX } from '../src/eal/process-table.js';
import { HDR } from '../src/eal/region.js';
import { closeFd, memfdCreate } from '../src/native/libc.js';
import { seqRecorder, type SeqSeen } from './mp-seq.js';
import { commandChild, exited, leftovers, reapAll, removeInstance, spawnNode, uniquePrefix, until, type CommandChild } from './helpers.js';

const CHILD = 'dist/test/mp-child.js';

test('a secondary killed right after it joined, its slot released by a reclaim before this process\'s watch ran: its socket goes with the slot, its process-left is reported once', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const mine: { type: string; pid: number }[] = [];
  eal.events.on('process-left', (e) => mine.push({ type: e.type, pid: e.pid }));
  try {
    const k = await kid(p, 1);
    const dir = path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${p}`);
    const itsSocket = (): string[] => fs.readdirSync(dir).filter((f) => f.endsWith(`.${k.pid}`));
    assert.equal(itsSocket().length, 1, 'the secondary listens in the instance folder');
    // From here to the check no event-loop turn: this process's watch of it (armed or not) cannot run.
    k.c.proc.kill('SIGKILL');
    const cell = new Int32Array(new SharedArrayBuffer(4));
    // Its exit, not only its main thread's: a zombie leader whose other threads are still
    // leaving holds its socket open (the reclaim does not take it for dead then either).
    for (let ms = 0; !exited(k.pid) && ms < 10000; ms += 5) Atomics.wait(cell, 0, 0, 5);
    const rep = reclaimDead(eal);
    assert.deepEqual(rep.processes.map((x) => x.pid), [k.pid], 'the reclaim found it dead and released it');
    assert.deepEqual(itsSocket(), [], 'its socket went with its slot (no peer will ever see it in the table again)');
    await until(() => mine.some((e) => e.pid === k.pid), 3000, 'its process-left');
    await new Promise((r) => setTimeout(r, 700)); // a watch armed before the kill fires meanwhile
    assert.equal(mine.filter((e) => e.pid === k.pid).length, 1, 'its departure reported once');
    await k.c.exited;
    await stop(eal, [], p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

after(reapAll);

type Kid = CommandChild;

function kid(prefix: string, lcore: number): Promise<Kid> {
  return commandChild(CHILD, ['-l', String(lcore), '--proc-type=secondary', '--file-prefix', prefix, '--log-level', 'error', '--no-telemetry']);
}

function primary(prefix: string): Eal {
  return Eal.init({ lcores: [0], procType: 'primary', filePrefix: prefix, telemetry: false, name: 'mp-test' });
}

async function stop(eal: Eal, kids: Kid[], prefix: string): Promise<void> {
  for (const k of kids) k.c.proc.kill('SIGTERM');
  await Promise.all(kids.map((k) => k.c.exited));
  eal.close();
  await until(() => leftovers(prefix).length === 0, 3000, 'the instance files removed').catch(() => undefined);
  assert.deepEqual(leftovers(prefix), [], 'the last process out removes every socket, stale ones included');
}

test('a request reaches the primary and three secondaries; one killed mid-request is reported by pid within 100 ms, the others reply', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const kids: Kid[] = [];
  try {
    for (let i = 1; i <= 3; i++) kids.push(await kid(p, i));
    const [a, b, c] = kids as [Kid, Kid, Kid];
    // A secondary asks every other process: the primary (no 'hold' action here) and the other two.
    eal.mp.on('hold', async (m) => ({ pid: process.pid, asked: (m.data as { ms: number }).ms }));
    const all = await a.cmd({ do: 'request', name: 'hold', data: { ms: 50 } });
    const got = (all.replies as { pid: number; ok: boolean; data: { pid: number } }[]).map((r) => [r.pid, r.ok, r.data.pid]);
    assert.deepEqual(got.sort(), [[process.pid, true, process.pid], [b.pid, true, b.pid], [c.pid, true, c.pid]].sort(), 'secondary to primary and to secondaries');

    // The primary asks the three; b is killed while they hold the request.
    const when = new Map<number, number>();
    const pending = eal.mp.request('hold', { ms: 400 }, { timeout: 5000, onReply: (r) => when.set(r.pid, performance.now()) });
    await new Promise((r) => setTimeout(r, 100));
    const killedAt = performance.now();
    b.c.proc.kill('SIGKILL');
    const replies = await pending;
    const byPid = new Map(replies.map((r) => [r.pid, r]));
    const dead = byPid.get(b.pid)!;
    assert.equal(dead.ok, false);
    assert.ok(!dead.ok && dead.error.code === 'ESRCH', `the killed one: ${!dead.ok && dead.error.message}`);
    assert.match((dead as { error: Error }).error.message, new RegExp(`pid ${b.pid} \\(mp-child\\) died`));
    const ms = when.get(b.pid)! - killedAt;
    assert.ok(ms < 100, `reported ${ms.toFixed(1)} ms after the kill`);
    for (const k of [a, c]) {
      const r = byPid.get(k.pid)!;
      assert.ok(r.ok && (r.data as { pid: number }).pid === k.pid, `pid ${k.pid} replied`);
    }
    // A dead target is reported at once, never by the timeout.
    const t0 = performance.now();
    const [gone] = await eal.mp.request('hold', { ms: 1 }, { to: b.pid, timeout: 5000 });
    assert.ok(!gone!.ok && gone!.error.code === 'ESRCH' && /is dead|died/.test(gone!.error.message), String(!gone!.ok && gone!.error.message));
    assert.ok(performance.now() - t0 < 100, 'no wait for a dead target');
    kids.splice(kids.indexOf(b), 1);
    await stop(eal, kids, p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('errors come back as values: a handler that throws, no handler, a timeout naming a stopped process; data over the limit is refused before sending', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const kids: Kid[] = [];
  try {
    kids.push(await kid(p, 1));
    const [k] = kids as [Kid];
    const [boom] = await eal.mp.request('boom', undefined, { to: k.pid });
    assert.ok(!boom!.ok && boom!.error.code === 'EPERM' && boom!.error.message === `boom from ${k.pid}`, 'the handler\'s error, code and message');
    const [none] = await eal.mp.request('nothing-here', 1, { to: k.pid });
    assert.ok(!none!.ok && none!.error.code === 'ENOTSUP' && /has no action 'nothing-here'/.test(none!.error.message));
    const [echo] = await eal.mp.request('echo', Buffer.from([1, 2, 3]), { to: k.pid });
    assert.ok(echo!.ok && Buffer.isBuffer(echo!.data) && (echo!.data as Buffer).equals(Buffer.from([1, 2, 3])), 'bytes travel as bytes');
    const [big] = await eal.mp.request('echo', 'x'.repeat(MP_DATA_MAX), { to: k.pid });
    assert.ok(big!.ok && (big!.data as string).length === MP_DATA_MAX, 'the largest message');
    await assert.rejects(eal.mp.request('echo', 'x'.repeat(MP_DATA_MAX + 1), { to: k.pid }), (e) => isMpdkError(e, 'EMSGSIZE'));
    assert.throws(() => eal.mp.send('bad name!', 1), (e) => isMpdkError(e, 'EINVAL'));
    await assert.rejects(eal.mp.request('echo', 1, { to: process.pid }), (e) => isMpdkError(e, 'EINVAL'));
    const [stranger] = await eal.mp.request('echo', 1, { to: 1 });
    assert.ok(!stranger!.ok && stranger!.error.code === 'ESRCH' && /not a process of instance/.test(stranger!.error.message));

    k.c.proc.kill('SIGSTOP');
    const t0 = performance.now();
    const [late] = await eal.mp.request('echo', 1, { to: k.pid, timeout: 200 });
    assert.ok(!late!.ok && late!.error.code === 'ETIMEDOUT' && /stopped/.test(late!.error.message), String(!late!.ok && late!.error.message));
    assert.ok(performance.now() - t0 >= 190);
    // Its socket fills, then the bounded queue: ENOBUFS, naming it and its state.
    let refused: MpdkError | undefined;
    for (let i = 0; i < 20 * MP_QUEUE_MAX && !refused; i++) {
      const d = eal.mp.send('echo', 'x'.repeat(1000), { to: k.pid })[0]!;
      if (!d.ok) refused = d.error;
    }
    assert.ok(refused && refused.code === 'ENOBUFS' && new RegExp(`pid ${k.pid} .*stopped`).test(refused.message), String(refused?.message));
    await assert.rejects(eal.mp.drain({ to: k.pid, timeout: 100 }), (e) => isMpdkError(e, 'ETIMEDOUT'));
    k.c.proc.kill('SIGCONT');
    await eal.mp.drain({ to: k.pid, timeout: 10_000 });
    const [after] = await eal.mp.request('echo', 'again', { to: k.pid });
    assert.ok(after!.ok && after!.data === 'again', 'it answers once it runs again');
    await stop(eal, kids, p);
  } finally {
    for (const k of kids) k.c.proc.kill('SIGCONT');
    eal.close();
    removeInstance(p);
  }
});

test('descriptors travel with messages: a memfd written by one process is read by another, both ways', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const kids: Kid[] = [];
  try {
    kids.push(await kid(p, 1), await kid(p, 2));
    const [a, b] = kids as [Kid, Kid];
    // Secondary to secondary: a's memfd, read by b.
    const r = await a.cmd({ do: 'send-fd', to: b.pid, text: 'written by a' });
    assert.deepEqual((r.replies as { data: string }[]).map((x) => x.data), ['written by a']);
    // A reply with a descriptor: b makes a memfd, this process reads it.
    const [made] = await eal.mp.request('mkfd', { text: `made by ${b.pid}` }, { to: b.pid });
    assert.ok(made!.ok && made!.fds.length === 1);
    const buf = Buffer.alloc(64);
    const n = fs.readSync(made!.fds[0]!, buf, 0, 64, 0);
    assert.equal(buf.toString('utf8', 0, n), `made by ${b.pid}`);
    closeFd(made!.fds[0]!);
    // From here to a, with a descriptor of ours.
    const fd = memfdCreate('t', 5);
    fs.writeSync(fd, 'ours!', 0);
    const [read] = await eal.mp.request('memfd', undefined, { to: a.pid, fds: [fd] });
    closeFd(fd);
    assert.ok(read!.ok && read!.data === 'ours!');
    await stop(eal, kids, p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('10,000 one-way messages from each of three senders arrive in order', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const kids: Kid[] = [];
  const seen = new Map<number, SeqSeen>();
  try {
    eal.mp.on('seq', seqRecorder(seen));
    for (let i = 1; i <= 3; i++) kids.push(await kid(p, i));
    const done = await Promise.all(kids.map((k) => k.cmd({ do: 'flood', to: 'primary', count: 10_000 }, 60_000)));
    assert.deepEqual(done.map((d) => d.sent), [10_000, 10_000, 10_000], JSON.stringify(done));
    await until(() => kids.every((k) => seen.get(k.pid)?.count === 10_000), 10_000, 'every message');
    for (const k of kids) assert.deepEqual(seen.get(k.pid), { count: 10_000, last: 9999, inOrder: true });
    // Secondary to secondary, with the receiver counting.
    const [a, b] = kids as [Kid, Kid];
    await a.cmd({ do: 'flood', to: b.pid, count: 10_000 }, 60_000);
    const r = await a.cmd({ do: 'request', name: 'seq-report', to: b.pid });
    assert.deepEqual((r.replies as { data: Record<string, unknown> }[])[0]!.data, { [a.pid]: [10_000, true] });
    await stop(eal, kids, p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('another user cannot talk to the channel: the folder keeps it out, and even through an opened folder its connection is closed unread', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to play uid 65534');
  const p = uniquePrefix('mp');
  const eal = primary(p);
  let got = 0;
  eal.mp.on('echo', () => ++got);
  const dir = path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${p}`);
  const sock = path.join(dir, eal.mp.socketName);
  const script = `
    const { seqpacketSocket, unixConnect, seqSend, seqRecv } = await import(${JSON.stringify(path.resolve('dist/src/native/libc.js'))});
    const fd = seqpacketSocket();
    const e = unixConnect(fd, process.argv[1], false);
    if (e !== 0) { console.log('connect errno ' + e); process.exit(0); }
    const m = Buffer.alloc(32); m[0] = 1; m[1] = 1; m[3] = 4; m.write('echo', 16);
    console.log('sent ' + seqSend(fd, m, 20));
    await new Promise((r) => setTimeout(r, 300));
    console.log('recv ' + seqRecv(fd, Buffer.alloc(64)));`;
  const asNobody = async (): Promise<string> => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', script, sock], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => c.on('exit', r));
    return out;
  };
  try {
    assert.match(await asNobody(), /connect errno 13/, 'the 0700 folder keeps uid 65534 out (EACCES)');
    // Open the folder and the socket to everyone (a mistake an operator could make): the
    // connection is accepted by the kernel, closed by the channel (SO_PEERCRED), nothing read:
    // the peer sees the end (0) or, when its message had arrived before the close, the reset
    // the kernel gives for a socket closed with unread data (-ECONNRESET).
    fs.chmodSync(dir, 0o711);
    fs.chmodSync(sock, 0o777);
    const out = await asNobody();
    assert.match(out, /recv (0|-104)\n/, `closed at once: ${out}`);
    assert.equal(got, 0, 'its message was never handled');
  } finally {
    fs.chmodSync(dir, 0o700);
    eal.close();
    removeInstance(p);
  }
});

test('drain() rejects when a connection closes with messages still queued: a stopped peer killed under them is named (ESRCH), not a resolve', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const kids: Kid[] = [];
  try {
    for (let i = 1; i <= 2; i++) kids.push(await kid(p, i));
    const [a, b] = kids as [Kid, Kid];
    b.c.proc.kill('SIGSTOP');
    // More than b's socket holds: the rest waits in a's queue, and a awaits its drain.
    const filled = a.cmd({ do: 'fill', to: b.pid, count: 1000, timeout: 10_000 });
    // Killed only once all are queued and a waits in drain() (a fixed pause was not always
    // long enough on a loaded host: b then died before or during a's sends).
    await a.c.waitFor(/\{"queued":1000,/, 10_000);
    b.c.proc.kill('SIGKILL');
    await b.c.exited;
    const r = await filled;
    assert.equal(r.code, 'ESRCH', `the drain failed, naming the death: ${JSON.stringify(r)}`);
    assert.match(String(r.error), new RegExp(`^pid ${b.pid} \\(mp-child\\) died: \\d+ messages queued for it were not delivered$`));
    await stop(eal, [a], p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('a reply a requester\'s full queue refuses is not dropped silently: the requester gets ENOBUFS for it (not a timeout), the replier logs it', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const kids: Kid[] = [];
  try {
    kids.push(await kid(p, 1));
    kids.push(await commandChild(CHILD, ['-l', '2', '--proc-type=secondary', '--file-prefix', p, '--log-level', 'warning', '--no-telemetry']));
    const [a, b] = kids as [Kid, Kid];
    // a asks b MP_QUEUE_MAX + 300 times without reading a reply: b's queue to a fills, and
    // refuses the replies of the last requests, which a waits for (up to 20 s).
    const r = await a.cmd({ do: 'stuff', to: b.pid, count: MP_QUEUE_MAX + 300, keep: 5, timeout: 20_000 }, 60_000);
    const replies = r.replies as { ok: boolean; code?: string; message?: string }[];
    assert.equal(replies.length, 5);
    for (const x of replies) {
      assert.equal(x.ok, false, `a refused reply is not a reply: ${JSON.stringify(x)}`);
      assert.equal(x.code, 'ENOBUFS', `the requester is told the reply could not be delivered: ${JSON.stringify(x)}`);
      assert.match(x.message!, new RegExp(`pid ${b.pid} \\(mp-child\\) could not deliver its reply to 'big': ${MP_QUEUE_MAX} messages to pid ${a.pid} \\(mp-child\\) already waited`));
    }
    await until(() => /the reply to 'big' for pid \d+ \(mp-child\) was not delivered: .*already wait/.test(b.c.err), 3000, `the replier logs it: ${b.c.err.slice(0, 500)}`);
    await stop(eal, [a, b], p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('an event still being written is not passed: the one logged after it waits, both arrive in order; a writer killed half way holds the log back ~PENDING_MS only', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const kids: Kid[] = [];
  const mine: string[] = [];
  eal.events.on('*', (e) => {
    if (e.type.startsWith('gap-')) mine.push(e.type);
  });
  try {
    for (let i = 1; i <= 2; i++) kids.push(await kid(p, i));
    const [a, b] = kids as [Kid, Kid];
    // a takes a sequence number and stops inside its write; b logs the next event and rings.
    const { seq } = (await a.cmd({ do: 'claim' })) as unknown as { seq: number };
    await b.cmd({ do: 'publish', name: 'gap-after', text: 'logged after the one being written' });
    const seenByB = async (): Promise<string[]> => ((await b.cmd({ do: 'events' })).events as { type: string }[]).map((e) => e.type).filter((t) => t.startsWith('gap-'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(mine.length, 0, `not delivered past the record being written: ${mine.join()}`);
    await a.cmd({ do: 'commit', seq, name: 'gap-first', text: 'written slowly' });
    await until(() => mine.length === 2, 3000, 'both events');
    assert.deepEqual(mine, ['gap-first', 'gap-after'], 'in the order of the log, none lost');
    let l = await seenByB();
    for (const end = Date.now() + 3000; l.length < 2 && Date.now() < end; l = await seenByB()) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(l, ['gap-first', 'gap-after'], 'the same in another process');
    // A writer killed inside its write: the others pass its record after waiting for it.
    await a.cmd({ do: 'claim' });
    a.c.proc.kill('SIGKILL');
    await a.c.exited;
    await b.cmd({ do: 'publish', name: 'gap-later', text: 'after a dead writer' });
    await until(() => mine.includes('gap-later'), 5000, 'the event after the dead writer\'s record');
    await stop(eal, [b], p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('a departure is claimed once per process, a process told by pid and start time: a later process with the same pid in the same slot is reported too', () => {
  // Pid reuse cannot be arranged between real processes on demand: the claim itself, on a
  // real instance's log, with the two start times a reused pid would have.
  const p = uniquePrefix('mp');
  const eal = primary(p);
  try {
    const log = new EventLog(eal.region, eal.region.u32At(HDR.EVENT_LOG));
    const [slot, pid] = [PROC_MAX - 1, 4_000_000];
    assert.equal(log.claimDeparture(slot, pid, 1234), true, 'the first report is claimed');
    assert.equal(log.claimDeparture(slot, pid, 1234), false, 'the same process is reported once');
    assert.equal(log.claimDeparture(slot, pid, 98_765), true, 'the pid reused by a later process in the slot: reported as well');
    assert.equal(log.claimDeparture(slot, pid, 98_765), false);
    assert.equal(log.claimDeparture(slot - 1, pid, 1234), true, 'slots are apart');
  } finally {
    eal.close();
    removeInstance(p);
  }
});

test('events reach the callbacks of every process: one published by a secondary, and a killed secondary\'s process-left, once each; its socket is removed', async () => {
  const p = uniquePrefix('mp');
  const eal = primary(p);
  const kids: Kid[] = [];
  const mine: { type: string; pid: number; text: string }[] = [];
  eal.events.on('*', (e) => mine.push({ type: e.type, pid: e.pid, text: e.text }));
  try {
    for (let i = 1; i <= 3; i++) kids.push(await kid(p, i));
    const [a, b, c] = kids as [Kid, Kid, Kid];
    await a.cmd({ do: 'publish', name: 'test-event', text: 'from a' });
    c.c.proc.kill('SIGKILL');
    await c.c.exited;
    const seenBy = async (k: Kid): Promise<{ type: string; pid: number; text: string }[]> => (await k.cmd({ do: 'events' })).events as { type: string; pid: number; text: string }[];
    const complete = (l: { type: string; pid: number }[]): boolean =>
      l.some((e) => e.type === 'test-event') && l.some((e) => e.type === 'process-left' && e.pid === c.pid);
    await until(() => complete(mine), 3000, 'the primary got both events');
    for (const k of [a, b]) {
      let l = await seenBy(k);
      for (const end = Date.now() + 3000; !complete(l) && Date.now() < end; l = await seenBy(k)) await new Promise((r) => setTimeout(r, 20));
      assert.ok(complete(l), `pid ${k.pid} got both events: ${JSON.stringify(l)}`);
      assert.deepEqual(l.filter((e) => e.type === 'test-event').map((e) => [e.pid, e.text]), [[a.pid, 'from a']], `pid ${k.pid}: the published event once`);
      assert.equal(l.filter((e) => e.type === 'process-left' && e.pid === c.pid).length, 1, `pid ${k.pid}: one process-left for the killed one`);
    }
    assert.equal(mine.filter((e) => e.type === 'process-left' && e.pid === c.pid).length, 1);
    assert.match(mine.find((e) => e.type === 'process-left')!.text, new RegExp(`pid ${c.pid} \\(mp-child\\) died`));
    assert.ok(mine.some((e) => e.type === 'process-joined' && e.pid === b.pid), 'joins are events too');
    const dir = path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${p}`);
    await until(() => !fs.readdirSync(dir).some((f) => f.endsWith(`.${c.pid}`)), 3000, 'the dead one\'s socket removed');
    await stop(eal, [a, b], p);
  } finally {
    eal.close();
    removeInstance(p);
  }
});
