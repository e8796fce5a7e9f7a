// 2 MiB views: allocate() lays a 2 MiB aligned range of the file on a 2 MiB aligned device
// run, so allocate-then-huge() works under profile=modern; the profile is checked first.
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { HUGE_SIZE } from '../../lib/mm';

const P = 4096;
const MiB = 1024 * 1024;
const HUGE_BLOCKS = HUGE_SIZE / P;

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

let fs: Filesystem;
function mountFresh(options: string): Filesystem {
  const dev = devices.ram(32 * MiB);
  mkfs(dev);
  return (fs = Filesystem.mount(dev, options));
}
afterEach(() => { if (fs.mounted) fs.unmount(); fs.device.close(); });

test('allocate(0, 4 MiB) on an empty filesystem gives one 2 MiB aligned contiguous extent', () => {
  mountFresh('dax');
  const h = fs.open('/f', 'w+');
  h.allocate(0, 4 * MiB);
  const extents = fs.inode(h.ino).extents;
  expect(extents).toHaveLength(1);
  expect(extents[0]).toMatchObject({ fileBlock: 0, length: 2 * HUGE_BLOCKS, unwritten: true });
  expect(extents[0].deviceBlock % HUGE_BLOCKS).toBe(0);
});

test('a 2 MiB aligned allocate() past an unaligned first block still lands 2 MiB aligned', () => {
  mountFresh('dax');
  const h = fs.open('/f', 'w+');
  h.write(Buffer.from('x'));                 // block 0 goes wherever the small allocation puts it
  h.allocate(HUGE_SIZE, HUGE_SIZE);
  const e = fs.inode(h.ino).extents.find((x) => x.fileBlock === HUGE_BLOCKS)!;
  expect(e.length).toBe(HUGE_BLOCKS);
  expect(e.deviceBlock % HUGE_BLOCKS).toBe(0);
});

test('allocate then huge(0, "write") under profile=modern: one 2 MiB view whose stores read() back', () => {
  mountFresh('dax,profile=modern');
  const h = fs.open('/f', 'w+');
  h.allocate(0, 2 * HUGE_SIZE);
  const m = h.mmap(0, 2 * HUGE_SIZE, { write: true });
  const v = m.huge(1, 'write');
  expect(v.length).toBe(HUGE_SIZE);
  expect(v.buffer.byteLength).toBe(HUGE_SIZE);   // its own ArrayBuffer, nothing beyond
  expect(v.every((b) => b === 0)).toBe(true);    // unwritten blocks read zeros through it
  v[0] = 1;
  v[HUGE_SIZE - 1] = 2;
  v.write('huge', 12345);
  const out = Buffer.alloc(HUGE_SIZE);
  expect(h.read(out, 0, HUGE_SIZE, HUGE_SIZE)).toBe(HUGE_SIZE);
  expect(out[0]).toBe(1);
  expect(out[HUGE_SIZE - 1]).toBe(2);
  expect(out.toString('latin1', 12345, 12349)).toBe('huge');
  // The blocks were converted by the faults: the data survives a remount.
  m.sync();
  fs.unmount();
  fs = Filesystem.mount(fs.device, 'dax,profile=modern');
  const again = fs.readFile('/f');
  expect(again[HUGE_SIZE]).toBe(1);
  expect(again.toString('latin1', HUGE_SIZE + 12345, HUGE_SIZE + 12349)).toBe('huge');
});

test('huge() on the default linux-4.0 profile is EOPNOTSUPP at fault time, even over aligned storage, and faults nothing', () => {
  mountFresh('dax');
  const h = fs.open('/f', 'w+');
  h.allocate(0, HUGE_SIZE);
  const m = h.mmap(0, HUGE_SIZE, { write: true });
  let err: (Error & { code?: string }) | undefined;
  try { m.huge(0, 'write'); } catch (e) { err = e as typeof err; }
  expect(err?.code).toBe('EOPNOTSUPP');
  expect(err?.message).toMatch(/profile=modern/);
  expect(m.stats.faults).toBe(0);
  expect(codeOf(() => m.view(0, HUGE_SIZE, 'write'))).toBeUndefined();   // 4 KiB pages still map it
});

test('huge() over a hole is EOPNOTSUPP naming the hole, not a silent copy', () => {
  mountFresh('dax,profile=modern');
  const h = fs.open('/f', 'w+');
  h.truncate(HUGE_SIZE);
  let err: (Error & { code?: string }) | undefined;
  try { h.mmap(0, HUGE_SIZE).huge(0); } catch (e) { err = e as typeof err; }
  expect(err?.code).toBe('EOPNOTSUPP');
  expect(err?.message).toMatch(/hole/);
});
