import { devices, BlockDevice } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { crashImages, mountImage } from '../helpers/crash-images';
import { pattern } from '../helpers/tmp';

const MiB = 1024 * 1024;
const B = 4096;

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

function zeros(b: Buffer): boolean {
  return b.every((x) => x === 0);
}

/** The file's extents as [file block, length, unwritten] triples. */
function layoutOf(f: Filesystem, ino: number): Array<[number, number, boolean]> {
  return f.inode(ino).extents.map((e) => [e.fileBlock, e.length, e.unwritten]);
}

describe('FileHandle.allocate on a DAX mount', () => {
  let dev: BlockDevice;
  let f: Filesystem;
  beforeEach(() => {
    dev = devices.ram(32 * MiB);
    mkfs(dev);
    f = Filesystem.mount(dev, 'dax');
  });
  afterEach(() => {
    if (f.mounted) f.unmount();
    expect(fsck(dev).problems).toEqual([]);
    dev.close();
  });

  test("'default' maps the holes of the range as unwritten blocks that read zeros, count in stat().blocks and statfs, and grows the size", () => {
    const h = f.open('/a', 'w+');
    h.write(Buffer.from('abc'), 0, 3, 0);
    const free0 = f.statfs().freeBlocks;
    h.allocate(0, 10 * B + 100);
    expect(h.stat().size).toBe(10 * B + 100);
    expect(h.stat().blocks).toBe(11 * 8);                 // 512-byte units, as node:fs
    expect(f.statfs().freeBlocks).toBe(free0 - 10);       // block 0 was mapped already
    expect(layoutOf(f, h.ino)).toEqual([[0, 1, false], [1, 10, true]]);
    const back = f.readFile('/a');
    expect(back.subarray(0, 3).toString()).toBe('abc');
    expect(zeros(back.subarray(3))).toBe(true);
    h.allocate(B, 5 * B);                                 // all mapped: nothing changes
    expect(f.statfs().freeBlocks).toBe(free0 - 10);
    expect(h.stat().size).toBe(10 * B + 100);
    h.close();
  });

  test("'keep-size' maps the same blocks but keeps the size; a later write past the size uses them", () => {
    const h = f.open('/k', 'w+');
    const free0 = f.statfs().freeBlocks;
    h.allocate(0, 8 * B, 'keep-size');
    expect(h.stat().size).toBe(0);
    expect(h.stat().blocks).toBe(8 * 8);
    expect(f.statfs().freeBlocks).toBe(free0 - 8);
    h.write(Buffer.from('hello'), 0, 5, 5000);
    expect(f.statfs().freeBlocks).toBe(free0 - 8);        // no new block: the preallocated one
    expect(h.stat().size).toBe(5005);
    const back = f.readFile('/k');
    expect(zeros(back.subarray(0, 5000))).toBe(true);
    expect(back.subarray(5000).toString()).toBe('hello');
    h.close();
  });

  test('a write into the middle of an unwritten extent converts just the blocks it touches; neighbours still read zeros, also after a remount', () => {
    const h = f.open('/u', 'w+');
    h.allocate(0, 16 * B);
    const free0 = f.statfs().freeBlocks;
    const data = pattern(2 * B, 7);
    h.write(data, 0, data.length, 5 * B + 100);           // touches blocks 5, 6 and 7
    expect(layoutOf(f, h.ino)).toEqual([[0, 5, true], [5, 3, false], [8, 8, true]]);
    expect(f.statfs().freeBlocks).toBe(free0);
    h.close();
    f.unmount();
    f = Filesystem.mount(dev, 'dax');
    const back = f.readFile('/u');
    expect(back.length).toBe(16 * B);
    expect(zeros(back.subarray(0, 5 * B + 100))).toBe(true);
    expect(back.subarray(5 * B + 100, 7 * B + 100).equals(data)).toBe(true);
    expect(zeros(back.subarray(7 * B + 100))).toBe(true);
  });

  test('unwritten blocks read zeros even when the device still holds a deleted file\'s bytes there', () => {
    const h = f.open('/s', 'w+');
    h.write(Buffer.alloc(16 * B, 0x5e), 0, 16 * B, 0);
    const old = f.inode(h.ino).extents[0].deviceBlock;
    h.allocate(0, 16 * B, 'punch-hole');                  // frees the blocks, bytes stay on the device
    h.allocate(0, 16 * B, 'keep-size');                   // the same goal: the same blocks again
    expect(f.inode(h.ino).extents[0]).toMatchObject({ deviceBlock: old, unwritten: true });
    const raw = Buffer.alloc(B);
    dev.readSectors(old * 8, raw);
    expect(raw[0]).toBe(0x5e);                             // the old bytes are really there
    const out = Buffer.alloc(16 * B, 1);
    expect(h.read(out, 0, out.length, 0)).toBe(16 * B);
    expect(zeros(out)).toBe(true);
    h.write(Buffer.from('x'), 0, 1, 3 * B + 7);            // the rest of that block is zeroed
    h.read(out, 0, B, 3 * B);
    expect(out.subarray(0, B).filter((x) => x === 0x5e).length).toBe(0);
    h.close();
  });

  test("'zero-range' over written data reads zeros: whole blocks turn unwritten in place, partial ends are zeroed, bytes outside are kept", () => {
    const data = pattern(10 * B, 3);
    f.writeFile('/z', data);
    const h = f.open('/z', 'r+');
    const free0 = f.statfs().freeBlocks;
    h.allocate(1000, 5 * B, 'zero-range');                // [1000, 21480): blocks 1..4 whole
    expect(f.statfs().freeBlocks).toBe(free0);
    expect(h.stat().blocks).toBe(10 * 8);
    expect(h.stat().size).toBe(10 * B);
    expect(layoutOf(f, h.ino)).toEqual([[0, 1, false], [1, 4, true], [5, 5, false]]);
    const back = f.readFile('/z');
    expect(back.subarray(0, 1000).equals(data.subarray(0, 1000))).toBe(true);
    expect(zeros(back.subarray(1000, 1000 + 5 * B))).toBe(true);
    expect(back.subarray(1000 + 5 * B).equals(data.subarray(1000 + 5 * B))).toBe(true);
    h.close();
  });

  test("'zero-range' past the end grows the size and maps the new blocks unwritten", () => {
    f.writeFile('/g', pattern(5000, 2));
    const h = f.open('/g', 'r+');
    const free0 = f.statfs().freeBlocks;
    h.allocate(4990, 3 * B, 'zero-range');                // end 17278: blocks 1..4, 2 whole
    expect(h.stat().size).toBe(4990 + 3 * B);
    expect(f.statfs().freeBlocks).toBe(free0 - 3);        // blocks 2, 3, 4
    const back = f.readFile('/g');
    expect(back.subarray(0, 4990).equals(pattern(5000, 2).subarray(0, 4990))).toBe(true);
    expect(zeros(back.subarray(4990))).toBe(true);
    h.close();
  });

  test("'punch-hole' frees the whole blocks of the range, zeroes the partial ends and keeps the size", () => {
    const data = pattern(10 * B, 4);
    f.writeFile('/p', data);
    const h = f.open('/p', 'r+');
    const free0 = f.statfs().freeBlocks;
    h.allocate(2 * B + 10, 5 * B, 'punch-hole');          // [8202, 28682): blocks 3..6 whole
    expect(f.statfs().freeBlocks).toBe(free0 + 4);
    expect(h.stat().blocks).toBe(6 * 8);
    expect(h.stat().size).toBe(10 * B);
    expect(layoutOf(f, h.ino).map(([b, n]) => [b, n])).toEqual([[0, 3], [7, 3]]);
    const back = f.readFile('/p');
    expect(back.subarray(0, 2 * B + 10).equals(data.subarray(0, 2 * B + 10))).toBe(true);
    expect(zeros(back.subarray(2 * B + 10, 7 * B + 10))).toBe(true);
    expect(back.subarray(7 * B + 10).equals(data.subarray(7 * B + 10))).toBe(true);
    h.allocate(3 * B, B, 'punch-hole');                   // already a hole: nothing changes
    expect(f.statfs().freeBlocks).toBe(free0 + 4);
    h.close();
  });

  test("'punch-hole' inside one block zeroes just those bytes and frees nothing", () => {
    f.writeFile('/q', pattern(B, 5));
    const h = f.open('/q', 'r+');
    const free0 = f.statfs().freeBlocks;
    h.allocate(100, 50, 'punch-hole');
    expect(f.statfs().freeBlocks).toBe(free0);
    const back = f.readFile('/q');
    expect(zeros(back.subarray(100, 150))).toBe(true);
    expect(back.subarray(0, 100).equals(pattern(B, 5).subarray(0, 100))).toBe(true);
    expect(back.subarray(150).equals(pattern(B, 5).subarray(150))).toBe(true);
    h.close();
  });

  test('truncate frees preallocated blocks past the size (also to the same size), unlink frees unwritten ones', () => {
    const free0 = f.statfs().freeBlocks;
    const h = f.open('/t', 'w+');
    h.write(Buffer.from('x'), 0, 1, 0);
    h.allocate(0, 20 * B, 'keep-size');
    expect(f.statfs().freeBlocks).toBe(free0 - 20);
    h.truncate(1);                                        // the size it has: drops blocks 1..19
    expect(f.statfs().freeBlocks).toBe(free0 - 1);
    expect(f.readFile('/t').toString()).toBe('x');
    h.allocate(0, 30 * B);
    h.close();
    f.unlink('/t');
    expect(f.statfs().freeBlocks).toBe(free0);
  });

  test('arguments are checked as the kernel does: EINVAL, EFBIG, EBADF, EROFS, and a bad mode is an argument error', () => {
    const h = f.open('/e', 'w+');
    expect(codeOf(() => h.allocate(-1, 10))).toBe('EINVAL');
    expect(codeOf(() => h.allocate(0, 0))).toBe('EINVAL');
    expect(codeOf(() => h.allocate(0, -5))).toBe('EINVAL');
    expect(codeOf(() => h.allocate(2 ** 44, 1))).toBe('EFBIG');
    expect(codeOf(() => h.allocate(0, 10, 'fast' as 'default'))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => h.allocate('0' as unknown as number, 10))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => h.allocate(0.5, 10))).toBe('ERR_OUT_OF_RANGE');
    const err = (() => { try { h.allocate(0, 0); } catch (e) { return e as Error & { errno: number; syscall: string }; } })();
    expect(err!.message).toBe("EINVAL: invalid argument, fallocate '/e'");
    expect(err).toMatchObject({ errno: -22, syscall: 'fallocate', path: '/e' });
    expect(h.stat().size).toBe(0);
    h.close();
    expect(codeOf(() => h.allocate(0, 10))).toBe('EBADF');
    const r = f.open('/e', 'r');
    expect(codeOf(() => r.allocate(0, 10))).toBe('EBADF');
    r.close();
    f.unmount();
    f = Filesystem.mount(dev, 'dax,ro');
    const ro = f.open('/e', 'r');
    expect(codeOf(() => ro.allocate(0, 10))).toBe('EBADF');   // the kernel checks FMODE_WRITE first
    expect(codeOf(() => f.allocateIno(ro.ino, 0, 10, 'default', '/e'))).toBe('EROFS');
    ro.close();
  });
});

