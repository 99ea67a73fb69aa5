/**
 * pktgen's traffic: what it sends, in which order. Pure (no shared state): the option
 * parsers for rates, durations, size mixes and port lists, and `TrafficPlan`, which writes
 * the next test frame (src/net/packet.ts layout: Eth/IPv4/UDP + payload magic, seq, flow,
 * TX time) for a given TX port at (u8, offset) — an mbuf's data in the region, or a scratch
 * buffer for `--pcap`.
 *
 *   who calls what
 *   main.ts (options)   parseRate, parseDuration, parseSizeMix, parsePortList
 *   main.ts (run loop)  plan.build(k, off, txTimeUs, gate?) per packet (k = index of the TX
 *                       port; flows the gate holds back are skipped), openFlows(k, gate)
 *   main.ts (--pcap)    writePcap(plan, file, count, ratePps)
 *
 * Flows: F distinct 5-tuples (src IP 10.0.0.1 + g, dst 10.1.0.1, UDP 1024 → 5001), global
 * ids g = 0..F−1. Flow g is sent on TX port g mod nTx only, so a flow's packets take one
 * path and its per-flow sequence is meaningful at the receiver. Each port cycles over its
 * own flows; the frame size follows one repeating size pattern shared by all ports
 * (a smooth weighted round robin of the mix: 64:7,576:4,1500:1 interleaves, it does not
 * send 7 small frames then 4 medium ones).
 */
import {
  FlowSet, MpdkError, PcapWriter, UDP_FRAME_MAX, UDP_FRAME_MIN, UdpFrameBuilder, UsageError, parseIpv4, portMac,
} from '../../index.js';

/** The generator's own source MAC for TX port index k: 02:00:00:00:10:<k>. */
export function generatorMac(k: number): Uint8Array {
  return Uint8Array.of(2, 0, 0, 0, 0x10, k & 255);
}

/** Largest weight sum of a size mix (the pattern's length). */
export const SIZE_PATTERN_MAX = 4096;

/** "1000", "2.5k", "1M", "0.5G" packets per second -> pps (> 0). UsageError otherwise. */
export function parseRate(v: string, usage: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)(?:pps)?$/.exec(v.trim());
  const mult = m ? ({ '': 1, k: 1e3, m: 1e6, g: 1e9 } as Record<string, number>)[m[2]!.toLowerCase()]! : 0;
  const r = m ? Number(m[1]) * mult : NaN;
  if (!(r > 0) || !Number.isFinite(r)) throw new UsageError(`invalid --rate '${v}': expected packets per second > 0, e.g. 1000, 250k or 1.5M\n${usage}`);
  return r;
}

/** "10", "2.5", "2.5s", "500ms" -> seconds (> 0). */
export function parseDuration(v: string, usage: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|ms)?$/.exec(v.trim());
  const s = m ? Number(m[1]) / (m[2] === 'ms' ? 1000 : 1) : NaN;
  if (!(s > 0) || !Number.isFinite(s)) throw new UsageError(`invalid --duration '${v}': expected seconds > 0, e.g. 10, 2.5 or 500ms\n${usage}`);
  return s;
}

/** Check one frame size for an option. */
export function checkSize(n: number, what: string, usage: string): number {
  if (!Number.isInteger(n) || n < UDP_FRAME_MIN || n > UDP_FRAME_MAX) {
    throw new UsageError(`invalid ${what} ${n}: a frame is ${UDP_FRAME_MIN} to ${UDP_FRAME_MAX} bytes (no FCS; 64 for the small-packet figure)\n${usage}`);
  }
  return n;
}

/**
 * "64:7,576:4,1500:1" -> the repeating pattern of frame sizes (length = weight sum),
 * interleaved by smooth weighted round robin. A bare size ("64") has weight 1.
 */
