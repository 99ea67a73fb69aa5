/**
 * A listening SOCK_SEQPACKET socket in a checked folder (safe-open.ts): what the message
 * channel (mp-socket.ts) and the telemetry sockets (telemetry-dir.ts) share.
 *
 * Every bind, connect, lstat, chmod and unlink goes through /proc/self/fd/<folder fd>/<name>,
 * so no path is walked from the top again. A name is taken when something is there; a
 * socket of ours on which nobody accepts (ECONNREFUSED: its process died) is stale, and is
 * replaced. A socket is removed at close only if its name still holds the very socket bound
 * here (same inode). Anything else (a file, a link, another user's socket) is never touched.
 */
import fs from 'node:fs';
import { closeFd, NativeError, seqpacketSocket, unixConnect, unixListen } from '../native/libc.js';
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

/** A socket of ours in `dir` on which nobody accepts (its process died). */
export function staleSocket(dir: SafeDir, name: string): boolean {
  const st = lstatIn(dir, name);
  if (!st || !st.isSocket() || st.uid !== euid()) return false;
  const fd = seqpacketSocket();
  try {
    return unixConnect(fd, socketPath(dir, name), false) === ECONNREFUSED;
  } finally {
    closeFd(fd);
  }
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
    if (!bound && staleSocket(dir, name)) {
      dir.remove(name);
      bound = tryBind(fd, at, backlog);
    }
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
