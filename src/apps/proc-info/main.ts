/**
 * `mpdk proc-info --file-prefix X [sections] [--json]` (DPDK's dpdk-proc-info): a one-shot
 * report of a running instance — ports with per-queue counters, rings (size, count, free,
 * high-water mark), mempools (available, in use, per-lcore cache fill), memzones,
 * processes and lcores, capture rings. Read-only: it attaches with Eal.observe (a PROT_READ
 * mapping), so it cannot change the instance.
 *
 * The one write, `--stats-reset`, attaches briefly as a secondary (attach.ts) and calls
 * EthDev.resetStats, which moves the counters' base under the ports lock (the owners keep
 * counting; ethdev/layout.ts); it touches nothing else.
 *
 * `--prometheus [127.0.0.1]:PORT` serves the same counters for monitoring (metrics.ts);
 * `mpdk exporter` is the same program with --prometheus defaulting to :9091.
 */
import { Eal, EthDev, MpdkError } from '../../index.js';
import { parseToolArgs } from '../tool-args.js';
import { parsePortmask } from '../app-options.js';
import { attachSecondary } from './attach.js';
import { serveMetrics } from './metrics.js';
import { snapshot, type PortSnap, type Snapshot } from './snapshot.js';

export const USAGE = `usage: mpdk proc-info --file-prefix NAME [options]
  (no section option: every section)
  --stats               ports: counters per port and per queue (RX/TX packets, bytes, drops)
  --xstats              ports: extended statistics with DPDK's names (rx_q0_packets, ...)
  -p PORTMASK           only these ports (hexadecimal mask), for --stats, --xstats, --stats-reset
  --stats-reset         reset the counters of the ports (attaches briefly as a secondary)
  --memzone             memzones
  --ring NAME           one ring (repeatable; --show-ring=NAME too); --rings: every ring
  --mempool NAME        one mempool (repeatable; --show-mempool=NAME too); --mempools: every pool
  --procs               processes and lcores
  --captures            capture rings (mpdk dumpcap)
  --json                the report as JSON
  --prometheus [127.0.0.1]:PORT   serve the counters in the Prometheus text format until killed`;

const FLAGS = ['--stats', '--xstats', '--stats-reset', '--memzone', '--rings', '--mempools', '--procs', '--captures'];
const VALUES = ['--ring', '--show-ring', '--mempool', '--show-mempool', '-p', '--prometheus'];

export async function main(argv: string[], usage = USAGE, defaultListen?: string): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const a = parseToolArgs(argv, usage, FLAGS, VALUES);
  const has = (f: string): boolean => a.rest.includes(f);
  const listen = a.values['--prometheus'] ?? defaultListen;
  if (listen !== undefined) return serveMetrics(a.filePrefix, listen);
  const mask = a.values['-p'] !== undefined ? parsePortmask(a.values['-p'], usage) : undefined;
  const ringNames = [...(a.repeated['--ring'] ?? []), ...(a.repeated['--show-ring'] ?? [])];
  const poolNames = [...(a.repeated['--mempool'] ?? []), ...(a.repeated['--show-mempool'] ?? [])];

  if (has('--stats-reset')) {
    Eal.observe(a.filePrefix); // refuse (ENOENT) before anything else
    const eal = attachSecondary(a.filePrefix, 'proc-info');
    try {
      const dev = EthDev.attach(eal);
      const reset: number[] = [];
      for (let p = 0; p < dev.count; p++) {
        if (mask !== undefined && !mask.includes(p)) continue;
        dev.resetStats(p);
        reset.push(p);
      }
      process.stdout.write(`reset the counters of port${reset.length === 1 ? '' : 's'} ${reset.join(', ') || '(none)'}\n`);
    } finally {
      eal.close();
    }
    if (a.rest.length === 1 && ringNames.length === 0 && poolNames.length === 0) return 0;
  }

  const eal = Eal.observe(a.filePrefix);
  const s = snapshot(eal);
  const any = ringNames.length > 0 || poolNames.length > 0 || a.rest.some((f) => f !== '--stats-reset');
  const want = (f: string): boolean => !any || has(f);
  const ports = s.ports.filter((p) => mask === undefined || mask.includes(p.id));
  if (mask !== undefined) for (const p of mask) if (!s.ports.some((x) => x.id === p)) throw new MpdkError('ENODEV', `no port ${p} in instance '${a.filePrefix}' (it has ${s.ports.length})`);
  const pick = <T extends { name: string }>(all: T[], names: string[], what: string): T[] =>
    names.map((n) => {
      const o = all.find((x) => x.name === n);
      if (!o) throw new MpdkError('ENOENT', `no ${what} named '${n}' in instance '${a.filePrefix}'; ${what}s: ${all.map((x) => x.name).join(', ') || 'none'}`);
      return o;
    });
  const rings = ringNames.length ? pick(s.rings, ringNames, 'ring') : want('--rings') ? s.rings : [];
  const pools = poolNames.length ? pick(s.mempools, poolNames, 'mempool') : want('--mempools') ? s.mempools : [];

  const report: Record<string, unknown> = { filePrefix: s.filePrefix, time: new Date(s.time).toISOString() };
  if (want('--procs')) Object.assign(report, { primary: s.primary, processes: s.processes, lcores: s.lcores });
  if (want('--stats')) report.ports = ports;
  if (want('--xstats')) report.xstats = Object.fromEntries(ports.map((p) => [p.id, xstats(p)]));
  if (rings.length || want('--rings')) report.rings = rings;
  if (pools.length || want('--mempools')) report.mempools = pools;
  if (want('--memzone')) report.memzones = s.memzones;
  if (want('--captures')) report.captures = s.captures;
  if (a.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return 0;
  }
  printText(s, report, ports, rings, pools);
  return 0;
}

