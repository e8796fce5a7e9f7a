// File mappings on a DAX mount: one test per fault rule (docs/SEMANTICS.md lists them).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { pinUserPages, registerMemoryRegion } from '../../lib/mm';

const P = 4096;
const ROOT = path.join(__dirname, '..', '..');

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

function fresh(options = 'dax'): Filesystem {
  const dev = devices.ram(16 * 1024 * 1024);
  mkfs(dev);
  return Filesystem.mount(dev, options);
}

let fs: Filesystem;
beforeEach(() => { fs = fresh(); });
afterEach(() => { if (fs.mounted) fs.unmount(); fs.device.close(); });

function sparse(size: number): ReturnType<Filesystem['open']> {
  const h = fs.open('/f', 'w+');
  h.truncate(size);
  return h;
}

test('a read fault on an existing block is zero-copy: a store through it is read() at once', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(P, 1));
  const m = h.mmap(0, P, { write: true });
  const v = m.page(0, 'write');
  v[10] = 42;
  const out = Buffer.alloc(1);
  h.read(out, 0, 1, 10);
  expect(out[0]).toBe(42);
  expect(m.page(0, 'read')).toBe(v);   // one view per faulted page, handed out again
});

test('a view never exposes the device window through .buffer', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(P, 1));
  const v = h.mmap(0, P, { write: true }).page(0);
  expect(v.buffer.byteLength).toBe(P);
  expect(v.byteOffset).toBe(0);
});

test('a read fault of a hole maps the zero page and allocates nothing', () => {
  const h = sparse(4 * P);
  const m = h.mmap(0, 4 * P);
  const before = fs.statfs().freeBlocks;
  const v = m.page(1);
  expect(v.every((b) => b === 0)).toBe(true);
  expect(fs.statfs().freeBlocks).toBe(before);
  expect(h.stat().blocks).toBe(0);
  expect(m.stats).toEqual({ faults: 1, majorFaults: 0, zeroPageMaps: 1, mkwrites: 0 });
});

test('a store into the zero page or a read-only view raises SIGSEGV (the one deliberate crash, in a child)', () => {
  const addon = JSON.stringify(path.join(ROOT, 'build', 'Release', 'daxfs.node'));
  for (const make of ['n.zeroPageView()', 'n.mapAnonymous(1 << 20).pageView(0, 4096, true)']) {
    const r = spawnSync(process.execPath, ['-e', `const n = require(${addon}); const v = new Uint8Array(${make}); if (v[0] !== 0) process.exit(3); v[0] = 1; process.exit(0);`]);
    expect(r.signal).toBe('SIGSEGV');
  }
});

test('a write fault allocates, zeroes the new block before the view exists, and counts a major fault', () => {
  const h = sparse(2 * P);
  const m = h.mmap(0, 2 * P, { write: true });
  const v = m.page(1, 'write');
  expect(v.every((b) => b === 0)).toBe(true);
  expect(h.stat().blocks).toBeGreaterThan(0);   // the filesystem may preallocate around it
  expect(m.stats).toEqual({ faults: 1, majorFaults: 1, zeroPageMaps: 0, mkwrites: 0 });
});

test('a write fault after a read fault of a hole revokes the zero-page view (mkwrite)', () => {
  const h = sparse(P);
  const m = h.mmap(0, P, { write: true });
  const z = m.page(0, 'read');
  const w = m.page(0, 'write');
  expect(z.length).toBe(0);
  w[0] = 9;
  expect(fs.readFile('/f')[0]).toBe(9);
  expect(m.stats.mkwrites).toBe(1);
});

test('a write fault updates mtime and ctime', async () => {
  const h = sparse(P);
  const before = h.stat().mtimeMs;
  await new Promise((r) => setTimeout(r, 5));
  h.mmap(0, P, { write: true }).page(0, 'write');
  expect(h.stat().mtimeMs).toBeGreaterThan(before);
  expect(h.stat().ctimeMs).toBeGreaterThan(before);
});

test('a page at or past ceil(size / 4096) is SIGBUS; bytes past EOF in the last page are accessible', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.from('abc'));
  const m = h.mmap(0, 3 * P, { write: true });
  expect(m.page(0)[3]).toBe(0);
  expect(codeOf(() => m.page(1))).toBe('SIGBUS');
  expect(codeOf(() => m.page(1, 'write'))).toBe('SIGBUS');
});

