/**
 * Test support: unique instance names, real child processes with bounded waits, and a
 * check that nothing is left behind. Every test that spawns must call `reapAll` (the
 * `after` hook in each file does).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMpdkError, telemetryDir, type ErrorCode } from '../src/index.js';
import { processStartTime, START_GONE } from '../src/native/process.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MPDK = path.join(ROOT, 'dist/src/cli/mpdk.js');

let counter = 0;
/** A --file-prefix no other test uses. */
export function uniquePrefix(tag = 't'): string {
  return `${tag}${process.pid}x${counter++}`;
}

export interface Child {
  proc: ChildProcess;
  out: string;
  err: string;
  /** Resolves with exit code (or 128+signal) when the process ends. */
  exited: Promise<number>;
  /** Write a line to its stdin. */
  send(line: string): void;
  /** Wait until stdout+stderr matches `re`; rejects after `ms` with what was seen. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
}

const children = new Set<ChildProcess>();

/** After a child's exit, how long `exited` waits for its pipes to close (so `out`/`err` hold all it wrote). */
const OUTPUT_GRACE_MS = 2000;

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };

/**
 * `proc`'s exit status (its code, or 128 + the signal's number), once its output is read too:
 * 'exit' may come before the last of what it wrote is read from the pipes ('close' comes
 * after), so this waits for 'close', but at most OUTPUT_GRACE_MS (a process it left holding
 * the pipes, such as a forked slave, does not hold the test up). `onExit` runs at 'exit'.
 */
export function exitStatus(proc: ChildProcess, onExit?: () => void): Promise<number> {
  return new Promise((resolve) => {
    proc.once('exit', (code, sig) => {
      onExit?.();
      const status = code ?? 128 + (SIGNALS[sig ?? ''] ?? 0);
      const t = setTimeout(() => resolve(status), OUTPUT_GRACE_MS);
      proc.once('close', () => {
        clearTimeout(t);
        resolve(status);
      });
    });
  });
}

/** Spawn `node <script> args` (script relative to ROOT, or `mpdk` for the CLI). */
export function spawnNode(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  const file = script === 'mpdk' ? MPDK : path.isAbsolute(script) ? script : path.join(ROOT, script);
  const proc = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  const c: Child = {
    proc, out: '', err: '',
    exited: exitStatus(proc, () => children.delete(proc)),
    send(line) {
      proc.stdin!.write(line + '\n');
    },
    waitFor(re, ms = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = (c.out + c.err).match(re);
          if (m) {
            clearTimeout(t);
            proc.stdout!.off('data', check);
            proc.stderr!.off('data', check);
            resolve(m);
            return true;
          }
          return false;
        };
        const t = setTimeout(() => {
          proc.stdout!.off('data', check);
          proc.stderr!.off('data', check);
          reject(new Error(`timed out after ${ms} ms waiting for ${re}; stdout:\n${c.out}\nstderr:\n${c.err}`));
        }, ms);
        proc.stdout!.on('data', check);
        proc.stderr!.on('data', check);
        setImmediate(check);
      });
    },
  };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (c.out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (c.err += d));
  return c;
}

/** A child that obeys one JSON command per stdin line and answers one JSON line each (test/mp-child.ts, test/hotplug-child.ts). */
export interface CommandChild {
  c: Child;
  pid: number;
  /** Send command `o` (an id is added); resolves with its answer line, parsed. */
  cmd(o: Record<string, unknown>, ms?: number): Promise<Record<string, unknown>>;
}

let commandId = 0;

/** Spawn `script` with `args` and wait for its `{"ready": pid}` line. */
export async function commandChild(script: string, args: readonly string[]): Promise<CommandChild> {
  const c = spawnNode(script, args);
  const m = await c.waitFor(/\{"ready":(\d+)/, 10_000);
  return {
    c, pid: Number(m[1]),
    async cmd(o, ms = 10_000) {
      const id = ++commandId;
      c.send(JSON.stringify({ id, ...o }));
      const line = await c.waitFor(new RegExp(`\\{"id":${id},[^\\n]*\\}\\n`), ms);
      return JSON.parse(line[0]) as Record<string, unknown>;
    },
  };
}

/** Run to completion with a bound; returns the exit code and output. */
export async function run(script: string, args: readonly string[], ms = 15000, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const c = spawnNode(script, args, env);
  c.proc.stdin!.end();
  const t = setTimeout(() => c.proc.kill('SIGKILL'), ms);
  const code = await c.exited;
  clearTimeout(t);
  return { code, out: c.out, err: c.err };
}

/** `c`'s exit code, or -1 if it has not exited within `ms` (the timer is cleared either way,
 *  so a generous safety net does not hold the test file open after the child exits). */
export async function exitedWithin(c: Child, ms: number): Promise<number> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<number>((r) => (t = setTimeout(() => r(-1), ms)));
  try {
    return await Promise.race([c.exited, late]);
  } finally {
    clearTimeout(t);
  }
}

/** Kill every child still running (SIGKILL) and wait for them. */
export async function reapAll(): Promise<void> {
  const waits = [...children].map((p) => new Promise<void>((r) => {
    if (p.exitCode !== null || p.signalCode !== null) return r();
    p.once('exit', () => r());
    p.kill('SIGKILL');
  }));
  await Promise.all(waits);
}

/** Files of instance `prefix` still on disk, its telemetry sockets included (should be none after a clean exit). */
export function leftovers(prefix: string): string[] {
  const out: string[] = [];
  for (const dir of [path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${prefix}`), telemetryDir(prefix)]) {
    if (fs.existsSync(dir)) out.push(dir, ...fs.readdirSync(dir).map((f) => path.join(dir, f)));
  }
  return out;
}

/** Remove an instance's files whatever state it is in, its telemetry sockets too (test teardown after kills). */
export function removeInstance(prefix: string): void {
  fs.rmSync(path.join(process.env.MPDK_RUNTIME_DIR ?? '/dev/shm', `mpdk.${prefix}`), { recursive: true, force: true });
  fs.rmSync(telemetryDir(prefix), { recursive: true, force: true });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns truthy, at most `ms`. */
export async function until<T>(fn: () => T | undefined | false, ms = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Assert that `fn` throws an MpdkError with `code` (and a message matching `re`). */
export function refused(code: ErrorCode, fn: () => unknown, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isMpdkError(e, code), `expected ${code}, got ${String(e)}`);
    if (re) assert.match((e as Error).message, re);
    return true;
  });
}

/**
 * Process `pid` has exited by the library's own rule (native/process.ts): no such process, or
 * a zombie whose threads have all exited (its descriptors closed). A zombie leader whose other
 * threads are still leaving is not yet gone: its sockets still accept.
 */
export function exited(pid: number): boolean {
  return processStartTime(pid) === START_GONE;
}
