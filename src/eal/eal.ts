/**
 * The runtime of one process of an instance (DPDK's EAL): `Eal.init(argv)` parses the EAL
 * options, becomes primary or secondary, maps the region, registers the process and
 * claims its lcores; `close()` undoes all of it, and the last process out removes the
 * instance's files.
 *
 * Files of instance P: instance.ts (where they are) and safe-open.ts (how they are opened:
 * through the checked folder's descriptor, no link followed, created exclusively, read only
 * if regular). No path is read from a file.
 *
 * Process life cycle (who may move it):
 *   (none) --init primary--> PRIMARY        creates or adopts the region
 *   (none) --init secondary-> SECONDARY     needs a READY region with a live process
 *   PRIMARY|SECONDARY --close--> (gone)     unregisters; the last one removes the files
 *   refused: secondary without any live process of the instance (no primary running);
 *            a second primary while one lives (its pid is named);
 *            re-initialising a region while a registered process lives (it is adopted).
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { createRequire } from 'node:module';
import { closeFd, unmap, onlineCpus, processAlive, processStartTime, setAffinity, mapAnonymous, viewMapping } from '../native/libc.js';
import {
  CONFIG_FILE, hugeRegionName, instanceFiles, needHugeDir, openHugeDir, openInstanceDir, readConfig, regionPlace, removeInstanceDirIfEmpty, REGION_FILE,
  type ConfigFile, type InstanceFiles, type RegionPlace,
} from './instance.js';
import { SafeDir } from './safe-open.js';
import { TEST_HOOK, hookStop, hookHold } from './test-hook.js';
import { identityOf, stateOf } from './identity.js';
import { guardExit, guardStartup, unguard } from './startup.js';
import { MpdkError, UsageError } from './errors.js';
import { Heap, type HeapStats, type HeapBlock } from './heap.js';
import { LcoreTable, LCORE_TABLE_BYTES } from './lcore-table.js';
import { bindThreadLcore } from './lcore-usage.js';
import { TelemetryServer } from './telemetry.js';
import { removeStaleTelemetry } from './telemetry-dir.js';
import './telemetry-eal.js'; // the /eal/* telemetry commands
import { RobustLock } from './lock.js';
import { MpIpc } from './mp.js';
import { removeStaleMp } from './mp-socket.js';
import { EventLog } from './event-log.js';
import { InstanceEvents } from './events.js';
import { watchDeath } from './deathwatch.js';
import { Memzones, MEMZONE_TABLE_BYTES } from './memzone.js';
import { EVENT_LOG_BYTES, EVL, EVR, formatEventLog } from './event-log.js';
import { EAL_USAGE, MAX_LCORE, parseEalArgs, type EalOptions } from './options.js';
import { ealArgv, ealOptionsError, type EalConfig } from './config.js';
import { dpdkOption } from './dpdk-options.js';
import { cpusOfLcore } from './lcore-map.js';
import { LogSink, type Logger, type LogLevel, type LogRoute } from './log.js';
import { ProcessTable, PROC_TABLE_BYTES, ProcKind } from './process-table.js';
import {
  createRegionFile, filesystemOf, fnv1a, HDR, mib, openRegionFile, Region, REGION_MAGIC, REGION_VERSION, RegionState, TABLES_OFFSET,
} from './region.js';
import { BLK } from './heap.js';
import { MZ } from './memzone.js';
import { PROC } from './process-table.js';
import { LC } from './lcore-table.js';

const require = createRequire(import.meta.url);
/**
 * This package's version (package.json's). Every process of an instance must run the same one:
 * the region records it, and a process of another version is refused.
 */
export const MPDK_VERSION: string = (require('../../../package.json') as { version: string }).version;

/** Hash of every EAL layout table: a process built from other code refuses to attach. */
export const LAYOUT_HASH = fnv1a(JSON.stringify({ REGION_VERSION, HDR, BLK, MZ, PROC, LC, EVL, EVR, v: MPDK_VERSION }));

export { runtimeBase, instanceFiles, type InstanceFiles } from './instance.js';

export type { LogLevel } from './log.js';

/**
 * A thread that may write to the instance runs as an lcore id of 0..MAX_LCORE-1, never as
 * none: its MP / MC ring claims use that lcore's claim lines and its pool gets and puts that
 * lcore's cache, so a reclaimer reads a dead thread's claims, caches and ownership windows
 * (hands.ts, lent.ts) by its lcore, exactly. A thread without one would share line 0 with
 * lcore 0 (a death of either read as the other's claim): refused. Only observers (Eal.observe,
 * read-only) have none.
 */
function lcoreThread(l: number): void {
  if (!Number.isInteger(l) || l < 0 || l >= MAX_LCORE) {
    throw new MpdkError('EINVAL', `invalid lcore ${l}: a thread that uses the instance runs as an lcore id 0..${MAX_LCORE - 1} (its ring claims and pool caches are that lcore's); give it one of this process's lcores`);
  }
}

/** What `Eal.init` is told besides the EAL options (the argv form's second argument; part of EalConfig). */
export interface EalInitOptions {
  /** Program name, recorded in the process table (e.g. "simple_mp" or "l2fwd_fork:slave"). */
  name?: string;
  /**
   * Close the EAL and exit on SIGINT, SIGTERM and SIGHUP from the first instant of
   * `Eal.init` on (a signal during start-up included), unless the program listens for that
   * signal itself (startup.ts). Default false: the library installs no process-wide signal
   * handler unless asked; the shipped programs ask. Programs add their own listeners with
   * process.on/once, never removeAllListeners.
   */
  handleSignals?: boolean;
  /** The program runs only as the primary: a refusal then advises no --proc-type that would be refused too. */
  only?: 'primary';
  /**
   * A secondary exits (status 1, after closing the EAL and one line on stderr) when its
   * primary exits and no `onPrimaryExit` handler is registered: DPDK's behaviour, which the
   * shipped programs ask for. Default false: the EAL aborts `primaryGone`, runs the
   * `onPrimaryExit` handlers, logs a warning, and the process goes on (the shared objects
   * stay usable between the processes left; a new primary may adopt the instance).
   */
  exitWithPrimary?: boolean;
  /**
   * Where the EAL's messages go (log.ts): `stderrLogger` for DPDK's `EAL: ...` lines on
   * stderr, `console`, or a function (level, message). Default: nowhere, unless
   * NODE_DEBUG=mpdk. The threshold is the log level (`--log-level`, `logLevel`; default info).
   */
  logger?: Logger;
  /**
   * Serve DPDK's telemetry socket in this process (a listening Unix socket in DPDK's
   * runtime folder, for dpdk-telemetry.py and Telegraf; it costs nothing while no client
   * talks, and only this user can reach it). The default depends on the form:
   * - `Eal.init(config)` (a Node program): **false**, as a Node library should have no
   *   side effect it was not asked for; `telemetry: true` serves it.
   * - `Eal.init(argv, init)` (a DPDK command line, as the shipped programs use): **true**,
   *   as in DPDK; `--no-telemetry` among the EAL options, or `telemetry: false` here, serves none.
   */
  telemetry?: boolean;
}

