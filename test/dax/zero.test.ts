import { devices, BlockDevice } from '../../lib/block';
import { daxTruncatePage, daxZeroPageRange } from '../../lib/dax';
import { TestFs } from './testfs';

const PAGE = 4096;

function block(dev: BlockDevice, b: number): Buffer {
  const buf = Buffer.alloc(PAGE);
  dev.readSectors(b * 8, buf);
  return buf;
}

describe('daxZeroPageRange and daxTruncatePage', () => {
  let dev: BlockDevice;
  let t: TestFs;
  beforeEach(() => {
    dev = devices.ram(1 << 20);
    dev.writeSectors(0, Buffer.alloc(1 << 20, 0x77));
    t = new TestFs(dev);
  });
  afterEach(() => dev.close());

  test('zeroes only the range inside a written block', () => {
    t.map(1, 6);
    daxZeroPageRange(t.inode(2 * PAGE), PAGE + 100, 50, t.getBlock);
    const raw = block(dev, 6);
    expect(raw.subarray(100, 150).every((b) => b === 0)).toBe(true);
    expect(raw.subarray(0, 100).every((b) => b === 0x77)).toBe(true);
    expect(raw.subarray(150).every((b) => b === 0x77)).toBe(true);
  });

  test('leaves holes and unwritten blocks alone and allocates nothing', () => {
    t.map(0, 4, true);
    daxZeroPageRange(t.inode(3 * PAGE), 10, 20, t.getBlock);      // unwritten
    daxZeroPageRange(t.inode(3 * PAGE), PAGE + 10, 20, t.getBlock); // hole
    expect(block(dev, 4).every((b) => b === 0x77)).toBe(true);
    expect(t.calls.every((c) => !c.create)).toBe(true);
    expect(t.table.size).toBe(1);
  });

  test('a range that crosses a page boundary is refused with EINVAL', () => {
    t.map(0, 4);
    expect(() => daxZeroPageRange(t.inode(2 * PAGE), 4000, 200, t.getBlock)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('truncatePage zeroes from the offset to the end of its page, nothing when page aligned', () => {
    t.map(0, 8);
    t.map(1, 9);
    daxTruncatePage(t.inode(2 * PAGE), 1000, t.getBlock);
    const raw = block(dev, 8);
    expect(raw.subarray(0, 1000).every((b) => b === 0x77)).toBe(true);
    expect(raw.subarray(1000).every((b) => b === 0)).toBe(true);
    daxTruncatePage(t.inode(2 * PAGE), PAGE, t.getBlock);
    expect(block(dev, 9).every((b) => b === 0x77)).toBe(true);
  });
});
