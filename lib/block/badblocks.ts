// A device's list of bad sectors, kept as sorted, merged [sector, count] ranges.
import { checkSize } from '../validate';

export class BadBlocks {
  #ranges: Array<[number, number]> = [];   // sorted by start, never overlapping or touching

  add(sector: number, count: number): void {
    checkSize(sector, 'sector');
    checkSize(count, 'count');
    if (count === 0) return;
    let start = sector;
    let end = sector + count;
    const kept: Array<[number, number]> = [];
    for (const [s, c] of this.#ranges) {
      if (s + c < start || s > end) kept.push([s, c]);
      else { start = Math.min(start, s); end = Math.max(end, s + c); }
    }
    kept.push([start, end - start]);
    this.#ranges = kept.sort((a, b) => a[0] - b[0]);
  }

  clear(sector: number, count: number): void {
    checkSize(sector, 'sector');
    checkSize(count, 'count');
    const end = sector + count;
    const kept: Array<[number, number]> = [];
    for (const [s, c] of this.#ranges) {
      if (s + c <= sector || s >= end) { kept.push([s, c]); continue; }
      if (s < sector) kept.push([s, sector - s]);
      if (s + c > end) kept.push([end, s + c - end]);
    }
    this.#ranges = kept;
  }

  list(): Array<[number, number]> {
    return this.#ranges.map(([s, c]) => [s, c]);
  }

  /** True when any sector of [sector, sector+count) is bad. */
  intersects(sector: number, count: number): boolean {
    if (this.#ranges.length === 0) return false;  // the common case costs one compare
    const end = sector + count;
    return this.#ranges.some(([s, c]) => s < end && sector < s + c);
  }
}
