/**
 * The master's side of the ownership record (layout.ts): after a slave has died (or has
 * stopped), read exactly which mbufs it held, repair the single-producer / single-consumer
 * rings it may have left half-published, and account for every mbuf of the pool.
 *
 *   who calls what
 *   main.ts (master)   fixRings, heldHandles, clearRecord — only for a slave whose process
 *                      is gone (nobody else writes its record or moves those ring sides)
 *                      accountPool — at any time (a snapshot), exact when traffic is still
 *
 * Never reclaims a handle that is somewhere else: heldHandles' result is filtered by the
 * caller against the pool and every ring (main.ts), a safety net on top of the record.
 */
import { MPC, MPH, RING, RING_EMPTY, type Mempool } from '../../index.js';
import { RES, RXR, RX_RECEIVING, TXBUF_CAP, TXR, TX_FLUSHING, TX_N_MASK, TX_SIDE } from './layout.js';

/** What one slave's record said it held. */
export interface Held {
  handles: number[];
  rx: number;
  tx: number;
  /** Inconsistencies found (an impossible count): the record was ignored there. */
  errors: string[];
}

/** Rings of one slave: offsets (0 = the port is not a ring port). */
export interface SlaveRings {
  rx: number[];
  tx: number[];
  drop: number;
}

/**
 * A single producer or consumer killed between its head store and its tail store leaves
 * head ≠ tail: the burst was never published, so put the head back (its handles are still
 * in the ring for a consumer, still in the record for a producer). Returns true if fixed.
 */
export function fixSingleEnded(u32: Uint32Array, ring: number, cons: boolean): boolean {
  if (ring === 0) return false;
  const hi = (ring + (cons ? RING.CONS_HEAD : RING.PROD_HEAD)) >>> 2;
  const ti = (ring + (cons ? RING.CONS_TAIL : RING.PROD_TAIL)) >>> 2;
  const tail = Atomics.load(u32, ti);
  if (u32[hi] === tail) return false;
  Atomics.store(u32, hi, tail);
  return true;
}

/** Repair every ring side the dead slave was the single user of. Returns how many were fixed. */
export function fixRings(u32: Uint32Array, rings: SlaveRings): number {
  let fixed = 0;
  for (const r of rings.rx) if (fixSingleEnded(u32, r, true)) fixed++;
  for (const r of rings.tx) if (fixSingleEnded(u32, r, false)) fixed++;
  if (fixSingleEnded(u32, rings.drop, false)) fixed++;
  return fixed;
}

/** The handles a gone slave held, from its record (after fixRings). */
export function heldHandles(u32: Uint32Array, res: number, nrx: number, rings: SlaveRings): Held {
  const out: Held = { handles: [], rx: 0, tx: 0, errors: [] };
  const rxCtrl = u32[(res + RES.RX + RXR.CTRL) >>> 2]!;
  if ((rxCtrl & RX_RECEIVING) !== 0) {
    const j = rxCtrl & 0xffff;
    const ring = rings.rx[j] ?? 0;
    if (ring !== 0) {
      const before = u32[(res + RES.RX + RXR.TAIL) >>> 2]!;
      const k = (Atomics.load(u32, (ring + RING.CONS_TAIL) >>> 2) - before) >>> 0;
      if (k > TXBUF_CAP) out.errors.push(`RX record of port index ${j}: ${k} handles past the snapshot`);
      else {
        const a = (res + RES.RX + RXR.ARR) >>> 2;
        for (let i = 0; i < k; i++) out.handles.push(u32[a + i]!);
        out.rx = k;
      }
    }
  }
  for (let j = 0; j < nrx; j++) {
    const t = res + RES.TX + j * TXR.BYTES;
    const ctrl = u32[(t + TXR.CTRL) >>> 2]!;
    const n = ctrl & TX_N_MASK;
    if (n === 0) continue;
    if (n > TXBUF_CAP) {
      out.errors.push(`TX buffer ${j}: count ${n} > ${TXBUF_CAP}`);
      continue;
    }
    const arr = (t + ((ctrl & TX_SIDE) !== 0 ? TXR.ARR1 : TXR.ARR0)) >>> 2;
    let from = 0;
    if ((ctrl & TX_FLUSHING) !== 0) {
      const txr = rings.tx[j] ?? 0;
      const s = txr ? (Atomics.load(u32, (txr + RING.PROD_TAIL) >>> 2) - u32[(t + TXR.TXTAIL) >>> 2]!) >>> 0 : 0;
      const d = (Atomics.load(u32, (rings.drop + RING.PROD_TAIL) >>> 2) - u32[(t + TXR.DROPTAIL) >>> 2]!) >>> 0;
      if (s + d > n) {
        out.errors.push(`TX buffer ${j}: ${s} sent + ${d} dropped > ${n} buffered`);
        continue;
      }
      from = s + d;
    }
    for (let i = from; i < n; i++) out.handles.push(u32[arr + i]!);
    out.tx += n - from;
  }
  return out;
}