describe('allocate and ENOSPC', () => {
  test('ENOSPC leaves the file exactly as it was: size, blocks, contents, free space, and fsck is clean', () => {
    const dev = devices.ram(8 * MiB);
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    const data = pattern(3 * B + 5, 9);
    f.writeFile('/keep', data);
    const h = f.open('/keep', 'r+');
    const before = { size: h.stat().size, blocks: h.stat().blocks, free: f.statfs().freeBlocks, extents: layoutOf(f, h.ino) };
    for (const mode of ['default', 'keep-size', 'zero-range'] as const) {
      expect(codeOf(() => h.allocate(B, 16 * MiB, mode))).toBe('ENOSPC');
      expect({ size: h.stat().size, blocks: h.stat().blocks, free: f.statfs().freeBlocks, extents: layoutOf(f, h.ino) }).toEqual(before);
      expect(f.readFile('/keep').equals(data)).toBe(true);
    }
    // exactly the free space fits, and a write into it then needs no block
    h.allocate(4 * B, before.free * B, 'keep-size');
    expect(f.statfs().freeBlocks).toBe(0);
    h.write(Buffer.from('end'), 0, 3, (4 + before.free) * B - 3);
    expect(h.stat().size).toBe((4 + before.free) * B);
    h.close();
    f.unmount();
    expect(fsck(dev).problems).toEqual([]);
    dev.close();
  });
});

