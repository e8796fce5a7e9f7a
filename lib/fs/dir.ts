// Directories: a hash tree of checksummed 4096-byte blocks inside the directory's own file
// (docs/FORMAT.md, "Directories"). Block 0 is the root: while the directory is small it
// holds the entries itself; once they no longer fit it becomes an index of
// (hash, child) pairs over leaf blocks, and index levels are added at the root as the
// directory grows, so a lookup reads one block per level (at most 3 blocks up to tens of
// millions of entries) and never scans the directory.
//
// Every access goes through the caller's Transaction (tx.read / tx.write), so an operation
// is atomic with whatever else the caller does in that transaction. Each block carries a
// CRC-32 that is verified whenever the block is read: corruption gives EUCLEAN, never a
// wrong answer. Only the bytes an operation changes (plus the checksum) are written, so an
// insert or remove records a few hundred bytes; a split rewrites a handful of whole blocks.
//
// If any function throws, the caller must discard the transaction (not commit it): an
// ENOSPC in the middle of a split may leave some of the split's writes in it.
import { Buffer } from 'node:buffer';
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { DaxError } from '../errors';
import { Transaction } from './journal';
import { BLOCK_SIZE } from './layout';

export interface DirStorage {
  /** Number of file blocks the directory has. */
  blocks(tx: Transaction): number;
  /** Device byte offset of directory file block i (i < blocks()). */
  blockOffset(tx: Transaction, i: number): number;
  /** Appends a new file block (zero-filled on the device, or to be fully written by the
   *  caller in the same tx) and returns its index. ENOSPC may be thrown. */
  appendBlock(tx: Transaction): number;
}

export interface DirEntry {
  name: string;
  ino: number;
  type: 'file' | 'dir';
}

// ---- format constants (docs/FORMAT.md) ----------------------------------------------------

const MAGIC_ROOT = 0x52445844;    // bytes "DXDR"
const MAGIC_INDEX = 0x49445844;   // bytes "DXDI"
const MAGIC_LEAF = 0x4c445844;    // bytes "DXDL"
export const DIR_VERSION = 1;
export const HASH_FNV1A_FMIX = 1;

const END = BLOCK_SIZE;
// Common header, every block.
const H_MAGIC = 0;                // u32
const H_CRC = 4;                  // u32: CRC-32 of the whole block with these 4 bytes taken as zero
const H_COUNT = 8;                // u16: records (level 0) or index entries (level >= 1)
const H_LEVEL = 10;               // u8: 0 = holds records; n = index whose children have level n-1
const H_FLAGS = 11;               // u8: 0
const H_SELF = 12;                // u32: this block's index in the directory file
const H_SALT = 16;                // u32: the directory's salt (root's value, in every block)
// Root block (file block 0).
const R_USED = 20;                // u16: end of the records (level 0), 0 otherwise
const R_VERSION = 22;             // u16: DIR_VERSION
const R_ENTRIES = 24;             // u32: entries in the whole directory
const R_BLOCKS = 28;              // u32: blocks of the directory file (= DirStorage.blocks())
const R_HASH = 32;                // u8: hash function (HASH_FNV1A_FMIX); 33..39 zero
const ROOT_BODY = 40;             // records or index entries start here
// Leaf block.
const L_USED = 20;                // u16: end of the records; 22..23 zero
const LEAF_BODY = 24;
// Index block: 20..23 zero.
const INDEX_BODY = 24;
// Index entry: key u32, child u32 (bit 31: continuation, bits 0..30: child block index).
const IENTRY = 8;
const CONT = 0x80000000;
const CHILD_MASK = 0x7fffffff;
// Record: hash u32, ino u32, recLen u16, nameLen u8, type u8, name, zero padding to recLen.
const REC_HEADER = 12;
const TYPE_FILE = 1;
const TYPE_DIR = 2;
export const MAX_NAME = 255;
const MAX_LEVEL = 8;              // more index levels than 2^31 blocks could ever need

const ROOT_INDEX_CAP = (END - ROOT_BODY) / IENTRY;    // 507
const INDEX_CAP = (END - INDEX_BODY) / IENTRY;       // 509

/** Test hooks: a replacement hash (to force collisions) and a smaller index fan-out (to
 *  build deep trees from few entries). Never set outside tests. */
export const _testing: {
  hash: ((name: Buffer, salt: number) => number) | null;
  maxIndexEntries: number;
  /** Check every incrementally updated checksum against a full one. */
  paranoid: boolean;
} = { hash: null, maxIndexEntries: 0, paranoid: false };

// ---- hash ---------------------------------------------------------------------------------

// Hot paths use module bindings, not globals: a global lookup inside a vm context (jest's
// sandbox) goes through interceptors and costs microseconds.
const imul = Math.imul;

/**
 * The directory hash (HASH_FNV1A_FMIX): FNV-1a over the UTF-8 bytes of the name, starting
 * from the FNV offset basis xor the directory's salt, then the length is mixed in and the
 * result goes through a 32-bit avalanche finaliser (xor-shift 16, multiply 0x85ebca6b,
 * xor-shift 13, multiply 0xc2b2ae35, xor-shift 16). Not cryptographic: the per-directory
 * salt keeps a precomputed set of colliding names from working on every directory, and a
 * collision costs extra leaf visits, never a wrong answer.
 */
export function hashName(name: Uint8Array, salt: number): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name[i];
    h = imul(h, 0x01000193);
  }
  h ^= name.length;
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashOf(name: Buffer, salt: number): number {
  return _testing.hash ? _testing.hash(name, salt) >>> 0 : hashName(name, salt);
}

