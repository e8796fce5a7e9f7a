// sendfile(2) and splice(2). The kernel moves a file's pages through a pipe by reference,
// pinning them as get_user_pages does; so these calls fail with EFAULT exactly where the
// seed's kernel fails (data of a DAX file, memory mapped from one, under 'linux-4.0') and
// copy under 'modern', whose kernels pin DAX pages. Writing pipe pages to a file is a CPU
// copy, so the output of sendfile is never pinned.
import { DaxError, argError } from '../errors';
import { pinFileData, pinMemory, Profile } from '../mm/gup';
import { checkBytes, checkSize } from '../validate';
import { FileHandle } from './file';

/** What the filesystem whose sendfile/splice runs tells this file. */
export interface SpliceMount {
  readonly dax: boolean;
  readonly profile: Profile;
  /** True when `handle` is open on this filesystem. */
  owns(handle: FileHandle): boolean;
}

/** Bytes moved per step: the pipe (the kernel's holds 64 KiB; more here means fewer calls). */
const CHUNK = 1024 * 1024;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  return `type ${typeof value} (${String(value)})`;
}

function ebadf(why: string, syscall: string): DaxError {
  return new DaxError('EBADF', `bad file descriptor (${why}), ${syscall}`, { errno: -9, syscall });
}

function checkHandle(value: unknown, name: string): FileHandle {
  if (!(value instanceof FileHandle)) {
    throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be an instance of FileHandle. Received ${describe(value)}`);
  }
  return value;
}

/** The input of both calls: open for reading on this filesystem. Returns the bytes there are. */
function readableInput(mount: SpliceMount, input: FileHandle, position: number, count: number, syscall: string): number {
  if (input.closed || !mount.owns(input)) throw ebadf('input is not open on this filesystem', syscall);
  if (!input.openFlags.read) throw ebadf('input is not open for reading', syscall);
  return Math.min(count, Math.max(0, input.stat().size - position));
}

/**
 * Copies up to `count` bytes of `input` from `position` to `out` at out's position (which
 * advances; input's does not). Returns the bytes moved: short at input's EOF, or when a
 * write fails after some bytes moved (the error when none did). Checked in the kernel's
 * order: arguments, EBADF (input not readable, out not writable), EINVAL (out opened
 * 'a'), then the pin of input's data (EFAULT, nothing written).
 */
export function sendfile(mount: SpliceMount, out: FileHandle, input: FileHandle, position: number, count: number): number {
  checkHandle(out, 'out');
  checkHandle(input, 'input');
  checkSize(position, 'position');
  checkSize(count, 'count');
  const n = readableInput(mount, input, position, count, 'sendfile');
  if (out.closed) throw ebadf('out is closed', 'sendfile');
  if (!out.openFlags.write) throw ebadf('out is not open for writing', 'sendfile');
  if (out.openFlags.append) {
    throw new DaxError('EINVAL', "invalid argument (out is open for appending, which sendfile does not support), sendfile", { errno: -22, syscall: 'sendfile' });
  }
  if (n === 0) return 0;
  pinFileData(mount, 'sendfile', input.path);
  const pipe = Buffer.allocUnsafe(Math.min(n, CHUNK));
  let done = 0;
  while (done < n) {
    try {
      const got = input.read(pipe, 0, Math.min(pipe.length, n - done), position + done);
      if (got === 0) break;   // truncated meanwhile
      const put = out.write(pipe, 0, got, null);
      done += put;
      if (put < got) break;
    } catch (err) {
      if (done > 0) break;
      throw err;
    }
  }
  return done;
}

/**
 * Moves up to `count` bytes of `input` from `position` into target[0, count). Both ends
 * go through the pipe as pages, so both are pinned: EFAULT when `target` is a view of a
 * DAX file mapping or `input` is a file on a DAX mount, under 'linux-4.0'. Returns the
 * bytes moved (short at EOF).
 */
export function splice(mount: SpliceMount, input: FileHandle, position: number, target: Uint8Array, count: number): number {
  checkHandle(input, 'input');
  checkSize(position, 'position');
  checkBytes(target, 'target');
  checkSize(count, 'count');
  if (count > target.byteLength) {
    throw argError('ERR_OUT_OF_RANGE', `The value of "count" is out of range. It must be <= ${target.byteLength}. Received ${count}`);
  }
  const n = readableInput(mount, input, position, count, 'splice');
  if (n === 0) return 0;
  pinMemory(target.subarray(0, n), 'splice', 'target');
  pinFileData(mount, 'splice', input.path);
  let done = 0;
  while (done < n) {
    const got = input.read(target, done, n - done, position + done);
    if (got === 0) break;
    done += got;
  }
  return done;
}
