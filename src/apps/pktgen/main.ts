/**
 * pktgen: the traffic generator ("the wire" for an application's ports).
 *
 *   mpdk pktgen -l 7 --proc-type=secondary -- --tx-port 0 --rx-port 1 --flows 64 --count 100000 --json
 *
 * It attaches to a running instance, sends test frames (traffic.ts) into the TX ports and
 * counts what comes back on the RX ports (counter.ts), then prints a summary (report.ts).
 *
 *   port driver     sending into port A                 listening on port B
 *   net_ring        dev.wire(A).inject: the frames       dev.wire(B).collect: what the
 *                   arrive on A's RX queues (RSS)        application transmitted on B
 *   other (null,    TX queue Q of A (--queue Q; default  RX queue Q of B (default its last
 *   pcap, peered    its last queue, nbTx − 1)            queue, nbRx − 1)
 *   net_ring, ...)
 *
 * Frames are mbufs of the pool PKTGEN_POOL (looked up, or created by the first pktgen of
 * the instance; it stays until the instance ends, so frames still in flight when a run
 * ends remain valid). What comes back is freed to its pool.
 *
 * Every frame pktgen holds is in its ownership record (Hands, "pktgen"): array k holds
 * TX port k's frames built but not yet taken, the last array the burst being counted. A
 * pktgen killed at any instruction is reclaimed exactly (reclaimDead, which the next
 * pktgen runs first) — except for a death between a mempool get and the commit that
 * records it (a leak of at most one burst, never a duplicate), and a burst moved through
 * several rings at once (a wire that spreads over several RX queues). The loop runs on the main
 * thread (its lcore's mempool cache), in slices of SLICE_MS so that Ctrl-C and the
 * progress timer get a turn; an idle round (nothing to send yet, nothing received) goes
 * through IdlePolicy, and between the batches of a low --rate the loop sleeps until the next
 * one is due or a frame comes back (sleepUntilDue), so a low rate costs ~no CPU.
 *
 * Run phases:  SEND  --count/--duration reached, or Ctrl-C-->  DRAIN  --all back, or
 * --drain ms passed, or a second Ctrl-C-->  DONE (summary). Frames not taken by a full
 * queue are retried (TX time re-stamped) and never counted as sent; lost = sent − received
 * after the drain. On a software wire only the full queue's flows wait (hold.ts: no
 * head-of-line blocking); on other ports the refused burst is retried first.
 *
 * Before sending, pktgen waits (up to 9 s, as DPDK's examples) for the links of its ports
 * to be up: a net_memif port is up only once its peer has connected.
 *
 * Without a running instance: exit 1 with one line. pktgen as a fresh primary with its own
 * --vdev ports configures and starts them itself (1 RX + 1 TX queue each), e.g. to measure
 * the generator over net_null.
 */
import {
  stderrLogger, Eal, EthDev, Hands, Mbufs, MpdkError, PAYLOAD, PKTMBUF_HEADROOM, PayloadInfo, PktmbufPool, Ring, UDP_FRAME_HLEN, UDP_FRAME_MAX, UsageError, IdlePolicy,
  isMpdkError, parseArgs, parseIdleMode, readPayload, reclaimDead, type IdleMode, type ProgramArgs, type ProgramSpec, type Sink, type Source, type WakeSource, type Wire, type WireSide,
} from '../../index.js';
import { RxCounter } from './counter.js';
import { formatProgress, formatSummary, makeResult, progressJson, type PktgenResult } from './report.js';
import { FrameSeal } from './seal.js';
import { HeldBack } from './hold.js';
import { TrafficPlan, checkSize, parseDuration, parsePortList, parseRate, parseSizeMix, writePcap } from './traffic.js';

export const PKTGEN_POOL = 'PKTGEN_POOL';
const POOL_SIZES = [16383, 8191, 4095, 2047];
const POOL_CACHE = 256;
/** Data room of PKTGEN_POOL's mbufs: headroom + the largest frame, rounded up. */
const POOL_DATA_ROOM = PKTMBUF_HEADROOM + 1536;
const RX_BURST = 64;
/** RX bursts per port per round, at most. */
const RX_ROUNDS = 8;
const SLICE_MS = 20;
/** Longest nap between rate-limited batches (a low rate sleeps until its next batch, within this: signals and progress wait at most that long). */
const NAP_MS = 100;
/**
 * Frames out that came back within this the last time (a polling application) are waited for
 * through the idle policy (spin, yield, then sleep) between rate-limited batches; slower ones
 * in one nap on the RX doorbells.
 */
const SPIN_RTT_US = 50;
/** How long a run waits for its ports' links before sending (DPDK's examples: 9 s). */
const LINK_WAIT_MS = 9000;
/** ...said after this long. */
const LINK_NOTICE_MS = 2000;
const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));
/** Descriptors per queue when pktgen configures its own ports. */
const OWN_NB_DESC = 1024;

