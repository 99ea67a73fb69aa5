/**
 * Lent: the mbufs a queue has lent to a peer (net_memif zero-copy RX posts mbufs of its
 * pool in the peer's descriptors; zero-copy TX lends the packets it sends until the peer
 * has read them), kept in shared memory so that the audit sees them and reclaimDead
 * returns them, exactly, after their lender was killed at any instruction.
 *
 *   who calls what
 *   lender (one thread)   Lent.open at the queue's attach; per burst: take (a Hands
 *                         window's record of the handover), the slot / bad / fresh views,
 *                         setBad, handOver, posted, lent; close when the connection is over
 *   reclaimer             reclaim.ts through listLent, lentReturnable, settleLent, freeLent
 *   auditor               audit.ts through listLent, lentHandles (read-only)
 *   Hands reader          hands.ts heldHandles, for a POOL_GET window whose POOL word names
 *                         a Lent record (isLent, lentTook)
 *
 * ## What the lender holds at any instruction
 * The slots are a ring of SIZE entries, counted as the peer's ring is (16-bit counters):
 * SLOTS[s & mask] for s in [LAST, HEAD) are lent. Besides them, BAD[0..NBAD) (mbufs taken
 * back from bad packets, to be lent again) and FRESH[0..k) when the GET record says the
 * pool get took k (Mempool.recordedGetTook; NO_GET: none). A handle in two of these at
 * once (between a store that adds it and the one that drops it) is the record's once:
 * readers take the union.
 *
 *   step (lender)                        one store                     moves
 *   a burst takes packets                CONS = (pkts + k) << 16 | last the k heads (chains linked,
 *     (after writing them into a Hands     (pkts: 15 bits)               NB_SEGS set) to the Hands
 *     array, whose window recorded CONS                                  array (lentTook: k =
 *     before, take)                                                      pkts − pkts before); bad
 *                                                                        packets' segments to BAD
 *   bad segments staged first            NBAD = n                      (still lent: union)
 *   refill: pool get into FRESH          the mempool's GET record      pool → FRESH
 *   refill: slots written                HEAD = head + n               BAD, FRESH → SLOTS (union)
 *   refill: done                         GET = NO_GET, NBAD = 0        (already in SLOTS)
 *   close, per chunk of k ≤ 8191 from    GET = HOLD of k               SLOTS, BAD → FRESH (union)
 *     the ends of BAD and the slots:
 *     copied to FRESH, held there
 *   close: dropped from the others       NBAD −= b, HEAD −= k − b      (in FRESH only)
 *   close: put back                      GET = PUTBACK, then HOLD of 0 FRESH → pool
 *
 * Lent buffers may still be written by the peer while the connection they were lent on
 * lasts: the GUARD says which (the word GUARD holding GVAL, and the process GPID that
 * holds the connection alive). reclaimDead returns a dead lender's lent slots only once
 * the guard is released (the word changed, or GPID died); until then it returns what is
 * staged and not lent, and SETTLES the record (NBAD = 0, GET = NO_GET: it then holds its
 * slots only, whatever its lcore's cache does later) and keeps it.
 *
 * ## A sender's record (KIND = LENT_TX)
 * SLOTS[s & mask] for s in [LAST, HEAD) hold the head of each packet lent, on its last slot
 * (0 on a chain's other slots): the head's chain (NEXT, NB_SEGS) is lent with it. HEAD's
 * high 15 bits count the packets lent (a Hands SENDING window's snapshot, as CONS for a
 * receiver: a send reads like a single-producer ring); LAST sits in CONS's low 16 bits;
 * FRESH[0..NBAD) are the lone segments being freed (the packets' chains flattened, shared
 * segments left out: Mbufs.collectFreed), put back run by run (freeing.ts: GET is its PUT
 * word, POOL its POOL, GSNAP its SNAP; FRESH[0..done) are gone). BAD is not used. Sizes up to
 * 32768 (PUT's 16-bit fields).
 *
 *   step (sender)                        one store                     moves
 *   a burst sends (its Hands window      HEAD = (pkts + k) << 16 | h   the k packets (slots
 *     named this record, take)                                         written before) from the
 *                                                                      window's array to SLOTS
 *   the peer read up to t: the segments  PUT = 0, NBAD = m,            SLOTS → FRESH (union)
 *     of its packets copied to FRESH      then CONS = t
 *   chains cut (Mbufs.unlinkFreed)       —                             (FRESH: lone segments)
 *   per run (freeing.ts): POOL, GSNAP,   PUT = done << 16 | run        (open: as the ring says)
 *     then putBulk(FRESH[done ..), run)
 *   the run closed                       PUT = (done + run) << 16      FRESH[done ..) → pool
 *   the free closed                      NBAD = 0
 * A sender leaving a connection that is over frees every lent packet the same way first;
 * on a live one the record stays (reclaimDead returns them once it is over, as a receiver's).
 *
 * close (the connection over) gives them back recorded too: copied to FRESH, held by the
 * GET record, dropped from the slots, put back (GET_PUTBACK): exact at any instruction, in
 * chunks of at most GET_BASE_MAX (8191: what a GET record counts) for a larger ring.
 *
 * ## Layout (LENT: byte offsets from the record's start; memzone "LN_<pid>_<k>")
 *   0    MAGIC VERSION PID LCORE START(f64) SIZE      owner, at open, MAGIC last
 *   28   GUARD GVAL GPID GSTART(f64)                  owner, at open
 *   48   SETTLED                                      reclaimer (dead owner)
 *   64   CONS HEAD NBAD GET GSNAP POOL                owner (SETTLED: reclaimer)
 *   128  SLOTS u32 × SIZE, BAD u32 × SIZE, FRESH u32 × SIZE
 */
