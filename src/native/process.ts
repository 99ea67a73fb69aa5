/**
 * Processes: is a process (pid, start time) alive, dead or impossible to tell; pidfds;
 * leaving at once; the parent-death signal.
 *
 * Death is decided on evidence only. A process is DEAD when the kernel says there is no
 * such process (kill(pid, 0) → ESRCH, or a zombie whose threads have all exited) or when
 * the pid now names a process with another start time (the pid was reused). Anything else that stops us reading
 * /proc/PID/stat (EMFILE, ENFILE, EACCES, a hidepid /proc, a line we cannot parse) is
 * UNKNOWN, which no caller may treat as dead: it retries later or reports. A start time of
 * 0 (a slot whose writer has not stored it yet, or never will) matches no process: with
 * the pid present it is UNKNOWN, never ALIVE as "whichever process has that pid now".
 */
import fs from 'node:fs';
import { koffi, libc, NativeError } from './ffi.js';
import { closePoll, pollFd } from './poll.js';

const c = {
  syscall2: libc.func('long syscall(long nr, long a, long b)'),
  syscall3: libc.func('long syscall(long nr, long a, long b, long c)'),
  _exit: libc.func('void _exit(int status)'),
  prctl: libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
};

/** `processStartTime`: there is no such process (or it is a zombie whose threads have all exited). */
export const START_GONE = -1;
/** `processStartTime`: could not tell (EMFILE, ENFILE, EACCES, ...): never a death. */
export const START_UNKNOWN = -2;

/** What is known about a process (pid, start time). */
export const enum Liveness {
  DEAD = 0,
  ALIVE = 1,
  /** Could not tell: never treated as dead (retry, or say so). */
  UNKNOWN = 2,
}

/** Liveness as a word for tools: "alive", "dead", "unknown". */
export function livenessName(l: Liveness): 'alive' | 'dead' | 'unknown' {
  return l === Liveness.ALIVE ? 'alive' : l === Liveness.DEAD ? 'dead' : 'unknown';
}

/** kill(pid, 0): false only on ESRCH (the one answer that proves absence). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function readStat(pid: number): string | number {
  if (!pidExists(pid)) return START_GONE;
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOENT/ESRCH after kill() found it: it exited meanwhile, unless /proc hides it (hidepid).
    if ((code === 'ENOENT' || code === 'ESRCH') && !pidExists(pid)) return START_GONE;
    return START_UNKNOWN;
  }
}

/** The fields of /proc/PID/stat after comm (field 2, which may hold spaces and parentheses): field N is [N - 3]. */
function fieldsOf(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * A zombie whose every thread has exited (state Z or X, num_threads, field 20, down to the
 * leader itself). A thread group's leader shows Z as soon as it has exited, while its other
 * threads (a Node process has several) may still be running their exit on a loaded host,
 * holding the process's descriptors open: its sockets still accept. Dead only once they are
 * gone (each releases its share of the descriptor table before it leaves the count).
 */
function exitedAll(rest: string[]): boolean {
  return (rest[0] === 'Z' || rest[0] === 'X') && Number(rest[17]) <= 1;
}

function startOf(stat: string): number {
  const rest = fieldsOf(stat);
  // rest[0] is field 3 (state); field 22 is rest[19].
  if (exitedAll(rest)) return START_GONE; // a zombie is dead for our purposes (one still leaving is not)
  const st = Number(rest[19]);
  return Number.isInteger(st) && st > 0 ? st : START_UNKNOWN;
}

let selfStart = 0;

/**
 * Start time of process `pid` in clock ticks since boot (field 22 of /proc/pid/stat), or
 * START_GONE (no such process, or a zombie: exitedAll) or START_UNKNOWN (could not tell). With the pid
 * it names one process for ever: a reused pid has a later start time. Our own is read once.
 */
export function processStartTime(pid: number): number {
  if (pid === process.pid && selfStart > 0) return selfStart;
  if (!(Number.isInteger(pid) && pid > 0)) return START_GONE;
  const stat = readStat(pid);
  const st = typeof stat === 'number' ? stat : startOf(stat);
  if (pid === process.pid && st > 0) selfStart = st;
  return st;
}
processStartTime(process.pid); // while descriptors are surely free

/** What is known of process (pid, startTime): ALIVE, DEAD or UNKNOWN (see the file header). */
export function processLiveness(pid: number, startTime: number): Liveness {
  if (!(Number.isInteger(pid) && pid > 0)) return Liveness.DEAD;
  const st = processStartTime(pid);
  if (st === START_GONE) return Liveness.DEAD;
  if (st === START_UNKNOWN || !(startTime > 0)) return Liveness.UNKNOWN;
  return st === startTime ? Liveness.ALIVE : Liveness.DEAD;
}

/**
 * DEAD, or on its way out for certain (inside exit(), or SIGKILL pending): for a verdict
 * taken when the process's descriptors close, which happens inside its exit, an instant
 * (longer on a loaded host) before it is a zombie. Evidence only: false when unknown.
 */
export function processDying(pid: number, startTime: number): boolean {
  const stat = readStat(pid);
  if (stat === START_GONE) return true;
  if (typeof stat === 'number') return false;
  const st = startOf(stat);
  if (st === START_GONE) return true;
  if (st === START_UNKNOWN || !(startTime > 0)) return false;
  return st !== startTime || dying(pid, stat);
}

/**
 * "Not proven dead": true unless process (pid, startTime) is DEAD. The one question every
 * reclaim, takeover and last-out decision asks; UNKNOWN answers true here.
 */
export function processAlive(pid: number, startTime: number): boolean {
  return processLiveness(pid, startTime) !== Liveness.DEAD;
}

/** PF_EXITING (/proc/PID/stat field 9, the task's flags): the process is inside exit(). */
const PF_EXITING = 0x4;
/** SIGKILL's bit in /proc/PID/status's pending masks (signal N is bit N − 1). */
const SIGKILL_BIT = 1n << 8n;

/**
 * True when the process whose /proc/PID/stat is `stat` is on its way out for certain
 * though not yet a zombie: inside exit() (PF_EXITING), or a SIGKILL pending (it cannot be
 * caught or blocked; on a loaded host the victim may wait a while to be scheduled and
 * die). Evidence only: false when it cannot be read.
 */
function dying(pid: number, stat: string): boolean {
  const flags = Number(fieldsOf(stat)[6]);
  if (Number.isInteger(flags) && (flags & PF_EXITING) !== 0) return true;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    for (const m of status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)) if ((BigInt(`0x${m[1]}`) & SIGKILL_BIT) !== 0n) return true;
  } catch {
    /* gone meanwhile, or unreadable: not evidence */
  }
  return false;
}