// ---- errors and argument checks -----------------------------------------------------------

function euclean(message: string): DaxError {
  return new DaxError('EUCLEAN', message, { errno: -117 });
}

function einval(message: string): DaxError {
  return new DaxError('EINVAL', message, { errno: -22 });
}

/** Why `name` (bytes) cannot be a stored directory entry name, or null. */
function nameProblem(b: Buffer): string | null {
  if (b.length === 0) return 'is empty';
  if (b.length > MAX_NAME) return `is ${b.length} bytes long (at most ${MAX_NAME})`;
  if (b.includes(0)) return 'contains a NUL byte';
  if (b.includes(0x2f)) return "contains '/'";
  if ((b.length === 1 && b[0] === 0x2e) || (b.length === 2 && b[0] === 0x2e && b[1] === 0x2e)) return "is '.' or '..'";
  return null;
}

function encodeName(name: string): Buffer {
  if (typeof name !== 'string') throw einval('a directory entry name must be a string');
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0 || c === 0x2f) throw einval(`the name ${JSON.stringify(name)} ${c === 0 ? 'contains a NUL byte' : "contains '/'"}`);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < name.length ? name.charCodeAt(i + 1) : 0;
      if (c >= 0xdc00 || next < 0xdc00 || next > 0xdfff) throw einval(`the name ${JSON.stringify(name)} is not well-formed Unicode (lone surrogate)`);
      i++;
    }
  }
  const b = Buffer.from(name, 'utf8');
  if (b.length > MAX_NAME) {
    throw new DaxError('ENAMETOOLONG', `the name is ${b.length} bytes in UTF-8; at most ${MAX_NAME} fit`, { errno: -36 });
  }
  if (b.length === 0 || name === '.' || name === '..') throw einval(`the name ${JSON.stringify(name)} ${b.length === 0 ? 'is empty' : "is '.' or '..'"}`);
  return b;
}

