/**
 * mp_client: a client of the guide's client-server example (DPDK's
 * examples/multi_process/client_server_mp/mp_client).
 *
 *   mpdk mp_client -l 3 --proc-type=auto -- -n 0
 *
 * Secondary only: it creates nothing. It finds the server's port table
 * ("MProc_port_info"), its ring ("MProc_Client_RX_<id>") and the ports, claims its id in
 * the port table (a live holder: refused, naming its pid), returns what a dead
 * predecessor held (reclaimDead), then loops: dequeue a burst of up to 32 from its ring,
 * put each packet in the TX buffer of the port paired with the one it arrived on (i ↔ i^1
 * within the server's port list), send the buffers that hold 32 or more, and flush every
 * buffer when the ring is empty; then sleep on the ring's doorbell. It transmits on TX
 * queue <id> of each port, itself, never back through the server.
 *
 * Every packet it holds is in its ownership record (ownership/hands.ts): array 0 is the
 * receive burst (the dequeue writes straight into it), array 1 + i the TX buffer of port
 * index i. Per burst: receive (window on the SC ring), copy the burst into the TX buffers,
 * commit each buffer's count, clear array 0 (a handle is in two arrays only between those
 * stores: readers take the union), then send (window on the SP TX ring). Killed at any
 * instruction, the server (or the next client) returns exactly what it held.
 *
 * Counters (tx/tx_drop per port, dequeue bursts) are this client's lines of the port
 * table; the server's statistics lcore prints them. The loop runs in slices and yields to
 * the event loop between them, so Ctrl-C is handled. When the server dies the client says
 * so and forwards on (what is in its ring, then whatever a restarted server hands it).
 */
import {
  stderrLogger, awaitFromPrimary, Eal, EthDev, Hands, Mbufs, MpdkError, Ring, UsageError, isMpdkError, parseArgs, parseIdleMode, reclaimDead, type ProgramSpec, type Sink, type Source,
} from '../../index.js';
import { MAX_CLIENTS, MZ_PORT_INFO, PC, PortInfoView, clientBlock, clientRingName } from '../mp_server/common.js';

/** DPDK's PKT_READ_SIZE and MBQ_CAPACITY. */
const BURST = 32;
/** A TX buffer holds up to BURST - 1 packets between sends, plus one whole burst. */
const TXBUF_CAP = 2 * BURST;
const SLICE_MS = 4;
/** Longest sleep on the empty ring before the loop yields to the event loop (death watch). */
const WAIT_MS = 100;

export const spec: ProgramSpec = {
  name: 'mp_client',
  synopsis: '[EAL options] -- -n CLIENT_ID [--idle=poll|sleep]',
  eal: true,
  about: `A client runs as a secondary of a running mp_server; the server's port table gives it
everything else (no -p, no --vdev). It forwards what the server hands it out of the paired port.`,
  options: [
    { names: ['-n'], value: 'CLIENT_ID', help: `this client's id, 0 .. (the server's -n) - 1` },
    { names: ['--idle'], value: 'MODE', help: 'sleep (default: sleep on the ring when it is empty) or poll (spin, as DPDK)' },
  ],
};

/** The EAL options with --proc-type forced to secondary (a client never creates an instance). */
function asSecondary(argv: readonly string[]): string[] {
  const dd = argv.indexOf('--');
  const eal = dd < 0 ? [...argv] : argv.slice(0, dd);
  const rest = dd < 0 ? [] : argv.slice(dd);
  const out: string[] = [];
  for (let i = 0; i < eal.length; i++) {
    if (eal[i] === '--proc-type') {
      i++;
      continue;
    }
    if (eal[i]!.startsWith('--proc-type=')) continue;
    out.push(eal[i]!);
  }
  return [...out, '--proc-type=secondary', ...rest];
}

