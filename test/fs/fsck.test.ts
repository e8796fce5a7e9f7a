import { devices, BlockDevice } from '../../lib/block';
import { ROOT_INODE } from '../../lib/fs/alloc';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { InodeTable } from '../../lib/fs/inode';
import { BlockAllocator } from '../../lib/fs/alloc';
import { Journal } from '../../lib/fs/journal';
import { computeLayout } from '../../lib/fs/layout';
import { metaIO } from '../../lib/fs/metaio';
import { mkfs } from '../../lib/fs/mkfs';
import { journalArea } from '../../lib/fs/storage';
import { mapAnonymous, PmemMapping } from '../../lib/pmem';
import { testing } from '../../lib/testing';

const MiB = 1024 * 1024;

function populated(): BlockDevice {
  const dev = devices.ram(16 * MiB);
  mkfs(dev);
  const f = Filesystem.mount(dev, 'dax');
  f.mkdir('/a/b', { recursive: true });
  f.writeFile('/a/one', Buffer.alloc(20000, 1));
  f.writeFile('/a/b/two', 'two');
  f.unmount();
  return dev;
}

function tamper(dev: BlockDevice, fn: (tx: ReturnType<Journal['begin']>, table: InodeTable, blocks: BlockAllocator, j: Journal) => void) {
  const io = metaIO(dev);
  const layout = computeLayout(dev.size);
  const j = Journal.open(io, journalArea(layout));
  const blocks = new BlockAllocator(io, layout);
  const table = new InodeTable(layout, blocks);
  const tx = j.begin();
  fn(tx, table, blocks, j);
  j.commit(tx);
}

describe('fsck', () => {
  test('a fresh and a used filesystem are clean', () => {
    const dev = devices.ram(16 * MiB);
    mkfs(dev);
    expect(fsck(dev)).toEqual({ clean: true, needsRecovery: false, problems: [], repaired: [] });
    dev.close();
    const used = populated();
    expect(fsck(used).problems).toEqual([]);
    used.close();
  });

  test('a journal with a committed transaction not applied yet (a crash right after the commit) needs recovery, which is not a problem; repair replays it', () => {
    let image: PmemMapping | undefined;
    const m = testing.crashable(mapAnonymous(16 * MiB), { onFence: () => { if (capturing) image ??= m.crash(); } });
    let capturing = false;
    const dev = devices.pmem(m);
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    f.writeFile('/x', 'x');
    capturing = true;
    f.rename('/x', '/y');   // its first fence is the commit barrier: committed, not applied
    capturing = false;
    f.unmount();
    dev.close();
    m.close();
    const crashed = devices.pmem(image!);
    try {
      expect(fsck(crashed)).toEqual({ clean: false, needsRecovery: true, problems: [], repaired: [] });
      expect(fsck(crashed, { repair: true })).toEqual({ clean: true, needsRecovery: false, problems: [], repaired: ['replayed the journal'] });
      const g = Filesystem.mount(crashed, 'dax');
      expect(g.readdir('/')).toEqual(['y']);
      g.unmount();
    } finally {
      crashed.close();
      image!.close();
    }
  });

  test('a corrupt journal header is reported as a problem, not thrown', () => {
    const dev = devices.ram(16 * MiB);
    mkfs(dev);
    const layout = computeLayout(dev.size);
    metaIO(dev).write(layout.journalStart * 4096, Buffer.alloc(8, 0xff));
    const r = fsck(dev);
    expect(r).toMatchObject({ clean: false, needsRecovery: false });
    expect(r.problems).toEqual([expect.stringMatching(/journal header at byte 4096 is corrupt/)]);
    dev.close();
  });

  test('a wrong link count is found, and repair sets it', () => {
    const dev = populated();
    tamper(dev, (tx, table) => {
      const root = table.read(tx, ROOT_INODE);
      root.nlink = 7;
      table.write(tx, root);
    });
    const r = fsck(dev);
    expect(r.clean).toBe(false);
    expect(r.problems.join('\n')).toMatch(/inode 2 has link count 7/);
    expect(fsck(dev, { repair: true }).repaired.join('\n')).toMatch(/link count of inode 2/);
    expect(fsck(dev).clean).toBe(true);
    dev.close();
  });

  test('a block allocated but used by no file is reported as leaked', () => {
    const dev = populated();
    tamper(dev, (tx, _table, blocks) => { blocks.allocate(tx, 3000, 3); });
    expect(fsck(dev).problems.join('\n')).toMatch(/3 blocks are allocated but used by no file/);
    dev.close();
  });

  test('an orphan inode (allocated, linked nowhere) is found and released by repair', () => {
    const dev = populated();
    const f = Filesystem.mount(dev, 'dax');
    const h = f.open('/a/one', 'r');
    f.unlink('/a/one');
    // a crash now: the handle never closes, the inode stays allocated with no name
    const image = Buffer.alloc(dev.size);
    dev.readSectors(0, image);
    h.close();
    f.unmount();
    const crashed = devices.ram(dev.size);
    crashed.writeSectors(0, image);
    const r = fsck(crashed);
    expect(r.problems.join('\n')).toMatch(/allocated but no directory links it/);
    const fixed = fsck(crashed, { repair: true });
    expect(fixed.repaired.join('\n')).toMatch(/released orphan inode/);
    expect(fsck(crashed).problems).toEqual([]);
    crashed.close();
    dev.close();
  });

  test('unwritten extents are allocated blocks of a file, also past its size; in a directory they are a problem', () => {
    const dev = populated();
    const f = Filesystem.mount(dev, 'dax');
    const h = f.open('/a/pre', 'w');
    h.allocate(0, 40000, 'keep-size');                   // unwritten, all past the size (0)
    h.close();
    f.unmount();
    expect(fsck(dev).problems).toEqual([]);
    tamper(dev, (tx, table) => {
      const root = table.read(tx, ROOT_INODE);
      root.extents = root.extents.map((e) => ({ ...e, unwritten: true }));
      table.write(tx, root);
    });
    expect(fsck(dev).problems.join('\n')).toMatch(/directory inode 2 has unwritten extents/);
    dev.close();
  });

  test('a corrupt inode is reported, never trusted', () => {
    const dev = populated();
    const layout = computeLayout(dev.size);
    const io = metaIO(dev);
    io.write(layout.inodeTableStart * 4096 + ROOT_INODE * 256 + 4, Buffer.from([0x77]));
    io.barrier();
    const r = fsck(dev);
    expect(r.clean).toBe(false);
    expect(r.problems.join('\n')).toMatch(/inode 2 is corrupt/);
    dev.close();
  });

  test('a damaged primary superblock is reported, and repair rewrites it from the backup', () => {
    const dev = populated();
    metaIO(dev).write(10, Buffer.from([0xff]));
    const r = fsck(dev);
    expect(r.problems[0]).toMatch(/primary superblock/);
    expect(fsck(dev, { repair: true }).repaired).toContain('rewrote the primary superblock from the backup');
    expect(fsck(dev).clean).toBe(true);
    dev.close();
  });
});