function checkEntry(entry: DirEntry): { name: Buffer; ino: number; type: number } {
  if (entry === null || typeof entry !== 'object') throw einval('a directory entry must be an object');
  const name = encodeName(entry.name);
  if (typeof entry.ino !== 'number' || entry.ino % 1 !== 0 || !(entry.ino >= 1 && entry.ino <= 0xffffffff)) {
    throw einval(`inode number ${entry.ino} is not an integer from 1 to 2^32-1`);
  }
  if (entry.type !== 'file' && entry.type !== 'dir') throw einval(`entry type ${String(entry.type)} is not 'file' or 'dir'`);
  return { name, ino: entry.ino, type: entry.type === 'dir' ? TYPE_DIR : TYPE_FILE };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

// ---- blocks -------------------------------------------------------------------------------

class Block {
  /** Changed byte ranges [lo, hi) not yet written to the transaction. */
  dirty: Array<[number, number]> = [];
  /** Written whole (a new block, or one rebuilt by a split). */
  whole = false;
  /** The verified image this block was loaded from (its checksum is updated from it). */
  orig: Buffer | null = null;
  /** The checksum the block had when it was read. */
  readonly loadedCrc: number;
  constructor(readonly index: number, readonly at: number, readonly buf: Buffer) {
    this.loadedCrc = buf.readUInt32LE(H_CRC);
  }

  get count(): number { return this.buf.readUInt16LE(H_COUNT); }
  set count(v: number) { this.buf.writeUInt16LE(v, H_COUNT); this.touch(H_COUNT, H_COUNT + 2); }
  get level(): number { return this.buf[H_LEVEL]; }
  get isRoot(): boolean { return this.index === 0; }
  /** Start of the records (level 0) or index entries. */
  get body(): number { return this.isRoot ? ROOT_BODY : this.level === 0 ? LEAF_BODY : INDEX_BODY; }
  get used(): number { return this.buf.readUInt16LE(this.isRoot ? R_USED : L_USED); }
  set used(v: number) {
    const at = this.isRoot ? R_USED : L_USED;
    this.buf.writeUInt16LE(v, at);
    this.touch(at, at + 2);
  }
  touch(lo: number, hi: number): void {
    if (!this.whole) this.dirty.push([lo, hi]);
  }

  // index entries
  key(i: number): number { return this.buf.readUInt32LE(this.body + i * IENTRY); }
  child(i: number): number { return this.buf.readUInt32LE(this.body + i * IENTRY + 4) & CHILD_MASK; }
  cont(i: number): boolean { return (this.buf.readUInt32LE(this.body + i * IENTRY + 4) & CONT) !== 0; }
  /** The last entry whose key is <= h (entry 0 if none). */
  lastLE(h: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.key(mid) <= h) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

interface IndexEntry { key: number; child: number; cont: boolean }

function indexCapacity(b: Block): number {
  const cap = b.isRoot ? ROOT_INDEX_CAP : INDEX_CAP;
  return _testing.maxIndexEntries > 1 ? Math.min(cap, _testing.maxIndexEntries) : cap;
}

/** CRC-32 (zlib's) of a whole block, its checksum field counted as zero. */
function blockCrc(buf: Buffer): number {
  const stored = buf.readUInt32LE(H_CRC);
  buf.writeUInt32LE(0, H_CRC);
  const crc = zlib.crc32(buf);
  buf.writeUInt32LE(stored, H_CRC);
  return crc;
}

// Checksum updates from the changed bytes alone. Without its initial and final inversion,
// CRC-32 is linear over GF(2): crc(new) = crc(old) ^ R(old ^ new), where R runs the bare
// register (starting at 0) over the changed span and then over the zero bytes that follow
// it to the end of the block (leading zeros leave a zero register unchanged). Running over
// n zero bytes is a linear map of the register; ZERO_OPS[k] holds the map for 2^k bytes as
// four 256-entry tables (one per register byte).
const CRC_TABLE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[i] = c >>> 0;
}
const ZERO_OPS: Uint32Array[] = (() => {
  const apply = (cols: Uint32Array, v: number): number => {
    let r = 0;
    for (let i = 0; v !== 0; i++, v >>>= 1) if (v & 1) r ^= cols[i];
    return r >>> 0;
  };
  let cols = new Uint32Array(32);   // one zero byte
  for (let i = 0; i < 32; i++) {
    const v = (1 << i) >>> 0;
    cols[i] = ((v >>> 8) ^ CRC_TABLE[v & 0xff]) >>> 0;
  }
  const ops: Uint32Array[] = [];
  for (let k = 0; (1 << k) <= BLOCK_SIZE; k++) {
    const t = new Uint32Array(1024);
    for (let j = 0; j < 4; j++) for (let b = 0; b < 256; b++) t[j * 256 + b] = apply(cols, (b << (8 * j)) >>> 0);
    ops.push(t);
    const sq = new Uint32Array(32);
    for (let i = 0; i < 32; i++) sq[i] = apply(cols, apply(cols, (1 << i) >>> 0));
    cols = sq;
  }
  return ops;
})();

function zeroShift(r: number, n: number): number {
  for (let k = 0; n !== 0; k++, n >>>= 1) {
    if (n & 1) {
      const t = ZERO_OPS[k];
      r = t[r & 0xff] ^ t[256 + ((r >>> 8) & 0xff)] ^ t[512 + ((r >>> 16) & 0xff)] ^ t[768 + (r >>> 24)];
    }
  }
  return r >>> 0;
}

/** crc(new) ^ crc(old) for blocks equal outside [lo, hi) (the checksum field counts as zero). */
function crcDelta(old: Buffer, now: Buffer, lo: number, hi: number): number {
  let c = 0;
  for (let i = lo; i < hi; i++) {
    const x = i >= H_CRC && i < H_CRC + 4 ? 0 : old[i] ^ now[i];
    c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  }
  return zeroShift(c >>> 0, END - hi);
}

/**
 * Recently verified block images by device byte offset. A block read again whose bytes are
 * identical to the image verified before (a memcmp, far cheaper than a CRC of 4 KiB) needs
 * no second checksum and framing pass: the verdict depends only on the bytes, so this cache
 * can never be stale. Blocks this module writes are entered after their checksum is set.
 */
const verified = new Map<number, Buffer>();
const VERIFIED_MAX = 2048;   // 8 MiB at most

function knownGood(at: number, buf: Buffer): boolean {
  const v = verified.get(at);
  return v !== undefined && v.equals(buf);
}

function remember(at: number, buf: Buffer): void {
  const old = verified.get(at);
  if (old) {
    verified.delete(at);
    buf.copy(old);
    verified.set(at, old);
    return;
  }
  verified.set(at, Buffer.from(buf));
  if (verified.size > VERIFIED_MAX) verified.delete(verified.keys().next().value as number);
}

/**
 * Why the block's contents are not a valid directory block of the expected shape, or null.
 * Checks the checksum, magic, self index, salt, level and the record / index framing.
 */
function blockProblem(b: Block, salt: number | null, level: number | null, useCache = false): string | null {
  const buf = b.buf;
  const where = `directory block ${b.index}`;
  const trusted = useCache && knownGood(b.at, buf);
  if (!trusted && blockCrc(buf) !== buf.readUInt32LE(H_CRC)) return `${where}: bad checksum`;
  const magic = buf.readUInt32LE(H_MAGIC);
  const lvl = buf[H_LEVEL];
  const want = b.isRoot ? MAGIC_ROOT : level === 0 ? MAGIC_LEAF : MAGIC_INDEX;
  if (magic !== want) return `${where}: bad magic 0x${magic.toString(16)} (expected 0x${want.toString(16)})`;
  if (buf.readUInt32LE(H_SELF) !== b.index) return `${where}: records itself as block ${buf.readUInt32LE(H_SELF)} (misplaced block)`;
  if (salt !== null && buf.readUInt32LE(H_SALT) !== salt) return `${where}: belongs to another directory (salt mismatch)`;
  if (buf[H_FLAGS] !== 0) return `${where}: unknown flags ${buf[H_FLAGS]}`;
  if (b.isRoot) {
    if (buf.readUInt16LE(R_VERSION) !== DIR_VERSION) return `${where}: unsupported directory version ${buf.readUInt16LE(R_VERSION)}`;
    if (buf[R_HASH] !== HASH_FNV1A_FMIX) return `${where}: unknown hash function ${buf[R_HASH]}`;
    if (lvl > MAX_LEVEL) return `${where}: ${lvl} index levels (at most ${MAX_LEVEL})`;
    if (buf.readUInt32LE(R_BLOCKS) < 1) return `${where}: counts no blocks`;
  } else if (level !== null && lvl !== level) {
    return `${where}: level ${lvl} where level ${level} was expected`;
  }
  if (trusted) return null;
  const count = b.count;
  if (lvl > 0) {
    const cap = b.isRoot ? ROOT_INDEX_CAP : INDEX_CAP;
    if (count < (b.isRoot ? 2 : 1) || count > cap) return `${where}: bad index entry count ${count}`;
    if (b.isRoot && buf.readUInt16LE(R_USED) !== 0) return `${where}: an index root with a record length`;
    if (useCache) remember(b.at, buf);
    return null;
  }
  const used = b.used;
  if (used < b.body || used > END) return `${where}: bad used length ${used}`;
  let n = 0;
  for (let off = b.body; off < used; n++) {
    if (off + REC_HEADER > used) return `${where}: record at byte ${off} runs past the used length ${used}`;
    const recLen = buf.readUInt16LE(off + 8);
    const nameLen = buf[off + 10];
    const type = buf[off + 11];
    if (nameLen === 0 || recLen !== align4(REC_HEADER + nameLen) || off + recLen > used) {
      return `${where}: record at byte ${off} has bad lengths (record ${recLen}, name ${nameLen})`;
    }
    if (type !== TYPE_FILE && type !== TYPE_DIR) return `${where}: record at byte ${off} has unknown type ${type}`;
    if (buf.readUInt32LE(off + 4) === 0) return `${where}: record at byte ${off} has inode number 0`;
    off += recLen;
  }
  if (n !== count) return `${where}: header counts ${count} records, the block holds ${n}`;
  if (useCache) remember(b.at, buf);
  return null;
}

/** One operation's view of a directory: blocks read through the transaction, verified,
 *  changed in memory and written back to the transaction by flush(). */
class Ctx {
  #salt = 0;
  readonly cache = new Map<number, Block>();

  constructor(readonly tx: Transaction, readonly store: DirStorage) {}

  /** Blocks of the directory file, as the root records them. */
  get nblocks(): number {
    return this.root().buf.readUInt32LE(R_BLOCKS);
  }

  get salt(): number {
    return this.#salt;
  }

  #read(i: number): Block {
    const at = this.store.blockOffset(this.tx, i);
    return new Block(i, at, this.tx.read(at, BLOCK_SIZE));
  }

  root(): Block {
    const hit = this.cache.get(0);
    if (hit) return hit;
    const b = this.#read(0);
    const problem = blockProblem(b, null, null, true);
    if (problem) throw euclean(problem);
    b.orig = verified.get(b.at) ?? null;
    this.#salt = b.buf.readUInt32LE(H_SALT);
    this.cache.set(0, b);
    return b;
  }

  /** A non-root block the tree points at, expected at `level`. */
  load(i: number, level: number): Block {
    const hit = this.cache.get(i);
    if (hit) return hit;
    const n = this.nblocks;
    if (i < 1 || i >= n) throw euclean(`a directory index entry points at block ${i}; the directory has blocks 1..${n - 1}`);
    const b = this.#read(i);
    const problem = blockProblem(b, this.#salt, level, true);
    if (problem) throw euclean(problem);
    b.orig = verified.get(b.at) ?? null;
    this.cache.set(i, b);
    return b;
  }

  /** Appends a block to the directory; the caller fills it (it is written whole). */
  append(): Block {
    const root = this.root();
    const before = root.buf.readUInt32LE(R_BLOCKS);
    const i = this.store.appendBlock(this.tx);
    if (i !== before) throw euclean(`the directory storage appended block ${i}; the directory root counts ${before} blocks`);
    root.buf.writeUInt32LE(before + 1, R_BLOCKS);
    root.touch(R_BLOCKS, R_BLOCKS + 4);
    const b = new Block(i, this.store.blockOffset(this.tx, i), Buffer.alloc(BLOCK_SIZE));
    b.whole = true;
    this.cache.set(i, b);
    return b;
  }

  hash(name: Buffer): number {
    return hashOf(name, this.#salt);
  }

  /** Writes every changed block (ranges plus checksum, or the whole block) to the transaction. */
  flush(): void {
    for (const b of this.cache.values()) {
      if (!b.whole && b.dirty.length === 0) continue;
      const spans = b.whole ? null : mergeSpans(b.dirty);
      const orig = b.orig;
      let crc: number;
      if (spans && orig && orig.readUInt32LE(H_CRC) === b.loadedCrc) {
        crc = b.loadedCrc;
        for (let k = 0; k < spans.length; k += 2) crc = (crc ^ crcDelta(orig, b.buf, spans[k], spans[k + 1])) >>> 0;
        if (_testing.paranoid && crc !== blockCrc(b.buf)) throw new Error(`incremental checksum of directory block ${b.index} is wrong (internal error)`);
      } else {
        crc = blockCrc(b.buf);
      }
      b.buf.writeUInt32LE(crc, H_CRC);
      remember(b.at, b.buf);
      if (spans) {
        for (let k = 0; k < spans.length; k += 2) this.tx.write(b.at + spans[k], b.buf.subarray(spans[k], spans[k + 1]));
      } else {
        this.tx.write(b.at, b.buf);
      }
      b.dirty = [];
      b.whole = false;
      b.orig = null;
    }
  }
}

/**
 * The byte spans to write for `dirty` ([lo, hi) pairs) plus the checksum field, sorted and
 * merged where the gap is at most 16 bytes (what a separate journal record costs), as a
 * flat [lo, hi, lo, hi, ...] list; null when writing the whole block is cheaper.
 */
function mergeSpans(dirty: Array<[number, number]>): number[] | null {
  const r: number[] = [H_CRC, H_CRC + 4];
  for (const d of dirty) {
    let i = r.length;
    r.push(d[0], d[1]);
    while (i > 0 && r[i - 2] > r[i]) {   // insertion sort by start
      const lo = r[i - 2]; const hi = r[i - 1];
      r[i - 2] = r[i]; r[i - 1] = r[i + 1];
      r[i] = lo; r[i + 1] = hi;
      i -= 2;
    }
  }
  const out: number[] = [r[0], r[1]];
  let cost = 0;
  for (let i = 2; i < r.length; i += 2) {
    const last = out.length - 1;
    if (r[i] <= out[last] + 16) {
      if (r[i + 1] > out[last]) out[last] = r[i + 1];
    } else {
      out.push(r[i], r[i + 1]);
    }
  }
  for (let i = 0; i < out.length; i += 2) cost += out[i + 1] - out[i] + 16;
  return cost < BLOCK_SIZE / 2 ? out : null;
}

function header(b: Block, magic: number, level: number, salt: number): void {
  b.buf.writeUInt32LE(magic, H_MAGIC);
  b.buf.writeUInt16LE(0, H_COUNT);
  b.buf[H_LEVEL] = level;
  b.buf[H_FLAGS] = 0;
  b.buf.writeUInt32LE(b.index, H_SELF);
  b.buf.writeUInt32LE(salt, H_SALT);
}

// ---- records ------------------------------------------------------------------------------

function encodeRecord(hash: number, e: { name: Buffer; ino: number; type: number }): Buffer {
  const r = Buffer.alloc(align4(REC_HEADER + e.name.length));
  r.writeUInt32LE(hash, 0);
  r.writeUInt32LE(e.ino, 4);
  r.writeUInt16LE(r.length, 8);
  r[10] = e.name.length;
  r[11] = e.type;
  e.name.copy(r, REC_HEADER);
  return r;
}

function recordHash(b: Block, off: number): number { return b.buf.readUInt32LE(off); }
function recordLen(b: Block, off: number): number { return b.buf.readUInt16LE(off + 8); }

function decodeRecord(b: Block, off: number): DirEntry {
  const nameLen = b.buf[off + 10];
  // Framing is checked with the block; the name's bytes only here (fsck checks them all):
  // a name no path can spell must not reach readdir.
  const problem = nameProblem(b.buf.subarray(off + REC_HEADER, off + REC_HEADER + nameLen));
  if (problem) throw euclean(`directory block ${b.index}: the entry at byte ${off} has a name that ${problem}`);
  return {
    name: b.buf.toString('utf8', off + REC_HEADER, off + REC_HEADER + nameLen),
    ino: b.buf.readUInt32LE(off + 4),
    type: b.buf[off + 11] === TYPE_DIR ? 'dir' : 'file',
  };
}

/** Byte offset of the record named `name` (hash `h`) in a level-0 block, or -1. */
function findInLeaf(b: Block, h: number, name: Buffer): number {
  const buf = b.buf;
  const used = b.used;
  const len = name.length;
  for (let off = b.body; off < used; off += buf.readUInt16LE(off + 8)) {
    if (buf.readUInt32LE(off) === h && buf[off + 10] === len &&
        name.compare(buf, off + REC_HEADER, off + REC_HEADER + len) === 0) return off;
  }
  return -1;
}

function appendRecord(b: Block, rec: Buffer): void {
  const used = b.used;
  rec.copy(b.buf, used);
  b.touch(used, used + rec.length);
  b.used = used + rec.length;
  b.count = b.count + 1;
}

/** Removes the record at `off`: later records move down, the freed tail is zeroed. */
function removeRecord(b: Block, off: number): void {
  const used = b.used;
  const len = recordLen(b, off);
  b.buf.copy(b.buf, off, off + len, used);
  b.buf.fill(0, used - len, used);
  b.touch(off, used);
  b.used = used - len;
  b.count = b.count - 1;
}

function recordsOf(b: Block): Buffer[] {
  const out: Buffer[] = [];
  for (let off = b.body; off < b.used; off += recordLen(b, off)) out.push(Buffer.from(b.buf.subarray(off, off + recordLen(b, off))));
  return out;
}

/** Rebuilds `b` as a leaf (or a level-0 root) holding exactly `recs`. */
function writeRecords(b: Block, recs: Buffer[]): void {
  let off = b.body;
  b.buf.fill(0, off, END);
  for (const r of recs) {
    r.copy(b.buf, off);
    off += r.length;
  }
  b.buf.writeUInt16LE(off, b.isRoot ? R_USED : L_USED);
  b.buf.writeUInt16LE(recs.length, H_COUNT);
  b.whole = true;
}

/**
 * Makes `b` an index node holding exactly `entries`, writing only the entries that change
 * (bytes past the last entry are unused and keep whatever they held). `clear` zeroes the
 * whole body first (a level-0 root turning into an index: its old records go).
 */
function writeIndex(b: Block, entries: IndexEntry[], clear = false): void {
  if (clear) {
    b.buf.fill(0, b.body, END);
    b.whole = true;
  }
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < entries.length; i++) {
    const at = b.body + i * IENTRY;
    const key = entries[i].key >>> 0;
    const child = (entries[i].child | (entries[i].cont ? CONT : 0)) >>> 0;
    if (b.buf.readUInt32LE(at) === key && b.buf.readUInt32LE(at + 4) === child) continue;
    b.buf.writeUInt32LE(key, at);
    b.buf.writeUInt32LE(child, at + 4);
    if (lo < 0) lo = at;
    hi = at + IENTRY;
  }
  if (lo >= 0) b.touch(lo, hi);
  b.count = entries.length;
}

function indexEntries(b: Block): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (let i = 0; i < b.count; i++) out.push({ key: b.key(i), child: b.child(i), cont: b.cont(i) });
  return out;
}

