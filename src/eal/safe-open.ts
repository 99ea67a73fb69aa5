/**
 * Folders and files that another user cannot redirect.
 *
 * /dev/shm (and any runtime folder) may be writable by every local user. A path walked
 * again for each call can be switched between two calls, and a name may hold a link, a
 * FIFO or a device planted by someone else. So:
 * - a folder is opened once (O_DIRECTORY|O_NOFOLLOW), checked through its descriptor
 *   (fstat: a real folder, owned by the effective uid, mode 0700 where mpdk owns it) and
 *   used through that descriptor only;
 * - a file is opened relative to that descriptor with O_NOFOLLOW (a link is refused, never
 *   followed) and O_NONBLOCK (a FIFO cannot block the open), then checked with fstat: a
 *   regular file of ours, or refused at once;
 * - a file mpdk creates is created with O_EXCL: it never writes into something that was
 *   already there;
 * - removal is unlinkat on the name (a link is removed, never followed).
 * Nothing here reads a path from a file: callers derive every name from the prefix and
 * the command line.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  closeFd, errnoName, flock, LOCK_EX, LOCK_NB, mkdirAt, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, openAt, unlinkAt,
} from '../native/libc.js';
import { MpdkError } from './errors.js';

/** The effective uid (root: 0). */
export function euid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : 0;
}

/** What an fstat/lstat shows, as a person says it: "a symbolic link", "a FIFO", ... */
export function kindOf(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'a regular file';
}

/** For a refusal message only (never for a decision): what is at `p` now, without following it. */
function describeAt(p: string): string {
  try {
    const st = fs.lstatSync(p);
    let what = kindOf(st);
    if (st.isSymbolicLink()) {
      try {
        what += ` to ${fs.readlinkSync(p)}`;
      } catch {
        /* gone meanwhile */
      }
    }
    return st.uid === euid() ? what : `${what} owned by uid ${st.uid}`;
  } catch {
    return 'something that is not a folder';
  }
}

/** A folder opened once and checked; every file of it is opened through `fd`. */
export class SafeDir {
  private constructor(readonly fd: number, readonly path: string) {}

  /**
   * Open folder `dir` that this user provides (the runtime base, --huge-dir): links in
   * the path are the operator's choice, so they are followed; it must be a folder.
   */
  static openGiven(dir: string, what: string, hint: string): SafeDir {
    let fd: number;
    try {
      fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new MpdkError('ENOENT', `${what} ${dir} does not exist; ${hint}`);
      throw new MpdkError('EACCES', `cannot open ${what} ${dir}: ${code === 'ENOTDIR' ? 'not a folder' : code}; ${hint}`);
    }
    return new SafeDir(fd, dir);
  }

