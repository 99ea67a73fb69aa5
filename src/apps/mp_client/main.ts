/**
 * mp_client: a client of the guide's client-server example (DPDK's
 * examples/multi_process/client_server_mp/mp_client).
 *
 *   mpdk mp_client -l 3 --proc-type=auto -- -n 0
 *
 * Secondary only: it creates nothing. It finds the server's port table
 * ("MProc_port_info"), its ring ("MProc_Client_RX_<id>") and the ports, claims its id in
 * the port table (a live holder: refused, naming its pid), then loops: dequeue a burst of
 * up to 32 from its ring, put each packet in the TX buffer of the port paired with the one
 * it arrived on (i ↔ i^1 within the server's port list), send a buffer when it holds 32,
 * and flush every buffer when the ring is empty; then sleep on the ring's doorbell.
 * It transmits on TX queue <id> of each port, itself, never back through the server.
 *
 * Counters (tx/tx_drop per port, dequeue bursts) are this client's lines of the port
 * table; the server's statistics lcore prints them. The loop runs in slices and yields to
 * the event loop between them, so Ctrl-C and the server's death are handled: when the
 * server dies the client says so and exits with status 1.
 */
import {
  EAL_USAGE, Eal, EthDev, Mbufs, MpdkError, Ring, UsageError, isMpdkError, parseEalArgs, parseIdleMode, MBUF, type TxQueue,
} from '../../index.js';
import { intOption, optionsHelp, parseOptions, type OptionSpec } from '../app-options.js';
import { MAX_CLIENTS, PC, PortInfoView, clientBlock, clientRingName } from '../mp_server/common.js';

/** DPDK's PKT_READ_SIZE and MBQ_CAPACITY. */
const BURST = 32;
const SLICE_MS = 4;
/** Longest sleep on the empty ring before the loop yields to the event loop (death watch). */
const WAIT_MS = 10;

const SPECS: OptionSpec[] = [
  { names: ['-n'], value: 'CLIENT_ID', help: `this client's id, 0 .. (the server's -n) - 1` },
  { names: ['--idle'], value: 'MODE', help: 'sleep (default: sleep on the ring when it is empty) or poll (spin, as DPDK)' },
  { names: ['-h', '--help'], help: 'this help' },
];

const USAGE = `usage: mpdk mp_client [EAL options] -- -n CLIENT_ID [--idle=poll|sleep]
A client runs as a secondary of a running mp_server; the server's port table gives it
everything else (no -p, no --vdev). It forwards what the server hands it out of the paired port.
${optionsHelp(SPECS)}

${EAL_USAGE}`;

