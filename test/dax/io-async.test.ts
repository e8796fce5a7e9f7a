// daxIOAsync: daxIO's block walk on the main thread, the data in one copy off it.
import { devices } from '../../lib/block';
import { ASYNC_COPY_MIN, daxIO, daxIOAsync } from '../../lib/dax';
import { mapAnonymous } from '../../lib/pmem';
import { TestFs } from './testfs';

const PAGE = 4096;
const MiB = 1024 * 1024;

function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** A ram device whose async copies are counted (segments per call). */
function countedDevice(size: number) {
  const dev = devices.ram(size);
  const ops = dev.dax!;
  const calls: number[] = [];
  const copyIn = ops.copyInAsync!;
  const copyOut = ops.copyOutAsync!;
  Object.assign(ops, {
    copyInAsync: (s: Float64Array, b: Uint8Array) => { calls.push(s.length / 3); return copyIn(s, b); },
    copyOutAsync: (s: Float64Array, b: Uint8Array) => { calls.push(s.length / 3); return copyOut(s, b); },
  });
  return { dev, calls };
}

describe('daxIOAsync', () => {
  test('a large write over non-contiguous blocks is one async copy and reads back as the sync path wrote it', async () => {
    const { dev, calls } = countedDevice(16 * MiB);
    const a = new TestFs(dev, 1);
    a.order = Array.from({ length: 200 }, (_, i) => 1 + ((i * 7) % 200));   // scattered blocks
    const n = 100 * PAGE + 123;
    expect(await daxIOAsync('write', a.inode(0), 777, pattern(n), a.getBlock)).toBe(n);
    expect(calls).toEqual([expect.any(Number)]);
    expect(calls[0]).toBeGreaterThan(1);
    const back = Buffer.alloc(n);
    expect(await daxIOAsync('read', a.inode(777 + n), 777, back, a.getBlock)).toBe(n);
    expect(back.equals(pattern(n))).toBe(true);
    const viaSync = Buffer.alloc(n);
    expect(daxIO('read', a.inode(777 + n), 777, viaSync, a.getBlock)).toBe(n);
    expect(viaSync.equals(back)).toBe(true);
    // the fresh head of the first block is zeroed on the main thread, as daxIO does
    const head = Buffer.alloc(777);
    expect(await daxIOAsync('read', a.inode(777 + n), 0, head, a.getBlock)).toBe(777);
    expect(head.every((b) => b === 0)).toBe(true);
    dev.close();
  });

  test('below ASYNC_COPY_MIN the copy runs on the main thread', async () => {
    const { dev, calls } = countedDevice(4 * MiB);
    const a = new TestFs(dev, 1);
    expect(await daxIOAsync('write', a.inode(0), 0, pattern(ASYNC_COPY_MIN - 1), a.getBlock)).toBe(ASYNC_COPY_MIN - 1);
    expect(calls).toEqual([]);
    dev.close();
  });

  test('unwritten blocks are converted only after the async copy completed', async () => {
    const { dev } = countedDevice(16 * MiB);
    const a = new TestFs(dev, 1);
    a.allocateUnwritten = true;
    const p = daxIOAsync('write', a.inode(0), 0, pattern(2 * MiB), a.getBlock, a.convert);
    expect(a.converted).toEqual([]);
    await p;
    expect(a.converted.reduce((s, [, c]) => s + c, 0)).toBe(2 * MiB / PAGE);
    dev.close();
  });

  test('when the mapping closes during the copy, the write rejects with EBADF and converts nothing', async () => {
    const m = mapAnonymous(16 * MiB);
    const dev = devices.pmem(m);
    const a = new TestFs(dev, 1);
    a.allocateUnwritten = true;
    const p = daxIOAsync('write', a.inode(0), 0, pattern(4 * MiB), a.getBlock, a.convert);
    m.close();
    await expect(p).rejects.toMatchObject({ code: 'EBADF' });
    expect(a.converted).toEqual([]);
  });

  test('bad arguments reject (never throw) with daxIO\'s codes', async () => {
    const dev = devices.ram(MiB);
    const a = new TestFs(dev, 1);
    const code = (fn: () => unknown) => { try { fn(); } catch (e) { return (e as { code: string }).code; } return 'none'; };
    for (const args of [['read', -1, Buffer.alloc(1)], ['write', 0, 'x'], ['move', 0, Buffer.alloc(1)]] as const) {
      const want = code(() => daxIO(args[0] as never, a.inode(10), args[1], args[2] as never, a.getBlock));
      let p!: Promise<number>;
      expect(() => { p = daxIOAsync(args[0] as never, a.inode(10), args[1], args[2] as never, a.getBlock); }).not.toThrow();
      await expect(p).rejects.toMatchObject({ code: want });
    }
    dev.close();
  });
});
