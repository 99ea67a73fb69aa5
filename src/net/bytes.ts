/**
 * The byte copy of the packet paths (an mbuf and a file buffer, a kernel ring, a capture
 * ring, another mbuf): src[so, so + len) to dst[d ..), each buffer with a DataView over it.
 * Up to 256 bytes (a small frame), 32-bit words through the DataViews — any alignment,
 * cheaper than a call into TypedArray.set — then the last bytes; longer, one copyWithin
 * (same buffer) or set of a subarray (where its allocation is worth it).
 */
export function copyBytes(sdv: DataView, src: Uint8Array, so: number, ddv: DataView, dst: Uint8Array, d: number, len: number): void {
  if (len > 256) {
    if (src === dst) dst.copyWithin(d, so, so + len);
    else dst.set(src.subarray(so, so + len), d);
    return;
  }
  const words = len & ~3;
  let i = 0;
  for (; i < words; i += 4) ddv.setUint32(d + i, sdv.getUint32(so + i, true), true);
  for (; i < len; i++) dst[d + i] = src[so + i]!;
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
