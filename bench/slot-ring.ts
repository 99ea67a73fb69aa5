/**
 * The bare shared-memory ring of the msg.64B baseline: 64-byte message slots written in
 * place, no pool, no handles; what copying messages through shared memory costs at best.
 *
 *   offset   field       writer     reader
 *   0        PROD_TAIL   producer   consumer (Atomics.load before reading slots)
 *   64       CONS_TAIL   consumer   producer (Atomics.load before overwriting slots)
 *   128      slots       producer   consumer, COUNT × 64 bytes
 */
export const SLOTS = {
  PROD_TAIL: 0,
  CONS_TAIL: 64,
  FIRST: 128,
  COUNT: 4096,
  BYTES: 128 + 4096 * 64,
} as const;
