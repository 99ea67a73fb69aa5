/**
 * The receiving end of a channel, for one thread (channel.ts): takes whole messages off the
 * ring (Ring.dequeueRecords: a message's buffers never split between receivers) into its
 * ownership record, and shows them as a MessageBatch of zero-copy views into the shared
 * buffers, valid until the batch is released (explicitly, or by the next receive).
 *
 *   step                                          the ownership record (Hands, one array)
 *   receive: dequeue whole records into it        a RECEIVING window, exact on the ring's
 *                                                 claim line (MC) or tail (SC), then HELD
 *   the batch's views are read                    HELD: the buffers are this thread's
 *   release: the buffers go back to the pool      a FREEING window, then empty
 *
 * A receiver killed while it holds a batch loses nothing: reclaimDead returns its buffers.
 * A packed buffer (channel.ts) is one handle in the ring and in the record, and shows as its
 * r messages, each a view of its record: they are released together with the batch.
 *
 * A message whose framing is wrong (only a damaged region makes one) is not shown; its
 * buffers are released with the batch and counted in `damaged`.
 */
import { MpdkError } from '../eal/errors.js';
import type { RxQueue } from '../ethdev/driver.js';
import { Mbufs } from '../mbuf/mbuf.js';
import { Hands, HANDS_MAX_CAP, type Source } from '../ownership/hands.js';
import { deadlineOf, waiter, type WaitOptions, type Waiter } from '../ring/doorbell-async.js';
import type { RecordSizer, Ring } from '../ring/ring.js';
import { MSG, MSG_PACKED, MSG_RECORDS, MSG_UNIFORM, RECORD_HEADER, recordBytes, type Channel } from './channel.js';

/** What a receiver is opened with (`channel.receiver()`). */
export interface ReceiverOptions {
  /** Most buffers one batch holds; at least the longest message's. Default max(256, its buffers). */
  batchBuffers?: number;
}

const decoder = new TextDecoder();

/**
 * The ring as a receive source of whole messages: dequeueRecords sized by the first
 * buffer's segment count, or a plain dequeueBurst when every message is one buffer
 * (maxSegments 1: every record is one handle). Handles a wait behind a dead receiver's
 * claim recovered (the ring's repair hands them to us: reclaimedPending) go back to the
 * pool here, once.
 */
class RecordQueue implements RxQueue, RecordSizer {
  private readonly single: boolean;
  private readonly u32: Uint32Array;

  constructor(private readonly ring: Ring, private readonly mbufs: Mbufs, private readonly maxSegs: number, private readonly delta: number) {
    this.single = maxSegs === 1;
    this.u32 = mbufs.u32;
  }

  /** SEGS of the first buffer (MSG); a packed buffer is one; a stale or damaged handle reads as anything: clamped. */
  recordLength(first: number): number {
    const k = this.u32[(first + this.delta + MSG.SEGS) >>> 2]!;
    if (k >= MSG_PACKED) return 1;
    return k > this.maxSegs ? this.maxSegs : k;
  }

  rxBurst(handles: Uint32Array, n: number): number {
    const k = this.single ? this.ring.dequeueBurst(handles, n) : this.ring.dequeueRecords(handles, n, this);
    if (this.ring.reclaimedPending !== 0) {
      const x = this.ring.repair().reclaimed;
      if (x.length > 0) this.mbufs.freeBulk(Uint32Array.from(x), x.length);
    }
    return k;
  }
}

/**
 * The messages one receive took: `length` messages, each `size(i)` bytes, readable as
 * zero-copy views (`bytes(i)`, `segments(i)`) or copied out (`copyTo`, `text`). Views are
 * of the shared buffers: valid until `release()` or the receiver's next receive, after
 * which the buffers carry other messages. One object per receiver, reused.
 */
export class MessageBatch {
  /** Messages in the batch. */
  length = 0;
  /** The region's bytes: `u8[dataOffset(i) + j]` is byte j of a one-buffer message i (no allocation). */
  readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly buffer: ArrayBuffer;
  /** From a buffer's handle to its framing (channel.ts MSG). */
  private readonly delta: number;
  /** Payload bytes per buffer (Channel.segmentBytes): a longer LEN is damage. */
  private readonly segBytes: number;
  /**
   * Per message: region offset of its first byte, its size, and for a message of several
   * buffers (size > segBytes: exactly ceil(size / segBytes) of them, parse checks) the index
   * of its first buffer in `handles` (unused for the others). Grown (doubled) when a batch of
   * packed buffers holds more messages; a message of one buffer costs two stores.
   */
  private off: Uint32Array;
  private len: Uint32Array;
  private first: Uint32Array;
  private handles: Uint32Array;
  private readonly onRelease: () => void;

