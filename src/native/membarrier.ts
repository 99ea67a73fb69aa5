/**
 * Memory barriers across processes: membarrier(2)'s global expedited commands. A process
 * registers once; then any process's `membarrierGlobal()` returns only after every running
 * thread of every registered process has executed a full memory barrier (an IPI to their
 * CPUs; a thread not running passed one when it was switched out). It lets a hot path use
 * plain stores where a Dekker handshake would need a fence, by moving the fence to the
 * other, rare side (the ring's doorbell: producers publish with plain stores, a consumer
 * about to sleep pays the barrier).
 */
import { libc } from './ffi.js';

const SYS_membarrier = process.arch === 'arm64' ? 283 : 324;
const CMD_QUERY = 0;
const CMD_GLOBAL_EXPEDITED = 1 << 1;
const CMD_REGISTER_GLOBAL_EXPEDITED = 1 << 2;

const membarrier = libc.func('long syscall(long nr, int cmd, unsigned int flags, int cpu_id)');

let supported: boolean | undefined;
let registered: boolean | undefined;

/** Whether this kernel has the global expedited commands (asked once). */
export function membarrierSupported(): boolean {
  if (supported === undefined) {
    const cmds = Number(membarrier(SYS_membarrier, CMD_QUERY, 0, 0));
    const wanted = CMD_GLOBAL_EXPEDITED | CMD_REGISTER_GLOBAL_EXPEDITED;
    supported = cmds >= 0 && (cmds & wanted) === wanted;
  }
  return supported;
}

/**
 * Make this process a target of other processes' `membarrierGlobal()` (once; later calls
 * answer from memory). False when the kernel lacks the commands or refuses them (seccomp),
 * or under MPDK_TEST_HOOK=no-membarrier (tests run the fallback).
 */
export function membarrierRegister(): boolean {
  registered ??= membarrierSupported() && process.env.MPDK_TEST_HOOK !== 'no-membarrier'
    && Number(membarrier(SYS_membarrier, CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0)) === 0;
  return registered;
}

/**
 * A full memory barrier on every running thread of every registered process, this one
 * included, before it returns (a few IPIs: µs). False when the kernel refused: the caller
 * must then not rely on it.
 */
export function membarrierGlobal(): boolean {
  return Number(membarrier(SYS_membarrier, CMD_GLOBAL_EXPEDITED, 0, 0)) === 0;
}
