/**
 * auditInstance: where every element of every pool of an instance is (issue 10: "every
 * mempool element is always in exactly one place"). Read-only: it attaches nothing and
 * writes nothing, so it runs on a read-only observer (`mpdk audit`) as well as inside a
 * live process.
 *
 *   column         counted from
 *   inPool         the pool's ring
 *   inCaches       every lcore's cache of the pool
 *   inRings        every ring of the instance (memzones "RG_*") that is not a port queue
 *   inPortQueues   the rings behind port queues (their drivers say which: places.ts)
 *   heldByLive     the ownership records (hands.ts) of live processes, the buffers
 *                  their queues lent to a peer (lent.ts), and the burst a put of theirs
 *                  holds while it squeezes EMPTY holes out of a pool's ring (mempool.ts MPQ)
 *   heldByDead     the same of dead processes not yet reclaimed (0 after reclaimDead, but
 *                  for buffers lent on a connection that still lasts)
 *   leaked         elements found in no place at all, and references of a shared mbuf
 *                  (REFCNT > 1) that no place holds: REFCNT − places that hold it
 *   duplicates     extra sightings: an element free (in its pool or a cache) and held too,
 *                  or held in more places than its REFCNT (one per place too many)
 *
 * Places count REFERENCES: an mbuf found in k places (records, rings, a chain of a packet
 * found there) with REFCNT k is held exactly (an mbuf shared between processes: one in A's
 * record, one in a ring to B, refcnt 2). A record holds one reference of each mbuf it names,
 * however many of its arrays name it (it holds a handle twice for an instant when it moves it
 * between its arrays): an mbuf a record holds in two arrays with REFCNT 2 shows one reference
 * leaked (hands.ts: a record holds one reference per mbuf). A free element has REFCNT 1. While traffic flows the audit is a snapshot: an
 * element moving from a place not yet scanned to one already scanned is missed (leaked
 * for this scan), one moving the other way is seen twice. `settle: k` scans up to k times
 * (10 ms apart) and keeps, per pool, the scan with the fewest leaked + duplicates; a
 * quiet instance (or one that only holds buffers still) needs one scan.
 *
 * A pool or ring whose header is damaged cannot be read (places.ts): it is named in
 * `errors` and the audit is not ok — it cannot account for what that object holds, and
 * says so rather than count what it could read as everything.
 */
import type { Eal } from '../eal/eal.js';
import { MAX_LCORE } from '../eal/options.js';
import { heldHandles, listRecords } from './hands.js';
import { Mbufs, isPktmbufPool } from '../mbuf/mbuf.js';
import { lentHandles, listLent } from './lent.js';
import { Places } from './places.js';
import { processAlive } from '../native/libc.js';

/**
 * Where one pool's elements are (`auditInstance`): counted by place; `leaked` and `duplicates` are what a correct program never has.
 */
export interface PoolAudit {
  /** The pool's name. */
  name: string;
  /** Its elements. */
  size: number;
  /** Elements in its ring of free handles. */
  inPool: number;
  /** Elements in lcore caches. */
  inCaches: number;
  /** Elements in rings (handles enqueued, not yet taken). */
  inRings: number;
  /** Elements in the rings behind port queues. */
  inPortQueues: number;
  /** Elements in live processes' ownership records. */
  heldByLive: number;
  /** Elements in dead processes' ownership records (`reclaimDead` returns them). */
  heldByDead: number;
  /** Elements found in no place at all, and references of shared mbufs no place holds (REFCNT − places). */
  leaked: number;
  /** Extra sightings: elements free and held too, or held in more places than their REFCNT. */
  duplicates: number;
}

/** `auditInstance`'s answer: where every element of every pool is, and what could not be read. */
export interface InstanceAudit {
  /** Each pool's places. */
  pools: PoolAudit[];
  /**
   * Pools, rings or the port table that could not be read (a damaged header): what they
   * hold is not seen, so the audit cannot account for every element.
   */
  errors: string[];
  /** Every pool has leaked 0 and duplicates 0, and nothing was unreadable. */
  ok: boolean;
  /** Scans made (≤ settle). */
  scans: number;
}

/** Options of `auditInstance`. */
export interface AuditOptions {
  /** Scan up to this many times while something looks leaked or duplicated (default 1). */
  settle?: number;
}

type Column = 'inPool' | 'inCaches' | 'inRings' | 'inPortQueues' | 'heldByLive' | 'heldByDead';

