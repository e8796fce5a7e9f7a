import { devices, BlockDevice } from '../../lib/block';
import { Extent } from '../../lib/fs/extents';
import { BlockSource, EXTENT_BLOCK_CAPACITY, InodeTable, newInode, S_IFREG } from '../../lib/fs/inode';
import { Journal, Transaction } from '../../lib/fs/journal';
import { computeLayout, Layout } from '../../lib/fs/layout';
import { metaIO, MetaIO } from '../../lib/fs/metaio';

const MiB = 1024 * 1024;

class BumpBlocks implements BlockSource {
  next: number;
  freed: Array<[number, number]> = [];
  constructor(start: number) { this.next = start; }
  allocate(_tx: Transaction, _goal: number, count: number) { const start = this.next; this.next += count; return { start, count }; }
  free(_tx: Transaction, start: number, count: number) { this.freed.push([start, count]); }
}

function fragmented(n: number): Extent[] {
  return Array.from({ length: n }, (_, i) => ({ fileBlock: i * 2, length: 1, deviceBlock: 5000 + i * 3, unwritten: i % 3 === 0 }));
}

describe('inode table', () => {
  let dev: BlockDevice;
  let io: MetaIO;
  let layout: Layout;
  let journal: Journal;
  let blocks: BumpBlocks;
  let table: InodeTable;
  beforeEach(() => {
    dev = devices.ram(64 * MiB);
    io = metaIO(dev);
    layout = computeLayout(dev.size);
    const area = { start: layout.journalStart * 4096, size: layout.journalBlocks * 4096, blockSize: 4096 };
    Journal.format(io, area);
    journal = Journal.open(io, area);
    blocks = new BumpBlocks(layout.dataStart);
    table = new InodeTable(layout, blocks);
  });
  afterEach(() => dev.close());

  function roundTrip(extents: Extent[]) {
    const inode = newInode(7, S_IFREG | 0o644, 1234.5, 9);
    inode.size = 123456789;
    inode.blocks = extents.length;
    inode.extents = extents;
    const tx = journal.begin();
    table.write(tx, inode);
    journal.commit(tx);
    return { inode, back: table.read(journal.begin(), 7) };
  }

  test('an inode with inline extents reads back exactly', () => {
    const { inode, back } = roundTrip(fragmented(10));
    expect(back).toEqual(inode);
    expect(back.extentBlock).toBe(0);
  });

  test('more extents than fit inline move to an extent block, and back when they fit again', () => {
    const { inode, back } = roundTrip(fragmented(200));
    expect(back.extentBlock).toBeGreaterThanOrEqual(layout.dataStart);
    expect(back.extents).toEqual(inode.extents);
    back.extents = back.extents.slice(0, 3);
    const tx = journal.begin();
    table.write(tx, back);
    journal.commit(tx);
    expect(blocks.freed).toEqual([[inode.extentBlock, 1]]);
    expect(table.read(journal.begin(), 7).extents).toEqual(back.extents);
  });

  test('a file more fragmented than one extent block holds is refused with EFBIG', () => {
    const inode = newInode(8, S_IFREG, 0, 0);
    inode.extents = fragmented(EXTENT_BLOCK_CAPACITY + 1);
    expect(() => table.write(journal.begin(), inode)).toThrow(expect.objectContaining({ code: 'EFBIG' }));
  });

  test('a flipped bit in the checksummed part is EUCLEAN; times can change in place', () => {
    roundTrip(fragmented(2));
    const off = table.offsetOf(7);
    const t = Buffer.alloc(8);
    t.writeDoubleLE(99999, 0);
    io.write(table.timesOffset(7), t);
    expect(table.read(journal.begin(), 7).mtimeMs).toBe(99999);
    io.write(off + 16, Buffer.from([0x55]));
    expect(() => table.read(journal.begin(), 7)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
  });

  test('a corrupt extent block is EUCLEAN, and inode numbers out of range are refused', () => {
    const { back } = roundTrip(fragmented(50));
    io.write(back.extentBlock * 4096 + 40, Buffer.from([0xaa]));
    expect(() => table.read(journal.begin(), 7)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    expect(() => table.read(journal.begin(), 0)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    expect(() => table.read(journal.begin(), layout.inodeCount)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
  });
});
