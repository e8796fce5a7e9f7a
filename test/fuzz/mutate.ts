// Damaged daxfs images for the image fuzzer: a small valid image with files, directories,
// an extent block and unwritten extents, and seeded mutations of it, each returned as a
// patch (byte ranges to overwrite) so that a child process can rebuild the image cheaply.
// Mutations with "fixed" checksums exercise the code behind each checksum check: a
// structure that passes its CRC but holds insane values.
import * as zlib from 'node:zlib';
import { devices } from '../../lib/block';
import { ROOT_INODE, BlockAllocator } from '../../lib/fs/alloc';
import * as dir from '../../lib/fs/dir';
import { Filesystem } from '../../lib/fs/filesystem';
import { Inode, InodeTable, isDir } from '../../lib/fs/inode';
import { Journal } from '../../lib/fs/journal';
import { BLOCK_SIZE, INODE_SIZE, Layout, computeLayout } from '../../lib/fs/layout';
import { metaIO } from '../../lib/fs/metaio';
import { mkfs } from '../../lib/fs/mkfs';
import { DirectoryBlocks, journalArea } from '../../lib/fs/storage';
import { seededRandom } from '../../lib/testing/prng';

export const IMAGE_SIZE = 4 * 1024 * 1024;

/** A region of metadata the fuzzer aims at, and how to make its checksum valid again. */
interface Target {
  kind: 'superblock' | 'backup' | 'journal-header' | 'journal-record' | 'summary' | 'bitmap' | 'inode-bitmap' |
    'inode' | 'extent-block' | 'dir-block';
  at: number;        // byte offset
  length: number;
  ino?: number;
}

export interface BaseImage {
  image: Buffer;
  layout: Layout;
  targets: Target[];
  /** Parsed inodes of the image, by number (files and directories in use). */
  inodes: Map<number, Inode>;
  /** Directory inode numbers with their parent (the root is its own parent). */
  dirs: Array<{ ino: number; parent: number }>;
}

/** Builds the valid image every mutation starts from (deterministic apart from uuid, times, salts). */
export function buildBase(): BaseImage {
  const dev = devices.ram(IMAGE_SIZE);
  try {
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    f.mkdir('/a/b/c', { recursive: true });
    f.writeFile('/a/one', Buffer.alloc(20000, 0x11));
    f.writeFile('/a/b/two', 'two');
    f.writeFile('/a/b/c/three', Buffer.alloc(5000, 0x33));
    // Twelve extents: more than fit inline, so the file has an extent block.
    f.writeFile('/frag', Buffer.alloc(24 * BLOCK_SIZE, 0x44));
    const h = f.open('/frag', 'r+');
    for (let b = 1; b < 24; b += 2) h.allocate(b * BLOCK_SIZE, BLOCK_SIZE, 'punch-hole');
    h.close();
    // Unwritten extents, inside the size and past it.
    const p = f.open('/prealloc', 'w');
    p.write(Buffer.from('head'));
    p.allocate(BLOCK_SIZE, 3 * BLOCK_SIZE, 'default');
    p.allocate(4 * BLOCK_SIZE, 2 * BLOCK_SIZE, 'keep-size');
    p.close();
    // A directory big enough to be an index over leaves.
    f.mkdir('/many');
    for (let i = 0; i < 24; i++) f.writeFile(`/many/${String(i).padStart(3, '0')}-${'n'.repeat(180)}`, '');   // 24 records of 196 bytes: more than one block
    f.unmount();
    const image = Buffer.alloc(IMAGE_SIZE);
    dev.readSectors(0, image);
    return describe(image);
  } finally {
    dev.close();
  }
}