export const spec: ProgramSpec = {
  name: 'pktgen',
  synopsis: '[EAL options] -- --tx-port A [--rx-port B] [options]',
  eal: true,
  about: `Sends test frames into ports of a running application and counts what comes back.
net_ring ports are fed through their software wire (pktgen plays the network); other
ports through one of their queues (--queue). Run it as a secondary (--proc-type=secondary)
next to the application; Ctrl-C ends early with the summary. Loss is reported, not an
error (exit 0).`,
  options: [
    { names: ['--tx-port'], value: 'PORTS', repeat: true, help: 'send into these ports: 0, 0,1 or 0-3; repeatable (required, except with --pcap)' },
    { names: ['--rx-port'], value: 'PORTS', repeat: true, help: 'count what comes back on these ports (without it: no loss or latency)' },
    { names: ['--flows'], value: 'F', help: 'distinct UDP 5-tuples, src IP 10.0.0.1 + flow (default 16); flow f goes to TX port f mod nTx' },
    { names: ['--size'], value: 'N', help: 'frame bytes, no FCS (default 64; 62..1514)' },
    { names: ['--size-mix'], value: 'MIX', help: 'frame sizes with weights, interleaved: e.g. 64:7,576:4,1500:1 (IMIX)' },
    { names: ['--rate'], value: 'PPS', help: 'packets per second in all, e.g. 1000, 250k, 1.5M (default: as fast as possible)' },
    { names: ['--count'], value: 'C', help: 'send C packets, then drain and stop' },
    { names: ['--duration'], value: 'S', help: 'send for S seconds (10, 2.5, 500ms), then drain and stop' },
    { names: ['--burst'], value: 'B', help: 'packets per burst (default 32; 1..512)' },
    { names: ['--queue'], value: 'Q', help: 'queue used on ports without a software wire (default: the last queue, nbTx-1 / nbRx-1)' },
    { names: ['--drain'], value: 'MS', help: 'after the last send, wait up to MS ms for stragglers (default 500)' },
    { names: ['--window'], value: 'N', help: 'at most N frames in flight (sent, not back yet): sending keeps pace with what comes back, nothing overflows a queue that holds N; needs --rx-port (frames still out after --drain ms without any back are written off)' },
    { names: ['--pcap'], value: 'FILE', help: 'write the same traffic to a pcap file instead of sending, then exit (needs --count, or --duration with --rate)' },
    { names: ['--per-flow'], help: 'list sent/received per flow in the summary and JSON' },
    { names: ['--progress'], value: 'MS', help: 'progress line on stderr every MS ms (default 1000; with --json one JSON object per line)' },
    { names: ['--json'], help: 'print one JSON object {sent, received, lost, mpps, gbps, latency: {p50Us, p99Us}, ...} instead of the table' },
    { names: ['--quiet'], help: 'no progress line' },
    { names: ['--idle'], value: 'MODE', help: 'sleep (default: an idle round sleeps) or poll (never sleeps)' },
  ],
  notes: `Gbit/s is the L1 rate: each frame + 20 bytes of preamble and inter-frame gap (frames carry
no FCS). Latency is from the TX time in each frame's payload to its return (p50/p99, µs).
Every frame carries a UDP checksum over its payload; a frame that comes back with pktgen's
magic but a wrong IPv4 or UDP checksum or length is counted as corrupt, not as received.
Into a net_ring port, a full RX queue (its process stopped or slow) holds back only its own
flows, resent when it has room, while the other queues' flows go on; a queue full for
0.5 s is named on stderr with its owner's pid and state.`,
};

export interface PktgenOptions {
  txPorts: number[];
  rxPorts: number[];
  flows: number;
  sizes: number[];
  ratePps: number | undefined;
  count: number | undefined;
  durationS: number | undefined;
  burst: number;
  queue: number | undefined;
  drainMs: number;
  /** Most frames in flight (0: no limit). */
  window: number;
  pcap: string | undefined;
  perFlow: boolean;
  progressMs: number;
  json: boolean;
  quiet: boolean;
  idle: IdleMode;
}

