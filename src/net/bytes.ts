/**
 * Copying packet bytes between two buffers (a file or a kernel ring and an mbuf in the
 * shared region) without allocating: 32-bit words through DataViews for small frames,
 * TypedArray.set for large ones (where a subarray's allocation is worth it).
 */
export function copyBytes(sdv: DataView, src: Uint8Array, so: number, ddv: DataView, dst: Uint8Array, d: number, len: number): void {
  if (len > 256) {
    dst.set(src.subarray(so, so + len), d);
    return;
  }
  const words = len & ~3;
  let i = 0;
  for (; i < words; i += 4) ddv.setUint32(d + i, sdv.getUint32(so + i, true), true);
  for (; i < len; i++) dst[d + i] = src[so + i]!;
}
