// Inodes: 256 bytes each in the inode table, checksummed. Up to INLINE_EXTENTS extents live
// in the inode; more move to one extent block. Times sit outside the checksum so a write can
// update mtime in place with one 8-byte store instead of a journal transaction.
import * as zlib from 'node:zlib';
import { DaxError } from '../errors';
import { Extent } from './extents';
import { Transaction } from './journal';
import { BLOCK_SIZE, INODE_SIZE, Layout } from './layout';

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;

/** Inode flags. */
export const FLAG_EXTENT_BLOCK = 1;   // extents live in `extentBlock`, not inline

export const INLINE_EXTENTS = 10;
const EXTENT_BYTES = 16;
const EXTENT_BLOCK_HEADER = 16;       // magic u32, count u32, ino u32, crc u32
export const EXTENT_BLOCK_CAPACITY = (BLOCK_SIZE - EXTENT_BLOCK_HEADER) / EXTENT_BYTES;
const EXTENT_BLOCK_MAGIC = 0x54584544;   // "DEXT"
const UNWRITTEN = 0x80000000;
/** File blocks are u32 in an extent: the largest file is 2^32 blocks (MAX_FILE_SIZE in allocate.ts). */
const MAX_FILE_BLOCKS = 2 ** 32;
const MAX_FILE_BYTES = MAX_FILE_BLOCKS * BLOCK_SIZE;
/** The link count is a u32. */
export const MAX_LINKS = 0xffffffff;

// Field offsets inside an inode.
const O_MODE = 0, O_NLINK = 4, O_FLAGS = 8, O_GEN = 12, O_SIZE = 16, O_BLOCKS = 24;
const O_ATIME = 32, O_MTIME = 40, O_CTIME = 48, O_BTIME = 56;   // not checksummed
const O_COUNT = 64, O_EXTBLOCK = 72, O_EXTENTS = 80, O_CRC = 252;
export const TIMES_OFFSET = O_ATIME;

export interface Inode {
  ino: number;
  mode: number;
  nlink: number;
  flags: number;
  generation: number;
  size: number;
  blocks: number;          // data blocks mapped (written or not)
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  birthtimeMs: number;
  extentBlock: number;     // 0 when the extents are inline
  extents: Extent[];
}

/** Allocation, as the block allocator provides it. */
export interface BlockSource {
  allocate(tx: Transaction, goal: number, count: number): { start: number; count: number };
  free(tx: Transaction, start: number, count: number): void;
}

export function isDir(inode: Inode): boolean {
  return (inode.mode & S_IFMT) === S_IFDIR;
}

function inodeCrc(b: Buffer): number {
  return zlib.crc32(b.subarray(O_COUNT, O_CRC), zlib.crc32(b.subarray(0, O_ATIME)));
}

function writeExtent(b: Buffer, at: number, e: Extent): void {
  b.writeUInt32LE(e.fileBlock, at);
  b.writeUInt32LE((e.length | (e.unwritten ? UNWRITTEN : 0)) >>> 0, at + 4);
  b.writeDoubleLE(e.deviceBlock, at + 8);
}

function readExtent(b: Buffer, at: number): Extent {
  const len = b.readUInt32LE(at + 4);
  return { fileBlock: b.readUInt32LE(at), length: len & ~UNWRITTEN & 0x7fffffff, deviceBlock: b.readDoubleLE(at + 8), unwritten: (len & UNWRITTEN) !== 0 };
}

export class InodeTable {
  constructor(private readonly layout: Layout, private readonly blocks: BlockSource) {}

  offsetOf(ino: number): number {
    if (!Number.isInteger(ino) || ino < 1 || ino >= this.layout.inodeCount) {
      throw new DaxError('EUCLEAN', `inode number ${ino} is out of range (1..${this.layout.inodeCount - 1})`, { errno: -117 });
    }
    return this.layout.inodeTableStart * BLOCK_SIZE + ino * INODE_SIZE;
  }

