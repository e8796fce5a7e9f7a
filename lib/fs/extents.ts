// A file's map from file blocks to device blocks: sorted, non-overlapping extents, each
// written or unwritten (allocated, reads as zeros until converted).

export interface Extent {
  fileBlock: number;
  length: number;
  deviceBlock: number;
  unwritten: boolean;
}

export interface Lookup {
  mapped: boolean;
  deviceBlock: number;
  /** Blocks from the one asked for to the end of its extent (or of the hole, up to `limit`). */
  count: number;
  unwritten: boolean;
}

/** Index of the extent holding fileBlock, or -(insertion point) - 1. */
function find(extents: readonly Extent[], fileBlock: number): number {
  let lo = 0;
  let hi = extents.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = extents[mid];
    if (fileBlock < e.fileBlock) hi = mid - 1;
    else if (fileBlock >= e.fileBlock + e.length) lo = mid + 1;
    else return mid;
  }
  return -lo - 1;
}

export function lookup(extents: readonly Extent[], fileBlock: number, limit: number): Lookup {
  const i = find(extents, fileBlock);
  if (i >= 0) {
    const e = extents[i];
    const into = fileBlock - e.fileBlock;
    return { mapped: true, deviceBlock: e.deviceBlock + into, count: Math.min(limit, e.length - into), unwritten: e.unwritten };
  }
  const next = extents[-i - 1];
  const hole = next ? next.fileBlock - fileBlock : Infinity;
  return { mapped: false, deviceBlock: 0, count: Math.max(1, Math.min(limit, hole)), unwritten: false };
}

function canMerge(a: Extent, b: Extent): boolean {
  return a.fileBlock + a.length === b.fileBlock && a.deviceBlock + a.length === b.deviceBlock && a.unwritten === b.unwritten;
}

/** Sorts and merges neighbours that continue each other on the device. */
function normalize(extents: Extent[]): Extent[] {
  extents.sort((a, b) => a.fileBlock - b.fileBlock);
  const out: Extent[] = [];
  for (const e of extents) {
    if (e.length === 0) continue;
    const last = out[out.length - 1];
    if (last && canMerge(last, e)) last.length += e.length;
    else out.push({ ...e });
  }
  return out;
}

/** Maps [fileBlock, fileBlock+length) to device blocks; the range must be a hole. */
export function insert(extents: readonly Extent[], add: Extent): Extent[] {
  return normalize([...extents.map((e) => ({ ...e })), { ...add }]);
}

/**
 * Removes the mapping of [from, to) and returns the new list and the device ranges that
 * are no longer referenced (to free).
 */
export function remove(extents: readonly Extent[], from: number, to: number): { extents: Extent[]; freed: Array<[number, number]> } {
  const out: Extent[] = [];
  const freed: Array<[number, number]> = [];
  for (const e of extents) {
    const end = e.fileBlock + e.length;
    if (end <= from || e.fileBlock >= to) { out.push({ ...e }); continue; }
    if (e.fileBlock < from) out.push({ ...e, length: from - e.fileBlock });
    const cutStart = Math.max(from, e.fileBlock);
    const cutEnd = Math.min(to, end);
    freed.push([e.deviceBlock + (cutStart - e.fileBlock), cutEnd - cutStart]);
    if (end > to) out.push({ ...e, fileBlock: to, length: end - to, deviceBlock: e.deviceBlock + (to - e.fileBlock) });
  }
  return { extents: normalize(out), freed };
}

/** Sets the unwritten flag of every mapped block in [from, to), splitting extents at the edges. */
function mark(extents: readonly Extent[], from: number, to: number, unwritten: boolean): Extent[] {
  const out: Extent[] = [];
  for (const e of extents) {
    const end = e.fileBlock + e.length;
    if (e.unwritten === unwritten || end <= from || e.fileBlock >= to) { out.push({ ...e }); continue; }
    const a = Math.max(from, e.fileBlock);
    const b = Math.min(to, end);
    if (e.fileBlock < a) out.push({ ...e, length: a - e.fileBlock });
    out.push({ fileBlock: a, length: b - a, deviceBlock: e.deviceBlock + (a - e.fileBlock), unwritten });
    if (end > b) out.push({ ...e, fileBlock: b, length: end - b, deviceBlock: e.deviceBlock + (b - e.fileBlock) });
  }
  return normalize(out);
}

/** Marks [from, to) written (unwritten extents there are split as needed). */
export function convert(extents: readonly Extent[], from: number, to: number): Extent[] {
  return mark(extents, from, to, false);
}

/** Marks the mapped blocks of [from, to) unwritten: they keep their storage and read as zeros. */
export function markUnwritten(extents: readonly Extent[], from: number, to: number): Extent[] {
  return mark(extents, from, to, true);
}

/** True when some block of [from, to) is mapped and unwritten. */
export function hasUnwritten(extents: readonly Extent[], from: number, to: number): boolean {
  return extents.some((e) => e.unwritten && e.fileBlock < to && e.fileBlock + e.length > from);
}

/** The holes of [from, to), as [first block, count] pairs in order. */
export function holes(extents: readonly Extent[], from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = from;
  while (at < to) {
    const l = lookup(extents, at, to - at);
    if (!l.mapped) out.push([at, l.count]);
    at += l.count;
  }
  return out;
}

/** Blocks mapped (written or not). */
export function mappedBlocks(extents: readonly Extent[]): number {
  return extents.reduce((n, e) => n + e.length, 0);
}
