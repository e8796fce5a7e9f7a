// mtime and ctime of written files on a DAX mount: set by every write, stored in place (one
// store outside the inode checksum), and not stored again by a write in the same millisecond
// (as the kernel's file_update_time skips an unchanged time).
import { devices, BlockDevice } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { mapAnonymous, PmemMapping } from '../../lib/pmem';
import { countingMapping } from '../helpers/wrap-mapping';

const MiB = 1024 * 1024;
const PAGE = 4096;

let inner: PmemMapping;
let dev: BlockDevice;
let f: Filesystem;
const events: string[] = [];
let clock = 0;

beforeEach(() => {
  inner = mapAnonymous(32 * MiB);
  dev = devices.pmem(countingMapping(inner, events));
  mkfs(dev);
  f = Filesystem.mount(dev, 'dax');
  clock = 1_700_000_000_000;
  jest.spyOn(Date, 'now').mockImplementation(() => clock);
});

afterEach(() => {
  jest.restoreAllMocks();
  if (f.mounted) f.unmount();
  dev.close();
  inner.close();
});

test('a write sets mtime and ctime, kept across a remount', () => {
  const h = f.open('/t', 'w+');
  h.write(Buffer.alloc(2 * PAGE, 1));
  clock += 5000;
  h.write(Buffer.alloc(PAGE, 2), 0, PAGE, 0);   // inside the file: no size change
  expect(h.stat().mtimeMs).toBe(clock);
  expect(h.stat().ctimeMs).toBe(clock);
  h.close();
  f.unmount();
  f = Filesystem.mount(dev, 'dax');
  expect(f.stat('/t').mtimeMs).toBe(clock);
  expect(f.stat('/t').ctimeMs).toBe(clock);
});

test('a write in the same millisecond as the last stores no times; one a millisecond later does', () => {
  const h = f.open('/t', 'w+');
  h.write(Buffer.alloc(2 * PAGE, 1));
  clock += 1000;
  const data = Buffer.alloc(PAGE, 3);

  events.length = 0;
  h.write(data, 0, PAGE, 0);
  const first = [...events];
  expect(first).toEqual(['copy', 'copy fence', 'copy nodrain']);   // data (fenced), then the times

  events.length = 0;
  h.write(data, 0, PAGE, PAGE);   // same millisecond
  expect(events).toEqual(['copy', 'copy fence']);
  expect(h.stat().mtimeMs).toBe(clock);

  clock += 1;
  events.length = 0;
  h.write(data, 0, PAGE, 0);
  expect(events).toEqual(first);
  expect(h.stat().mtimeMs).toBe(clock);
  h.close();
  f.unmount();
  f = Filesystem.mount(dev, 'dax');
  expect(f.stat('/t').mtimeMs).toBe(clock);
});

test('a write that grows the file commits its size and times together', () => {
  const h = f.open('/t', 'w+');
  h.write(Buffer.alloc(PAGE, 1));
  clock += 7;
  h.write(Buffer.alloc(10, 2), 0, 10, PAGE);
  expect(h.stat()).toMatchObject({ size: PAGE + 10, mtimeMs: clock, ctimeMs: clock });
  h.close();
});
