/**
 * mp_server: the server of the guide's client-server example (DPDK's
 * examples/multi_process/client_server_mp/mp_server).
 *
 *   mpdk mp_server -l 1-2 --vdev=net_ring0 --vdev=net_ring1 -- -p 3 -n 2
 *
 * Primary only. It creates the packet pool "MProc_pktmbuf_pool", one SP/SC ring per client
 * ("MProc_Client_RX_<id>"), configures every port of -p with 1 RX queue and one TX queue
 * per client (client k transmits on TX queue k), starts them, and stores the port list in
 * memzone "MProc_port_info" (common.ts) so a client needs only its id.
 *
 * The main (lowest) lcore does all RX: it reads a burst from each port in turn and deals
 * the packets round-robin to per-client buffers, then makes ONE bulk enqueue per client
 * per burst; a burst a client's ring cannot take is freed and counted as that client's
 * rx_drop (DPDK's flush_rx_queue). A second lcore, if given, prints DPDK's statistics
 * block every second (stats.ts). The loop runs in slices of a few ms and yields to Node's
 * event loop between them, so signals are handled; an empty round idles (IdlePolicy).
 *
 * Every packet the server holds is in its ownership record (ownership/hands.ts): array 0
 * is the receive burst (rxBurst writes straight into it), array 1 + k the burst dealt to
 * client k. Per burst: receive (window on the port's SC RX ring), deal into the client
 * arrays, commit their counts, clear array 0, then one bulk enqueue per client (window on
 * its SP ring), freeing what a full ring refuses (window on the pool cache).
 *
 * The server watches every other process of the instance (pidfd death watch): when one
 * dies it calls reclaimDead at once, so what it held (its record, its lcore caches) is
 * back in the pool within milliseconds. A killed server can be restarted while the clients run
 * (they forward on) with --proc-type=auto: the new one finds the live instance (the EAL adopts
 * it; a plain primary is refused while processes live, T3), checks that
 * its -p and -n match the port table, reclaims what the dead server held, takes over its
 * RX queues and resumes distributing. It refuses to run as a secondary.
 */
import {
  stderrLogger, Eal, EthDev, Hands, IdlePolicy, MpdkError, PktmbufPool, Ring, UsageError, formatMac,
  parseArgs, parseIdleMode, parsePortmask, thisProcess, stateOf, identityOf, type ProgramArgs, type ProgramSpec, reclaimDead, remoteLaunch, watchDeath, type ReclaimReport, type Sink, type Source,
} from '../../index.js';
import { MAX_CLIENTS, MAX_PI_PORTS, MZ_PORT_INFO, PC, PI, PKTMBUF_POOL_NAME, PORT_INFO_BYTES, PORT_INFO_MAGIC, PORT_INFO_VERSION, PortInfoView, clientBlock, clientRingName } from './common.js';
import type { StatsArg } from './stats.js';

/** DPDK's PACKET_READ_SIZE. */
const BURST = 32;
const RX_DESC = 1024;
const TX_DESC = 1024;
const MBUF_CACHE = 512;
/** Client ring capacity. DPDK uses 128; Node processes on shared cores are descheduled for
 *  milliseconds, so the ring absorbs more before the server must drop. */
const DEFAULT_RING_SIZE = 2048;
/** A forwarding slice: the loop yields to the event loop this often (ms). */
const SLICE_MS = 4;

export const spec: ProgramSpec = {
  name: 'mp_server',
  synopsis: '[EAL options] -- -p PORTMASK -n NUM_CLIENTS [--ring-size N] [--idle=poll|sleep]',
  eal: true,
  about: `The server runs as the primary. Its lowest lcore receives from every port and hands the packets
round-robin to the clients' rings; a second lcore, if given, prints statistics every second.
Start it first, then the clients: mpdk mp_client -l 3 --proc-type=auto -- -n 0`,
  options: [
    { names: ['-p'], value: 'PORTMASK', help: 'hexadecimal mask of the ports to use (an even number of them, paired 0-1, 2-3, ...)' },
    { names: ['-n'], value: 'NUM_CLIENTS', help: `number of client processes (1..${MAX_CLIENTS})` },
    { names: ['--ring-size'], value: 'N', help: `packets each client ring holds (default ${DEFAULT_RING_SIZE})` },
    { names: ['--idle'], value: 'MODE', help: 'sleep (default: an idle server uses no CPU) or poll (DPDK: spin)' },
  ],
};

interface AppOptions {
  ports: number[];
  numClients: number;
  ringSize: number;
  idle: 'poll' | 'sleep';
}