/** How `Eal.observe` attaches to an instance. Every field is optional. */
export interface ObserveOptions {
  /** The hugetlbfs folder of an instance started with `--huge-dir` (`hugeDir`): its region is there. */
  hugeDir?: string;
  /** The least severe message kept: error, warning (default), info or debug. */
  logLevel?: LogLevel;
  /** Where the observer's messages go, as `EalInitOptions.logger` (default: nowhere unless NODE_DEBUG=mpdk). */
  logger?: Logger;
}

/** How the program was started, as /eal/params and /eal/app_params report it. */
export interface CommandLine {
  /** The program (DPDK's argv[0]). */
  name: string;
  /** The EAL options (before `--`). */
  eal: readonly string[];
  /** The program's own options (after `--`). */
  app: readonly string[];
}

/** How the EAL state is handed to a worker thread (lcore) of the same process. */
export interface WorkerHandoff {
  options: EalOptions;
  /** The region's folder: a descriptor this process opened and checked, and its path (-1 / '' in memory). */
  regionDirFd: number;
  regionDir: string;
  regionName: string;
  /** --in-memory: the address and size of the process's anonymous region (0 otherwise). */
  regionAddr: number;
  regionSize: number;
  procType: 'primary' | 'secondary';
  slot: number;
  lcore: number;
  /** Where the worker's messages go (its process's logger: log.ts). */
  log: LogRoute;
}

/**
 * This process's place in an instance (DPDK's EAL): the shared region mapped, the process
 * registered, its lcores claimed. `Eal.init` joins or creates an instance, `Eal.observe` looks at
 * one read-only (tools), `close()` (or `using`) leaves it; the last process out removes the
 * instance's files. Every other object of the library is opened through an Eal, and is used by
 * the thread that owns it.
 *
 * @example
 * ```ts
 * import { Eal, Ring } from 'mpdk';
 * using eal = Eal.init({ lcores: [0], procType: 'auto', filePrefix: 'app' });
 * const ring = eal.isPrimary ? Ring.create(eal, 'jobs', { count: 1024 }) : Ring.lookup(eal, 'jobs');
 * ```
 * @example DPDK's command line: the EAL options, then the program's own
 * ```ts
 * const { eal, args } = Eal.init(process.argv.slice(2));   // ['-l', '0-1', '--proc-type=auto', '--', '-p', '3']
 * ```
 */
export class Eal {
  /** The EAL options this process started with, parsed and with their defaults. */
  readonly options: EalOptions;
  /** What this process is in the instance (an `'auto'` request resolved). */
  readonly procType: 'primary' | 'secondary';
  /**
   * The shared region as this process maps it: `region.u8[h]` is the byte at handle (offset) `h`; `u32`, `f64`... views of the same bytes.
   */
  readonly region: Region;
  /** The paths of the instance's folder and files (/dev/shm/mpdk.PREFIX by default). */
  readonly files: InstanceFiles;
  /** The region's heap (memzones and `malloc` blocks come from it). */
  readonly heap: Heap;
  /** The instance's named zones (DPDK's rte_memzone): `reserve`, `lookup`, `free`, `list`. */
  readonly memzones: Memzones;
  /** The instance's process table: who is attached, as `list()` shows. */
  readonly processes: ProcessTable;
  /** The instance's lcore table: which process holds which lcore, as `list()` shows. */
  readonly lcoreTable: LcoreTable;
  /** The lock that serialises the heap and the memzone table across processes. */
  readonly allocLock: RobustLock;
  /** Process-table slot of this process (-1 for a read-only observer). */
  readonly slot: number;
  private lcore: number;
  /** This thread's poll-loop time goes to its lcore's usage words (lcore-usage.ts). */
  private accounting = false;
  /** True when this primary took over a live instance instead of initialising it. */
  readonly adopted: boolean;
  /** True in a worker thread's Eal (`remoteLaunch`), false in the process's own. */
  readonly isWorker: boolean;
  private configFd = -1;
  /** The instance folder (checked, open for this process's life); null for a worker. */
  private dir: SafeDir | null;
  /** Where the region file is; null for an --in-memory primary (no file). */
  private readonly place: RegionPlace | null;
  private closed = false;
  private watch: NodeJS.Timeout | undefined;
  private primaryExitHandlers: ((pid: number) => void)[] = [];
  /** EalInitOptions.exitWithPrimary. */
  private exitWithPrimary = false;
  /** Aborted when the watched primary exits; a fresh one once a new primary adopts the instance. */
  private primaryGoneCtl = new AbortController();
  private readonly sink: LogSink;
  private telemetry: TelemetryServer | undefined;
  /** The message channel (mp.ts); why there is none when it could not start. */
  private channel: MpIpc | undefined;
  private noChannel = 'this process is not registered in the instance (an observer or a worker thread)';
  private eventsOf: InstanceEvents | undefined;
  /** How the program was started (Eal.init's argv; empty for observers and workers). */
  commandLine: CommandLine = { name: '', eal: [], app: [] };

  private constructor(a: {
    options: EalOptions; procType: 'primary' | 'secondary'; region: Region; files: InstanceFiles; slot: number;
    lcore: number; adopted: boolean; isWorker: boolean; configFd: number; dir: SafeDir | null; place: RegionPlace | null; log: LogSink;
  }) {
    this.dir = a.dir;
    this.place = a.place;
    this.options = a.options;
    this.procType = a.procType;
    this.region = a.region;
    this.files = a.files;
    this.slot = a.slot;
    this.lcore = a.lcore;
    this.adopted = a.adopted;
    this.isWorker = a.isWorker;
    this.configFd = a.configFd;
    this.heap = new Heap(a.region);
    this.allocLock = new RobustLock(a.region.i32, HDR.ALLOC_LOCK);
    this.memzones = new Memzones(a.region, this.heap, this.allocLock);
    this.processes = new ProcessTable(a.region);
    this.lcoreTable = new LcoreTable(a.region);
    this.sink = a.log;
  }

  /** The lcore this thread runs as (the main lcore on the main thread). */
  get lcoreId(): number {
    return this.lcore;
  }

  /**
   * Run as another lcore from now on (a floating process that leased one): its usage follows.
   * EINVAL for an id outside 0..MAX_LCORE-1 (lcoreThread).
   */
  set lcoreId(l: number) {
    lcoreThread(l);
    this.lcore = l;
    if (this.accounting) this.accountTo(l);
  }

  /** Count this thread's poll-loop time into lcore `l`'s usage words. */
  private accountTo(l: number): void {
    this.accounting = l >= 0 && l < MAX_LCORE;
    bindThreadLcore(this.accounting ? this.region.f64 : undefined, this.accounting ? this.lcoreTable.usageIndex(l) : 0);
  }

  /** The instance's name (`--file-prefix`, `filePrefix`). */
  get filePrefix(): string {
    return this.options.filePrefix;
  }

  /** Whether this process is the instance's primary. */
  get isPrimary(): boolean {
    return this.procType === 'primary';
  }

  /** Lcores of this process other than the main one. */
  get workerLcores(): number[] {
    return this.options.lcores.filter((l) => l !== this.options.mainLcore);
  }

