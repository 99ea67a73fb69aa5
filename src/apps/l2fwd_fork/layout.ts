/**
 * l2fwd_fork's shared layouts: everything the master and its slaves share lives in the
 * region, as the guide asks (a Node child inherits nothing), in these objects:
 *
 *   object                         kind       created by  written by              read by
 *   "port_stat"                    heap block master      slaves (per port, one   master (stats table),
 *                                                          writer per field)       tools (info)
 *   "l2fwd_fork"  (CTL)            memzone    master      master, once            slaves, bench, tools
 *   "l2fwd_res_<L>" (RES)          memzone    master      master (FLOAT_ID:       slave L, master
 *                                                          slave L's lease)
 *   "l2fwd_ring_m2s_<L>"           ring SP/SC master      master (STOP)           slave L
 *   "l2fwd_ring_s2m_<L>"           ring SP/SC master      slave L (ACK)           master
 *   "l2fwd_drop_<L>"               ring SP/SC master      slave L (dropped mbufs) master (frees them)
 *
 * ## What a slave holds
 * Every mbuf a slave holds is in its ownership record (the library's Hands, memzone
 * "HN_<pid>_<k>", forward.ts): its RX burst and one TX buffer per RX port. When a slave
 * dies the master calls reclaimDead, which repairs the single-producer / single-consumer
 * rings it left half-published, returns exactly what its record held, flushes its lcore
 * caches (the floating id's too) and frees its lcore ids and process slot. The slave puts
 * nothing to the pool while it runs: what the TX ring refuses goes to its drop ring,
 * which the master drains.
 */

/** Control memzone "l2fwd_fork" (written once by the master before any slave exists). */
export const CTL = {
  MAGIC: 0, // u32 CTL_MAGIC, stored last
  NB_PORTS: 4, // u32 ports of the instance
  PORTMASK: 8, // u32 enabled ports
  Q: 12, // u32 -q
  PERIOD: 16, // u32 -T seconds
  FLOAT: 20, // u32 1 with -f
  PORT_STAT: 24, // u32 region offset of the "port_stat" heap block
  NB_SLAVES: 28, // u32
  MASTER_PID: 32, // i32
  DST: 64, // i32[MAX_PORTS_L2] destination port of each port (-1 = not enabled)
  SLAVES: 192, // u32[MAX_SLAVES] original lcore id of each slave
  BYTES: 192 + 4 * 128,
} as const;
export const CTL_MZ = 'l2fwd_fork';
export const CTL_MAGIC = 0x4b524f46; // 'FORK'
export const MAX_PORTS_L2 = 32;
export const MAX_SLAVES = 128;

/** Port statistics block "port_stat": per port 3 f64 (DPDK's l2fwd_port_statistics). */
export const PSTAT = { TX: 0, RX: 1, DROPPED: 2, STRIDE: 3 } as const; // in f64 units
export const PORT_STAT_TAG = 'port_stat';
export const PORT_STAT_BYTES = MAX_PORTS_L2 * PSTAT.STRIDE * 8;

export const MAX_PKT_BURST = 32;
/** TX buffer capacity: a full buffer (flushed at MAX_PKT_BURST) plus one RX burst. */
export const TXBUF_CAP = 2 * MAX_PKT_BURST;
/** l2fwd's MAX_RX_QUEUE_PER_LCORE. */
export const MAX_RX_PER_LCORE = 16;

/** Slave resource memzone "l2fwd_res_<L>": configuration (master), the lease and pid. */
export const RES = {
  MAGIC: 0, // u32 RES_MAGIC (master)
  LCORE: 4, // u32 original lcore id (master)
  NRX: 8, // u32 ports this slave receives on (master)
  FLOAT_ID: 12, // i32 leased floating lcore id, -1 none (slave; the master clears it after a crash)
  PID: 16, // i32 the current slave's pid (master, at spawn)
  LAUNCHES: 20, // u32 slaves launched for this lcore (master)
  RX_PORTS: 64, // u32[MAX_RX_PER_LCORE] (master)
  DST_PORTS: 128, // u32[MAX_RX_PER_LCORE] (master): TX buffer i sends to DST_PORTS[i]
  BYTES: 192,
} as const;
export const RES_MAGIC = 0x53455252; // 'RRES'

/** Command ring codes (handles on "l2fwd_ring_m2s_<L>" / "..._s2m_<L>"). */
export const CMD_STOP = 1;
export const CMD_ACK = 2;
export const CMD_RING_SIZE = 8;
export const DROP_RING_SIZE = 1024;
export const NB_MBUF = 8192;
export const MBUF_CACHE = 256;
export const NB_RXD = 1024;
export const NB_TXD = 1024;
export const POOL_NAME = 'mbuf_pool';

export const resName = (lcore: number): string => `l2fwd_res_${lcore}`;
export const m2sName = (lcore: number): string => `l2fwd_ring_m2s_${lcore}`;
export const s2mName = (lcore: number): string => `l2fwd_ring_s2m_${lcore}`;
export const dropName = (lcore: number): string => `l2fwd_drop_${lcore}`;
