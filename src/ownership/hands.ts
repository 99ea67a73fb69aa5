/**
 * Hands: the mbufs a process holds, kept in shared memory so that another process can
 * return them, exactly, after this one was killed at any instruction (issue 10: "every
 * buffer has an owner"). The generalisation of l2fwd_fork's ownership record.
 *
 * A process opens one `Hands` record per thread that moves packets, with a few ARRAYS of
 * handles (a receive burst array, one TX buffer per port, one buffer per client ...).
 * The arrays ARE views of the record: rxBurst / dequeue write straight into them, txBurst
 * / enqueue read straight from them; no copy, no allocation. Each array has one count
 * word (CTRL), written with ONE plain store per burst, and a snapshot word (SNAP).
 *
 *   who calls what
 *   owner thread   Hands.open; source/rxSource, sink/txSink (setup); then per burst
 *                  rx, tx, alloc, free, array, count, commit; close at exit
 *   reclaimer      reclaim.ts (reclaimDead) reads a dead owner's record through
 *                  readRecord + heldHandles, returns them, frees the record
 *   auditor        audit.ts reads every record (read-only) through the same two functions
 *
 * ## Windows: what the owner holds at any instruction
 * Between bursts an array holds exactly arr[SIDE][0..N) (state HELD). A burst opens a
 * WINDOW with one store (CTRL = state | ring | N, after SNAP), moves packets, and closes
 * it with one store (CTRL = HELD | side | new N). A reader that finds a window open
 * computes what went through from the ring named in CTRL:
 *
 *   state      opened by   SNAP before the burst            held after the owner's death
 *   HELD       commit      —                                arr[S][0..N)
 *   RECEIVING  rx          SC ring: its CONS_TAIL           arr[S][0..N + k), k = tail − SNAP
 *                          MC ring: TO of our claim line    k = 0 if the claim is not finished
 *                                                           (the ring's repair hands those
 *                                                           handles to its repairer), else
 *                                                           TO − FROM (holes dropped)
 *   SENDING    tx          SP ring: its PROD_TAIL           arr[S][s..N), s = tail − SNAP
 *                          MP ring: TO of our claim line    s = 0 if the claim is CLAIMING /
 *                                                           CLAIMED or was repaired FILLED,
 *                                                           else TO − FROM
 *                          no ring, not a driver's queue    none: counted as sent (a leak
 *                          (sinkOf)                         at worst, never a duplicate)
 *   FREEING    tx to a     as free's, below: the driver     as free's
 *              driver's    frees what it takes in one
 *              queue with  freeBulk (driver.ts contract);
 *              no ring     chains, several pools or shared
 *                          segments: that freeBulk hands
 *                          them to the record (Hands.
 *                          freeTaken: free's general case;
 *                          the first k of N when the driver
 *                          took k, KEPT = k << 16 | N)
 *   FREEING    tx to such  CHUNK_FROM | s, s the first      arr[S][s..N) minus the handles
 *   (POOL_GET) a queue of  packet of the chunk the driver   found in the owner lcore's
 *              more than   is given (the burst goes in      mempool caches (the chunk's put
 *              a cached    chunks of at most the threshold, into the cache: its commit);
 *              pool's      each one put into the lcore      [0, s) went
 *              flush       cache)
 *              threshold
 *   SENDING    tx to a     NO_GET; then the queue names     arr[S][s..N), s = the packets
 *   (POOL_GET) queue that  its lent record in POOL and      the record's HEAD counts past
 *              lends       stores its HEAD in SNAP (lent.ts SNAP (0 while SNAP = NO_GET)
 *              (memif zc)  take)
 *   RECEIVING  alloc, or   NO_GET; then the mempool stores  arr[S][0..N + k) if the owner
 *   (POOL_GET) rx from a   (k << 16) | the cache LEN the    lcore's cache LEN (pool in the
 *              driver's    get leaves, before its copy;     POOL word) equals that LEN, or
 *              queue       a get that goes to the pool's    what its ring claims took
 *                          ring: GET_RING words, GSNAP its  (mempool.ts recordedGetTook);
 *                          claims' snapshots (mempool.ts)   else arr[S][0..N)
 *   RECEIVING  rx from a   the head's get (as above); then  arr[S][0..N), the record's HEAD
 *   (POOL_GET) driver's    the driver names its scatter     with its chain, and the segments
 *              queue into  record in POOL (scatter.ts hold) its open get took (scatter.ts)
 *              room for
 *              one, a chain
 *   RECEIVING  rx from a   NO_GET; then the driver names    arr[S][0..N + k), k = the
 *   (POOL_GET) queue that  its lent record in POOL and      packets the record's CONS
 *              lends       stores its CONS in SNAP (lent.ts counts past SNAP (chains
 *              (memif zc)  take)                            linked before its store)
 *   FREEING    free of     — (a put straight to the pool's  arr[S][k..N) if the pool ring's
 *              lone mbufs  ring: its producer claim line;   claim line moved k > 0 (one bulk
 *              of one pool POOL names the pool)             put of the first k went, k = N
 *              (one put),                                   for free: Mempool.putMoved), else
 *              a driver's                                   arr[S][0..N) minus the handles
 *              free
 *                                                           found in the owner lcore's
 *                                                           mempool caches (the put's commit)
 *   FREEING    free of     freeing.ts's PUT (POOL in POOL,  arr[S][0..N) (chains whole), and
 *   (POOL_GET) chains, or  SNAP in GSNAP); the other side   the other side's segments from
 *              several     holds the lone segments of the   PUT's done (freeing.ts) up to a
 *              pools       packets [N, before) up to a 0;   0, minus those in the caches; and
 *                          KEPT (0, or from << 16 | to:     arr[S][from..to) (chains whole);
 *                          a driver's free of part of the   minus the references the free
 *                          burst, the untaken tail); the    dropped (the other side's back,
 *                          other side's back from CAP − 1   tagged, down to an untagged
 *                          down: the references of shared   entry; the shared counts'
 *                          segments dropped (tagged)        journal's pending word read as
 *                                                           stored: pendingWord)
 *
 * A single producer or consumer is the only one that moves its tail, so `tail − SNAP` is
 * exactly what its burst moved — as long as no successor uses that ring side before the
 * record is reclaimed: a program that takes over a dead process's rings, queues or lcore
 * calls reclaimDead first (the shipped programs do, before opening their record).
 * An MP/MC ring's claim line (ring.ts) belongs to the lcore: the record's LCORE must be
 * the lcore its rings run as (the Eal's), which it is by construction; every thread that
 * writes runs as one, its own (Eal refuses lcore ids outside 0..MAX_LCORE-1, so no thread
 * shares claim line 0 with lcore 0).
 *
 * Not covered exactly (a death there leaks, and the audit shows it; it never duplicates,
 * except where said):
 *   - taking from a pool into an array other than through alloc (allocBulk, then commit):
 *     a death between leaks. An alloc larger than the lcore cache (or from a pool without
 *     caches), as a driver's recorded get that goes to the ring, is a POOL_GET window whose
 *     get records its claims on the pool's ring (mempool.ts GET_RING: exact, holes a dead
 *     producer's repair left included). On a single-consumer pool ring (MEMPOOL_F_SC_GET) a
 *     getter killed between the ring's head and tail stores is rolled back (its tail did not
 *     move: none taken): listRecords lists the ring side an open window's get record has a
 *     claim, or its put-back, in flight on (mempool.ts recordedGetRingSide; a scatter record's
 *     get alike), for reclaim.ts step 1; a refill of the lcore cache (any get's, recorded or
 *     not), with the dead lcore's cache (Mempool.recoverCache: as a flush on a single-producer
 *     ring), exact;
 *   - a receive from a driver queue with no ring behind it is a POOL_GET window (rxSource:
 *     the driver passes the record's SNAP to its one get, driver.ts): exact for net_null,
 *     net_pcap, net_af_packet and net_memif (copy mode). Each takes exactly the mbufs its
 *     burst fills in ONE recorded get and gives nothing back: from the lcore cache in place
 *     (Mempool.zcGet, committed with the count it filled: frames too large for an mbuf and
 *     memif chains not wholly posted take none), else (no cache, a burst larger than it, a
 *     debug pool) one getBulk of the count it worked out first (net_pcap stages the records,
 *     net_af_packet and net_memif count the frames). A chain's segments come in the same get,
 *     after the heads. A net_pcap record needing more mbufs than the caller's whole array
 *     holds takes its head and first segments in one get, then the rest in gets into the
 *     array after the head (getBulk's `kept` 1), each chained to the head before the next:
 *     exact too, also when the pool runs dry half-way (the half-built chain goes back from its
 *     end, segments recorded as they leave it: Mempool.holdRecorded / putBackRecorded); into
 *     an array with room for one, the window names the queue's scatter record (scatter.ts:
 *     the head, its chain and the open get of its next segments), exact too (the record is
 *     reserved when the queue is bound, if its file holds a record longer than an mbuf; a bind
 *     that cannot reserve it, the memzone table full, is refused: ENOSPC, nothing taken). A net_memif burst whose descriptors a faulty
 *     peer rewrote during it gives the mbufs it could not fill back the same way (exact).
 *     net_memif zero-copy's RX hands over buffers it lent to its peer earlier,
 *     kept in the queue's lent record (lent.ts): exact, by the record's CONS (window table);
 *     its zero-copy TX lends what it sends through the same kind of record (a sender's:
 *     exact by its HEAD), and frees what the peer read recorded there: a run straight to a
 *     single-producer pool ring killed between the ring's head and tail stores is rolled back
 *     (the record's open run names its pool: lent.ts lentRingSide, reclaim.ts step 1), a run
 *     into the lcore cache by the flush it makes with the cache (Mempool.recoverCache); a
 *     receiver's refill get on a single-consumer pool ring, and its put-back at close on a
 *     single-producer one, alike (exact);
 *   - chained mbufs: a recorded head's further segments (NEXT, bounded by NB_SEGS) are
 *     counted and returned with it (Held.settled, places.ts eachSegment), the handles of an
 *     open pool get included (a pool's free mbufs are single segments: what every free
 *     leaves) and those of an open free not yet taken apart;
 *   - FREEING into a pool without a cache or more than its flush threshold is a window
 *     on the pool's ring, read through POOL and SNAP (CTRL's ring field names the ring's table
 *     entry, or entry 0 when the table is full: learnPut; a single-producer pool ring that
 *     does not fit is refused, ENOSPC) (exact, also when the put met more of a repair's EMPTY holes than
 *     the ring's slack and squeezed them out first: the squeeze is recorded on the pool's
 *     squeeze line of our lcore, mempool.ts MPQ, and putMoved reads past it); a free of
 *     chains, shared mbufs or several pools is taken apart into lone segments, named, and put
 *     back run by run, each read the same way (Hands.freeSegments, freeing.ts: exact; a packet
 *     of more segments than the array holds is cut down from its end in chunks the other side
 *     holds, each the same way). Every pool such a free puts into has its ring named in the
 *     table before the free's window opens (namePutRings: a run straight to the ring, or the
 *     flush of the lcore cache a run into it makes), so a single producer killed between that
 *     ring's head and tail stores is rolled back (reclaim.ts step 1: exact); one that does not
 *     fit is refused as above (ENOSPC, nothing moved; inside a send to a driver that frees what
 *     it takes, when the table filled only during that send: thrown from freeTaken after the
 *     driver took the burst, every packet still held, exact). Hands.close never keeps the
 *     record: an array whose recorded free is refused so is dropped from it with one store and
 *     freed outside it (a death between leaks, never duplicates), logged as a warning;
 *   - a send to a driver that frees what it takes (FREEING) of chains, several pools or shared
 *     segments is freed by the record (freeTaken: as free's general case, exact), also when the
 *     driver takes part of it (net_af_packet with its socket buffer full, net_memif copy mode on
 *     a full ring): the part it took is put back recorded while the window's KEPT names the
 *     untaken tail, which then moves to the other side, committed there (exact);
 *   - a send through `sinkOf` with no ring (counted as sent: a leak at worst), or a receive
 *     through `sourceOf` with none (a leak at worst). The shipped programs use neither: pktgen
 *     sends each RX queue's frames of a wire port in a window on its ring (Hands.group, then
 *     tx(a, sink, m) of the array's front: exact), however many queues (a ring the record's
 *     table of MAX_RINGS has no room for is named by the window's RINGW word, as exact; the
 *     reclaimer rolls it back through listRecords while the window is open). The demo's and
 *     the tests' generators (l2fwd_fork wiregen, mp_server traffic) send the same way
 *     (WireSend) and receive from the ports' TX rings into their record: exact; Wire.inject
 *     itself, into a port of one RX queue, takes a prefix and only reads the array (a window
 *     naming that ring is exact);
 *   - a successor that moves a dead owner's single-ended ring side (or uses its lcore)
 *     before reclaimDead ran: the snapshot arithmetic then counts its bursts too;
 *   - an mbuf shared between processes (refcnt > 1, Mbufs.refcntUpdate, one reference in each
 *     of its places: records, rings, chains found there) is exact as a REFERENCE: a record holds
 *     one reference of each mbuf it names; the audit counts references (k places, refcnt k:
 *     fine); the reclaim drops the dead's references and returns the buffer with the last
 *     (reclaim.ts steps 5 and 7), a chain's shared segments alike. Every change of a count that
 *     is or becomes > 1 is made under the instance's shared-counts lock, journaled (mbuf/
 *     shared-counts.ts: a robust lock, the count before and after written first), so a death at
 *     any instruction of it leaves a count the reclaim (holding that lock) reads exactly; a free
 *     of a shared segment through a record (freeSegments, freeTaken) names each reference it
 *     drops at the back of the other side (tagged MBUF_DROPPED, the journal's word: stored by
 *     the lock's next holder when its changer died after the decrement), so the record's packet,
 *     still named whole, no longer counts it (window table's FREEING POOL_GET; Held.dropped).
 *     A reference added through the record (Hands.share: the count + 1 and a COUNTED array's
 *     commit are one journaled change, the commit the journal's word) is exact at any
 *     instruction too; a COUNTED array's handles are references of their own (Held.copies).
 *     Still not exact: (a) the references a bare increment adds (Mbufs.refcntUpdate +n) are
 *     held by no place until the program puts the handle in one (a ring, an array): a death
 *     between leaks them, as a take from a pool other than through alloc; (b) outside COUNTED
 *     arrays a record that holds several references of one mbuf (the same handle in two of its
 *     arrays, refcnt 2) counts one: the other leaks at its death (it cannot be told from a move
 *     between its arrays, which names a handle twice for an instant); (c) a free outside a
 *     record (Mbufs.free, freeBulk, a zero-copy sender's free of what its peer read, lent.ts)
 *     drops its reference under the lock but names it nowhere: a death right after leaves the
 *     record, if any, naming it (the reclaim drops it a second time: the buffer goes back while
 *     another holds it); free shared mbufs through the record. Shared within one record or among records that all
 *     died it is exact, as before, when each holds one reference;
 *
 * A send that leaves some handles copies them to the other SIDE, then commits SIDE flip |
 * left in one store: the array the reader trusts is never overwritten before the commit.
 * A handle may be recorded twice for an instant (moved from one array to another, the
 * target committed before the source is cleared): readers take the union.
 *
 * Rings: a record names the ring sides its windows use in its table (MAX_RINGS entries, at
 * setup); a ring past it is named by each window on it (RINGW), any number of them. Pool rings
 * a free puts into go in the table (namePutRing): with it full, a multi-producer one takes
 * entry 0, a single-producer one is refused (ENOSPC). A pool get names its pool (POOL) and
 * its get record (SNAP): listRecords lists the single-ended ring side that get has a burst in
 * flight on while its window is open (no store more, no table entry).
 *
 * ## Layout (HANDS: byte offsets from the record's start; memzone "HN_<pid>_<k>")
 *   0    header    MAGIC VERSION PID LCORE START(f64) NARR CAP NAME[32]   owner, at open, MAGIC last
 *   64   rings     RINGS u32 × MAX_RINGS: ring offset | RS_RX / RS_TX     owner, at setup (before
 *                  (the ring sides this record's windows name)            any window names it)
 *   192  arrays    NARR × arrayBytes(CAP), each:                            owner only
 *                    +0 CTRL  u32  STATE(2) SIDE(1) RING(5) · N(16)
 *                    +4 SNAP  u32
 *                    +8 GSNAP u32  a POOL_GET window's ring get: the pool ring's snapshot
 *                    +12 POOL u32  mempool header of a POOL_GET window, or of a FREEING one's pool ring
 *                    +16 KEPT u32  a free of segments' window (FREEING, POOL_GET): from << 16 | to,
 *                                  packets of the array it holds besides [0, N), or 0
 *                    +20 RINGW u32 a RECEIVING / SENDING window whose RING is NO_RING: the ring
 *                                  it names, offset | RS_RX / RS_TX (one the table had no room
 *                                  for), or 0 (none: sourceOf / sinkOf without a ring)
 *                    +24 FLAGS u32 HARR_COUNTED: each handle a reference of its own (Hands.share;
 *                                  set while the array is empty, kept to the record's end)
 *                    +64 SIDE 0: u32 × CAP, then SIDE 1: u32 × CAP (64-aligned)
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { RING_EMPTY, Ring } from '../ring/ring.js';
import { RING_F_SP_ENQ } from '../ring/layout.js';
import { RingView } from '../ring/view.js';
import { MBUF_DROPPED, Mbufs, registerRecordedFree, type PktmbufPool, type RecordedFree } from '../mbuf/mbuf.js';
import { pendingWord } from '../mbuf/shared-counts.js';
import { Mempool, recordedGetRingSide } from '../mempool/mempool.js';
import type { EthDev } from '../ethdev/ethdev.js';
import type { RxQueue, TxQueue } from '../ethdev/driver.js';
import { processAlive, processStartTime } from '../native/libc.js';
import { registerDescriber } from '../eal/describe.js';
import { isLent, lentTook } from './lent.js';
import { isScatter, scatterHeld, scatterRingSide } from './scatter.js';
import { RunPutter, segmentsGone, type FreeingWords } from './freeing.js';
import { TEST_HOOK, hookStop } from '../eal/test-hook.js';

/** Record header and tables: byte offsets from the record's start. */
export const HANDS = {
  MAGIC: 0, // u32 HANDS_MAGIC, stored last by the owner (release)
  VERSION: 4,
  PID: 8, // i32 owner pid
  LCORE: 12, // i32 owner's lcore (always one: Eal refuses a writing thread without one)
  START: 16, // f64 owner's start time (pid reuse)
  NARR: 24, // u32 arrays
  CAP: 28, // u32 handles per array side
  NAME: 32, NAME_MAX: 32,
  RINGS: 64, // u32 × MAX_RINGS
  ARRAYS: 192,
} as const;
/**
 * Array block: byte offsets from its start. POOL: the mempool header of a POOL_GET window;
 * SNAP and GSNAP (SNAP + 4 × GET_REC_SNAP) are then the mempool's get record (getBulk's rec).
 */
