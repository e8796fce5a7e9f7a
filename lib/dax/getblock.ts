// The seam between generic DAX code and a filesystem (the kernel's get_block_t). lib/dax
// knows nothing of any on-media format: everything it learns about a file comes from here.
import { BlockDevice } from '../block';

/** What lib/dax reads of a file. It never changes `size`: the filesystem does, after the I/O. */
export interface DaxInode {
  readonly ino: number;
  readonly size: number;
  /** The device the file's blocks live on (the kernel's i_sb->s_bdev). */
  readonly device: BlockDevice;
}

export interface BlockMapping {
  /** False for a hole: `count` blocks from `block` (the file block asked for) have no storage. */
  mapped: boolean;
  /** Device block (in units of the page size) of the first file block asked for. */
  block: number;
  /** Contiguous blocks described, 1..count asked for. */
  count: number;
  /** Allocated by this call: its old contents must never be seen. */
  new: boolean;
  /** Allocated but not written: reads see zeros until convert() is called. */
  unwritten: boolean;
}

/**
 * Maps up to `count` file blocks from `block`; with `create`, allocates what is missing
 * (returning `new` or `unwritten` blocks). Throws a DaxError (ENOSPC, EIO, ...) on failure.
 * Calls may race with each other (a fault against a read or write): the filesystem must
 * make concurrent calls for the same blocks give the same answer.
 */
export type GetBlock = (inode: DaxInode, block: number, count: number, create: boolean) => BlockMapping;

/** Marks unwritten blocks written, once the data in them is durable (the kernel's end_io). */
export type ConvertUnwritten = (inode: DaxInode, block: number, count: number) => void;