describe('allocate across a crash (images at every store and fence)', () => {
  const SIZE = 8 * MiB;

  interface State { size: number; blocks: number; free: number; content: Buffer }
  function stateOf(image: Buffer): State {
    const { f, dev, problems } = mountImage(image);
    expect(problems).toEqual([]);
    const s = { size: f.stat('/f').size, blocks: f.stat('/f').blocks, free: f.statfs().freeBlocks, content: f.readFile('/f') };
    f.writeFile('/after', 'ok');                          // the allocator still works on every image
    f.unmount();
    dev.close();
    return s;
  }
  function same(a: State, b: State): boolean {
    return a.size === b.size && a.blocks === b.blocks && a.free === b.free && a.content.equals(b.content);
  }
  /** Every image shows exactly the state before or the state after; both are seen. */
  function expectOldOrNew(images: Buffer[]): void {
    expect(images.length).toBeGreaterThan(3);
    const old = stateOf(images[0]);
    const now = stateOf(images[images.length - 1]);
    expect(same(old, now)).toBe(false);
    for (const image of images) {
      const s = stateOf(image);
      expect(same(s, old) || same(s, now)).toBe(true);
    }
  }

  test("'default': after a crash the file has its old size and blocks or all the new ones", () => {
    const images = crashImages(SIZE, (f) => f.writeFile('/f', pattern(5000, 1)), (f) => {
      const h = f.open('/f', 'r+');
      h.allocate(0, 20 * B);
      h.close();
    });
    expectOldOrNew(images);
  });

  test("'punch-hole' of whole blocks: after a crash the blocks are all there with their data or all freed", () => {
    const images = crashImages(SIZE, (f) => f.writeFile('/f', pattern(10 * B, 2)), (f) => {
      const h = f.open('/f', 'r+');
      h.allocate(2 * B, 4 * B, 'punch-hole');
      h.close();
    });
    expectOldOrNew(images);
  });

  test("'zero-range' of whole blocks past the end: after a crash the old data and size, or zeros and the new size", () => {
    const images = crashImages(SIZE, (f) => f.writeFile('/f', pattern(6 * B, 3)), (f) => {
      const h = f.open('/f', 'r+');
      h.allocate(4 * B, 4 * B, 'zero-range');
      h.close();
    });
    expectOldOrNew(images);
  });

  test('a write into unwritten blocks: after a crash the range reads the old zeros or all the new data', () => {
    const data = pattern(5000, 4);
    const images = crashImages(SIZE, (f) => { const h = f.open('/f', 'w'); h.allocate(0, 8 * B); h.close(); }, (f) => {
      const h = f.open('/f', 'r+');
      h.write(data, 0, data.length, B + 100);
      h.close();
    });
    expectOldOrNew(images);
  });

  test.each(['punch-hole', 'zero-range'] as const)("unaligned '%s': the whole blocks change all at once, partial ends are old or zero, and new metadata implies all zeros", (mode) => {
    const data = pattern(10 * B, 5);
    const from = B + 1000;
    const to = 6 * B + 2000;
    const images = crashImages(SIZE, (f) => f.writeFile('/f', data), (f) => {
      const h = f.open('/f', 'r+');
      h.allocate(from, to - from, mode);
      h.close();
    });
    const old = stateOf(images[0]);
    const final = stateOf(images[images.length - 1]);
    expect(zeros(final.content.subarray(from, to))).toBe(true);
    for (const image of images) {
      const s = stateOf(image);
      expect(s.content.subarray(0, from).equals(data.subarray(0, from))).toBe(true);
      expect(s.content.subarray(to).equals(data.subarray(to))).toBe(true);
      for (const [a, b] of [[from, 2 * B], [6 * B, to]]) {
        const part = s.content.subarray(a, b);
        expect(zeros(part) || part.equals(data.subarray(a, b))).toBe(true);
      }
      const whole = s.content.subarray(2 * B, 6 * B);
      expect(zeros(whole) || whole.equals(data.subarray(2 * B, 6 * B))).toBe(true);
      const metadataNew = s.blocks === final.blocks && s.free === final.free && zeros(whole);
      if (metadataNew) expect(zeros(s.content.subarray(from, to))).toBe(true);
      else expect(s.blocks === old.blocks && s.free === old.free && whole.equals(data.subarray(2 * B, 6 * B))).toBe(true);
    }
  });
});

