/**
 * The sending end of a channel, for one thread (channel.ts): copies each message into
 * buffers of the channel's pool and enqueues them, a message's buffers (or a batch's) in
 * one bulk enqueue, so a receiver sees all of a message or none of it.
 *
 *   step (per call, whatever the batch)          the ownership record (Hands, one array)
 *   plan: one pass over the messages (checks,    —
 *   lengths, which share a buffer)
 *   room check: ring.freeCount() ≥ buffers,      —
 *   only after a send found it full
 *   alloc the buffers (all or nothing; from the  a POOL_GET window, then HELD
 *   channel's own pool without the mbuf reset)
 *   copy the bytes after their framing (MSG)     HELD: the buffers are ours
 *   enqueueBulk (one CAS or store, one bell)     a SENDING window: exact on the ring's claim
 *                                                line / tail, then empty
 *   the ring refused (full, or a race for its    the buffers go back to the pool
 *   room)
 *
 * Small messages of one call that fit a buffer together go in one PACKED buffer (channel.ts:
 * length-prefixed records), so a batch of 64-byte messages costs one buffer per ~30 of them:
 * one alloc, one enqueue, one handle for the receiver. A message alone, or one that does not
 * fit with its neighbour, takes its own buffer(s) as before. On a channel whose maxMessage
 * packs two to a buffer (perBuffer), the plan is skipped: the batch's most buffers are taken
 * and it is laid out as it is copied (packFast), the unfilled buffers freed after the send.
 * packFast and the staged batches mark a buffer whose records are all of one length
 * (MSG_UNIFORM, one xor and or per message): its receiver places them without reading them.
 *
 * sendAsync calls made together pack too: the first of a tick goes at its call; the small
 * ones after it are copied at their call into private memory laid out as packed buffers
 * (Staged) and go in one send at the end of the tick (a microtask).
 *
 * Order: every send of a sender goes in call order. A send that cannot go at its call, or
 * comes while others wait, joins the sender's queue (copied at its call): staged batches,
 * and Waiting sends (those with options, longer than a buffer, sendManyAsync's), each with
 * its own deadline and signal. One drain (an async loop) sends the queue from its head,
 * waiting for room or buffers for the head alone; a Waiting send whose time runs out or
 * whose signal aborts settles where it stands and is skipped. Any other send (trySendMany)
 * sends the queue first, and refuses (nothing of its own sent) while the head cannot go.
 *
 * Per message, the copy and the first store into each cache line of the buffer (a line the
 * receiver's core read last) are most of the cost; the rest is one read of the message's
 * length and a few stores. The copy is TypedArray.set, or four bytes a store for a
 * message object the sender has seen before at the same place of a batch (word-copy.ts: about
 * half of set()'s cost for 64 bytes). packFast stores into each line a buffer will take
 * when it opens the buffer (claimLines), before the copies: the copies' stores then find
 * their lines already coming. A sender that keeps up with its receivers never reads the
 * ring's consumer line before the enqueue.
 *
 * A sender killed at any instruction leaves its buffers in its record, in the ring, or
 * half-claimed on the ring: reclaimDead (in any live process) returns them, the ring's
 * repair fills a half-written claim with EMPTY (receivers drop those).
 */
import { MpdkError } from '../eal/errors.js';
import type { TxQueue } from '../ethdev/driver.js';
import { Hands, HANDS_MAX_CAP, type Sink } from '../ownership/hands.js';
import { deadlineOf, sleepFor, type WaitOptions } from '../ring/doorbell-async.js';
import type { Ring } from '../ring/ring.js';
import { MSG, MSG_PACKED, MSG_UNIFORM, RECORD_HEADER, recordBytes, type Channel } from './channel.js';
import { WordCopy, WORD_MAX } from './word-copy.js';

/** How a send went: sent, or not sent and why (nothing was sent). */
export type SendStatus = 'sent' | 'no-room' | 'no-buffers';

/** What a sender is opened with (`channel.sender()`). */
export interface SenderOptions {
  /** Most buffers one call sends (a batch's): from the longest message's to what the ring holds. Default max(256, the longest message's), within the ring. */
  batchBuffers?: number;
  /**
   * Pack the small messages of one call that fit a buffer together into one buffer
   * (length-prefixed records; the receiver sees each as its own message). Default true;
   * false sends each message in buffers of its own.
   */
  pack?: boolean;
}

const encoder = new TextEncoder();

