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

export class FileHandle {
  #position = 0;
  #closed = false;

  constructor(private readonly fs: Filesystem, readonly ino: number, private readonly flags: OpenFlags, readonly path: string) {}

  #check(syscall: string): void {
    if (this.#closed || !this.fs.mounted) throw new DaxError('EBADF', `bad file descriptor, ${syscall}`, { errno: -9, syscall });
  }

  /** Reads into target[offset, offset+length) from `position` (null or -1: the handle's position, advanced). */
  read(target: Uint8Array, offset = 0, length = target.byteLength - offset, position: number | null = null): number {
    this.#check('read');
    checkRange(target, offset, length);
    if (!this.flags.read) throw new DaxError('EBADF', 'bad file descriptor (not open for reading), read', { errno: -9, syscall: 'read' });
    const current = position === null || position === -1;
    const at = current ? this.#position : checkSize(position, 'position');
    const n = this.fs.readAt(this.ino, target.subarray(offset, offset + length), at);
    if (current) this.#position += n;
    return n;
  }

  write(source: Uint8Array, offset = 0, length = source.byteLength - offset, position: number | null = null): number {
    this.#check('write');
    checkRange(source, offset, length);
    if (!this.flags.write) throw new DaxError('EBADF', 'bad file descriptor (not open for writing), write', { errno: -9, syscall: 'write' });
    if (this.fs.readOnly) throw new DaxError('EROFS', 'read-only file system, write', { errno: -30, syscall: 'write' });
    const current = position === null || position === -1;
    const at = current ? this.#position : checkSize(position, 'position');
    const view = offset === 0 && length === source.byteLength ? source : source.subarray(offset, offset + length);
    if (this.flags.append) {
      const { position: end, bytes } = this.fs.appendAt(this.ino, view);
      this.#position = end + bytes;
      return bytes;
    }
    const n = this.fs.writeAt(this.ino, view, at);
    if (current) this.#position = at + n;
    return n;
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