export function parseSizeMix(v: string, usage: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  const items: { size: number; w: number }[] = [];
  for (const p of parts) {
    const m = /^(\d+)(?::(\d+))?$/.exec(p);
    if (!m) throw new UsageError(`invalid --size-mix '${v}': expected SIZE:WEIGHT,... e.g. 64:7,576:4,1500:1\n${usage}`);
    const size = checkSize(Number(m[1]), '--size-mix size', usage);
    const w = m[2] === undefined ? 1 : Number(m[2]);
    if (w < 1) throw new UsageError(`invalid --size-mix '${v}': weight of ${size} must be ≥ 1\n${usage}`);
    const same = items.find((i) => i.size === size);
    if (same) same.w += w;
    else items.push({ size, w });
  }
  const total = items.reduce((a, i) => a + i.w, 0);
  if (total > SIZE_PATTERN_MAX) throw new UsageError(`invalid --size-mix '${v}': weights add up to ${total}; at most ${SIZE_PATTERN_MAX}\n${usage}`);
  const cur = items.map(() => 0);
  const out: number[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < items.length; i++) {
      cur[i]! += items[i]!.w;
      if (cur[i]! > cur[best]!) best = i;
    }
    cur[best]! -= total;
    out.push(items[best]!.size);
  }
  return out;
}

/** Append the ports of "0", "0,1" or "0-3" to `into` (repeatable option). */
export function parsePortList(v: string, opt: string, into: number[], usage: string): void {
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    const a = m ? Number(m[1]) : NaN;
    const b = m && m[2] !== undefined ? Number(m[2]) : a;
    if (!m || b < a || b > 63) throw new UsageError(`invalid ${opt} '${v}': expected port ids such as 0, 0,1 or 0-3 (0..63)\n${usage}`);
    for (let p = a; p <= b; p++) if (!into.includes(p)) into.push(p);
  }
}

/** Which flows may not get a new frame now (pktgen/hold.ts: one of theirs is held back). */
export interface FlowGate {
  blocked(g: number): boolean;
}

interface PortPlan {
  /** Global flow id of local flow j. */
  global: Uint32Array;
  /** One builder per distinct size (index = sizeIdx value). */
  builders: UdpFrameBuilder[];
  cursor: number;
}

export interface PlanSpec {
  /** TX port ids (only their MACs and count matter here). */
  txPorts: readonly number[];
  /** Destination MAC of each TX port's frames (default: the port's mpdk MAC). */
  dstMacs?: readonly Uint8Array[];
  flows: number;
  /** Repeating frame-size pattern (parseSizeMix, or [size]). */
  sizes: readonly number[];
}

/**
 * The frames to send, per TX port: flow order, sizes and per-flow sequence numbers. Bound
 * to one byte buffer (builders write through a DataView over it). build() allocates nothing.
 */
export class TrafficPlan {
  readonly flows: number;
  readonly txPorts: readonly number[];
  /** Next sequence number of each global flow = frames built for it so far. */
  readonly seq: Uint32Array;
  private readonly ports: PortPlan[];
  private readonly sizeIdx: Uint8Array;
  private readonly sizeOf: Uint16Array;
  private sizeCursor = 0;
  readonly distinctSizes: readonly number[];

