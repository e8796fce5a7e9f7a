// Filesystem.promises: the filesystem's operations returning Promises, as node:fs/promises.
// Large reads and writes copy on a libuv thread (lib/dax daxIOAsync); everything else
// (path lookup, allocation, journal) runs on the main thread as in the sync API, inside the
// promise. Each read, write and truncate holds its inode's lock until its copy completes:
// first an in-process AsyncRwLock (promise operations of one thread queue there in call
// order), then the process-wide native lock (lib/fs/locking), which other workers wait on.
import { DaxError } from '../errors';
import { checkBytes } from '../validate';
import { AsyncRwLocks } from './asynclock';
import type { FileHandle } from './file';
import type { Filesystem, Statfs } from './filesystem';
import type { AllocateMode } from './allocate';
import { Stats } from './stats';

/** Keeps the promises that have not settled, so close and unmount can wait for them. */
class Pending {
  readonly #set = new Set<Promise<unknown>>();

  add<T>(p: Promise<T>): Promise<T> {
    this.#set.add(p);
    const drop = (): void => { this.#set.delete(p); };
    p.then(drop, drop);
    return p;
  }

  get size(): number {
    return this.#set.size;
  }

  /** Resolves when every promise added so far, and any added meanwhile, has settled. */
  async settled(): Promise<void> {
    while (this.#set.size > 0) await Promise.allSettled([...this.#set]);
  }
}

export interface ReadResult<T extends Uint8Array> { bytesRead: number; buffer: T }
export interface WriteResult<T extends Uint8Array> { bytesWritten: number; buffer: T }

export class FsPromises {
  readonly #fs: Filesystem;
  readonly #locks = new AsyncRwLocks();
  readonly #pending = new Pending();
  readonly #copying = new Map<number, number>();   // ino -> reads/writes in flight

  constructor(fs: Filesystem) {
    this.#fs = fs;
  }

  /** Promise operations not yet settled (the sync unmount() refuses while there are any). */
  get pending(): number {
    return this.#pending.size;
  }

  /** True while a read or write of `ino` may be copying off the main thread. */
  copying(ino: number): boolean {
    return this.#copying.has(ino);
  }

  /**
   * Internal: runs `io` on `ino` under its lock (shared for 'read', exclusive otherwise)
   * and counts it as pending; a 'read' or 'write' also counts as copying.
   */
  locked<T>(ino: number, kind: 'read' | 'write' | 'truncate', io: () => Promise<T>): Promise<T> {
    // LOCK: the inode's process-wide rw lock (fs-sharing's native lock, shared for reads,
    // exclusive for writes and truncate) belongs here, taken before the copy is queued and
    // released in #holding's finally, after the copy completed. It must not block the main
    // thread: the holder's completion runs there (try-lock, else wait without blocking).
    // When the lock is free the operation starts now, so its copy is queued before this
    // returns, as node queues a request (a sync call made next sees it in flight).
    const exclusive = kind !== 'read';
    const now = this.#locks.tryAcquire(ino, exclusive);
    const p = now ? this.#holding(ino, kind, now, io)
      : this.#locks.acquire(ino, exclusive).then((release) => this.#holding(ino, kind, release, io));
    return this.#pending.add(p);
  }

  async #holding<T>(ino: number, kind: 'read' | 'write' | 'truncate', release: () => void, io: () => Promise<T>): Promise<T> {
    const copies = kind !== 'truncate';
    if (copies) this.#copying.set(ino, (this.#copying.get(ino) ?? 0) + 1);
    let file: Disposable | null = null;
    try {
      // Then the process-wide lock, held until the copy has completed, so other workers'
      // truncates and writes wait for it. Taken at once when free (the copy is queued before
      // read()/write() returns); else retried from timers, never blocking the main thread.
      const exclusive = kind !== 'read';
      file = this.#fs.tryLockInode(ino, exclusive);
      for (let delay = 1; !file; delay = Math.min(delay * 2, 16)) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        file = this.#fs.tryLockInode(ino, exclusive);
      }
      return await io();
    } finally {
      file?.[Symbol.dispose]();
      if (copies) {
        const n = this.#copying.get(ino)! - 1;
        if (n === 0) this.#copying.delete(ino); else this.#copying.set(ino, n);
      }
      release();
    }
  }

