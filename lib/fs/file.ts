// FileHandle: an open file, as node:fs's synchronous calls use one.
import { DaxError, argError } from '../errors';
import type { FileMapping } from '../mm';
import { PAGE_SIZE } from '../dax';
import { checkBoolean, checkBytes, checkOptions, checkSize } from '../validate';
import { ALLOCATE_MODES, AllocateMode, MAX_FILE_SIZE } from './allocate';
import type { Filesystem } from './filesystem';
import { OpenFlags } from './flags';
import { Stats } from './stats';

/** The buffer, offset and length arguments of read() and write(), checked as node:fs does. */
function checkRange(buffer: Uint8Array, offset: number, length: number): void {
  checkBytes(buffer, 'buffer');
  checkSize(offset, 'offset');
  checkSize(length, 'length');
  if (offset + length > buffer.byteLength) {
    throw argError('ERR_OUT_OF_RANGE', `The value of "length" is out of range. It must be <= ${buffer.byteLength - offset}. Received ${length}`);
  }
}

/** A checked read or write: the bytes, and an explicit position (null: the handle's). */
export interface IORequest {
  view: Uint8Array;
  position: number | null;
  append: boolean;
}

export class FileHandle {
  #position = 0;
  #closed = false;

  constructor(private readonly fs: Filesystem, readonly ino: number, private readonly flags: OpenFlags, readonly path: string) {}

  #check(syscall: string): void {
    if (this.#closed || !this.fs.mounted) throw new DaxError('EBADF', `bad file descriptor, ${syscall}`, { errno: -9, syscall });
  }

  /** Reads into target[offset, offset+length) from `position` (null or -1: the handle's position, advanced). */
  read(target: Uint8Array, offset = 0, length = target.byteLength - offset, position: number | null = null): number {
    const r = this.checkRead(target, offset, length, position);
    const at = this.startOf(r);
    const n = this.fs.readAt(this.ino, r.view, at, this.flags.direct);
    this.advance(r, at, n);
    return n;
  }

  write(source: Uint8Array, offset = 0, length = source.byteLength - offset, position: number | null = null): number {
    const r = this.checkWrite(source, offset, length, position);
    if (r.append) {   // the end of file is found under the file's lock: appends never overlap
      const { position: end, bytes } = this.fs.appendAt(this.ino, r.view, this.flags.direct);
      this.#position = end + bytes;
      return bytes;
    }
    const at = this.startOf(r);
    const n = this.fs.writeAt(this.ino, r.view, at, this.flags.direct);
    this.advance(r, at, n);
    return n;
  }

  // The steps of read() and write(), shared with the promises API (lib/fs/promises.ts) so
  // both check arguments and move the position alike.

