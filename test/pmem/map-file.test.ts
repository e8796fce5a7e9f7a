// mapFile(): opening, creating, sizing and refusing, on real files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DaxError, mapFile } from '../../lib';
import { describeChild, lastJson, runChildAsync } from '../helpers/child';
import { makeTempDir, pattern, readAt, useTempDirs } from '../helpers/tmp';

useTempDirs();

/** The mount options of the filesystem holding `dir` (longest matching mount point). */
function mountOf(dir: string): { fstype: string; options: string[] } {
  let best = { point: '', fstype: '', options: [] as string[] };
  for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, point, fstype, options] = line.split(' ');
    if (!point) continue;
    const p = point.replace(/\\040/g, ' ');
    if ((dir === p || dir.startsWith(p.endsWith('/') ? p : p + '/')) && p.length >= best.point.length) {
      best = { point: p, fstype, options: options.split(',') };
    }
  }
  return best;
}

function expectDaxError(fn: () => unknown, code: string, more: Partial<DaxError> = {}): DaxError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DaxError);
  const e = caught as DaxError;
  expect(e.code).toBe(code);
  expect(e).toMatchObject(more);
  return e;
}

let dir: string;
let savedUmask: number;

beforeAll(() => {
  savedUmask = process.umask(0o022);
});
afterAll(() => {
  process.umask(savedUmask);
});
beforeEach(() => {
  dir = makeTempDir('daxfs-map-');
});