/** Finds the metadata of `image` (which must be valid) by walking it with the filesystem's own code. */
function describe(image: Buffer): BaseImage {
  const layout = computeLayout(image.length);
  const dev = devices.ram(image.length);
  try {
    dev.writeSectors(0, image);
    const io = metaIO(dev);
    const j = Journal.open(io, journalArea(layout));
    const blocks = new BlockAllocator(io, layout);
    const table = new InodeTable(layout, blocks);
    const tx = j.begin();
    const targets: Target[] = [
      { kind: 'superblock', at: 0, length: 256 },
      { kind: 'backup', at: layout.backupSuperblock * BLOCK_SIZE, length: 256 },
      { kind: 'journal-header', at: layout.journalStart * BLOCK_SIZE, length: 16 },
      { kind: 'journal-record', at: (layout.journalStart + 1) * BLOCK_SIZE, length: 512 },
      { kind: 'summary', at: layout.summaryStart * BLOCK_SIZE, length: 4 * layout.groups },
      { kind: 'bitmap', at: layout.bitmapStart * BLOCK_SIZE, length: Math.ceil(layout.blocks / 8) },
      { kind: 'inode-bitmap', at: layout.inodeBitmapStart * BLOCK_SIZE, length: Math.ceil(layout.inodeCount / 8) },
    ];
    const inodes = new Map<number, Inode>();
    const dirs: Array<{ ino: number; parent: number }> = [];
    const queue: Array<[number, number]> = [[ROOT_INODE, ROOT_INODE]];
    while (queue.length) {
      const [ino, parent] = queue.shift()!;
      const inode = table.read(tx, ino);
      inodes.set(ino, inode);
      targets.push({ kind: 'inode', at: table.offsetOf(ino), length: INODE_SIZE, ino });
      if (inode.extentBlock) targets.push({ kind: 'extent-block', at: inode.extentBlock * BLOCK_SIZE, length: BLOCK_SIZE, ino });
      if (!isDir(inode)) continue;
      dirs.push({ ino, parent });
      for (const e of inode.extents) {
        for (let k = 0; k < e.length; k++) targets.push({ kind: 'dir-block', at: (e.deviceBlock + k) * BLOCK_SIZE, length: BLOCK_SIZE, ino });
      }
      for (const entry of dir.list(tx, new DirectoryBlocks(ino, table, blocks))) queue.push([entry.ino, ino]);
    }
    return { image, layout, targets, inodes, dirs };
  } finally {
    dev.close();
  }
}

// --- checksums, recomputed the way each structure defines them (docs/FORMAT.md) ----------------

function crc(buf: Buffer, from: number, to: number, seed?: number): number {
  return zlib.crc32(buf.subarray(from, to), seed);
}

/** Makes the checksum of the structure that `t` names valid again in `img`. */
function fixChecksum(img: Buffer, t: Target): void {
  const at = t.at;
  switch (t.kind) {
    case 'superblock':
    case 'backup':
      img.writeUInt32LE(crc(img, at, at + 252), at + 252);
      return;
    case 'inode':
      img.writeUInt32LE(crc(img, at + 64, at + 252, crc(img, at, at + 32)), at + 252);
      return;
    case 'extent-block': {
      const n = Math.min(img.readUInt32LE(at + 4), (BLOCK_SIZE - 16) / 16);
      img.writeUInt32LE(crc(img, at + 16, at + 16 + n * 16, crc(img, at, at + 12)), at + 12);
      return;
    }
    case 'dir-block':
      img.writeUInt32LE(0, at + 4);
      img.writeUInt32LE(crc(img, at, at + BLOCK_SIZE), at + 4);
      return;
    case 'journal-record': {
      const bytes = img.readUInt32LE(at + 16);
      if (bytes < 24 || bytes > 15 * BLOCK_SIZE) return;
      img.writeUInt32LE(crc(img, at + 24, at + bytes, crc(img, at, at + 20)), at + 20);
      return;
    }
    default:
      return;   // bitmaps and the summary have no checksum
  }
}

// --- fields, by structure: [offset, size in bytes, 'u' unsigned | 'f' f64] ---------------------

