// The filesystem on non-DAX mounts: file data through the page cache (lib/mm), written
// back by fsync, sync and unmount; O_DIRECT past the cache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { devices, BlockDevice } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { FileHandle } from '../../lib/fs/file';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { mapAnonymous, mapFile } from '../../lib/pmem';
import { makeTempDir, pattern, useTempDirs } from '../helpers/tmp';
import { snapshotting } from '../helpers/wrap-mapping';

const MiB = 1024 * 1024;
const PAGE = 4096;
const { O_DIRECT, O_RDWR, O_CREAT } = fs.constants;

useTempDirs();
const dir = makeTempDir('daxfs-pagecache-');

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

/** The bytes of file page `index` as the device holds them now (zeros for a hole). */
function onDevice(f: Filesystem, dev: BlockDevice, file: string, index: number): Buffer {
  const ino = f.stat(file).ino;
  const m = f.getBlock(ino)({ ino, size: f.stat(file).size, device: dev }, index, 1, false);
  const out = Buffer.alloc(PAGE);
  if (m.mapped) dev.readSectors(m.block * (PAGE / 512), out);
  return out;
}

function clean(dev: BlockDevice): void {
  expect(fsck(dev).problems).toEqual([]);
}

const makers: Array<[string, () => BlockDevice]> = [
  ['ram', () => devices.ram(32 * MiB)],
  ['pmem file', () => devices.pmem(mapFile(path.join(dir, `img-${Math.random()}`), { create: true, size: 32 * MiB }))],
  ['windowed', () => devices.windowed(32 * MiB, { window: 64 * 1024 })],
];

