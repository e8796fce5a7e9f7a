// A tiny getBlock for testing lib/dax: file blocks map to device blocks through a table,
// allocated from a bump pointer (or from a list, to force non-contiguous runs).
import { BlockDevice } from '../../lib/block';
import { BlockMapping, DaxInode, GetBlock } from '../../lib/dax';
import { DaxError } from '../../lib/errors';

export interface TestInode extends DaxInode {
  size: number;
}

export class TestFs {
  readonly table = new Map<number, { block: number; unwritten: boolean }>();
  readonly calls: Array<{ block: number; count: number; create: boolean }> = [];
  readonly converted: Array<[number, number]> = [];
  readonly events: string[] = [];
  next: number;
  /** Device blocks handed out in this order when set (else next++). */
  order: number[] | null = null;
  /** Allocate new blocks as unwritten instead of new. */
  allocateUnwritten = false;
  /** Throw ENOSPC once this many blocks have been allocated. */
  spaceLeft = Infinity;

  constructor(readonly device: BlockDevice, firstBlock = 1) {
    this.next = firstBlock;
  }

  inode(size = 0, ino = 2): TestInode {
    return { ino, size, device: this.device };
  }

  #allocate(): number {
    if (this.spaceLeft <= 0) throw new DaxError('ENOSPC', 'test fs is full', { errno: -28 });
    this.spaceLeft--;
    return this.order ? this.order.shift()! : this.next++;
  }

  /** Pre-maps file block -> device block (optionally unwritten). */
  map(fileBlock: number, deviceBlock: number, unwritten = false): void {
    this.table.set(fileBlock, { block: deviceBlock, unwritten });
  }

  readonly getBlock: GetBlock = (_inode, block, count, create): BlockMapping => {
    this.calls.push({ block, count, create });
    this.events.push(`getBlock ${block}`);
    let first = this.table.get(block);
    let isNew = false;
    if (!first) {
      if (!create) {
        let n = 1;
        while (n < count && !this.table.has(block + n)) n++;
        return { mapped: false, block: 0, count: n, new: false, unwritten: false };
      }
      first = { block: this.#allocate(), unwritten: this.allocateUnwritten };
      this.table.set(block, first);
      isNew = !this.allocateUnwritten;
    }
    let n = 1;
    while (n < count) {
      const e = this.table.get(block + n);
      if (!e || e.block !== first.block + n || e.unwritten !== first.unwritten) break;
      n++;
    }
    return { mapped: true, block: first.block, count: n, new: isNew, unwritten: first.unwritten };
  };

  readonly convert = (_inode: DaxInode, block: number, count: number): void => {
    this.converted.push([block, count]);
    this.events.push(`convert ${block} ${count}`);
    for (let i = 0; i < count; i++) {
      const e = this.table.get(block + i);
      if (e) e.unwritten = false;
    }
  };
}
