/**
 * What a word of a command line is, for every parser of mpdk (the EAL's, options.ts, and
 * the programs', argparse.ts): an option or a value, a request for help, and which valid
 * option a mistyped one most likely meant.
 */

/** Whether a word of the command line is an option, not a value: '-' alone and negative numbers are values. */
export function looksLikeOption(word: string): boolean {
  return word.length > 1 && word[0] === '-' && !/^-\d/.test(word);
}

/** Whether the command line asks for help (-h or --help as a word of its own, anywhere). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('-h') || argv.includes('--help');
}

/**
 * The spelling among `candidates` a person most likely meant by `word`, or undefined:
 * the same name with other dashes or case (`-file-prefix`, `--JSON`), a long option within
 * a small edit distance (`--file-prefx`), or the one long option `word` begins (`--num`).
 * One-letter options are all one edit apart, so they are suggested only for the first kind.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const bare = (s: string): string => s.replace(/^-+/, '').toLowerCase();
  const w = bare(word);
  if (w === '') return undefined;
  const same = candidates.find((c) => bare(c) === w);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const b = bare(c);
    if (b.length < 2) continue;
    const d = editDistance(w, b);
    if (d <= Math.max(1, Math.floor(b.length / 4)) && d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (best !== undefined) return best;
  const starts = candidates.filter((c) => bare(c).length >= 2 && w.length >= 2 && bare(c).startsWith(w));
  return starts.length === 1 ? starts[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * A value as a message quotes it: whole up to `max` characters, else its start and its
 * length (`'aaaa...' (300 characters)`), so that one line stays one line on a terminal.
 */
export function quoteValue(v: string, max = 40): string {
  return v.length <= max ? `'${v}'` : `'${v.slice(0, max - 3)}...' (${v.length} characters)`;
}
