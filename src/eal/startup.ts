/**
 * A signal at any moment of a program's life is honoured: the program stops and the EAL
 * leaves the instance (the last process out removes the files).
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
let installed = false;

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

/** Install the EAL's signal and exit listeners (idempotent); `started` hands it the EAL to close. */
export function guardStartup(): { started(eal: Eal): void } {
  if (!installed) {
    installed = true;
    for (const sig of SIGNALS) process.on(sig, onSignal);
    process.on('exit', closeAll);
  }
  return { started: (eal: Eal) => void live.add(eal) };
}