describe.each([
  ['ram', () => devices.ram(16 * MiB)],
  ['windowed', () => devices.windowed(16 * MiB, { window: 64 * 1024 })],
])('allocate on a non-DAX mount (page cache) of a %s device', (_name, make) => {
  test('punch-hole and zero-range over cached, unsynced data read zeros at once and after sync + remount; fsck clean', () => {
    const dev = make();
    mkfs(dev);
    let f = Filesystem.mount(dev, '');
    const h = f.open('/c', 'w+');
    const data = pattern(6 * B, 3);
    h.write(data, 0, data.length, 0);          // dirty in the cache, not on the device yet
    h.allocate(B, 2 * B, 'punch-hole');
    h.allocate(4 * B + 100, 50, 'zero-range');
    const expected = Buffer.from(data);
    expected.fill(0, B, 3 * B);
    expected.fill(0, 4 * B + 100, 4 * B + 150);
    const out = Buffer.alloc(6 * B);
    expect(h.read(out, 0, out.length, 0)).toBe(6 * B);
    expect(out.equals(expected)).toBe(true);
    expect(h.stat().blocks).toBe(4 * 8);        // two of six blocks freed
    h.close();
    f.unmount();
    expect(fsck(dev).problems).toEqual([]);
    f = Filesystem.mount(dev, '');
    expect(f.readFile('/c').equals(expected)).toBe(true);
    f.unmount();
    dev.close();
  });
});
