// eADR and device-DAX detection, run against a fake sysfs tree
// (native.setSysfsRootForTests; '' restores /sys). The fake tree claims /dev/zero is a
// device-DAX node, so the device-DAX rules run without a real device.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaxError, mapAnonymous, mapFile, platform } from '../../lib';
import { native } from '../../lib/native';
import { describeChild, DIST, lastJson, runChildAsync } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

const MiB = 1 << 20;
const rdev = fs.statSync('/dev/zero').rdev;
const major = (rdev >> 8) & 0xfff;
const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);

interface FakeOptions {
  regions?: string[] | null;         // persistence_domain of each region (null: no nd bus at all)
  regionWithoutDomain?: boolean;     // one more region with no persistence_domain file
  dax?: { subsystem?: string; size?: string; align?: string | null; regionAlign?: string };
}

/** Builds a fake sysfs root and returns its path. */
function fakeSysfs(o: FakeOptions): string {
  const root = makeTempDir('daxfs-sysfs-');
  if (o.regions !== null) {
    const nd = path.join(root, 'bus/nd/devices');
    fs.mkdirSync(path.join(nd, 'ndbus0'), { recursive: true });
    (o.regions ?? []).forEach((domain, i) => {
      fs.mkdirSync(path.join(nd, `region${i}`));
      fs.writeFileSync(path.join(nd, `region${i}`, 'persistence_domain'), `${domain}\n`);
    });
    if (o.regionWithoutDomain) fs.mkdirSync(path.join(nd, 'region9'));
  }
  if (o.dax) {
    const node = path.join(root, 'dev/char', `${major}:${minor}`);
    fs.mkdirSync(node, { recursive: true });
    const subsystem = path.join(root, 'bus', o.dax.subsystem ?? 'dax');
    fs.mkdirSync(subsystem, { recursive: true });
    fs.symlinkSync(subsystem, path.join(node, 'subsystem'));
    fs.writeFileSync(path.join(node, 'size'), `${o.dax.size ?? String(8 * MiB)}\n`);
    if (o.dax.align !== null) fs.writeFileSync(path.join(node, 'align'), `${o.dax.align ?? String(2 * MiB)}\n`);
    if (o.dax.regionAlign) {
      fs.mkdirSync(path.join(node, 'device/dax_region'), { recursive: true });
      fs.writeFileSync(path.join(node, 'device/dax_region/align'), `${o.dax.regionAlign}\n`);
    }
  }
  return root;
}

function useFake(o: FakeOptions): void {
  native.setSysfsRootForTests(fakeSysfs(o));
}

function daxError(fn: () => unknown): DaxError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DaxError);
    return err as DaxError;
  }
  throw new Error('expected a DaxError, nothing was thrown');
}

afterEach(() => {
  native.setSysfsRootForTests('');
});

describe('eADR detection (platform().autoFlush)', () => {
  test('one region whose persistence_domain is cpu_cache -> autoFlush true', () => {
    useFake({ regions: ['cpu_cache'] });
    expect(platform().autoFlush).toBe(true);
  });

  test('every region cpu_cache -> autoFlush true', () => {
    useFake({ regions: ['cpu_cache', 'cpu_cache', 'cpu_cache'] });
    expect(platform().autoFlush).toBe(true);
  });

  test('a region with memory_controller among cpu_cache ones -> autoFlush false', () => {
    useFake({ regions: ['cpu_cache', 'memory_controller'] });
    expect(platform().autoFlush).toBe(false);
  });

  test('a region without a persistence_domain file -> autoFlush false', () => {
    useFake({ regions: ['cpu_cache'], regionWithoutDomain: true });
    expect(platform().autoFlush).toBe(false);
  });

  test('no region (an nd bus with only ndbus0) -> autoFlush false', () => {
    useFake({ regions: [] });
    expect(platform().autoFlush).toBe(false);
  });

  test('no nd bus at all -> autoFlush false', () => {
    useFake({ regions: null });
    expect(platform().autoFlush).toBe(false);
  });

  test("setSysfsRootForTests('') restores the real /sys", () => {
    const real = platform().autoFlush;
    useFake({ regions: ['cpu_cache'] });
    expect(platform().autoFlush).toBe(true);
    native.setSysfsRootForTests('');
    expect(platform().autoFlush).toBe(real);
  });

  test('eADR does not make an ordinary file mapping pmem (still granularity page)', () => {
    useFake({ regions: ['cpu_cache'] });
    const m = mapFile(path.join(makeTempDir('daxfs-eadr-'), 'f'), { create: true, size: 4096 });
    const a = mapAnonymous(4096);
    try {
      expect([m.kind, m.isPmem, m.granularity]).toEqual(['file', false, 'page']);
      expect([a.kind, a.isPmem, a.granularity]).toEqual(['anonymous', false, 'none']);
    } finally {
      m.close();
      a.close();
    }
  });
});