describe.each(makers)('daxfs on a %s device, mounted without dax', (_name, make) => {
  let dev: BlockDevice;
  let f: Filesystem;
  beforeEach(() => {
    dev = make();
    mkfs(dev, { label: 'nodax' });
    f = Filesystem.mount(dev, { dax: false });
  });
  afterEach(() => {
    f.unmount();
    clean(dev);
    dev.close();
  });

  test('mounts without dax (string form too) and regular files do not carry S_DAX', () => {
    expect(f.dax).toBe(false);
    f.writeFile('/x', 'x');
    expect(f.stat('/x').isDax).toBe(false);
    f.unmount();
    f = Filesystem.mount(dev, 'rw');
    expect(f.dax).toBe(false);
    expect(f.readFile('/x').toString()).toBe('x');
  });

  test('writes and reads round-trip across page boundaries and holes; holes read as zeros', () => {
    const h = f.open('/p', 'w+');
    const a = pattern(3 * PAGE + 100, 1);
    expect(h.write(a, 0, a.length, PAGE - 50)).toBe(a.length);       // straddles four pages
    expect(h.write(Buffer.from('Z'), 0, 1, 20 * PAGE + 7)).toBe(1);  // a hole in between
    const out = Buffer.alloc(20 * PAGE + 8);
    expect(h.read(out, 0, out.length, 0)).toBe(out.length);
    expect(out.subarray(0, PAGE - 50).every((b) => b === 0)).toBe(true);
    expect(out.subarray(PAGE - 50, PAGE - 50 + a.length).equals(a)).toBe(true);
    expect(out.subarray(PAGE - 50 + a.length, 20 * PAGE + 7).every((b) => b === 0)).toBe(true);
    expect(out[20 * PAGE + 7]).toBe('Z'.charCodeAt(0));
    expect(h.read(Buffer.alloc(10), 0, 10, 30 * PAGE)).toBe(0);       // past EOF
    // Byte-granular rewrites inside cached pages keep the bytes around them.
    h.write(Buffer.from('mid'), 0, 3, 2 * PAGE + 1);
    const back = Buffer.alloc(5);
    h.read(back, 0, 5, 2 * PAGE);
    expect(back.equals(Buffer.concat([a.subarray(PAGE + 50, PAGE + 51), Buffer.from('mid'), a.subarray(PAGE + 54, PAGE + 55)]))).toBe(true);
    h.close();
  });

  test('written data is not on the device before fsync and is after it', () => {
    const h = f.open('/d', 'w+');
    const data = pattern(2 * PAGE, 2);
    h.write(data, 0, data.length, 0);
    expect(onDevice(f, dev, '/d', 0).every((b) => b === 0)).toBe(true);   // allocated and zeroed, data only cached
    h.sync();
    expect(onDevice(f, dev, '/d', 0).equals(data.subarray(0, PAGE))).toBe(true);
    expect(onDevice(f, dev, '/d', 1).equals(data.subarray(PAGE))).toBe(true);
    h.write(Buffer.from('again'), 0, 5, 0);
    h.datasync();
    expect(onDevice(f, dev, '/d', 0).subarray(0, 5).toString()).toBe('again');
    h.close();
  });

  test('fs.sync() writes back every file; fsync of one file leaves the others cached', () => {
    f.writeFile('/a', pattern(PAGE, 3));
    f.writeFile('/b', pattern(PAGE, 4));
    const h = f.open('/a', 'r+');
    h.sync();
    h.close();
    expect(onDevice(f, dev, '/a', 0).equals(pattern(PAGE, 3))).toBe(true);
    expect(onDevice(f, dev, '/b', 0).every((b) => b === 0)).toBe(true);
    f.sync();
    expect(onDevice(f, dev, '/b', 0).equals(pattern(PAGE, 4))).toBe(true);
  });

  test('unmount writes back, and a remount shows everything', () => {
    f.mkdir('/dir');
    const big = pattern(3 * MiB + 123, 5);
    f.writeFile('/dir/big', big);
    f.writeFile('/small', 'small');
    f.unmount();
    clean(dev);
    f = Filesystem.mount(dev, 'nodax');
    expect(f.readFile('/dir/big').equals(big)).toBe(true);
    expect(f.readFile('/small').toString()).toBe('small');
  });

  test('truncate down drops the cached pages past the end and zeroes the tail; up reads zeros', () => {
    const data = pattern(50000, 6);
    f.writeFile('/t', data);
    const before = f.statfs().freeBlocks;
    f.truncate('/t', 5000);
    expect(f.statfs().freeBlocks).toBeGreaterThan(before + 9);
    // The tail of the last page is zero on the device too, before the file could grow.
    expect(onDevice(f, dev, '/t', 1).subarray(5000 - PAGE).every((b) => b === 0)).toBe(true);
    f.truncate('/t', 60000);
    const back = f.readFile('/t');
    expect(back.subarray(0, 5000).equals(data.subarray(0, 5000))).toBe(true);
    expect(back.subarray(5000).every((b) => b === 0)).toBe(true);
    f.unmount();
    f = Filesystem.mount(dev, 'nodax');
    const again = f.readFile('/t');
    expect(again.length).toBe(60000);
    expect(again.subarray(5000).every((b) => b === 0)).toBe(true);
  });

  test('blocks of a deleted file read as zeros when a new file gets them, and its dirty pages are never written back', () => {
    f.writeFile('/secret', Buffer.alloc(64 * 1024, 0x5e));
    f.sync();
    f.writeFile('/secret', Buffer.alloc(64 * 1024, 0x6f));   // dirty again, then freed
    f.unlink('/secret');
    const h = f.open('/new', 'w+');
    h.write(Buffer.alloc(16 * PAGE, 0x11), 0, 16 * PAGE, 0);
    h.truncate(0);
    h.write(Buffer.from('y'), 0, 1, 100);
    f.sync();
    const out = Buffer.alloc(PAGE);
    h.read(out, 0, PAGE, 0);
    expect(out.filter((b) => b === 0x5e || b === 0x6f || b === 0x11).length).toBe(0);
    h.close();
  });

  test('O_DIRECT needs position and length multiples of 512 (EINVAL otherwise)', () => {
    const h = f.open('/o', O_RDWR | O_CREAT | O_DIRECT);
    const err = (() => { try { h.write(Buffer.alloc(100), 0, 100, 0); } catch (e) { return e as Error & { code: string; syscall: string }; } })();
    expect(err).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'write' });
    expect(err!.message).toMatch(/^EINVAL: invalid argument .*, write$/);
    expect(codeOf(() => h.write(Buffer.alloc(512), 0, 512, 100))).toBe('EINVAL');
    expect(codeOf(() => h.read(Buffer.alloc(512), 0, 512, 7))).toBe('EINVAL');
    expect(codeOf(() => h.read(Buffer.alloc(1000), 0, 1000, 0))).toBe('EINVAL');
    // Memory alignment is not checked: a buffer at an odd offset is fine.
    const odd = Buffer.alloc(1024 + 3).subarray(3);
    odd.fill(7);
    expect(h.write(odd, 0, 1024, 512)).toBe(1024);
    h.close();
  });

  test('O_DIRECT sees data written through the cache, and the cache sees O_DIRECT writes', () => {
    const data = pattern(3 * PAGE, 7);
    f.writeFile('/mix', data);
    const d = f.open('/mix', O_RDWR | O_DIRECT);
    const out = Buffer.alloc(2048);
    expect(d.read(out, 0, 2048, PAGE - 1024)).toBe(2048);
    expect(out.equals(data.subarray(PAGE - 1024, PAGE + 1024))).toBe(true);
    // The direct read wrote the cached range back first: it is on the device now.
    expect(onDevice(f, dev, '/mix', 0).equals(data.subarray(0, PAGE))).toBe(true);
    // A direct write goes to the device at once, and a cached read afterwards sees it.
    const patch = Buffer.alloc(1024, 0xab);
    d.write(patch, 0, 1024, PAGE + 512);
    expect(onDevice(f, dev, '/mix', 1).subarray(512, 1536).equals(patch)).toBe(true);
    const back = f.readFile('/mix');
    expect(back.subarray(PAGE + 512, PAGE + 1536).equals(patch)).toBe(true);
    expect(back.subarray(0, PAGE + 512).equals(data.subarray(0, PAGE + 512))).toBe(true);
    expect(back.subarray(PAGE + 1536).equals(data.subarray(PAGE + 1536))).toBe(true);
    d.close();
  });

  test('O_DIRECT extends files, reads holes as zeros and stops at an EOF inside a sector', () => {
    const d = f.open('/grow', O_RDWR | O_CREAT | O_DIRECT);
    d.write(Buffer.alloc(512, 1), 0, 512, 3 * PAGE);
    expect(f.stat('/grow').size).toBe(3 * PAGE + 512);
    const out = Buffer.alloc(4 * PAGE, 9);
    expect(d.read(out, 0, 4 * PAGE, 0)).toBe(3 * PAGE + 512);
    expect(out.subarray(0, 3 * PAGE).every((b) => b === 0)).toBe(true);
    expect(out.subarray(3 * PAGE, 3 * PAGE + 512).every((b) => b === 1)).toBe(true);
    d.close();
    f.writeFile('/odd', pattern(1000, 8));
    const e = f.open('/odd', O_RDWR | O_DIRECT);
    const got = Buffer.alloc(1024);
    expect(e.read(got, 0, 1024, 0)).toBe(1000);
    expect(got.subarray(0, 1000).equals(pattern(1000, 8))).toBe(true);
    e.close();
  });

  test('a read-only mount reads through the cache and refuses writes with EROFS', () => {
    f.writeFile('/r', 'r');
    f.unmount();
    f = Filesystem.mount(dev, 'ro');
    expect(f.readFile('/r').toString()).toBe('r');
    expect(codeOf(() => f.writeFile('/r', 'w'))).toBe('EROFS');
  });
});

