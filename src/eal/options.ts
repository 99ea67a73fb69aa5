/**
 * EAL command-line options, shared by every mpdk program: EAL options, then `--`,
 * then the program's own (as DPDK's `rte_eal_init` consumes argv up to `--`). Every option
 * of DPDK 22.11 is known (dpdk-options.ts): those that work are parsed here; the others are
 * accepted with their values checked, or refused in one line saying why.
 */
import { UsageError } from './errors.js';
import { DPDK_EAL_OPTIONS, dpdkOption } from './dpdk-options.js';
import { parseLcoreMap } from './lcore-map.js';
import { looksLikeOption, nearest, quoteValue } from './option-words.js';

/**
 * How a process joins an instance: creates it (`'primary'`), joins it (`'secondary'`), or whichever fits (`'auto'`).
 */
export type ProcType = 'primary' | 'secondary' | 'auto';

/** The EAL options as parsed (`parseEalArgs`, `eal.options`): every field filled, DPDK's defaults applied. */
export interface EalOptions {
  /** Lcore ids this process runs, ascending. */
  lcores: number[];
  /** The CPUs each lcore runs on (`--lcores` map; `-l` and `-c`: the CPU of its id). */
  cpusets: Record<number, number[]>;
  /** The lcore that runs the main thread (default: the lowest of `lcores`). */
  mainLcore: number;
  /** `--proc-type`: primary (the default), secondary or auto. */
  procType: ProcType;
  /** Whether --proc-type was given at all (a missing one means "primary", as in DPDK). */
  procTypeGiven: boolean;
  /** `--file-prefix`: the instance's name (default `mpdk`). */
  filePrefix: string;
  /** Size of the shared region in MiB (primary only). */
  memoryMb: number;
  /** Back the region with hugetlbfs at this folder instead of /dev/shm. */
  hugeDir: string | undefined;
  /** `--vdev`: one virtual device (port) each, in DPDK's syntax. */
  vdevs: string[];
  /** `--log-level` as given (default `info`). */
  logLevel: string;
  /** Serve DPDK's telemetry socket (default; --no-telemetry turns it off). */
  telemetry: boolean;
  /** --in-memory (or --no-shconf): a primary with no files; no secondary can join. */
  inMemory: boolean;
  /** -v: log the version at start. */
  version: boolean;
  /** The options given that have no effect in mpdk (dpdk-options.ts says why), as given. */
  ignored: string[];
  /** `-h` / `--help` was given. */
  help: boolean;
}

/** Number of lcore ids (DPDK's RTE_MAX_LCORE here): an lcore id is 0 to `MAX_LCORE - 1`. */
export const MAX_LCORE = 128;
export const DEFAULT_MEMORY_MB = 256;
export const MAX_MEMORY_MB = 4095;
export const FILE_PREFIX_MAX = 32;

const spellings = (effect: string): string => DPDK_EAL_OPTIONS.filter((o) => o.effect === effect).map((o) => o.names.join('/')).join(' ');

/** The EAL options' help text (the `-h` of every program), DPDK's options with mpdk's effect of each. */
export const EAL_USAGE = `EAL options (before \`--\`), DPDK's:
  -l CORELIST            lcores to run on, e.g. 0-3,5 (ids ${'\u2265'} the CPU count run unpinned)
  -c HEXMASK             lcores as a hexadecimal mask, e.g. 3 for lcores 0 and 1
  --lcores MAP           lcores mapped to CPUs, e.g. '0@0,1@(2-3)' or '(0-1)@1' (DPDK's syntax)
  --main-lcore ID        lcore of the main thread (default: the lowest)
  --proc-type TYPE       primary | secondary | auto (default: primary)
  --file-prefix NAME     instance name; separates instances (default: mpdk)
  -m MB                  size of the shared region in MiB, primary only (default: ${DEFAULT_MEMORY_MB})
  --socket-mem MB,...    the same, as DPDK's per-socket list (the region is their sum)
  --huge-dir DIR         back the region with hugetlbfs mounted at DIR instead of /dev/shm
  --in-memory            a primary with no files (no secondary can join); --no-shconf too
  --vdev SPEC            a virtual device, e.g. net_ring0 or net_pcap0,rx_pcap=in.pcap
  --log-level LEVEL      error | warning | notice | info | debug, 1-8, or TYPE:LEVEL (default: info)
  --no-telemetry         serve no telemetry socket (DPDK's dpdk-telemetry.py protocol)
  -v                     log the version at start
  -h, --help             this text
accepted with no effect in mpdk (no PCI, IOVA, VFIO, hugepage mechanics, trace):
  ${spellings('none')}
refused (they cannot apply): ${spellings('refused')}
(each one and why: docs/eal-options.md)`;

