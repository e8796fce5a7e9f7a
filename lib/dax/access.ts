// Walking a run of device blocks through directAccess, which may return less than asked
// (a window edge), so callers loop on short lengths.
import { BlockDevice, SECTOR_SIZE } from '../block';
import { BlockMapping } from './getblock';

export const PAGE_SIZE = 4096;   // DAX block size: one page (mount checks the kernel's page size)
const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE;
const MAX_ASK = 0x40000000;      // ask directAccess for at most 1 GiB at a time

/** Where the next contiguous piece of a transfer lies on the device. */
export interface Piece {
  offset: number;   // device byte offset
  length: number;   // contiguous bytes there (<= what was asked)
}

/**
 * Fills `out` with the device offset and contiguous length of up to `want` bytes that start
 * `within` bytes into device block `deviceBlock`. A bad block inside a long request gives
 * the pages before it (asked one page at a time), so callers can return a short count.
 */
export function nextPiece(device: BlockDevice, deviceBlock: number, within: number, want: number, out: Piece): void {
  const block = deviceBlock + Math.floor(within / PAGE_SIZE);
  const inPage = within % PAGE_SIZE;
  const ask = Math.min(want, MAX_ASK);
  let da;
  try {
    da = device.directAccess(block * SECTORS_PER_PAGE, inPage + ask);
  } catch (err) {
    if (inPage + ask <= PAGE_SIZE) throw err;
    da = device.directAccess(block * SECTORS_PER_PAGE, PAGE_SIZE);
  }
  out.offset = da.pfn * PAGE_SIZE + inPage;
  out.length = Math.min(ask, da.length - inPage);
}

/**
 * Where `length` bytes from `within` bytes into the run `m` that getBlock answered lie on the
 * device, when they are one plain copy: the run is written (not a hole, not new, not
 * unwritten), covers them all, and one directAccess answer maps them contiguously. -1
 * otherwise (something to zero or convert, a window edge, a bad block): the caller walks
 * piece by piece and reports what moved.
 */
export function contiguousRun(device: BlockDevice, m: BlockMapping, within: number, length: number): number {
  if (!m.mapped || m.new || m.unwritten || m.count * PAGE_SIZE - within < length || within + length > MAX_ASK) return -1;
  let da;
  try {
    da = device.directAccess(m.block * SECTORS_PER_PAGE, within + length);
  } catch {
    return -1;
  }
  return da.length >= within + length ? da.pfn * PAGE_SIZE + within : -1;
}
