import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { devices, BlockDevice } from '../../lib/block';
import { daxIO } from '../../lib/dax';
import { DaxError } from '../../lib/errors';
import { mapAnonymous, mapFile } from '../../lib/pmem';
import { countingMapping } from '../helpers/wrap-mapping';

const isFence = (e: string) => e === 'drain' || e.endsWith(' fence');

/** Runs `body` on a TestFs over a pmem device whose mapping logs its stores and fences. */
function logged(body: (d: BlockDevice, u: TestFs, events: string[]) => void): void {
  const events: string[] = [];
  const m = countingMapping(mapAnonymous(1 << 20), events);
  const d = devices.pmem(m);
  try {
    body(d, new TestFs(d), events);
  } finally {
    d.close();
    m.close();
  }
}
import { TestFs } from './testfs';

const PAGE = 4096;
const GiB = 1024 ** 3;

function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Raw bytes of device block `block`. */
function deviceBlock(dev: BlockDevice, block: number): Buffer {
  const b = Buffer.alloc(PAGE);
  dev.readSectors(block * 8, b);
  return b;
}

function errorOf(fn: () => unknown): DaxError | undefined {
  try { fn(); } catch (e) { return e as DaxError; }
  return undefined;
}

describe('daxIO reads', () => {
  let dev: BlockDevice;
  let t: TestFs;
  beforeEach(() => { dev = devices.ram(1 << 20); t = new TestFs(dev); });
  afterEach(() => dev.close());

  test('a read at EOF returns 0 and one across EOF is short', () => {
    const inode = t.inode(100);
    t.map(0, 5);
    expect(daxIO('read', inode, 100, Buffer.alloc(10), t.getBlock)).toBe(0);
    expect(daxIO('read', inode, 200, Buffer.alloc(10), t.getBlock)).toBe(0);
    expect(daxIO('read', inode, 90, Buffer.alloc(50), t.getBlock)).toBe(10);
  });

  test('holes read as zeros without allocating or touching the device', () => {
    // Garbage in every device block: a hole must still read as zeros.
    dev.writeSectors(0, Buffer.alloc(1 << 20, 0xaa));
    const inode = t.inode(3 * PAGE);
    t.map(1, 7);
    dev.writeSectors(7 * 8, pattern(PAGE));
    const buf = Buffer.alloc(3 * PAGE, 0x11);
    expect(daxIO('read', inode, 0, buf, t.getBlock)).toBe(3 * PAGE);
    expect(buf.subarray(0, PAGE).every((b) => b === 0)).toBe(true);
    expect(buf.subarray(PAGE, 2 * PAGE).equals(pattern(PAGE))).toBe(true);
    expect(buf.subarray(2 * PAGE).every((b) => b === 0)).toBe(true);
    expect(t.calls.every((c) => !c.create)).toBe(true);
    expect(t.table.size).toBe(1);
  });

  test('unwritten blocks read as zeros', () => {
    dev.writeSectors(9 * 8, Buffer.alloc(PAGE, 0xee));
    t.map(0, 9, true);
    const buf = Buffer.alloc(PAGE, 1);
    expect(daxIO('read', t.inode(PAGE), 0, buf, t.getBlock)).toBe(PAGE);
    expect(buf.every((b) => b === 0)).toBe(true);
  });

  test('reads are byte granular at any position and length', () => {
    t.map(0, 3);
    t.map(1, 10);  // not contiguous on the device
    dev.writeSectors(3 * 8, pattern(PAGE, 1));
    dev.writeSectors(10 * 8, pattern(PAGE, 2));
    const whole = Buffer.concat([pattern(PAGE, 1), pattern(PAGE, 2)]);
    const inode = t.inode(2 * PAGE);
    for (const [pos, len] of [[0, 1], [4095, 2], [1, 8190], [4000, 100], [8191, 1]]) {
      const buf = Buffer.alloc(len);
      expect(daxIO('read', inode, pos, buf, t.getBlock)).toBe(len);
      expect(buf.equals(whole.subarray(pos, pos + len))).toBe(true);
    }
  });

  test('a bad block stops a read short, or fails it with EIO when nothing was read', () => {
    t.map(0, 3);
    t.map(1, 4);
    dev.badblocks.add(4 * 8, 1);
    const inode = t.inode(2 * PAGE);
    expect(daxIO('read', inode, 0, Buffer.alloc(2 * PAGE), t.getBlock)).toBe(PAGE);
    expect(errorOf(() => daxIO('read', inode, PAGE, Buffer.alloc(10), t.getBlock))?.code).toBe('EIO');
  });
});