import type { Eal } from '../eal/eal.js';
import type { Region } from '../eal/region.js';
import { MpdkError } from '../eal/errors.js';
import { GET_BASE_MAX, GET_REC_SNAP, Mempool, recordedGetRingSide } from '../mempool/mempool.js';
import { openRunRingSide, segmentsGone, type FreeingWords, type RunPutter } from './freeing.js';
import { processAlive, processStartTime } from '../native/libc.js';
import { TEST_HOOK, hookStop } from '../eal/test-hook.js';

/** Test hooks (read once): stop in close after a put (lent:close), before it (lent:held: the GET record holds them). */
const HOOK_CLOSE = TEST_HOOK === 'lent:close';
const HOOK_HELD = TEST_HOOK === 'lent:held';

/** Record fields: byte offsets from the record's start. */
export const LENT = {
  MAGIC: 0, VERSION: 4, PID: 8, LCORE: 12, START: 16, SIZE: 24,
  GUARD: 28, GVAL: 32, GPID: 36, GSTART: 40, SETTLED: 48, KIND: 52,
  CONS: 64, HEAD: 68, NBAD: 72, GET: 76, GSNAP: 76 + 4 * GET_REC_SNAP, POOL: 84,
  SLOTS: 128,
} as const;
export const LENT_MAGIC = 0x544e454c; // 'LENT'
export const LENT_VERSION = 3;
/** KIND: a receiver's record (its lent slots hold lone segments) or a sender's (chain heads). */
export const LENT_RX = 0;
export const LENT_TX = 1;
export const LENT_MZ_PREFIX = 'LN_';
/** GET when no pool get is open. */
const NO_GET = 0xffffffff;
/** CONS: the packets handed over count in its high 15 bits (never 0xffffffff: a Hands window's NO_GET). */
const PKTS_MASK = 0x7fff;
/** A Hands record's POOL word, counted in u32 words after its SNAP word (hands.ts HARR: 12 − 4). */
const REC_POOL = 2;

/** Bytes of a record of `size` slots. */
function recordBytes(size: number): number {
  return LENT.SLOTS + 3 * 4 * size;
}

let seq = 0;

/** Who keeps the lent buffers writable by the peer: while u32 word `word` holds `value` and `pid` lives. */
export interface LentGuard {
  /** Region offset of the connection word. */
  word: number;
  /** Its value while the connection the buffers were lent on lasts. */
  value: number;
  /** The process holding that connection (its death ends it); 0: none. */
  pid: number;
}

/**
 * The buffers one queue lends to a peer (file header). The views are the record's: the
 * lender writes slots, bad and fresh in place and publishes each change with one store.
 */
