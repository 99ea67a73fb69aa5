/**
 * net_memif's control channel: the per-port state shared by every process (table MIF),
 * and the `Control` state machine that runs in ONE helper thread of the process that
 * started the port (memif-control-worker.ts). The burst paths (memif-queue.ts) never
 * touch a socket: they read MIF.CONN once per burst and re-map when it changed.
 *
 *   who writes what (MIF, a memzone "MIF_<port>" reserved by probe)
 *   probe (primary)        ROLE ID BSIZE LOG2 ABSTRACT SOCKET SECRET ZC  then read-only
 *   control thread         CTL_PID, RUN_*, NB_REGIONS, REGIONS[], RINGS[], PEER_*, REASON,
 *                          counters, then CONN last (Atomics.store)
 *   queue owners           nothing here (their counters are the ethdev queue lines)
 *
 * CONN = (generation << 1) | up. Every connect and every disconnect bumps the generation.
 * Invariants: RUN_*, REGIONS and RINGS are written while CONN is even (down) and never
 * change while it is odd; a disconnect stores the new even CONN BEFORE it closes or
 * unmaps anything, so a queue that mapped a region fd and then sees CONN unchanged knows
 * the fd was the right one. After a disconnect nothing of the peer's memory is touched
 * by the control thread, and each queue drops its mappings at its next burst.
 *
 * Peer input is checked before use: message size and order, version, id, secret, region
 * index/size (against the memfd's real size: a mapping past the end of the file would
 * SIGBUS), ring index/region/offset/size, ring cookies. A refusal sends DISCONNECT with
 * the reason, counts MIF.REFUSED, logs one line and closes the channel.
 */
import fs from 'node:fs';
import type { Eal } from '../../eal/eal.js';
import type { Port } from '../../ethdev/driver.js';
import {
  closeFd, eventfdCreate, mapFd, memfdCreate, pollFds, POLLERR, POLLHUP, POLLIN, POLLNVAL, recvWithFds, seqpacketSocket, sendWithFd,
  unixAccept, unixConnect, unixListen, unmap, MAX_MAPPING, type Mapping,
} from '../../native/libc.js';
import {
  ackMsg, addRegionMsg, addRingMsg, connectMsg, disconnectMsg, helloMsg, initMsg, MEMIF_COOKIE, MEMIF_MAX_LOG2_RING, MEMIF_MAX_REGIONS,
  MEMIF_MSG_SIZE, MEMIF_VERSION, MODE_ETHERNET, MSG_NAMES, MsgType, msgType, parseAddRegion, parseAddRing, parseDisconnect, parseHello,
  parseIfName, parseInit, regionLayout, RING, RING_FLAG_MASK_INT, ringBytes, DESC,
} from './memif-proto.js';

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

export const ROLE_CLIENT = 0;
export const ROLE_SERVER = 1;
/** Ring slots in MIF.RINGS per direction (= MAX_QUEUES of ethdev). */
export const MIF_RINGS = 32;

export function mifRingAt(mif: number, c2s: boolean, q: number): number {
  return mif + MIF.RINGS + ((c2s ? 0 : MIF_RINGS) + q) * MIF.RING_BYTES;
}

/** Words shared between the starting thread and the control thread (a SharedArrayBuffer). */
export const CW = { STOP: 0, READY: 1, DONE: 2 } as const;

const CLIENT_BACKOFF_MIN = 50;
const CLIENT_BACKOFF_MAX = 1000;
const APP_NAME = 'mpdk';

interface Region {
  fd: number;
  size: number;
  map?: Mapping;
}

interface RingDef {
  region: number;
  offset: number;
  log2: number;
  intfd: number;
}

/** One connection's state (client: the socket to the server; server: one accepted peer). */
interface Channel {
  fd: number;
  /** Server: INIT accepted (the channel is the port's). */
  owned: boolean;
  state: 'hello' | 'init' | 'setup' | 'connecting' | 'connected';
  /** Client: messages to send, one per received ACK (DPDK's lock-step). */
  queue: { m: Uint8Array; fd: number }[];
  regions: Region[];
  c2s: Map<number, RingDef>;
  s2c: Map<number, RingDef>;
  /** Eventfds this side created (client) or received (server). */
  eventfds: number[];
}

