// The page cache on its own: driven by a small getBlock over a real ram device, as any
// filesystem would drive it. lib/mm knows nothing of daxfs's on-media format.
import { devices, BlockDevice } from '../../lib/block';
import { BlockMapping, DaxInode, GetBlock } from '../../lib/dax';
import { PageCache } from '../../lib/mm/pagecache';
import { directIO } from '../../lib/mm/direct';
import { pattern } from '../helpers/tmp';

const PAGE = 4096;
const SPP = PAGE / 512;

/** A device that counts sector reads, writes and flushes on the way to a real one. */
function counting(dev: BlockDevice) {
  const calls = { reads: 0, writes: 0, flushes: 0, log: [] as string[] };
  const wrapped: BlockDevice = {
    name: dev.name, size: dev.size, sectorSize: 512, supportsDax: false, badblocks: dev.badblocks,
    get closed() { return dev.closed; },
    directAccess: (s, n) => dev.directAccess(s, n),
    persist: (o, n) => dev.persist(o, n),
    readSectors: (s, t) => { calls.reads++; dev.readSectors(s, t); },
    writeSectors: (s, b) => { calls.writes++; calls.log.push(`write ${s / SPP}`); dev.writeSectors(s, b); },
    flush: () => { calls.flushes++; calls.log.push('flush'); dev.flush(); },
    close: () => dev.close(),
  };
  return { dev: wrapped, calls };
}

/** A toy file: file block i lives at device block 100 + i once allocated (zeroed then). */
function toyFile(dev: BlockDevice, options: { unwritten?: number[] } = {}) {
  const mapped = new Map<number, { unwritten: boolean }>();
  for (const b of options.unwritten ?? []) mapped.set(b, { unwritten: true });
  const converted: number[] = [];
  const getBlock: GetBlock = (_inode, block, count, create): BlockMapping => {
    const first = mapped.get(block);
    if (!first && create) {
      dev.writeSectors((100 + block) * SPP, Buffer.alloc(PAGE));
      mapped.set(block, { unwritten: false });
      return getBlock(_inode, block, count, false);
    }
    let n = 1;
    while (n < count && (mapped.get(block + n)?.unwritten) === first?.unwritten && (mapped.has(block + n) === !!first)) n++;
    return { mapped: !!first, block: 100 + block, count: n, new: false, unwritten: first?.unwritten ?? false };
  };
  const convert = (_inode: DaxInode, block: number, count: number): void => {
    for (let i = 0; i < count; i++) { mapped.set(block + i, { unwritten: false }); converted.push(block + i); }
  };
  return { getBlock, convert, converted, mapped };
}

function deviceBytes(dev: BlockDevice, deviceBlock: number): Buffer {
  const out = Buffer.alloc(PAGE);
  dev.readSectors(deviceBlock * SPP, out);
  return out;
}

let ram: BlockDevice;
beforeEach(() => { ram = devices.ram(4 * 1024 * 1024); });
afterEach(() => ram.close());

test('holes and unwritten blocks read as zeros without touching the device', () => {
  const { dev, calls } = counting(ram);
  ram.writeSectors(103 * SPP, Buffer.alloc(PAGE, 0xee));   // old bytes under an unwritten block
  const cache = new PageCache(dev);
  const { getBlock } = toyFile(dev, { unwritten: [3] });
  const inode = { ino: 1, size: 8 * PAGE, device: dev };
  const out = Buffer.alloc(8 * PAGE, 1);
  expect(cache.read(inode, 0, out, getBlock)).toBe(8 * PAGE);
  expect(out.every((b) => b === 0)).toBe(true);
  expect(calls.reads).toBe(0);
  expect(cache.stats.pages).toBe(0);   // holes cost no memory
});

test('a write stays in the cache until writeback, which writes each contiguous run once', () => {
  const { dev, calls } = counting(ram);
  const cache = new PageCache(dev);
  const { getBlock } = toyFile(dev);
  const inode = { ino: 1, size: 0, device: dev };
  const data = pattern(4 * PAGE, 1);
  const writesBefore = calls.writes;   // allocation zeroes are the toy filesystem's
  cache.write(inode, 0, data, getBlock);
  const allocWrites = calls.writes - writesBefore;
  expect(deviceBytes(ram, 100).every((b) => b === 0)).toBe(true);
  expect(cache.stats.dirty).toBe(4);
  cache.writeback(1);
  expect(calls.writes - writesBefore - allocWrites).toBe(1);   // one run, one writeSectors
  for (let i = 0; i < 4; i++) expect(deviceBytes(ram, 100 + i).equals(data.subarray(i * PAGE, (i + 1) * PAGE))).toBe(true);
  expect(cache.stats.dirty).toBe(0);
});