export class Lent {
  /** Region offset of the record. */
  readonly offset: number;
  /** Its memzone name. */
  readonly name: string;
  /** The slots (SIZE), the staged bad segments, the fresh mbufs of a refill's get. */
  readonly slots: Uint32Array;
  readonly bad: Uint32Array;
  readonly fresh: Uint32Array;
  /** u32 index of the GET record word (the refill's getBulk `rec`). */
  readonly getIdx: number;
  private readonly u32: Uint32Array;
  private readonly consIdx: number;
  private readonly headIdx: number;
  private readonly nbadIdx: number;
  /** The word whose high 15 bits count the packets handed over: CONS (RX), HEAD (TX). */
  private readonly countIdx: number;
  private closed = false;

  private constructor(private readonly eal: Eal, private readonly pool: Mempool | undefined, offset: number, name: string, size: number, tx: boolean) {
    const r = eal.region;
    this.offset = offset;
    this.name = name;
    this.u32 = r.u32;
    this.slots = new Uint32Array(r.buffer, offset + LENT.SLOTS, size);
    this.bad = new Uint32Array(r.buffer, offset + LENT.SLOTS + 4 * size, size);
    this.fresh = new Uint32Array(r.buffer, offset + LENT.SLOTS + 8 * size, size);
    this.consIdx = (offset + LENT.CONS) >>> 2;
    this.headIdx = (offset + LENT.HEAD) >>> 2;
    this.nbadIdx = (offset + LENT.NBAD) >>> 2;
    this.getIdx = (offset + LENT.GET) >>> 2;
    this.words = { put: this.getIdx, pool: (offset + LENT.POOL) >>> 2, snap: this.getIdx + GET_REC_SNAP };
    this.freshAt = [this.fresh];
    this.countIdx = tx ? this.headIdx : this.consIdx;
  }

  /**
   * A record of `size` slots (a power of two ≤ 65536) for the calling thread, lending mbufs
   * of `pool` on the connection `guard` names; every slot empty (LAST = HEAD = 0). `kind`
   * LENT_TX: a sender's (its mbufs come from any pool: `pool` undefined). ENOSPC
   * when the region or the memzone table is full.
   */
  static open(eal: Eal, size: number, pool: Mempool | undefined, guard: LentGuard, kind = LENT_RX): Lent {
    if (!Number.isInteger(size) || size < 1 || size > 65536 || (size & (size - 1)) !== 0) throw new MpdkError('EINVAL', `lent record: ${size} slots; give a power of two up to 65536`);
    if (kind === LENT_TX && size > 32768) throw new MpdkError('EINVAL', `lent record of a sender: ${size} slots; give a power of two up to 32768 (its PUT word counts 16 bits)`);
    let name = '';
    let off = -1;
    for (let tries = 0; off < 0; tries++) {
      name = `${LENT_MZ_PREFIX}${process.pid}_${seq++}`;
      try {
        off = eal.memzones.reserve(name, recordBytes(size), 64).offset; // zeroed
      } catch (e) {
        // A dead process with our pid left a record of that name: reclaimDead frees it; skip the name.
        if (!(e instanceof MpdkError && e.code === 'EEXIST') || tries > 64) throw e;
      }
    }
    const r = eal.region;
    const w = (f: number, v: number): void => void (r.u32[(off + f) >>> 2] = v >>> 0);
    w(LENT.VERSION, LENT_VERSION);
    r.i32[(off + LENT.PID) >>> 2] = process.pid;
    r.i32[(off + LENT.LCORE) >>> 2] = eal.lcoreId;
    r.f64[(off + LENT.START) >>> 3] = processStartTime(process.pid);
    w(LENT.SIZE, size);
    w(LENT.GUARD, guard.word);
    w(LENT.GVAL, guard.value);
    r.i32[(off + LENT.GPID) >>> 2] = guard.pid;
    r.f64[(off + LENT.GSTART) >>> 3] = guard.pid > 0 ? processStartTime(guard.pid) : 0;
    w(LENT.GET, NO_GET);
    w(LENT.POOL, pool?.header ?? 0);
    w(LENT.KIND, kind);
    r.storeRelease(off + LENT.MAGIC, LENT_MAGIC);
    return new Lent(eal, pool, off, name, size, kind === LENT_TX);
  }

  // --- hot path: one plain store per change -------------------------------------------------

  /** CONS: (packets handed over, 15 bits) << 16 | the first lent slot (LAST). */
  get cons(): number {
    return this.u32[this.consIdx]!;
  }

