// Bad blocks under file data and under each kind of metadata, met in the middle of a read,
// a write, a page fault or a metadata operation: the operation fails with EIO (a fault with
// SIGBUS whose cause is EIO, docs/API.md); once the bad range is cleared, fsck is clean and
// the other files read back whole.
import { devices, BlockDevice } from '../../lib/block';
import { DaxError } from '../../lib/errors';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { computeLayout } from '../../lib/fs/layout';
import { mkfs } from '../../lib/fs/mkfs';

const SIZE = 8 * 1024 * 1024;
const BLOCK = 4096;
const SECTORS = BLOCK / 512;
const layout = computeLayout(SIZE);

const KEEP = Buffer.alloc(3 * BLOCK + 100, 0x5a);
const VICTIM = Buffer.from(Array.from({ length: 4 * BLOCK }, (_, i) => (i * 7) & 0xff));

interface Setup { dev: BlockDevice; f: Filesystem }

function setup(): Setup {
  const dev = devices.ram(SIZE);
  mkfs(dev);
  const f = Filesystem.mount(dev, 'dax');
  f.mkdir('/d');
  f.writeFile('/keep', KEEP);
  f.writeFile('/d/victim', VICTIM);
  for (let i = 0; i < 5; i++) f.writeFile(`/d/small-${i}`, `small ${i}`);
  return { dev, f };
}

/** Device block `i` of the file at `path`. */
function dataBlock(f: Filesystem, path: string, i: number): number {
  const e = f.inode(f.stat(path).ino).extents.find((x) => x.fileBlock <= i && i < x.fileBlock + x.length)!;
  return e.deviceBlock + (i - e.fileBlock);
}

/** The block of the inode table holding inode `ino`. */
const inodeBlock = (ino: number) => layout.inodeTableStart + Math.floor(ino * 256 / BLOCK);

function bad(dev: BlockDevice, block: number, sectors = SECTORS, first = 0): void {
  dev.badblocks.add(block * SECTORS + first, sectors);
}

function expectEIO(fn: () => unknown): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(DaxError);
  expect((err as DaxError).code).toBe('EIO');
}

/** After the bad range is cleared: fsck clean, /keep whole, and a new mount works. */
function expectRecovered({ dev, f }: Setup): void {
  for (const [s, c] of dev.badblocks.list()) dev.badblocks.clear(s, c);
  f.unmount();
  expect(fsck(dev).problems).toEqual([]);
  const again = Filesystem.mount(dev, 'dax');
  expect(again.readFile('/keep').equals(KEEP)).toBe(true);
  again.unmount();
  dev.close();
}

