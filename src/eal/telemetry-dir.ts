/**
 * Where an instance's telemetry sockets are: where DPDK's clients look for them
 * (dpdk-telemetry.py's get_dpdk_runtime_dir, which is DPDK's eal_create_runtime_dir):
 *
 *   $RUNTIME_DIRECTORY, else /var/run (real uid 0), else $XDG_RUNTIME_DIR, else /tmp
 *     dpdk/                      0700, the user's (DPDK's own, shared with DPDK applications)
 *       PREFIX/                  0700, the user's: one folder per --file-prefix
 *         dpdk_telemetry.v2      socket of the first process to start (`dpdk-telemetry.py -f PREFIX`)
 *         dpdk_telemetry.v2:1    the next one, and so on (`dpdk-telemetry.py -f PREFIX -i 1`)
 *
 * The two folders are held to the instance folder's rules (safe-open.ts): real folders
 * (never a link), owned by the effective uid, mode 0700 (made so when absent); everything
 * in them is reached through their descriptors. A socket is bound at
 * /proc/self/fd/<folder fd>/<name>, so no path is walked again from the top. A name is
 * taken when something is there: a live socket (a connect succeeds), anything that is not
 * a socket of ours (never removed); a socket of ours nobody accepts on (ECONNREFUSED: its
 * process died) is stale, and is replaced as DPDK does. At exit a process removes its
 * socket only if the name still holds the very file it bound (same inode), then the
 * PREFIX folder if it is empty; `mpdk cleanup` removes stale sockets of ours.
 */
import path from 'node:path';
import { MpdkError } from './errors.js';
import { closeIn, isAsideName, listenIn, removeStaleSocket, type BoundSocket } from './folder-socket.js';
import { SafeDir } from './safe-open.js';

/** DPDK's telemetry v2 socket name (dpdk-telemetry.py SOCKET_NAME). */
export const TELEMETRY_SOCKET = 'dpdk_telemetry.v2';
/** The highest suffix tried (`:N`): more processes than this per instance serve no telemetry. */
export const TELEMETRY_MAX_SUFFIX = 127;
const SOCKET_NAME_RE = /^dpdk_telemetry\.v2(:\d+)?$/;

/** The folder holding every prefix's telemetry folder, as DPDK computes it. */
export function telemetryBase(): string {
  const run = process.env.RUNTIME_DIRECTORY || (process.getuid?.() === 0 ? '/var/run' : process.env.XDG_RUNTIME_DIR || '/tmp');
  return path.join(run, 'dpdk');
}

/** Instance `prefix`'s telemetry folder (dpdk-telemetry.py -f PREFIX looks there). */
export function telemetryDir(prefix: string): string {
  return path.join(telemetryBase(), prefix);
}

/** The socket name of the n-th process (0: no suffix). */
export function telemetrySocketName(n: number): string {
  return n === 0 ? TELEMETRY_SOCKET : `${TELEMETRY_SOCKET}:${n}`;
}

function wayOut(): string {
  return 'start with --no-telemetry, or point RUNTIME_DIRECTORY (or XDG_RUNTIME_DIR) at a folder of yours';
}

/** The `dpdk` folder and the prefix folder, checked and open (made when `create`); null when absent. */
function openDirs(prefix: string, create: boolean): { top: SafeDir; dir: SafeDir } | null {
  const runDir = path.dirname(telemetryBase());
  const base = SafeDir.openGiven(runDir, 'the runtime folder', wayOut());
  let top: SafeDir | null = null;
  try {
    top = base.openOwnDir('dpdk', create, wayOut());
    if (!top) return null;
    const dir = top.openOwnDir(prefix, create, wayOut());
    if (!dir) {
      top.close();
      return null;
    }
    return { top, dir };
  } catch (e) {
    top?.close();
    throw e;
  } finally {
    base.close();
  }
}

/** A listening telemetry socket of this process. */
export class TelemetryListener {
  private closed = false;

  private constructor(
    private readonly socket: BoundSocket,
    /** Its path, for messages and clients. */
    readonly path: string,
    private readonly top: SafeDir,
    private readonly dir: SafeDir,
    private readonly name: string,
  ) {}

  /** The listening descriptor (non-blocking). */
  get fd(): number {
    return this.closed ? -1 : this.socket.fd;
  }

  /**
   * Listen on the first free name of instance `prefix`'s telemetry folder (made when
   * absent). MpdkError (EACCES, EBUSY...) saying why when no socket can be served.
   */
  static listen(prefix: string, backlog = 4): TelemetryListener {
    const dirs = openDirs(prefix, true)!;
    try {
      for (let n = 0; n <= TELEMETRY_MAX_SUFFIX; n++) {
        const name = telemetrySocketName(n);
        const s = listenIn(dirs.dir, name, backlog); // a stale one of ours is replaced, as DPDK does
        if (s) return new TelemetryListener(s, dirs.dir.pathOf(name), dirs.top, dirs.dir, name);
      }
      throw new MpdkError('EBUSY', `every telemetry socket name of ${dirs.dir.path} is taken (${TELEMETRY_SOCKET} to :${TELEMETRY_MAX_SUFFIX})`);
    } catch (e) {
      dirs.dir.close();
      dirs.top.close();
      throw e;
    }
  }

  /** Stop listening; remove the socket if its name still holds the one bound here, then the folder if empty. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeIn(this.dir, this.name, this.socket);
    this.dir.close();
    this.top.removeEmptyDir(path.basename(this.dir.path));
    this.top.close();
  }
}

/**
 * Remove instance `prefix`'s stale telemetry sockets (sockets of ours nobody accepts on: their
 * processes died), then its telemetry folder if empty. Nothing else is touched. Returns the
 * paths removed.
 */
export function removeStaleTelemetry(prefix: string): string[] {
  let dirs: { top: SafeDir; dir: SafeDir } | null;
  try {
    dirs = openDirs(prefix, false);
  } catch {
    return []; // not ours, or not a folder: nothing of ours to remove
  }
  if (!dirs) return [];
  const removed: string[] = [];
  try {
    for (const name of dirs.dir.names()) {
      // Ours by name, or left aside by a stale-socket check (folder-socket.ts isAsideName).
      if ((SOCKET_NAME_RE.test(name) || isAsideName(name)) && removeStaleSocket(dirs.dir, name)) removed.push(dirs.dir.pathOf(name));
    }
  } finally {
    dirs.dir.close();
    dirs.top.removeEmptyDir(prefix);
    dirs.top.close();
  }
  return removed;
}
