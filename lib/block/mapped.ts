// A block device over a PmemMapping: the shared driver behind `ram` (like brd) and `pmem`.
// The whole device is byte-addressable at all times, so it implements direct access.
import { DaxError, argError } from '../errors';
import { platform } from '../platform';
import { PmemMapping } from '../pmem';
import { asyncCopier, pageView } from '../pmem/mapping';
import { checkSize } from '../validate';
import { BadBlocks } from './badblocks';
import {
  BlockDevice, DaxOperations, DirectAccess, SECTOR_SIZE, checkBadBlocks, checkSectorIO, ebadf,
} from './device';

const NO_DRAIN = { drain: false } as const;

// Plain fields, not #private ones: this object is made on every directAccess call, and
// the cheapest shape keeps daxIO's per-call cost down.
class MappedDirectAccess implements DirectAccess {
  constructor(private readonly mapping: PmemMapping, private readonly offset: number,
              readonly pfn: number, readonly length: number) {}
  /** Made on first use: most callers only need pfn and length. */
  get addr(): Buffer {
    return this.mapping.view(this.offset, this.length);
  }
}

export class MappedDevice implements BlockDevice {
  readonly sectorSize = SECTOR_SIZE;
  readonly supportsDax = true;
  readonly size: number;
  readonly badblocks = new BadBlocks();
  readonly dax: DaxOperations;
  readonly #mapping: PmemMapping;
  readonly #ownsMapping: boolean;
  readonly #pageSize: number;
  readonly #windowSize: number;
  readonly #windows: Buffer[] = [];
  #closed = false;

  constructor(readonly name: string, mapping: PmemMapping, ownsMapping: boolean, readonly path?: string) {
    this.#pageSize = platform().pageSize;
    this.size = Math.floor(mapping.size / this.#pageSize) * this.#pageSize;
    if (this.size === 0) {
      if (ownsMapping) mapping.close();
      throw argError('ERR_OUT_OF_RANGE', `A block device needs at least one page (${this.#pageSize} bytes); the mapping has ${mapping.size}`);
    }
    this.#mapping = mapping;
    this.#ownsMapping = ownsMapping;
    this.#windowSize = mapping.windowSize;
    // Device offsets are mapping offsets, so the async copy takes the segments as they are.
    const copyAsync = asyncCopier(mapping);
    this.dax = {
      copyIn: (offset, source, fence) => this.#mapping.copy(offset, source, fence === true ? undefined : NO_DRAIN),
      copyOut: (offset, target, targetOffset, length) => this.#copyOut(offset, target, targetOffset, length),
      zero: (offset, length) => this.#mapping.fill(offset, 0, length, NO_DRAIN),
      drain: () => this.#mapping.drain(),
      pageView: (offset, length, readOnly, unpinnable) => {
        if (this.#closed) throw ebadf(this.name);
        // As direct access: a bad block cannot be mapped (a fault on it is SIGBUS).
        checkBadBlocks(this.name, this.badblocks, Math.floor(offset / SECTOR_SIZE), Math.ceil(length / SECTOR_SIZE), 'direct_access');
        return pageView(this.#mapping, offset, length, readOnly, unpinnable);
      },
      ...(copyAsync && {
        copyInAsync: (segments: Float64Array, source: Uint8Array) => copyAsync(true, source, segments),
        copyOutAsync: (segments: Float64Array, target: Uint8Array) => copyAsync(false, target, segments),
      }),
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The mapping under the device (for drivers and tests; filesystems use directAccess). */
  get mapping(): PmemMapping {
    return this.#mapping;
  }

  #window(index: number): Buffer {
    let w = this.#windows[index];
    if (w === undefined || w.length === 0) {
      const start = index * this.#windowSize;
      w = this.#mapping.view(start, Math.min(this.#windowSize, this.#mapping.size - start));
      this.#windows[index] = w;
    }
    return w;
  }

  #copyOut(offset: number, target: Uint8Array, targetOffset: number, length: number): void {
    while (length > 0) {
      const index = Math.floor(offset / this.#windowSize);
      const start = offset - index * this.#windowSize;
      const n = Math.min(length, this.#windowSize - start);
      this.#window(index).copy(target, targetOffset, start, start + n);
      offset += n;
      targetOffset += n;
      length -= n;
    }
  }

  directAccess(sector: number, size: number): DirectAccess {
    if (!(Number.isSafeInteger(sector) && sector >= 0 && Number.isSafeInteger(size) && size >= 0)) {
      checkSize(sector, 'sector');
      checkSize(size, 'size');
    }
    if (this.#closed) throw ebadf(this.name);
    const offset = sector * SECTOR_SIZE;
    const page = this.#pageSize;
    if (offset % page !== 0) {
      throw new DaxError('EINVAL', `${this.name}: direct access needs a page-aligned sector (${page / SECTOR_SIZE} sectors a page); got sector ${sector}`, { errno: -22 });
    }
    const want = Math.max(page, Math.ceil(size / page) * page);
    if (offset + want > this.size) {
      throw new DaxError('ERANGE', `${this.name}: ${want} bytes from sector ${sector} run past the end of the device (${this.size} bytes)`, { errno: -34 });
    }
    checkBadBlocks(this.name, this.badblocks, sector, want / SECTOR_SIZE, 'direct_access');
    const windowEnd = (Math.floor(offset / this.#windowSize) + 1) * this.#windowSize;
    const length = Math.min(want, windowEnd - offset);
    return new MappedDirectAccess(this.#mapping, offset, offset / page, length);
  }

  persist(offset: number, length: number): void {
    if (this.#closed) throw ebadf(this.name);
    checkSize(offset, 'offset');
    checkSize(length, 'length');
    if (offset + length > this.size) {
      throw argError('ERR_OUT_OF_RANGE', `The range [${offset}, ${offset + length}) is out of range. ${this.name} is ${this.size} bytes`);
    }
    this.#mapping.persist(offset, length);
  }

  readSectors(sector: number, target: Uint8Array): void {
    const offset = checkSectorIO(this, sector, target, 'target');
    checkBadBlocks(this.name, this.badblocks, sector, target.byteLength / SECTOR_SIZE, 'read');
    this.#copyOut(offset, target, 0, target.byteLength);
  }

  writeSectors(sector: number, source: Uint8Array): void {
    const offset = checkSectorIO(this, sector, source, 'source');
    this.#mapping.copy(offset, source, NO_DRAIN);
    // Writing whole sectors clears their poison, as pmem's clear-on-write does.
    this.badblocks.clear(sector, source.byteLength / SECTOR_SIZE);
  }

  flush(): void {
    if (this.#closed) throw ebadf(this.name);
    this.#mapping.drain();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#windows.length = 0;
    if (this.#ownsMapping) this.#mapping.close();
  }
}
