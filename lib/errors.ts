import * as util from 'node:util';

/** Errno values whose names node:fs would not give the way the kernel spells them. */
const KERNEL_NAMES: Record<number, string> = { 95: 'EOPNOTSUPP', 117: 'EUCLEAN' };

/** The errno-style code for a positive errno value ('ENOENT', 'EOPNOTSUPP', ...). */
export function errnoCode(errno: number): string {
  if (KERNEL_NAMES[errno]) return KERNEL_NAMES[errno];
  try {
    return util.getSystemErrorName(-errno);
  } catch {
    return `E${errno}`;
  }
}

export interface DaxErrorDetails {
  errno?: number;      // negative, as in Node's own errors
  syscall?: string;
  path?: string;
  cause?: unknown;
}

/** Every failure of daxfs that is not a bad argument: an errno-style `code`, like node:fs. */
export class DaxError extends Error {
  readonly code: string;
  readonly errno?: number;
  readonly syscall?: string;
  readonly path?: string;

  constructor(code: string, message: string, details: DaxErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DaxError';
    this.code = code;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.syscall) this.syscall = details.syscall;
    if (details.path) this.path = details.path;
  }

  /** A DaxError from a positive errno value. */
  static fromErrno(errno: number, message: string, details: Omit<DaxErrorDetails, 'errno'> = {}): DaxError {
    return new DaxError(errnoCode(errno), message, { ...details, errno: -errno });
  }
}

type ArgErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_VALUE';

/** Node-style argument errors (TypeError / RangeError with Node's codes). */
export function argError(code: ArgErrorCode, message: string): TypeError | RangeError {
  const err = code === 'ERR_OUT_OF_RANGE' ? new RangeError(message) : new TypeError(message);
  Object.defineProperty(err, 'code', { value: code, enumerable: true });
  return err;
}

/** Builds the error native code throws (registered once with the addon). */
export function nativeErrorFactory(kind: string, code: string, errno: number, syscall: string,
                                   path: string, message: string): Error {
  if (kind === 'sys') return DaxError.fromErrno(errno, message, { syscall: syscall || undefined, path: path || undefined });
  return argError(code as ArgErrorCode, message);
}
