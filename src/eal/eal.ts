/**
 * The runtime of one process of an instance (DPDK's EAL): `Eal.init(argv)` parses the EAL
 * options, becomes primary or secondary, maps the region, registers the process and
 * claims its lcores; `close()` undoes all of it, and the last process out removes the
 * instance's files.
 *
 * Files of instance P (all 0600, folder 0700):
 *   $MPDK_RUNTIME_DIR/mpdk.P/        (default /dev/shm/mpdk.P)
 *     config    the primary holds an exclusive flock on it for its whole life; it holds
 *               {"pid", "region"} as JSON for tools
 *     region    the shared region (or <huge-dir>/mpdk.P.region with --huge-dir)
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
import { onlineCpus, flock, LOCK_EX, LOCK_NB, processAlive, processStartTime, setAffinity } from '../native/libc.js';
import { MpdkError, UsageError } from './errors.js';
import { Heap, type HeapStats, type HeapBlock } from './heap.js';
import { LcoreTable, LCORE_TABLE_BYTES } from './lcore-table.js';
import { RobustLock } from './lock.js';
import { watchDeath } from './deathwatch.js';
import { Memzones, MEMZONE_TABLE_BYTES } from './memzone.js';
import { EAL_USAGE, parseEalArgs, type EalOptions } from './options.js';
import { ProcessTable, PROC_TABLE_BYTES, ProcKind } from './process-table.js';
import {
  createRegionFile, fnv1a, HDR, openRegionFile, Region, REGION_MAGIC, REGION_VERSION, RegionState, TABLES_OFFSET,
} from './region.js';
import { BLK } from './heap.js';
import { MZ } from './memzone.js';
import { PROC } from './process-table.js';
import { LC } from './lcore-table.js';

const require = createRequire(import.meta.url);
export const MPDK_VERSION: string = (require('../../../package.json') as { version: string }).version;

/** Hash of every EAL layout table: a process built from other code refuses to attach. */
export const LAYOUT_HASH = fnv1a(JSON.stringify({ REGION_VERSION, HDR, BLK, MZ, PROC, LC, v: MPDK_VERSION }));

export function runtimeBase(): string {
  return process.env.MPDK_RUNTIME_DIR ?? '/dev/shm';
}

export function instanceDir(prefix: string): string {
  return path.join(runtimeBase(), `mpdk.${prefix}`);
}

export interface InstanceFiles {
  dir: string;
  config: string;
  region: string;
}

export function instanceFiles(prefix: string, hugeDir?: string): InstanceFiles {
  const dir = instanceDir(prefix);
  return { dir, config: path.join(dir, 'config'), region: hugeDir ? path.join(hugeDir, `mpdk.${prefix}.region`) : path.join(dir, 'region') };
}

/** What the primary writes into config for tools. */
interface ConfigFile {
  pid: number;
  region: string;
}

function readConfigFile(p: string): ConfigFile | undefined {
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8')) as ConfigFile;
  } catch {
    return undefined;
  }
}