export class Control {
  private readonly eal: Eal;
  private readonly port: Port;
  private readonly mif: number;
  private readonly ctl: Int32Array;
  /** Signalled by the driver's stop after it sets CW.STOP: the loop polls it with the sockets. */
  private readonly stopFd: number;
  private readonly role: number;
  private readonly path: string;
  private readonly abstract: boolean;
  private readonly id: number;
  private readonly secret: string;
  private readonly cfgLog2: number;
  private readonly cfgBsize: number;
  private listenFd = -1;
  private chans: Channel[] = [];
  private active: Channel | undefined;
  private nextAttempt = 0;
  private backoff = CLIENT_BACKOFF_MIN;
  private lastAttemptErr = '';
  private readonly rx = new Uint8Array(MEMIF_MSG_SIZE + 64);
  private readonly revents = new Int16Array(64);

  constructor(eal: Eal, port: Port, mif: number, ctl: Int32Array, stopFd: number) {
    const r = eal.region;
    this.eal = eal;
    this.port = port;
    this.mif = mif;
    this.ctl = ctl;
    this.stopFd = stopFd;
    this.role = r.u32At(mif + MIF.ROLE);
    this.id = r.u32At(mif + MIF.ID);
    this.cfgLog2 = r.u32At(mif + MIF.LOG2);
    this.cfgBsize = r.u32At(mif + MIF.BSIZE);
    this.abstract = r.u32At(mif + MIF.ABSTRACT) === 1;
    this.path = r.readString(mif + MIF.SOCKET, MIF.SOCKET_MAX);
    this.secret = r.readString(mif + MIF.SECRET, 32);
  }

  private get name(): string {
    return this.port.name;
  }

  private log(level: 'error' | 'warning' | 'info' | 'debug', msg: string): void {
    this.eal.log(level, `${this.name}: memif ${this.role === ROLE_SERVER ? 'server' : 'client'} ${this.abstract ? '@' : ''}${this.path}: ${msg}`);
  }

  private u32(off: number): number {
    return this.eal.region.u32At(this.mif + off);
  }

  private setU32(off: number, v: number): void {
    this.eal.region.u32[(this.mif + off) >>> 2] = v;
  }

  private count(off: number): void {
    this.eal.region.f64[(this.mif + off) >>> 3]! += 1;
  }

  private setString(off: number, max: number, s: string): void {
    this.eal.region.writeString(this.mif + off, max, s.slice(0, max - 1));
  }

  /** Run until CW.STOP is set; then disconnect (telling the peer) and return. */
  run(): void {
    const r = this.eal.region;
    r.i32[(this.mif + MIF.CTL_PID) >>> 2] = process.pid;
    this.setLinkDown('');
    if (this.role === ROLE_SERVER) this.listen();
    Atomics.store(this.ctl, CW.READY, 1);
    Atomics.notify(this.ctl, CW.READY);
    const fds: number[] = [];
    const events: number[] = [];
    while (Atomics.load(this.ctl, CW.STOP) === 0) {
      if (this.role === ROLE_CLIENT && !this.active && Date.now() >= this.nextAttempt) this.attempt();
      fds.length = 0;
      events.length = 0;
      fds.push(this.stopFd);
      events.push(POLLIN);
      if (this.listenFd >= 0) {
        fds.push(this.listenFd);
        events.push(POLLIN);
      }
      for (const c of this.chans) {
        fds.push(c.fd);
        events.push(POLLIN);
      }
      // Nothing is timed but a client's next attempt: otherwise sleep until a socket or the
      // stop eventfd has something (no periodic wake-up while idle).
      const timeout = this.role === ROLE_CLIENT && !this.active ? Math.max(1, this.nextAttempt - Date.now()) : -1;
      const n = pollFds(fds, events, fds.length, timeout, this.revents);
      this.keepLinkFlag();
      if (n <= 0) continue;
      for (let i = 1; i < fds.length; i++) {
        const ev = this.revents[i]!;
        if (ev === 0) continue;
        if (fds[i] === this.listenFd) this.acceptOne();
        else {
          const c = this.chans.find((x) => x.fd === fds[i]);
          if (c) this.serviceChannel(c, ev);
        }
      }
    }
    for (const c of [...this.chans]) this.drop(c, 'device stopped', true, true);
    if (this.listenFd >= 0) {
      closeFd(this.listenFd);
      this.listenFd = -1;
      if (!this.abstract) {
        try {
          fs.unlinkSync(this.path);
        } catch {
          /* already gone */
        }
      }
    }
    r.i32[(this.mif + MIF.CTL_PID) >>> 2] = 0;
  }

