// Block and inode allocation (docs/FORMAT.md, "Allocation bitmaps").
//
// Blocks: one bitmap block per group of 32768 blocks, bit i of group g (byte i >> 3, bit
// i & 7, least significant first) is block g * 32768 + i; a set bit means used. A summary
// keeps each group's free-block count (u32 LE), so a search skips full groups by reading 4
// bytes instead of a 4 KiB bitmap block, and statfs never reads a bitmap. Inodes: one bitmap,
// bit i is inode i, set = used.
//
// Nothing is cached: every read goes to the device, through the caller's transaction when
// there is one (so several allocations in one transaction see each other), and every change
// is a `tx.write` of just the bytes that change. Another worker mounting the same device
// therefore never sees a stale state from us, and an uncommitted transaction changes nothing.
import * as os from 'node:os';
import { DaxError } from '../errors';
import { checkInteger, checkSize } from '../validate';
import { Transaction } from './journal';
import { BLOCKS_PER_GROUP, BLOCK_SIZE, Layout } from './layout';
import { MetaIO } from './metaio';

/** Inodes 0 and 1 are never handed out; 2 is the root directory, made by mkfs. */
export const ROOT_INODE = 2;
/** The first inode number allocate() can return. */
export const FIRST_FREE_INODE = ROOT_INODE + 1;

/** Groups whose summary counts one read fetches while searching. */
const SUMMARY_CHUNK = 256;
/** Bitmap bytes one search read fetches (a multiple of 4). */
const SEARCH_PIECE = 512;
/** Bytes per direct write in format(). */
const FORMAT_CHUNK = 1024 * 1024;

type Reader = Pick<Transaction, 'read'>;

function enospc(what: string): DaxError {
  return new DaxError('ENOSPC', `no free ${what} left on the device`, { errno: -28 });
}

function corrupt(message: string): DaxError {
  return new DaxError('EUCLEAN', `${message}; the filesystem needs fsck`, { errno: -117 });
}

/** Index of the lowest set bit of a non-zero 32-bit value. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * The 32-bit words of a bitmap piece (a multiple of 4 bytes), bit i of word w being bit
 * 32w + i of the piece: a view when the platform is little-endian and the bytes are aligned
 * (the usual case), else a copy. Read only: changes are made on bytes.
 */