  /** Like the sync call, inside a promise: a throw becomes a rejection. */
  #sync<T>(fn: () => T): Promise<T> {
    return this.#pending.add(new Promise<T>((resolve) => resolve(fn())));
  }

  async open(path: string, flags?: string | number, mode?: number): Promise<PromiseFileHandle> {
    return new PromiseFileHandle(this, this.#fs, await this.#sync(() => this.#fs.open(path, flags, mode)));
  }

  stat(path: string): Promise<Stats> { return this.#sync(() => this.#fs.stat(path)); }
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void> { return this.#sync(() => this.#fs.mkdir(path, options)); }
  readdir(path: string): Promise<string[]> { return this.#sync(() => this.#fs.readdir(path)); }
  unlink(path: string): Promise<void> { return this.#sync(() => this.#fs.unlink(path)); }
  rmdir(path: string): Promise<void> { return this.#sync(() => this.#fs.rmdir(path)); }
  rename(from: string, to: string): Promise<void> { return this.#sync(() => this.#fs.rename(from, to)); }
  statfs(): Promise<Statfs> { return this.#sync(() => this.#fs.statfs()); }
  sync(): Promise<void> { return this.#sync(() => this.#fs.sync()); }

  /** Waits for the reads and writes of `path` that are in flight, then truncates. */
  async truncate(path: string, length: number): Promise<void> {
    const ino = await this.#sync(() => this.#fs.stat(path).ino).catch(() => undefined);
    // No such file (or a bad path): the sync truncate words the error.
    if (ino === undefined) return this.#sync(() => this.#fs.truncate(path, length));
    return this.locked(ino, 'truncate', async () => this.#fs.truncate(path, length));
  }

  async readFile(path: string): Promise<Buffer> {
    const h = await this.open(path, 'r');
    try {
      const size = (await h.stat()).size;
      const out = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await h.read(out, done, size - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return out.subarray(0, done);
    } finally {
      await h.close();
    }
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : checkBytes(data, 'data') as Uint8Array;
    const h = await this.open(path, 'w');
    try {
      let done = 0;
      while (done < bytes.byteLength) done += (await h.write(bytes, done, bytes.byteLength - done, done)).bytesWritten;
    } finally {
      await h.close();
    }
  }

  /** Waits for every promise operation in flight (new ones included), then unmounts. */
  async unmount(): Promise<void> {
    await this.#pending.settled();
    this.#fs.unmount();
  }
}

/**
 * An open file whose methods return Promises, as node:fs/promises' FileHandle. Arguments
 * are checked as the sync FileHandle checks them, but a bad one rejects instead of throwing.
 * Several operations may be in flight at once; those that use the handle's position
 * (position null) take it when their inode lock is granted, in call order for writes.
 */
export class PromiseFileHandle {
  readonly #ops: FsPromises;
  readonly #fs: Filesystem;
  readonly #h: FileHandle;
  readonly #pending = new Pending();
  #closing: Promise<void> | undefined;

  constructor(ops: FsPromises, fs: Filesystem, handle: FileHandle) {
    this.#ops = ops;
    this.#fs = fs;
    this.#h = handle;
  }

  get path(): string { return this.#h.path; }
  get ino(): number { return this.#h.ino; }
  get closed(): boolean { return this.#h.closed; }

  #run<T>(syscall: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new DaxError('EBADF', `bad file descriptor, ${syscall}`, { errno: -9, syscall }));
    return this.#pending.add(new Promise<T>((resolve) => resolve(fn())));
  }

  /** Resolves with { bytesRead, buffer } (buffer: the one passed in), as node:fs/promises. */
  read<T extends Uint8Array>(buffer: T, offset?: number, length?: number, position?: number | null): Promise<ReadResult<T>> {
    return this.#run('read', () => {
      const r = this.#h.checkRead(buffer, offset, length, position);
      return this.#ops.locked(this.#h.ino, 'read', async () => {
        const at = this.#h.startOf(r);
        const n = await this.#fs.readAtAsync(this.#h.ino, r.view, at);
        this.#h.advance(r, at, n);
        return { bytesRead: n, buffer };
      });
    });
  }

  /** Resolves with { bytesWritten, buffer }; the bytes are durable when it resolves. */
  write<T extends Uint8Array>(buffer: T, offset?: number, length?: number, position?: number | null): Promise<WriteResult<T>> {
    return this.#run('write', () => {
      const r = this.#h.checkWrite(buffer, offset, length, position);
      return this.#ops.locked(this.#h.ino, 'write', async () => {
        const at = this.#h.startOf(r);   // under the lock: an append sees the last writer's size
        const n = await this.#fs.writeAtAsync(this.#h.ino, r.view, at);
        this.#h.advance(r, at, n);
        return { bytesWritten: n, buffer };
      });
    });
  }

  /** Waits for this file's reads and writes in flight, then truncates. */
  truncate(length?: number): Promise<void> {
    return this.#run('ftruncate', () => this.#ops.locked(this.#h.ino, 'truncate', async () => this.#h.truncate(length)));
  }

  /** fallocate, as FileHandle.allocate (it changes blocks: the file's truncate lock). */
  allocate(offset: number, length: number, mode?: AllocateMode): Promise<void> {
    return this.#run('fallocate', () => this.#ops.locked(this.#h.ino, 'truncate', async () => this.#h.allocate(offset, length, mode)));
  }

  stat(): Promise<Stats> { return this.#run('fstat', async () => this.#h.stat()); }
  sync(): Promise<void> { return this.#run('fsync', async () => this.#h.sync()); }
  datasync(): Promise<void> { return this.#run('fdatasync', async () => this.#h.datasync()); }

  /**
   * Waits for this handle's operations in flight (they complete normally), then closes.
   * Operations started after close() reject with EBADF. Idempotent.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#pending.settled().then(() => this.#h.close());
  }
}
