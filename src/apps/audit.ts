/**
 * `mpdk audit --file-prefix X [--json] [--settle N]`: where every element of every pool
 * of a running instance is (ownership/audit.ts), read-only, as `mpdk info`.
 *
 *   exit 0   every pool: leaked 0 and duplicates 0
 *   exit 1   some pool has leaked or duplicated elements, or a pool or ring could not be
 *            read (a damaged header: "cannot account", naming it); or refused (no such
 *            instance: one line on stderr, nothing on stdout): either way not shown clean
 *   exit 2   wrong command line (one line)
 *
 * --json prints one line: {"pools":[{"name", "size", "inPool", "inCaches", "inRings",
 * "inPortQueues", "heldByLive", "heldByDead", "leaked", "duplicates"}, ...], "errors": [...]}.
 * --settle N re-scans up to N times while traffic makes a scan look leaked (audit.ts).
 */
import { Eal, FILE_PREFIX_OPTION, HUGE_DIR_OPTION, auditInstance, instancePrefix, parseArgs, type ProgramSpec } from '../index.js';

export const spec: ProgramSpec = {
  name: 'audit',
  synopsis: '[--file-prefix NAME] [--json] [--settle N] [--huge-dir DIR]',
  eal: false,
  about: 'Where every element of every pool of a running instance is: in the pool, in lcore caches, in rings,\nin port queues, held by live or dead processes, or nowhere (leaked). Read-only.',
  options: [
    FILE_PREFIX_OPTION,
    { names: ['--json'], help: 'one line: {"pools":[{"name", "size", "inPool", ..., "leaked", "duplicates"}, ...], "errors":[...]}' },
    { names: ['--settle'], value: 'N', help: 're-scan up to N times (1..9999) while traffic makes a scan look leaked (default 1)' },
    HUGE_DIR_OPTION,
  ],
  exits: 'exit status: 0 every element accounted for; 1 leaked or duplicated elements, a pool or ring that cannot be\nread (cannot account), or refused at run time (no such instance: one line on stderr, nothing on stdout); 2 wrong command line',
};

export function main(argv: string[]): number {
  const args = parseArgs(spec, argv);
  const filePrefix = instancePrefix(args);
  const json = args.has('--json');
  const settle = args.int('--settle', 1, 9999) ?? 1;
  const eal = Eal.observe(filePrefix, { hugeDir: args.value('--huge-dir') });
  const a = auditInstance(eal, { settle });
  if (json) {
    const pools = a.pools.map((p) => ({
      name: p.name, size: p.size, inPool: p.inPool, inCaches: p.inCaches, inRings: p.inRings, inPortQueues: p.inPortQueues,
      heldByLive: p.heldByLive, heldByDead: p.heldByDead, leaked: p.leaked, duplicates: p.duplicates,
    }));
    process.stdout.write(JSON.stringify({ pools, errors: a.errors }) + '\n');
    return a.ok ? 0 : 1;
  }
  const head = ['pool', 'size', 'in pool', 'in caches', 'in rings', 'in port queues', 'held (live)', 'held (dead)', 'leaked', 'duplicates'];
  const rows = a.pools.map((p) => [p.name, p.size, p.inPool, p.inCaches, p.inRings, p.inPortQueues, p.heldByLive, p.heldByDead, p.leaked, p.duplicates].map(String));
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  const out = [`instance '${filePrefix}': ${a.pools.length} pool${a.pools.length === 1 ? '' : 's'}${a.scans > 1 ? ` (${a.scans} scans)` : ''}`, line(head), ...rows.map(line)];
  for (const e of a.errors) out.push(`cannot account for what it holds: ${e}`);
  if (a.errors.length > 0) out.push(`cannot account for every element: ${a.errors.length} object${a.errors.length === 1 ? '' : 's'} could not be read (a damaged header); stop the instance's processes and remove it with mpdk cleanup`);
  else out.push(a.ok ? 'every element accounted for' : 'LEAKED or DUPLICATED elements: see the leaked / duplicates columns');
  process.stdout.write(out.join('\n') + '\n');
  return a.ok ? 0 : 1;
}
