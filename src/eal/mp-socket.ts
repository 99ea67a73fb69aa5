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
import { closeFd, peerCred, processStartTime, seqpacketSocket, START_GONE, unixConnect } from '../native/libc.js';
import { MpdkError } from './errors.js';
import { closeIn, isAsideName, listenIn, socketPath, removeStaleSocket, type BoundSocket } from './folder-socket.js';
import { euid, type SafeDir } from './safe-open.js';

const SOCKET_RE = /^mp\.(\d+)\.(\d+)$/;
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

/** This process's listening socket. */
export class MpListener {
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly dir: SafeDir,
    private readonly socket: BoundSocket,
  ) {}

  /** The listening descriptor (non-blocking). */
  get fd(): number {
    return this.closed ? -1 : this.socket.fd;
  }

  /**
   * Listen on mp.<slot>.<pid> in the instance folder `dir`. A stale socket of ours with
   * that name (a dead process had our pid and slot) is replaced; anything else there is
   * refused (EBUSY), untouched.
   */
  static listen(dir: SafeDir, slot: number, pid: number, backlog = 64): MpListener {
    const name = mpSocketName(slot, pid);
    const s = listenIn(dir, name, backlog);
    if (!s) throw new MpdkError('EBUSY', `${dir.pathOf(name)} is taken by something that is not a stale socket of yours; mpdk leaves it alone (remove it, or use another --file-prefix)`);
    return new MpListener(name, dir, s);
  }

  /** Stop listening; remove the socket if its name still holds the one bound here. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeIn(this.dir, this.name, this.socket);
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
  const e = unixConnect(fd, socketPath(dir, mpSocketName(slot, pid)), false);
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
    // A socket left aside by a stale-socket check (folder-socket.ts): whose it was is unknown, so every cleanup tries it.
    if (isAsideName(name)) {
      if (removeStaleSocket(dir, name)) removed.push(dir.pathOf(name));
      continue;
    }
    const id = parseMpSocketName(name);
    if (!id || (typeof which === 'number' && id.pid !== which)) continue;
    if (which === 'gone' && processStartTime(id.pid) !== START_GONE) continue;
    if (removeStaleSocket(dir, name)) removed.push(dir.pathOf(name));
  }
  return removed;
}
