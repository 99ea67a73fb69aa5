/**
 * The programs `mpdk` runs: name → one-line summary (for `mpdk --help`) and the module
 * that holds it. Every module exports `spec` (its command line: argparse.ts's ProgramSpec,
 * from which `mpdk NAME --help` is printed) and `main(argv)`, which returns the exit status
 * or throws (run.ts turns a UsageError into status 2, an MpdkError into status 1).
 */
import type { ProgramSpec } from '../index.js';

export interface ProgramModule {
  spec: ProgramSpec;
  main: (argv: string[]) => Promise<number> | number;
}

export interface Program {
  summary: string;
  load: () => Promise<ProgramModule>;
}

export const PROGRAMS: Readonly<Record<string, Program>> = {
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
  port: { summary: 'attach or detach a port of a running instance (--vdev syntax), every process agreeing; list the ports', load: () => import('../apps/port.js') },
  cleanup: { summary: 'remove the files a crashed instance left behind', load: () => import('../apps/cleanup.js') },
};
