// Bugs the image fuzzer found, one test each: an image with a valid checksum but an insane
// value must be refused with EUCLEAN (or fall back to a good copy), never trusted.
import * as zlib from 'node:zlib';
import { devices, BlockDevice } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { computeLayout } from '../../lib/fs/layout';
import { mkfs } from '../../lib/fs/mkfs';

const SIZE = 4 * 1024 * 1024;
const layout = computeLayout(SIZE);
const JOURNAL = layout.journalStart * 4096;
const RECORD = JOURNAL + 4096;

function image(setup?: (f: Filesystem) => void): Buffer {
  const dev = devices.ram(SIZE);
  mkfs(dev);
  const f = Filesystem.mount(dev, 'dax');
  setup?.(f);
  f.unmount();
  const img = Buffer.alloc(SIZE);
  dev.readSectors(0, img);
  dev.close();
  return img;
}

function deviceOf(img: Buffer): BlockDevice {
  const dev = devices.ram(img.length);
  dev.writeSectors(0, img);
  return dev;
}

/** Writes a committed journal record (valid checksum, seq past applied) with these entries. */
function record(img: Buffer, entries: Array<{ target: number; length: number; room?: number }>): void {
  let off = 24;
  for (const e of entries) {
    img.writeDoubleLE(e.target, RECORD + off);
    img.writeUInt32LE(e.length, RECORD + off + 8);
    off += 16 + (e.room ?? 8);
  }
  img.writeUInt32LE(0x58545844, RECORD);
  img.writeUInt32LE(entries.length, RECORD + 4);
  img.writeDoubleLE(img.readDoubleLE(JOURNAL + 8) + 1, RECORD + 8);
  img.writeUInt32LE(off, RECORD + 16);
  img.writeUInt32LE(zlib.crc32(img.subarray(RECORD + 24, RECORD + off), zlib.crc32(img.subarray(RECORD, RECORD + 20))), RECORD + 20);
}

describe('journal replay checks what it replays', () => {
  test.each([
    ['past the end of the device', [{ target: SIZE * 4, length: 8 }]],
    ['straddling the end of the device', [{ target: SIZE - 4, length: 8 }]],
    ['at a negative offset', [{ target: -8, length: 8 }]],
    ['at a fractional offset', [{ target: 0.5, length: 8 }]],
    ['at NaN', [{ target: NaN, length: 8 }]],
    ['into the journal itself', [{ target: JOURNAL + 4096, length: 8 }]],
    ['longer than the record', [{ target: 8192 * 100, length: 100000 }]],
  ])('an entry %s is EUCLEAN at mount and in fsck; nothing is written', (_what, entries) => {
    const img = image();
    record(img, entries);
    const dev = deviceOf(img);
    expect(() => Filesystem.mount(dev, 'dax')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    expect(() => fsck(dev, { repair: true })).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    const after = Buffer.alloc(SIZE);
    dev.readSectors(0, after);
    expect(after.equals(img)).toBe(true);
    dev.close();
  });

  test('a valid entry still replays', () => {
    const img = image();
    const target = layout.dataStart * 4096 + 100;
    record(img, [{ target, length: 8 }]);
    img.write('REPLAYED', RECORD + 24 + 16, 'latin1');
    img.writeUInt32LE(zlib.crc32(img.subarray(RECORD + 24, RECORD + 48), zlib.crc32(img.subarray(RECORD, RECORD + 20))), RECORD + 20);
    const dev = deviceOf(img);
    Filesystem.mount(dev, 'dax').unmount();
    const b = Buffer.alloc(4096);
    dev.readSectors(layout.dataStart * 8, b);
    expect(b.toString('latin1', 100, 108)).toBe('REPLAYED');
    dev.close();
  });

  test.each([NaN, -1, Infinity, 0.5])('an applied number of %p in the header is EUCLEAN', (applied) => {
    const img = image();
    img.writeDoubleLE(applied, JOURNAL + 8);
    const dev = deviceOf(img);
    expect(() => Filesystem.mount(dev, 'dax')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    expect(() => fsck(dev)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    dev.close();
  });
});
