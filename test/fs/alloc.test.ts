import * as fs from 'node:fs';
import * as path from 'node:path';
import { devices, BlockDevice } from '../../lib/block';
import { BlockAllocator, FIRST_FREE_INODE, InodeAllocator } from '../../lib/fs/alloc';
import { Journal, Transaction } from '../../lib/fs/journal';
import { BLOCKS_PER_GROUP, BLOCK_SIZE, computeLayout, Layout } from '../../lib/fs/layout';
import { metaIO, MetaIO } from '../../lib/fs/metaio';
import { mapFile, PmemMapping } from '../../lib/pmem';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

const MiB = 1024 * 1024;
const TiB = 1024 ** 4;

interface Fs {
  dev: BlockDevice;
  io: MetaIO;
  layout: Layout;
  journal: Journal;
  blocks: BlockAllocator;
  inodes: InodeAllocator;
}

const open: BlockDevice[] = [];
afterEach(() => {
  while (open.length) open.pop()!.close();
});

function formatted(dev: BlockDevice, io: MetaIO = metaIO(dev)): Fs {
  open.push(dev);
  const layout = computeLayout(dev.size);
  const area = { start: layout.journalStart * BLOCK_SIZE, size: layout.journalBlocks * BLOCK_SIZE, blockSize: BLOCK_SIZE };
  Journal.format(io, area);
  BlockAllocator.format(io, layout);
  InodeAllocator.format(io, layout);
  return {
    dev, io, layout, journal: Journal.open(io, area),
    blocks: new BlockAllocator(io, layout), inodes: new InodeAllocator(io, layout),
  };
}

function ram(size: number): Fs {
  return formatted(devices.ram(size));
}

/** Every byte the allocators own: the summary, both bitmaps. */
function allocState(f: Fs): Buffer {
  const L = f.layout;
  return f.io.read(L.summaryStart * BLOCK_SIZE, (L.inodeTableStart - L.summaryStart) * BLOCK_SIZE);
}

function commit(f: Fs, body: (tx: Transaction) => void): void {
  const tx = f.journal.begin();
  body(tx);
  f.journal.commit(tx);
}

function expectCode(fn: () => unknown, code: string, errno?: number): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toEqual(expect.objectContaining(errno === undefined ? { code } : { code, errno }));
}

/** Seeded PRNG (mulberry32), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A MetaIO that records the byte offset of every read. */
function recording(inner: MetaIO, reads: number[]): MetaIO {
  return {
    device: inner.device,
    read: (offset, length) => { reads.push(offset); return inner.read(offset, length); },
    write: (offset, data) => inner.write(offset, data),
    barrier: () => inner.barrier(),
  };
}