  /** Make EP.FLAGS' link bit follow CONN (ethdev's start sets it before we know). */
  private keepLinkFlag(): void {
    this.port.setLinkUp((Atomics.load(this.eal.region.u32, (this.mif + MIF.CONN) >>> 2) & 1) === 1);
  }

  // --- server ----------------------------------------------------------------------------

  private listen(): void {
    const fd = seqpacketSocket();
    try {
      if (!this.abstract && fs.existsSync(this.path)) {
        // A socket file left by a dead server: remove it if nobody answers on it.
        const probe = seqpacketSocket();
        const e = unixConnect(probe, this.path, false);
        closeFd(probe);
        if (e === 0) throw new Error(`another server is listening on ${this.path}`);
        fs.unlinkSync(this.path);
      }
      unixListen(fd, this.path, this.abstract);
    } catch (e) {
      closeFd(fd);
      this.setString(MIF.REASON, MIF.REASON_MAX, `cannot listen: ${(e as Error).message}`);
      this.log('error', `cannot listen: ${(e as Error).message}; the port stays down`);
      return;
    }
    this.listenFd = fd;
    this.log('info', 'listening');
  }

  private acceptOne(): void {
    const fd = unixAccept(this.listenFd);
    if (fd < 0) return;
    const c = newChannel(fd);
    this.chans.push(c);
    const nbRx = this.port.nbRx;
    const nbTx = this.port.nbTx;
    // The server's RX rings are C2S, its TX rings S2C.
    this.send(c, helloMsg(APP_NAME, MEMIF_MAX_REGIONS - 1, Math.max(nbRx, 1) - 1, Math.max(nbTx, 1) - 1, MEMIF_MAX_LOG2_RING), -1);
    c.state = 'init';
  }

  // --- client ----------------------------------------------------------------------------

  private attempt(): void {
    this.count(MIF.ATTEMPTS);
    const fd = seqpacketSocket();
    const e = unixConnect(fd, this.path, this.abstract);
    if (e !== 0) {
      closeFd(fd);
      const why = e === 2 ? 'no such socket' : e === 111 ? 'connection refused' : `errno ${e}`;
      if (why !== this.lastAttemptErr) this.log('info', `cannot connect (${why}); retrying with back-off`);
      this.lastAttemptErr = why;
      this.nextAttempt = Date.now() + this.backoff;
      this.backoff = Math.min(CLIENT_BACKOFF_MAX, this.backoff * 2);
      return;
    }
    this.lastAttemptErr = '';
    const c = newChannel(fd);
    c.owned = true;
    c.state = 'hello';
    this.chans.push(c);
    this.active = c;
  }

  // --- both ------------------------------------------------------------------------------

  private send(c: Channel, m: Uint8Array, fd: number): boolean {
    const r = sendWithFd(c.fd, m, fd);
    return r === m.length;
  }

  /** Refuse: count, tell the peer why, log, drop the channel. */
  private refuse(c: Channel, reason: string): void {
    this.count(MIF.REFUSED);
    this.log('warning', `refused the peer: ${reason}`);
    this.drop(c, reason, true, false);
  }

