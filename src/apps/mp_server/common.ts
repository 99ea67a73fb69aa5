/**
 * What mp_server and mp_client share (DPDK's client_server_mp/shared/common.h): the
 * object names, and the layout of the "MProc_port_info" memzone the server creates so
 * that a client needs nothing but its id.
 *
 *   MProc_port_info                                          written by
 *   +0     header line   MAGIC VERSION NUM_PORTS NUM_CLIENTS  the server, once, before MAGIC
 *                        RING_SIZE SERVER_PID SERVER_START     (release); read-only afterwards
 *   +64    PORT_ID       u8 × MAX_PORTS: the ports of -p, ascending
 *   +128   RX            f64 × MAX_PORTS: packets received per port (index into PORT_ID)
 *                                                              ONLY the server's RX lcore
 *   +CLIENTS  MAX_CLIENTS client blocks, PC.STRIDE bytes each (below)
 *
 *   client block (PC)                                        written by
 *   line 0  RX RX_DROP (f64)                                 ONLY the server's RX lcore,
 *                                                            once per flushed burst
 *   line 1  PID LCORE START (claim)                          the client that claims the id
 *                                                            (CAS on PID; a dead holder,
 *                                                            per the process table, is
 *                                                            taken over)
 *   line 2  DEQ_BURSTS DEQ_PKTS (f64)                        ONLY the client, per burst
 *   +192    TX[port index] f64 × MAX_PORTS, then TX_DROP     ONLY the client, per TX burst
 *
 * Counters are plain f64 `+=` by their single writer; readers (the stats lcore, tools) see
 * the old or the new value of an aligned 8-byte store, never a torn one. A client killed
 * half-way leaves its counters as they were; its successor continues them.
 */
import { MpdkError, type Eal } from '../../index.js';

/** DPDK's MAX_CLIENTS: the statistics arrays hold this many. */
export const MAX_CLIENTS = 16;
/** Ports the port-info memzone can list (the ethdev layer's MAX_PORTS). */
export const MAX_PI_PORTS = 32;
export const PKTMBUF_POOL_NAME = 'MProc_pktmbuf_pool';
export const MZ_PORT_INFO = 'MProc_port_info';
export const PORT_INFO_MAGIC = 0x4f464e49; // 'INFO'
export const PORT_INFO_VERSION = 1;

/** DPDK's MP_CLIENT_RXQ_NAME ("MProc_Client_RX_%u"). */
export function clientRingName(id: number): string {
  return `MProc_Client_RX_${id}`;
}

/** Port-info header: byte offsets from the memzone start. */
export const PI = {
  MAGIC: 0, // u32, stored last (release)
  VERSION: 4,
  NUM_PORTS: 8,
  NUM_CLIENTS: 12,
  RING_SIZE: 16, // u32 capacity of each client ring
  SERVER_PID: 20, // i32
  SERVER_START: 24, // f64 start time of SERVER_PID
  PORT_ID: 64, // u8 × MAX_PI_PORTS
  RX: 128, // f64 × MAX_PI_PORTS
  CLIENTS: 384,
} as const;

/** Client block: byte offsets from the block start. */
export const PC = {
  RX: 0, // f64 packets the server enqueued to this client
  RX_DROP: 8, // f64 packets the server freed because the ring could not take their burst
  PID: 64, // i32 claim: pid of the client holding this id (0 = free)
  LCORE: 68, // i32 its lcore
  START: 72, // f64 its start time
  DEQ_BURSTS: 128, // f64 non-empty dequeues
  DEQ_PKTS: 136, // f64 packets dequeued
  TX: 192, // f64 × MAX_PI_PORTS sent, per port index
  TX_DROP: 192 + 8 * MAX_PI_PORTS, // f64 × MAX_PI_PORTS refused by the TX queue (freed)
  STRIDE: 768,
} as const;

export const PORT_INFO_BYTES = PI.CLIENTS + MAX_CLIENTS * PC.STRIDE;

/** Region offset of client `id`'s block. */
export function clientBlock(info: number, id: number): number {
  return info + PI.CLIENTS + id * PC.STRIDE;
}

export interface ClientCounters {
  rx: number;
  rxDrop: number;
  tx: number;
  txDrop: number;
  deqBursts: number;
  deqPkts: number;
  /** Per port index. */
  txPort: number[];
  txDropPort: number[];
  /** Pid holding the id (0 = none). */
  pid: number;
}