describe('BlockAllocator', () => {
  test('format marks every metadata block and the backup superblock used, the rest free, and the summary matches the bitmap', () => {
    // 300 MiB: three groups, the last one partial
    for (const f of [ram(64 * MiB), ram(300 * MiB)]) {
      const L = f.layout;
      const b = f.blocks;
      for (const blk of [0, 1, L.journalStart + L.journalBlocks, L.bitmapStart, L.inodeTableStart, L.dataStart - 1, L.backupSuperblock]) {
        expect(b.isAllocated(blk)).toBe(true);
      }
      expect(b.isAllocated(L.dataStart)).toBe(false);
      expect(b.isAllocated(L.backupSuperblock - 1)).toBe(false);
      expect(b.freeBlocks()).toBe(L.backupSuperblock - L.dataStart);
      let recount = 0;
      for (let g = 0; g < L.groups; g++) {
        const c = b.countGroup(g);
        expect(c.bitmapFree).toBe(c.summaryFree);
        recount += c.bitmapFree;
      }
      expect(recount).toBe(b.freeBlocks());
      // bits past the device's end are set, so no search can ever return them
      const lastBitmap = f.io.read((L.bitmapStart + L.groups - 1) * BLOCK_SIZE, BLOCK_SIZE);
      const tailBits = L.groups * BLOCKS_PER_GROUP - L.blocks;
      if (tailBits >= 8) expect(lastBitmap[BLOCK_SIZE - 1]).toBe(0xff);
    }
  });

  test('format over a dirty device gives the same state as over a zeroed one', () => {
    const clean = ram(16 * MiB);
    const dirty = devices.ram(16 * MiB);
    const junk = Buffer.alloc(dirty.size, 0xa5);
    dirty.writeSectors(0, junk);
    const f = formatted(dirty);
    expect(allocState(f).equals(allocState(clean))).toBe(true);
  });

  test('allocate returns the first free block at or after the goal, as one contiguous run of up to count blocks', () => {
    const f = ram(64 * MiB);
    const goal = f.layout.dataStart + 1000;
    commit(f, (tx) => {
      expect(f.blocks.allocate(tx, goal, 8)).toEqual({ start: goal, count: 8 });
      // the next file block goes right after the previous one
      expect(f.blocks.allocate(tx, goal + 8, 4)).toEqual({ start: goal + 8, count: 4 });
      // a goal inside a used run gets the first free block after it
      expect(f.blocks.allocate(tx, goal + 2, 1)).toEqual({ start: goal + 12, count: 1 });
    });
    for (let blk = goal; blk < goal + 13; blk++) expect(f.blocks.isAllocated(blk)).toBe(true);
    expect(f.blocks.isAllocated(goal + 13)).toBe(false);
    expect(f.blocks.isAllocated(goal - 1)).toBe(false);
    expect(f.blocks.freeBlocks()).toBe(f.layout.backupSuperblock - f.layout.dataStart - 13);
  });

  test('a goal in the metadata or past the data area starts the search at the first data block', () => {
    const f = ram(64 * MiB);
    const L = f.layout;
    const tx = f.journal.begin();
    expect(f.blocks.allocate(tx, 0, 1).start).toBe(L.dataStart);
    expect(f.blocks.allocate(tx, L.backupSuperblock, 1).start).toBe(L.dataStart + 1);
    expect(f.blocks.allocate(tx, L.blocks + 100, 1).start).toBe(L.dataStart + 2);
  });

  test('a run stops at the first used block and at the end of its group, so it can be shorter than asked', () => {
    const f = formatted(devices.ram(300 * MiB));
    const L = f.layout;
    const g1 = BLOCKS_PER_GROUP;
    commit(f, (tx) => {
      f.blocks.allocate(tx, L.dataStart + 10, 1);
      expect(f.blocks.allocate(tx, L.dataStart, 100)).toEqual({ start: L.dataStart, count: 10 });
      expect(f.blocks.allocate(tx, g1 - 5, 100)).toEqual({ start: g1 - 5, count: 5 });
      expect(f.blocks.allocate(tx, g1 - 5, 100)).toEqual({ start: g1, count: 100 });
    });
  });

  test('allocate wraps around to the start of the data area when nothing is free after the goal', () => {
    const f = ram(16 * MiB);
    const L = f.layout;
    const tailStart = L.backupSuperblock - 50;
    commit(f, (tx) => {
      expect(f.blocks.allocate(tx, tailStart, 1000)).toEqual({ start: tailStart, count: 50 });
      expect(f.blocks.allocate(tx, tailStart + 10, 3)).toEqual({ start: L.dataStart, count: 3 });
    });
  });

  test('wrap-around also covers the goal\'s own group below the goal, on a multi-group device', () => {
    const f = formatted(devices.ram(300 * MiB));
    const L = f.layout;
    const goal = 2 * BLOCKS_PER_GROUP + 100;
    commit(f, (tx) => {
      // fill everything from the goal to the end, then groups 0 and 1
      let r = f.blocks.allocate(tx, goal, BLOCKS_PER_GROUP);
      expect(r).toEqual({ start: goal, count: L.backupSuperblock - goal });
      for (let g = 0; g < 2; g++) {
        r = f.blocks.allocate(tx, g * BLOCKS_PER_GROUP + (g === 0 ? L.dataStart : 0), BLOCKS_PER_GROUP);
        expect(r.start + r.count).toBe((g + 1) * BLOCKS_PER_GROUP);
      }
      expect(f.blocks.allocate(tx, goal + 5, 10)).toEqual({ start: 2 * BLOCKS_PER_GROUP, count: 10 });
    });
  });

  test('a full group is skipped by its summary count, without reading its bitmap', () => {
    const reads: number[] = [];
    const dev = devices.ram(400 * MiB);
    const f = formatted(dev, recording(metaIO(dev), reads));
    const L = f.layout;
    commit(f, (tx) => {
      const r = f.blocks.allocate(tx, BLOCKS_PER_GROUP, BLOCKS_PER_GROUP);
      expect(r).toEqual({ start: BLOCKS_PER_GROUP, count: BLOCKS_PER_GROUP });
    });
    expect(f.blocks.countGroup(1)).toEqual({ bitmapFree: 0, summaryFree: 0 });
    reads.length = 0;
    const tx = f.journal.begin();
    expect(f.blocks.allocate(tx, BLOCKS_PER_GROUP + 7, 1)).toEqual({ start: 2 * BLOCKS_PER_GROUP, count: 1 });
    const group1Bitmap = (L.bitmapStart + 1) * BLOCK_SIZE;
    expect(reads).not.toContain(group1Bitmap);
    expect(reads).toContain(group1Bitmap + BLOCK_SIZE);
  });

  test('ENOSPC when every block is used, and the failed call changes nothing', () => {
    const f = ram(64 * MiB);
    const L = f.layout;
    commit(f, (tx) => {
      let got = 0;
      while (got < L.backupSuperblock - L.dataStart) got += f.blocks.allocate(tx, L.dataStart, BLOCKS_PER_GROUP).count;
    });
    expect(f.blocks.freeBlocks()).toBe(0);
    const before = allocState(f);
    const tx = f.journal.begin();
    expectCode(() => f.blocks.allocate(tx, L.dataStart + 77, 1), 'ENOSPC', -28);
    expect(tx.entries).toHaveLength(0);
    f.journal.commit(tx);
    expect(allocState(f).equals(before)).toBe(true);
  });

  test('freed blocks can be allocated again', () => {
    const f = ram(64 * MiB);
    const L = f.layout;
    let run = { start: 0, count: 0 };
    commit(f, (tx) => { run = f.blocks.allocate(tx, L.dataStart + 500, 64); });
    commit(f, (tx) => f.blocks.free(tx, run.start + 16, 32));
    expect(f.blocks.isAllocated(run.start + 15)).toBe(true);
    expect(f.blocks.isAllocated(run.start + 16)).toBe(false);
    expect(f.blocks.isAllocated(run.start + 47)).toBe(false);
    expect(f.blocks.isAllocated(run.start + 48)).toBe(true);
    expect(f.blocks.freeBlocks()).toBe(L.backupSuperblock - L.dataStart - 32);
    commit(f, (tx) => expect(f.blocks.allocate(tx, run.start, 100)).toEqual({ start: run.start + 16, count: 32 }));
    expect(f.blocks.countGroup(0)).toEqual({ bitmapFree: f.blocks.freeBlocks(), summaryFree: f.blocks.freeBlocks() });
  });

  test('a free that spans two groups updates both groups\' bitmaps and summaries', () => {
    const f = formatted(devices.ram(300 * MiB));
    const edge = BLOCKS_PER_GROUP;
    commit(f, (tx) => {
      f.blocks.allocate(tx, edge - 100, 100);
      f.blocks.allocate(tx, edge, 100);
    });
    commit(f, (tx) => f.blocks.free(tx, edge - 60, 120));
    expect(f.blocks.isAllocated(edge - 61)).toBe(true);
    expect(f.blocks.isAllocated(edge - 60)).toBe(false);
    expect(f.blocks.isAllocated(edge + 59)).toBe(false);
    expect(f.blocks.isAllocated(edge + 60)).toBe(true);
    for (const g of [0, 1]) {
      const c = f.blocks.countGroup(g);
      expect(c.bitmapFree).toBe(c.summaryFree);
    }
  });

  test('a double free, or freeing metadata or blocks past the data area, is EUCLEAN and changes nothing', () => {
    const f = ram(64 * MiB);
    const L = f.layout;
    let run = { start: 0, count: 0 };
    commit(f, (tx) => { run = f.blocks.allocate(tx, L.dataStart + 100, 10); });
    commit(f, (tx) => f.blocks.free(tx, run.start + 5, 1));
    const before = allocState(f);
    const tx = f.journal.begin();
    expectCode(() => f.blocks.free(tx, run.start + 5, 1), 'EUCLEAN', -117);            // freed twice
    expectCode(() => f.blocks.free(tx, run.start, 10), 'EUCLEAN', -117);               // part of it already free
    expectCode(() => f.blocks.free(tx, run.start + 10, 1), 'EUCLEAN', -117);           // never allocated
    expectCode(() => f.blocks.free(tx, L.dataStart - 1, 2), 'EUCLEAN', -117);          // metadata
    expectCode(() => f.blocks.free(tx, L.inodeTableStart, 1), 'EUCLEAN', -117);
    expectCode(() => f.blocks.free(tx, L.backupSuperblock, 1), 'EUCLEAN', -117);       // backup superblock
    expectCode(() => f.blocks.free(tx, L.backupSuperblock - 1, 2), 'EUCLEAN', -117);
    expect(tx.entries).toHaveLength(0);
    f.journal.commit(tx);
    expect(allocState(f).equals(before)).toBe(true);
  });

  test('allocations inside one uncommitted transaction never hand out the same block twice', () => {
    const f = formatted(devices.ram(300 * MiB));
    const L = f.layout;
    const rnd = random(7);
    const tx = f.journal.begin();
    const owner = new Map<number, number>();
    let total = 0;
    for (let i = 0; i < 200; i++) {
      const goal = L.dataStart + Math.floor(rnd() * 1500);
      const r = f.blocks.allocate(tx, goal, 1 + Math.floor(rnd() * 6));
      for (let blk = r.start; blk < r.start + r.count; blk++) {
        expect(owner.has(blk)).toBe(false);
        owner.set(blk, i);
      }
      expect(f.blocks.isAllocated(r.start, tx)).toBe(true);
      expect(f.blocks.isAllocated(r.start + r.count - 1, tx)).toBe(true);
      total += r.count;
    }
    expect(f.blocks.freeBlocks(tx)).toBe(L.backupSuperblock - L.dataStart - total);
    expect(f.blocks.freeBlocks()).toBe(L.backupSuperblock - L.dataStart);   // not committed yet
    f.journal.commit(tx);
    expect(f.blocks.freeBlocks()).toBe(L.backupSuperblock - L.dataStart - total);
    for (const blk of owner.keys()) expect(f.blocks.isAllocated(blk)).toBe(true);
  });

  test('a transaction that is never committed leaves the device as it was', () => {
    const f = ram(64 * MiB);
    const L = f.layout;
    commit(f, (tx) => { f.blocks.allocate(tx, L.dataStart, 50); f.inodes.allocate(tx); });
    const before = allocState(f);
    const tx = f.journal.begin();
    f.blocks.allocate(tx, L.dataStart, 100);
    f.blocks.free(tx, L.dataStart + 10, 20);
    f.inodes.allocate(tx);
    f.inodes.free(tx, FIRST_FREE_INODE);
    expect(tx.entries.length).toBeGreaterThan(0);
    expect(allocState(f).equals(before)).toBe(true);
  });

  test('a transaction writes only the bytes that change: a few bitmap bytes and one summary count', () => {
    const f = ram(64 * MiB);
    const start = Math.ceil(f.layout.dataStart / 8) * 8 + 3;   // bits 3..7 of one byte
    const tx = f.journal.begin();
    expect(f.blocks.allocate(tx, start, 5)).toEqual({ start, count: 5 });
    expect(tx.entries.map((e) => e.data.length)).toEqual([1, 4]);
    f.journal.commit(tx);
    const free = f.journal.begin();
    f.blocks.free(free, start + 1, 1);
    expect(free.entries.map((e) => e.data.length)).toEqual([1, 4]);
    const ino = f.journal.begin();
    f.inodes.allocate(ino);
    expect(ino.entries.map((e) => e.data.length)).toEqual([1]);
  });

  test('the summary equals a recount of the bitmap after 2000 seeded random allocations and frees', () => {
    const f = formatted(devices.ram(300 * MiB));
    const L = f.layout;
    const rnd = random(2026);
    const live: Array<{ start: number; count: number }> = [];
    let used = 0;
    for (let op = 0; op < 2000; op++) {
      commit(f, (tx) => {
        if (live.length === 0 || rnd() < 0.55) {
          const goal = Math.floor(rnd() * L.blocks);
          const want = rnd() < 0.05 ? 1 + Math.floor(rnd() * 40000) : 1 + Math.floor(rnd() * 64);
          const r = f.blocks.allocate(tx, goal, want);
          expect(r.count).toBeGreaterThanOrEqual(1);
          expect(r.count).toBeLessThanOrEqual(want);
          live.push(r);
          used += r.count;
        } else {
          const [r] = live.splice(Math.floor(rnd() * live.length), 1);
          // free a random piece of the run, keep the rest
          const a = Math.floor(rnd() * r.count);
          const b = a + 1 + Math.floor(rnd() * (r.count - a));
          f.blocks.free(tx, r.start + a, b - a);
          if (a > 0) live.push({ start: r.start, count: a });
          if (b < r.count) live.push({ start: r.start + b, count: r.count - b });
          used -= b - a;
        }
      });
    }
    expect(f.blocks.freeBlocks()).toBe(L.backupSuperblock - L.dataStart - used);
    let recount = 0;
    for (let g = 0; g < L.groups; g++) {
      const c = f.blocks.countGroup(g);
      expect(c.bitmapFree).toBe(c.summaryFree);
      recount += c.bitmapFree;
    }
    expect(recount).toBe(f.blocks.freeBlocks());
    for (const r of live.slice(0, 200)) {
      expect(f.blocks.isAllocated(r.start)).toBe(true);
      expect(f.blocks.isAllocated(r.start + r.count - 1)).toBe(true);
    }
  });

  test('works the same on a device without direct access (sector read-modify-write)', () => {
    const f = formatted(devices.windowed(64 * MiB));
    const ref = ram(64 * MiB);
    const L = f.layout;
    for (const x of [f, ref]) {
      commit(x, (tx) => { x.blocks.allocate(tx, L.dataStart + 9, 30); x.inodes.allocate(tx, 10); });
      commit(x, (tx) => x.blocks.free(tx, L.dataStart + 20, 5));
    }
    expect(allocState(f).equals(allocState(ref))).toBe(true);
  });

  test('bad arguments are TypeError or RangeError with Node codes', () => {
    const f = ram(16 * MiB);
    const tx = f.journal.begin();
    expectCode(() => f.blocks.allocate(tx, f.layout.dataStart, 0), 'ERR_OUT_OF_RANGE');
    expectCode(() => f.blocks.allocate(tx, -1, 1), 'ERR_OUT_OF_RANGE');
    expectCode(() => f.blocks.allocate(tx, '5' as unknown as number, 1), 'ERR_INVALID_ARG_TYPE');
    expectCode(() => f.blocks.isAllocated(f.layout.blocks), 'ERR_OUT_OF_RANGE');
    expectCode(() => f.blocks.countGroup(f.layout.groups), 'ERR_OUT_OF_RANGE');
    expectCode(() => f.inodes.isAllocated(f.layout.inodeCount), 'ERR_OUT_OF_RANGE');
  });
});