  /** Made by ChannelReceiver. */
  constructor(region: { u8: Uint8Array; u32: Uint32Array; buffer: ArrayBuffer }, delta: number, segBytes: number, capacity: number, handles: Uint32Array, onRelease: () => void) {
    this.u8 = region.u8;
    this.u32 = region.u32;
    this.buffer = region.buffer;
    this.delta = delta;
    this.segBytes = segBytes;
    this.off = new Uint32Array(capacity);
    this.len = new Uint32Array(capacity);
    this.first = new Uint32Array(capacity);
    this.handles = handles;
    this.onRelease = onRelease;
  }

  /** Room for `count` messages (the per-message arrays doubled until they hold it, keeping what they hold). */
  private grow(count: number): void {
    let size = this.off.length;
    while (size < count) size *= 2;
    const more = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(size);
      b.set(a);
      return b;
    };
    this.off = more(this.off);
    this.len = more(this.len);
    this.first = more(this.first);
  }

  /**
   * Frame the messages of handles[0..n): returns how many buffers had a wrong framing
   * (skipped). Each buffer is a message (SEGS 1), the first of a k-buffer message (SEGS k),
   * or packed (SEGS MSG_PACKED | r: r records, each a message; with MSG_UNIFORM all of the
   * first record's length, placed without reading the others).
   */
  parse(handles: Uint32Array, n: number, maxSegs: number): number {
    this.handles = handles;
    const u32 = this.u32;
    const delta = this.delta;
    const seg = this.segBytes;
    let off = this.off;
    let len = this.len;
    let count = 0;
    let bad = 0;
    for (let i = 0; i < n; ) {
      const d = handles[i]! + delta;
      const k = u32[(d + MSG.SEGS) >>> 2]!;
      const size = u32[d >>> 2]!; // MSG.LEN
      if (k === 1 && size <= seg && count < off.length) { // one message in one buffer
        off[count] = d + MSG.PAYLOAD;
        len[count++] = size;
        i++;
        continue;
      }
      if (k >= MSG_PACKED) {
        const r = k & MSG_RECORDS;
        i++;
        const start = d + MSG.PAYLOAD;
        const end = start + size;
        if (size > seg || r > (size >>> 2)) { // a record takes 4 bytes at least
          bad++;
          continue;
        }
        if (count + r > off.length) {
          this.grow(count + r);
          off = this.off;
          len = this.len;
        }
        if ((k & MSG_UNIFORM) !== 0) { // r records of the first one's length: placed, their lines left unread
          const l = u32[start >>> 2]!;
          const rec = RECORD_HEADER + ((l + 3) & ~3);
          if (l > size || rec * r !== size) { // LEN is r such records, or the buffer is damaged (l first: a wrapped rec)
            bad++;
            continue;
          }
          for (let x = 0, o = start + RECORD_HEADER; x < r; x++, o += rec) {
            off[count + x] = o;
            len[count + x] = l;
          }
          count += r;
          continue;
        }
        let o = start;
        let x = 0;
        for (; x < r; x++) {
          const l = u32[o >>> 2]! >>> 0; // o + 4 > end (damage): the check below fails (0 past the region's end)
          if (l > end - o - RECORD_HEADER) break;
          off[count + x] = o + RECORD_HEADER;
          len[count + x] = l;
          o += RECORD_HEADER + ((l + 3) & ~3);
        }
        if (x === r) count += r;
        else bad++; // damaged: the buffer's records are dropped whole
        continue;
      }
      if (count === off.length) {
        this.grow(count + 1);
        off = this.off;
        len = this.len;
      }
      if (k === 1) { // size > seg: damage (or the arrays were full: grown above)
        if (size > seg) bad++;
        else {
          off[count] = d + MSG.PAYLOAD;
          len[count++] = size;
        }
        i++;
        continue;
      }
      if (k < 2 || k > maxSegs || i + k > n || size <= seg || Math.ceil(size / seg) !== k) {
        bad++;
        i++;
        continue;
      }
      off[count] = d + MSG.PAYLOAD;
      len[count] = size;
      this.first[count++] = i;
      i += k;
    }
    this.length = count;
    return bad;
  }

  private check(i: number): void {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`message ${i} of a batch of ${this.length}`);
  }

  /** Region offset of the framing of buffer `b` of the batch. */
  private at(b: number): number {
    return this.handles[b]! + this.delta;
  }

  /** Bytes of message i. */
  size(i: number): number {
    this.check(i);
    return this.len[i]!;
  }

  /** Buffers message i takes (1 unless it is longer than one buffer's payload). */
  segmentCount(i: number): number {
    this.check(i);
    return this.segsOf(i);
  }

  /** Buffers of message i: one, or as many as its size needs (parse checked its framing says so). */
  private segsOf(i: number): number {
    const len = this.len[i]!;
    return len > this.segBytes ? Math.ceil(len / this.segBytes) : 1;
  }

  /**
   * Each message's region offset of its first byte, for hot loops: `offsets[i]` for i <
   * `length` is `dataOffset(i)` without the call and its range check (entries from `length`
   * on are stale). Valid until the batch is released or the next receive, which may
   * return another array.
   */
  get offsets(): Uint32Array {
    return this.off;
  }

  /** Each message's size, for hot loops: `sizes[i]` for i < `length` is `size(i)` (as `offsets`). */
  get sizes(): Uint32Array {
    return this.len;
  }

  /** Region offset of message i's first byte: with `u8`, access without allocation (a one-buffer message, packed or not, is contiguous). */
  dataOffset(i: number): number {
    this.check(i);
    return this.off[i]!;
  }

  /** Region offset of the bytes of buffer s of message i. */
  private segOffset(i: number, s: number): number {
    return s === 0 ? this.off[i]! : this.at(this.first[i]! + s) + MSG.PAYLOAD;
  }

  /** Bytes of buffer s of message i. */
  private segLength(i: number, s: number): number {
    if (this.len[i]! <= this.segBytes) return this.len[i]!;
    const d = this.at(this.first[i]! + s);
    // The first buffer's LEN is the whole message's: it holds as much as the next ones do.
    return s === 0 ? this.u32[(d + MSG.LEN) >>> 2]! - this.restLength(i) : this.u32[(d + MSG.LEN) >>> 2]!;
  }

  /** Bytes in buffers 1 .. k-1 of message i. */
  private restLength(i: number): number {
    let t = 0;
    for (let s = 1, k = this.segsOf(i); s < k; s++) t += this.u32[(this.at(this.first[i]! + s) + MSG.LEN) >>> 2]!;
    return t;
  }

  /**
   * Message i's bytes: a zero-copy view of the shared buffer when it is one buffer (every
   * message up to the channel's segmentBytes); a copy joining its buffers otherwise.
   */
  bytes(i: number): Uint8Array {
    this.check(i);
    const len = this.len[i]!;
    if (len <= this.segBytes) return new Uint8Array(this.buffer, this.off[i]!, len);
    const out = new Uint8Array(len);
    this.copyTo(i, out);
    return out;
  }

  /** Zero-copy views of message i's buffers, in order (one view for a one-buffer message). */
  segments(i: number): Uint8Array[] {
    this.check(i);
    const out: Uint8Array[] = [];
    for (let s = 0, k = this.segsOf(i); s < k; s++) out.push(new Uint8Array(this.buffer, this.segOffset(i, s), this.segLength(i, s)));
    return out;
  }

  /** Copy message i into dst from `at` on; returns its size. RangeError when dst is too short. */
  copyTo(i: number, dst: Uint8Array, at = 0): number {
    this.check(i);
    const total = this.len[i]!;
    if (at + total > dst.length) throw new RangeError(`message ${i} is ${total} bytes: it does not fit at ${at} of ${dst.length}`);
    let o = at;
    for (let s = 0, k = this.segsOf(i); s < k; s++) {
      const off = this.segOffset(i, s);
      const len = this.segLength(i, s);
      dst.set(this.u8.subarray(off, off + len), o);
      o += len;
    }
    return total;
  }

  /** Message i decoded as UTF-8. */
  text(i: number): string {
    this.check(i);
    return decoder.decode(this.bytes(i));
  }

  /** Each message's bytes (as `bytes(i)`), in order. */
  *[Symbol.iterator](): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.length; i++) yield this.bytes(i);
  }

  /** Give the buffers back to the pool: every view of this batch is invalid from here on. */
  release(): void {
    this.onRelease();
  }
}