describe('EIO from bad blocks under file data', () => {
  test('a read starting in a bad block fails with EIO; one reaching it returns the bytes before it', () => {
    const s = setup();
    bad(s.dev, dataBlock(s.f, '/d/victim', 2), 1, 3);   // one sector in the middle of block 2
    const h = s.f.open('/d/victim', 'r');
    expectEIO(() => h.read(Buffer.alloc(BLOCK), 0, BLOCK, 2 * BLOCK));
    const buf = Buffer.alloc(VICTIM.length);
    expect(h.read(buf, 0, buf.length, 0)).toBe(2 * BLOCK);   // a short read, as read(2) gives
    expect(buf.subarray(0, 2 * BLOCK).equals(VICTIM.subarray(0, 2 * BLOCK))).toBe(true);
    expect(h.read(Buffer.alloc(BLOCK), 0, BLOCK, 3 * BLOCK)).toBe(BLOCK);   // past it: fine
    h.close();
    expectRecovered(s);
  });

  test('a write into a bad block fails with EIO and leaves the rest of the file as it was', () => {
    const s = setup();
    bad(s.dev, dataBlock(s.f, '/d/victim', 1));
    const h = s.f.open('/d/victim', 'r+');
    expectEIO(() => h.write(Buffer.alloc(100, 1), 0, 100, BLOCK + 10));
    h.close();
    expect(s.f.stat('/d/victim').size).toBe(VICTIM.length);
    const r = s.f.open('/d/victim', 'r');
    const head = Buffer.alloc(BLOCK);
    r.read(head, 0, BLOCK, 0);
    r.close();
    expect(head.equals(VICTIM.subarray(0, BLOCK))).toBe(true);
    expectRecovered(s);
  });

  test('a page fault on a bad block (shared or private) is SIGBUS with cause EIO; other pages map', () => {
    const s = setup();
    bad(s.dev, dataBlock(s.f, '/d/victim', 3));
    const h = s.f.open('/d/victim', 'r+');
    const m = h.mmap(0, VICTIM.length, { write: true });
    expect(m.page(0)[5]).toBe(VICTIM[5]);
    let err: any;
    try { m.page(3, 'write'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(DaxError);
    expect(err.code).toBe('SIGBUS');
    expect(err.cause?.code).toBe('EIO');
    m.unmap();
    const priv = h.mmap(0, VICTIM.length, { write: true, private: true });
    err = undefined;
    try { priv.page(3, 'write'); } catch (e) { err = e; }
    expect([err?.code, err?.cause?.code]).toEqual(['SIGBUS', 'EIO']);   // the private copy cannot be read
    priv.unmap();
    h.close();
    expectRecovered(s);
  });
});

describe('EIO from bad blocks under metadata', () => {
  test('the inode table: stat, open, truncate fail with EIO', () => {
    const s = setup();
    const ino = s.f.stat('/d/victim').ino;
    const h = s.f.open('/d/victim', 'r+');
    bad(s.dev, inodeBlock(ino), 1, Math.floor((ino * 256 % BLOCK) / 512));
    expectEIO(() => s.f.stat('/d/victim'));
    expectEIO(() => h.truncate(100));
    expectEIO(() => s.f.open('/d/victim', 'r'));
    for (const [st, c] of s.dev.badblocks.list()) s.dev.badblocks.clear(st, c);
    h.close();
    expectRecovered(s);
  });

  test('a directory block: create, rename and unlink in it fail with EIO and change nothing', () => {
    const s = setup();
    const dirBlock = dataBlock(s.f, '/d', 0);
    bad(s.dev, dirBlock);
    expectEIO(() => s.f.writeFile('/d/new', 'x'));
    expectEIO(() => s.f.rename('/d/small-1', '/d/small-renamed'));
    expectEIO(() => s.f.rename('/keep', '/d/keep'));
    expectEIO(() => s.f.unlink('/d/small-2'));
    expectEIO(() => s.f.readdir('/d'));
    for (const [st, c] of s.dev.badblocks.list()) s.dev.badblocks.clear(st, c);
    expect(s.f.readdir('/d')).toEqual(['small-0', 'small-1', 'small-2', 'small-3', 'small-4', 'victim']);
    expect(s.f.readFile('/keep').equals(KEEP)).toBe(true);
    expectRecovered(s);
  });

  test('the block bitmap: a write that allocates fails with EIO; an overwrite does not need it', () => {
    const s = setup();
    bad(s.dev, layout.bitmapStart);
    const h = s.f.open('/d/victim', 'r+');
    expectEIO(() => h.write(Buffer.alloc(BLOCK, 2), 0, BLOCK, 10 * BLOCK));
    expect(h.write(Buffer.alloc(10, 3), 0, 10, 0)).toBe(10);
    h.close();
    expectEIO(() => s.f.truncate('/d/victim', 0));   // freeing blocks reads the bitmap too
    expect(s.f.stat('/d/victim').size).toBe(VICTIM.length);
    expectRecovered(s);
  });

  test('the inode bitmap: create and mkdir fail with EIO and leave no entry', () => {
    const s = setup();
    bad(s.dev, layout.inodeBitmapStart);
    expectEIO(() => s.f.writeFile('/new', 'x'));
    expectEIO(() => s.f.mkdir('/newdir'));
    s.dev.badblocks.clear(layout.inodeBitmapStart * SECTORS, SECTORS);
    expect(s.f.readdir('/')).toEqual(['d', 'keep']);
    expectRecovered(s);
  });

  test('the journal header: every metadata change fails with EIO before it writes anything', () => {
    const s = setup();
    const before = Buffer.alloc(SIZE);
    s.dev.readSectors(0, before);
    bad(s.dev, layout.journalStart, 1);
    expectEIO(() => s.f.writeFile('/new', 'x'));
    expectEIO(() => s.f.rename('/d/small-0', '/moved'));
    expectEIO(() => s.f.truncate('/d/victim', 5));
    s.dev.badblocks.clear(layout.journalStart * SECTORS, 1);
    expect(s.f.readdir('/')).toEqual(['d', 'keep']);
    expect(s.f.stat('/d/victim').size).toBe(VICTIM.length);
    expectRecovered(s);
  });

  test('a mount with a bad block under the superblock uses the backup; under the journal header it fails with EIO', () => {
    const s = setup();
    s.f.unmount();
    bad(s.dev, 0, 1);
    const f = Filesystem.mount(s.dev, 'dax');
    expect(f.readFile('/keep').equals(KEEP)).toBe(true);
    f.unmount();
    s.dev.badblocks.clear(0, 1);
    bad(s.dev, layout.journalStart, 1);
    expectEIO(() => Filesystem.mount(s.dev, 'dax'));
    s.dev.badblocks.clear(layout.journalStart * SECTORS, 1);
    expectRecovered({ dev: s.dev, f: Filesystem.mount(s.dev, 'dax') });
  });
});

describe('EIO while a committed transaction is applied', () => {
  test('a create whose new inode lands on a bad sector fails with EIO; the journal refuses later changes until a mount replays it; then fsck is clean', () => {
    const s = setup();
    // The next inode number is the lowest free one: find it by creating and removing a file.
    s.f.writeFile('/probe', '');
    const next = s.f.stat('/probe').ino;
    s.f.unlink('/probe');
    const sector = inodeBlock(next) * SECTORS + Math.floor((next * 256 % BLOCK) / 512);
    s.dev.badblocks.add(sector, 1);
    // The inode is written (256 bytes: part of a sector) only when the committed
    // transaction is applied: the create is durable in the journal, but not in place.
    expectEIO(() => s.f.writeFile('/new', 'x'));
    expectEIO(() => s.f.mkdir('/later'));   // no commit may overwrite the one not applied
    s.dev.badblocks.clear(sector, 1);
    expectEIO(() => s.f.mkdir('/later'));   // aborted until mounted again
    s.f.unmount();
    const again = Filesystem.mount(s.dev, 'dax');   // replays the create
    expect(again.readdir('/')).toEqual(['d', 'keep', 'new']);
    again.unmount();
    expect(fsck(s.dev).problems).toEqual([]);
    expectRecovered({ dev: s.dev, f: Filesystem.mount(s.dev, 'dax') });
  });
});
