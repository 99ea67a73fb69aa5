/**
 * The command line of every mpdk program (DPDK's lib/argparse): the EAL options, then
 * `--`, then the program's own, declared as a table (ProgramSpec) and parsed here, so that
 * every program and tool follows the same rules:
 *
 *   --name VALUE, --name=VALUE, -x VALUE, -xVALUE   an option with a value
 *   --flag, -f                                      a flag (`--flag=x` is refused)
 *   --name[=VALUE]                                  an optional value (`optional`): only
 *                                                   with '=' (as getopt's optional_argument);
 *                                                   alone it gives the value ''
 *   -h, --help, anywhere                            help: ProgramArgs.help, nothing else is
 *                                                   checked (the `mpdk` runner prints
 *                                                   helpText on stdout and exits 0)
 *   a value that starts with '-'                    only as --name=VALUE: `--file-prefix
 *                                                   --json` is "needs a value", never a
 *                                                   prefix named --json (a negative number
 *                                                   and '-' alone are values)
 *   an unknown option                               one line naming the nearest valid
 *                                                   spelling ("did you mean --file-prefix?")
 *   an option given twice                           the last wins, unless it is `repeat`
 *                                                   (every value kept, in order)
 *
 * Programs that take EAL options (`eal: true`) have them before the first `--`, checked by
 * the EAL's own parser (options.ts, which follows the same rules); tools (`eal: false`)
 * take only their own options, and a `--` among them is ignored (DPDK's tools are run as
 * `dpdk-proc-info -- --stats`). A program's --vdev specs are checked against the registered
 * drivers here too (ethdev/vdev-check.ts), before it touches any instance. Every refusal is
 * a UsageError of one line: exit status 2.
 */
import { UsageError } from './errors.js';
import { EAL_OPTION_NAMES, EAL_USAGE, checkFilePrefix, parseEalArgs, type EalOptions } from './options.js';
import { looksLikeOption, nearest, wantsHelp, quoteValue } from './option-words.js';
import { checkVdevs } from '../ethdev/vdev-check.js';

/** One option of a program. */
export interface OptionSpec {
  /** Its spellings, e.g. ['-p'] or ['--ring', '--show-ring']; the first is its key. */
  names: readonly string[];
  /** The value's placeholder in help and messages (PORTMASK); absent for a flag. */
  value?: string;
  /** May be given more than once, every value kept in order (otherwise the last wins). */
  repeat?: boolean;
  /** The value is optional and given only as --name=VALUE (DPDK's `--show-ring[=name]`); alone: ''. */
  optional?: boolean;
  /** One line for `--help`. */
  help: string;
}

/** A program's command line, as `mpdk NAME --help` prints it. */
export interface ProgramSpec {
  /** As typed after `mpdk`: 'symmetric_mp'. */
  name: string;
  /** What follows `usage: mpdk NAME`, e.g. '[EAL options] -- -p PORTMASK --num-procs N'. */
  synopsis: string;
  /** Whether EAL options come first, up to `--` (the sample programs), or only the program's (tools). */
  eal: boolean;
  /** Text between the usage line and the options. */
  about?: string;
  /** The program's own options, in the order `--help` lists them. */
  options: readonly OptionSpec[];
  /** Text after the options. */
  notes?: string;
  /** The exit statuses, when they say more than EXIT_STATUSES. */
  exits?: string;
  /**
   * Words that are not options (`mpdk port attach SPEC`): their placeholders as help shows
   * them, how many there must be at least and at most; without it, any is refused.
   */
  operands?: {
    /** Their placeholders as help shows them (`SPEC`, `FILE...`). */
    names: string;
    /** How many there must be at least. */
    min: number;
    /** How many there may be at most. */
    max: number;
  };
}

/** The exit statuses every mpdk program uses (`mpdk --help`, the README). */
export const EXIT_STATUSES = 'exit status: 0 done, 1 refused or failed at run time (one line says why), 2 wrong command line (one line says what)';

const HELP: OptionSpec = { names: ['-h', '--help'], help: 'this text' };

/** The instance a tool looks at (tools take it as their own option; read it with instancePrefix). */
export const FILE_PREFIX_OPTION: OptionSpec = { names: ['--file-prefix'], value: 'NAME', help: 'the instance (default: mpdk)' };

/** A tool's --huge-dir (DPDK's tools accept it): the folder of an instance's region when it was started with --huge-dir. */
export const HUGE_DIR_OPTION: OptionSpec = { names: ['--huge-dir'], value: 'DIR', help: 'where the region is when the instance used --huge-dir' };

