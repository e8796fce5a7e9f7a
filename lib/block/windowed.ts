// A device that reaches its storage only through a small window, paging it in and out
// with pread/pwrite (a backing file) or copies (backing memory). Its storage is not
// byte-addressable as a whole, so it must not implement direct access: the kind of
// device the DAX document says cannot support DAX.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { DaxError, argError } from '../errors';
import { mapAnonymous, PmemMapping } from '../pmem';
import { checkOptions, checkSize, checkString } from '../validate';
import { BadBlocks } from './badblocks';
import { BlockDevice, DirectAccess, SECTOR_SIZE, checkBadBlocks, checkSectorIO, ebadf } from './device';

export interface WindowedOptions {
  /** Bytes visible at once (a multiple of 512; default 64 KiB). */
  window?: number;
  /** Backing file (created sparse, or reused); default: anonymous memory. */
  path?: string;
}

interface Backing {
  read(target: Buffer, position: number): void;
  write(source: Buffer, position: number): void;
  sync(): void;
  close(): void;
}

function fileBacking(path: string, size: number): Backing {
  const fd = fs.openSync(path, 'a+');
  fs.closeSync(fd);
  const rw = fs.openSync(path, 'r+');
  if (fs.fstatSync(rw).size < size) fs.ftruncateSync(rw, size);
  return {
    read: (target, position) => { fs.readSync(rw, target, 0, target.length, position); },
    write: (source, position) => { fs.writeSync(rw, source, 0, source.length, position); },
    sync: () => fs.fdatasyncSync(rw),
    close: () => fs.closeSync(rw),
  };
}

function memoryBacking(size: number): Backing {
  const memory: PmemMapping = mapAnonymous(size);
  return {
    read: (target, position) => { target.set(memory.view(position, target.length)); },
    write: (source, position) => { memory.copy(position, source, { persist: false }); },
    sync: () => {},
    close: () => memory.close(),
  };
}

export class WindowedDevice implements BlockDevice {
  readonly sectorSize = SECTOR_SIZE;
  readonly supportsDax = false;
  readonly badblocks = new BadBlocks();
  readonly size: number;
  readonly windowSize: number;
  readonly path?: string;
  readonly #backing: Backing;
  readonly #window: Buffer;
  #base = -1;        // device offset the window shows, -1 when empty
  #dirty = false;
  #closed = false;
  /** Window moves so far (tests use it to see the paging happen). */
  windowMoves = 0;

  constructor(readonly name: string, size: number, options?: WindowedOptions) {
    checkSize(size, 'size');
    const o = checkOptions<WindowedOptions>(options, 'options');
    const window = o.window === undefined ? 64 * 1024 : checkSize(o.window, 'options.window');
    if (size === 0 || size % SECTOR_SIZE !== 0) {
      throw argError('ERR_OUT_OF_RANGE', `The device size must be a positive multiple of ${SECTOR_SIZE}. Received ${size}`);
    }
    if (window === 0 || window % SECTOR_SIZE !== 0 || window > size) {
      throw argError('ERR_OUT_OF_RANGE', `The window must be a positive multiple of ${SECTOR_SIZE} no larger than the device. Received ${window}`);
    }
    this.size = size;
    this.windowSize = window;
    if (o.path !== undefined) this.path = nodePath.resolve(checkString(o.path, 'options.path'));
    this.#backing = this.path === undefined ? memoryBacking(size) : fileBacking(this.path, size);
    this.#window = Buffer.alloc(window);
  }

  get closed(): boolean {
    return this.#closed;
  }

  directAccess(_sector: number, _size: number): DirectAccess {
    throw new DaxError('EOPNOTSUPP', `${this.name} pages its storage through a ${this.windowSize}-byte window and cannot give direct access; mount it without dax`, { errno: -95, syscall: 'direct_access' });
  }

  #writeBack(): void {
    if (this.#dirty) {
      this.#backing.write(this.#window.subarray(0, Math.min(this.windowSize, this.size - this.#base)), this.#base);
      this.#dirty = false;
    }
  }

  /** Shows the window that holds `offset` and returns where offset is inside it. */
  #moveTo(offset: number): number {
    const base = Math.floor(offset / this.windowSize) * this.windowSize;
    if (base !== this.#base) {
      this.#writeBack();
      this.#window.fill(0);
      this.#backing.read(this.#window.subarray(0, Math.min(this.windowSize, this.size - base)), base);
      this.#base = base;
      this.windowMoves++;
    }
    return offset - base;
  }

  readSectors(sector: number, target: Uint8Array): void {
    let offset = checkSectorIO(this, sector, target, 'target');
    checkBadBlocks(this.name, this.badblocks, sector, target.byteLength / SECTOR_SIZE, 'read');
    let done = 0;
    while (done < target.byteLength) {
      const at = this.#moveTo(offset);
      const n = Math.min(target.byteLength - done, this.windowSize - at);
      this.#window.copy(target, done, at, at + n);
      done += n;
      offset += n;
    }
  }

  writeSectors(sector: number, source: Uint8Array): void {
    let offset = checkSectorIO(this, sector, source, 'source');
    const bytes = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    let done = 0;
    while (done < bytes.length) {
      const at = this.#moveTo(offset);
      const n = Math.min(bytes.length - done, this.windowSize - at);
      bytes.copy(this.#window, at, done, done + n);
      this.#dirty = true;
      done += n;
      offset += n;
    }
    this.badblocks.clear(sector, source.byteLength / SECTOR_SIZE);
  }

  persist(offset: number, length: number): void {
    checkSize(offset, 'offset');
    checkSize(length, 'length');
    if (this.#closed) throw ebadf(this.name);
    if (offset + length > this.size) {
      throw argError('ERR_OUT_OF_RANGE', `The range [${offset}, ${offset + length}) is out of range. ${this.name} is ${this.size} bytes`);
    }
    this.flush();
  }

  flush(): void {
    if (this.#closed) throw ebadf(this.name);
    this.#writeBack();
    this.#backing.sync();
  }

  close(): void {
    if (this.#closed) return;
    this.#writeBack();
    this.#closed = true;
    this.#backing.close();
  }
}