  private serviceChannel(c: Channel, ev: number): void {
    if (ev & POLLIN) {
      // Drain every pending message (each answered in order).
      for (;;) {
        if (!this.chans.includes(c)) return;
        const got = recvWithFds(c.fd, this.rx);
        if (got.len === -11) break; // EAGAIN
        if (got.len <= 0) {
          for (const f of got.fds) closeFd(f);
          this.drop(c, c.state === 'connected' ? 'peer closed the connection' : 'peer closed the connection during setup', false, false);
          return;
        }
        if (got.len !== MEMIF_MSG_SIZE || got.truncated) {
          for (const f of got.fds) closeFd(f);
          this.refuse(c, `invalid message size ${got.len}`);
          return;
        }
        this.handle(c, this.rx.subarray(0, MEMIF_MSG_SIZE), got.fds);
      }
      return;
    }
    if (ev & (POLLHUP | POLLERR | POLLNVAL)) this.drop(c, 'peer hung up', false, false);
  }

  private handle(c: Channel, m: Uint8Array, fds: number[]): void {
    const type = msgType(m);
    const passed = fds.length > 0 ? fds[0]! : -1;
    for (let i = 1; i < fds.length; i++) closeFd(fds[i]!);
    const keep = (): void => {
      /* the fd was taken */
    };
    const discard = (): void => closeFd(passed);
    if (type === MsgType.DISCONNECT) {
      discard();
      const d = parseDisconnect(m);
      this.drop(c, `peer disconnected: ${d.reason || '(no reason given)'}`, false, false);
      return;
    }
    if (this.role === ROLE_SERVER) {
      switch (c.state) {
        case 'init': {
          discard();
          if (type !== MsgType.INIT) return this.refuse(c, `unexpected message ${MSG_NAMES[type] ?? type} (expected init)`);
          const init = parseInit(m);
          if (init.version !== MEMIF_VERSION) return this.refuse(c, 'Incompatible memif version');
          if (init.id !== this.id) return this.refuse(c, 'ID not found');
          if (this.active) return this.refuse(c, 'Already connected');
          if (init.mode !== MODE_ETHERNET) return this.refuse(c, 'Only ethernet mode supported');
          if (this.secret !== '') {
            if (init.secret === '') return this.refuse(c, 'Secret required');
            if (init.secret !== this.secret) return this.refuse(c, 'Incorrect secret');
          }
          c.owned = true;
          this.active = c;
          this.setString(MIF.PEER_NAME, 32, init.name);
          c.state = 'setup';
          this.send(c, ackMsg(), -1);
          return;
        }
        case 'setup': {
          if (type === MsgType.ADD_REGION) {
            if (passed < 0) return this.refuse(c, 'Missing region fd');
            const ar = parseAddRegion(m);
            if (ar.index !== c.regions.length || ar.index >= MEMIF_MAX_REGIONS) {
              discard();
              return this.refuse(c, `Invalid region index ${ar.index}`);
            }
            let real = -1;
            try {
              real = fs.fstatSync(passed).size;
            } catch {
              /* refused below */
            }
            if (!(ar.size > 0 && ar.size < MAX_MAPPING && ar.size <= real)) {
              discard();
              return this.refuse(c, `Invalid region size ${ar.size} (the file has ${real} bytes)`);
            }
            c.regions.push({ fd: passed, size: ar.size });
            keep();
            this.send(c, ackMsg(), -1);
            return;
          }
          if (type === MsgType.ADD_RING) {
            if (passed < 0) return this.refuse(c, 'Missing interrupt fd');
            c.eventfds.push(passed);
            const ar = parseAddRing(m);
            const nb = ar.c2s ? this.port.nbRx : this.port.nbTx;
            const map = ar.c2s ? c.c2s : c.s2c;
            if (ar.index >= nb || ar.index >= MIF_RINGS || map.has(ar.index)) return this.refuse(c, `Invalid ring index ${ar.index}`);
            if (ar.log2 > MEMIF_MAX_LOG2_RING) return this.refuse(c, `Invalid ring size 2^${ar.log2} (at most 2^${MEMIF_MAX_LOG2_RING})`);
            const reg = c.regions[ar.region];
            if (!reg) return this.refuse(c, `Invalid ring region ${ar.region}`);
            if ((ar.offset & 3) !== 0 || ar.offset + ringBytes(ar.log2) > reg.size) return this.refuse(c, `Ring ${ar.index} at offset ${ar.offset} does not fit in region ${ar.region}`);
            map.set(ar.index, { region: ar.region, offset: ar.offset, log2: ar.log2, intfd: passed });
            this.send(c, ackMsg(), -1);
            return;
          }
          discard();
          if (type === MsgType.CONNECT) {
            if (c.c2s.size === 0 && c.s2c.size === 0) return this.refuse(c, 'connect before any ring was added');
            const err = this.mapAndCheck(c);
            if (err) return this.refuse(c, err);
            this.setString(MIF.PEER_IF, 32, parseIfName(m));
            if (!this.send(c, connectMsg(MsgType.CONNECTED, this.name), -1)) return this.drop(c, 'cannot answer connect', false, false);
            this.linkUp(c);
            return;
          }
          return this.refuse(c, `unexpected message ${MSG_NAMES[type] ?? type} during setup`);
        }
        default:
          discard();
          return this.refuse(c, `unexpected message ${MSG_NAMES[type] ?? type} on a connected interface`);
      }
    }
    // client
    discard();
    switch (c.state) {
      case 'hello': {
        if (type !== MsgType.HELLO) return this.refuse(c, `unexpected message ${MSG_NAMES[type] ?? type} (expected hello)`);
        const h = parseHello(m);
        if (h.minVersion > MEMIF_VERSION || h.maxVersion < MEMIF_VERSION) return this.refuse(c, 'Incompatible memif version');
        this.setString(MIF.PEER_NAME, 32, h.name);
        const err = this.clientSetup(c, h.maxC2S + 1, h.maxS2C + 1, Math.min(h.maxLog2, this.cfgLog2));
        if (err) return this.refuse(c, err);
        c.state = 'setup';
        this.send(c, initMsg(this.id, this.secret, APP_NAME), -1);
        return;
      }
      case 'setup': {
        if (type !== MsgType.ACK) return this.refuse(c, `unexpected message ${MSG_NAMES[type] ?? type} (expected ack)`);
        const next = c.queue.shift();
        if (!next) return this.refuse(c, 'unexpected ack');
        if (c.queue.length === 0) c.state = 'connecting';
        if (!this.send(c, next.m, next.fd)) this.drop(c, 'cannot send to the server', false, false);
        return;
      }
      case 'connecting': {
        if (type !== MsgType.CONNECTED) return this.refuse(c, `unexpected message ${MSG_NAMES[type] ?? type} (expected connected)`);
        this.setString(MIF.PEER_IF, 32, parseIfName(m));
        this.linkUp(c);
        return;
      }
      default:
        return this.refuse(c, `unexpected message ${MSG_NAMES[type] ?? type} on a connected interface`);
    }
  }

