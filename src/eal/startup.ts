/**
 * How a process leaves its instance when it ends: on exit always (`guardExit`), and on a
 * signal when the program asks (`Eal.init` with `handleSignals: true`: `guardStartup`) — a
 * signal at any moment of such a program's life is honoured: the program stops and the EAL
 * leaves the instance (the last process out removes the files). Without it the library
 * installs no signal handler: Node's default (a signal ends the process at once) stands,
 * and what the process held is returned by the others' `reclaimDead`, as after a crash.
 *
 * Node installs a signal's OS handler only once a listener exists; before that SIGTERM
 * kills at once, without 'exit' listeners. So `Eal.init` calls `guardStartup` before it
 * creates anything: from then on SIGINT, SIGTERM and SIGHUP reach `onSignal`, which
 * - defers to the program when the program has its own listener for that signal (its
 *   handler stops the program; the 'exit' listener below then closes the EAL);
 * - otherwise closes every EAL of this process and exits (130 for SIGINT, 143 otherwise).
 * Programs add their handlers with process.on/once and never remove the EAL's
 * (removeAllListeners would lose a signal that arrives before theirs is added).
 * A signal that arrives while `Eal.init` runs (synchronously) is delivered right after it
 * returns, to the listeners present then: the EAL's, or the program's.
 */
import type { Eal } from './eal.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const live = new Set<Eal>();
let exitInstalled = false;
let signalsInstalled = false;

function closeAll(): void {
  for (const e of live) {
    try {
      e.close();
    } catch (err) {
      process.stderr.write(`EAL: leaving the instance failed: ${(err as Error).message}\n`);
    }
  }
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  if (process.listenerCount(sig) > 1) return; // the program's own listener takes it
  closeAll();
  process.exit(sig === 'SIGINT' ? 130 : 143);
}

const guard = { started: (eal: Eal): void => void live.add(eal) };

/** Install the EAL's exit listener (idempotent); `started` hands it the EAL to close at exit. */
export function guardExit(): { started(eal: Eal): void } {
  if (!exitInstalled) {
    exitInstalled = true;
    process.on('exit', closeAll);
  }
  return guard;
}

/** Install the EAL's signal and exit listeners (idempotent); `started` hands it the EAL to close. */
export function guardStartup(): { started(eal: Eal): void } {
  if (!signalsInstalled) {
    signalsInstalled = true;
    for (const sig of SIGNALS) process.on(sig, onSignal);
  }
  return guardExit();
}

/** Forget `eal` (it closed): the exit listener no longer holds it. */
export function unguard(eal: Eal): void {
  live.delete(eal);
}