/** Check the program options (after `--`); UsageError (exit 2) for anything wrong. */
export function parsePktgenOptions(o: ProgramArgs): PktgenOptions {
  const txPorts: number[] = [];
  const rxPorts: number[] = [];
  for (const v of o.all('--tx-port')) parsePortList(v, '--tx-port', txPorts, USAGE_SHORT);
  for (const v of o.all('--rx-port')) parsePortList(v, '--rx-port', rxPorts, USAGE_SHORT);
  const str = (k: string): string | undefined => o.value(k);
  if (o.has('--size') && o.has('--size-mix')) throw new UsageError(`give --size or --size-mix, not both\n${USAGE_SHORT}`);
  if (o.has('--count') && o.has('--duration')) throw new UsageError(`give --count or --duration, not both\n${USAGE_SHORT}`);
  const sizeStr = str('--size');
  const sizes = str('--size-mix') !== undefined ? parseSizeMix(str('--size-mix')!, USAGE_SHORT)
    : [checkSize(sizeStr === undefined ? 64 : /^\d+$/.test(sizeStr) ? Number(sizeStr) : NaN, '--size', USAGE_SHORT)];
  const idleStr = str('--idle') ?? 'sleep';
  const idle = parseIdleMode(idleStr);
  if (!idle) throw new UsageError(`invalid --idle '${idleStr}': expected sleep or poll\n${USAGE_SHORT}`);
  const opts: PktgenOptions = {
    txPorts, rxPorts,
    flows: o.int('--flows', 1, 1 << 20) ?? 16,
    sizes,
    ratePps: str('--rate') !== undefined ? parseRate(str('--rate')!, USAGE_SHORT) : undefined,
    count: o.int('--count', 1, Number.MAX_SAFE_INTEGER),
    durationS: str('--duration') !== undefined ? parseDuration(str('--duration')!, USAGE_SHORT) : undefined,
    burst: o.int('--burst', 1, 512) ?? 32,
    queue: o.int('--queue', 0, 1023),
    drainMs: o.int('--drain', 0, 60000) ?? 500,
    window: o.int('--window', 1, 1 << 24) ?? 0,
    pcap: str('--pcap'),
    perFlow: o.has('--per-flow'),
    progressMs: o.int('--progress', 10, 3600000) ?? 1000,
    json: o.has('--json'),
    quiet: o.has('--quiet'),
    idle,
  };
  if (opts.pcap !== undefined) {
    if (opts.txPorts.length === 0) opts.txPorts.push(0);
    if (opts.count === undefined && !(opts.durationS !== undefined && opts.ratePps !== undefined)) {
      throw new UsageError(`--pcap needs --count C, or --duration S with --rate R (the file must end)\n${USAGE_SHORT}`);
    }
  } else if (opts.txPorts.length === 0) {
    throw new UsageError(`--tx-port is required: the port(s) to send into, e.g. --tx-port 0\n${USAGE_SHORT}`);
  }
  if (opts.window > 0 && opts.rxPorts.length === 0) {
    throw new UsageError(`--window needs --rx-port: frames in flight are counted as they come back\n${USAGE_SHORT}`);
  }
  if (opts.flows < opts.txPorts.length) {
    throw new UsageError(`--flows ${opts.flows} is fewer than the ${opts.txPorts.length} TX ports: each port sends its own flows\n${USAGE_SHORT}`);
  }
  return opts;
}
const USAGE_SHORT = "see 'mpdk pktgen --help'";

export async function main(argv: string[]): Promise<number> {
  let opts: PktgenOptions;
  try {
    opts = parsePktgenOptions(parseArgs(spec, argv));
  } catch (e) {
    // One line: the reason, then where the help is.
    if (e instanceof UsageError) throw new UsageError(e.message.replace(/\n/g, '; '));
    throw e;
  }
  if (opts.pcap !== undefined) return pcapMode(opts);

  const { eal } = Eal.init(argv, { name: 'pktgen', logger: stderrLogger, handleSignals: true });
  process.once('exit', () => eal.close());
  let dev: EthDev | undefined;
  let pool: PktmbufPool | undefined;
  try {
    if (eal.isPrimary && !eal.adopted && eal.options.vdevs.length === 0) {
      throw new MpdkError('ENOENT', `no instance '${eal.filePrefix}' is running: start the application first, then pktgen with --proc-type=secondary (or give pktgen its own --vdev ports)`);
    }
    // The application's primary may die while others forward (symmetric_mp): carry on.
    eal.onPrimaryExit((pid) => {
      if (!opts.quiet) process.stderr.write(`pktgen: the primary process (pid ${pid}) has exited; still sending to the ports\n`);
    });
    // We may be the successor of a killed pktgen (its wires, its lcore): return what it held first.
    const rec = reclaimDead(eal);
    const back = Object.values(rec.pools).reduce((n, x) => n + x.returned + x.flushed, 0);
    if (back > 0 && !opts.quiet) {
      process.stderr.write(`pktgen: reclaimed ${back} mbufs held by dead process${rec.processes.length === 1 ? '' : 'es'} ${rec.processes.map((x) => x.pid).join(', ')}\n`);
    }
    pool = getPool(eal);
    dev = EthDev.attach(eal);
    const gen = new Generator(eal, dev, pool, opts);
    let result: PktgenResult;
    try {
      result = await gen.run();
    } finally {
      gen.close();
    }
    if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stdout.write(formatSummary(result) + '\n');
    return 0;
  } finally {
    dev?.close();
    try {
      if (pool && eal.lcoreId >= 0) pool.mp.flushCache(eal.lcoreId);
    } catch {
      /* the cache stays; the next user of this lcore takes it over */
    }
    eal.close();
  }
}

/** --pcap: no instance needed; MACs are the ports' default ones. */
function pcapMode(o: PktgenOptions): number {
  const scratch = new Uint8Array(UDP_FRAME_MAX);
  const plan = new TrafficPlan(scratch, { txPorts: o.txPorts, flows: o.flows, sizes: o.sizes });
  const count = o.count ?? Math.round(o.durationS! * o.ratePps!);
  const r = writePcap(plan, scratch, o.pcap!, count, o.burst, o.ratePps);
  if (o.json) process.stdout.write(JSON.stringify({ pcap: o.pcap, frames: r.frames, bytes: r.bytes, flows: o.flows, sizes: o.sizes }) + '\n');
  else if (!o.quiet) process.stdout.write(`pktgen: wrote ${r.frames} frames (${r.bytes} bytes, ${o.flows} flows) to ${o.pcap}\n`);
  return 0;
}