  /** Client: create the region (rings + buffers) and queue ADD_REGION, ADD_RINGs, CONNECT. */
  private clientSetup(c: Channel, maxC2S: number, maxS2C: number, log2: number): string | undefined {
    const nC2S = Math.min(maxC2S, this.port.nbTx);
    const nS2C = Math.min(maxS2C, this.port.nbRx);
    if (nC2S + nS2C === 0) return 'no ring in common with the server';
    const bsize = this.cfgBsize;
    const zc = this.u32(MIF.ZC) === 1;
    const lay = regionLayout(nC2S, nS2C, log2, bsize);
    // Zero-copy: region 0 holds the rings only; the buffers are mbufs of region 1.
    const size0 = zc ? lay.bufOffset : lay.size;
    if (size0 >= MAX_MAPPING || size0 > 0xffffffff) return `region of ${size0} bytes is too large: lower rsize or bsize`;
    const fd = memfdCreate('memif_region_0', size0);
    const map = mapFd(fd, size0);
    c.regions.push({ fd, size: size0, map });
    const dv = new DataView(map.buffer);
    const rb = ringBytes(log2);
    const size = 1 << log2;
    for (let i = 0; i < nC2S + nS2C; i++) {
      const ro = i * rb;
      dv.setUint32(ro + RING.COOKIE, MEMIF_COOKIE, true);
      // We poll our RX (S2C) rings: the server need not signal them.
      dv.setUint16(ro + RING.FLAGS, i >= nC2S ? RING_FLAG_MASK_INT : 0, true);
      dv.setUint16(ro + RING.HEAD, 0, true);
      dv.setUint16(ro + RING.TAIL, 0, true);
      if (zc) continue; // the queues write each descriptor as they post an mbuf
      for (let j = 0; j < size; j++) {
        const d = ro + RING.DESC + j * DESC.BYTES;
        dv.setUint16(d + DESC.FLAGS, 0, true);
        dv.setUint16(d + DESC.REGION, 0, true);
        dv.setUint32(d + DESC.LENGTH, bsize, true);
        dv.setUint32(d + DESC.OFFSET, lay.bufOffset + (i * size + j) * bsize, true);
      }
    }
    c.queue.push({ m: addRegionMsg(0, size0), fd });
    if (zc) {
      // Region 1 is the EAL region file: mbuf offsets are offsets in it, so a descriptor
      // names an mbuf's data as (region 1, BUF_OFF + DATA_OFF). The peer maps all of it.
      let rfd: number;
      try {
        rfd = fs.openSync(this.eal.region.path, 'r+');
      } catch (e) {
        return `zero-copy: cannot open the shared region ${this.eal.region.path}: ${(e as Error).message}`;
      }
      c.regions.push({ fd: rfd, size: this.eal.region.size });
      c.queue.push({ m: addRegionMsg(1, this.eal.region.size), fd: rfd });
    }
    for (let i = 0; i < nC2S + nS2C; i++) {
      const c2s = i < nC2S;
      const index = c2s ? i : i - nC2S;
      const efd = eventfdCreate();
      c.eventfds.push(efd);
      (c2s ? c.c2s : c.s2c).set(index, { region: 0, offset: i * rb, log2, intfd: efd });
      c.queue.push({ m: addRingMsg({ c2s, index, region: 0, offset: i * rb, log2, privHdr: 0 }), fd: efd });
    }
    c.queue.push({ m: connectMsg(MsgType.CONNECT, this.name), fd: -1 });
    this.setU32(MIF.RUN_LOG2, log2);
    this.setU32(MIF.RUN_BSIZE, bsize);
    return undefined;
  }

