/**
 * `mpdk proc-info --file-prefix X [sections] [--json]` (DPDK's dpdk-proc-info): a one-shot
 * report of a running instance — ports with per-queue counters, rings (size, count, free,
 * high-water mark), mempools (available, in use, per-lcore cache fill), memzones,
 * processes and lcores (with how busy each lcore's poll loop is), capture rings.
 * Read-only: it attaches with Eal.observe (a PROT_READ mapping), so it cannot change the
 * instance.
 *
 * DPDK's options keep DPDK's meaning: --stats, --xstats (DPDK's names), -p PORTMASK,
 * --stats-reset, --xstats-reset, --show-port, --show-ring[=NAME], --show-mempool[=NAME]
 * (without a name: every ring / pool, as DPDK's list dumps), -m (the memory layout).
 *
 * The one write, `--stats-reset` (or `--xstats-reset`: the drivers have no statistics of
 * their own, so both reset the same counters, as DPDK's reset does for such drivers),
 * attaches briefly as a secondary (attach.ts) and calls EthDev.resetStats, which moves the
 * counters' base under the ports lock (the owners keep counting; ethdev/layout.ts); it
 * touches nothing else.
 *
 * `--prometheus [ADDRESS]:PORT` serves the same counters for monitoring (metrics.ts);
 * `mpdk exporter` is the same program with --prometheus defaulting to 127.0.0.1:9762.
 */
import { Eal, EthDev, FILE_PREFIX_OPTION, HUGE_DIR_OPTION, MpdkError, instancePrefix, parseArgs, parsePortmask, type ProgramSpec } from '../../index.js';
import { attachSecondary } from './attach.js';
import { DEFAULT_LISTEN, serveMetrics } from './metrics.js';
import { printText, xstats } from './print.js';
import { memoryLayout, ringDumps, snapshot } from './snapshot.js';

export { xstats } from './print.js';

const PROMETHEUS = { names: ['--prometheus'], value: '[ADDRESS]:PORT', help: `serve the counters in the Prometheus text format until killed (ADDRESS default 127.0.0.1)` };

export const spec: ProgramSpec = {
  name: 'proc-info',
  synopsis: '[--file-prefix NAME] [--huge-dir DIR] [options]',
  eal: false,
  about: 'A one-shot report of a running instance, read-only (no section option: ports, rings, mempools, memzones, processes and lcores, captures).',
  options: [
    FILE_PREFIX_OPTION,
    HUGE_DIR_OPTION,
    { names: ['--stats'], help: 'ports: counters per port and per queue (RX/TX packets, bytes, drops)' },
    { names: ['--xstats'], help: "ports: extended statistics with DPDK's names (rx_good_packets, rx_q0_packets, ...)" },
    { names: ['-p'], value: 'PORTMASK', help: 'only these ports (hexadecimal mask), for the port options' },
    { names: ['--stats-reset'], help: 'reset the counters of the ports (attaches briefly as a secondary)' },
    { names: ['--xstats-reset'], help: 'reset the extended statistics of the ports (the same counters as --stats-reset)' },
    { names: ['--show-port'], help: 'ports: driver, link, MAC, queues and their pools, RSS (DPDK --show-port)' },
    { names: ['--show-ring'], value: 'NAME', optional: true, repeat: true, help: 'a ring in detail; without =NAME every ring (DPDK --show-ring)' },
    { names: ['--show-mempool'], value: 'NAME', optional: true, repeat: true, help: 'a mempool in detail; without =NAME every mempool (DPDK --show-mempool)' },
    { names: ['-m'], help: 'the memory layout: the region, the heap, every memzone, the objects (DPDK -m)' },
    { names: ['--memzone'], help: 'memzones' },
    { names: ['--ring'], value: 'NAME', repeat: true, help: 'one ring, one line (repeatable)' },
    { names: ['--rings'], help: 'every ring, one line each' },
    { names: ['--mempool'], value: 'NAME', repeat: true, help: 'one mempool, one line (repeatable)' },
    { names: ['--mempools'], help: 'every mempool, one line each' },
    { names: ['--procs'], help: 'processes and lcores (how busy each lcore is)' },
    { names: ['--captures'], help: 'capture rings (mpdk dumpcap)' },
    { names: ['--events'], help: 'the latest events: processes joined and left, ports added and removed, links, owners (docs/messages.md)' },
    { names: ['--json'], help: 'the report as JSON' },
    PROMETHEUS,
  ],
};

