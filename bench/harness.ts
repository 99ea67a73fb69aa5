/**
 * The benchmark registry: each bench module exports `benches`, a list of figures. The
 * runner (run.ts) measures the ones whose name matches the filter, in order, and prints
 * each beside its baseline (a figure measured in the same run), or as JSON:
 *   {"figures": [{"name", "value", "unit", "baseline"?}]}
 */
export interface Bench {
  /** Dotted name, e.g. "ring.spsc.burst32.xproc". */
  name: string;
  unit: string;
  /** Name of the figure this one is judged against (measured in the same run), if any. */
  baseline?: string;
  /** Human description for the table. */
  what: string;
  /** Measure and return the value (several values for benches that report more than one). */
  run(): Promise<number | Record<string, number>>;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: string;
}