describe('non-DAX mounts of a pmem file', () => {
  test('a remount from the same pmem file (a new device) shows everything written before unmount', () => {
    const file = path.join(dir, 'remount.img');
    let dev = devices.pmem(mapFile(file, { create: true, size: 16 * MiB }));
    mkfs(dev);
    let f = Filesystem.mount(dev, 'nodax');
    const data = pattern(200000, 9);
    f.writeFile('/keep', data);
    const h: FileHandle = f.open('/keep', 'r+');
    h.write(Buffer.from('tail'), 0, 4, 200000);
    f.unmount();
    dev.close();
    dev = devices.pmem(mapFile(file));
    clean(dev);
    f = Filesystem.mount(dev, 'nodax');
    const back = f.readFile('/keep');
    expect(back.subarray(0, 200000).equals(data)).toBe(true);
    expect(back.subarray(200000).toString()).toBe('tail');
    f.unmount();
    dev.close();
  });

  test('a DAX mount of the same device reads what a non-DAX mount wrote back', () => {
    const dev = devices.ram(16 * MiB);
    mkfs(dev);
    let f = Filesystem.mount(dev, 'nodax');
    f.writeFile('/both', pattern(10000, 10));
    f.unmount();
    f = Filesystem.mount(dev, 'dax');
    expect(f.readFile('/both').equals(pattern(10000, 10))).toBe(true);
    expect(f.stat('/both').isDax).toBe(true);
    f.unmount();
    clean(dev);
    dev.close();
  });
});