/** The section flags: without any, the default sections. */
const SECTIONS = ['--stats', '--xstats', '--memzone', '--rings', '--mempools', '--procs', '--captures', '--show-port', '-m', '--events'];
const DEFAULT_SECTIONS = ['--stats', '--xstats', '--memzone', '--rings', '--mempools', '--procs', '--captures'];

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(spec, argv);
  const filePrefix = instancePrefix(a);
  const has = (f: string): boolean => a.has(f);
  const hugeDir = a.value('--huge-dir');
  const listen = a.value('--prometheus');
  if (listen !== undefined) return serveMetrics(filePrefix, listen, hugeDir);
  const pv = a.value('-p');
  const mask = pv !== undefined ? parsePortmask(pv) : undefined;
  const ringNames = a.all('--ring');
  const poolNames = a.all('--mempool');
  const showRings = a.all('--show-ring');
  const showPools = a.all('--show-mempool');
  const picked = ringNames.length + poolNames.length + showRings.length + showPools.length > 0;

  for (const reset of ['--stats-reset', '--xstats-reset']) {
    if (!has(reset)) continue;
    Eal.observe(filePrefix, { hugeDir }).release(); // refuse (ENOENT) before anything else
    const eal = attachSecondary(filePrefix, 'proc-info', hugeDir);
    try {
      const dev = EthDev.attach(eal);
      const done: number[] = [];
      for (const p of dev.portIds()) {
        if (mask !== undefined && !mask.includes(p)) continue;
        dev.resetStats(p);
        done.push(p);
      }
      const what = reset === '--stats-reset' ? 'counters' : 'extended statistics';
      process.stdout.write(`reset the ${what} of port${done.length === 1 ? '' : 's'} ${done.join(', ') || '(none)'}\n`);
    } finally {
      eal.close();
    }
  }
  if ((has('--stats-reset') || has('--xstats-reset')) && !SECTIONS.some(has) && !picked) return 0;

  const eal = Eal.observe(filePrefix, { hugeDir });
  const s = snapshot(eal);
  const any = picked || SECTIONS.some(has);
  const want = (f: string): boolean => (any ? has(f) : DEFAULT_SECTIONS.includes(f));
  const ports = s.ports.filter((p) => mask === undefined || mask.includes(p.id));
  if (mask !== undefined) for (const p of mask) if (!s.ports.some((x) => x.id === p)) throw new MpdkError('ENODEV', `no port ${p} in instance '${filePrefix}' (it has ${s.ports.length})`);
  const pick = <T extends { name: string }>(all: T[], names: string[], what: string): T[] =>
    names.map((n) => {
      const o = all.find((x) => x.name === n);
      if (!o) throw new MpdkError('ENOENT', `no ${what} named '${n}' in instance '${filePrefix}'; ${what}s: ${all.map((x) => x.name).join(', ') || 'none'}`);
      return o;
    });
  // --show-ring / --show-mempool without a name: every one, in detail.
  const showAllRings = showRings.includes('');
  const showAllPools = showPools.includes('');
  const rings = ringNames.length ? pick(s.rings, ringNames, 'ring') : want('--rings') ? s.rings : [];
  const pools = poolNames.length ? pick(s.mempools, poolNames, 'mempool') : want('--mempools') ? s.mempools : [];
  const ringDetail = showAllRings ? s.rings : pick(s.rings, showRings.filter((n) => n !== ''), 'ring');
  const poolDetail = showAllPools ? s.mempools : pick(s.mempools, showPools.filter((n) => n !== ''), 'mempool');

  const report: Record<string, unknown> = { filePrefix: s.filePrefix, time: new Date(s.time).toISOString() };
  if (want('--procs')) Object.assign(report, { primary: s.primary, processes: s.processes, lcores: s.lcores });
  if (want('--stats')) report.ports = ports;
  if (want('--xstats')) report.xstats = Object.fromEntries(ports.map((p) => [p.id, xstats(p)]));
  if (want('--show-port')) report.portConfig = ports;
  if (rings.length || want('--rings')) report.rings = rings;
  if (pools.length || want('--mempools')) report.mempools = pools;
  if (ringDetail.length) report.ringDetail = ringDetail;
  if (poolDetail.length) report.mempoolDetail = poolDetail;
  if (want('--memzone')) report.memzones = s.memzones;
  if (want('-m')) report.memory = memoryLayout(eal, s);
  if (want('--captures')) report.captures = s.captures;
  if (want('--events')) report.events = s.events.map((e) => ({ ...e, time: new Date(e.time).toISOString() }));
  if (a.has('--json')) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return 0;
  }
  printText(s, report, { ports, rings, pools, ringDetail, poolDetail, ringDumps: showAllRings ? ringDumps(eal) : undefined, poolsAll: showAllPools });
  return 0;
}

export const exporterSpec: ProgramSpec = {
  name: 'exporter',
  synopsis: '[--file-prefix NAME] [--huge-dir DIR] [--prometheus [ADDRESS]:PORT]',
  eal: false,
  about: "proc-info's counters in the Prometheus text format at /metrics, until killed; it outlives the instance (mpdk_up 0 while none runs) and follows the next one with that prefix.",
  options: [FILE_PREFIX_OPTION, HUGE_DIR_OPTION, { ...PROMETHEUS, help: `where to listen (default ${DEFAULT_LISTEN}; an address other than the loopback is warned about)` }],
};

/** `mpdk exporter`: proc-info --prometheus, listening on DEFAULT_LISTEN unless told otherwise. */
export async function exporterMain(argv: string[]): Promise<number> {
  const a = parseArgs(exporterSpec, argv);
  return serveMetrics(instancePrefix(a), a.value('--prometheus') ?? DEFAULT_LISTEN, a.value('--huge-dir'));
}
