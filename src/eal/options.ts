/**
 * EAL command-line options, shared by every mpdk program: EAL options, then `--`,
 * then the program's own (as DPDK's `rte_eal_init` consumes argv up to `--`).
 */
import { UsageError } from './errors.js';
import { looksLikeOption, nearest } from './option-words.js';

export type ProcType = 'primary' | 'secondary' | 'auto';

export interface EalOptions {
  /** Lcore ids this process runs, ascending. */
  lcores: number[];
  /** The lcore that runs the main thread (default: the lowest of `lcores`). */
  mainLcore: number;
  procType: ProcType;
  /** Whether --proc-type was given at all (a missing one means "primary", as in DPDK). */
  procTypeGiven: boolean;
  filePrefix: string;
  /** Size of the shared region in MiB (primary only). */
  memoryMb: number;
  /** Back the region with hugetlbfs at this folder instead of /dev/shm. */
  hugeDir: string | undefined;
  vdevs: string[];
  logLevel: string;
  /** Serve DPDK's telemetry socket (default; --no-telemetry turns it off). */
  telemetry: boolean;
  help: boolean;
}

export const MAX_LCORE = 128;
export const DEFAULT_MEMORY_MB = 256;
export const MAX_MEMORY_MB = 4095;
export const FILE_PREFIX_MAX = 32;

export const EAL_USAGE = `EAL options (before \`--\`):
  -l CORELIST            lcores to run on, e.g. 0-3,5 (ids ${'\u2265'} the CPU count run unpinned)
  -c HEXMASK             lcores as a hexadecimal mask, e.g. 3 for lcores 0 and 1
  --main-lcore ID        lcore of the main thread (default: the lowest)
  -n N                   memory channels: accepted for DPDK compatibility, no effect
  --proc-type TYPE       primary | secondary | auto (default: primary)
  --file-prefix NAME     instance name; separates instances (default: mpdk)
  -m MB                  size of the shared region in MiB, primary only (default: ${DEFAULT_MEMORY_MB})
  --huge-dir DIR         back the region with hugetlbfs mounted at DIR instead of /dev/shm
  --vdev SPEC            a virtual device, e.g. net_ring0 or net_pcap0,rx_pcap=in.pcap
  --log-level LEVEL      error | warning | info | debug (default: info)
  --no-telemetry         serve no telemetry socket (DPDK's dpdk-telemetry.py protocol)
  -h, --help             this text`;