export const HARR = { CTRL: 0, SNAP: 4, GSNAP: 8, POOL: 12, KEPT: 16, RINGW: 20, FLAGS: 24, SIDES: 64 } as const;
/** FLAGS: a COUNTED array (Hands.share): each handle it holds is a reference of its own. */
export const HARR_COUNTED = 1;

export const HANDS_MAGIC = 0x53444e48; // 'HNDS'
export const HANDS_VERSION = 10;
export const HANDS_MZ_PREFIX = 'HN_';
/** Ring table entries; in CTRL's ring field NO_RING names "no ring" (a driver without one)
 *  and POOL_GET a take from the mempool named in the array's POOL word (Hands.alloc). */
export const MAX_RINGS = 30;
export const POOL_GET = 30;
export const NO_RING = 31;
/** SNAP of a POOL_GET window until the mempool records its get: nothing taken yet. */
const NO_GET = 0xffffffff;
/** SNAP (PUT) of a FREEING POOL_GET window while its segments are being gathered: none named yet. */
const NOT_NAMED = 0xffff0000;
/** SNAP of a FREEING POOL_GET window of a driver's free of a chunk of the burst (Hands.tx): CHUNK_FROM | its first packet. */
const CHUNK_FROM = 0xfffe0000;
/** Ring table entry bits (ring offsets are 64-aligned). */
export const RS_RX = 1;
export const RS_TX = 2;
/** Largest array (N is 16 bits). */
export const HANDS_MAX_CAP = 4096;
export const HANDS_MAX_ARRAYS = 64;