  /** Send `msg` to this process's logger when `level` is at or above the log level (log.ts). */
  log(level: LogLevel, msg: string): void {
    this.sink.log(level, msg);
  }

  /**
   * Join an instance, as a Node program does: `Eal.init({ lcores: [0, 1], procType: 'auto',
   * filePrefix: 'app' })` (EalConfig; every field optional). Returns the runtime; `close()`
   * or `using eal = Eal.init(...)` leaves the instance. Throws MpdkError: EINVAL for a bad
   * option (naming its key), and the refusals of the argv form (no primary, a taken lcore ...).
   */
  static init(config: EalConfig): Eal;
  /**
   * Initialise this process from a DPDK command line: EAL options, then `--`, then the
   * program's own, which are returned as `args`. Throws UsageError for a bad command line
   * (the programs exit 2) and MpdkError for a refusal (exit 1).
   */
  static init(argv: readonly string[], init?: EalInitOptions): {
    /** The EAL, initialised. */
    eal: Eal;
    /** The program's own arguments: those after `--`. */
    args: string[];
  };
  static init(argvOrConfig: readonly string[] | EalConfig, init: EalInitOptions = {}): Eal | { eal: Eal; args: string[] } {
    if (Array.isArray(argvOrConfig)) return Eal.initArgv(argvOrConfig as readonly string[], init);
    const config = argvOrConfig as EalConfig;
    const argv = ealArgv(config);
    try {
      return Eal.initArgv(argv, { ...config, telemetry: config.telemetry === true }).eal; // no socket unless asked (EalInitOptions.telemetry)
    } catch (e) {
      throw ealOptionsError(e);
    }
  }

  private static initArgv(argv: readonly string[], init: EalInitOptions): { eal: Eal; args: string[] } {
    const { eal: options, appArgs } = parseEalArgs(argv);
    if (options.help) throw new UsageError(EAL_USAGE);
    // Before anything is created: a signal from here on is honoured when asked (startup.ts).
    const guard = init.handleSignals === true ? guardStartup() : guardExit();
    const name = init.name ?? path.basename(process.argv[1] ?? 'mpdk');
    const eal = Eal.start(options, name, init.only, LogSink.of(init.logger, options.logLevel as LogLevel));
    eal.exitWithPrimary = init.exitWithPrimary === true;
    guard.started(eal);
    if (options.version) eal.log('info', `RTE Version: 'mpdk ${MPDK_VERSION}'`);
    for (const o of options.ignored) eal.log('debug', `${o}: no effect in mpdk (${dpdkOption(o.split('=')[0]!)?.what ?? 'see docs/eal-options.md'})`);
    const dd = argv.indexOf('--');
    eal.commandLine = { name, eal: dd < 0 ? [...argv] : argv.slice(0, dd), app: appArgs };
    if (options.telemetry && init.telemetry !== false) eal.serveTelemetry();
    eal.startChannel();
    return { eal, args: appArgs };
  }

  private static start(options: EalOptions, name: string, only: 'primary' | undefined, log: LogSink): Eal {
    // The instance may change between a start's look and its act (its last process closing
    // or removing it, holding the primary lock meanwhile): look again, bounded and said as
    // every start-up wait (a stopped remover holds the lock until the bound).
    const wait = new StartupWait(log, options.filePrefix);
    for (;;) {
      try {
        return Eal.startOnce(options, name, only, log);
      } catch (e) {
        if (!(e instanceof StartAgain)) throw e;
        log.log('debug', `${e.message}; looking again`);
        wait.step(e.waitingFor, 0);
        sleepMs(5);
      }
    }
  }

  private static startOnce(options: EalOptions, name: string, only: 'primary' | undefined, log: LogSink): Eal {
    const files = instanceFiles(options.filePrefix, options.hugeDir);
    if (options.inMemory) return Eal.becomeInMemory(options, files, name, log);
    // A secondary creates nothing: not even the folder.
    if (options.procType === 'secondary') return Eal.becomeSecondary(options, files, name, log);
    // --huge-dir is checked before anything is made, so a bad one leaves nothing.
    const hugeDir = options.hugeDir ? openHugeDir(options.hugeDir) : null;
    // Owned here until becomePrimary hands them to the Eal (own.fd = -1 then).
    const own = { fd: -1, locked: false, dir: null as SafeDir | null, handed: false, keep: false };
    try {
      // The folder may go between its mkdir and our open, or after (removed empty by the
      // instance's last process leaving): look again.
      own.dir = openInstanceDir(options.filePrefix, true);
      if (!own.dir) throw new StartAgain(`the instance folder of '${options.filePrefix}' was removed as this start made it`, 'the instance folder to stay in place');
      try {
        own.fd = openOrCreateConfig(own.dir);
      } catch (e) {
        if (e instanceof MpdkError && e.code === 'ENOENT') throw new StartAgain(e.message, 'the instance folder to stay in place');
        throw e;
      }
      const lock = own.dir.lockAt(CONFIG_FILE, own.fd);
      // Removed since our open (its last holder leaving): nothing of the name is ours.
      if (lock === 'moved') throw new StartAgain(`the config file ${own.dir.pathOf(CONFIG_FILE)} was removed after this start opened it`, 'the config file to stay in place');
      if ((own.locked = lock === 'locked')) return Eal.becomePrimary(options, files, own, hugeDir, name, log, only);
      if (options.procType === 'primary') {
        const holder = readConfig(own.dir)?.pid ?? 0;
        if (holder === process.pid) throw new MpdkError('EBUSY', `this process (pid ${holder}) is already the primary of --file-prefix=${options.filePrefix}: close that Eal first (Eal.init once per process at a time)`);
        const advice = only === 'primary' ? `${name.split(':')[0]} runs only as the primary: stop that process or use another --file-prefix` : 'start this one with --proc-type=secondary or auto';
        throw new MpdkError('EBUSY', `a primary process${holder ? ` (pid ${holder})` : ''} is already running for --file-prefix=${options.filePrefix}; ${advice}`);
      }
    } catch (e) {
      // We hold the primary lock and nothing was handed over: remove what this start made.
      if (!own.handed && !own.keep && own.locked && own.dir) removeStale(own.dir, options.filePrefix, hugeDir);
      throw e;
    } finally {
      if (!own.handed) {
        closeFd(own.fd);
        own.dir?.close();
        hugeDir?.close();
      }
    }
    try {
      return Eal.becomeSecondary(options, files, name, log);
    } catch (e) {
      // auto, and the lock's holder was the instance's last process removing it (or a
      // primary that gave up): nobody to join, so look again, to be the primary this time.
      if (e instanceof NoPrimary) throw new StartAgain(e.message, 'the process holding the primary lock (closing or removing the instance) to finish');
      throw e;
    }
  }