// ---- tree walks ---------------------------------------------------------------------------

/**
 * Finds `name` (hash h) below `node`. The primary child is the last entry with key <= h;
 * an entry whose key equals h and carries the continuation flag says its left neighbour may
 * hold h too (a split inside a run of equal hashes), so the search continues leftwards.
 */
function search(ctx: Ctx, node: Block, h: number, name: Buffer): { leaf: Block; off: number } | null {
  if (node.level === 0) {
    const off = findInLeaf(node, h, name);
    return off < 0 ? null : { leaf: node, off };
  }
  let i = node.lastLE(h);
  for (;;) {
    const found = search(ctx, ctx.load(node.child(i), node.level - 1), h, name);
    if (found) return found;
    if (i > 0 && node.key(i) === h && node.cont(i)) i--;
    else return null;
  }
}

function find(ctx: Ctx, name: Buffer): { leaf: Block; off: number } | null {
  const root = ctx.root();
  return search(ctx, root, ctx.hash(name), name);
}

/** Chooses where a sorted run of records splits: both halves must fit `room` bytes; a split
 *  between different hashes ("clean") is preferred, then the most even one. */
function chooseSplit(recs: Buffer[], room: number): { at: number; clean: boolean } {
  const total = recs.reduce((s, r) => s + r.length, 0);
  let best = -1;
  let bestClean = false;
  let bestScore = Infinity;
  let left = 0;
  for (let s = 1; s < recs.length; s++) {
    left += recs[s - 1].length;
    if (left > room || total - left > room) continue;
    const clean = recs[s - 1].readUInt32LE(0) !== recs[s].readUInt32LE(0);
    const score = Math.abs(2 * left - total);
    if ((clean && !bestClean) || (clean === bestClean && score < bestScore)) {
      best = s;
      bestClean = clean;
      bestScore = score;
    }
  }
  if (best < 0) throw new Error('directory split found no way to divide a block (internal error)');
  return { at: best, clean: bestClean };
}