/** CTRL fields. */
export const H_STATE_SHIFT = 30;
export const H_HELD = 0;
export const H_RECEIVING = 1;
export const H_SENDING = 2;
export const H_FREEING = 3;
export const H_SIDE = 1 << 29;
export const H_RING_SHIFT = 24;
export const H_N_MASK = 0xffff;
const RECEIVING = H_RECEIVING << H_STATE_SHIFT;
const SENDING = H_SENDING << H_STATE_SHIFT;
const FREEING = (H_FREEING << H_STATE_SHIFT) >>> 0;
/** putWindow's answer for a driver's free past a cached pool's threshold: send in chunks (txChunks). */
const CHUNKS = -1;

/** Bytes of one array block of capacity `cap`. */
export function arrayBytes(cap: number): number {
  return HARR.SIDES + 2 * Math.ceil((cap * 4) / 64) * 64;
}

/** Test hooks (read once; nothing when unset): stop inside a window so a test can SIGKILL us there. */
const HOOK = TEST_HOOK;
const HOOK_RX = HOOK === 'hands:rx'; // after the burst was received, before its commit
const HOOK_RX_HOLDING = HOOK === 'hands:rx-holding'; // same, when another array holds handles too
const HOOK_TX = HOOK === 'hands:tx'; // after the send, before its commit
const HOOK_TX_PART = HOOK === 'hands:tx-part'; // same, when the send left some of the array (0 < went < held)
const HOOK_FREE = HOOK === 'hands:free'; // after the put, before its commit
const HOOK_GET = HOOK === 'hands:get'; // after a pool get (its LEN stored), before its commit
const HOOK_SEGMENTS = HOOK === 'hands:free-segments'; // a free of chains: segments named and cut, not yet put

/**
 * Where a burst comes from: a ring or an RX queue, and the snapshot word of its window.
 * `pool`: for a driver queue with no ring behind it, the mempool header of the queue's
 * pool (the driver takes the burst's mbufs from it: a recorded POOL_GET window), else 0.
 */
export class Source {
  /** Made by `hands.sourceOf` / `source`. */
  constructor(
    /** The queue bursts are taken from (a ring's adapter or a driver's RX queue). */
    readonly q: RxQueue,
    /** Its ring's index in the record's ring table (NO_RING: none behind it). */
    readonly ri: number,
    /** Index of the snapshot word of its window in the record. */
    readonly snapIdx: number,
    /** Mempool header of the queue's pool for a queue with no ring behind it, else 0. */
    readonly pool = 0,
    /** With `ri` NO_RING: the ring a window names in its RINGW word (offset | RS_RX), or 0. */
    readonly ringAt = 0,
  ) {}
}

/** Where a burst goes. */
export class Sink {
  /** Made by `hands.sink` / `sinkOf`. */
  constructor(
    /** The queue bursts go to (a ring's adapter or a driver's TX queue). */
    readonly q: TxQueue,
    /** Its ring's index in the record's ring table. */
    readonly ri: number,
    /** Index of the snapshot word of its window in the record. */
    readonly snapIdx: number,
    /** The queue lends what it sends, recorded (TxQueue.lends): a POOL_GET window naming its lent record. */
    readonly lends = false,
    /**
     * A driver's queue with no ring behind it that frees what it takes in one freeBulk
     * (driver.ts contract): its window is the free's (FREEING), so a death before, inside
     * or after that free is read exactly.
     */
    readonly frees = false,
    /** With `ri` NO_RING: the ring a window names in its RINGW word (offset | RS_TX), or 0. */
    readonly ringAt = 0,
  ) {}
}

class RingRx implements RxQueue {
  constructor(private readonly ring: Ring, private readonly mbufs: Mbufs) {}
  rxBurst(handles: Uint32Array, n: number): number {
    const k = this.ring.dequeueBurst(handles, n);
    if (this.ring.reclaimedPending !== 0) this.giveBack();
    return k;
  }

  /**
   * This dequeue waited behind a dead consumer and repaired its claim (ring.ts): the dead
   * one's record counts those handles as the repairer's (hands.ts window table), so they
   * are freed here, once.
   */
  private giveBack(): void {
    const x = this.ring.repair().reclaimed;
    if (x.length > 0) this.mbufs.freeBulk(Uint32Array.from(x), x.length);
  }
}

class RingTx implements TxQueue {
  constructor(private readonly ring: Ring, private readonly bulk: boolean) {}
  txBurst(handles: Uint32Array, n: number): number {
    return this.bulk ? this.ring.enqueueBulk(handles, n) : this.ring.enqueueBurst(handles, n);
  }
}

let seq = 0;

/**
 * An ownership record: the mbufs one thread holds, kept in shared memory so another process can
 * return them exactly after this one was killed at any instruction (`reclaimDead`). Its arrays
 * are views of the record: bursts are received into them and sent from them, one plain store
 * per burst, no copy. Open one per thread that moves packets (`Hands.open`), close it at exit.
 */
export class Hands implements RecordedFree {
  /** The Eal of the owner thread. */
  readonly eal: Eal;
  /** Region offset of the record, and its memzone name. */
  readonly offset: number;
  /** The record's name (for tools and `reclaimDead`'s report). */
  readonly name: string;
  /** Arrays of handles in the record. */
  readonly arrays: number;
  /** Handles each array can hold. */
  readonly capacity: number;
  private readonly u32: Uint32Array;
  private readonly mbufs: Mbufs;
  /** u32 index of each array's CTRL and SNAP. */
  private readonly ctrl: Int32Array;
  private readonly snap: Int32Array;
  private readonly pool: Int32Array;
  private readonly kept: Int32Array;
  private readonly ringw: Int32Array;
  /** views[2a + s] = side s of array a; subs[(2a + s) * (cap + 1) + k] = its subarray(k). */
  private readonly views: Uint32Array[] = [];
  /** group's scratch for the permuted tags (made at its first use). */
  private tagScratch = new Uint8Array(0);
  private readonly subs: Uint32Array[] = [];
  private nrings = 0;
  /** The lcore our rings' claim lines belong to (the Eal's). */
  private readonly lcore: number;
  private closed = false;

  private constructor(eal: Eal, offset: number, name: string, arrays: number, cap: number) {
    this.eal = eal;
    this.offset = offset;
    this.name = name;
    this.arrays = arrays;
    this.capacity = cap;
    const r = eal.region;
    this.u32 = r.u32;
    this.mbufs = new Mbufs(eal);
    const ab = arrayBytes(cap);
    this.ctrl = new Int32Array(arrays);
    this.snap = new Int32Array(arrays);
    this.pool = new Int32Array(arrays);
    this.kept = new Int32Array(arrays);
    this.ringw = new Int32Array(arrays);
    for (let a = 0; a < arrays; a++) {
      const b = offset + HANDS.ARRAYS + a * ab;
      this.ctrl[a] = (b + HARR.CTRL) >>> 2;
      this.snap[a] = (b + HARR.SNAP) >>> 2;
      this.pool[a] = (b + HARR.POOL) >>> 2;
      this.kept[a] = (b + HARR.KEPT) >>> 2;
      this.ringw[a] = (b + HARR.RINGW) >>> 2;
      for (let s = 0; s < 2; s++) {
        const v = new Uint32Array(r.buffer, b + HARR.SIDES + s * (ab - HARR.SIDES) / 2, cap);
        this.views.push(v);
        registerRecordedFree(v, this); // a driver's freeBulk of chains in tx: freeTaken
        for (let k = 0; k <= cap; k++) this.subs.push(v.subarray(k));
      }
    }
    this.lcore = eal.lcoreId;
    for (let a = 0; a < arrays; a++) this.freeing.push({ put: this.snap[a]!, pool: this.pool[a]!, snap: this.snap[a]! + (HARR.GSNAP - HARR.SNAP) / 4 });
    this.putter = new RunPutter(eal, this.mbufs);
  }

