// The page cache of a non-DAX mount (the kernel's mm/filemap): copies of file pages, kept
// by (ino, page index), moved to and from the device with readSectors/writeSectors. Like
// lib/dax it knows nothing of any on-media format: it learns where a page lives only from
// the filesystem's getBlock, asked again at each transfer (truncate and hole punching move
// blocks, so a cached page never remembers its block).
import { BlockDevice, SECTOR_SIZE } from '../block';
import { BlockMapping, ConvertUnwritten, DaxInode, FaultAccess, FaultResult, GetBlock, PAGE_SIZE } from '../dax';
import { checkPageInFile, faultFailed } from '../dax/fault';
import { argError, DaxError } from '../errors';
import { revokePageView } from '../pmem/mapping';
import { PageArena } from './pagearena';
import { checkBytes, checkInteger, checkOptions, checkSize } from '../validate';

const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE;
const MAX_RUN = 256;   // pages per device transfer (1 MiB)

interface Page {
  readonly ino: number;
  readonly index: number;
  data: Buffer;            // PAGE_SIZE bytes; past EOF always zeros
  dirty: boolean;
  /** Mapped pages: the arena slot holding `data`, and the views handed out over it. */
  slot?: number;
  views?: ArrayBuffer[];
  /** The views through which a store can reach the page: it counts as dirty while any lives. */
  writable?: ArrayBuffer[];
}

/** How to reach a file's blocks at writeback: remembered from the write that dirtied it. */
interface Owner {
  inode: DaxInode;
  getBlock: GetBlock;
  convert?: ConvertUnwritten;
}

export interface PageCacheOptions {
  /** Pages kept at most (default 4096: 16 MiB); the least recently used go first. */
  maxPages?: number;
}

export interface PageCacheStats {
  pages: number;
  dirty: number;
  hits: number;
  misses: number;
  writebacks: number;   // pages written to the device
}

export class PageCache {
  readonly device: BlockDevice;
  readonly maxPages: number;
  // Insertion order is recency: a touched page is deleted and set again (LRU by a Map).
  readonly #lru = new Map<Page, true>();
  readonly #files = new Map<number, Map<number, Page>>();
  readonly #owners = new Map<number, Owner>();
  readonly #arena = new PageArena();
  readonly #bySlot = new Map<number, Page>();
  #dirty = 0;
  #hits = 0;
  #misses = 0;
  #writebacks = 0;

  constructor(device: BlockDevice, options?: PageCacheOptions) {
    const o = checkOptions<PageCacheOptions>(options, 'options');
    this.device = device;
    this.maxPages = o.maxPages === undefined ? 4096 : checkInteger(o.maxPages, 'options.maxPages', 1, 2 ** 31);
  }

  get stats(): PageCacheStats {
    return { pages: this.#lru.size, dirty: this.#dirty, hits: this.#hits, misses: this.#misses, writebacks: this.#writebacks };
  }

  /** True when page `index` of `ino` is cached (tests use it). */
  cached(ino: number, index: number): boolean {
    return this.#files.get(ino)?.has(index) ?? false;
  }

  // --- pages ----------------------------------------------------------------------------------

  #find(ino: number, index: number): Page | undefined {
    const p = this.#files.get(ino)?.get(index);
    if (p) {
      this.#lru.delete(p);
      this.#lru.set(p, true);
      this.#hits++;
    }
    return p;
  }

  #add(ino: number, index: number, data: Buffer): Page {
    while (this.#lru.size >= this.maxPages && this.#evictOne());
    const p: Page = { ino, index, data, dirty: false };
    let file = this.#files.get(ino);
    if (!file) this.#files.set(ino, file = new Map());
    file.set(index, p);
    this.#lru.set(p, true);
    this.#misses++;
    return p;
  }

