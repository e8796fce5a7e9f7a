// Memory for page-cache pages that a file mapping maps. A cached page normally lives in a
// JavaScript Buffer; once mapped it moves into a slot of shared anonymous memory, because
// only there can it have revocable native views (detached when the page goes) and a
// PROT_READ alias (a store through a read-only mapping raises SIGSEGV instead of changing
// the file). The cache keeps using the same memory, so write() and the views stay coherent.
import { PAGE_SIZE } from '../dax';
import { DaxError } from '../errors';
import { mapAnonymous, pageView, PmemMapping } from '../pmem/mapping';

/** Slots per arena (2 MiB): a view may span consecutive slots of one arena. */
export const ARENA_PAGES = 512;

export class PageArena {
  readonly #arenas: PmemMapping[] = [];
  readonly #free: number[] = [];   // slot numbers, reused lowest-last (a stack)
  #next = 0;                       // slots below this were handed out at least once

  /** Takes a free slot (a new arena when every slot is in use). */
  alloc(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const slot = this.#next++;
    if (slot / ARENA_PAGES >= this.#arenas.length) this.#arenas.push(mapAnonymous(ARENA_PAGES * PAGE_SIZE));
    return slot;
  }

  /** Gives a slot back; its views must have been revoked by then. */
  free(slot: number): void {
    this.#free.push(slot);
  }

  /** The cache's own read/write view of a slot (never handed to users). */
  data(slot: number): Buffer {
    return this.#arena(slot).view((slot % ARENA_PAGES) * PAGE_SIZE, PAGE_SIZE);
  }

  /** A revocable view of `count` slots from `slot` for a mapping; they must lie in one arena. */
  view(slot: number, count: number, readOnly: boolean): ArrayBuffer {
    const within = slot % ARENA_PAGES;
    if (within + count > ARENA_PAGES) {
      throw new DaxError('EOPNOTSUPP', `these ${count} cached pages are not one contiguous run of page-cache memory; ` +
        'map them page by page with page(i)', { errno: -95, syscall: 'mmap' });
    }
    return pageView(this.#arena(slot), within * PAGE_SIZE, count * PAGE_SIZE, readOnly);
  }

  /** Unmount: detaches every view and returns the memory. */
  close(): void {
    for (const a of this.#arenas) a.close();
    this.#arenas.length = 0;
    this.#free.length = 0;
    this.#next = 0;
  }

  #arena(slot: number): PmemMapping {
    const a = this.#arenas[Math.floor(slot / ARENA_PAGES)];
    if (!a) throw new DaxError('EINVAL', `page-cache slot ${slot} does not exist`, { errno: -22 });
    return a;
  }
}