function wordsOf(buf: Buffer): Int32Array {
  if (LITTLE_ENDIAN && buf.byteOffset % 4 === 0) return new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  const out = new Int32Array(buf.length >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt32LE(i * 4);
  return out;
}

/** The first clear bit in [from, limit), or -1 (limit <= 32 * words.length). A word at a time. */
function findClear(words: Int32Array, from: number, limit: number): number {
  if (from >= limit) return -1;
  let wi = from >>> 5;
  let w = words[wi] | ((1 << (from & 31)) - 1);   // bits below `from` count as used
  for (;;) {
    if (w !== -1) {
      const found = (wi << 5) + ctz32(~w);
      return found < limit ? found : -1;
    }
    wi++;
    if (wi << 5 >= limit) return -1;
    w = words[wi];
  }
}

/** Length of the run of clear bits from `from` (a clear bit), at most `max` (within the words). */
function clearRun(words: Int32Array, from: number, max: number): number {
  let n = 0;
  let bit = from;
  while (n < max) {
    const shift = bit & 31;
    const rest = words[bit >>> 5] >>> shift;       // the word's bits from `bit` upwards
    const avail = 32 - shift;
    const zeros = rest === 0 ? avail : Math.min(avail, ctz32(rest));
    n += zeros;
    bit += zeros;
    if (zeros < avail) break;
  }
  return Math.min(n, max);
}

/** Clear bits among the first `limit` bits. */
function countClear(words: Int32Array, limit: number): number {
  let used = 0;
  const whole = limit >>> 5;
  for (let i = 0; i < whole; i++) used += popcount32(words[i]);
  const tail = limit & 31;
  if (tail) used += popcount32(words[whole] & ((1 << tail) - 1));
  return limit - used;
}

/** Sets (value true) or clears the bits [from, to) of `buf`, whose bit 0 is bit `base` of the map. */
function setBits(buf: Buffer, base: number, from: number, to: number, value: boolean): void {
  let bit = from - base;
  const end = to - base;
  while (bit < end) {
    if ((bit & 7) === 0 && bit + 8 <= end) {
      const bytes = (end - bit) >>> 3;
      buf.fill(value ? 0xff : 0, bit >>> 3, (bit >>> 3) + bytes);
      bit += bytes << 3;
      continue;
    }
    const mask = 1 << (bit & 7);
    if (value) buf[bit >>> 3] |= mask; else buf[bit >>> 3] &= ~mask;
    bit++;
  }
}

/**
 * The first clear bit in [from, limit) of the bitmap whose bit 0 is at byte `offset`, or -1.
 * Reads SEARCH_PIECE bytes at a time: most searches end in the first piece, and a small
 * read costs less than a whole block.
 */
function searchClear(r: Reader, offset: number, from: number, limit: number): number {
  const end = ((limit + 31) >>> 5) * 4;           // bytes holding the bits below limit
  for (let p = (from >>> 3) - ((from >>> 3) % SEARCH_PIECE); p < end; p += SEARCH_PIECE) {
    const len = Math.min(SEARCH_PIECE, end - p);
    const bit = findClear(wordsOf(r.read(offset + p, len)), Math.max(0, from - p * 8), Math.min(len * 8, limit - p * 8));
    if (bit >= 0) return p * 8 + bit;
  }
  return -1;
}

function readVia(io: MetaIO, tx: Transaction | undefined): Reader {
  return tx ?? io;
}

/** The block allocator: a bitmap block and a u32 free count per group of 32768 blocks. */
export class BlockAllocator {
  readonly #io: MetaIO;
  readonly #layout: Layout;

  constructor(io: MetaIO, layout: Layout) {
    this.#io = io;
    this.#layout = layout;
  }

  /**
   * mkfs: writes both bitmaps' worth of block state (every metadata block and the backup
   * superblock used, the rest free, bits past the device's end used) and the summary, with
   * direct writes in large chunks, then a barrier.
   */
  /** `advance` is told each chunk's bitmap blocks as they are written (mkfs's progress). */
  static format(io: MetaIO, layout: Layout, advance?: (blocks: number) => void): void {
    const groupsPerChunk = FORMAT_CHUNK / BLOCK_SIZE;
    const chunk = Buffer.alloc(FORMAT_CHUNK);
    for (let g0 = 0; g0 < layout.groups; g0 += groupsPerChunk) {
      const g1 = Math.min(layout.groups, g0 + groupsPerChunk);
      const base = g0 * BLOCKS_PER_GROUP;
      const end = g1 * BLOCKS_PER_GROUP;
      const buf = chunk.subarray(0, (g1 - g0) * BLOCK_SIZE);
      buf.fill(0);
      const used = (from: number, to: number): void => {
        const a = Math.max(from, base);
        const b = Math.min(to, end);
        if (a < b) setBits(buf, base, a, b, true);
      };
      used(0, layout.dataStart);
      used(layout.backupSuperblock, layout.backupSuperblock + 1);
      used(layout.blocks, end);
      io.write((layout.bitmapStart + g0) * BLOCK_SIZE, buf);
      advance?.(g1 - g0);
    }
    const summary = Buffer.alloc(layout.summaryBlocks * BLOCK_SIZE);
    for (let g = 0; g < layout.groups; g++) summary.writeUInt32LE(BlockAllocator.#formattedFree(layout, g), g * 4);
    io.write(layout.summaryStart * BLOCK_SIZE, summary);
    io.barrier();
  }

  /** Free blocks of group g right after format. */
  static #formattedFree(layout: Layout, g: number): number {
    const lo = Math.max(g * BLOCKS_PER_GROUP, layout.dataStart);
    const hi = Math.min((g + 1) * BLOCKS_PER_GROUP, layout.backupSuperblock);
    return Math.max(0, hi - lo);
  }

  /** Bits of group g that are blocks of the device (the last group may be partial). */
  #groupBits(g: number): number {
    return Math.min(BLOCKS_PER_GROUP, this.#layout.blocks - g * BLOCKS_PER_GROUP);
  }

  #bitmapOffset(g: number): number {
    return (this.#layout.bitmapStart + g) * BLOCK_SIZE;
  }

  #summaryOffset(g: number): number {
    return this.#layout.summaryStart * BLOCK_SIZE + g * 4;
  }

  /**
   * Up to `count` contiguous free blocks, the first free one at or after `goal` (wrapping
   * around the device); a run ends at the first used block or at its group's end, so it may
   * be shorter than asked. Marks them used in `tx`. ENOSPC when no block is free.
   */
  allocate(tx: Transaction, goal: number, count: number): { start: number; count: number } {
    checkSize(goal, 'goal');
    checkInteger(count, 'count', 1, Number.MAX_SAFE_INTEGER);
    const L = this.#layout;
    if (goal < L.dataStart || goal >= L.backupSuperblock) goal = L.dataStart;
    const first = Math.floor(goal / BLOCKS_PER_GROUP);
    let chunkStart = -1;
    let chunk: Buffer = Buffer.alloc(0);
    // Group `first` is visited twice: from the goal first, and from its start at the end.
    for (let i = 0; i <= L.groups; i++) {
      const g = (first + i) % L.groups;
      if (g < chunkStart || g >= chunkStart + chunk.length / 4) {
        chunkStart = g - (g % SUMMARY_CHUNK);
        chunk = tx.read(this.#summaryOffset(chunkStart), Math.min(SUMMARY_CHUNK, L.groups - chunkStart) * 4);
      }
      const free = chunk.readUInt32LE((g - chunkStart) * 4);
      if (free === 0) continue;
      const from = i === 0 ? goal - g * BLOCKS_PER_GROUP : 0;
      const limit = this.#groupBits(g);
      const bit = searchClear(tx, this.#bitmapOffset(g), from, limit);
      if (bit < 0) {
        if (from === 0) throw corrupt(`block group ${g}: the summary counts ${free} free blocks but its bitmap has none`);
        continue;
      }
      // the words the run can cover: as many as `count` bits need, up to the group's end
      const want = Math.min(count, limit - bit);
      const w0 = bit >>> 5;
      const span = tx.read(this.#bitmapOffset(g) + w0 * 4, (((bit + want + 31) >>> 5) - w0) * 4);
      const n = clearRun(wordsOf(span), bit - w0 * 32, want);
      const start = g * BLOCKS_PER_GROUP + bit;
      if (n > free) throw corrupt(`block group ${g}: the summary counts ${free} free blocks but its bitmap has at least ${n}`);
      if (start < L.dataStart || start + n > L.backupSuperblock) {
        throw corrupt(`the block bitmap marks metadata blocks ${start}..${start + n - 1} free`);
      }
      setBits(span, w0 * 32, bit, bit + n, true);
      // only the bytes that change (tx.write copies them)
      tx.write(this.#bitmapOffset(g) + (bit >>> 3), span.subarray((bit >>> 3) - w0 * 4, ((bit + n - 1) >>> 3) + 1 - w0 * 4));
      this.#writeSummary(tx, g, free - n);
      return { start, count: n };
    }
    throw enospc('blocks');
  }

  #writeSummary(tx: Transaction, g: number, free: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(free, 0);
    tx.write(this.#summaryOffset(g), b);
  }

  /**
   * Marks [start, start+count) free in `tx`. EUCLEAN, with nothing changed, when a block of
   * the range is metadata, past the end, or already free (a double free means corruption).
   */
  free(tx: Transaction, start: number, count: number): void {
    checkSize(start, 'start');
    checkSize(count, 'count');
    if (count === 0) return;
    const L = this.#layout;
    const end = start + count;
    if (start < L.dataStart || end > L.backupSuperblock) {
      throw corrupt(`freeing blocks ${start}..${end - 1}, outside the data area ${L.dataStart}..${L.backupSuperblock - 1}`);
    }
    const parts: Array<{ g: number; lo: number; bytes: Buffer; from: number; to: number; free: number }> = [];
    for (let g = Math.floor(start / BLOCKS_PER_GROUP); g * BLOCKS_PER_GROUP < end; g++) {
      const base = g * BLOCKS_PER_GROUP;
      const from = Math.max(start, base) - base;
      const to = Math.min(end, base + BLOCKS_PER_GROUP) - base;
      // whole words around the range, to check it; the write takes only the bytes that change
      const wlo = from >>> 5;
      const piece = tx.read(this.#bitmapOffset(g) + wlo * 4, (((to + 31) >>> 5) - wlo) * 4);
      const clear = findClear(wordsOf(piece), from - wlo * 32, to - wlo * 32);
      if (clear >= 0) {
        throw corrupt(`block ${base + wlo * 32 + clear} is freed but already free (freeing ${start}..${end - 1})`);
      }
      const lo = from >>> 3;
      const bytes = Buffer.from(piece.subarray(lo - wlo * 4, (((to - 1) >>> 3) + 1) - wlo * 4));
      const free = tx.read(this.#summaryOffset(g), 4).readUInt32LE(0) + (to - from);
      if (free > this.#groupBits(g)) throw corrupt(`block group ${g}: freeing would count ${free} free blocks, more than it has`);
      parts.push({ g, lo, bytes, from, to, free });
    }
    for (const p of parts) {
      setBits(p.bytes, p.lo * 8, p.from, p.to, false);
      tx.write(this.#bitmapOffset(p.g) + p.lo, p.bytes);
      this.#writeSummary(tx, p.g, p.free);
    }
  }

  /**
   * fsck repair: marks `block` used in `tx` (a file uses it, but the bitmap says free), so
   * no allocation hands it out again. Nothing changes when it is already marked used.
   */
  markAllocated(tx: Transaction, block: number): void {
    const L = this.#layout;
    if (block < L.dataStart || block >= L.backupSuperblock) {
      throw corrupt(`marking block ${block} used, outside the data area ${L.dataStart}..${L.backupSuperblock - 1}`);
    }
    const g = Math.floor(block / BLOCKS_PER_GROUP);
    const bit = block - g * BLOCKS_PER_GROUP;
    const at = this.#bitmapOffset(g) + (bit >>> 3);
    const byte = tx.read(at, 1)[0];
    const mask = 1 << (bit & 7);
    if (byte & mask) return;
    tx.write(at, Buffer.from([byte | mask]));
    const free = tx.read(this.#summaryOffset(g), 4).readUInt32LE(0);
    this.#writeSummary(tx, g, Math.max(0, free - 1));
  }

  isAllocated(block: number, tx?: Transaction): boolean {
    checkInteger(block, 'block', 0, this.#layout.blocks - 1);
    const g = Math.floor(block / BLOCKS_PER_GROUP);
    const bit = block - g * BLOCKS_PER_GROUP;
    const byte = readVia(this.#io, tx).read(this.#bitmapOffset(g) + (bit >>> 3), 1)[0];
    return ((byte >>> (bit & 7)) & 1) === 1;
  }

  /** Free blocks on the device: the sum of the summary counts (no bitmap is read). */
  freeBlocks(tx?: Transaction): number {
    const L = this.#layout;
    const counts = wordsOf(readVia(this.#io, tx).read(this.#summaryOffset(0), L.groups * 4));
    let sum = 0;
    for (let g = 0; g < counts.length; g++) sum += counts[g] >>> 0;
    return sum;
  }

  /** For fsck: group `group`'s free blocks by its bitmap and by the summary. */
  countGroup(group: number): { bitmapFree: number; summaryFree: number } {
    checkInteger(group, 'group', 0, this.#layout.groups - 1);
    const bitmap = this.#io.read(this.#bitmapOffset(group), BLOCK_SIZE);
    return {
      bitmapFree: countClear(wordsOf(bitmap), this.#groupBits(group)),
      summaryFree: this.#io.read(this.#summaryOffset(group), 4).readUInt32LE(0),
    };
  }
}

/** The inode allocator: one bitmap over the inode table, bit i = inode i, set = used. */
export class InodeAllocator {
  readonly #io: MetaIO;
  readonly #layout: Layout;

  constructor(io: MetaIO, layout: Layout) {
    this.#io = io;
    this.#layout = layout;
  }

  /** mkfs: inodes 0 and 1 (reserved) and 2 (the root) used, the rest free, bits past the table used. */
  static format(io: MetaIO, layout: Layout, advance?: (blocks: number) => void): void {
    const bytes = layout.inodeBitmapBlocks * BLOCK_SIZE;
    const chunk = Buffer.alloc(Math.min(bytes, FORMAT_CHUNK));
    for (let at = 0; at < bytes; at += chunk.length) {
      const buf = chunk.subarray(0, Math.min(chunk.length, bytes - at));
      buf.fill(0);
      const base = at * 8;
      const end = base + buf.length * 8;
      const used = (from: number, to: number): void => {
        const a = Math.max(from, base);
        const b = Math.min(to, end);
        if (a < b) setBits(buf, base, a, b, true);
      };
      used(0, FIRST_FREE_INODE);
      used(layout.inodeCount, end);
      io.write(layout.inodeBitmapStart * BLOCK_SIZE + at, buf);
      advance?.(buf.length / BLOCK_SIZE);
    }
    io.barrier();
  }

  #offset(): number {
    return this.#layout.inodeBitmapStart * BLOCK_SIZE;
  }

  /**
   * The lowest free inode at or after `goal`, else the lowest free one before it (the goal
   * is a hint); marks it used in `tx`. ENOSPC when no inode is free.
   */
  allocate(tx: Transaction, goal = FIRST_FREE_INODE): number {
    checkSize(goal, 'goal');
    const count = this.#layout.inodeCount;
    if (goal < FIRST_FREE_INODE || goal >= count) goal = FIRST_FREE_INODE;
    const at = searchClear(tx, this.#offset(), goal, count);
    const ino = at >= 0 ? at : searchClear(tx, this.#offset(), FIRST_FREE_INODE, goal);
    if (ino < 0) throw enospc('inodes');
    const byte = this.#offset() + (ino >>> 3);
    tx.write(byte, Buffer.from([tx.read(byte, 1)[0] | (1 << (ino & 7))]));
    return ino;
  }

  /** Marks `ino` free in `tx`; EUCLEAN when it is reserved, past the table, or already free. */
  free(tx: Transaction, ino: number): void {
    checkSize(ino, 'ino');
    if (ino < FIRST_FREE_INODE || ino >= this.#layout.inodeCount) {
      throw corrupt(`freeing inode ${ino}, which is ${ino < FIRST_FREE_INODE ? 'reserved' : `past the last inode ${this.#layout.inodeCount - 1}`}`);
    }
    const at = this.#offset() + (ino >>> 3);
    const byte = tx.read(at, 1)[0];
    const mask = 1 << (ino & 7);
    if ((byte & mask) === 0) throw corrupt(`inode ${ino} is freed but already free`);
    tx.write(at, Buffer.from([byte & ~mask]));
  }

  /** fsck repair: marks `ino` used in `tx` (a directory links it, but the bitmap says free). */
  markAllocated(tx: Transaction, ino: number): void {
    checkInteger(ino, 'ino', ROOT_INODE, this.#layout.inodeCount - 1);
    const at = this.#offset() + (ino >>> 3);
    tx.write(at, Buffer.from([tx.read(at, 1)[0] | (1 << (ino & 7))]));
  }

  isAllocated(ino: number, tx?: Transaction): boolean {
    checkInteger(ino, 'ino', 0, this.#layout.inodeCount - 1);
    const byte = readVia(this.#io, tx).read(this.#offset() + (ino >>> 3), 1)[0];
    return ((byte >>> (ino & 7)) & 1) === 1;
  }

  /**
   * Every allocated inode from the root up, in order (for fsck): a bitmap block per read,
   * a word per step, so a mostly empty table costs what its bitmap's size costs.
   */
  allocatedInodes(tx?: Transaction): number[] {
    const count = this.#layout.inodeCount;
    const r = readVia(this.#io, tx);
    const out: number[] = [];
    const bitsPerBlock = BLOCK_SIZE * 8;
    for (let base = 0; base < count; base += bitsPerBlock) {
      const limit = Math.min(bitsPerBlock, count - base);
      const words = wordsOf(r.read(this.#offset() + base / 8, ((limit + 31) >>> 5) * 4));
      for (let wi = 0; wi < words.length; wi++) {
        let w = words[wi];
        while (w !== 0) {
          const bit = (wi << 5) + ctz32(w);
          if (bit >= limit) break;
          if (base + bit >= ROOT_INODE) out.push(base + bit);
          w &= w - 1;   // clear the lowest set bit
        }
      }
    }
    return out;
  }

  /** Free inodes: counts the bitmap (the format keeps no inode summary). */
  freeInodes(tx?: Transaction): number {
    const count = this.#layout.inodeCount;
    const buf = readVia(this.#io, tx).read(this.#offset(), Math.ceil(count / 32) * 4);
    return countClear(wordsOf(buf), count);
  }
}
