/**
 * RingView: a ring seen from outside its producers and consumers — counts, contents, claims
 * in flight, burst snapshots, a description for tools. Read-only: it writes nothing, so it
 * works on a read-only observer's mapping (`mpdk info`, `mpdk audit`) as well as inside a
 * live process. `Ring` (ring.ts) is a RingView plus the producer and consumer operations.
 *
 *   who calls what
 *   audit, reclaim      RingView.list(eal), at(region, offset); forEach (every handle the
 *                       ring holds), burstMoved (ownership records, mempool caches)
 *   tools               count, highWater, holes, claims, dump, describe ('ring' describer)
 *
 * Everything here is a snapshot: exact when nobody enqueues or dequeues meanwhile (an audit
 * after a crash, a test's end). A view is made only over a checked header (layout.ts
 * RingMemory.at): a damaged ring is an error naming it, never a read outside the region.
 */
import type { Eal } from '../eal/eal.js';
import { registerDescriber, type ObjectDescription } from '../eal/describe.js';
import { MAX_LCORE } from '../eal/options.js';
import type { Region } from '../eal/region.js';
import { burstMoved, burstSnapIndex, claimsInFlight, type ClaimInfo } from './claims.js';
import { CLAIM_STATE, RING, RING_EMPTY, RING_F_EXACT_SZ, RING_F_SC_DEQ, RING_F_SP_ENQ, RING_MAGIC, RING_MZ_PREFIX, RingMemory } from './layout.js';

/** One ring of the instance as `RingView.list` finds it: a view, or why it cannot be read. */
export interface RingEntry {
  /** The ring's name. */
  name: string;
  /** Region offset of the ring. */
  offset: number;
  /** A view of it (absent when its header is damaged). */
  view?: RingView;
  /** Why it could not be viewed (a damaged header). */
  error?: string;
}

/**
 * A ring seen from outside its producers and consumers: counts, contents, claims in flight, a
 * description for tools. Read-only (it works on an observer's read-only mapping); a snapshot,
 * exact when nobody moves handles meanwhile. `Ring` extends it with the operations.
 */
export class RingView {
  /** The ring's name (without its memzone's prefix). */
  readonly name: string;
  /** Byte offset of the ring in the region. */
  readonly offset: number;
  /** Slots (a power of two). */
  readonly size: number;
  /** Entries it can hold: size-1, or the exact count with RING_F_EXACT_SZ. */
  readonly capacity: number;
  /** RING_F_* flags: single producer, single consumer, exact size. */
  readonly flags: number;
  /** `size - 1`: a slot is `index & mask`. */
  readonly mask: number;
  /** The checked bytes of this ring (the ring layer's files work through them). */
  protected readonly mem: RingMemory;

  protected constructor(mem: RingMemory) {
    this.mem = mem;
    this.name = mem.name;
    this.offset = mem.offset;
    this.size = mem.size;
    this.capacity = mem.capacity;
    this.flags = mem.flags;
    this.mask = mem.mask;
  }

  /** A view of the ring at `offset`: EINVAL when none can be there, EPROTO when none is, or a damaged one. */
  static at(region: Region, offset: number): RingView {
    return new RingView(RingMemory.at(region, offset));
  }

  /**
   * Every ring made by Ring.create (memzones "RG_*"), each with a view or the error that
   * stops its reading (a damaged header). Rings still being created (or being freed: no
   * magic yet or any more) are left out.
   */
  static list(eal: Eal): RingEntry[] {
    const out: RingEntry[] = [];
    for (const mz of eal.memzones.list()) {
      if (!mz.name.startsWith(RING_MZ_PREFIX)) continue;
      const name = mz.name.slice(RING_MZ_PREFIX.length);
      const magic = eal.region.loadAcquire(mz.offset + RING.MAGIC) >>> 0;
      if (magic === 0) continue;
      try {
        out.push({ name, offset: mz.offset, view: RingView.at(eal.region, mz.offset) });
      } catch (e) {
        out.push({ name, offset: mz.offset, error: magic === RING_MAGIC ? (e as Error).message : `no ring header (magic 0x${magic.toString(16)}): the memzone is damaged` });
      }
    }
    return out;
  }

  /** Entries in the ring (a snapshot). */
  count(): number {
    const ct = Atomics.load(this.mem.h, RING.CONS_TAIL >>> 2);
    const pt = Atomics.load(this.mem.h, RING.PROD_TAIL >>> 2);
    const e = (pt - ct) >>> 0;
    return e > this.capacity ? this.capacity : e;
  }

  /** Room left: how many handles an enqueue could add now (a snapshot). */
  freeCount(): number {
    return this.capacity - this.count();
  }

  /** Whether the ring holds `capacity` handles (a snapshot). */
  full(): boolean {
    return this.count() === this.capacity;
  }

  /** Whether the ring holds no handle (a snapshot). */
  empty(): boolean {
    return this.count() === 0;
  }

  /** Most entries ever seen by a side that loaded the other side's tail. */
  highWater(): number {
    return this.mem.h[RING.HIGH_WATER >>> 2]!;
  }

  /** Slots filled with EMPTY by repairs of dead producers, ever. */
  holes(): number {
    return this.mem.h[RING.HOLES >>> 2]!;
  }

  /** Does a side keep claim records (MP producers or MC consumers), i.e. can `repair` have work? */
  get hasClaims(): boolean {
    return (this.flags & (RING_F_SP_ENQ | RING_F_SC_DEQ)) !== (RING_F_SP_ENQ | RING_F_SC_DEQ);
  }