test('ENOSPC on a write fault is SIGBUS with the cause attached', () => {
  const h = fs.open('/f', 'w+');
  const free = fs.statfs().freeBlocks;
  h.truncate((free + 10) * P);
  const m = h.mmap(0, (free + 10) * P, { write: true });
  let err: (Error & { code?: string; cause?: { code?: string } }) | undefined;
  try { for (let i = 0; i < free + 10; i++) m.page(i, 'write'); } catch (e) { err = e as typeof err; }
  expect(err?.code).toBe('SIGBUS');
  expect(err?.cause?.code).toBe('ENOSPC');
});

test('private mappings copy on write and never change the file', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(P, 5));
  const m = h.mmap(0, P, { write: true, private: true });
  const r = m.page(0, 'read');
  const w = m.page(0, 'write');
  expect(r.length).toBe(0);
  expect(w[0]).toBe(5);
  w[0] = 6;
  expect(fs.readFile('/f')[0]).toBe(5);
});

test('write() into a hole that a read fault mapped revokes that zero view; the next fault shows the data', () => {
  const h = sparse(P);
  const m = h.mmap(0, P);
  const z = m.page(0);
  h.write(Buffer.from([7]), 0, 1, 100);
  expect(z.length).toBe(0);
  expect(m.page(0)[100]).toBe(7);
});

test('truncate down revokes the views of removed pages and zeroes the partial last page', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(3 * P, 1));
  const m = h.mmap(0, 3 * P, { write: true });
  const [a, b, c] = [m.page(0), m.page(1), m.page(2)];
  h.truncate(P + 10);
  expect(a.length).toBe(P);
  expect(b.length).toBe(P);
  expect(c.length).toBe(0);
  expect(b[10]).toBe(0);
  h.truncate(3 * P);
  expect(m.page(2).every((x) => x === 0)).toBe(true);   // never old data
});

test('punch-hole and zero-range revoke the views of the pages they touch; the next fault shows zeros', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(4 * P, 7));
  const m = h.mmap(0, 4 * P, { write: true });
  const v = [0, 1, 2, 3].map((i) => m.page(i, 'write'));
  h.allocate(P, P, 'punch-hole');
  expect(v.map((x) => x.length)).toEqual([P, 0, P, P]);
  h.allocate(2 * P + 100, 10, 'zero-range');
  expect(v.map((x) => x.length)).toEqual([P, 0, 0, P]);
  expect(m.page(1).every((x) => x === 0)).toBe(true);
  const again = m.page(2);
  expect(again.subarray(100, 110).every((x) => x === 0)).toBe(true);
  expect(again[99]).toBe(7);
  expect(again[110]).toBe(7);
});

test('unmap() and unmount() revoke every view; closing the handle does not', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(2 * P, 1));
  const m = h.mmap(0, 2 * P, { write: true });
  const a = m.page(0);
  h.close();
  expect(a.length).toBe(P);
  m.unmap();
  expect(a.length).toBe(0);
  const h2 = fs.open('/f', 'r+');
  const b = h2.mmap(0, P).page(0);
  fs.unmount();
  expect(b.length).toBe(0);
});

test('view() is one zero-copy view across contiguous blocks, EOPNOTSUPP across a hole', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(4 * P, 3));
  h.truncate(6 * P);
  const m = h.mmap(0, 6 * P, { write: true });
  const v = m.view(0, 4 * P, 'write');
  expect(v.length).toBe(4 * P);
  v[3 * P] = 8;
  expect(fs.readFile('/f')[3 * P]).toBe(8);
  expect(codeOf(() => m.view(0, 6 * P))).toBe('EOPNOTSUPP');
  h.truncate(P);
  expect(v.length).toBe(0);   // revocation applies to the view as a whole
});

test('huge() needs profile=modern; unaligned storage is a clear error', () => {
  const h = fs.open('/f', 'w+');
  h.truncate(4 * 1024 * 1024);
  expect(codeOf(() => h.mmap(0, 4 * 1024 * 1024).huge(0))).toBe('EOPNOTSUPP');
  fs.unmount();
  fs.device.close();
  fs = fresh('dax,profile=modern');
  const g = fs.open('/g', 'w+');
  g.truncate(4 * 1024 * 1024);
  const code = codeOf(() => g.mmap(0, 4 * 1024 * 1024, { write: true }).huge(0, 'write'));
  expect(['EINVAL', undefined]).toContain(code);
});

test('a write fault on a mapping without write: true is EACCES; a shared writable mapping needs write access', () => {
  const h = sparse(P);
  expect(codeOf(() => h.mmap(0, P).page(0, 'write'))).toBe('EACCES');
  const r = fs.open('/f', 'r');
  expect(codeOf(() => r.mmap(0, P, { write: true }))).toBe('EACCES');
  expect(codeOf(() => r.mmap(0, P, { write: true, private: true }))).toBeUndefined();
});