export async function main(argv: string[]): Promise<number> {
  const o = parseArgs(spec, argv);
  const ealOpts = o.eal!;
  if (!o.has('-n')) throw new UsageError(`the client id is required: -n CLIENT_ID`);
  const id = o.int('-n', 0, MAX_CLIENTS - 1, '-n (client id)')!;
  const iv = o.value('--idle');
  const idle = iv === undefined ? 'sleep' : parseIdleMode(iv);
  if (!idle) throw new UsageError(`invalid --idle '${iv}': expected poll or sleep`);
  if (ealOpts.procTypeGiven && ealOpts.procType === 'primary') {
    throw new UsageError(`mp_client runs only as a secondary (it looks up what the server created); use --proc-type=auto or secondary, after starting mp_server`);
  }
  const noServer = (): MpdkError => new MpdkError('ENOENT', `no server is running for --file-prefix=${ealOpts.filePrefix}; start mpdk mp_server first`);
  let eal: Eal;
  try {
    eal = Eal.init(asSecondary(argv), { name: `mp_client:${id}`, logger: stderrLogger, handleSignals: true }).eal;
  } catch (e) {
    if (isMpdkError(e) && e.code === 'ENOENT') throw noServer();
    throw e;
  }
  let claimed = -1;
  let dev: EthDev | undefined;
  let hands: Hands | undefined;
  let info: PortInfoView;
  const i32 = eal.region.i32;
  const leave = (): void => {
    hands?.close(); // frees what it still holds (nothing after flushAll) and the record
    hands = undefined;
    if (claimed >= 0) Atomics.compareExchange(i32, claimed, process.pid, 0);
    claimed = -1;
    dev?.close();
    dev = undefined;
    eal.close();
  };
  let client: Client;
  try {
    if (!eal.primaryAlive()) throw noServer();
    // A server that started an instant before us may still be making its port table.
    info = awaitFromPrimary(eal, {
      program: 'mp_server',
      what: `its port table ${MZ_PORT_INFO}`,
      look: () => PortInfoView.tryLookup(eal),
      refuse: (why) => new MpdkError('ENOENT', `instance '${eal.filePrefix}' has no ${MZ_PORT_INFO}: ${why}; start 'mpdk mp_server' first`),
      say: (line) => process.stderr.write(`mp_client ${id}: ${line}\n`),
    });
    if (id >= info.numClients) {
      throw new MpdkError('EINVAL', `client id ${id} does not exist: the server (pid ${info.serverPid}) runs ${info.numClients} client${info.numClients === 1 ? '' : 's'}, valid ids ${info.numClients === 1 ? '0' : `0..${info.numClients - 1}`}`);
    }
    claimed = claimId(eal, info, id);
    // A dead predecessor's buffers (its record, its cache) go back before we touch its ring.
    reclaimDead(eal);
    const ring = Ring.lookup(eal, clientRingName(id));
    dev = EthDev.attach(eal);
    hands = Hands.open(eal, `mp_client:${id}`, 1 + info.numPorts, TXBUF_CAP);
    client = new Client(dev, info, id, ring, hands, idle);
  } catch (e) {
    leave();
    throw e;
  }

  let stopping = false;
  const code = 0;
  let server = eal.primaryPid();
  eal.onPrimaryExit((pid) => {
    if (stopping) return;
    process.stderr.write(`mp_client ${id}: the server (pid ${pid}) has exited; forwarding on (a restarted mp_server resumes distributing)\n`);
  });
  const seeServer = setInterval(() => {
    // A new pid counts once it is alive: until then (a primary half-way through adopting)
    // the next tick looks again.
    const now = eal.primaryPid();
    if (now === server || !eal.primaryAlive()) return;
    server = now;
    process.stderr.write(`mp_client ${id}: server pid ${now} adopted the instance\n`);
  }, 500);
  seeServer.unref();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => (stopping = true));
  process.once('exit', leave);
  process.stdout.write(`\nClient process ${id} handling packets (ring ${ring(id)}, TX queue ${id} of ports ${info.portIds.join(', ')})\n[Press Ctrl-C to quit ...]\n`);

  while (!stopping) {
    client.slice(SLICE_MS);
    await new Promise<void>((res) => setImmediate(res));
  }
  clearInterval(seeServer);
  client.flushAll();
  leave();
  return code;
}

function ring(id: number): string {
  return clientRingName(id);
}

/**
 * Claim client id `id` in the port table: CAS our pid into its PID word. A live holder
 * (per the process table) is refused with its pid; a dead one is taken over.
 * Returns the i32 index of the claim word.
 */
function claimId(eal: Eal, info: PortInfoView, id: number): number {
  const r = eal.region;
  const b = clientBlock(info.offset, id);
  const w = (b + PC.PID) >>> 2;
  for (;;) {
    const holder = Atomics.load(r.i32, w);
    if (holder === process.pid) break;
    if (holder !== 0 && eal.processes.list().some((p) => p.pid === holder && p.alive)) {
      throw new MpdkError('EBUSY', `client id ${id} is already in use by pid ${holder}; each client needs its own id (0..${info.numClients - 1}): stop that one or pick another`);
    }
    if (Atomics.compareExchange(r.i32, w, holder, process.pid) === holder) break;
  }
  r.i32[(b + PC.LCORE) >>> 2] = eal.lcoreId;
  r.f64[(b + PC.START) >>> 3] = eal.processes.list().find((p) => p.pid === process.pid)?.start ?? 0;
  return w;
}

