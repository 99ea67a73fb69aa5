/**
 * Shared layout of the ports (ethdev): ONE memzone "ETHDEV_DATA", created by the primary
 * at its first `EthDev.attach`, found by every other process. This file only declares the
 * byte offsets; ethdev.ts and the drivers read and write through them.
 *
 *   ETHDEV_DATA, room for MAX_PORTS ports (ports come and go: hotplug.ts)
 *   +0                 header (ED), 2 lines                     primary, before MAGIC (release);
 *                                                               NB_PORTS and HP_* under ED.LOCK
 *   +ED.BYTES          port 0 (EP), EP_STRIDE bytes
 *   +ED.BYTES + i*EP_STRIDE   port i ...   (an UNUSED entry: no port, or a detached one)
 *
 *   port entry (EP), offsets from the entry                     written by
 *   0     STATE NB_RXQ NB_TXQ FLAGS LINK_SPEED RSS_HF RETA_SIZE  the configuring process,
 *         MTU, MAC(8) GEN, EPOCH, WIRE_PID WIRE_LCORE          under ED.LOCK; WIRE_* by the
 *         WIRE_START                                           wire's claimer, under ED.LOCK;
 *                                                              EPOCH by attach and detach
 *   64    NAME[32] DRIVER[32] DEVARGS[256]                     primary at probe, then read-only
 *   384   RSS_KEY[40]                                          configure
 *   448   DRV: 16 u32 words for the driver (probe)             the driver's probe
 *   512   RETA: u16 × RETA_MAX                                 configure (one u16 store each:
 *                                                              a reader sees old or new queue)
 *   1536  RXQ[MAX_QUEUES] then TXQ[MAX_QUEUES], EQ.BYTES each
 *
 *   queue entry (EQ), 4 lines so that no two writers share one
 *   line 0  config   STATE NB_DESC POOL DRV0..DRV3              queue setup, under ED.LOCK
 *                    OWNER_PID OWNER_LCORE OWNER_START          the claimer, under ED.LOCK
 *   line 1  owner    PACKETS OCTETS ERRORS NOMBUF (f64)          ONLY the queue's owner, plain
 *                                                              `+=` once per burst
 *   line 2  feeder   MISSED (f64)                               ONLY the wire that feeds an RX
 *                                                              queue (one wire per port)
 *   line 3  base     B_PACKETS B_OCTETS B_ERRORS B_NOMBUF B_MISSED  resetStats (under ED.LOCK)
 *
 * Statistics: a reader reports value − base. Nobody but the owner ever writes a counter,
 * so a reset cannot race with the owner's `+=` (DPDK's reset would): it moves the base.
 * An aligned f64 store is one 8-byte store on x86-64, so a reader sees the old or the new
 * value, never a torn one; counts stay exact up to 2^53.
 */

/** ETHDEV_DATA header: byte offsets from the memzone start. */
export const ED = {
  MAGIC: 0, // u32 ETHDEV_MAGIC, stored last by the primary (release); readers load-acquire
  VERSION: 4, // u32
  NB_PORTS: 8, // u32
  MAX_QUEUES: 12, // u32
  PORT_STRIDE: 16, // u32 bytes per port entry
  CREATOR: 20, // i32 pid of the primary that probed
  // The attach or detach in progress (hotplug.ts; one at a time, under LOCK). HP_PID 0: none.
  HP_PID: 24, // i32 the process running it
  HP_PORT: 28, // i32 the port it attaches or detaches
  HP_START: 32, // f64 HP_PID's start time (a dead one's transaction is finished by the next)
  HP_OP: 40, // u32 HP_ATTACH or HP_DETACH
  LOCK: 64, // robust lock (eal/lock.ts) serialising configure / setup / start / stop / reset
  BYTES: 128,
} as const;

