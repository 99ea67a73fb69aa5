/**
 * mpdk/internal: what the library's own tests, benchmarks and tools need and its users do
 * not: the byte layouts of mpdk's shared-memory objects (each owned and read by its layer
 * alone, decision 12) and the libc calls under the EAL.
 *
 * NO STABILITY PROMISE. Anything here changes with the layouts, in any release, without
 * notice; a program built on it breaks when they do. Programs, the shipped ones included,
 * import the package entry ('mpdk', src/index.ts) and nothing else.
 */
export { RING, CLAIM_STATE, REPAIRED_PUBLISHED, REPAIRED_FILLED, REPAIRED_RELEASED } from './ring/layout.js';
export { MPH, MPC, EH, OP_REFILL, OP_FLUSH } from './mempool/mempool.js';
export { MBUF, MBUF_POOL_PRIV } from './mbuf/mbuf.js';
export { ED, EP, EQ } from './ethdev/layout.js';
export { CAPH, CAP_MAGIC, CAP_WRAP, EQ_CAPTURE, captureRingName, tapRx, tapTx } from './ethdev/capture.js';
export { HANDS, HARR, HANDS_MZ_PREFIX } from './ownership/hands.js';
export { RECLAIM_LOCK_MZ } from './ownership/reclaim.js';
export { HDR } from './eal/region.js';
export { CH, CH_MAGIC, CH_MZ_PREFIX, MSG } from './channel/channel.js';
export { setParentDeathSignal, allowedCpus, onlineCpus, setAffinity, processAlive, processStartTime } from './native/libc.js';
