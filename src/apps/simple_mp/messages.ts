/**
 * simple_mp's shared objects and message format, used by both sides and the receiver lcore.
 *
 * Objects (created by the primary, looked up by the secondary, names as in DPDK's example):
 *   PRI_2_SEC  ring: the primary sends on it, the secondary receives from it
 *   SEC_2_PRI  ring: the other way
 *   MSG_POOL   mempool of MSG_SIZE-byte buffers
 * A message is its UTF-8 bytes, NUL-terminated, in one MSG_POOL buffer (DPDK's example
 * copies a C string into a 64-byte element); a longer one is refused, never cut.
 */
export const PRI_2_SEC = 'PRI_2_SEC';
export const SEC_2_PRI = 'SEC_2_PRI';
export const MSG_POOL = 'MSG_POOL';
export const RING_SIZE = 64;
export const POOL_SIZE = 1024;
export const POOL_CACHE = 32;
export const MSG_SIZE = 64;
/** Longest message in bytes (one byte is the terminating NUL). */
export const MSG_MAX = MSG_SIZE - 1;

/** Write `bytes` NUL-terminated at `off` of `u8`. The caller checked the length. */
export function writeMessage(u8: Uint8Array, off: number, bytes: Uint8Array): void {
  u8.set(bytes, off);
  u8[off + bytes.length] = 0;
}

export function readMessage(u8: Uint8Array, off: number): string {
  let end = off;
  const stop = off + MSG_MAX;
  while (end < stop && u8[end] !== 0) end++;
  return Buffer.from(u8.buffer, u8.byteOffset + off, end - off).toString('utf8');
}
