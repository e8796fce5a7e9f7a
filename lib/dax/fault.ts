// The DAX fault handler (the kernel's dax_fault): what a file mapping's page maps to. It
// decides; lib/mm makes the views. Written against getBlock, like the rest of lib/dax.
import { DaxError } from '../errors';
import { PAGE_SIZE } from './access';
import { ConvertUnwritten, DaxInode, GetBlock } from './getblock';

export type FaultAccess = 'read' | 'write';

/** What a faulted page maps: the zero page (a hole read), or a device block. */
export type FaultResult =
  | { zero: true }
  | { zero: false; deviceBlock: number; allocated: boolean; count: number };

const ZERO: FaultResult = { zero: true };

function sigbus(message: string, cause?: unknown): DaxError {
  return new DaxError('SIGBUS', message, cause === undefined ? {} : { cause });
}

/** SIGBUS unless page `pageIndex` holds bytes of the file; returns the file's page count. */
export function checkPageInFile(inode: DaxInode, pageIndex: number): number {
  const pages = Math.ceil(inode.size / PAGE_SIZE);
  if (pageIndex >= pages) {
    throw sigbus(`page ${pageIndex} of inode ${inode.ino} is past the end of the file (${inode.size} bytes, ${pages} pages)`);
  }
  return pages;
}

/** A fault cannot return an errno: a failure to get a block is SIGBUS with the cause. */
export function faultFailed(inode: DaxInode, pageIndex: number, err: unknown): DaxError {
  const code = (err as { code?: string }).code ?? 'error';
  return sigbus(`a write fault of page ${pageIndex} of inode ${inode.ino} could not get a block (${code})`, err);
}

/**
 * Faults file page `pageIndex` of `inode`. A page at or past ceil(size / 4096) is SIGBUS
 * (bytes past EOF inside the last page stay accessible). A read of a hole or an unwritten
 * block maps the zero page and allocates nothing. A write allocates with getBlock(create);
 * new or unwritten blocks are zeroed and fenced before anything can map them, and a failure
 * (ENOSPC, EIO) becomes SIGBUS with the cause attached, as a fault cannot return an errno.
 * `around` (write faults): allocate or convert up to that many blocks from this page on,
 * within EOF, all zeroed; `count` says how many the answer made ready.
 */
export function daxFault(inode: DaxInode, pageIndex: number, access: FaultAccess, getBlock: GetBlock,
                         convert?: ConvertUnwritten, around = 1): FaultResult {
  const pages = checkPageInFile(inode, pageIndex);
  if (access === 'read') {
    const m = getBlock(inode, pageIndex, 1, false);
    if (!m.mapped || m.unwritten) return ZERO;
    return { zero: false, deviceBlock: m.block, allocated: false, count: 1 };
  }
  const ops = inode.device.dax;
  if (!ops) throw sigbus(`${inode.device.name} has no direct access`);
  let m;
  try {
    // Look first: a written block needs nothing, and "allocated" (a major fault) must not
    // depend on a filesystem that zeroes its own new blocks and so never reports `new`.
    const had = getBlock(inode, pageIndex, 1, false);
    if (had.mapped && !had.unwritten) return { zero: false, deviceBlock: had.block, allocated: false, count: 1 };
    m = getBlock(inode, pageIndex, Math.max(1, Math.min(around, pages - pageIndex)), true);
    if (!m.mapped) throw new DaxError('EIO', `getBlock(create) left block ${pageIndex} of inode ${inode.ino} unmapped`, { errno: -5 });
    const fresh = m.new || m.unwritten;
    if (fresh) {
      // Old bytes of a reused block must never reach a view, nor survive a crash there.
      ops.zero(m.block * PAGE_SIZE, m.count * PAGE_SIZE);
      ops.drain();
      if (m.unwritten && convert) convert(inode, pageIndex, m.count);
    }
    return { zero: false, deviceBlock: m.block, allocated: true, count: m.count };
  } catch (err) {
    throw faultFailed(inode, pageIndex, err);
  }
}