test('a write that covers whole pages does not read them from the device first', () => {
  const { dev, calls } = counting(ram);
  const cache = new PageCache(dev);
  const { getBlock } = toyFile(dev);
  const inode = { ino: 1, size: 0, device: dev };
  cache.write(inode, 0, pattern(3 * PAGE, 2), getBlock);
  cache.writeback(1);
  cache.invalidate(1);
  calls.reads = 0;
  cache.write(inode, 0, pattern(3 * PAGE, 3), getBlock);
  expect(calls.reads).toBe(0);
  cache.writeback(1);
  cache.invalidate(1);
  cache.write(inode, 10, Buffer.from('y'), getBlock);   // a partial page of old data: read it, once
  expect(calls.reads).toBe(1);
  const out = Buffer.alloc(12);
  cache.read({ ...inode, size: 3 * PAGE }, 0, out, getBlock);
  expect(out.equals(Buffer.concat([pattern(3 * PAGE, 3).subarray(0, 10), Buffer.from('y'), pattern(3 * PAGE, 3).subarray(11, 12)]))).toBe(true);
});

test('the cache is bounded: the least recently used page goes first, a dirty one written back', () => {
  const { dev } = counting(ram);
  const cache = new PageCache(dev, { maxPages: 4 });
  const { getBlock } = toyFile(dev);
  const data = pattern(10 * PAGE, 4);
  const inode = { ino: 7, size: 0, device: dev };
  cache.write(inode, 0, data, getBlock);
  expect(cache.stats.pages).toBe(4);
  expect(cache.cached(7, 9)).toBe(true);
  expect(cache.cached(7, 0)).toBe(false);
  // Evicted pages were written back on the way out; the cached ones are not yet.
  for (let i = 0; i < 6; i++) expect(deviceBytes(ram, 100 + i).equals(data.subarray(i * PAGE, (i + 1) * PAGE))).toBe(true);
  expect(deviceBytes(ram, 109).every((b) => b === 0)).toBe(true);
  const out = Buffer.alloc(10 * PAGE);
  expect(cache.read({ ...inode, size: 10 * PAGE }, 0, out, getBlock)).toBe(10 * PAGE);
  expect(out.equals(data)).toBe(true);
  expect(cache.stats.pages).toBe(4);
  cache.writebackAll();
  expect(deviceBytes(ram, 109).equals(data.subarray(9 * PAGE))).toBe(true);
});

test('pages written into unwritten blocks are converted only after writeback and a flush', () => {
  const { dev, calls } = counting(ram);
  const cache = new PageCache(dev);
  const { getBlock, convert, converted } = toyFile(dev, { unwritten: [0, 1] });
  const inode = { ino: 1, size: 2 * PAGE, device: dev };
  cache.write(inode, 100, Buffer.from('data'), getBlock, convert);
  expect(converted).toEqual([]);
  calls.log.length = 0;
  cache.writeback(1);
  expect(converted).toEqual([0]);
  expect(calls.log).toEqual(['write 100', 'flush']);
  // The whole page went out, so the rest of the block is zeros, never old bytes.
  expect(deviceBytes(ram, 100).subarray(0, 100).every((b) => b === 0)).toBe(true);
});

test('truncate drops the pages past the end and zeroes the new last page, cached and on the device', () => {
  const { dev } = counting(ram);
  const cache = new PageCache(dev);
  const { getBlock } = toyFile(dev);
  const inode = { ino: 1, size: 0, device: dev };
  cache.write(inode, 0, pattern(3 * PAGE, 5), getBlock);
  cache.writeback(1);
  cache.truncate({ ...inode, size: 3 * PAGE }, PAGE + 100, getBlock);
  expect(cache.cached(1, 2)).toBe(false);
  expect(deviceBytes(ram, 101).subarray(100).every((b) => b === 0)).toBe(true);
  expect(deviceBytes(ram, 101).subarray(0, 100).equals(pattern(3 * PAGE, 5).subarray(PAGE, PAGE + 100))).toBe(true);
  const out = Buffer.alloc(PAGE);
  cache.read({ ...inode, size: 2 * PAGE }, PAGE, out, getBlock);
  expect(out.subarray(100).every((b) => b === 0)).toBe(true);
});

test('forget drops dirty pages without writing them (their blocks are freed)', () => {
  const { dev, calls } = counting(ram);
  const cache = new PageCache(dev);
  const { getBlock } = toyFile(dev);
  cache.write({ ino: 1, size: 0, device: dev }, 0, pattern(PAGE, 6), getBlock);
  const before = calls.writes;
  cache.forget(1);
  cache.writebackAll();
  expect(calls.writes).toBe(before);
  expect(cache.stats).toMatchObject({ pages: 0, dirty: 0 });
});

test('direct I/O writes the cached range back before reading the device, and drops it', () => {
  const { dev } = counting(ram);
  const cache = new PageCache(dev);
  const { getBlock } = toyFile(dev);
  const data = pattern(2 * PAGE, 7);
  const inode = { ino: 1, size: 2 * PAGE, device: dev };
  cache.write(inode, 0, data, getBlock);
  const out = Buffer.alloc(PAGE);
  expect(directIO('read', inode, 512, out, getBlock, cache)).toBe(PAGE);
  expect(out.equals(data.subarray(512, 512 + PAGE))).toBe(true);
  expect(cache.cached(1, 0) || cache.cached(1, 1)).toBe(false);
  expect(() => directIO('read', inode, 1, out, getBlock, cache)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
});
