// A reader/writer lock per inode for the promises API: an operation waits its turn without
// blocking the main thread, because the holder's copy completes on the main thread.
// Writers are served in arrival order; readers share.

interface Waiter {
  exclusive: boolean;
  wake: () => void;
}

interface Entry {
  readers: number;
  writer: boolean;
  queue: Waiter[];
}

export class AsyncRwLocks {
  readonly #entries = new Map<number, Entry>();

  /** The release function when `key` can be held at once (nobody waiting before us), else undefined. */
  tryAcquire(key: number, exclusive: boolean): (() => void) | undefined {
    const e = this.#entries.get(key);
    if (e !== undefined && (e.queue.length > 0 || !this.#free(e, exclusive))) return undefined;
    return this.#hold(key, exclusive);
  }

  /** Resolves with the release function once `key` is held (shared or exclusive). */
  acquire(key: number, exclusive: boolean): Promise<() => void> {
    const now = this.tryAcquire(key, exclusive);
    if (now) return Promise.resolve(now);
    const entry = this.#entries.get(key)!;
    return new Promise((resolve) => entry.queue.push({ exclusive, wake: () => resolve(this.#releaser(key, entry, exclusive)) }));
  }

  #hold(key: number, exclusive: boolean): () => void {
    let e = this.#entries.get(key);
    if (e === undefined) this.#entries.set(key, e = { readers: 0, writer: false, queue: [] });
    this.#take(e, exclusive);
    return this.#releaser(key, e, exclusive);
  }

  #releaser(key: number, entry: Entry, exclusive: boolean): () => void {
    return once(() => {
      if (exclusive) entry.writer = false; else entry.readers -= 1;
      this.#wake(key, entry);
    });
  }

  #free(e: Entry, exclusive: boolean): boolean {
    return !e.writer && (!exclusive || e.readers === 0);
  }

  #take(e: Entry, exclusive: boolean): void {
    if (exclusive) e.writer = true; else e.readers += 1;
  }

  #wake(key: number, e: Entry): void {
    while (e.queue.length > 0 && this.#free(e, e.queue[0].exclusive)) {
      const w = e.queue.shift()!;
      this.#take(e, w.exclusive);
      w.wake();
    }
    if (!e.writer && e.readers === 0 && e.queue.length === 0) this.#entries.delete(key);
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