  private static becomePrimary(
    options: EalOptions, files: InstanceFiles, own: { fd: number; dir: SafeDir | null; handed: boolean; keep: boolean }, hugeDir: SafeDir | null, name: string, log: LogSink, only?: 'primary',
  ): Eal {
    const configFd = own.fd;
    const dir = own.dir!;
    // Trap T3: never re-initialise a region while a registered process of it lives.
    let region: Region | undefined;
    let adopted = false;
    const place = regionPlace(options.filePrefix, dir, hugeDir);
    // The previous primary's region may be elsewhere (it used --huge-dir, or did not):
    // never start a second region beside a live one.
    const prev = readConfig(dir);
    if (prev?.hugetlbfs && !hugeDir) {
      own.keep = true; // its files are not ours to remove
      throw new MpdkError('EBUSY', `the instance '${options.filePrefix}' was started with --huge-dir (its region is there, perhaps still in use); start with the same --huge-dir, or remove it with mpdk cleanup --file-prefix ${options.filePrefix} --huge-dir DIR`);
    }
    const candidates = hugeDir ? [place, regionPlace(options.filePrefix, dir, null)] : [place];
    for (const cand of candidates) {
      try {
        const old = openRegionFile(cand, LAYOUT_HASH, MPDK_VERSION);
        const live = old.state === RegionState.READY ? new ProcessTable(old).livePids() : [];
        if (live.length > 0 && cand !== place) {
          own.keep = true;
          throw new MpdkError('EBUSY', `the live instance '${options.filePrefix}' (processes ${live.join(', ')}) has its region at ${cand.path}; start with the same --huge-dir setting as its processes`);
        }
        if (live.length > 0 && options.procType === 'primary') {
          // T3: only auto adopts. A primary (asked for, or by default) would re-initialise
          // what these processes use: refused, naming them.
          own.keep = true;
          const who = new ProcessTable(old).list().filter((p) => p.alive && p.pid !== process.pid).map((p) => `${p.pid} (${p.name}, ${p.type}${p.liveness === 'unknown' ? ', liveness unknown' : ''})`);
          unmap(old.mapping);
          const advice = only === 'primary' ? `stop them, or restart ${name.split(':')[0]} with --proc-type=auto to adopt the instance` : 'start with --proc-type=auto to adopt it, or --proc-type=secondary to join it';
          throw new MpdkError('EBUSY', `the instance '${options.filePrefix}' is live (processes ${who.join(', ')}); --proc-type=${options.procTypeGiven ? 'primary' : 'primary (the default)'} would re-initialise it: ${advice}`);
        }
        if (live.length > 0) {
          region = old;
          adopted = true;
        }
      } catch (e) {
        if (e instanceof MpdkError && e.code === 'EPROTO') {
          const pids = livePidsOfFile(cand);
          own.keep = pids.length > 0; // in use by other code: not ours to remove
          if (own.keep) throw new MpdkError('EPROTO', `${e.message} (live pids: ${pids.join(', ')})`);
        }
        if (e instanceof MpdkError && e.code === 'EACCES') own.keep = true;
        if (own.keep) throw e;
        // Otherwise absent, stale, half-made (we hold the lock) or damaged: (re-)initialise below.
      }
    }
    // A stale region left on tmpfs by an instance that used no --huge-dir goes.
    if (!region && hugeDir) dir.remove(REGION_FILE);
    region ??= initRegion(place, options);
    fs.ftruncateSync(configFd, 0);
    fs.writeSync(configFd, JSON.stringify({ pid: process.pid, hugetlbfs: place.hugetlbfs } satisfies ConfigFile), 0);
    const eal = new Eal({
      options, procType: 'primary', region, files, slot: -1, lcore: options.mainLcore, adopted, isWorker: false, configFd, dir, place, log,
    });
    own.handed = true; // the Eal's now: its close() or a failed registerSelf releases them
    // The start time is stored before the pid (a reader that loads the new pid, then the
    // start, gets ours; pid then start is the order primaryAlive() reads them in).
    region.f64[HDR.PRIMARY_START >>> 3] = processStartTime(process.pid);
    Atomics.store(region.i32, HDR.PRIMARY_PID >>> 2, process.pid);
    if (HOOK_ADOPT && adopted) hookHold('eal:adopt', () => region!.state === RegionState.CLOSED);
    if (!eal.registerSelf(ProcKind.PRIMARY, name)) {
      // Adopted, and its last process left between our look and our registration: the
      // region is CLOSED and its files are ours to replace (that process found our lock
      // held and removed nothing). Start again: the next look finds it stale.
      eal.close(); // slot -1: leaves nothing, removes nothing
      eal.releasePrimaryLock();
      if (place.hugetlbfs) place.dir.close();
      unmap(region.mapping);
      throw new StartAgain(`the instance '${options.filePrefix}' was closed by its last process while this primary adopted it`, 'the instance to stop closing under this start');
    }
    if (adopted) {
      eal.log('info', `adopted the live instance '${options.filePrefix}' (processes ${eal.processes.livePids().join(', ')}) without re-initialising it`);
    } else {
      region.setConfig({ vdevs: options.vdevs, lcores: options.lcores, name });
      if (HOOK_INIT) hookStop('eal:init');
      region.storeRelease(HDR.STATE, RegionState.READY);
    }
    eal.log('info', `primary: ${mib(region.size)} MiB shared region at ${place.path} (${filesystemOf(place.dir)}), file prefix '${options.filePrefix}'`);
    return eal;
  }

  /**
   * --in-memory (DPDK's, or --no-shconf): a primary whose region is anonymous shared memory.
   * No folder, config, lock or region file is made, so nothing is left behind and no
   * secondary can find it (options.ts refuses --proc-type=secondary with it); its lcore
   * threads see the same memory (handoff). Another instance of the same prefix, with files,
   * is not touched and does not see it.
   */
  private static becomeInMemory(options: EalOptions, files: InstanceFiles, name: string, log: LogSink): Eal {
    const size = Math.min(options.memoryMb * 1024 * 1024, 2 ** 32 - 4096);
    let region: Region;
    try {
      region = formatRegion(new Region('(in memory)', mapAnonymous(size)));
    } catch (e) {
      throw new MpdkError('ENOMEM', `cannot map ${mib(size)} MiB of memory for --in-memory (${(e as Error).message}); start with a smaller -m`);
    }
    const eal = new Eal({ options, procType: 'primary', region, files, slot: -1, lcore: options.mainLcore, adopted: false, isWorker: false, configFd: -1, dir: null, place: null, log });
    region.f64[HDR.PRIMARY_START >>> 3] = processStartTime(process.pid);
    Atomics.store(region.i32, HDR.PRIMARY_PID >>> 2, process.pid);
    eal.registerSelf(ProcKind.PRIMARY, name); // true: nobody else can see this region
    region.setConfig({ vdevs: options.vdevs, lcores: options.lcores, name });
    region.storeRelease(HDR.STATE, RegionState.READY);
    eal.log('info', `primary: ${mib(region.size)} MiB shared region in memory (--in-memory: no files, no secondary processes), file prefix '${options.filePrefix}'`);
    return eal;
  }

