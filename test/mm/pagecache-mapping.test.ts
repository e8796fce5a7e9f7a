// File mappings on a non-DAX mount: the same API over page-cache pages, written back by
// sync(). One test per rule (docs/SEMANTICS.md lists them).
import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import * as path from 'node:path';
import { BlockDevice, devices } from '../../lib/block';
import { BlockMapping, DaxInode, GetBlock } from '../../lib/dax';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { pinUserPages } from '../../lib/mm';
import { PageCache } from '../../lib/mm/pagecache';
import { pattern } from '../helpers/tmp';

const P = 4096;
const ROOT = path.join(__dirname, '..', '..');

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

/** File page `index` as the device holds it now (zeros for a hole): what survives a crash. */
function onDevice(f: Filesystem, file: string, index: number): Buffer {
  const ino = f.stat(file).ino;
  const m = f.getBlock(ino)({ ino, size: f.stat(file).size, device: f.device }, index, 1, false);
  const out = Buffer.alloc(P);
  if (m.mapped && !m.unwritten) f.device.readSectors(m.block * (P / 512), out);
  return out;
}

let dev: BlockDevice;
let fs: Filesystem;
beforeEach(() => {
  dev = devices.ram(16 * 1024 * 1024);
  mkfs(dev);
  fs = Filesystem.mount(dev, 'nodax');
});
afterEach(() => {
  if (fs.mounted) fs.unmount();
  expect(fsck(dev).problems).toEqual([]);
  dev.close();
});

function withData(pages: number, seed = 1): ReturnType<Filesystem['open']> {
  const h = fs.open('/f', 'w+');
  h.write(pattern(pages * P, seed), 0, pages * P, 0);
  return h;
}

test('a mapping on a non-DAX mount says dax: false and maps the cached page: stores are read() at once', () => {
  const h = withData(2);
  const m = h.mmap(0, 2 * P, { write: true });
  expect(m.dax).toBe(false);
  const v = m.page(1, 'read');
  expect(v.equals(pattern(2 * P, 1).subarray(P))).toBe(true);
  v[7] = 0xee;
  const out = Buffer.alloc(1);
  h.read(out, 0, 1, P + 7);
  expect(out[0]).toBe(0xee);
  expect(m.page(1, 'write')).toBe(v);   // one view per faulted page
  expect(v.buffer.byteLength).toBe(P);  // never the whole page-cache arena
});

test('write() into a mapped page is seen through the view (one page, no second copy)', () => {
  const h = withData(1);
  const v = h.mmap(0, P).page(0);
  h.write(Buffer.from('fresh'), 0, 5, 100);
  expect(v.subarray(100, 105).toString()).toBe('fresh');
});

test('stores reach the device only at sync() (msync), and then they are there', () => {
  const h = withData(1);
  h.sync();
  const m = h.mmap(0, P, { write: true });
  const v = m.page(0, 'write');
  v.fill(0x5a, 0, 64);
  expect(onDevice(fs, '/f', 0)[0]).not.toBe(0x5a);   // still only in the page cache
  m.sync();
  expect(onDevice(fs, '/f', 0).subarray(0, 64).every((b) => b === 0x5a)).toBe(true);
  v[64] = 0x77;                                       // stores after a sync are written by the next
  m.sync();
  expect(onDevice(fs, '/f', 0)[64]).toBe(0x77);
});

test('fsync of the file and unmount write back stores made through views, also after unmap', () => {
  const h = withData(2);
  const m = h.mmap(0, 2 * P, { write: true });
  m.page(0, 'write')[0] = 1;
  h.sync();
  expect(onDevice(fs, '/f', 0)[0]).toBe(1);
  m.page(1, 'write')[0] = 2;
  m.unmap();                 // munmap does not write back, but nothing stored is lost
  fs.unmount();
  fs = Filesystem.mount(dev, 'nodax');
  expect(fs.readFile('/f')[P]).toBe(2);
});