  /**
   * Open a record of `arrays` arrays of `capacity` handles each for the calling thread
   * (its Eal's pid and lcore). A process that may be the successor of a dead one (same
   * rings, queues or lcore) calls reclaimDead(eal) first. EINVAL for bad sizes; ENOSPC
   * when the region or the memzone table is full.
   */
  static open(eal: Eal, name: string, arrays: number, capacity: number): Hands {
    if (!Number.isInteger(arrays) || arrays < 1 || arrays > HANDS_MAX_ARRAYS) throw new MpdkError('EINVAL', `hands '${name}': ${arrays} arrays; give 1 to ${HANDS_MAX_ARRAYS}`);
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > HANDS_MAX_CAP) throw new MpdkError('EINVAL', `hands '${name}': capacity ${capacity}; give 1 to ${HANDS_MAX_CAP}`);
    const bytes = HANDS.ARRAYS + arrays * arrayBytes(capacity);
    const r = eal.region;
    let mzName = '';
    let off = -1;
    for (let tries = 0; off < 0; tries++) {
      mzName = `${HANDS_MZ_PREFIX}${process.pid}_${seq++}`;
      try {
        off = eal.memzones.reserve(mzName, bytes, 64).offset; // zeroed: every array HELD, N = 0
      } catch (e) {
        // A dead process with our pid left a record of that name: reclaimDead frees it; skip the name.
        if (!(e instanceof MpdkError && e.code === 'EEXIST') || tries > 64) throw e;
      }
    }
    r.u32[(off + HANDS.VERSION) >>> 2] = HANDS_VERSION;
    r.i32[(off + HANDS.PID) >>> 2] = process.pid;
    r.i32[(off + HANDS.LCORE) >>> 2] = eal.lcoreId;
    r.f64[(off + HANDS.START) >>> 3] = processStartTime(process.pid);
    r.u32[(off + HANDS.NARR) >>> 2] = arrays;
    r.u32[(off + HANDS.CAP) >>> 2] = capacity;
    r.writeString(off + HANDS.NAME, HANDS.NAME_MAX, name.slice(0, HANDS.NAME_MAX - 1));
    r.storeRelease(off + HANDS.MAGIC, HANDS_MAGIC);
    return new Hands(eal, off, mzName, arrays, capacity);
  }

  // --- setup: the rings this record's windows may name ----------------------------------

  /** The table entry naming the ring at `offset` (now for `side` too), or NO_RING. */
  private findRing(offset: number, side: number): number {
    const base = (this.offset + HANDS.RINGS) >>> 2;
    for (let i = 0; i < this.nrings; i++) {
      const e = this.u32[base + i]!;
      if ((e & ~3) === offset) {
        this.u32[base + i] = e | side;
        return i;
      }
    }
    return NO_RING;
  }

  /** A new table entry (nrings < MAX_RINGS). */
  private appendRing(offset: number, side: number): number {
    this.u32[((this.offset + HANDS.RINGS) >>> 2) + this.nrings] = offset | side;
    return this.nrings++;
  }

  /**
   * The table entry of a ring our RECEIVING / SENDING windows name (side RS_RX / RS_TX), or
   * NO_RING when the table is full: those windows then name it in their array's RINGW word
   * (ringAt), as exact (heldHandles; listRecords lists it while such a window is open, for the
   * reclaimer's roll-back). Any number of rings.
   */
  private windowRing(offset: number, side: number): number {
    if (offset === 0) return NO_RING;
    const i = this.findRing(offset, side);
    return i !== NO_RING || this.nrings === MAX_RINGS ? i : this.appendRing(offset, side);
  }

  /** The word whose value before a burst tells how far the burst went (ring.ts burstSnapIndex). */
  private snapWord(ring: number, side: number): number {
    if (ring === 0) return (this.offset + HANDS.MAGIC) >>> 2; // no ring: any word, never read back
    return RingView.at(this.eal.region, ring).burstSnapIndex(this.lcore, side === RS_RX);
  }

  /** Receive from `ring` (dequeueBurst). */
  source(ring: Ring): Source {
    const ri = this.windowRing(ring.offset, RS_RX);
    return new Source(new RingRx(ring, this.mbufs), ri, this.snapWord(ring.offset, RS_RX), 0, ri === NO_RING ? ring.offset | RS_RX : 0);
  }

  /**
   * Receive from RX queue q of `port` (binds it: dev.rxQueue). A queue with a ring behind
   * it (net_ring) is a ring window; any other driver takes the burst's mbufs from the
   * queue's pool in one recorded get (driver.ts contract): a POOL_GET window.
   */
  rxSource(dev: EthDev, port: number, q: number): Source {
    const rxq = dev.rxQueue(port, q);
    const ring = dev.queueRing(port, q, 'rx');
    if (ring !== 0) {
      const ri = this.windowRing(ring, RS_RX);
      return new Source(rxq, ri, this.snapWord(ring, RS_RX), 0, ri === NO_RING ? ring | RS_RX : 0);
    }
    const pool = dev.info(port).rxq[q]?.pool;
    return new Source(rxq, NO_RING, this.snapWord(0, RS_RX), pool ? Mempool.lookup(this.eal, pool).header : 0);
  }

  /** Send to `ring`: all or nothing with `bulk`, else as many as fit. */
  sink(ring: Ring, bulk = false): Sink {
    const ri = this.windowRing(ring.offset, RS_TX);
    return new Sink(new RingTx(ring, bulk), ri, this.snapWord(ring.offset, RS_TX), false, false, ri === NO_RING ? ring.offset | RS_TX : 0);
  }

  /**
   * Send on TX queue q of `port` (binds it: dev.txQueue). A queue with a ring behind it
   * (net_ring) is a ring window; one that lends (net_memif zero-copy) a lent one; any other
   * driver frees what it takes in one freeBulk (driver.ts contract): the window is that
   * free's (a burst larger than a cached pool's flush threshold goes in chunks at most that
   * large, each its own window). Exact wherever the sender dies.
   */
  txSink(dev: EthDev, port: number, q: number): Sink {
    const txq = dev.txQueue(port, q);
    const ring = dev.queueRing(port, q, 'tx');
    const lends = txq.lends === true;
    const ri = this.windowRing(ring, RS_TX);
    return new Sink(txq, ri, this.snapWord(ring, RS_TX), lends, ring === 0 && !lends, ri === NO_RING && ring !== 0 ? ring | RS_TX : 0);
  }

  /**
   * Receive through any object with rxBurst (a Wire's collect, a driver queue), naming the
   * single ring behind it when there is one (its windows are then exact; without a ring a
   * death inside a receive window leaks that burst, never duplicates it).
   */
  sourceOf(q: RxQueue, ring?: Ring): Source {
    const o = ring?.offset ?? 0;
    const ri = this.windowRing(o, RS_RX);
    return new Source(q, ri, this.snapWord(o, RS_RX), 0, ri === NO_RING && o !== 0 ? o | RS_RX : 0);
  }

  /** Send through any object with txBurst (a Wire's inject ...); see sourceOf. */
  sinkOf(q: TxQueue, ring?: Ring): Sink {
    const o = ring?.offset ?? 0;
    const ri = this.windowRing(o, RS_TX);
    return new Sink(q, ri, this.snapWord(o, RS_TX), false, false, ri === NO_RING && o !== 0 ? o | RS_TX : 0);
  }

  // --- hot path: one store per state change, nothing per packet ---------------------------

  /** Handles array `a` holds. */
  count(a: number): number {
    return this.u32[this.ctrl[a]!]! & H_N_MASK;
  }

  /** The current side of array `a` (capacity handles): read [0, count), append at count, then commit. */
  array(a: number): Uint32Array {
    return this.views[2 * a + ((this.u32[this.ctrl[a]!]! & H_SIDE) !== 0 ? 1 : 0)]!;
  }

  /**
   * Take `n` fresh mbufs from `pool` into array `a`, after what it holds, all or nothing:
   * returns n or 0. Exact whatever instruction we die at (a POOL_GET window: the mempool
   * records the get's resulting cache LEN before its copy; see heldHandles) when the get
   * is served by this lcore's cache; a get larger than the cache, or from a pool without
   * caches, goes to the pool's ring, recorded with that ring's claim snapshot (mempool.ts
   * GET_RING), exact too, but for the cases the file header lists. Four plain stores besides
   * the get's own; allocates nothing.
   */
  alloc(a: number, pool: PktmbufPool, n: number): number {
    return this.take(a, pool, n, true);
  }

  /**
   * `alloc` without the mbuf reset: the buffers come as their last owner freed them (one
   * segment, refcnt 1: what every free leaves). For a pool whose buffers only one kind of
   * user touches, which sets the fields it reads itself (a channel's own pool).
   */
  allocAsFreed(a: number, pool: PktmbufPool, n: number): number {
    return this.take(a, pool, n, false);
  }

  private take(a: number, pool: PktmbufPool, n: number, reset: boolean): number {
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    const c = u32[ci]!;
    const side = c & H_SIDE;
    const held = c & H_N_MASK;
    if (n > this.capacity - held) throw new MpdkError('EINVAL', `hands '${this.name}': array ${a} holds ${held} of ${this.capacity}; no room for ${n} more`);
    if (n <= 0) return 0;
    u32[this.pool[a]!] = pool.mp.header;
    u32[this.snap[a]!] = NO_GET;
    u32[ci] = RECEIVING | side | (POOL_GET << H_RING_SHIFT) | held; // open
    const into = this.subs[(2 * a + (side ? 1 : 0)) * (this.capacity + 1) + held]!;
    const k = reset ? pool.allocBulk(into, n, this.snap[a]!) : pool.mp.getBulk(into, n, this.snap[a]!) === n ? n : 0;
    if (HOOK_GET && k > 0) hookStop('hands:get');
    u32[ci] = side | (held + k); // commit: HELD
    return k;
  }

  /**
   * Add a reference of mbuf `h` (a lone segment this thread holds, e.g. in another of the
   * record's arrays) to array `a`, after what it holds: h's count + 1 and the array's commit are
   * ONE journaled change under the shared counts' lock (mbuf/shared-counts.ts; the commit is the
   * journal's word), so a death at any instruction of it leaves the count and the record
   * agreeing (DPDK's rte_mbuf_refcnt_update(m, 1) before passing m on: then send `a` with tx).
   * Array `a` becomes COUNTED (FLAGS): each handle it holds is a reference of its own, besides
   * one another array names; so never copy a handle between it and another array (a move
   * names a handle twice for an instant). Returns the new count. EINVAL for a chain, a full
   * array, or an array that holds handles and is not counted.
   */
  share(a: number, h: number): number {
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    const c = u32[ci]!;
    const n = c & H_N_MASK;
    const fi = this.ctrl[a]! + (HARR.FLAGS >>> 2);
    if (this.mbufs.nbSegs(h) !== 1 || this.mbufs.next(h) !== 0) throw new MpdkError('EINVAL', `hands '${this.name}': share(${a}, ${h}) of a chain; share lone segments (each segment's count is its own change)`);
    if (n >= this.capacity) throw new MpdkError('EINVAL', `hands '${this.name}': array ${a} is full (${n}); send or free it before sharing more`);
    if ((u32[fi]! & HARR_COUNTED) === 0) {
      if (n !== 0) throw new MpdkError('EINVAL', `hands '${this.name}': array ${a} holds ${n} handles and does not count references; share into an empty array (it then counts each handle as a reference)`);
      u32[fi] = HARR_COUNTED; // empty: nothing read changes meaning
    }
    const side = c & H_SIDE;
    this.views[2 * a + (side ? 1 : 0)]![n] = h; // past N: read by nobody until the commit
    const sc = this.mbufs.sharedCounts();
    sc.acquire();
    try {
      const r = sc.count(h);
      sc.change(h, r, r + 1, ci * 4, (side | (n + 1)) >>> 0); // the count and the commit: one change
      return r + 1;
    } finally {
      sc.release();
    }
  }

  /** Array `a` now holds array(a)[0..n): ONE plain store. */
  commit(a: number, n: number): void {
    const ci = this.ctrl[a]!;
    this.u32[ci] = (this.u32[ci]! & H_SIDE) | n;
  }

  /**
   * Receive up to `max` packets from `src` into array `a`, after what it holds. Returns
   * how many came. Three plain stores (SNAP, open, commit); allocates nothing.
   */
  rx(a: number, src: Source, max: number): number {
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    const c = u32[ci]!;
    const side = c & H_SIDE;
    const n = c & H_N_MASK;
    const room = this.capacity - n;
    if (max > room) max = room;
    if (max <= 0) return 0;
    const si = this.snap[a]!;
    let k: number;
    if (src.pool === 0) {
      u32[si] = u32[src.snapIdx]!; // only we move this tail (or write this claim line)
      if (src.ri === NO_RING) u32[this.ringw[a]!] = src.ringAt; // a ring past the table, or none
      u32[ci] = RECEIVING | side | (src.ri << H_RING_SHIFT) | n;
      k = src.q.rxBurst(this.subs[(2 * a + (side ? 1 : 0)) * (this.capacity + 1) + n]!, max);
    } else {
      // A driver's own get, recorded in SNAP by the mempool (as alloc): one store more, POOL.
      u32[this.pool[a]!] = src.pool;
      u32[si] = NO_GET;
      u32[ci] = RECEIVING | side | (POOL_GET << H_RING_SHIFT) | n;
      k = src.q.rxBurst(this.subs[(2 * a + (side ? 1 : 0)) * (this.capacity + 1) + n]!, max, si);
    }
    if (HOOK_RX && k > 0) hookStop('hands:rx');
    if (HOOK_RX_HOLDING && k > 0 && this.holdsBesides(a)) hookStop('hands:rx-holding');
    u32[ci] = side | (n + k); // commit: HELD
    return k;
  }

  /**
   * Send what array `a` holds to `dst`, or only its first `m` (a sink with a ring or none:
   * sinkOf, sink; the window still covers the whole array, of which the ring takes a
   * prefix). Returns how many went; the others stay in `a` (moved to its front). Allocates
   * nothing.
   */
  tx(a: number, dst: Sink, m = H_N_MASK): number {
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    const c = u32[ci]!;
    const n = c & H_N_MASK;
    if (n === 0) return 0;
    if (m < n && (dst.frees || dst.lends)) throw new MpdkError('EINVAL', `hands '${this.name}': a driver queue that frees or lends what it takes sends the whole array (asked for ${m} of ${n})`);
    const side = c & H_SIDE;
    const s0 = side ? 1 : 0;
    const arr = this.views[2 * a + s0]!;
    let s: number;
    if (dst.frees) {
      // The driver frees what it takes (one freeBulk): the window is that free's. With the ring
      // table full, a pool ring it would have to name (chains, several pools: freeTaken) is
      // refused here, before the send (a walk of the burst, only then).
      if (this.nrings === MAX_RINGS) this.namePutRings(arr, n);
      let w = this.putWindow(a, arr, n, CHUNKS);
      if (w === CHUNKS && this.mbufs.loneOf(arr, n) >= 0) s = this.txChunks(a, dst, side, n);
      else {
        if (w === CHUNKS) w = FREEING | (NO_RING << H_RING_SHIFT); // chains: freeTaken's, any size
        u32[ci] = (w | side | n) >>> 0;
        s = dst.q.txBurst(arr, n); // chains, several pools, shared segments: its freeBulk calls freeTaken
      }
    } else if (!dst.lends) {
      u32[this.snap[a]!] = u32[dst.snapIdx]!;
      if (dst.ri === NO_RING) u32[this.ringw[a]!] = dst.ringAt; // a ring past the table, or none
      u32[ci] = SENDING | side | (dst.ri << H_RING_SHIFT) | n;
      s = dst.q.txBurst(arr, m < n ? m : n);
    } else {
      // The queue names its lent record in POOL and its packet count in SNAP (lent.ts take).
      const si = this.snap[a]!;
      u32[si] = NO_GET;
      u32[ci] = SENDING | side | (POOL_GET << H_RING_SHIFT) | n;
      s = dst.q.txBurst(arr, n, si);
    }
    if (HOOK_TX && s > 0) hookStop('hands:tx');
    if (HOOK_TX_PART && s > 0 && s < n) hookStop('hands:tx-part');
    const left = n - s;
    if (left === 0) u32[ci] = side; // commit: empty
    else if (s === 0) u32[ci] = side | n; // commit: nothing went
    else {
      const other = this.views[2 * a + 1 - s0]!;
      for (let i = 0; i < left; i++) other[i] = arr[s + i]!;
      u32[ci] = (side ^ H_SIDE) | left; // commit: the rest, on the other side
    }
    return s;
  }

  /**
   * Move the packets of array `a` whose tags[i] is `t` to its front, keeping their order and
   * the others' (tags[0..count) is permuted alike); returns how many there are. The array is
   * HELD: the moved copy is written to its other side and taken with ONE store (the same
   * handles, so a death anywhere leaves them held exactly once). Allocates nothing (after a
   * first call).
   */
  group(a: number, tags: Uint8Array, t: number): number {
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    const c = u32[ci]!;
    const n = c & H_N_MASK;
    let m = 0;
    for (let i = 0; i < n; i++) if (tags[i] === t) m++;
    let front = 0;
    while (front < m && tags[front] === t) front++;
    if (front === m) return m; // already in front
    const side = c & H_SIDE;
    const s0 = side ? 1 : 0;
    const arr = this.views[2 * a + s0]!;
    const other = this.views[2 * a + 1 - s0]!;
    if (this.tagScratch.length < n) this.tagScratch = new Uint8Array(this.capacity);
    const tg = this.tagScratch;
    let j = 0;
    let k = m;
    for (let i = 0; i < n; i++) {
      const x = tags[i]!;
      if (x === t) {
        other[j] = arr[i]!;
        tg[j++] = x;
      } else {
        other[k] = arr[i]!;
        tg[k++] = x;
      }
    }
    for (let i = 0; i < n; i++) tags[i] = tg[i]!;
    u32[ci] = (side ^ H_SIDE) | n; // commit: the same handles, on the other side
    return m;
  }

  /**
   * Free every packet array `a` holds (back to their pools). Allocates nothing. A put that
   * goes straight to the pool's ring (a pool without a cache, or more than its flush
   * threshold) is a window on that ring: SNAP is its producer claim line before (one store
   * more, only then), so a reader knows whether the put went (hands.ts window table). Chains,
   * shared mbufs or several pools: taken apart and put back run by run, recorded (freeSegments).
   */
  free(a: number): number {
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    const c = u32[ci]!;
    const n = c & H_N_MASK;
    if (n === 0) return 0;
    const side = c & H_SIDE;
    const arr = this.views[2 * a + (side ? 1 : 0)]!;
    const pool = this.mbufs.loneOf(arr, n);
    if (pool < 0) {
      this.namePutRings(arr, n); // before the window: a refusal changes nothing
      this.freeSegments(a, side, n, 0);
    } else {
      u32[ci] = (this.putWindow(a, arr, n, FREEING) | side | n) >>> 0;
      this.mbufs.poolAt(pool).putBulk(arr, n);
    }
    if (HOOK_FREE) hookStop('hands:free');
    u32[ci] = side; // commit: empty
    return n;
  }

  /**
   * The window of a free of arr[0 .. n) into the pool of arr[0] (Hands.free, a driver's
   * free inside txBurst): CTRL's state and ring bits. A put straight to the pool's ring (no
   * cache, or more than its flush threshold) names that ring, after SNAP (its producer claim
   * line) and POOL (whose putMoved reads it); a put into the lcore cache names none (the
   * reader looks for the handles there). `other`: the state when the free is not known
   * exactly (a driver's free of more than a cached pool's threshold): returned as is (Hands.tx
   * then sends in chunks: txChunks).
   */
  private putWindow(a: number, arr: Uint32Array, n: number, other: number): number {
    const u32 = this.u32;
    const ph = this.mbufs.poolOf(arr[0]!);
    if (ph !== this.put.pool) this.learnPut(ph);
    const p = this.put;
    if (!p.cacheless && n <= p.thresh) return FREEING | (NO_RING << H_RING_SHIFT);
    if (!p.cacheless && other !== FREEING) return other;
    if (p.ri !== NO_RING) {
      u32[this.pool[a]!] = ph; // the pool whose putMoved reads SNAP (a put that squeezed holes out first)
      u32[this.snap[a]!] = u32[p.snapIdx]!;
    }
    return FREEING | (p.ri << H_RING_SHIFT);
  }

  /**
   * free's general case (chains, several pools, shared segments): packets from the end of the
   * array, as many as their segments fit in its other side, are flattened there
   * (Mbufs.collectFreed; a 0 after them) while PUT says none is named (NOT_NAMED), named with
   * one store (PUT = 0), dropped from the array with one more (N = the packets left: window
   * table), cut (unlinkFreed), and put back run by run, recorded (freeing.ts: PUT in SNAP, POOL
   * in POOL, SNAP in GSNAP). Called with the array HELD (its chains whole). A packet of more
   * segments than the array holds is first cut down from its end the same way (trimSegments).
   */
  private freeSegments(a: number, side: number, n: number, kept: number): void {
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    u32[this.kept[a]!] = kept; // read only in the windows below (FREEING, POOL_GET, not a chunk's)
    const s0 = side ? 1 : 0;
    const arr = this.views[2 * a + s0]!;
    const base = (2 * a + 1 - s0) * (this.capacity + 1);
    const other = this.subs[base]!;
    const mb = this.mbufs;
    const cap = this.capacity;
    const words = this.freeing[a]!;
    for (let j = n; j > 0;) {
      other[cap - 1] = 0; // no reference dropped yet (the list at the other side's back: collectFreed)
      mb.dropTop = cap - 1;
      u32[words.put] = NOT_NAMED;
      u32[ci] = (FREEING | side | (POOL_GET << H_RING_SHIFT) | j) >>> 0; // packets [0, j) whole, no segment named
      let i = j;
      for (let segs = 0; i > 0 && segs + mb.nbSegs(arr[i - 1]!) <= cap; i--) segs += mb.nbSegs(arr[i - 1]!);
      if (i === j) {
        this.trimSegments(arr[j - 1]!, other, base, words);
        continue; // the packet's chain fits the other side now
      }
      let m = 0;
      for (let p = i; p < j; p++) m = mb.collectFreed(arr[p]!, other, m, true);
      if (m < cap && (other[m]! & MBUF_DROPPED) === 0) other[m] = 0; // their end, for a reader (or the dropped list's)
      u32[words.put] = 0; // named (union with their packets)
      u32[ci] = (FREEING | side | (POOL_GET << H_RING_SHIFT) | i) >>> 0; // packets [0, i) and these segments
      mb.unlinkFreed(other, m);
      if (HOOK_SEGMENTS) hookStop('hands:free-segments');
      this.putter.put(this.subs, base, m, words);
      j = i;
    }
  }

  /**
   * Mbufs.freeBulk of chains, several pools or shared segments of one of our arrays (registered
   * at open: registerRecordedFree): inside tx to a driver that frees what it takes (driver.ts:
   * its one freeBulk, its last touch of them; the window FREEING, naming a pool ring or none),
   * of the window's first n packets (all N, or the part a driver that stopped early took):
   * they are taken apart and put back recorded (freeSegments, after the window says all N held
   * and none put: FREEING without a ring), the untaken tail [n, N) held whole meanwhile (KEPT)
   * and then moved to the other side and committed there (as tx's own commit of what is left,
   * which then rewrites the same), and true is returned; else false (freeBulk frees them
   * unrecorded: outside such a send, a leak at worst).
   */
  freeTaken(handles: Uint32Array, n: number): boolean {
    let a = 0;
    while (a < this.arrays && handles !== this.views[2 * a] && handles !== this.views[2 * a + 1]) a++;
    if (a === this.arrays || this.closed) return false;
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    const c = u32[ci]!;
    const side = c & H_SIDE;
    const ri = (c >>> H_RING_SHIFT) & 31;
    const held = c & H_N_MASK;
    if (c >>> H_STATE_SHIFT !== H_FREEING || ri === POOL_GET || n <= 0 || n > held || handles !== this.views[2 * a + (side ? 1 : 0)]) return false;
    // Before our first store: a refusal (ENOSPC) leaves tx's window as it is, every packet held
    // (the driver took them; it is thrown through its txBurst and tx, nothing freed).
    this.namePutRings(handles, n);
    u32[ci] = (FREEING | side | (NO_RING << H_RING_SHIFT) | held) >>> 0; // all held, none put
    if (n === held) {
      this.freeSegments(a, side, n, 0);
      return true;
    }
    this.freeSegments(a, side, n, ((n << 16) | held) >>> 0); // [n, held) held whole throughout (KEPT)
    // Every segment of [0, n) went: none named any more, so the other side can take the tail.
    u32[this.freeing[a]!.put] = NOT_NAMED;
    const other = this.views[2 * a + (side ? 0 : 1)]!;
    for (let i = n; i < held; i++) other[i - n] = handles[i]!;
    u32[ci] = (side ^ H_SIDE) | (held - n); // commit: the tail, on the other side (HELD)
    return true;
  }

  /**
   * tx to a driver that frees what it takes, of n packets, more than the cached pool's flush
   * threshold: in chunks of at most the threshold from the front, each a window of its own
   * (FREEING, POOL_GET: SNAP = CHUNK_FROM | its first packet; the driver's free of it is one put into the lcore
   * cache). Returns how many the driver took (it stops at a chunk it did not take whole).
   */
  private txChunks(a: number, dst: Sink, side: number, n: number): number {
    const u32 = this.u32;
    const ci = this.ctrl[a]!;
    const si = this.snap[a]!;
    const base = (2 * a + (side ? 1 : 0)) * (this.capacity + 1);
    const t = this.put.thresh;
    let s = 0;
    while (s < n) {
      const c = n - s < t ? n - s : t;
      u32[si] = (CHUNK_FROM | s) >>> 0; // [0, s) went (into the cache, or on from it)
      u32[ci] = (FREEING | (POOL_GET << H_RING_SHIFT) | side | n) >>> 0;
      const k = dst.q.txBurst(this.subs[base + s]!, c);
      s += k;
      if (k < c) break;
    }
    return s;
  }

  /**
   * freeSegments' packet `h` (the last of the window's packets, whole) of more segments than
   * the array holds: its chain's last segments, as many as the other side holds (down to the
   * array's capacity), flattened there (collectFreed), named (PUT = 0), cut from the chain
   * (NEXT, NB_SEGS: the head keeps the rest), and put back run by run, recorded; until the
   * chain fits. Each chunk is exact as freeSegments' (the window holds the packet's chain and
   * the named segments: union).
   */
  private trimSegments(h: number, other: Uint32Array, base: number, words: FreeingWords): void {
    const u32 = this.u32;
    const mb = this.mbufs;
    const cap = this.capacity;
    const cap1 = cap - 1;
    for (let nb = mb.nbSegs(h); nb > cap; nb = mb.nbSegs(h)) {
      other[cap1] = 0; // no reference dropped yet (the last cut's are no longer the chain's)
      mb.dropTop = cap1;
      u32[words.put] = NOT_NAMED;
      const c = Math.min(nb - cap, cap);
      let prev = h; // the segment before the last c
      for (let i = c + 1; i < nb; i++) prev = mb.next(prev);
      const m = mb.collectFreed(mb.next(prev), other, 0, true);
      if (m < cap && (other[m]! & MBUF_DROPPED) === 0) other[m] = 0; // their end, for a reader (or the dropped list's)
      u32[words.put] = 0; // named (union with the packet's chain)
      mb.setNext(prev, 0);
      mb.setNbSegs(h, nb - c);
      mb.unlinkFreed(other, m);
      if (HOOK_SEGMENTS) hookStop('hands:free-segments');
      this.putter.put(this.subs, base, m, words);
    }
  }

  /** Per array: the words a recorded free of segments keeps (freeing.ts), and the putter. */
  private readonly freeing: FreeingWords[] = [];
  private readonly putter: RunPutter;

  /** The pool of the last freed burst: whether its puts bypass the cache, and its ring's entry. */
  private readonly put = { pool: -1, cacheless: false, thresh: 0, ri: NO_RING, snapIdx: 0 };

  /**
   * Learn the pool with header `ph` (a burst from another pool than the last one: rare). A
   * window of a put straight to its ring (FREEING naming a ring) is read through its POOL and
   * SNAP words alone (heldHandles: Mempool.putMoved); the ring's table entry is for the
   * reclaimer's roll-back of a single producer's half-published put (reclaim.ts step 1). So a
   * multi-producer pool ring that finds the table full (MAX_RINGS other rings) is named by
   * entry 0 (any entry: its claims are repaired with every pool's, step 2), exact as any; a
   * single-producer one is refused (ENOSPC, before any window opens: nothing changed).
   */
  private learnPut(ph: number): void {
    const p = this.put;
    p.ri = NO_RING;
    p.cacheless = false;
    p.thresh = HANDS_MAX_CAP;
    let mp: Mempool;
    try {
      mp = Mempool.attachAt(this.eal, ph);
    } catch {
      p.pool = ph; // not a readable pool: its puts are read as into the caches (a leak at worst)
      return;
    }
    const ri = this.namePutRing(mp);
    p.pool = ph;
    p.cacheless = mp.cacheSize === 0;
    p.thresh = mp.flushThresh;
    p.ri = ri;
    p.snapIdx = this.snapWord(mp.ring.offset, RS_TX);
  }

  /**
   * The ring of pool `mp`, named in the table for our puts to it (RS_TX: a put straight to it,
   * or a flush of our lcore's cache): its entry. With the table full (MAX_RINGS other rings) a
   * multi-producer ring gets entry 0 (its claims are repaired with every pool's, reclaim.ts step
   * 2; the entry only serves step 1's roll-back of a single producer); a single-producer one is
   * refused (ENOSPC; callers name every pool before any window opens: nothing changed).
   */
  private namePutRing(mp: Mempool): number {
    const ring = mp.ring.offset;
    const base = (this.offset + HANDS.RINGS) >>> 2;
    for (let i = 0; i < this.nrings; i++) {
      const e = this.u32[base + i]!;
      if ((e & ~3) === ring) {
        if ((e & RS_TX) === 0) this.u32[base + i] = e | RS_TX;
        return i;
      }
    }
    if (this.nrings < MAX_RINGS) return this.appendRing(ring, RS_TX);
    if ((mp.ring.flags & RING_F_SP_ENQ) !== 0) {
      throw new MpdkError('ENOSPC', `hands '${this.name}': cannot free into pool '${mp.name}' through this record: the pool's ring takes single-producer puts, which the record must name in its table of ${MAX_RINGS} rings, full with the rings of its sources, sinks and other pools; this free changed nothing (the array still holds them). Free them through another record that names fewer rings (Hands.open one for the frees into '${mp.name}', or give this one fewer sources and sinks), or create the pool with multi-producer puts`);
    }
    return 0;
  }

  /**
   * Name the ring of every pool a free of packets arr[0 .. n) (chains whole) puts into
   * (namePutRing), before any window of that free opens: a single-producer pool ring killed
   * between its head and tail stores is then rolled back by the reclaimer (reclaim.ts step 1),
   * and a refusal (ENOSPC) changes nothing. The general case of a free only (chains, several
   * pools, shared segments: already a walk of every segment); allocates nothing once every pool
   * was met.
   */
  private namePutRings(arr: Uint32Array, n: number): void {
    const mb = this.mbufs;
    let last = this.namedPool;
    for (let i = 0; i < n; i++) {
      let h = arr[i]!;
      for (let k = mb.nbSegs(h); k > 0 && h !== 0; k--, h = mb.next(h)) {
        const ph = mb.poolOf(h);
        if (ph === last) continue;
        if (!this.namedPools.includes(ph)) {
          let mp: Mempool;
          try {
            mp = mb.poolAt(ph);
          } catch {
            continue; // not a readable pool: freeBulk / the putter refuse it themselves
          }
          this.namePutRing(mp);
          this.namedPools.push(ph);
        }
        last = ph;
      }
    }
    this.namedPool = last;
  }

  /** Pools whose ring namePutRings named (or found already named, or entry 0 for): their headers. */
  private readonly namedPools: number[] = [];
  private namedPool = -1;

  /** close's fallback for array `a`, whose free threw `e` (see close). */
  private freeUnrecorded(a: number, e: Error): void {
    const u32 = this.u32;
    const c = u32[this.ctrl[a]!]!;
    const n = c & H_N_MASK;
    const arr = this.array(a);
    // A refusal comes before the free's first store (namePutRings, learnPut): the array is HELD, whole.
    const refused = e instanceof MpdkError && e.code === 'ENOSPC' && c >>> H_STATE_SHIFT === H_HELD;
    u32[this.ctrl[a]!] = c & H_SIDE; // dropped from the record: a death from here leaks them, never duplicates
    let done = false;
    if (refused) {
      try {
        this.mbufs.freeBulk(arr, n); // freeTaken declines: closed
        done = true;
      } catch (e2) {
        e = e2 as Error;
      }
    }
    this.eal.log('warning', done
      ? `hands '${this.name}': close freed the ${n} buffers of array ${a} outside the record (${e.message}); a death during that free would have leaked them`
      : `hands '${this.name}': close could not free the ${n} buffers of array ${a} (${e.message}); they are not returned (the audit shows them leaked)`);
  }

  /** Handles held in all arrays (a snapshot, for logs and tests). */
  held(): number {
    let t = 0;
    for (let a = 0; a < this.arrays; a++) t += this.count(a);
    return t;
  }

  private holdsBesides(a: number): boolean {
    for (let b = 0; b < this.arrays; b++) if (b !== a && this.count(b) > 0) return true;
    return false;
  }

  /** `close()`: `using hands = Hands.open(...)` frees what it holds and the record at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Free what the arrays still hold and the record itself. Idempotent; never throws for what
   * the arrays hold, and always frees the record (its memzone). An array whose recorded free is
   * refused (ENOSPC: a single-producer pool ring the full table cannot name) is dropped from the
   * record with one store, then freed unrecorded: a death between leaks those buffers, never
   * duplicates them. An array whose free failed otherwise (a damaged pool) is dropped from the
   * record with its buffers not returned (the audit shows them leaked). Either is logged as a
   * warning naming the record, the array and the count.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let a = 0; a < this.arrays; a++) {
      try {
        this.free(a);
      } catch (e) {
        this.freeUnrecorded(a, e as Error);
      }
    }
    for (const v of this.views) registerRecordedFree(v, undefined);
    this.eal.region.storeRelease(this.offset + HANDS.MAGIC, 0);
    try {
      this.eal.memzones.free(this.name);
    } catch {
      /* reclaimed meanwhile (we were taken for dead): nothing left to free */
    }
  }
}

