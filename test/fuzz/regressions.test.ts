// Bugs the image fuzzer found, one test each: an image with a valid checksum but an insane
// value must be refused with EUCLEAN (or fall back to a good copy), never trusted.
import * as zlib from 'node:zlib';
import { devices, BlockDevice } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { computeLayout } from '../../lib/fs/layout';
import { metaIO } from '../../lib/fs/metaio';
import { mkfs } from '../../lib/fs/mkfs';

const SIZE = 4 * 1024 * 1024;
const layout = computeLayout(SIZE);
const JOURNAL = layout.journalStart * 4096;
const RECORD = JOURNAL + 4096;

function image(setup?: (f: Filesystem) => void): Buffer {
  const dev = devices.ram(SIZE);
  mkfs(dev);
  const f = Filesystem.mount(dev, 'dax');
  setup?.(f);
  f.unmount();
  const img = Buffer.alloc(SIZE);
  dev.readSectors(0, img);
  dev.close();
  return img;
}

function deviceOf(img: Buffer): BlockDevice {
  const dev = devices.ram(img.length);
  dev.writeSectors(0, img);
  return dev;
}

/** Writes a committed journal record (valid checksum, seq past applied) with these entries. */
function record(img: Buffer, entries: Array<{ target: number; length: number; room?: number }>): void {
  let off = 24;
  for (const e of entries) {
    img.writeDoubleLE(e.target, RECORD + off);
    img.writeUInt32LE(e.length, RECORD + off + 8);
    off += 16 + (e.room ?? 8);
  }
  img.writeUInt32LE(0x58545844, RECORD);
  img.writeUInt32LE(entries.length, RECORD + 4);
  img.writeDoubleLE(img.readDoubleLE(JOURNAL + 8) + 1, RECORD + 8);
  img.writeUInt32LE(off, RECORD + 16);
  img.writeUInt32LE(zlib.crc32(img.subarray(RECORD + 24, RECORD + off), zlib.crc32(img.subarray(RECORD, RECORD + 20))), RECORD + 20);
}