  private static becomeSecondary(options: EalOptions, files: InstanceFiles, name: string, log: LogSink): Eal {
    const noPrimary = (): MpdkError =>
      options.procType === 'auto'
        ? new NoPrimary(`--proc-type=auto found the primary lock of '${options.filePrefix}' held and, a moment later, no instance to join (its last process is closing it)`)
        : new MpdkError('ENOENT', `no primary process is running for --file-prefix=${options.filePrefix}; start the primary first (or use --proc-type=auto)`);
    const dir = openInstanceDir(options.filePrefix, false);
    if (!dir) throw noPrimary();
    let place: RegionPlace | undefined;
    // Every wait below is for the primary: said after STARTUP_NOTICE_MS, given up at the bound.
    const wait = new StartupWait(log, options.filePrefix);
    try {
      for (;;) {
        const cfg = readConfig(dir);
        // A process that won the primary lock an instant ago has created the config file but
        // not yet written it (it writes after the region is ready): wait for it, bounded.
        if (!cfg && dir.openExisting(CONFIG_FILE, false, 'the config file') >= 0) {
          wait.step('the primary to write its config file', 0);
          sleepMs(5);
          continue;
        }
        if (cfg?.hugetlbfs && !options.hugeDir) throw needHugeDir(options.filePrefix);
        // The config says where the primary put it; --huge-dir only says which folder.
        place ??= regionPlace(options.filePrefix, dir, cfg && !cfg.hugetlbfs ? null : options.hugeDir);
        const primaryMayLive = (): boolean => cfg !== undefined && processAlive(cfg.pid, 0);
        let region: Region;
        try {
          region = openRegionFile(place, LAYOUT_HASH, MPDK_VERSION);
        } catch (e) {
          // Being created right now by a primary that holds the lock? Wait, bounded.
          if (e instanceof MpdkError && (e.code === 'ENOENT' || e.code === 'EBUSY')) {
            if (primaryMayLive()) {
              wait.step(`the shared region ${place.path} being created`, cfg!.pid);
              sleepMs(5);
              continue;
            }
            throw noPrimary();
          }
          throw e;
        }
        const state = region.state;
        const primaryPid = Atomics.load(region.i32, HDR.PRIMARY_PID >>> 2);
        const primaryAlive = processAlive(primaryPid, region.f64[HDR.PRIMARY_START >>> 3]!);
        if (state === RegionState.INITIALIZING && primaryAlive) {
          unmap(region.mapping); // mapped again on the next look
          wait.step('the primary to finish initialising the shared region', primaryPid);
          sleepMs(5);
          continue;
        }
        if (state !== RegionState.READY) throw noPrimary();
        const eal = new Eal({
          options, procType: 'secondary', region, files, slot: -1, lcore: options.mainLcore, adopted: false, isWorker: false, configFd: -1, dir, place, log,
        });
        // Without a live primary, a secondary may still join a live instance (a symmetric_mp
        // restarted as secondary); with no live process at all, nobody is running it.
        if (!primaryAlive && eal.processes.livePids().length === 0) throw noPrimary();
        if (!eal.registerSelf(ProcKind.SECONDARY, name) || eal.region.state !== RegionState.READY) {
          eal.close();
          throw noPrimary();
        }
        eal.log('info', `secondary: attached to the ${mib(region.size)} MiB region of '${options.filePrefix}' (primary pid ${primaryPid}${primaryAlive ? '' : ', not running'})`);
        eal.watchPrimary();
        place = undefined; // kept by the Eal
        return eal;
      }
    } catch (e) {
      if (place?.hugetlbfs) place.dir.close();
      dir.close();
      throw e;
    }
  }

  /**
   * Register in the process table and claim our lcores; refuses taken lcores. @returns false
   * (nothing registered) when the instance's last process closed it (RegionState.CLOSED)
   * since this process looked at it. Under the process-table lock, as close()'s last-out
   * decision: either that decision sees us live, or we see CLOSED (a lock-free register then a
   * state load let both miss each other: a process joined an instance being removed).
   */
  private registerSelf(kind: ProcKind, name: string): boolean {
    const slot = new RobustLock(this.region.i32, HDR.PROC_LOCK).with(
      () => (this.region.state === RegionState.CLOSED ? -1 : this.processes.register(kind, name)),
      { what: 'the process table' },
    );
    if (slot < 0) return false;
    (this as { slot: number }).slot = slot;
    try {
      this.lcoreTable.claimAll(this.options.lcores, slot, (pid) => {
        const s = this.processes.slotOfPid(pid);
        return s >= 0 ? ` (${this.processes.list().find((p) => p.slot === s)?.name ?? 'mpdk'})` : '';
      });
    } catch (e) {
      this.processes.unregister(slot);
      this.releasePrimaryLock();
      if (kind === ProcKind.PRIMARY && !this.adopted && this.processes.livePids().length === 0) this.removeFiles();
      throw e;
    }
    this.pinMainThread();
    this.accountTo(this.options.mainLcore);
    return true;
  }

  private pinMainThread(): void {
    const online = onlineCpus();
    const cpusets = this.options.cpusets;
    const beyond = this.options.lcores.filter((l) => cpusOfLcore(cpusets, l, online).beyond);
    if (beyond.length > 0) {
      const what = beyond.map((l) => (cpusets[l] && (cpusets[l]!.length !== 1 || cpusets[l]![0] !== l) ? `${l}@(${cpusets[l]!.join(',')})` : String(l)));
      this.log('warning', `lcore${beyond.length > 1 ? 's' : ''} ${what.join(',')} beyond this machine's CPUs (${online.join(',')}): running unpinned`);
    }
    // Beyond the CPUs: unpinned means every online CPU, not whatever the parent was pinned to.
    setAffinity(cpusOfLcore(cpusets, this.options.mainLcore, online).cpus);
  }

  /** Attach from a worker thread of a process that already ran `init`. */
  static attachWorker(h: WorkerHandoff): Eal {
    const place: RegionPlace | null = h.regionAddr !== 0 ? null : { dir: SafeDir.adopt(h.regionDirFd, h.regionDir), name: h.regionName, path: path.join(h.regionDir, h.regionName), hugetlbfs: false };
    const region = place === null ? new Region('(in memory)', viewMapping(h.regionAddr, h.regionSize)) : openRegionFile(place, LAYOUT_HASH, MPDK_VERSION);
    const eal = new Eal({
      options: h.options, procType: h.procType, region, files: instanceFiles(h.options.filePrefix, h.options.hugeDir),
      slot: h.slot, lcore: h.lcore, adopted: false, isWorker: true, configFd: -1, dir: null, place, log: LogSink.routed(h.log, h.options.logLevel as LogLevel),
    });
    setAffinity(cpusOfLcore(h.options.cpusets, h.lcore, onlineCpus()).cpus);
    eal.accountTo(h.lcore);
    return eal;
  }

  /** What a worker thread needs to attach as lcore `lcore` (0..MAX_LCORE-1: lcoreThread). */
  handoff(lcore: number): WorkerHandoff {
    lcoreThread(lcore);
    const p = this.place;
    const mem = p === null ? { regionAddr: this.region.mapping.addr, regionSize: this.region.size } : { regionAddr: 0, regionSize: 0 };
    return {
      options: this.options, regionDirFd: p?.dir.fd ?? -1, regionDir: p?.dir.path ?? '', regionName: p?.name ?? '', ...mem,
      procType: this.procType, slot: this.slot, lcore, log: this.sink.routeForWorker(),
    };
  }

