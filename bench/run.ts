/**
 * The benchmark runner: `npm run bench -- [NAME-FILTER...] [--json] [--list]`
 * (`tsc && node dist/bench/run.js ...`).
 *
 * It imports the bench modules of MODULES (each exports `benches: Bench[]`, bench/harness.ts;
 * a module that does not exist yet, or fails to load, is skipped with a note on stderr), keeps
 * the benches whose name matches a filter, runs them one after the other (never two at once:
 * they share 2 cores), and prints
 *
 *   table (default)  the machine (CPU, cores, node, date, load), then
 *                    figure | value | unit | baseline | ratio
 *                    where ratio = value / the baseline figure's value, when that baseline was
 *                    measured in this same run; a bench that threw gets one row with its error.
 *                    With MPDK_DPDK_ANCHOR set, DPDK's own figures follow (bench/anchor.ts).
 *   --json           exactly one JSON object on stdout, {"figures": [{name, value, unit, baseline?}]};
 *                    progress, errors, the machine and the anchor go to stderr.
 *   --list           the selected benches with their descriptions, nothing run.
 *
 * Filters: each positional argument is a regular expression (an invalid one is taken as a
 * literal substring) tested against the bench's name. An argument that names a figure *inside*
 * a multi-figure bench (it starts with "<bench name>.") selects that bench and keeps only the
 * figures the filters match. No filter: everything.
 *
 * Exit status 0 when at least one figure was measured, 1 when nothing ran (no match, or every
 * selected bench failed), 2 on a bad command line.
 */
import os from 'node:os';
import { anchorReport } from './anchor.js';
import type { Bench, Figure } from './harness.js';

/** Bench modules, relative to this file (compiled: dist/bench/). Baselines first. */
const MODULES = ['./baselines.js', './ring.js', './mempool.js', './net.js', './ethdev.js', './simple_mp.js', './channel.js', './symmetric.js', './clientserver.js', './l2fwd_fork.js', './pktgen.js', './memif.js', './dumpcap.js', './telemetry.js', './idle.js', './demo.js', './mp.js', './chaos.js'];

/** A bench that has not returned by then is reported as failed and the run goes on. */
const BENCH_TIMEOUT_MS = 60_000;

interface Options {
  json: boolean;
  list: boolean;
  /** Raw filter arguments and their compiled forms, index for index. */
  args: string[];
  filters: RegExp[];
}

interface Row {
  figure?: Figure;
  /** Set instead of `figure` when the bench threw. */
  name?: string;
  error?: string;
}

const note = (s: string): void => {
  process.stderr.write(s + '\n');
};

function usage(): string {
  return 'usage: node dist/bench/run.js [NAME-FILTER...] [--json] [--list]\n' +
    '  NAME-FILTER  regular expression (or substring) matched against figure names; none = all\n' +
    '  --json       one JSON object {"figures":[...]} on stdout, everything else on stderr\n' +
    '  --list       list the selected benches, run nothing\n' +
    '  env MPDK_DPDK_ANCHOR=FILE  DPDK\'s figures on this machine, {"figures":[{name,value,unit}]} (README: Benchmarks), printed beside mpdk\'s';
}

function parseArgs(argv: string[]): Options {
  const o: Options = { json: false, list: false, args: [], filters: [] };
  for (const a of argv) {
    if (a === '--json') o.json = true;
    else if (a === '--list') o.list = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(usage() + '\n');
      process.exit(0);
    } else if (a.startsWith('-') && a.length > 1) {
      process.stderr.write(`unknown option ${a}\n${usage()}\n`);
      process.exit(2);
    } else {
      o.args.push(a);
      o.filters.push(toRegExp(a));
    }
  }
  return o;
}

