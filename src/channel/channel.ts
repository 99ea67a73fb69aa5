/**
 * Channel: a named queue of byte messages between any processes of an instance (simple_mp's
 * pattern made reusable): a ring of packet-buffer handles and the pool the buffers come
 * from. A message of up to one buffer's data room is one buffer; a longer one (up to
 * `maxMessage`) is several, enqueued together and dequeued together as one RECORD
 * (Ring.dequeueRecords), so any number of senders and receivers never see half a message.
 *
 *   who calls what
 *   any process        Channel.create (one process, once), Channel.lookup, free, describe
 *   a sending thread   channel.sender() -> ChannelSender: trySend / send / sendMany,
 *                      sendAsync (awaits room and buffers) (sender.ts)
 *   a receiving thread channel.receiver() -> ChannelReceiver: tryReceive, receive (await),
 *                      for await (const batch of receiver): zero-copy views, valid until
 *                      the batch is released (receiver.ts)
 *
 * Shared memory: memzone "CH_<name>" (CH below, written once by the creator, MAGIC last),
 * the ring "RG_<name>" (made by Ring.create) and a pool: the channel's own "<name>" (memzone
 * MP_<name>) or one given to create, shared by several channels (simple_mp's MSG_POOL).
 * A message in the ring is k buffers; each buffer's data (from the mbuf's data offset, a
 * constant of the pool: `dataDelta`) is the channel's, framed by MSG:
 *
 *   buffer        +0 LEN u32                 +4 SEGS u32     +8 PAYLOAD     written by the sender,
 *   first         the message's bytes        k ≥ 1           its first      before the bulk enqueue
 *   2nd .. k-th   the bytes in this buffer   0               the rest       that publishes all k (R1)
 *   packed        payload bytes used         PACKED | r      r records
 *                                            (| UNIFORM)
 *
 * A PACKED buffer carries r ≥ 1 whole small messages (a run of a trySendMany batch that fits
 * one buffer, or sendAsync calls staged together: Aeron's and Agrona's length-prefixed records;
 * one record when such a run ends alone in its buffer), each a RECORD at a 4-aligned
 * offset of the payload: +0 u32 its length, then its bytes, padded to 4. It is one handle in
 * the ring like any one-buffer message, so the ring, the ownership records and reclaimDead
 * see nothing new: a packed buffer is lost or delivered whole, as any other. Messages that
 * do not fit with a neighbour go as before. A sender that knows its r records are all of
 * one length (the first record's) says so with UNIFORM: a receiver then places them from
 * the first record's length alone (record b at b × its size), without reading the
 * other records' lines before the application does (they arrive from the sender's core:
 * a chain of dependent loads through them cost a receiver about as much as the sender's
 * copy). It checks that r records of that length make the buffer's LEN; the records' own
 * length fields still say the same (any receiver may read them).
 *
 * The mbuf header itself is not written on the way (a channel's own pool is taken without
 * the mbuf reset: Hands.allocAsFreed), so a message costs the receiver the cache lines of
 * its bytes alone. Every buffer is at every instant in the pool, in the ring, or in the
 * ownership record (ownership/hands.ts) of the thread that holds it, sender or receiver;
 * a process killed at any instruction is undone by reclaimDead (records, ring claims) and
 * `mpdk audit` accounts for every buffer.
 */
import type { Eal } from '../eal/eal.js';
import { MpdkError } from '../eal/errors.js';
import { awaitCreated, checkName } from '../eal/memzone.js';
import { registerDescriber, type ObjectDescription } from '../eal/describe.js';
import { Mempool, MEMPOOL_NAMESIZE } from '../mempool/mempool.js';
import { MBUF_DEFAULT_BUF_SIZE, PktmbufPool } from '../mbuf/mbuf.js';
import { Ring } from '../ring/ring.js';
import { HANDS_MAX_CAP } from '../ownership/hands.js';
import { ChannelReceiver, type ReceiverOptions } from './receiver.js';
import { ChannelSender, type SenderOptions } from './sender.js';

