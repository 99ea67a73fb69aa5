/**
 * net_memif's per-port shared table MIF: a memzone "MIF_<port>" reserved by probe, read by
 * every process that uses the port (the queues, `memifStatus`, `mpdk info`), written by
 * probe once and then only by the control thread (memif-control.ts).
 *
 *   who writes what
 *   probe (primary)        ROLE ID BSIZE LOG2 ABSTRACT SOCKET SECRET ZC  then read-only
 *   control thread         CTL_PID, RUN_*, NB_REGIONS, REGIONS[], RINGS[], PEER_*, REASON,
 *                          counters, then CONN last (Atomics.store)
 *   queue owners           nothing here (their counters are the ethdev queue lines)
 *
 * CONN = (generation << 1) | up. Every connect and every disconnect bumps the generation.
 * Invariants: RUN_*, REGIONS and RINGS are written while CONN is even (down) and never
 * change while it is odd; a disconnect stores the new even CONN BEFORE it closes or
 * unmaps anything, so a queue that mapped a region fd and then sees CONN unchanged knows
 * the fd was the right one (memif-queue.ts rebind).
 */
import type { Region } from '../../eal/region.js';

/** Per-port shared state: byte offsets from the MIF memzone start. */
export const MIF = {
  CONN: 0, // u32 (generation << 1) | up; control thread, Atomics.store, last
  CTL_PID: 4, // i32 process whose thread runs the control channel (0 = none)
  ROLE: 8, // u32 ROLE_CLIENT | ROLE_SERVER (probe)
  ID: 12, // u32 interface id (probe)
  BSIZE: 16, // u32 buffer size asked (probe)
  LOG2: 20, // u32 log2 ring size asked (probe)
  ABSTRACT: 24, // u32 1 = abstract socket namespace (probe)
  RUN_LOG2: 28, // u32 ┐ negotiated for the current connection
  RUN_BSIZE: 32, // u32 │
  RUN_C2S: 36, // u32   │ rings client → server in use
  RUN_S2C: 40, // u32   │ rings server → client in use
  NB_REGIONS: 44, // u32 ┘
  ZC: 48, // u32 1 = client in zero-copy mode (probe): region 1 is the EAL region itself
  CONNECTS: 64, // f64 connections made
  DISCONNECTS: 72, // f64 connections lost (any reason)
  REFUSED: 80, // f64 peer messages refused (bad, out of order, wrong secret...)
  ATTEMPTS: 88, // f64 client connection attempts
  SOCKET: 128, // 112 bytes: socket path, NUL-terminated (probe)
  SOCKET_MAX: 109,
  SECRET: 240, // 32 bytes: secret, NUL-terminated (probe)
  PEER_NAME: 272, // 32 bytes: peer's application name (hello / init)
  PEER_IF: 304, // 32 bytes: peer's interface name (connect / connected)
  REASON: 336, // 112 bytes: why the last connection ended or was refused
  REASON_MAX: 112,
  REGIONS: 448, // MEMIF_MAX_REGIONS × { FD i32 @0, SIZE f64 @8 }: fds of CTL_PID
  REGION_BYTES: 16,
  RINGS: 1472, // [C2S 0..31][S2C 0..31] × { REGION u32 @0, OFFSET u32 @4, LOG2 u32 @8, INTFD i32 @12 }
  RING_BYTES: 16,
  BYTES: 2560,
} as const;

/** One entry of MIF.RINGS: byte offsets within it. REGION 0xffffffff: the peer has no such ring. */
export const MIF_RING = { REGION: 0, OFFSET: 4, LOG2: 8, INTFD: 12 } as const;
export const MIF_NO_RING = 0xffffffff;

export const ROLE_CLIENT = 0;
export const ROLE_SERVER = 1;
/** Ring slots in MIF.RINGS per direction (= MAX_QUEUES of ethdev). */
export const MIF_RINGS = 32;

/** Region offset of the MIF.RINGS entry of ring `q` of one direction. */
export function mifRingAt(mif: number, c2s: boolean, q: number): number {
  return mif + MIF.RINGS + ((c2s ? 0 : MIF_RINGS) + q) * MIF.RING_BYTES;
}

/** What probe wrote (read-only afterwards): the port's memif configuration. */
export interface MemifConfig {
  role: number;
  id: number;
  /** Buffer size and log2 ring size asked for. */
  bsize: number;
  log2: number;
  abstract: boolean;
  path: string;
  secret: string;
  /** Client in zero-copy mode. */
  zc: boolean;
}

/** Read the probe's fields of the MIF table at `mif`. */
export function readConfig(r: Region, mif: number): MemifConfig {
  return {
    role: r.u32At(mif + MIF.ROLE), id: r.u32At(mif + MIF.ID), bsize: r.u32At(mif + MIF.BSIZE), log2: r.u32At(mif + MIF.LOG2),
    abstract: r.u32At(mif + MIF.ABSTRACT) === 1, path: r.readString(mif + MIF.SOCKET, MIF.SOCKET_MAX), secret: r.readString(mif + MIF.SECRET, 32),
    zc: r.u32At(mif + MIF.ZC) === 1,
  };
}
