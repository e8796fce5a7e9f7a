// The power-fail steps: each writes something through daxfs in the 'write' boot, the VM
// runner then hard-resets the guest (sysrq 'b': no sync, no unmount), boots again on the
// same NVDIMM backing files, and each step checks in the 'verify' boot that what it
// persisted is there. A new check (a daxfs filesystem on the device-DAX node, then fsck
// after the reset) is one more entry in `steps`; the runner does not change.
//
// Everything a step writes carries the run's token, so a record left by an earlier run
// never passes for this run's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { devices, fsck, mapFile, mkfs, mount } from '../../lib';
import { Target, devdax, fsdax } from './devices';

export interface PowerFailStep {
  name: string;
  /** What the step needs; without it both phases are skipped with the target's reason. */
  target: Target;
  /** Runs in the boot that ends with the hard reset; `where` is the target's path. */
  write(where: string, token: string): void;
  /** Runs in the next boot, on the same backing files. */
  verify(where: string, token: string): void;
}

const MiB = 1 << 20;

/** A record of `length` bytes: a readable header with the token, then bytes derived from it. */
export function record(token: string, label: string, length: number): Buffer {
  const b = Buffer.alloc(length);
  const header = Buffer.from(`daxfs power-fail record ${label} ${token}\n`);
  header.copy(b);
  let x = 0x9e3779b9;
  for (const c of header) x = (Math.imul(x ^ c, 0x01000193) >>> 0) || 1;
  for (let i = header.length; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Where a record differs from what was written (a short description), or null. */
export function difference(actual: Buffer, expected: Buffer): string | null {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      const zeros = actual.subarray(i).every((x) => x === 0);
      return `first difference at byte ${i}${zeros ? ' (zeros from there on: never reached the media)' : ''}; ` +
        `read ${JSON.stringify(actual.subarray(0, 60).toString('latin1'))}`;
    }
  }
  return null;
}

/** Makes the file's existence durable (its directory entry and size), as a careful application does. */
function syncCreation(file: string): void {
  for (const p of [file, path.dirname(file)]) {
    const fd = fs.openSync(p, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

const RECORD = 3 * 4096 + 200;   // crosses pages and cache lines, ends mid-line

export const steps: PowerFailStep[] = [
  {
    // The file and its (unwritten) blocks are made durable first; the record itself is then
    // stored through the MAP_SYNC mapping and persisted with flushes only. The runner mounts
    // the filesystem with a long journal commit interval for these boots, so only MAP_SYNC's
    // synchronous page fault can have made the block conversion durable before the reset.
    name: 'fsdax: a record persisted through a MAP_SYNC mapping of a preallocated file',
    target: fsdax,
    write(dir, token) {
      const file = path.join(dir, 'powerfail-prealloc.bin');
      const m = mapFile(file, { create: true, size: 2 * MiB, sync: 'required' });
      try {
        syncCreation(file);
        m.copy(MiB - 100, record(token, 'prealloc', RECORD));
      } finally {
        m.close();
      }
    },
    verify(dir, token) {
      const file = path.join(dir, 'powerfail-prealloc.bin');
      const back = fs.readFileSync(file);
      expect(back.length).toBe(2 * MiB);
      expect(difference(back.subarray(MiB - 100, MiB - 100 + RECORD), record(token, 'prealloc', RECORD))).toBeNull();
      const m = mapFile(file, { sync: 'required' });
      try {
        expect(difference(Buffer.from(m.view(MiB - 100, RECORD)), record(token, 'prealloc', RECORD))).toBeNull();
      } finally {
        m.close();
      }
    },
  },
  {
    // A sparse file: the blocks are allocated by the write fault, which MAP_SYNC makes durable.
    name: 'fsdax: a record persisted through a MAP_SYNC mapping of a sparse file (blocks allocated by the fault)',
    target: fsdax,
    write(dir, token) {
      const file = path.join(dir, 'powerfail-sparse.bin');
      const m = mapFile(file, { create: true, size: 4 * MiB, sparse: true, sync: 'required' });
      try {
        syncCreation(file);
        const v = m.view(3 * MiB, RECORD);
        record(token, 'sparse', RECORD).copy(v);
        m.persist(3 * MiB, RECORD);
      } finally {
        m.close();
      }
    },
    verify(dir, token) {
      const file = path.join(dir, 'powerfail-sparse.bin');
      const back = fs.readFileSync(file);
      expect(back.length).toBe(4 * MiB);
      expect(difference(back.subarray(3 * MiB, 3 * MiB + RECORD), record(token, 'sparse', RECORD))).toBeNull();
    },
  },
  {
    // A daxfs filesystem in an image on the -o dax filesystem: every operation returned,
    // none was followed by sync() or unmount(). After the reset the image must be clean
    // (fsck) and show each operation's result: durable when it returns.
    name: 'daxfs: metadata and data of returned operations survive the reset without sync or unmount',
    target: fsdax,
    write(dir, token) {
      const image = path.join(dir, 'powerfail-daxfs.img');
      mapFile(image, { create: true, size: 16 * MiB, sync: 'required' }).close();
      syncCreation(image);
      const dev = devices.pmem(image, { sync: 'required' });
      mkfs(dev);
      const f = mount(dev, 'dax');
      f.mkdir('/a/b', { recursive: true });
      f.writeFile('/a/b/kept', record(token, 'kept', RECORD));
      f.writeFile('/a/old', 'replaced');
      f.writeFile('/a/new', record(token, 'renamed', RECORD));
      f.rename('/a/new', '/a/old');
      f.writeFile('/a/gone', 'unlinked');
      f.unlink('/a/gone');
      const h = f.open('/a/b/kept', 'r+');
      h.write(Buffer.from(token), 0, token.length, 4096);
      // No close, no sync, no unmount: the runner resets the machine now.
    },
    verify(dir, token) {
      const image = path.join(dir, 'powerfail-daxfs.img');
      const dev = devices.pmem(image);
      try {
        expect(fsck(dev)).toMatchObject({ clean: true, problems: [] });
        const f = mount(dev, 'dax,ro');
        expect(f.readdir('/a')).toEqual(['b', 'old']);
        expect(difference(f.readFile('/a/old'), record(token, 'renamed', RECORD))).toBeNull();
        const kept = record(token, 'kept', RECORD);
        Buffer.from(token).copy(kept, 4096);
        expect(difference(f.readFile('/a/b/kept'), kept)).toBeNull();
        f.unmount();
      } finally {
        dev.close();
      }
    },
  },
  {
    // Device DAX: no filesystem in between. The record sits in the device's last 2 MiB.
    name: 'devdax: a record persisted through a device-DAX mapping',
    target: devdax,
    write(dev, token) {
      const m = mapFile(dev);
      try {
        m.copy(m.size - 2 * MiB + 64, record(token, 'devdax', RECORD));
      } finally {
        m.close();
      }
    },
    verify(dev, token) {
      const m = mapFile(dev);
      try {
        expect(difference(Buffer.from(m.view(m.size - 2 * MiB + 64, RECORD)), record(token, 'devdax', RECORD))).toBeNull();
      } finally {
        m.close();
      }
    },
  },
];