function parseApp(o: ProgramArgs): AppOptions {
  const pv = o.value('-p');
  const ports = parsePortmask(pv);
  if (ports.length % 2 !== 0) {
    throw new UsageError(`-p ${pv} selects ${ports.length} port${ports.length === 1 ? '' : 's'} (${ports.join(', ')}): clients forward between pairs of ports, so give an even number`);
  }
  if (ports.some((p) => p >= MAX_PI_PORTS)) throw new UsageError(`-p ${pv}: ports go up to ${MAX_PI_PORTS - 1}`);
  if (!o.has('-n')) throw new UsageError(`the number of clients is required: -n NUM_CLIENTS (1..${MAX_CLIENTS})`);
  const numClients = o.int('-n', 1, MAX_CLIENTS, '-n (number of clients)')!;
  const ringSize = o.int('--ring-size', 32, 1 << 20) ?? DEFAULT_RING_SIZE;
  const iv = o.value('--idle');
  const idle = iv === undefined ? 'sleep' : parseIdleMode(iv);
  if (!idle) throw new UsageError(`invalid --idle '${iv}': expected poll or sleep`);
  return { ports, numClients, ringSize, idle };
}

export async function main(argv: string[]): Promise<number> {
  // Check everything that needs no instance before touching one: a refused start creates nothing.
  const parsed = parseArgs(spec, argv);
  const app = parseApp(parsed);
  if (parsed.eal!.procType === 'secondary') {
    throw new UsageError(`mp_server runs only as the primary process (it creates the pool, rings and ports the clients use); drop --proc-type=secondary`);
  }
  const { eal } = Eal.init(argv, { name: 'mp_server', logger: stderrLogger, handleSignals: true, only: 'primary' });
  let stopping = false;
  const cleanup: (() => void)[] = [];
  const closeAll = (): void => {
    for (const f of cleanup.splice(0).reverse()) {
      try {
        f();
      } catch {
        /* best effort on the way out */
      }
    }
    eal.close();
  };
  process.once('exit', closeAll);
  let info: PortInfoView;
  let dev: EthDev;
  let pool: PktmbufPool;
  const rings: Ring[] = [];
  try {
    if (!eal.isPrimary) {
      throw new MpdkError('EBUSY', `a primary process (pid ${eal.primaryPid()}) is already running for --file-prefix=${eal.filePrefix}; mp_server runs only as the primary: stop that one first`);
    }
    dev = EthDev.attach(eal);
    const missing = app.ports.filter((p) => p >= dev.count);
    if (missing.length > 0) {
      throw new MpdkError('ENODEV', `-p selects port${missing.length === 1 ? '' : 's'} ${missing.join(', ')}, but this instance has ${dev.count} port${dev.count === 1 ? '' : 's'}${dev.count ? ` (0..${dev.count - 1})` : ''}; add --vdev options (e.g. --vdev=net_ring0 --vdev=net_ring1) or change -p`);
    }
    if (eal.adopted) {
      ({ info, pool } = adopt(eal, app, rings));
    } else {
      ({ info, pool } = create(eal, dev, app, rings));
    }
  } catch (e) {
    process.off('exit', closeAll);
    closeAll();
    throw e;
  }

  const macOf = (p: number): string => formatMac(dev.macAddr(p), 0);
  process.stdout.write(`mp_server: ${app.numClients} client ring${app.numClients === 1 ? '' : 's'} (${rings.map((x) => x.name).join(', ')}), ports ${app.ports.join(', ')}; pid ${process.pid}\n`);
  process.stdout.write(`Finished Process Init.\n`);

  // Statistics lcore (DPDK: one of the other lcores displays, the rest sleep).
  const stop = new SharedArrayBuffer(4);
  let statsJob: ReturnType<typeof remoteLaunch> | undefined;
  const statsLcore = eal.workerLcores[0];
  if (statsLcore !== undefined) {
    const macs = Object.fromEntries(app.ports.map((p) => [p, macOf(p)]));
    statsJob = remoteLaunch(eal, statsLcore, new URL('./stats.js', import.meta.url), { stop, macs, clear: process.stdout.isTTY === true, periodMs: 1000 } satisfies StatsArg);
    statsJob.done.catch((e: Error) => process.stderr.write(`mp_server: the statistics lcore failed: ${e.message}\n`));
  }

  const fwd = new Forwarder(eal, dev, info, rings, app.idle);
  cleanup.push(() => fwd.hands.close());
  watchPeers(eal, info, cleanup);
  watchStalls(info, rings, cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => (stopping = true));

  while (!stopping) {
    fwd.slice(SLICE_MS);
    await new Promise<void>((res) => setImmediate(res));
  }
  Atomics.store(new Int32Array(stop), 0, 1);
  if (statsJob) await Promise.race([statsJob.done.catch(() => 0), new Promise((res) => setTimeout(res, 1500))]);
  process.stdout.write('\n' + info.format(macOf));
  process.stdout.write(`mp_server: stopped\n`);
  for (const p of app.ports) {
    try {
      dev.stop(p);
    } catch {
      /* on the way out */
    }
  }
  dev.close();
  return 0;
}