/** DPDK's basic xstats names, per port and per queue. */
export function xstats(p: PortSnap): Record<string, number> {
  const s = p.stats;
  const x: Record<string, number> = {
    rx_good_packets: s.ipackets, tx_good_packets: s.opackets, rx_good_bytes: s.ibytes, tx_good_bytes: s.obytes,
    rx_missed_errors: s.imissed, rx_errors: s.ierrors, tx_errors: s.oerrors, rx_mbuf_allocation_errors: s.rxNombuf,
  };
  for (const q of s.queues) {
    if (q.q < p.nbRx) {
      x[`rx_q${q.q}_packets`] = q.ipackets;
      x[`rx_q${q.q}_bytes`] = q.ibytes;
      x[`rx_q${q.q}_errors`] = q.ierrors;
      x[`rx_q${q.q}_missed`] = q.imissed;
    }
  }
  for (const q of s.queues) {
    if (q.q < p.nbTx) {
      x[`tx_q${q.q}_packets`] = q.opackets;
      x[`tx_q${q.q}_bytes`] = q.obytes;
      x[`tx_q${q.q}_errors`] = q.oerrors;
    }
  }
  return x;
}

function printText(s: Snapshot, report: Record<string, unknown>, ports: PortSnap[], rings: Snapshot['rings'], pools: Snapshot['mempools']): void {
  const w = (line: string): boolean => process.stdout.write(line + '\n');
  const banner = (t: string): boolean => w(`${'#'.repeat(12)} ${t} ${'#'.repeat(Math.max(4, 66 - t.length))}`);
  if (report.processes) {
    banner(`instance '${s.filePrefix}': ${s.processes.filter((p) => p.alive).length} live process(es), primary pid ${s.primary.pid} ${s.primary.alive ? 'alive' : 'gone'}`);
    for (const p of s.processes) {
      w(`  pid ${String(p.pid).padEnd(8)} ${p.type.padEnd(9)} ${p.name.padEnd(20)} lcores ${(p.lcores.join(',') || '-').padEnd(8)} ${p.alive ? `cpu ${p.cpuSeconds.toFixed(2)} s, ${p.threads} threads, rss ${(p.rssBytes / 1048576).toFixed(1)} MiB` : 'DEAD'}`);
    }
  }
  if (report.ports) {
    for (const p of ports) {
      const st = p.stats;
      banner(`NIC statistics for port ${p.id} (${p.name}, ${p.driver}, ${p.state}, link ${p.link.up ? 'up' : 'down'})`);
      w(`  RX-packets: ${st.ipackets}  RX-bytes: ${st.ibytes}  RX-missed: ${st.imissed}  RX-errors: ${st.ierrors}  RX-nombuf: ${st.rxNombuf}`);
      w(`  TX-packets: ${st.opackets}  TX-bytes: ${st.obytes}  TX-errors: ${st.oerrors}`);
      for (const q of st.queues) {
        const rx = q.q < p.nbRx ? `RX ${q.ipackets} pkts ${q.ibytes} B missed ${q.imissed} owner ${q.rxOwner || '-'}` : '';
        const tx = q.q < p.nbTx ? `TX ${q.opackets} pkts ${q.obytes} B errors ${q.oerrors} owner ${q.txOwner || '-'}` : '';
        w(`  queue ${String(q.q).padStart(2)}: ${[rx, tx].filter(Boolean).join(' | ')}`);
      }
    }
  }
  if (report.xstats) {
    for (const p of ports) {
      banner(`NIC extended statistics for port ${p.id} (${p.name})`);
      for (const [k, v] of Object.entries(xstats(p))) w(`  ${k}: ${v}`);
    }
  }
  if (report.rings) {
    banner(`rings (${rings.length})`);
    for (const r of rings) w(`  ${r.name.padEnd(28)} size ${String(r.size).padStart(6)} capacity ${String(r.capacity).padStart(6)} count ${String(r.count).padStart(6)} free ${String(r.free).padStart(6)} high-water ${r.highWater}`);
  }
  if (report.mempools) {
    banner(`mempools (${pools.length})`);
    for (const m of pools) {
      const caches = Object.entries(m.cacheFill).map(([l, n]) => `${l}:${n}`).join(' ');
      w(`  ${m.name.padEnd(28)} size ${m.size} elt ${m.eltSize} B  available ${m.available}  in use ${m.inUse}  cache ${m.cacheSize}/lcore${caches ? ` [lcore:fill ${caches}]` : ''}`);
    }
  }
  if (report.memzones) {
    banner(`memzones (${s.memzones.length})`);
    for (const z of s.memzones) w(`  ${z.name.padEnd(32)} offset 0x${z.offset.toString(16).padStart(8, '0')} length ${String(z.length).padStart(10)}  by pid ${z.creator}`);
  }
  if (report.captures && s.captures.length) {
    banner(`capture rings (${s.captures.length})`);
    for (const c of s.captures) {
      w(`  port ${c.port} ${c.dir} queue ${c.queue}: ${c.armed ? `armed by pid ${c.owner}${c.ownerAlive ? '' : ' (dead)'}` : 'idle'}, captured ${c.packets}, dropped ${c.drops}, tap time ${(c.tapNs / 1e6).toFixed(1)} ms`);
    }
  }
}

/** `mpdk exporter`: proc-info --prometheus, listening on :9091 unless told otherwise. */
export async function exporterMain(argv: string[]): Promise<number> {
  const usage = 'usage: mpdk exporter --file-prefix NAME [--prometheus [127.0.0.1]:PORT]  (default :9091; serves /metrics until killed)';
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const a = parseToolArgs(argv, usage, [], ['--prometheus']);
  return serveMetrics(a.filePrefix, a.values['--prometheus'] ?? ':9091');
}