type Field = [number, number, 'u' | 'f'];
const FIELDS: Partial<Record<Target['kind'], Field[]>> = {
  superblock: [[8, 4, 'u'], [12, 4, 'u'], [16, 8, 'f'], [24, 4, 'u'], [48, 8, 'f']],
  backup: [[8, 4, 'u'], [12, 4, 'u'], [16, 8, 'f']],
  'journal-header': [[0, 4, 'u'], [4, 4, 'u'], [8, 8, 'f']],
  inode: [[0, 4, 'u'], [4, 4, 'u'], [8, 4, 'u'], [16, 8, 'f'], [24, 8, 'f'], [64, 2, 'u'], [72, 8, 'f'],
    ...Array.from({ length: 10 }, (_, i): Field[] => [[80 + 16 * i, 4, 'u'], [84 + 16 * i, 4, 'u'], [88 + 16 * i, 8, 'f']]).flat()],
  'extent-block': [[0, 4, 'u'], [4, 4, 'u'], [8, 4, 'u'],
    ...Array.from({ length: 12 }, (_, i): Field[] => [[16 + 16 * i, 4, 'u'], [20 + 16 * i, 4, 'u'], [24 + 16 * i, 8, 'f']]).flat()],
  'dir-block': [[0, 4, 'u'], [8, 2, 'u'], [10, 1, 'u'], [12, 4, 'u'], [16, 4, 'u'], [20, 2, 'u'], [24, 4, 'u'], [28, 4, 'u'], [32, 1, 'u'],
    // the first records / index entries
    [40, 4, 'u'], [44, 4, 'u'], [48, 2, 'u'], [50, 1, 'u'], [51, 1, 'u'], [24 + 4, 4, 'u'], [24 + 8, 4, 'u'], [24 + 20, 2, 'u']],
};

function writeField(img: Buffer, at: number, [off, size, type]: Field, value: number): void {
  const p = at + off;
  if (type === 'f') { img.writeDoubleLE(value, p); return; }
  const v = Number.isFinite(value) ? Math.max(0, Math.min(2 ** (8 * size) - 1, Math.floor(value))) : 0;
  if (size === 1) img.writeUInt8(v, p);
  else if (size === 2) img.writeUInt16LE(v, p);
  else img.writeUInt32LE(v, p);
}

/** Values at the limits of a field: zero, all ones, -1, past the device, not a number. */
function limitValues(layout: Layout, field: Field): number[] {
  const max = field[2] === 'f' ? Number.MAX_SAFE_INTEGER : 2 ** (8 * field[1]) - 1;
  const common = [0, 1, max, max - 1, layout.blocks, layout.blocks - 1, layout.blocks + 1, layout.dataStart - 1,
    layout.inodeCount, IMAGE_SIZE, IMAGE_SIZE * 2, 2 ** 31, 2 ** 32];
  return field[2] === 'f' ? [...common, -1, -layout.blocks, 0.5, NaN, Infinity, -Infinity, 2 ** 60, Number.MAX_VALUE] : common;
}

// --- mutations -------------------------------------------------------------------------------

export interface Mutation {
  seed: number;
  kind: string;
  /** [byte offset, bytes as hex] to overwrite in the base image. */
  patch: Array<[number, string]>;
}

type Rng = () => number;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r() % xs.length];

function flipBits(r: Rng, img: Buffer, t: Target): void {
  const n = 1 + (r() % 8);
  for (let i = 0; i < n; i++) {
    const p = t.at + (r() % t.length);
    img[p] ^= 1 << (r() % 8);
  }
}

/** An inode of the base, by kind: a directory, a file, or any. */
function someInode(r: Rng, base: BaseImage, want?: 'dir' | 'file'): Inode {
  const all = [...base.inodes.values()].filter((i) => want === undefined || (want === 'dir') === isDir(i));
  return pick(r, all);
}

function inodeTarget(base: BaseImage, ino: number): Target {
  return base.targets.find((t) => t.kind === 'inode' && t.ino === ino)!;
}

