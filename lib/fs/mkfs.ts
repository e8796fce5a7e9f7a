// mkfs: lay out a new filesystem on a device. The superblock goes last, so a crash in the
// middle leaves no filesystem rather than a broken one.
import { BlockDevice } from '../block';
import { DaxError } from '../errors';
import { checkFunction, checkOptions } from '../validate';
import { BlockAllocator, InodeAllocator, ROOT_INODE } from './alloc';
import { claimDevice } from './claim';
import * as dir from './dir';
import { InodeTable, newInode, S_IFDIR } from './inode';
import { Journal } from './journal';
import { BLOCK_SIZE } from './layout';
import { metaIO } from './metaio';
import { OnProgress, ProgressReporter } from './progress';
import { DirectoryBlocks, journalArea } from './storage';
import { newSuperblock, writeSuperblocks } from './superblock';

export interface MkfsOptions {
  blockSize?: 4096;
  label?: string;
  /** Called as the bitmaps are written (units: bitmap blocks), at most about 100 times;
   *  `done` never falls and the last call has done === total. */
  onProgress?: OnProgress;
}

export function mkfs(device: BlockDevice, options?: MkfsOptions): void {
  const o = checkOptions<MkfsOptions>(options, 'options');
  if (o.blockSize !== undefined && o.blockSize !== BLOCK_SIZE) {
    throw new DaxError('EINVAL', `block size ${o.blockSize} is not supported: daxfs uses ${BLOCK_SIZE}-byte blocks (one page, as DAX needs)`, { errno: -22 });
  }
  const progress = new ProgressReporter(checkFunction<OnProgress>(o.onProgress, 'options.onProgress'));
  const claim = claimDevice(device, true, 'mkfs');   // never under a mount, here or elsewhere
  try {
    format(device, o, progress);
  } finally {
    claim.release();
  }
}

function format(device: BlockDevice, o: MkfsOptions, progress: ProgressReporter): void {
  const sb = newSuperblock(device.size, o.label ?? '');
  const layout = sb.layout;
  progress.start(layout.groups + layout.inodeBitmapBlocks);
  const advance = (n: number) => progress.advance(n);
  const io = metaIO(device);
  // No old superblock survives a failed mkfs: the backup too, or a crash before the new
  // primary is written would mount the old filesystem from it over half-formatted metadata.
  io.write(0, Buffer.alloc(BLOCK_SIZE));
  io.write(layout.backupSuperblock * BLOCK_SIZE, Buffer.alloc(BLOCK_SIZE));
  io.barrier();
  Journal.format(io, journalArea(layout));
  BlockAllocator.format(io, layout, advance);
  InodeAllocator.format(io, layout, advance);
  const journal = Journal.open(io, journalArea(layout));
  const blocks = new BlockAllocator(io, layout);
  const table = new InodeTable(layout, blocks);
  const tx = journal.begin();
  const now = Date.now();
  const root = newInode(ROOT_INODE, S_IFDIR | 0o755, now, 1);
  table.write(tx, root);
  dir.initDirectory(tx, new DirectoryBlocks(ROOT_INODE, table, blocks));
  journal.commit(tx);
  writeSuperblocks(io, sb);
  io.barrier();
  progress.finish();
}