  /** Reads and checks inode `ino`; EUCLEAN when its checksum or extent block is bad. */
  read(tx: Transaction, ino: number): Inode {
    const b = tx.read(this.offsetOf(ino), INODE_SIZE);
    if (inodeCrc(b) !== b.readUInt32LE(O_CRC)) {
      throw new DaxError('EUCLEAN', `inode ${ino} is corrupt (checksum mismatch)`, { errno: -117 });
    }
    const count = b.readUInt16LE(O_COUNT);
    const flags = b.readUInt32LE(O_FLAGS);
    const extentBlock = b.readDoubleLE(O_EXTBLOCK);
    let extents: Extent[];
    if (flags & FLAG_EXTENT_BLOCK) {
      if (!Number.isSafeInteger(extentBlock) || extentBlock < this.layout.dataStart || extentBlock >= this.layout.backupSuperblock) {
        throw new DaxError('EUCLEAN', `inode ${ino} is corrupt (extent block ${extentBlock} is outside the data area)`, { errno: -117 });
      }
      const eb = tx.read(extentBlock * BLOCK_SIZE, BLOCK_SIZE);
      const n = eb.readUInt32LE(4);
      if (eb.readUInt32LE(0) !== EXTENT_BLOCK_MAGIC || eb.readUInt32LE(8) !== ino || n !== count ||
          n > EXTENT_BLOCK_CAPACITY || zlib.crc32(eb.subarray(EXTENT_BLOCK_HEADER, EXTENT_BLOCK_HEADER + n * EXTENT_BYTES), zlib.crc32(eb.subarray(0, 12))) !== eb.readUInt32LE(12)) {
        throw new DaxError('EUCLEAN', `the extent block ${extentBlock} of inode ${ino} is corrupt`, { errno: -117 });
      }
      extents = Array.from({ length: n }, (_, i) => readExtent(eb, EXTENT_BLOCK_HEADER + i * EXTENT_BYTES));
    } else {
      if (count > INLINE_EXTENTS) throw new DaxError('EUCLEAN', `inode ${ino} claims ${count} inline extents`, { errno: -117 });
      extents = Array.from({ length: count }, (_, i) => readExtent(b, O_EXTENTS + i * EXTENT_BYTES));
    }
    const problem = this.#insane(b, extents);
    if (problem) throw new DaxError('EUCLEAN', `inode ${ino} is corrupt (${problem})`, { errno: -117 });
    return {
      ino, mode: b.readUInt32LE(O_MODE), nlink: b.readUInt32LE(O_NLINK), flags,
      generation: b.readUInt32LE(O_GEN), size: b.readDoubleLE(O_SIZE), blocks: b.readDoubleLE(O_BLOCKS),
      atimeMs: b.readDoubleLE(O_ATIME), mtimeMs: b.readDoubleLE(O_MTIME), ctimeMs: b.readDoubleLE(O_CTIME),
      birthtimeMs: b.readDoubleLE(O_BTIME), extentBlock: flags & FLAG_EXTENT_BLOCK ? extentBlock : 0, extents,
    };
  }

