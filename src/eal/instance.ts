/**
 * Where the files of instance P are, written once: every name derives from the prefix and
 * the command line (--huge-dir), never from a file.
 *
 *   $MPDK_RUNTIME_DIR/mpdk.P/        (default /dev/shm/mpdk.P): a real folder, owned by the
 *                                    effective uid, mode 0700, or mpdk refuses it
 *     config    0600; the primary holds an exclusive flock on it for its whole life; it
 *               holds {"pid", "hugetlbfs"} as JSON for tools (no path)
 *     region    0600; the shared region, or <huge-dir>/mpdk.P.region with --huge-dir
 *
 * Every file is opened through the folder's descriptor (safe-open.ts).
 */
import path from 'node:path';
import { MpdkError } from './errors.js';
import { readAllAndClose, SafeDir } from './safe-open.js';

export const CONFIG_FILE = 'config';
export const REGION_FILE = 'region';

/** The folder that holds every instance folder: $MPDK_RUNTIME_DIR, default /dev/shm. */
export function runtimeBase(): string {
  return process.env.MPDK_RUNTIME_DIR ?? '/dev/shm';
}

/** Name of instance P's folder in the runtime folder. */
export function instanceDirName(prefix: string): string {
  return `mpdk.${prefix}`;
}

/** The prefix an instance folder name stands for, or undefined for another name. */
export function prefixOfDirName(name: string): string | undefined {
  return name.startsWith('mpdk.') && name.length > 5 ? name.slice(5) : undefined;
}

/** Paths of instance P's files, for messages (the files are opened through SafeDir). */
export interface InstanceFiles {
  dir: string;
  config: string;
  region: string;
}

/**
 * The paths of instance `prefix`'s folder, config file and region (in `hugeDir` when given):
 * `/dev/shm/mpdk.PREFIX/...` unless `MPDK_RUNTIME_DIR` moves the `/dev/shm` part. Paths only: nothing is opened.
 */
export function instanceFiles(prefix: string, hugeDir?: string): InstanceFiles {
  const dir = path.join(runtimeBase(), instanceDirName(prefix));
  return { dir, config: path.join(dir, CONFIG_FILE), region: hugeDir ? path.join(hugeDir, hugeRegionName(prefix)) : path.join(dir, REGION_FILE) };
}

/** The region's name in --huge-dir. */
export function hugeRegionName(prefix: string): string {
  return `mpdk.${prefix}.region`;
}

function wayOut(prefix: string): string {
  return `use another --file-prefix than '${prefix}'`;
}

/** The runtime folder, opened (links in its path are the operator's choice). */
export function openRuntimeBase(): SafeDir {
  return SafeDir.openGiven(runtimeBase(), 'the runtime folder', 'create it, or set MPDK_RUNTIME_DIR to a folder that exists');
}

/**
 * Instance P's folder, checked (a real folder of ours, 0700) and open; made first when
 * `create`. Null when it does not exist and `create` is false.
 */
export function openInstanceDir(prefix: string, create: boolean): SafeDir | null {
  const base = openRuntimeBase();
  try {
    return base.openOwnDir(instanceDirName(prefix), create, wayOut(prefix));
  } finally {
    base.close();
  }
}

/** Remove instance P's folder if it is empty (never following a link). */
export function removeInstanceDirIfEmpty(prefix: string): void {
  let base: SafeDir;
  try {
    base = openRuntimeBase();
  } catch {
    return;
  }
  try {
    base.removeEmptyDir(instanceDirName(prefix));
  } finally {
    base.close();
  }
}

/** Where the region of an instance is: a folder (open) and a name in it. */
export interface RegionPlace {
  dir: SafeDir;
  name: string;
  path: string;
  hugetlbfs: boolean;
}

/** --huge-dir DIR, opened (it must exist: checked before anything is made). */
export function openHugeDir(hugeDir: string): SafeDir {
  return SafeDir.openGiven(hugeDir, '--huge-dir', `mount hugetlbfs there (mount -t hugetlbfs nodev ${hugeDir})`);
}

/** The region's place: in the instance folder, or in --huge-dir (given open, or by path). */
export function regionPlace(prefix: string, instDir: SafeDir, huge: SafeDir | string | null | undefined): RegionPlace {
  if (!huge) return { dir: instDir, name: REGION_FILE, path: instDir.pathOf(REGION_FILE), hugetlbfs: false };
  const dir = typeof huge === 'string' ? openHugeDir(huge) : huge;
  const name = hugeRegionName(prefix);
  return { dir, name, path: dir.pathOf(name), hugetlbfs: true };
}

/** What the primary writes into config for tools: no path, ever. */
export interface ConfigFile {
  pid: number;
  /** The region is in --huge-dir (tools must be given the same --huge-dir). */
  hugetlbfs: boolean;
}

/** The config file's contents, or undefined (absent, empty, being written, not JSON). */
export function readConfig(dir: SafeDir): ConfigFile | undefined {
  const fd = dir.openExisting(CONFIG_FILE, false, 'the config file');
  if (fd < 0) return undefined;
  try {
    const v = JSON.parse(readAllAndClose(fd, 4096)) as Partial<ConfigFile>;
    return { pid: Number.isInteger(v.pid) && v.pid! > 0 ? v.pid! : 0, hugetlbfs: v.hugetlbfs === true };
  } catch {
    return undefined;
  }
}

/** A tool's refusal when the region is on hugetlbfs and it was not told where. */
export function needHugeDir(prefix: string): MpdkError {
  return new MpdkError('ENOENT', `the region of '${prefix}' is on hugetlbfs (--huge-dir); give the same --huge-dir DIR to this command`);
}
