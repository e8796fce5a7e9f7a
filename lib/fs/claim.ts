// Who may use a device: one process at a time (a flock per device identity, counted, so
// the process's own workers share it), and inside the process either any number of
// sharers (DAX mounts, fsck without repair) or one exclusive user (a non-DAX mount, whose
// page cache another mount would not see; fsck with repair; mkfs).
import { BlockDevice } from '../block';
import { DaxError } from '../errors';
import { native } from '../native';
import { MOUNT_KEY } from './locking';

export interface DeviceClaim {
  /** The lock domain of the device: its identity (st_dev, st_ino) when it has a file. */
  readonly domain: number;
  /** Idempotent. */
  release(): void;
}

// Devices without a file (ram, anonymous or wrapped mappings) cannot be reached from
// another thread, so a number unique in the process stands in for their identity. Small
// numbers: identities carry st_dev in bits 40 and up, and no real device has st_dev 0.
const ANONYMOUS_DOMAINS = 0xda7f5;
const anonymous = new WeakMap<BlockDevice, number>();

function anonymousDomain(device: BlockDevice): number {
  let d = anonymous.get(device);
  if (d === undefined) {
    d = native.counterAdd(ANONYMOUS_DOMAINS, 0, 1);
    anonymous.set(device, d);
  }
  return d;
}

const WHY_ALONE = {
  mount: 'a mount without dax needs it alone (its page cache would not see the other mounts\' writes)',
  fsck: 'a repair needs it alone (it would change blocks the mounts are using)',
  mkfs: 'mkfs would destroy the mounted filesystem',
};

function ebusy(message: string, syscall: string, path?: string): DaxError {
  return new DaxError('EBUSY', message, { errno: -16, syscall, path });
}

/**
 * Claims `device` for a mount or fsck: EBUSY when another process has it, or when this
 * process uses it in a way that conflicts (exclusive against anything, shared against
 * an exclusive user).
 */
export function claimDevice(device: BlockDevice, exclusive: boolean, syscall: 'mount' | 'fsck' | 'mkfs'): DeviceClaim {
  const path = device.path;
  let id: number | null = null;
  if (path !== undefined) {
    try {
      id = native.claimDevice(path);
    } catch (e) {
      if ((e as DaxError).code !== 'EBUSY') throw e;
      throw ebusy(`${device.name} (${path}) is mounted by another process: one process uses a device at a time; unmount it there first`, syscall, path);
    }
  }
  const domain = id ?? anonymousDomain(device);
  if (!native.rwTryLock(domain, MOUNT_KEY, exclusive)) {
    if (id !== null) native.releaseDevice(id);
    const daxMounts = native.counterAdd(domain, MOUNT_KEY, 0);
    const where = path === undefined ? device.name : `${device.name} (${path})`;
    throw ebusy(daxMounts > 0
      ? `${where} is mounted with dax (or being checked) in this process, and ${WHY_ALONE[syscall]}; unmount it first`
      : `${where} is in use in this process by a mount without dax (its page cache is not shared), an fsck repair or mkfs; unmount it first`,
      syscall, path);
  }
  if (!exclusive) native.counterAdd(domain, MOUNT_KEY, 1);
  let released = false;
  return {
    domain,
    release() {
      if (released) return;
      released = true;
      if (!exclusive) native.counterAdd(domain, MOUNT_KEY, -1);
      native.rwUnlock(domain, MOUNT_KEY, exclusive);
      if (id !== null) native.releaseDevice(id);
    },
  };
}
