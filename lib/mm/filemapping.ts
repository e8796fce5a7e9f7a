// FileMapping: a VMA over part of a file. JavaScript cannot trap a store, so a fault is an
// explicit page(i, access) call; what it maps follows the kernel's DAX rules (lib/dax/fault.ts)
// on a DAX mount and page-cache pages elsewhere (lib/mm/pagesource.ts), and views are
// revoked where the kernel would unmap PTEs.
import { ConvertUnwritten, DaxInode, FaultAccess, GetBlock, PAGE_SIZE } from '../dax';
import { DaxError, argError } from '../errors';
import { revokePageView, zeroPageView } from '../pmem/mapping';
import { checkOneOf, checkSize } from '../validate';
import { pinnable, Profile } from './gup';
import type { PageSource } from './pagesource';

export const HUGE_SIZE = 2 * 1024 * 1024;
const PAGES_PER_HUGE = HUGE_SIZE / PAGE_SIZE;
/** Blocks a sequential write fault allocates at once (one transaction instead of 16). */
const WRITE_AROUND = 16;
const ACCESS = ['read', 'write'] as const;

/**
 * What a filesystem adds to a file's view-event count (MappedFile.viewEvents): `fill` when
 * holes or unwritten blocks of the file got data (zero-page views of them are stale),
 * `remove` when blocks left the file or its size shrank (truncate, punch hole, zero range:
 * any view may be stale). One number holds both, so checking costs one read; fills past
 * 2^26 carry into the removal part, which only costs a needless full check.
 */
export const VIEW_EVENT = { fill: 1, remove: 2 ** 26 } as const;

/** What a filesystem hands a mapping of one of its files (lib/mm knows no on-media format). */
export interface MappedFile {
  readonly ino: number;
  readonly profile: Profile;
  /** The inode as it is now and a getBlock that answers lookups from that same read, so a
   *  fault reads and checks the inode once (allocation still goes to the filesystem). */
  snapshot(): { inode: DaxInode; getBlock: GetBlock };
  readonly getBlock: GetBlock;
  /** What views map: device blocks (DAX) or page-cache pages (fixed for the mount's lifetime). */
  readonly pages: PageSource;
  readonly convert?: ConvertUnwritten;
  /** A write fault changes the file: mtime and ctime. */
  touch(): void;
  /** A write fault gave file pages [page, page+count) blocks: zero-page views of them, in
   *  every mapping of the file, are stale (the kernel unmaps them on a hole fill). */
  filled(page: number, count: number): void;
  /** Called by unmap(), so the filesystem forgets the mapping. */
  forget(mapping: FileMapping): void;
  /** The file's lock, held shared for the whole fault: a truncate or punch-hole (which take
   *  it exclusive) waits for a fault in flight, and a fault sees the size they leave. */
  lock?(): Disposable;
  /** The file's view-event count, process wide (see VIEW_EVENT): another worker's mapping
   *  cannot be reached to revoke its views, so each mapping compares this count at every
   *  fault and checks its views against the file when it moved. */
  viewEvents?(): number;
}

export interface FileMappingOptions {
  write: boolean;
  private: boolean;
  /** Read-only mount: every view is read-only. */
  readOnly: boolean;
}

export interface FileMappingStats {
  faults: number;
  majorFaults: number;
  zeroPageMaps: number;
  mkwrites: number;
}

type PageKind = 'zero' | 'shared' | 'readonly' | 'copy';

interface MappedPage {
  buffer: Buffer;
  kind: PageKind;
  block: number;         // device block or cache slot; -1 for the zero page and private copies
}

interface RangeView {
  buffer: Buffer;
  first: number;         // mapping page index
  count: number;
}

export class FileMapping {
  readonly dax: boolean;
  readonly #file: MappedFile;
  readonly #o: FileMappingOptions;
  readonly #pages = new Map<number, MappedPage>();   // mapping page index -> view
  readonly #zeroPages = new Set<number>();            // the indexes whose view is the zero page
  #events: number;                                    // the view-event count the views were checked at
  readonly #ranges = new Set<RangeView>();
  readonly #firstPage: number;
  #unmapped = false;
  #lastWrite = -2;   // the page of the latest write fault (a read fault is no sequential write)
  readonly #unpinnable: boolean;   // its views are memory get_user_pages refuses (lib/mm/gup)
  readonly #stats: FileMappingStats = { faults: 0, majorFaults: 0, zeroPageMaps: 0, mkwrites: 0 };

