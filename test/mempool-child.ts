/**
 * A scripted secondary for the mempool and mbuf tests:
 *   node mempool-child.js <EAL args> -- <mode> <pool> [args]
 * Each mode prints JSON lines on stdout:
 *   churn POOL ITERS SEED     random getBulk/putBulk through this lcore's cache, holding up to
 *                             ~256 elements; writes the element's index into its first word on
 *                             get and checks it on put; returns everything; prints {"done":…}
 *   hold POOL GET PUTBACK     get GET elements, put PUTBACK back (they land in the cache), print
 *                             {"ready":true,…} and wait until stdin closes (or SIGKILL)
 *   mbuf-write POOL LEN SEED  allocate an mbuf, write LEN pseudo-random bytes, print its handle
 *                             and checksum, and exit without freeing it (the reader frees it)
 */
import './exit-first.js'; // first: no hang in Node 24's exit
import { Eal, Mempool, MpdkError, PktmbufPool, stderrLogger } from '../src/index.js';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const ealArgs = argv.slice(0, dd);
const [mode, poolName, a1, a2, a3] = argv.slice(dd + 1);

function out(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

let eal: Eal;
try {
  eal = Eal.init([...ealArgs, '--proc-type=secondary', '--log-level', 'error'], { name: 'mempool-child', logger: stderrLogger, handleSignals: true }).eal;
} catch (e) {
  process.stderr.write(`mempool-child: ${(e as Error).message}\n`);
  process.exit(e instanceof MpdkError ? 1 : 2);
}

let seed = 1;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

if (mode === 'churn') {
  const mp = Mempool.lookup(eal, poolName!);
  const iters = Number(a1);
  seed = Number(a2) | 1;
  const u32 = eal.region.u32;
  const held = new Uint32Array(512);
  let nHeld = 0;
  const burst = new Uint32Array(64);
  let gets = 0;
  let puts = 0;
  let empty = 0;
  let corrupt = 0;
  for (let it = 0; it < iters; it++) {
    const n = 1 + rnd(48);
    if (rnd(2) === 0 && nHeld + n <= 256) {
      if (mp.getBulk(burst, n) !== n) {
        empty++;
        continue;
      }
      for (let i = 0; i < n; i++) {
        const h = burst[i]!;
        u32[h >>> 2] = mp.indexOf(h); // the holder's mark: checked on put
        held[nHeld++] = h;
      }
      gets += n;
    } else if (nHeld > 0) {
      const k = Math.min(n, nHeld);
      for (let i = 0; i < k; i++) {
        // take random held elements
        const j = rnd(nHeld);
        const h = held[j]!;
        held[j] = held[--nHeld]!;
        if (u32[h >>> 2] !== mp.indexOf(h)) corrupt++;
        burst[i] = h;
      }
      mp.putBulk(burst, k);
      puts += k;
    }
  }
  for (let i = 0; i < nHeld; i++) if (u32[held[i]! >>> 2] !== mp.indexOf(held[i]!)) corrupt++;
  mp.putBulk(held, nHeld);
  puts += nHeld;
  out({ done: true, gets, puts, empty, corrupt, cache: mp.cacheCount(eal.lcoreId), lcore: eal.lcoreId });
  eal.close();
} else if (mode === 'hold') {
  const mp = Mempool.lookup(eal, poolName!);
  const get = Number(a1);
  const back = Number(a2);
  const objs = new Uint32Array(get);
  for (let i = 0; i < get; i++) objs[i] = mp.get();
  for (let i = 0; i < back; i++) mp.put(objs[i]!);
  out({ ready: true, held: get - back, cache: mp.cacheCount(eal.lcoreId), lcore: eal.lcoreId, pid: process.pid });
  process.stdin.resume();
  process.stdin.on('end', () => {
    eal.close();
    process.exit(0);
  });
} else if (mode === 'mbuf-write') {
  const pool = PktmbufPool.lookup(eal, poolName!);
  const len = Number(a1);
  seed = Number(a2) | 1;
  const h = pool.alloc();
  if (pool.append(h, len) < 0) throw new Error('no room');
  const u8 = pool.u8;
  const at = pool.dataOffset(h);
  let sum = 0;
  for (let i = 0; i < len; i++) {
    const b = rnd(256);
    u8[at + i] = b;
    sum = (sum * 31 + b) >>> 0;
  }
  pool.setPort(h, 3);
  pool.setRssHash(h, 0xdeadbeef);
  out({ handle: h, sum, len });
  eal.close();
  void a3;
} else {
  process.stderr.write(`mempool-child: unknown mode ${mode}\n`);
  process.exit(2);
}