/** A read-only view of the port-info memzone (server, client, stats lcore, demo, tests). */
export class PortInfoView {
  readonly offset: number;
  readonly numPorts: number;
  readonly numClients: number;
  readonly ringSize: number;
  readonly serverPid: number;
  readonly portIds: number[];
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;

  constructor(eal: Eal, offset: number) {
    const r = eal.region;
    this.offset = offset;
    if (r.loadAcquire(offset + PI.MAGIC) !== PORT_INFO_MAGIC || r.u32At(offset + PI.VERSION) !== PORT_INFO_VERSION) {
      throw new MpdkError('EPROTO', `memzone ${MZ_PORT_INFO} of '${eal.filePrefix}' is not (yet) a version ${PORT_INFO_VERSION} port table: run the same mpdk for server and clients`);
    }
    this.numPorts = r.u32At(offset + PI.NUM_PORTS);
    this.numClients = r.u32At(offset + PI.NUM_CLIENTS);
    this.ringSize = r.u32At(offset + PI.RING_SIZE);
    this.serverPid = r.i32[(offset + PI.SERVER_PID) >>> 2]!;
    this.portIds = Array.from(r.u8.subarray(offset + PI.PORT_ID, offset + PI.PORT_ID + this.numPorts));
    this.f64 = r.f64;
    this.i32 = r.i32;
  }

  /** The server's port table once the server has finished it (its MAGIC stored), else undefined. */
  static tryLookup(eal: Eal): PortInfoView | undefined {
    const mz = eal.memzones.tryLookup(MZ_PORT_INFO);
    return mz && eal.region.loadAcquire(mz.offset + PI.MAGIC) === PORT_INFO_MAGIC ? new PortInfoView(eal, mz.offset) : undefined;
  }

  /** Find the server's port table; ENOENT when the primary is not an mp_server. */
  static lookup(eal: Eal): PortInfoView {
    const mz = eal.memzones.tryLookup(MZ_PORT_INFO);
    if (!mz) {
      throw new MpdkError('ENOENT', `instance '${eal.filePrefix}' has no ${MZ_PORT_INFO}: its primary (pid ${eal.primaryPid()}) is not mp_server; start 'mpdk mp_server' first`);
    }
    return new PortInfoView(eal, mz.offset);
  }

  portRx(index: number): number {
    return this.f64[(this.offset + PI.RX + index * 8) >>> 3]!;
  }

  client(id: number): ClientCounters {
    const b = clientBlock(this.offset, id);
    const f = this.f64;
    const txPort: number[] = [];
    const txDropPort: number[] = [];
    for (let i = 0; i < this.numPorts; i++) {
      txPort.push(f[(b + PC.TX + i * 8) >>> 3]!);
      txDropPort.push(f[(b + PC.TX_DROP + i * 8) >>> 3]!);
    }
    return {
      rx: f[(b + PC.RX) >>> 3]!, rxDrop: f[(b + PC.RX_DROP) >>> 3]!,
      tx: txPort.reduce((a, v) => a + v, 0), txDrop: txDropPort.reduce((a, v) => a + v, 0),
      deqBursts: f[(b + PC.DEQ_BURSTS) >>> 3]!, deqPkts: f[(b + PC.DEQ_PKTS) >>> 3]!,
      txPort, txDropPort, pid: Atomics.load(this.i32, (b + PC.PID) >>> 2),
    };
  }

  /** DPDK's do_stats_display block (PORTS then CLIENTS). */
  format(macOf: (port: number) => string): string {
    const portTx = new Array<number>(this.numPorts).fill(0);
    const cl = Array.from({ length: this.numClients }, (_, i) => this.client(i));
    for (const c of cl) for (let j = 0; j < this.numPorts; j++) portTx[j]! += c.txPort[j]!;
    const n = (v: number): string => String(v).padStart(9);
    const lines = ['PORTS', '-----', this.portIds.map((p) => `Port ${p}: '${macOf(p)}'`).join('\t'), ''];
    for (let i = 0; i < this.numPorts; i++) lines.push(`Port ${this.portIds[i]} - rx: ${n(this.portRx(i))}\ttx: ${n(portTx[i]!)}`);
    lines.push('', 'CLIENTS', '-------');
    cl.forEach((c, i) => {
      lines.push(`Client ${String(i).padStart(2)} - rx: ${n(c.rx)}, rx_drop: ${n(c.rxDrop)}`);
      lines.push(`            tx: ${n(c.tx)}, tx_drop: ${n(c.txDrop)}`);
    });
    return lines.join('\n') + '\n';
  }
}
