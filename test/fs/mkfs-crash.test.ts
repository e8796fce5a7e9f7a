// mkfs over an old filesystem: a crash after its first fence must not bring the old
// filesystem back through the backup superblock (found by test/crash/mkfs.test.ts).
import { devices } from '../../lib/block';
import { DaxError } from '../../lib/errors';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { mapAnonymous, PmemMapping } from '../../lib/pmem';
import { testing } from '../../lib/testing';

const SIZE = 4 * 1024 * 1024;

test('a crash at mkfs\'s first fence over an old filesystem leaves no superblock: mount refuses it with EUCLEAN', () => {
  const old = mapAnonymous(SIZE);
  const oldDev = devices.pmem(old);
  mkfs(oldDev);
  const f = Filesystem.mount(oldDev, 'dax');
  f.writeFile('/old', 'from before mkfs');
  f.unmount();
  oldDev.close();

  let first: PmemMapping | undefined;
  const m = testing.crashable(old, { onFence: () => { first ??= m.crash(); } });
  const dev = devices.pmem(m);
  mkfs(dev);
  dev.close();
  m.close();

  const image = devices.pmem(first!);
  try {
    let err: unknown;
    try { Filesystem.mount(image, 'dax').unmount(); } catch (e) { err = e; }
    expect((err as DaxError)?.code).toBe('EUCLEAN');
    expect((err as Error).message).toMatch(/no valid superblock/);
  } finally {
    image.close();
    first!.close();
  }
});
