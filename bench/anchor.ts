/**
 * DPDK's own figures beside mpdk's: DPDK 22.11's ring test and example programs, measured on
 * the same machine outside the bench (README: Benchmarks says how), saved as
 * {"figures":[{name, value, unit}]}. When env MPDK_DPDK_ANCHOR names a file holding that, the
 * runner (run.ts) prints each DPDK figure, the mpdk figure that corresponds to it (PAIRS) if
 * it was measured in this run, and mpdk / DPDK. Machines differ by 3x, so only a ratio
 * measured on the same machine means anything.
 */
import fs from 'node:fs';

/**
 * DPDK figure -> the mpdk figure measured the same way: rings across two cores in bursts
 * of 32; l2fwd on one lcore over two net_null ports; symmetric_mp per process (mpdk's
 * figure is two processes together, so it is halved in the table: see `SCALE`); one
 * client_server_mp client over net_null.
 */
export const PAIRS: Readonly<Record<string, string>> = {
  'dpdk.ring.spsc.bulk32.2core': 'ring.spsc.burst32.xproc',
  'dpdk.ring.mpmc.bulk32.2core': 'ring.mpmc.burst32.xproc',
  'dpdk.l2fwd.null.1proc': 'l2fwd.null.1proc',
  'dpdk.symmetric.null.per_proc': 'symmetric.null.2proc',
  'dpdk.clientserver.null.1client': 'clientserver.null.1client',
};

/**
 * mpdk figures to divide by this before they stand beside DPDK's: symmetric_mp's covers two
 * processes where DPDK's counts one. The rings: ring_perf_autotest's "two physical cores"
 * line is the SUM of the enqueuing core's and the dequeuing core's cycles per element, each
 * measured over the same elements passing between them, so TSC / that sum is half the rate
 * at which handles move (mpdk's figure is that rate). bench/dpdk/ring_pair.c measures DPDK's
 * rate directly and prints ring_perf's way beside it: 2.0-2.3x apart on the 2-core VM; the
 * bench's own `ring.*.burst32.xproc.dpdk` figures are that direct comparison.
 */
export const SCALE: Readonly<Record<string, number>> = { 'symmetric.null.2proc': 2, 'ring.spsc.burst32.xproc': 2, 'ring.mpmc.burst32.xproc': 2 };

export interface AnchorFigure {
  name: string;
  value: number;
  unit: string;
}

/** Parse the anchor JSON; throws with a message that says what is wrong. */
export function parseAnchor(text: string): AnchorFigure[] {
  const j = JSON.parse(text) as { figures?: unknown };
  if (!Array.isArray(j.figures)) throw new Error('no "figures" array (expected {"figures":[{name,value,unit}]})');
  return j.figures.map((f: unknown, i: number) => {
    const g = f as Partial<AnchorFigure>;
    if (typeof g.name !== 'string' || typeof g.value !== 'number') throw new Error(`figure ${i} has no name or numeric value`);
    return { name: g.name, value: g.value, unit: typeof g.unit === 'string' ? g.unit : '' };
  });
}

/**
 * The anchor section for the report, or null when MPDK_DPDK_ANCHOR is not set. `measured`:
 * this run's mpdk figures by name.
 */
export function anchorReport(measured: ReadonlyMap<string, number>, env: NodeJS.ProcessEnv = process.env): string | null {
  const file = env.MPDK_DPDK_ANCHOR;
  if (!file) return null;
  let figs: AnchorFigure[];
  try {
    figs = parseAnchor(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return `DPDK anchor: cannot use MPDK_DPDK_ANCHOR=${file}: ${e instanceof Error ? e.message : String(e)}`;
  }
  const rows: string[][] = [['dpdk figure', 'value', 'unit', 'mpdk figure', 'value', 'mpdk/dpdk']];
  for (const f of figs) {
    const mine = PAIRS[f.name];
    const raw = mine === undefined ? undefined : measured.get(mine);
    const v = raw === undefined ? undefined : raw / (SCALE[mine!] ?? 1);
    const ratio = v === undefined || f.value === 0 ? '' : `${(v / f.value).toFixed(2)}x`;
    rows.push([f.name, String(f.value), f.unit, mine === undefined ? '' : SCALE[mine] ? `${mine} / ${SCALE[mine]}` : mine, v === undefined ? (mine ? 'not run' : '') : v.toPrecision(3), ratio]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i])).join(' | ').trimEnd();
  return [`DPDK anchor (${file}):`, line(rows[0]), w.map((n) => '-'.repeat(n)).join('-|-'), ...rows.slice(1).map(line)].join('\n');
}
