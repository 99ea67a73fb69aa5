/**
 * Errors a person can act on: a code (as errno names them) and a message that says
 * what to do. A refused operation changes nothing in shared memory.
 */
export type ErrorCode =
  | 'ENOENT' | 'EEXIST' | 'ENOSPC' | 'EINVAL' | 'EBUSY' | 'ENOMEM' | 'ETIMEDOUT'
  | 'EACCES' | 'ENODEV' | 'EPERM' | 'ESRCH' | 'EPROTO' | 'ENOBUFS' | 'EIO' | 'EPIPE'
  | 'EMSGSIZE' | 'ENOTSUP' | 'ENOTCONN';

/**
 * The error every refusal of the library throws: `code` says what kind (`ENOENT` no such object
 * or instance, `EEXIST`, `EINVAL` a bad argument, `EBUSY` held by another, `ENOSPC`/`ENOMEM`
 * full, `ETIMEDOUT` a bounded wait ran out, `EPROTO` another version or a damaged object, ...),
 * the message says what to do. A refused call changes nothing.
 */
export class MpdkError extends Error {
  /** What kind of refusal (`ENOENT`, `EINVAL`, `EBUSY`...): test it, not the message. */
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

/**
 * Whether `e` is an MpdkError (of `code`, when given).
 *
 * @example
 * ```ts
 * try { Ring.lookup(eal, 'jobs'); } catch (e) { if (!isMpdkError(e, 'ENOENT')) throw e; }
 * ```
 */
export function isMpdkError(e: unknown, code?: ErrorCode): e is MpdkError {
  return e instanceof MpdkError && (code === undefined || e.code === code);
}