  constructor(file: MappedFile, readonly offset: number, readonly length: number, options: FileMappingOptions) {
    this.#file = file;
    this.#o = options;
    this.#firstPage = offset / PAGE_SIZE;
    this.dax = file.pages.dax;
    this.#unpinnable = !pinnable(this.dax, file.profile);
    this.#events = file.viewEvents?.() ?? 0;
  }

  get stats(): FileMappingStats {
    return { ...this.#stats };
  }

  #live(): void {
    if (this.#unmapped) throw new DaxError('EINVAL', 'the mapping was unmapped', { errno: -22, syscall: 'mmap' });
  }

  #checkAccess(access: unknown): FaultAccess {
    // Compared inline first: every page() call comes here.
    const a = access === 'read' || access === 'write' ? access : checkOneOf(access, 'access', ACCESS) ?? 'read';
    if (a === 'write' && !this.#o.write) {
      throw new DaxError('EACCES', 'a write fault on a mapping made without write: true', { errno: -13, syscall: 'mmap' });
    }
    return a;
  }

  /** Faults page `index` and returns a view of that page alone (the same one while it stays mapped). */
  page(index: number, access: FaultAccess = 'read'): Buffer {
    this.#live();
    checkSize(index, 'index');
    const a = this.#checkAccess(access);
    if (index * PAGE_SIZE >= this.length) {
      throw argError('ERR_OUT_OF_RANGE', `The value of "index" is out of range. The mapping has ${Math.ceil(this.length / PAGE_SIZE)} pages. Received ${index}`);
    }
    const events = this.#file.viewEvents?.();
    if (events !== undefined && events !== this.#events) this.#recheck(events);
    let had = this.#pages.get(index);
    if (had && had.buffer.length === 0) {
      // The page cache dropped the page under it (O_DIRECT invalidation): fault again.
      this.#revokePage(index);
      had = undefined;
    }
    if (had && (a === 'read' || had.kind === 'shared' || had.kind === 'copy')) return had.buffer;
    if (had) {
      // mkwrite: the page was mapped for reading (the zero page or a read-only block).
      this.#stats.mkwrites++;
      this.#revokePage(index);
    }
    // try/finally, not `using` (lowered for Node 20 it allocates on every fault).
    const lock = this.#file.lock?.();
    try {
      const p = this.#fault(index, a);
      this.#pages.set(index, p);
      if (p.kind === 'zero') this.#zeroPages.add(index);
      return p.buffer;
    } finally {
      lock?.[Symbol.dispose]();
    }
  }

  /**
   * The file changed through some mapping or handle, maybe in another worker (whose
   * registry cannot reach this mapping): revokes the views that no longer show the file as
   * it is, under the file's lock, as the kernel would have unmapped them. After fills only
   * zero-page views are checked; after a removal every view: past EOF it goes, and a view
   * of a block goes unless the page still maps that block, written.
   */
  #recheck(events: number): void {
    const removal = Math.floor(events / VIEW_EVENT.remove) !== Math.floor(this.#events / VIEW_EVENT.remove);
    if (removal ? this.#pages.size === 0 : this.#zeroPages.size === 0) {
      this.#events = events;
      return;
    }
    using _file = this.#file.lock?.();
    const { inode, getBlock } = this.#file.snapshot();
    const pages = Math.ceil(inode.size / PAGE_SIZE);
    for (const index of removal ? [...this.#pages.keys()] : [...this.#zeroPages]) {
      const p = this.#pages.get(index)!;
      const filePage = this.#firstPage + index;
      if (filePage >= pages) { this.#revokePage(index); continue; }
      if (p.kind === 'copy') continue;   // a private copy below EOF is the mapping's own
      const b = getBlock(inode, filePage, 1, false);
      const now = b.mapped && !b.unwritten ? b.block : -1;
      if (now !== p.block) this.#revokePage(index);
    }
    this.#events = events;
  }

  #fault(index: number, access: FaultAccess): MappedPage {
    this.#stats.faults++;
    const file = this.#file;
    const { inode, getBlock } = file.snapshot();
    const filePage = this.#firstPage + index;
    if (access === 'write' && this.#o.private) {
      // Copy on write: the page's current contents in anonymous memory; the file never changes.
      const copy = Buffer.alloc(PAGE_SIZE);
      try {
        file.pages.read(inode, filePage, copy, getBlock);
      } catch (err) {
        if ((err as { code?: string }).code === 'SIGBUS') throw err;   // past EOF, as any fault
        throw new DaxError('SIGBUS', `page ${filePage} of inode ${inode.ino} cannot be read for a private copy (${(err as { code?: string }).code ?? 'error'})`, { cause: err });
      }
      return { buffer: copy, kind: 'copy', block: -1 };
    }
    // Fault-around for writes: right after a write fault of the page before (a sequential
    // pattern) allocate a cluster, so the next faults find blocks; a lone fault takes one
    // block, as the kernel's DAX fault does.
    const around = access === 'write' && this.#lastWrite === index - 1 && this.#pages.has(index - 1) ? WRITE_AROUND : 1;
    if (access === 'write') this.#lastWrite = index;
    const r = file.pages.fault(inode, filePage, access, getBlock, file.convert, around);
    if (r.zero) {
      this.#stats.zeroPageMaps++;
      return { buffer: Buffer.from(zeroPageView(this.#unpinnable)), kind: 'zero', block: -1 };
    }
    if (r.allocated) {
      this.#stats.majorFaults++;
      file.filled(filePage, r.count);
    }
    if (access === 'write') file.touch();
    // A read fault of a shared writable mapping maps the block writable: a store cannot be
    // trapped for mkwrite, so it reaches the file as it would after the kernel's mkwrite.
    const readOnly = this.#o.readOnly || !this.#o.write || this.#o.private;
    let view: ArrayBuffer;
    try {
      view = file.pages.view(r.deviceBlock, 1, readOnly, this.#unpinnable);
    } catch (err) {
      // A block that cannot be mapped (a bad block: EIO) fails the fault, which has no errno.
      throw new DaxError('SIGBUS', `page ${filePage} of inode ${inode.ino} cannot be mapped (${(err as { code?: string }).code ?? 'error'})`, { cause: err });
    }
    return { buffer: Buffer.from(view), kind: readOnly ? 'readonly' : 'shared', block: r.deviceBlock };
  }

  /**
   * One view of [offset, offset+length) of the mapping (page aligned), every page faulted
   * first; EOPNOTSUPP unless the pages are one contiguous run of device blocks (DAX) or of
   * page-cache memory (pages first mapped in order usually are).
   */
  view(offset: number, length: number, access: FaultAccess = 'read'): Buffer {
    this.#live();
    checkSize(offset, 'offset');
    checkSize(length, 'length');
    const a = this.#checkAccess(access);
    if (offset % PAGE_SIZE !== 0 || length % PAGE_SIZE !== 0 || length === 0) {
      throw new DaxError('EINVAL', `view(${offset}, ${length}): offset and length must be non-zero multiples of the page size (${PAGE_SIZE})`, { errno: -22, syscall: 'mmap' });
    }
    if (offset + length > Math.ceil(this.length / PAGE_SIZE) * PAGE_SIZE) {
      throw argError('ERR_OUT_OF_RANGE', `The range [${offset}, ${offset + length}) is out of range. The mapping is ${this.length} bytes`);
    }
    return this.#range(offset / PAGE_SIZE, length / PAGE_SIZE, a, 'view');
  }

  #range(first: number, count: number, access: FaultAccess, what: string, align = 1): Buffer {
    let start = -1;
    let kind: PageKind | undefined;
    for (let i = 0; i < count; i++) {
      this.page(first + i, access);
      const q = this.#pages.get(first + i)!;
      if (q.block < 0 || (i > 0 && (q.block !== start + i || q.kind !== kind))) {
        throw new DaxError('EOPNOTSUPP', `${what}: pages ${first}..${first + count - 1} are not one contiguous run of ${this.dax ? 'device blocks' : 'page-cache memory'} ` +
          `(${q.block < 0 ? `page ${first + i} is ${q.kind === 'zero' ? 'a hole (the zero page)' : 'a private copy'}` : `page ${first + i} is elsewhere`}); ` +
          'allocate() the range first so its blocks are contiguous', { errno: -95, syscall: 'mmap' });
      }
      if (i === 0) { start = q.block; kind = q.kind; }
    }
    if (start % align !== 0) {
      throw new DaxError('EINVAL', `${what}: device block ${start} is not ${align * PAGE_SIZE}-byte aligned, so it cannot be mapped as one huge page`, { errno: -22, syscall: 'mmap' });
    }
    const buffer = Buffer.from(this.#file.pages.view(start, count, kind !== 'shared', this.#unpinnable));
    this.#ranges.add({ buffer, first, count });
    return buffer;
  }

  /** A 2 MiB view (profile 'modern'): file offset, device block and extent 2 MiB aligned and contiguous. */
  huge(index: number, access: FaultAccess = 'read'): Buffer {
    this.#live();
    checkSize(index, 'index');
    const a = this.#checkAccess(access);
    if (!this.dax) {
      throw new DaxError('EOPNOTSUPP', 'huge(): 2 MiB mappings need a DAX mount (page-cache mappings are 4 KiB pages)', { errno: -95, syscall: 'mmap' });
    }
    if (this.#file.profile !== 'modern') {
      throw new DaxError('EOPNOTSUPP', "huge(): 2 MiB mappings need a mount with profile=modern (the linux-4.0 profile maps 4 KiB pages only)", { errno: -95, syscall: 'mmap' });
    }
    if (this.offset % HUGE_SIZE !== 0) {
      throw new DaxError('EINVAL', `huge(): the mapping starts at file offset ${this.offset}, which is not 2 MiB aligned`, { errno: -22, syscall: 'mmap' });
    }
    if ((index + 1) * HUGE_SIZE > this.length) {
      throw argError('ERR_OUT_OF_RANGE', `The value of "index" is out of range. The mapping holds ${Math.floor(this.length / HUGE_SIZE)} whole 2 MiB pages. Received ${index}`);
    }
    return this.#range(index * PAGES_PER_HUGE, PAGES_PER_HUGE, a, 'huge', PAGES_PER_HUGE);
  }

  /** msync: makes the stores through writable views durable (DAX: flushed; otherwise
   *  written back from the page cache and flushed). */
  sync(): void {
    this.#live();
    const blocks: number[] = [];
    for (const p of this.#pages.values()) if (p.kind === 'shared' && p.buffer.length) blocks.push(p.block);
    if (blocks.length) this.#file.pages.sync(this.#file.ino, blocks);
  }

  /** Revokes every view handed out (length 0 afterwards). Idempotent. */
  unmap(): void {
    if (this.#unmapped) return;
    this.revoke(0, Infinity);
    this.#unmapped = true;
    this.#file.forget(this);
  }

  #revokePage(index: number): void {
    const p = this.#pages.get(index);
    if (!p) return;
    this.#pages.delete(index);
    this.#zeroPages.delete(index);
    if (p.kind !== 'copy') revokePageView(p.buffer.buffer as ArrayBuffer);
    else structuredClone(p.buffer.buffer, { transfer: [p.buffer.buffer as ArrayBuffer] });   // detaches it
    for (const r of this.#ranges) {
      if (index >= r.first && index < r.first + r.count) {
        revokePageView(r.buffer.buffer as ArrayBuffer);
        this.#ranges.delete(r);
      }
    }
  }

  /**
   * Revokes the views of file pages [fromPage, toPage) (truncate, punch hole, unmount);
   * zeroOnly: just the zero-page views (a write() filled those holes).
   */
  revoke(fromPage: number, toPage: number, zeroOnly = false): void {
    const from = Math.max(0, fromPage - this.#firstPage);
    const to = toPage - this.#firstPage;
    const drop = (index: number, p: MappedPage): void => {
      if (!zeroOnly || p.kind === 'zero') this.#revokePage(index);
    };
    if (to - from < this.#pages.size) {
      // A short range (a write, a fault's fill): look up its pages, not every mapped one.
      for (let index = from; index < to; index++) {
        const p = this.#pages.get(index);
        if (p) drop(index, p);
      }
    } else {
      for (const [index, p] of [...this.#pages]) if (index >= from && index < to) drop(index, p);
    }
    if (!zeroOnly) {
      for (const r of [...this.#ranges]) {
        if (r.first + r.count > from && r.first < to) {
          revokePageView(r.buffer.buffer as ArrayBuffer);
          this.#ranges.delete(r);
        }
      }
    }
  }
}
