/**
 * simple_mp's shared objects and message format, used by both sides and the receiver lcore.
 *
 * Objects (created by the primary, looked up by the secondary, names as in DPDK's example):
 *   PRI_2_SEC  channel (its ring has the same name): the primary sends, the secondary receives
 *   SEC_2_PRI  channel: the other way
 *   MSG_POOL   the packet-buffer pool both channels take their MSG_SIZE-byte buffers from
 * A message is, as in DPDK's example, a C string: its UTF-8 bytes and a NUL, in one MSG_POOL
 * buffer (so at most MSG_MAX bytes of text); a longer one is refused, never cut.
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` as a message (its bytes and a NUL), or its byte length when that is over MSG_MAX. */
export function encodeMessage(text: string): Uint8Array | number {
  const bytes = encoder.encode(text);
  if (bytes.length > MSG_MAX) return bytes.length;
  const msg = new Uint8Array(bytes.length + 1);
  msg.set(bytes);
  return msg;
}

/** The text of a message (up to its NUL). */
export function decodeMessage(msg: Uint8Array): string {
  const end = msg.indexOf(0);
  return decoder.decode(end < 0 ? msg : msg.subarray(0, end));
}
