/** `mpdk ls [--json]`: every instance on this host, live or stale. */
import { listInstances, mib, parseArgs, type ProgramSpec } from '../index.js';

export const spec: ProgramSpec = {
  name: 'ls',
  synopsis: '[--json]',
  eal: false,
  about: 'Every instance on this host (a folder mpdk.NAME in the runtime folder), live or stale.',
  options: [{ names: ['--json'], help: 'the list as one JSON document' }],
};

export function main(argv: string[]): number {
  const json = parseArgs(spec, argv).has('--json');
  const rows = listInstances();
  if (json) process.stdout.write(JSON.stringify({ instances: rows }, null, 2) + '\n');
  else if (rows.length === 0) process.stdout.write('no instances\n');
  else {
    process.stdout.write('PREFIX               STATE  SIZE(MiB) PRIMARY        PROCS  AGE(s)\n');
    for (const r of rows) {
      process.stdout.write(`${r.prefix.padEnd(20)} ${r.state.padEnd(6)} ${(r.size ? mib(r.size) : '-').padStart(9)} ${String(r.primary ?? '-').padEnd(7)} ${r.primaryAlive ? 'alive' : 'gone '} ${String(r.processes ?? 0).padStart(6)} ${String(r.ageSeconds ?? '-').padStart(7)}${r.error ? '  ' + r.error : ''}\n`);
    }
  }
  return 0;
}