/** Sets inline extent `i` of inode `t` (through the extent block when it has one). */
function setExtent(img: Buffer, base: BaseImage, ino: number, i: number, fileBlock: number, length: number, deviceBlock: number): void {
  const inode = base.inodes.get(ino)!;
  const t = inode.extentBlock
    ? base.targets.find((x) => x.kind === 'extent-block' && x.ino === ino)!
    : inodeTarget(base, ino);
  const at = t.at + (inode.extentBlock ? 16 : 80) + 16 * i;
  img.writeUInt32LE(fileBlock >>> 0, at);
  img.writeUInt32LE(length >>> 0, at + 4);
  img.writeDoubleLE(deviceBlock, at + 8);
  fixChecksum(img, t);
}

/** A mutation run through the filesystem's own code (a directory entry the format allows to
 *  encode but the tree must not contain): applied to a copy of the image on a ram device. */
function throughFs(img: Buffer, base: BaseImage, fn: (tx: ReturnType<Journal['begin']>, table: InodeTable, blocks: BlockAllocator) => void): void {
  const dev = devices.ram(img.length);
  try {
    dev.writeSectors(0, img);
    const io = metaIO(dev);
    const j = Journal.open(io, journalArea(base.layout));
    const blocks = new BlockAllocator(io, base.layout);
    const table = new InodeTable(base.layout, blocks);
    const tx = j.begin();
    fn(tx, table, blocks);
    j.commit(tx);
    dev.readSectors(0, img);
  } finally {
    dev.close();
  }
}

const KINDS = ['flip', 'flip-fixed', 'field', 'field-fixed', 'dir-cycle', 'shared-blocks', 'extent-on-metadata',
  'extent-past-device', 'size-past-device', 'nlink', 'journal-garbage', 'journal-valid-garbage'] as const;

