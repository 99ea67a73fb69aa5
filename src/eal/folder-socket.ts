/**
 * A listening SOCK_SEQPACKET socket in a checked folder (safe-open.ts): what the message
 * channel (mp-socket.ts) and the telemetry sockets (telemetry-dir.ts) share, and the stale
 * probe and the removal tied to an inode that memif's server sockets use too (memif-socket.ts).
 *
 * Every bind, connect, lstat, chmod and unlink goes through /proc/self/fd/<folder fd>/<name>,
 * so no path is walked from the top again. A name is taken when something is there; a
 * socket of ours on which nobody accepts (ECONNREFUSED: its process died) is stale, and is
 * replaced. A stale socket is removed only if the name still holds the socket probed
 * (removeIfStill: a live socket bound there since the probe stays), and a socket is removed
 * at close only if its name still holds the very socket bound here (same inode). Anything
 * else (a file, a link, another user's socket) is never touched.
 *
 * A socket moved aside for that check (`.stale-<pid>-<n>`) whose name was taken yet again
 * before it could be put back stays under its aside name: removed at once if it is a stale
 * socket of ours (the mover's own check), else (a live server's) left there, and removed by
 * the folder's next cleanup (removeStaleMp, removeStaleTelemetry: isAsideName) once it is
 * stale, by the same rules as any socket.
 */
import fs from 'node:fs';
import { closeFd, NativeError, renameNoReplace, seqpacketSocket, unixConnect, unixListen, unlinkAt } from '../native/libc.js';
import { MpdkError } from './errors.js';
import { euid, type SafeDir } from './safe-open.js';

const EADDRINUSE = 98;
const ECONNREFUSED = 111;

/** The path of `name` in `dir` through the folder's descriptor. */
export function socketPath(dir: SafeDir, name: string): string {
  return `/proc/self/fd/${dir.fd}/${name}`;
}

/** What `name` in `dir` is now, not followed (undefined: nothing). */
export function lstatIn(dir: SafeDir, name: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(socketPath(dir, name));
  } catch {
    return undefined;
  }
}

/** How the socket at `at` answers a connection: 0 (someone accepts), ECONNREFUSED (nobody: stale, its process died), another errno (cannot tell). */
export function probeSocket(at: string): number {
  const fd = seqpacketSocket();
  try {
    return unixConnect(fd, at, false);
  } finally {
    closeFd(fd);
  }
}

let asides = 0;
/** Test hook (MPDK_TEST_HOOK=folder-socket:aside): removeIfStill holds its window (the name moved aside) this long, so a test's other process surely takes the name in it. */
const HOOK_PAUSE_MS = 200;
const HOOK_PAUSE = new Int32Array(new SharedArrayBuffer(4));
const ASIDE_RE = /^\.stale-\d+-\d+$/;

/** Is `name` one removeIfStill moves a socket aside to (`.stale-<pid>-<n>`)? A folder's cleanup takes these too. */
export function isAsideName(name: string): boolean {
  return ASIDE_RE.test(name);
}

/**
 * Remove `name` from the folder open as `dirfd` only if it still is the stale socket probed
 * (`tested`: its device and inode). No call unlinks by inode, so the name is moved aside
 * first, to a name of this process (renameat2 RENAME_NOREPLACE), and what was moved is
 * checked: the same inode, and still refusing connections (an inode number freed and reused
 * by a new server's socket is told apart so), is removed; anything else (bound there since
 * the probe: a live server's) is put back. Should its name have been taken yet again
 * meanwhile, it stays under the aside name, and is removed now only if it is a stale socket of
 * ours by the same test as any (removeStaleAt). True when the socket probed was removed.
 */
export function removeIfStill(dirfd: number, name: string, tested: { dev: number; ino: number }): boolean {
  const aside = `.stale-${process.pid}-${++asides}`;
  if (renameNoReplace(dirfd, name, aside) !== 0) return false; // gone meanwhile
  if (process.env.MPDK_TEST_HOOK === 'folder-socket:aside') Atomics.wait(HOOK_PAUSE, 0, 0, HOOK_PAUSE_MS);
  const at = `/proc/self/fd/${dirfd}/${aside}`;
  let same = false;
  try {
    const st = fs.lstatSync(at);
    same = st.isSocket() && st.dev === tested.dev && st.ino === tested.ino && probeSocket(at) === ECONNREFUSED;
  } catch {
    same = false; // cannot tell: put back
  }
  if (same) return unlinkAt(dirfd, aside) === 0;
  if (renameNoReplace(dirfd, aside, name) !== 0) removeStaleAt(dirfd, aside);
  return false;
}

/**
 * Remove `name` from the folder open as `dirfd` if it is a socket of ours on which nobody
 * accepts, and only that very socket (removeIfStill). Not followed: a link, a file or another
 * user's socket is left alone. True when it was removed.
 */
function removeStaleAt(dirfd: number, name: string): boolean {
  const at = `/proc/self/fd/${dirfd}/${name}`;
  let st: fs.Stats;
  try {
    st = fs.lstatSync(at);
  } catch {
    return false;
  }
  if (!st.isSocket() || st.uid !== euid()) return false;
  return probeSocket(at) === ECONNREFUSED && removeIfStill(dirfd, name, st);
}

/** Remove `name` from `dir` if it is a socket of ours on which nobody accepts (its process died), and only that very socket. True when it was removed. */
export function removeStaleSocket(dir: SafeDir, name: string): boolean {
  return removeStaleAt(dir.fd, name);
}

/** A socket bound and listened on here: its descriptor (non-blocking) and its inode. */
export interface BoundSocket {
  fd: number;
  ino: number;
}

/**
 * Listen on `name` in `dir`, mode 0600; a stale socket of ours there is replaced. null when
 * the name is taken by anything else (left untouched). MpdkError EACCES when it cannot listen.
 */
export function listenIn(dir: SafeDir, name: string, backlog: number): BoundSocket | null {
  const fd = seqpacketSocket();
  const at = socketPath(dir, name);
  try {
    let bound = tryBind(fd, at, backlog);
    if (!bound && removeStaleSocket(dir, name)) bound = tryBind(fd, at, backlog);
    if (!bound) {
      closeFd(fd);
      return null;
    }
    fs.chmodSync(at, 0o600);
    return { fd, ino: lstatIn(dir, name)?.ino ?? -1 };
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/** Close a socket `listenIn` bound; remove its name if it still holds that socket. */
export function closeIn(dir: SafeDir, name: string, s: BoundSocket): void {
  closeFd(s.fd);
  const st = lstatIn(dir, name);
  if (st && st.isSocket() && st.ino === s.ino) dir.remove(name);
}

/** bind + listen; false when the name is taken (EADDRINUSE). */
function tryBind(fd: number, at: string, backlog: number): boolean {
  try {
    unixListen(fd, at, false, backlog);
    return true;
  } catch (e) {
    if (e instanceof NativeError && e.errno === EADDRINUSE) return false;
    throw new MpdkError('EACCES', `cannot listen on ${at}: ${(e as Error).message}`);
  }
}