  /** Server at CONNECT: map the client's regions, check each ring, take our RX rings to polling. */
  private mapAndCheck(c: Channel): string | undefined {
    for (const reg of c.regions) {
      try {
        reg.map = mapFd(reg.fd, reg.size);
      } catch (e) {
        return `cannot map a region: ${(e as Error).message}`;
      }
    }
    let log2 = -1;
    for (const [c2s, map] of [[true, c.c2s], [false, c.s2c]] as const) {
      for (const [idx, def] of map) {
        const reg = c.regions[def.region]!;
        const dv = new DataView(reg.map!.buffer);
        if (dv.getUint32(def.offset + RING.COOKIE, true) !== MEMIF_COOKIE) return `Wrong ring: ${c2s ? 'c2s' : 's2c'} ring ${idx} has no memif cookie`;
        dv.setUint16(def.offset + RING.HEAD, 0, true);
        dv.setUint16(def.offset + RING.TAIL, 0, true);
        if (c2s) dv.setUint16(def.offset + RING.FLAGS, RING_FLAG_MASK_INT, true);
        if (log2 >= 0 && def.log2 !== log2) return 'rings of different sizes';
        log2 = def.log2;
      }
    }
    this.setU32(MIF.RUN_LOG2, log2);
    this.setU32(MIF.RUN_BSIZE, this.cfgBsize);
    return undefined;
  }

