import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { daxfs } from './run';

let dir: string;
let img: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-cmd-'));
  img = path.join(dir, 'disk.img');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function mkfs(...extra: string[]) {
  const r = daxfs('mkfs', img, '--size', '16M', ...extra);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r;
}

function host(name: string, data: string | Buffer): string {
  const p = path.join(dir, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  return p;
}

describe('mkfs', () => {
  test('creates a sparse image of the given size and reports its geometry and label', () => {
    const r = daxfs('mkfs', img, '--size', '64M', '--label', 'scratch');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${img}: daxfs, 64 MiB, 16384 blocks of 4 KiB, 4096 inodes, label 'scratch'\n`);
    const st = fs.statSync(img);
    expect(st.size).toBe(64 << 20);
    expect(st.blocks * 512).toBeLessThan(16 << 20);   // sparse: only what mkfs wrote takes space
  });

  test('refuses an image that is not empty unless --force, and --force starts it over', () => {
    mkfs();
    daxfs('mkdir', `${img}:/keep`);
    const refused = daxfs('mkfs', img, '--size', '16M');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`image '${img}' exists and is not empty`);
    expect(refused.stderr).toContain('EEXIST');
    expect(refused.stderr).toContain('--force');
    expect(daxfs('ls', `${img}:/`).stdout).toBe('keep\n');
    expect(daxfs('mkfs', img, '--size', '16M', '--force').status).toBe(0);
    expect(daxfs('ls', `${img}:/`).stdout).toBe('');
  });

  test('sizes below 4M, sizes that are not sizes and long labels are usage errors', () => {
    expect(daxfs('mkfs', img, '--size', '1M').status).toBe(2);
    const bad = daxfs('mkfs', img, '--size', 'lots');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--size 'lots' is not a size");
    expect(daxfs('mkfs', img, '--label', 'x'.repeat(65)).status).toBe(2);
    expect(fs.existsSync(img)).toBe(false);
  });
});

describe('files in an image', () => {
  beforeEach(() => mkfs());

  test('cp puts a host file in, cat prints its bytes, ls lists it one name a line', () => {
    const data = Buffer.from([0, 1, 2, 255, 10, 13, 0]);
    expect(daxfs('cp', host('bin.dat', data), `${img}:/bin.dat`).status).toBe(0);
    expect(daxfs('cp', host('notes.txt', 'hello\n'), `${img}:/`).status).toBe(0);   // into a directory: same name
    expect(daxfs('cat', `${img}:/bin.dat`).bytes).toEqual(data);
    expect(daxfs('cat', `${img}:/notes.txt`, `${img}:/notes.txt`).stdout).toBe('hello\nhello\n');
    expect(daxfs('ls', `${img}:/`).stdout).toBe('bin.dat\nnotes.txt\n');
    expect(daxfs('ls', `${img}:`).stdout).toBe('bin.dat\nnotes.txt\n');
    const long = daxfs('ls', '-l', `${img}:/`).stdout.split('\n');
    expect(long[1]).toMatch(/^-rw-r--r-- +1 +6 \d{4}-\d\d-\d\d \d\d:\d\d notes\.txt$/);
  });

  test('cp -r copies a tree in and out again byte for byte; a directory without -r fails', () => {
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    host('tree/a.txt', 'a\n');
    host('tree/sub/big.dat', big);
    fs.mkdirSync(path.join(dir, 'tree/empty'));
    const noR = daxfs('cp', path.join(dir, 'tree'), `${img}:/tree`);
    expect(noR.status).toBe(1);
    expect(noR.stderr).toContain('EISDIR');
    expect(noR.stderr).toContain('cp -r');
    expect(daxfs('cp', '-r', path.join(dir, 'tree'), `${img}:/tree`).status).toBe(0);
    expect(daxfs('ls', `${img}:/tree`).stdout).toBe('a.txt\nempty\nsub\n');
    expect(daxfs('cp', '-r', `${img}:/tree`, path.join(dir, 'out')).status).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'out/sub/big.dat')).equals(big)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'out/a.txt'), 'utf8')).toBe('a\n');
    expect(fs.readdirSync(path.join(dir, 'out/empty'))).toEqual([]);
  });

  test('cp -r skips host symbolic links with a warning, copies the rest and exits 1', () => {
    host('t/real.txt', 'real');
    fs.symlinkSync('real.txt', path.join(dir, 't/link.txt'));
    const r = daxfs('cp', '-r', path.join(dir, 't'), `${img}:/t`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`skipped ${path.join(dir, 't/link.txt')}: not a regular file or directory`);
    expect(daxfs('ls', `${img}:/t`).stdout).toBe('real.txt\n');
  });

  test('cp copies between two images and within one', () => {
    const other = path.join(dir, 'other.img');
    expect(daxfs('mkfs', other, '--size', '8M').status).toBe(0);
    daxfs('cp', host('x.txt', 'x'), `${img}:/x.txt`);
    expect(daxfs('cp', `${img}:/x.txt`, `${other}:/y.txt`).status).toBe(0);
    expect(daxfs('cp', `${img}:/x.txt`, `${img}:/z.txt`).status).toBe(0);
    expect(daxfs('cat', `${other}:/y.txt`, `${img}:/z.txt`).stdout).toBe('xx');
    const self = daxfs('cp', `${img}:/x.txt`, `${img}://x.txt`);
    expect(self.status).toBe(1);
    expect(self.stderr).toContain('are the same file');
    expect(daxfs('cp', `${img}:/x.txt`, `${img}:/`).stderr).toContain('are the same file');
    expect(daxfs('cat', `${img}:/x.txt`).stdout).toBe('x');   // not truncated by copying onto itself
    expect(daxfs('cp', `${img}:/x.txt`, `${img}:/nodir/`).status).toBe(1);
    daxfs('mkdir', `${img}:/d`);
    const loop = daxfs('cp', '-r', `${img}:/d`, `${img}:/d/inner`);
    expect(loop.status).toBe(1);
    expect(loop.stderr).toContain('into itself');
    expect(daxfs('cp', '-r', `${img}:/`, `${img}:/d`).stderr).toContain('into itself');
  });

  test('stat names the type, size, inode, links, mode and DAX', () => {
    daxfs('cp', host('f.txt', 'twelve bytes'), `${img}:/f.txt`);
    const r = daxfs('stat', `${img}:/f.txt`);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`  File: ${img}:/f.txt\n  Type: regular file\n  Size: 12 (12 B)\n`);
    expect(r.stdout).toMatch(/ Links: 1\n {2}Mode: 0644 \(-rw-r--r--\)\n {3}DAX: yes\n/);
    expect(daxfs('stat', `${img}:/`).stdout).toContain('Type: directory');
  });

  test('mkdir -p makes parents and accepts an existing directory; plain mkdir of one fails', () => {
    expect(daxfs('mkdir', '-p', `${img}:/a/b/c`).status).toBe(0);
    expect(daxfs('mkdir', '-p', `${img}:/a/b`).status).toBe(0);
    expect(daxfs('ls', `${img}:/a/b`).stdout).toBe('c\n');
    const again = daxfs('mkdir', `${img}:/a`);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`daxfs mkdir: ${img}:/a: EEXIST`);
    expect(daxfs('mkdir', `${img}:/x/y`).status).toBe(1);   // no parent without -p
  });

  test('rm removes files, needs -r for directories, and -f ignores what is missing', () => {
    daxfs('mkdir', '-p', `${img}:/d/e`);
    daxfs('cp', host('f', 'f'), `${img}:/d/e/f`);
    const dirNoR = daxfs('rm', `${img}:/d`);
    expect(dirNoR.status).toBe(1);
    expect(dirNoR.stderr).toContain('EISDIR');
    expect(daxfs('rm', `${img}:/d/e/f`).status).toBe(0);
    expect(daxfs('ls', `${img}:/d/e`).stdout).toBe('');
    daxfs('cp', host('f', 'f'), `${img}:/d/e/f`);
    expect(daxfs('rm', '-r', `${img}:/d`).status).toBe(0);
    expect(daxfs('ls', `${img}:/`).stdout).toBe('');
    expect(daxfs('rm', `${img}:/gone`).status).toBe(1);
    expect(daxfs('rm', '-f', `${img}:/gone`).status).toBe(0);
    expect(daxfs('rm', '-r', `${img}:/`).status).toBe(1);
  });

  test('df counts blocks, free blocks and files as the filesystem does', () => {
    const dfRow = (image: string) => daxfs('df', image).stdout.trim().split('\n')[1].split(/ {2,}/);
    const empty = Number(dfRow(img)[7]);   // the root and the inodes the filesystem reserves
    daxfs('mkdir', `${img}:/d`);
    daxfs('cp', host('f', Buffer.alloc(40960, 1)), `${img}:/d/f`);
    const r = daxfs('df', img);
    expect(r.status).toBe(0);
    const [head, row] = r.stdout.trim().split('\n');
    expect(head.split(/ {2,}/)).toEqual(['Image', 'Size', 'Used', 'Free', 'Use%', 'Blocks', 'Free blocks', 'Files', 'Free files']);
    const cells = row.split(/ {2,}/);
    expect(cells[0]).toBe(img);
    expect(cells[1]).toBe('16 MiB');
    expect(Number(cells[5])).toBe(4096);
    const before = Number(cells[6]);
    expect(Number(cells[7])).toBe(empty + 2);   // /d and /d/f
    daxfs('rm', `${img}:/d/f`);
    const after = dfRow(`${img}:`);
    expect(Number(after[6])).toBe(before + 10);   // the file's ten blocks
    expect(Number(after[7])).toBe(empty + 1);
  });

  test('cat of a directory and paths that do not exist fail with the path, the code and advice', () => {
    daxfs('mkdir', `${img}:/d`);
    const d = daxfs('cat', `${img}:/d`);
    expect(d.status).toBe(1);
    expect(d.stderr).toContain(`daxfs cat: ${img}:/d: EISDIR`);
    expect(d.stderr).toContain(`'daxfs ls ${img}:/d' lists a directory`);
    const missing = daxfs('cat', `${img}:/nope`, `${img}:/d`);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`daxfs cat: ${img}:/nope: ENOENT: no such file or directory\n`);
    expect(missing.stderr).not.toMatch(/\n\s+at /);   // no stack trace
  });
});

