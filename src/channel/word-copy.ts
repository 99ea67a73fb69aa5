/**
 * WordCopy: a sender's copy of small messages into the region, four bytes a store, for the
 * message objects it has seen before at the same place of a batch (a sender that sends the
 * same Uint8Arrays again, rewritten between calls: the allocation-free way to send).
 *
 *   per message i of a call (slot i & SLOT_MASK)        copy
 *   the slot's message, with a view of it (VIEW)        its words through the view: 16 loads
 *                                                       and stores for 64 bytes, unrolled by 16
 *   anything else                                       TypedArray.set; the slot remembers it
 *                                                       (SEEN), or, seen there before, makes
 *                                                       its view once (VIEW) or finds it cannot
 *                                                       have one (NONE)
 *
 * Why: copying 32 messages of 64 bytes into a 1 MiB destination, set() costs 17.7 ns a
 * message in Node 20 and 12.8 in Node 24 (a builtin call, its checks, a C memmove), the 16
 * unrolled word stores 8-10 ns in both; a word loop without the unrolling 27 / 17 ns, a view
 * made per message (an allocation) 80 / 45 ns, a byte loop 100 / 64 ns (medians of 7 runs,
 * 2-core EPYC, under load). At 96 bytes and more set() wins in Node 24 (at 128 in Node 20):
 * WORD_MAX. A view needs the message's Int32Array, which cannot be had without allocating:
 * hence one per slot, made the second time the same object comes to it, kept until another
 * comes or the sender closes. In the sender the copy's stores also wait for their lines,
 * which a receiver read last: there a 64-byte message costs 25 -> 23.5 ns on one core.
 *
 * A view is made only of a message whose bytes start 4-aligned in a buffer that cannot
 * resize (a fixed-length view keeps covering them; a detached buffer makes `m.length` 0,
 * and nothing is copied). A message longer than WORD_MAX goes through set() and no slot
 * remembers it. The slots keep their messages (so their buffers) alive until other
 * messages take their places or the sender closes. The destination is 4-aligned: the
 * sender's records are (channel.ts).
 *
 * Nothing here is shared: the slots are this sender's (one thread), and a process killed
 * half-way through a copy leaves a half-written buffer in its ownership record, which the
 * receivers never see (sender.ts).
 */

/** Slots: messages i and i + SLOTS of a call share one. A batch of up to SLOTS messages hits on every one. */
const SLOTS = 256;
const SLOT_MASK = SLOTS - 1;
/** Longest message copied by words (bytes): above it set() costs less (file header). */
export const WORD_MAX = 64;
/** Slot states. */
const SEEN = 0; // msgs[k] came once (or never: undefined); no view
const VIEW = 1; // views[k] is msgs[k]'s bytes as words, from index 0
const NONE = 2; // msgs[k] cannot have a view (unaligned, resizable, too large a buffer)
const NO_VIEW = new Int32Array(0);

export class WordCopy {
  private readonly msgs: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SLOTS).fill(undefined);
  private readonly views: Int32Array[] = new Array<Int32Array>(SLOTS).fill(NO_VIEW);
  private readonly state = new Uint8Array(SLOTS);

  constructor(private readonly u8: Uint8Array, private readonly i32: Int32Array) {}

  /**
   * Whether m is the message slot i remembers with a view (then it was a Uint8Array when the
   * view was made: an object's class does not change; the caller may skip its own check).
   */
  has(m: unknown, i: number): boolean {
    const k = i & SLOT_MASK;
    return this.msgs[k] === m && this.state[k] === VIEW;
  }

  /** Copy m (`has(m, i)`, len = m.length ≤ WORD_MAX) to region byte `at` (4-aligned). */
  copyKnown(m: Uint8Array, i: number, len: number, at: number): void {
    const v = this.views[i & SLOT_MASK]!;
    const dst = this.i32;
    const w = len >>> 2;
    let d = at >>> 2;
    let s = 0;
    for (; s + 16 <= w; s += 16, d += 16) {
      dst[d] = v[s]!; dst[d + 1] = v[s + 1]!; dst[d + 2] = v[s + 2]!; dst[d + 3] = v[s + 3]!;
      dst[d + 4] = v[s + 4]!; dst[d + 5] = v[s + 5]!; dst[d + 6] = v[s + 6]!; dst[d + 7] = v[s + 7]!;
      dst[d + 8] = v[s + 8]!; dst[d + 9] = v[s + 9]!; dst[d + 10] = v[s + 10]!; dst[d + 11] = v[s + 11]!;
      dst[d + 12] = v[s + 12]!; dst[d + 13] = v[s + 13]!; dst[d + 14] = v[s + 14]!; dst[d + 15] = v[s + 15]!;
    }
    for (; s < w; s++, d++) dst[d] = v[s]!;
    for (let j = w << 2; j < len; j++) this.u8[at + j] = m[j]!;
  }

  /**
   * Copy m (any Uint8Array, len = m.length bytes) to region byte `at` with set(). Slot i
   * learns it when it is at most WORD_MAX bytes: its view is made the second time it comes,
   * if it can have one. A detached buffer's view (length 0) copies nothing, as through a
   * view (set() would throw).
   */
  copyOther(m: Uint8Array, i: number, len: number, at: number): void {
    if (len !== 0) this.u8.set(m, at);
    if (len > WORD_MAX) return;
    const k = i & SLOT_MASK;
    if (this.msgs[k] !== m) {
      this.msgs[k] = m;
      this.views[k] = NO_VIEW;
      this.state[k] = SEEN;
    } else if (this.state[k] === SEEN) {
      this.learn(m, k);
    }
  }

  private learn(m: Uint8Array, k: number): void {
    this.state[k] = NONE;
    if ((m.byteOffset & 3) !== 0) return;
    const b = m.buffer as ArrayBuffer & { resizable?: boolean; growable?: boolean };
    if (b.resizable === true || b.growable === true) return;
    this.views[k] = new Int32Array(b, m.byteOffset, m.length >>> 2);
    this.state[k] = VIEW;
  }

  /** Forget every message (the sender closed: nothing of the caller's is kept alive). */
  clear(): void {
    this.msgs.fill(undefined);
    this.views.fill(NO_VIEW);
    this.state.fill(SEEN);
  }
}