/** The client's hot state, allocated once. Arrays of its record: 0 = RX burst, 1 + i = TX buffer of port index i. */
class Client {
  private readonly hands: Hands;
  private readonly src: Source;
  private readonly waitSrc: Source;
  private readonly sinks: Sink[];
  private readonly mbufs: Mbufs;
  private readonly f64: Float64Array;
  private readonly poll: boolean;
  /** Port id → index (in the server's list) of the port to send it out of. The server only
   *  receives from listed ports, so other ids cannot arrive; they map to index 0. */
  private readonly outOf: Uint8Array;
  /** Per burst: each TX buffer's current side and count (JS copies; the record is committed once per burst). */
  private readonly bufs: Uint32Array[];
  private readonly top: Int32Array;
  private readonly txIdx: Int32Array;
  private readonly dropIdx: Int32Array;
  private readonly deqBursts: number;
  private readonly deqPkts: number;
  private needFlush = false;
  /** The input port of each packet of a burst (Mbufs.ports). */
  private readonly ports = new Uint16Array(BURST);

  constructor(dev: EthDev, info: PortInfoView, id: number, ring: Ring, hands: Hands, idle: 'poll' | 'sleep') {
    const eal = hands.eal;
    this.hands = hands;
    this.src = hands.source(ring);
    // The same ring, sleeping on its doorbell while empty (bounded): the window stays exact.
    this.waitSrc = hands.sourceOf({ rxBurst: (h, n) => ring.waitDequeueBurst(h, n, WAIT_MS) }, ring);
    this.mbufs = new Mbufs(eal);
    this.f64 = eal.region.f64;
    this.poll = idle === 'poll';
    const np = info.numPorts;
    this.outOf = new Uint8Array(65536);
    for (let i = 0; i < np; i++) this.outOf[info.portIds[i]!] = i ^ 1;
    // Claims TX queue `id` of every port (EBUSY naming a live other user).
    this.sinks = info.portIds.map((p) => hands.txSink(dev, p, id));
    this.bufs = info.portIds.map((_, i) => hands.array(1 + i));
    this.top = new Int32Array(np);
    const b = clientBlock(info.offset, id);
    this.txIdx = Int32Array.from(info.portIds, (_, i) => (b + PC.TX + i * 8) >>> 3);
    this.dropIdx = Int32Array.from(info.portIds, (_, i) => (b + PC.TX_DROP + i * 8) >>> 3);
    this.deqBursts = (b + PC.DEQ_BURSTS) >>> 3;
    this.deqPkts = (b + PC.DEQ_PKTS) >>> 3;
  }

  /** Forward for about `ms` milliseconds (less when the ring stays empty for WAIT_MS). */
  slice(ms: number): void {
    const end = performance.now() + ms;
    const hands = this.hands;
    const mbufs = this.mbufs;
    const f64 = this.f64;
    const outOf = this.outOf;
    const bufs = this.bufs;
    const top = this.top;
    const np = top.length;
    for (let round = 1; ; round++) {
      let n = hands.rx(0, this.src, BURST);
      if (n === 0) {
        if (this.needFlush) {
          this.flushAll();
          this.needFlush = false;
        }
        if (this.poll) {
          if ((round & 63) === 0 && performance.now() >= end) return;
          continue;
        }
        n = hands.rx(0, this.waitSrc, BURST);
        if (n === 0) return;
      }
      f64[this.deqBursts] += 1;
      f64[this.deqPkts] += n;
      for (let o = 0; o < np; o++) {
        bufs[o] = hands.array(1 + o);
        top[o] = hands.count(1 + o);
      }
      const pkts = hands.array(0);
      const ports = this.ports;
      mbufs.ports(pkts, n, ports); // the headers fetched together, not one miss after another
      if (np === 2) {
        // The guide's case (a pair of ports): two buffers in locals, no per-packet array lookups.
        const b0 = bufs[0]!;
        const b1 = bufs[1]!;
        let t0 = top[0]!;
        let t1 = top[1]!;
        for (let i = 0; i < n; i++) {
          if (outOf[ports[i]!] === 0) b0[t0++] = pkts[i]!;
          else b1[t1++] = pkts[i]!;
        }
        top[0] = t0;
        top[1] = t1;
      } else {
        for (let i = 0; i < n; i++) {
          const o = outOf[ports[i]!]!;
          bufs[o]![top[o]!++] = pkts[i]!;
        }
      }
      for (let o = 0; o < np; o++) if (top[o] !== hands.count(1 + o)) hands.commit(1 + o, top[o]!);
      hands.commit(0, 0); // the burst is in the TX buffers now
      for (let o = 0; o < np; o++) if (top[o]! >= BURST) this.send(o);
      this.needFlush = true;
      if ((round & 63) === 0 && performance.now() >= end) return;
    }
  }

  flushAll(): void {
    for (let o = 0; o < this.top.length; o++) if (this.hands.count(1 + o) > 0) this.send(o);
  }

  /** Send TX buffer o; what the queue refuses is freed and counted as tx_drop. */
  private send(o: number): void {
    const sent = this.hands.tx(1 + o, this.sinks[o]!);
    const dropped = this.hands.free(1 + o);
    if (dropped > 0) this.f64[this.dropIdx[o]!] += dropped;
    this.f64[this.txIdx[o]!] += sent;
  }
}
