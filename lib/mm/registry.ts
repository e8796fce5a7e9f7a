// The file mappings of one mounted filesystem, by inode: the hooks through which truncate,
// write and unmount revoke views (the kernel's unmap_mapping_range over i_mmap).
import { PAGE_SIZE } from '../dax';
import { FileMapping } from './filemapping';

export class MappingRegistry {
  readonly #byIno = new Map<number, Set<FileMapping>>();

  add(ino: number, mapping: FileMapping): void {
    let set = this.#byIno.get(ino);
    if (!set) this.#byIno.set(ino, (set = new Set()));
    set.add(mapping);
  }

  remove(ino: number, mapping: FileMapping): void {
    const set = this.#byIno.get(ino);
    if (!set) return;
    set.delete(mapping);
    if (set.size === 0) this.#byIno.delete(ino);
  }

  /** The file shrank to `size`: views of pages wholly past it go (a partial last page stays). */
  truncated(ino: number, size: number): void {
    const from = Math.ceil(size / PAGE_SIZE);
    for (const m of this.#byIno.get(ino) ?? []) m.revoke(from, Infinity);
  }

  /** Punch-hole or zero-range over [offset, offset+length): the views of every page it
   *  touches go, before their blocks are freed or become unwritten (a store through a view
   *  of an unwritten block would be data that reads back as zeros). */
  removed(ino: number, offset: number, length: number): void {
    const set = this.#byIno.get(ino);
    if (!set || length === 0) return;
    for (const m of set) m.revoke(Math.floor(offset / PAGE_SIZE), Math.ceil((offset + length) / PAGE_SIZE));
  }

  /** [position, position+length) was written: zero-page views there are stale. */
  wrote(ino: number, position: number, length: number): void {
    const set = this.#byIno.get(ino);
    if (!set || length === 0) return;
    const from = Math.floor(position / PAGE_SIZE);
    const to = Math.ceil((position + length) / PAGE_SIZE);
    for (const m of set) m.revoke(from, to, true);
  }

  /** Unmount: every view of every mapping. */
  unmapAll(): void {
    for (const set of [...this.#byIno.values()]) for (const m of [...set]) m.unmap();
    this.#byIno.clear();
  }
}