  /**
   * A Hands POOL_GET window receives this burst, or sends it (`rec`: its SNAP word, driver.ts
   * rxBurst's / txBurst's `rec`): name this record in its POOL word, then the packet count
   * (CONS, TX: HEAD) in SNAP (the reader's snapshot).
   */
  take(rec: number): void {
    const u32 = this.u32;
    u32[rec + REC_POOL] = this.offset;
    u32[rec] = u32[this.countIdx]!;
  }

  // --- a sender's record (TX): SLOTS [LAST, HEAD) hold the head of each packet on its last
  // slot, 0 on the others; HEAD counts the packets lent; FRESH[0..NBAD) the heads being freed.

  /** TX: `k` more packets are lent, their slots written up to `head`: one store (the handover). */
  sent(k: number, head: number): void {
    const h = this.u32[this.headIdx]!;
    this.u32[this.headIdx] = ((((h >>> 16) + k) & PKTS_MASK) << 16) | head;
  }

  /** TX: fresh[0..k) (the segments the packets of slots [LAST, upto) give back: Mbufs.collectFreed) are being freed; LAST = `upto`. */
  freeing(k: number, upto: number): void {
    this.u32[this.getIdx] = 0; // PUT: none gone, no run open
    this.u32[this.nbadIdx] = k;
    this.u32[this.consIdx] = upto;
  }

  /**
   * TX: put fresh[0..k) (lone segments: Mbufs.unlinkFreed) back to their pools, run by run,
   * each recorded (freeing.ts: PUT in GET, POOL in POOL, SNAP in GSNAP), so a reader knows which went.
   */
  putFreed(putter: RunPutter, k: number): void {
    putter.put(this.freshAt, 0, k, this.words);
  }

  /** fresh.subarray(d), made once per d (freeing.ts put: runs of several pools). */
  private readonly freshAt: Uint32Array[];
  private readonly words: FreeingWords;

  /** TX: the free of fresh[0..k) went. */
  freed(): void {
    this.u32[this.nbadIdx] = 0;
  }

  /** NBAD: bad[0..n) are staged (still lent until handOver moves LAST past them). */
  setBad(n: number): void {
    this.u32[this.nbadIdx] = n;
  }

  /** The handover: `k` more packets went to the receiver, LAST is now `last`. */
  handOver(k: number, last: number): void {
    const c = this.u32[this.consIdx]!;
    this.u32[this.consIdx] = ((((c >>> 16) + k) & PKTS_MASK) << 16) | last;
  }

  /** HEAD: slots up to `head` are lent (written before the peer's ring sees them). */
  posted(head: number): void {
    this.u32[this.headIdx] = head;
  }

  /** The refill is done: what it staged or got is in the slots only. */
  lent(): void {
    this.u32[this.getIdx] = NO_GET;
    this.u32[this.nbadIdx] = 0;
  }

  /**
   * The connection is over: the lent and staged mbufs (lone segments, as lent) go back to
   * the pool, then the record. `live`: the connection still lasts (the peer may write into
   * them): the record stays, naming them (reclaimDead returns them once it is over and we
   * are gone). Exact at any instruction: they are copied to FRESH, held there by the GET
   * record (Mempool.holdRecorded), dropped from the slots and the staging, and put back
   * recorded (putBackRecorded: the record holds none once the put went).
   */
  close(last: number, head: number, nbad: number, live: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (live) return;
    const mask = this.slots.length - 1;
    const fresh = this.fresh;
    // At most GET_BASE_MAX at a time (what a GET record counts), from the staging's and the
    // slots' ends: each chunk copied to FRESH, held by the GET record, dropped, put back.
    for (let nb = nbad, h = head; nb > 0 || h !== last;) {
      const b = Math.min(nb, GET_BASE_MAX);
      const s = Math.min((h - last) & 0xffff, GET_BASE_MAX - b);
      for (let i = 0; i < b; i++) fresh[i] = this.bad[nb - b + i]!;
      for (let i = 0; i < s; i++) fresh[b + i] = this.slots[(h - s + i) & mask]!;
      const pool = this.pool!; // a receiver's (a sender frees through freeing / freed first: none left)
      pool.holdRecorded(this.getIdx, b + s);
      if (b > 0) this.setBad((nb -= b));
      if (s > 0) this.posted((h = (h - s) & 0xffff)); // held by the GET record only now
      if (HOOK_HELD) hookStop('lent:held');
      pool.putBackRecorded(fresh, b + s, this.getIdx, 0);
      if (HOOK_CLOSE) hookStop('lent:close');
    }
    this.eal.region.storeRelease(this.offset + LENT.MAGIC, 0);
    try {
      this.eal.memzones.free(this.name);
    } catch {
      /* reclaimed meanwhile (we were taken for dead): nothing left to free */
    }
  }
}

