import { devices } from '../../lib/block';
import { BLOCK_SIZE, computeLayout, MIN_DEVICE_SIZE } from '../../lib/fs/layout';
import { metaIO } from '../../lib/fs/metaio';
import { decodeSuperblock, encodeSuperblock, newSuperblock, readSuperblock, writeSuperblocks } from '../../lib/fs/superblock';

const MiB = 1024 * 1024;
const TiB = 1024 ** 4;

describe('layout', () => {
  test('regions follow each other without overlap and leave room for data', () => {
    for (const size of [MIN_DEVICE_SIZE, 64 * MiB, 1024 * MiB + 4096 * 3, 5 * 1024 * MiB, TiB]) {
      const l = computeLayout(size);
      expect(l.blocks).toBe(Math.floor(size / BLOCK_SIZE));
      expect(l.journalStart).toBe(1);
      expect(l.summaryStart).toBe(l.journalStart + l.journalBlocks);
      expect(l.bitmapStart).toBe(l.summaryStart + l.summaryBlocks);
      expect(l.inodeBitmapStart).toBe(l.bitmapStart + l.groups);
      expect(l.inodeTableStart).toBe(l.inodeBitmapStart + l.inodeBitmapBlocks);
      expect(l.dataStart).toBe(l.inodeTableStart + l.inodeTableBlocks);
      expect(l.groups * BLOCK_SIZE * 8).toBeGreaterThanOrEqual(l.blocks);
      expect(l.summaryBlocks * BLOCK_SIZE).toBeGreaterThanOrEqual(l.groups * 4);
      expect(l.inodeBitmapBlocks * BLOCK_SIZE * 8).toBeGreaterThanOrEqual(l.inodeCount);
      expect(l.backupSuperblock).toBe(l.blocks - 1);
      expect(l.dataStart).toBeLessThan(l.backupSuperblock);
    }
  });

  test('metadata stays a small share of a terabyte device (allocation scales)', () => {
    const l = computeLayout(TiB);
    expect(l.groups).toBe(8192);                    // 256 Mi blocks, 32768 per bitmap block
    expect(l.dataStart * BLOCK_SIZE / TiB).toBeLessThan(0.002);
  });

  test('devices under 4 MiB are refused with EINVAL', () => {
    expect(() => computeLayout(MIN_DEVICE_SIZE - 1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('superblock', () => {
  test('encodes and decodes every field, with a checksum', () => {
    const sb = newSuperblock(64 * MiB, 'logs');
    const back = decodeSuperblock(encodeSuperblock(sb), 64 * MiB);
    expect(back).toEqual(sb);
  });

  test('a flipped bit is caught by the checksum, a wrong magic or version is named', () => {
    const bytes = encodeSuperblock(newSuperblock(64 * MiB));
    const flipped = Buffer.from(bytes);
    flipped[17] ^= 1;
    expect(decodeSuperblock(flipped, 64 * MiB)).toBe('checksum mismatch');
    const foreign = Buffer.from(bytes);
    foreign.write('ext4', 0);
    expect(decodeSuperblock(foreign, 64 * MiB)).toMatch(/not a daxfs/);
    expect(decodeSuperblock(bytes, 32 * MiB)).toMatch(/device only/);
  });

  test('a label longer than 64 bytes is refused', () => {
    expect(() => encodeSuperblock(newSuperblock(64 * MiB, 'x'.repeat(65)))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('a damaged primary falls back to the backup; both damaged is EUCLEAN', () => {
    const dev = devices.ram(16 * MiB);
    const io = metaIO(dev);
    const sb = newSuperblock(dev.size, 'backup-test');
    writeSuperblocks(io, sb);
    io.barrier();
    expect(readSuperblock(io).source).toBe('primary');
    io.write(100, Buffer.from([0xff]));
    const read = readSuperblock(io);
    expect(read.source).toBe('backup');
    expect(read.superblock).toEqual(sb);
    expect(read.problems[0]).toMatch(/checksum/);
    io.write(sb.layout.backupSuperblock * BLOCK_SIZE + 5, Buffer.from([0xff]));
    expect(() => readSuperblock(io)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    dev.close();
  });
});
