import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { devices, BlockDevice } from '../../lib/block';
import { mapFile, mapAnonymous } from '../../lib/pmem';
import { DaxError } from '../../lib/errors';

const PAGE = 4096;
const GiB = 1024 ** 3;

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-block-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

const makers: Array<[string, (size: number) => BlockDevice]> = [
  ['ram', (size) => devices.ram(size)],
  ['pmem file', (size) => devices.pmem(mapFile(path.join(dir, `p${Math.random()}`), { create: true, size }))],
];

describe.each(makers)('%s device', (_name, make) => {
  let dev: BlockDevice;
  beforeEach(() => { dev = make(1 << 20); });
  afterEach(() => dev.close());

  test('has 512-byte sectors, supports DAX and reads untouched sectors as zeros', () => {
    expect(dev.sectorSize).toBe(512);
    expect(dev.supportsDax).toBe(true);
    expect(dev.size).toBe(1 << 20);
    const buf = Buffer.alloc(4096, 0xff);
    dev.readSectors(100, buf);
    expect(buf.every((b) => b === 0)).toBe(true);
  });

  test('writeSectors then readSectors round-trips the bytes', () => {
    const data = Buffer.alloc(1536);
    for (let i = 0; i < data.length; i++) data[i] = i * 7;
    dev.writeSectors(3, data);
    dev.flush();
    const back = Buffer.alloc(1536);
    dev.readSectors(3, back);
    expect(back.equals(data)).toBe(true);
  });

  test('sector I/O must be whole sectors inside the device', () => {
    expect(code(() => dev.readSectors(0, Buffer.alloc(100)))).toBe('ERR_INVALID_ARG_VALUE');
    expect(code(() => dev.readSectors(2047, Buffer.alloc(1024)))).toBe('ERANGE');
    expect(code(() => dev.writeSectors(-1, Buffer.alloc(512)))).toBe('ERR_OUT_OF_RANGE');
    expect(code(() => dev.writeSectors(0, 'x' as unknown as Uint8Array))).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('directAccess refuses a sector that is not page aligned with EINVAL', () => {
    expect(code(() => dev.directAccess(1, PAGE))).toBe('EINVAL');
    expect(code(() => dev.directAccess(4, 512))).toBe('EINVAL');
  });

  test('directAccess refuses a range past the end with ERANGE', () => {
    expect(code(() => dev.directAccess(2048, PAGE))).toBe('ERANGE');
    expect(code(() => dev.directAccess(2040, 2 * PAGE))).toBe('ERANGE');
  });

  test('directAccess gives the pfn, at least one page, at most size rounded up to a page', () => {
    const one = dev.directAccess(16, 0);
    expect(one.pfn).toBe(2);
    expect(one.length).toBe(PAGE);
    const some = dev.directAccess(8, 5000);
    expect(some.length).toBe(2 * PAGE);
    expect(some.length % PAGE).toBe(0);
    expect(dev.directAccess(0, 1 << 20).length).toBe(1 << 20);
  });

  test('directAccess addr is the device memory: a store through it is read by readSectors', () => {
    const da = dev.directAccess(8, PAGE);
    expect(da.addr.length).toBe(da.length);
    da.addr.write('direct', 10);
    dev.persist(PAGE + 10, 6);
    const back = Buffer.alloc(512);
    dev.readSectors(8, back);
    expect(back.subarray(10, 16).toString()).toBe('direct');
  });

  test('bad blocks make reads and directAccess fail with EIO; writing whole sectors clears them', () => {
    dev.badblocks.add(20, 2);
    dev.badblocks.add(22, 1);
    dev.badblocks.add(40, 1);
    expect(dev.badblocks.list()).toEqual([[20, 3], [40, 1]]);
    expect(code(() => dev.readSectors(16, Buffer.alloc(4096)))).toBe('EIO');
    expect(code(() => dev.directAccess(16, PAGE))).toBe('EIO');
    expect(code(() => dev.directAccess(8, 2 * PAGE))).toBe('EIO');
    dev.readSectors(23, Buffer.alloc(512));  // next to the bad range: fine
    dev.writeSectors(21, Buffer.alloc(512, 1));
    expect(dev.badblocks.list()).toEqual([[20, 1], [22, 1], [40, 1]]);
    dev.badblocks.clear(0, 100);
    expect(dev.badblocks.list()).toEqual([]);
    expect(dev.directAccess(16, PAGE).length).toBe(PAGE);
  });

  test('a closed device refuses every operation with EBADF', () => {
    dev.close();
    expect(code(() => dev.readSectors(0, Buffer.alloc(512)))).toBe('EBADF');
    expect(code(() => dev.directAccess(0, PAGE))).toBe('EBADF');
    expect(code(() => dev.persist(0, 1))).toBe('EBADF');
    expect(code(() => dev.flush())).toBe('EBADF');
    dev.close();
  });
});

describe('pmem device', () => {
  test('persist goes through the mapping: bytes stored through directAccess reach the file', () => {
    const file = path.join(dir, 'persist.img');
    fs.writeFileSync(file, Buffer.alloc(64 * 1024));
    const dev2 = devices.pmem(file);
    dev2.directAccess(8, PAGE).addr.write('on disk', 0);
    dev2.persist(PAGE, 7);
    expect(fs.readFileSync(file).subarray(PAGE, PAGE + 7).toString()).toBe('on disk');
    dev2.close();
  });

  test("sync: 'required' refuses memory that is not pmem with EOPNOTSUPP", () => {
    const file = path.join(dir, 'plain.img');
    fs.writeFileSync(file, Buffer.alloc(64 * 1024));
    expect(code(() => devices.pmem(file, { sync: 'required' }))).toBe('EOPNOTSUPP');
    const m = mapFile(file);
    expect(code(() => devices.pmem(m, { sync: 'required' }))).toBe('EOPNOTSUPP');
    m.close();
  });

  test('a device over a caller-owned mapping leaves the mapping open when closed', () => {
    const m = mapAnonymous(1 << 20);
    const dev = devices.pmem(m);
    dev.close();
    expect(m.closed).toBe(false);
    m.view(0, 1)[0] = 1;
    m.close();
  });

  test('directAccess never crosses a window edge: a 5 GiB sparse file gives short lengths there', () => {
    const m = mapFile(path.join(dir, 'big.img'), { create: true, size: 5 * GiB, sparse: true });
    const dev = devices.pmem(m);
    try {
      const edge = m.windowSize;
      const before = dev.directAccess((edge - PAGE) / 512, 4 * PAGE);
      expect(before.length).toBe(PAGE);
      expect(before.pfn).toBe((edge - PAGE) / PAGE);
      const after = dev.directAccess(edge / 512, 4 * PAGE);
      expect(after.length).toBe(4 * PAGE);
      expect(after.pfn).toBe(edge / PAGE);
      // sector I/O across the edge is split inside the driver
      const data = Buffer.alloc(2 * PAGE, 0x5a);
      dev.writeSectors((edge - PAGE) / 512, data);
      const back = Buffer.alloc(2 * PAGE);
      dev.readSectors((edge - PAGE) / 512, back);
      expect(back.equals(data)).toBe(true);
      const last = dev.directAccess((5 * GiB - PAGE) / 512, PAGE);
      last.addr.write('end', PAGE - 3);
      dev.persist(5 * GiB - 3, 3);
      const fd = fs.openSync(path.join(dir, 'big.img'), 'r');
      const tail = Buffer.alloc(3);
      fs.readSync(fd, tail, 0, 3, 5 * GiB - 3);
      fs.closeSync(fd);
      expect(tail.toString()).toBe('end');
    } finally {
      dev.close();
      m.close();
      fs.rmSync(path.join(dir, 'big.img'));
    }
  });
});

describe('windowed device', () => {
  test('cannot give direct access: supportsDax is false and directAccess throws EOPNOTSUPP', () => {
    const dev = devices.windowed(1 << 20);
    expect(dev.supportsDax).toBe(false);
    expect(dev.dax).toBeUndefined();
    const err = (() => { try { dev.directAccess(0, PAGE); } catch (e) { return e as DaxError; } })();
    expect(err).toBeInstanceOf(DaxError);
    expect(err!.code).toBe('EOPNOTSUPP');
    expect(err!.message).toMatch(/window/);
    dev.close();
  });

  test('pages its storage through the window: I/O across window edges is correct', () => {
    const dev = devices.windowed(1 << 20, { window: 8192 });
    const data = Buffer.alloc(20000 - (20000 % 512));
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    dev.writeSectors(10, data);
    const back = Buffer.alloc(data.length);
    dev.readSectors(10, back);
    expect(back.equals(data)).toBe(true);
    expect((dev as unknown as { windowMoves: number }).windowMoves).toBeGreaterThan(2);
    const zeros = Buffer.alloc(512, 1);
    dev.readSectors(1000, zeros);
    expect(zeros.every((b) => b === 0)).toBe(true);
    dev.close();
  });

  test('a file-backed windowed device writes back on flush', () => {
    const file = path.join(dir, 'win.img');
    const dev = devices.windowed(1 << 20, { window: 4096, path: file });
    dev.writeSectors(1, Buffer.from('w'.repeat(512)));
    dev.flush();
    expect(fs.readFileSync(file).subarray(512, 515).toString()).toBe('www');
    dev.close();
  });

  test('bad blocks fail reads with EIO and are cleared by writes', () => {
    const dev = devices.windowed(1 << 20);
    dev.badblocks.add(5, 1);
    expect(code(() => dev.readSectors(4, Buffer.alloc(1024)))).toBe('EIO');
    dev.writeSectors(5, Buffer.alloc(512));
    dev.readSectors(4, Buffer.alloc(1024));
    dev.close();
  });
});
