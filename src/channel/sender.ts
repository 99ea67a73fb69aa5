/**
 * The sending end of a channel, for one thread (channel.ts): copies each message into
 * buffers of the channel's pool and enqueues them, a message's buffers (or a batch's) in
 * one bulk enqueue, so a receiver sees all of a message or none of it.
 *
 *   step (per call, whatever the batch)          the ownership record (Hands, one array)
 *   room check: ring.freeCount() ≥ buffers       —
 *   alloc the buffers (all or nothing; from the  a POOL_GET window, then HELD
 *   channel's own pool without the mbuf reset)
 *   copy the bytes after their framing (MSG)     HELD: the buffers are ours
 *   enqueueBulk (one CAS or store, one bell)     a SENDING window: exact on the ring's claim
 *                                                line / tail, then empty
 *   the ring refused (a race for its room)       the buffers go back to the pool
 *
 * Small messages of one call that fit a buffer together go in one PACKED buffer (channel.ts:
 * length-prefixed records), so a batch of 64-byte messages costs one buffer per ~30 of them:
 * one alloc, one enqueue, one handle for the receiver. A message alone, or one that does not
 * fit with its neighbour, takes its own buffer(s) as before.
 *
 * A sender killed at any instruction leaves its buffers in its record, in the ring, or
 * half-claimed on the ring: reclaimDead (in any live process) returns them, the ring's
 * repair fills a half-written claim with EMPTY (receivers drop those).
 */