describe('ENOSPC on a non-DAX mount', () => {
  test('ENOSPC: a write that fills the device is short, the size covers exactly what went in, other files intact', () => {
    const dev = devices.windowed(8 * MiB);
    mkfs(dev);
    const f = Filesystem.mount(dev, 'nodax');
    f.writeFile('/keep', 'keep me');
    for (const [name, flags] of [['/fill', 'w'], ['/direct', O_RDWR | O_CREAT | O_DIRECT]] as const) {
      const h = f.open(name, flags);
      const chunk = Buffer.alloc(MiB, 1);
      let error: string | undefined;
      let total = 0;
      for (let i = 0; i < 16 && !error; i++) {
        try { total += h.write(chunk); } catch (e) { error = (e as { code: string }).code; }
      }
      expect(error).toBe('ENOSPC');
      expect(f.stat(name).size).toBe(total);
      expect(total % 4096).toBe(0);
      h.close();
      f.sync();
      expect(f.readFile(name).every((b) => b === 1)).toBe(true);
      f.unlink(name);
    }
    expect(f.readFile('/keep').toString()).toBe('keep me');
    f.unmount();
    clean(dev);
    dev.close();
  });
});

describe('O_DIRECT on a DAX mount', () => {
  test('is the DAX path itself: byte granular, no alignment rule', () => {
    const dev = devices.ram(16 * MiB);
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    const h = f.open('/x', O_RDWR | O_CREAT | O_DIRECT);
    expect(h.write(Buffer.from('hello'), 0, 5, 3)).toBe(5);
    const out = Buffer.alloc(8);
    expect(h.read(out, 0, 8, 0)).toBe(8);
    expect(out.toString('latin1')).toBe('\0\0\0hello');
    h.close();
    f.unmount();
    clean(dev);
    dev.close();
  });
});

describe('crash consistency of a non-DAX mount (images taken at every store and fence)', () => {
  test('write + fsync over freed blocks: after a crash the file reads as its data or zeros, never the old bytes', () => {
    const SIZE = 4 * MiB;
    const images: Buffer[] = [];
    const m = snapshotting(mapAnonymous(SIZE), images);
    const dev = devices.pmem(m);
    mkfs(dev);
    const f = Filesystem.mount(dev, 'nodax');
    f.writeFile('/secret', Buffer.alloc(8 * PAGE, 0x5e));
    f.sync();
    f.unlink('/secret');                                   // its blocks hold 0x5e, free again
    const data = Buffer.alloc(3 * PAGE + 100, 0x33);
    m.capturing = true;
    const h = f.open('/new', 'w');
    h.write(data, 0, data.length, 0);
    h.sync();
    h.close();
    m.capturing = false;
    f.unmount();
    dev.close();
    m.close();
    expect(images.length).toBeGreaterThan(5);
    let sawData = false;
    for (const image of images) {
      const d = devices.ram(image.length);
      d.writeSectors(0, image);
      Filesystem.mount(d, 'nodax').unmount();              // replays the journal
      expect(fsck(d).problems).toEqual([]);
      const g = Filesystem.mount(d, 'nodax');
      if (g.readdir('/').includes('new')) {
        const back = g.readFile('/new');
        expect(back.every((b) => b === 0 || b === 0x33)).toBe(true);
        if (back.length === data.length && back.every((b) => b === 0x33)) sawData = true;
      }
      g.unmount();
      d.close();
    }
    expect(sawData).toBe(true);
  });
});
