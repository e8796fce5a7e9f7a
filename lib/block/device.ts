// The block device interface (the kernel's block_device_operations, reduced to what DAX
// needs) and the checks every driver shares.
import { DaxError, argError } from '../errors';
import { checkBytes, checkSize } from '../validate';
import { BadBlocks } from './badblocks';

export const SECTOR_SIZE = 512;

export interface DirectAccess {
  /** Device-relative page frame number of `sector`. */
  readonly pfn: number;
  /** Bytes contiguously accessible from `sector`: a multiple of the page size, >= one page. */
  readonly length: number;
  /** A view of those bytes, for the filesystem's own use: never hand it to users. */
  readonly addr: Buffer;
}

/**
 * What lib/dax uses to move file data (the kernel's dax_operations): byte offsets on the
 * device, stores that are flushed (or non-temporal) but not fenced, and one drain() to end
 * a call. Every persistence point still goes through the device's PmemMapping.
 */
export interface DaxOperations {
  /** With `fence`, this store and every earlier one are durable on return: the call's
   *  drain() folded into its last store, one native call fewer on the write path. */
  copyIn(offset: number, source: Uint8Array, fence?: boolean): void;
  copyOut(offset: number, target: Uint8Array, targetOffset: number, length: number): void;
  zero(offset: number, length: number): void;
  drain(): void;
  /**
   * Its own ArrayBuffer over [offset, offset+length) (page aligned) for a file mapping's
   * page, revocable by itself; readOnly gives PROT_READ memory; `unpinnable` marks it as
   * memory get_user_pages cannot pin (lib/mm/gup). Absent: no page views.
   */
  pageView?(offset: number, length: number, readOnly: boolean, unpinnable?: boolean): ArrayBuffer;

  /**
   * Optional: one copy of many pieces off the main thread. `segments` holds
   * (deviceOffset, bufferOffset, length) triples. copyInAsync's bytes are durable when its
   * promise resolves (flushed, one fence on the copying thread); stores made on the main
   * thread still need drain(). Devices without them get the synchronous calls.
   */
  copyInAsync?(segments: Float64Array, source: Uint8Array): Promise<void>;
  copyOutAsync?(segments: Float64Array, target: Uint8Array): Promise<void>;
}

export interface BadBlockList {
  add(sector: number, count: number): void;
  list(): Array<[number, number]>;
  clear(sector: number, count: number): void;
}

export interface BlockDevice {
  readonly name: string;
  readonly size: number;
  readonly sectorSize: 512;
  readonly supportsDax: boolean;
  /** The file or device node the storage lives in (absolute), when there is one: mount and
   *  fsck claim it so that another process cannot use it at the same time. */
  readonly path?: string;
  directAccess(sector: number, size: number): DirectAccess;
  /** Durable on return (byte offsets). */
  persist(offset: number, length: number): void;
  readSectors(sector: number, target: Uint8Array): void;
  writeSectors(sector: number, source: Uint8Array): void;
  /** Make every completed write durable (REQ_PREFLUSH). */
  flush(): void;
  readonly badblocks: BadBlockList;
  /** Present on devices that support DAX. */
  readonly dax?: DaxOperations;
  readonly closed: boolean;
  close(): void;
}

export function ebadf(name: string): DaxError {
  return new DaxError('EBADF', `block device ${name} is closed`, { errno: -9 });
}

/** Checks a sector I/O and returns its byte offset. */
export function checkSectorIO(dev: { name: string; size: number; closed: boolean }, sector: number,
                              buffer: Uint8Array, what: string): number {
  checkSize(sector, 'sector');
  checkBytes(buffer, what);
  if (dev.closed) throw ebadf(dev.name);
  if (buffer.byteLength % SECTOR_SIZE !== 0) {
    throw argError('ERR_INVALID_ARG_VALUE', `The "${what}" length must be a multiple of ${SECTOR_SIZE} bytes. Received ${buffer.byteLength}`);
  }
  const offset = sector * SECTOR_SIZE;
  if (offset + buffer.byteLength > dev.size) {
    throw new DaxError('ERANGE', `sectors ${sector}..${sector + buffer.byteLength / SECTOR_SIZE} run past the end of ${dev.name} (${dev.size / SECTOR_SIZE} sectors)`, { errno: -34 });
  }
  return offset;
}

export function checkBadBlocks(name: string, badblocks: BadBlocks, sector: number, count: number, syscall: string): void {
  if (badblocks.intersects(sector, count)) {
    throw new DaxError('EIO', `${name}: sectors ${sector}..${sector + count} hold a bad block`, { errno: -5, syscall });
  }
}
