/**
 * The instances on this host as a library API: list them (`mpdk ls`) and remove what a
 * dead one left (`mpdk cleanup`). Every file is found from the prefix (instance.ts) and
 * opened through the checked folder (safe-open.ts); "could not tell whether a process
 * lives" never lets cleanup remove anything.
 */
import { closeFd } from '../native/libc.js';
import { Eal } from './eal.js';
import { removeStaleTelemetry } from './telemetry-dir.js';
import { MpdkError } from './errors.js';
import { TEST_HOOK, hookSigstop } from './test-hook.js';
import {
  CONFIG_FILE, needHugeDir, openInstanceDir, openRuntimeBase, prefixOfDirName, readConfig, regionPlace, removeInstanceDirIfEmpty, runtimeBase,
} from './instance.js';
import { mib } from './region.js';

/** One instance as `listInstances` sees it. */
export interface InstanceSummary {
  /** The instance's name (`--file-prefix`). */
  prefix: string;
  /** live: some registered process is alive (or cannot be told dead); stale: none is, or it cannot be read. */
  state: 'live' | 'stale';
  /** Region size in bytes (absent when the region cannot be read). */
  size?: number;
  /** Pid of its primary. */
  primary?: number;
  /** Whether its primary lives. */
  primaryAlive?: boolean;
  /** Registered processes not known to be dead. */
  processes?: number;
  /** Seconds since its region was created. */
  ageSeconds?: number;
  /** Why the instance could not be read (one line). */
  error?: string;
}

/** Every instance folder in the runtime folder, sorted by prefix; never blocks on a planted file. */
export function listInstances(): InstanceSummary[] {
  const base = openRuntimeBase();
  let names: string[];
  try {
    names = base.names();
  } finally {
    base.close();
  }
  const rows: InstanceSummary[] = [];
  for (const prefix of names.map(prefixOfDirName).filter((p): p is string => p !== undefined).sort()) {
    let eal: Eal | undefined;
    try {
      eal = Eal.observe(prefix);
      const live = eal.processes.list().filter((p) => p.alive);
      rows.push({
        prefix, size: eal.region.size, primary: eal.primaryPid(), primaryAlive: eal.primaryAlive(), processes: live.length,
        ageSeconds: Math.round((Date.now() - eal.region.createdMs) / 1000), state: live.length > 0 ? 'live' : 'stale',
      });
    } catch (e) {
      rows.push({ prefix, state: 'stale', error: (e as Error).message });
    } finally {
      eal?.close();
    }
  }
  return rows;
}

/** What `cleanupInstance` removed (paths). */
export interface CleanupReport {
  /** The instance's name. */
  prefix: string;
  /** The paths removed. */
  removed: string[];
}

/**
 * Remove the files of instance `prefix` when no process of it can be alive: refused (EBUSY)
 * while its primary holds the config lock, while a registered process lives, or while
 * whether one lives cannot be told. A region whose initialisation never finished, or that
 * is damaged, is removed once the lock is ours. Refuses (EACCES) a folder that is not a
 * real folder of ours, without touching it. `hugeDir`: where the region is when the
 * instance used --huge-dir.
 */
export function cleanupInstance(prefix: string, hugeDir?: string): CleanupReport {
  const dir = openInstanceDir(prefix, false);
  if (!dir) {
    // The instance's files are gone, but processes killed after its last one left may
    // still have left telemetry sockets (the telemetry folder outlives the instance folder).
    const removed = removeStaleTelemetry(prefix);
    if (removed.length > 0) return { prefix, removed };
    throw new MpdkError('ENOENT', `no instance with --file-prefix=${prefix} in ${runtimeBase()}: nothing to clean up`);
  }
  let lockFd = -1;
  let place: ReturnType<typeof regionPlace> | undefined;
  try {
    // A live primary holds the config lock; holding it ourselves keeps a new one from
    // starting while we remove.
    lockFd = dir.openExisting(CONFIG_FILE, false, 'the config file');
    if (TEST_HOOK === 'cleanup:lock') hookSigstop('cleanup:lock'); // opened, not yet locked: the instance may end and start again here
    const lock = lockFd >= 0 ? dir.lockAt(CONFIG_FILE, lockFd) : 'locked';
    if (lock === 'held') {
      throw new MpdkError('EBUSY', `the instance '${prefix}' is live (its primary holds ${dir.pathOf(CONFIG_FILE)}); stop its processes first`);
    }
    // Removed since our open (its last process leaving): a new primary's may be beside it.
    if (lock === 'moved') {
      throw new MpdkError('EBUSY', `the instance '${prefix}' was removed and started again while this looked at it; run mpdk cleanup again if it is still there`);
    }
    const cfg = readConfig(dir);
    if (cfg?.hugetlbfs && !hugeDir) throw needHugeDir(prefix);
    place = regionPlace(prefix, dir, cfg && !cfg.hugetlbfs ? null : hugeDir);
    let eal: Eal | undefined;
    try {
      eal = Eal.observe(prefix, { logLevel: 'error', hugeDir });
    } catch (e) {
      // Absent, damaged, foreign or never finished (and its lock is ours): nobody can be
      // attached to it through this code. Refusals about ownership stand.
      if (e instanceof MpdkError && e.code === 'EACCES') throw e;
    }
    if (eal) {
      try {
        const procs = eal.processes.list();
        const alive = procs.filter((p) => p.liveness === 'alive');
        if (alive.length > 0) throw new MpdkError('EBUSY', `the instance '${prefix}' is live (processes ${alive.map((p) => p.pid).join(', ')}); stop them first`);
        const unknown = procs.filter((p) => p.liveness === 'unknown');
        if (unknown.length > 0) {
          throw new MpdkError('EBUSY', `cannot tell whether process${unknown.length > 1 ? 'es' : ''} ${unknown.map((p) => p.pid).join(', ')} of '${prefix}' still run${unknown.length > 1 ? '' : 's'}; nothing removed: try again`);
        }
      } finally {
        eal.close();
      }
    }
    const removed: string[] = [];
    if (place.dir.remove(place.name)) removed.push(place.path);
    for (const name of dir.names()) if (dir.remove(name)) removed.push(dir.pathOf(name));
    removeInstanceDirIfEmpty(prefix);
    removed.push(...removeStaleTelemetry(prefix)); // the telemetry sockets its dead processes left (telemetry-dir.ts)
    return { prefix, removed };
  } finally {
    closeFd(lockFd);
    if (place?.hugetlbfs) place.dir.close();
    dir.close();
  }
}

/** Bytes as MiB for tools (unsigned). */
export { mib };
