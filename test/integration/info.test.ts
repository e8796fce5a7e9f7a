// `daxfs info --json` on real pmem: the device-DAX node, its namespace and region, the fsdax
// block device and its -o dax mount are listed as the kernel reports them.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { charDeviceSysfs, devdax, fsdax, mountOf, onDevdax, onFsdax, repoRoot } from './devices';

const BIN = path.join(repoRoot(), 'bin', 'daxfs.js');

interface Listed { type: string; name: string; path: string; size: number | null; align: number | null; mode?: string | null }
interface Info { devices: Listed[]; mounts: Array<{ device: string; mountpoint: string; options: string }> }

function info(): Info {
  const r = spawnSync(process.execPath, [BIN, 'info', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`daxfs info --json exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Info;
}

describe('daxfs info on real pmem', () => {
  onDevdax('lists the device-DAX node with its size, its namespace (mode devdax) and its region', (dev) => {
    if (!devdax.available) return;
    const listed = info().devices;
    const node = listed.find((d) => d.type === 'devdax' && d.path === dev);
    expect(node).toBeDefined();
    expect(node!.size).toBe(Number(fs.readFileSync(path.join(charDeviceSysfs(dev), 'size'), 'utf8')));
    expect(listed.some((d) => d.type === 'namespace' && d.mode === 'devdax')).toBe(true);
    expect(listed.filter((d) => d.type === 'region').length).toBeGreaterThanOrEqual(1);
  });

  onFsdax('lists the fsdax block device, its namespace (mode fsdax) and the -o dax mount holding the test directory', (dir) => {
    if (!fsdax.available) return;
    const m = mountOf(dir)!;
    const got = info();
    expect(got.devices.some((d) => d.type === 'pmem' && d.path === m.source)).toBe(true);
    expect(got.devices.some((d) => d.type === 'namespace' && d.mode === 'fsdax')).toBe(true);
    const mount = got.mounts.find((x) => x.mountpoint === m.point);
    expect(mount).toBeDefined();
    expect(mount!.device).toBe(m.source);
    expect(mount!.options).toMatch(/dax/);
  });
});