/** PKTGEN_POOL: look it up, or create it (halving the size while the region is short). */
export function getPool(eal: Eal): PktmbufPool {
  try {
    return PktmbufPool.lookup(eal, PKTGEN_POOL);
  } catch (e) {
    if (!isMpdkError(e, 'ENOENT')) throw e;
  }
  let last: unknown;
  for (const n of POOL_SIZES) {
    try {
      return PktmbufPool.create(eal, PKTGEN_POOL, { count: n, cacheSize: POOL_CACHE, dataRoomSize: POOL_DATA_ROOM });
    } catch (e) {
      if (isMpdkError(e, 'EEXIST')) return PktmbufPool.lookup(eal, PKTGEN_POOL);
      if (!isMpdkError(e, 'ENOSPC')) throw e;
      last = e;
    }
  }
  throw new MpdkError('ENOSPC', `cannot create ${PKTGEN_POOL} (${POOL_SIZES.at(-1)} mbufs): ${(last as Error).message}`);
}

interface TxSide {
  port: number;
  /** Index of the port in --tx-port, and of its array in the record: frames built, not yet taken. */
  k: number;
  sink: Sink;
  /**
   * A wire port of several RX queues: one sink per queue, each naming its ring, and the
   * wire that says which queue a frame goes to (send: each queue's frames are a window
   * on its ring, so a death anywhere in a burst is read exactly).
   */
  queues?: { sinks: Sink[]; wire: Wire; tags: Uint8Array };
  sent: number;
  /** A wire port: what its full RX queues refused, held back per flow (hold.ts, which counts them). */
  hold?: HeldBack;
  /** Other ports: frames the queue refused, each once (not once per retry)... */
  refused: number;
  /** ...and how many of those wait at the front of the record now. */
  retrying: number;
}

interface RxSide {
  port: number;
  /** One per ring (a wire's TX queues) or the one RX queue; read in turn. */
  sources: Source[];
  next: number;
  matched: number;
}

const Phase = { SEND: 0, DRAIN: 1, DONE: 2 } as const;

class Generator {
  private readonly eal: Eal;
  private readonly dev: EthDev;
  private readonly pool: PktmbufPool;
  private readonly o: PktgenOptions;
  private readonly plan: TrafficPlan;
  private readonly counter: RxCounter;
  private readonly tx: TxSide[] = [];
  private readonly rx: RxSide[] = [];
  private readonly u8: Uint8Array;
  private readonly mbufs: Mbufs;
  private readonly dv: DataView;
  /** The ownership record: arrays 0..nTx-1 pending TX frames per port, array RXA the RX burst. */
  private readonly hands: Hands;
  private readonly rxa: number;
  private readonly info = new PayloadInfo();
  private readonly seal: FrameSeal;
  private readonly idle: IdlePolicy;
  /** performance.timeOrigin in µs: TX times are epoch µs, comparable across processes. */
  private readonly originUs = performance.timeOrigin * 1000;
  private phase: number = Phase.SEND;
  private startMs = 0;
  private runStartUs = 0;
  private txEndMs = 0;
  private lastRxMs = 0;
  /** Round trip of the last frame counted, µs (0 until one is: replies are spun for until then). */
  private lastRttUs = 0;
  private built = 0;
  /** --window: frames counted as lost because none came back for drainMs (they no longer hold the window shut). */
  private writtenOff = 0;
  private lastReceived = 0;
  private lastReceivedAt = 0;
  private sent = 0;
  private sentBytes = 0;
  private noMbuf = 0;
  private txCursor = 0;
  private interrupts = 0;
  private readonly limit: number;
  private readonly ratePerMs: number;
  /** Smallest rate-limited burst: ~1 ms of frames, 1..burst. */
  private readonly minBatch: number;