/**
 * For messages about a process waited on: "alive, running", "alive, stopped" (SIGSTOP or a
 * debugger), "alive, sleeping", ..., "alive, dying" (SIGKILL pending or inside exit: gone
 * soon for certain; a zombie whose other threads are still leaving too), "dead" (gone or a
 * zombie whose threads have all exited, or its pid names another process than the one
 * started at `startTime` when given) or "state unknown".
 */
export function processState(pid: number, startTime = 0): string {
  const stat = readStat(pid);
  if (stat === START_GONE) return 'dead';
  if (typeof stat === 'number') return 'state unknown';
  if (startTime > 0) {
    const st = startOf(stat); // one read says both: is it the process meant, and its state
    if (st === START_GONE || (st > 0 && st !== startTime)) return 'dead';
  }
  const rest = fieldsOf(stat);
  const st = rest[0] ?? '';
  const name: Record<string, string> = { R: 'running', S: 'sleeping', D: 'in uninterruptible sleep', T: 'stopped', t: 'stopped by a debugger', I: 'idle' };
  if (exitedAll(rest)) return 'dead';
  return st === 'Z' || st === 'X' || dying(pid, stat) ? 'alive, dying' : `alive, ${name[st] ?? st}`;
}

/** The process (thread group) thread `tid` belongs to (/proc/TID/status Tgid), 0 when it cannot be read (gone). */
export function processOfThread(tid: number): number {
  try {
    const m = /^Tgid:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/${tid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const SYS_pidfd_open = 434; // the same number on x86-64 and arm64
const SYS_pidfd_getfd = 438;

/**
 * pidfd_open(2): a descriptor that becomes readable when process `pid` exits; -1 when there
 * is no such process. Throws NativeError otherwise (EMFILE...: the caller cannot tell).
 */
export function pidfdOpen(pid: number): number {
  const fd = Number(c.syscall2(SYS_pidfd_open, pid, 0));
  if (fd >= 0) return fd;
  const e = koffi.errno();
  if (e === 3 /* ESRCH */) return -1;
  throw new NativeError('pidfd_open', e);
}

/**
 * A copy, in this process, of descriptor `fd` of live process `pid` (pidfd_getfd(2), Linux
 * ≥ 5.6; the same user may take descriptors of its own processes). For what /proc/<pid>/fd
 * cannot reopen, such as an eventfd (ENXIO). Throws NativeError (ESRCH when pid is gone).
 */
export function takeFdOf(pid: number, fd: number): number {
  const pfd = pidfdOpen(pid);
  if (pfd < 0) throw new NativeError(`pidfd_open(${pid})`, 3);
  try {
    const r = Number(c.syscall3(SYS_pidfd_getfd, pfd, fd, 0));
    if (r < 0) throw new NativeError(`pidfd_getfd(${pid}, ${fd})`, koffi.errno());
    return r;
  } finally {
    fs.closeSync(pfd);
  }
}

/** _exit(2): end the process now, without Node's teardown (see eal/exit.ts for why). */
export function exitImmediately(code: number): never {
  c._exit(code);
  throw new Error('unreachable');
}

const PR_SET_PDEATHSIG = 1;
/** Ask the kernel to send `signal` to this process when its parent thread exits. */
export function setParentDeathSignal(signal: number): void {
  c.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0);
}

/** A pidfd watched by the event loop (`watchPidfd`). */
export interface PidfdWatch {
  /** Stop watching and close the pidfd. Idempotent. */
  close(): void;
}

/**
 * Call `fn` once, from the event loop, when pidfd `fd` becomes readable (its process has
 * exited): libuv polls the descriptor with the loop's own epoll (koffi.node.poll), so no
 * thread and no timer run while nothing dies. The watch is unref'd (it never keeps a
 * process alive) and owns `fd`: it closes it when it fires or is closed.
 */
export function watchPidfd(fd: number, fn: () => void): PidfdWatch {
  let open = true;
  const h = pollFd(fd, { readable: true }, () => {
    if (!open) return;
    w.close();
    fn();
  });
  h.unref();
  const w: PidfdWatch = {
    close(): void {
      if (!open) return;
      open = false;
      closePoll(h);
      fs.closeSync(fd);
    },
  };
  return w;
}
