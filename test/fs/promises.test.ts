// Filesystem.promises (lib/fs/promises.ts): the same results as the sync API, large copies
// off the main thread, the same argument errors (as rejections), locks and close/unmount
// waiting for operations in flight.
import * as path from 'node:path';
import { BlockDevice, devices } from '../../lib/block';
import { ASYNC_COPY_MIN } from '../../lib/dax';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { mapAnonymous, mapFile } from '../../lib/pmem';
import { makeTempDir, pattern, useTempDirs } from '../helpers/tmp';
import { countingMapping } from '../helpers/wrap-mapping';

useTempDirs();
const MiB = 1024 * 1024;

function syncCode(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code ?? (e as Error).name; }
  return 'no error';
}

async function asyncCode(fn: () => Promise<unknown>): Promise<string | undefined> {
  let p: Promise<unknown>;
  try { p = fn(); } catch { return 'threw instead of rejecting'; }
  try { await p; } catch (e) { return (e as { code?: string }).code ?? (e as Error).name; }
  return 'no error';
}

const makers: Array<[string, () => BlockDevice]> = [
  ['ram', () => devices.ram(64 * MiB)],
  ['pmem file', () => devices.pmem(mapFile(path.join(makeTempDir('daxfs-fsp-'), 'img'), { create: true, size: 64 * MiB }))],
];

