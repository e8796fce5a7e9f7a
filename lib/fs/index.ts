// The filesystem's public face: mkfs, mount, fsck and the types they hand out.
import { BlockDevice } from '../block';
import { Filesystem } from './filesystem';
import { MountOptions } from './mount';

export { mkfs } from './mkfs';
export type { MkfsOptions } from './mkfs';
export { fsck } from './fsck';
export type { FsckOptions, FsckResult } from './fsck';
export { Filesystem } from './filesystem';
export type { Statfs } from './filesystem';
export { FileHandle } from './file';
export type { PromiseFileHandle } from './promises';
export type { OnProgress } from './progress';
export { Stats } from './stats';
export type { MountOptions, Profile } from './mount';

/** Mounts the daxfs on `device`; options as fstab writes them ('dax,ro') or an object. */
export function mount(device: BlockDevice, options?: string | MountOptions): Filesystem {
  return Filesystem.mount(device, options);
}