/**
 * Store 0 into each cache line of region bytes [from, to): the part of a buffer the sender
 * holds (HELD in its record) that its next records will fill, none of them written yet
 * (from 4-aligned); the records overwrite every word stored here that they cover, and the
 * receiver reads nothing beyond them. The lines were last read by a receiver's core: these
 * back-to-back stores fetch them for writing together, where the copies' own stores would
 * wait for them one after the other. With the word copy (word-copy.ts), the sender's time
 * per 64-byte message across two cores, medians of its calls in alternated runs on a loaded
 * 2-core EPYC: 35.3 -> 27.2, 40.5 -> 44.3, 83.8 -> 48.2, 42.4 -> 39.9 ns; with set()'s copies
 * a claim of every line of the buffers taken did not pay (42.6 -> 47.9).
 */
function claimLines(u32: Uint32Array, from: number, to: number): void {
  for (let x = from; x < to; x += 64) u32[x >>> 2] = 0;
}

/**
 * The ring as a sink of the first `count` handles of a burst, all or none (enqueueBulk): a
 * batch that `packFast` laid out in fewer buffers than it took. The others stay in the
 * sender's record (Hands.tx moves them to its front) until it frees them.
 */
class PrefixTx implements TxQueue {
  /** Handles the next burst sends (set just before it). */
  count = 0;
  constructor(private readonly ring: Ring) {}
  txBurst(handles: Uint32Array, n: number): number {
    return this.ring.enqueueBulk(handles, n < this.count ? n : this.count);
  }
}

/**
 * Small messages of sendAsync calls, copied at each call into private memory laid out as
 * the packed buffers they will go in (channel.ts: records), until they go in one send (at
 * the end of the tick, or once the ring has room). Nothing of the channel's is held
 * meanwhile: a process killed with messages staged loses those messages (their promises
 * never resolved), no buffer.
 */
class Staged {
  /** Buffers' payloads, `seg` bytes each; buffer b's records from b × stride (grown by doubling, up to `capacity` buffers). */
  u8: Uint8Array;
  /** seg rounded up to 4: each staged buffer starts 4-aligned, as its records. */
  readonly stride: number;
  private u32: Uint32Array;
  /** Per buffer: payload bytes used, records, its first record's length, whether another length joined (else MSG_UNIFORM). */
  readonly used: Int32Array;
  readonly recs: Int32Array;
  readonly first: Int32Array;
  readonly mixed: Int32Array;
  /** Buffers begun (the last one open); 0 when empty. */
  buffers = 0;
  /** Messages staged. */
  count = 0;
  /** Resolves true for every message staged so far once they are on the ring, false if the sender closed first. */
  promise: Promise<boolean> | undefined;
  private resolve: ((sent: boolean) => void) | undefined;

  constructor(private readonly seg: number, private readonly capacity: number) {
    this.stride = (seg + 3) & ~3;
    this.u8 = new Uint8Array(this.stride * Math.min(capacity, Math.max(1, Math.floor(65536 / seg))));
    this.u32 = new Uint32Array(this.u8.buffer);
    this.used = new Int32Array(capacity);
    this.recs = new Int32Array(capacity);
    this.first = new Int32Array(capacity);
    this.mixed = new Int32Array(capacity);
  }

  /** Copy m (a record of at most `seg` bytes) in as a record: its promise, or undefined when the staged buffers are full. */
  add(m: Uint8Array): Promise<boolean> | undefined {
    const rec = recordBytes(m.length);
    let b = this.buffers - 1;
    if (b < 0 || this.used[b]! + rec > this.seg) {
      if (this.buffers === this.capacity) return undefined;
      b = this.buffers++;
      if (this.buffers * this.stride > this.u8.length) this.grow();
      this.used[b] = 0;
      this.recs[b] = 0;
      this.first[b] = m.length;
      this.mixed[b] = 0;
    }
    this.mixed[b] = this.mixed[b]! | (m.length ^ this.first[b]!);
    const o = b * this.stride + this.used[b]!;
    this.u32[o >>> 2] = m.length;
    if (m.length !== 0) this.u8.set(m, o + RECORD_HEADER); // a detached buffer's view: length 0, set() would throw
    this.used[b] = this.used[b]! + rec;
    this.recs[b] = this.recs[b]! + 1;
    this.count++;
    this.promise ??= new Promise<boolean>((r) => (this.resolve = r));
    return this.promise;
  }

  private grow(): void {
    const u8 = new Uint8Array(Math.min(this.capacity * this.stride, 2 * this.u8.length));
    u8.set(this.u8);
    this.u8 = u8;
    this.u32 = new Uint32Array(u8.buffer);
  }

  /** Empty it, resolving the promise of what it held with `sent`. */
  settle(sent: boolean): void {
    const r = this.resolve;
    this.buffers = 0;
    this.count = 0;
    this.promise = undefined;
    this.resolve = undefined;
    r?.(sent);
  }
}

