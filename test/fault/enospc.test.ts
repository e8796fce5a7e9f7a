// ENOSPC at every allocation of a workload: the device is filled to leave exactly k free
// blocks (the natural way: no hook in the allocator), for every k from 0 to what the
// workload needs. Each time the operation that runs out fails with ENOSPC (a write fault
// with SIGBUS whose cause is ENOSPC), fsck is clean, and every file completed before it
// reads back whole.
import { devices, BlockDevice } from '../../lib/block';
import { DaxError } from '../../lib/errors';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';

const SIZE = 4 * 1024 * 1024;
const BLOCK = 4096;

const fill = (n: number, byte: number) => Buffer.alloc(n, byte);

/** One step of the workload, and the files (path -> contents) it leaves when it completes. */
interface Step { what: string; run: (f: Filesystem) => void; files?: Record<string, Buffer> }

const LONG = 'x'.repeat(180);
const steps: Step[] = [
  { what: 'mkdir /w', run: (f) => f.mkdir('/w') },
  { what: 'a 3-block file', run: (f) => f.writeFile('/w/a', fill(3 * BLOCK, 1)), files: { '/w/a': fill(3 * BLOCK, 1) } },
  { what: 'a small file', run: (f) => f.writeFile('/w/b', 'bee'), files: { '/w/b': Buffer.from('bee') } },
  // Two files appended in turns: each ends with 11 one-block extents, so each needs an extent block.
  ...Array.from({ length: 22 }, (_, i): Step => {
    const path = i % 2 ? '/w/d' : '/w/c';
    const blocks = Math.floor(i / 2) + 1;
    return {
      what: `append block ${blocks} of ${path}`,
      run: (f) => {
        const h = f.open(path, 'a');
        try { h.write(fill(BLOCK, 0x10 + blocks)); } finally { h.close(); }
      },
      files: { [path]: Buffer.concat(Array.from({ length: blocks }, (_, b) => fill(BLOCK, 0x11 + b))) },
    };
  }),
  {
    what: 'a write fault into a hole',
    run: (f) => {
      const h = f.open('/w/e', 'w+');
      try {
        h.truncate(2 * BLOCK);
        const m = h.mmap(0, 2 * BLOCK, { write: true });
        m.page(1, 'write').fill(0xee);
        m.unmap();
      } finally { h.close(); }
    },
    files: { '/w/e': Buffer.concat([fill(BLOCK, 0), fill(BLOCK, 0xee)]) },
  },
  {
    what: 'fallocate 4 blocks',
    run: (f) => {
      const h = f.open('/w/f', 'w');
      try { h.allocate(0, 4 * BLOCK); } finally { h.close(); }
    },
    files: { '/w/f': fill(4 * BLOCK, 0) },
  },
  { what: 'mkdir /w/sub', run: (f) => f.mkdir('/w/sub') },
  // Long names: the directory's one block fills up and splits into leaves under an index.
  ...Array.from({ length: 24 }, (_, i): Step => ({
    what: `entry ${i} in /w/sub`,
    run: (f) => f.writeFile(`/w/sub/${i}-${LONG}`, ''),
    files: { [`/w/sub/${i}-${LONG}`]: Buffer.alloc(0) },
  })),
];

/** A fresh filesystem with a filler file that leaves exactly `free` blocks. */
function filled(free: number): { dev: BlockDevice; f: Filesystem; filler: number } {
  const dev = devices.ram(SIZE);
  mkfs(dev);
  const f = Filesystem.mount(dev, 'dax');
  const filler = f.statfs().freeBlocks - free;
  const h = f.open('/filler', 'w');
  h.allocate(0, filler * BLOCK);
  h.write(Buffer.from('filler head'), 0, 11, 0);
  h.close();
  expect(f.statfs().freeBlocks).toBe(free);
  return { dev, f, filler };
}

function isENOSPC(e: unknown): boolean {
  if (!(e instanceof DaxError)) return false;
  if (e.code === 'SIGBUS') return (e.cause as DaxError | undefined)?.code === 'ENOSPC';
  return e.code === 'ENOSPC';
}

/** Runs the workload; returns the index of the step that failed (steps.length if none). */
function runWorkload(f: Filesystem): { failed: number; error?: unknown } {
  for (let i = 0; i < steps.length; i++) {
    try {
      steps[i].run(f);
    } catch (error) {
      return { failed: i, error };
    }
  }
  return { failed: steps.length };
}

/** Every file of the steps before `upTo` (later steps win), read back. */
function expectCompleted(f: Filesystem, upTo: number): void {
  const want: Record<string, Buffer> = {};
  for (let i = 0; i < upTo; i++) Object.assign(want, steps[i].files ?? {});
  for (const [path, data] of Object.entries(want)) {
    expect([path, f.readFile(path).equals(data)]).toEqual([path, true]);
  }
}

test('the workload needs a known number of blocks, and completes with that many free', () => {
  const { dev, f } = filled(200);
  const before = f.statfs().freeBlocks;
  expect(runWorkload(f).failed).toBe(steps.length);
  expect(before - f.statfs().freeBlocks).toBeGreaterThan(30);
  f.unmount();
  expect(fsck(dev).problems).toEqual([]);
  dev.close();
});

test('ENOSPC at every allocation: the step fails with ENOSPC, fsck is clean, completed files are whole', () => {
  // What the workload uses, measured: one more free block than that and nothing fails.
  const probe = filled(200);
  const start = probe.f.statfs().freeBlocks;
  runWorkload(probe.f);
  const needed = start - probe.f.statfs().freeBlocks;
  probe.f.unmount();
  probe.dev.close();

  const failedAt = new Set<string>();
  for (let k = 0; k <= needed; k++) {
    const { dev, f } = filled(k);
    const r = runWorkload(f);
    if (k < needed) {
      expect([k, r.failed < steps.length, isENOSPC(r.error)]).toEqual([k, true, true]);
      failedAt.add(steps[r.failed].what);
    } else {
      expect(r.failed).toBe(steps.length);
    }
    expectCompleted(f, r.failed);
    expect(f.readFile('/filler').subarray(0, 11).toString()).toBe('filler head');
    f.unmount();
    expect([k, fsck(dev).problems]).toEqual([k, []]);
    const again = Filesystem.mount(dev, 'dax');   // and it still mounts, with the same files
    expectCompleted(again, r.failed);
    again.unmount();
    dev.close();
  }
  // The failures fell on allocations of every kind: data, directory, extent block, fault, fallocate.
  const kinds = [...failedAt].join('\n');
  for (const kind of ['mkdir /w', 'a 3-block file', 'append block 11', 'a write fault', 'fallocate', 'entry ']) {
    expect(kinds).toContain(kind);
  }
}, 180000);