  constructor(eal: Eal, dev: EthDev, pool: PktmbufPool, o: PktgenOptions) {
    this.eal = eal;
    this.dev = dev;
    this.pool = pool;
    this.o = o;
    this.u8 = eal.region.u8;
    this.mbufs = new Mbufs(eal);
    this.dv = eal.region.dv;
    this.seal = new FrameSeal(this.u8);
    // Few spins: replies come after the application wakes up; spinning for them only burns CPU.
    this.idle = new IdlePolicy({ mode: o.idle, spin: 16, yields: 8, hold: false });
    this.limit = o.count ?? Infinity;
    this.ratePerMs = o.ratePps !== undefined ? o.ratePps / 1000 : 0;
    this.minBatch = Math.max(1, Math.min(o.burst, Math.floor(this.ratePerMs)));
    for (const p of [...o.txPorts, ...o.rxPorts]) dev.port(p); // ENODEV naming the ports there are
    if (eal.isPrimary && !eal.adopted) this.setUpOwnPorts(dev);
    const dstMacs = o.txPorts.map((p) => dev.macAddr(p));
    this.plan = new TrafficPlan(this.u8, { txPorts: o.txPorts, dstMacs, flows: o.flows, sizes: o.sizes });
    if (pool.dataRoomSize - PKTMBUF_HEADROOM < this.plan.maxSize) {
      throw new MpdkError('EINVAL', `${PKTGEN_POOL} holds frames of at most ${pool.dataRoomSize - PKTMBUF_HEADROOM} bytes; --size ${this.plan.maxSize} does not fit`);
    }
    this.counter = new RxCounter(o.flows);
    this.rxa = o.txPorts.length;
    // Arrays: 0..nTx-1 each TX port's send burst, nTx the RX burst, nTx+1+k port k's held frames.
    const h = Hands.open(eal, 'pktgen', 2 * o.txPorts.length + 1, Math.max(2 * o.burst, RX_BURST));
    this.hands = h;
    try {
      // A port this generator both feeds and drains takes its whole wire; otherwise one side,
      // so another generator can play the other direction of the same ports.
      const sideOf = (port: number, mine: 'inject' | 'collect'): WireSide => (o.txPorts.includes(port) && o.rxPorts.includes(port) ? 'both' : mine);
      o.txPorts.forEach((port, k) => {
        const w = wireOf(dev, port, sideOf(port, 'inject'));
        let sink: Sink;
        if (w) {
          // Each RX queue's frames go into its ring in one enqueue (injectQueue), a window
          // naming that ring: exact wherever pktgen dies (hands.ts window table, SENDING),
          // however many queues (a ring past the record's table is named by the window itself).
          const nq = dev.info(port).nbRx;
          const sinks: Sink[] = [];
          for (let q = 0; q < nq; q++) sinks.push(h.sinkOf({ txBurst: (x, n) => w.injectQueue(q, x, n) }, Ring.attach(eal, dev.queueRing(port, q, 'rx'))));
          sink = sinks[0]!;
          const hold = new HeldBack(eal, dev, port, h, this.rxa + 1 + k, o.flows, (line) => {
            if (!o.quiet) process.stderr.write(line + '\n');
          });
          const queues = sinks.length > 1 ? { sinks, wire: w, tags: new Uint8Array(Math.max(2 * o.burst, RX_BURST)) } : undefined;
          this.tx.push({ port, k, sink, queues, sent: 0, hold, refused: 0, retrying: 0 });
          return;
        }
        sink = h.txSink(dev, port, o.queue ?? dev.info(port).nbTx - 1);
        this.tx.push({ port, k, sink, sent: 0, refused: 0, retrying: 0 });
      });
      const wake: WakeSource[] = []; // what an idle round sleeps on: replies wake it
      for (const port of o.rxPorts) {
        const w = wireOf(dev, port, sideOf(port, 'collect'));
        const sources: Source[] = [];
        if (w) {
          // The wire's collect drains the port's TX rings: one exact source per ring instead.
          for (let q = 0; q < dev.info(port).nbTx; q++) {
            const ring = Ring.attach(eal, dev.queueRing(port, q, 'tx'));
            sources.push(h.source(ring));
            wake.push(ring);
          }
        } else {
          const q = o.queue ?? dev.info(port).nbRx - 1;
          sources.push(h.rxSource(dev, port, q));
          wake.push(dev.rxQueue(port, q));
        }
        this.rx.push({ port, sources, next: 0, matched: 0 });
      }
      if (wake.length <= 64) this.idle.watch(wake);
    } catch (e) {
      h.close();
      throw e;
    }
  }

  /** Free what the record holds and the record (the run's end, or a failed start). */
  close(): void {
    this.hands.close();
  }

  /** pktgen is the primary of its own --vdev ports: 1 RX + 1 TX queue each, started. */
  private setUpOwnPorts(dev: EthDev): void {
    for (let p = 0; p < dev.count; p++) {
      dev.configure(p, { rxQueues: 1, txQueues: 1 });
      dev.rxQueueSetup(p, 0, { descriptors: OWN_NB_DESC, pool: this.pool });
      dev.txQueueSetup(p, 0, { descriptors: OWN_NB_DESC });
    }
    for (let p = 0; p < dev.count; p++) dev.start(p);
  }

