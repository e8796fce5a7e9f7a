// `daxfs info`: what the CPU and the system offer.
import { platform, Platform } from '../platform';
import { parseArgs } from './args';
import { Command } from './command';
import { daxMounts, pmemDevices, DaxMount, PmemDevice } from './system';

export interface Info {
  platform: Platform;
  devices: PmemDevice[];
  mounts: DaxMount[];
}

export function gatherInfo(): Info {
  return { platform: platform(), devices: pmemDevices(), mounts: daxMounts() };
}

function size(n: number | null): string {
  if (n === null) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatInfo(info: Info): string {
  const p = info.platform;
  const lines = [
    'Platform',
    `  arch            ${p.arch}${p.daxSupported ? '' : ' (DAX disabled: virtually mapped caches)'}`,
    `  flush           ${p.flush} + ${p.fence}`,
    `  non-temporal    ${p.nontemporal ? `yes (${p.copy})` : 'no (copy + flush)'}`,
    `  cache line      ${p.cacheLine} bytes; page ${p.pageSize} bytes`,
    `  eADR            ${p.autoFlush ? 'yes: every nd region persists the CPU caches' : 'no: stores need a flush to be durable'}`,
    'Pmem devices',
    ...(info.devices.length ? info.devices.map((d) =>
      `  ${d.type.padEnd(9)} ${d.name.padEnd(13)} ${size(d.size).padStart(10)}` + (d.mode ? `  mode ${d.mode}` : '') +
      (d.align ? `  align ${size(d.align)}` : '') + (d.persistenceDomain ? `  persistence ${d.persistenceDomain}` : ''))
      : ['  none (no NVDIMM here: daxfs can emulate pmem in a file)']),
    'DAX mounts',
    ...(info.mounts.length ? info.mounts.map((m) => `  ${m.mountpoint} (${m.fstype} on ${m.device}, ${m.options})`) : ['  none']),
  ];
  return lines.join('\n');
}

export const infoCommand: Command = {
  name: 'info',
  summary: 'what the CPU and the system offer: flush, fence, eADR, pmem devices, DAX mounts',
  help: `Usage: daxfs info [--json]

Prints the platform (flush and fence instructions, non-temporal copy, cache line, page
size, eADR, whether DAX is allowed on this architecture), the pmem devices (nd regions
from sysfs with size and alignment, /dev/pmem* and /dev/dax* nodes) and the DAX mounts
in /proc/mounts.

Options:
  --json          print { platform, devices, mounts } as JSON

Example:
  daxfs info --json`,
  run(argv) {
    const a = parseArgs(argv, { flags: { '--json': 'json' }, max: 0 });
    console.log(a.flags.has('json') ? JSON.stringify(gatherInfo(), null, 2) : formatInfo(gatherInfo()));
    return 0;
  },
};
