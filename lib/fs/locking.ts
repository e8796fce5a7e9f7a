// The process-wide locks and counters of one device, as the filesystem uses them. They are
// native (native/core/lock), so they hold across every worker thread that mounts the
// device; nothing here keeps filesystem state in JS.
//
// Lock order: an inode's lock before the metadata lock, never the other way round (a
// write holds its inode shared and takes the metadata lock to allocate; a truncate holds
// its inode exclusive and then the metadata lock).
import { native } from '../native';

// Keys inside a device's domain. Inode numbers are below 2^32, so these never meet one.
const METADATA_KEY = 2 ** 40;
/** Held (shared by DAX mounts, exclusive otherwise) for as long as a mount or fsck lasts. */
export const MOUNT_KEY = 2 ** 40 + 1;

interface Held {
  exclusive: boolean;
  depth: number;
}

// What this thread already holds. Native locks are not re-entrant, and a nested call
// (writeFile -> open, truncate -> getBlock) must not wait on its own thread. Each worker
// loads its own copy of this module, so the map is per thread by construction.
const held = new Map<string, Held>();

function acquire(domain: number, key: number, exclusive: boolean): Disposable {
  const name = `${domain}:${key}`;
  const mine = held.get(name);
  if (mine) {
    // An upgrade would deadlock against another thread doing the same: a bug of ours.
    if (exclusive && !mine.exclusive) throw new Error(`daxfs: lock ${name} is held shared by this thread and cannot be upgraded`);
    mine.depth++;
  } else {
    native.rwLock(domain, key, exclusive);
    held.set(name, { exclusive, depth: 1 });
  }
  let released = false;
  return {
    [Symbol.dispose]() {
      if (released) return;
      released = true;
      const h = held.get(name)!;
      if (--h.depth > 0) return;
      held.delete(name);
      native.rwUnlock(domain, key, h.exclusive);
    },
  };
}

export class DeviceLocks {
  /** `domain`: the device's identity (or a number no other device of the process has). */
  constructor(readonly domain: number) {}

  /** The metadata lock: exclusive for anything that changes metadata, shared to read it. */
  metadata(exclusive: boolean): Disposable {
    return acquire(this.domain, METADATA_KEY, exclusive);
  }

  /** A file's data lock: shared for copies in and out, exclusive for size changes. */
  inode(ino: number, exclusive: boolean): Disposable {
    return acquire(this.domain, ino, exclusive);
  }

  /** Adds `delta` to the process-wide count of open handles of `ino`; returns the count. */
  openCount(ino: number, delta: number): number {
    return native.counterAdd(this.domain, ino, delta);
  }
}
