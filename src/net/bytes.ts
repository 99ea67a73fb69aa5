/**
 * A byte buffer as copyBytes works through it: bytes, 32-bit words (aligned copies) and a
 * DataView (the others), all over the whole underlying buffer. Make one per buffer, once
 * (it makes three views), never per copy. Offsets given with it are into `view`.
 */
export class Bytes {
  /** The Uint8Array it was made from. */
  readonly view: Uint8Array;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly dv: DataView;
  /** Where `view` starts in the underlying buffer. */
  readonly base: number;

  constructor(view: Uint8Array) {
    const buf = view.buffer;
    this.view = view;
    this.base = view.byteOffset;
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf, 0, buf.byteLength >>> 2);
    this.dv = new DataView(buf);
  }
}

/**
 * The byte copy of the packet paths (an mbuf and a file buffer, a kernel ring, a capture
 * ring): src[so, so + len) to dst[d ..). Up to 256 bytes (a small frame) in a loop — 32-bit
 * words through Uint32Arrays when both ends are 4-aligned (an mbuf's data, a capture
 * record), through the DataViews otherwise — cheaper than a call into TypedArray.set;
 * longer, one copyWithin (same buffer) or set of a subarray (its allocation is then worth it).
 */
export function copyBytes(src: Bytes, so: number, dst: Bytes, d: number, len: number): void {
  const s = src.base + so;
  const t = dst.base + d;
  if (len > 256) {
    copyLong(src.u8, s, dst.u8, t, len);
    return;
  }
  let i = 0;
  if (((s | t) & 3) === 0) {
    const w = len >>> 2;
    const su = src.u32;
    const du = dst.u32;
    const si = s >>> 2;
    const di = t >>> 2;
    for (let j = 0; j < w; j++) du[di + j] = su[si + j]!;
    i = w << 2;
  } else {
    const words = len & ~3;
    const sv = src.dv;
    const dv = dst.dv;
    for (; i < words; i += 4) dv.setUint32(t + i, sv.getUint32(s + i, true), true);
  }
  const s8 = src.u8;
  const d8 = dst.u8;
  for (; i < len; i++) d8[t + i] = s8[s + i]!;
}

function copyLong(s8: Uint8Array, s: number, d8: Uint8Array, t: number, len: number): void {
  if (s8.buffer === d8.buffer) d8.copyWithin(t, s, s + len);
  else d8.set(s8.subarray(s, s + len), t);
}

/**
 * The f64 whose 8 bytes are the little-endian u32 words (lo, hi): two adjacent words of a
 * record written with one Float64Array store. The caller keeps the pattern off NaN
 * (`f64WordsAreNaN`), whose bits V8 may canonicalise; any other double keeps its bits.
 */
export function wordsAsF64(lo: number, hi: number): number {
  const w = new Uint32Array([lo, hi]);
  return new Float64Array(w.buffer)[0]!;
}

/** True when words (lo, hi) read as an f64 are a NaN (exponent all ones, mantissa not 0). */
export function f64WordsAreNaN(lo: number, hi: number): boolean {
  return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) !== 0 || lo !== 0);
}
