/**
 * symmetric_mp's shared configuration: the memzone "symmetric_mp_conf" in which the
 * process that set the instance up (the primary) records what every later process must
 * agree with, so that a mismatched -p or --num-procs is refused (the guide promises it;
 * DPDK's example never checks: trap T2).
 *
 *   who calls what
 *   the primary        createConf(eal, mask, n): reserve, fill, MAGIC last (release)
 *   every other one    readConf(eal): wait for MAGIC (acquire), read; checkConf: compare
 *
 * Layout (SMP_CONF, byte offsets in the memzone; written once by its creator, read-only
 * afterwards, so plain loads after the MAGIC acquire are enough):
 *
 *   0   MAGIC        u32  SMP_CONF_MAGIC once every other field is written (release)
 *   4   VERSION      u32  SMP_CONF_VERSION
 *   8   PORTMASK     u32  the primary's -p
 *   12  NUM_PROCS    u32  the primary's --num-procs (= RX and TX queues per port)
 *   16  CREATOR_PID  i32  pid of the primary that wrote it
 *   20  RX_DESC      u32  descriptors per RX queue the primary set up
 *   24  TX_DESC      u32  descriptors per TX queue
 *   28  POOL_SIZE    u32  mbufs in MProc_pktmbuf_pool
 *   64  (end)
 *
 * If the creator dies before MAGIC, readers time out with a message naming it; the
 * instance must then be started afresh (mpdk cleanup).
 */
import { awaitFromPrimary, MpdkError, type Eal } from '../../index.js';

export const SMP_CONF_NAME = 'symmetric_mp_conf';
export const SMP_CONF_MAGIC = 0x504d5953; // 'SYMP'
export const SMP_CONF_VERSION = 1;

export const SMP_CONF = {
  MAGIC: 0,
  VERSION: 4,
  PORTMASK: 8,
  NUM_PROCS: 12,
  CREATOR_PID: 16,
  RX_DESC: 20,
  TX_DESC: 24,
  POOL_SIZE: 28,
  BYTES: 64,
} as const;

export interface SymmetricConf {
  portmask: number;
  numProcs: number;
  creatorPid: number;
  rxDesc: number;
  txDesc: number;
  poolSize: number;
}

/** Record the primary's configuration (after the pool and ports are ready). */
export function createConf(eal: Eal, c: SymmetricConf): void {
  const mz = eal.memzones.reserve(SMP_CONF_NAME, SMP_CONF.BYTES, 64);
  const r = eal.region;
  const u32 = r.u32;
  const z = mz.offset;
  u32[(z + SMP_CONF.VERSION) >>> 2] = SMP_CONF_VERSION;
  u32[(z + SMP_CONF.PORTMASK) >>> 2] = c.portmask >>> 0;
  u32[(z + SMP_CONF.NUM_PROCS) >>> 2] = c.numProcs;
  r.i32[(z + SMP_CONF.CREATOR_PID) >>> 2] = c.creatorPid;
  u32[(z + SMP_CONF.RX_DESC) >>> 2] = c.rxDesc;
  u32[(z + SMP_CONF.TX_DESC) >>> 2] = c.txDesc;
  u32[(z + SMP_CONF.POOL_SIZE) >>> 2] = c.poolSize;
  r.storeRelease(z + SMP_CONF.MAGIC, SMP_CONF_MAGIC);
}

/** True when some symmetric_mp process has begun recording a configuration. */
export function confExists(eal: Eal): boolean {
  return eal.memzones.tryLookup(SMP_CONF_NAME) !== undefined;
}

/**
 * The recorded configuration. While a live symmetric_mp primary is still setting up (its
 * pool and ports, then this record) we wait for it (awaitFromPrimary: said after 2 s naming
 * it, up to `waitMs`); ENOENT when there is none to wait for, ETIMEDOUT when its writer
 * never finished.
 */
export function readConf(eal: Eal, waitMs: number): SymmetricConf {
  const r = eal.region;
  const mz = awaitFromPrimary(eal, {
    program: 'symmetric_mp',
    what: `its configuration (memzone ${SMP_CONF_NAME})`,
    look: () => {
      const z = eal.memzones.tryLookup(SMP_CONF_NAME);
      return z !== undefined && r.loadAcquire(z.offset + SMP_CONF.MAGIC) === SMP_CONF_MAGIC ? z : undefined;
    },
    refuse: (why) => {
      const z = eal.memzones.tryLookup(SMP_CONF_NAME);
      if (z === undefined) {
        return new MpdkError('ENOENT', `instance '${eal.filePrefix}' has no symmetric_mp configuration (memzone ${SMP_CONF_NAME}): ${why}; start the first symmetric_mp with --proc-type=auto or primary`);
      }
      const creator = r.i32[(z.offset + SMP_CONF.CREATOR_PID) >>> 2]!;
      return new MpdkError('ETIMEDOUT', `the symmetric_mp configuration of instance '${eal.filePrefix}' is incomplete (its writer${creator ? `, pid ${creator},` : ''} died or is stuck while setting up: ${why}); stop every process of the instance, run 'mpdk cleanup', and start again`);
    },
    say: (line) => process.stderr.write(`symmetric_mp: ${line}\n`),
    boundMs: waitMs,
  });
  const z = mz.offset;
  const ver = r.u32[(z + SMP_CONF.VERSION) >>> 2]!;
  if (ver !== SMP_CONF_VERSION) {
    throw new MpdkError('EPROTO', `the symmetric_mp configuration of instance '${eal.filePrefix}' has version ${ver}; this program reads ${SMP_CONF_VERSION}: run the same mpdk in every process`);
  }
  return {
    portmask: r.u32[(z + SMP_CONF.PORTMASK) >>> 2]!,
    numProcs: r.u32[(z + SMP_CONF.NUM_PROCS) >>> 2]!,
    creatorPid: r.i32[(z + SMP_CONF.CREATOR_PID) >>> 2]!,
    rxDesc: r.u32[(z + SMP_CONF.RX_DESC) >>> 2]!,
    txDesc: r.u32[(z + SMP_CONF.TX_DESC) >>> 2]!,
    poolSize: r.u32[(z + SMP_CONF.POOL_SIZE) >>> 2]!,
  };
}
