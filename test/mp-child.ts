/**
 * A process of an instance for test/mp.test.ts: joins as a secondary (EAL options on the
 * command line), registers a few actions, prints `READY <pid>`, then obeys one JSON command
 * per stdin line and prints one JSON result line per command (`{"id": N, ...}`).
 *
 *   actions     echo      replies its data
 *               hold      replies {pid} after data.ms milliseconds
 *               boom      throws MpdkError(EPERM, 'boom from <pid>')
 *               memfd     reads the descriptor it was sent and replies its text
 *               mkfd      replies a memfd holding data.text (the descriptor travels with the reply)
 *               seq       one-way {n}: checks that n follows the sender's previous n
 *               seq-report replies {from pid: [count, inOrder]}
 *               big       replies data.bytes bytes of text
 *   commands    {"id", "do": "request", "name", "data", "to", "timeout"}  → {"id", "replies"}
 *               {"id", "do": "send-fd", "to", "text"}   a memfd with text → request 'memfd'
 *               {"id", "do": "flood", "to", "count"}    count one-way 'seq' messages, paced by drain
 *               {"id", "do": "events"}                  → {"id", "events"}: every event its eal.events.on('*') got
 *               {"id", "do": "publish", "name", "text"} eal.events.publish(name, {text})
 *               {"id", "do": "claim"}                   → {"id", "seq"}: the first half of an event's
 *                                                       write (a writer stopped inside it, EventLog.claim)
 *               {"id", "do": "commit", "seq", "name", "text"} its second half, and the doorbell
 *               {"id", "do": "fill", "to", "count", "timeout"} count one-way messages, then one mp.drain
 *                  ({"queued": count, "fill": id} once all are queued and the drain waits)
 *               {"id", "do": "stuff", "to", "count", "keep"} without reading its replies (one
 *                  synchronous run), count 'big' requests each aborted after 1 ms (they stay
 *                  queued at the replier), then keep more it waits for → {"id", "replies"} of those
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import fs from 'node:fs';
import readline from 'node:readline';
import { EventLog } from '../src/eal/event-log.js';
import { HDR } from '../src/eal/region.js';
import { Eal, MpdkError, stderrLogger, mpReply, type MpReply, type MpTarget } from '../src/index.js';
import { closeFd, memfdCreate } from '../src/native/libc.js';
import { seqRecorder, type SeqSeen } from './mp-seq.js';

const { eal } = Eal.init(process.argv.slice(2), { name: 'mp-child', handleSignals: true, logger: stderrLogger });
const mp = eal.mp;

function memfdWith(text: string): number {
  const b = Buffer.from(text);
  const fd = memfdCreate('mp-test', b.length);
  fs.writeSync(fd, b, 0, b.length, 0);
  return fd;
}

function readFd(fd: number): string {
  const b = Buffer.alloc(4096);
  const n = fs.readSync(fd, b, 0, b.length, 0);
  return b.toString('utf8', 0, n);
}

const seen = new Map<number, SeqSeen>();
mp.on('echo', (m) => m.data);
mp.on('hold', async (m) => {
  await new Promise((r) => setTimeout(r, (m.data as { ms: number }).ms));
  return { pid: process.pid };
});
mp.on('boom', () => {
  throw new MpdkError('EPERM', `boom from ${process.pid}`);
});
mp.on('memfd', (m) => {
  try {
    return readFd(m.fds[0]!);
  } finally {
    for (const f of m.fds) closeFd(f);
  }
});
mp.on('mkfd', (m) => {
  const fd = memfdWith((m.data as { text: string }).text);
  setImmediate(() => closeFd(fd)); // sent with the reply first: the requester gets its own copy
  return mpReply('here', [fd]);
});
mp.on('seq', seqRecorder(seen));
mp.on('big', (m) => 'x'.repeat((m.data as { bytes: number }).bytes));
const events: { type: string; pid: number; text: string }[] = [];
eal.events.on('*', (e) => events.push({ type: e.type, pid: e.pid, text: e.text }));
mp.on('seq-report', () => Object.fromEntries([...seen].map(([pid, s]) => [pid, [s.count, s.inOrder]])));

const say = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};
const brief = (r: MpReply): unknown => (r.ok ? { pid: r.pid, program: r.program, ok: true, data: r.data } : { pid: r.pid, program: r.program, ok: false, code: r.error.code, message: r.error.message });

interface Cmd {
  id: number;
  do: string;
  name?: string;
  data?: unknown;
  to?: MpTarget;
  timeout?: number;
  text?: string;
  count?: number;
  seq?: number;
  keep?: number;
}
const nap = new Int32Array(new SharedArrayBuffer(4));
/** Sleep `ms` without returning to the event loop (nothing is read meanwhile). */
const block = (ms: number): void => void Atomics.wait(nap, 0, 0, ms);
const log = new EventLog(eal.region, eal.region.u32At(HDR.EVENT_LOG));