  constructor(u8: Uint8Array, spec: PlanSpec) {
    const nTx = spec.txPorts.length;
    if (nTx < 1) throw new MpdkError('EINVAL', 'pktgen needs at least one TX port');
    if (!Number.isInteger(spec.flows) || spec.flows < nTx) {
      throw new MpdkError('EINVAL', `--flows ${spec.flows}: each of the ${nTx} TX ports needs at least one flow (flows go to ports round robin)`);
    }
    this.flows = spec.flows;
    this.txPorts = spec.txPorts;
    this.seq = new Uint32Array(spec.flows);
    const distinct = [...new Set(spec.sizes)];
    if (distinct.length > 255) throw new MpdkError('EINVAL', 'at most 255 distinct frame sizes');
    this.distinctSizes = distinct;
    this.sizeIdx = Uint8Array.from(spec.sizes, (s) => distinct.indexOf(s));
    this.sizeOf = Uint16Array.from(distinct);
    const srcBase = parseIpv4('10.0.0.1');
    this.ports = spec.txPorts.map((port, k) => {
      const n = Math.ceil((spec.flows - k) / nTx);
      const fs = new FlowSet(n, generatorMac(k), spec.dstMacs?.[k] ?? portMac(port));
      const global = new Uint32Array(n);
      const dst = parseIpv4('10.1.0.1');
      for (let j = 0; j < n; j++) {
        const g = k + j * nTx;
        global[j] = g;
        fs.srcIp[j] = (srcBase + g) >>> 0;
        fs.dstIp[j] = dst;
        fs.sport[j] = 1024;
        fs.dport[j] = 5001;
      }
      return { global, builders: distinct.map((s) => new UdpFrameBuilder(u8, fs, s)), cursor: 0 };
    });
  }

  /** TX port index k's flows that `gate` does not hold back. */
  openFlows(k: number, gate: FlowGate): number {
    const g = this.ports[k]!.global;
    let n = 0;
    for (let j = 0; j < g.length; j++) if (!gate.blocked(g[j]!)) n++;
    return n;
  }

  /** Largest frame of the pattern. */
  get maxSize(): number {
    return Math.max(...this.distinctSizes);
  }

  /**
   * Write the next frame of TX port index k at u8[off..] with TX time `txTimeUs` (the
   * payload's f64), its UDP checksum filled in (what FrameSeal.seal would store).
   * @returns its length
   */
  build(k: number, off: number, txTimeUs: number, gate?: FlowGate): number {
    const p = this.ports[k]!;
    let j = p.cursor;
    // Flows the gate holds back are skipped (openFlows(k, gate) > 0 is the caller's promise).
    if (gate !== undefined) for (let i = 0; i < p.global.length && gate.blocked(p.global[j]!); i++) j = j + 1 === p.global.length ? 0 : j + 1;
    p.cursor = j + 1 === p.global.length ? 0 : j + 1;
    const g = p.global[j]!;
    const c = this.sizeCursor;
    this.sizeCursor = c + 1 === this.sizeIdx.length ? 0 : c + 1;
    const si = this.sizeIdx[c]!;
    const s = this.seq[g]!;
    this.seq[g] = s + 1;
    // The template is the port-local flow j's; the payload carries the global id g.
    p.builders[si]!.buildSealed(off, j, s, txTimeUs, g);
    return this.sizeOf[si]!;
  }
}

/**
 * `--pcap FILE`: write `count` frames as the live run would send them (TX ports in turn,
 * `burst` frames each, UDP checksum filled in) with record timestamps `1/ratePps`
 * apart (or back to back at 10 Gbit/s when no rate is given); the payload TX time is the
 * record's time in µs.
 * @returns frames and bytes written
 */
export function writePcap(plan: TrafficPlan, scratch: Uint8Array, file: string, count: number, burst: number, ratePps: number | undefined): { frames: number; bytes: number } {
  const w = PcapWriter.open(file);
  const startUs = Math.floor(Date.now()) * 1000;
  let tUs = startUs;
  let bytes = 0;
  let k = 0;
  let inBurst = 0;
  try {
    for (let i = 0; i < count; i++) {
      const len = plan.build(k, 0, tUs);
      const sec = Math.floor(tUs / 1e6);
      w.write(scratch, 0, len, len, sec, Math.floor(tUs - sec * 1e6));
      bytes += len;
      tUs += ratePps ? 1e6 / ratePps : ((len + 20) * 8) / 1e4;
      if (++inBurst === burst) {
        inBurst = 0;
        k = k + 1 === plan.txPorts.length ? 0 : k + 1;
      }
    }
  } finally {
    w.close();
  }
  return { frames: count, bytes };
}