// --- readers: reclaim.ts and audit.ts ---------------------------------------------------------

/** One record as a reader sees it. */
export interface HandsRecord {
  /** Memzone name and region offset. */
  mz: string;
  /** Region offset of the record. */
  offset: number;
  /** The name given to `Hands.open`. */
  name: string;
  /** Pid of its owner. */
  pid: number;
  /** Lcore of its owner thread. */
  lcore: number;
  /** Its owner's start time (clock ticks since boot). */
  start: number;
  /** Whether its owner lives. */
  alive: boolean;
  /** Finished by its owner (MAGIC stored). */
  ready: boolean;
  /** Arrays of handles in the record. */
  arrays: number;
  /** Handles each array can hold. */
  capacity: number;
  /** Ring table: offset and RS_* bits; after its MAX_RINGS entries, the rings open windows name in RINGW. */
  rings: {
    /** Region offset of the ring. */
    offset: number;
    /** Which ends of it the owner uses: RS_RX, RS_TX bits. */
    sides: number;
  }[];
}

/** Every record of the instance (memzones "HN_*"), with its owner's liveness. */
export function listRecords(eal: Eal): HandsRecord[] {
  const r = eal.region;
  const out: HandsRecord[] = [];
  for (const mz of eal.memzones.list()) {
    if (!mz.name.startsWith(HANDS_MZ_PREFIX)) continue;
    const o = mz.offset;
    const ready = r.loadAcquire(o + HANDS.MAGIC) === HANDS_MAGIC && r.u32At(o + HANDS.VERSION) === HANDS_VERSION;
    const pid = ready ? r.i32[(o + HANDS.PID) >>> 2]! : mz.creator;
    const start = ready ? r.f64[(o + HANDS.START) >>> 3]! : 0;
    const arrays = ready ? r.u32At(o + HANDS.NARR) : 0;
    const capacity = ready ? r.u32At(o + HANDS.CAP) : 0;
    const fits = arrays <= HANDS_MAX_ARRAYS && capacity <= HANDS_MAX_CAP && HANDS.ARRAYS + arrays * arrayBytes(capacity) <= mz.length;
    const rings: HandsRecord['rings'] = [];
    if (ready) {
      for (let i = 0; i < MAX_RINGS; i++) {
        const e = r.u32At(o + HANDS.RINGS + 4 * i);
        rings.push({ offset: e & ~3, sides: e & 3 });
      }
      // A ring the table had no room for, named by an open RECEIVING / SENDING window (RINGW):
      // after the table's entries.
      const ab = arrayBytes(capacity);
      for (let a = 0; fits && a < arrays; a++) {
        const b = o + HANDS.ARRAYS + a * ab;
        const c = r.u32At(b + HARR.CTRL);
        const st = c >>> H_STATE_SHIFT;
        const w = r.u32At(b + HARR.RINGW);
        const ri = (c >>> H_RING_SHIFT) & 31;
        if ((st === H_RECEIVING || st === H_SENDING) && ri === NO_RING && w !== 0) rings.push({ offset: w & ~3, sides: w & 3 });
        // A pool get's window (alloc, a driver's recorded get): the single-ended side of the pool
        // ring its get (or that get's put-back) has a burst in flight on, named by the mempool's
        // get record in SNAP (a scatter record's, named in POOL; a lent record's is listLent's).
        if (st === H_RECEIVING && ri === POOL_GET) {
          const obj = r.u32At(b + HARR.POOL);
          const side = isScatter(r, obj) ? scatterRingSide(r, obj) : isLent(r, obj) ? 0 : recordedGetRingSide(r, obj, r.u32At(b + HARR.SNAP));
          if (side !== 0) rings.push({ offset: side & ~3, sides: side & 3 });
        }
      }
    }
    out.push({
      mz: mz.name, offset: o, name: ready ? r.readString(o + HANDS.NAME, HANDS.NAME_MAX) : '', pid, lcore: ready ? r.i32[(o + HANDS.LCORE) >>> 2]! : -1,
      start, alive: pid > 0 && processAlive(pid, start), ready: ready && fits, arrays: fits ? arrays : 0, capacity: fits ? capacity : 0, rings,
    });
  }
  return out;
}