  async run(): Promise<PktgenResult> {
    const onSig = (): void => {
      this.interrupts++;
    };
    process.on('SIGINT', onSig);
    process.on('SIGTERM', onSig);
    process.on('SIGHUP', onSig);
    const o = this.o;
    const showProgress = !o.quiet;
    const tty = process.stderr.isTTY === true;
    try {
      await this.waitLinks();
      this.startMs = performance.now();
      this.runStartUs = this.originUs + this.startMs * 1000;
      const endMs = o.durationS !== undefined ? this.startMs + o.durationS * 1000 : Infinity;
      let drainStart = 0;
      let nextProgress = this.startMs + o.progressMs;
      let lastP = { t: this.startMs, sent: 0, recv: 0 };
      while (this.phase !== Phase.DONE) {
        const sliceEnd = performance.now() + SLICE_MS;
        let now = performance.now();
        while (now < sliceEnd) {
          let work = this.phase === Phase.SEND ? this.txRound(now) : 0;
          work += this.rxRound(now);
          if (work > 0) this.idle.busy();
          else if (!this.sleepUntilDue(now)) this.idle.idle(this.untilDue(now));
          now = performance.now();
          if (this.phase === Phase.SEND && (this.built >= this.limit && this.pendingTotal() === 0)) break;
          if (this.phase === Phase.DRAIN && this.counter.received >= this.sent) break;
        }
        await new Promise<void>((r) => setImmediate(r));
        now = performance.now();
        if (o.window > 0) this.windowProgress(now);
        for (const t of this.tx) t.hold?.report(now);
        if (this.phase === Phase.SEND && ((this.built >= this.limit && this.pendingTotal() === 0) || now >= endMs || this.interrupts > 0)) {
          this.endSend(now);
          drainStart = now;
          this.phase = this.rx.length > 0 ? Phase.DRAIN : Phase.DONE;
        }
        if (this.phase === Phase.DRAIN && (this.counter.received >= this.sent || now - drainStart >= o.drainMs || this.interrupts > 1)) this.phase = Phase.DONE;
        if (showProgress && now >= nextProgress && this.phase !== Phase.DONE) {
          const t = (now - this.startMs) / 1000;
          if (o.json) process.stderr.write(progressJson(t, this.sent, this.rx.length ? this.counter : null) + '\n');
          else {
            const line = formatProgress(t, this.sent, this.sent - lastP.sent, this.rx.length ? this.counter.received : null,
              this.counter.received - lastP.recv, (now - lastP.t) / 1000, this.counter.latency.quantile(0.5));
            process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
          }
          lastP = { t: now, sent: this.sent, recv: this.counter.received };
          nextProgress = now + o.progressMs;
        }
      }
      if (showProgress && tty && !o.json && performance.now() - this.startMs >= o.progressMs) process.stderr.write('\n');
    } finally {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
      process.off('SIGHUP', onSig);
      this.freePending();
    }
    const perFlowSent = o.perFlow ? Float64Array.from(this.plan.seq) : undefined;
    if (perFlowSent) for (const f of this.unsentFlows) perFlowSent[f]--;
    return makeResult({
      sent: this.sent, sentBytes: this.sentBytes,
      txSeconds: (this.txEndMs - this.startMs) / 1000,
      rxSeconds: ((this.lastRxMs > 0 ? this.lastRxMs : this.txEndMs) - this.startMs) / 1000,
      listening: this.rx.length > 0, counter: this.counter, noMbuf: this.noMbuf, sizes: o.sizes, ratePps: o.ratePps,
      refused: this.tx.reduce((s, t) => s + (t.hold ? t.hold.refused : t.refused), 0),
      interrupted: this.interrupts > 0,
      tx: this.tx.map((t) => ({ port: t.port, packets: t.sent })),
      rx: this.rx.map((r) => ({ port: r.port, packets: r.matched })),
      perFlowSent,
    });
  }

  /**
   * Wait, bounded, until every port this run uses has its link up (DPDK's examples'
   * check_all_ports_link_status: up to 9 s): a port whose peer connects after start
   * (net_memif) would otherwise refuse or drop the first packets. A link still down after
   * the bound is reported and the run goes on (its packets are retried or lost, counted).
   */
  private async waitLinks(): Promise<void> {
    const ports = [...new Set([...this.o.txPorts, ...this.o.rxPorts])];
    const end = performance.now() + LINK_WAIT_MS;
    let down = ports.filter((p) => !this.dev.linkStatus(p).up);
    let said = false;
    while (down.length > 0 && performance.now() < end && this.interrupts === 0) {
      await new Promise<void>((r) => setTimeout(r, 10));
      down = down.filter((p) => !this.dev.linkStatus(p).up);
      if (!said && down.length > 0 && !this.o.quiet && end - performance.now() < LINK_WAIT_MS - LINK_NOTICE_MS) {
        said = true;
        const who = (p: number): string => {
          const i = this.dev.info(p);
          return `${p} (${i.name}, ${i.state === 'started' ? 'started: its peer brings it up' : `${i.state}, not started`})`;
        };
        process.stderr.write(`pktgen: waiting for the link of port ${down.map(who).join(', ')}... (sending anyway after ${LINK_WAIT_MS / 1000} s)\n`);
      }
    }
    if (down.length > 0 && !this.o.quiet) process.stderr.write(`pktgen: link of port ${down.join(', ')} still down after ${LINK_WAIT_MS / 1000} s; sending anyway\n`);
  }

  /**
   * Rate-limited, and nothing to send before the next batch: sleep until it is due, up to
   * NAP_MS, in one wake-up. With nothing in flight (all sent frames are back, or nobody
   * listens) a plain timed sleep; with frames out, a nap on the RX queues' doorbells, so that a
   * frame coming back ends it at once and its latency is taken then. At 10 packets/s that is
   * two wake-ups per packet (its time, its return) and nothing in between, where the idle
   * policy would poll and yield first (idle.pktgen.cpu_pct). Frames that came back within
   * SPIN_RTT_US last time, or any with --idle=poll, are left to the policy's spin instead
   * (@returns false), so a polling application's reply is not measured through a sleeper's
   * wake-up.
   * @returns whether it slept
   */
  private sleepUntilDue(now: number): boolean {
    if (this.phase !== Phase.SEND || this.ratePerMs === 0 || this.pendingTotal(false) > 0) return false;
    const due = this.startMs + (this.built + this.minBatch - 1) / this.ratePerMs;
    const wait = Math.min(due - now, NAP_MS);
    if (wait < 1) return false;
    if (this.rx.length > 0 && this.counter.received < this.sent) {
      if (this.lastRttUs < SPIN_RTT_US || this.idle.mode === 'poll') return false;
      this.idle.nap(wait);
      return true;
    }
    Atomics.wait(SLEEP_CELL, 0, 0, wait);
    this.idle.waited();
    return true;
  }