describe('device DAX (a fake sysfs that makes /dev/zero a dax node)', () => {
  test('the real sysfs does not call /dev/zero device DAX', () => {
    expect(daxError(() => mapFile('/dev/zero')).code).toBe('EINVAL');
  });

  test('mapFile gives kind devdax, isPmem true, the sysfs size, granularity cache-line (no eADR)', () => {
    useFake({ regions: ['memory_controller'], dax: {} });
    const m = mapFile('/dev/zero');
    try {
      expect({ kind: m.kind, isPmem: m.isPmem, size: m.size, granularity: m.granularity })
        .toEqual({ kind: 'devdax', isPmem: true, size: 8 * MiB, granularity: 'cache-line' });
    } finally {
      m.close();
    }
  });

  test('with no nd region at all the device is still cache-line granular', () => {
    useFake({ regions: null, dax: {} });
    const m = mapFile('/dev/zero');
    try {
      expect(m.granularity).toBe('cache-line');
    } finally {
      m.close();
    }
  });

  test('granularity is byte when every region is cpu_cache (eADR)', () => {
    useFake({ regions: ['cpu_cache', 'cpu_cache'], dax: {} });
    const m = mapFile('/dev/zero');
    try {
      expect([m.kind, m.isPmem, m.granularity]).toEqual(['devdax', true, 'byte']);
    } finally {
      m.close();
    }
  });

  test('granularity is cache-line when one region is memory_controller', () => {
    useFake({ regions: ['cpu_cache', 'memory_controller'], dax: {} });
    const m = mapFile('/dev/zero');
    try {
      expect(m.granularity).toBe('cache-line');
    } finally {
      m.close();
    }
  });

  test('persist, flush, drain, copy and fill work on it, with and without eADR, and the bytes read back', () => {
    for (const regions of [['memory_controller'], ['cpu_cache']]) {
      useFake({ regions, dax: {} });
      const m = mapFile('/dev/zero');
      try {
        m.view(0, 64).fill(0x21);
        m.persist(0, 64);
        m.flush(100, 1000);
        m.drain();
        m.copy(MiB + 3, Buffer.from('device dax'));
        m.fill(2 * MiB, 0x7e, 70000);
        m.copy(4 * MiB, Buffer.alloc(100000, 0x12), { persist: false });
        m.persist(4 * MiB, 100000);
        expect(m.view(0, 64).every((b) => b === 0x21)).toBe(true);
        expect(m.view(MiB + 3, 10).toString()).toBe('device dax');
        expect(m.view(2 * MiB, 70000).every((b) => b === 0x7e)).toBe(true);
        expect(m.view(4 * MiB, 100000).every((b) => b === 0x12)).toBe(true);
        expect(() => m.persist(0, m.size)).not.toThrow();
      } finally {
        m.close();
      }
    }
  });

  test('size given as a multiple of the alignment maps that much; offset a multiple of it maps from there', () => {
    useFake({ dax: {} });
    const m = mapFile('/dev/zero', { size: 2 * MiB, offset: 4 * MiB });
    try {
      expect([m.kind, m.size]).toEqual(['devdax', 2 * MiB]);
    } finally {
      m.close();
    }
    const rest = mapFile('/dev/zero', { offset: 6 * MiB });
    try {
      expect(rest.size).toBe(2 * MiB);  // the rest of the device
    } finally {
      rest.close();
    }
  });

  test('a size that is not a multiple of the alignment -> EINVAL mentioning the alignment', () => {
    useFake({ dax: {} });
    const e = daxError(() => mapFile('/dev/zero', { size: 4096 }));
    expect(e).toMatchObject({ code: 'EINVAL', errno: -22, path: '/dev/zero' });
    expect(e.message).toMatch(/align/);
    expect(e.message).toContain('2097152');
  });

  test('an offset that is not a multiple of the alignment -> EINVAL', () => {
    useFake({ dax: {} });
    const e = daxError(() => mapFile('/dev/zero', { offset: 4096, size: 2 * MiB }));
    expect(e).toMatchObject({ code: 'EINVAL', path: '/dev/zero' });
    expect(e.message).toMatch(/align/);
  });

  test('an offset at or past the end, or offset + size past the end -> EINVAL', () => {
    useFake({ dax: {} });
    expect(daxError(() => mapFile('/dev/zero', { offset: 8 * MiB })).code).toBe('EINVAL');
    expect(daxError(() => mapFile('/dev/zero', { offset: 6 * MiB, size: 4 * MiB })).code).toBe('EINVAL');
    expect(daxError(() => mapFile('/dev/zero', { size: 10 * MiB })).code).toBe('EINVAL');
  });

  test('a private mapping of device DAX -> EINVAL', () => {
    useFake({ dax: {} });
    const e = daxError(() => mapFile('/dev/zero', { private: true }));
    expect(e).toMatchObject({ code: 'EINVAL', path: '/dev/zero' });
    expect(e.message).toMatch(/private/);
  });

  test("sync: 'required' is satisfied by device DAX", () => {
    useFake({ dax: {} });
    const m = mapFile('/dev/zero', { sync: 'required' });
    try {
      expect(m.kind).toBe('devdax');
    } finally {
      m.close();
    }
  });

  test('the alignment comes from the device, else from its dax_region (older kernels), else 2 MiB', () => {
    useFake({ dax: { size: String(16 * MiB), align: String(4 * MiB) } });
    expect(daxError(() => mapFile('/dev/zero', { size: 2 * MiB })).message).toContain(String(4 * MiB));
    let m = mapFile('/dev/zero', { size: 4 * MiB, offset: 4 * MiB });
    m.close();
    expect(m.size).toBe(4 * MiB);

    useFake({ dax: { size: String(16 * MiB), align: null, regionAlign: String(8 * MiB) } });
    expect(daxError(() => mapFile('/dev/zero', { size: 4 * MiB })).message).toContain(String(8 * MiB));

    useFake({ dax: { size: String(16 * MiB), align: null } });
    expect(daxError(() => mapFile('/dev/zero', { size: MiB })).message).toContain(String(2 * MiB));
    m = mapFile('/dev/zero', { size: 2 * MiB });
    m.close();
    expect(m.size).toBe(2 * MiB);
  });

  test("a character device whose subsystem is not 'dax' is refused with EINVAL naming the subsystem", () => {
    useFake({ dax: { subsystem: 'mem' } });
    const e = daxError(() => mapFile('/dev/zero'));
    expect(e.code).toBe('EINVAL');
    expect(e.message).toMatch(/not device DAX/);
    expect(e.message).toContain("'mem'");
  });

  test('views of a device mapping are zero-copy and detach on close', () => {
    useFake({ dax: {} });
    const m = mapFile('/dev/zero');
    const v = m.view(8 * MiB - 16, 16);
    v.fill(3);
    expect(m.view(8 * MiB - 1, 1)[0]).toBe(3);
    m.close();
    expect(v.length).toBe(0);
  });
});

test('DAXFS_FORCE_PMEM with eADR in a fake sysfs: a file mapping is pmem with granularity byte (child process)', async () => {
  const root = fakeSysfs({ regions: ['cpu_cache'] });
  const r = await runChildAsync(`
    require(${JSON.stringify(path.join(DIST, 'native.js'))}).native.setSysfsRootForTests(process.env.ROOT);
    const m = daxfs.mapFile(path.join(process.env.ROOT, 'f'), { create: true, size: 8192 });
    m.copy(0, Buffer.from('eadr')); m.persist(0, 4);
    out({ autoFlush: daxfs.platform().autoFlush, m: [m.kind, m.isPmem, m.granularity] });
    m.close();
  `, { DAXFS_FORCE_PMEM: '1', ROOT: root });
  expect(describeChild(r)).toMatch(/^status 0, signal null/);
  expect(lastJson(r)).toEqual({ autoFlush: true, m: ['file', true, 'byte'] });
  expect(fs.readFileSync(path.join(root, 'f')).subarray(0, 4).toString()).toBe('eadr');
});
