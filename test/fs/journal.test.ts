import { devices, BlockDevice } from '../../lib/block';
import { Journal, JournalArea } from '../../lib/fs/journal';
import { metaIO } from '../../lib/fs/metaio';
import { mapAnonymous } from '../../lib/pmem';
import { snapshotting } from '../helpers/wrap-mapping';

const SIZE = 1 << 20;
const AREA: JournalArea = { start: 4096, size: 16 * 4096, blockSize: 4096 };
const TARGETS = [200000, 300000, 300064, 500000];


function deviceFrom(image: Buffer): BlockDevice {
  const dev = devices.ram(image.length);
  dev.writeSectors(0, image);
  dev.flush();
  return dev;
}

function valuesAt(dev: BlockDevice): string[] {
  const io = metaIO(dev);
  return TARGETS.map((t) => io.read(t, 8).toString('latin1'));
}

describe('journal', () => {
  test('a committed transaction is applied and survives reopening', () => {
    const dev = devices.ram(SIZE);
    const io = metaIO(dev);
    Journal.format(io, AREA);
    const j = Journal.open(io, AREA);
    const tx = j.begin();
    TARGETS.forEach((t) => tx.write(t, Buffer.from('NEWVALUE')));
    j.commit(tx);
    expect(valuesAt(dev)).toEqual(TARGETS.map(() => 'NEWVALUE'));
    const again = Journal.open(metaIO(dev), AREA);
    expect(again.applied).toBe(1);
    expect(again.stats.replayed).toBe(0);
    dev.close();
  });

  test('a crash at any store or fence of a commit leaves all old or all new values, never a mix', () => {
    const images: Buffer[] = [];
    const mapping = snapshotting(mapAnonymous(SIZE), images);
    const dev = devices.pmem(mapping);
    const io = metaIO(dev);
    Journal.format(io, AREA);
    const j = Journal.open(io, AREA);
    const first = j.begin();
    TARGETS.forEach((t) => first.write(t, Buffer.from('OLDVALUE')));
    j.commit(first);
    images.push(Buffer.from(mapping.view(0, SIZE)));   // a crash before the commit's first store
    mapping.capturing = true;
    const tx = j.begin();
    TARGETS.forEach((t) => tx.write(t, Buffer.from('NEWVALUE')));
    j.commit(tx);
    mapping.capturing = false;
    // the record, its fence, four in-place stores (a crash between any two of them), the fence
    expect(images.length).toBeGreaterThanOrEqual(8);
    const outcomes = new Set<string>();
    for (const image of images) {
      const crashed = deviceFrom(image);
      Journal.open(metaIO(crashed), AREA);   // mount-time replay
      const values = valuesAt(crashed);
      expect(new Set(values).size).toBe(1);
      outcomes.add(values[0]);
      crashed.close();
    }
    expect(outcomes).toEqual(new Set(['OLDVALUE', 'NEWVALUE']));
    dev.close();
    mapping.close();
  });

  test('a torn transaction record fails its checksum and is dropped', () => {
    const images: Buffer[] = [];
    const mapping = snapshotting(mapAnonymous(SIZE), images);
    const dev = devices.pmem(mapping);
    const io = metaIO(dev);
    Journal.format(io, AREA);
    const j = Journal.open(io, AREA);
    const base = j.begin();
    TARGETS.forEach((t) => base.write(t, Buffer.from('OLDVALUE')));
    j.commit(base);
    const before = Buffer.from(mapping.view(0, SIZE));
    mapping.capturing = true;
    const tx = j.begin();
    TARGETS.forEach((t) => tx.write(t, Buffer.from('NEWVALUE')));
    j.commit(tx);
    mapping.capturing = false;
    const recordWritten = images[0];   // the first store is the whole record
    const recordStart = AREA.start + AREA.blockSize;
    const length = tx.bytes;
    for (let cut = 8; cut < length; cut += 8) {
      // The first `cut` bytes of the record reached the media, the rest did not.
      const torn = Buffer.from(before);
      recordWritten.copy(torn, recordStart, recordStart, recordStart + cut);
      const crashed = deviceFrom(torn);
      const opened = Journal.open(metaIO(crashed), AREA);
      expect(opened.stats.replayed).toBe(0);
      expect(valuesAt(crashed)).toEqual(TARGETS.map(() => 'OLDVALUE'));
      crashed.close();
    }
    dev.close();
    mapping.close();
  });

  test('works the same on a device without direct access (whole-sector writes)', () => {
    const dev = devices.windowed(SIZE, { window: 8192 });
    const io = metaIO(dev);
    Journal.format(io, AREA);
    const j = Journal.open(io, AREA);
    const tx = j.begin();
    TARGETS.forEach((t) => tx.write(t, Buffer.from('SECTORED')));
    j.commit(tx);
    expect(valuesAt(dev)).toEqual(TARGETS.map(() => 'SECTORED'));
    dev.close();
  });

  test('a transaction larger than the journal is refused with ENOSPC before anything changes', () => {
    const dev = devices.ram(SIZE);
    const io = metaIO(dev);
    Journal.format(io, AREA);
    const j = Journal.open(io, AREA);
    const tx = j.begin();
    tx.write(200000, Buffer.alloc(AREA.size));
    expect(() => j.commit(tx)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(j.applied).toBe(0);
    expect(io.read(200000, 4).equals(Buffer.alloc(4))).toBe(true);
    dev.close();
  });

  test('a journal area that was never formatted is refused with EUCLEAN', () => {
    const dev = devices.ram(SIZE);
    expect(() => Journal.open(metaIO(dev), AREA)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    dev.close();
  });
});

describe('transaction', () => {
  test('reads through its own pending writes, later writes winning', () => {
    const dev = devices.ram(SIZE);
    const io = metaIO(dev);
    Journal.format(io, AREA);
    io.write(300000, Buffer.from('abcdefgh'));
    const j = Journal.open(io, AREA);
    const tx = j.begin();
    tx.write(300002, Buffer.from('XY'));
    tx.write(300003, Buffer.from('Z'));
    tx.write(299998, Buffer.from('1234'));
    expect(tx.read(299998, 12).toString('latin1')).toBe('1234XZefgh\0\0');
    expect(io.read(300000, 8).toString()).toBe('abcdefgh');   // nothing applied before commit
    j.commit(tx);
    expect(io.read(299998, 10).toString('latin1')).toBe('1234XZefgh');
    dev.close();
  });
});

describe('transaction write merging', () => {
  test('rewriting bytes that a later, overlapping write covered keeps the newest data on top', () => {
    const dev = devices.ram(SIZE);
    const io = metaIO(dev);
    Journal.format(io, AREA);
    const j = Journal.open(io, AREA);
    const tx = j.begin();
    tx.write(300004, Buffer.from('aaaa'));        // a small field
    tx.write(300000, Buffer.alloc(16, 0x62));     // the whole record, rewritten later
    tx.write(300004, Buffer.from('cccc'));        // the field again: must win over the block
    expect(tx.read(300000, 12).toString('latin1')).toBe('bbbbccccbbbb');
    j.commit(tx);
    expect(io.read(300000, 12).toString('latin1')).toBe('bbbbccccbbbb');
    const again = j.begin();
    again.write(300020, Buffer.from('x1'));
    again.write(300020, Buffer.from('x2'));       // nothing in between: merged
    expect(again.entries).toHaveLength(1);
    dev.close();
  });

  test('two journals over one device (two mounts in two workers) number their commits from the device, never reusing a sequence', () => {
    const dev = devices.ram(SIZE);
    const io = metaIO(dev);
    Journal.format(io, AREA);
    const a = Journal.open(io, AREA);
    const b = Journal.open(metaIO(dev), AREA);
    const commit = (j: Journal, value: string) => {
      const tx = j.begin();
      tx.write(TARGETS[0], Buffer.from(value));
      j.commit(tx);
    };
    commit(a, 'AAAAAAAA');
    commit(b, 'BBBBBBBB');
    commit(a, 'CCCCCCCC');
    // A reused sequence number would make a crash after b's commit drop it at replay
    // (it would not be above the applied number a recorded).
    expect(Journal.open(metaIO(dev), AREA).applied).toBe(3);
    expect(valuesAt(dev)[0]).toBe('CCCCCCCC');
    dev.close();
  });
});