/** What a record says its owner holds. */
export interface Held {
  /** Every handle the record holds, chains' first segments included. */
  handles: number[];
  /**
   * The handles among them whose metadata their owner wrote (held, received from a ring,
   * not yet sent): a chain's further segments (NEXT) are the owner's too (places.ts
   * eachSegment), those of an open pool get too (got as freed: one segment, unless chained
   * since by their getter). Not the ones of an open free (half undone).
   */
  settled: number[];
  /** The handles of COUNTED arrays (Hands.share): each one a reference of its own, however many there are. */
  copies: number[];
  /**
   * Shared segments (REFCNT > 1) whose reference an open free already dropped while its packet
   * is still named (freeSegments: the other side's back, tagged; Mbufs.collectFreed): the record
   * no longer holds them (Places.references).
   */
  dropped: number[];
  /** Open windows found, by state name (for reports). */
  windows: Record<string, number>;
  /** Impossible counts: that window was ignored (its handles are then not returned). */
  errors: string[];
}

/**
 * The handles record `rec` holds, per the window table in the file header. Exact for a
 * dead owner whose ring sides nobody moved since; a snapshot for a live one.
 * `inCaches(h)` answers "is h in the mempool cache of the owner's lcore" (FREEING windows).
 * Handles may repeat (a move between arrays): callers dedupe. RING_EMPTY never appears.
 * A window naming a ring or a pool that cannot be read (damaged) is reported in `errors`.
 */