test('a read fault of a hole maps the zero page and allocates nothing; a write fault allocates (major) and revokes it', () => {
  const h = fs.open('/f', 'w+');
  h.truncate(4 * P);
  const m = h.mmap(0, 4 * P, { write: true });
  const before = fs.statfs().freeBlocks;
  const z = m.page(2, 'read');
  expect(z.every((b) => b === 0)).toBe(true);
  expect(fs.statfs().freeBlocks).toBe(before);
  const w = m.page(2, 'write');
  expect(z.length).toBe(0);
  expect(w.every((b) => b === 0)).toBe(true);
  expect(h.stat().blocks).toBeGreaterThan(0);
  expect(m.stats).toEqual({ faults: 2, majorFaults: 1, zeroPageMaps: 1, mkwrites: 1 });
  w.write('filled', 0);
  m.sync();
  expect(onDevice(fs, '/f', 2).subarray(0, 6).toString()).toBe('filled');
});

test('a write fault into an allocate()d (unwritten) block: zeros until written back, then converted', () => {
  const h = fs.open('/f', 'w+');
  h.allocate(0, 2 * P);
  const m = h.mmap(0, 2 * P, { write: true });
  expect(m.page(0, 'read').every((b) => b === 0)).toBe(true);   // unwritten reads as the zero page
  const w = m.page(0, 'write');
  w.write('data', 0);
  m.sync();
  fs.unmount();
  fs = Filesystem.mount(dev, 'nodax');
  expect(fs.readFile('/f').subarray(0, 4).toString()).toBe('data');
  expect(fs.stat('/f').size).toBe(2 * P);
});

test('a page past EOF is SIGBUS; bytes past EOF inside the last page are accessible', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.from('short'));
  const m = h.mmap(0, 3 * P, { write: true });
  expect(m.page(0, 'read').subarray(0, 5).toString()).toBe('short');
  expect(m.page(0)[P - 1]).toBe(0);
  expect(codeOf(() => m.page(1, 'read'))).toBe('SIGBUS');
  expect(codeOf(() => m.page(1, 'write'))).toBe('SIGBUS');
});

test('truncate down revokes views of removed pages and zeroes the partial page; regrowth reads zeros', () => {
  const h = withData(3);
  const m = h.mmap(0, 3 * P, { write: true });
  const v0 = m.page(0, 'write');
  const v2 = m.page(2, 'read');
  h.truncate(100);
  expect(v2.length).toBe(0);
  expect(v0.length).toBe(P);
  expect(v0.subarray(100).every((b) => b === 0)).toBe(true);
  h.truncate(3 * P);
  expect(m.page(2).every((b) => b === 0)).toBe(true);
});

test('punch-hole revokes the views of the pages it touches; the next fault maps the zero page', () => {
  const h = withData(3);
  const m = h.mmap(0, 3 * P, { write: true });
  const v1 = m.page(1, 'write');
  h.allocate(P, P, 'punch-hole');
  expect(v1.length).toBe(0);
  const again = m.page(1, 'read');
  expect(again.every((b) => b === 0)).toBe(true);
  expect(m.stats.zeroPageMaps).toBe(1);
});

test('O_DIRECT drops the cached page under a view: the view is revoked and the next fault sees the new bytes', () => {
  const h = withData(1);
  const m = h.mmap(0, P);
  const v = m.page(0);
  const d = fs.open('/f', constants.O_RDWR | constants.O_DIRECT);
  const block = Buffer.alloc(P, 0x33);
  d.write(block, 0, P, 0);
  d.close();
  expect(v.length).toBe(0);
  expect(m.page(0).equals(block)).toBe(true);
});

test('private mappings copy on write and never change the file', () => {
  const h = withData(1, 5);
  const m = h.mmap(0, P, { write: true, private: true });
  const w = m.page(0, 'write');
  expect(w.equals(pattern(P, 5))).toBe(true);
  w.fill(0);
  m.sync();
  fs.unmount();
  fs = Filesystem.mount(dev, 'nodax');
  expect(fs.readFile('/f').equals(pattern(P, 5))).toBe(true);
});

