/**
 * l2fwd_fork's command line: the spec (`mpdk l2fwd_fork --help`) and the master's
 * configuration read from it. The slaves parse the options the master passes on with the
 * same spec (slave.ts), so this file loads nothing but the parser.
 */
import { UsageError, parseIdleMode, parsePortmask, portmaskOf, type ProgramArgs, type ProgramSpec } from '../../index.js';
import { MAX_PORTS_L2, MAX_RX_PER_LCORE } from './layout.js';

export const spec: ProgramSpec = {
  name: 'l2fwd_fork',
  synopsis: '[EAL options] -- -p PORTMASK [-q NQ] [-T PERIOD] [-f] [--idle=MODE] [--standby=N]',
  eal: true,
  about: `Only this master is started by hand, as the primary of its instance; it starts one slave process
per worker lcore, so give one lcore for the master plus one per slave (-l 0-2 for two ports with -q 1).`,
  options: [
    { names: ['-p'], value: 'PORTMASK', help: 'hexadecimal mask of the ports to forward between, in pairs (0<->1, 2<->3, ...)' },
    { names: ['-q'], value: 'NQ', help: 'ports each slave receives on (1-16, default 1)' },
    { names: ['-T'], value: 'PERIOD', help: 'statistics every PERIOD seconds (default 10, 0 = off)' },
    { names: ['-f'], help: 'floating slaves: no CPU affinity, each leases an lcore id not given with -l' },
    { names: ['--idle'], value: 'MODE', help: 'slaves idle by sleeping (sleep, default) or busy-poll (poll)' },
    { names: ['--standby'], value: 'N', help: 'slave processes kept started and idle for fast recovery (default: the largest group, 0 = none)' },
  ],
  notes: `Recovery (better than the guide's 1-2 s): a slave's death is seen at once (the kernel's exit
notice); the slaves that share its ports get STOP (a partner already dead gets none; a stopped
one, SIGSTOP, is killed at once; one that does not acknowledge within 500 ms is killed), what they
held is reclaimed, their ports are restarted, and standby slaves take their places.
A slave that fails at start-up is retried after 0.1, 0.2, 0.4 ... s, at most 5 s apart, with
"failed N times in a row" after 5 failures, while the other slaves keep forwarding.
Processes (ps -fe | grep l2fwd_fork): the master (this command line), one "l2fwd_fork slave
lcore N" per slave, and the standbys, "l2fwd_fork standby slave" (--standby=0: none).
Slaves on lcores beyond this machine's CPUs run on every CPU the master was allowed, never
on the master's own.
Environment: MPDK_L2FWD_FLOAT_IDS=LIST limits the lcore ids floating slaves may lease.`,
};

/** The master's configuration (what it passes on to its slaves is `slaveArgs`). */
export interface MasterConfig {
  ports: number[];
  /** -p as given (hexadecimal). */
  mask: string;
  q: number;
  period: number;
  float: boolean;
  idle: string;
  /** --standby N; undefined: the largest group's size. */
  standby: number | undefined;
}

/** Read the master's options (the EAL's are the parser's); UsageError when one is wrong. */
export function masterConfig(opts: ProgramArgs): MasterConfig {
  const ports = parsePortmask(opts.value('-p'));
  const q = opts.int('-q', 1, MAX_RX_PER_LCORE) ?? 1;
  const period = opts.int('-T', 0, 86400) ?? 10;
  const float = opts.has('-f');
  const standby = opts.int('--standby', 0, 16);
  const idleArg = opts.value('--idle');
  const idle = idleArg === undefined ? 'sleep' : parseIdleMode(idleArg);
  if (!idle) throw new UsageError(`invalid --idle '${idleArg}': expected poll or sleep`);
  if (ports.some((p) => p >= MAX_PORTS_L2)) throw new UsageError(`-p selects port ${Math.max(...ports)}: at most ${MAX_PORTS_L2} ports`);
  if (ports.length % 2 !== 0) {
    throw new UsageError(`port ${ports[ports.length - 1]} has no pair: l2fwd_fork forwards between pairs of ports (the 1st and 2nd of -p, the 3rd and 4th, ...); give an even number of ports in -p`);
  }
  return { ports, mask: portmaskOf(ports), q, period, float, idle, standby };
}
