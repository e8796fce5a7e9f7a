// Byte-granular access to a device for filesystem metadata, whatever the device: DAX
// devices through their dax operations (flushed stores, one drain per barrier), others
// through whole sectors (read-modify-write, then a cache flush at the barrier).
import { BlockDevice, DaxOperations, SECTOR_SIZE } from '../block';
import { BadBlocks } from '../block/badblocks';
import { DaxError } from '../errors';

export interface MetaIO {
  readonly device: BlockDevice;
  /** A copy of [offset, offset+length). */
  read(offset: number, length: number): Buffer;
  /** Stores bytes; durable only after the next barrier(). */
  write(offset: number, data: Uint8Array): void;
  /** Everything written before is durable when this returns (a fence / cache flush). */
  barrier(): void;
}

/** True when a sector of [first, first+count) is in the device's bad block list. */
function hasBad(device: BlockDevice, first: number, count: number): boolean {
  const bad = device.badblocks;
  if (bad instanceof BadBlocks) return bad.intersects(first, count);   // one compare when empty
  return bad.list().some(([s, c]) => s < first + count && first < s + c);
}

/** A backstop for corrupt metadata that escaped its checks: never an access past the device. */
function inDevice(device: BlockDevice, offset: number, length: number): void {
  if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + length <= device.size)) {
    throw new DaxError('EUCLEAN', `metadata at bytes ${offset}..${offset + length} would lie outside ${device.name} (${device.size} bytes): the filesystem is corrupt`, { errno: -117 });
  }
}

function eio(device: BlockDevice, first: number, count: number, syscall: string): DaxError {
  return new DaxError('EIO', `${device.name}: sectors ${first}..${first + count} of metadata hold a bad block`, { errno: -5, syscall });
}

// Metadata reads of a bad sector fail with EIO, as the block layer's would; a write clears
// the bad sectors it covers whole (pmem's clear-on-write) and fails with EIO on one it
// covers in part, as the sector path's read-modify-write does.
class DaxMetaIO implements MetaIO {
  constructor(readonly device: BlockDevice, private readonly ops: DaxOperations) {}
  read(offset: number, length: number): Buffer {
    this.#inDevice(offset, length);
    const first = Math.floor(offset / SECTOR_SIZE);
    const count = Math.ceil((offset + length) / SECTOR_SIZE) - first;
    if (hasBad(this.device, first, count)) throw eio(this.device, first, count, 'read');
    const out = Buffer.allocUnsafe(length);
    this.ops.copyOut(offset, out, 0, length);
    return out;
  }
  write(offset: number, data: Uint8Array): void {
    this.#inDevice(offset, data.byteLength);
    const first = Math.floor(offset / SECTOR_SIZE);
    const end = Math.ceil((offset + data.byteLength) / SECTOR_SIZE);
    if (hasBad(this.device, first, end - first)) {
      if (offset % SECTOR_SIZE && hasBad(this.device, first, 1)) throw eio(this.device, first, 1, 'write');
      if ((offset + data.byteLength) % SECTOR_SIZE && hasBad(this.device, end - 1, 1)) throw eio(this.device, end - 1, 1, 'write');
      this.ops.copyIn(offset, data);
      this.device.badblocks.clear(first, end - first);
      return;
    }
    this.ops.copyIn(offset, data);
  }
  #inDevice(offset: number, length: number): void {
    inDevice(this.device, offset, length);
  }
  barrier(): void {
    this.ops.drain();
  }
}

class SectorMetaIO implements MetaIO {
  constructor(readonly device: BlockDevice) {}
  #span(offset: number, length: number): [number, Buffer] {
    inDevice(this.device, offset, length);
    const first = Math.floor(offset / SECTOR_SIZE);
    const last = Math.ceil((offset + length) / SECTOR_SIZE);
    const buf = Buffer.alloc((last - first) * SECTOR_SIZE);
    this.device.readSectors(first, buf);
    return [first, buf];
  }
  read(offset: number, length: number): Buffer {
    const [first, buf] = this.#span(offset, length);
    const at = offset - first * SECTOR_SIZE;
    return buf.subarray(at, at + length);
  }
  write(offset: number, data: Uint8Array): void {
    const [first, buf] = this.#span(offset, data.byteLength);
    buf.set(data, offset - first * SECTOR_SIZE);
    this.device.writeSectors(first, buf);
  }
  barrier(): void {
    this.device.flush();
  }
}

export function metaIO(device: BlockDevice): MetaIO {
  return device.supportsDax && device.dax ? new DaxMetaIO(device, device.dax) : new SectorMetaIO(device);
}