describe('creating a file', () => {
  test('create with size makes a file of that size with mode 0600 by default (umask 022)', () => {
    const file = path.join(dir, 'a');
    const m = mapFile(file, { create: true, size: 65536 });
    try {
      const st = fs.statSync(file);
      expect(st.size).toBe(65536);
      expect(st.mode & 0o777).toBe(0o600);
      expect(m.size).toBe(65536);
    } finally {
      m.close();
    }
  });

  test('mode is applied (through the umask) when the file is created', () => {
    const a = mapFile(path.join(dir, 'a'), { create: true, size: 4096, mode: 0o640 });
    const b = mapFile(path.join(dir, 'b'), { create: true, size: 4096, mode: 0o666 });
    a.close();
    b.close();
    expect(fs.statSync(path.join(dir, 'a')).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.join(dir, 'b')).mode & 0o777).toBe(0o644);
  });

  test('a new file is preallocated (st_blocks cover the size) unless sparse', () => {
    const size = 4 << 20;
    const full = mapFile(path.join(dir, 'full'), { create: true, size });
    const sparse = mapFile(path.join(dir, 'sparse'), { create: true, size, sparse: true });
    full.close();
    sparse.close();
    expect(fs.statSync(path.join(dir, 'full')).blocks * 512).toBeGreaterThanOrEqual(size);
    expect(fs.statSync(path.join(dir, 'sparse')).blocks * 512).toBeLessThan(size / 4);
    expect(fs.statSync(path.join(dir, 'sparse')).size).toBe(size);
  });

  test('exclusive create of an existing file fails with EEXIST and leaves the file untouched', () => {
    const file = path.join(dir, 'x');
    const content = pattern(5000);
    fs.writeFileSync(file, content, { mode: 0o644 });
    const before = fs.statSync(file);
    const e = expectDaxError(() => mapFile(file, { create: true, exclusive: true, size: 8192 }), 'EEXIST',
      { errno: -17, syscall: 'open', path: file });
    expect(e.message).toContain(file);
    const after = fs.statSync(file);
    expect(after.size).toBe(5000);
    expect(after.mode).toBe(before.mode);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(fs.readFileSync(file).equals(content)).toBe(true);
  });

  test('exclusive create of a new file works', () => {
    const m = mapFile(path.join(dir, 'new'), { create: true, exclusive: true, size: 4096 });
    m.close();
    expect(fs.statSync(path.join(dir, 'new')).size).toBe(4096);
  });

  test('creating without a size fails with EINVAL and leaves no file behind', () => {
    const file = path.join(dir, 'nosize');
    const e = expectDaxError(() => mapFile(file, { create: true }), 'EINVAL', { errno: -22, path: file });
    expect(e.message).toMatch(/size/);
    expect(fs.existsSync(file)).toBe(false);
  });

  test('size 0 is refused with EINVAL and leaves no file behind', () => {
    const file = path.join(dir, 'zero');
    expectDaxError(() => mapFile(file, { create: true, size: 0 }), 'EINVAL');
    expect(fs.existsSync(file)).toBe(false);
  });

  test('a size the filesystem cannot hold fails with a DaxError (EFBIG) and leaves no file behind', () => {
    const file = path.join(dir, 'huge');
    const e = expectDaxError(() => mapFile(file, { create: true, size: 2 ** 53 - 1, sparse: true }), 'EFBIG', { errno: -27 });
    expect(e.syscall).toBe('ftruncate');
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('mapping an existing file', () => {
  test('without size the mapping has the file size and shows the file bytes', () => {
    const file = path.join(dir, 'e');
    const content = pattern(12345);
    fs.writeFileSync(file, content);
    const m = mapFile(file);
    try {
      expect(m.size).toBe(12345);
      expect(m.view(0, 12345).equals(content)).toBe(true);
    } finally {
      m.close();
    }
  });

  test('a size larger than the file extends it (zeros after the old end)', () => {
    const file = path.join(dir, 'grow');
    fs.writeFileSync(file, pattern(1000));
    const m = mapFile(file, { size: 3 * 4096 });
    try {
      expect(fs.statSync(file).size).toBe(3 * 4096);
      expect(m.view(0, 1000).equals(pattern(1000))).toBe(true);
      expect(m.view(1000, 3 * 4096 - 1000).every((b) => b === 0)).toBe(true);
    } finally {
      m.close();
    }
  });

  test('a size smaller than the file maps a prefix and does not truncate the file', () => {
    const file = path.join(dir, 'prefix');
    fs.writeFileSync(file, pattern(20000));
    const m = mapFile(file, { size: 4096 });
    m.close();
    expect(m.size).toBe(4096);
    expect(fs.statSync(file).size).toBe(20000);
  });

  test('offset (a page multiple) maps the file from that offset', () => {
    const file = path.join(dir, 'off');
    const content = pattern(3 * 4096 + 100);
    fs.writeFileSync(file, content);
    const m = mapFile(file, { offset: 4096 });
    try {
      expect(m.size).toBe(2 * 4096 + 100);
      expect(m.view(0, m.size).equals(content.subarray(4096))).toBe(true);
      m.copy(10, Buffer.from('offset write'));
    } finally {
      m.close();
    }
    expect(readAt(file, 4096 + 10, 12).toString()).toBe('offset write');
  });

  test('an offset that is not a page multiple is refused with EINVAL naming the page size', () => {
    const file = path.join(dir, 'unaligned');
    fs.writeFileSync(file, pattern(3 * 4096));
    const e = expectDaxError(() => mapFile(file, { offset: 100 }), 'EINVAL', { errno: -22, path: file });
    expect(e.message).toMatch(/page size/);
  });

  test('an empty file without size is refused with EINVAL (and is kept)', () => {
    const file = path.join(dir, 'empty');
    fs.writeFileSync(file, '');
    expectDaxError(() => mapFile(file), 'EINVAL');
    expect(fs.existsSync(file)).toBe(true);
  });

  test('a plain file on this (non-DAX) filesystem is kind file, isPmem false, granularity page', () => {
    const m = mapFile(path.join(dir, 'k'), { create: true, size: 4096 });
    try {
      expect({ kind: m.kind, isPmem: m.isPmem, granularity: m.granularity, closed: m.closed })
        .toEqual({ kind: 'file', isPmem: false, granularity: 'page', closed: false });
    } finally {
      m.close();
    }
  });
});

describe('paths', () => {
  test('a symlink maps its target; a relative path is resolved against the working directory', () => {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, pattern(8192, 2));
    fs.symlinkSync(target, path.join(dir, 'link'));
    const viaLink = mapFile(path.join(dir, 'link'));
    const cwd = process.cwd();
    process.chdir(dir);
    let relative: ReturnType<typeof mapFile>;
    try {
      relative = mapFile('target');
    } finally {
      process.chdir(cwd);
    }
    try {
      viaLink.copy(0, Buffer.from('via link'));
      expect(relative.view(0, 8).toString()).toBe('via link');
      expect(readAt(target, 0, 8).toString()).toBe('via link');
    } finally {
      viaLink.close();
      relative.close();
    }
  });

  test('a path with non-ASCII characters is created under exactly that name', () => {
    const file = path.join(dir, 'ünï-✓.pmem');
    mapFile(file, { create: true, size: 4096 }).close();
    expect(fs.readdirSync(dir)).toContain('ünï-✓.pmem');
  });
});

describe('private mappings', () => {
  test('private: true sees the file but writes never reach it; granularity none', () => {
    const file = path.join(dir, 'p');
    const content = pattern(8192);
    fs.writeFileSync(file, content);
    const m = mapFile(file, { private: true });
    try {
      expect({ kind: m.kind, isPmem: m.isPmem, granularity: m.granularity }).toEqual({ kind: 'file', isPmem: false, granularity: 'none' });
      expect(m.view(0, 8192).equals(content)).toBe(true);
      m.view(0, 100).fill(0xee);
      m.copy(4096, Buffer.alloc(4096, 0x11));
      m.fill(200, 0x22, 50);
      m.persist(0, 8192);
      expect(m.view(0, 1)[0]).toBe(0xee);
    } finally {
      m.close();
    }
    expect(fs.readFileSync(file).equals(content)).toBe(true);
    const again = mapFile(file);
    try {
      expect(again.view(0, 8192).equals(content)).toBe(true);
    } finally {
      again.close();
    }
  });

  test('a private mapping cannot extend the file (EINVAL) and a file it would create is removed', () => {
    const file = path.join(dir, 'short');
    fs.writeFileSync(file, pattern(4096));
    expectDaxError(() => mapFile(file, { private: true, size: 8192 }), 'EINVAL');
    expect(fs.statSync(file).size).toBe(4096);
    const fresh = path.join(dir, 'fresh');
    expectDaxError(() => mapFile(fresh, { private: true, create: true, size: 4096 }), 'EINVAL');
    expect(fs.existsSync(fresh)).toBe(false);
  });

  test("private with sync: 'required' is refused with EINVAL", () => {
    const file = path.join(dir, 'ps');
    fs.writeFileSync(file, pattern(4096));
    expectDaxError(() => mapFile(file, { private: true, sync: 'required' }), 'EINVAL');
  });
});

describe("sync: 'required'", () => {
  // Only filesystems that exist here and are not mounted -o dax (where MAP_SYNC would work).
  const places = [
    { name: `${mountOf(fs.realpathSync(os.tmpdir())).fstype} without -o dax (os.tmpdir())`, base: os.tmpdir() },
    { name: 'tmpfs (/dev/shm)', base: '/dev/shm' },
  ].filter(({ base }) => fs.existsSync(base) && !mountOf(fs.realpathSync(base)).options.some((o) => o === 'dax' || o === 'dax=always'));

  test('this machine has a non-DAX tmpfs and a non-DAX os.tmpdir() to try', () => {
    expect(places.length).toBe(2);
  });

  test.each(places)('fails on $name with EOPNOTSUPP (errno -95, syscall mmap, path set)', ({ base }) => {
    const d = makeTempDir('daxfs-sync-', base);
    const file = path.join(d, 'f');
    const e = expectDaxError(() => mapFile(file, { create: true, size: 8192, sync: 'required' }), 'EOPNOTSUPP',
      { errno: -95, syscall: 'mmap', path: file });
    expect(e.message).toMatch(/MAP_SYNC/);
    expect(fs.existsSync(file)).toBe(false);  // the file it created is not left behind
  });

  test("sync: 'auto' on the same filesystems falls back to an ordinary shared mapping (kind file)", () => {
    for (const { base } of places) {
      const d = makeTempDir('daxfs-sync-', base);
      const m = mapFile(path.join(d, 'f'), { create: true, size: 8192, sync: 'auto' });
      try {
        expect(m.kind).toBe('file');
        expect(m.isPmem).toBe(false);
      } finally {
        m.close();
      }
    }
  });

  test("a refused sync: 'required' mapping leaves an existing file's size unchanged", () => {
    const file = path.join(dir, 'keep');
    fs.writeFileSync(file, pattern(4096));
    expectDaxError(() => mapFile(file, { size: 16384, sync: 'required' }), 'EOPNOTSUPP');
    expect(fs.statSync(file).size).toBe(4096);
  });
});

describe('what mapFile refuses', () => {
  test('/dev/zero (a character device that is not device DAX) is refused with EINVAL naming it', () => {
    const e = expectDaxError(() => mapFile('/dev/zero'), 'EINVAL', { errno: -22, path: '/dev/zero' });
    expect(e.message).toContain('/dev/zero');
    expect(e.message).toMatch(/not device DAX/);
  });

  test('/dev/null is refused the same way', () => {
    expectDaxError(() => mapFile('/dev/null', { size: 4096 }), 'EINVAL', { path: '/dev/null' });
  });

  test('a directory is refused with EISDIR or EINVAL', () => {
    let caught: unknown;
    try {
      mapFile(dir);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DaxError);
    expect(['EISDIR', 'EINVAL']).toContain((caught as DaxError).code);
    expect((caught as DaxError).path).toBe(dir);
  });

  test('a missing file without create fails with ENOENT (errno -2, syscall open) and is not created', () => {
    const file = path.join(dir, 'missing');
    expectDaxError(() => mapFile(file, { size: 4096 }), 'ENOENT', { errno: -2, syscall: 'open', path: file });
    expect(fs.existsSync(file)).toBe(false);
  });

  test('a FIFO is refused with EINVAL (not a regular file or device-DAX node)', () => {
    const fifo = path.join(dir, 'fifo');
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    execFileSync('mkfifo', [fifo]);
    const e = expectDaxError(() => mapFile(fifo, { size: 4096 }), 'EINVAL', { path: fifo });
    expect(e.message).toMatch(/not a regular file/);
  });

  test('a file in a missing directory fails with ENOENT even with create', () => {
    expectDaxError(() => mapFile(path.join(dir, 'no', 'such'), { create: true, size: 4096 }), 'ENOENT');
  });
});

describe('DAXFS_FORCE_PMEM (child process)', () => {
  test('file mappings become isPmem true, granularity cache-line, still kind file; private and anonymous do not', async () => {
    const file = path.join(dir, 'forced');
    const r = await runChildAsync(`
      const m = daxfs.mapFile(process.env.F, { create: true, size: 8192 });
      m.copy(0, Buffer.from('forced pmem'));
      m.view(100, 5).write('abcde'); m.persist(100, 5);
      const p = daxfs.mapFile(process.env.F, { private: true });
      const a = daxfs.mapAnonymous(4096);
      out({ file: [m.kind, m.isPmem, m.granularity], priv: [p.kind, p.isPmem, p.granularity], anon: [a.kind, a.isPmem, a.granularity] });
      m.close(); p.close(); a.close();
    `, { DAXFS_FORCE_PMEM: '1', F: file });
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
    expect(lastJson(r)).toEqual({
      file: ['file', true, 'cache-line'],
      priv: ['file', false, 'none'],
      anon: ['anonymous', false, 'none'],
    });
    expect(readAt(file, 0, 11).toString()).toBe('forced pmem');
    expect(readAt(file, 100, 5).toString()).toBe('abcde');
  });
});