function byHash(a: Buffer, b: Buffer): number {
  return a.readUInt32LE(0) - b.readUInt32LE(0);
}

/** Adds a record for a name known to be absent; splits blocks as needed. */
function add(ctx: Ctx, h: number, rec: Buffer): void {
  const root = ctx.root();
  const path: Array<{ node: Block; i: number }> = [];
  let leaf = root;
  while (leaf.level > 0) {
    const i = leaf.lastLE(h);
    path.push({ node: leaf, i });
    leaf = ctx.load(leaf.child(i), leaf.level - 1);
  }
  if (END - leaf.used >= rec.length) {
    appendRecord(leaf, rec);
    return;
  }
  // A split. Take every block it needs first, so that ENOSPC comes before any change.
  let need = leaf.isRoot ? 2 : 1;
  for (let d = path.length - 1; d >= 0 && !leaf.isRoot; d--) {
    const n = path[d].node;
    if (n.count < indexCapacity(n)) break;
    need += n.isRoot ? 2 : 1;
  }
  const fresh: Block[] = [];
  for (let k = 0; k < need; k++) fresh.push(ctx.append());
  const take = (): Block => fresh.shift() as Block;

  const recs = recordsOf(leaf);
  recs.push(rec);
  recs.sort(byHash);   // stable: equal hashes keep their order
  const salt = ctx.salt;
  if (leaf.isRoot) {
    const { at, clean } = chooseSplit(recs, END - LEAF_BODY);
    const a = take();
    const b = take();
    header(a, MAGIC_LEAF, 0, salt);
    header(b, MAGIC_LEAF, 0, salt);
    writeRecords(a, recs.slice(0, at));
    writeRecords(b, recs.slice(at));
    root.buf[H_LEVEL] = 1;
    root.used = 0;
    writeIndex(root, [{ key: 0, child: a.index, cont: false }, { key: recs[at].readUInt32LE(0), child: b.index, cont: !clean }], true);
    return;
  }
  const { at, clean } = chooseSplit(recs, END - LEAF_BODY);
  const right = take();
  header(right, MAGIC_LEAF, 0, salt);
  writeRecords(leaf, recs.slice(0, at));
  writeRecords(right, recs.slice(at));
  let entry: IndexEntry = { key: recs[at].readUInt32LE(0), child: right.index, cont: !clean };
  // Insert `entry` after the path's entry at each level, splitting full index nodes.
  for (let d = path.length - 1; d >= 0; d--) {
    const { node, i } = path[d];
    const pos = i + 1;
    if (node.count < indexCapacity(node)) {
      const from = node.body + pos * IENTRY;
      const end = node.body + node.count * IENTRY;
      node.buf.copy(node.buf, from + IENTRY, from, end);
      node.buf.writeUInt32LE(entry.key >>> 0, from);
      node.buf.writeUInt32LE((entry.child | (entry.cont ? CONT : 0)) >>> 0, from + 4);
      node.touch(from, end + IENTRY);
      node.count = node.count + 1;
      return;
    }
    const all = indexEntries(node);
    all.splice(pos, 0, entry);
    const m = all.length >>> 1;
    if (node.isRoot) {
      const a = take();
      const b = take();
      header(a, MAGIC_INDEX, node.level, salt);
      header(b, MAGIC_INDEX, node.level, salt);
      writeIndex(a, all.slice(0, m));
      writeIndex(b, all.slice(m));
      node.buf[H_LEVEL] = node.level + 1;
      node.touch(H_LEVEL, H_LEVEL + 1);
      writeIndex(node, [{ key: 0, child: a.index, cont: false }, { key: all[m].key, child: b.index, cont: all[m].cont }]);
      return;
    }
    const n2 = take();
    header(n2, MAGIC_INDEX, node.level, salt);
    writeIndex(node, all.slice(0, m));
    writeIndex(n2, all.slice(m));
    entry = { key: all[m].key, child: n2.index, cont: all[m].cont };
  }
  throw new Error('directory split ran past the root (internal error)');
}

