import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { devices, BlockDevice } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { mapAnonymous, mapFile } from '../../lib/pmem';
import { snapshotting } from '../helpers/wrap-mapping';

const MiB = 1024 * 1024;
const ROOT = path.join(__dirname, '..', '..');

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13) & 0xff;
  return b;
}

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-fs-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const makers: Array<[string, () => BlockDevice]> = [
  ['ram', () => devices.ram(32 * MiB)],
  ['pmem file', () => devices.pmem(mapFile(path.join(dir, `img-${Math.random()}`), { create: true, size: 32 * MiB }))],
];

describe.each(makers)('daxfs on a %s device, mounted dax', (_name, make) => {
  let dev: BlockDevice;
  let f: Filesystem;
  beforeEach(() => {
    dev = make();
    mkfs(dev, { label: 'test' });
    f = Filesystem.mount(dev, 'dax');
  });
  afterEach(() => { f.unmount(); dev.close(); });

  test('files and directories are created, listed, read back and survive a remount', () => {
    f.mkdir('/logs/2026/11', { recursive: true });
    f.writeFile('/logs/2026/11/a.log', 'first line\n');
    const big = pattern(3 * MiB + 123, 1);
    f.writeFile('/logs/big.bin', big);
    expect(f.readdir('/logs')).toEqual(['2026', 'big.bin']);
    expect(f.readFile('/logs/2026/11/a.log').toString()).toBe('first line\n');
    f.unmount();
    f = Filesystem.mount(dev, 'dax');
    expect(f.readFile('/logs/big.bin').equals(big)).toBe(true);
    expect(f.stat('/logs/2026').isDirectory()).toBe(true);
    expect(f.stat('/logs/big.bin').size).toBe(big.length);
  });

  test('regular files carry S_DAX on a DAX mount, directories never', () => {
    f.writeFile('/x', 'x');
    f.mkdir('/d');
    expect(f.stat('/x').isDax).toBe(true);
    expect(f.stat('/d').isDax).toBe(false);
  });

  test('read and write at positions: a null position uses and advances the handle position; holes read as zeros', () => {
    const h = f.open('/p', 'w+');
    expect(h.write(Buffer.from('abc'))).toBe(3);
    expect(h.write(Buffer.from('def'), 0, 3, null)).toBe(3);
    expect(h.write(Buffer.from('Z'), 0, 1, 10000)).toBe(1);
    const out = Buffer.alloc(10001);
    expect(h.read(out, 0, 10001, 0)).toBe(10001);
    expect(out.subarray(0, 6).toString()).toBe('abcdef');
    expect(out.subarray(6, 10000).every((b) => b === 0)).toBe(true);
    expect(out[10000]).toBe('Z'.charCodeAt(0));
    expect(h.read(Buffer.alloc(5), 0, 5, 20000)).toBe(0);
    expect(codeOf(() => h.read(Buffer.alloc(4), 2, 5, 0))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => h.write(Buffer.alloc(4), -1, 1, 0))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => h.write('text' as unknown as Buffer, 0, 1, 0))).toBe('ERR_INVALID_ARG_TYPE');
    h.close();
    expect(codeOf(() => h.read(Buffer.alloc(1), 0, 1, 0))).toBe('EBADF');
  });

  test('append mode writes at the end whatever the position', () => {
    f.writeFile('/log', 'one\n');
    const h = f.open('/log', 'a');
    h.write(Buffer.from('two\n'), 0, 4, 0);
    h.close();
    expect(f.readFile('/log').toString()).toBe('one\ntwo\n');
  });

  test('truncate down frees blocks and zeroes the rest of the last page; up reads zeros', () => {
    f.writeFile('/t', pattern(50000, 2));
    const before = f.statfs().freeBlocks;
    f.truncate('/t', 5000);
    expect(f.stat('/t').size).toBe(5000);
    expect(f.statfs().freeBlocks).toBeGreaterThan(before + 9);
    f.truncate('/t', 9000);
    const back = f.readFile('/t');
    expect(back.subarray(0, 5000).equals(pattern(50000, 2).subarray(0, 5000))).toBe(true);
    expect(back.subarray(5000).every((b) => b === 0)).toBe(true);
  });

  test('unlink, rmdir and rename follow node:fs, with its error codes', () => {
    f.mkdir('/d');
    f.writeFile('/d/f', 'data');
    expect(codeOf(() => f.rmdir('/d'))).toBe('ENOTEMPTY');
    expect(codeOf(() => f.unlink('/d'))).toBe('EISDIR');
    expect(codeOf(() => f.mkdir('/d'))).toBe('EEXIST');
    expect(codeOf(() => f.open('/nope/x', 'w'))).toBe('ENOENT');
    expect(codeOf(() => f.open('/d/f/x', 'w'))).toBe('ENOTDIR');
    expect(codeOf(() => f.open('/d/f', 'wx'))).toBe('EEXIST');
    expect(codeOf(() => f.open('/' + 'n'.repeat(256), 'w'))).toBe('ENAMETOOLONG');
    expect(codeOf(() => f.rename('/d', '/d/inside'))).toBe('EINVAL');
    f.writeFile('/other', 'other');
    f.rename('/other', '/d/f');                       // over an existing file, atomically
    expect(f.readFile('/d/f').toString()).toBe('other');
    expect(f.readdir('/')).toEqual(['d']);
    f.unlink('/d/f');
    f.rmdir('/d');
    expect(f.readdir('/')).toEqual([]);
    const err = (() => { try { f.stat('/d'); } catch (e) { return e as Error & { code: string; syscall: string; path: string }; } })();
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'stat', path: '/d', errno: -2 });
    expect(err!.message).toBe("ENOENT: no such file or directory, stat '/d'");
  });

  test('an unlinked file stays readable through an open handle until closed, then its blocks are free', () => {
    f.writeFile('/tmpfile', pattern(40000, 3));
    const free0 = f.statfs().freeBlocks;
    const h = f.open('/tmpfile', 'r');
    f.unlink('/tmpfile');
    const out = Buffer.alloc(40000);
    expect(h.read(out, 0, 40000, 0)).toBe(40000);
    expect(out.equals(pattern(40000, 3))).toBe(true);
    expect(f.statfs().freeBlocks).toBe(free0);
    h.close();
    expect(f.statfs().freeBlocks).toBeGreaterThanOrEqual(free0 + 10);
  });

  test('ENOSPC leaves other files intact', () => {
    f.writeFile('/keep', 'keep me');
    const h = f.open('/fill', 'w');
    const chunk = Buffer.alloc(MiB, 1);
    let error: string | undefined;
    for (let i = 0; i < 64 && !error; i++) {
      try { h.write(chunk); } catch (e) { error = (e as { code: string }).code; }
    }
    h.close();
    expect(error).toBe('ENOSPC');
    expect(f.readFile('/keep').toString()).toBe('keep me');
    f.unlink('/fill');
    f.writeFile('/after', 'space again');
    expect(f.readFile('/after').toString()).toBe('space again');
  });

  test('blocks of a deleted file read as zeros when a new file gets them', () => {
    f.writeFile('/secret', Buffer.alloc(64 * 1024, 0x5e));
    f.unlink('/secret');
    const h = f.open('/new', 'w+');
    h.write(Buffer.from('x'), 0, 1, 64 * 1024 - 1);   // allocate the last block only
    h.truncate(0);
    h.write(Buffer.from('y'), 0, 1, 100);              // a fresh block with one byte in it
    const out = Buffer.alloc(4096);
    h.read(out, 0, 4096, 0);
    expect(out.filter((b) => b === 0x5e).length).toBe(0);
    h.close();
  });

  test('a read-only mount refuses every change with EROFS', () => {
    f.writeFile('/r', 'r');
    f.unmount();
    f = Filesystem.mount(dev, 'dax,ro');
    expect(f.readOnly).toBe(true);
    expect(codeOf(() => f.writeFile('/r', 'w'))).toBe('EROFS');
    expect(codeOf(() => f.mkdir('/m'))).toBe('EROFS');
    expect(codeOf(() => f.unlink('/r'))).toBe('EROFS');
    expect(codeOf(() => f.open('/r', 'r+'))).toBe('EROFS');
    expect(f.readFile('/r').toString()).toBe('r');
  });
});