async function obey(c: Cmd): Promise<void> {
  try {
    if (c.do === 'request') {
      const replies = await mp.request(c.name!, c.data, { to: c.to, timeout: c.timeout });
      say({ id: c.id, replies: replies.map(brief) });
    } else if (c.do === 'send-fd') {
      const fd = memfdWith(c.text!);
      try {
        const replies = await mp.request('memfd', undefined, { to: c.to, fds: [fd] });
        say({ id: c.id, replies: replies.map(brief) });
      } finally {
        closeFd(fd);
      }
    } else if (c.do === 'events') {
      say({ id: c.id, events });
    } else if (c.do === 'publish') {
      eal.events.publish(c.name!, { text: c.text! });
      say({ id: c.id, published: true });
    } else if (c.do === 'claim') {
      say({ id: c.id, seq: log.claim() });
    } else if (c.do === 'commit') {
      log.publish(c.seq!, { type: c.name!, text: c.text!, pid: process.pid, program: 'mp-child' });
      mp.send('mpdk:event');
      say({ id: c.id, committed: c.seq });
    } else if (c.do === 'fill') {
      for (let n = 0; n < c.count!; n++) {
        const d = mp.send('fill', { n }, { to: c.to })[0]!;
        if (!d.ok) throw d.error;
      }
      const drained = mp.drain({ to: c.to, timeout: c.timeout });
      say({ queued: c.count, fill: c.id }); // every message is queued and the drain waits
      await drained;
      say({ id: c.id, drained: true });
    } else if (c.do === 'stuff') {
      for (let n = 0; n < c.count!; n++) {
        const ac = new AbortController();
        mp.request('big', { bytes: 8000 }, { to: c.to, signal: ac.signal }).catch(() => undefined);
        block(1);
        ac.abort();
      }
      const kept = [];
      for (let n = 0; n < c.keep!; n++) {
        kept.push(mp.request('big', { bytes: 8000 }, { to: c.to, timeout: c.timeout }));
        block(1);
      }
      block(500);
      const replies = (await Promise.all(kept)).flat();
      say({ id: c.id, replies: replies.map(brief) });
    } else if (c.do === 'flood') {
      for (let n = 0; n < c.count!; n++) {
        const d = mp.send('seq', { n }, { to: c.to })[0]!;
        if (!d.ok) throw d.error;
        if ((n & 127) === 127) await mp.drain({ to: c.to, timeout: 10_000 });
      }
      await mp.drain({ to: c.to, timeout: 10_000 });
      say({ id: c.id, sent: c.count });
    }
  } catch (e) {
    say({ id: c.id, error: (e as Error).message, code: (e as MpdkError).code });
  }
}

readline.createInterface({ input: process.stdin }).on('line', (l) => void obey(JSON.parse(l) as Cmd));
say({ ready: process.pid, slot: eal.slot });
setInterval(() => undefined, 1 << 30);
