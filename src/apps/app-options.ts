/**
 * Program options after `--`, shared by the sample programs: a tiny declarative parser
 * (`-p 3`, `--num-procs=4`, `--num-procs 4`, flags) with DPDK's forms, and the port-mask
 * helpers. Errors are UsageErrors naming the option and its valid form (exit status 2).
 */
import { UsageError } from '../index.js';

export interface OptionSpec {
  /** Names, e.g. ['-p'] or ['--num-procs']. */
  names: string[];
  /** Placeholder in messages, e.g. 'PORTMASK'; absent for a flag. */
  value?: string;
  help: string;
}

export type ParsedOptions = Map<string, string | true>;

/**
 * Parse `argv` against `specs`; the key of each result is the spec's first name.
 * Unknown options and missing values are UsageErrors that include `usage`.
 */
export function parseOptions(argv: readonly string[], specs: readonly OptionSpec[], usage: string): ParsedOptions {
  const out: ParsedOptions = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = specs.find((s) => s.names.includes(name));
    if (!spec) throw new UsageError(`unknown option '${arg}'\n${usage}`);
    if (!spec.value) {
      if (eq > 0) throw new UsageError(`option ${name} takes no value\n${usage}`);
      out.set(spec.names[0]!, true);
      continue;
    }
    let v: string | undefined = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (v === undefined || v === '') throw new UsageError(`option ${name} needs a value: ${name} ${spec.value}\n${usage}`);
    out.set(spec.names[0]!, v);
  }
  return out;
}

/** Render specs as usage lines. */
export function optionsHelp(specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => [`${s.names.join(', ')}${s.value ? ' ' + s.value : ''}`, s.help] as const);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n');
}

/** A non-negative integer option within [min, max]. */
export function intOption(v: string | true | undefined, name: string, min: number, max: number, usage: string): number | undefined {
  if (v === undefined) return undefined;
  if (v === true || !/^-?\d+$/.test(v)) throw new UsageError(`invalid ${name} '${String(v)}': expected a whole number from ${min} to ${max}\n${usage}`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`invalid ${name} ${n}: it must be from ${min} to ${max}\n${usage}`);
  return n;
}

/** Parse a hexadecimal port mask (`-p 3`): the port ids it selects, ascending. */
export function parsePortmask(v: string | true | undefined, usage: string): number[] {
  if (v === undefined) throw new UsageError(`a port mask is required: -p PORTMASK (hexadecimal, e.g. -p 3 for ports 0 and 1)\n${usage}`);
  const s = v === true ? '' : v.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,8}$/.test(s)) throw new UsageError(`invalid -p '${String(v)}': expected a hexadecimal port mask such as 3\n${usage}`);
  const mask = parseInt(s, 16);
  if (mask === 0) throw new UsageError(`invalid -p '${v}': the mask selects no port\n${usage}`);
  const ports: number[] = [];
  for (let i = 0; i < 32; i++) if (mask & (1 << i)) ports.push(i);
  return ports;
}

export function portmaskOf(ports: readonly number[]): string {
  return ports.reduce((m, p) => m | (1 << p), 0).toString(16);
}
