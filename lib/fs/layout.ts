// Where everything lives on a daxfs device (docs/FORMAT.md). All sizes in blocks of 4096
// bytes, the page size: DAX maps file blocks straight into user space.
import { DaxError } from '../errors';

export const BLOCK_SIZE = 4096;
export const MIN_DEVICE_SIZE = 4 * 1024 * 1024;
/** Blocks described by one bitmap block (a "group"). */
export const BLOCKS_PER_GROUP = BLOCK_SIZE * 8;
export const INODE_SIZE = 256;
export const INODES_PER_BLOCK = BLOCK_SIZE / INODE_SIZE;
/** One inode per 16 KiB of device, at most 2^22 (a 1 GiB table). */
const BYTES_PER_INODE = 16 * 1024;
const MAX_INODES = 1 << 22;

export interface Layout {
  blockSize: number;
  blocks: number;              // whole device
  groups: number;              // bitmap blocks
  journalStart: number;        // block 1
  journalBlocks: number;
  summaryStart: number;        // free-block count per group, u32 each
  summaryBlocks: number;
  bitmapStart: number;         // block bitmap, one block per group
  inodeBitmapStart: number;
  inodeBitmapBlocks: number;
  inodeTableStart: number;
  inodeTableBlocks: number;
  inodeCount: number;
  dataStart: number;           // first block files may use
  backupSuperblock: number;    // the last block
}

function blocksFor(bytes: number): number {
  return Math.ceil(bytes / BLOCK_SIZE);
}

/**
 * The layout for a device of `deviceSize` bytes. It depends only on the size, so a damaged
 * primary superblock can be rebuilt from the backup. The metadata is a fixed share of the
 * device plus what grows with it (bitmaps: 1/32768; inode table: 1/64), never a scan.
 */
export function computeLayout(deviceSize: number): Layout {
  if (deviceSize < MIN_DEVICE_SIZE) {
    throw new DaxError('EINVAL', `a daxfs device needs at least ${MIN_DEVICE_SIZE} bytes (4 MiB); this one has ${deviceSize}`, { errno: -22 });
  }
  const blocks = Math.floor(deviceSize / BLOCK_SIZE);
  const groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
  const journalBlocks = Math.min(1024, Math.max(16, Math.floor(blocks / 256)));
  const journalStart = 1;
  const summaryStart = journalStart + journalBlocks;
  const summaryBlocks = blocksFor(groups * 4);
  const bitmapStart = summaryStart + summaryBlocks;
  const inodeCount = Math.min(MAX_INODES, Math.max(INODES_PER_BLOCK * 4, Math.floor(deviceSize / BYTES_PER_INODE)));
  const inodeBitmapStart = bitmapStart + groups;
  const inodeBitmapBlocks = blocksFor(Math.ceil(inodeCount / 8));
  const inodeTableStart = inodeBitmapStart + inodeBitmapBlocks;
  const inodeTableBlocks = Math.ceil(inodeCount / INODES_PER_BLOCK);
  const dataStart = inodeTableStart + inodeTableBlocks;
  const backupSuperblock = blocks - 1;
  if (dataStart + 16 > backupSuperblock) {
    throw new DaxError('EINVAL', `a device of ${deviceSize} bytes leaves no room for data`, { errno: -22 });
  }
  return {
    blockSize: BLOCK_SIZE, blocks, groups, journalStart, journalBlocks, summaryStart, summaryBlocks,
    bitmapStart, inodeBitmapStart, inodeBitmapBlocks, inodeTableStart, inodeTableBlocks, inodeCount,
    dataStart, backupSuperblock,
  };
}
