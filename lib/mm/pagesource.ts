// Where a file mapping's pages come from. On a DAX mount a page is the device block itself
// (lib/dax decides, the device hands out the view); on any other mount it is a page-cache
// page (lib/mm/pagecache), written back by sync(). FileMapping is the same over both.
import type { BlockDevice } from '../block';
import { ConvertUnwritten, daxFault, daxIO, DaxInode, FaultAccess, FaultResult, GetBlock, PAGE_SIZE } from '../dax';
import { checkPageInFile } from '../dax/fault';
import { DaxError } from '../errors';
import type { PageCache } from './pagecache';

export interface PageSource {
  /** True when views map the storage itself. */
  readonly dax: boolean;
  /**
   * What file page `page` maps: the zero page (a read of a hole), or a run of `count`
   * blocks of memory from `deviceBlock` (device blocks on DAX, cache slots otherwise).
   * SIGBUS past EOF; a write allocates (and zeroes what is new) first.
   */
  fault(inode: DaxInode, page: number, access: FaultAccess, getBlock: GetBlock,
        convert: ConvertUnwritten | undefined, around: number): FaultResult;
  /** A view of `count` blocks from `block`, contiguous in memory (else EOPNOTSUPP);
   *  `unpinnable` (DAX only) for get_user_pages to refuse (lib/mm/gup). */
  view(block: number, count: number, readOnly: boolean, unpinnable: boolean): ArrayBuffer;
  /** Copies file page `page` into `into` (a private mapping's copy on write); SIGBUS past EOF. */
  read(inode: DaxInode, page: number, into: Buffer, getBlock: GetBlock): void;
  /** msync: what was stored through writable views of these blocks of file `ino` is durable afterwards. */
  sync(ino: number, blocks: readonly number[]): void;
}

/** DAX: the device's own memory, persisted with its flushes. */
export function daxPages(device: BlockDevice): PageSource {
  return {
    dax: true,
    fault: (inode, page, access, getBlock, convert, around) => daxFault(inode, page, access, getBlock, convert, around),
    view(block, count, readOnly, unpinnable) {
      const ops = device.dax;
      if (!ops?.pageView) throw new DaxError('EOPNOTSUPP', 'this device cannot hand out page views', { errno: -95, syscall: 'mmap' });
      return ops.pageView(block * PAGE_SIZE, count * PAGE_SIZE, readOnly, unpinnable);
    },
    read(inode, page, into, getBlock) {
      checkPageInFile(inode, page);
      daxIO('read', inode, page * PAGE_SIZE, into, getBlock);
    },
    sync(_ino, blocks) {
      for (const b of blocks) device.persist(b * PAGE_SIZE, PAGE_SIZE);
    },
  };
}

/** Any other mount: page-cache pages, moved to an arena slot when first mapped. */
export function cachePages(cache: PageCache): PageSource {
  return {
    dax: false,
    fault: (inode, page, access, getBlock, convert) => cache.fault(inode, page, access, getBlock, convert),
    view: (slot, count, readOnly) => cache.view(slot, count, readOnly),   // page-cache memory pins
    read(inode, page, into, getBlock) {
      checkPageInFile(inode, page);
      cache.read(inode, page * PAGE_SIZE, into, getBlock);
    },
    sync(ino) {
      // Stores through views are not seen one by one: every page mapped writable is written.
      cache.writeback(ino);
      cache.device.flush();
    },
  };
}
