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

const CRC_AT = BLOCK_SIZE - 4;    // u32 CRC-32 of bytes [0, 4092) of every block
// Common header, every block.
const H_MAGIC = 0;                // u32
const H_COUNT = 4;                // u16: records (level 0) or index entries (level >= 1)
const H_LEVEL = 6;                // u8: 0 = holds records; n = index whose children have level n-1
const H_FLAGS = 7;                // u8: 0
const H_SELF = 8;                 // u32: this block's index in the directory file
const H_SALT = 12;                // u32: the directory's salt (root's value, in every block)
// Root block (file block 0).
const R_USED = 16;                // u16: end of the records (level 0), 0 otherwise
const R_VERSION = 18;             // u16: DIR_VERSION
const R_ENTRIES = 20;             // u32: entries in the whole directory
const R_HASH = 24;                // u8: hash function (HASH_FNV1A_FMIX); 25..31 zero
const ROOT_BODY = 32;             // records or index entries start here
// Leaf block.
const L_USED = 16;                // u16: end of the records; 18..19 zero
const LEAF_BODY = 20;
// Index block.
const INDEX_BODY = 16;
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

const ROOT_INDEX_CAP = (CRC_AT - ROOT_BODY) / IENTRY;    // 507
const INDEX_CAP = (CRC_AT - INDEX_BODY) / IENTRY;        // 509

/** Test hooks: a replacement hash (to force collisions) and a smaller index fan-out (to
 *  build deep trees from few entries). Never set outside tests. */
export const _testing: {
  hash: ((name: Buffer, salt: number) => number) | null;
  maxIndexEntries: number;
} = { hash: null, maxIndexEntries: 0 };

// ---- hash ---------------------------------------------------------------------------------

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
    h = Math.imul(h, 0x01000193);
  }
  h ^= name.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
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
  const b = Buffer.from(name, 'utf8');
  if (b.length > MAX_NAME) {
    throw new DaxError('ENAMETOOLONG', `the name is ${b.length} bytes in UTF-8; at most ${MAX_NAME} fit`, { errno: -36 });
  }
  const problem = nameProblem(b);
  if (problem) throw einval(`the name ${JSON.stringify(name)} ${problem}`);
  if (b.toString('utf8') !== name) throw einval(`the name ${JSON.stringify(name)} is not well-formed Unicode (lone surrogate)`);
  return b;
}