/** A tool's --file-prefix, checked as the EAL checks it; 'mpdk' when not given. */
export function instancePrefix(a: ProgramArgs): string {
  return checkFilePrefix(a.value('--file-prefix') ?? 'mpdk');
}

/** The program's options as given: look them up by any of their spellings. */
export class ProgramArgs {
  /** -h or --help was given; nothing else was checked. */
  readonly help: boolean;
  /** The EAL options, parsed and checked (programs with `eal: true`). */
  readonly eal: EalOptions | undefined;
  private readonly spec: ProgramSpec;
  private readonly given: Map<string, string[]>;
  /** Every option given, in command-line order: [key, value] ('' for a flag). */
  private readonly order: readonly (readonly [string, string])[];
  /** The words that are not options, in order (ProgramSpec.operands). */
  readonly operands: readonly string[];

  constructor(spec: ProgramSpec, help: boolean, eal: EalOptions | undefined, given: Map<string, string[]>, order: readonly (readonly [string, string])[] = [], operands: readonly string[] = []) {
    this.spec = spec;
    this.help = help;
    this.eal = eal;
    this.given = given;
    this.order = order;
    this.operands = operands;
  }

  private key(name: string): string {
    const o = this.spec.options.find((s) => s.names.includes(name));
    if (!o) throw new Error(`${this.spec.name} has no option ${name}`); // a bug in the program, not in its command line
    return o.names[0]!;
  }

  /** Whether the option was given. */
  has(name: string): boolean {
    return this.given.has(this.key(name));
  }

  /** The option's value (the last one given), or undefined. */
  value(name: string): string | undefined {
    return this.given.get(this.key(name))?.at(-1);
  }

  /** Every value given for a `repeat` option, in order. */
  all(name: string): string[] {
    return [...(this.given.get(this.key(name)) ?? [])];
  }

  /**
   * The options among `names` as they were given, in command-line order, each as its first
   * spelling and its value (for options whose meaning depends on their place, as dumpcap's
   * `-f` applies to the `-i` before it).
   */
  sequence(names: readonly string[]): {
    /** The option's first spelling in the spec (e.g. `--interface`). */
    name: string;
    /** Its value as given. */
    value: string;
  }[] {
    const keys = new Set(names.map((n) => this.key(n)));
    return this.order.filter(([k]) => keys.has(k)).map(([name, value]) => ({ name, value }));
  }

