/**
 * Errors a person can act on: a code (as errno names them) and a message that says
 * what to do. A refused operation changes nothing in shared memory.
 */
export type ErrorCode =
  | 'ENOENT' | 'EEXIST' | 'ENOSPC' | 'EINVAL' | 'EBUSY' | 'ENOMEM' | 'ETIMEDOUT'
  | 'EACCES' | 'ENODEV' | 'EPERM' | 'ESRCH' | 'EPROTO' | 'ENOBUFS' | 'EIO' | 'EPIPE';

export class MpdkError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'MpdkError';
    this.code = code;
  }
}

/** A malformed command line: the programs print the message and exit with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function isMpdkError(e: unknown, code?: ErrorCode): e is MpdkError {
  return e instanceof MpdkError && (code === undefined || e.code === code);
}