test('pinUserPages and registerMemoryRegion: EFAULT for DAX views under linux-4.0, fine for other memory and under modern', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(P, 1));
  const v = h.mmap(0, P, { write: true }).page(0);
  expect(codeOf(() => pinUserPages(v))).toBe('EFAULT');
  expect(codeOf(() => registerMemoryRegion(v.subarray(100, 200)))).toBe('EFAULT');
  expect(codeOf(() => pinUserPages(Buffer.alloc(P)).release())).toBeUndefined();
  expect(codeOf(() => pinUserPages(Buffer.from(v)))).toBeUndefined();   // a copy is ordinary memory
  fs.unmount();
  fs.device.close();
  fs = fresh('dax,profile=modern');
  const g = fs.open('/g', 'w+');
  g.write(Buffer.alloc(P, 1));
  expect(codeOf(() => registerMemoryRegion(g.mmap(0, P).page(0)).deregister())).toBeUndefined();
});

test('under linux-4.0 the zero page and view() ranges are unpinnable too; the mark is native and cannot be copied', () => {
  const h = fs.open('/f', 'w+');
  h.write(Buffer.alloc(2 * P, 1));
  h.truncate(3 * P);   // page 2 is a hole
  const m = h.mmap(0, 3 * P);
  expect(codeOf(() => pinUserPages(m.page(2)))).toBe('EFAULT');    // the zero page of a DAX file
  expect(codeOf(() => pinUserPages(m.view(0, 2 * P)))).toBe('EFAULT');
  const page = m.page(0);
  expect(Object.getOwnPropertySymbols(page.buffer)).toEqual([]);   // nothing for JS to copy or delete
  const lookalike = Object.assign(new ArrayBuffer(P), page.buffer);
  expect(codeOf(() => pinUserPages(new Uint8Array(lookalike)).release())).toBeUndefined();
  m.unmap();
  expect(codeOf(() => pinUserPages(page))).toBeUndefined();   // revoked: length 0, nothing to pin
});

test('a write fault into an allocate()d (unwritten) block converts it: stores through the view read() back', () => {
  const h = fs.open('/f', 'w+');
  h.allocate(0, 2 * P);
  const m = h.mmap(0, 2 * P, { write: true });
  const v = m.page(1, 'write');
  expect(v.every((b) => b === 0)).toBe(true);
  v[7] = 42;
  const out = Buffer.alloc(1);
  h.read(out, 0, 1, P + 7);
  expect(out[0]).toBe(42);
  expect(fs.readFile('/f')[7]).toBe(0);   // the neighbour stays unwritten, reading zeros
});

test('sequential write faults allocate 16 zeroed blocks at once; a lone write fault allocates one block', () => {
  const h = sparse(64 * P);
  const m = h.mmap(0, 64 * P, { write: true });
  m.page(0, 'write');
  expect(h.stat().blocks).toBe(1 * 8);   // stat().blocks counts 512-byte sectors
  m.page(1, 'write');                       // follows page 0: a cluster of 16 from page 1
  expect(h.stat().blocks).toBe(17 * 8);
  for (let i = 2; i <= 16; i++) expect(m.page(i, 'write').every((b) => b === 0)).toBe(true);
  expect(m.stats.majorFaults).toBe(2);      // pages 2..16 found their blocks
  m.page(40, 'write');                      // not after a faulted page: one block
  expect(h.stat().blocks).toBe(18 * 8);
  const tail = h.mmap(0, 64 * P, { write: true });
  tail.page(62, 'write');
  tail.page(63, 'write');                   // a cluster never reaches past EOF
  expect(h.stat().blocks).toBe(20 * 8);
});

test('a read fault of the page before does not make a write fault sequential: one block', () => {
  const h = sparse(8 * P);
  h.write(Buffer.alloc(P, 1), 0, P, 0);
  const m = h.mmap(0, 8 * P, { write: true });
  m.page(0, 'read');                        // an existing block, mapped writable
  m.page(1, 'write');
  expect(h.stat().blocks).toBe(2 * 8);
});

test('a write fault that fills a hole revokes zero-page views of it in every mapping of the file', () => {
  const h = sparse(2 * P);
  const a = h.mmap(0, 2 * P);
  const b = h.mmap(0, 2 * P, { write: true });
  const z = a.page(0);
  b.page(0, 'write')[0] = 5;
  expect(z.length).toBe(0);
  expect(a.page(0)[0]).toBe(5);
});