/** Parse `0-3,5` into sorted unique ids. */
export function parseCoreList(s: string, opt = '-l'): number[] {
  const out = new Set<number>();
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(s)) throw new UsageError(`invalid ${opt} ${quoteValue(s)}: expected a core list such as 0-3,5`);
  for (const part of s.split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    const hi = b ?? a;
    if (hi < a) throw new UsageError(`invalid ${opt} ${quoteValue(s)}: range ${part} runs backwards`);
    if (hi >= MAX_LCORE) throw new UsageError(`invalid ${opt} ${quoteValue(s)}: lcore ids must be below ${MAX_LCORE}`);
    for (let i = a; i <= hi; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * The lcore ids of a hexadecimal core mask (`-c 3` → `[0, 1]`).
 * @throws UsageError for a malformed mask or an id ≥ MAX_LCORE.
 */
export function parseCoreMask(s: string): number[] {
  const hex = s.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new UsageError(`invalid -c ${quoteValue(s)}: expected a hexadecimal core mask such as 3`);
  const mask = BigInt('0x' + hex);
  const out: number[] = [];
  for (let i = 0; i < MAX_LCORE; i++) if ((mask >> BigInt(i)) & 1n) out.push(i);
  if ((mask >> BigInt(MAX_LCORE)) !== 0n) throw new UsageError(`invalid -c ${quoteValue(s)}: lcore ids must be below ${MAX_LCORE}`);
  if (out.length === 0) throw new UsageError(`invalid -c ${quoteValue(s)}: the mask selects no lcore; set one bit per lcore, e.g. -c 3 for lcores 0 and 1`);
  return out;
}

/**
 * A --file-prefix must be a plain name: it becomes part of file names.
 * @throws UsageError quoting at most 40 characters of it, naming what is wrong.
 */
export function checkFilePrefix(s: string): string {
  const rule = `use 1-${FILE_PREFIX_MAX} letters, digits, '_', '-' or '.' (not '.' or '..')`;
  if (s.length > FILE_PREFIX_MAX) throw new UsageError(`invalid --file-prefix ${quoteValue(s)}: it is ${s.length} characters, at most ${FILE_PREFIX_MAX}; ${rule}`);
  const bad = /[^A-Za-z0-9_.-]/.exec(s);
  if (bad || s === '' || s === '.' || s === '..') {
    throw new UsageError(`invalid --file-prefix ${quoteValue(s)}${bad ? `: ${JSON.stringify(bad[0])} is not allowed` : ''}; ${rule}`);
  }
  return s;
}

/** Every EAL option's spellings (for "did you mean", and to tell EAL options from a program's). */
export const EAL_OPTION_NAMES: readonly string[] = DPDK_EAL_OPTIONS.flatMap((o) => o.names);

const PROC_TYPES: readonly string[] = ['primary', 'secondary', 'auto'];
/**
 * DPDK's log levels (1-8 and their names) as mpdk's four thresholds. mpdk writes no message
 * more severe than an error and none at notice: emergency to error keep errors, notice keeps
 * warnings (DPDK's notice hides INFO lines, as mpdk's warning threshold hides its info ones).
 */
const DPDK_LEVELS: Readonly<Record<string, string>> = {
  1: 'error', 2: 'error', 3: 'error', 4: 'error', 5: 'warning', 6: 'warning', 7: 'info', 8: 'debug',
  emergency: 'error', emerg: 'error', alert: 'error', critical: 'error', crit: 'error', error: 'error', err: 'error',
  warning: 'warning', warn: 'warning', notice: 'warning', info: 'info', debug: 'debug',
};

/**
 * `--log-level`'s value as mpdk's threshold: LEVEL, TYPE:LEVEL (TYPE a regular expression)
 * or PATTERN,LEVEL (a glob), LEVEL a number 1-8 or a name. mpdk has one log, no log types:
 * a type's level is the log's.
 */
export function parseLogLevel(v: string): string {
  let level = v;
  let type = '';
  const comma = v.lastIndexOf(',');
  const colon = v.lastIndexOf(':');
  if (comma >= 0) {
    type = v.slice(0, comma);
    level = v.slice(comma + 1);
  } else if (colon >= 0) {
    type = v.slice(0, colon);
    level = v.slice(colon + 1);
    try {
      new RegExp(type);
    } catch {
      throw new UsageError(`invalid --log-level ${quoteValue(v)}: '${type}' is not a regular expression`);
    }
  }
  const lv = DPDK_LEVELS[level.toLowerCase()];
  if (lv === undefined || (comma >= 0 || colon >= 0 ? type === '' : false)) {
    throw new UsageError(`invalid --log-level ${quoteValue(v)}: expected a level (error, warning, notice, info, debug, or DPDK's 1-8), or TYPE:LEVEL such as lib.eal:debug`);
  }
  return lv;
}

/**
 * Split argv at the first `--` and parse the EAL part. Options take their value either
 * as `--opt=value` or as the next word (never one that is itself an option: see
 * option-words.ts), and short ones also as `-lVALUE`. Throws a one-line UsageError naming
 * the bad option and its valid form, or for an unknown one the nearest EAL option, or
 * (when `programOptions`, the program's own spellings, holds it) that it goes after `--`;
 * `helpHint` is where an unknown option's message sends the user (a program: its --help).
 */
export function parseEalArgs(argv: readonly string[], programOptions: readonly string[] = [], helpHint = 'see --help'): {
  /** The EAL options, parsed (before `--`). */
  eal: EalOptions;
  /** The program's own arguments (after `--`). */
  appArgs: string[];
} {
  const dd = argv.indexOf('--');
  const ealArgs = dd < 0 ? argv : argv.slice(0, dd);
  const appArgs = dd < 0 ? [] : argv.slice(dd + 1);
  const o: EalOptions = {
    lcores: [], cpusets: {}, mainLcore: -1, procType: 'primary', procTypeGiven: false, filePrefix: 'mpdk',
    memoryMb: DEFAULT_MEMORY_MB, hugeDir: undefined, vdevs: [], logLevel: 'info', telemetry: true, inMemory: false, version: false, ignored: [], help: false,
  };
  let lcoresGiven = '';
  let memoryGiven = '';
  const allowBlock = new Set<string>();
  let noHuge = false;
  for (let i = 0; i < ealArgs.length; i++) {
    const arg = ealArgs[i]!;
    let name = arg;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      name = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    } else if (/^-[lcnmrsSabd].+/.test(arg)) {
      name = arg.slice(0, 2);
      value = arg.slice(2);
    }
    const spec = dpdkOption(name);
    if (spec?.arg === 'none' && value !== undefined) throw new UsageError(`option ${name} takes no value`);
    /** One core option only, as DPDK (it ignores the second with an error; mpdk refuses it). */
    const coreOption = (): void => {
      if (lcoresGiven) throw new UsageError(`${name} after ${lcoresGiven}: give one of -l, -c and --lcores`);
      lcoresGiven = name;
    };
    const take = (form: string): string => {
      if (value !== undefined) return value;
      const next = ealArgs[i + 1];
      if (next === undefined || looksLikeOption(next)) {
        throw new UsageError(`option ${name} needs a value: ${form}`);
      }
      i++;
      return next;
    };
    switch (name) {
      case '-l':
        coreOption();
        o.lcores = parseCoreList(take('-l 0-3,5'), name);
        break;
      case '--lcores': {
        coreOption();
        const m = parseLcoreMap(take("--lcores '0@0,1@(2-3)'"), MAX_LCORE);
        o.lcores = m.lcores;
        o.cpusets = m.cpusets;
        break;
      }
      case '-c':
        coreOption();
        o.lcores = parseCoreMask(take('-c 3'));
        break;
      case '--main-lcore':
      case '--master-lcore': {
        const v = take('--main-lcore 0');
        if (!/^\d+$/.test(v) || Number(v) >= MAX_LCORE) throw new UsageError(`invalid ${name} ${quoteValue(v)}: expected an lcore id below ${MAX_LCORE}`);
        o.mainLcore = Number(v);
        break;
      }
      case '--proc-type': {
        const v = take('--proc-type=primary|secondary|auto');
        if (!PROC_TYPES.includes(v)) throw new UsageError(`invalid --proc-type ${quoteValue(v)}: expected primary, secondary or auto`);
        o.procType = v as ProcType;
        o.procTypeGiven = true;
        break;
      }
      case '--file-prefix':
        o.filePrefix = checkFilePrefix(take('--file-prefix NAME'));
        break;
      case '-m': {
        const v = take('-m 256');
        if (!/^\d+$/.test(v) || Number(v) < 4 || Number(v) > MAX_MEMORY_MB) throw new UsageError(`invalid -m ${quoteValue(v)}: expected a size in MiB from 4 to ${MAX_MEMORY_MB}`);
        if (memoryGiven === '--socket-mem') throw new UsageError('-m and --socket-mem both size the memory: give one (DPDK refuses both too)');
        memoryGiven = '-m';
        o.memoryMb = Number(v);
        break;
      }
      case '--socket-mem': {
        const v = take('--socket-mem 1024,1024');
        if (!/^\d+(,\d+)*$/.test(v)) throw new UsageError(`invalid --socket-mem ${quoteValue(v)}: expected MiB per socket, e.g. 1024,1024`);
        const total = v.split(',').reduce((a, x) => a + Number(x), 0);
        if (total < 4 || total > MAX_MEMORY_MB) throw new UsageError(`invalid --socket-mem ${quoteValue(v)}: the region is their sum, ${total} MiB; it must be from 4 to ${MAX_MEMORY_MB}`);
        if (memoryGiven === '-m') throw new UsageError('-m and --socket-mem both size the memory: give one (DPDK refuses both too)');
        memoryGiven = '--socket-mem';
        o.memoryMb = total;
        break;
      }
      case '--in-memory':
      case '--no-shconf':
        o.inMemory = true;
        break;
      case '-v':
        o.version = true;
        break;
      case '--huge-dir':
        o.hugeDir = take('--huge-dir /dev/hugepages');
        break;
      case '--vdev': {
        const v = take('--vdev net_ring0');
        if (!/^net_[a-z_]+\d+(,.*)?$/.test(v)) throw new UsageError(`invalid --vdev ${quoteValue(v, 60)}: expected DRIVER<N>[,key=value...], e.g. net_ring0`);
        o.vdevs.push(v);
        break;
      }
      case '--log-level': {
        const v = take('--log-level info');
        if (v === 'help') o.help = true;
        else o.logLevel = parseLogLevel(v);
        break;
      }
      case '--telemetry':
      case '--no-telemetry':
        o.telemetry = name === '--telemetry';
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default: {
        // DPDK's options that do not work here: accepted (values checked) or refused, saying why.
        if (!spec) throw new UsageError(unknownEalOption(name, programOptions, helpHint));
        if (spec.effect === 'refused') throw new UsageError(`${name}: ${spec.what}`);
        const v = spec.arg === 'required' ? take(`${name} VALUE`) : value;
        const bad = v === undefined ? null : spec.check?.(v);
        if (bad) throw new UsageError(`invalid ${name} ${quoteValue(v!)}: ${bad}`);
        if (spec.names.includes('-a') || spec.names.includes('-b')) allowBlock.add(spec.names[0]!);
        if (name === '--no-huge') noHuge = true;
        o.ignored.push(v === undefined ? name : `${name}=${v}`);
      }
    }
  }
  if (allowBlock.size > 1) throw new UsageError('-a (allow) and -b (block) cannot be used together (as in DPDK)');
  if (o.inMemory && o.procType === 'secondary') throw new UsageError('--in-memory runs a primary alone: it keeps no files a secondary could join; leave out --proc-type=secondary (or --in-memory)');
  if (o.inMemory && o.hugeDir !== undefined) throw new UsageError('--in-memory keeps no files: --huge-dir cannot apply; give one of them');
  if (noHuge && o.hugeDir !== undefined) throw new UsageError('--no-huge and --huge-dir contradict each other: give one');
  if (o.inMemory) o.procType = 'primary';
  if (!lcoresGiven) o.lcores = [0];
  for (const l of o.lcores) o.cpusets[l] ??= [l];
  if (o.mainLcore < 0) o.mainLcore = o.lcores[0]!;
  else if (!o.lcores.includes(o.mainLcore)) throw new UsageError(`invalid --main-lcore ${o.mainLcore}: it is not among the lcores ${o.lcores.join(',')}`);
  return { eal: o, appArgs };
}

function unknownEalOption(name: string, programOptions: readonly string[], helpHint: string): string {
  if (programOptions.includes(name)) return `unknown EAL option ${quoteValue(name)}: it is an option of the program, give it after '--'`;
  const guess = nearest(name, EAL_OPTION_NAMES);
  if (guess !== undefined) return `unknown EAL option ${quoteValue(name)}: did you mean ${guess}? (program options go after '--')`;
  return `unknown EAL option ${quoteValue(name)} (program options go after '--'; ${helpHint})`;
}