function addToCount(root: Block, delta: number): void {
  root.buf.writeUInt32LE(root.buf.readUInt32LE(R_ENTRIES) + delta, R_ENTRIES);
  root.touch(R_ENTRIES, R_ENTRIES + 4);
}

// ---- operations ---------------------------------------------------------------------------

/** Writes an empty directory into block 0 (appending it if the storage has no block). */
export function initDirectory(tx: Transaction, store: DirStorage): void {
  const n = store.blocks(tx);
  if (n > 1) throw einval(`initDirectory needs an empty directory file; this one has ${n} blocks`);
  const i = n === 0 ? store.appendBlock(tx) : 0;
  if (i !== 0) throw euclean(`the directory storage appended block ${i} to an empty file`);
  const b = new Block(0, store.blockOffset(tx, 0), Buffer.alloc(BLOCK_SIZE));
  header(b, MAGIC_ROOT, 0, crypto.randomBytes(4).readUInt32LE(0));
  b.buf.writeUInt16LE(ROOT_BODY, R_USED);
  b.buf.writeUInt16LE(DIR_VERSION, R_VERSION);
  b.buf.writeUInt32LE(0, R_ENTRIES);
  b.buf.writeUInt32LE(1, R_BLOCKS);
  b.buf[R_HASH] = HASH_FNV1A_FMIX;
  b.buf.writeUInt32LE(blockCrc(b.buf), H_CRC);
  tx.write(b.at, b.buf);
}