  /** --window: frames out for drainMs with nothing back are written off, so that sending goes on. */
  private windowProgress(now: number): void {
    const got = this.counter.received;
    if (got !== this.lastReceived || this.lastReceivedAt === 0) {
      this.lastReceived = got;
      this.lastReceivedAt = now;
    } else if (now - this.lastReceivedAt >= this.o.drainMs && this.built - got - this.writtenOff >= this.o.window) {
      this.writtenOff = this.built - got;
      this.lastReceivedAt = now;
    }
  }

  /** Ms until the next batch is due (rate-limited sending), else Infinity: the longest an idle round may sleep. */
  private untilDue(now: number): number {
    if (this.phase !== Phase.SEND || this.ratePerMs === 0) return Infinity;
    const due = this.startMs + (this.built + this.minBatch - 1) / this.ratePerMs;
    return due > now ? due - now : 0;
  }

  /** Frames built and not yet sent: in the send arrays, and (with `held`) held back by full queues. */
  private pendingTotal(held = true): number {
    let n = 0;
    for (const t of this.tx) n += this.hands.count(t.k) + (held && t.hold ? t.hold.held : 0);
    return n;
  }

  private endSend(now: number): void {
    if (this.sent === 0) this.txEndMs = now; // else: the time of the last send
    this.freePending();
  }

  /** Flows of frames built but never sent (for --per-flow). */
  private readonly unsentFlows: number[] = [];

  private freePending(): void {
    const h = this.hands;
    for (const t of this.tx) {
      if (t.hold) {
        t.hold.heldFlows(this.unsentFlows);
        h.free(this.rxa + 1 + t.k);
        t.hold.held = 0;
      }
      const n = h.count(t.k);
      if (n === 0) continue;
      const pend = h.array(t.k);
      for (let i = 0; i < n; i++) {
        const off = this.mbufs.dataOffset(pend[i]!);
        this.unsentFlows.push(this.dv.getUint32(off + UDP_FRAME_HLEN + PAYLOAD.FLOW, true));
      }
      h.free(t.k);
    }
  }

  /**
   * One burst for the next TX port. A port behind a software wire: what its full queues
   * held back and now has room goes again, with new frames of the flows not held back
   * (hold.ts: no head-of-line blocking). Other ports: retry what the queue refused last
   * time, or build new frames.
   */
  private txRound(nowMs: number): number {
    const tx = this.tx;
    const t = tx[this.txCursor]!;
    this.txCursor = this.txCursor + 1 === tx.length ? 0 : this.txCursor + 1;
    const mbufs = this.mbufs;
    const hands = this.hands;
    const hold = t.hold;
    const nowUs = this.originUs + nowMs * 1000;
    let n = hands.count(t.k);
    if (hold !== undefined && hold.held > 0) n += hold.release(t.k, n, nowMs);
    let bytes = 0;
    if (n > 0) {
      const pend = hands.array(t.k);
      for (let i = 0; i < n; i++) {
        const h = pend[i]!;
        const off = mbufs.dataOffset(h);
        this.dv.setFloat64(off + UDP_FRAME_HLEN + PAYLOAD.TX_TIME, nowUs, true);
        this.seal.seal(off);
        bytes += mbufs.dataLen(h);
      }
    }
    if (n === 0 || hold !== undefined) {
      const built = this.build(t, n, nowMs, nowUs, hold);
      if (built > 0) bytes += built;
      else if (built < 0 && n === 0) return 0;
      n = hands.count(t.k);
    }
    if (n === 0) return 0;
    const r = t.queues === undefined ? hands.tx(t.k, t.sink) : this.sendByQueue(t, t.queues, n);
    if (r < n) {
      const left = hands.array(t.k); // the rest, moved to its front
      for (let i = 0; i < n - r; i++) bytes -= mbufs.dataLen(left[i]!);
      if (hold !== undefined) hold.hold(t.k, n - r, nowMs);
      else {
        const again = t.retrying > r ? t.retrying - r : 0; // refused before, at the front
        t.refused += n - r - again;
        t.retrying = n - r;
      }
    } else {
      t.retrying = 0;
    }
    if (r > 0) {
      t.sent += r;
      this.sent += r;
      this.sentBytes += bytes;
      this.txEndMs = nowMs;
    }
    return r;
  }

  /**
   * Send the n frames of port t's array to the RX queues RSS picks for them: per queue, its
   * frames moved to the array's front (Hands.group: one store) and sent to that queue's ring
   * (Hands.tx of that front: a window naming the ring). @returns how many went; the rest
   * stay in the array, at its front.
   */
  private sendByQueue(t: TxSide, qs: { sinks: Sink[]; wire: Wire; tags: Uint8Array }, n: number): number {
    const hands = this.hands;
    const tags = qs.tags;
    const arr = hands.array(t.k);
    for (let i = 0; i < n; i++) tags[i] = qs.wire.queueOf(arr[i]!);
    let sent = 0;
    let held = n;
    for (let q = 0; q < qs.sinks.length && held > 0; q++) {
      const m = hands.group(t.k, tags, q);
      if (m === 0) continue;
      const s = hands.tx(t.k, qs.sinks[q]!, m);
      if (s > 0) {
        tags.copyWithin(0, s, held); // tx moved what stays to the front
        sent += s;
        held -= s;
      }
    }
    return sent;
  }

