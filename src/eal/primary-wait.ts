/**
 * A program's start-up wait for what its primary creates after the EAL is up (simple_mp's
 * channels, mp_server's port table, symmetric_mp's configuration): a secondary started an
 * instant after its primary finds the region READY but those objects not yet made. While
 * that primary lives and is the right program, it waits, bounded: it says what it waits for
 * and on whom (pid, /proc state) after PRIMARY_NOTICE_MS, and gives up at the bound naming
 * the same. A primary of another program, or none alive, is refused at once.
 */
import type { Eal } from './eal.js';
import { MpdkError } from './errors.js';
import { identityOf, stateOf } from './identity.js';

/** Said after this long... */
export const PRIMARY_NOTICE_MS = 2000;
/** ...and given up at this bound by default (a primary creating its pools on a loaded host takes a second or two). */
export const PRIMARY_BOUND_MS = 5000;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * What `awaitFromPrimary` waits for: an object the primary (a given program) creates after its EAL
 * is up, how to look it up, and the error to throw when waiting is pointless or took too long.
 */
export interface PrimaryWait<T> {
  /** The program the primary must be (its process-table name, e.g. 'mp_server'). */
  program: string;
  /** What is waited for, for messages ("the channels PRI_2_SEC and SEC_2_PRI"). */
  what: string;
  /** The object, or undefined while it is not there yet (throws for anything else). */
  look: () => T | undefined;
  /**
   * The error when there is no point waiting or the bound passed; `why` says which ("its
   * primary is not mp_server", "its primary (pid N, alive, sleeping) has not created them
   * after 5 s").
   */
  refuse: (why: string) => MpdkError;
  /** Where the notice goes (a program's stderr line); the EAL's log at warning by default. */
  say?: (line: string) => void;
  /** Give up after this many ms (default PRIMARY_BOUND_MS). */
  boundMs?: number;
}

/** `o.look()` until it gives the object, waiting on a live primary of `o.program` (file header). */
export function awaitFromPrimary<T>(eal: Eal, o: PrimaryWait<T>): T {
  const t0 = performance.now();
  const bound = o.boundMs ?? PRIMARY_BOUND_MS;
  let said = false;
  for (;;) {
    const v = o.look();
    if (v !== undefined) return v;
    const pid = eal.primaryPid();
    const primary = eal.processes.list().find((p) => p.pid === pid && p.alive);
    const ms = performance.now() - t0;
    if (!primary || primary.name !== o.program || pid === process.pid) {
      throw o.refuse(primary ? `its primary (pid ${pid}) is ${primary.name ? primary.name : 'another program'}, not ${o.program}` : `its primary is not running`);
    }
    const who = `pid ${pid}, ${stateOf(identityOf(pid))}`;
    if (ms >= bound) throw o.refuse(`its primary (${who}) has not created them after ${Math.round(ms / 1000)} s`);
    if (!said && ms >= PRIMARY_NOTICE_MS) {
      said = true;
      const line = `waiting for the primary (${who}) to create ${o.what}... (giving up after ${Math.round(bound / 1000)} s)`;
      if (o.say) o.say(line);
      else eal.log('warning', line);
    }
    Atomics.wait(pause, 0, 0, 10);
  }
}
