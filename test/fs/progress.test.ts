// mkfs and fsck report progress through options.onProgress (lib/fs/progress.ts), so the
// command line can draw a bar for large devices.
import * as path from 'node:path';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { mapFile } from '../../lib/pmem';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

const GiB = 2 ** 30;

/** Every call's (done, total); checks the rules each report must keep. */
function recorder() {
  const calls: Array<[number, number]> = [];
  return {
    calls,
    onProgress: (done: number, total: number) => { calls.push([done, total]); },
    check() {
      expect(calls.length).toBeGreaterThan(2);
      expect(calls.length).toBeLessThanOrEqual(101);
      const total = calls[0][1];
      expect(total).toBeGreaterThan(0);
      for (let i = 0; i < calls.length; i++) {
        expect(calls[i][1]).toBe(total);
        expect(calls[i][0]).toBeGreaterThan(i === 0 ? 0 : calls[i - 1][0]);
      }
      expect(calls[calls.length - 1][0]).toBe(total);
      return total;
    },
  };
}

test('mkfs and fsck of a 64 GiB sparse image report rising progress that ends at the total', () => {
  const mapping = mapFile(path.join(makeTempDir(), 'big.img'), { create: true, size: 64 * GiB, sparse: true });
  const dev = devices.pmem(mapping);
  try {
    const made = recorder();
    mkfs(dev, { onProgress: made.onProgress });
    // Units are bitmap blocks: 512 block groups (128 MiB each) and the inode bitmap.
    expect(made.check()).toBeGreaterThan(512);

    const fsys = Filesystem.mount(dev, 'dax');
    fsys.mkdir('/a/b', { recursive: true });
    for (let i = 0; i < 3; i++) fsys.writeFile(`/a/b/f${i}`, 'x');
    fsys.unmount();
    const checked = recorder();
    expect(fsck(dev, { onProgress: checked.onProgress })).toMatchObject({ clean: true });
    // Units: the 6 inodes walked (root, a, b, 3 files) and the 512 groups checked.
    expect(checked.check()).toBe(6 + 512);
  } finally {
    dev.close();
    mapping.close();
  }
});

test('a small device reports at least its end; an onProgress that is not a function is refused', () => {
  const dev = devices.ram(8 * 2 ** 20);
  const calls: Array<[number, number]> = [];
  mkfs(dev, { onProgress: (d, t) => calls.push([d, t]) });
  expect(calls.length).toBeGreaterThanOrEqual(1);
  expect(calls[calls.length - 1][0]).toBe(calls[calls.length - 1][1]);
  expect(() => mkfs(dev, { onProgress: 'yes' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/options\.onProgress/) }));
  expect(() => fsck(dev, { onProgress: 1 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  expect(fsck(dev).clean).toBe(true);   // the refused calls changed nothing
  dev.close();
});

test('a callback that throws stops mkfs before the superblock: no filesystem is left', () => {
  const dev = devices.ram(256 * 2 ** 20);
  expect(() => mkfs(dev, { onProgress: () => { throw new Error('stop'); } })).toThrow('stop');
  expect(() => Filesystem.mount(dev, 'dax')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
  dev.close();
});