/** The mutation of `seed`: a kind, chosen by the seed, applied to a copy of the base image. */
export function mutate(base: BaseImage, seed: number): Mutation {
  const r = seededRandom(seed);
  const kind = KINDS[seed % KINDS.length];
  const img = Buffer.from(base.image);
  const layout = base.layout;
  switch (kind) {
    case 'flip':
    case 'flip-fixed': {
      const t = pick(r, base.targets);
      flipBits(r, img, t);
      if (kind === 'flip-fixed') fixChecksum(img, t);
      break;
    }
    case 'field':
    case 'field-fixed': {
      const withFields = base.targets.filter((t) => FIELDS[t.kind]);
      const t = pick(r, withFields);
      const field = pick(r, FIELDS[t.kind]!);
      writeField(img, t.at, field, pick(r, limitValues(layout, field)));
      if (kind === 'field-fixed') fixChecksum(img, t);
      break;
    }
    case 'dir-cycle': {
      // An entry in a directory naming one of its ancestors (or itself) as a subdirectory.
      const d = pick(r, base.dirs.filter((x) => x.ino !== ROOT_INODE));
      const ancestors = [d.ino, d.parent, ROOT_INODE];
      const target = pick(r, ancestors);
      throughFs(img, base, (tx, table, blocks) => {
        dir.insert(tx, new DirectoryBlocks(d.ino, table, blocks), { name: 'loop', ino: target, type: 'dir' });
      });
      break;
    }
    case 'shared-blocks': {
      // Two files claim the same blocks.
      const files = [...base.inodes.values()].filter((i) => !isDir(i) && i.extents.length > 0);
      const a = pick(r, files);
      const b = pick(r, [...base.inodes.values()].filter((i) => i.ino !== a.ino && i.extents.length > 0));
      const e = a.extents[0];
      setExtent(img, base, a.ino, 0, e.fileBlock, e.length, b.extents[0].deviceBlock);
      break;
    }
    case 'extent-on-metadata': {
      const i = someInode(r, base);
      if (i.extents.length === 0) break;
      const e = i.extents[0];
      setExtent(img, base, i.ino, 0, e.fileBlock, e.length, pick(r, [0, 1, layout.journalStart + 1, layout.bitmapStart,
        layout.inodeTableStart, layout.dataStart - 1, layout.backupSuperblock]));
      break;
    }
    case 'extent-past-device': {
      const i = someInode(r, base);
      if (i.extents.length === 0) break;
      const e = i.extents[0];
      const choice = r() % 4;
      if (choice === 0) setExtent(img, base, i.ino, 0, e.fileBlock, e.length, layout.blocks + (r() % 1000));
      else if (choice === 1) setExtent(img, base, i.ino, 0, e.fileBlock, 0x7fffffff, e.deviceBlock);
      else if (choice === 2) setExtent(img, base, i.ino, 0, 0xffffffff, e.length, e.deviceBlock);
      else setExtent(img, base, i.ino, 0, e.fileBlock, e.length, pick(r, [-1, 2 ** 60, NaN, 0.5, Infinity]));
      break;
    }
    case 'size-past-device': {
      const i = someInode(r, base);
      const t = inodeTarget(base, i.ino);
      img.writeDoubleLE(pick(r, [IMAGE_SIZE * 2, 2 ** 44, 2 ** 44 + 1, 2 ** 53, 2 ** 60, -4096, NaN, Infinity]), t.at + 16);
      fixChecksum(img, t);
      break;
    }
    case 'nlink': {
      const i = someInode(r, base);
      const t = inodeTarget(base, i.ino);
      img.writeUInt32LE(pick(r, [0, 1, 0xffffffff, 0x7fffffff]), t.at + 4);
      fixChecksum(img, t);
      break;
    }
    case 'journal-garbage': {
      const at = (layout.journalStart + 1) * BLOCK_SIZE;
      const n = 24 + (r() % 2000);
      for (let k = 0; k < n; k++) img[at + k] = r() & 0xff;
      if (r() % 2) img.writeUInt32LE(0x58545844, at);   // "DXTX": get past the magic check
      break;
    }
    case 'journal-valid-garbage': {
      // A transaction with a valid checksum whose entries target insane places.
      const at = (layout.journalStart + 1) * BLOCK_SIZE;
      const entries = 1 + (r() % 3);
      let off = 24;
      for (let k = 0; k < entries; k++) {
        const target = pick(r, [-8, IMAGE_SIZE - 4, IMAGE_SIZE, IMAGE_SIZE * 4, 2 ** 53, NaN, 0.5, 0, layout.inodeTableStart * BLOCK_SIZE]);
        const length = pick(r, [8, 16, 0, 0xffffffff, 100000]);
        img.writeDoubleLE(target, at + off);
        img.writeUInt32LE(length, at + off + 8);
        img.writeUInt32LE(0, at + off + 12);
        off += 16 + 8;
      }
      img.writeUInt32LE(0x58545844, at);
      img.writeUInt32LE(entries, at + 4);
      img.writeDoubleLE(base.image.readDoubleLE(layout.journalStart * BLOCK_SIZE + 8) + 1, at + 8);
      img.writeUInt32LE(off, at + 16);
      fixChecksum(img, { kind: 'journal-record', at, length: 512 });
      break;
    }
  }
  return { seed, kind, patch: diff(base.image, img) };
}

/** The byte ranges where `b` differs from `a` (same length), as [offset, hex] pairs. */
export function diff(a: Buffer, b: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let blk = 0; blk < a.length; blk += BLOCK_SIZE) {
    if (a.compare(b, blk, blk + BLOCK_SIZE, blk, blk + BLOCK_SIZE) === 0) continue;
    let i = blk;
    const end = blk + BLOCK_SIZE;
    while (i < end) {
      if (a[i] === b[i]) { i++; continue; }
      let j = i;
      while (j < end && (a[j] !== b[j] || (j + 1 < end && a[j + 1] !== b[j + 1]))) j++;
      out.push([i, b.toString('hex', i, j)]);
      i = j;
    }
  }
  return out;
}

export const MUTATION_KINDS: readonly string[] = KINDS;
