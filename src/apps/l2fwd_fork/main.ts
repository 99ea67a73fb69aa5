/**
 * l2fwd_fork: the guide's master-slave example. One process is started by hand — the
 * master, the instance's primary — and it starts one slave PROCESS per worker lcore
 * (slave.ts), each doing DPDK l2fwd's forwarding on its ports:
 *
 *   mpdk l2fwd_fork -l 0-2 --vdev=net_ring0 --vdev=net_ring1 -- -p 3 [-q N] [-T PERIOD] [-f]
 *
 * Master, in order (nothing is started before everything is set up, G46):
 *   options (options.ts) → EAL (primary) → lcore assignment, mbuf pool and ports,
 *   dependency groups, shared objects (topology.ts, layout.ts) → slaves, supervised per
 *   group by a state machine (master.ts, group.ts; launcher.ts starts the processes) →
 *   statistics every PERIOD seconds (stats.ts).
 *
 * Standby slaves (--standby N, default the largest group): slave processes started ahead
 * and idle (module loading done), given their lcore over the IPC channel when a slave is
 * (re)launched: recovery does not pay Node's start-up. They are children of the master
 * too, titled "l2fwd_fork standby slave" (ps --ppid lists slaves + standbys; --standby 0
 * for exactly one child per slave, as in the guide).
 */
import { stderrLogger, Eal, MpdkError, Supervisor, UsageError, parseArgs } from '../../index.js';
import { commonArgs } from './launcher.js';
import { Master } from './master.js';
import { masterConfig, spec } from './options.js';
import { buildTopology } from './topology.js';

export { spec };

export async function main(argv: string[]): Promise<number> {
  // Options first: a bad one creates nothing.
  const opts = parseArgs(spec, argv);
  if (opts.eal!.procType === 'secondary') throw new UsageError('l2fwd_fork runs only as the primary (the master sets up the instance its slaves join); drop --proc-type=secondary');
  if (opts.eal!.inMemory) throw new UsageError("l2fwd_fork's slaves are secondary processes, which --in-memory (no files, no secondaries) cannot have; drop --in-memory");
  const cfg = masterConfig(opts);
  const supervisor = new Supervisor(); // before the EAL pins this thread to its lcore: slaves get all our CPUs

  const { eal } = Eal.init(argv, { name: 'l2fwd_fork:master', logger: stderrLogger, handleSignals: true, only: 'primary' });
  if (!eal.isPrimary || eal.adopted) {
    const pids = eal.processes.livePids().join(', ');
    eal.close();
    throw new MpdkError('EBUSY', `the l2fwd_fork master must start the instance '${eal.filePrefix}' as its primary, but processes of it are running (pids ${pids}); stop them or use another --file-prefix`);
  }
  let master: Master;
  try {
    const topo = buildTopology(eal, cfg);
    master = new Master(eal, topo, { ports: cfg.ports, period: cfg.period, common: commonArgs(eal.filePrefix, eal.options.logLevel, cfg), supervisor, standby: cfg.standby });
  } catch (e) {
    eal.close();
    throw e;
  }
  return master.run();
}