/**
 * The receiving end of a `Channel` for one thread (`channel.receiver()`): takes whole messages
 * and shows them as a `MessageBatch` of zero-copy views, valid until the batch is released (or
 * the next receive). `for await (const batch of receiver)` waits without blocking the event loop.
 *
 * @example
 * ```ts
 * using rx = Channel.lookup(eal, 'ping').receiver();
 * for await (const batch of rx.messages({ signal })) {
 *   for (let i = 0; i < batch.length; i++) console.log(batch.text(i));
 * }
 * ```
 */
export class ChannelReceiver implements AsyncIterable<MessageBatch> {
  /** The channel it receives from. */
  readonly channel: Channel;
  /** Buffers of messages whose framing was wrong (damaged memory), dropped. */
  damaged = 0;
  /** Most buffers one batch holds. */
  readonly capacity: number;
  private readonly hands: Hands;
  private readonly src: Source;
  private readonly batch: MessageBatch;
  private closed = false;
  /** Aborts pending receives at close(). */
  private closer: AbortController | undefined;

  /** Use `channel.receiver()`. */
  constructor(channel: Channel, opts: ReceiverOptions = {}) {
    this.channel = channel;
    const cap = opts.batchBuffers ?? Math.min(HANDS_MAX_CAP, Math.max(256, channel.maxSegments));
    if (!Number.isInteger(cap) || cap < channel.maxSegments || cap > HANDS_MAX_CAP) {
      throw new MpdkError('EINVAL', `channel '${channel.name}': batchBuffers ${cap} must be from ${channel.maxSegments} (the longest message's buffers) to ${HANDS_MAX_CAP}`);
    }
    this.capacity = cap;
    const mbufs = new Mbufs(channel.eal);
    this.hands = Hands.open(channel.eal, `ch_rx:${channel.name}`, 1, cap);
    this.src = this.hands.sourceOf(new RecordQueue(channel.ring, mbufs, channel.maxSegments, channel.dataDelta), channel.ring);
    this.batch = new MessageBatch(channel.eal.region, channel.dataDelta, channel.segmentBytes, cap, this.hands.array(0), () => this.release());
  }

