/**
 * A process as mpdk names it in shared memory: its pid and its start time (clock ticks
 * since boot, /proc/PID/stat field 22), so that a reused pid is never taken for the process
 * it replaced. A program that publishes who it is (mp_server in its port table) writes both;
 * whoever reads them asks `livenessOf`, which decides death on evidence only.
 */
import { livenessName, processLiveness, processStartTime, processState } from '../native/libc.js';

/**
 * A process named for good: its pid and its start time (clock ticks since boot), so a reused pid is never mistaken for it.
 */
export interface ProcessIdentity {
  /** The process id. */
  readonly pid: number;
  /** Its start time (clock ticks since boot, /proc/PID/stat field 22). */
  readonly start: number;
}

/** This process. */
export function thisProcess(): ProcessIdentity {
  return { pid: process.pid, start: processStartTime(process.pid) };
}

/**
 * What is known of process `p`: 'alive'; 'dead' (proven: no such process, a zombie, or its
 * pid now names a later process); 'unknown' (could not tell, e.g. out of descriptors):
 * never to be treated as dead.
 */
export function livenessOf(p: ProcessIdentity): 'alive' | 'dead' | 'unknown' {
  return livenessName(processLiveness(p.pid, p.start));
}

/**
 * A key naming process `p` for good, for maps of processes (watched, handled): its pid and
 * start time, so a later process with the same pid is another entry, never taken for it.
 */
export function identityKey(p: ProcessIdentity): string {
  return `${p.pid}@${p.start}`;
}

/** The identity of process `pid` as it is now (start 0 when it cannot be read: gone, or could not tell). */
export function identityOf(pid: number): ProcessIdentity {
  const start = processStartTime(pid);
  return { pid, start: start > 0 ? start : 0 };
}

/**
 * For decisions and messages about a process waited on: 'dead' (proven, as livenessOf),
 * else /proc's word: 'alive, running', 'alive, sleeping', 'alive, stopped' (SIGSTOP),
 * 'alive, stopped by a debugger', ..., or 'state unknown'.
 */
export function stateOf(p: ProcessIdentity): string {
  return processState(p.pid, p.start); // one /proc read (a watch calls it every few hundred ms)
}