  /**
   * Attach read-only to instance `prefix` for tools (info, proc-info, top), from any
   * process, e.g. `Eal.observe('app', { hugeDir: '/mnt/huge' })`: no lock, no
   * registration, no lcore; the region is mapped read-only, so a write through it would
   * kill the process and none can happen. `close()` (or `using`) detaches. Throws
   * MpdkError ENOENT when there is no such instance (naming where it looked) or when its
   * region is on hugetlbfs and `hugeDir` is not given, and the region's refusals (another
   * mpdk version, a damaged header).
   */
  static observe(prefix: string, opts: ObserveOptions = {}): Eal {
    const { logLevel = 'warning', hugeDir, logger } = opts;
    const files = instanceFiles(prefix, hugeDir);
    const dir = openInstanceDir(prefix, false);
    if (!dir) throw new MpdkError('ENOENT', `no instance with --file-prefix=${prefix} (nothing at ${files.dir}): start its primary first; mpdk ls lists the instances there are`);
    let place: RegionPlace | undefined;
    try {
      const cfg = readConfig(dir);
      if (cfg?.hugetlbfs && !hugeDir) throw needHugeDir(prefix);
      place = regionPlace(prefix, dir, cfg && !cfg.hugetlbfs ? null : hugeDir);
      let region: Region;
      try {
        region = openRegionFile(place, LAYOUT_HASH, MPDK_VERSION, true);
      } catch (e) {
        if (e instanceof MpdkError && e.code === 'ENOENT') throw new MpdkError('ENOENT', `no instance with --file-prefix=${prefix} (nothing at ${place.path}): start its primary first; mpdk ls lists the instances there are`);
        throw e;
      }
      const options = parseEalArgs(['--file-prefix', prefix, '--log-level', logLevel]).eal;
      return new Eal({ options, procType: 'secondary', region, files, slot: -1, lcore: -1, adopted: false, isWorker: false, configFd: -1, dir, place, log: LogSink.of(logger, options.logLevel as LogLevel) });
    } catch (e) {
      if (place?.hugetlbfs) place.dir.close();
      dir.close();
      throw e;
    }
  }

  /**
   * Serve the telemetry socket (telemetry.ts). A socket that cannot be made (a folder of
   * another user where DPDK puts them, say) is a warning, never a refusal to run: the data
   * path does not depend on it.
   */
  private serveTelemetry(): void {
    try {
      this.telemetry = TelemetryServer.start(this, `mpdk ${MPDK_VERSION}`);
      this.log('debug', `telemetry: ${this.telemetry.path}`);
    } catch (e) {
      this.log('warning', `no telemetry socket (${(e as Error).message})`);
    }
  }

  /**
   * Start this process's end of the message channel (mp.ts). One that cannot start (out of
   * descriptors, say) is a warning: the data path does not depend on it, and `eal.mp` then
   * says why it is missing.
   */
  private startChannel(): void {
    if (this.dir === null || this.slot < 0) {
      // --in-memory: no instance folder for the sockets, and no other process to talk to.
      this.noChannel = 'an --in-memory instance has no other processes to message';
      return;
    }
    try {
      this.channel = MpIpc.start({
        prefix: this.filePrefix, dir: this.dir, processes: this.processes, slot: this.slot,
        primaryPid: () => this.primaryPid(), log: (level, msg) => this.log(level, msg),
      });
    } catch (e) {
      this.noChannel = (e as Error).message;
      this.log('warning', `no message channel (${this.noChannel})`);
      return;
    }
    const mp = this.channel;
    mp.removeStale('gone'); // what processes killed before this one started left
    this.events.start(mp, (pid) => mp.removeStale(pid));
  }

  /**
   * @internal The reclaimer's last step for dead process `pid` (ownership/reclaim.ts): its
   * slot in the process table is released, after its death is handled here as this
   * process's events watch would (its message-channel socket removed, its departure reported
   * once): a peer that had not yet looked at it, killed right after it joined, would
   * otherwise never see it, and its socket would stay until the instance ends.
   */
  releaseDeadSlot(slot: number, pid: number): void {
    if (!this.eventsOf?.seenDead(slot, pid)) this.channel?.removeStale(pid);
    this.processes.unregister(slot, pid);
  }

  /**
   * The instance's events (events.ts): `eal.events.on('port-added', fn)` in any process of
   * the instance; `recent()` anywhere, read-only observers included.
   */
  get events(): InstanceEvents {
    this.eventsOf ??= new InstanceEvents(new EventLog(this.region, this.region.u32At(HDR.EVENT_LOG)), {
      processes: this.processes, slot: this.isWorker ? -1 : this.slot, readOnly: this.region.readOnly,
      program: () => (this.slot >= 0 ? this.processes.nameOf(this.slot) : this.commandLine.name), log: (level, msg) => this.log(level, msg),
    });
    return this.eventsOf;
  }

  /**
   * This process's end of the instance's message channel (DPDK's rte_mp): named actions,
   * one-way messages and requests with replies between any processes of the instance, file
   * descriptors along (mp.ts). ENOTCONN in an observer, a worker thread, or after close().
   */
  get mp(): MpIpc {
    if (this.channel) return this.channel;
    throw new MpdkError('ENOTCONN', `no message channel in this Eal: ${this.closed ? 'it was closed' : this.noChannel}`);
  }

  /** Where this process serves DPDK's telemetry protocol (undefined: it does not). */
  get telemetryPath(): string | undefined {
    return this.telemetry?.path;
  }

  // --- shared heap --------------------------------------------------------------------

