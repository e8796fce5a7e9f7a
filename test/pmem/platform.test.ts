// platform(): what the CPU and the system offer, and the architecture policy.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { platform } from '../../lib';
import { ChildResult, describeChild, lastJson, runChildAsync } from '../helpers/child';

const cpuFlags = new Set(
  (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/),
);

let ndRegions: string[] = [];
try {
  ndRegions = fs.readdirSync('/sys/bus/nd/devices').filter((n) => n.startsWith('region'));
} catch { /* no nd bus */ }

describe('platform()', () => {
  test('returns every documented field with its documented type', () => {
    const p = platform();
    expect(Object.keys(p).sort()).toEqual(
      ['arch', 'autoFlush', 'cacheLine', 'copy', 'daxSupported', 'fence', 'flush', 'nontemporal', 'pageSize'].sort(),
    );
    expect(typeof p.arch).toBe('string');
    expect(['clwb', 'clflushopt', 'clflush', 'dc cvap', 'dc cvac', 'none']).toContain(p.flush);
    expect(['sfence', 'dsb', 'none']).toContain(p.fence);
    expect(['avx512', 'avx2', 'sse2', 'plain']).toContain(p.copy);
    expect(typeof p.nontemporal).toBe('boolean');
    expect(typeof p.daxSupported).toBe('boolean');
    expect(typeof p.autoFlush).toBe('boolean');
    expect(Number.isInteger(p.cacheLine)).toBe(true);
    expect(p.cacheLine & (p.cacheLine - 1)).toBe(0);
    expect(p.cacheLine).toBeGreaterThanOrEqual(16);
    expect(Number.isInteger(p.pageSize)).toBe(true);
  });

  test('arch is process.arch when DAXFS_ARCH is not set', () => {
    expect(process.env.DAXFS_ARCH).toBeUndefined();
    expect(platform().arch).toBe(process.arch);
  });

  test('pageSize is the kernel page size that getconf PAGESIZE reports', () => {
    const kernel = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
    expect(platform().pageSize).toBe(kernel);
  });

  test('nontemporal is true exactly when the copy is not plain', () => {
    const p = platform();
    expect(p.nontemporal).toBe(p.copy !== 'plain');
  });

  (process.arch === 'x64' ? test : test.skip)('x86-64: the flush is the best instruction /proc/cpuinfo lists, the fence sfence, the line 64 bytes', () => {
    const p = platform();
    const best = cpuFlags.has('clwb') ? 'clwb' : cpuFlags.has('clflushopt') ? 'clflushopt' : 'clflush';
    expect(p.flush).toBe(best);
    expect(p.fence).toBe('sfence');
    expect(p.cacheLine).toBe(64);
    expect(p.copy).toBe(cpuFlags.has('avx512f') ? 'avx512' : cpuFlags.has('avx2') ? 'avx2' : cpuFlags.has('sse2') ? 'sse2' : 'plain');
  });

  // The task's machine offers both; elsewhere the test above still checks the rule.
  (cpuFlags.has('clwb') ? test : test.skip)('this machine has clwb and clflushopt, so the default flush is clwb', () => {
    expect(cpuFlags.has('clflushopt')).toBe(true);
    expect(platform().flush).toBe('clwb');
  });

  (process.arch === 'arm64' ? test : test.skip)('arm64: the flush is dc cvap or dc cvac and the fence dsb', () => {
    const p = platform();
    expect(['dc cvap', 'dc cvac']).toContain(p.flush);
    expect(p.fence).toBe('dsb');
  });

  // On a machine with NVDIMMs the fake-sysfs tests (sysfs.test.ts) cover the rule.
  (ndRegions.length === 0 ? test : test.skip)('autoFlush is false when the system has no nd region (no eADR without a region)', () => {
    expect(platform().autoFlush).toBe(false);
  });
});

describe('DAXFS_ARCH and daxSupported (child processes)', () => {
  const arches = ['arm', 'mips', 'mipsel', 'sparc', 'arm64', 'x64'];
  const seen = new Map<string, ChildResult>();
  let plain: ChildResult;

  beforeAll(async () => {
    const script = `const p = daxfs.platform(); out({ arch: p.arch, dax: p.daxSupported });`;
    const results = await Promise.all([...arches.map((a) => runChildAsync(script, { DAXFS_ARCH: a })), runChildAsync(script)]);
    arches.forEach((a, i) => seen.set(a, results[i]));
    plain = results[arches.length];
  });

  const archOf = (arch: string) => {
    const r = seen.get(arch)!;
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
    return lastJson<{ arch: string; dax: boolean }>(r);
  };

  test.each(['arm', 'mips', 'mipsel', 'sparc'])('daxSupported is false on %s (virtually mapped caches)', (arch) => {
    expect(archOf(arch)).toEqual({ arch, dax: false });
  });

  test.each(['arm64', 'x64'])('daxSupported is true on %s', (arch) => {
    expect(archOf(arch)).toEqual({ arch, dax: true });
  });

  test('without DAXFS_ARCH the arch is process.arch and daxSupported is true', () => {
    expect(plain.status).toBe(0);
    expect(lastJson(plain)).toEqual({ arch: process.arch, dax: true });
  });
});
