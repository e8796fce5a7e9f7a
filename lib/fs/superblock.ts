// The superblock: what the device is (geometry, label, features), checksummed, in block 0
// and again in the last block. Counters that change with every allocation live in the
// journaled state record next to it, not here, so the backup never goes stale.
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { DaxError } from '../errors';
import { BLOCK_SIZE, Layout, computeLayout } from './layout';
import { MetaIO } from './metaio';

export const MAGIC = 'daxfs\0\0\x01';
export const VERSION = 1;
const SUPERBLOCK_BYTES = 256;
const LABEL_BYTES = 64;

export interface Superblock {
  version: number;
  blockSize: number;
  blocks: number;
  features: number;
  label: string;
  uuid: string;
  createdMs: number;
  layout: Layout;
}

export function encodeSuperblock(sb: Superblock): Buffer {
  const b = Buffer.alloc(SUPERBLOCK_BYTES);
  b.write(MAGIC, 0, 'latin1');
  b.writeUInt32LE(sb.version, 8);
  b.writeUInt32LE(sb.blockSize, 12);
  b.writeDoubleLE(sb.blocks, 16);
  b.writeUInt32LE(sb.features, 24);
  Buffer.from(sb.uuid.replace(/-/g, ''), 'hex').copy(b, 32);
  b.writeDoubleLE(sb.createdMs, 48);
  const label = Buffer.from(sb.label, 'utf8');
  if (label.length > LABEL_BYTES) {
    throw new DaxError('EINVAL', `the label is ${label.length} bytes; at most ${LABEL_BYTES} fit`, { errno: -22 });
  }
  label.copy(b, 64);
  b.writeUInt32LE(zlib.crc32(b.subarray(0, SUPERBLOCK_BYTES - 4)), SUPERBLOCK_BYTES - 4);
  return b;
}

/** Decodes and checks one copy; returns a reason when it is not a valid superblock. */
export function decodeSuperblock(b: Buffer, deviceSize: number): Superblock | string {
  if (b.toString('latin1', 0, 8) !== MAGIC) return 'bad magic (not a daxfs filesystem)';
  if (zlib.crc32(b.subarray(0, SUPERBLOCK_BYTES - 4)) !== b.readUInt32LE(SUPERBLOCK_BYTES - 4)) return 'checksum mismatch';
  const version = b.readUInt32LE(8);
  if (version !== VERSION) return `unsupported version ${version} (this daxfs reads ${VERSION})`;
  const blockSize = b.readUInt32LE(12);
  if (blockSize !== BLOCK_SIZE) return `unsupported block size ${blockSize}`;
  const blocks = b.readDoubleLE(16);
  if (!Number.isSafeInteger(blocks) || blocks < 0) return `block count ${blocks} is not a count`;
  if (blocks * BLOCK_SIZE > deviceSize) return `the filesystem has ${blocks} blocks but the device only ${Math.floor(deviceSize / BLOCK_SIZE)}`;
  let layout: Layout;
  try {
    layout = computeLayout(blocks * BLOCK_SIZE);
  } catch (e) {
    return (e as Error).message;   // too small for a filesystem: not one mkfs wrote
  }
  const labelEnd = b.indexOf(0, 64);
  const uuidHex = b.toString('hex', 32, 48);
  return {
    version, blockSize, blocks,
    features: b.readUInt32LE(24),
    uuid: `${uuidHex.slice(0, 8)}-${uuidHex.slice(8, 12)}-${uuidHex.slice(12, 16)}-${uuidHex.slice(16, 20)}-${uuidHex.slice(20)}`,
    createdMs: b.readDoubleLE(48),
    label: b.toString('utf8', 64, labelEnd < 0 || labelEnd > 64 + LABEL_BYTES ? 64 + LABEL_BYTES : labelEnd),
    layout,
  };
}

export function newSuperblock(deviceSize: number, label = ''): Superblock {
  const layout = computeLayout(deviceSize);
  return {
    version: VERSION, blockSize: BLOCK_SIZE, blocks: layout.blocks, features: 0, label,
    uuid: crypto.randomUUID(), createdMs: Date.now(), layout,
  };
}

/** Writes both copies (not durable until the next barrier). */
export function writeSuperblocks(io: MetaIO, sb: Superblock): void {
  const bytes = encodeSuperblock(sb);
  io.write(0, bytes);
  io.write(sb.layout.backupSuperblock * BLOCK_SIZE, bytes);
}

export interface ReadSuperblock {
  superblock: Superblock;
  /** Which copy was good: the backup is used when the primary is damaged. */
  source: 'primary' | 'backup';
  problems: string[];
}

/** One copy's bytes; a copy on a bad block (EIO) reads as invalid, so the other one is used. */
function readCopy(io: MetaIO, at: number): Buffer {
  try {
    return io.read(at, SUPERBLOCK_BYTES);
  } catch (e) {
    if ((e as DaxError).code !== 'EIO') throw e;
    return Buffer.alloc(SUPERBLOCK_BYTES);   // no magic: "not a daxfs filesystem" unless the other copy is good
  }
}

/** Reads the primary superblock, or the backup when the primary is damaged; EUCLEAN if neither. */
export function readSuperblock(io: MetaIO): ReadSuperblock {
  const size = io.device.size;
  const primary = decodeSuperblock(readCopy(io, 0), size);
  if (typeof primary !== 'string') return { superblock: primary, source: 'primary', problems: [] };
  const last = Math.floor(size / BLOCK_SIZE) - 1;
  // The backup sits in the filesystem's last block; a filesystem smaller than its device
  // keeps it earlier, but mkfs always uses the whole device, so the device's last block.
  const backup = decodeSuperblock(readCopy(io, last * BLOCK_SIZE), size);
  if (typeof backup !== 'string') {
    return { superblock: backup, source: 'backup', problems: [`primary superblock: ${primary}; using the backup`] };
  }
  throw new DaxError('EUCLEAN', `no valid superblock on ${io.device.name}: primary: ${primary}; backup: ${backup}`, { errno: -117 });
}
