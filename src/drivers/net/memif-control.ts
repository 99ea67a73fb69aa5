/**
 * net_memif's control channel: the `Control` loop that runs in ONE helper thread of the
 * process that started the port (memif-control-worker.ts). It owns the sockets (server:
 * the listening one and each accepted peer; client: its connection, retried with
 * back-off), reads whole messages and hands each to the state machine's dispatcher
 * (memif-transitions.ts: the table; memif-server.ts / memif-client.ts: one handler per
 * message), and publishes the connection in the port's MIF table (memif-table.ts) for
 * the burst paths (memif-queue.ts), which never touch a socket: they read MIF.CONN once
 * per burst and re-map when it changed.
 *
 * Link up (linkUp) writes RUN_*, REGIONS and RINGS while CONN is even, then the odd CONN;
 * link down (setLinkDown) stores the new even CONN BEFORE anything is closed or unmapped.
 * After a disconnect nothing of the peer's memory is touched by this thread, and each
 * queue drops its mappings at its next burst.
 *
 * A refusal (message size, order, or any check of a handler) sends DISCONNECT with the
 * reason, counts MIF.REFUSED, logs one line and closes the channel.
 */
import type { Eal } from '../../eal/eal.js';
import type { Port } from '../../ethdev/driver.js';
import {
  closeFd, pollFds, POLLERR, POLLHUP, POLLIN, POLLNVAL, recvWithFds, seqpacketSocket, sendWithFd, unixAccept, unixConnect, unixListen, unmap,
} from '../../native/libc.js';
import { APP_NAME, newChannel, type Channel, type ControlOps } from './memif-channel.js';
import { disconnectMsg, helloMsg, MEMIF_MAX_LOG2_RING, MEMIF_MAX_REGIONS, MEMIF_MSG_SIZE, RING } from './memif-proto.js';
import { boundSocket, removeBoundSocket, type BoundSocket } from './memif-socket.js';
import { dispatch } from './memif-transitions.js';
import { MIF, MIF_NO_RING, MIF_RING, MIF_RINGS, mifRingAt, readConfig, ROLE_CLIENT, ROLE_SERVER, type MemifConfig } from './memif-table.js';

/** Words shared between the starting thread and the control thread (a SharedArrayBuffer). */
export const CW = { STOP: 0, READY: 1, DONE: 2 } as const;

const CLIENT_BACKOFF_MIN = 50;
const CLIENT_BACKOFF_MAX = 1000;

export class Control implements ControlOps {
  readonly eal: Eal;
  readonly port: Port;
  readonly cfg: MemifConfig;
  active: Channel | undefined;
  private readonly mif: number;
  private readonly ctl: Int32Array;
  /** Signalled by the driver's stop after it sets CW.STOP: the loop polls it with the sockets. */
  private readonly stopFd: number;
  private listenFd = -1;
  /** Server, socket file: the socket bind created (removed at stop only if still it). */
  private bound: BoundSocket | undefined;
  private chans: Channel[] = [];
  private nextAttempt = 0;
  private backoff = CLIENT_BACKOFF_MIN;
  private lastAttemptErr = '';
  private readonly rx = new Uint8Array(MEMIF_MSG_SIZE + 64);
  private readonly revents = new Int16Array(64);

  constructor(eal: Eal, port: Port, mif: number, ctl: Int32Array, stopFd: number) {
    this.eal = eal;
    this.port = port;
    this.mif = mif;
    this.ctl = ctl;
    this.stopFd = stopFd;
    this.cfg = readConfig(eal.region, mif);
  }

  private get server(): boolean {
    return this.cfg.role === ROLE_SERVER;
  }

  private log(level: 'error' | 'warning' | 'info' | 'debug', msg: string): void {
    this.eal.log(level, `${this.port.name}: memif ${this.server ? 'server' : 'client'} ${this.cfg.abstract ? '@' : ''}${this.cfg.path}: ${msg}`);
  }

  private u32(off: number): number {
    return this.eal.region.u32At(this.mif + off);
  }

  setU32(off: number, v: number): void {
    this.eal.region.u32[(this.mif + off) >>> 2] = v;
  }

  private count(off: number): void {
    this.eal.region.f64[(this.mif + off) >>> 3]! += 1;
  }

  setString(off: number, max: number, s: string): void {
    this.eal.region.writeString(this.mif + off, max, s.slice(0, max - 1));
  }

  /** Run until CW.STOP is set; then disconnect (telling the peer) and return. */
  run(): void {
    const r = this.eal.region;
    r.i32[(this.mif + MIF.CTL_PID) >>> 2] = process.pid;
    this.setLinkDown('');
    if (this.server) this.listen();
    Atomics.store(this.ctl, CW.READY, 1);
    Atomics.notify(this.ctl, CW.READY);
    const fds: number[] = [];
    const events: number[] = [];
    const client = this.cfg.role === ROLE_CLIENT;
    while (Atomics.load(this.ctl, CW.STOP) === 0) {
      if (client && !this.active && Date.now() >= this.nextAttempt) this.attempt();
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
      const timeout = client && !this.active ? Math.max(1, this.nextAttempt - Date.now()) : -1;
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
      if (!this.cfg.abstract) removeBoundSocket(this.cfg.path, this.bound);
    }
    r.i32[(this.mif + MIF.CTL_PID) >>> 2] = 0;
  }