describe('a 1 TiB device', () => {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : undefined;   // tmpfs: msync costs nothing

  /** Seconds per call: the best of 5 rounds of `n` calls. */
  function perCall(n: number, fn: () => void): number {
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const t0 = process.hrtime.bigint();   // best of rounds: other processes only ever add time
      for (let i = 0; i < n; i++) fn();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9 / n);
    }
    return best;
  }

  /** Formats both devices, then compares what the allocator's calls cost on each. */
  function scales(bigDev: BlockDevice, smallDev: BlockDevice): void {
    const reads: number[] = [];
    const t0 = process.hrtime.bigint();
    const B = formatted(bigDev, recording(metaIO(bigDev), reads));
    const formatSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const S = formatted(smallDev);
    expect(formatSeconds).toBeLessThan(10);
    expect(B.layout.groups).toBe(8192);
    expect(B.blocks.freeBlocks()).toBe(B.layout.backupSuperblock - B.layout.dataStart);
    // the first data block lies past several groups of metadata: a search from block 0 skips them
    expect(Math.floor(B.layout.dataStart / BLOCKS_PER_GROUP)).toBeGreaterThan(4);
    for (const g of [0, 8, 4000, 8191]) expect(B.blocks.countGroup(g).bitmapFree).toBe(B.blocks.countGroup(g).summaryFree);

    // statfs reads the summary (4 bytes a group) and never a bitmap
    reads.length = 0;
    B.blocks.freeBlocks();
    const L = B.layout;
    expect(reads.every((at) => at >= L.summaryStart * BLOCK_SIZE && at < L.bitmapStart * BLOCK_SIZE)).toBe(true);

    const cost = (f: Fs) => {
      const start = f.layout.dataStart + 4096;
      return {
        // a file's next block, in a fresh transaction each time
        alloc: perCall(100, () => { f.blocks.allocate(f.journal.begin(), start, 16); }),
        // a goal among the metadata: the search starts at the first data block
        skip: perCall(100, () => { f.blocks.allocate(f.journal.begin(), 0, 16); }),
        // allocate and give back in one transaction
        pair: perCall(100, () => { const tx = f.journal.begin(); const r = f.blocks.allocate(tx, start, 16); f.blocks.free(tx, r.start, r.count); }),
        statfs: perCall(100, () => { f.blocks.freeBlocks(); }),
      };
    };
    cost(S); cost(B);   // warm up the JIT
    const s = cost(S);
    const b = cost(B);
    const keys = Object.keys(s) as Array<keyof typeof s>;
    console.log(`${bigDev.name}: format of the 1 TiB device ${formatSeconds.toFixed(2)} s; per call, 64 MiB vs 1 TiB: ` +
      keys.map((k) => `${k} ${(s[k] * 1e6).toFixed(1)} us vs ${(b[k] * 1e6).toFixed(1)} us (${(b[k] / s[k]).toFixed(2)}x)`).join(', '));
    expect(b.alloc / s.alloc).toBeLessThan(5);
    expect(b.skip / s.skip).toBeLessThan(5);
    expect(b.pair / s.pair).toBeLessThan(5);
    // statfs sums 8192 counts here (32 KiB) against 1 on 64 MiB: bounded by the summary's size
    // (1/8 Mi of the device), not a scan; the format keeps no total to make it O(1)
  }

  test('on a sparse 1 TiB file (sector I/O): format takes seconds; allocate costs about what it costs on 64 MiB (no scan of the device)', () => {
    const dir = makeTempDir('daxfs-alloc-', base);
    // one-page windows on both, so neither gets a free ride from window locality
    const big = devices.windowed(TiB, { path: path.join(dir, 'big'), window: BLOCK_SIZE });
    const small = devices.windowed(64 * MiB, { path: path.join(dir, 'small'), window: BLOCK_SIZE });
    scales(big, small);
  });

  // mapFile of 1 TiB makes 512 external ArrayBuffers of 2 GiB at once, each counted by V8 as
  // external memory: every one forces a full GC, 30 s to minutes in all. Until lib/pmem makes
  // windows on first use, this runs on request.
  const pmemReason = 'DAXFS_TEST_TIB_PMEM is not set (mapping 1 TiB costs 30+ s until lib/pmem creates its 2 GiB windows lazily)';
  const pmemTest = process.env.DAXFS_TEST_TIB_PMEM === '1' ? test : test.skip;
  pmemTest(`on a sparse 1 TiB pmem file: format takes seconds; allocate costs about what it costs on 64 MiB${process.env.DAXFS_TEST_TIB_PMEM === '1' ? '' : ` [skipped: ${pmemReason}]`}`, () => {
    const dir = makeTempDir('daxfs-alloc-', base);
    const mappings: PmemMapping[] = [
      mapFile(path.join(dir, 'big'), { create: true, size: TiB, sparse: true }),
      mapFile(path.join(dir, 'small'), { create: true, size: 64 * MiB, sparse: true }),
    ];
    try {
      scales(devices.pmem(mappings[0]), devices.pmem(mappings[1]));
    } finally {
      while (open.length) open.pop()!.close();
      for (const m of mappings) m.close();
    }
  });
});

