/**
 * One memif control connection (a `Channel`: the client's socket to the server, or one
 * peer the server accepted) and `ControlOps`, what the per-message handlers
 * (memif-server.ts, memif-client.ts) may do to the port's control channel
 * (memif-control.ts implements it). Everything here lives in the control thread only.
 *
 * A channel's state is written by the transition table's dispatcher (memif-transitions.ts)
 * and by `drop` ('closed'); nothing else.
 */
import type { Eal } from '../../eal/eal.js';
import type { Port } from '../../ethdev/driver.js';
import type { Mapping } from '../../native/libc.js';
import type { MemifConfig } from './memif-table.js';

/**
 * Connection states (memif-transitions.ts has the table):
 *   hello        client: connected, waiting for the server's HELLO
 *   init         server: HELLO sent, waiting for INIT
 *   setup        server: INIT accepted, taking ADD_REGION / ADD_RING until CONNECT;
 *                client: sending its setup messages one per ACK
 *   connecting   client: CONNECT sent, waiting for CONNECTED
 *   connected    link up: only DISCONNECT may follow
 *   closed       dropped: its descriptors are closed, it is no longer polled
 */
export type ChanState = 'hello' | 'init' | 'setup' | 'connecting' | 'connected' | 'closed';

/** A region of the connection: the client's memfd (or EAL region file) as created or received. */
export interface ChanRegion {
  fd: number;
  size: number;
  /** Mapped by this thread (client: at creation; server: at CONNECT). */
  map?: Mapping;
}

/** A ring the client declared: where it lives and its interrupt eventfd. */
export interface RingDef {
  region: number;
  offset: number;
  log2: number;
  intfd: number;
}

export interface Channel {
  fd: number;
  state: ChanState;
  /** Client: messages to send, one per received ACK (DPDK's lock-step). */
  queue: { m: Uint8Array; fd: number }[];
  regions: ChanRegion[];
  c2s: Map<number, RingDef>;
  s2c: Map<number, RingDef>;
  /** Eventfds this side created (client) or received (server); closed with the channel. */
  eventfds: number[];
}

export function newChannel(fd: number, state: ChanState): Channel {
  return { fd, state, queue: [], regions: [], c2s: new Map(), s2c: new Map(), eventfds: [] };
}

/** What a message handler may do to the control channel of its port. */
export interface ControlOps {
  readonly eal: Eal;
  readonly port: Port;
  readonly cfg: MemifConfig;
  /** The port's connection (server: the peer whose INIT was accepted; client: its socket). */
  active: Channel | undefined;
  /** Send one message (with `fd` in SCM_RIGHTS when ≥ 0); false if it did not go whole. */
  send(c: Channel, m: Uint8Array, fd?: number): boolean;
  /** Refuse the peer: count it, tell it why, log, drop the channel. */
  refuse(c: Channel, reason: string): 'closed';
  /** End the channel (see memif-control.ts). */
  drop(c: Channel, reason: string, tell: boolean, stopping: boolean): 'closed';
  /** Publish the connection (MIF, CONN last) and raise the link. */
  linkUp(c: Channel): void;
  /** Write a string / u32 field of the port's MIF table (control-thread fields only). */
  setString(off: number, max: number, s: string): void;
  setU32(off: number, v: number): void;
}

/** The application name sent in HELLO / INIT. */
export const APP_NAME = 'mpdk';
