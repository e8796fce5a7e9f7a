// Device images at every store and fence of an operation, and mounting one as a crash
// would leave it (journal replayed, fsck clean first).
import { devices, BlockDevice } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { mapAnonymous } from '../../lib/pmem';
import { snapshotting } from './wrap-mapping';

/** Images of a fresh `size`-byte filesystem after `setup`: the one before `op`, then one
 *  after every store and fence `op` makes. */
export function crashImages(size: number, setup: (f: Filesystem) => void, op: (f: Filesystem) => void): Buffer[] {
  const images: Buffer[] = [];
  const m = snapshotting(mapAnonymous(size), images);
  const dev = devices.pmem(m);
  mkfs(dev);
  const f = Filesystem.mount(dev, 'dax');
  try {
    setup(f);
    images.push(Buffer.from(m.view(0, size)));
    m.capturing = true;
    op(f);
  } finally {
    m.capturing = false;
    f.unmount();
    dev.close();
    m.close();
  }
  return images;
}

/** Mounts a crash image after checking that fsck, once the journal is replayed, finds
 *  nothing wrong; returns the problems fsck found so callers can assert on them. */
export function mountImage(image: Buffer): { f: Filesystem; dev: BlockDevice; problems: string[] } {
  const dev = devices.ram(image.length);
  dev.writeSectors(0, image);
  Filesystem.mount(dev, 'dax').unmount();          // mount replays what the crash left
  const { problems } = fsck(dev);
  return { f: Filesystem.mount(dev, 'dax'), dev, problems };
}