describe('mount', () => {
  test('DAX needs direct access: a windowed device is refused with EINVAL saying so', () => {
    const dev = devices.windowed(16 * MiB);
    mkfs(dev);
    const err = (() => { try { Filesystem.mount(dev, 'dax'); } catch (e) { return e as Error & { code: string }; } })();
    expect(err?.code).toBe('EINVAL');
    expect(err?.message).toMatch(/no direct access/);
    dev.close();
  });

  test('DAX is refused on architectures with virtually mapped caches (EOPNOTSUPP)', () => {
    const r = spawnSync(process.execPath, ['-e', `
      const { devices } = require(${JSON.stringify(path.join(ROOT, 'dist/block'))});
      const { mkfs } = require(${JSON.stringify(path.join(ROOT, 'dist/fs/mkfs'))});
      const { Filesystem } = require(${JSON.stringify(path.join(ROOT, 'dist/fs/filesystem'))});
      const dev = devices.ram(8 << 20); mkfs(dev);
      try { Filesystem.mount(dev, 'dax'); console.log('mounted'); } catch (e) { console.log(e.code); }`],
    { encoding: 'utf8', env: { ...process.env, DAXFS_ARCH: 'mips' } });
    expect(r.stdout.trim()).toBe('EOPNOTSUPP');
  });

  test('mkfs refuses other block sizes and devices under 4 MiB with EINVAL; a device without a filesystem is EUCLEAN', () => {
    const dev = devices.ram(8 * MiB);
    expect(codeOf(() => mkfs(dev, { blockSize: 1024 as 4096 }))).toBe('EINVAL');
    expect(codeOf(() => Filesystem.mount(dev, 'dax'))).toBe('EUCLEAN');
    dev.close();
    const small = devices.ram(2 * MiB);
    expect(codeOf(() => mkfs(small))).toBe('EINVAL');
    small.close();
  });

  test('unknown mount options are refused', () => {
    const dev = devices.ram(8 * MiB);
    mkfs(dev);
    expect(codeOf(() => Filesystem.mount(dev, 'dax,turbo'))).toBe('ERR_INVALID_ARG_VALUE');
    dev.close();
  });
});