  /**
   * Take what messages are there now (as many whole messages as `capacity` buffers hold),
   * releasing the previous batch first. The batch's `length` is 0 when there were none.
   */
  tryReceive(): MessageBatch {
    if (this.closed) throw new MpdkError('EINVAL', `channel '${this.channel.name}': this receiver was closed`);
    this.release();
    const n = this.hands.rx(0, this.src, this.capacity);
    this.damaged += this.batch.parse(this.hands.array(0), n, this.channel.maxSegments);
    return this.batch;
  }

  /**
   * Wait for messages without blocking the event loop (the ring's doorbell: no CPU while
   * none come), then take them as tryReceive. Resolves the batch; its `length` is 0 when
   * `opts.timeout` ms passed first. Rejects with the signal's reason on abort, an
   * AbortError when the receiver is closed.
   */
  async receive(opts?: WaitOptions): Promise<MessageBatch> {
    const deadline = deadlineOf(opts);
    for (;;) {
      const b = this.tryReceive();
      if (b.length > 0) return b;
      const left = deadline - performance.now();
      if (left <= 0) return b;
      this.closer ??= new AbortController();
      const signal = opts?.signal ? AbortSignal.any([opts.signal, this.closer.signal]) : this.closer.signal;
      await this.channel.ring.whenNotEmpty({ signal, timeout: Math.min(left, 2 ** 31 - 1) });
    }
  }

  /**
   * The batches as they come, for `for await (const batch of receiver.messages())`: each
   * step releases the previous batch. Ends after `opts.timeout` ms without a message;
   * throws the abort reason when `opts.signal` aborts or the receiver is closed;
   * `await using` ends a pending wait at the end of the scope.
   */
  messages(opts?: WaitOptions): Waiter<MessageBatch> {
    return waiter(opts, async function* (this: ChannelReceiver, o: WaitOptions): AsyncGenerator<MessageBatch, void, undefined> {
      try {
        for (;;) {
          const b = await this.receive(o);
          if (b.length === 0) return;
          yield b;
        }
      } finally {
        if (!this.closed) this.release();
      }
    }.bind(this));
  }

  /** `messages()`: `for await (const batch of receiver)`. */
  [Symbol.asyncIterator](): Waiter<MessageBatch> {
    return this.messages();
  }

  /** Give the current batch's buffers back to the pool (its views become invalid). Idempotent. */
  release(): void {
    if (this.hands.count(0) > 0) this.hands.free(0);
    this.batch.length = 0;
  }

  /** Release the batch, end pending receives (AbortError) and free the ownership record. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.release();
    this.closed = true;
    const c = this.closer;
    this.closer = undefined;
    c?.abort(new DOMException(`channel '${this.channel.name}': the receiver was closed`, 'AbortError'));
    this.hands.close();
  }

  /** `close()`: `using rx = channel.receiver()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
