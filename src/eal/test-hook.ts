/**
 * Test hooks: MPDK_TEST_HOOK names one window of the code where a test stops or holds a
 * process (to SIGKILL it there, or to let another process act in the window). Read once at
 * load; with the variable unset every hook is a constant false and costs nothing. A hook
 * announces itself on stderr (`MPDK_TEST_HOOK <what> reached`), which the test waits for.
 */
import { existsSync } from 'node:fs';

/** The hook this process was started with ('' when none). */
export const TEST_HOOK = process.env.MPDK_TEST_HOOK ?? '';

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Stop here for good, saying so on stderr (the test SIGKILLs us). */
export function hookStop(what: string): never {
  process.stderr.write(`MPDK_TEST_HOOK ${what} reached\n`);
  for (;;) Atomics.wait(cell, 0, 0, 1000);
}

/** Stop ourselves with SIGSTOP, saying so on stderr (`said`: the word after the hook's name); the test sends SIGCONT. */
export function hookSigstop(what: string, said = 'reached'): void {
  process.stderr.write(`MPDK_TEST_HOOK ${what} ${said}\n`);
  process.kill(process.pid, 'SIGSTOP');
}

/**
 * Hold here, saying so on stderr, until `done()` or until the file named by
 * MPDK_TEST_HOOK_GO exists (the test makes it once its other process has acted), for at most
 * `boundMs`; then go on.
 */
export function hookHold(what: string, done: () => boolean = () => false, boundMs = 10000): void {
  process.stderr.write(`MPDK_TEST_HOOK ${what} reached\n`);
  const go = process.env.MPDK_TEST_HOOK_GO;
  for (let ms = 0; ms < boundMs && !done() && !(go !== undefined && existsSync(go)); ms += 5) Atomics.wait(cell, 0, 0, 5);
}