import { MpdkError } from '../eal/errors.js';
import { Hands, HANDS_MAX_CAP, type Sink } from '../ownership/hands.js';
import { deadlineOf, sleepFor, type WaitOptions } from '../ring/doorbell-async.js';
import { MSG, MSG_PACKED, RECORD_HEADER, recordBytes, type Channel } from './channel.js';

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
   * Buffers msgs[0..n) take (checking each is bytes within maxMessage: EINVAL): a run of
   * small messages that fit one buffer together is one (packed), as `frame` lays them out.
   */
  private plan(msgs: readonly Uint8Array[], n: number): number {
    const seg = this.segBytes;
    const max = this.channel.maxMessage;
    const pack = this.pack;
    let total = 0;
    let room = 0; // record bytes left in the buffer the last small message opened (≤ 0: none)
    for (let i = 0; i < n; i++) {
      const m = msgs[i];
      if (!(m instanceof Uint8Array)) throw new MpdkError('EINVAL', `channel '${this.channel.name}': message ${i} is not a Uint8Array (strings go through trySend)`);
      const len = m.length;
      if (len > max) this.segmentsOf(len); // throws
      if (len > seg) {
        total += Math.ceil(len / seg);
        room = 0;
        continue;
      }
      const rec = recordBytes(len);
      if (pack && rec <= room) {
        room -= rec; // joins the open buffer
      } else {
        total++;
        room = pack ? seg - rec : 0;
      }
    }
    return total;
  }

  /**
   * Send msgs[0..n) now, all in one bulk enqueue, or none of them (the status says why).
   * One room check, one pool get, one enqueue per call, and small messages packed several
   * to a buffer (SenderOptions.pack): a batch of small messages costs little more than one.
   * EINVAL for a message over maxMessage or a batch over `capacity` buffers.
   */
  trySendMany(msgs: readonly Uint8Array[], n = msgs.length): SendStatus {
    if (this.closed) throw new MpdkError('EINVAL', `channel '${this.channel.name}': this sender was closed: open another with channel.sender()`);
    const total = this.plan(msgs, n);
    if (total > this.capacity) throw new MpdkError('EINVAL', `channel '${this.channel.name}': a batch of ${total} buffers; this sender sends at most ${this.capacity} at once`);
    if (this.channel.ring.freeCount() < total) return 'no-room';
    const hands = this.hands;
    const got = this.asFreed ? hands.allocAsFreed(0, this.channel.pool, total) : hands.alloc(0, this.channel.pool, total);
    if (got !== total) return 'no-buffers';
    try {
      const used = this.frame(hands.array(0), msgs, n);
      if (used !== total) throw new Error(`channel '${this.channel.name}': a batch laid out in ${used} buffers, planned in ${total} (a bug in mpdk)`);
    } catch (e) {
      hands.free(0); // nothing is sent, nothing kept
      throw e;
    }
    if (hands.tx(0, this.sink) === total) return 'sent';
    hands.free(0); // another sender took the room first
    return 'no-room';
  }

  /** Copy msgs[0..n) into the buffers arr[0..) after their framing (channel.ts MSG), packing as `plan` counted; returns the buffers used. */
  private frame(arr: Uint32Array, msgs: readonly Uint8Array[], n: number): number {
    const u8 = this.u8;
    const u32 = this.u32;
    const seg = this.segBytes;
    const delta = this.delta;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const msg = msgs[i]!;
      const len = msg.length;
      if (len <= seg) {
        const d = arr[j++]! + delta;
        if (this.pack && i + 1 < n && recordBytes(len) + recordBytes(msgs[i + 1]!.length) <= seg) {
          i = this.packRun(d, msgs, i, n) - 1;
          continue;
        }
        u32[(d + MSG.LEN) >>> 2] = len;
        u32[(d + MSG.SEGS) >>> 2] = 1;
        if (len > 0) u8.set(msg, d + MSG.PAYLOAD);
        continue;
      }
      const k = Math.ceil(len / seg);
      for (let s = 0, pos = 0; s < k; s++, pos += seg) {
        const d = arr[j++]! + delta;
        const part = Math.min(seg, len - pos);
        u32[(d + MSG.LEN) >>> 2] = s === 0 ? len : part;
        u32[(d + MSG.SEGS) >>> 2] = s === 0 ? k : 0;
        u8.set(msg.subarray(pos, pos + part), d + MSG.PAYLOAD);
      }
    }
    return j;
  }

  /**
   * Write the run of messages from msgs[i] that fit the buffer whose data is at region
   * offset d as its records (channel.ts: PACKED); returns the index after the last one.
   */
  private packRun(d: number, msgs: readonly Uint8Array[], i: number, n: number): number {
    const u8 = this.u8;
    const u32 = this.u32;
    const start = d + MSG.PAYLOAD;
    const end = start + this.segBytes;
    let o = start;
    let r = 0;
    for (; i < n; i++, r++) {
      const m = msgs[i]!;
      const len = m.length;
      const next = o + recordBytes(len);
      if (next > end) break;
      u32[o >>> 2] = len;
      if (len > 0) u8.set(m, o + RECORD_HEADER);
      o = next;
    }
    u32[(d + MSG.LEN) >>> 2] = o - start;
    u32[(d + MSG.SEGS) >>> 2] = (MSG_PACKED | r) >>> 0;
    return i;
  }

  /**
   * Send one message, waiting without blocking the event loop while the ring is full (its
   * doorbell) or the pool is empty (a short timer): resolves true once sent, false when
   * `opts.timeout` ms pass first (nothing sent); rejects with the signal's reason on abort.
   */
  sendAsync(msg: Uint8Array | string, opts?: WaitOptions): Promise<boolean> {
    return this.sendManyAsync([typeof msg === 'string' ? encoder.encode(msg) : msg], 1, opts);
  }

  /** `trySendMany`, waiting as `sendAsync` until all of msgs[0..n) can go at once. */
  async sendManyAsync(msgs: readonly Uint8Array[], n = msgs.length, opts?: WaitOptions): Promise<boolean> {
    const deadline = deadlineOf(opts);
    const signal = opts?.signal;
    let backoff = 1;
    for (;;) {
      const st = this.trySendMany(msgs, n);
      if (st === 'sent') return true;
      signal?.throwIfAborted();
      const left = deadline - performance.now();
      if (left <= 0) return false;
      if (st === 'no-room') {
        const total = this.plan(msgs, n);
        await this.channel.ring.whenRoom(total, { signal, timeout: Math.min(left, 2 ** 31 - 1) });
      } else {
        await sleepFor(Math.min(left, backoff), signal); // buffers come back when receivers release theirs
        backoff = Math.min(backoff * 2, 8);
      }
    }
  }

  /** Free the ownership record (it holds nothing between calls). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hands.close();
  }

  /** `close()`: `using tx = channel.sender()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