/**
 * A send of sendAsync or sendManyAsync that could not go at its call, or came while other
 * sends of the sender wait: its messages copied at the call (views of one private array),
 * the buffers they take, its deadline and signal. It goes in its turn; its timeout (from
 * its call) or its signal settles it wherever it stands in the queue, and it is skipped.
 */
class Waiting {
  /** Resolved or rejected: the drain skips it. */
  settled = false;
  readonly promise: Promise<boolean>;
  private resolve!: (sent: boolean) => void;
  private reject!: (reason: unknown) => void;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort: (() => void) | undefined;

  /** `ended` runs after the timeout or the abort settled it (the sender's drain looks again). */
  constructor(readonly msgs: Uint8Array[], readonly buffers: number, readonly deadline: number, private readonly signal: AbortSignal | undefined, ended: () => void) {
    this.promise = new Promise<boolean>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (deadline !== Infinity) {
      this.timer = setTimeout(() => {
        this.end(false);
        ended();
      }, Math.min(Math.max(0, deadline - performance.now()), 2 ** 31 - 1));
    }
    if (signal !== undefined) {
      const onAbort = (): void => {
        this.fail(signal.reason);
        ended();
      };
      this.onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /** Copies of msgs[0..n), one private array underneath. */
  static copy(msgs: readonly Uint8Array[], n: number): Uint8Array[] {
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += msgs[i]!.length;
    const all = new Uint8Array(bytes);
    const out = new Array<Uint8Array>(n);
    for (let i = 0, o = 0; i < n; i++) {
      const m = msgs[i]!;
      if (m.length !== 0) all.set(m, o); // a detached buffer's view: length 0, an empty message
      out[i] = all.subarray(o, o + m.length);
      o += m.length;
    }
    return out;
  }

  /** Resolve with `sent` (once). */
  end(sent: boolean): void {
    if (this.settled) return;
    this.forget();
    this.resolve(sent);
  }

  /** Reject with the signal's reason (once). */
  private fail(reason: unknown): void {
    if (this.settled) return;
    this.forget();
    this.reject(reason);
  }

  private forget(): void {
    this.settled = true;
    clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
  }
}

/**
 * The sending end of a `Channel` for one thread (`channel.sender()`): copies each message into
 * buffers of the channel's pool and enqueues them in one step, so receivers see all of a
 * message or nothing. `close()` / `using` releases its ownership record.
 */
export class ChannelSender {
  /** The channel it sends on. */
  readonly channel: Channel;
  private readonly hands: Hands;
  private readonly sink: Sink;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  /** From a buffer's handle to its data (Channel.dataDelta). */
  private readonly delta: number;
  private readonly segBytes: number;
  /** Most buffers one call may send. */
  readonly capacity: number;
  private readonly one: Uint8Array[] = [new Uint8Array(0)];
  /**
   * The channel's own pool: its buffers come back from receivers as every free leaves them
   * (one segment, refcnt 1, the data offset the channel never moves), so they need no reset.
   */
  private readonly asFreed: boolean;
  /** SenderOptions.pack. */
  private readonly pack: boolean;
  /** Longest message that takes part of one buffer: min(segmentBytes, maxMessage). */
  private readonly small: number;
  /**
   * Records of `small` bytes one buffer holds (0 when pack is off): from 2, a batch of n
   * messages never takes more than ceil(n / perBuffer) buffers, and packFast lays it out
   * as it copies (one pass) in that many, taken before.
   */
  private readonly perBuffer: number;
  /** The ring as a sink of a burst's first buffers (packFast's batch took more than it filled). */
  private readonly prefix: PrefixTx;
  private readonly prefixSink: Sink;
  /** Copies small messages into the region: by words for those it has seen at the same place of a batch (word-copy.ts). */
  private readonly words: WordCopy;
  /** A buffer's data starts 4-aligned (every buffer's: handles are 64-aligned): records and lone messages may be copied by words. */
  private readonly byWords: boolean;
  /** plan's layout of the batch: each message's length, each buffer's run (plan). */
  private lens = new Int32Array(64);
  private readonly runs: Int32Array;
  /** A send found the ring full, and no check since found it with room to spare: check its room before taking buffers. */
  private full = false;
  /**
   * The sends that wait, in call order (copied at their call): sendAsync's staged batches
   * and Waiting sends. They go in this order, before any other send of this sender.
   * Emptied batches are kept in `spare`. Not empty ⇒ a drain is scheduled or under way.
   */
  private readonly queue: (Staged | Waiting)[] = [];
  private readonly spare: Staged[] = [];
  /** A sendAsync of this tick went at its call, or the drain is scheduled (endOfTick): the next small ones are staged. */
  private tickSent = false;
  /** drain is under way (the head of the queue waits for room or buffers). */
  private draining = false;
  /** Ends the drain's current wait (kick): the head settled or went, or close(). */
  private wake: AbortController | undefined;
  /** The end of the tick (a microtask): sends the queue, waiting for room if need be. */
  private readonly endOfTick = (): void => {
    this.tickSent = false;
    if (this.queue.length > 0 && !this.draining) void this.drain();
  };
  /** End the drain's current wait: it looks at the queue again. */
  private readonly kick = (): void => {
    const w = this.wake;
    this.wake = undefined;
    w?.abort();
  };
  private closed = false;

  /** Use `channel.sender()`. */
  constructor(channel: Channel, opts: SenderOptions = {}) {
    this.channel = channel;
    const most = Math.min(HANDS_MAX_CAP, channel.ring.capacity);
    const cap = opts.batchBuffers ?? Math.min(most, Math.max(256, channel.maxSegments));
    if (!Number.isInteger(cap) || cap < channel.maxSegments || cap > most) {
      throw new MpdkError('EINVAL', `channel '${channel.name}': batchBuffers ${cap} must be from ${channel.maxSegments} (the longest message's buffers) to ${most} (what the ring holds at once)`);
    }
    this.capacity = cap;
    this.hands = Hands.open(channel.eal, `ch_tx:${channel.name}`, 1, this.capacity);
    this.sink = this.hands.sink(channel.ring, true);
    this.u8 = channel.eal.region.u8;
    this.u32 = channel.eal.region.u32;
    this.delta = channel.dataDelta;
    this.segBytes = channel.segmentBytes;
    this.asFreed = channel.ownPool;
    this.pack = opts.pack ?? true;
    this.small = Math.min(this.segBytes, channel.maxMessage);
    this.perBuffer = this.pack ? Math.floor(this.segBytes / recordBytes(this.small)) : 0;
    this.prefix = new PrefixTx(channel.ring);
    this.prefixSink = this.hands.sinkOf(this.prefix, channel.ring);
    this.runs = new Int32Array(this.capacity);
    this.words = new WordCopy(channel.eal.region.u8, channel.eal.region.i32);
    this.byWords = (this.delta & 3) === 0;
  }

  /** Buffers a message of `len` bytes takes (EINVAL beyond maxMessage). */
  private segmentsOf(len: number): number {
    if (len > this.channel.maxMessage) {
      throw new MpdkError('EINVAL', `channel '${this.channel.name}': a message of ${len} bytes is longer than its maxMessage (${this.channel.maxMessage})`);
    }
    return len <= this.segBytes ? 1 : Math.ceil(len / this.segBytes);
  }

  /** Send one message (bytes, or a string as UTF-8) now, or nothing: 'sent', 'no-room' (the ring is full) or 'no-buffers' (the pool is empty). */
  trySend(msg: Uint8Array | string): SendStatus {
    this.one[0] = typeof msg === 'string' ? encoder.encode(msg) : msg;
    return this.trySendMany(this.one, 1);
  }

  /** `trySend(msg) === 'sent'`. */
  send(msg: Uint8Array | string): boolean {
    return this.trySend(msg) === 'sent';
  }

  /**
   * Lay msgs[0..n) out in buffers (checking each is bytes within maxMessage: EINVAL): each
   * message's length into `lens`, and per buffer b of the batch `runs[b]`: r ≥ 1 messages
   * (one alone, or a packed run of r that fit one buffer together), or −k for the first of
   * the k buffers of a long message (its other k − 1 entries unused). Returns the buffers:
   * more than `capacity` (the layout then incomplete) when the batch is too large.
   * One pass, each message's length read once; `frame` follows the layout.
   */
  private plan(msgs: readonly Uint8Array[], n: number): number {
    if (n > this.lens.length) this.lens = new Int32Array(Math.max(n, 2 * this.lens.length));
    const lens = this.lens;
    const runs = this.runs;
    const cap = this.capacity;
    const seg = this.segBytes;
    const small = this.small; // min(seg, maxMessage): a message up to this takes part of one buffer
    const pack = this.pack;
    let b = 0; // buffers so far
    let room = 0; // record bytes left in the buffer the last small message opened (0: none)
    let r = 0; // messages in that buffer (runs[b − 1] once it is closed)
    for (let i = 0; i < n; i++) {
      const m = msgs[i];
      if (!(m instanceof Uint8Array)) throw new MpdkError('EINVAL', `channel '${this.channel.name}': message ${i} is not a Uint8Array (strings go through trySend)`);
      const len = m.length;
      lens[i] = len;
      if (len <= small) {
        const rec = RECORD_HEADER + ((len + 3) & ~3); // recordBytes, inline
        if (rec <= room) {
          room -= rec; // joins the open buffer
          r++;
          continue;
        }
        if (r > 0) runs[b - 1] = r;
        if (b === cap) return this.count(msgs, i, n, b);
        b++;
        r = 1;
        room = pack ? seg - rec : 0;
        continue;
      }
      if (len > this.channel.maxMessage) this.segmentsOf(len); // throws
      if (r > 0) runs[b - 1] = r;
      const k = Math.ceil(len / seg);
      if (b + k > cap) return this.count(msgs, i, n, b);
      runs[b] = -k;
      b += k;
      room = 0;
      r = 0;
    }
    if (r > 0) runs[b - 1] = r;
    return b;
  }

  /** The buffers of a batch that does not fit `capacity`: `b` before message i, the rest counted (and checked) as `plan` would. */
  private count(msgs: readonly Uint8Array[], i: number, n: number, b: number): number {
    const seg = this.segBytes;
    let room = 0;
    for (; i < n; i++) {
      const m = msgs[i];
      if (!(m instanceof Uint8Array)) throw new MpdkError('EINVAL', `channel '${this.channel.name}': message ${i} is not a Uint8Array (strings go through trySend)`);
      const len = m.length;
      if (len > this.channel.maxMessage) this.segmentsOf(len); // throws
      if (len > seg) {
        b += Math.ceil(len / seg);
        room = 0;
        continue;
      }
      const rec = recordBytes(len);
      if (rec <= room) room -= rec;
      else {
        b++;
        room = this.pack ? seg - rec : 0;
      }
    }
    return b;
  }

  /**
   * Send msgs[0..n) now, all in one bulk enqueue, or none of them (the status says why).
   * One pool get, one enqueue per call, and small messages packed several to a buffer
   * (SenderOptions.pack): a batch of small messages costs little more than one.
   * EINVAL for a message over maxMessage or a batch over `capacity` buffers. When the ring
   * is full and the pool empty at once, either status may come. The async sends of this
   * sender that wait go first, in call order: while the oldest cannot go, nothing of msgs
   * is sent (the status says why the oldest could not).
   */
  trySendMany(msgs: readonly Uint8Array[], n = msgs.length): SendStatus {
    if (this.closed) throw new MpdkError('EINVAL', `channel '${this.channel.name}': this sender was closed: open another with channel.sender()`);
    if (this.queue.length > 0) { // the sends that wait go first
      const head = this.queue[0];
      const st = this.sendQueued();
      if (this.queue[0] !== head) this.kick(); // the drain waited for a head that is gone
      if (st !== 'sent') return st;
    }
    return this.sendNow(msgs, n);
  }

  /** trySendMany's send of msgs[0..n), the queue empty. */
  private sendNow(msgs: readonly Uint8Array[], n: number): SendStatus {
    if (this.perBuffer >= 2 && n >= 2 && !this.full) {
      const st = this.packFast(msgs, n);
      if (st !== undefined) return st;
    }
    const total = this.plan(msgs, n);
    if (total > this.capacity) throw new MpdkError('EINVAL', `channel '${this.channel.name}': a batch of ${total} buffers; this sender sends at most ${this.capacity} at once`);
    if (total === 0) return 'sent';
    // The ring's room is read (a load of the line the receivers write) after a refusal, until it
    // is found with room to spare: a sender spinning on a full ring takes no buffer, one the ring
    // holds back checks before each copy, one that keeps up leaves the check to the enqueue (a
    // refusal there costs the batch's alloc and copy once).
    const st = this.take(total);
    if (st !== undefined) return st;
    this.frame(this.hands.array(0), msgs, total);
    return this.push(total);
  }

  /** After a refusal, check the ring's room (above); then take `total` buffers into the record: undefined once taken, else why not (nothing taken). */
  private take(total: number): SendStatus | undefined {
    if (this.full) {
      const free = this.channel.ring.freeCount();
      if (free < total) return 'no-room';
      if (free >= 2 * total) this.full = false;
    }
    const hands = this.hands;
    const got = this.asFreed ? hands.allocAsFreed(0, this.channel.pool, total) : hands.alloc(0, this.channel.pool, total);
    return got === total ? undefined : 'no-buffers';
  }

  /** Enqueue the `total` framed buffers the record holds: 'sent', or 'no-room' with them back in the pool. */
  private push(total: number): SendStatus {
    if (this.hands.tx(0, this.sink) === total) return 'sent';
    this.hands.free(0); // the ring is full (or another sender took the room first)
    this.full = true;
    return 'no-room';
  }

  /**
   * trySendMany for a channel whose every message packs (perBuffer ≥ 2: two records of
   * maxMessage bytes fit one buffer's payload): takes the most buffers the
   * batch can need, ceil(n / perBuffer), then in ONE pass checks each message, reads its
   * length and copies it into the next record (plan's layout, without plan's pass and its
   * per-message stores; each buffer's lines claimed as it opens, for as many records of the
   * opening message's size as are left), then sends the buffers it filled and frees the others. Undefined
   * (nothing taken) when the pool has not that many buffers or they exceed `capacity`: the
   * caller plans the batch exactly. A message that is not bytes or is over maxMessage frees
   * what was taken and throws EINVAL: nothing sent, the pool as before.
   */
  private packFast(msgs: readonly Uint8Array[], n: number): SendStatus | undefined {
    const total = Math.ceil(n / this.perBuffer);
    if (total > this.capacity) return undefined;
    const hands = this.hands;
    if (hands.allocAsFreed(0, this.channel.pool, total) !== total) return undefined; // as plan would find it, or not
    const arr = hands.array(0);
    const u32 = this.u32;
    const seg = this.segBytes;
    const small = this.small;
    let b = 0; // the buffer being filled
    let d = arr[0]! + this.delta;
    let start = d + MSG.PAYLOAD;
    let end = start + seg;
    let o = start; // its next record
    let r = 0; // records in it
    let first = msgs[0]!.length | 0; // the length of its first record (msgs[0] not bytes: refused below)
    let other = 0; // not 0: it holds a record of another length (else MSG_UNIFORM)
    const words = this.words;
    const byWords = this.byWords;
    claimLines(u32, o, Math.min(end, o + n * recordBytes(first)));
    for (let i = 0; i < n; i++) {
      const m = msgs[i]!;
      const known = words.has(m, i); // a Uint8Array seen here before: no instanceof
      if (!known && !(m instanceof Uint8Array)) return this.refuse(msgs, i);
      const len = m.length;
      if (len > small) return this.refuse(msgs, i);
      const rec = RECORD_HEADER + ((len + 3) & ~3); // recordBytes, inline
      if (o + rec > end) { // close this buffer (r ≥ perBuffer ≥ 2 records), open the next
        u32[d >>> 2] = o - start; // MSG.LEN
        u32[(d + MSG.SEGS) >>> 2] = (MSG_PACKED | (other === 0 ? MSG_UNIFORM : 0) | r) >>> 0;
        d = arr[++b]! + this.delta; // b < total: each buffer took ≥ perBuffer records
        start = d + MSG.PAYLOAD;
        end = start + seg;
        o = start;
        r = 0;
        first = len;
        other = 0;
        claimLines(u32, o, Math.min(end, o + (n - i) * rec));
      }
      other |= len ^ first;
      u32[o >>> 2] = len;
      if (known && byWords && len <= WORD_MAX) words.copyKnown(m, i, len, o + RECORD_HEADER);
      else words.copyOther(m, i, len, o + RECORD_HEADER);
      o += rec;
      r++;
    }
    u32[d >>> 2] = o - start;
    u32[(d + MSG.SEGS) >>> 2] = (MSG_PACKED | (other === 0 ? MSG_UNIFORM : 0) | r) >>> 0; // r may be 1: a packed buffer of one record
    const used = b + 1;
    let sent: number;
    if (used === total) sent = hands.tx(0, this.sink);
    else {
      this.prefix.count = used;
      sent = hands.tx(0, this.prefixSink); // the unused ones stay in the record, freed below
    }
    if (hands.count(0) > 0) hands.free(0);
    if (sent === used) return 'sent';
    this.full = true; // the ring is full (or another sender took the room first)
    return 'no-room';
  }

  /** packFast found message i not bytes or too long: give the buffers back, throw plan's EINVAL. */
  private refuse(msgs: readonly Uint8Array[], i: number): never {
    this.hands.free(0);
    const m = msgs[i];
    if (!(m instanceof Uint8Array)) throw new MpdkError('EINVAL', `channel '${this.channel.name}': message ${i} is not a Uint8Array (strings go through trySend)`);
    this.segmentsOf(m.length); // throws: over maxMessage
    throw new MpdkError('EINVAL', `channel '${this.channel.name}': message ${i} (${m.length} bytes) does not pack`); // unreachable: small = maxMessage here
  }

  /** Copy msgs into the buffers arr[0..total) after their framing (channel.ts MSG), as `plan` laid them out (lens, runs). */
  private frame(arr: Uint32Array, msgs: readonly Uint8Array[], total: number): void {
    const u32 = this.u32;
    const lens = this.lens;
    const runs = this.runs;
    const delta = this.delta;
    let i = 0;
    for (let b = 0; b < total; ) {
      const d = arr[b]! + delta;
      const r = runs[b]!;
      if (r === 1) { // one message alone
        u32[d >>> 2] = lens[i]!; // MSG.LEN
        u32[(d + MSG.SEGS) >>> 2] = 1;
        this.copy(msgs[i]!, i, lens[i]!, d + MSG.PAYLOAD);
        i++;
        b++;
      } else if (r > 1) { // packed: r records (channel.ts)
        const start = d + MSG.PAYLOAD;
        let o = start;
        for (const last = i + r; i < last; i++) {
          const len = lens[i]!;
          u32[o >>> 2] = len;
          this.copy(msgs[i]!, i, len, o + RECORD_HEADER);
          o += RECORD_HEADER + ((len + 3) & ~3);
        }
        u32[d >>> 2] = o - start; // MSG.LEN
        u32[(d + MSG.SEGS) >>> 2] = (MSG_PACKED | r) >>> 0;
        b++;
      } else { // a long message: -r buffers
        this.frameLong(arr, b, -r, msgs[i]!, lens[i]!);
        b -= r;
        i++;
      }
    }
  }

  /** Copy message i of a call (a Uint8Array of len bytes, that fits one buffer) to region byte `at` (4-aligned). */
  private copy(m: Uint8Array, i: number, len: number, at: number): void {
    if (len <= WORD_MAX && this.byWords && this.words.has(m, i)) this.words.copyKnown(m, i, len, at);
    else this.words.copyOther(m, i, len, at);
  }

  /** Copy the long message msg (len bytes) into the k buffers arr[b..b + k). */
  private frameLong(arr: Uint32Array, b: number, k: number, msg: Uint8Array, len: number): void {
    const seg = this.segBytes;
    for (let s = 0, pos = 0; s < k; s++, pos += seg) {
      const d = arr[b + s]! + this.delta;
      const part = Math.min(seg, len - pos);
      this.u32[(d + MSG.LEN) >>> 2] = s === 0 ? len : part;
      this.u32[(d + MSG.SEGS) >>> 2] = s === 0 ? k : 0;
      this.u8.set(msg.subarray(pos, pos + part), d + MSG.PAYLOAD);
    }
  }

  /**
   * Send one message, waiting without blocking the event loop while the ring is full (its
   * doorbell) or the pool is empty (a short timer): resolves true once sent, false when
   * `opts.timeout` ms (counted from the call) pass first or the sender closes first (nothing
   * sent); rejects with the signal's reason on abort (nothing sent). The message is copied
   * at the call: the caller may reuse it at once.
   *
   * Every send of a sender goes in call order, whatever its options or length: one that
   * waits for room holds back the later ones (a socket's order); one that times out or is
   * aborted while it waits settles then, where it stands, and the ones after it go on.
   * Calls made in one tick pack: the first goes at its call, as trySend; the small ones
   * after it (up to a buffer's payload each, without `opts`, on a packing sender) are
   * copied at their call into private memory and go together when the tick's synchronous
   * run ends (a microtask), several to a buffer, in one enqueue: their promises resolve
   * together, once they are on the ring. Any other send of this sender sends them first.
   * A process killed before then loses those messages, never a buffer.
   */
  sendAsync(msg: Uint8Array | string, opts?: WaitOptions): Promise<boolean> {
    const m = typeof msg === 'string' ? encoder.encode(msg) : msg;
    if (opts !== undefined || this.closed || !this.pack || !(m instanceof Uint8Array) || m.length > this.channel.maxMessage || recordBytes(m.length) > this.segBytes) {
      return this.sendManyAsync([m], 1, opts); // rejects when closed or not a message (EINVAL)
    }
    if (this.queue.length === 0 && !this.tickSent) { // the first of its tick, nothing waiting: at its call
      this.one[0] = m;
      const sent = this.sendNow(this.one, 1) === 'sent';
      this.tickSent = true;
      queueMicrotask(this.endOfTick);
      if (sent) return Promise.resolve(true);
    }
    const q = this.queue;
    let last = q[q.length - 1];
    let p = last instanceof Staged ? last.add(m) : undefined;
    if (p === undefined) { // none staged last, or the last batch is full
      last = this.spare.pop() ?? new Staged(this.segBytes, this.capacity);
      this.enqueue(last);
      p = last.add(m)!;
    }
    return p;
  }

  /**
   * `trySendMany`, waiting as `sendAsync` until all of msgs[0..n) can go at once: in call
   * order with every other send of this sender, its timeout counted from the call. The
   * messages are copied at the call when they cannot go at once (the caller may reuse them
   * as soon as it returns).
   */
  async sendManyAsync(msgs: readonly Uint8Array[], n = msgs.length, opts?: WaitOptions): Promise<boolean> {
    const deadline = deadlineOf(opts);
    if (this.queue.length === 0 || this.closed) { // nothing waits: at its call (closed: throws EINVAL)
      if (this.trySendMany(msgs, n) === 'sent') return true;
    }
    const signal = opts?.signal;
    signal?.throwIfAborted();
    const total = this.plan(msgs, n); // EINVAL for a message that is not one
    if (total > this.capacity) throw new MpdkError('EINVAL', `channel '${this.channel.name}': a batch of ${total} buffers; this sender sends at most ${this.capacity} at once`);
    if (performance.now() >= deadline) return false;
    if (total === 0) return true; // nothing to send (n = 0): it went, in its turn
    const w = new Waiting(Waiting.copy(msgs, n), total, deadline, signal, this.kick);
    this.enqueue(w);
    return w.promise;
  }

  /** Queue e behind the sends that wait; the drain goes at the end of the tick if it is not under way. */
  private enqueue(e: Staged | Waiting): void {
    this.queue.push(e);
    if (!this.tickSent && !this.draining) {
      this.tickSent = true;
      queueMicrotask(this.endOfTick);
    }
  }

  /**
   * Send the queue now from its head, each send all or nothing as trySendMany (a staged
   * batch framed from its records, one copy per buffer; a Waiting send's copies as
   * trySendMany's), skipping the settled and settling false those whose time is over:
   * 'sent' once none is left, else why the head could not go.
   */
  private sendQueued(): SendStatus {
    const q = this.queue;
    while (q.length > 0) {
      const e = q[0]!;
      if (e instanceof Staged) {
        const st = this.sendBatch(e);
        if (st !== 'sent') return st;
        q.shift();
        this.spare.push(e);
        e.settle(true);
        continue;
      }
      if (!e.settled) {
        if (performance.now() >= e.deadline) e.end(false); // its timeout ran out before its turn
        else {
          const st = this.sendNow(e.msgs, e.msgs.length);
          if (st !== 'sent') return st;
          e.end(true);
        }
      }
      q.shift();
    }
    return 'sent';
  }

  /** Send staged batch sg as one trySendMany: its buffers framed from its records, one copy per buffer. */
  private sendBatch(sg: Staged): SendStatus {
    const total = sg.buffers;
    const st = this.take(total);
    if (st !== undefined) return st;
    const arr = this.hands.array(0);
    const u32 = this.u32;
    for (let b = 0; b < total; b++) {
      const d = arr[b]! + this.delta;
      const len = sg.used[b]!;
      u32[d >>> 2] = len; // MSG.LEN
      u32[(d + MSG.SEGS) >>> 2] = (MSG_PACKED | (sg.mixed[b] === 0 ? MSG_UNIFORM : 0) | sg.recs[b]!) >>> 0; // r may be 1
      this.u8.set(sg.u8.subarray(b * sg.stride, b * sg.stride + len), d + MSG.PAYLOAD);
    }
    return this.push(total);
  }

  /**
   * Send the queue, waiting for room (the ring's doorbell) or buffers (a short timer) for its
   * head alone, within the head's deadline, until it is empty or the sender closes. A kick
   * (the head settled or went elsewhere, close()) ends a wait early.
   */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      let backoff = 1;
      while (!this.closed) {
        const st = this.sendQueued();
        if (st === 'sent') return;
        const head = this.queue[0]!;
        const left = head instanceof Waiting ? head.deadline - performance.now() : Infinity;
        const timeout = Math.min(Math.max(0, left), 2 ** 31 - 1);
        const wake = new AbortController();
        this.wake = wake;
        try {
          if (st === 'no-room') {
            await this.channel.ring.whenRoom(head.buffers, { signal: wake.signal, timeout });
            backoff = 1;
          } else {
            await sleepFor(Math.min(timeout, backoff), wake.signal); // buffers come back when receivers release theirs
            backoff = Math.min(backoff * 2, 8);
          }
        } catch (e) {
          if (!wake.signal.aborted) throw e; // a kick ended the wait: look again
        }
        if (this.wake === wake) this.wake = undefined;
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Free the ownership record (it holds nothing between calls). Idempotent. The sends that
   * wait go first if they can at once; otherwise their promises resolve false.
   */
  close(): void {
    if (this.closed) return;
    if (this.queue.length > 0 && this.sendQueued() !== 'sent') {
      for (const e of this.queue.splice(0)) {
        if (e instanceof Staged) e.settle(false);
        else e.end(false);
      }
    }
    this.closed = true;
    this.kick();
    this.hands.close();
    this.words.clear();
  }

  /** `close()`: `using tx = channel.sender()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
