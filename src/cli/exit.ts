/**
 * How mpdk programs leave. On Node 24, process.exit() sometimes never returns: Node's
 * platform shutdown joins V8's background worker thread while that thread waits for a
 * garbage collection the exiting main thread will never run (seen in gdb:
 * WorkerThreadsTaskRunner::Shutdown ↔ CollectionBarrier::AwaitCollectionBackground), most
 * often when a program exits early, while code is still being compiled in the background
 * (a refused start). So the programs end the same way everywhere: the 'exit' listeners run
 * as usual (the EAL leaves the instance there), then the process leaves through _exit(2).
 * Nothing is lost: on Linux, Node writes stdout and stderr synchronously (files, pipes, TTYs).
 */
import { exitImmediately } from '../native/libc.js';

let leaving = false;

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

/** Route process.exit() and the natural end of the event loop through `leave`. */
export function installExit(): void {
  process.exit = ((code?: number | string | null) => leave(Number(code ?? process.exitCode ?? 0))) as typeof process.exit;
  process.on('beforeExit', () => leave(Number(process.exitCode ?? 0)));
}