describe('journal replay checks what it replays', () => {
  test.each([
    ['past the end of the device', [{ target: SIZE * 4, length: 8 }]],
    ['straddling the end of the device', [{ target: SIZE - 4, length: 8 }]],
    ['at a negative offset', [{ target: -8, length: 8 }]],
    ['at a fractional offset', [{ target: 0.5, length: 8 }]],
    ['at NaN', [{ target: NaN, length: 8 }]],
    ['into the journal itself', [{ target: JOURNAL + 4096, length: 8 }]],
    ['longer than the record', [{ target: 8192 * 100, length: 100000 }]],
  ])('an entry %s is EUCLEAN at mount and a problem for fsck, even with repair; nothing is written', (_what, entries) => {
    const img = image();
    record(img, entries);
    const dev = deviceOf(img);
    expect(() => Filesystem.mount(dev, 'dax')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    const checked = fsck(dev, { repair: true });   // fsck reports damage; it does not throw it
    expect(checked.clean).toBe(false);
    expect(checked.needsRecovery).toBe(false);
    expect(checked.problems.join('\n')).toMatch(/^EUCLEAN: the journal's committed transaction is corrupt/);
    expect(checked.repaired).toEqual([]);
    const after = Buffer.alloc(SIZE);
    dev.readSectors(0, after);
    expect(after.equals(img)).toBe(true);
    dev.close();
  });

  test('a valid entry still replays', () => {
    const img = image();
    const target = layout.dataStart * 4096 + 100;
    record(img, [{ target, length: 8 }]);
    img.write('REPLAYED', RECORD + 24 + 16, 'latin1');
    img.writeUInt32LE(zlib.crc32(img.subarray(RECORD + 24, RECORD + 48), zlib.crc32(img.subarray(RECORD, RECORD + 20))), RECORD + 20);
    const dev = deviceOf(img);
    Filesystem.mount(dev, 'dax').unmount();
    const b = Buffer.alloc(4096);
    dev.readSectors(layout.dataStart * 8, b);
    expect(b.toString('latin1', 100, 108)).toBe('REPLAYED');
    dev.close();
  });

  test.each([NaN, -1, Infinity, 0.5])('an applied number of %p in the header is EUCLEAN at mount and a problem for fsck', (applied) => {
    const img = image();
    img.writeDoubleLE(applied, JOURNAL + 8);
    const dev = deviceOf(img);
    expect(() => Filesystem.mount(dev, 'dax')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    const checked = fsck(dev);
    expect(checked.clean).toBe(false);
    expect(checked.problems.join('\n')).toMatch(/^EUCLEAN: /);
    dev.close();
  });
});

/** The byte offset of inode `ino` in the table. */
const inodeAt = (ino: number) => layout.inodeTableStart * 4096 + ino * 256;
function fixInode(img: Buffer, ino: number): void {
  const at = inodeAt(ino);
  img.writeUInt32LE(zlib.crc32(img.subarray(at + 64, at + 252), zlib.crc32(img.subarray(at, at + 32))), at + 252);
}
function statIno(img: Buffer, path: string): number {
  const dev = deviceOf(img);
  const f = Filesystem.mount(dev, 'dax');
  const ino = f.stat(path).ino;
  f.unmount();
  dev.close();
  return ino;
}

describe('an inode with a valid checksum but insane values is EUCLEAN', () => {
  const base = image((f) => {
    f.writeFile('/file', Buffer.alloc(10000, 7));
    f.mkdir('/dir');
  });
  const file = statIno(base, '/file');
  const dirIno = statIno(base, '/dir');
  const cases: Array<[string, number, (img: Buffer, at: number) => void]> = [
    ['a size of 2^60', file, (img, at) => img.writeDoubleLE(2 ** 60, at + 16)],
    ['a NaN size', file, (img, at) => img.writeDoubleLE(NaN, at + 16)],
    ['a negative size', file, (img, at) => img.writeDoubleLE(-4096, at + 16)],
    ['a directory size past its blocks', dirIno, (img, at) => img.writeDoubleLE(2 ** 44, at + 16)],
    ['a block count of -1', file, (img, at) => img.writeDoubleLE(-1, at + 24)],
    ['no file type', file, (img, at) => img.writeUInt32LE(0o644, at)],
    ['an extent on the inode table', file, (img, at) => img.writeDoubleLE(layout.inodeTableStart, at + 88)],
    ['an extent past the device', file, (img, at) => img.writeDoubleLE(layout.blocks + 5, at + 88)],
    ['an extent of 2^31 - 1 blocks', file, (img, at) => img.writeUInt32LE(0x7fffffff, at + 84)],
    ['an extent at a NaN device block', file, (img, at) => img.writeDoubleLE(NaN, at + 88)],
    ['an extent of no blocks', file, (img, at) => img.writeUInt32LE(0, at + 84)],
    ['an extent block on the superblock', file, (img, at) => { img.writeUInt32LE(1, at + 8); img.writeDoubleLE(0, at + 72); }],
    ['an extent block past the device', file, (img, at) => { img.writeUInt32LE(1, at + 8); img.writeDoubleLE(2 ** 40, at + 72); }],
  ];
  test.each(cases)('%s: reads fail with EUCLEAN, fsck reports it, nothing reaches outside the data area', (_what, ino, damage) => {
    const img = Buffer.from(base);
    damage(img, inodeAt(ino));
    fixInode(img, ino);
    const dev = deviceOf(img);
    const f = Filesystem.mount(dev, 'dax');
    const path = ino === file ? '/file' : '/dir';
    expect(() => f.stat(path)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    expect(() => (ino === file ? f.readFile(path) : f.readdir(path))).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    f.unmount();
    const r = fsck(dev);
    expect(r.clean).toBe(false);
    expect(r.problems.join('\n')).toMatch(new RegExp(`inode ${ino}.*corrupt`));
    dev.close();
  });
});

describe('a superblock with a valid checksum but an insane block count', () => {
  test.each([NaN, -1, 0.5, 100, Infinity])('%p blocks: the backup is used', (blocks) => {
    const img = image((f) => f.writeFile('/kept', 'kept'));
    img.writeDoubleLE(blocks, 16);
    img.writeUInt32LE(zlib.crc32(img.subarray(0, 252)), 252);
    const dev = deviceOf(img);
    const r = fsck(dev);
    expect(r.problems.join('\n')).toMatch(/primary superblock: .*; using the backup/);
    const f = Filesystem.mount(dev, 'dax');
    expect(f.readFile('/kept').toString()).toBe('kept');
    f.unmount();
    dev.close();
  });

  test('both copies insane: EUCLEAN', () => {
    const img = image();
    for (const at of [0, layout.backupSuperblock * 4096]) {
      img.writeDoubleLE(NaN, at + 16);
      img.writeUInt32LE(zlib.crc32(img.subarray(at, at + 252)), at + 252);
    }
    const dev = deviceOf(img);
    expect(() => Filesystem.mount(dev, 'dax')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    dev.close();
  });
});

describe('a directory index with a valid checksum that points at one block twice', () => {
  test('listing it is EUCLEAN (each block once), not the same entries twice or a walk exponential in the depth', () => {
    const img = image((f) => {
      f.mkdir('/many');
      for (let i = 0; i < 24; i++) f.writeFile(`/many/${i}-${'n'.repeat(180)}`, '');
    });
    const dev0 = deviceOf(img);
    const f0 = Filesystem.mount(dev0, 'dax');
    const dirBlock = f0.inode(f0.stat('/many').ino).extents[0].deviceBlock;   // file block 0: the root
    f0.unmount();
    dev0.close();
    const at = dirBlock * 4096;
    expect(img[at + 10]).toBe(1);   // the root is a level-1 index
    const child0 = img.readUInt32LE(at + 40 + 4) & 0x7fffffff;
    const entry1 = img.readUInt32LE(at + 48 + 4);
    img.writeUInt32LE(((entry1 & 0x80000000) | child0) >>> 0, at + 48 + 4);
    img.writeUInt32LE(0, at + 4);
    img.writeUInt32LE(zlib.crc32(img.subarray(at, at + 4096)), at + 4);
    const dev = deviceOf(img);
    const f = Filesystem.mount(dev, 'dax');
    expect(() => f.readdir('/many')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    f.unmount();
    expect(fsck(dev).clean).toBe(false);
    dev.close();
  });
});

describe('metadata I/O outside the device', () => {
  test.each(['ram', 'windowed'])('on a %s device: EUCLEAN (a backstop), not the mapping\'s RangeError or the device\'s ERANGE', (kind) => {
    const dev = kind === 'ram' ? devices.ram(SIZE) : devices.windowed(SIZE);
    const io = metaIO(dev);
    for (const [at, n] of [[SIZE - 4, 8], [SIZE * 4, 8], [-512, 8], [NaN, 8], [0.5, 8]]) {
      expect(() => io.read(at, n)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
      expect(() => io.write(at, Buffer.alloc(n))).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    }
    expect(io.read(SIZE - 8, 8).length).toBe(8);
    dev.close();
  });
});

describe('the largest file (2^32 blocks, found while sizing the fuzzer\'s limits)', () => {
  const MAX = 2 ** 44;
  test('a write or truncate past it is EFBIG and leaves the file readable; up to it works', () => {
    const dev = devices.ram(SIZE);
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    f.writeFile('/s', 'x');
    const h = f.open('/s', 'r+');
    expect(h.write(Buffer.from('end'), 0, 3, MAX - 3)).toBe(3);
    for (const pos of [MAX - 2, MAX, 2 ** 50]) {
      expect(() => h.write(Buffer.from('abc'), 0, 3, pos)).toThrow(expect.objectContaining({ code: 'EFBIG' }));
    }
    expect(() => h.truncate(MAX + 1)).toThrow(expect.objectContaining({ code: 'EFBIG' }));
    expect(() => f.truncate('/s', 2 ** 50)).toThrow(expect.objectContaining({ code: 'EFBIG' }));
    expect(f.stat('/s').size).toBe(MAX);
    const tail = Buffer.alloc(3);
    h.read(tail, 0, 3, MAX - 3);
    expect(tail.toString()).toBe('end');
    h.close();
    f.unmount();
    expect(fsck(dev).problems).toEqual([]);
    dev.close();
  });

  test('readFile of a sparse file larger than any Buffer is ERR_FS_FILE_TOO_LARGE, as node:fs', () => {
    const dev = devices.ram(SIZE);
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    f.writeFile('/s', 'x');
    f.truncate('/s', 2 ** 40);
    expect(() => f.readFile('/s')).toThrow(expect.objectContaining({ code: 'ERR_FS_FILE_TOO_LARGE' }));
    f.unmount();
    dev.close();
  });
});

describe('link counts at their limits', () => {
  test('a directory at 2^32 - 1 links: mkdir in it is EMLINK, not a RangeError; nothing changes', () => {
    const img = image();
    const at = inodeAt(2);
    img.writeUInt32LE(0xffffffff, at + 4);
    fixInode(img, 2);
    const dev = deviceOf(img);
    const f = Filesystem.mount(dev, 'dax');
    expect(() => f.mkdir('/sub')).toThrow(expect.objectContaining({ code: 'EMLINK' }));
    expect(f.readdir('/')).toEqual([]);
    f.writeFile('/file', 'ok');   // a file does not count in its directory's links
    f.unmount();
    dev.close();
  });

  test('a linked file whose count says 0: unlink is EUCLEAN, not a RangeError; fsck repair fixes the count', () => {
    let ino = 0;
    const img = image((f) => { f.writeFile('/file', 'data'); ino = f.stat('/file').ino; });
    img.writeUInt32LE(0, inodeAt(ino) + 4);
    fixInode(img, ino);
    const dev = deviceOf(img);
    const f = Filesystem.mount(dev, 'dax');
    expect(() => f.unlink('/file')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    f.unmount();
    expect(fsck(dev, { repair: true }).repaired.join('\n')).toMatch(new RegExp(`link count of inode ${ino} to 1`));
    const again = Filesystem.mount(dev, 'dax');
    again.unlink('/file');
    again.unmount();
    expect(fsck(dev).problems).toEqual([]);
    dev.close();
  });
});

describe('a directory entry whose name no path can spell (valid checksum)', () => {
  test('readdir and lookups in that block are EUCLEAN, not a name with a NUL byte handed to the caller', () => {
    let dirIno = 0;
    const img = image((f) => { f.mkdir('/d'); f.writeFile('/d/name', ''); dirIno = f.stat('/d').ino; });
    const dev0 = deviceOf(img);
    const f0 = Filesystem.mount(dev0, 'dax');
    const at = f0.inode(dirIno).extents[0].deviceBlock * 4096;
    f0.unmount();
    dev0.close();
    expect(img.toString('latin1', at + 40 + 12, at + 40 + 16)).toBe('name');   // the first record's name
    img[at + 40 + 13] = 0;
    img.writeUInt32LE(0, at + 4);
    img.writeUInt32LE(zlib.crc32(img.subarray(at, at + 4096)), at + 4);
    const dev = deviceOf(img);
    const f = Filesystem.mount(dev, 'dax');
    expect(() => f.readdir('/d')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    f.unmount();
    expect(fsck(dev).clean).toBe(false);
    dev.close();
  });
});