  /**
   * Open (and with `create`, make) the folder `name` inside this one, mpdk's own: it must be
   * a real folder (not a link), owned by the effective uid, mode 0700, or this refuses,
   * naming what it found and the way out. Returns null when it does not exist and `create`
   * is false.
   */
  openOwnDir(name: string, create: boolean, wayOut: string): SafeDir | null {
    const full = path.join(this.path, name);
    if (create) {
      const r = mkdirAt(this.fd, name, 0o700);
      if (r < 0 && r !== -17 /* EEXIST */) throw new MpdkError('EACCES', `cannot create ${full}: ${errnoName(-r)}`);
    }
    const fd = openAt(this.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
    if (fd === -2 /* ENOENT */) return null;
    if (fd < 0) {
      if (fd === -40 /* ELOOP */ || fd === -20 /* ENOTDIR */) {
        throw new MpdkError('EACCES', `${full} is ${describeAt(full)}, not a folder of yours: mpdk will not use it; ${wayOut}`);
      }
      throw new MpdkError('EACCES', `cannot open ${full}: ${errnoName(-fd)}; ${wayOut}`);
    }
    const st = fs.fstatSync(fd);
    const me = euid();
    if (st.uid !== me) {
      closeFd(fd);
      throw new MpdkError('EACCES', `${full} belongs to uid ${st.uid}, not to you (uid ${me}): another user made it first; ${wayOut}, or have uid ${st.uid} (or root) remove it`);
    }
    if ((st.mode & 0o777) !== 0o700) {
      closeFd(fd);
      throw new MpdkError('EACCES', `${full} has mode 0${(st.mode & 0o777).toString(8)}, not 0700: others may have put files in it, so mpdk will not use it; ${wayOut}, or remove it (rm -r ${full})`);
    }
    return new SafeDir(fd, full);
  }

  /** Full path of `name` in this folder, for messages. */
  pathOf(name: string): string {
    return path.join(this.path, name);
  }

  /**
   * Open an existing file `name` of this folder that must be a regular file of ours (a
   * link, FIFO, device or folder is refused at once; nothing ever blocks). Returns the fd,
   * or -1 when there is no such file.
   */
  openExisting(name: string, write: boolean, what: string): number {
    const full = this.pathOf(name);
    const fd = openAt(this.fd, name, (write ? O_RDWR : O_RDONLY) | O_NONBLOCK);
    if (fd === -2) return -1;
    if (fd < 0) {
      if (fd === -40 || fd === -21 /* EISDIR */ || fd === -6 /* ENXIO: a socket */) throw new MpdkError('EINVAL', `${what} ${full} is ${describeAt(full)}, not a regular file; remove it with mpdk cleanup`);
      throw new MpdkError('EACCES', `cannot open ${what} ${full}: ${errnoName(-fd)}`);
    }
    try {
      this.checkRegular(fd, full, what);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    return fd;
  }

  /** Create `name` exclusively (O_EXCL, mode 0600): -1 when something already has that name. */
  createExclusive(name: string, what: string): number {
    const fd = openAt(this.fd, name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0o600);
    if (fd === -17) return -1;
    if (fd === -2) throw new MpdkError('ENOENT', `cannot create ${what} ${this.pathOf(name)}: its folder was removed`);
    if (fd < 0) throw new MpdkError('EACCES', `cannot create ${what} ${this.pathOf(name)}: ${errnoName(-fd)}`);
    return fd;
  }

  private checkRegular(fd: number, full: string, what: string): void {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new MpdkError('EINVAL', `${what} ${full} is ${kindOf(st)}, not a regular file; remove it with mpdk cleanup`);
    if (st.uid !== euid()) throw new MpdkError('EACCES', `${what} ${full} belongs to uid ${st.uid}, not to you (uid ${euid()}); use your own --file-prefix`);
  }

  /** Remove `name` (never following it). True when it was there. */
  remove(name: string): boolean {
    const r = unlinkAt(this.fd, name, false);
    if (r === -21 /* EISDIR */) return this.removeTree(name);
    return r === 0;
  }

  /** Remove folder `name` and everything in it, through descriptors (no link is followed). */
  removeTree(name: string): boolean {
    const fd = openAt(this.fd, name, O_RDONLY | O_DIRECTORY | O_NONBLOCK);
    if (fd < 0) return unlinkAt(this.fd, name, false) === 0;
    const sub = new SafeDir(fd, this.pathOf(name));
    try {
      for (const e of sub.names()) sub.remove(e);
    } finally {
      sub.close();
    }
    return unlinkAt(this.fd, name, true) === 0;
  }

  /**
   * Take the exclusive flock of the file open as `fd` (opened by `name` in this folder)
   * without waiting: 'locked' when it is ours and `name` still names that file (same device
   * and inode, the name not followed); 'held' when another process holds it; 'moved' when
   * the file was removed or replaced at its name since the open: a lock on it would be the
   * lock of nothing the next process takes, and a new file may be locked at the name this
   * instant. The caller closes `fd` (which drops the lock) on anything but 'locked'.
   */
  lockAt(name: string, fd: number): 'locked' | 'held' | 'moved' {
    if (!flock(fd, LOCK_EX | LOCK_NB)) return 'held';
    try {
      const at = fs.lstatSync(path.join(`/proc/self/fd/${this.fd}`, name), { bigint: true });
      const held = fs.fstatSync(fd, { bigint: true });
      return at.ino === held.ino && at.dev === held.dev ? 'locked' : 'moved';
    } catch {
      return 'moved'; // gone
    }
  }

  /** Names in this folder (read through the descriptor). */
  names(): string[] {
    try {
      return fs.readdirSync(`/proc/self/fd/${this.fd}`);
    } catch {
      return [];
    }
  }

  /** Remove the empty folder `name` (ENOTEMPTY, ENOENT: left as it is). */
  removeEmptyDir(name: string): boolean {
    return unlinkAt(this.fd, name, true) === 0;
  }

  /** Adopt descriptor `fd` of folder `dir` already checked by this process (a worker thread). */
  static adopt(fd: number, dir: string): SafeDir {
    return new SafeDir(fd, dir);
  }

  close(): void {
    if ((this as { fd: number }).fd >= 0) closeFd(this.fd);
    (this as { fd: number }).fd = -1;
  }
}

/** Read a whole small regular file opened by `openExisting` (at most `max` bytes) and close it. */
export function readAllAndClose(fd: number, max = 65536): string {
  try {
    const buf = Buffer.alloc(max);
    const n = fs.readSync(fd, buf, 0, max, 0);
    return buf.toString('utf8', 0, n);
  } finally {
    closeFd(fd);
  }
}

/**
 * Open a file the user named on the command line (rx_pcap=, tx_pcap=, dumpcap -w): the
 * folders on its path are the user's choice, its last component is never followed (a link
 * is refused), a FIFO or device is refused at once (O_NONBLOCK, then fstat), and an
 * existing file written to must be a regular file of ours with one name (no hard link into
 * someone else's file). 'write' creates (0644) or truncates; 'append' needs the file.
 * Throws MpdkError whose message starts with `path:` and names the cause.
 */
export function openUserFile(file: string, how: 'read' | 'write' | 'append'): number {
  const flags = how === 'read' ? O_RDONLY : how === 'write' ? fs.constants.O_WRONLY | O_CREAT : fs.constants.O_WRONLY | fs.constants.O_APPEND;
  let fd: number;
  try {
    fd = fs.openSync(file, flags | O_NOFOLLOW | O_NONBLOCK, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let link = code === 'ELOOP';
    try {
      link ||= fs.lstatSync(file).isSymbolicLink(); // EACCES from fs.protected_symlinks, for one
    } catch {
      /* absent */
    }
    if (link) throw new MpdkError('EACCES', `${file}: is a symbolic link (${describeAt(file)}); mpdk does not follow links for files it opens: give the file it points to`);
    if (code === 'ENXIO') throw new MpdkError('EINVAL', `${file}: is a FIFO or socket with nobody at the other end, not a regular file`);
    if (code === 'ENOENT') throw new MpdkError('ENOENT', `${file}: no such file (check the path and that its folder exists)`);
    if (code === 'EACCES' || code === 'EPERM') throw new MpdkError('EACCES', `${file}: permission denied (check the file permissions)`);
    throw new MpdkError('EIO', `${file}: cannot open: ${code ?? (e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new MpdkError('EINVAL', `${file}: is ${kindOf(st)}, not a regular file`);
    if (how !== 'read') {
      if (st.uid !== euid()) throw new MpdkError('EACCES', `${file}: belongs to uid ${st.uid}, not to you (uid ${euid()}); mpdk will not write into another user's file: remove it or choose another name`);
      if (st.nlink > 1) throw new MpdkError('EACCES', `${file}: has ${st.nlink} names (hard links); mpdk will not write through one: remove it or choose another name`);
      if (how === 'write') fs.ftruncateSync(fd, 0);
    }
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}
