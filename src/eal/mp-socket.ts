/**
 * Where the message channel's sockets are (mp.ts): in the instance folder itself, which is
 * a real folder of the user's, mode 0700 (safe-open.ts), so no other user reaches them:
 *
 *   $MPDK_RUNTIME_DIR/mpdk.P/
 *     mp.<slot>.<pid>     0600, SOCK_SEQPACKET, listened on by the process registered in
 *                         process-table slot <slot> with pid <pid> (both from the table,
 *                         so a peer's socket is found without reading any path from a file)
 *
 * A socket is bound and connected at /proc/self/fd/<folder fd>/<name>, so no path is walked
 * from the top again. A peer's identity is checked twice: the name comes from the process
 * table, and SO_PEERCRED of the connection must give that pid and our uid (a socket left by
 * a dead process, or anything else, is refused).
 *
 * Removal, never of what is not ours: a process removes its own socket when it leaves, only
 * if the name still holds the very socket it bound (same inode). A socket of a dead process
 * (a socket of ours, named mp.<slot>.<pid>, on which nobody accepts: ECONNREFUSED) is stale:
 * it is replaced when a process with that name starts, removed by the last process to leave
 * and by `mpdk cleanup`, and removed by a process that sees its owner die (mp.ts). Anything
 * else with such a name (a file, a link, another user's) is never touched.
 */
import fs from 'node:fs';
import { closeFd, NativeError, peerCred, processStartTime, seqpacketSocket, START_GONE, unixConnect, unixListen } from '../native/libc.js';
import { MpdkError } from './errors.js';
import { euid, type SafeDir } from './safe-open.js';

const SOCKET_RE = /^mp\.(\d+)\.(\d+)$/;
const EADDRINUSE = 98;
const ECONNREFUSED = 111;

/** The socket name of the process in `slot` with `pid`. */
export function mpSocketName(slot: number, pid: number): string {
  return `mp.${slot}.${pid}`;
}

/** The slot and pid a socket name stands for, or undefined for another name. */
export function parseMpSocketName(name: string): { slot: number; pid: number } | undefined {
  const m = SOCKET_RE.exec(name);
  return m ? { slot: Number(m[1]), pid: Number(m[2]) } : undefined;
}

function at(dir: SafeDir, name: string): string {
  return `/proc/self/fd/${dir.fd}/${name}`;
}

function statAt(dir: SafeDir, name: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(at(dir, name));
  } catch {
    return undefined;
  }
}

/** A socket of ours on which nobody accepts (its process died, or is gone). */
export function staleMpSocket(dir: SafeDir, name: string): boolean {
  const st = statAt(dir, name);
  if (!st || !st.isSocket() || st.uid !== euid()) return false;
  const fd = seqpacketSocket();
  try {
    return unixConnect(fd, at(dir, name), false) === ECONNREFUSED;
  } finally {
    closeFd(fd);
  }
}

/** This process's listening socket. */
export class MpListener {
  private constructor(
    /** The listening descriptor (non-blocking). */
    readonly fd: number,
    readonly name: string,
    private readonly dir: SafeDir,
    private readonly ino: number,
  ) {}

  /**
   * Listen on mp.<slot>.<pid> in the instance folder `dir`. A stale socket of ours with
   * that name (a dead process had our pid and slot) is replaced; anything else there is
   * refused (EBUSY), untouched.
   */
  static listen(dir: SafeDir, slot: number, pid: number, backlog = 64): MpListener {
    const name = mpSocketName(slot, pid);
    const fd = seqpacketSocket();
    try {
      let bound = tryBind(fd, at(dir, name), backlog);
      if (!bound && staleMpSocket(dir, name)) {
        dir.remove(name);
        bound = tryBind(fd, at(dir, name), backlog);
      }
      if (!bound) throw new MpdkError('EBUSY', `${dir.pathOf(name)} is taken by something that is not a stale socket of yours; mpdk leaves it alone (remove it, or use another --file-prefix)`);
      fs.chmodSync(at(dir, name), 0o600);
      return new MpListener(fd, name, dir, statAt(dir, name)?.ino ?? -1);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /** Stop listening; remove the socket if its name still holds the one bound here. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    closeFd(this.fd);
    (this as { fd: number }).fd = -1;
    const st = statAt(this.dir, this.name);
    if (st && st.isSocket() && st.ino === this.ino) this.dir.remove(this.name);
  }
}

function tryBind(fd: number, path: string, backlog: number): boolean {
  try {
    unixListen(fd, path, false, backlog);
    return true;
  } catch (e) {
    if (e instanceof NativeError && e.errno === EADDRINUSE) return false;
    throw new MpdkError('EACCES', `cannot listen on ${path}: ${(e as Error).message}`);
  }
}

/** How a connection attempt ended. */
export type ConnectResult = { fd: number } | { errno: number; why: string };

/**
 * Connect (non-blocking) to the socket of the process in `slot` with `pid`, and check that
 * the process listening there is that pid and runs as our uid. Returns the descriptor, or
 * an errno (ENOENT: no socket; ECONNREFUSED: nobody accepts; EAGAIN: its backlog is full;
 * EACCES: another process or user is behind it) and why.
 */
export function connectMp(dir: SafeDir, slot: number, pid: number): ConnectResult {
  const fd = seqpacketSocket();
  const e = unixConnect(fd, at(dir, mpSocketName(slot, pid)), false);
  if (e !== 0) {
    closeFd(fd);
    return { errno: e, why: e === 2 ? 'it has no message channel' : e === ECONNREFUSED ? 'nobody accepts on its socket' : e === 11 ? 'its connection backlog is full' : `connect failed (errno ${e})` };
  }
  const cred = peerCred(fd);
  if (!cred || cred.pid !== pid || cred.uid !== euid()) {
    closeFd(fd);
    return { errno: 13, why: cred ? `its socket is held by pid ${cred.pid} uid ${cred.uid}` : 'its credentials cannot be read' };
  }
  return { fd };
}

/**
 * Remove the stale sockets of folder `dir` (sockets of ours on which nobody accepts), and
 * return their paths. `which`: every one (the last process out; nobody listens any more);
 * 'gone', only those whose pid names no process (a live process's socket is not even tried,
 * so it sees no stray connection); a pid, only that process's (it died).
 */
export function removeStaleMp(dir: SafeDir, which: 'all' | 'gone' | number = 'all'): string[] {
  const removed: string[] = [];
  for (const name of dir.names()) {
    const id = parseMpSocketName(name);
    if (!id || (typeof which === 'number' && id.pid !== which)) continue;
    if (which === 'gone' && processStartTime(id.pid) !== START_GONE) continue;
    if (staleMpSocket(dir, name) && dir.remove(name)) removed.push(dir.pathOf(name));
  }
  return removed;
}
