// get_user_pages emulation. The seed's kernel (4.0) could not pin DAX memory (no struct
// page behind it), so pinning a view of a DAX file mapping fails with EFAULT there; the
// 'modern' profile pins it, as kernels with ZONE_DEVICE pages do.
import { DaxError } from '../errors';
import { isUnpinnableView } from '../pmem/mapping';
import { checkBytes } from '../validate';

export type Profile = 'linux-4.0' | 'modern';

/**
 * Whether get_user_pages can pin the views of a file mapping: page-cache pages always,
 * DAX pages only on 'modern'. lib/mm makes the views of an unpinnable mapping with the
 * native mark (pageView's `unpinnable`), set at creation: no JavaScript can put it on
 * ordinary memory or take it off a view. (A WeakSet of views did the same at a fifth of
 * a read fault's cost.)
 */
export function pinnable(dax: boolean, profile: Profile): boolean {
  return !dax || profile !== 'linux-4.0';
}

function pin(memory: ArrayBufferView, syscall: string, name = 'memory'): void {
  checkBytes(memory, name);
  if (memory.byteLength > 0 && isUnpinnableView(memory.buffer)) {
    throw new DaxError('EFAULT', `bad address (the ${name} is a view of a DAX file mapping, which get_user_pages cannot pin on the linux-4.0 profile; mount with profile=modern, or copy it first), ${syscall}`, { errno: -14, syscall });
  }
}

/** Pins `memory` for a call of the filesystem's (splice's target): EFAULT as pinUserPages. */
export function pinMemory(memory: ArrayBufferView, syscall: string, name: string): void {
  pin(memory, syscall, name);
}

/**
 * Pins the data of a file, as splice does when it moves the file's pages into a pipe. A
 * file on a DAX mount keeps its data in device memory with no struct page behind it, so
 * under 'linux-4.0' that fails with EFAULT; a page-cache file or 'modern' pins fine.
 */
export function pinFileData(file: { readonly dax: boolean; readonly profile: Profile }, syscall: string, path: string): void {
  if (file.dax && file.profile === 'linux-4.0') {
    throw new DaxError('EFAULT', `bad address (the file's data is DAX memory, which get_user_pages cannot pin on the linux-4.0 profile; mount with profile=modern, or read() and write() it), ${syscall} '${path}'`, { errno: -14, syscall, path });
  }
}

/** Pins `memory` for I/O, as get_user_pages does; EFAULT on DAX views under 'linux-4.0'. */
export function pinUserPages(memory: ArrayBufferView, options?: { write?: boolean }): { release(): void } {
  void options;   // a write pin fails exactly where a read pin does
  pin(memory, 'get_user_pages');
  return { release(): void {} };
}

/** RDMA memory registration (ibv_reg_mr pins the pages): same rule as pinUserPages. */
export function registerMemoryRegion(memory: ArrayBufferView): { deregister(): void } {
  pin(memory, 'ibv_reg_mr');
  return { deregister(): void {} };
}
