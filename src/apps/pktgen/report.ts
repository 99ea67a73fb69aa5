/**
 * pktgen's output: the result object (printed as one JSON line with --json), the summary
 * table, and the progress line (human, or one JSON object with --json). Pure formatting;
 * no shared state.
 *
 * Rates: Mpps = frames / seconds; Gbit/s is the L1 (line) rate: every frame counts its
 * stored bytes + 20 (8 bytes of preamble and start delimiter + 12 of inter-frame gap), as
 * line-rate tools count. mpdk frames carry no FCS, so a 64-byte frame here is 64 bytes of
 * headers and payload (DPDK's "64-byte packet" is 60 + 4 FCS). `l2Gbps` counts frame bytes only.
 */
import type { RxCounter } from './counter.js';

/** Bytes of preamble + start-of-frame delimiter + inter-frame gap per frame on the wire. */
export const L1_OVERHEAD = 20;

export interface PortCount {
  port: number;
  packets: number;
}

export interface PktgenResult {
  sent: number;
  /** null when pktgen listens on no port (--rx-port not given). */
  received: number | null;
  lost: number | null;
  /** Receive rate when listening, else the send rate. */
  mpps: number;
  /** L1 rate (frame + 20 bytes) of what `mpps` counts. */
  gbps: number;
  txMpps: number;
  rxMpps: number | null;
  l2Gbps: number;
  seconds: number;
  latency: { p50Us: number; p99Us: number; minUs: number; maxUs: number; meanUs: number } | null;
  reordered: number;
  duplicates: number;
  /** Frames received that were not this run's (other traffic, an earlier run's stragglers). */
  foreign: number;
  /** Frames with pktgen's magic and a wrong IPv4/UDP checksum or length (not in `received`). */
  corrupt: number;
  /** Bursts that found the mbuf pool empty (back-pressure: frames in flight hold the pool). */
  noMbuf: number;
  /** Frames a full queue refused, each counted once: resent until taken (never counted as sent before). */
  refused: number;
  flows: number;
  sizes: number[];
  ratePps: number | null;
  interrupted: boolean;
  tx: PortCount[];
  rx: PortCount[];
  perFlow?: { flow: number; sent: number; received: number }[];
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export interface ResultInput {
  sent: number;
  sentBytes: number;
  txSeconds: number;
  rxSeconds: number;
  listening: boolean;
  counter: RxCounter;
  noMbuf: number;
  refused: number;
  sizes: number[];
  ratePps: number | undefined;
  interrupted: boolean;
  tx: PortCount[];
  rx: PortCount[];
  perFlowSent?: Float64Array;
}

export function makeResult(i: ResultInput): PktgenResult {
  const c = i.counter;
  const txMpps = i.txSeconds > 0 ? i.sent / i.txSeconds / 1e6 : 0;
  const rxMpps = i.listening ? (i.rxSeconds > 0 ? c.received / i.rxSeconds / 1e6 : 0) : null;
  const frames = i.listening ? c.received : i.sent;
  const bytes = i.listening ? c.bytes : i.sentBytes;
  const secs = i.listening ? i.rxSeconds : i.txSeconds;
  const l1 = secs > 0 ? ((bytes + L1_OVERHEAD * frames) * 8) / secs / 1e9 : 0;
  const l2 = secs > 0 ? (bytes * 8) / secs / 1e9 : 0;
  const h = c.latency;
  const res: PktgenResult = {
    sent: i.sent,
    received: i.listening ? c.received : null,
    lost: i.listening ? Math.max(0, i.sent - c.received) : null,
    mpps: r3(rxMpps ?? txMpps),
    gbps: r3(l1),
    txMpps: r3(txMpps),
    rxMpps: rxMpps === null ? null : r3(rxMpps),
    l2Gbps: r3(l2),
    seconds: r3(Math.max(i.txSeconds, i.rxSeconds)),
    latency: h.n > 0 ? { p50Us: r3(h.quantile(0.5)), p99Us: r3(h.quantile(0.99)), minUs: r3(h.minUs), maxUs: r3(h.maxUs), meanUs: r3(h.meanUs) } : null,
    reordered: c.reordered,
    duplicates: c.duplicates,
    foreign: c.foreign,
    corrupt: c.corrupt,
    noMbuf: i.noMbuf,
    refused: i.refused,
    flows: c.flows,
    sizes: i.sizes,
    ratePps: i.ratePps ?? null,
    interrupted: i.interrupted,
    tx: i.tx,
    rx: i.rx,
  };
  if (i.perFlowSent) {
    res.perFlow = Array.from({ length: c.flows }, (_, f) => ({ flow: f, sent: i.perFlowSent![f]!, received: c.perFlow[f]! }));
  }
  return res;
}

function n(x: number | null): string {
  return x === null ? '-' : String(x);
}

/** The end-of-run table (stdout without --json). */
export function formatSummary(r: PktgenResult): string {
  const ports = `tx ${r.tx.map((p) => p.port).join(',')}${r.rx.length ? ` -> rx ${r.rx.map((p) => p.port).join(',')}` : ''}`;
  const sizes = [...new Set(r.sizes)];
  const lossPct = r.lost !== null && r.sent > 0 ? ` (${((100 * r.lost) / r.sent).toFixed(3)} %)` : '';
  const rows: [string, string][] = [
    ['ports', ports],
    ['flows / sizes', `${r.flows} / ${sizes.join(',')} B${r.ratePps ? ` at ${r.ratePps} pps` : ', as fast as possible'}`],
    ['time', `${r.seconds.toFixed(3)} s${r.interrupted ? ' (interrupted)' : ''}`],
    ['sent', `${r.sent}   ${r.txMpps.toFixed(3)} Mpps`],
    ['received', `${n(r.received)}${r.rxMpps !== null ? `   ${r.rxMpps.toFixed(3)} Mpps` : ''}`],
    ['lost', `${n(r.lost)}${lossPct}`],
    ['refused', `${r.refused}${r.refused ? ' frames by full queues, each resent until taken' : ''}`],
    ['rate', `${r.mpps.toFixed(3)} Mpps   ${r.gbps.toFixed(3)} Gbit/s (L1)   ${r.l2Gbps.toFixed(3)} Gbit/s (L2)`],
    ['latency', r.latency ? `p50 ${r.latency.p50Us.toFixed(1)} us   p99 ${r.latency.p99Us.toFixed(1)} us   min ${r.latency.minUs.toFixed(1)}   max ${r.latency.maxUs.toFixed(1)}` : '-'],
    ['order', `reordered ${r.reordered}   duplicates ${r.duplicates}   foreign ${r.foreign}   corrupt ${r.corrupt}`],
  ];
  for (const p of r.tx) rows.push([`  tx port ${p.port}`, String(p.packets)]);
  for (const p of r.rx) rows.push([`  rx port ${p.port}`, String(p.packets)]);
  if (r.noMbuf) rows.push(['pool empty', `${r.noMbuf} bursts waited for mbufs`]);
  const w = Math.max(...rows.map((x) => x[0].length));
  const lines = ['pktgen summary', ...rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`)];
  if (r.perFlow) {
    lines.push('  flow      sent  received');
    for (const f of r.perFlow) lines.push(`  ${String(f.flow).padStart(4)}  ${String(f.sent).padStart(8)}  ${String(f.received).padStart(8)}`);
  }
  lines.push('Gbit/s (L1) counts each frame + 20 bytes of preamble and inter-frame gap; frames carry no FCS.');
  return lines.join('\n');
}

/** One progress line: totals and the rates over the last interval. */
export function formatProgress(t: number, sent: number, dSent: number, received: number | null, dRecv: number, dtSec: number, p50Us: number): string {
  const rate = (d: number): string => (dtSec > 0 ? (d / dtSec / 1e6).toFixed(3) : '0.000');
  let s = `pktgen ${t.toFixed(1)}s  tx ${sent} (${rate(dSent)} Mpps)`;
  if (received !== null) s += `  rx ${received} (${rate(dRecv)} Mpps)  in flight/lost ${Math.max(0, sent - received)}  p50 ${p50Us.toFixed(1)} us`;
  return s;
}

/**
 * One progress line for machines (--json): {"t", "sent", "received", "corrupt", "duplicates",
 * "reordered", "foreign"}; the receive fields are null when pktgen listens on no port.
 */
export function progressJson(t: number, sent: number, c: RxCounter | null): string {
  return JSON.stringify({
    t: r3(t), sent, received: c ? c.received : null, corrupt: c ? c.corrupt : null, duplicates: c ? c.duplicates : null,
    reordered: c ? c.reordered : null, foreign: c ? c.foreign : null,
  });
}
