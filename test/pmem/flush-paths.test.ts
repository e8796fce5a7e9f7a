// Every flush and copy path, each selected by its environment switch in a child process
// (the switches are read once at load), and a copy/fill/persist round trip in each one
// that must leave exactly the right bytes in the file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mapFile } from '../../lib';
import { ChildResult, describeChild, lastJson, runChildAsync } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

const cpuFlags = new Set(
  (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/),
);
const x86 = process.arch === 'x64';

// Writes through copy(), fill() and stores + persist() at offsets and lengths around the
// cache-line, non-temporal-threshold and page edges; mirrors every step on a plain Buffer
// (no daxfs involved) and saves that as expected.bin next to the mapped file.
const ROUND_TRIP = `
const dir = process.env.TEST_DIR;
const file = path.join(dir, 'pmem.bin');
const size = 1 << 20;
const m = daxfs.mapFile(file, { create: true, size });
const want = Buffer.alloc(size);
let seed = 7;
const bytes = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) { seed = (seed * 1103515245 + 12345) >>> 0; b[i] = seed >>> 24; } return b; };
let at = 0;
for (const len of [1, 7, 63, 64, 65, 255, 256, 257, 1000, 4096, 4096 + 13, 65536 + 7]) {
  for (const skew of [0, 1, 33, 63]) {
    const off = at + skew;
    const src = bytes(len);
    m.copy(off, src);
    src.copy(want, off);
    at = off + len + 5;
  }
}
for (const len of [1, 63, 64, 255, 256, 257, 5000, 70000]) {
  for (const skew of [0, 5, 64]) {
    const off = at + skew;
    const value = (len + skew) & 0xff || 1;
    m.fill(off, value, len);
    want.fill(value, off, off + len);
    at = off + len + 3;
  }
}
const v = m.view(at, 300);
for (let i = 0; i < 300; i++) { v[i] = (i * 7) & 0xff; want[at + i] = (i * 7) & 0xff; }
m.persist(at, 300);
m.view(size - 10, 10).fill(0xab); want.fill(0xab, size - 10);
m.flush(size - 10, 10); m.drain();
if (at + 300 > size) throw new Error('layout overflows the mapping');
const anon = daxfs.mapAnonymous(1 << 18);
const src = bytes(100000);
anon.copy(3, src); anon.fill(120000, 0x5c, 9000);
const anonOk = anon.view(3, 100000).equals(src) && anon.view(120000, 9000).every((b) => b === 0x5c) && anon.view(0, 3).every((b) => b === 0);
anon.close();
const info = { kind: m.kind, isPmem: m.isPmem, granularity: m.granularity };
m.close();
fs.writeFileSync(path.join(dir, 'expected.bin'), want);
out({ platform: daxfs.platform(), info, anonOk });
`;

interface Mode {
  name: string;
  env: Record<string, string>;
  flush: string;
  copy: string;
  nontemporal: boolean;
}

const widest = cpuFlags.has('avx512f') ? 'avx512' : 'avx2';
const modes: Mode[] = [
  { name: 'default', env: {}, flush: 'clwb', copy: widest, nontemporal: true },
  { name: 'DAXFS_NO_CLWB', env: { DAXFS_NO_CLWB: '1' }, flush: 'clflushopt', copy: widest, nontemporal: true },
  { name: 'DAXFS_NO_CLWB + DAXFS_NO_CLFLUSHOPT', env: { DAXFS_NO_CLWB: '1', DAXFS_NO_CLFLUSHOPT: '1' }, flush: 'clflush', copy: widest, nontemporal: true },
  { name: 'DAXFS_NO_AVX512', env: { DAXFS_NO_AVX512: '1' }, flush: 'clwb', copy: 'avx2', nontemporal: true },
  { name: 'DAXFS_NO_MOVNT', env: { DAXFS_NO_MOVNT: '1' }, flush: 'clwb', copy: 'plain', nontemporal: false },
  { name: 'DAXFS_NO_AVX2', env: { DAXFS_NO_AVX2: '1' }, flush: 'clwb', copy: 'sse2', nontemporal: true },
  { name: 'all switches', env: { DAXFS_NO_CLWB: '1', DAXFS_NO_CLFLUSHOPT: '1', DAXFS_NO_MOVNT: '1' }, flush: 'clflush', copy: 'plain', nontemporal: false },
];