/** The channel header (memzone CH_<name>): byte offsets. Written once by the creator; MAGIC last (release). */
export const CH = {
  MAGIC: 0, // u32 CH_MAGIC; 0 once freed
  VERSION: 4, // u32
  RING: 8, // u32 region offset of the ring
  POOL: 12, // u32 region offset of the pool's header
  MAX_MESSAGE: 16, // u32 longest message, bytes
  FLAGS: 20, // u32 CHF_*
  CREATOR: 24, // i32 pid
  BYTES: 64,
} as const;
/** A message's framing at the start of each buffer's data: byte offsets (file header). */
export const MSG = { LEN: 0, SEGS: 4, PAYLOAD: 8 } as const;
/** SEGS of a packed buffer: this bit, or'ed with its record count (file header). */
export const MSG_PACKED = 0x80000000;
/** SEGS of a packed buffer whose records all have the first record's length: or'ed with MSG_PACKED (file header). */
export const MSG_UNIFORM = 0x40000000;
/** SEGS of a packed buffer, masked with this: its record count. */
export const MSG_RECORDS = 0x3fffffff;
/** Bytes of a packed record's length field (u32), before the message's bytes. */
export const RECORD_HEADER = 4;
/** Bytes a record of a `len`-byte message takes in a packed buffer (its length field, its bytes padded to 4). */
export function recordBytes(len: number): number {
  return RECORD_HEADER + ((len + 3) & ~3);
}
/** Bytes of each buffer's data room that frame the message: a pool for messages of up to N bytes in one buffer has a data room of N + this (plus any headroom). */
export const CHANNEL_FRAME_BYTES = MSG.PAYLOAD;
export const CH_MAGIC = 0x4c4e4843; // 'CHNL'
/** Layout version: 2 since packed buffers (MSG_PACKED), 3 since MSG_UNIFORM (an older receiver would drop such buffers as damaged). */
export const CH_VERSION = 3;
export const CH_MZ_PREFIX = 'CH_';
/** The pool was made by the channel (free() frees it too). */
const CHF_OWN_POOL = 1;
/** Longest channel name: its ring ("RG_" + name) and its own pool (a mempool name) are named as it. */
export const CHANNEL_NAMESIZE = MEMPOOL_NAMESIZE;

/** What a channel is made with (`Channel.create`). Every field is optional. */
export interface ChannelOptions {
  /** Slots of the channel's ring: buffers in flight, a power of two from 2 (holds count − 1). Default 1024. */
  count?: number;
  /**
   * The pool the buffers come from, when several channels share one (default: a pool of
   * the channel's own, named as the channel). Its buffers' data room (less headroom) is
   * the largest message that takes one buffer.
   */
  pool?: PktmbufPool;
  /**
   * The channel's own pool: buffers (default 2 × count − 1). A pool much larger than what is
   * in flight costs speed: its buffers come back first in, first out, colder in the caches.
   */
  buffers?: number;
  /** The channel's own pool: bytes per buffer, 9 to 65535, 8 of which frame the message (default 2048). */
  bufferSize?: number;
  /** The channel's own pool: buffers cached per lcore (default min(256, buffers / 1.5)). */
  cacheSize?: number;
  /**
   * Longest message in bytes: a longer one is refused (EINVAL). Its buffers must fit the
   * ring at once. Default 64 KiB, or as many buffers as the ring holds if that is less.
   */
  maxMessage?: number;
  /** Only one thread ever sends (the ring is single-producer). Default false. */
  singleSender?: boolean;
  /** Only one thread ever receives (the ring is single-consumer). Default false. */
  singleReceiver?: boolean;
}

/** Payload bytes each buffer of `pool` carries (its data room less its headroom and the framing). */
export function segmentBytes(pool: PktmbufPool): number {
  return pool.dataRoomSize - pool.headroom(pool.mp.eltStart) - MSG.PAYLOAD;
}

/**
 * From a buffer's handle to its data, in `pool` (buffer offset + headroom: both fixed at the
 * pool's creation, the same for every buffer, and a fresh or freed channel buffer has its
 * data there).
 */
export function dataDelta(pool: PktmbufPool): number {
  const h = pool.mp.eltStart;
  return pool.bufOffset(h) - h + pool.headroom(h);
}

/**
 * A named queue of byte messages between any processes of an instance: any number of senders
 * and receivers, each message delivered whole to exactly one receiver, zero-copy for it (views
 * into the shared buffers). A killed sender or receiver loses no buffer (`reclaimDead`).
 * One process creates it; any looks it up and opens a `sender()` or `receiver()` per thread.
 *
 * @example
 * ```ts
 * const ch = Channel.create(eal, 'ping');              // elsewhere: Channel.lookup(eal, 'ping')
 * using tx = ch.sender();
 * await tx.sendAsync(new TextEncoder().encode('hello'));
 * ```
 */