describe('daxIO writes', () => {
  let dev: BlockDevice;
  let t: TestFs;
  beforeEach(() => {
    dev = devices.ram(1 << 20);
    dev.writeSectors(0, Buffer.alloc(1 << 20, 0xaa));  // stale bytes of "deleted files"
    t = new TestFs(dev);
  });
  afterEach(() => dev.close());

  test('a write into a new block zeroes the rest of the block around the written bytes', () => {
    const inode = t.inode(0);
    expect(daxIO('write', inode, 100, Buffer.from('hello'), t.getBlock)).toBe(5);
    const raw = deviceBlock(dev, t.table.get(0)!.block);
    expect(raw.subarray(100, 105).toString()).toBe('hello');
    expect(raw.subarray(0, 100).every((b) => b === 0)).toBe(true);
    expect(raw.subarray(105).every((b) => b === 0)).toBe(true);
  });

  test('a write into unwritten blocks zeroes around the data, then converts them once durable', () => {
    t.allocateUnwritten = true;
    const events: string[] = [];
    const m = countingMapping(mapAnonymous(1 << 20), events);
    const d = devices.pmem(m);
    const u = new TestFs(d);
    u.allocateUnwritten = true;
    u.events.length = 0;
    const inode = u.inode(0);
    events.length = 0;
    expect(daxIO('write', inode, 5000, pattern(6000), u.getBlock, u.convert)).toBe(6000);
    const log = [...events];
    expect(u.converted).toEqual([[1, 1], [2, 1]]);  // the test fs allocates a block a call
    // data and zeroing are flushed without a fence, one fence at the end, then convert
    // (here a drain: zeroing of the last block's tail is the last store)
    expect(log.filter(isFence)).toEqual(['drain']);
    expect(log[log.length - 1]).toBe('drain');
    expect(log.every((e) => e === 'drain' || e.endsWith('nodrain'))).toBe(true);
    const raw1 = deviceBlock(d, u.table.get(1)!.block);
    expect(raw1.subarray(0, 5000 - PAGE).every((b) => b === 0)).toBe(true);
    const back = Buffer.alloc(6000);
    expect(daxIO('read', { ...inode, size: 11000 }, 5000, back, u.getBlock)).toBe(6000);
    expect(back.equals(pattern(6000))).toBe(true);
    const tail = Buffer.alloc(3 * PAGE - 11000);
    daxIO('read', { ...inode, size: 3 * PAGE }, 11000, tail, u.getBlock);
    expect(tail.every((b) => b === 0)).toBe(true);
    d.close();
    m.close();
  });

  test('a write into an existing written block keeps the bytes around it', () => {
    t.map(0, 20);
    dev.writeSectors(20 * 8, pattern(PAGE));
    daxIO('write', t.inode(PAGE), 10, Buffer.from('XY'), t.getBlock);
    const raw = deviceBlock(dev, 20);
    const want = pattern(PAGE);
    want.write('XY', 10);
    expect(raw.equals(want)).toBe(true);
  });

  test('writes are byte granular across non-contiguous blocks', () => {
    t.order = [30, 12, 44, 2];
    const data = pattern(3 * PAGE + 7, 5);
    expect(daxIO('write', t.inode(0), 123, data, t.getBlock)).toBe(data.length);
    const back = Buffer.alloc(data.length);
    expect(daxIO('read', t.inode(123 + data.length), 123, back, t.getBlock)).toBe(data.length);
    expect(back.equals(data)).toBe(true);
    expect([...t.table.values()].map((e) => e.block)).toEqual([30, 12, 44, 2]);
  });

  test('a write is durable on return with one fence for the whole call', () => logged((_d, u, events) => {
    u.order = [3, 9, 4, 8];
    daxIO('write', u.inode(0), 0, pattern(4 * PAGE), u.getBlock);
    // The last data store carries the fence: no separate drain() call.
    expect(events.filter(isFence)).toEqual(['copy fence']);
    expect(events.slice(-2)).toEqual(['copy', 'copy fence']);
    expect(events.slice(0, -2).every((e) => e.endsWith('nodrain'))).toBe(true);
  }));

  test('a write that ends inside a fresh block fences after zeroing the rest of it', () => logged((d, u, events) => {
    expect(daxIO('write', u.inode(0), 0, pattern(PAGE + 10), u.getBlock)).toBe(PAGE + 10);
    expect(events.filter(isFence)).toEqual(['drain']);
    expect(events.slice(-2)).toEqual(['fill nodrain', 'drain']);
    expect(deviceBlock(d, u.table.get(1)!.block).subarray(10).every((b) => b === 0)).toBe(true);
  }));

  test('a write whose last store fails still drains what it stored before', () => logged((d, u, events) => {
    u.map(0, 3);
    u.map(1, 9);
    d.badblocks.add(9 * 8, 8);   // direct access to block 9 fails (EIO)
    expect(daxIO('write', u.inode(2 * PAGE), 0, pattern(2 * PAGE), u.getBlock)).toBe(PAGE);
    expect(events).toEqual(['copy nodrain', 'drain']);
  }));

  test('an overwrite inside one run of written blocks is a single durable store', () => logged((d, u, events) => {
    u.map(0, 3);
    u.map(1, 4);
    d.writeSectors(3 * 8, pattern(2 * PAGE, 2));
    events.length = 0;
    const data = pattern(PAGE, 7);
    expect(daxIO('write', u.inode(2 * PAGE), 1000, data, u.getBlock)).toBe(PAGE);
    expect(events).toEqual(['copy', 'copy fence']);   // one store that ends with its fence
    expect(u.calls).toEqual([{ block: 0, count: 2, create: true }]);
    const want = pattern(2 * PAGE, 2);
    data.copy(want, 1000);
    const raw = Buffer.concat([deviceBlock(d, 3), deviceBlock(d, 4)]);
    expect(raw.equals(want)).toBe(true);
  }));

  test('a bad block inside a written run still gives a short write of the blocks before it', () => logged((d, u, events) => {
    u.map(0, 3);
    u.map(1, 4);
    d.badblocks.add(4 * 8, 8);
    events.length = 0;
    expect(daxIO('write', u.inode(2 * PAGE), 0, pattern(2 * PAGE), u.getBlock)).toBe(PAGE);
    expect(deviceBlock(d, 3).equals(pattern(PAGE))).toBe(true);
    expect(events.filter(isFence)).toHaveLength(1);
  }));

  test('getBlock(create) is asked once per block: its first answer carries `new`', () => {
    // A later answer for the same block would say new: false, and the zeroing it calls
    // for would be skipped.
    const data = pattern(PAGE + 100, 3);
    expect(daxIO('write', t.inode(0), 50, data, t.getBlock)).toBe(data.length);
    expect(t.calls.map((c) => c.block)).toEqual([0, 1]);
    const first = deviceBlock(dev, t.table.get(0)!.block);
    const second = deviceBlock(dev, t.table.get(1)!.block);
    expect(first.subarray(0, 50).every((b) => b === 0)).toBe(true);
    expect(second.subarray(150).every((b) => b === 0)).toBe(true);
  });

  test('ENOSPC after some blocks gives a short write; before any, the error', () => {
    t.spaceLeft = 2;
    expect(daxIO('write', t.inode(0), 0, pattern(4 * PAGE), t.getBlock)).toBe(2 * PAGE);
    const err = errorOf(() => daxIO('write', t.inode(2 * PAGE), 2 * PAGE, pattern(10), t.getBlock));
    expect(err?.code).toBe('ENOSPC');
  });

  test('daxIO refuses a device without direct access with EOPNOTSUPP', () => {
    const win = devices.windowed(1 << 20);
    const w = new TestFs(win);
    expect(errorOf(() => daxIO('write', w.inode(0), 0, Buffer.from('x'), w.getBlock))?.code).toBe('EOPNOTSUPP');
    expect(errorOf(() => daxIO('read', w.inode(10), 0, Buffer.alloc(1), w.getBlock))?.code).toBe('EOPNOTSUPP');
    win.close();
  });

  test('bad arguments get Node-style errors', () => {
    const inode = t.inode(0);
    expect(errorOf(() => daxIO('append' as 'read', inode, 0, Buffer.alloc(1), t.getBlock))?.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(errorOf(() => daxIO(undefined as unknown as 'read', inode, 0, Buffer.alloc(1), t.getBlock))?.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(t.calls).toEqual([]);   // refused before any block was asked for
    expect(errorOf(() => daxIO('read', inode, -1, Buffer.alloc(1), t.getBlock))?.code).toBe('ERR_OUT_OF_RANGE');
    expect(errorOf(() => daxIO('read', inode, 0, 'x' as unknown as Buffer, t.getBlock))?.code).toBe('ERR_INVALID_ARG_TYPE');
  });
});

describe('daxIO at a window edge', () => {
  test('a file whose blocks straddle the 2 GiB window edge reads and writes correctly', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-dax-'));
    const m = mapFile(path.join(dir, 'big.img'), { create: true, size: 5 * GiB, sparse: true });
    const dev = devices.pmem(m);
    try {
      const t = new TestFs(dev);
      const edgeBlock = m.windowSize / PAGE;
      for (let i = 0; i < 4; i++) t.map(i, edgeBlock - 2 + i, false);   // contiguous across the edge
      const data = pattern(4 * PAGE - 100, 9);
      expect(daxIO('write', t.inode(4 * PAGE), 50, data, t.getBlock)).toBe(data.length);
      const back = Buffer.alloc(data.length);
      expect(daxIO('read', t.inode(4 * PAGE), 50, back, t.getBlock)).toBe(data.length);
      expect(back.equals(data)).toBe(true);
      expect(t.calls.some((c) => c.count >= 4)).toBe(true);
    } finally {
      dev.close();
      m.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
