/**
 * How mpdk programs leave. On Node 24, process.exit() sometimes never returns: Node's
 * platform shutdown joins V8's background worker thread while that thread waits for a
 * garbage collection the exiting main thread will never run (seen in gdb:
 * WorkerThreadsTaskRunner::Shutdown ↔ CollectionBarrier::AwaitCollectionBackground), most
 * often when a program exits early, while code is still being compiled in the background
 * (a refused start). So the programs end the same way everywhere: the 'exit' listeners run
 * as usual (the EAL leaves the instance there), then the process leaves through _exit(2).
 * Nothing is lost: on Linux, Node writes stdout and stderr synchronously (files, pipes, TTYs).
 *
 * Profiling: _exit(2) skips what Node writes at its own exit (`--cpu-prof`, `--prof`'s log
 * flush, `--heap-prof`, NODE_V8_COVERAGE). With MPDK_NORMAL_EXIT=1 in the environment, one
 * of those flags in Node's options (its command line or NODE_OPTIONS), or NODE_V8_COVERAGE
 * set, a program leaves through Node's normal path instead: process.exit() as Node has it.
 * The deadlock above was seen on refused starts only; profiled runs have not shown it.
 */
import { exitImmediately } from '../native/libc.js';

let leaving = false;

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
 * Route process.exit() and the natural end of the event loop through `leave`; under
 * `normalExit()` leave Node's own exit in place (profiles get written).
 */
export function installExit(): void {
  if (normalExit()) return;
  process.exit = ((code?: number | string | null) => leave(Number(code ?? process.exitCode ?? 0))) as typeof process.exit;
  process.on('beforeExit', () => leave(Number(process.exitCode ?? 0)));
}