/** What a refused command line prints after its one-line reason. */
const SHORT = `usage: mpdk mp_client [EAL options] -- -n CLIENT_ID [--idle=poll|sleep]; see mpdk mp_client --help`;

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
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const { eal: ealOpts, appArgs } = parseEalArgs(argv);
  const o = parseOptions(appArgs, SPECS, SHORT);
  const idv = o.get('-n');
  if (idv === undefined) throw new UsageError(`the client id is required: -n CLIENT_ID\n${SHORT}`);
  const id = intOption(idv, '-n (client id)', 0, MAX_CLIENTS - 1, SHORT)!;
  const iv = o.get('--idle');
  const idle = iv === undefined ? 'sleep' : parseIdleMode(String(iv));
  if (!idle) throw new UsageError(`invalid --idle '${String(iv)}': expected poll or sleep\n${SHORT}`);
  if (ealOpts.procTypeGiven && ealOpts.procType === 'primary') {
    throw new MpdkError('EINVAL', `mp_client runs only as a secondary (it looks up what the server created); use --proc-type=auto or secondary, after starting mp_server`);
  }
  const noServer = (): MpdkError => new MpdkError('ENOENT', `no server is running for --file-prefix=${ealOpts.filePrefix}; start mpdk mp_server first`);
  let eal: Eal;
  try {
    eal = Eal.init(asSecondary(argv), { name: `mp_client:${id}`, handleSignals: false }).eal;
  } catch (e) {
    if (isMpdkError(e) && e.code === 'ENOENT') throw noServer();
    throw e;
  }
  let claimed = -1;
  let dev: EthDev | undefined;
  let info: PortInfoView;
  const i32 = eal.region.i32;
  const leave = (): void => {
    if (claimed >= 0) Atomics.compareExchange(i32, claimed, process.pid, 0);
    claimed = -1;
    dev?.close();
    dev = undefined;
    eal.close();
  };
  let client: Client;
  try {
    if (!eal.primaryAlive()) throw noServer();
    info = PortInfoView.lookup(eal);
    if (id >= info.numClients) {
      throw new MpdkError('EINVAL', `client id ${id} does not exist: the server (pid ${info.serverPid}) runs ${info.numClients} client${info.numClients === 1 ? '' : 's'}, valid ids ${info.numClients === 1 ? '0' : `0..${info.numClients - 1}`}`);
    }
    claimed = claimId(eal, info, id);
    const ring = Ring.lookup(eal, clientRingName(id));
    dev = EthDev.attach(eal);
    client = new Client(eal, dev, info, id, ring, idle);
  } catch (e) {
    leave();
    throw e;
  }

  let stopping = false;
  let code = 0;
  eal.onPrimaryExit((pid) => {
    if (stopping) return;
    process.stderr.write(`mp_client ${id}: the server (pid ${pid}) has exited; exiting too (restart the clients after a new server)\n`);
    code = 1;
    stopping = true;
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(sig).once(sig, () => (stopping = true));
  process.once('exit', leave);
  process.stdout.write(`\nClient process ${id} handling packets (ring ${ring(id)}, TX queue ${id} of ports ${info.portIds.join(', ')})\n[Press Ctrl-C to quit ...]\n`);

  while (!stopping) {
    client.slice(SLICE_MS);
    await new Promise<void>((res) => setImmediate(res));
  }
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

/** The client's hot state, allocated once. */
class Client {
  private readonly ring: Ring;
  private readonly mbufs: Mbufs;
  private readonly u16: Uint16Array;
  private readonly f64: Float64Array;
  private readonly poll: boolean;
  /** Port id → index (in the server's list) of the port to send it out of. The server only
   *  receives from listed ports, so other ids cannot arrive; they map to index 0. */
  private readonly outOf: Uint8Array;
  private readonly txq: TxQueue[];
  private readonly obuf: Uint32Array[];
  private readonly top: Int32Array;
  private readonly txIdx: Int32Array;
  private readonly dropIdx: Int32Array;
  private readonly deqBursts: number;
  private readonly deqPkts: number;
  private readonly pkts = new Uint32Array(BURST);
  private needFlush = false;

  constructor(eal: Eal, dev: EthDev, info: PortInfoView, id: number, ring: Ring, idle: 'poll' | 'sleep') {
    this.ring = ring;
    this.mbufs = new Mbufs(eal);
    this.u16 = new Uint16Array(eal.region.buffer);
    this.f64 = eal.region.f64;
    this.poll = idle === 'poll';
    const np = info.numPorts;
    this.outOf = new Uint8Array(65536);
    for (let i = 0; i < np; i++) this.outOf[info.portIds[i]!] = i ^ 1;
    // Claims TX queue `id` of every port (EBUSY naming a live other user).
    this.txq = info.portIds.map((p) => dev.txQueue(p, id));
    this.obuf = info.portIds.map(() => new Uint32Array(BURST));
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
    const ring = this.ring;
    const pkts = this.pkts;
    const u16 = this.u16;
    const f64 = this.f64;
    const outOf = this.outOf;
    const obuf = this.obuf;
    const top = this.top;
    for (let round = 1; ; round++) {
      let n = ring.dequeueBurst(pkts, BURST);
      if (n === 0) {
        if (this.needFlush) {
          this.flushAll();
          this.needFlush = false;
        }
        if (this.poll) {
          if ((round & 63) === 0 && performance.now() >= end) return;
          continue;
        }
        n = ring.waitDequeueBurst(pkts, BURST, WAIT_MS);
        if (n === 0) return;
      }
      f64[this.deqBursts] += 1;
      f64[this.deqPkts] += n;
      for (let i = 0; i < n; i++) {
        const h = pkts[i]!;
        const o = outOf[u16[(h + MBUF.PORT) >>> 1]!]!;
        const b = obuf[o]!;
        const t = top[o]!;
        b[t] = h;
        if (t + 1 === BURST) this.send(o, BURST);
        else top[o] = t + 1;
      }
      this.needFlush = true;
      if ((round & 63) === 0 && performance.now() >= end) return;
    }
  }

  flushAll(): void {
    const top = this.top;
    for (let o = 0; o < top.length; o++) if (top[o]! > 0) this.send(o, top[o]!);
  }

  /** Send obuf[o][0..m); what the queue refuses is freed and counted as tx_drop. */
  private send(o: number, m: number): void {
    const b = this.obuf[o]!;
    const sent = this.txq[o]!.txBurst(b, m);
    if (sent < m) {
      b.copyWithin(0, sent, m);
      this.mbufs.freeBulk(b, m - sent);
      this.f64[this.dropIdx[o]!] += m - sent;
    }
    this.f64[this.txIdx[o]!] += sent;
    this.top[o] = 0;
  }
}
