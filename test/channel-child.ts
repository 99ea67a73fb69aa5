/**
 * The other processes of test/channel.test.ts (secondaries):
 *   node channel-child.js <EAL args> -- MODE key=value...
 *
 *   send name=C id=K sizes=A,B,... count=N batch=B   send N messages (sizes cycling), B per
 *                                                    sendManyAsync; prints {sent}
 *   stream name=C id=K size=S batch=B                send messages until killed; prints
 *                                                    {"streaming":true} after the first batch
 *   recv name=C idle=MS                              receive until a stdin line `end` came
 *                                                    (the test's word that every sender has
 *                                                    sent all; or stdin closed) and then no
 *                                                    message for MS (30 s in all); prints
 *                                                    {received, bad, sum, xor, bytes} over
 *                                                    the messages
 *   hold name=C                                      receive one batch and keep it; prints
 *                                                    {"holding": messages}; waits to be killed
 *
 * A message of id K, sequence s and size z ≥ 12: u32 K, u32 s, u32 z, then byte j (j ≥ 12)
 * = (s * 7 + j + K) & 255 (`message` / `check`, also used by the test itself).
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import readline from 'node:readline';
import { Channel, Eal, stderrLogger, type MessageBatch } from '../src/index.js';
import { childArgv, out } from './child-argv.js';

/** Message `seq` of sender `id`, `size` bytes (≥ 12). */
export function message(id: number, seq: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  const dv = new DataView(m.buffer);
  dv.setUint32(0, id, true);
  dv.setUint32(4, seq, true);
  dv.setUint32(8, size, true);
  for (let j = 12; j < size; j++) m[j] = (seq * 7 + j + id) & 255;
  return m;
}

/** The (id, seq) of a well-formed message, or undefined. */
export function check(m: Uint8Array): { id: number; seq: number } | undefined {
  if (m.length < 12) return undefined;
  const dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
  const id = dv.getUint32(0, true);
  const seq = dv.getUint32(4, true);
  if (dv.getUint32(8, true) !== m.length) return undefined;
  for (let j = 12; j < m.length; j++) if (m[j] !== ((seq * 7 + j + id) & 255)) return undefined;
  return { id, seq };
}

/** Add a batch's messages to running totals (the test's receivers and this one's). */
export function tally(batch: MessageBatch, t: { received: number; bad: number; sum: number; xor: number; bytes: number }): void {
  for (let i = 0; i < batch.length; i++) {
    const c = check(batch.bytes(i));
    if (!c) {
      t.bad++;
      continue;
    }
    t.received++;
    t.sum += c.seq + c.id * 1_000_000;
    t.xor = (t.xor ^ ((c.id << 24) | c.seq)) >>> 0;
    t.bytes += batch.size(i);
  }
}

async function main(): Promise<void> {
  const { ealArgs, mode, opt } = childArgv();
  setTimeout(() => process.exit(3), 60_000).unref(); // never outlive a test that hangs
  using eal = Eal.init(ealArgs, { name: `channel-child:${mode}`, logger: stderrLogger, handleSignals: true }).eal;
  const ch = Channel.lookup(eal, opt.name!);
  const id = Number(opt.id ?? 0);
  if (mode === 'send' || mode === 'stream') {
    using tx = ch.sender();
    const sizes = (opt.sizes ?? opt.size ?? '64').split(',').map(Number);
    const batch = Number(opt.batch ?? 1);
    const count = mode === 'send' ? Number(opt.count) : Infinity;
    const msgs: Uint8Array[] = [];
    let seq = 0;
    while (seq < count) {
      msgs.length = 0;
      for (let i = 0; i < batch && seq + i < count; i++) msgs.push(message(id, seq + i, sizes[(seq + i) % sizes.length]!));
      if (!(await tx.sendManyAsync(msgs, msgs.length, { timeout: 20_000 }))) throw new Error('no room for 20 s');
      if (seq === 0 && mode === 'stream') out({ streaming: true });
      seq += msgs.length;
    }
    out({ sent: seq });
  } else if (mode === 'recv') {
    using rx = ch.receiver();
    // A silence ends it only after `end`: before, it may be a sender not yet started or
    // descheduled (a receiver that ended on 1.5 s of silence left a late sender no reader).
    let ended = false;
    const lines = readline.createInterface({ input: process.stdin });
    lines.on('line', (l) => {
      if (l.trim() === 'end') ended = true;
    });
    lines.on('close', () => (ended = true)); // stdin closed: no word will come
    out({ receiving: true });
    const idle = Number(opt.idle ?? 1000);
    const t = { received: 0, bad: 0, sum: 0, xor: 0, bytes: 0 };
    for (const end = Date.now() + 30_000; ;) {
      const b = await rx.receive({ timeout: idle });
      if (b.length === 0) {
        if (ended || Date.now() > end) break;
        continue;
      }
      tally(b, t);
    }
    lines.close();
    out({ ...t, damaged: rx.damaged });
  } else if (mode === 'hold') {
    const rx = ch.receiver();
    const b = await rx.receive({ timeout: 20_000 });
    out({ holding: b.length });
    await new Promise(() => undefined); // until killed
  }
}

if (process.argv[1]?.endsWith('channel-child.js')) await main();
