/**
 * The native layer's index: libc through koffi, one file per family of calls. Only
 * src/native imports koffi; code above it imports what it needs from here.
 *
 *   ffi.ts      libc handle, NativeError, errno
 *   memory.ts   shared mappings (mmap)
 *   files.ts    folder-relative opens without links, fallocate, flock, close
 *   futex.ts    cross-process sleep/wake on a shared word
 *   membarrier.ts  a full barrier on every registered process's running threads
 *   sched.ts    CPUs, affinity, yield, thread ids
 *   process.ts  liveness (alive / dead / unknown), pidfds, _exit, parent-death signal
 *   poll.ts     poll(2)
 *   packet.ts   AF_PACKET sockets (net_af_packet)
 *   unix.ts     seqpacket sockets with SCM_RIGHTS, memfd, eventfd (net_memif)
 */
export { NativeError, errno, errnoName, bufferAddress } from './ffi.js';
export { mapFd, mapAnonymous, viewMapping, unmap, MAX_MAPPING, type Mapping } from './memory.js';
export {
  openAt, mkdirAt, unlinkAt, renameNoReplace, reserve, flock, closeFd, LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN,
  O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY, O_CLOEXEC,
} from './files.js';
export { futexWait, futexWake, WAKE_OK, WAKE_CHANGED, WAKE_TIMEOUT, WAKE_INTR, FutexWaitv, FutexSet, FUTEX_WAITV_MAX, futexWaitvSupported } from './futex.js';
export { membarrierSupported, membarrierRegister, membarrierGlobal } from './membarrier.js';
export { schedYield, gettid, allowedCpus, onlineCpus, setAffinity } from './sched.js';
export {
  processStartTime, processLiveness, processAlive, processDying, processState, processOfThread, livenessName, Liveness, START_GONE, START_UNKNOWN,
  pidfdOpen, watchPidfd, takeFdOf, exitImmediately, setParentDeathSignal, type PidfdWatch,
} from './process.js';
export { pollIn, pollFds, whenReadable, watchReadable, watchFd, POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDHUP, type FdWatch, type FdEvents } from './poll.js';
export * from './packet.js';
export * from './unix.js';
