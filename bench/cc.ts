/**
 * The bench's C programs (bench/c/*.c, bench/dpdk/*.c): built at run time with the
 * machine's C compiler into a temporary folder, so that a figure of mpdk stands beside the
 * same measurement without Node (the machine's floor) or through DPDK itself. Where there
 * is no compiler, or no libdpdk-dev for a DPDK program, the figure is skipped with a line
 * that says what is missing.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ of the source tree (this file runs from dist/bench). */
const SOURCES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bench');

/** A program's output, or undefined when it cannot run (not installed, failed). */
export function have(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return undefined;
  }
}

/** A built program and its folder (remove() deletes both). */
export interface Built {
  bin: string;
  dir: string;
  remove(): void;
}

/**
 * Build bench/`source` (e.g. 'c/futex_wake.c') with `cc -O2`, against libdpdk when `dpdk`;
 * returns the program, or why it cannot be built.
 */
export function buildC(source: string, dpdk = false): Built | string {
  if (have('cc', ['--version']) === undefined) return 'no C compiler (cc)';
  let flags: string[] = [];
  if (dpdk) {
    const f = have('pkg-config', ['--cflags', '--libs', 'libdpdk']);
    if (f === undefined) return 'no libdpdk-dev (pkg-config libdpdk)';
    flags = f.split(/\s+/);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpdk-cc-'));
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  const src = path.join(SOURCES, source);
  const bin = path.join(dir, path.basename(source, '.c'));
  try {
    execFileSync('cc', ['-O2', '-o', bin, src, ...flags, '-lpthread'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    remove();
    return `cannot build ${src}: ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}`;
  }
  return { bin, dir, remove };
}

/** Run a built program that prints one JSON object of numbers; rejects on failure or after `timeoutMs`. */
export function runJson(bin: string, args: string[], timeoutMs: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${path.basename(bin)} ${args.join(' ')}: ${(stderr.trim() || err.message).split('\n')[0]}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, number>);
      } catch {
        reject(new Error(`${path.basename(bin)}: no JSON in its output (${stdout.slice(0, 80)})`));
      }
    });
  });
}