/** A fresh instance: DPDK's init (pool, client rings, ports), then the port table. */
function create(eal: Eal, dev: EthDev, app: AppOptions, rings: Ring[]): { info: PortInfoView; pool: PktmbufPool } {
  const np = app.ports.length;
  const nc = app.numClients;
  // DPDK's init_mbuf_pools, plus the far side of software ports (the wire fills the RX
  // rings from this pool) and a few more lcore caches (clients, pktgen).
  const nbMbufs = RX_DESC * np * 2 + nc * (app.ringSize + TX_DESC * np + 2 * BURST * np) + (nc + 4) * Math.ceil(MBUF_CACHE * 1.5);
  const pool = PktmbufPool.create(eal, PKTMBUF_POOL_NAME, { count: nbMbufs, cacheSize: MBUF_CACHE });
  for (let i = 0; i < nc; i++) rings.push(Ring.create(eal, clientRingName(i), { count: app.ringSize, singleProducer: true, singleConsumer: true, exactSize: true }));
  for (const p of app.ports) {
    dev.configure(p, { rxQueues: 1, txQueues: nc });
    dev.rxQueueSetup(p, 0, { descriptors: RX_DESC, pool });
    for (let q = 0; q < nc; q++) dev.txQueueSetup(p, q, { descriptors: TX_DESC });
    dev.start(p);
  }
  if (process.env.MPDK_TEST_HOOK === 'mp_server:setup') {
    process.stderr.write('MPDK_TEST_HOOK mp_server:setup reached\n'); // a server stuck before its port table
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
  const mz = eal.memzones.reserve(MZ_PORT_INFO, PORT_INFO_BYTES, 64);
  const r = eal.region;
  const z = mz.offset;
  r.u32[(z + PI.VERSION) >>> 2] = PORT_INFO_VERSION;
  r.u32[(z + PI.NUM_PORTS) >>> 2] = np;
  r.u32[(z + PI.NUM_CLIENTS) >>> 2] = nc;
  r.u32[(z + PI.RING_SIZE) >>> 2] = rings[0]!.capacity;
  r.i32[(z + PI.SERVER_PID) >>> 2] = process.pid;
  r.f64[(z + PI.SERVER_START) >>> 3] = thisProcess().start;
  app.ports.forEach((p, i) => (r.u8[z + PI.PORT_ID + i] = p));
  r.storeRelease(z + PI.MAGIC, PORT_INFO_MAGIC);
  return { info: new PortInfoView(eal, z), pool };
}

/**
 * A live instance whose server died (the EAL adopted it): check that it is a
 * client-server instance with our -p and -n, return what the dead server (and any dead
 * client) held, and take the server's place in the port table. Nothing is re-created:
 * the clients see one line (theirs), nothing else.
 */
function adopt(eal: Eal, app: AppOptions, rings: Ring[]): { info: PortInfoView; pool: PktmbufPool } {
  const others = eal.processes.livePids();
  const info = PortInfoView.lookup(eal);
  const mismatch: string[] = [];
  if (info.numClients !== app.numClients) mismatch.push(`-n ${app.numClients} (it runs ${info.numClients} clients)`);
  if (info.portIds.join(',') !== app.ports.join(',')) mismatch.push(`-p ${app.ports.join(',')} (its ports are ${info.portIds.join(',')})`);
  if (mismatch.length > 0) {
    throw new MpdkError('EINVAL', `the live instance '${eal.filePrefix}' (processes ${others.join(', ')}) was set up with other options: ${mismatch.join(', ')}; restart the server with the same -p and -n, or stop its clients first`);
  }
  const pool = PktmbufPool.lookup(eal, PKTMBUF_POOL_NAME);
  for (let i = 0; i < info.numClients; i++) rings.push(Ring.lookup(eal, clientRingName(i)));
  const rep = reclaimDead(eal); // before we touch the dead server's queues and rings
  const r = eal.region;
  r.i32[(info.offset + PI.SERVER_PID) >>> 2] = process.pid;
  r.f64[(info.offset + PI.SERVER_START) >>> 3] = thisProcess().start;
  process.stdout.write(`mp_server: adopted the live instance '${eal.filePrefix}' (processes ${others.join(', ')}); ${describeReclaim(rep)}\n`);
  return { info, pool };
}

function describeReclaim(rep: ReclaimReport): string {
  const pools = Object.entries(rep.pools).map(([n, p]) => `${p.returned + p.flushed} buffers back to ${n}`);
  if (rep.processes.length === 0) return 'nothing to reclaim';
  return `reclaimed what ${rep.processes.map((p) => `pid ${p.pid}`).join(', ')} held: ${pools.join(', ') || 'nothing'}${rep.errors.length ? ` (${rep.errors.join('; ')})` : ''}`;
}

/**
 * Watch every other process of the instance (clients, a traffic generator, tools that
 * attach): when one dies, return what it held at once (reclaimDead), from the event loop,
 * between forwarding slices. The process table is read every 100 ms for newcomers (shared
 * memory only); each is watched through its pidfd (watchDeath: told of its death, also one
 * that died before it was seen), so an idle server reads nothing from /proc.
 */
function watchPeers(eal: Eal, info: PortInfoView, cleanup: (() => void)[]): void {
  // slot -> the process seen in it. A slot whose process changed had its process released
  // (after its death: the old watch fires, or has); the new one is watched beside it.
  const seen = new Map<number, { pid: number; start: number; stop: () => void }>();
  const gone = (pid: number, name: string): void => {
    let who = name || 'a process';
    for (let id = 0; id < info.numClients; id++) if (info.client(id).pid === pid) who = `client ${id}`;
    try {
      process.stdout.write(`mp_server: ${who} (pid ${pid}) exited; ${describeReclaim(reclaimDead(eal))}\n`);
    } catch (e) {
      process.stderr.write(`mp_server: reclaiming what ${who} (pid ${pid}) held failed: ${(e as Error).message}\n`);
    }
  };
  const look = (): void => {
    for (const { slot, pid, start } of eal.processes.registered()) {
      const s = seen.get(slot);
      if (pid === process.pid || (s?.pid === pid && s.start === start)) continue;
      const name = eal.processes.nameOf(slot);
      seen.set(slot, { pid, start, stop: watchDeath(pid, start, () => gone(pid, name)) });
    }
  };
  look();
  const t = setInterval(look, 100);
  t.unref();
  cleanup.push(() => {
    clearInterval(t);
    for (const s of seen.values()) s.stop();
    seen.clear();
  });
}

/** A client whose ring stays full this long is named (within a second of its stop). */
const STALL_NOTICE_MS = 500;

/**
 * Flow control, said: the distribution never waits for a client (a full ring's burst is
 * dropped and counted, rx_drop, and the others receive on). A client whose ring stays full
 * while drops are counted for it (stopped, or too slow) is named once, with its pid and
 * state, from the event loop (every 100 ms, between forwarding slices); and again when its
 * ring takes packets again, with what was dropped meanwhile.
 */
function watchStalls(info: PortInfoView, rings: Ring[], cleanup: (() => void)[]): void {
  const since = new Float64Array(rings.length); // 0: not stalled
  const base = new Float64Array(rings.length); // rx_drop when the stall began
  const last = Float64Array.from(rings, (_, k) => info.client(k).rxDrop);
  const named = new Uint8Array(rings.length);
  const t = setInterval(() => {
    const now = performance.now();
    for (let k = 0; k < rings.length; k++) {
      const c = info.client(k);
      const ring = rings[k]!;
      const dropping = c.rxDrop > last[k]!;
      if (since[k] === 0) {
        if (dropping) {
          since[k] = now;
          base[k] = last[k]!;
        }
      } else if (!dropping && ring.count() < ring.capacity / 2) {
        if (named[k]) process.stdout.write(`mp_server: client ${k} (pid ${c.pid}) receives again after ${((now - since[k]!) / 1000).toFixed(1)} s; ${c.rxDrop - base[k]!} packets dropped for it meanwhile\n`);
        since[k] = 0;
        named[k] = 0;
      } else if (!named[k] && now - since[k]! >= STALL_NOTICE_MS) {
        named[k] = 1;
        const who = c.pid > 0 ? `pid ${c.pid}, ${stateOf(identityOf(c.pid))}` : 'no client process';
        process.stdout.write(`mp_server: client ${k} (${who}) takes nothing: its ring ${ring.name} is full, ${c.rxDrop - base[k]!} packets dropped for it (rx_drop); the other clients receive on\n`);
      }
      last[k] = c.rxDrop;
    }
  }, 100);
  t.unref();
  cleanup.push(() => clearInterval(t));
}

/**
 * The RX lcore's state: everything the hot loop touches, allocated once. Arrays of its
 * record: 0 = the received burst, 1 + k = the part dealt to client k.
 */
class Forwarder {
  readonly hands: Hands;
  private readonly srcs: Source[];
  private readonly sinks: Sink[];
  private readonly idle: IdlePolicy;
  private readonly f64: Float64Array;
  /** f64 index of RX[port index]. */
  private readonly rxIdx: Int32Array;
  /** f64 index of each client's RX and RX_DROP. */
  private readonly clRx: Int32Array;
  private readonly clDrop: Int32Array;
  private readonly cbuf: Uint32Array[];
  private readonly cnt: Int32Array;
  private next = 0;

  constructor(eal: Eal, dev: EthDev, info: PortInfoView, rings: Ring[], idle: 'poll' | 'sleep') {
    this.hands = Hands.open(eal, 'mp_server', 1 + rings.length, BURST);
    this.srcs = info.portIds.map((p) => this.hands.rxSource(dev, p, 0));
    this.sinks = rings.map((ring) => this.hands.sink(ring, true));
    // Interrupt mode where the driver has it (memif): sleep on the RX queues' wake-up fds.
    this.idle = new IdlePolicy({ mode: idle, wake: info.portIds.map((p) => dev.rxQueue(p, 0)) });
    this.f64 = eal.region.f64;
    this.rxIdx = Int32Array.from(info.portIds, (_, i) => (info.offset + PI.RX + i * 8) >>> 3);
    this.clRx = Int32Array.from(rings, (_, i) => (clientBlock(info.offset, i) + PC.RX) >>> 3);
    this.clDrop = Int32Array.from(rings, (_, i) => (clientBlock(info.offset, i) + PC.RX_DROP) >>> 3);
    this.cbuf = rings.map((_, k) => this.hands.array(1 + k));
    this.cnt = new Int32Array(rings.length);
  }

  /** Forward for about `ms` milliseconds. */
  slice(ms: number): void {
    const end = performance.now() + ms;
    const srcs = this.srcs;
    const np = srcs.length;
    const hands = this.hands;
    const f64 = this.f64;
    const rxIdx = this.rxIdx;
    const idle = this.idle;
    for (let round = 1; ; round++) {
      let got = 0;
      for (let p = 0; p < np; p++) {
        const n = hands.rx(0, srcs[p]!, BURST);
        if (n === 0) continue;
        f64[rxIdx[p]!] += n;
        got += n;
        this.deal(n);
      }
      if (got === 0) idle.idle();
      else idle.busy();
      if ((got === 0 || (round & 63) === 0) && performance.now() >= end) return; // an idle round may have slept
    }
  }

  /** Round-robin the burst in array 0 to the clients' arrays, then one bulk enqueue per client. */
  private deal(n: number): void {
    const nc = this.sinks.length;
    const hands = this.hands;
    if (nc === 1) {
      this.flush(0, 0);
      return;
    }
    const cbuf = this.cbuf;
    const cnt = this.cnt;
    for (let k = 0; k < nc; k++) cbuf[k] = hands.array(1 + k);
    const buf = hands.array(0);
    let c = this.next;
    for (let i = 0; i < n; i++) {
      cbuf[c]![cnt[c]!++] = buf[i]!;
      if (++c === nc) c = 0;
    }
    this.next = c;
    for (let k = 0; k < nc; k++) if (cnt[k] !== 0) hands.commit(1 + k, cnt[k]!);
    hands.commit(0, 0); // the burst is in the client arrays now
    for (let k = 0; k < nc; k++) {
      if (cnt[k] === 0) continue;
      cnt[k] = 0;
      this.flush(1 + k, k);
    }
  }

  /** Array a to client k's ring, all or nothing; a refused burst is freed (rx_drop, as DPDK). */
  private flush(a: number, k: number): void {
    const m = this.hands.count(a);
    if (this.hands.tx(a, this.sinks[k]!) === 0) {
      this.hands.free(a);
      this.f64[this.clDrop[k]!] += m;
    } else {
      this.f64[this.clRx[k]!] += m;
    }
  }
}