// --- readers: hands.ts, audit.ts, reclaim.ts -------------------------------------------------

/** One record as a reader sees it. */
export interface LentRecord {
  /** Memzone name and region offset. */
  mz: string;
  offset: number;
  /** Its lender's pid, start time, lcore, and whether it lives. */
  pid: number;
  start: number;
  lcore: number;
  alive: boolean;
  /** Finished by its lender (MAGIC stored, this layout). */
  ready: boolean;
  /** A sender's record: what it holds are chain heads (their segments are its too). */
  tx: boolean;
  /** Slots. */
  size: number;
  /** The connection it lent on is over: the peer writes into none of them any more. */
  released: boolean;
  /** A reclaim already returned what it staged (it holds its slots only). */
  settled: boolean;
}

/** Every lent record of the instance (memzones "LN_*"). */
export function listLent(eal: Eal): LentRecord[] {
  const r = eal.region;
  const out: LentRecord[] = [];
  for (const mz of eal.memzones.list()) {
    if (!mz.name.startsWith(LENT_MZ_PREFIX)) continue;
    const o = mz.offset;
    const size = r.u32At(o + LENT.SIZE);
    const ready = r.loadAcquire(o + LENT.MAGIC) === LENT_MAGIC && r.u32At(o + LENT.VERSION) === LENT_VERSION
      && size > 0 && size <= 65536 && (size & (size - 1)) === 0 && recordBytes(size) <= mz.length;
    const pid = ready ? r.i32[(o + LENT.PID) >>> 2]! : mz.creator;
    const start = ready ? r.f64[(o + LENT.START) >>> 3]! : 0;
    const gpid = r.i32[(o + LENT.GPID) >>> 2]!;
    const released = !ready || r.u32At(r.u32At(o + LENT.GUARD)) !== r.u32At(o + LENT.GVAL) || gpid <= 0 || !processAlive(gpid, r.f64[(o + LENT.GSTART) >>> 3]!);
    out.push({
      mz: mz.name, offset: o, pid, start, lcore: ready ? r.i32[(o + LENT.LCORE) >>> 2]! : -1, alive: pid > 0 && processAlive(pid, start),
      ready, tx: ready && r.u32At(o + LENT.KIND) === LENT_TX, size: ready ? size : 0, released, settled: r.u32At(o + LENT.SETTLED) === 1,
    });
  }
  return out;
}

/**
 * What a record holds: its lent slots (TX: chain heads), and what is staged (RX: bad, or got
 * by an open refill; TX: lone segments being freed, not yet put, or in an open run into the
 * lender's lcore cache: those are found there).
 */
export interface LentHeld {
  posted: number[];
  staged: number[];
}

/**
 * The handles record `rec` holds (file header). Exact for a dead lender, read before its
 * lcore's caches are flushed (an open refill's get is told by the cache's LEN); a
 * snapshot for a live one. Handles may be in both lists: callers take the union.
 */