/** Parse `0-3,5` into sorted unique ids. */
export function parseCoreList(s: string, opt = '-l'): number[] {
  const out = new Set<number>();
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(s)) throw new UsageError(`invalid ${opt} '${s}': expected a core list such as 0-3,5`);
  for (const part of s.split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    const hi = b ?? a;
    if (hi < a) throw new UsageError(`invalid ${opt} '${s}': range ${part} runs backwards`);
    if (hi >= MAX_LCORE) throw new UsageError(`invalid ${opt} '${s}': lcore ids must be below ${MAX_LCORE}`);
    for (let i = a; i <= hi; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

export function parseCoreMask(s: string): number[] {
  const hex = s.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new UsageError(`invalid -c '${s}': expected a hexadecimal core mask such as 3`);
  const mask = BigInt('0x' + hex);
  const out: number[] = [];
  for (let i = 0; i < MAX_LCORE; i++) if ((mask >> BigInt(i)) & 1n) out.push(i);
  if ((mask >> BigInt(MAX_LCORE)) !== 0n) throw new UsageError(`invalid -c '${s}': lcore ids must be below ${MAX_LCORE}`);
  if (out.length === 0) throw new UsageError(`invalid -c '${s}': the mask selects no lcore`);
  return out;
}

/** A --file-prefix must be a plain name: it becomes part of file names. */
export function checkFilePrefix(s: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(s) || s === '.' || s === '..' || s.length > FILE_PREFIX_MAX) {
    throw new UsageError(`invalid --file-prefix '${s}': use 1-${FILE_PREFIX_MAX} letters, digits, '_', '-' or '.' (not '.' or '..')`);
  }
  return s;
}

/** Every EAL option's spellings (for "did you mean", and to tell EAL options from a program's). */
export const EAL_OPTION_NAMES: readonly string[] = [
  '-l', '--lcores', '-c', '--main-lcore', '--master-lcore', '-n', '--proc-type', '--file-prefix', '-m', '--huge-dir',
  '--vdev', '--log-level', '--no-pci', '--no-huge', '--no-shconf', '--telemetry', '--no-telemetry', '-h', '--help',
];

const PROC_TYPES: readonly string[] = ['primary', 'secondary', 'auto'];
const LOG_LEVELS: readonly string[] = ['error', 'warning', 'info', 'debug'];

/**
 * Split argv at the first `--` and parse the EAL part. Options take their value either
 * as `--opt=value` or as the next word (never one that is itself an option: see
 * option-words.ts), and short ones also as `-lVALUE`. Throws a one-line UsageError naming
 * the bad option and its valid form, or for an unknown one the nearest EAL option, or
 * (when `programOptions`, the program's own spellings, holds it) that it goes after `--`.
 */
export function parseEalArgs(argv: readonly string[], programOptions: readonly string[] = []): { eal: EalOptions; appArgs: string[] } {
  const dd = argv.indexOf('--');
  const ealArgs = dd < 0 ? argv : argv.slice(0, dd);
  const appArgs = dd < 0 ? [] : argv.slice(dd + 1);
  const o: EalOptions = {
    lcores: [], mainLcore: -1, procType: 'primary', procTypeGiven: false, filePrefix: 'mpdk',
    memoryMb: DEFAULT_MEMORY_MB, hugeDir: undefined, vdevs: [], logLevel: 'info', telemetry: true, help: false,
  };
  let lcoresGiven = false;
  for (let i = 0; i < ealArgs.length; i++) {
    const arg = ealArgs[i]!;
    let name = arg;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      name = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    } else if (/^-[lcnm].+/.test(arg)) {
      name = arg.slice(0, 2);
      value = arg.slice(2);
    }
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
      case '--lcores':
        o.lcores = parseCoreList(take('-l 0-3,5'), name);
        lcoresGiven = true;
        break;
      case '-c':
        o.lcores = parseCoreMask(take('-c 3'));
        lcoresGiven = true;
        break;
      case '--main-lcore':
      case '--master-lcore': {
        const v = take('--main-lcore 0');
        if (!/^\d+$/.test(v) || Number(v) >= MAX_LCORE) throw new UsageError(`invalid ${name} '${v}': expected an lcore id below ${MAX_LCORE}`);
        o.mainLcore = Number(v);
        break;
      }
      case '-n': {
        const v = take('-n 4');
        if (!/^\d+$/.test(v)) throw new UsageError(`invalid -n '${v}': expected a number of memory channels such as 4`);
        break;
      }
      case '--proc-type': {
        const v = take('--proc-type=primary|secondary|auto');
        if (!PROC_TYPES.includes(v)) throw new UsageError(`invalid --proc-type '${v}': expected primary, secondary or auto`);
        o.procType = v as ProcType;
        o.procTypeGiven = true;
        break;
      }
      case '--file-prefix':
        o.filePrefix = checkFilePrefix(take('--file-prefix NAME'));
        break;
      case '-m': {
        const v = take('-m 256');
        if (!/^\d+$/.test(v) || Number(v) < 4 || Number(v) > MAX_MEMORY_MB) throw new UsageError(`invalid -m '${v}': expected a size in MiB from 4 to ${MAX_MEMORY_MB}`);
        o.memoryMb = Number(v);
        break;
      }
      case '--huge-dir':
        o.hugeDir = take('--huge-dir /dev/hugepages');
        break;
      case '--vdev': {
        const v = take('--vdev net_ring0');
        if (!/^net_[a-z_]+\d+(,.*)?$/.test(v)) throw new UsageError(`invalid --vdev '${v}': expected DRIVER<N>[,key=value...], e.g. net_ring0`);
        o.vdevs.push(v);
        break;
      }
      case '--log-level': {
        const v = take('--log-level info');
        const lv = v.includes(':') ? v.slice(v.lastIndexOf(':') + 1) : v;
        if (!LOG_LEVELS.includes(lv)) throw new UsageError(`invalid --log-level '${v}': expected error, warning, info or debug`);
        o.logLevel = lv;
        break;
      }
      case '--telemetry':
      case '--no-telemetry':
        o.telemetry = name === '--telemetry';
        break;
      case '--no-pci':
      case '--no-huge':
      case '--no-shconf':
        break; // DPDK options with no meaning here; accepted so DPDK command lines run.
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new UsageError(unknownEalOption(name, programOptions));
    }
  }
  if (!lcoresGiven) o.lcores = [0];
  if (o.mainLcore < 0) o.mainLcore = o.lcores[0]!;
  else if (!o.lcores.includes(o.mainLcore)) throw new UsageError(`invalid --main-lcore ${o.mainLcore}: it is not among the lcores ${o.lcores.join(',')}`);
  return { eal: o, appArgs };
}

function unknownEalOption(name: string, programOptions: readonly string[]): string {
  if (programOptions.includes(name)) return `unknown EAL option '${name}': it is an option of the program, give it after '--'`;
  const guess = nearest(name, EAL_OPTION_NAMES);
  if (guess !== undefined) return `unknown EAL option '${name}': did you mean ${guess}? (program options go after '--')`;
  return `unknown EAL option '${name}' (program options go after '--'; see --help)`;
}
