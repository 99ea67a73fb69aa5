/**
 * `Eal.init`'s options object (a Node program's way to start the EAL) and its one road to
 * the EAL's options: the object is written as the DPDK command line it stands for
 * (`{ lcores: [0, 1], filePrefix: 'app' }` → `--lcores=0,1 --file-prefix=app`) and parsed
 * by the same parser as every program's argv (options.ts), so both forms give the same
 * EalOptions, with the same defaults and the same checks. A refusal names the object's
 * key, not the command-line spelling, and is an MpdkError EINVAL (a wrong argument of a
 * call, not a wrong command line).
 */
import { MpdkError, UsageError } from './errors.js';
import type { EalInitOptions } from './eal.js';
import type { LogLevel } from './log.js';
import { nearest } from './option-words.js';
import type { ProcType } from './options.js';

/**
 * How this process joins an instance (`Eal.init(config)`): the EAL options of DPDK's command
 * line with Node-style names, and how the library behaves in this process. Every field is
 * optional; the defaults are DPDK's (lcore 0, primary, instance `mpdk`, 256 MiB), and
 * Node's: no output (`logger`), no signal handler (`handleSignals`).
 */
export interface EalConfig extends EalInitOptions {
  /**
   * Lcore ids this process runs: `[0, 1]`, a core list such as `'0-3,5'`, or DPDK's core map
   * `'0@0,1@(2-3)'` (`--lcores`: each lcore's CPUs). Default `[0]`.
   */
  lcores?: readonly number[] | string;
  /** The lcore of the main thread (`--main-lcore`); default the lowest of `lcores`. */
  mainLcore?: number;
  /** `'primary'` (default: creates the instance), `'secondary'` (joins one) or `'auto'` (either) (`--proc-type`). */
  procType?: ProcType;
  /** The instance's name: 1-32 letters, digits, `_`, `-`, `.` (`--file-prefix`). Default `'mpdk'`. */
  filePrefix?: string;
  /** Size of the shared region in MiB, 4 to 4095; the primary's only (`-m`). Default 256. */
  memoryMiB?: number;
  /** Back the region with the hugetlbfs mounted at this folder instead of /dev/shm (`--huge-dir`). */
  hugeDir?: string;
  /** Virtual devices, one port each, in DPDK's syntax: `['net_ring0', 'net_pcap0,rx_pcap=in.pcap']` (`--vdev`). */
  vdevs?: readonly string[];
  /** The least severe message kept: error, warning, info (default) or debug (`--log-level`). */
  logLevel?: LogLevel;
  /** A primary with no files: the region is anonymous shared memory and no secondary can join (`--in-memory`). */
  inMemory?: boolean;
}

/** The keys of EalConfig that are not EAL options (Eal.init's own). */
export const INIT_KEYS = ['logger', 'name', 'handleSignals', 'only', 'telemetry', 'exitWithPrimary'] as const;

/** Each EAL key of EalConfig and the command-line option it is written as. */
const FLAGS: Readonly<Record<string, string>> = {
  lcores: '--lcores', mainLcore: '--main-lcore', procType: '--proc-type', filePrefix: '--file-prefix', memoryMiB: '-m',
  hugeDir: '--huge-dir', vdevs: '--vdev', logLevel: '--log-level', inMemory: '--in-memory',
};
const KEYS: readonly string[] = [...Object.keys(FLAGS), ...INIT_KEYS];

function bad(key: string, why: string): MpdkError {
  return new MpdkError('EINVAL', `Eal.init: invalid ${key}: ${why}`);
}

function str(key: string, v: unknown): string {
  if (typeof v !== 'string') throw bad(key, `expected a string, got ${typeof v}`);
  return v;
}

function int(key: string, v: unknown): string {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(key, `expected a whole number ≥ 0, got ${String(v)}`);
  return String(v);
}

/**
 * The DPDK command line (EAL options only) that `config` stands for. EINVAL for an
 * unknown key (naming the nearest one) or a value of the wrong type; the values
 * themselves are checked by the parser (`ealOptionsError` renames its refusals).
 */
export function ealArgv(config: EalConfig): string[] {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new MpdkError('EINVAL', 'Eal.init: expected an options object or an argv array');
  const argv: string[] = [];
  for (const [key, v] of Object.entries(config)) {
    if (v === undefined) continue;
    if (!KEYS.includes(key)) {
      const guess = nearest(key, KEYS);
      throw new MpdkError('EINVAL', `Eal.init: unknown option '${key}'${guess ? `: did you mean ${guess}?` : `; valid: ${KEYS.join(', ')}`}`);
    }
    const flag = FLAGS[key];
    if (flag === undefined) continue;
    switch (key) {
      case 'lcores':
        if (typeof v === 'string') argv.push(`${flag}=${v}`);
        else if (Array.isArray(v) && v.length > 0) argv.push(`${flag}=${v.map((x: unknown) => int(key, x)).join(',')}`);
        else throw bad(key, 'expected a non-empty array of lcore ids or a core list such as \'0-3,5\'');
        break;
      case 'mainLcore':
        argv.push(`${flag}=${int(key, v)}`);
        break;
      case 'memoryMiB':
        argv.push(`${flag}${int(key, v)}`);
        break;
      case 'inMemory':
        if (typeof v !== 'boolean') throw bad(key, `expected true or false, got ${typeof v}`);
        if (v) argv.push(flag);
        break;
      case 'vdevs':
        if (!Array.isArray(v)) throw bad(key, 'expected an array of strings such as [\'net_ring0\']');
        for (const d of v) argv.push(`${flag}=${str(key, d)}`);
        break;
      default:
        argv.push(`${flag}=${str(key, v)}`);
    }
  }
  return argv;
}

/**
 * A refusal of the parser for the command line `ealArgv` wrote, as the caller of
 * `Eal.init(config)` should read it: the option's key instead of its flag, EINVAL.
 */
export function ealOptionsError(e: unknown): unknown {
  if (!(e instanceof UsageError)) return e;
  let msg = e.message;
  for (const [key, flag] of Object.entries(FLAGS)) {
    const at = msg.indexOf(`${flag} `);
    if (at >= 0) {
      msg = msg.slice(0, at) + key + msg.slice(at + flag.length);
      break;
    }
  }
  return new MpdkError('EINVAL', `Eal.init: ${msg}`);
}
