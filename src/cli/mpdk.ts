#!/usr/bin/env node
/**
 * `mpdk <program> [EAL options] [-- program options]`: one command for every program,
 * as DPDK's examples are one binary each (`mpdk simple_mp -l 0-1 --proc-type=primary`
 * in place of `./build/simple_mp -c 3 -n 4 --proc-type=primary`).
 */
import { reportAndExit } from './run.js';
import { installExit } from './exit.js';
import { MPDK_VERSION } from '../eal/eal.js';

interface Program {
  summary: string;
  load: () => Promise<{ main: (argv: string[]) => Promise<number> | number }>;
}

const PROGRAMS: Record<string, Program> = {
  demo: { summary: 'client-server forwarding on this machine: a server, two clients, a traffic generator, a table', load: () => import('../apps/demo.js') },
  simple_mp: { summary: 'two processes sending messages through rings and a shared pool', load: () => import('../apps/simple_mp/main.js') },
  symmetric_mp: { summary: 'N identical processes forwarding between port pairs, each on its own queue of every port', load: () => import('../apps/symmetric_mp/main.js') },
  mp_server: { summary: 'client-server example: the server (RX from every port, round-robin to the clients)', load: () => import('../apps/mp_server/main.js') },
  mp_client: { summary: 'client-server example: a client (forwards its share out of the paired port)', load: () => import('../apps/mp_client/main.js') },
  l2fwd_fork: { summary: 'master-slave L2 forwarding: the master restarts crashed slaves and reclaims what they held', load: () => import('../apps/l2fwd_fork/main.js') },
  pktgen: { summary: 'traffic generator: sends flows into ports, counts what comes back (loss, Mpps, latency)', load: () => import('../apps/pktgen/main.js') },
  info: { summary: 'print an instance: region, processes, lcores, memzones, rings, pools, heap', load: () => import('../apps/info.js') },
  'proc-info': { summary: 'one-shot report of a running instance: port/queue counters, rings, mempools, memzones, processes; --prometheus', load: () => import('../apps/proc-info/main.js') },
  top: { summary: 'live view of a running instance: CPU per process, Mpps/Gbit/s per port and queue, ring and pool fill', load: () => import('../apps/top/main.js') },
  dumpcap: { summary: 'capture what a running application receives (and transmits) on a port into a pcap file', load: () => import('../apps/dumpcap/main.js') },
  exporter: { summary: 'serve the counters of a running instance in the Prometheus text format on 127.0.0.1', load: () => import('../apps/proc-info/exporter.js') },
  audit: { summary: 'where every buffer of every pool is: pool, caches, rings, port queues, held by processes, leaked', load: () => import('../apps/audit.js') },
  ls: { summary: 'list every instance on this host, live or stale', load: () => import('../apps/ls.js') },
  cleanup: { summary: 'remove the files a crashed instance left behind', load: () => import('../apps/cleanup.js') },
};

function usage(): string {
  const names = Object.keys(PROGRAMS);
  const w = Math.max(...names.map((n) => n.length));
  return [
    `mpdk ${MPDK_VERSION}: DPDK's multi-process model for Node.js`,
    '',
    'usage: mpdk <program> [EAL options] [-- program options]',
    '',
    'programs:',
    ...names.map((n) => `  ${n.padEnd(w)}  ${PROGRAMS[n]!.summary}`),
    '',
    "EAL options are the same for every program: see 'mpdk <program> --help'.",
  ].join('\n');
}

installExit();

const [name, ...rest] = process.argv.slice(2);
if (!name || name === '-h' || name === '--help' || name === 'help') {
  process.stdout.write(usage() + '\n');
  process.exit(name ? 0 : 2);
}
if (name === '--version' || name === '-V') {
  process.stdout.write(`${MPDK_VERSION}\n`);
  process.exit(0);
}
const prog = PROGRAMS[name];
if (!prog) {
  process.stderr.write(`mpdk: unknown program '${name}'; programs: ${Object.keys(PROGRAMS).join(', ')}\n`);
  process.exit(2);
}
try {
  const mod = await prog.load();
  const code = await mod.main(rest);
  if (typeof code === 'number') process.exitCode = code;
} catch (e) {
  reportAndExit(name, e);
}