  /** Make EP.FLAGS' link bit follow CONN (ethdev's start sets it before we know). */
  private keepLinkFlag(): void {
    this.port.setLinkUp((Atomics.load(this.eal.region.u32, (this.mif + MIF.CONN) >>> 2) & 1) === 1);
  }

  // --- sockets -----------------------------------------------------------------------------

  /** Server: bind and listen (the driver's start made the path free: memif-socket.ts). */
  private listen(): void {
    const fd = seqpacketSocket();
    try {
      unixListen(fd, this.cfg.path, this.cfg.abstract);
    } catch (e) {
      closeFd(fd);
      this.setString(MIF.REASON, MIF.REASON_MAX, `cannot listen: ${(e as Error).message}`);
      this.log('error', `cannot listen: ${(e as Error).message}; the port stays down`);
      return;
    }
    if (!this.cfg.abstract) this.bound = boundSocket(this.cfg.path);
    this.listenFd = fd;
    this.log('info', 'listening');
  }

  private acceptOne(): void {
    const fd = unixAccept(this.listenFd);
    if (fd < 0) return;
    const c = newChannel(fd, 'init');
    this.chans.push(c);
    // The server's RX rings are C2S, its TX rings S2C.
    this.send(c, helloMsg(APP_NAME, MEMIF_MAX_REGIONS - 1, Math.max(this.port.nbRx, 1) - 1, Math.max(this.port.nbTx, 1) - 1, MEMIF_MAX_LOG2_RING));
  }

  /** Client: one connection attempt; on failure the next is due after the back-off. */
  private attempt(): void {
    this.count(MIF.ATTEMPTS);
    const fd = seqpacketSocket();
    const e = unixConnect(fd, this.cfg.path, this.cfg.abstract);
    if (e !== 0) {
      closeFd(fd);
      const why = e === 2 ? 'no such socket' : e === 111 ? 'connection refused' : `errno ${e}`;
      if (why !== this.lastAttemptErr) this.log('info', `cannot connect (${why}); retrying with back-off`);
      this.lastAttemptErr = why;
      this.retryLater();
      return;
    }
    this.lastAttemptErr = '';
    const c = newChannel(fd, 'hello');
    this.chans.push(c);
    this.active = c;
  }

  private retryLater(): void {
    this.nextAttempt = Date.now() + this.backoff;
    this.backoff = Math.min(CLIENT_BACKOFF_MAX, this.backoff * 2);
  }

  send(c: Channel, m: Uint8Array, fd = -1): boolean {
    return sendWithFd(c.fd, m, fd) === m.length;
  }

  refuse(c: Channel, reason: string): 'closed' {
    this.count(MIF.REFUSED);
    this.log('warning', `refused the peer: ${reason}`);
    return this.drop(c, reason, true, false);
  }

  /** Read every pending message of `c`, each handled (and answered) in order. */
  private serviceChannel(c: Channel, ev: number): void {
    if (ev & POLLIN) {
      while (c.state !== 'closed') {
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
        dispatch(this, c, this.rx.subarray(0, MEMIF_MSG_SIZE), got.fds);
      }
      return;
    }
    if (ev & (POLLHUP | POLLERR | POLLNVAL)) this.drop(c, 'peer hung up', false, false);
  }

  // --- the link ----------------------------------------------------------------------------

  linkUp(c: Channel): void {
    const r = this.eal.region;
    const mif = this.mif;
    if (this.cfg.role === ROLE_CLIENT && !this.cfg.zc) {
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
        r.u32[(at + MIF_RING.REGION) >>> 2] = def ? def.region : MIF_NO_RING;
        r.u32[(at + MIF_RING.OFFSET) >>> 2] = def ? def.offset : 0;
        r.u32[(at + MIF_RING.LOG2) >>> 2] = def ? def.log2 : 0;
        r.i32[(at + MIF_RING.INTFD) >>> 2] = def ? def.intfd : -1;
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
  drop(c: Channel, reason: string, tell: boolean, stopping: boolean): 'closed' {
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
    c.state = 'closed';
    this.chans = this.chans.filter((x) => x !== c);
    closeFd(c.fd);
    for (const reg of c.regions) {
      if (reg.map) unmap(reg.map);
      closeFd(reg.fd);
    }
    for (const f of c.eventfds) closeFd(f);
    c.regions = [];
    c.eventfds = [];
    if (this.cfg.role === ROLE_CLIENT && wasActive && !stopping) this.retryLater();
    return 'closed';
  }
}
