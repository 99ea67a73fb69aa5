/** `mpdk ls [--json]`: every instance on this host, live or stale. */
import fs from 'node:fs';
import { Eal, runtimeBase } from '../eal/eal.js';
import { HDR } from '../eal/region.js';
import { parseArgs, type ProgramSpec } from '../index.js';

export const spec: ProgramSpec = {
  name: 'ls',
  synopsis: '[--json]',
  eal: false,
  about: 'Every instance on this host (a folder mpdk.NAME in the runtime folder), live or stale.',
  options: [{ names: ['--json'], help: 'the list as one JSON document' }],
};

export function main(argv: string[]): number {
  const json = parseArgs(spec, argv).has('--json');
  const rows: Record<string, unknown>[] = [];
  for (const d of fs.readdirSync(runtimeBase()).filter((n) => n.startsWith('mpdk.')).sort()) {
    const prefix = d.slice(5);
    try {
      const eal = Eal.observe(prefix);
      const procs = eal.processes.list();
      const live = procs.filter((p) => p.alive);
      rows.push({
        prefix, size: eal.region.size, primary: eal.primaryPid(), primaryAlive: eal.primaryAlive(),
        processes: live.length, ageSeconds: Math.round((Date.now() - eal.region.f64[HDR.CREATED_MS >>> 3]!) / 1000),
        state: live.length > 0 ? 'live' : 'stale',
      });
    } catch (e) {
      rows.push({ prefix, state: 'stale', error: (e as Error).message });
    }
  }
  if (json) process.stdout.write(JSON.stringify({ instances: rows }, null, 2) + '\n');
  else if (rows.length === 0) process.stdout.write('no instances\n');
  else {
    process.stdout.write('PREFIX               STATE  SIZE(MiB) PRIMARY        PROCS  AGE(s)\n');
    for (const r of rows) {
      process.stdout.write(`${String(r.prefix).padEnd(20)} ${String(r.state).padEnd(6)} ${String(r.size ? Number(r.size) >> 20 : '-').padStart(9)} ${String(r.primary ?? '-').padEnd(7)} ${r.primaryAlive ? 'alive' : 'gone '} ${String(r.processes ?? 0).padStart(6)} ${String(r.ageSeconds ?? '-').padStart(7)}${r.error ? '  ' + String(r.error) : ''}\n`);
    }
  }
  return 0;
}