export class Channel {
  /** The Eal this channel object was opened with. */
  readonly eal: Eal;
  /** The channel's name. */
  readonly name: string;
  /** The ring the messages' buffers travel through. */
  readonly ring: Ring;
  /** The pool the buffers come from. */
  readonly pool: PktmbufPool;
  /** Longest message, in bytes. */
  readonly maxMessage: number;
  /** Payload bytes per buffer: a message longer than this takes several. */
  readonly segmentBytes: number;
  /** From a buffer's handle to its data (the framing, then the payload). */
  readonly dataDelta: number;
  /** Buffers of the longest message. */
  readonly maxSegments: number;
  /** Region offset of the channel header. */
  readonly header: number;
  /** The pool is the channel's own (made by create): only channels touch its buffers. */
  readonly ownPool: boolean;

  private constructor(eal: Eal, name: string, header: number, ring: Ring, pool: PktmbufPool, maxMessage: number) {
    this.eal = eal;
    this.name = name;
    this.header = header;
    this.ring = ring;
    this.pool = pool;
    this.maxMessage = maxMessage;
    this.segmentBytes = segmentBytes(pool);
    this.dataDelta = dataDelta(pool);
    this.maxSegments = Math.max(1, Math.ceil(maxMessage / this.segmentBytes));
    this.ownPool = (eal.region.u32At(header + CH.FLAGS) & CHF_OWN_POOL) !== 0;
  }

  /**
   * Create channel `name` (e.g. `Channel.create(eal, 'jobs', { maxMessage: 4096 })`):
   * its ring, its pool unless one is given, and its header, which `lookup` finds from any
   * process. EINVAL for bad options (naming them), EEXIST for a taken name, ENOSPC when the
   * region is full; a refusal leaves nothing behind.
   */
  static create(eal: Eal, name: string, opts: ChannelOptions = {}): Channel {
    checkName(name, 'channel name', CHANNEL_NAMESIZE);
    if (opts === null || typeof opts !== 'object') throw new MpdkError('EINVAL', `channel '${name}': options must be an object, not ${String(opts)}`);
    if (eal.memzones.tryLookup(CH_MZ_PREFIX + name)) throw new MpdkError('EEXIST', `a channel named '${name}' already exists in instance '${eal.filePrefix}': look it up (Channel.lookup) or choose another name`);
    const count = opts.count ?? 1024;
    const made: (() => void)[] = [];
    try {
      let pool = opts.pool;
      let flags = 0;
      if (pool === undefined) {
        const buffers = opts.buffers ?? 2 * count - 1;
        const bufferSize = opts.bufferSize ?? MBUF_DEFAULT_BUF_SIZE - 128;
        if (!Number.isInteger(bufferSize) || bufferSize <= MSG.PAYLOAD || bufferSize > 0xffff) throw new MpdkError('EINVAL', `channel '${name}': bufferSize ${bufferSize} must be ${MSG.PAYLOAD + 1} to 65535 bytes (${MSG.PAYLOAD} frame the message)`);
        const cacheSize = opts.cacheSize ?? Math.min(256, Math.floor(buffers / 1.5));
        pool = PktmbufPool.create(eal, name, { count: buffers, cacheSize, dataRoomSize: bufferSize, headroom: 0 });
        const own = pool;
        made.push(() => own.freePool());
        flags |= CHF_OWN_POOL;
      } else if (!(pool instanceof PktmbufPool)) {
        throw new MpdkError('EINVAL', `channel '${name}': pool must be a PktmbufPool`);
      }
      const seg = segmentBytes(pool);
      if (seg < 1) throw new MpdkError('EINVAL', `channel '${name}': the buffers of pool '${pool.name}' have no room for a message (data room ${pool.dataRoomSize} bytes, less headroom, less the ${MSG.PAYLOAD}-byte framing)`);
      const ring = Ring.create(eal, name, { count, singleProducer: opts.singleSender, singleConsumer: opts.singleReceiver });
      made.push(() => ring.free());
      const maxMessage = opts.maxMessage ?? Math.min(65536, seg * Math.min(ring.capacity, HANDS_MAX_CAP));
      const segs = Math.ceil(maxMessage / seg);
      if (!Number.isInteger(maxMessage) || maxMessage < 1 || maxMessage > 0xffffffff) throw new MpdkError('EINVAL', `channel '${name}': maxMessage ${maxMessage} must be a whole number of bytes ≥ 1`);
      if (segs > ring.capacity || segs > HANDS_MAX_CAP) {
        throw new MpdkError('EINVAL', `channel '${name}': a message of maxMessage ${maxMessage} bytes takes ${segs} buffers of ${seg} bytes, more than the ring holds at once (${Math.min(ring.capacity, HANDS_MAX_CAP)}); use larger buffers, a larger count or a smaller maxMessage`);
      }
      const mz = eal.memzones.reserve(CH_MZ_PREFIX + name, CH.BYTES, 64);
      const r = eal.region;
      const w = (f: number, v: number): void => {
        r.u32[(mz.offset + f) >>> 2] = v;
      };
      w(CH.VERSION, CH_VERSION);
      w(CH.RING, ring.offset);
      w(CH.POOL, pool.mp.header);
      w(CH.MAX_MESSAGE, maxMessage);
      w(CH.FLAGS, flags);
      r.i32[(mz.offset + CH.CREATOR) >>> 2] = process.pid;
      r.storeRelease(mz.offset + CH.MAGIC, CH_MAGIC); // lookup finds it from here on
      return new Channel(eal, name, mz.offset, ring, pool, maxMessage);
    } catch (e) {
      for (const undo of made.reverse()) undo();
      throw e;
    }
  }