  /**
   * A copy of the handles in the ring, oldest first (between the cons tail and the prod
   * tail; EMPTY holes left out). Allocates: not a hot path.
   */
  contents(): Uint32Array {
    const h = this.mem.h;
    const ct = Atomics.load(h, RING.CONS_TAIL >>> 2);
    const pt = Atomics.load(h, RING.PROD_TAIL >>> 2);
    let n = (pt - ct) >>> 0;
    if (n > this.capacity) n = this.capacity;
    const out = new Uint32Array(n);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const v = this.mem.slots[(ct + i) & this.mask]!;
      if (v !== RING_EMPTY) out[j++] = v;
    }
    return j === n ? out : out.slice(0, j);
  }

  /**
   * Call `fn` on every handle the ring holds: its published entries (EMPTY holes left out)
   * and, on an MP producer side, the slots of WRITTEN claims past the tail (repair will
   * publish them). Returns how many.
   */
  forEach(fn: (h: number) => void): number {
    const { h, slots, mask, capacity } = this.mem;
    const ct = Atomics.load(h, RING.CONS_TAIL >>> 2);
    const pt = Atomics.load(h, RING.PROD_TAIL >>> 2);
    const n = Math.min((pt - ct) >>> 0, capacity);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const v = slots[((ct + i) >>> 0) & mask]!;
      if (v === RING_EMPTY) continue;
      fn(v);
      k++;
    }
    if (this.mem.single(false)) return k;
    for (let l = 0; l < MAX_LCORE; l++) {
      const line = this.mem.claimLine(l, false);
      if (h[line + (RING.C_STATE >>> 2)] !== CLAIM_STATE.WRITTEN) continue;
      const from = h[line + (RING.C_FROM >>> 2)]!;
      const m = (h[line + (RING.C_TO >>> 2)]! - from) >>> 0;
      if (((from - pt) >>> 0) >= 0x80000000 || m > capacity) continue; // already published
      for (let i = 0; i < m; i++) {
        const v = slots[((from + i) >>> 0) & mask]!;
        if (v === RING_EMPTY) continue;
        fn(v);
        k++;
      }
    }
    return k;
  }

  /** Claims in flight (not IDLE), both sides. */
  claims(): ClaimInfo[] {
    return claimsInFlight(this.mem);
  }

  /** The region u32 index a burst by lcore `lc` snapshots before it starts (claims.ts). */
  burstSnapIndex(lc: number, cons: boolean): number {
    return burstSnapIndex(this.mem, lc, cons);
  }

  /** How many handles the burst whose snapshot is `snap` moved through the ring (claims.ts). */
  burstMoved(lc: number, snap: number, cons: boolean): number {
    return burstMoved(this.mem, lc, snap, cons);
  }

  /** The ring's header, counts and claims in flight as text (DPDK's rte_ring_dump), for debugging. */
  dump(): string {
    const h = this.mem.h;
    const w = (off: number): number => h[off >>> 2]!;
    const lines = [
      `ring <${this.name}>@${this.offset}`,
      `  flags=${this.flags}${this.flags & RING_F_SP_ENQ ? ' SP' : ' MP'}${this.flags & RING_F_SC_DEQ ? ' SC' : ' MC'}${this.flags & RING_F_EXACT_SZ ? ' EXACT_SZ' : ''}`,
      `  size=${this.size}`,
      `  capacity=${this.capacity}`,
      `  ct=${w(RING.CONS_TAIL)}`,
      `  ch=${w(RING.CONS_HEAD)}`,
      `  pt=${w(RING.PROD_TAIL)}`,
      `  ph=${w(RING.PROD_HEAD)}`,
      `  used=${this.count()}`,
      `  avail=${this.freeCount()}`,
      `  high_water=${w(RING.HIGH_WATER)}`,
      `  holes=${w(RING.HOLES)}`,
      `  waiters: not_empty=${w(RING.NE_WAITERS)} not_full=${w(RING.NF_WAITERS)}`,
    ];
    for (const c of this.claims()) lines.push(`  claim ${c.side} lcore ${c.lcore}: [${c.from}, ${c.to}) ${c.state} pid ${c.pid}${c.alive ? '' : ' (dead)'}`);
    return lines.join('\n') + '\n';
  }

  /** The ring as tools show it (`mpdk info`): sizes, counts, high water, waiters. */
  describe(): ObjectDescription {
    const h = this.mem.h;
    return {
      kind: 'ring', name: this.name, offset: this.offset, size: this.size, capacity: this.capacity, flags: this.flags,
      count: this.count(), free: this.freeCount(), highWater: this.highWater(), holes: this.holes(),
      reclaimedTotal: h[RING.RECLAIMED_TOTAL >>> 2]!, repairs: h[RING.REPAIRS >>> 2]!,
      prodHead: h[RING.PROD_HEAD >>> 2]!, prodTail: h[RING.PROD_TAIL >>> 2]!,
      consHead: h[RING.CONS_HEAD >>> 2]!, consTail: h[RING.CONS_TAIL >>> 2]!,
      waitersNotEmpty: h[RING.NE_WAITERS >>> 2]!, waitersNotFull: h[RING.NF_WAITERS >>> 2]!,
      claimsInFlight: this.claims().length,
    };
  }
}

registerDescriber('ring', (eal: Eal): ObjectDescription[] =>
  RingView.list(eal).map((e) => (e.view ? e.view.describe() : { kind: 'ring', name: e.name, error: e.error })));