export function lookup(tx: Transaction, store: DirStorage, name: string): DirEntry | null {
  const b = encodeName(name);
  const ctx = new Ctx(tx, store);
  const f = find(ctx, b);
  return f ? decodeRecord(f.leaf, f.off) : null;
}

/** Adds an entry; EEXIST when the name is present. */
export function insert(tx: Transaction, store: DirStorage, entry: DirEntry): void {
  const e = checkEntry(entry);
  const ctx = new Ctx(tx, store);
  if (find(ctx, e.name)) throw new DaxError('EEXIST', `${JSON.stringify(entry.name)} already exists in the directory`, { errno: -17 });
  add(ctx, ctx.hash(e.name), encodeRecord(ctx.hash(e.name), e));
  addToCount(ctx.root(), 1);
  ctx.flush();
}

/** Removes the entry and returns it; ENOENT when absent. The space is reused by later inserts. */
export function remove(tx: Transaction, store: DirStorage, name: string): DirEntry {
  const b = encodeName(name);
  const ctx = new Ctx(tx, store);
  const f = find(ctx, b);
  if (!f) throw new DaxError('ENOENT', `${JSON.stringify(name)} is not in the directory`, { errno: -2 });
  const old = decodeRecord(f.leaf, f.off);
  removeRecord(f.leaf, f.off);
  addToCount(ctx.root(), -1);
  ctx.flush();
  return old;
}

/** Sets name -> (ino, type), adding the entry if absent; returns the entry it replaced, if any. */
export function replace(tx: Transaction, store: DirStorage, entry: DirEntry): DirEntry | null {
  const e = checkEntry(entry);
  const ctx = new Ctx(tx, store);
  const f = find(ctx, e.name);
  if (f) {
    const old = decodeRecord(f.leaf, f.off);
    f.leaf.buf.writeUInt32LE(e.ino, f.off + 4);
    f.leaf.buf[f.off + 11] = e.type;
    f.leaf.touch(f.off + 4, f.off + REC_HEADER);
    ctx.flush();
    return old;
  }
  const h = ctx.hash(e.name);
  add(ctx, h, encodeRecord(h, e));
  addToCount(ctx.root(), 1);
  ctx.flush();
  return null;
}

/** Every entry, in hash order. */
export function list(tx: Transaction, store: DirStorage): DirEntry[] {
  const ctx = new Ctx(tx, store);
  const out: DirEntry[] = [];
  // Each block is referenced once in a valid tree; index entries of a damaged one that
  // point at a block already visited could make the walk exponential in the depth.
  const seen = new Set<number>();
  const walk = (node: Block): void => {
    if (node.level === 0) {
      for (let off = node.body; off < node.used; off += recordLen(node, off)) out.push(decodeRecord(node, off));
      return;
    }
    for (let i = 0; i < node.count; i++) {
      const child = node.child(i);
      if (seen.has(child)) throw euclean(`directory block ${child} is referenced by more than one index entry`);
      seen.add(child);
      walk(ctx.load(child, node.level - 1));
    }
  };
  walk(ctx.root());
  return out;
}

/** True when the directory has no entries (one read of the root). */
export function isEmpty(tx: Transaction, store: DirStorage): boolean {
  const ctx = new Ctx(tx, store);
  return ctx.root().buf.readUInt32LE(R_ENTRIES) === 0;
}

/** Number of entries (one read of the root). */
export function entryCount(tx: Transaction, store: DirStorage): number {
  const ctx = new Ctx(tx, store);
  return ctx.root().buf.readUInt32LE(R_ENTRIES);
}