  /** Allocate `size` bytes from the shared heap (tagged `name` for tools). ENOMEM when it does not fit. */
  malloc(name: string, size: number, align = 64): number {
    if (!Number.isInteger(size) || size <= 0) throw new MpdkError('EINVAL', `invalid allocation size ${size} for '${name}'`);
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0) throw new MpdkError('EINVAL', `invalid alignment ${align} for '${name}': it must be a power of two`);
    return this.memzones.withLock(() => {
      const off = this.heap.allocLocked(size, align, name);
      if (off < 0) throw new MpdkError('ENOMEM', `cannot allocate ${size} bytes for '${name}' from the shared heap: the largest free block is ${this.heap.stats().largestFree} bytes`);
      return off;
    });
  }

  /** `malloc`, zero-filled. */
  zmalloc(name: string, size: number, align = 64): number {
    const off = this.malloc(name, size, align);
    this.region.u8.fill(0, off, off + size);
    return off;
  }

  /** Free a block that `malloc` or `zmalloc` returned (its region offset). */
  free(offset: number): void {
    this.memzones.withLock(() => this.heap.freeLocked(offset));
  }

  /** The region's heap: total, free and largest free bytes. */
  heapStats(): HeapStats {
    return this.heap.stats();
  }

  /** The heap's allocated blocks, for tools. */
  heapBlocks(): HeapBlock[] {
    return this.heap.blocks();
  }

  // --- peers ----------------------------------------------------------------------------

  /** Written last when a primary starts or adopts (see becomePrimary): load it before the start time. */
  primaryPid(): number {
    return Atomics.load(this.region.i32, HDR.PRIMARY_PID >>> 2);
  }

  /**
   * Whether the instance's primary process lives (its pid and start time both match: decided on evidence).
   */
  primaryAlive(): boolean {
    return processAlive(this.primaryPid(), this.region.f64[HDR.PRIMARY_START >>> 3]!);
  }

  /**
   * Be told when the primary exits: `fn(pid)` runs once per primary death this process sees
   * (after `primaryGone` aborts). Returns a function that removes `fn`. A secondary opened
   * with `exitWithPrimary` and no handler exits instead (DPDK's behaviour).
   */
  onPrimaryExit(fn: (pid: number) => void): () => void {
    this.primaryExitHandlers.push(fn);
    return () => {
      const i = this.primaryExitHandlers.indexOf(fn);
      if (i >= 0) this.primaryExitHandlers.splice(i, 1);
    };
  }

  /**
   * Aborted when the instance's primary exits (a secondary watches it through a pidfd), its
   * reason an MpdkError ESRCH naming the pid and what to do. Pass it to any wait that should
   * end with the primary: `await rx.receive({ signal: eal.primaryGone })`. Never aborted in
   * the primary itself; a fresh, unaborted signal once a new primary adopts the instance.
   */
  get primaryGone(): AbortSignal {
    return this.primaryGoneCtl.signal;
  }

  /**
   * Watch the primary through its pidfd (deathwatch.ts): its death is seen at once,
   * without polling. A slow re-check of the header re-arms the watch when a
   * new primary adopts the instance.
   */
  private watchPrimary(): void {
    let watched = 0;
    const arm = (): void => {
      const pid = this.primaryPid();
      if (pid === watched || this.closed) return;
      if (!this.primaryAlive()) {
        if (watched === 0) return; // joined an instance whose primary is already gone
      }
      watched = pid;
      if (this.primaryGoneCtl.signal.aborted) this.primaryGoneCtl = new AbortController(); // a new primary adopted the instance
      watchDeath(pid, this.region.f64[HDR.PRIMARY_START >>> 3]!, (dead) => {
        if (this.closed) return;
        this.channel?.removeStale(dead); // its message-channel socket (events.ts does it for every peer too)
        if (this.exitWithPrimary && this.primaryExitHandlers.length === 0) {
          process.stderr.write(`EAL: the primary process (pid ${dead}) of '${this.filePrefix}' has exited; exiting too (restart this process after a new primary)\n`);
          this.close();
          process.exit(1);
        }
        const why = `the primary process (pid ${dead}) of instance '${this.filePrefix}' has exited: the shared objects stay usable between the processes left; start a new primary (--proc-type=auto adopts the instance) or close this process's EAL`;
        this.log('warning', why);
        this.primaryGoneCtl.abort(new MpdkError('ESRCH', why));
        for (const h of [...this.primaryExitHandlers]) h(dead);
      });
    };
    arm();
    this.watch = setInterval(arm, 1000);
    this.watch.unref();
  }

  // --- exit -----------------------------------------------------------------------------

  private releasePrimaryLock(): void {
    if (this.configFd >= 0) {
      try {
        fs.closeSync(this.configFd); // drops the flock
      } catch {
        /* already closed */
      }
      this.configFd = -1;
    }
  }

  /** What this thread's layers give back when it closes (EthDev: its queues, wires, and the ports it owns). */
  private readonly closing = new Set<() => void>();

  /** @internal Run `fn` when this Eal closes, before it leaves; returns what cancels it. */
  onClose(fn: () => void): () => void {
    this.closing.add(fn);
    return () => this.closing.delete(fn);
  }

  /**
   * Leave the instance: what this thread holds is given back (its ports' queues, wires and
   * ownerships), then our lcores and slot; the last live process removes the files.
   * Idempotent; safe from an 'exit' handler (synchronous).
   */
  close(): void {
    for (const fn of [...this.closing]) {
      try {
        fn();
      } catch (e) {
        this.log('warning', `close: ${(e as Error).message}`);
      }
    }
    this.closing.clear();
    if (this.accounting) this.accountTo(-1);
    this.telemetry?.stop();
    this.telemetry = undefined;
    this.eventsOf?.leave();
    this.channel?.close();
    this.channel = undefined;
    if (this.closed || this.isWorker) {
      this.closed = true;
      return;
    }
    this.closed = true;
    this.sink.close();
    unguard(this);
    if (this.watch) clearInterval(this.watch);
    if (this.slot < 0) {
      this.dir?.close(); // an observer: its folder descriptor is all it holds
      return;
    }
    this.lcoreTable.releaseAllOf(process.pid);
    const lastOut = new RobustLock(this.region.i32, HDR.PROC_LOCK).with(() => {
      this.processes.unregister(this.slot);
      if (this.processes.livePids().length > 0) return false;
      this.region.storeRelease(HDR.STATE, RegionState.CLOSED);
      return true;
    }, { what: 'the process table' });
    // The files go under the primary lock (ours if we are the primary; else taken now, not
    // waited for): a process holding it is starting as primary this instant, will find the
    // region CLOSED and replace it, so the files are its to replace (removed by name here they
    // could be the new ones).
    const lock = lastOut && this.configFd < 0 ? this.lockForRemoval() : -1;
    if (lastOut && (this.configFd >= 0 || lock >= 0)) {
      if (HOOK_REMOVE) hookHold('eal:remove');
      if (this.dir) removeStaleMp(this.dir); // the sockets of processes of this instance that were killed
      this.removeFiles();
      removeStaleTelemetry(this.filePrefix); // sockets of processes of this instance that were killed
    }
    if (lock >= 0) closeFd(lock);
    this.releasePrimaryLock();
  }

  /**
   * An observer done with the instance for good (a tool that follows an instance across
   * restarts): close, and unmap the region, so the memory of an instance that was removed
   * is freed (a mapping keeps a deleted file's pages). Every view read through this Eal
   * (its region's arrays, objects attached through it) is dead afterwards: touching one is
   * SIGSEGV, so the caller keeps nothing of it. Only for observers (Eal.observe); idempotent.
   */
  release(): void {
    if (this.slot >= 0 || this.isWorker || this.commandLine.name !== '') throw new Error('Eal.release: only an observer (Eal.observe) can unmap its region');
    if (this.released) return; // idempotent: a second munmap could hit a later mapping at that address
    this.released = true;
    this.close();
    if (this.place?.hugetlbfs) this.place.dir.close();
    unmap(this.region.mapping);
  }

  private released = false;

  /**
   * The config file opened and flock'ed, still at its name, or -1: absent, replaced since the
   * open (a new primary's), or held for longer than REMOVAL_LOCK_WAIT_MS (a primary is
   * starting: the files are its to replace). Held for less is waited for: a dead primary's
   * lock outlives it in a child it forked that had not yet exec'd (the descriptor, and so the
   * flock, is the child's too until its exec closes it: l2fwd_fork's master killed while it
   * spawned a standby left the instance's files behind this way).
   */
  private lockForRemoval(): number {
    const until = performance.now() + REMOVAL_LOCK_WAIT_MS;
    for (;;) {
      let fd = -1;
      try {
        fd = this.dir?.openExisting(CONFIG_FILE, false, 'the config file') ?? -1;
      } catch {
        return -1; // not a regular file: not ours to judge here (mpdk cleanup does)
      }
      if (fd < 0) return -1;
      const lock = this.dir!.lockAt(CONFIG_FILE, fd);
      if (lock === 'locked') return fd;
      closeFd(fd);
      if (lock === 'moved' || performance.now() >= until) return -1;
      sleepMs(2);
    }
  }

  private removeFiles(): void {
    if (this.place === null) return; // --in-memory: there are none
    this.place.dir.remove(this.place.name);
    this.dir?.remove(CONFIG_FILE);
    removeInstanceDirIfEmpty(this.filePrefix);
  }

  /** `close()`: `using eal = Eal.init({...})` leaves the instance at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Close on SIGINT/SIGTERM/SIGHUP (unless the program has its own listener for the
   * signal) and on exit: startup.ts. `Eal.init` arranges it with `handleSignals: true`;
   * idempotent.
   */
  closeOnSignals(): void {
    guardStartup().started(this);
  }
}