describe('fsck', () => {
  test('a fresh image is clean (exit 0)', () => {
    mkfs();
    expect(daxfs('fsck', img)).toMatchObject({ status: 0, stdout: `${img}: clean\n` });
  });

  test('lists problems with exit 1, and --repair fixes them (exit 0, clean after repair)', () => {
    mkfs();
    const fd = fs.openSync(img, 'r+');
    fs.writeSync(fd, Buffer.alloc(4096), 0, 4096, 0);   // lose the primary superblock; the backup remains
    fs.closeSync(fd);
    const r = daxfs('fsck', img);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/problem/);
    expect(r.stdout).toMatch(/primary/);
    expect(r.stdout).toContain(`daxfs fsck ${img} --repair`);
    const fixed = daxfs('fsck', img, '--repair');
    expect(fixed.status).toBe(0);
    expect(fixed.stdout).toContain('repaired: rewrote the primary superblock from the backup');
    expect(fixed.stdout).toContain(`${img}: clean after repair`);
    expect(daxfs('fsck', img).status).toBe(0);
  });
});

describe('images that cannot be used', () => {
  test('a missing image exits 1, names it, and says how to make one', () => {
    for (const args of [['ls', `${img}:/`], ['df', img], ['fsck', img], ['cp', `${img}:/a`, path.join(dir, 'a')]]) {
      const r = daxfs(...args);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`image '${img}' does not exist`);
      expect(r.stderr).toContain('ENOENT');
      expect(r.stderr).toContain(`daxfs mkfs ${img}`);
    }
  });

  test('a file that is not a daxfs image exits 1 with EUCLEAN and points at fsck and mkfs', () => {
    fs.writeFileSync(img, Buffer.alloc(8 << 20, 7));
    const r = daxfs('ls', `${img}:/`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`daxfs ls: ${img}:/: EUCLEAN`);
    expect(r.stderr).toContain('daxfs fsck IMAGE');
    expect(daxfs('fsck', img).status).toBe(1);
  });

  test('a directory is not an image', () => {
    const r = daxfs('df', dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is a directory, not an image');
  });
});