  private linkUp(c: Channel): void {
    c.state = 'connected';
    const r = this.eal.region;
    const mif = this.mif;
    if (this.role === ROLE_CLIENT && this.u32(MIF.ZC) === 0) {
      // Post every buffer of our RX (S2C) rings now: the server reset head and tail when it
      // took CONNECT (DPDK's memif_connect does), and it may transmit as soon as it has sent
      // CONNECTED; our RX queues start from head = ring size (memif-queue.ts rebind).
      const ru16 = new Uint16Array(c.regions[0]!.map!.buffer);
      for (const def of c.s2c.values()) Atomics.store(ru16, (def.offset + RING.HEAD) >>> 1, (1 << def.log2) & 0xffff);
    }
    // Publish the connection (CONN is even: nobody reads these now).
    r.u32[(mif + MIF.NB_REGIONS) >>> 2] = c.regions.length;
    for (let i = 0; i < c.regions.length; i++) {
      const at = mif + MIF.REGIONS + i * MIF.REGION_BYTES;
      r.i32[at >>> 2] = c.regions[i]!.fd;
      r.f64[(at + 8) >>> 3] = c.regions[i]!.size;
    }
    for (const c2s of [true, false]) {
      const map = c2s ? c.c2s : c.s2c;
      let n = 0;
      for (let q = 0; q < MIF_RINGS; q++) {
        const at = mifRingAt(mif, c2s, q);
        const def = map.get(q);
        r.u32[at >>> 2] = def ? def.region : 0xffffffff;
        r.u32[(at + 4) >>> 2] = def ? def.offset : 0;
        r.u32[(at + 8) >>> 2] = def ? def.log2 : 0;
        r.i32[(at + 12) >>> 2] = def ? def.intfd : -1;
        if (def) n = q + 1;
      }
      r.u32[(mif + (c2s ? MIF.RUN_C2S : MIF.RUN_S2C)) >>> 2] = n;
    }
    this.setString(MIF.REASON, MIF.REASON_MAX, '');
    this.count(MIF.CONNECTS);
    const conn = Atomics.load(r.u32, (mif + MIF.CONN) >>> 2);
    Atomics.store(r.u32, (mif + MIF.CONN) >>> 2, ((conn >>> 1) + 1) * 2 + 1);
    this.keepLinkFlag();
    this.backoff = CLIENT_BACKOFF_MIN;
    const peer = r.readString(mif + MIF.PEER_NAME, 32);
    const pif = r.readString(mif + MIF.PEER_IF, 32);
    this.log('info', `link up: connected to ${pif || '?'} (${peer || '?'}), ${this.u32(MIF.RUN_C2S)} c2s + ${this.u32(MIF.RUN_S2C)} s2c rings of ${1 << this.u32(MIF.RUN_LOG2)}, buffers of ${this.u32(MIF.RUN_BSIZE)} bytes`);
  }

  private setLinkDown(reason: string): void {
    const r = this.eal.region;
    const at = (this.mif + MIF.CONN) >>> 2;
    const conn = Atomics.load(r.u32, at);
    // Even generation first: queues stop using the mappings before anything is closed.
    Atomics.store(r.u32, at, ((conn >>> 1) + 1) * 2);
    if (reason) this.setString(MIF.REASON, MIF.REASON_MAX, reason);
    this.keepLinkFlag();
  }

  /**
   * End channel c: tell the peer why (tell), take the link down if it was the port's,
   * close its descriptors, unmap what this thread mapped. Client: schedule a retry.
   */
  private drop(c: Channel, reason: string, tell: boolean, stopping: boolean): void {
    const wasActive = this.active === c;
    const wasUp = c.state === 'connected';
    if (tell) sendWithFd(c.fd, disconnectMsg(reason), -1);
    if (wasActive) {
      this.setLinkDown(reason);
      this.active = undefined;
      if (wasUp) {
        this.count(MIF.DISCONNECTS);
        this.log('warning', `link down: ${reason}`);
      } else if (!stopping && !tell) {
        this.log('info', `connection ended during setup: ${reason}`);
      }
    }
    this.chans = this.chans.filter((x) => x !== c);
    closeFd(c.fd);
    for (const reg of c.regions) {
      if (reg.map) unmap(reg.map);
      closeFd(reg.fd);
    }
    for (const f of c.eventfds) closeFd(f);
    c.regions = [];
    c.eventfds = [];
    if (this.role === ROLE_CLIENT && wasActive && !stopping) {
      this.nextAttempt = Date.now() + this.backoff;
      this.backoff = Math.min(CLIENT_BACKOFF_MAX, this.backoff * 2);
    }
  }
}

function newChannel(fd: number): Channel {
  return { fd, owned: false, state: 'hello', queue: [], regions: [], c2s: new Map(), s2c: new Map(), eventfds: [] };
}
