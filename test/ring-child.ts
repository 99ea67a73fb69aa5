/**
 * A scripted ring user for test/ring.test.ts: `node ring-child.js <EAL args> -- <mode> key=value...`
 *
 *   produce ring=R id=K count=N burst=B     enqueue handles (K << 24 | seq), seq = 0..N-1, in
 *                                           bursts of B (waitEnqueueBurst when full)
 *   consume ring=R burst=B ctl=C slot=S     dequeue until the control memzone C says stop and the
 *                                           ring is empty; per burst, publishes its count at CTL
 *                                           slot S (so a killed consumer's progress is known)
 *   sleep ring=R                            print "waiting", sleep in waitDequeueBurst (10 s bound),
 *                                           print what woke it
 *   echo ring=R back=B count=N              take N handles one at a time (waitDequeueBurst, 10 s
 *                                           bound) and enqueue each on B
 *   ping ring=R back=B count=N              N times: wait a random 0-3 ms, enqueue a handle on R,
 *                                           wait for it on B (10 s bound); print the longest round
 *                                           trip and how many waits timed out (a lost wake-up)
 *   idle ring=R other=O                     the same through IdlePolicy watching rings R and O
 *                                           (doorbells, futex_waitv; 10 s sleeps): poll both,
 *                                           idle() when empty, print what came and from which
 *
 * Each prints one JSON line at the end: produce {produced, sum, xor}; consume {count, sum,
 * xor, order (per-producer order violations), holes (EMPTY slots dropped), reclaimed
 * (handles a repair this process ran handed back)}.
 *
 * Control memzone layout (u32 words): 0 STOP (test sets 1 when producers are done),
 * 16 + 16*S: consumer S's running count; 17 + 16*S: 1 once consumer S waits on the ring.
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, IdlePolicy, MpdkError, Ring, stderrLogger } from '../src/index.js';

const CTL = { STOP: 0, SLOTS: 64, SLOT_BYTES: 64, BYTES: 64 + 16 * 64 } as const;
/** A producer or consumer that moves nothing for this long is stuck (exit 3 with the ring's
 *  dump): a stall detector, not a bound on the run, which takes minutes on a loaded host. */
const STALL_MS = 30000;

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const ealArgs = argv.slice(0, dd);
const [mode, ...kv] = argv.slice(dd + 1);
const opt: Record<string, string> = {};
for (const a of kv) {
  const i = a.indexOf('=');
  opt[a.slice(0, i)] = a.slice(i + 1);
}

function out(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

let eal: Eal;
try {
  eal = Eal.init(ealArgs, { name: 'ring-child', logger: stderrLogger, handleSignals: true }).eal;
} catch (e) {
  process.stderr.write(`ring-child: ${(e as Error).message}\n`);
  process.exit(e instanceof MpdkError ? 1 : 2);
}

const ring = Ring.lookup(eal, opt.ring!);
const burst = Number(opt.burst ?? 32);
const buf = new Uint32Array(Math.max(burst, 1));

if (mode === 'produce') {
  const id = Number(opt.id);
  const count = Number(opt.count);
  let seq = 0;
  let sum = 0;
  let xor = 0;
  let deadline = Date.now() + STALL_MS;
  while (seq < count) {
    const n = Math.min(burst, count - seq);
    for (let i = 0; i < n; i++) buf[i] = ((id << 24) | (seq + i)) >>> 0;
    const k = ring.waitEnqueueBurst(buf, n, 200);
    for (let i = 0; i < k; i++) {
      sum += buf[i]!;
      xor = (xor ^ buf[i]!) >>> 0;
    }
    seq += k;
    if (k !== 0) deadline = Date.now() + STALL_MS;
    else if (Date.now() > deadline) {
      process.stderr.write(`ring-child: producer ${id} stuck at ${seq}/${count}\n${ring.dump()}`);
      process.exit(3);
    }
  }
  out({ produced: seq, sum, xor });
} else if (mode === 'consume') {
  const ctlMz = eal.memzones.lookup(opt.ctl!);
  const u32 = eal.region.u32;
  const stopIdx = (ctlMz.offset + CTL.STOP) >>> 2;
  const slotIdx = (ctlMz.offset + CTL.SLOTS + Number(opt.slot ?? 0) * CTL.SLOT_BYTES) >>> 2;
  const last = new Int32Array(256).fill(-1);
  let count = 0;
  let sum = 0;
  let xor = 0;
  let order = 0;
  let deadline = Date.now() + STALL_MS;
  Atomics.store(u32, slotIdx + 1, 1);
  for (;;) {
    const k = ring.waitDequeueBurst(buf, burst, 20);
    for (let i = 0; i < k; i++) {
      const v = buf[i]!;
      const p = v >>> 24;
      const s = v & 0xffffff;
      if (s <= last[p]!) order++;
      last[p] = s;
      sum += v;
      xor = (xor ^ v) >>> 0;
    }
    count += k;
    if (k !== 0) {
      Atomics.store(u32, slotIdx, count);
      deadline = Date.now() + STALL_MS;
    } else if (Atomics.load(u32, stopIdx) !== 0 && ring.empty()) break;
    else if (Date.now() > deadline) {
      process.stderr.write(`ring-child: consumer got nothing for ${STALL_MS} ms, after ${count}\n${ring.dump()}`);
      process.exit(3);
    }
  }
  const rep = ring.repair();
  out({ count, sum, xor, order, holes: ring.holesSkipped, reclaimed: rep.reclaimed });
} else if (mode === 'sleep') {
  out({ waiting: true, pid: process.pid });
  const t0 = performance.now();
  const k = ring.waitDequeueBurst(buf, 1, 10000);
  out({ woke: k, value: k ? buf[0] : -1, ms: performance.now() - t0 });
} else if (mode === 'echo' || mode === 'ping') {
  const back = Ring.lookup(eal, opt.back!);
  const count = Number(opt.count);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let maxMs = 0;
  let timeouts = 0;
  for (let i = 0; i < count; i++) {
    if (mode === 'echo') {
      if (ring.waitDequeueBurst(buf, 1, 10000) !== 1) timeouts++;
      else if (back.waitEnqueueBurst(buf, 1, 10000) !== 1) timeouts++;
      continue;
    }
    Atomics.wait(pause, 0, 0, Math.random() * 3);
    const t0 = performance.now();
    buf[0] = i;
    if (ring.waitEnqueueBurst(buf, 1, 10000) !== 1 || back.waitDequeueBurst(buf, 1, 10000) !== 1 || buf[0] !== i) timeouts++;
    maxMs = Math.max(maxMs, performance.now() - t0);
  }
  out({ mode, count, timeouts, maxMs: Math.round(maxMs) });
} else if (mode === 'idle') {
  const other = Ring.lookup(eal, opt.other!);
  const idle = new IdlePolicy({ wake: [ring, other], wakeMaxMs: 10000, spin: 1, yields: 1 });
  out({ waiting: true, pid: process.pid });
  const t0 = performance.now();
  let from = '';
  while (performance.now() - t0 < 20000) {
    if (ring.dequeueBurst(buf, 1) === 1) from = ring.name;
    else if (other.dequeueBurst(buf, 1) === 1) from = other.name;
    if (from !== '') break;
    idle.idle();
  }
  out({ woke: from, value: buf[0], ms: Math.round(performance.now() - t0), wakeups: idle.wakeups });
} else {
  process.stderr.write(`ring-child: unknown mode ${mode}\n`);
  process.exit(2);
}
eal.close();
