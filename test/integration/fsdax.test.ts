// mapFile on a real filesystem mounted -o dax (MAP_SYNC): DAXFS_TEST_PMEM_DIR.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DaxError, mapFile } from '../../lib';
import { fsdax, mountOf, onFsdax, onRemountable } from './devices';

const MiB = 1 << 20;
const made: string[] = [];

/** A fresh directory for one test inside `base`, removed after the file. */
function freshDir(base: string): string {
  const d = fs.mkdtempSync(path.join(base, 'daxfs-it-'));
  made.push(d);
  return d;
}
afterAll(() => {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
});

/** Bytes that differ from one offset to the next and from one seed to another. */
function bytes(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function daxError(fn: () => unknown): DaxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DaxError);
    return e as DaxError;
  }
  throw new Error('expected a DaxError, nothing was thrown');
}

/** A directory on a filesystem that cannot do MAP_SYNC: /tmp (tmpfs in the VM), or os.tmpdir(). */
function nonDaxDir(): string {
  for (const candidate of ['/tmp', os.tmpdir(), '/dev/shm']) {
    try {
      const m = mountOf(candidate);
      if (m && !m.options.includes('dax') && !m.options.includes('dax=always')) return candidate;
    } catch {
      // not there: try the next
    }
  }
  throw new Error('no directory on a non-DAX filesystem found (/tmp, os.tmpdir(), /dev/shm)');
}

describe('a file on a filesystem mounted -o dax', () => {
  beforeAll(() => {
    if (fsdax.available) console.info(`fsdax tests in ${fsdax.path}: ${JSON.stringify(mountOf(fsdax.path))}`);
  });

  onFsdax('mapFile(create, size) gives kind fsdax and isPmem (MAP_SYNC was granted)', (dir) => {
    const file = path.join(freshDir(dir), 'a');
    const m = mapFile(file, { create: true, size: 4 * MiB });
    try {
      expect(m.kind).toBe('fsdax');
      expect(m.isPmem).toBe(true);
      expect(m.size).toBe(4 * MiB);
      expect(['cache-line', 'byte']).toContain(m.granularity);
      expect(fs.statSync(file).size).toBe(4 * MiB);
    } finally {
      m.close();
    }
  });

  onFsdax("sync: 'required' maps with MAP_SYNC", (dir) => {
    const file = path.join(freshDir(dir), 'b');
    const m = mapFile(file, { create: true, size: MiB, sync: 'required' });
    try {
      expect(m.kind).toBe('fsdax');
      expect(m.isPmem).toBe(true);
    } finally {
      m.close();
    }
  });

  onFsdax("sync: 'required' works on a sparse file too (blocks are allocated by the write fault)", (dir) => {
    const file = path.join(freshDir(dir), 'sparse');
    const m = mapFile(file, { create: true, size: 2 * MiB, sparse: true, sync: 'required' });
    try {
      expect(m.kind).toBe('fsdax');
      const data = bytes(8192, 7);
      m.copy(MiB + 4096, data);
      expect(Buffer.compare(m.view(MiB + 4096, 8192), data)).toBe(0);
    } finally {
      m.close();
    }
    const back = fs.readFileSync(file);
    expect(Buffer.compare(back.subarray(MiB + 4096, MiB + 4096 + 8192), bytes(8192, 7))).toBe(0);
    expect(back.subarray(0, 4096).every((b) => b === 0)).toBe(true);
  });

  onFsdax("a non-DAX filesystem (tmpfs) refuses sync: 'required' with EOPNOTSUPP, and maps as a plain file without it", (dir) => {
    void dir;
    const where = freshDir(nonDaxDir());
    const file = path.join(where, 'c');
    const e = daxError(() => mapFile(file, { create: true, size: MiB, sync: 'required' }));
    expect(e.code).toBe('EOPNOTSUPP');
    expect(e.message).toMatch(/\S/);
    const m = mapFile(file, { create: true, size: MiB });
    try {
      expect(m.kind).toBe('file');
      if (!process.env.DAXFS_FORCE_PMEM) expect(m.isPmem).toBe(false);
    } finally {
      m.close();
    }
  });

  onFsdax('bytes stored through copy() and persist() are read back with fs.readFileSync after close()', (dir) => {
    const file = path.join(freshDir(dir), 'd');
    const a = bytes(3 * 4096 + 100, 1);
    const b = bytes(5000, 2);
    const m = mapFile(file, { create: true, size: MiB });
    try {
      m.copy(100, a);                         // persist: true by default
      const v = m.view(512 * 1024, b.length);  // plain stores, then persist()
      b.copy(v);
      m.persist(512 * 1024, b.length);
      m.fill(900 * 1024, 0xa5, 777);
    } finally {
      m.close();
    }
    const back = fs.readFileSync(file);
    expect(back.length).toBe(MiB);
    expect(Buffer.compare(back.subarray(100, 100 + a.length), a)).toBe(0);
    expect(Buffer.compare(back.subarray(512 * 1024, 512 * 1024 + b.length), b)).toBe(0);
    expect(back.subarray(900 * 1024, 900 * 1024 + 777).every((x) => x === 0xa5)).toBe(true);
    expect(back[99]).toBe(0);
  });

  onFsdax('a second mapping of the same file sees what the first persisted', (dir) => {
    const file = path.join(freshDir(dir), 'e');
    const data = bytes(64 * 1024, 3);
    const m1 = mapFile(file, { create: true, size: MiB });
    m1.copy(4096, data);
    m1.close();
    const m2 = mapFile(file);
    try {
      expect(m2.kind).toBe('fsdax');
      expect(m2.size).toBe(MiB);
      expect(Buffer.compare(m2.view(4096, data.length), data)).toBe(0);
    } finally {
      m2.close();
    }
  });

  onRemountable('persisted bytes are there after the filesystem is unmounted and mounted -o dax again', (dir) => {
    const where = freshDir(dir);
    const file = path.join(where, 'f');
    const data = bytes(256 * 1024 + 13, 4);
    const m = mapFile(file, { create: true, size: 2 * MiB });
    try {
      m.copy(MiB - 7, data);
    } finally {
      m.close();
    }
    const mnt = mountOf(dir)!;
    execFileSync('umount', [mnt.point], { stdio: 'pipe' });
    try {
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      execFileSync('mount', ['-t', mnt.fstype, '-o', 'dax', mnt.source, mnt.point], { stdio: 'pipe' });
    }
    const again = mountOf(dir)!;
    expect(again.point).toBe(mnt.point);
    expect(again.options).toEqual(expect.arrayContaining([expect.stringMatching(/^dax(=always)?$/)]));
    const back = fs.readFileSync(file);
    expect(back.length).toBe(2 * MiB);
    expect(Buffer.compare(back.subarray(MiB - 7, MiB - 7 + data.length), data)).toBe(0);
    const m2 = mapFile(file, { sync: 'required' });
    try {
      expect(Buffer.compare(m2.view(MiB - 7, data.length), data)).toBe(0);
    } finally {
      m2.close();
    }
  }, 120000);
});