  /** The option's value as a whole number in [min, max], or undefined when it was not given. */
  int(name: string, min: number, max: number, label = name): number | undefined {
    const v = this.value(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new UsageError(`invalid ${label} ${quoteValue(v)}: expected a whole number from ${min} to ${max}`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`invalid ${label} ${n}: it must be from ${min} to ${max}`);
    return n;
  }
}

/**
 * Parse a program's command line (argv after the program's name) against its spec.
 * Throws a one-line UsageError for anything wrong; with -h/--help returns at once, `help` set.
 */
export function parseArgs(spec: ProgramSpec, argv: readonly string[]): ProgramArgs {
  if (wantsHelp(argv)) return new ProgramArgs(spec, true, undefined, new Map());
  let eal: EalOptions | undefined;
  let own: readonly string[] = argv;
  if (spec.eal) {
    const names = spec.options.flatMap((o) => o.names);
    const parsed = parseEalArgs(argv, names, `see 'mpdk ${spec.name} --help'`);
    checkVdevs(parsed.eal.vdevs);
    eal = parsed.eal;
    own = parsed.appArgs;
  }
  const order: [string, string][] = [];
  const operands: string[] = [];
  const given = parseOwn(spec, own, order, operands);
  const o = spec.operands;
  if (o && operands.length < o.min) throw new UsageError(`mpdk ${spec.name} needs ${o.names} (see 'mpdk ${spec.name} --help')`);
  return new ProgramArgs(spec, false, eal, given, order, operands);
}

function parseOwn(spec: ProgramSpec, argv: readonly string[], order: [string, string][], operands: string[]): Map<string, string[]> {
  const given = new Map<string, string[]>();
  const see = `(see 'mpdk ${spec.name} --help')`;
  const names = [...spec.options, HELP].flatMap((o) => o.names);
  let lastFlag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--' && !spec.eal) continue;
    if (!looksLikeOption(arg)) {
      if (spec.operands && operands.length < spec.operands.max) {
        operands.push(arg);
        lastFlag = undefined;
        continue;
      }
      throw new UsageError(`unexpected argument ${quoteValue(arg)}${lastFlag ? `: ${lastFlag} takes no value` : ''} ${see}`);
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    let name = eq > 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
    let o = spec.options.find((s) => s.names.includes(name));
    if (!o && /^-[^-]./.test(arg)) {
      // -xVALUE: a one-letter option with its value attached.
      const short = spec.options.find((s) => s.value !== undefined && s.names.includes(arg.slice(0, 2)));
      if (short) {
        o = short;
        name = arg.slice(0, 2);
        value = arg.slice(2);
      }
    }
    if (!o) throw new UsageError(unknownOption(spec, name, names, see));
    lastFlag = undefined;
    if (o.value === undefined) {
      if (value !== undefined) throw new UsageError(`option ${name} takes no value ${see}`);
      given.set(o.names[0]!, ['']);
      order.push([o.names[0]!, '']);
      lastFlag = name;
      continue;
    }
    if (value === undefined && o.optional) value = '';
    else if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option ${name} needs a value: ${name} ${o.value}`);
      if (looksLikeOption(next)) throw new UsageError(`option ${name} needs a value, not the option ${quoteValue(next)}: ${name} ${o.value} (a value that starts with '-' is written ${name}=VALUE)`);
      value = next;
      i++;
    }
    if (value === '' && !o.optional) throw new UsageError(`option ${name} needs a value: ${name} ${o.value}`);
    const key = o.names[0]!;
    order.push([key, value]);
    if (o.repeat) given.set(key, [...(given.get(key) ?? []), value]);
    else given.set(key, [value]);
  }
  return given;
}

function unknownOption(spec: ProgramSpec, name: string, names: readonly string[], see: string): string {
  const guess = nearest(name, names);
  if (guess !== undefined) return `unknown option ${quoteValue(name)}: did you mean ${guess}?`;
  if (spec.eal && EAL_OPTION_NAMES.includes(name)) return `unknown option ${quoteValue(name)} after '--': it is an EAL option, give it before '--'`;
  if (spec.options.length === 0) return `unknown option ${quoteValue(name)}: ${spec.name} takes no ${spec.eal ? 'program ' : ''}options ${see}`;
  return `unknown option ${quoteValue(name)} ${see}`;
}

/** The options as help lines: spellings and placeholder, then what the option does. */
export function optionsHelp(options: readonly OptionSpec[]): string {
  const rows = options.map((s) => [`${s.names.join(', ')}${s.value ? (s.optional ? `[=${s.value}]` : ' ' + s.value) : ''}`, s.help] as const);
  const w = Math.max(...rows.map((r) => r[0].length));
  // A help of several lines continues under its first.
  return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b.split('\n').join(`\n  ${' '.repeat(w)}  `)}`.trimEnd()).join('\n');
}

/** What `mpdk NAME --help` prints. */
export function helpText(spec: ProgramSpec): string {
  const parts = [`usage: mpdk ${spec.name} ${spec.synopsis}`];
  if (spec.about) parts.push(spec.about);
  parts.push(`${spec.eal ? 'program options (after --)' : 'options'}:\n${optionsHelp([...spec.options, HELP])}`);
  if (spec.notes) parts.push(spec.notes);
  parts.push(spec.exits ?? EXIT_STATUSES);
  if (spec.eal) parts.push(EAL_USAGE);
  return parts.join('\n\n');
}

/** Parse a hexadecimal port mask (`-p 3`): the port ids it selects, ascending. */
export function parsePortmask(v: string | undefined, option = '-p'): number[] {
  if (v === undefined) throw new UsageError(`a port mask is required: ${option} PORTMASK (hexadecimal, e.g. ${option} 3 for ports 0 and 1)`);
  const s = v.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,8}$/.test(s)) throw new UsageError(`invalid ${option} ${quoteValue(v)}: expected a hexadecimal port mask such as 3`);
  const mask = parseInt(s, 16);
  if (mask === 0) throw new UsageError(`invalid ${option} ${quoteValue(v)}: the mask selects no port; set one bit per port, e.g. ${option} 3 for ports 0 and 1`);
  const ports: number[] = [];
  for (let i = 0; i < 32; i++) if (mask & (1 << i)) ports.push(i);
  return ports;
}

/** The hexadecimal mask of `ports` (the inverse of parsePortmask). */
export function portmaskOf(ports: readonly number[]): string {
  return (ports.reduce((m, p) => (m | (1 << p)) >>> 0, 0) >>> 0).toString(16);
}
