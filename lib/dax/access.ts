// Walking a run of device blocks through directAccess, which may return less than asked
// (a window edge), so callers loop on short lengths.
import { BlockDevice, SECTOR_SIZE } from '../block';
import { BlockMapping } from './getblock';

export const PAGE_SIZE = 4096;   // DAX block size: one page (mount checks the kernel's page size)
const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE;

/**
 * Calls fn(deviceOffset, length, done) for each contiguous piece of the `length` bytes that
 * start `within` bytes into mapping.block, as directAccess hands them out.
 */
export function forEachPiece(device: BlockDevice, mapping: BlockMapping, within: number, length: number,
                             fn: (deviceOffset: number, length: number, done: number) => void): void {
  let done = 0;
  let block = mapping.block + Math.floor(within / PAGE_SIZE);
  let inPage = within % PAGE_SIZE;
  while (done < length) {
    const want = Math.min(length - done, 0x40000000);  // ask in 1 GiB steps at most
    let da;
    try {
      da = device.directAccess(block * SECTORS_PER_PAGE, inPage + want);
    } catch (err) {
      // A bad block somewhere in a long run: take the pages before it one at a time, so the
      // caller can return a short count instead of failing the whole transfer.
      if (inPage + want <= PAGE_SIZE) throw err;
      da = device.directAccess(block * SECTORS_PER_PAGE, PAGE_SIZE);
    }
    const n = Math.min(want, da.length - inPage);
    fn(da.pfn * PAGE_SIZE + inPage, n, done);
    done += n;
    block += (inPage + n) / PAGE_SIZE;
    inPage = 0;
  }
}