function checkEntry(entry: DirEntry): { name: Buffer; ino: number; type: number } {
  if (entry === null || typeof entry !== 'object') throw einval('a directory entry must be an object');
  const name = encodeName(entry.name);
  if (!Number.isInteger(entry.ino) || entry.ino < 1 || entry.ino > 0xffffffff) {
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
  constructor(readonly index: number, readonly at: number, readonly buf: Buffer) {}

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

/**
 * Why the block's contents are not a valid directory block of the expected shape, or null.
 * Checks the checksum, magic, self index, salt, level and the record / index framing.
 */
function blockProblem(b: Block, salt: number | null, level: number | null): string | null {
  const buf = b.buf;
  const where = `directory block ${b.index}`;
  if (zlib.crc32(buf.subarray(0, CRC_AT)) !== buf.readUInt32LE(CRC_AT)) return `${where}: bad checksum`;
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
  } else if (level !== null && lvl !== level) {
    return `${where}: level ${lvl} where level ${level} was expected`;
  }
  const count = b.count;
  if (lvl > 0) {
    const cap = b.isRoot ? ROOT_INDEX_CAP : INDEX_CAP;
    if (count < (b.isRoot ? 2 : 1) || count > cap) return `${where}: bad index entry count ${count}`;
    if (b.isRoot && buf.readUInt16LE(R_USED) !== 0) return `${where}: an index root with a record length`;
    return null;
  }
  const used = b.used;
  if (used < b.body || used > CRC_AT) return `${where}: bad used length ${used}`;
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
  return null;
}

/** One operation's view of a directory: blocks read through the transaction, verified,
 *  changed in memory and written back to the transaction by flush(). */
class Ctx {
  #blocks = -1;
  #salt = 0;
  readonly cache = new Map<number, Block>();

  constructor(readonly tx: Transaction, readonly store: DirStorage) {}

  get nblocks(): number {
    if (this.#blocks < 0) this.#blocks = this.store.blocks(this.tx);
    return this.#blocks;
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
    if (this.nblocks < 1) throw euclean('the directory has no blocks (not initialised)');
    const b = this.#read(0);
    const problem = blockProblem(b, null, null);
    if (problem) throw euclean(problem);
    this.#salt = b.buf.readUInt32LE(H_SALT);
    this.cache.set(0, b);
    return b;
  }

  /** A non-root block the tree points at, expected at `level`. */
  load(i: number, level: number): Block {
    const hit = this.cache.get(i);
    if (hit) return hit;
    if (i < 1 || i >= this.nblocks) throw euclean(`a directory index entry points at block ${i}; the directory has blocks 1..${this.nblocks - 1}`);
    const b = this.#read(i);
    const problem = blockProblem(b, this.#salt, level);
    if (problem) throw euclean(problem);
    this.cache.set(i, b);
    return b;
  }

  /** Appends a block to the directory; the caller fills it (it is written whole). */
  append(): Block {
    const before = this.nblocks;
    const i = this.store.appendBlock(this.tx);
    if (i !== before) throw euclean(`the directory storage appended block ${i}, expected ${before}`);
    this.#blocks = before + 1;
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
      b.buf.writeUInt32LE(zlib.crc32(b.buf.subarray(0, CRC_AT)), CRC_AT);
      if (!b.whole) {
        const ranges = b.dirty.concat([[CRC_AT, BLOCK_SIZE]]).sort((x, y) => x[0] - y[0]);
        const merged: Array<[number, number]> = [];
        for (const r of ranges) {
          const last = merged[merged.length - 1];
          // a separate record costs 16 bytes of header: merge ranges closer than that
          if (last && r[0] <= last[1] + 16) last[1] = Math.max(last[1], r[1]);
          else merged.push([r[0], r[1]]);
        }
        const total = merged.reduce((s, r) => s + r[1] - r[0] + 16, 0);
        if (total < BLOCK_SIZE / 2) {
          for (const [lo, hi] of merged) this.tx.write(b.at + lo, b.buf.subarray(lo, hi));
          b.dirty = [];
          continue;
        }
      }
      this.tx.write(b.at, b.buf);
      b.dirty = [];
      b.whole = false;
    }
  }
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
  b.buf.fill(0, off, CRC_AT);
  for (const r of recs) {
    r.copy(b.buf, off);
    off += r.length;
  }
  b.buf.writeUInt16LE(off, b.isRoot ? R_USED : L_USED);
  b.buf.writeUInt16LE(recs.length, H_COUNT);
  b.whole = true;
}

/** Rebuilds `b` as an index node holding exactly `entries`. */
function writeIndex(b: Block, entries: IndexEntry[]): void {
  b.buf.fill(0, b.body, CRC_AT);
  entries.forEach((e, i) => {
    b.buf.writeUInt32LE(e.key >>> 0, b.body + i * IENTRY);
    b.buf.writeUInt32LE((e.child | (e.cont ? CONT : 0)) >>> 0, b.body + i * IENTRY + 4);
  });
  b.buf.writeUInt16LE(entries.length, H_COUNT);
  b.whole = true;
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
  if (CRC_AT - leaf.used >= rec.length) {
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
    const { at, clean } = chooseSplit(recs, CRC_AT - LEAF_BODY);
    const a = take();
    const b = take();
    header(a, MAGIC_LEAF, 0, salt);
    header(b, MAGIC_LEAF, 0, salt);
    writeRecords(a, recs.slice(0, at));
    writeRecords(b, recs.slice(at));
    root.buf[H_LEVEL] = 1;
    root.buf.writeUInt16LE(0, R_USED);
    writeIndex(root, [{ key: 0, child: a.index, cont: false }, { key: recs[at].readUInt32LE(0), child: b.index, cont: !clean }]);
    return;
  }
  const { at, clean } = chooseSplit(recs, CRC_AT - LEAF_BODY);
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
  b.buf[R_HASH] = HASH_FNV1A_FMIX;
  b.buf.writeUInt32LE(zlib.crc32(b.buf.subarray(0, CRC_AT)), CRC_AT);
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
  const walk = (node: Block): void => {
    if (node.level === 0) {
      for (let off = node.body; off < node.used; off += recordLen(node, off)) out.push(decodeRecord(node, off));
      return;
    }
    for (let i = 0; i < node.count; i++) walk(ctx.load(node.child(i), node.level - 1));
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
      if (buf.subarray(b.used, CRC_AT).some((x) => x !== 0)) problems.push(`${where}: bytes after the last record are not zero`);
      return;
    }
    const count = b.count;
    if (b.buf.subarray(b.body + count * IENTRY, CRC_AT).some((x) => x !== 0)) problems.push(`${where}: bytes after the last index entry are not zero`);
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
