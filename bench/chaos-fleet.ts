/**
 * The chaos run's processes: every program it starts (`mpdk <program> ...`), their output
 * read line by line, bounded waits on it, SIGKILL of one process, and the end of all of them.
 *
 *   who calls what
 *   chaos-systems.ts   fleet.start(role, args, env) → Proc; proc.waitFor(re, ms); proc.kill()
 *   chaos.ts           fleet.endAll() when a system is rebuilt or the run ends (finally, and
 *                      on SIGINT/SIGTERM): SIGKILL to every process the fleet started and to
 *                      their descendants (the slaves and standbys the l2fwd_fork master
 *                      forked), then a bounded wait; killTrees(process.pid) as a last net
 *
 * Children are not detached: they stay in the chaos run's process group, so whoever started
 * the run (a test) can also end the whole group. Output is kept per process (the last
 * OUT_KEEP characters, for diagnostics) and handed to `onLine` listeners as it arrives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MPDK = path.join(ROOT, 'dist/src/cli/mpdk.js');
const OUT_KEEP = 16384;

export class Proc {
  readonly role: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt = performance.now();
  /** Exit code, or 128 + signal number; undefined while it runs. */
  code: number | undefined;
  signal: NodeJS.Signals | null = null;
  /** When its exit was seen (performance.now()), 0 while it runs. */
  exitedAt = 0;
  /** Set once the run has recorded this process's exit (chaos-systems.ts). */
  noted = false;
  readonly exited: Promise<number>;
  private tail = '';
  private partial = { out: '', err: '' };
  private readonly listeners: ((line: string, stream: 'out' | 'err') => void)[] = [];

  constructor(role: string, child: ChildProcess) {
    this.role = role;
    this.child = child;
    this.pid = child.pid ?? 0;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.code = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 0);
        this.signal = signal;
        this.exitedAt = performance.now();
        resolve(this.code);
      });
    });
    for (const stream of ['out', 'err'] as const) {
      const s = stream === 'out' ? child.stdout! : child.stderr!;
      s.setEncoding('utf8').on('data', (d: string) => this.take(d, stream));
    }
  }

  get running(): boolean {
    return this.code === undefined;
  }

  /** The last OUT_KEEP characters of its stdout and stderr, interleaved as they came. */
  get output(): string {
    return this.tail;
  }

  onLine(f: (line: string, stream: 'out' | 'err') => void): void {
    this.listeners.push(f);
  }

  private take(d: string, stream: 'out' | 'err'): void {
    this.tail = (this.tail + d).slice(-OUT_KEEP);
    const text = this.partial[stream] + d;
    const lines = text.split('\n');
    this.partial[stream] = lines.pop()!;
    for (const line of lines) for (const f of this.listeners) f(line, stream);
  }

  /** Wait until its output (from its start) matches `re`; rejects after `ms` or when it exits first. */
  waitFor(re: RegExp, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(t);
        clearInterval(poll);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (re.test(this.tail)) finish();
        else if (!this.running) finish(new Error(`${this.role} (pid ${this.pid}) exited with ${this.code} before printing ${re}:\n${this.tail.slice(-1500)}`));
      };
      const t = setTimeout(() => finish(new Error(`${this.role} (pid ${this.pid}): no ${re} within ${ms} ms:\n${this.tail.slice(-1500)}`)), ms);
      const poll = setInterval(check, 5);
      check();
    });
  }

  /** Write a line to its stdin (started with `stdin: true`); false when it cannot take it. */
  send(line: string): boolean {
    const i = this.child.stdin;
    if (!i || !this.running || i.destroyed || !i.writable) return false;
    i.write(line + '\n');
    return true;
  }

  /** SIGKILL this process (not its children). */
  kill(): void {
    if (this.running) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  /** Ask it to stop (SIGINT), SIGKILL after `ms`; resolves with its exit code. */
  async stop(ms: number, sig: NodeJS.Signals = 'SIGINT'): Promise<number> {
    if (!this.running) return this.code!;
    this.child.kill(sig);
    const t = setTimeout(() => {
      // Said with what it printed last: the run's failure line then has its cause beside it.
      process.stderr.write(`chaos: ${this.role} (pid ${this.pid}) did not leave within ${ms} ms of ${sig}: killed; its last output:\n${this.tail.slice(-1500)}\n`);
      this.kill();
    }, ms);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

export class Fleet {
  readonly all: Proc[] = [];

  /** Start `mpdk <args...>` as role `role`. */
  start(role: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, stdin = false): Proc {
    const child = spawn(process.execPath, [MPDK, ...args], { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdin?.on('error', () => {}); // a killed process's pipe: EPIPE is expected
    const p = new Proc(role, child);
    this.all.push(p);
    return p;
  }

  /** Run `mpdk <args...>` to completion, bounded; SIGKILL at the bound (code 137). */
  async run(args: readonly string[], ms: number): Promise<{ code: number; out: string; err: string }> {
    const child = spawn(process.execPath, [MPDK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    const code = await new Promise<number>((r) => child.once('close', (c, s) => r(c ?? (s === 'SIGKILL' ? 137 : 128))));
    clearTimeout(t);
    return { code, out, err };
  }

  /**
   * SIGKILL every process this fleet started and all their descendants, then wait (bounded)
   * until none runs. @returns the pids still alive afterwards (should be none)
   */
  async endAll(ms = 3000): Promise<number[]> {
    const mine = this.all.filter((p) => p.running).map((p) => p.pid);
    return killTrees(mine, ms);
  }
}

/** SIGKILL `roots` and all their descendants; wait up to `ms` for them to be gone. @returns survivors */
export async function killTrees(roots: number[], ms: number): Promise<number[]> {
  const victims = new Set<number>(roots.flatMap((r) => [r, ...descendants(r)]));
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const end = performance.now() + ms;
  while (performance.now() < end && [...victims].some(alive)) await new Promise((r) => setTimeout(r, 10));
  return [...victims].filter(alive);
}

/** Parent pid of `pid` from /proc, or 0. */
function ppidOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Every live descendant of `root` (children, their children, ...). */
export function descendants(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const pp = ppidOf(pid);
    if (pp) kids.set(pp, [...(kids.get(pp) ?? []), pid]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    for (const c of kids.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Running (a zombie waiting for its reaper counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** Open file descriptors of `pid` (-1 when it is gone). */
export function fdCount(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` every `every` ms until truthy; undefined after `ms`. */
export async function until<T>(fn: () => T | undefined | false, ms: number, every = 2): Promise<T | undefined> {
  const end = performance.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (performance.now() >= end) return undefined;
    await sleep(every);
  }
}
