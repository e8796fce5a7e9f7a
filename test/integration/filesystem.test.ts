// A daxfs filesystem on real pmem: the whole device-DAX node (DAXFS_TEST_DAX_DEVICE) and an
// image file on the -o dax filesystem (DAXFS_TEST_PMEM_DIR, mapped with MAP_SYNC). mkfs,
// mount 'dax', files and directories, a file mapping's faults, fsck, and a remount from a
// new process that sees everything. The tests overwrite the device-DAX node.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { devices, fsck, mapFile, mkfs, mount } from '../../lib';
import { onDevdax, onFsdax, repoRoot } from './devices';
import { record, difference } from './powerfail-steps';

const MiB = 1 << 20;
const ROOT = repoRoot();

/** Reads `files` from the daxfs on `source` in a new Node process (through the built dist/):
 *  one process, since Node starts slowly in the emulated VM. */
function readInNewProcess(source: string, files: string[]): Buffer[] {
  const script = `
    const d = require(${JSON.stringify(path.join(ROOT, 'dist'))});
    const dev = d.devices.pmem(process.argv[1]);
    const fs = d.mount(dev, 'dax,ro');
    process.stdout.write(JSON.stringify(process.argv.slice(2).map((f) => fs.readFile(f).toString('base64'))));
    fs.unmount(); dev.close();`;
  const r = spawnSync(process.execPath, ['-e', script, source, ...files], { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.status !== 0) throw new Error(`the new process failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as string[]).map((b) => Buffer.from(b, 'base64'));
}

/** The checks both kinds of pmem share: files, directories, a large file, fsck, remount. */
function exercise(source: string, expectKind: string): void {
  const dev = devices.pmem(source);
  try {
    mkfs(dev, { label: 'it' });
    const f = mount(dev, 'dax');
    expect(f.dax).toBe(true);
    f.mkdir('/log/2026', { recursive: true });
    const small = record('fs', 'small', 5000);
    f.writeFile('/log/2026/small', small);
    // Crosses a 2 MiB boundary of the device, so several alignment units are involved.
    const large = record('fs', 'large', 3 * MiB + 123);
    f.writeFile('/log/large', large);
    const h = f.open('/log/large', 'r');
    expect(h.stat().isDax).toBe(true);
    h.close();
    // A file mapping on the device: a write fault allocates a zeroed block and maps the
    // device memory itself; a store through it is the file's data (read() sees it).
    const mh = f.open('/log/mapped', 'w+');
    mh.truncate(3 * 4096);
    const fm = mh.mmap(0, 3 * 4096, { write: true });
    expect(fm.page(0).every((x) => x === 0)).toBe(true);          // a hole: the zero page
    const page = fm.page(1, 'write');
    expect(page.every((x) => x === 0)).toBe(true);
    page.write('stored through a DAX file mapping', 100);
    fm.sync();
    const back = Buffer.alloc(33);
    mh.read(back, 0, 33, 4096 + 100);
    expect(back.toString()).toBe('stored through a DAX file mapping');
    expect(fm.stats.majorFaults).toBe(1);
    fm.unmap();
    mh.close();
    f.rename('/log/2026/small', '/log/small');
    expect(f.readdir('/log')).toEqual(['2026', 'large', 'mapped', 'small']);
    f.unmount();
    expect(fsck(dev)).toMatchObject({ clean: true, problems: [] });
    dev.close();
    const m = mapFile(source);
    try {
      expect(m.kind).toBe(expectKind);
      expect(m.isPmem).toBe(true);
    } finally {
      m.close();
    }
    const [smallBack, largeBack, mappedBack] = readInNewProcess(source, ['/log/small', '/log/large', '/log/mapped']);
    expect(mappedBack.toString('latin1', 4096 + 100, 4096 + 133)).toBe('stored through a DAX file mapping');
    expect(difference(smallBack, small)).toBeNull();
    expect(difference(largeBack, large)).toBeNull();
  } finally {
    if (!dev.closed) dev.close();
  }
}

describe('daxfs on real pmem', () => {
  onDevdax('the whole device-DAX node carries a daxfs: mkfs, mount dax, files, fsck clean, a new process reads them back', (dev) => {
    exercise(dev, 'devdax');
  });

  onFsdax('an image file on the -o dax filesystem (MAP_SYNC) carries a daxfs, read back by a new process', (dir) => {
    const image = path.join(dir, 'daxfs-it.img');
    mapFile(image, { create: true, size: 64 * MiB, sync: 'required' }).close();
    try {
      exercise(image, 'fsdax');
    } finally {
      fs.rmSync(image, { force: true });
    }
  });
});
