// Zeroing parts of a DAX file's page: dax_zero_page_range and dax_truncate_page.
import { DaxError } from '../errors';
import { checkSize } from '../validate';
import { PAGE_SIZE, Piece, nextPiece } from './access';
import { DaxInode, GetBlock } from './getblock';

/**
 * Zeroes [from, from+length) within one page. Only a written block is touched: holes and
 * unwritten blocks already read as zeros, and nothing is allocated. Durable on return.
 */
export function daxZeroPageRange(inode: DaxInode, from: number, length: number, getBlock: GetBlock): void {
  checkSize(from, 'from');
  checkSize(length, 'length');
  const within = from % PAGE_SIZE;
  if (within + length > PAGE_SIZE) {
    throw new DaxError('EINVAL', `daxZeroPageRange: [${from}, ${from + length}) crosses a page boundary`, { errno: -22 });
  }
  if (length === 0) return;
  const m = getBlock(inode, Math.floor(from / PAGE_SIZE), 1, false);
  if (!m.mapped || m.unwritten) return;
  const ops = inode.device.dax;
  if (!ops) throw new DaxError('EOPNOTSUPP', `${inode.device.name} has no direct access`, { errno: -95 });
  const piece: Piece = { offset: 0, length: 0 };
  for (let at = 0; at < length; at += piece.length) {
    nextPiece(inode.device, m.block, within + at, length - at, piece);
    ops.zero(piece.offset, piece.length);
  }
  ops.drain();
}

/** Zeroes from `from` to the end of its page (nothing when `from` is page aligned). */
export function daxTruncatePage(inode: DaxInode, from: number, getBlock: GetBlock): void {
  checkSize(from, 'from');
  const within = from % PAGE_SIZE;
  if (within === 0) return;
  daxZeroPageRange(inode, from, PAGE_SIZE - within, getBlock);
}
