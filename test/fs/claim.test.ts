// Who may mount a device: one process at a time (EBUSY for the others), DAX mounts of the
// process share it, a mount without dax needs it alone. The other process is a child
// running the compiled package (dist/, built by test/helpers/child.ts when missing).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { devices, BlockDevice } from '../../lib/block';
import { claimDevice } from '../../lib/fs/claim';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { mapFile } from '../../lib/pmem';
import { DIST, describeChild, runChildAsync } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();
const MiB = 1024 * 1024;

function errorOf(fn: () => unknown): { code?: string; message: string } | undefined {
  try { fn(); } catch (e) { return e as { code?: string; message: string }; }
  return undefined;
}

function newImage(dir: string, name = 'fs.img'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 8 * MiB);
  const dev = devices.pmem(file);
  mkfs(dev);
  dev.close();
  return file;
}

async function until(what: () => boolean, ms = 30000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('one process mounts a device at a time', () => {
  test('while another process has it mounted, mount and fsck get EBUSY naming the device; once it exits they work', async () => {
    const dir = makeTempDir();
    const file = newImage(dir);
    const ready = path.join(dir, 'ready');
    const go = path.join(dir, 'go');
    // The child mounts, says so, and exits without unmounting when told: the kernel drops
    // its flock with the process, as it would after a crash.
    const child = runChildAsync(`
      const { Filesystem } = require(${JSON.stringify(path.join(DIST, 'fs', 'filesystem'))});
      const fsys = Filesystem.mount(daxfs.devices.pmem(${JSON.stringify(file)}), 'dax');
      fsys.writeFile('/from-child', 'hello');
      fs.writeFileSync(${JSON.stringify(ready)}, '');
      const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); out('done'); process.exit(0); } }, 20);`);
    let childDone = false;
    void child.then(() => { childDone = true; });
    await until(() => fs.existsSync(ready) || childDone);
    expect(childDone).toBe(false);

    const dev = devices.pmem(file);
    try {
      const m = errorOf(() => Filesystem.mount(dev, 'dax'));
      expect(m?.code).toBe('EBUSY');
      expect(m?.message).toContain(file);
      expect(m?.message).toMatch(/mounted by another process/);
      const f = errorOf(() => fsck(dev));
      expect(f?.code).toBe('EBUSY');
      expect(f?.message).toContain(file);
      expect(errorOf(() => mkfs(dev))?.code).toBe('EBUSY');

      fs.writeFileSync(go, '');
      const r = await child;
      expect(r.status).toBe(0);
      void describeChild;

      expect(fsck(dev).clean).toBe(true);
      const fsys = Filesystem.mount(dev, 'dax');
      expect(fsys.readFile('/from-child').toString()).toBe('hello');
      fsys.unmount();
    } finally {
      dev.close();
    }
  });
});

describe('inside one process', () => {
  let dir: string;
  let file: string;
  const opened: BlockDevice[] = [];
  const dev = (): BlockDevice => {
    const d = devices.pmem(file);
    opened.push(d);
    return d;
  };
  beforeAll(() => { dir = makeTempDir(); });
  beforeEach(() => { file = newImage(dir, `fs-${Date.now()}-${Math.random()}.img`); });
  afterEach(() => { while (opened.length) opened.pop()!.close(); });

  test('two DAX mounts of the same file share one filesystem: a change through one is seen at once through the other', () => {
    const a = Filesystem.mount(dev(), 'dax');
    const b = Filesystem.mount(devices.pmem(mapFile(file)), 'dax');   // a mapping of the file counts as the file
    try {
      a.mkdir('/d');
      a.writeFile('/d/x', 'one');
      expect(b.readdir('/d')).toEqual(['x']);
      expect(b.readFile('/d/x').toString()).toBe('one');
      b.writeFile('/d/y', 'two');
      a.rename('/d/y', '/d/z');
      expect(b.readdir('/d')).toEqual(['x', 'z']);
      // Commits alternate between the mounts: each must take the journal's sequence from
      // the device, or a later mount would replay a stale transaction over newer state.
      for (let i = 0; i < 5; i++) (i % 2 ? a : b).writeFile(`/d/f${i}`, `v${i}`);
      const c = Filesystem.mount(dev(), 'dax');
      expect(c.readdir('/d')).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'x', 'z']);
      c.unmount();
    } finally {
      a.unmount();
      b.unmount();
    }
    expect(fsck(dev()).clean).toBe(true);
  });

  test('a file unlinked through one mount lives on while another mount has it open, and is freed at its last close', () => {
    const a = Filesystem.mount(dev(), 'dax');
    const b = Filesystem.mount(dev(), 'dax');
    try {
      const data = Buffer.alloc(5 * 4096, 0x5a);
      a.writeFile('/big', data);
      const h = b.open('/big', 'r');
      const free = a.statfs().freeBlocks;
      a.unlink('/big');
      expect(a.statfs().freeBlocks).toBe(free);            // still open in b
      const back = Buffer.alloc(data.length);
      expect(h.read(back, 0, back.length, 0)).toBe(data.length);
      expect(back.equals(data)).toBe(true);
      h.close();
      expect(a.statfs().freeBlocks).toBe(free + 5);        // the last close freed it
    } finally {
      a.unmount();
      b.unmount();
    }
    expect(fsck(dev()).clean).toBe(true);
  });

  test('a mount without dax is refused with EBUSY while DAX mounts exist, and a DAX mount while the device is held alone', () => {
    const a = Filesystem.mount(dev(), 'dax');
    const e = errorOf(() => Filesystem.mount(dev(), { dax: false }));
    expect(e?.code).toBe('EBUSY');
    expect(e?.message).toMatch(/mounted with dax .* in this process/);
    expect(e?.message).toContain(file);
    a.unmount();
    // Alone, a mount without dax works and holds the device alone in the process: a second
    // one (another worker's, say) or a DAX mount gets EBUSY, and so does fsck.
    const alone = Filesystem.mount(dev(), { dax: false });
    try {
      expect(errorOf(() => Filesystem.mount(dev(), { dax: false }))?.code).toBe('EBUSY');
      const d = errorOf(() => Filesystem.mount(dev(), 'dax'));
      expect(d?.code).toBe('EBUSY');
      expect(d?.message).toMatch(/mount without dax/);
      expect(errorOf(() => fsck(dev()))?.code).toBe('EBUSY');
    } finally {
      alone.unmount();
    }
    Filesystem.mount(dev(), 'dax').unmount();
  });

  test('fsck checks beside DAX mounts; repair and mkfs need the device alone (EBUSY)', () => {
    const a = Filesystem.mount(dev(), 'dax');
    try {
      a.writeFile('/x', 'x');
      expect(fsck(dev())).toEqual(expect.objectContaining({ clean: true }));
      expect(errorOf(() => fsck(dev(), { repair: true }))?.code).toBe('EBUSY');
      expect(errorOf(() => mkfs(dev()))?.code).toBe('EBUSY');
      expect(a.readFile('/x').toString()).toBe('x');
    } finally {
      a.unmount();
    }
    expect(fsck(dev(), { repair: true }).clean).toBe(true);
  });

  test('ram devices are claimed per device: two of them mount independently, the same one twice shares', () => {
    const r1 = devices.ram(8 * MiB);
    const r2 = devices.ram(8 * MiB);
    opened.push(r1, r2);
    mkfs(r1);
    mkfs(r2);
    const a = Filesystem.mount(r1, 'dax');
    const b = Filesystem.mount(r2, 'dax');
    const a2 = Filesystem.mount(r1, 'dax');
    a.writeFile('/only-in-r1', '1');
    expect(a2.readdir('/')).toEqual(['only-in-r1']);
    expect(b.readdir('/')).toEqual([]);
    expect(errorOf(() => mkfs(r1))?.code).toBe('EBUSY');
    a.unmount();
    a2.unmount();
    b.unmount();
  });
});
