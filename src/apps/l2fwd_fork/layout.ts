/**
 * l2fwd_fork's shared layouts: everything the master and its slaves share lives in the
 * region, as the guide asks (a Node child inherits nothing), in these objects:
 *
 *   object                         kind       created by  written by              read by
 *   "port_stat"                    heap block master      slaves (per port, one   master (stats table),
 *                                                          writer per field)       tools (info)
 *   "l2fwd_fork"  (CTL)            memzone    master      master, once            slaves, bench, tools
 *   "l2fwd_res_<L>" (RES)          memzone    master      slave of lcore L        master (reclaim)
 *   "l2fwd_ring_m2s_<L>"           ring SP/SC master      master (STOP)           slave L
 *   "l2fwd_ring_s2m_<L>"           ring SP/SC master      slave L (ACK)           master
 *   "l2fwd_drop_<L>"               ring SP/SC master      slave L (dropped mbufs) master (frees them)
 *
 * ## Ownership record (RES): what slave L holds, exactly, at any instruction
 * A slave never gets from nor puts to the mempool: it moves mbufs only through SP/SC
 * rings of which it is the single producer (its TX rings, its drop ring) or the single
 * consumer (its RX rings). Each such ring's tail therefore moves only when the slave
 * moves it, so a snapshot of the tail taken before a burst tells the master, after the
 * slave's death, exactly how many of the recorded handles went through:
 *
 *   RX record     CTRL = RECEIVING | port index, TAIL = cons tail of that RX ring, then
 *                 rxBurst straight into RX.ARR (a view over this record), then the
 *                 handles are appended to the TX buffers, then CTRL = IDLE.
 *                 held after a death: RECEIVING → ARR[0 .. consTail − TAIL); IDLE → none.
 *   TX buffer i   CTRL word = FLUSHING? | SIDE | N  (one u32 store commits a state)
 *                 append: ARR[SIDE][N..N+k) = handles, then CTRL = SIDE | N + k
 *                 flush:  TXTAIL, DROPTAIL = the rings' prod tails, CTRL |= FLUSHING,
 *                         s = txBurst(ARR[SIDE], N), d = drop-ring enqueue of the rest,
 *                         copy the r = N − s − d left into ARR[1 − SIDE], then
 *                         CTRL = (1 − SIDE) | r   (double buffer: the source is never
 *                         overwritten before the commit)
 *                 held after a death: FLUSHING → ARR[SIDE][s' + d' .. N) with s', d' the
 *                 tail differences; otherwise ARR[SIDE][0 .. N).
 *   A handle may be recorded twice for an instant (in the RX record and a TX buffer,
 *   between the TX commits and RX CTRL = IDLE): the master takes the set union.
 *   A single producer / consumer killed between its head store and its tail store leaves
 *   head ≠ tail: the master sets head back to tail (the burst was not published; its
 *   handles are still in the record, or still in the ring).
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

/** Slave resource memzone "l2fwd_res_<L>": configuration (master) + ownership record (slave). */
export const RES = {
  MAGIC: 0, // u32 RES_MAGIC (master)
  LCORE: 4, // u32 original lcore id (master)
  NRX: 8, // u32 ports this slave receives on (master)
  FLOAT_ID: 12, // i32 leased floating lcore id, -1 none (slave; the master clears it after a crash)
  PID: 16, // i32 the current slave's pid (master, at spawn)
  LAUNCHES: 20, // u32 slaves launched for this lcore (master)
  RX_PORTS: 64, // u32[MAX_RX_PER_LCORE] (master)
  DST_PORTS: 128, // u32[MAX_RX_PER_LCORE] (master): TX buffer i sends to DST_PORTS[i]
  RX: 192, // the RX record (RXR)
  TX: 192 + 320, // MAX_RX_PER_LCORE TX buffers (TXR), one per RX port
} as const;
export const RES_MAGIC = 0x53455252; // 'RRES'

/** RX record, offsets from RES.RX. */
export const RXR = { CTRL: 0, TAIL: 4, ARR: 64, BYTES: 320 } as const;
/** RX CTRL: RECEIVING | port index (0..15). */
export const RX_RECEIVING = 0x80000000;

/** TX buffer record, offsets from its start. */
export const TXR = { CTRL: 0, TXTAIL: 4, DROPTAIL: 8, ARR0: 64, ARR1: 64 + TXBUF_CAP * 4, BYTES: 64 + 2 * TXBUF_CAP * 4 } as const;
/** TX CTRL: FLUSHING | SIDE << 16 | N. */
export const TX_FLUSHING = 0x80000000;
export const TX_SIDE = 0x10000;
export const TX_N_MASK = 0xffff;

export const RES_BYTES = RES.TX + MAX_RX_PER_LCORE * TXR.BYTES;

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
