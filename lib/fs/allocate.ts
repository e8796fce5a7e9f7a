// fallocate: preallocation, zero-range and punch-hole, and the conversion of unwritten
// blocks once data is written into them (docs/SEMANTICS.md, "allocate").
//
// The metadata side is device-agnostic: one journal transaction per call. The only data
// the modes touch are the partial blocks at the ends of a zero-range or punch-hole, which
// go through the context's zeroInPlace (lib/dax on a DAX mount, the page cache otherwise).
import { DaxError } from '../errors';
import { convert, Extent, hasUnwritten, holes, insert, markUnwritten, remove } from './extents';
import { BlockSource, Inode, InodeTable } from './inode';
import { Journal, Transaction } from './journal';
import { BLOCK_SIZE } from './layout';

export const ALLOCATE_MODES = ['default', 'keep-size', 'zero-range', 'punch-hole'] as const;
export type AllocateMode = typeof ALLOCATE_MODES[number];

/** Extents keep file block numbers in a u32, so no file reaches past 2^32 blocks. */
export const MAX_FILE_SIZE = 2 ** 32 * BLOCK_SIZE;

export interface AllocateContext {
  readonly journal: Journal;
  readonly table: InodeTable;
  readonly blocks: BlockSource;
  /** First data block: where allocation starts for a file with nothing mapped yet. */
  readonly dataStart: number;
  /** Zeroes [from, from+length) of the file, within one block, durably. Holes and
   *  unwritten blocks are left alone (they read as zeros); nothing is allocated. */
  zeroInPlace(inode: Inode, from: number, length: number): void;
}

/** Blocks in a 2 MiB huge page (FileMapping.huge maps one such run). */
export const HUGE_BLOCKS = (2 * 1024 * 1024) / BLOCK_SIZE;

/**
 * Where to look for `count` blocks for `fileBlock`: right after the device block that
 * precedes it in the file (so files stay contiguous), else a per-inode spot so files spread
 * out. A request of 2 MiB or more moves the goal up to a device block congruent to
 * `fileBlock` modulo 2 MiB, so every 2 MiB aligned part of the file lands on a 2 MiB aligned
 * device run when space allows (what huge() needs).
 */
export function allocationGoal(extents: readonly Extent[], fileBlock: number, ino: number, dataStart: number, count = 1): number {
  const before = extents.filter((e) => e.fileBlock < fileBlock).pop();
  const goal = before ? before.deviceBlock + (fileBlock - before.fileBlock) : dataStart + (ino % 64) * HUGE_BLOCKS;
  if (count < HUGE_BLOCKS) return goal;
  const skew = (((fileBlock - goal) % HUGE_BLOCKS) + HUGE_BLOCKS) % HUGE_BLOCKS;
  return goal + skew;
}

/** The byte ranges of [offset, end) that cover only part of a block. */
function partialBlocks(offset: number, end: number): Array<[number, number]> {
  const headWhole = Math.ceil(offset / BLOCK_SIZE) * BLOCK_SIZE;
  const tailWhole = Math.floor(end / BLOCK_SIZE) * BLOCK_SIZE;
  if (headWhole > tailWhole) return [[offset, end - offset]];   // inside one block
  const out: Array<[number, number]> = [];
  if (offset < headWhole) out.push([offset, headWhole - offset]);
  if (end > tailWhole) out.push([tailWhole, end - tailWhole]);
  return out;
}

/** Maps every hole of [from, to) to newly allocated unwritten blocks (no data is written). */
function fillHoles(ctx: AllocateContext, tx: Transaction, inode: Inode, from: number, to: number): void {
  for (const [start, count] of holes(inode.extents, from, to)) {
    for (let fb = start; fb < start + count;) {
      const got = ctx.blocks.allocate(tx, allocationGoal(inode.extents, fb, inode.ino, ctx.dataStart, start + count - fb), start + count - fb);
      inode.extents = insert(inode.extents, { fileBlock: fb, length: got.count, deviceBlock: got.start, unwritten: true });
      inode.blocks += got.count;
      fb += got.count;
    }
  }
}

/**
 * Applies `mode` to [offset, offset+length) of inode `ino` (arguments already checked).
 * Every metadata change is one transaction, built completely before anything is written:
 * ENOSPC or EFBIG on the way leaves the file as it was. Partial blocks are zeroed after the
 * transaction is known to fit and before it commits, so a crash that keeps the new
 * metadata also keeps the zeroed ends.
 */
export function allocateRange(ctx: AllocateContext, ino: number, offset: number, length: number, mode: AllocateMode): void {
  const end = offset + length;
  const first = Math.floor(offset / BLOCK_SIZE);
  const last = Math.ceil(end / BLOCK_SIZE);
  const wholeFrom = Math.ceil(offset / BLOCK_SIZE);
  const wholeTo = Math.floor(end / BLOCK_SIZE);
  const tx = ctx.journal.begin();
  const inode = ctx.table.read(tx, ino);
  let zero: Array<[number, number]> = [];
  let grew = false;
  if (mode === 'punch-hole') {
    if (wholeFrom < wholeTo) {
      const { extents, freed } = remove(inode.extents, wholeFrom, wholeTo);
      for (const [start, count] of freed) ctx.blocks.free(tx, start, count);
      inode.blocks -= freed.reduce((n, [, c]) => n + c, 0);
      inode.extents = extents;
    }
    zero = partialBlocks(offset, end);
  } else {
    fillHoles(ctx, tx, inode, first, last);
    if (mode === 'zero-range') {
      // Whole blocks keep their storage and read as zeros from the commit on.
      if (wholeFrom < wholeTo) inode.extents = markUnwritten(inode.extents, wholeFrom, wholeTo);
      zero = partialBlocks(offset, end);
    }
    if (mode !== 'keep-size' && end > inode.size) {
      inode.size = end;
      grew = true;
    }
  }
  const now = Date.now();
  inode.ctimeMs = now;
  if (mode === 'zero-range' || mode === 'punch-hole' || grew) inode.mtimeMs = now;
  ctx.table.write(tx, inode);   // may allocate an extent block: still before anything is written
  if (tx.bytes > ctx.journal.capacity) {
    throw new DaxError('ENOSPC', `fallocate of ${length} bytes needs a ${tx.bytes}-byte transaction; the journal holds ${ctx.journal.capacity} (allocate in smaller pieces)`, { errno: -28, syscall: 'fallocate' });
  }
  // zeroInPlace reads the mapping as committed: these blocks are the same before and after.
  for (const [from, n] of zero) ctx.zeroInPlace(inode, from, n);
  ctx.journal.commit(tx);
}

/**
 * Marks file blocks [block, block+count) written, once the data written into them is
 * durable (lib/dax's convert callback). One transaction; a crash before it leaves the
 * blocks unwritten, so they read as zeros, as before the write.
 */
export function markWritten(journal: Journal, table: InodeTable, ino: number, block: number, count: number): void {
  const tx = journal.begin();
  const inode = table.read(tx, ino);
  if (!hasUnwritten(inode.extents, block, block + count)) return;   // converted already
  inode.extents = convert(inode.extents, block, block + count);
  table.write(tx, inode);
  journal.commit(tx);
}