export function heldHandles(eal: Eal, rec: HandsRecord, inCaches: (h: number) => boolean): Held {
  const out: Held = { handles: [], settled: [], copies: [], dropped: [], windows: {}, errors: [] };
  if (!rec.ready) return out;
  const r = eal.region;
  const u32 = r.u32;
  const cap = rec.capacity;
  const ab = arrayBytes(cap);
  const half = (ab - HARR.SIDES) / 2;
  const lc = rec.lcore;
  const pend = pendingWord(eal);
  let counted = false; // the array being read is COUNTED: its handles go to `copies`
  const push = (base: number, from: number, to: number, settled = true): void => {
    for (let i = from; i < to; i++) {
      const h = u32[base + i]!;
      if (h !== RING_EMPTY && h !== 0) {
        (counted ? out.copies : out.handles).push(h);
        if (settled) out.settled.push(h);
      }
    }
  };
  for (let a = 0; a < rec.arrays; a++) {
    const b = rec.offset + HANDS.ARRAYS + a * ab;
    const ci = (b + HARR.CTRL) >>> 2;
    // A share's commit is its journal's word: a dead sharer's made change reads as committed.
    const c = pend !== undefined && pend.word === ci ? pend.value : u32[ci]!;
    counted = (u32[(b + HARR.FLAGS) >>> 2]! & HARR_COUNTED) !== 0;
    const snap = u32[(b + HARR.SNAP) >>> 2]!;
    const state = c >>> H_STATE_SHIFT;
    const n = c & H_N_MASK;
    const arr = (b + HARR.SIDES + ((c & H_SIDE) !== 0 ? half : 0)) >>> 2;
    if (n > cap) {
      out.errors.push(`array ${a}: count ${n} > capacity ${cap}`);
      continue;
    }
    if (state === H_HELD) {
      push(arr, 0, n);
      continue;
    }
    const names = ['held', 'receiving', 'sending', 'freeing'];
    out.windows[names[state]!] = (out.windows[names[state]!] ?? 0) + 1;
    const ri = (c >>> H_RING_SHIFT) & 31;
    if (state === H_FREEING) {
      if (ri === POOL_GET && snap >>> 16 === CHUNK_FROM >>> 16) {
        // A driver's free of a chunk of the burst (Hands.txChunks): [0, from) went; the others
        // but those in the caches (the chunk's, once its put went) are held.
        for (let i = Math.min(snap & 0xffff, n); i < n; i++) {
          const h = u32[arr + i]!;
          if (inCaches(h)) continue;
          out.handles.push(h);
          out.settled.push(h);
        }
        continue;
      }
      if (ri === POOL_GET) {
        // A free of segments (Hands.freeSegments): the packets [0, n) (chains whole), and the
        // other side's lone segments up to a 0 (none while PUT is NOT_NAMED), but those gone
        // (freeing.ts) or in the caches.
        push(arr, 0, n);
        const kept = u32[(b + HARR.KEPT) >>> 2]!; // a driver's partial free: the tail it did not take (Hands.freeTaken)
        if (kept !== 0) push(arr, Math.min(kept >>> 16, cap), Math.min(kept & 0xffff, cap));
        const other = (b + HARR.SIDES + ((c & H_SIDE) !== 0 ? 0 : half)) >>> 2;
        // The references of shared segments the free dropped (at the other side's back, tagged:
        // Mbufs.collectFreed), its packet still named; one whose changer died before naming it
        // is read from the shared counts' journal (pendingWord).
        for (let i = cap - 1; i >= 0; i--) {
          const h = pend !== undefined && pend.word === other + i ? pend.value : u32[other + i]!;
          if ((h & MBUF_DROPPED) === 0) break;
          out.dropped.push(h - MBUF_DROPPED);
        }
        if (snap === NOT_NAMED) continue;
        const done = segmentsGone(eal, lc, snap, u32[(b + HARR.POOL) >>> 2]!, u32[(b + HARR.GSNAP) >>> 2]!);
        for (let i = done; i < cap; i++) {
          const h = u32[other + i]!;
          if (h === 0 || (h & MBUF_DROPPED) !== 0) break;
          if (!inCaches(h)) out.handles.push(h);
        }
        continue;
      }
      // A put straight to the pool's ring that went (one bulk put of arr[0 .. k): all n for
      // Hands.free, what a driver's txBurst took) holds the rest.
      if (ri !== NO_RING) {
        try {
          const k = Mempool.attachAt(eal, u32[(b + HARR.POOL) >>> 2]!).putMoved(lc, snap);
          if (k > 0 && k <= n) {
            push(arr, k, n);
            continue;
          }
        } catch (e) {
          out.errors.push(`array ${a}: ${(e as Error).message}`);
        }
      }
      for (let i = 0; i < n; i++) {
        const h = u32[arr + i]!;
        if (inCaches(h)) continue;
        out.handles.push(h);
        out.settled.push(h); // lone (a one-put free), or a chain not yet taken apart (freeSegments' first store not made)
      }
      continue;
    }
    try {
      if (state === H_RECEIVING && ri === POOL_GET) {
        // The get took its n iff the owner lcore's cache LEN is the one it recorded (mempool.ts
        // recordedGetTook). Read before reclaimDead flushes the dead lcores' caches.
        push(arr, 0, n);
        if (snap === NO_GET) continue;
        // POOL names a lent record when the driver hands over buffers it lent (lent.ts take):
        // k heads, their chains linked (settled); else the mempool of its get.
        const obj = u32[(b + HARR.POOL) >>> 2]!;
        if (isScatter(r, obj)) {
          // A head whose chain the driver builds in its scatter record (scatter.ts): the head,
          // its chain (settled) and the segments of the record's open get (union with the chain).
          const sc = scatterHeld(eal, obj);
          if (sc.head !== 0) {
            out.handles.push(sc.head);
            out.settled.push(sc.head);
          }
          out.handles.push(...sc.segs);
          continue;
        }
        const lent = isLent(r, obj);
        const k = lent ? lentTook(r, obj, snap) : Mempool.attachAt(eal, obj).recordedGetTook(lc, snap, u32[(b + HARR.GSNAP) >>> 2]!);
        if (k > cap - n) out.errors.push(`array ${a}: a get of ${k} recorded past the room ${cap - n}`);
        else push(arr, n, n + k); // settled: a pool's free mbufs are single segments, a chain is its getter's
        continue;
      }
      const ring = ri === NO_RING ? u32[(b + HARR.RINGW) >>> 2]! & ~3 : (rec.rings[ri]?.offset ?? 0);
      if (state === H_RECEIVING) {
        push(arr, 0, n);
        if (ring === 0) continue; // not a ring: the burst is not known (a leak at worst)
        const k = RingView.at(r, ring).burstMoved(lc, snap, true);
        if (k > cap - n) out.errors.push(`array ${a}: ${k} handles received past the snapshot, room ${cap - n}`);
        else push(arr, n, n + k);
        continue;
      }
      // SENDING; POOL_GET: to a queue that lends what it sends (lent.ts), s = what it lent since SNAP
      let s: number;
      if (ri === POOL_GET) {
        const obj = u32[(b + HARR.POOL) >>> 2]!;
        s = snap === NO_GET || !isLent(r, obj) ? 0 : lentTook(r, obj, snap);
      } else s = ring === 0 ? n : RingView.at(r, ring).burstMoved(lc, snap, false);
      if (s > n) out.errors.push(`array ${a}: ${s} sent > ${n} buffered`);
      else push(arr, s, n);
    } catch (e) {
      out.errors.push(`array ${a}: ${(e as Error).message}`);
    }
  }
  return out;
}

registerDescriber('hands', (eal) => listRecords(eal).map((rec) => {
  const h = heldHandles(eal, rec, () => false);
  const held = new Set(h.handles).size + h.copies.length;
  return { kind: 'hands', name: rec.name || rec.mz, record: rec.mz, pid: rec.pid, alive: rec.alive, lcore: rec.lcore, arrays: rec.arrays, capacity: rec.capacity, held };
}));