function toRegExp(s: string): RegExp {
  try {
    return new RegExp(s);
  } catch {
    return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}

async function loadBenches(): Promise<Bench[]> {
  const all: Bench[] = [];
  for (const spec of MODULES) {
    let mod: { benches?: unknown };
    try {
      mod = (await import(spec)) as { benches?: unknown };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const why = err.code === 'ERR_MODULE_NOT_FOUND' ? `not built (${firstLine(err.message)})` : `failed to load: ${firstLine(err.message)}`;
      note(`note: bench module ${spec} skipped: ${why}`);
      continue;
    }
    if (!Array.isArray(mod.benches)) {
      note(`note: bench module ${spec} skipped: it does not export \`benches: Bench[]\``);
      continue;
    }
    all.push(...(mod.benches as Bench[]));
  }
  return all;
}

const firstLine = (s: string | undefined): string => (s ?? String(s)).split('\n')[0];

/** Whether `b` runs, and whether all its figures are kept (true) or only the matching ones. */
function selection(b: Bench, o: Options): 'all' | 'some' | 'none' {
  if (o.filters.length === 0 || o.filters.some((f) => f.test(b.name))) return 'all';
  if (o.args.some((a) => a.startsWith(b.name + '.'))) return 'some';
  return 'none';
}

/**
 * The unit of a figure from a multi-figure bench: the bench's unit, unless the figure's name
 * ends in a unit suffix (`_us`, `_ns`, `_ms`, `_pct`, `_mpps`), which wins.
 */
function unitOf(name: string, benchUnit: string): string {
  const m = /_(us|ns|ms|pct|mpps)$/.exec(name);
  if (!m) return benchUnit;
  return m[1] === 'pct' ? '%' : m[1] === 'mpps' ? 'Mpps' : m[1];
}

/** The figures of one bench's result (see harness.ts for the convention). */
function figuresOf(b: Bench, result: number | Record<string, number>): Figure[] {
  const base = (name: string): { baseline?: string } => {
    const bl = b.baselines?.[name] ?? b.baseline;
    return bl === undefined ? {} : { baseline: bl };
  };
  if (typeof result === 'number') return [{ name: b.name, value: result, unit: b.unit, ...base(b.name) }];
  if (result === null || typeof result !== 'object') throw new Error(`run() returned ${String(result)}, not a number or a record of numbers`);
  return Object.entries(result).map(([name, value]) => ({ name, value, unit: unitOf(name, b.unit), ...base(name) }));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`no result after ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

function machine(): string {
  const cpus = os.cpus();
  const load = os.loadavg();
  const busy = load[0] > cpus.length / 2
    ? `\nwarning: load average ${load[0].toFixed(1)} on ${cpus.length} cores: other work shares the CPUs, figures will be low and noisy`
    : '';
  return `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, node ${process.version}, ` +
    `${os.platform()} ${os.release()}, ${new Date().toISOString()}, load ${load.map((l) => l.toFixed(2)).join(' ')}${busy}`;
}

/** Three significant digits, no exponent for the magnitudes benches produce. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a === 0) return '0';
  if (a < 0.001) return v.toExponential(2);
  return v.toPrecision(3);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 1 || i === 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const benches = await loadBenches();
  const chosen = benches.map((b) => ({ b, sel: selection(b, o) })).filter((x) => x.sel !== 'none');
  if (o.list) {
    for (const { b } of chosen) process.stdout.write(`${b.name} [${b.unit}]${b.baseline ? ` vs ${b.baseline}` : ''}: ${b.what}\n`);
    return chosen.length > 0 ? 0 : 1;
  }
  if (chosen.length === 0) {
    note(`no bench matches ${o.args.join(' ')}; known: ${benches.map((b) => b.name).join(', ') || '(none loaded)'}`);
    if (o.json) process.stdout.write(JSON.stringify({ figures: [] }) + '\n');
    return 1;
  }
  if (o.json) note(machine());

  const rows: Row[] = [];
  for (const { b, sel } of chosen) {
    const t0 = performance.now();
    note(`running ${b.name} ...`);
    try {
      const figs = figuresOf(b, await withTimeout(b.run(), BENCH_TIMEOUT_MS));
      const kept = sel === 'all' ? figs : figs.filter((f) => o.filters.some((re) => re.test(f.name)));
      for (const f of kept) {
        if (typeof f.value !== 'number' || !Number.isFinite(f.value)) rows.push({ name: f.name, error: `not a finite number: ${String(f.value)}` });
        else rows.push({ figure: f });
      }
      const shown = kept.map((f) => (Number.isFinite(f.value) ? `${f.name} = ${fmt(f.value)} ${f.unit}` : `${f.name} FAILED: not a finite number`));
      note(`  ${shown.join(', ') || '(no figure)'}  [${((performance.now() - t0) / 1000).toFixed(1)} s]`);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      rows.push({ name: b.name, error: msg });
      note(`  ${b.name} FAILED: ${msg}`);
    }
  }

  const figures = rows.flatMap((r) => (r.figure ? [r.figure] : []));
  const byName = new Map(figures.map((f) => [f.name, f.value]));
  if (o.json) {
    const out = figures.map((f) => ({ name: f.name, value: Number(f.value.toPrecision(6)), unit: f.unit, ...(f.baseline ? { baseline: f.baseline } : {}) }));
    process.stdout.write(JSON.stringify({ figures: out }) + '\n');
    const anchor = anchorReport(byName);
    if (anchor) note(anchor);
  } else {
    const t: string[][] = [['figure', 'value', 'unit', 'baseline', 'ratio']];
    for (const r of rows) {
      if (!r.figure) {
        t.push([r.name ?? '?', 'ERROR', '', '', '']);
        continue;
      }
      const f = r.figure;
      const bv = f.baseline === undefined ? undefined : byName.get(f.baseline);
      const ratio = bv === undefined || bv === 0 ? '' : `${fmt(f.value / bv)}x`;
      t.push([f.name, fmt(f.value), f.unit, f.baseline ?? '', ratio]);
    }
    const errors = rows.filter((r) => r.error).map((r) => `  ${r.name}: ${r.error}`);
    process.stdout.write(`${machine()}\n\n${table(t)}\n${errors.length ? `\nerrors:\n${errors.join('\n')}\n` : ''}`);
    const anchor = anchorReport(byName);
    if (anchor) process.stdout.write(`\n${anchor}\n`);
  }
  return figures.length > 0 ? 0 : 1;
}

// Ctrl-C or kill: exit through 'exit' so the bench modules' hooks kill their children.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

main().then(
  (code) => {
    // Exit explicitly: a bench that timed out may still hold handles open.
    process.stdout.write('', () => process.exit(code));
  },
  (e) => {
    process.stderr.write(`bench runner failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