/** Empty the record for the next slave of this lcore. */
export function clearRecord(u32: Uint32Array, res: number, nrx: number): void {
  u32[(res + RES.RX + RXR.CTRL) >>> 2] = 0;
  for (let j = 0; j < nrx; j++) u32[(res + RES.TX + j * TXR.BYTES + TXR.CTRL) >>> 2] = 0;
}

/** Handles in a ring between its cons tail and prod tail (EMPTY holes left out). */
export function ringHandles(u32: Uint32Array, ring: number, out: (h: number) => void): number {
  const ct = Atomics.load(u32, (ring + RING.CONS_TAIL) >>> 2);
  const pt = Atomics.load(u32, (ring + RING.PROD_TAIL) >>> 2);
  const mask = u32[(ring + RING.MASK) >>> 2]!;
  const cap = u32[(ring + RING.CAPACITY) >>> 2]!;
  const n = Math.min((pt - ct) >>> 0, cap);
  const slots = (ring + RING.SLOTS) >>> 2;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const h = u32[slots + (((ct + i) >>> 0) & mask)]!;
    if (h === RING_EMPTY) continue;
    out(h);
    k++;
  }
  return k;
}

export interface PoolAccount {
  size: number;
  inPool: number;
  inCaches: number;
  inPortQueues: number;
  inDropRings: number;
  heldBySlaves: number;
  /** Neither in the pool, a cache, a ring nor a slave's record (held by another process, or lost). */
  elsewhere: number;
  duplicates: number;
  foreign: number;
}

/**
 * Where every mbuf of `pool` is: its ring and caches (Mempool.audit), the port rings,
 * the drop rings, the slaves' records. A snapshot while traffic flows; exact when it is still.
 */
export function accountPool(pool: Mempool, u32: Uint32Array, portRings: readonly number[], dropRings: readonly number[], held: readonly number[]): PoolAccount {
  const a = pool.audit();
  const seen = new Uint8Array(pool.size);
  let duplicates = 0;
  let foreign = 0;
  // The audit reports counts only: walk its ring and caches again to mark the handles.
  const note = (h: number): void => {
    const i = pool.indexOf(h);
    if (i < 0) foreign++;
    else if (seen[i]++ !== 0) duplicates++;
  };
  ringHandles(u32, pool.ring.offset, note);
  for (const [l, len] of Object.entries(a.caches)) {
    const c = poolCacheObjs(pool, Number(l));
    for (let i = 0; i < len; i++) note(u32[c + i]!);
  }
  let inPortQueues = 0;
  for (const r of portRings) if (r) inPortQueues += ringHandles(u32, r, note);
  let inDropRings = 0;
  for (const r of dropRings) inDropRings += ringHandles(u32, r, note);
  for (const h of held) note(h);
  let present = 0;
  for (let i = 0; i < seen.length; i++) if (seen[i]) present++;
  return {
    size: pool.size, inPool: a.inRing, inCaches: a.inCaches, inPortQueues, inDropRings, heldBySlaves: held.length,
    elsewhere: pool.size - present, duplicates, foreign,
  };
}

/** u32 index of lcore `l`'s cache objects in `pool` (MPH / MPC layout of mempool.ts). */
function poolCacheObjs(pool: Mempool, l: number): number {
  const u32 = pool.eal.region.u32;
  const base = u32[(pool.header + MPH.CACHE_OFF) >>> 2]!;
  const stride = u32[(pool.header + MPH.CACHE_STRIDE) >>> 2]!;
  return (base + l * stride + MPC.OBJS) >>> 2;
}

/**
 * Mark (by element index) every element of `pool` found in its ring, its caches or one
 * of `rings`: what a reclaim must never return a second time.
 */
export function markPresent(pool: Mempool, u32: Uint32Array, rings: readonly number[]): Uint8Array {
  const seen = new Uint8Array(pool.size);
  const note = (h: number): void => {
    const i = pool.indexOf(h);
    if (i >= 0) seen[i] = 1;
  };
  ringHandles(u32, pool.ring.offset, note);
  const a = pool.audit();
  for (const [l, len] of Object.entries(a.caches)) {
    const c = poolCacheObjs(pool, Number(l));
    for (let i = 0; i < len; i++) note(u32[c + i]!);
  }
  for (const r of rings) if (r) ringHandles(u32, r, note);
  return seen;
}