export function lentHandles(eal: Eal, rec: LentRecord): LentHeld {
  const out: LentHeld = { posted: [], staged: [] };
  if (!rec.ready) return out;
  const r = eal.region;
  const u32 = r.u32;
  const o = rec.offset;
  const mask = rec.size - 1;
  const last = r.u32At(o + LENT.CONS) & 0xffff;
  const head = r.u32At(o + LENT.HEAD) & 0xffff;
  const n = (head - last) & 0xffff;
  const slots = (o + LENT.SLOTS) >>> 2;
  if (n <= rec.size) {
    for (let i = 0; i < n; i++) {
      const h = u32[slots + ((last + i) & mask)]!;
      if (h !== 0) out.posted.push(h); // TX: a chain's first slots are 0
    }
  }
  const nbad = Math.min(r.u32At(o + LENT.NBAD), rec.size);
  const bad = slots + rec.size;
  if (rec.tx) {
    // FRESH[done .. NBAD): lone segments not yet put; an open run straight to a ring went iff
    // that ring's producer line moved its count past GSNAP (a run into the cache: the callers
    // find those in the dead lcore's cache).
    const done = segmentsGone(eal, rec.lcore, r.u32At(o + LENT.GET), r.u32At(o + LENT.POOL), r.u32At(o + LENT.GSNAP));
    for (let i = done; i < nbad; i++) out.staged.push(u32[bad + rec.size + i]!);
    return out;
  }
  for (let i = 0; i < nbad; i++) out.staged.push(u32[bad + i]!);
  const get = r.u32At(o + LENT.GET);
  if (get !== NO_GET) {
    try {
      const k = Math.min(Mempool.attachAt(eal, r.u32At(o + LENT.POOL)).recordedGetTook(rec.lcore, get, r.u32At(o + LENT.GSNAP)), rec.size);
      for (let i = 0; i < k; i++) out.staged.push(u32[bad + rec.size + i]!);
    } catch {
      /* not a readable pool: the get is not known (a leak at worst) */
    }
  }
  return out;
}

/**
 * The single-ended pool ring side record `rec` has a burst in flight on (offset | 1 consumer,
 * | 2 producer; 0 none): a sender's open run of its free of what the peer read, straight to a
 * single-producer pool ring (freeing.ts openRunRingSide); a receiver's refill get on a
 * single-consumer pool ring, or its put-back at close on a single-producer one
 * (Mempool recordedGetRingSide). For reclaim.ts step 1: a dead lender killed between that
 * ring's head and tail stores is rolled back (a run into the lcore cache, or the cache's refill
 * or flush it makes, is the cache line's: Mempool.recoverCache). 0 for a settled record.
 */
export function lentRingSide(eal: Eal, rec: LentRecord): number {
  // A settled record's burst was rolled back by the reclaim that settled it, which rewrote GET
  // (NO_GET: read as an open run by a sender's PUT): a live producer of that ring is never touched.
  if (!rec.ready || rec.settled) return 0;
  const r = eal.region;
  const get = r.u32At(rec.offset + LENT.GET);
  const pool = r.u32At(rec.offset + LENT.POOL);
  return rec.tx ? openRunRingSide(r, get, pool) : recordedGetRingSide(r, pool, get);
}

/**
 * What reclaimDead may return of a dead lender's record: all it holds once released, else
 * what is staged and not lent (posted: empty). A sender's posted are chain heads, its staged lone segments.
 */
export function lentReturnable(eal: Eal, rec: LentRecord): LentHeld {
  const h = lentHandles(eal, rec);
  if (rec.released) return h;
  const lent = new Set(h.posted);
  return { posted: [], staged: h.staged.filter((x) => !lent.has(x)) };
}

/** reclaimDead, after returning lentReturnable of a record whose guard holds: it now holds its slots only. */
export function settleLent(eal: Eal, rec: LentRecord): void {
  const r = eal.region;
  r.u32[(rec.offset + LENT.NBAD) >>> 2] = 0;
  r.u32[(rec.offset + LENT.GET) >>> 2] = NO_GET;
  r.u32[(rec.offset + LENT.SETTLED) >>> 2] = 1;
}

/** reclaimDead, after returning all a released record held: the record goes. */
export function freeLent(eal: Eal, rec: LentRecord): void {
  eal.region.storeRelease(rec.offset + LENT.MAGIC, 0);
  eal.memzones.free(rec.mz);
}

/** Is there a lent record at region offset `at` (a Hands POOL_GET window's POOL word)? */
export function isLent(r: Region, at: number): boolean {
  return at > 0 && at % 64 === 0 && at + LENT.SLOTS <= r.size && r.loadAcquire(at + LENT.MAGIC) === LENT_MAGIC;
}

/** The packets the lender handed over (RX) or lent (TX) since a Hands window recorded its count = `snap` (Lent.take). */
export function lentTook(r: Region, at: number, snap: number): number {
  const word = r.u32At(at + LENT.KIND) === LENT_TX ? LENT.HEAD : LENT.CONS;
  return ((r.u32At(at + word) >>> 16) - (snap >>> 16)) & PKTS_MASK;
}
