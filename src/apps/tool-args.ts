/** Options of the read-only tools (info, ls, cleanup): `--file-prefix X`, `--json`, `-h`. */
import { checkFilePrefix } from '../eal/options.js';
import { UsageError } from '../eal/errors.js';

export interface ToolArgs {
  filePrefix: string;
  json: boolean;
  rest: string[];
}

export function parseToolArgs(argv: readonly string[], usage: string, extra: readonly string[] = []): ToolArgs {
  const out: ToolArgs = { filePrefix: 'mpdk', json: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') throw new UsageError(usage);
    else if (a === '--json') out.json = true;
    else if (a === '--file-prefix' || a.startsWith('--file-prefix=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`option --file-prefix needs a value: --file-prefix NAME`);
      out.filePrefix = checkFilePrefix(v);
    } else if (a === '--') continue;
    else if (extra.some((x) => a === x || a.startsWith(x + '='))) out.rest.push(a);
    else throw new UsageError(`unknown option '${a}'\n${usage}`);
  }
  return out;
}