describe('crash consistency (images taken at every store and fence)', () => {
  const SIZE = 8 * MiB;
  function crashImages(setup: (f: Filesystem) => void, op: (f: Filesystem) => void): Buffer[] {
    const images: Buffer[] = [];
    const m = snapshotting(mapAnonymous(SIZE), images);
    const dev = devices.pmem(m);
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    setup(f);
    images.push(Buffer.from(m.view(0, SIZE)));
    m.capturing = true;
    op(f);
    m.capturing = false;
    f.unmount();
    dev.close();
    m.close();
    return images;
  }
  /** Mounts a crash image (replaying the journal) after checking that fsck, once the
   *  journal is replayed, finds nothing wrong. */
  function mountImage(image: Buffer): { f: Filesystem; dev: BlockDevice } {
    const dev = devices.ram(image.length);
    dev.writeSectors(0, image);
    Filesystem.mount(dev, 'dax').unmount();          // mount replays what the crash left
    expect(fsck(dev).problems).toEqual([]);
    return { f: Filesystem.mount(dev, 'dax'), dev };
  }

  test('create + write: after a crash the file is absent, or present with its size never beyond the durable data', () => {
    const data = pattern(10000, 4);
    const images = crashImages(() => {}, (f) => f.writeFile('/new.txt', data));
    expect(images.length).toBeGreaterThan(5);
    for (const image of images) {
      const { f, dev } = mountImage(image);
      const names = f.readdir('/');
      if (names.includes('new.txt')) {
        const back = f.readFile('/new.txt');
        expect(data.subarray(0, back.length).equals(back)).toBe(true);
      }
      f.unmount();
      dev.close();
    }
  });

  test('rename over an existing file: after a crash exactly one of the two contents is there', () => {
    const images = crashImages((f) => { f.writeFile('/a', 'AAAA'); f.writeFile('/b', 'BBBB'); }, (f) => f.rename('/a', '/b'));
    const seen = new Set<string>();
    for (const image of images) {
      const { f, dev } = mountImage(image);
      const names = f.readdir('/').join(',');
      const b = f.readFile('/b').toString();
      seen.add(`${names}:${b}`);
      f.unmount();
      dev.close();
    }
    expect(seen).toEqual(new Set(['a,b:BBBB', 'b:AAAA']));
  });

  test('unlink: after a crash the file is whole or gone, and free space is never lost twice', () => {
    const images = crashImages((f) => f.writeFile('/gone', pattern(30000, 5)), (f) => f.unlink('/gone'));
    for (const image of images) {
      const { f, dev } = mountImage(image);
      if (f.readdir('/').includes('gone')) expect(f.readFile('/gone').equals(pattern(30000, 5))).toBe(true);
      f.writeFile('/after', 'ok');   // the allocator still works on every image
      f.unmount();
      dev.close();
    }
  });
});
