// What the system offers for pmem: devices, nd regions and DAX mounts, read from /dev,
// sysfs and /proc/mounts (paths injectable so tests can use a fake tree).
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface PmemDevice {
  type: 'devdax' | 'pmem' | 'region' | 'namespace';
  name: string;
  path: string;
  size: number | null;
  align: number | null;
  persistenceDomain?: string | null;
  /** Namespaces: fsdax, devdax, sector or raw. */
  mode?: string | null;
}

export interface DaxMount {
  device: string;
  mountpoint: string;
  fstype: string;
  options: string;
}

/** sysfs spells a namespace's mode as the kernel's enum does; ndctl (and users) say
 *  fsdax, devdax, sector, raw. */
function namespaceMode(sysfsMode: string | null): string | null {
  const names: Record<string, string> = { memory: 'fsdax', dax: 'devdax', safe: 'sector', raw: 'raw' };
  return sysfsMode === null ? null : names[sysfsMode] ?? sysfsMode;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function readNumber(file: string): number | null {
  const text = readText(file);
  if (text === null || text === '') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export function pmemDevices(sysfs = '/sys', dev = '/dev'): PmemDevice[] {
  const out: PmemDevice[] = [];
  for (const name of list(path.join(sysfs, 'bus/nd/devices')).filter((n) => /^region\d+$/.test(n))) {
    const dir = path.join(sysfs, 'bus/nd/devices', name);
    out.push({
      type: 'region', name, path: dir, size: readNumber(path.join(dir, 'size')),
      align: readNumber(path.join(dir, 'align')), persistenceDomain: readText(path.join(dir, 'persistence_domain')),
    });
  }
  for (const name of list(path.join(sysfs, 'bus/nd/devices')).filter((n) => /^namespace\d+\.\d+$/.test(n))) {
    const dir = path.join(sysfs, 'bus/nd/devices', name);
    const size = readNumber(path.join(dir, 'size'));
    if (!size) continue;   // an unconfigured seed, not a namespace in use
    out.push({ type: 'namespace', name, path: dir, size, align: readNumber(path.join(dir, 'align')), mode: namespaceMode(readText(path.join(dir, 'mode'))) });
  }
  for (const name of list(dev)) {
    if (/^dax\d+\.\d+$/.test(name)) {
      const dir = path.join(sysfs, 'bus/dax/devices', name);
      out.push({ type: 'devdax', name, path: path.join(dev, name), size: readNumber(path.join(dir, 'size')), align: readNumber(path.join(dir, 'align')) });
    } else if (/^pmem\d+(\.\d+)?$/.test(name)) {
      const sectors = readNumber(path.join(sysfs, 'class/block', name, 'size'));
      out.push({ type: 'pmem', name, path: path.join(dev, name), size: sectors === null ? null : sectors * 512, align: null });
    }
  }
  return out;
}

export function daxMounts(mounts = '/proc/mounts'): DaxMount[] {
  const text = readText(mounts) ?? '';
  return text.split('\n').filter(Boolean).map((line) => {
    const [device, mountpoint, fstype, options] = line.split(' ');
    return { device, mountpoint: mountpoint.replace(/\\040/g, ' '), fstype, options };
  }).filter((m) => m.options.split(',').some((o) => o === 'dax' || o === 'dax=always'));
}
