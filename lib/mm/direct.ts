// O_DIRECT on a non-DAX mount: transfers that bypass the page cache and go straight to
// the device sectors of a file's blocks, as the kernel's block direct I/O does. What the
// cache holds of the range is written back and dropped first, so a direct read sees
// cached writes and a later cached read sees the direct write.
import { SECTOR_SIZE } from '../block';
import { ConvertUnwritten, DaxInode, GetBlock, PAGE_SIZE } from '../dax';
import { DaxError } from '../errors';
import { checkBytes, checkSize } from '../validate';
import { pinMemory } from './gup';
import { PageCache } from './pagecache';

const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE;
const MAX_RUN = 256 * PAGE_SIZE;   // bytes per device transfer

export type DirectRw = 'read' | 'write';

/** File offset and length must be sector multiples (memory alignment is not checked). */
function checkAligned(rw: DirectRw, position: number, length: number): void {
  if (position % SECTOR_SIZE !== 0 || length % SECTOR_SIZE !== 0) {
    throw new DaxError('EINVAL', `invalid argument (O_DIRECT needs a position and length that are multiples of ${SECTOR_SIZE}; got ${position} and ${length}), ${rw}`, { errno: -22, syscall: rw });
  }
}

/** Writes back and drops the cached pages that [position, position+length) touches. */
function purge(cache: PageCache, ino: number, position: number, length: number): void {
  if (length === 0) return;
  const first = Math.floor(position / PAGE_SIZE);
  const last = Math.floor((position + length - 1) / PAGE_SIZE);
  cache.writeback(ino, first, last);
  cache.invalidate(ino, first, last);
}

function directRead(inode: DaxInode, position: number, buffer: Uint8Array, getBlock: GetBlock, cache: PageCache): number {
  if (position >= inode.size) return 0;
  const end = Math.min(position + buffer.byteLength, inode.size);
  let pos = position;
  while (pos < end) {
    const block = Math.floor(pos / PAGE_SIZE);
    const within = pos - block * PAGE_SIZE;
    const m = getBlock(inode, block, Math.ceil((end - block * PAGE_SIZE) / PAGE_SIZE), false);
    const span = Math.min(m.count * PAGE_SIZE - within, end - pos, MAX_RUN);
    const at = pos - position;
    if (!m.mapped || m.unwritten) buffer.fill(0, at, at + span);
    else {
      // EOF may end mid-sector: the last sector goes through a bounce buffer.
      const whole = span - (span % SECTOR_SIZE);
      const sector = m.block * SECTORS_PER_PAGE + within / SECTOR_SIZE;
      if (whole > 0) cache.device.readSectors(sector, buffer.subarray(at, at + whole));
      if (whole < span) {
        const bounce = Buffer.alloc(SECTOR_SIZE);
        cache.device.readSectors(sector + whole / SECTOR_SIZE, bounce);
        buffer.set(bounce.subarray(0, span - whole), at + whole);
      }
    }
    pos += span;
  }
  return end - position;
}

function directWrite(inode: DaxInode, position: number, buffer: Uint8Array, getBlock: GetBlock, cache: PageCache,
                     convert?: ConvertUnwritten): number {
  const end = position + buffer.byteLength;
  const device = cache.device;
  const toConvert: Array<[number, number]> = [];
  let pos = position;
  let failure: unknown;
  try {
    while (pos < end) {
      pos += writeRun(inode, pos, position, buffer, getBlock, cache, toConvert);
    }
  } catch (err) {
    failure = err;
  }
  if (toConvert.length > 0 && convert) {
    device.flush();   // data before the conversion that makes it visible
    for (const [block, count] of toConvert) convert(inode, block, count);
  }
  if (failure !== undefined && pos === position) throw failure;
  return pos - position;   // short after a failure (ENOSPC, say): the size covers what went in
}

/** One contiguous run of blocks of a direct write; returns the bytes it wrote. */
function writeRun(inode: DaxInode, pos: number, position: number, buffer: Uint8Array, getBlock: GetBlock,
                  cache: PageCache, toConvert: Array<[number, number]>): number {
  const device = cache.device;
  const end = position + buffer.byteLength;
  const block = Math.floor(pos / PAGE_SIZE);
  const within = pos - block * PAGE_SIZE;
  const m = getBlock(inode, block, Math.ceil((end - block * PAGE_SIZE) / PAGE_SIZE), true);
  if (!m.mapped) throw new DaxError('EIO', `getBlock(create) left block ${block} of inode ${inode.ino} unmapped`, { errno: -5 });
  const span = Math.min(m.count * PAGE_SIZE - within, end - pos, MAX_RUN);
  const blocks = Math.ceil((within + span) / PAGE_SIZE);
  const fresh = m.new || m.unwritten;
  // The parts of a fresh block the write does not cover must read as zeros, not old bytes.
  if (fresh && within > 0) device.writeSectors(m.block * SECTORS_PER_PAGE, Buffer.alloc(within));
  device.writeSectors(m.block * SECTORS_PER_PAGE + within / SECTOR_SIZE, buffer.subarray(pos - position, pos - position + span));
  const tail = (within + span) % PAGE_SIZE;
  if (fresh && tail !== 0) device.writeSectors((m.block + blocks - 1) * SECTORS_PER_PAGE + tail / SECTOR_SIZE, Buffer.alloc(PAGE_SIZE - tail));
  if (m.unwritten) toConvert.push([block, blocks]);
  return span;
}

/**
 * An O_DIRECT read or write of a file on a non-DAX mount (EFAULT when `buffer` cannot be
 * pinned: a view of a DAX file mapping under 'linux-4.0'). Reads stop at EOF; holes and
 * unwritten blocks read as zeros. Writes allocate through getBlock(create); like the
 * kernel's, they are on the device when this returns and durable after the next flush
 * (fsync). The caller changes the size afterwards.
 */
export function directIO(rw: DirectRw, inode: DaxInode, position: number, buffer: Uint8Array, getBlock: GetBlock,
                         cache: PageCache, convert?: ConvertUnwritten): number {
  checkSize(position, 'position');
  checkBytes(buffer, 'buffer');
  checkAligned(rw, position, buffer.byteLength);
  // The block layer pins the user's pages for the transfer: a view of a DAX file mapping
  // cannot be pinned under 'linux-4.0' (the seed's O_DIRECT case), so EFAULT, nothing moved.
  pinMemory(buffer, rw, 'buffer');
  purge(cache, inode.ino, position, buffer.byteLength);
  return rw === 'read' ? directRead(inode, position, buffer, getBlock, cache)
    : directWrite(inode, position, buffer, getBlock, cache, convert);
}
