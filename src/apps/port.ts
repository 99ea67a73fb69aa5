/**
 * `mpdk port attach|detach|list [--file-prefix X] [SPEC|ID]`: ports added to and removed
 * from a running instance (ethdev/hotplug.ts), as DPDK's testpmd `port attach` / `port
 * detach` do, from outside the programs: every process of the instance agrees or nothing
 * changes, and a refusal names who refused. The verb joins the instance as a secondary for
 * the time of the one transaction (proc-info/attach.ts: a free lcore, unpinned) and leaves;
 * `list` only reads (an observer).
 */
import { checkVdevs, Eal, EthDev, FILE_PREFIX_OPTION, findDriver, parseVdev, instancePrefix, nearest, parseArgs, quoteValue, PortOwners, PortState, portTable, UsageError, type ProgramSpec } from '../index.js';
import { attachSecondary } from './proc-info/attach.js';

const VERBS = ['attach', 'detach', 'list'];

export const spec: ProgramSpec = {
  name: 'port',
  synopsis: 'attach SPEC | detach ID | list   [--file-prefix NAME] [--timeout MS] [--json]',
  eal: false,
  about: [
    'Ports of a running instance, added and removed while its programs run (those forwarding on other ports go on):',
    '  attach SPEC   a --vdev spec (net_null2, net_pcap2,rx_pcap=/abs/in.pcap,tx_pcap=/abs/out.pcap, net_ring2);',
    '                prints the new port id',
    '  detach ID     a port id or name; refused while any process uses one of its queues, or another owns it',
    '  list          the ports there are now, with their owner',
    'Every live process of the instance is asked first: one that refuses (or does not answer in time) is named, and',
    'nothing changes. Give files as absolute paths: every process opens them from its own folder.',
  ].join('\n'),
  options: [
    FILE_PREFIX_OPTION,
    { names: ['--timeout'], value: 'MS', help: 'how long every process has to answer (default 2000)' },
    { names: ['--json'], help: 'list: the ports as JSON' },
  ],
  operands: { names: 'a verb: attach SPEC, detach ID or list', min: 1, max: 2 },
};

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(spec, argv);
  const filePrefix = instancePrefix(a);
  const [verb, what] = a.operands;
  if (!VERBS.includes(verb!)) {
    const guess = nearest(verb!, VERBS);
    throw new UsageError(`unknown verb '${verb}'${guess ? `: did you mean ${guess}?` : ''} (mpdk port attach SPEC, detach ID or list)`);
  }
  if (verb === 'list') {
    if (what !== undefined) throw new UsageError(`unexpected argument '${what}': mpdk port list takes none`);
    return list(filePrefix, a.has('--json'));
  }
  if (what === undefined) throw new UsageError(verb === 'attach' ? 'mpdk port attach needs a SPEC (e.g. net_null2)' : 'mpdk port detach needs a port id or name');
  const timeout = a.int('--timeout', 1, 600_000, '--timeout');
  if (verb === 'attach') {
    checkVdevs([what], 'SPEC', false);
    const d = findDriver(parseVdev(what).driver);
    if (!d.remove) throw new UsageError(`invalid SPEC ${quoteValue(what, 60)}: driver ${d.name} cannot be attached while the instance runs (it cannot be detached again); give it to the primary with --vdev`);
  }
  const eal = attachSecondary(filePrefix, 'mpdk port');
  try {
    const dev = EthDev.attach(eal);
    if (verb === 'attach') {
      const id = await dev.attachPort(what, { timeout });
      process.stdout.write(`attached ${dev.info(id).name} as port ${id} of '${filePrefix}'\n`);
    } else {
      const id = /^\d+$/.test(what) ? Number(what) : dev.portId(what);
      const name = dev.info(id).name;
      await dev.detachPort(id, { timeout });
      process.stdout.write(`detached ${name} (port ${id}) from '${filePrefix}'\n`);
    }
  } finally {
    eal.close();
  }
  return 0;
}

function list(filePrefix: string, json: boolean): number {
  const eal = Eal.observe(filePrefix); // ENOENT, one line, when there is no such instance
  const owners = new PortOwners(eal);
  const ports = (portTable(eal) ?? []).map((p) => {
    const o = owners.owner(p.id);
    return { id: p.id, name: p.name, driver: p.driverName, devargs: p.devargs, started: p.state === PortState.STARTED, owner: o ? { pid: o.pid, program: o.program, component: o.component } : null };
  });
  if (json) process.stdout.write(JSON.stringify(ports, null, 2) + '\n');
  else if (ports.length === 0) process.stdout.write(`instance '${filePrefix}' has no ports\n`);
  else {
    for (const p of ports) {
      const owner = p.owner ? `owned by pid ${p.owner.pid}${p.owner.program ? ` (${p.owner.program})` : ''}${p.owner.component ? ` '${p.owner.component}'` : ''}` : 'no owner';
      process.stdout.write(`${String(p.id).padStart(2)}  ${p.name.padEnd(16)} ${p.driver.padEnd(12)} ${p.started ? 'started' : 'stopped'}  ${owner}${p.devargs ? `  ${p.devargs}` : ''}\n`);
    }
  }
  eal.release();
  return 0;
}
