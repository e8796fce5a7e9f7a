// The process-wide locks and counters of one device, as the filesystem uses them. They are
// native (native/core/lock), so they hold across every worker thread that mounts the
// device; nothing here keeps filesystem state in JS.
//
// Lock order: an inode's lock before the metadata lock, never the other way round (a
// write holds its inode shared and takes the metadata lock to allocate; a truncate holds
// its inode exclusive and then the metadata lock).
import { DaxError } from '../errors';
import { native } from '../native';

// Keys inside a device's domain. Inode numbers are below 2^32, so these never meet one.
const METADATA_KEY = 2 ** 40;
/** Held (shared by DAX mounts, exclusive otherwise) for as long as a mount or fsck lasts. */
export const MOUNT_KEY = 2 ** 40 + 1;
/** Counter keys of the files' view-event counts (lib/mm VIEW_EVENT): this plus the inode. */
const VIEW_EVENTS_KEY = 2 ** 33;

// What this thread already holds, by domain and key. Native locks are not re-entrant, and
// a nested call (writeFile -> open, truncate -> getBlock) must not wait on its own thread.
// Each worker loads its own copy of this module, so the table is per thread by
// construction. (Numbers as keys: a string key per call cost a quarter of a 4 KiB write.)
const held = new Map<number, Map<number, HeldLock>>();

/** One lock this thread holds, `depth` times; disposing the last hold unlocks it. At depth
 *  0 it stays in the table, to be taken again without an allocation (every read and write
 *  takes its file's lock). */
class HeldLock implements Disposable {
  depth = 1;
  constructor(readonly domain: number, readonly key: number, public exclusive: boolean) {}
  [Symbol.dispose](): void {
    if (--this.depth > 0) return;
    native.rwUnlock(this.domain, this.key, this.exclusive);   // EPERM on a second dispose
  }
}

/** Released entries kept per domain before the table drops them. */
const KEEP_RELEASED = 1024;

/** `wait` false: null instead of blocking when another thread holds the lock. */
function acquire(domain: number, key: number, exclusive: boolean, wait = true): HeldLock | null {
  let mine = held.get(domain);
  if (!mine) held.set(domain, (mine = new Map()));
  const had = mine.get(key);
  if (had !== undefined && had.depth > 0) {
    // This thread holds it shared: a promise read in flight (which keeps it until its copy
    // completes). Waiting here would wait for ourselves, and an upgrade would deadlock
    // against another thread doing the same.
    if (exclusive && !had.exclusive) {
      throw new DaxError('EBUSY', `this thread holds the lock of inode ${key} shared (a promise read of the file in flight?); await it before changing the file's size`, { errno: -16 });
    }
    had.depth++;
    return had;
  }
  if (wait) native.rwLock(domain, key, exclusive);
  else if (!native.rwTryLock(domain, key, exclusive)) return null;
  if (had !== undefined) {
    had.depth = 1;
    had.exclusive = exclusive;
    return had;
  }
  if (mine.size >= KEEP_RELEASED) {
    for (const [k, l] of mine) if (l.depth <= 0) mine.delete(k);
  }
  const lock = new HeldLock(domain, key, exclusive);
  mine.set(key, lock);
  return lock;
}

export class DeviceLocks {
  /** `domain`: the device's identity (or a number no other device of the process has). */
  constructor(readonly domain: number) {}

  /** The metadata lock: exclusive for anything that changes metadata, shared to read it. */
  metadata(exclusive: boolean): Disposable {
    return acquire(this.domain, METADATA_KEY, exclusive)!;
  }

  /** A file's data lock: shared for copies in and out, exclusive for size changes. */
  inode(ino: number, exclusive: boolean): Disposable {
    return acquire(this.domain, ino, exclusive)!;
  }

  /** inode() without waiting: null when another thread holds the lock (the promise API
   *  takes it this way, so the main thread never blocks on a lock held across its turns). */
  tryInode(ino: number, exclusive: boolean): Disposable | null {
    return acquire(this.domain, ino, exclusive, false);
  }

  /** Adds `delta` to the process-wide count of open handles of `ino`; returns the count. */
  openCount(ino: number, delta: number): number {
    return native.counterAdd(this.domain, ino, delta);
  }

  /** Adds `delta` (lib/mm VIEW_EVENT) to the process-wide view-event count of `ino`; returns it. */
  viewEvents(ino: number, delta: number): number {
    return native.counterAdd(this.domain, VIEW_EVENTS_KEY + ino, delta);
  }

  /** Reads the view-event count of `ino` without a call (a mapping checks it at every
   *  fault): the int64's two halves (a BigInt load costs more), the high one again until it
   *  held still, so a concurrent add carrying into it cannot give a torn number. */
  viewEventsReader(ino: number): () => number {
    const cell = new Int32Array(native.counterCell(this.domain, VIEW_EVENTS_KEY + ino));
    return () => {
      let hi: number, lo: number;
      do { hi = cell[1]; lo = cell[0]; } while (hi !== cell[1]);
      return (lo >>> 0) + hi * 2 ** 32;
    };
  }
}
