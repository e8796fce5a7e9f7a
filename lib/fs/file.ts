// FileHandle: an open file, as node:fs's synchronous calls use one.
import { DaxError, argError } from '../errors';
import { checkBytes, checkSize } from '../validate';
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
    const n = this.fs.readAt(this.ino, r.view, at);
    this.advance(r, at, n);
    return n;
  }

  write(source: Uint8Array, offset = 0, length = source.byteLength - offset, position: number | null = null): number {
    const r = this.checkWrite(source, offset, length, position);
    const at = this.startOf(r);
    const n = this.fs.writeAt(this.ino, r.view, at);
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

  stat(): Stats {
    this.#check('fstat');
    return new Stats(this.fs.inode(this.ino), this.fs.dax);
  }

  /** Data written on a DAX mount is durable when write() returns; this orders the rest. */
  sync(): void {
    this.#check('fsync');
    this.fs.sync();
  }

  datasync(): void {
    this.#check('fdatasync');
    this.fs.sync();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.fs.release(this);
  }

  get closed(): boolean {
    return this.#closed;
  }
}
