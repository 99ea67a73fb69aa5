/**
 * A memif server's socket file (socket-abstract=no): what may already be at the path, and
 * what this process may remove. mpdk removes nothing but a socket of its own user that
 * nobody listens on (left by a server that died), and at stop the very socket it bound.
 *
 *   found at PATH (lstat: a link is never followed)        start
 *   nothing                                                 bind
 *   anything but a socket (file, directory, link, FIFO)     refused, untouched
 *   a socket of another uid                                 refused, untouched
 *   a socket of ours that accepts a connection              refused (another server)
 *   a socket of ours refusing connections (ECONNREFUSED)    removed, then bind
 *   a socket of ours, any other answer                      refused (cannot tell)
 *   ... in a directory other users may rename entries in    refused (see below)
 *
 * Why the directory matters: between the lstat and the unlink another user who can write
 * the directory (without the sticky bit) could put something else at PATH, so a stale
 * socket there is left for the operator to remove. In a sticky directory (/tmp) or one
 * only we write, nobody else can replace our socket's entry.
 * The probe and the removal are folder-socket.ts's: a stale socket is removed only if PATH
 * still holds the socket probed (a server that bound PATH since keeps it). Removal at stop
 * compares device and inode with what bind created, so a file put at PATH since is left alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MpdkError } from '../../eal/errors.js';
import { probeSocket, removeIfStill } from '../../eal/folder-socket.js';

const ECONNREFUSED = 111;

/** The identity of the socket file a server bound (device, inode). */
export interface BoundSocket {
  dev: number;
  ino: number;
}

function kindOf(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'something that is not a socket';
}

function lstatOrNone(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MpdkError('EACCES', `memif socket=${p}: cannot look at the path (${(e as Error).message}); choose another socket path`);
  }
}

/**
 * Make PATH free for a server's bind: nothing there, or a stale socket of ours removed.
 * Throws (one line, nothing changed) for anything else; see the table above.
 */
export function claimSocketPath(p: string): void {
  const st = lstatOrNone(p);
  if (!st) return;
  const uid = process.geteuid?.() ?? -1;
  if (!st.isSocket()) {
    throw new MpdkError('EEXIST', `memif socket=${p}: ${kindOf(st)} is there, not a socket (mpdk removes only a stale socket of its own): remove it or choose another socket path`);
  }
  if (st.uid !== uid) {
    throw new MpdkError('EEXIST', `memif socket=${p}: a socket of uid ${st.uid} is there, not of this user (uid ${uid}); left alone: choose another socket path, or have its owner remove it`);
  }
  const e = probeSocket(p);
  if (e === 0) throw new MpdkError('EBUSY', `memif socket=${p}: another server is listening on it; stop it or choose another socket path`);
  if (e !== ECONNREFUSED) throw new MpdkError('EBUSY', `memif socket=${p}: a socket of ours is there and it cannot be told whether a server uses it (connect: errno ${e}); remove it if no server runs, or choose another socket path`);
  const dir = path.dirname(p);
  const ds = fs.statSync(dir);
  if ((ds.mode & 0o022) !== 0 && (ds.mode & 0o1000) === 0) {
    throw new MpdkError('EEXIST', `memif socket=${p}: a stale socket is there, but ${dir} lets other users replace it (mode ${(ds.mode & 0o7777).toString(8)}, no sticky bit), so mpdk does not remove it: remove it yourself or choose another directory`);
  }
  const dfd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  let removed: boolean;
  try {
    removed = removeIfStill(dfd, path.basename(p), st);
  } finally {
    fs.closeSync(dfd);
  }
  if (!removed && lstatOrNone(p)) throw new MpdkError('EBUSY', `memif socket=${p}: the stale socket there was replaced while it was checked (another server started?); left alone: try again, or choose another socket path`);
}

/** What bind created at PATH (undefined if it cannot be seen: then nothing is removed at stop). */
export function boundSocket(p: string): BoundSocket | undefined {
  const st = lstatOrNone(p);
  return st && st.isSocket() ? { dev: st.dev, ino: st.ino } : undefined;
}

/** Remove PATH if it is still the socket this server bound. */
export function removeBoundSocket(p: string, b: BoundSocket | undefined): void {
  if (!b) return;
  let st: fs.Stats | undefined;
  try {
    st = lstatOrNone(p);
  } catch {
    return;
  }
  if (!st || !st.isSocket() || st.dev !== b.dev || st.ino !== b.ino) return;
  try {
    fs.unlinkSync(p);
  } catch {
    /* gone already */
  }
}
