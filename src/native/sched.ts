/** Scheduling: which CPUs exist and which a thread may run on, yielding, thread ids. */
import fs from 'node:fs';
import { koffi, libc, NativeError } from './ffi.js';

const c = {
  sched_setaffinity: libc.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)'),
  sched_getaffinity: libc.func('int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)'),
  sched_yield: libc.func('int sched_yield(void)'),
  gettid: libc.func('int gettid(void)'),
};

const AFFINITY_BYTES = 128;

export function schedYield(): void {
  c.sched_yield();
}

export function gettid(): number {
  return c.gettid() as number;
}

/** CPUs thread `tid` (0: the caller) may run on (sched_getaffinity). */
export function allowedCpus(tid = 0): number[] {
  const mask = Buffer.alloc(AFFINITY_BYTES);
  if ((c.sched_getaffinity(tid, AFFINITY_BYTES, mask) as number) !== 0) throw new NativeError('sched_getaffinity', koffi.errno());
  const cpus: number[] = [];
  for (let i = 0; i < AFFINITY_BYTES * 8; i++) if (mask[i >> 3]! & (1 << (i & 7))) cpus.push(i);
  return cpus;
}

/**
 * CPUs of this machine that are online (from /sys), whatever this process's affinity mask
 * is: a child inherits its parent's mask, so the mask cannot tell which lcores exist.
 */
export function onlineCpus(): number[] {
  try {
    const txt = fs.readFileSync('/sys/devices/system/cpu/online', 'latin1').trim();
    const out: number[] = [];
    for (const part of txt.split(',')) {
      const [a, b] = part.split('-').map(Number) as [number, number | undefined];
      for (let i = a; i <= (b ?? a); i++) out.push(i);
    }
    return out;
  } catch {
    return allowedCpus();
  }
}

/** Pin the calling thread (tid 0) or thread `tid` to `cpus`. Threads created later inherit it. */
export function setAffinity(cpus: readonly number[], tid = 0): void {
  const mask = Buffer.alloc(AFFINITY_BYTES);
  for (const cpu of cpus) mask[cpu >> 3]! |= 1 << (cpu & 7);
  if ((c.sched_setaffinity(tid, AFFINITY_BYTES, mask) as number) !== 0) throw new NativeError('sched_setaffinity', koffi.errno());
}
