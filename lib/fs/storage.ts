// How the filesystem's parts reach each other's storage: the journal area, and a
// directory's blocks as lib/fs/dir sees them.
import { DaxError } from '../errors';
import { BlockAllocator } from './alloc';
import { DirStorage } from './dir';
import { insert, lookup } from './extents';
import { InodeTable } from './inode';
import { JournalArea, Transaction } from './journal';
import { BLOCK_SIZE, Layout } from './layout';

export function journalArea(layout: Layout): JournalArea {
  return { start: layout.journalStart * BLOCK_SIZE, size: layout.journalBlocks * BLOCK_SIZE, blockSize: BLOCK_SIZE };
}

/** A directory inode's blocks; every call reads the inode through the transaction. */
export class DirectoryBlocks implements DirStorage {
  constructor(readonly ino: number, private readonly table: InodeTable, private readonly allocator: BlockAllocator) {}

  blocks(tx: Transaction): number {
    return Math.ceil(this.table.read(tx, this.ino).size / BLOCK_SIZE);
  }

  blockOffset(tx: Transaction, i: number): number {
    const l = lookup(this.table.read(tx, this.ino).extents, i, 1);
    if (!l.mapped) throw new DaxError('EUCLEAN', `directory inode ${this.ino} has no block ${i}`, { errno: -117 });
    return l.deviceBlock * BLOCK_SIZE;
  }

  appendBlock(tx: Transaction): number {
    const inode = this.table.read(tx, this.ino);
    const index = Math.ceil(inode.size / BLOCK_SIZE);
    const last = inode.extents[inode.extents.length - 1];
    const goal = last ? last.deviceBlock + last.length : 0;
    const got = this.allocator.allocate(tx, goal, 1);
    tx.write(got.start * BLOCK_SIZE, Buffer.alloc(BLOCK_SIZE));   // never reachable with old bytes
    inode.extents = insert(inode.extents, { fileBlock: index, length: 1, deviceBlock: got.start, unwritten: false });
    inode.blocks += 1;
    inode.size = (index + 1) * BLOCK_SIZE;
    this.table.write(tx, inode);
    return index;
  }
}
