/**
 * How the tests' child processes are told what to do and how they answer:
 * `node X-child.js EAL-ARGS -- MODE key=value ...`, one JSON object per stdout line.
 */

/** The command line of a child started as `EAL-ARGS -- MODE key=value ...`. */
export interface ChildArgv {
  /** Everything before `--` (the EAL's arguments). */
  ealArgs: string[];
  mode: string;
  /** The key=value words after the mode. */
  opt: Record<string, string>;
}

/** This process's command line read as a test child's. */
export function childArgv(argv: readonly string[] = process.argv.slice(2)): ChildArgv {
  const dd = argv.indexOf('--');
  const [mode = '', ...kv] = dd < 0 ? [] : argv.slice(dd + 1);
  const opt: Record<string, string> = {};
  for (const a of kv) opt[a.slice(0, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);
  return { ealArgs: dd < 0 ? [...argv] : argv.slice(0, dd), mode, opt };
}

/** One answer line to the test: a JSON object on stdout. */
export function out(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}