const LEVELS = { error: 0, warning: 1, info: 2, debug: 3 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface EalInitOptions {
  /** Program name, recorded in the process table (e.g. "simple_mp" or "l2fwd_fork:slave"). */
  name?: string;
  /** Handle SIGINT/SIGTERM/SIGHUP by closing and exiting (default true). */
  handleSignals?: boolean;
  /** The program runs only as the primary: a refusal then advises no --proc-type that would be refused too. */
  only?: 'primary';
}

/** How the EAL state is handed to a worker thread (lcore) of the same process. */
export interface WorkerHandoff {
  options: EalOptions;
  regionPath: string;
  procType: 'primary' | 'secondary';
  slot: number;
  lcore: number;
}

export class Eal {
  readonly options: EalOptions;
  readonly procType: 'primary' | 'secondary';
  readonly region: Region;
  readonly files: InstanceFiles;
  readonly heap: Heap;
  readonly memzones: Memzones;
  readonly processes: ProcessTable;
  readonly lcoreTable: LcoreTable;
  readonly allocLock: RobustLock;
  /** Process-table slot of this process (-1 for a read-only observer). */
  readonly slot: number;
  /** The lcore this thread runs as (the main lcore on the main thread). */
  lcoreId: number;
  /** True when this primary took over a live instance instead of initialising it. */
  readonly adopted: boolean;
  readonly isWorker: boolean;
  private configFd = -1;
  private closed = false;
  private watch: NodeJS.Timeout | undefined;
  private primaryExitHandlers: ((pid: number) => void)[] = [];
  private readonly level: number;

  private constructor(a: {
    options: EalOptions; procType: 'primary' | 'secondary'; region: Region; files: InstanceFiles; slot: number;
    lcore: number; adopted: boolean; isWorker: boolean; configFd: number;
  }) {
    this.options = a.options;
    this.procType = a.procType;
    this.region = a.region;
    this.files = a.files;
    this.slot = a.slot;
    this.lcoreId = a.lcore;
    this.adopted = a.adopted;
    this.isWorker = a.isWorker;
    this.configFd = a.configFd;
    this.heap = new Heap(a.region);
    this.allocLock = new RobustLock(a.region.i32, HDR.ALLOC_LOCK);
    this.memzones = new Memzones(a.region, this.heap, this.allocLock);
    this.processes = new ProcessTable(a.region);
    this.lcoreTable = new LcoreTable(a.region);
    this.level = LEVELS[a.options.logLevel as LogLevel] ?? LEVELS.info;
  }

  get filePrefix(): string {
    return this.options.filePrefix;
  }

  get isPrimary(): boolean {
    return this.procType === 'primary';
  }

  /** Lcores of this process other than the main one. */
  get workerLcores(): number[] {
    return this.options.lcores.filter((l) => l !== this.options.mainLcore);
  }

  log(level: LogLevel, msg: string): void {
    if (LEVELS[level] <= this.level) process.stderr.write(`EAL: ${msg}\n`);
  }

  /**
   * Initialise this process from argv (EAL options, then `--`, then the program's).
   * Returns the runtime and the program's own arguments. Throws UsageError for a bad
   * command line (exit 2) and MpdkError for a refusal (exit 1).
   */
  static init(argv: readonly string[], init: EalInitOptions = {}): { eal: Eal; args: string[] } {
    const { eal: options, appArgs } = parseEalArgs(argv);
    if (options.help) throw new UsageError(EAL_USAGE);
    const eal = Eal.start(options, init.name ?? path.basename(process.argv[1] ?? 'mpdk'), init.only);
    if (init.handleSignals !== false) eal.closeOnSignals();
    return { eal, args: appArgs };
  }

  private static start(options: EalOptions, name: string, only?: 'primary'): Eal {
    const files = instanceFiles(options.filePrefix, options.hugeDir);
    // A secondary creates nothing: not even the folder.
    if (options.procType === 'secondary') return Eal.becomeSecondary(options, files, name);
    fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    const dirStat = fs.statSync(files.dir);
    if (typeof process.getuid === 'function' && dirStat.uid !== process.getuid()) {
      throw new MpdkError('EACCES', `${files.dir} belongs to uid ${dirStat.uid}, not to you; use another --file-prefix`);
    }
    const fd = fs.openSync(files.config, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    let keepFd = false;
    try {
      if (flock(fd, LOCK_EX | LOCK_NB)) {
        const eal = Eal.becomePrimary(options, files, fd, name);
        keepFd = true;
        return eal;
      }
      if (options.procType === 'primary') {
        const holder = Eal.primaryPid(files);
        const advice = only === 'primary' ? `${name.split(':')[0]} runs only as the primary: stop that process or use another --file-prefix` : 'start this one with --proc-type=secondary or auto';
        throw new MpdkError('EBUSY', `a primary process${holder ? ` (pid ${holder})` : ''} is already running for --file-prefix=${options.filePrefix}; ${advice}`);
      }
      return Eal.becomeSecondary(options, files, name);
    } finally {
      if (!keepFd) fs.closeSync(fd);
    }
  }

  private static primaryPid(files: InstanceFiles): number {
    return readConfigFile(files.config)?.pid ?? 0;
  }

  private static becomePrimary(options: EalOptions, files: InstanceFiles, configFd: number, name: string): Eal {
    // Trap T3: never re-initialise a region while a registered process of it lives.
    let region: Region | undefined;
    let adopted = false;
    let regionPath = files.region;
    const prev = readConfigFile(files.config);
    if (prev?.region && fs.existsSync(prev.region)) regionPath = prev.region;
    if (fs.existsSync(regionPath)) {
      try {
        const old = openRegionFile(regionPath, LAYOUT_HASH, MPDK_VERSION);
        if (old.state === RegionState.READY && new ProcessTable(old).livePids().length > 0) {
          region = old;
          adopted = true;
        }
      } catch (e) {
        if (e instanceof MpdkError && e.code === 'EPROTO') {
          const pids = livePidsOfFile(regionPath);
          if (pids.length > 0) throw new MpdkError('EPROTO', `${e.message} (live pids: ${pids.join(', ')})`);
        }
        // Otherwise a stale or damaged file: re-initialise below.
      }
    }
    if (!region) {
      if (options.hugeDir) {
        if (!fs.existsSync(options.hugeDir)) throw new MpdkError('ENOENT', `--huge-dir ${options.hugeDir} does not exist; mount hugetlbfs there (mount -t hugetlbfs nodev ${options.hugeDir})`);
        if (regionPath !== files.region) tryUnlink(regionPath);
        regionPath = files.region;
      }
      region = initRegion(regionPath, options);
    }
    fs.ftruncateSync(configFd, 0);
    fs.writeSync(configFd, JSON.stringify({ pid: process.pid, region: regionPath } satisfies ConfigFile), 0);
    const eal = new Eal({
      options, procType: 'primary', region, files: { ...files, region: regionPath }, slot: -1, lcore: options.mainLcore,
      adopted, isWorker: false, configFd,
    });
    // The start time is stored before the pid (a reader that loads the new pid, then the
    // start, gets ours; pid then start is the order primaryAlive() reads them in).
    region.f64[HDR.PRIMARY_START >>> 3] = processStartTime(process.pid);
    Atomics.store(region.i32, HDR.PRIMARY_PID >>> 2, process.pid);
    eal.registerSelf(ProcKind.PRIMARY, name);
    if (adopted) {
      eal.log('info', `adopted the live instance '${options.filePrefix}' (processes ${eal.processes.livePids().join(', ')}) without re-initialising it`);
    } else {
      region.setConfig({ vdevs: options.vdevs, lcores: options.lcores, name });
      region.storeRelease(HDR.STATE, RegionState.READY);
    }
    eal.log('info', `primary: ${region.size >> 20} MiB shared region at ${regionPath} (${options.hugeDir ? 'hugetlbfs' : 'tmpfs'}), file prefix '${options.filePrefix}'`);
    return eal;
  }

  private static becomeSecondary(options: EalOptions, files: InstanceFiles, name: string): Eal {
    const noPrimary = (): MpdkError =>
      new MpdkError('ENOENT', `no primary process is running for --file-prefix=${options.filePrefix}; start the primary first (or use --proc-type=auto)`);
    const deadline = Date.now() + 5000;
    for (;;) {
      const cfg = readConfigFile(files.config);
      // A process that won the primary lock an instant ago has created the config file but
      // not yet written it (it writes after the region is ready): wait for it, bounded.
      if (!cfg && fs.existsSync(files.config) && Date.now() < deadline) {
        sleepMs(5);
        continue;
      }
      const regionPath = cfg?.region ?? files.region;
      let region: Region;
      try {
        region = openRegionFile(regionPath, LAYOUT_HASH, MPDK_VERSION);
      } catch (e) {
        if (e instanceof MpdkError && e.code === 'ENOENT') {
          // Being created right now by a primary that holds the lock? Wait, bounded.
          if (cfg && processAlive(cfg.pid, 0) && Date.now() < deadline) {
            sleepMs(5);
            continue;
          }
          throw noPrimary();
        }
        if (e instanceof MpdkError && e.code === 'EBUSY') {
          if (cfg && processAlive(cfg.pid, 0) && Date.now() < deadline) {
            sleepMs(5); // the primary has not finished writing the header
            continue;
          }
          throw noPrimary();
        }
        throw e;
      }
      const state = region.state;
      const primaryPid = Atomics.load(region.i32, HDR.PRIMARY_PID >>> 2);
      const primaryAlive = processAlive(primaryPid, region.f64[HDR.PRIMARY_START >>> 3]!);
      if (state === RegionState.INITIALIZING && primaryAlive && Date.now() < deadline) {
        sleepMs(5);
        continue;
      }
      if (state !== RegionState.READY) throw noPrimary();
      const eal = new Eal({
        options, procType: 'secondary', region, files: { ...files, region: regionPath }, slot: -1, lcore: options.mainLcore,
        adopted: false, isWorker: false, configFd: -1,
      });
      // Without a live primary, a secondary may still join a live instance (a symmetric_mp
      // restarted as secondary); with no live process at all, nobody is running it.
      if (!primaryAlive && eal.processes.livePids().length === 0) throw noPrimary();
      eal.registerSelf(ProcKind.SECONDARY, name);
      if (eal.region.state !== RegionState.READY) {
        eal.close();
        throw noPrimary();
      }
      eal.log('info', `secondary: attached to the ${region.size >> 20} MiB region of '${options.filePrefix}' (primary pid ${primaryPid}${primaryAlive ? '' : ', not running'})`);
      eal.watchPrimary();
      return eal;
    }
  }

  /** Register in the process table and claim our lcores; refuses taken lcores. */
  private registerSelf(kind: ProcKind, name: string): void {
    const slot = this.processes.register(kind, name);
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
  }

  private pinMainThread(): void {
    const cpus = onlineCpus();
    const lc = this.options.mainLcore;
    const beyond = this.options.lcores.filter((l) => !cpus.includes(l));
    if (beyond.length > 0) this.log('warning', `lcore${beyond.length > 1 ? 's' : ''} ${beyond.join(',')} beyond this machine's CPUs (${cpus.join(',')}): running unpinned`);
    if (cpus.includes(lc)) setAffinity([lc]);
  }

  /** Attach from a worker thread of a process that already ran `init`. */
  static attachWorker(h: WorkerHandoff): Eal {
    const region = openRegionFile(h.regionPath, LAYOUT_HASH, MPDK_VERSION);
    const eal = new Eal({
      options: h.options, procType: h.procType, region, files: { ...instanceFiles(h.options.filePrefix, h.options.hugeDir), region: h.regionPath },
      slot: h.slot, lcore: h.lcore, adopted: false, isWorker: true, configFd: -1,
    });
    if (onlineCpus().includes(h.lcore)) setAffinity([h.lcore]);
    return eal;
  }

  /** What a worker thread needs to attach as lcore `lcore`. */
  handoff(lcore: number): WorkerHandoff {
    return { options: this.options, regionPath: this.files.region, procType: this.procType, slot: this.slot, lcore };
  }

  /**
   * Attach read-only to instance `prefix` for tools (info, proc-info, top): no lock, no
   * registration; a write through the mapping would kill the process, so none can happen.
   */
  static observe(prefix: string, logLevel = 'warning'): Eal {
    const files = instanceFiles(prefix);
    const cfg = readConfigFile(files.config);
    const regionPath = cfg?.region ?? files.region;
    if (!fs.existsSync(regionPath)) throw new MpdkError('ENOENT', `no instance with --file-prefix=${prefix} (nothing at ${regionPath})`);
    const region = openRegionFile(regionPath, LAYOUT_HASH, MPDK_VERSION, true);
    const options = parseEalArgs(['--file-prefix', prefix, '--log-level', logLevel]).eal;
    return new Eal({ options, procType: 'secondary', region, files: { ...files, region: regionPath }, slot: -1, lcore: -1, adopted: false, isWorker: false, configFd: -1 });
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

  free(offset: number): void {
    this.memzones.withLock(() => this.heap.freeLocked(offset));
  }

  heapStats(): HeapStats {
    return this.heap.stats();
  }

  heapBlocks(): HeapBlock[] {
    return this.heap.blocks();
  }

  // --- peers ----------------------------------------------------------------------------

  /** Written last when a primary starts or adopts (see becomePrimary): load it before the start time. */
  primaryPid(): number {
    return Atomics.load(this.region.i32, HDR.PRIMARY_PID >>> 2);
  }

  primaryAlive(): boolean {
    return processAlive(this.primaryPid(), this.region.f64[HDR.PRIMARY_START >>> 3]!);
  }

  /**
   * Be told when the primary exits. Without a handler, a secondary logs the primary's
   * death and exits with status 1 (the guide's behaviour); programs that carry on
   * (symmetric_mp) register one.
   */
  onPrimaryExit(fn: (pid: number) => void): void {
    this.primaryExitHandlers.push(fn);
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
      watchDeath(pid, this.region.f64[HDR.PRIMARY_START >>> 3]!, (dead) => {
        if (this.closed) return;
        if (this.primaryExitHandlers.length === 0) {
          process.stderr.write(`EAL: the primary process (pid ${dead}) of '${this.filePrefix}' has exited; exiting too (restart this process after a new primary)\n`);
          this.close();
          process.exit(1);
        }
        for (const h of this.primaryExitHandlers) h(dead);
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

  /**
   * Leave the instance: release our lcores and slot; the last live process removes the
   * files. Idempotent; safe from an 'exit' handler (synchronous).
   */
  close(): void {
    if (this.closed || this.isWorker) {
      this.closed = true;
      return;
    }
    this.closed = true;
    if (this.watch) clearInterval(this.watch);
    if (this.slot < 0) return; // observer
    this.lcoreTable.releaseAllOf(process.pid);
    const lastOut = new RobustLock(this.region.i32, HDR.PROC_LOCK).with(() => {
      this.processes.unregister(this.slot);
      if (this.processes.livePids().length > 0) return false;
      this.region.storeRelease(HDR.STATE, RegionState.CLOSED);
      return true;
    }, { what: 'the process table' });
    if (lastOut) this.removeFiles();
    this.releasePrimaryLock();
  }

  private removeFiles(): void {
    tryUnlink(this.files.region);
    tryUnlink(this.files.config);
    try {
      fs.rmdirSync(this.files.dir);
    } catch {
      /* not empty or gone */
    }
  }

  /** Close on SIGINT/SIGTERM/SIGHUP and on normal exit. Programs may add their own first. */
  closeOnSignals(): void {
    process.once('exit', () => this.close());
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      if (process.listenerCount(sig) > 0) continue;
      process.once(sig, () => {
        this.close();
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
    }
  }
}

function initRegion(regionPath: string, options: EalOptions): Region {
  const size = options.memoryMb * 1024 * 1024;
  const r = createRegionFile(regionPath, Math.min(size, 2 ** 32 - 4096));
  const u32 = r.u32;
  const procTable = TABLES_OFFSET;
  const lcoreTable = procTable + PROC_TABLE_BYTES;
  const mzTable = lcoreTable + LCORE_TABLE_BYTES;
  const heapStart = Math.ceil((mzTable + MEMZONE_TABLE_BYTES) / 4096) * 4096;
  u32[HDR.VERSION >>> 2] = REGION_VERSION;
  u32[HDR.LAYOUT_HASH >>> 2] = LAYOUT_HASH;
  u32[HDR.SIZE >>> 2] = r.size;
  u32[HDR.GENERATION >>> 2] = (u32[HDR.GENERATION >>> 2]! + 1) >>> 0;
  r.f64[HDR.CREATED_MS >>> 3] = Date.now();
  u32[HDR.PROC_TABLE >>> 2] = procTable;
  u32[HDR.LCORE_TABLE >>> 2] = lcoreTable;
  u32[HDR.MEMZONE_TABLE >>> 2] = mzTable;
  u32[HDR.HEAP_START >>> 2] = heapStart;
  new Heap(r).format();
  r.storeRelease(HDR.STATE, RegionState.INITIALIZING);
  r.storeRelease(HDR.MAGIC, REGION_MAGIC);
  return r;
}

function livePidsOfFile(regionPath: string): number[] {
  // A region of another layout: read only the process table's pid words we know are at
  // TABLES_OFFSET in every format so far.
  try {
    const fd = fs.openSync(regionPath, 'r');
    const buf = Buffer.alloc(PROC_TABLE_BYTES);
    fs.readSync(fd, buf, 0, buf.length, TABLES_OFFSET);
    fs.closeSync(fd);
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

function tryUnlink(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch {
    /* gone */
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
export function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export function hostCpus(): number {
  return os.availableParallelism();
}