function initRegion(place: RegionPlace, options: EalOptions): Region {
  const size = options.memoryMb * 1024 * 1024;
  return formatRegion(createRegionFile(place, Math.min(size, 2 ** 32 - 4096)));
}

/** Lay out a fresh region: header, tables, heap; state INITIALIZING, magic last. */
function formatRegion(r: Region): Region {
  const u32 = r.u32;
  const procTable = TABLES_OFFSET;
  const lcoreTable = procTable + PROC_TABLE_BYTES;
  const mzTable = lcoreTable + LCORE_TABLE_BYTES;
  const eventLog = mzTable + MEMZONE_TABLE_BYTES;
  const heapStart = Math.ceil((eventLog + EVENT_LOG_BYTES) / 4096) * 4096;
  u32[HDR.VERSION >>> 2] = REGION_VERSION;
  u32[HDR.LAYOUT_HASH >>> 2] = LAYOUT_HASH;
  u32[HDR.SIZE >>> 2] = r.size;
  u32[HDR.GENERATION >>> 2] = (u32[HDR.GENERATION >>> 2]! + 1) >>> 0;
  r.f64[HDR.CREATED_MS >>> 3] = Date.now();
  u32[HDR.PROC_TABLE >>> 2] = procTable;
  u32[HDR.LCORE_TABLE >>> 2] = lcoreTable;
  u32[HDR.MEMZONE_TABLE >>> 2] = mzTable;
  u32[HDR.HEAP_START >>> 2] = heapStart;
  u32[HDR.EVENT_LOG >>> 2] = eventLog;
  formatEventLog(r, eventLog);
  new Heap(r).format();
  r.storeRelease(HDR.STATE, RegionState.INITIALIZING);
  r.storeRelease(HDR.MAGIC, REGION_MAGIC);
  return r;
}

function livePidsOfFile(place: RegionPlace): number[] {
  // A region of another layout: read only the process table's pid words we know are at
  // TABLES_OFFSET in every format so far.
  try {
    const fd = place.dir.openExisting(place.name, false, 'the shared region');
    if (fd < 0) return [];
    const buf = Buffer.alloc(PROC_TABLE_BYTES);
    try {
      fs.readSync(fd, buf, 0, buf.length, TABLES_OFFSET);
    } finally {
      closeFd(fd);
    }
    const out: number[] = [];
    for (let i = 0; i < PROC_TABLE_BYTES; i += PROC.BYTES) {
      const pid = buf.readInt32LE(i);
      if (pid > 0 && processAlive(pid, 0)) out.push(pid);
    }
    return out;
  } catch {
    return [];
  }
}

/** Test hooks: a primary stops before its region is READY (a secondary then waits for it); an adopting primary holds between its look and its registration until the region is CLOSED; the last process out holds the primary lock before it removes the files. */
const HOOK_INIT = TEST_HOOK === 'eal:init';
const HOOK_ADOPT = TEST_HOOK === 'eal:adopt';
const HOOK_REMOVE = TEST_HOOK === 'eal:remove';

/** A start-up wait for the primary says what it waits for after this long... */
const STARTUP_NOTICE_MS = 2000;
/** ...and gives up here (a primary initialising a large region on a loaded host takes seconds). */
const STARTUP_BOUND_MS = 15000;

/**
 * A bounded start-up wait that says what it waits for and on whom: `step(what, pid)` is
 * called at each look; the first one after STARTUP_NOTICE_MS logs (warning) "waiting for
 * WHAT (pid N, alive, running)...", and one after STARTUP_BOUND_MS throws ETIMEDOUT naming
 * the same (the process's state from /proc: evidence, stateOf).
 */
class StartupWait {
  private readonly t0 = performance.now();
  private said = '';

  constructor(private readonly log: LogSink, private readonly prefix: string) {}

  step(what: string, pid: number): void {
    const ms = performance.now() - this.t0;
    if (ms < STARTUP_NOTICE_MS) return;
    const who = pid > 0 ? ` (pid ${pid}, ${stateOf(identityOf(pid))})` : '';
    if (ms >= STARTUP_BOUND_MS) {
      throw new MpdkError('ETIMEDOUT', `gave up after ${Math.round(ms / 1000)} s waiting for ${what}${who} of '${this.prefix}'; if that process is stuck, stop it (mpdk cleanup --file-prefix ${this.prefix} once nothing of the instance runs) and start again`);
    }
    if (this.said !== what) {
      this.said = what;
      this.log.log('warning', `waiting for ${what}${who} of '${this.prefix}'... (giving up after ${STARTUP_BOUND_MS / 1000} s)`);
    }
  }
}

/** The config file, opened (made exclusively when absent): the primary lock's file. */
function openOrCreateConfig(dir: SafeDir): number {
  for (let i = 0; i < 3; i++) {
    const fd = dir.openExisting(CONFIG_FILE, true, 'the config file');
    if (fd >= 0) return fd;
    const made = dir.createExclusive(CONFIG_FILE, 'the config file');
    if (made >= 0) return made;
  }
  throw new MpdkError('EBUSY', `the config file ${dir.pathOf(CONFIG_FILE)} keeps appearing and vanishing; is another mpdk starting or cleaning up the same --file-prefix?`);
}

/** Eal.start: the instance changed between this start's look and its act; `waitingFor` says for what, if it keeps changing. */
class StartAgain extends Error {
  constructor(message: string, readonly waitingFor: string) {
    super(message);
  }
}
/** A --proc-type=auto start found the primary lock held and, a moment later, nothing to join. */
class NoPrimary extends MpdkError {
  constructor(message: string) {
    super('ENOENT', message);
  }
}

/** Remove an instance's files while holding its primary lock with no live process. */
function removeStale(dir: SafeDir, prefix: string, hugeDir: SafeDir | null): void {
  if (hugeDir) hugeDir.remove(hugeRegionName(prefix));
  dir.remove(REGION_FILE);
  dir.remove(CONFIG_FILE);
  removeInstanceDirIfEmpty(prefix);
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/**
 * How long the last process out waits for the primary lock held by someone else before it
 * leaves the files to that holder (Eal.lockForRemoval).
 */
const REMOVAL_LOCK_WAIT_MS = 500;

export function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export function hostCpus(): number {
  return os.availableParallelism();
}