describe.each(makers)('promises on a %s device', (_name, make) => {
  let dev: BlockDevice;
  let f: Filesystem;
  beforeEach(() => {
    dev = make();
    mkfs(dev);
    f = Filesystem.mount(dev, 'dax');
  });
  afterEach(async () => { await f.promises.unmount(); dev.close(); });

  test('writes and reads give the same bytes and counts as the sync calls (holes, unaligned, EOF, small and large)', async () => {
    const cases: Array<[number, number]> = [[0, 100], [4095, 2], [10 * 4096 + 7, 3 * MiB + 5], [5 * MiB, ASYNC_COPY_MIN], [100, 300 * 1024]];
    const s = f.open('/sync', 'w+');
    const p = await f.promises.open('/async', 'w+');
    for (const [i, [at, n]] of cases.entries()) {
      const data = pattern(n, i + 1);
      expect((await p.write(data, 0, n, at)).bytesWritten).toBe(s.write(data, 0, n, at));
    }
    expect(f.promises.pending).toBe(0);
    expect((await p.stat()).size).toBe(s.stat().size);
    const size = s.stat().size;
    expect((await f.promises.readFile('/async')).equals(f.readFile('/sync'))).toBe(true);
    for (const [at, n] of [[0, size], [3, MiB], [size - 10, 100], [size, 10], [2 * 4096, 2 * MiB]]) {
      const a = Buffer.alloc(n, 1);
      const b = Buffer.alloc(n, 1);
      const r = await p.read(a, 0, n, at);
      expect(r.bytesRead).toBe(s.read(b, 0, n, at));
      expect(r.buffer).toBe(a);
      expect(a.equals(b)).toBe(true);
    }
    s.close();
    await p.close();
  });

  test('a 4 MiB file written and read back through promises is byte-identical', async () => {
    const data = pattern(4 * MiB, 7);
    await f.promises.writeFile('/big', data);
    expect(f.readFile('/big').equals(data)).toBe(true);
    expect((await f.promises.readFile('/big')).equals(data)).toBe(true);
    expect((await f.promises.stat('/big')).size).toBe(4 * MiB);
  });

  test('the main thread runs other callbacks while a large read or write copies', async () => {
    const data = pattern(32 * MiB, 3);
    f.writeFile('/big', data);               // blocks allocated: the promise write only copies
    const h = await f.promises.open('/big', 'r+');
    for (const op of ['write', 'read'] as const) {
      const order: string[] = [];
      const io = op === 'write' ? h.write(data, 0, data.length, 0) : h.read(Buffer.alloc(data.length), 0, data.length, 0);
      const done = io.then(() => order.push(op));
      setImmediate(() => order.push('immediate'));
      await done;
      expect(order).toEqual(['immediate', op]);
    }
    await h.close();
  });

  test('bad arguments reject with the codes the sync FileHandle throws', async () => {
    f.writeFile('/x', 'hello');
    const s = f.open('/x', 'r');
    const p = await f.promises.open('/x', 'r');
    const b = Buffer.alloc(8);
    const calls: Array<[string, (h: any) => unknown]> = [
      ['offset past the buffer', (h) => h.read(b, 9, 0, 0)],
      ['length past the buffer', (h) => h.read(b, 2, 7, 0)],
      ['negative offset', (h) => h.read(b, -1, 1, 0)],
      ['fractional length', (h) => h.read(b, 0, 1.5, 0)],
      ['bad position', (h) => h.read(b, 0, 1, -2)],
      ['not a buffer', (h) => h.read('abc', 0, 1, 0)],
      ['write on a read-only handle', (h) => h.write(b, 0, 1, 0)],
      ['truncate on a read-only handle', (h) => h.truncate(0)],
      ['negative truncate', (h) => h.truncate(-1)],
    ];
    for (const [what, call] of calls) {
      const want = syncCode(() => call(s));
      expect([what, await asyncCode(async () => call(p))]).toEqual([what, want]);
      expect([what, await asyncCode(() => call(p) as Promise<unknown>)]).toEqual([what, want]);
    }
    expect(await asyncCode(() => f.promises.open('/missing', 'r'))).toBe(syncCode(() => f.open('/missing', 'r')));
    expect(await asyncCode(() => f.promises.truncate('/missing', 0))).toBe(syncCode(() => f.truncate('/missing', 0)));
    expect(await asyncCode(() => f.promises.truncate('/x', -1))).toBe(syncCode(() => f.truncate('/x', -1)));
    expect(await asyncCode(() => f.promises.writeFile('/y', 5 as never))).toBe(syncCode(() => f.writeFile('/y', 5 as never)));
    s.close();
    await p.close();
    expect(await asyncCode(() => p.read(b, 0, 1, 0))).toBe('EBADF');
  });

  test('close() waits for the handle\'s operations in flight; later ones reject with EBADF', async () => {
    const h = await f.promises.open('/c', 'w+');
    const data = pattern(8 * MiB, 2);
    let wrote = false;
    const w = h.write(data, 0, data.length, 0).then((r) => { wrote = true; return r.bytesWritten; });
    const closed = h.close();
    expect(await asyncCode(() => h.write(data, 0, 1, 0))).toBe('EBADF');
    await closed;
    expect(wrote).toBe(true);
    expect(await w).toBe(data.length);
    expect(h.closed).toBe(true);
    expect(f.readFile('/c').equals(data)).toBe(true);
  });

  test('sync unmount() refuses with EBUSY while promise operations are in flight; promises.unmount() waits for them', async () => {
    const h = await f.promises.open('/u', 'w+');
    const data = pattern(8 * MiB, 4);
    const w = h.write(data);
    expect(syncCode(() => f.unmount())).toBe('EBUSY');
    expect(f.mounted).toBe(true);
    await f.promises.unmount();
    expect((await w).bytesWritten).toBe(data.length);
    expect(f.mounted).toBe(false);
    f = Filesystem.mount(dev, 'dax');
    expect(f.readFile('/u').equals(data)).toBe(true);
  });

  test('a sync truncate of a file with a promise read in flight fails with EBUSY instead of freeing its blocks', async () => {
    f.writeFile('/t', pattern(8 * MiB, 5));
    const h = await f.promises.open('/t', 'r');
    const r = h.read(Buffer.alloc(8 * MiB), 0, 8 * MiB, 0);
    expect(syncCode(() => f.truncate('/t', 0))).toBe('EBUSY');
    expect((await r).bytesRead).toBe(8 * MiB);
    f.truncate('/t', 0);
    await h.close();
  });

  test('allocate() through a promise handle does what the sync one does: punch-hole reads zero and frees blocks', async () => {
    const h = await f.promises.open('/p', 'w+');
    await h.write(Buffer.alloc(3 * 4096, 5), 0, 3 * 4096, 0);
    const before = f.statfs().freeBlocks;
    await h.allocate(4096, 4096, 'punch-hole');
    expect(f.statfs().freeBlocks).toBe(before + 1);
    const { bytesRead, buffer } = await h.read(Buffer.alloc(3 * 4096), 0, 3 * 4096, 0);
    expect(bytesRead).toBe(3 * 4096);
    expect(buffer.subarray(4096, 8192).every((x) => x === 0)).toBe(true);
    expect(buffer[0]).toBe(5);
    await expect(h.allocate(0, 0)).rejects.toMatchObject({ code: 'EINVAL' });
    await h.close();
  });

  test('promise writes, truncates and reads of one file run in call order (the inode lock), position null advancing', async () => {
    const h = await f.promises.open('/o', 'w+');
    const a = pattern(2 * MiB, 1);
    const b = pattern(MiB, 2);
    await Promise.all([h.write(a), h.write(b), h.truncate(3 * MiB - 10)]);
    expect((await h.stat()).size).toBe(3 * MiB - 10);
    const back = await f.promises.readFile('/o');
    expect(back.equals(Buffer.concat([a, b]).subarray(0, 3 * MiB - 10))).toBe(true);
    await h.close();
  });
});

describe('devices without an async copy', () => {
  test('a device over a wrapped mapping runs promise I/O synchronously, so every store and fence is seen', async () => {
    const events: string[] = [];
    const dev = devices.pmem(countingMapping(mapAnonymous(32 * MiB), events));
    expect(dev.dax!.copyInAsync).toBeUndefined();
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    const data = pattern(2 * MiB, 9);
    events.length = 0;
    await f.promises.writeFile('/w', data);
    expect(events).toContain('copy nodrain');
    expect(events).toContain('drain');
    expect((await f.promises.readFile('/w')).equals(data)).toBe(true);
    await f.promises.unmount();
  });
});