// The expectations above assume this machine (clwb, clflushopt, avx2: the task's x86-64 host).
const machineHasEverything = x86 && ['clwb', 'clflushopt', 'avx2', 'sse2'].every((f) => cpuFlags.has(f));
const describeX86 = machineHasEverything ? describe : describe.skip;

describeX86('flush paths selected by environment switches (x86-64, child processes)', () => {
  // Each mode runs on emulated pmem (DAXFS_FORCE_PMEM), where copy, fill and persist take
  // the flush / non-temporal paths; the default mode also on a plain file (msync).
  const runs = new Map<string, { r: ChildResult; dir: string }>();

  beforeAll(async () => {
    const jobs: Array<Promise<void>> = [];
    const start = (key: string, env: Record<string, string>) => {
      const dir = makeTempDir('daxfs-flush-');
      jobs.push(runChildAsync(ROUND_TRIP, { ...env, TEST_DIR: dir }).then((r) => { runs.set(key, { r, dir }); }));
    };
    for (const mode of modes) start(mode.name, { ...mode.env, DAXFS_FORCE_PMEM: '1' });
    start('msync', {});
    start('NO_CLWB=0', { DAXFS_NO_CLWB: '0', DAXFS_FORCE_PMEM: '1' });
    start('NO_CLWB=', { DAXFS_NO_CLWB: '', DAXFS_FORCE_PMEM: '1' });
    await Promise.all(jobs);
  }, 120000);

  describe.each(modes)('$name', (mode) => {
    test(`platform() reports flush ${mode.flush}, fence sfence, copy ${mode.copy}, nontemporal ${mode.nontemporal}`, () => {
      const { r } = runs.get(mode.name)!;
      expect(describeChild(r)).toMatch(/^status 0, signal null/);
      expect(lastJson(r).platform).toMatchObject({ flush: mode.flush, fence: 'sfence', copy: mode.copy, nontemporal: mode.nontemporal });
    });

    test('copy/fill/persist on emulated pmem leave exactly the expected bytes in the file (fs.readFileSync)', () => {
      const { r, dir } = runs.get(mode.name)!;
      expect(describeChild(r)).toMatch(/^status 0, signal null/);
      expect(lastJson(r).info).toEqual({ kind: 'file', isPmem: true, granularity: 'cache-line' });
      const got = fs.readFileSync(path.join(dir, 'pmem.bin'));
      const want = fs.readFileSync(path.join(dir, 'expected.bin'));
      expect(got.length).toBe(want.length);
      expect(got.equals(want)).toBe(true);
    });

    test('copy and fill on anonymous memory give the right bytes', () => {
      const { r } = runs.get(mode.name)!;
      expect(lastJson(r).anonOk).toBe(true);
    });
  });

  test('copy/fill/persist on a plain file (msync) leave exactly the expected bytes, also through a fresh mapping', () => {
    const { r, dir } = runs.get('msync')!;
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
    expect(lastJson(r).info).toEqual({ kind: 'file', isPmem: false, granularity: 'page' });
    const want = fs.readFileSync(path.join(dir, 'expected.bin'));
    expect(fs.readFileSync(path.join(dir, 'pmem.bin')).equals(want)).toBe(true);
    const m = mapFile(path.join(dir, 'pmem.bin'));
    try {
      expect(m.size).toBe(want.length);
      expect(Buffer.compare(m.view(0, m.size), want)).toBe(0);
    } finally {
      m.close();
    }
  });

  test('DAXFS_NO_CLWB=0 and DAXFS_NO_CLWB= (empty) leave the switch off', () => {
    for (const key of ['NO_CLWB=0', 'NO_CLWB=']) {
      const { r } = runs.get(key)!;
      expect(describeChild(r)).toMatch(/^status 0, signal null/);
      expect(lastJson(r).platform.flush).toBe('clwb');
    }
  });
});
