/**
 * DPDK's `--lcores` core map: which lcore ids a process runs and on which CPUs each runs.
 *
 *   --lcores '<lcores[@cpus]>[,<lcores[@cpus]>...]'
 *     lcores, cpus   a number, a range a-b, or a group in parentheses of numbers and ranges
 *                    separated by ',': 3, 0-3, (0-3,5)
 *     lcores@cpus    every lcore of the set runs on the CPU set (1-3@5: lcores 1, 2, 3 on CPU 5)
 *     lcores         without @: each lcore of a bare range runs on the CPU of its id (7-8: 7 on
 *                    7, 8 on 8); the lcores of a group run on the group's CPUs ((0,6): 0 and 6
 *                    each on CPUs 0 and 6)
 *
 *   e.g. DPDK's '1,2@(5-7),(3-5)@(0,2),(0,6),7-8': lcore 0 on {0,6}, 1 on {1}, 2 on {5,6,7},
 *   3-5 on {0,2}, 6 on {0,6}, 7 on {7}, 8 on {8} (as eal_parse_lcores reads it).
 *
 * `-l` and `-c` are the map where each lcore runs on the CPU of its id. A process pins each
 * lcore's thread to its CPU set (eal.ts), as far as the machine has those CPUs: an lcore none
 * of whose CPUs exist runs on every online CPU (unpinned), with a warning.
 */
import { UsageError } from './errors.js';
import { quoteValue } from './option-words.js';

/** Largest CPU id a map may name. */
export const MAX_CPU = 1024;

/** The ids of a set: `3`, `0-3` or `(0-3,5)`; `what` names what they are (lcore, CPU) in messages. */
function parseSet(s: string, max: number, what: string, opt: string, whole: string): number[] {
  const inner = s.startsWith('(') && s.endsWith(')') ? s.slice(1, -1) : s;
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(inner)) {
    throw new UsageError(`invalid ${opt} ${quoteValue(whole)}: ${quoteValue(s)} is not ${what}s (a number, a range a-b, or a group such as (0-3,5))`);
  }
  const out = new Set<number>();
  for (const part of inner.split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    const hi = b ?? a;
    if (hi < a) throw new UsageError(`invalid ${opt} ${quoteValue(whole)}: range ${part} runs backwards`);
    if (hi >= max) throw new UsageError(`invalid ${opt} ${quoteValue(whole)}: ${what} ids must be below ${max}`);
    for (let i = a; i <= hi; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** Split at the commas that are not inside parentheses. */
function topLevel(s: string, opt: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (--depth < 0) throw new UsageError(`invalid ${opt} ${quoteValue(s)}: a ')' without its '('`);
    } else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new UsageError(`invalid ${opt} ${quoteValue(s)}: a '(' without its ')'`);
  out.push(s.slice(start));
  return out;
}

/**
 * Parse a core map. Returns the lcores (ascending) and each one's CPUs. An lcore given twice
 * keeps its last CPU set (as DPDK).
 */
export function parseLcoreMap(s: string, maxLcore: number, opt = '--lcores'): {
  /** The lcore ids, ascending. */
  lcores: number[];
  /** Each lcore's CPUs, as the map gives them. */
  cpusets: Record<number, number[]>;
} {
  const spec = s.replace(/\s+/g, '');
  if (spec === '') throw new UsageError(`invalid ${opt} ${quoteValue(s)}: expected a core map such as 0-3 or '0@0,1@(2-3)'`);
  const cpusets: Record<number, number[]> = {};
  for (const el of topLevel(spec, opt)) {
    if (el === '') throw new UsageError(`invalid ${opt} ${quoteValue(s)}: an empty element`);
    const at = el.indexOf('@');
    const lpart = at < 0 ? el : el.slice(0, at);
    const lcores = parseSet(lpart, maxLcore, 'lcore', opt, s);
    if (at >= 0) {
      const cpus = parseSet(el.slice(at + 1), MAX_CPU, 'CPU', opt, s);
      for (const l of lcores) cpusets[l] = cpus;
    } else if (!lpart.startsWith('(')) {
      for (const l of lcores) cpusets[l] = [l]; // a bare number or range: each on its own CPU
    } else {
      for (const l of lcores) cpusets[l] = lcores; // a group: the group's CPUs
    }
  }
  return { lcores: Object.keys(cpusets).map(Number).sort((a, b) => a - b), cpusets };
}

/**
 * The CPUs lcore `l` runs on, as far as this machine has them: its map's CPUs that are
 * online, else every online CPU (unpinned). `beyond` is true in the second case.
 */
export function cpusOfLcore(cpusets: Readonly<Record<number, readonly number[]>>, l: number, online: readonly number[]): {
  /** The CPUs to pin the lcore to. */
  cpus: number[];
  /** None of its map's CPUs is online here: every online CPU (unpinned). */
  beyond: boolean;
} {
  const want = cpusets[l] ?? [l];
  const have = want.filter((c) => online.includes(c));
  return have.length > 0 ? { cpus: have, beyond: false } : { cpus: [...online], beyond: true };
}

/**
 * The EAL option that gives another process lcore `l` with the same CPUs: `-l N` when it runs
 * on the CPU of its id, else `--lcores=N@(cpus)` (l2fwd_fork's slaves).
 */
export function lcoreArg(cpusets: Readonly<Record<number, readonly number[]>>, l: number): string[] {
  const c = cpusets[l];
  if (c === undefined || (c.length === 1 && c[0] === l)) return ['-l', String(l)];
  return [`--lcores=${l}@(${c.join(',')})`];
}
