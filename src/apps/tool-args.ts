/**
 * Options of the read-only tools (info, ls, cleanup, proc-info, top, dumpcap):
 * `--file-prefix X`, `--json`, `-h`. `extra` names flags (kept as given in `rest`, a value
 * only as `--x=v`); `withValue` names options that take a value (`--x v` or `--x=v`),
 * returned in `values` (the last one wins; `repeated` keeps every one, in order).
 */
import { checkFilePrefix } from '../eal/options.js';
import { UsageError } from '../eal/errors.js';

export interface ToolArgs {
  filePrefix: string;
  json: boolean;
  rest: string[];
  values: Record<string, string>;
  repeated: Record<string, string[]>;
}

export function parseToolArgs(argv: readonly string[], usage: string, extra: readonly string[] = [], withValue: readonly string[] = []): ToolArgs {
  const out: ToolArgs = { filePrefix: 'mpdk', json: false, rest: [], values: {}, repeated: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const key = eq > 0 ? a.slice(0, eq) : a;
    if (a === '-h' || a === '--help') throw new UsageError(usage);
    else if (a === '--json') out.json = true;
    else if (a === '--file-prefix' || a.startsWith('--file-prefix=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`option --file-prefix needs a value: --file-prefix NAME`);
      out.filePrefix = checkFilePrefix(v);
    } else if (a === '--') continue;
    else if (withValue.includes(key)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`option ${key} needs a value\n${usage}`);
      out.values[key] = v;
      (out.repeated[key] ??= []).push(v);
    } else if (extra.some((x) => a === x || a.startsWith(x + '='))) out.rest.push(a);
    else throw new UsageError(`unknown option '${a}'\n${usage}`);
  }
  return out;
}
