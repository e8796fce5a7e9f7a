import { devices, BlockDevice } from '../../lib/block';
import { ROOT_INODE } from '../../lib/fs/alloc';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { InodeTable } from '../../lib/fs/inode';
import { BlockAllocator, InodeAllocator } from '../../lib/fs/alloc';
import { Journal } from '../../lib/fs/journal';
import { computeLayout } from '../../lib/fs/layout';
import { metaIO } from '../../lib/fs/metaio';
import { mkfs } from '../../lib/fs/mkfs';
import * as dir from '../../lib/fs/dir';
import { DirectoryBlocks } from '../../lib/fs/storage';
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

/** The inode number of `path` (a mount and unmount). */
function inoOf(dev: BlockDevice, path: string): number {
  const f = Filesystem.mount(dev, 'dax');
  const ino = f.stat(path).ino;
  f.unmount();
  return ino;
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

  test('a block allocated but used by no file is reported as leaked, and repair frees it', () => {
    const dev = populated();
    const freeBefore = Filesystem.mount(dev, 'dax');
    const before = freeBefore.statfs().freeBlocks;
    freeBefore.unmount();
    expect(before).toBeGreaterThan(0);
    let leaked = -1;
    tamper(dev, (tx, _table, blocks) => { leaked = blocks.allocate(tx, 3000, 3).start; });
    expect(fsck(dev).problems.join('\n')).toMatch(/3 blocks are allocated but used by no file/);
    const fixed = fsck(dev, { repair: true });
    expect(fixed.repaired.join('\n')).toMatch(/freed 3 leaked blocks of group 0/);
    expect(fsck(dev)).toEqual({ clean: true, needsRecovery: false, problems: [], repaired: [] });
    const f = Filesystem.mount(dev, 'dax');
    expect(f.statfs().freeBlocks).toBe(before);
    expect(f.readFile('/a/one').equals(Buffer.alloc(20000, 1))).toBe(true);   // no file lost a block
    f.unmount();
    expect(leaked).toBeGreaterThan(0);
    dev.close();
  });

  test('a block of a file that the bitmap marks free is marked used again by repair (never handed out twice)', () => {
    const dev = populated();
    let block = -1;
    const ino = inoOf(dev, '/a/one');
    tamper(dev, (tx, table, blocks) => {
      block = table.read(tx, ino).extents[0].deviceBlock;
      blocks.free(tx, block, 1);
    });
    expect(fsck(dev).problems.join('\n')).toMatch(new RegExp(`block ${block} of inode \\d+ is marked free in the bitmap`));
    expect(fsck(dev, { repair: true }).repaired).toContain(`marked block ${block} used (a file uses it)`);
    expect(fsck(dev).problems).toEqual([]);
    // Filling the device reaches every free block: the file's block is not among them.
    const f = Filesystem.mount(dev, 'dax');
    const fill = f.open('/fill', 'w');
    try { fill.allocate(0, dev.size); } catch (e) { expect((e as { code?: string }).code).toBe('ENOSPC'); }
    fill.close();
    expect(f.readFile('/a/one').equals(Buffer.alloc(20000, 1))).toBe(true);
    f.unmount();
    expect(fsck(dev).problems).toEqual([]);
    dev.close();
  });

  test('a linked inode that the inode bitmap marks free is marked used again by repair', () => {
    const dev = populated();
    const ino = inoOf(dev, '/a/b/two');
    const io = metaIO(dev);
    const layout = computeLayout(dev.size);
    tamper(dev, (tx) => new InodeAllocator(io, layout).free(tx, ino));
    expect(fsck(dev).problems).toContain(`inode ${ino} is linked but marked free in the inode bitmap`);
    expect(fsck(dev, { repair: true }).repaired).toContain(`marked inode ${ino} used (a directory links it)`);
    expect(fsck(dev).problems).toEqual([]);
    const f = Filesystem.mount(dev, 'dax');
    f.writeFile('/new', 'x');                                 // takes a free inode: not that one
    expect(f.stat('/new').ino).not.toBe(ino);
    expect(f.readFile('/a/b/two').toString()).toBe('two');
    f.unmount();
    dev.close();
  });

  test.each([['an ancestor (a cycle)', '/a'], ['itself', '/a/b'], ['the root', '/']])('a second name of a directory, in /a/b naming %s, is found and removed by repair; nothing else changes', (_what, target) => {
    const dev = populated();
    const b = inoOf(dev, '/a/b');
    const t = inoOf(dev, target);
    tamper(dev, (tx, table, blocks) => dir.insert(tx, new DirectoryBlocks(b, table, blocks), { name: 'loop', ino: t, type: 'dir' }));
    expect(fsck(dev).problems).toEqual([`directory inode ${t} is linked more than once`]);
    expect(fsck(dev, { repair: true }).repaired).toEqual([`removed the entry "loop" of directory inode ${b}: a second name of directory inode ${t}`]);
    expect(fsck(dev)).toEqual({ clean: true, needsRecovery: false, problems: [], repaired: [] });
    const f = Filesystem.mount(dev, 'dax');
    expect(f.readdir('/a/b').sort()).toEqual(['two']);
    expect(f.readdir('/a').sort()).toEqual(['b', 'one']);
    expect(f.readFile('/a/b/two').toString()).toBe('two');
    f.unmount();
    dev.close();
  });

  test('a directory named in two directories keeps the name nearest the root (breadth first), and its files', () => {
    const dev = populated();
    const b = inoOf(dev, '/a/b');
    tamper(dev, (tx, table, blocks) => dir.insert(tx, new DirectoryBlocks(ROOT_INODE, table, blocks), { name: 'bb', ino: b, type: 'dir' }));
    const a = inoOf(dev, '/a');
    // The kept name is in the root now, so the root gains the child's '..' and /a loses it.
    expect(fsck(dev).problems).toEqual([`directory inode ${b} is linked more than once`,
      `inode ${ROOT_INODE} has link count 3 but 4 references`, `inode ${a} has link count 3 but 2 references`]);
    expect(fsck(dev, { repair: true }).repaired).toEqual([`set the link count of inode ${ROOT_INODE} to 4`, `set the link count of inode ${a} to 2`,
      `removed the entry "b" of directory inode ${a}: a second name of directory inode ${b}`]);
    expect(fsck(dev).clean).toBe(true);
    const f = Filesystem.mount(dev, 'dax');
    expect(f.readdir('/a')).toEqual(['one']);
    expect(f.readFile('/bb/two').toString()).toBe('two');
    f.unmount();
    dev.close();
  });

  test('a block two files use: repair gives the file walked second its own copy, so both read what they read before', () => {
    const dev = populated();
    const one = inoOf(dev, '/a/one');
    const two = inoOf(dev, '/a/b/two');
    let shared = -1;
    tamper(dev, (tx, table) => {
      const t = table.read(tx, two);
      shared = table.read(tx, one).extents[0].deviceBlock;
      t.extents = [{ ...t.extents[0], deviceBlock: shared }];   // two's own block is leaked now
      table.write(tx, t);
    });
    const before = Filesystem.mount(dev, 'dax');
    const twoBefore = before.readFile('/a/b/two');
    before.unmount();
    expect(twoBefore.equals(Buffer.alloc(3, 1))).toBe(true);   // it reads one's first bytes
    expect(fsck(dev).problems).toContain(`block ${shared} is used by inode ${one} and by inode ${two}`);
    const fixed = fsck(dev, { repair: true });
    expect(fixed.repaired).toContain(`gave inode ${two} its own copy of 1 blocks another inode also used`);
    expect(fsck(dev)).toEqual({ clean: true, needsRecovery: false, problems: [], repaired: [] });
    const f = Filesystem.mount(dev, 'dax');
    expect(f.readFile('/a/b/two').equals(twoBefore)).toBe(true);
    f.writeFile('/a/b/two', 'new');                          // now a write to one leaves the other
    expect(f.readFile('/a/one').equals(Buffer.alloc(20000, 1))).toBe(true);
    f.unmount();
    expect(fsck(dev).clean).toBe(true);
    dev.close();
  });

  test('an inode whose block count differs from its extents gets the count of its extents from repair', () => {
    const dev = populated();
    const ino = inoOf(dev, '/a/one');
    tamper(dev, (tx, table) => {
      const one = table.read(tx, ino);
      one.blocks += 5;
      table.write(tx, one);
    });
    expect(fsck(dev).problems).toContain(`inode ${ino} counts 10 blocks but its extents map 5`);
    expect(fsck(dev, { repair: true }).repaired).toContain(`set the block count of inode ${ino} to 5, what its extents map`);
    expect(fsck(dev).problems).toEqual([]);
    dev.close();
  });

  test('leaked blocks are not freed while an inode cannot be read (its blocks may be among them)', () => {
    const dev = populated();
    tamper(dev, (tx, _table, blocks) => { blocks.allocate(tx, 3000, 2); });
    const layout = computeLayout(dev.size);
    const ino = inoOf(dev, '/a/one');
    const io = metaIO(dev);
    io.write(layout.inodeTableStart * 4096 + ino * 256 + 4, Buffer.from([0x77]));   // a checksummed byte
    io.barrier();
    const r = fsck(dev, { repair: true });
    expect(r.problems.join('\n')).toMatch(new RegExp(`inode ${ino} is corrupt`));
    expect(r.repaired.join('\n')).not.toMatch(/leaked/);
    expect(fsck(dev).problems.join('\n')).toMatch(/blocks are allocated but used by no file/);
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