test('view() is one view over pages first mapped in order; huge() needs a DAX mount', () => {
  const h = withData(4);
  const m = h.mmap(0, 4 * P, { write: true });
  const v = m.view(0, 4 * P, 'write');
  expect(v.length).toBe(4 * P);
  expect(v.equals(pattern(4 * P, 1))).toBe(true);
  v[3 * P] = 9;
  const out = Buffer.alloc(1);
  h.read(out, 0, 1, 3 * P);
  expect(out[0]).toBe(9);
  expect(codeOf(() => m.huge(0))).toBe('EOPNOTSUPP');
  h.truncate(P);
  expect(v.length).toBe(0);   // revocation applies to the view as a whole
});

test('page-cache views are ordinary memory to get_user_pages (the seed refuses only DAX memory)', () => {
  const h = withData(1);
  const v = h.mmap(0, P).page(0);
  expect(() => pinUserPages(v).release()).not.toThrow();
});

test('unmap() and unmount() revoke every view', () => {
  const h = withData(2);
  const a = h.mmap(0, 2 * P);
  const b = h.mmap(0, 2 * P);
  const va = a.page(0);
  const vb = b.page(1);
  a.unmap();
  expect(va.length).toBe(0);
  expect(vb.length).toBe(P);
  fs.unmount();
  expect(vb.length).toBe(0);
});

test('a store into a view of a read-only mapping or ro mount raises SIGSEGV (in a child), never changing the file', () => {
  for (const how of ['a read-only mapping', 'an ro mount']) {
    const script = `
      const { devices } = require(${JSON.stringify(path.join(ROOT, 'dist', 'block'))});
      const { Filesystem } = require(${JSON.stringify(path.join(ROOT, 'dist', 'fs', 'filesystem'))});
      const { mkfs } = require(${JSON.stringify(path.join(ROOT, 'dist', 'fs', 'mkfs'))});
      const dev = devices.ram(8 << 20); mkfs(dev);
      let fs = Filesystem.mount(dev, 'nodax');
      let h = fs.open('/f', 'w+'); h.write(Buffer.alloc(4096, 1));
      if (${JSON.stringify(how)} === 'an ro mount') { fs.unmount(); fs = Filesystem.mount(dev, 'nodax,ro'); h = fs.open('/f', 'r'); }
      const v = h.mmap(0, 4096).page(0);
      if (v[0] !== 1) process.exit(3);
      v[0] = 2;
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['-e', script]);
    expect(r.stderr.toString()).toBe('');
    expect(r.signal).toBe('SIGSEGV');
  }
});

describe('the page cache under mappings', () => {
  /** A toy file: block i at device block 10 + i, all written. */
  const toy: GetBlock = (_inode, block, count): BlockMapping => ({ mapped: true, block: 10 + block, count, new: false, unwritten: false });

  test('a mapped page is never evicted: the view stays live and coherent while others come and go', () => {
    const raw = devices.ram(4 * 1024 * 1024);
    const cache = new PageCache(raw, { maxPages: 4 });
    const inode: DaxInode = { ino: 1, size: 64 * P, device: raw };
    const r = cache.fault(inode, 0, 'write', toy);
    expect(r.zero).toBe(false);
    const v = Buffer.from(cache.view((r as { deviceBlock: number }).deviceBlock, 1, false));
    v.write('pinned', 0);
    const buf = Buffer.alloc(P);
    for (let i = 1; i < 40; i++) cache.read(inode, i * P, buf, toy);   // far more pages than fit
    expect(cache.cached(1, 0)).toBe(true);
    cache.read(inode, 0, buf, toy);
    expect(buf.subarray(0, 6).toString()).toBe('pinned');
    expect(cache.stats.pages).toBeLessThanOrEqual(4);
    cache.close();
    expect(v.length).toBe(0);
    raw.close();
  });
});
