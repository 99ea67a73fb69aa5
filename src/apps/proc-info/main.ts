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
import { Eal, EthDev, FILE_PREFIX_OPTION, MpdkError, instancePrefix, parseArgs, parsePortmask, type ProgramSpec } from '../../index.js';
import { attachSecondary } from './attach.js';
import { serveMetrics } from './metrics.js';
import { snapshot, type PortSnap, type Snapshot } from './snapshot.js';

const PROMETHEUS = { names: ['--prometheus'], value: '[127.0.0.1]:PORT', help: 'serve the counters in the Prometheus text format until killed' };

export const spec: ProgramSpec = {
  name: 'proc-info',
  synopsis: '[--file-prefix NAME] [options]',
  eal: false,
  about: 'A one-shot report of a running instance, read-only (no section option: every section).',
  options: [
    FILE_PREFIX_OPTION,
    { names: ['--stats'], help: 'ports: counters per port and per queue (RX/TX packets, bytes, drops)' },
    { names: ['--xstats'], help: "ports: extended statistics with DPDK's names (rx_q0_packets, ...)" },
    { names: ['-p'], value: 'PORTMASK', help: 'only these ports (hexadecimal mask), for --stats, --xstats, --stats-reset' },
    { names: ['--stats-reset'], help: 'reset the counters of the ports (attaches briefly as a secondary)' },
    { names: ['--memzone'], help: 'memzones' },
    { names: ['--ring', '--show-ring'], value: 'NAME', repeat: true, help: 'one ring (repeatable)' },
    { names: ['--rings'], help: 'every ring' },
    { names: ['--mempool', '--show-mempool'], value: 'NAME', repeat: true, help: 'one mempool (repeatable)' },
    { names: ['--mempools'], help: 'every mempool' },
    { names: ['--procs'], help: 'processes and lcores' },
    { names: ['--captures'], help: 'capture rings (mpdk dumpcap)' },
    { names: ['--json'], help: 'the report as JSON' },
    PROMETHEUS,
  ],
};

/** The section flags: without any, every section. */
const SECTIONS = ['--stats', '--xstats', '--memzone', '--rings', '--mempools', '--procs', '--captures'];

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(spec, argv);
  const filePrefix = instancePrefix(a);
  const has = (f: string): boolean => a.has(f);
  const listen = a.value('--prometheus');
  if (listen !== undefined) return serveMetrics(filePrefix, listen);
  const pv = a.value('-p');
  const mask = pv !== undefined ? parsePortmask(pv) : undefined;
  const ringNames = a.all('--ring');
  const poolNames = a.all('--mempool');

  if (has('--stats-reset')) {
    Eal.observe(filePrefix); // refuse (ENOENT) before anything else
    const eal = attachSecondary(filePrefix, 'proc-info');
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
    if (!SECTIONS.some(has) && ringNames.length === 0 && poolNames.length === 0) return 0;
  }

  const eal = Eal.observe(filePrefix);
  const s = snapshot(eal);
  const any = ringNames.length > 0 || poolNames.length > 0 || SECTIONS.some(has);
  const want = (f: string): boolean => !any || has(f);
  const ports = s.ports.filter((p) => mask === undefined || mask.includes(p.id));
  if (mask !== undefined) for (const p of mask) if (!s.ports.some((x) => x.id === p)) throw new MpdkError('ENODEV', `no port ${p} in instance '${filePrefix}' (it has ${s.ports.length})`);
  const pick = <T extends { name: string }>(all: T[], names: string[], what: string): T[] =>
    names.map((n) => {
      const o = all.find((x) => x.name === n);
      if (!o) throw new MpdkError('ENOENT', `no ${what} named '${n}' in instance '${filePrefix}'; ${what}s: ${all.map((x) => x.name).join(', ') || 'none'}`);
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
  if (a.has('--json')) {
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

export const exporterSpec: ProgramSpec = {
  name: 'exporter',
  synopsis: '[--file-prefix NAME] [--prometheus [127.0.0.1]:PORT]',
  eal: false,
  about: "proc-info's counters in the Prometheus text format at /metrics, on the loopback, until killed.",
  options: [FILE_PREFIX_OPTION, { ...PROMETHEUS, help: 'where to listen (default :9091)' }],
};

/** `mpdk exporter`: proc-info --prometheus, listening on :9091 unless told otherwise. */
export async function exporterMain(argv: string[]): Promise<number> {
  const a = parseArgs(exporterSpec, argv);
  return serveMetrics(instancePrefix(a), a.value('--prometheus') ?? ':9091');
}