function scan(eal: Eal): { pools: PoolAudit[]; errors: string[] } {
  const places = new Places(eal);
  const pools = places.pools;
  const out: PoolAudit[] = pools.map((mp) => ({
    name: mp.name, size: mp.size, inPool: 0, inCaches: 0, inRings: 0, inPortQueues: 0, heldByLive: 0, heldByDead: 0, leaked: 0, duplicates: 0,
  }));
  const seen = pools.map((mp) => new Uint32Array(mp.size));
  let col: Column = 'inPool';
  const note = (h: number): void => {
    const i = places.poolOf(h);
    if (i < 0) return; // not an element (a command code, another kind of handle)
    out[i]![col]++;
    seen[i]![pools[i]!.indexOf(h)]++;
  };
  col = 'inPool';
  places.eachInPools(note);
  col = 'inCaches';
  places.eachInCaches(note);
  // Free elements (pool, caches): anything else that names one is a duplicate, whatever its REFCNT.
  const free = seen.map((s) => s.slice());
  for (const r of places.rings) {
    col = r.portQueue ? 'inPortQueues' : 'inRings';
    r.view.forEach((h) => {
      note(h);
      places.eachSegment(h, note);
    });
  }
  for (const rec of listRecords(eal)) {
    // A dead owner's FREEING window: what reached its lcore's cache is counted there.
    const cached = new Set<number>();
    if (!rec.alive && rec.lcore >= 0 && rec.lcore < MAX_LCORE) places.eachInCaches((h) => cached.add(h), rec.lcore);
    const held = heldHandles(eal, rec, (h) => cached.has(h));
    col = rec.alive ? 'heldByLive' : 'heldByDead';
    for (const [h, k] of places.references(held)) for (let i = 0; i < k; i++) note(h);
  }
  for (const rec of listLent(eal)) {
    // Buffers a queue lent to its peer (lent.ts): its lender's, alive or dead.
    const held = lentHandles(eal, rec);
    col = rec.alive ? 'heldByLive' : 'heldByDead';
    if (!rec.tx) {
      for (const h of new Set([...held.posted, ...held.staged])) note(h);
      continue;
    }
    // A sender's: chain heads, their segments its too; the lone segments it is freeing only
    // where no other place has them (an open run into its lcore's cache: counted there).
    const all = new Set<number>();
    for (const h of held.posted) {
      all.add(h);
      places.eachSegment(h, (seg) => all.add(seg));
    }
    for (const h of all) note(h);
    for (const h of held.staged) {
      const i = places.poolOf(h);
      if (i >= 0 && seen[i]![pools[i]!.indexOf(h)] === 0) note(h);
    }
  }
  for (const sq of places.squeezes()) {
    col = processAlive(sq.pid, sq.start) ? 'heldByLive' : 'heldByDead';
    for (const h of sq.handles) note(h);
  }
  const mbufs = new Mbufs(eal);
  out.forEach((a, i) => {
    const s = seen[i]!;
    const f = free[i]!;
    const mp = pools[i]!;
    const isMbuf = isPktmbufPool(mp);
    for (let k = 0; k < s.length; k++) {
      const n = s[k]!;
      if (n === 0) a.leaked++;
      else if (f[k] !== 0 || !isMbuf) a.duplicates += n - 1;
      else {
        const r = mbufs.refcnt(mp.eltStart + k * mp.stride);
        if (n > r) a.duplicates += n - Math.max(r, 1);
        else a.leaked += r - n;
      }
    }
  });
  return { pools: out, errors: places.errors };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Audit every pool of the instance (file header). Allocates: not for a hot path. */
export function auditInstance(eal: Eal, opts: AuditOptions = {}): InstanceAudit {
  const settle = Math.max(1, Math.floor(opts.settle ?? 1));
  let { pools: best, errors } = scan(eal);
  let scans = 1;
  const bad = (a: PoolAudit): number => a.leaked + a.duplicates;
  while (scans < settle && best.some((a) => bad(a) > 0)) {
    Atomics.wait(pause, 0, 0, 10);
    const next = scan(eal);
    scans++;
    errors = next.errors;
    best = best.map((a) => next.pools.find((b) => b.name === a.name && bad(b) < bad(a)) ?? a);
  }
  return { pools: best, errors, ok: errors.length === 0 && best.every((a) => bad(a) === 0), scans };
}
