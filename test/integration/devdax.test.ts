// mapFile on a real device-DAX node (DAXFS_TEST_DAX_DEVICE): size and alignment as sysfs,
// daxctl and ndctl report them, the alignment rules, and data read back through a new
// mapping. The tests overwrite the device's first and last alignment units.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaxError, mapFile } from '../../lib';
import { charDeviceSysfs, devdax, onDevdax } from './devices';

function readNumber(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

/** size and align of a device-DAX node from sysfs (align: the device's, else its region's). */
function sysfsOf(dev: string): { dir: string; size: number; align: number } {
  const dir = charDeviceSysfs(dev);
  const size = readNumber(path.join(dir, 'size'));
  let align: number;
  try {
    align = readNumber(path.join(dir, 'align'));
  } catch {
    align = readNumber(path.join(dir, 'device', 'dax_region', 'align'));
  }
  return { dir, size, align };
}

/** Runs a tool that prints JSON; null (with the reason printed) when the tool is missing. */
function jsonOf(tool: string, args: string[]): unknown {
  let text: string;
  try {
    text = execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return text.trim() ? JSON.parse(text) : [];
}

const asArray = (v: unknown): Record<string, unknown>[] =>
  (Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : []) as Record<string, unknown>[];

/** Every JSON object in a tree (ndctl nests devices in namespaces in regions). */
function objects(v: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(v)) for (const x of v) objects(x, out);
  else if (v && typeof v === 'object') {
    out.push(v as Record<string, unknown>);
    for (const x of Object.values(v)) objects(x, out);
  }
  return out;
}

function daxError(fn: () => unknown): DaxError {
  try {
    const m = fn() as { close?: () => void } | undefined;
    m?.close?.();
  } catch (e) {
    expect(e).toBeInstanceOf(DaxError);
    return e as DaxError;
  }
  throw new Error('expected a DaxError, the call succeeded');
}

function bytes(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

describe('a device-DAX node', () => {
  beforeAll(() => {
    if (devdax.available) console.info(`devdax tests on ${devdax.path}: ${JSON.stringify(sysfsOf(devdax.path))}`);
  });

  onDevdax('mapFile(device) maps the whole device: kind devdax, isPmem, size from sysfs', (dev) => {
    const s = sysfsOf(dev);
    const m = mapFile(dev);
    try {
      expect(m.kind).toBe('devdax');
      expect(m.isPmem).toBe(true);
      expect(m.size).toBe(s.size);
      expect(['cache-line', 'byte']).toContain(m.granularity);
    } finally {
      m.close();
    }
  });

  onDevdax('size and alignment in sysfs are what daxctl list reports', (dev) => {
    const s = sysfsOf(dev);
    const name = path.basename(dev);
    const listed = jsonOf('daxctl', ['list', '-d', name]);
    if (listed === null) {
      console.warn('daxctl is not installed: only sysfs checked');
    } else {
      const entry = asArray(listed).find((d) => d.chardev === name);
      expect(entry).toBeDefined();
      expect(Number(entry!.size)).toBe(s.size);
      if (entry!.align !== undefined) expect(Number(entry!.align)).toBe(s.align);
    }
    expect(s.align).toBeGreaterThanOrEqual(4096);
    expect(s.align & (s.align - 1)).toBe(0);
    expect(s.size % s.align).toBe(0);
  });

  onDevdax('the namespace that ndctl list reports for the device has its alignment and holds its size', (dev) => {
    const s = sysfsOf(dev);
    const name = path.basename(dev);
    const listed = jsonOf('ndctl', ['list', '-N', '-v']);
    if (listed === null) {
      console.warn('ndctl is not installed: only sysfs checked');
      return;
    }
    // A devdax namespace lists its device as chardev, either on the namespace itself or in
    // daxregion.devices, depending on the ndctl version.
    const namespace = asArray(listed).find((ns) => objects(ns).some((o) => o.chardev === name));
    expect(namespace).toBeDefined();
    expect(namespace!.mode).toBe('devdax');
    const aligns = objects(namespace).filter((o) => o.align !== undefined).map((o) => Number(o.align));
    expect(aligns.length).toBeGreaterThan(0);
    for (const a of aligns) expect(a).toBe(s.align);
    expect(Number(namespace!.size)).toBeGreaterThanOrEqual(s.size);
  });

  onDevdax('a mapping that breaks the alignment fails with EINVAL and says why: a 4 KiB size, an offset of half the alignment', (dev) => {
    const s = sysfsOf(dev);
    if (s.align > 4096) {
      const e = daxError(() => mapFile(dev, { size: 4096 }));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toMatch(/align/);
    }
    const e2 = daxError(() => mapFile(dev, { offset: s.align / 2, size: s.align }));
    expect(e2.code).toBe('EINVAL');
    expect(e2.message).toMatch(/align/);
    const e3 = daxError(() => mapFile(dev, { offset: s.size, size: s.align }));
    expect(e3.code).toBe('EINVAL');
    // What is allowed: one alignment unit at an aligned offset.
    const m = mapFile(dev, { offset: s.align, size: s.align });
    try {
      expect(m.size).toBe(s.align);
      expect(m.kind).toBe('devdax');
    } finally {
      m.close();
    }
  });

  onDevdax('a private mapping of device DAX is refused with EINVAL', (dev) => {
    const e = daxError(() => mapFile(dev, { private: true }));
    expect(e.code).toBe('EINVAL');
    expect(e.message).toMatch(/private/);
  });

  onDevdax('bytes stored and persisted are read back through a new mapping (first and last alignment unit)', (dev) => {
    const s = sysfsOf(dev);
    const first = bytes(s.align, 11);
    const last = bytes(70000, 12);
    const m = mapFile(dev);
    try {
      m.copy(0, first);
      const v = m.view(s.size - last.length, last.length);
      last.copy(v);
      m.persist(s.size - last.length, last.length);
    } finally {
      m.close();
    }
    const whole = mapFile(dev);
    try {
      expect(Buffer.compare(whole.view(0, first.length), first)).toBe(0);
      expect(Buffer.compare(whole.view(s.size - last.length, last.length), last)).toBe(0);
    } finally {
      whole.close();
    }
    const tail = mapFile(dev, { offset: s.size - s.align, size: s.align });
    try {
      expect(Buffer.compare(tail.view(s.align - last.length, last.length), last)).toBe(0);
    } finally {
      tail.close();
    }
  });
});