  /** read()'s checks; throws as read() does. */
  checkRead(target: Uint8Array, offset = 0, length = target.byteLength - offset, position: number | null = null): IORequest {
    this.#check('read');
    checkRange(target, offset, length);
    if (!this.flags.read) throw new DaxError('EBADF', 'bad file descriptor (not open for reading), read', { errno: -9, syscall: 'read' });
    return { view: target.subarray(offset, offset + length), position: this.#explicit(position), append: false };
  }

  /** write()'s checks; throws as write() does. */
  checkWrite(source: Uint8Array, offset = 0, length = source.byteLength - offset, position: number | null = null): IORequest {
    this.#check('write');
    checkRange(source, offset, length);
    if (!this.flags.write) throw new DaxError('EBADF', 'bad file descriptor (not open for writing), write', { errno: -9, syscall: 'write' });
    if (this.fs.readOnly) throw new DaxError('EROFS', 'read-only file system, write', { errno: -30, syscall: 'write' });
    const view = offset === 0 && length === source.byteLength ? source : source.subarray(offset, offset + length);
    return { view, position: this.#explicit(position), append: this.flags.append };
  }

  #explicit(position: number | null): number | null {
    return position === null || position === -1 ? null : checkSize(position, 'position');
  }

  /** Where the request starts: its position, the handle's, or the end of file when appending. */
  startOf(r: IORequest): number {
    return r.append ? this.fs.inode(this.ino).size : r.position ?? this.#position;
  }

  /** Moves the handle's position past `n` bytes done at `at`, when the request used it. */
  advance(r: IORequest, at: number, n: number): void {
    if (r.position === null || r.append) this.#position = at + n;
  }

  truncate(length = 0): void {
    this.#check('ftruncate');
    checkSize(length, 'length');
    if (!this.flags.write) throw new DaxError('EINVAL', 'invalid argument (not open for writing), ftruncate', { errno: -22, syscall: 'ftruncate' });
    this.fs.truncateIno(this.ino, length);
  }

  /**
   * fallocate: 'default' and 'keep-size' preallocate the holes of the range as unwritten
   * blocks (reading zeros), 'zero-range' makes the range read zeros, 'punch-hole' frees its
   * whole blocks. Checked in the kernel's order: mode, then EINVAL, EFBIG, EBADF, EROFS.
   */
  allocate(offset: number, length: number, mode: AllocateMode = 'default'): void {
    this.#check('fallocate');
    if (!(ALLOCATE_MODES as readonly unknown[]).includes(mode)) {
      throw argError('ERR_INVALID_ARG_VALUE', `The argument 'mode' must be one of: ${ALLOCATE_MODES.map((m) => `'${m}'`).join(', ')}. Received ${typeof mode === 'string' ? `'${mode}'` : String(mode)}`);
    }
    for (const [name, value] of [['offset', offset], ['length', length]] as const) {
      if (typeof value !== 'number') throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number. Received type ${typeof value}`);
      if (!Number.isSafeInteger(value)) throw argError('ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be a safe integer. Received ${value}`);
    }
    if (offset < 0 || length <= 0) throw this.#error('EINVAL', 22, 'invalid argument', 'fallocate');
    if (offset + length > MAX_FILE_SIZE) throw this.#error('EFBIG', 27, 'file too large', 'fallocate');
    if (!this.flags.write) throw this.#error('EBADF', 9, 'bad file descriptor (not open for writing)', 'fallocate');
    this.fs.allocateIno(this.ino, offset, length, mode, this.path);
  }

  /** An error worded as node:fs words one about a path: "EINVAL: invalid argument, fallocate '/x'". */
  #error(code: string, errno: number, what: string, syscall: string): DaxError {
    return new DaxError(code, `${what}, ${syscall} '${this.path}'`, { errno: -errno, syscall, path: this.path });
  }

  stat(): Stats {
    this.#check('fstat');
    return new Stats(this.fs.inode(this.ino), this.fs.dax);
  }

  /** Data written on a DAX mount is durable when write() returns; this orders the rest.
   *  On a non-DAX mount it writes back this file's cached pages first. */
  sync(): void {
    this.#check('fsync');
    this.fs.syncFile(this.ino);
  }

  datasync(): void {
    this.#check('fdatasync');
    this.fs.syncFile(this.ino);
  }

  /**
   * Maps [offset, offset+length) of the file (offset page aligned). Shared writable
   * mappings need the file open for writing; private ones copy on write and never change
   * the file. The mapping outlives close() (as in POSIX); unmap() or unmount() revokes it.
   */
  mmap(offset: number, length: number, options?: { write?: boolean; private?: boolean }): FileMapping {
    this.#check('mmap');
    checkSize(offset, 'offset');
    checkSize(length, 'length');
    const o = checkOptions<{ write?: boolean; private?: boolean }>(options, 'options');
    const write = checkBoolean(o.write, 'options.write') ?? false;
    const isPrivate = checkBoolean(o.private, 'options.private') ?? false;
    if (offset % PAGE_SIZE !== 0 || length === 0) {
      throw new DaxError('EINVAL', `invalid argument (offset must be a multiple of ${PAGE_SIZE} and length non-zero), mmap`, { errno: -22, syscall: 'mmap' });
    }
    if (!this.flags.read) throw new DaxError('EACCES', 'permission denied (not open for reading), mmap', { errno: -13, syscall: 'mmap' });
    if (write && !isPrivate && !this.flags.write) {
      throw new DaxError('EACCES', 'permission denied (a shared writable mapping needs the file open for writing), mmap', { errno: -13, syscall: 'mmap' });
    }
    return this.fs.mapFile(this.ino, offset, length, { write, private: isPrivate });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.fs.release(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** How the file was opened (sendfile and splice check access as the kernel does). */
  get openFlags(): Readonly<OpenFlags> {
    return this.flags;
  }
}