  #drop(p: Page): void {
    if (p.slot !== undefined) {
      // Whoever dropped it (truncate, hole punch, O_DIRECT) made its views stale: revoke
      // them before the slot can hold another page.
      for (const v of p.views!) revokePageView(v);
      this.#bySlot.delete(p.slot);
      this.#arena.free(p.slot);
    }
    this.#lru.delete(p);
    const file = this.#files.get(p.ino);
    file?.delete(p.index);
    if (file && file.size === 0) this.#files.delete(p.ino);
    if (p.dirty) this.#dirty--;
  }

  #markDirty(p: Page): void {
    if (!p.dirty) this.#dirty++;
    p.dirty = true;
  }

  /** Drops the least recently used page that no mapping maps (those stay, as if locked);
   *  a dirty one is written back first (no flush). False when every page is mapped. */
  #evictOne(): boolean {
    for (const p of this.#lru.keys()) {
      if (this.#mapped(p)) continue;
      if (p.dirty) this.#writePages(p.ino, [p]);
      this.#drop(p);
      return true;
    }
    return false;
  }

  /**
   * The pages [index, index+count) of a file whose blocks getBlock describes with `m`
   * (count <= m.count), cached or read in. Holes, unwritten and new blocks give zero pages
   * without touching the device; so do pages a write will cover whole (`covered`).
   */
  #load(inode: DaxInode, index: number, count: number, m: BlockMapping, covered: (i: number) => boolean): Page[] {
    const out: Page[] = [];
    let i = 0;
    while (i < count) {
      const hit = this.#find(inode.ino, index + i);
      if (hit) { out.push(hit); i++; continue; }
      let j = i;   // a run of missing pages
      while (j < count && !this.cached(inode.ino, index + j)) j++;
      const buf = Buffer.alloc((j - i) * PAGE_SIZE);
      if (m.mapped && !m.unwritten && !m.new) {
        const need = [];
        for (let k = i; k < j; k++) if (!covered(index + k)) need.push(k);
        if (need.length === j - i) this.device.readSectors((m.block + i) * SECTORS_PER_PAGE, buf);
        else for (const k of need) this.device.readSectors((m.block + k) * SECTORS_PER_PAGE, buf.subarray((k - i) * PAGE_SIZE, (k - i + 1) * PAGE_SIZE));
      }
      for (let k = i; k < j; k++) out.push(this.#add(inode.ino, index + k, buf.subarray((k - i) * PAGE_SIZE, (k - i + 1) * PAGE_SIZE)));
      i = j;
    }
    return out;
  }

  /** Pages to take at once: no run may evict its own pages, and buffers stay small. */
  #run(count: number, want: number): number {
    return Math.min(count, want, this.maxPages, MAX_RUN);
  }

  // --- read and write ---------------------------------------------------------------------

  /**
   * Reads from `position` into `buffer` through the cache, stopping at EOF (0 at EOF, short
   * across it). Holes and unwritten blocks read as zeros without touching the device.
   */
  read(inode: DaxInode, position: number, buffer: Uint8Array, getBlock: GetBlock): number {
    checkSize(position, 'position');
    checkBytes(buffer, 'buffer');
    if (position >= inode.size) return 0;
    const end = Math.min(position + buffer.byteLength, inode.size);
    let pos = position;
    while (pos < end) {
      const index = Math.floor(pos / PAGE_SIZE);
      let pages: Page[];
      const hit = this.#find(inode.ino, index);
      if (hit) pages = [hit];
      else {
        const want = Math.ceil((end - index * PAGE_SIZE) / PAGE_SIZE);
        const m = getBlock(inode, index, want, false);
        if (!m.mapped || m.unwritten) {
          // Not cached: a hole costs no memory, and a later write finds nothing stale.
          const span = Math.min(m.count * PAGE_SIZE - (pos - index * PAGE_SIZE), end - pos);
          buffer.fill(0, pos - position, pos - position + span);
          pos += span;
          continue;
        }
        pages = this.#load(inode, index, this.#run(m.count, want), m, () => false);
      }
      for (const p of pages) {
        const within = pos - p.index * PAGE_SIZE;
        const span = Math.min(PAGE_SIZE - within, end - pos);
        buffer.set(p.data.subarray(within, within + span), pos - position);
        pos += span;
      }
    }
    return pos - position;
  }

  /**
   * Writes `buffer` at `position` into cached pages, allocating missing blocks with
   * getBlock(create) first (the filesystem makes them read as zeros on the device before
   * it links them), and marks the pages dirty: nothing reaches the device before
   * writeback. The caller changes the size afterwards. Returns the bytes written; throws
   * only when nothing was written.
   */
  write(inode: DaxInode, position: number, buffer: Uint8Array, getBlock: GetBlock, convert?: ConvertUnwritten): number {
    checkSize(position, 'position');
    checkBytes(buffer, 'buffer');
    const end = position + buffer.byteLength;
    this.#owners.set(inode.ino, { inode, getBlock, convert });
    let pos = position;
    try {
      while (pos < end) {
        const index = Math.floor(pos / PAGE_SIZE);
        const want = Math.ceil((end - index * PAGE_SIZE) / PAGE_SIZE);
        const m = getBlock(inode, index, want, true);
        if (!m.mapped) throw new DaxError('EIO', `getBlock(create) left block ${index} of inode ${inode.ino} unmapped`, { errno: -5 });
        const covers = (i: number): boolean => i * PAGE_SIZE >= position && (i + 1) * PAGE_SIZE <= end;
        for (const p of this.#load(inode, index, this.#run(m.count, want), m, covers)) {
          const within = pos - p.index * PAGE_SIZE;
          const span = Math.min(PAGE_SIZE - within, end - pos);
          p.data.set(buffer.subarray(pos - position, pos - position + span), within);
          this.#markDirty(p);
          pos += span;
        }
      }
    } catch (err) {
      // A short write (ENOSPC, say) reports what went in, so the size covers exactly that.
      if (pos === position) throw err;
    }
    return pos - position;
  }

  // --- writeback and invalidation ---------------------------------------------------------

  /**
   * Writes dirty pages of `pages` (one file, any order) to their blocks: one writeSectors
   * per contiguous run, then, after a flush, converts unwritten blocks that now hold data.
   */
  #writePages(ino: number, pages: Page[]): void {
    const dirty = pages.filter((p) => this.#mapped(p) && p.writable!.length > 0 || p.dirty).sort((a, b) => a.index - b.index);
    if (dirty.length === 0) return;
    const owner = this.#owners.get(ino);
    if (!owner) throw new DaxError('EIO', `page cache: dirty pages of inode ${ino} and no way to reach its blocks`, { errno: -5 });
    const converted: Array<[number, number]> = [];
    let i = 0;
    while (i < dirty.length) {
      let j = i + 1;
      while (j < dirty.length && dirty[j].index === dirty[j - 1].index + 1) j++;
      const m = owner.getBlock(owner.inode, dirty[i].index, Math.min(j - i, MAX_RUN), false);
      const n = Math.min(m.count, j - i, MAX_RUN);
      const run = dirty.slice(i, i + n);
      if (m.mapped) {
        const data = n === 1 ? run[0].data : Buffer.concat(run.map((p) => p.data));
        this.device.writeSectors(m.block * SECTORS_PER_PAGE, data);
        this.#writebacks += n;
        if (m.unwritten) converted.push([run[0].index, n]);
      }
      // An unmapped dirty page lost its block to a truncate or punch: nothing to keep.
      for (const p of run) if (p.dirty) { p.dirty = false; this.#dirty--; }
      i += n;
    }
    if (converted.length > 0 && owner.convert) {
      this.device.flush();   // the data first: a crash must never convert blocks still holding old bytes
      for (const [block, count] of converted) owner.convert(owner.inode, block, count);
    }
  }

  /** Writes back the dirty pages of `ino` in [first, last] (all by default); no flush. */
  writeback(ino: number, first = 0, last = Infinity): void {
    const file = this.#files.get(ino);
    if (!file) return;
    this.#writePages(ino, [...file.values()].filter((p) => p.index >= first && p.index <= last));
  }

  /** Writes back every dirty page of every file; no flush. */
  writebackAll(): void {
    for (const ino of [...this.#files.keys()]) this.writeback(ino);
  }

  /** Forgets the pages of `ino` in [first, last] (all by default) without writing them. */
  invalidate(ino: number, first = 0, last = Infinity): void {
    const file = this.#files.get(ino);
    if (!file) return;
    for (const p of [...file.values()]) if (p.index >= first && p.index <= last) this.#drop(p);
  }

  /** Forgets everything about `ino` (its storage is gone, or its number reused). */
  forget(ino: number): void {
    this.invalidate(ino);
    this.#owners.delete(ino);
  }

  /**
   * Zeroes [from, from+length) of one page of a file, in the cache and on the device (written
   * and flushed now: fallocate's partial ends must be zero before its transaction commits).
   * A hole or unwritten block reads zeros already and is left alone (nothing allocated).
   */
  zero(inode: DaxInode, from: number, length: number, getBlock: GetBlock): void {
    const index = Math.floor(from / PAGE_SIZE);
    const within = from % PAGE_SIZE;
    if (length <= 0 || within + length > PAGE_SIZE) throw argError('ERR_OUT_OF_RANGE', `a zeroed range must lie in one page (offset ${from}, length ${length})`);
    let p = this.#files.get(inode.ino)?.get(index);
    if (!p) {
      const m = getBlock(inode, index, 1, false);
      if (!m.mapped || m.unwritten) return;
      p = this.#load(inode, index, 1, m, () => false)[0];
    }
    p.data.fill(0, within, within + length);
    this.#markDirty(p);
    if (!this.#owners.has(inode.ino)) this.#owners.set(inode.ino, { inode, getBlock });
    this.#writePages(inode.ino, [p]);
    this.device.flush();
  }

  /**
   * Before a file shrinks to `size`: its pages past the end are dropped, and the rest of the
   * new last page is zeroed in the cache and on the device (written and flushed now, so a
   * crash after the size change never shows the old bytes when the file grows again).
   */
  truncate(inode: DaxInode, size: number, getBlock: GetBlock): void {
    checkSize(size, 'size');
    const index = Math.floor(size / PAGE_SIZE);
    const within = size % PAGE_SIZE;
    this.invalidate(inode.ino, Math.ceil(size / PAGE_SIZE));
    if (within === 0 || size >= inode.size) return;
    let p = this.#files.get(inode.ino)?.get(index);
    if (!p) {
      const m = getBlock(inode, index, 1, false);
      if (!m.mapped || m.unwritten) return;   // reads zeros already
      p = this.#load(inode, index, 1, m, () => false)[0];
    }
    p.data.fill(0, within);
    this.#markDirty(p);
    if (!this.#owners.has(inode.ino)) this.#owners.set(inode.ino, { inode, getBlock });
    this.#writePages(inode.ino, [p]);
    this.device.flush();
  }

  // --- file mappings ----------------------------------------------------------------------

  /** True while a live view maps the page. Views revoked since (unmap, mkwrite) are
   *  forgotten here; a writable one may have been stored through, so the page turns dirty. */
  #mapped(p: Page): boolean {
    if (!p.views) return false;
    const live = (v: ArrayBuffer): boolean => v.byteLength > 0;
    if (!p.writable!.every(live)) {
      p.writable = p.writable!.filter(live);
      this.#markDirty(p);
    }
    if (!p.views.every(live)) p.views = p.views.filter(live);
    return p.views.length > 0;
  }

  /** Moves a page into an arena slot (once), where it can have views. */
  #pin(p: Page): number {
    if (p.slot === undefined) {
      const slot = this.#arena.alloc();
      const data = this.#arena.data(slot);
      data.set(p.data);
      p.data = data;
      p.slot = slot;
      p.views = [];
      p.writable = [];
      this.#bySlot.set(slot, p);
    }
    return p.slot;
  }

  /**
   * A fault of page `index` of a file on a non-DAX mount: the zero page for a read of a hole
   * or an unwritten block (nothing allocated, nothing cached), else the cached page (read in
   * if needed), named by its arena slot. A write allocates with getBlock(create) first; its
   * failure is SIGBUS with the cause. Past EOF: SIGBUS.
   */
  fault(inode: DaxInode, index: number, access: FaultAccess, getBlock: GetBlock, convert?: ConvertUnwritten): FaultResult {
    checkPageInFile(inode, index);
    // Stores through a shared writable view reach the device only at writeback: remember how.
    this.#owners.set(inode.ino, { inode, getBlock, convert });
    let allocated = false;
    let m: BlockMapping | undefined;
    if (access === 'write') {
      try {
        // An unwritten block stays so until writeback has put the page's bytes in it.
        const had = getBlock(inode, index, 1, false);
        m = had.mapped ? had : getBlock(inode, index, 1, true);
        if (!m.mapped) throw new DaxError('EIO', `getBlock(create) left block ${index} of inode ${inode.ino} unmapped`, { errno: -5 });
        allocated = !had.mapped || had.unwritten;
      } catch (err) {
        throw faultFailed(inode, index, err);
      }
    }
    let p = this.#find(inode.ino, index);
    if (!p) {
      m ??= getBlock(inode, index, 1, false);
      if (!m.mapped || m.unwritten && access === 'read') return { zero: true };
      p = this.#load(inode, index, 1, m, () => false)[0];
    }
    if (access === 'write') this.#markDirty(p);
    return { zero: false, deviceBlock: this.#pin(p), allocated, count: 1 };
  }

  /** A view of `count` mapped pages from arena slot `slot` (consecutive slots of one arena). */
  view(slot: number, count: number, readOnly: boolean): ArrayBuffer {
    const pages: Page[] = [];
    for (let i = 0; i < count; i++) {
      const p = this.#bySlot.get(slot + i);
      if (!p) throw new DaxError('EINVAL', `page-cache slot ${slot + i} holds no page`, { errno: -22, syscall: 'mmap' });
      pages.push(p);
    }
    const v = this.#arena.view(slot, count, readOnly);
    for (const p of pages) {
      p.views!.push(v);
      if (!readOnly) p.writable!.push(v);
    }
    return v;
  }

  /** Unmount: every mapped page's memory goes (views detached first). */
  close(): void {
    for (const p of [...this.#lru.keys()]) this.#drop(p);
    this.#owners.clear();
    this.#arena.close();
  }
}