  /**
   * Build new frames for port t after the `have` its send array holds (at most a burst in
   * all, as the rate allows, none for a flow held back). @returns their bytes, -1 when no
   * mbuf could be had
   */
  private build(t: TxSide, have: number, nowMs: number, nowUs: number, hold: HeldBack | undefined): number {
    const hands = this.hands;
    let want = this.o.burst - have;
    const left = this.limit - this.built;
    if (left < want) want = left;
    if (this.ratePerMs > 0) {
      // Token bucket; at low rates frames leave in batches of ~1 ms worth, so the loop
      // sleeps between batches instead of waking per frame.
      const tokens = Math.floor((nowMs - this.startMs) * this.ratePerMs) + 1 - this.built;
      if (tokens < want) want = tokens < this.minBatch && left > tokens ? 0 : tokens;
    }
    if (this.o.window > 0) {
      const room = this.o.window - (this.built - this.counter.received - this.writtenOff);
      if (room < want) want = room;
    }
    if (hold !== undefined) {
      // What the wire may refuse must fit in the held array; blocked flows get nothing.
      if (want > hold.free - have) want = hold.free - have;
      if (hold.held > 0 && want > 0 && this.plan.openFlows(t.k, hold) === 0) want = 0;
    }
    if (want <= 0) return 0;
    // Exact at every instruction (Hands.alloc: the cache's own commit tells a reader
    // whether the burst was taken) for bursts the lcore cache serves.
    if (hands.alloc(t.k, this.pool, want) !== want) {
      this.noMbuf++;
      return -1;
    }
    const pend = hands.array(t.k);
    const plan = this.plan;
    const mbufs = this.mbufs;
    const gate = hold !== undefined && hold.held > 0 ? hold : undefined;
    let bytes = 0;
    for (let i = have; i < have + want; i++) {
      const h = pend[i]!;
      const len = plan.build(t.k, mbufs.dataOffset(h), nowUs, gate); // sealed (UDP checksum) as it is built
      mbufs.setDataLen(h, len);
      mbufs.setPktLen(h, len);
      bytes += len;
    }
    this.built += want;
    return bytes;
  }

  /** Receive one burst from every RX port; count this run's frames; free everything. */
  private rxRound(nowMs: number): number {
    const rx = this.rx;
    let total = 0;
    for (let p = 0; p < rx.length; p++) {
      const side = rx[p]!;
      // Up to RX_ROUNDS bursts per port: collecting must outpace sending, or the
      // application's TX queue fills up and it drops.
      for (let round = 0; round < RX_ROUNDS; round++) {
        const k = this.rxBurst(side, nowMs);
        total += k;
        if (k < RX_BURST) break;
      }
    }
    return total;
  }

  /** One burst from one RX port (its sources in turn): count this run's frames, free everything. */
  private rxBurst(side: RxSide, nowMs: number): number {
    const hands = this.hands;
    const ns = side.sources.length;
    let k = 0;
    for (let i = 0; i < ns && k === 0; i++) {
      const src = side.sources[side.next]!;
      side.next = side.next + 1 === ns ? 0 : side.next + 1;
      k = hands.rx(this.rxa, src, RX_BURST);
    }
    if (k === 0) return 0;
    const h = hands.array(this.rxa);
    const u8 = this.u8;
    const mbufs = this.mbufs;
    const info = this.info;
    const counter = this.counter;
    const flows = counter.flows;
    const nowUs = this.originUs + performance.now() * 1000;
    const before = counter.received;
    for (let i = 0; i < k; i++) {
      const m = h[i]!;
      const len = mbufs.dataLen(m);
      const off = mbufs.dataOffset(m);
      if (!readPayload(u8, off, len, info)) counter.foreign++;
      else if (!this.seal.intact(off, len)) counter.corrupt++;
      else if (info.flow < flows && info.txTime >= this.runStartUs && info.txTime <= nowUs) {
        counter.record(info.flow, info.seq, nowUs - info.txTime, len);
        // Erase the magic: a driver that hands out pool buffers without writing them
        // (net_null RX) must not replay this frame as ours.
        u8[off + UDP_FRAME_HLEN + PAYLOAD.MAGIC] = 0;
      } else counter.foreign++;
    }
    side.matched += counter.received - before;
    if (counter.received > before) {
      this.lastRxMs = nowMs;
      this.lastRttUs = nowUs - info.txTime; // the burst's last frame, if it was this run's: near enough
    }
    hands.free(this.rxa);
    return k;
  }
}

/** The software wire of a port, or undefined when it has none (a driver without one, a peered net_ring). */
function wireOf(dev: EthDev, port: number, side: WireSide): Wire | undefined {
  try {
    return dev.wire(port, side);
  } catch (e) {
    if (isMpdkError(e, 'EINVAL')) return undefined; // no wire: it has queues
    throw e;
  }
}
