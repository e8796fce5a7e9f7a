// How a failed command tells the user: the path, the code, and what to do next. A user's
// mistake never prints a stack trace; DAXFS_DEBUG=1 prints one for everything else.
import { UsageError } from './args';

/** An error with the argument it concerns, as the user wrote it ('disk.img:/a'). */
export class Failure extends Error {
  constructor(readonly where: string, readonly error: unknown) {
    super((error as Error)?.message ?? String(error));
    this.name = 'Failure';
  }
}

/** Gives an error its own advice, for where the generic one for its code would mislead. */
export function withHint<E extends Error>(error: E, hint: string): E {
  Object.defineProperty(error, 'hint', { value: hint, enumerable: false });
  return error;
}

/** Runs fn; an error from it is tagged with `where`. */
export function at<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Failure || e instanceof UsageError) throw e;
    throw new Failure(where, e);
  }
}

const HINTS: Record<string, string> = {
  ENOENT: "check the path ('daxfs ls IMAGE:/dir' lists a directory)",
  EEXIST: 'choose another name, or remove the old one first',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory: use -r to include directories',
  ENOTEMPTY: "the directory is not empty: 'daxfs rm -r' removes it with its contents",
  ENOSPC: "the image is full: 'daxfs df IMAGE' shows its space; 'daxfs mkfs NEW --size 1G' makes a bigger one",
  EUCLEAN: "the image is not a daxfs filesystem, or it is damaged: 'daxfs fsck IMAGE' checks it, 'daxfs mkfs IMAGE --force' makes a new one",
  EROFS: 'the filesystem is mounted read-only',
  EBUSY: 'another process has the image open; try again when it is done',
  EACCES: 'check the permissions (a /dev/dax node usually needs root or its group)',
  EPERM: 'check the permissions (a /dev/dax node usually needs root or its group)',
  ENAMETOOLONG: 'a name is at most 255 bytes',
};

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The message without a trailing ", open '/x'" when the path is already named in front. */
function messageOf(e: Error & { path?: string; syscall?: string }): string {
  const code = codeOf(e);
  let text = e.message;
  if (e.path && e.syscall && text.endsWith(`, ${e.syscall} '${e.path}'`)) text = text.slice(0, -(`, ${e.syscall} '${e.path}'`.length));
  if (code && !code.startsWith('ERR_') && !text.startsWith(`${code}:`)) text = `${code}: ${text}`;
  return text;
}

/** Prints what went wrong to stderr and returns the exit code: 2 for usage, else 1. */
export function report(command: string, err: unknown): number {
  const name = command ? `daxfs ${command}` : 'daxfs';
  if (err instanceof UsageError) {
    console.error(`${name}: ${err.message}`);
    console.error(`Try 'daxfs help${command ? ` ${command}` : ''}'.`);
    return 2;
  }
  const where = err instanceof Failure ? `${err.where}: ` : '';
  const e = (err instanceof Failure ? err.error : err) as Error & { path?: string; syscall?: string };
  const code = codeOf(e);
  if (!code) {
    console.error(`${name}: ${where}internal error: ${e?.message ?? String(e)}`);
    if (process.env.DAXFS_DEBUG) console.error(e?.stack);
    else console.error('  (this is a bug in daxfs: please report it; DAXFS_DEBUG=1 prints the stack)');
    return 1;
  }
  console.error(`${name}: ${where}${messageOf(e)}`);
  const hint = (e as { hint?: string }).hint ?? HINTS[code];
  if (hint) console.error(`  ${hint}`);
  if (process.env.DAXFS_DEBUG) console.error(e.stack);
  return 1;
}