/** Port entry: byte offsets from the entry start. */
export const EP = {
  STATE: 0, // u32 PortState
  NB_RXQ: 4, // u32
  NB_TXQ: 8, // u32
  FLAGS: 12, // u32 PF_* bits
  LINK_SPEED: 16, // u32 Mbit/s
  RSS_HF: 20, // u32 RSS_HF bits (net/rss.ts)
  RETA_SIZE: 24, // u32 entries in use (power of two ≤ RETA_MAX)
  MTU: 28, // u32
  MAC: 32, // 6 bytes (+2 pad)
  GEN: 40, // u32 bumped by every configure / queue setup: processes re-bind stale queues
  EPOCH: 44, // u32 bumped when a port is attached or detached here: processes drop what they kept of the old one
  WIRE_PID: 48, // i32 process feeding this port's RX side from its wire (inject; 0 = none)
  WIRE_LCORE: 52, // i32
  WIRE_START: 56, // f64 start time of WIRE_PID (pid reuse)
  NAME: 64, // 32 bytes, NUL-terminated ("net_ring0")
  NAME_MAX: 32,
  DRIVER: 96, // 32 bytes ("net_ring")
  DEVARGS: 128, // 256 bytes: the --vdev text after the name ("peer=1")
  DEVARGS_MAX: 256,
  RSS_KEY: 384, // 40 bytes
  WIRE_COLLECT_PID: 424, // i32 process draining this port's TX side into its wire (collect; 0 = none)
  WIRE_COLLECT_LCORE: 428, // i32
  WIRE_COLLECT_START: 432, // f64
  DRV: 448, // 16 u32 words owned by the driver
  DRV_WORDS: 16,
  RETA: 512, // u16 × RETA_MAX
  RXQ: 1536, // MAX_QUEUES RX queue entries, then MAX_QUEUES TX queue entries
} as const;

/** Queue entry: byte offsets from the entry start. */
export const EQ = {
  STATE: 0, // u32 1 once set up
  NB_DESC: 4, // u32
  POOL: 8, // u32 region offset of the RX queue's mempool header (0 for TX)
  DRV0: 12, // u32 × 4 driver words (net_ring: the ring's region offset)
  OWNER_PID: 32, // i32 process using the queue (0 = none); stored last by the claimer
  OWNER_LCORE: 36, // i32 its lcore
  OWNER_START: 40, // f64 its start time (pid reuse)
  CAPTURE: 48, // u32 capture armed (dumpcap sets, the queue's burst path reads once per burst: capture.ts)
  PACKETS: 64, // f64 ┐ owner line
  OCTETS: 72, // f64   │ bytes
  ERRORS: 80, // f64  │ RX: ierrors; TX: packets the queue did not take (oerrors, as DPDK's ring PMD)
  NOMBUF: 88, // f64  ┘ RX: bursts that found no mbuf × their size (rx_nombuf)
  MISSED: 128, // f64   feeder line: packets the wire could not put into this RX queue (imissed)
  B_PACKETS: 192, // f64 ┐ base line (resetStats)
  B_OCTETS: 200,
  B_ERRORS: 208,
  B_NOMBUF: 216,
  B_MISSED: 224, // f64 ┘
  BYTES: 256,
} as const;

export const ETHDEV_MZ = 'ETHDEV_DATA';
export const ETHDEV_MAGIC = 0x56444854; // 'THDV'
export const ETHDEV_VERSION = 3;
/** Queues per direction per port (DPDK: RTE_MAX_QUEUES_PER_PORT = 1024; 32 fits every example). */
export const MAX_QUEUES = 32;
/** Largest redirection table. */
export const RETA_MAX = 512;
/** Ports per instance (DPDK: RTE_MAX_ETHPORTS = 32). */
export const MAX_PORTS = 32;
export const EP_STRIDE = EP.RXQ + 2 * MAX_QUEUES * EQ.BYTES;

/** Region offset of port entry `id` of the table whose header is at `header`. */
export function entryAt(header: number, id: number): number {
  return header + ED.BYTES + id * EP_STRIDE;
}

/**
 * Port owners (port-owner.ts, DPDK's rte_eth_dev_owner_*): memzone OWNER_MZ, MAX_PORTS
 * entries, made by the first process that takes a port (until then nobody owns any);
 * written under the ports lock (ED.LOCK).
 *   0   PID    i32  the owner (0 = none), stored last
 *   4   SEQ    u32  bumped at every change (take, release, a dead owner's release)
 *   8   START  f64  the owner's start time (pid reuse)
 *   16  SINCE  f64  Date.now() when taken
 *   24  NAME   40 bytes: the component ("" = the process as a whole)
 */
export const PO = { PID: 0, SEQ: 4, START: 8, SINCE: 16, NAME: 24, NAME_MAX: 40, BYTES: 64 } as const;
export const OWNER_MZ = 'ETHDEV_OWNER';

/** Port states. Transitions are in ethdev.ts's header. */
export const enum PortState {
  UNUSED = 0,
  PROBED = 1,
  CONFIGURED = 2,
  STARTED = 3,
}

/** ED.HP_OP: what the transaction in progress does. */
export const HP_ATTACH = 1;
export const HP_DETACH = 2;

/** Port flags (EP.FLAGS). */
export const PF_PROMISC = 1;
export const PF_LINK_UP = 2;
/** RSS steering on: the wire spreads packets over the RX queues (nbRx > 1 or rss asked). */
export const PF_RSS = 4;
export const PF_RSS_SYMMETRIC = 8;

