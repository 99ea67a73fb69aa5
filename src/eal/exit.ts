/**
 * How an mpdk process leaves: `installExit()`, which every mpdk program calls first and
 * which a program built on the library may call too.
 *
 * On Node 24, process.exit() (and the natural end of the event loop) sometimes never
 * returns: Node's platform shutdown joins V8's background worker threads while one of them,
 * compiling code (Maglev, Sparkplug), waits for a garbage collection the exiting main
 * thread will never run (seen in gdb here: WorkerThreadsTaskRunner::Shutdown on the main
 * thread, CollectionBarrier::AwaitCollectionBackground on the V8Worker; upstream
 * nodejs/node#54918 and #64274, open). It is most likely when a process exits early, while
 * code is still being compiled in the background (a refused start: 1 in 10 to 1 in 50 here).
 * So mpdk processes leave the same way everywhere: the 'exit' listeners run as usual (the
 * EAL leaves the instance there), then the process ends through _exit(2), which joins no
 * thread. Nothing written is lost: on Linux, Node writes stdout and stderr synchronously
 * (files, pipes, TTYs).
 *
 * Profiling: _exit(2) skips what Node writes at its own exit (`--cpu-prof`, `--prof`'s log
 * flush, `--heap-prof`, NODE_V8_COVERAGE). With MPDK_NORMAL_EXIT=1 in the environment, one
 * of those flags in Node's options (its command line or NODE_OPTIONS), or NODE_V8_COVERAGE
 * set, installExit() changes nothing and the process leaves through Node's own exit.
 */
import { inspect } from 'node:util';
import { exitImmediately } from '../native/libc.js';

let leaving = false;
let installed = false;

/** Node options under which the profile is written by Node's own exit. */
const PROFILING = /^--(cpu-prof|heap-prof|prof)(-|=|$)/;

/**
 * Whether this process must leave through Node's normal exit: MPDK_NORMAL_EXIT=1,
 * NODE_V8_COVERAGE set, or a profiling flag in process.execArgv or NODE_OPTIONS.
 */
export function normalExit(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): boolean {
  if (env.MPDK_NORMAL_EXIT === '1' || (env.NODE_V8_COVERAGE ?? '') !== '') return true;
  const opts = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  return opts.some((o) => PROFILING.test(o));
}

function leave(code: number): never {
  if (!leaving) {
    leaving = true;
    process.exitCode = code;
    try {
      process.emit('exit', code);
    } catch (e) {
      process.stderr.write(`mpdk: an exit handler failed: ${(e as Error).message}\n`);
    }
  }
  exitImmediately(code);
}

/**
 * Make process.exit() and the natural end of the event loop leave through _exit(2) once
 * the 'exit' listeners have run (once), so a process cannot hang in Node 24's exit (see the
 * file header). Call it first thing in a program's entry script; it is process-wide and
 * idempotent. Under `normalExit()` (profiling, coverage, MPDK_NORMAL_EXIT=1) it
 * changes nothing. An uncaught exception nothing handles is printed (its stack) and the
 * process leaves with status 1, as under Node's own handling. Never throws.
 */
export function installExit(): void {
  if (installed || normalExit()) return;
  installed = true;
  process.exit = ((code?: number | string | null) => leave(Number(code ?? process.exitCode ?? 0))) as typeof process.exit;
  process.on('beforeExit', () => leave(Number(process.exitCode ?? 0)));
  // An uncaught exception (or rejection) that nothing handles ends the process through
  // Node's exit too: print it as Node would and leave with Node's status for it, 1.
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    if (process.listenerCount('uncaughtException') > 0 || process.hasUncaughtExceptionCaptureCallback()) return;
    const what = err instanceof Error && err.stack ? err.stack : inspect(err);
    process.stderr.write(`${origin === 'unhandledRejection' ? 'unhandled rejection: ' : ''}${what}\n\nNode.js ${process.version}\n`);
    leave(1);
  });
}
