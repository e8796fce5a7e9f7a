// The file mappings of one mounted filesystem, by inode: the hooks through which truncate,
// write and unmount revoke views (the kernel's unmap_mapping_range over i_mmap). This
// mount's views go at once; other workers' mounts cannot be reached, so each change is also
// published as a view event (VIEW_EVENT), which their mappings check at their next fault.
import { PAGE_SIZE } from '../dax';
import { FileMapping, VIEW_EVENT } from './filemapping';

/** Adds a VIEW_EVENT to the file's process-wide count (absent: no other worker can map it). */
export type PublishViewEvent = (ino: number, event: number) => void;

export class MappingRegistry {
  readonly #byIno = new Map<number, Set<FileMapping>>();

  constructor(private readonly publish?: PublishViewEvent) {}

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
    this.publish?.(ino, VIEW_EVENT.remove);
  }

  /** Punch-hole or zero-range over [offset, offset+length): the views of every page it
   *  touches go, before their blocks are freed or become unwritten (a store through a view
   *  of an unwritten block would be data that reads back as zeros). */
  removed(ino: number, offset: number, length: number): void {
    if (length === 0) return;
    for (const m of this.#byIno.get(ino) ?? []) m.revoke(Math.floor(offset / PAGE_SIZE), Math.ceil((offset + length) / PAGE_SIZE));
    this.publish?.(ino, VIEW_EVENT.remove);
  }

  /** [position, position+length) was written: zero-page views there are stale. `filled`
   *  false: the range lay in written blocks (no hole filled), so other workers need not look. */
  wrote(ino: number, position: number, length: number, filled = true): void {
    if (length === 0) return;
    const from = Math.floor(position / PAGE_SIZE);
    const to = Math.ceil((position + length) / PAGE_SIZE);
    for (const m of this.#byIno.get(ino) ?? []) m.revoke(from, to, true);
    if (filled) this.publish?.(ino, VIEW_EVENT.fill);
  }

  /** Unmount: every view of every mapping. */
  unmapAll(): void {
    for (const set of [...this.#byIno.values()]) for (const m of [...set]) m.unmap();
    this.#byIno.clear();
  }
}