describe('InodeAllocator', () => {
  test('format marks inodes 0, 1 and the root (2) used and every other inode free', () => {
    const f = ram(64 * MiB);
    const n = f.layout.inodeCount;
    expect([0, 1, 2].map((i) => f.inodes.isAllocated(i))).toEqual([true, true, true]);
    expect(f.inodes.isAllocated(3)).toBe(false);
    expect(f.inodes.isAllocated(n - 1)).toBe(false);
    expect(f.inodes.freeInodes()).toBe(n - 3);
  });

  test('allocate returns the lowest free inode at or after the goal', () => {
    const f = ram(1024 * MiB);   // 65536 inodes: two bitmap blocks
    commit(f, (tx) => {
      expect(f.inodes.allocate(tx)).toBe(3);
      expect(f.inodes.allocate(tx)).toBe(4);
      expect(f.inodes.allocate(tx, 100)).toBe(100);
      expect(f.inodes.allocate(tx, 100)).toBe(101);
      expect(f.inodes.allocate(tx, 0)).toBe(5);                               // reserved goal: from 3
      expect(f.inodes.allocate(tx, 40000)).toBe(40000);                       // a later bitmap block
    });
    expect(f.inodes.freeInodes()).toBe(f.layout.inodeCount - 9);
  });

  test('allocate wraps around to the lowest free inode when none is free after the goal', () => {
    const f = ram(4 * MiB);
    const n = f.layout.inodeCount;
    commit(f, (tx) => {
      expect(f.inodes.allocate(tx, n - 1)).toBe(n - 1);
      expect(f.inodes.allocate(tx, n - 1)).toBe(3);
    });
  });

  test('ENOSPC when every inode is used, and the failed call changes nothing', () => {
    const f = ram(4 * MiB);
    const n = f.layout.inodeCount;
    commit(f, (tx) => {
      for (let i = 3; i < n; i++) expect(f.inodes.allocate(tx, 3)).toBe(i);
    });
    expect(f.inodes.freeInodes()).toBe(0);
    const before = allocState(f);
    const tx = f.journal.begin();
    expectCode(() => f.inodes.allocate(tx, 50), 'ENOSPC', -28);
    expect(tx.entries).toHaveLength(0);
    expect(allocState(f).equals(before)).toBe(true);
  });

  test('a freed inode is handed out again', () => {
    const f = ram(16 * MiB);
    commit(f, (tx) => { for (let i = 0; i < 20; i++) f.inodes.allocate(tx); });
    commit(f, (tx) => f.inodes.free(tx, 10));
    expect(f.inodes.isAllocated(10)).toBe(false);
    commit(f, (tx) => expect(f.inodes.allocate(tx)).toBe(10));
    expect(f.inodes.isAllocated(10)).toBe(true);
  });

  test('freeing a free or reserved inode (or the root, or one past the table) is EUCLEAN and changes nothing', () => {
    const f = ram(16 * MiB);
    commit(f, (tx) => f.inodes.allocate(tx));
    commit(f, (tx) => f.inodes.free(tx, 3));
    const before = allocState(f);
    const tx = f.journal.begin();
    for (const ino of [3, 4, 0, 1, 2, f.layout.inodeCount]) expectCode(() => f.inodes.free(tx, ino), 'EUCLEAN', -117);
    expect(tx.entries).toHaveLength(0);
    expect(allocState(f).equals(before)).toBe(true);
  });

  test('inode allocations inside one uncommitted transaction are all different, and an uncommitted one changes nothing', () => {
    const f = ram(64 * MiB);
    const before = allocState(f);
    const tx = f.journal.begin();
    const seen = new Set<number>();
    const rnd = random(3);
    for (let i = 0; i < 300; i++) {
      const ino = f.inodes.allocate(tx, Math.floor(rnd() * 400));
      expect(seen.has(ino)).toBe(false);
      seen.add(ino);
    }
    expect(f.inodes.freeInodes(tx)).toBe(f.layout.inodeCount - 3 - 300);
    expect(allocState(f).equals(before)).toBe(true);
    f.journal.commit(tx);
    expect(f.inodes.freeInodes()).toBe(f.layout.inodeCount - 3 - 300);
  });

  test('the free count matches a model after 2000 seeded random allocations and frees', () => {
    const f = ram(16 * MiB);
    const rnd = random(99);
    const live = new Set<number>();
    for (let op = 0; op < 2000; op++) {
      commit(f, (tx) => {
        if (live.size === 0 || rnd() < 0.6) {
          const goal = Math.floor(rnd() * f.layout.inodeCount);
          const ino = f.inodes.allocate(tx, goal);
          expect(live.has(ino)).toBe(false);
          // the lowest free at or after the goal (when the goal is a usable inode)
          if (goal >= 3) for (let i = goal; i < ino; i++) expect(live.has(i)).toBe(true);
          live.add(ino);
        } else {
          const all = [...live];
          const ino = all[Math.floor(rnd() * all.length)];
          f.inodes.free(tx, ino);
          live.delete(ino);
        }
      });
    }
    expect(f.inodes.freeInodes()).toBe(f.layout.inodeCount - 3 - live.size);
    for (const ino of live) expect(f.inodes.isAllocated(ino)).toBe(true);
    // fsck's list of allocated inodes: the root and exactly the live ones, in order
    expect(f.inodes.allocatedInodes()).toEqual([2, ...[...live].sort((a, b) => a - b)]);
  });
});
