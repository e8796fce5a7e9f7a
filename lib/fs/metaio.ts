// Byte-granular access to a device for filesystem metadata, whatever the device: DAX
// devices through their dax operations (flushed stores, one drain per barrier), others
// through whole sectors (read-modify-write, then a cache flush at the barrier).
import { BlockDevice, DaxOperations, SECTOR_SIZE } from '../block';

export interface MetaIO {
  readonly device: BlockDevice;
  /** A copy of [offset, offset+length). */
  read(offset: number, length: number): Buffer;
  /** Stores bytes; durable only after the next barrier(). */
  write(offset: number, data: Uint8Array): void;
  /** Everything written before is durable when this returns (a fence / cache flush). */
  barrier(): void;
}

class DaxMetaIO implements MetaIO {
  constructor(readonly device: BlockDevice, private readonly ops: DaxOperations) {}
  read(offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    this.ops.copyOut(offset, out, 0, length);
    return out;
  }
  write(offset: number, data: Uint8Array): void {
    this.ops.copyIn(offset, data);
  }
  barrier(): void {
    this.ops.drain();
  }
}

class SectorMetaIO implements MetaIO {
  constructor(readonly device: BlockDevice) {}
  #span(offset: number, length: number): [number, Buffer] {
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
