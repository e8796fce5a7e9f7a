// Reads and writes keep the inode parsed between calls while the journal's applied sequence
// number on the device does not move. Two mounts of one device (as two workers have) must
// still see each other's size and extent changes at once.
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { mapFile } from '../../lib/pmem';
import * as fs from 'node:fs';
import { makeTempDir } from '../helpers/tmp';

test("a mount's reads see another mount's truncate, growth and punch-hole at once, never the parsed old inode", () => {
  const dir = makeTempDir('daxfs-ioinode-');
  const file = `${dir}/img`;
  mapFile(file, { create: true, size: 16 << 20 }).close();
  const devA = devices.pmem(file);
  mkfs(devA);
  const devB = devices.pmem(file);
  const a = Filesystem.mount(devA, 'dax');
  const b = Filesystem.mount(devB, 'dax');
  try {
    const ha = a.open('/f', 'w+');
    ha.write(Buffer.alloc(3 * 4096, 7), 0, 3 * 4096, 0);
    const out = Buffer.alloc(3 * 4096);
    expect(ha.read(out, 0, out.length, 0)).toBe(3 * 4096);   // a's parsed inode is warm now
    const hb = b.open('/f', 'r+');
    hb.truncate(4096);
    expect(ha.read(out, 0, out.length, 0)).toBe(4096);
    hb.write(Buffer.alloc(4096, 9), 0, 4096, 8192);
    expect(ha.read(out, 0, out.length, 0)).toBe(3 * 4096);
    expect(out.subarray(4096, 8192).every((x) => x === 0)).toBe(true);
    expect(out.subarray(8192).every((x) => x === 9)).toBe(true);
    hb.allocate(8192, 4096, 'punch-hole');
    expect(ha.read(out, 0, out.length, 0)).toBe(3 * 4096);
    expect(out.subarray(8192).every((x) => x === 0)).toBe(true);
    ha.close();
    hb.close();
  } finally {
    a.unmount();
    b.unmount();
    devA.close();
    devB.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
