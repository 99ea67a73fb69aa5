/**
 * `mpdk audit --file-prefix X [--json] [--settle N]`: where every element of every pool
 * of a running instance is (ownership/audit.ts), read-only, as `mpdk info`.
 *
 *   exit 0   every pool: leaked 0 and duplicates 0
 *   exit 1   some pool has leaked or duplicated elements
 *   exit 2   usage error, or no such instance (one line)
 *
 * --json prints one line: {"pools":[{"name", "size", "inPool", "inCaches", "inRings",
 * "inPortQueues", "heldByLive", "heldByDead", "leaked", "duplicates"}, ...]}.
 * --settle N re-scans up to N times while traffic makes a scan look leaked (audit.ts).
 */
import { Eal, MpdkError, UsageError, auditInstance } from '../index.js';
import { parseToolArgs } from './tool-args.js';

const USAGE = 'usage: mpdk audit --file-prefix NAME [--json] [--settle N]';

export function main(argv: string[]): number {
  const { filePrefix, json, values } = parseToolArgs(argv, USAGE, [], ['--settle']);
  const sv = values['--settle'];
  if (sv !== undefined && !/^[1-9]\d{0,3}$/.test(sv)) throw new UsageError(`invalid --settle '${sv}': expected a number of scans from 1 to 9999`);
  let eal: Eal;
  try {
    eal = Eal.observe(filePrefix);
  } catch (e) {
    if (e instanceof MpdkError && e.code === 'ENOENT') throw new UsageError(e.message);
    throw e;
  }
  const a = auditInstance(eal, { settle: sv === undefined ? 1 : Number(sv) });
  if (json) {
    const pools = a.pools.map((p) => ({
      name: p.name, size: p.size, inPool: p.inPool, inCaches: p.inCaches, inRings: p.inRings, inPortQueues: p.inPortQueues,
      heldByLive: p.heldByLive, heldByDead: p.heldByDead, leaked: p.leaked, duplicates: p.duplicates,
    }));
    process.stdout.write(JSON.stringify({ pools }) + '\n');
    return a.ok ? 0 : 1;
  }
  const head = ['pool', 'size', 'in pool', 'in caches', 'in rings', 'in port queues', 'held (live)', 'held (dead)', 'leaked', 'duplicates'];
  const rows = a.pools.map((p) => [p.name, p.size, p.inPool, p.inCaches, p.inRings, p.inPortQueues, p.heldByLive, p.heldByDead, p.leaked, p.duplicates].map(String));
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  const out = [`instance '${filePrefix}': ${a.pools.length} pool${a.pools.length === 1 ? '' : 's'}${a.scans > 1 ? ` (${a.scans} scans)` : ''}`, line(head), ...rows.map(line)];
  out.push(a.ok ? 'every element accounted for' : 'LEAKED or DUPLICATED elements: see the leaked / duplicates columns');
  process.stdout.write(out.join('\n') + '\n');
  return a.ok ? 0 : 1;
}
