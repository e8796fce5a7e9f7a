// How file data moves, chosen once at mount: straight to the device through lib/dax on a
// DAX mount, through the page cache (lib/mm) otherwise. Metadata never goes this way.
import { BlockDevice, SECTOR_SIZE } from '../block';
import { ConvertUnwritten, daxIO, daxTruncatePage, daxZeroPageRange, DaxInode, GetBlock } from '../dax';
import { directIO } from '../mm/direct';
import { PageCache, PageCacheOptions } from '../mm/pagecache';
import { cachePages, daxPages, PageSource } from '../mm/pagesource';
import { BLOCK_SIZE } from './layout';

export interface DataPath {
  read(inode: DaxInode, buffer: Uint8Array, position: number, getBlock: GetBlock, direct: boolean): number;
  /** The caller changes the size afterwards (a journaled metadata change). `convert` marks
   *  unwritten blocks written once the data in them is durable. */
  write(inode: DaxInode, buffer: Uint8Array, position: number, getBlock: GetBlock, direct: boolean,
        convert?: ConvertUnwritten): number;
  /** Makes newly allocated blocks read as zeros on the device, durably, before they are linked. */
  zeroBlocks(start: number, count: number): void;
  /** Before a file shrinks to `size`: zeroes the rest of the new last page, durably. */
  truncate(inode: DaxInode, size: number, getBlock: GetBlock): void;
  /** Zeroes [from, from+length) inside one block of a file, durably (fallocate's partial ends). */
  zeroRange(inode: DaxInode, from: number, length: number, getBlock: GetBlock): void;
  /** Before fallocate changes the blocks under [offset, offset+length): writes back the file
   *  and drops its copies of those pages, so nothing stale is read or written back later. */
  invalidate(ino: number, offset: number, length: number): void;
  /** The file's storage is gone (or its number reused): drop what is held of it. */
  forget(ino: number): void;
  /** Makes one file's written data durable (every file's when ino is undefined). */
  sync(ino?: number): void;
  /** What file mappings map on this mount. */
  readonly pages: PageSource;
  /** Unmount, after sync: memory held for the mount goes. */
  close(): void;
}

class DaxData implements DataPath {
  readonly pages: PageSource;
  constructor(private readonly device: BlockDevice) {
    this.pages = daxPages(device);
  }
  // O_DIRECT of a DAX file is the DAX path itself, as in the kernel.
  read(inode: DaxInode, buffer: Uint8Array, position: number, getBlock: GetBlock): number {
    return daxIO('read', inode, position, buffer, getBlock);
  }
  write(inode: DaxInode, buffer: Uint8Array, position: number, getBlock: GetBlock, _direct: boolean,
        convert?: ConvertUnwritten): number {
    return daxIO('write', inode, position, buffer, getBlock, convert);
  }
  zeroBlocks(start: number, count: number): void {
    const ops = this.device.dax!;
    ops.zero(start * BLOCK_SIZE, count * BLOCK_SIZE);
    ops.drain();
  }
  truncate(inode: DaxInode, size: number, getBlock: GetBlock): void {
    daxTruncatePage(inode, size, getBlock);
  }
  zeroRange(inode: DaxInode, from: number, length: number, getBlock: GetBlock): void {
    daxZeroPageRange(inode, from, length, getBlock);
  }
  invalidate(): void {}   // no copies: the device is the file
  forget(): void {}
  sync(): void {}   // written data is durable when write() returns
  close(): void {}
}

const ZERO_CHUNK = 1024 * 1024;
let zeros: Buffer | undefined;

class CachedData implements DataPath {
  readonly cache: PageCache;
  readonly pages: PageSource;
  constructor(private readonly device: BlockDevice, options?: PageCacheOptions) {
    this.cache = new PageCache(device, options);
    this.pages = cachePages(this.cache);
  }
  read(inode: DaxInode, buffer: Uint8Array, position: number, getBlock: GetBlock, direct: boolean): number {
    return direct ? directIO('read', inode, position, buffer, getBlock, this.cache) : this.cache.read(inode, position, buffer, getBlock);
  }
  write(inode: DaxInode, buffer: Uint8Array, position: number, getBlock: GetBlock, direct: boolean,
        convert?: ConvertUnwritten): number {
    return direct ? directIO('write', inode, position, buffer, getBlock, this.cache, convert)
      : this.cache.write(inode, position, buffer, getBlock, convert);
  }
  zeroBlocks(start: number, count: number): void {
    zeros ??= Buffer.alloc(ZERO_CHUNK);
    const sectorsPerBlock = BLOCK_SIZE / SECTOR_SIZE;
    for (let done = 0; done < count * BLOCK_SIZE; done += ZERO_CHUNK) {
      const n = Math.min(ZERO_CHUNK, count * BLOCK_SIZE - done);
      this.device.writeSectors(start * sectorsPerBlock + done / SECTOR_SIZE, zeros.subarray(0, n));
    }
    this.device.flush();
  }
  truncate(inode: DaxInode, size: number, getBlock: GetBlock): void {
    this.cache.truncate(inode, size, getBlock);
  }
  zeroRange(inode: DaxInode, from: number, length: number, getBlock: GetBlock): void {
    this.cache.zero(inode, from, length, getBlock);
  }
  invalidate(ino: number, offset: number, length: number): void {
    this.sync(ino);
    this.cache.invalidate(ino, Math.floor(offset / BLOCK_SIZE), Math.ceil((offset + length) / BLOCK_SIZE) - 1);
  }
  forget(ino: number): void {
    this.cache.forget(ino);
  }
  sync(ino?: number): void {
    if (ino === undefined) this.cache.writebackAll();
    else this.cache.writeback(ino);
    this.device.flush();
  }
  close(): void {
    this.cache.close();
  }
}

export function dataPath(device: BlockDevice, dax: boolean, options?: PageCacheOptions): DataPath {
  return dax ? new DaxData(device) : new CachedData(device, options);
}