  /** Find channel `name`: ENOENT when there is none (naming it), EPROTO when its header is damaged. */
  static lookup(eal: Eal, name: string): Channel {
    checkName(name, 'channel name', CHANNEL_NAMESIZE);
    const mz = eal.memzones.tryLookup(CH_MZ_PREFIX + name);
    if (!mz) throw new MpdkError('ENOENT', `no channel named '${name}' in instance '${eal.filePrefix}': create it first (Channel.create) or check the name and --file-prefix`);
    const r = eal.region;
    awaitCreated(mz, () => r.loadAcquire(mz.offset + CH.MAGIC) === CH_MAGIC, `channel '${name}'`);
    const version = r.u32At(mz.offset + CH.VERSION);
    if (version !== CH_VERSION) throw new MpdkError('EPROTO', `channel '${name}' has layout version ${version}, this code reads ${CH_VERSION}: run the same mpdk in every process`);
    const ring = Ring.attach(eal, r.u32At(mz.offset + CH.RING));
    const pool = PktmbufPool.lookup(eal, Mempool.attachAt(eal, r.u32At(mz.offset + CH.POOL)).name);
    const maxMessage = r.u32At(mz.offset + CH.MAX_MESSAGE);
    if (maxMessage < 1 || Math.ceil(maxMessage / segmentBytes(pool)) > Math.min(ring.capacity, HANDS_MAX_CAP)) {
      throw new MpdkError('EPROTO', `channel '${name}' is damaged (maxMessage ${maxMessage} with ${segmentBytes(pool)}-byte buffers and a ring of ${ring.capacity}): recreate it`);
    }
    return new Channel(eal, name, mz.offset, ring, pool, maxMessage);
  }

  /** This thread's sending end (an ownership record of its own; close it when done). */
  sender(opts?: SenderOptions): ChannelSender {
    return new ChannelSender(this, opts);
  }

  /** This thread's receiving end (an ownership record of its own; close it when done). */
  receiver(opts?: ReceiverOptions): ChannelReceiver {
    return new ChannelReceiver(this, opts);
  }

  /** Messages' buffers waiting in the ring now (a momentary value). */
  waiting(): number {
    return this.ring.count();
  }

  /**
   * Remove the channel: its header, its ring, and its pool if it made one. Every process
   * must be done with it (held messages' buffers of its own pool become invalid).
   */
  free(): void {
    this.eal.region.storeRelease(this.header + CH.MAGIC, 0);
    this.eal.memzones.free(CH_MZ_PREFIX + this.name);
    this.ring.free();
    if (this.ownPool) this.pool.freePool();
  }

  /** The channel as tools show it (`mpdk info`): its ring and pool, buffers waiting in the ring. */
  describe(): ObjectDescription {
    return {
      kind: 'channel', name: this.name, ring: this.ring.name, pool: this.pool.name, maxMessage: this.maxMessage,
      segmentBytes: this.segmentBytes, waiting: this.ring.count(),
    };
  }
}

registerDescriber('channel', (eal) => {
  const out: ObjectDescription[] = [];
  for (const mz of eal.memzones.list()) {
    if (!mz.name.startsWith(CH_MZ_PREFIX) || eal.region.loadAcquire(mz.offset + CH.MAGIC) !== CH_MAGIC) continue;
    try {
      out.push(Channel.lookup(eal, mz.name.slice(CH_MZ_PREFIX.length)).describe());
    } catch (e) {
      out.push({ kind: 'channel', name: mz.name.slice(CH_MZ_PREFIX.length), error: (e as Error).message });
    }
  }
  return out;
});