  /**
   * Why a checksummed inode still cannot be trusted, or null: every value a read, write or
   * fault turns into a device address or a buffer size is checked here, so no later code
   * reaches outside the data area or allocates by a corrupt size.
   */
  #insane(b: Buffer, extents: Extent[]): string | null {
    const type = b.readUInt32LE(O_MODE) & S_IFMT;
    if (type !== S_IFREG && type !== S_IFDIR) return `mode ${b.readUInt32LE(O_MODE).toString(8)} is neither a file nor a directory`;
    const size = b.readDoubleLE(O_SIZE);
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_FILE_BYTES) return `size ${size}`;
    const blocks = b.readDoubleLE(O_BLOCKS);
    if (!Number.isSafeInteger(blocks) || blocks < 0 || blocks > this.layout.blocks) return `block count ${blocks}`;
    // A directory file has no holes and grows a block at a time: its size is its blocks.
    if (type === S_IFDIR && size !== blocks * BLOCK_SIZE) return `directory of ${size} bytes with ${blocks} blocks`;
    const { dataStart, backupSuperblock } = this.layout;
    const inData = (start: number, count: number) => Number.isSafeInteger(start) && start >= dataStart && start + count <= backupSuperblock;
    let end = 0;
    for (const e of extents) {
      if (e.length === 0 || e.fileBlock < end || e.fileBlock + e.length > MAX_FILE_BLOCKS) {
        return `extent at file block ${e.fileBlock} (${e.length} blocks) is empty, out of order or past the largest file`;
      }
      if (!inData(e.deviceBlock, e.length)) return `extent at file block ${e.fileBlock} maps device blocks ${e.deviceBlock}..${e.deviceBlock + e.length}, outside the data area`;
      end = e.fileBlock + e.length;
    }
    return null;
  }

  /**
   * Writes inode (and its extent block) in tx. Extents move to an extent block when they no
   * longer fit inline (allocated near the inode's data) and back inline when they fit again.
   */
  write(tx: Transaction, inode: Inode): void {
    const n = inode.extents.length;
    if (n > EXTENT_BLOCK_CAPACITY) {
      throw new DaxError('EFBIG', `inode ${inode.ino} would need ${n} extents; at most ${EXTENT_BLOCK_CAPACITY} fit (the file is too fragmented)`, { errno: -27 });
    }
    // A count read from a damaged device can be off: never wrap it, say what happened.
    if (inode.nlink > MAX_LINKS) throw new DaxError('EMLINK', `inode ${inode.ino} has the most links an inode can count (${MAX_LINKS})`, { errno: -31 });
    if (inode.nlink < 0) throw new DaxError('EUCLEAN', `inode ${inode.ino} would have ${inode.nlink} links: its link count on the device is wrong (run fsck)`, { errno: -117 });
    const b = Buffer.alloc(INODE_SIZE);
    if (n > INLINE_EXTENTS) {
      if (!inode.extentBlock) {
        const goal = inode.extents[0]?.deviceBlock ?? 0;
        inode.extentBlock = this.blocks.allocate(tx, goal, 1).start;
      }
      inode.flags |= FLAG_EXTENT_BLOCK;
      const eb = Buffer.alloc(BLOCK_SIZE);
      eb.writeUInt32LE(EXTENT_BLOCK_MAGIC, 0);
      eb.writeUInt32LE(n, 4);
      eb.writeUInt32LE(inode.ino, 8);
      inode.extents.forEach((e, i) => writeExtent(eb, EXTENT_BLOCK_HEADER + i * EXTENT_BYTES, e));
      eb.writeUInt32LE(zlib.crc32(eb.subarray(EXTENT_BLOCK_HEADER, EXTENT_BLOCK_HEADER + n * EXTENT_BYTES), zlib.crc32(eb.subarray(0, 12))), 12);
      tx.write(inode.extentBlock * BLOCK_SIZE, eb.subarray(0, EXTENT_BLOCK_HEADER + n * EXTENT_BYTES));
      b.writeDoubleLE(inode.extentBlock, O_EXTBLOCK);
    } else {
      if (inode.extentBlock) {
        this.blocks.free(tx, inode.extentBlock, 1);
        inode.extentBlock = 0;
      }
      inode.flags &= ~FLAG_EXTENT_BLOCK;
      inode.extents.forEach((e, i) => writeExtent(b, O_EXTENTS + i * EXTENT_BYTES, e));
    }
    b.writeUInt32LE(inode.mode, O_MODE);
    b.writeUInt32LE(inode.nlink, O_NLINK);
    b.writeUInt32LE(inode.flags, O_FLAGS);
    b.writeUInt32LE(inode.generation, O_GEN);
    b.writeDoubleLE(inode.size, O_SIZE);
    b.writeDoubleLE(inode.blocks, O_BLOCKS);
    b.writeDoubleLE(inode.atimeMs, O_ATIME);
    b.writeDoubleLE(inode.mtimeMs, O_MTIME);
    b.writeDoubleLE(inode.ctimeMs, O_CTIME);
    b.writeDoubleLE(inode.birthtimeMs, O_BTIME);
    b.writeUInt16LE(n, O_COUNT);
    b.writeUInt32LE(inodeCrc(b), O_CRC);
    tx.write(this.offsetOf(inode.ino), b);
  }

  /** Byte offset of the mtime/ctime pair, for the in-place time update after a data write. */
  timesOffset(ino: number): number {
    return this.offsetOf(ino) + O_MTIME;
  }

  /** Releases the extent block (the caller frees data blocks and the inode number). */
  clear(tx: Transaction, inode: Inode): void {
    if (inode.extentBlock) this.blocks.free(tx, inode.extentBlock, 1);
    tx.write(this.offsetOf(inode.ino), Buffer.alloc(INODE_SIZE));
  }
}

export function newInode(ino: number, mode: number, now: number, generation: number): Inode {
  return {
    ino, mode, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, flags: 0, generation, size: 0, blocks: 0,
    atimeMs: now, mtimeMs: now, ctimeMs: now, birthtimeMs: now, extentBlock: 0, extents: [],
  };
}