/**
 * fsck for one directory: every structural problem in words (checksums, magic, levels, block
 * references, key order and ranges, records in the wrong leaf, stored hashes, names, lengths,
 * duplicates, the entry count, unreachable blocks). Empty when the directory is sound.
 */
export function check(tx: Transaction, store: DirStorage): string[] {
  const problems: string[] = [];
  let n: number;
  try {
    n = store.blocks(tx);
  } catch (err) {
    return [`the directory's block count cannot be read: ${(err as Error).message}`];
  }
  if (n < 1) return ['the directory has no blocks (not initialised)'];
  const readAt = (i: number): Block | string => {
    try {
      const at = store.blockOffset(tx, i);
      return new Block(i, at, tx.read(at, BLOCK_SIZE));
    } catch (err) {
      return `directory block ${i} cannot be read: ${(err as Error).message}`;
    }
  };
  const root = readAt(0);
  if (typeof root === 'string') return [root];
  const rp = blockProblem(root, null, null);
  if (rp) return [rp];
  const salt = root.buf.readUInt32LE(H_SALT);
  const recorded = root.buf.readUInt32LE(R_BLOCKS);
  if (recorded !== n) problems.push(`directory root counts ${recorded} blocks; the directory file has ${n}`);
  const seen = new Set<number>([0]);
  const names = new Map<string, number>();
  let entries = 0;
  const TOP = 0x100000000;

  // [lo, hi) or [lo, hi] when hiInclusive: the hashes the subtree may hold.
  const walk = (b: Block, lo: number, hi: number, hiInclusive: boolean): void => {
    const where = `directory block ${b.index}`;
    const inRange = (h: number): boolean => h >= lo && (hiInclusive ? h <= hi : h < hi);
    const range = `[${lo}, ${hi}${hiInclusive ? ']' : ')'}`;
    if (b.level === 0) {
      const buf = b.buf;
      for (let off = b.body; off < b.used; off += recordLen(b, off)) {
        entries++;
        const stored = recordHash(b, off);
        const nameBytes = buf.subarray(off + REC_HEADER, off + REC_HEADER + buf[off + 10]);
        const name = nameBytes.toString('utf8');
        const np = nameProblem(nameBytes);
        if (np) problems.push(`${where}: the name at byte ${off} ${np}`);
        if (!Buffer.from(name, 'utf8').equals(nameBytes)) problems.push(`${where}: the name at byte ${off} is not valid UTF-8`);
        const h = hashOf(Buffer.from(nameBytes), salt);
        if (h !== stored) problems.push(`${where}: ${JSON.stringify(name)} has stored hash ${stored}, its name hashes to ${h}`);
        if (!inRange(stored)) problems.push(`${where}: ${JSON.stringify(name)} (hash ${stored}) is in the wrong leaf: this leaf holds hashes ${range}`);
        const other = names.get(name);
        if (other !== undefined) problems.push(`${where}: duplicate name ${JSON.stringify(name)} (also in block ${other})`);
        else names.set(name, b.index);
        const pad = off + REC_HEADER + buf[off + 10];
        if (buf.subarray(pad, off + recordLen(b, off)).some((x) => x !== 0)) problems.push(`${where}: record at byte ${off} has non-zero padding`);
      }
      if (buf.subarray(b.used, END).some((x) => x !== 0)) problems.push(`${where}: bytes after the last record are not zero`);
      return;
    }
    const count = b.count;
    if (b.key(0) !== lo) problems.push(`${where}: first key ${b.key(0)} is not the lower bound ${lo} of the subtree`);
    if (b.isRoot && b.cont(0)) problems.push(`${where}: the first root entry has the continuation flag`);
    for (let i = 0; i < count; i++) {
      const k = b.key(i);
      if (!inRange(k)) problems.push(`${where}: key ${k} of entry ${i} is outside the subtree's range ${range}`);
      if (i > 0 && k < b.key(i - 1)) problems.push(`${where}: keys out of order at entry ${i} (${b.key(i - 1)} then ${k})`);
    }
    for (let i = 0; i < count; i++) {
      const c = b.child(i);
      if (c < 1 || c >= n) {
        problems.push(`${where}: entry ${i} points at block ${c}, outside the directory's blocks 1..${n - 1}`);
        continue;
      }
      if (seen.has(c)) {
        problems.push(`${where}: entry ${i} points at block ${c}, which is referenced twice`);
        continue;
      }
      seen.add(c);
      const child = readAt(c);
      if (typeof child === 'string') {
        problems.push(child);
        continue;
      }
      const cp = blockProblem(child, salt, b.level - 1);
      if (cp) {
        problems.push(cp);
        continue;
      }
      if (child.level > 0 && child.cont(0) !== b.cont(i)) {
        problems.push(`directory block ${c}: continuation flag of its first entry differs from its parent's entry`);
      }
      const clo = i === 0 ? lo : b.key(i);
      const last = i === count - 1;
      walk(child, clo, last ? hi : b.key(i + 1), last ? hiInclusive : b.cont(i + 1));
    }
  };
  walk(root, 0, TOP, false);
  const counted = root.buf.readUInt32LE(R_ENTRIES);
  if (counted !== entries) problems.push(`directory root counts ${counted} entries; the leaves hold ${entries}`);
  for (let i = 1; i < n; i++) if (!seen.has(i)) problems.push(`directory block ${i} is not reachable from the root`);
  return problems;
}
