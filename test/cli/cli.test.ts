import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { daxMounts, pmemDevices } from '../../lib/cli/system';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'daxfs.js');

function daxfs(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('daxfs command', () => {
  test('info --json prints platform, devices and mounts as platform() returns them', () => {
    const r = daxfs(['info', '--json']);
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(Object.keys(info).sort()).toEqual(['devices', 'mounts', 'platform']);
    const { platform } = require(path.join(ROOT, 'dist'));
    expect(info.platform).toEqual(platform());
    expect(Array.isArray(info.devices)).toBe(true);
  });

  test('info names the flush, the fence and eADR in plain words', () => {
    const r = daxfs(['info']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/flush\s+(clwb|clflushopt|clflush|dc cvap|dc cvac|none) \+ (sfence|dsb|none)/);
    expect(r.stdout).toMatch(/eADR/);
  });

  test('demo makes an image, mounts it with dax, checks a crash image, maps a file, times writes and removes its files', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-cli-'));
    try {
      const r = daxfs(['demo'], { TMPDIR: tmp });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Image .*demo\.img: 32 MiB, sparse, emulated pmem/);
      expect(r.stdout).toMatch(/mkfs: 8192 blocks of 4 KiB, \d+ inodes; mounted with dax/);
      expect(r.stdout).toContain('Wrote /hello.txt (17 bytes, S_DAX set: no page cache), read back: "hello from daxfs\\n"');
      expect(r.stdout).toContain('took a crash image after record 50');
      expect(r.stdout).toContain('fsck crash.img: clean');
      expect(r.stdout).toContain('/logs/app.log holds 50 records, each intact and in order');
      // The mapping step: what each fault mapped, the counts, SIGBUS past EOF, revocation.
      const mapping = r.stdout.slice(r.stdout.indexOf('File mappings:'));
      expect(mapping).toContain(`page(0, 'read'): a view of the file's own block on the device: "hello, mapping"`);
      expect(mapping).toContain('stored "HELLO" through that view; read() at once: "HELLO, mapping"');
      expect(mapping).toContain("page(2, 'read') of the hole: the shared zero page (4096 bytes, all zero: true); st_blocks 8 -> 8: nothing allocated");
      expect(mapping).toContain("page(2, 'write'): a block allocated and zeroed before the view exists, st_blocks 8 -> 16; the zero-page view is revoked (length 0)");
      expect(mapping).toContain('stored "page two" through it; read() at 8192: "page two"');
      expect(mapping).toContain('mapping.stats: faults 3, majorFaults 1 (allocated), zeroPageMaps 1, mkwrites 1');
      expect(mapping).toMatch(/page\(3\), past EOF: DaxError code 'SIGBUS' \(.*past the end of the file \(12288 bytes, 3 pages\)\)/);
      expect(mapping).toContain('unmap(): every view revoked (page 0 view length 0, page 2 view length 0)');
      expect(r.stdout).toMatch(/daxfs FileHandle\.write \(emulated pmem\) +[\d.]+ (ns|us|ms)/);
      expect(r.stdout).toMatch(/fs\.writeSync \+ fdatasync/);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('the installed command exits 2 on usage errors and 1 on failures, with no stack trace', () => {
    const unknown = daxfs(['frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(daxfs(['--help']).status).toBe(0);
    const missing = daxfs(['ls', '/nonexistent/disk.img:/']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("daxfs ls: /nonexistent/disk.img:/: ENOENT: image '/nonexistent/disk.img' does not exist\n" +
      "  check the name, or make one with 'daxfs mkfs /nonexistent/disk.img --size 64M'\n");
  });
});

describe('system discovery', () => {
  let root: string;
  beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-sys-')); });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  function write(rel: string, text: string) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text + '\n');
  }

  test('pmem devices come from nd regions and namespaces in sysfs (seeds skipped) and dax/pmem nodes in /dev', () => {
    write('sys/bus/nd/devices/region0/size', '536870912');
    write('sys/bus/nd/devices/region0/align', '16777216');
    write('sys/bus/nd/devices/region0/persistence_domain', 'memory_controller');
    write('sys/bus/nd/devices/ndbus0/uevent', '');
    write('sys/bus/nd/devices/namespace0.0/size', '532676608');
    write('sys/bus/nd/devices/namespace0.0/mode', 'dax');   // the kernel's spelling; info reports ndctl's
    write('sys/bus/nd/devices/namespace0.1/size', '0');   // a seed: not listed
    write('sys/bus/dax/devices/dax1.0/size', '532676608');
    write('sys/bus/dax/devices/dax1.0/align', '2097152');
    write('sys/class/block/pmem0/size', '1040384');
    write('dev/dax1.0', '');
    write('dev/pmem0', '');
    write('dev/null', '');
    const devices = pmemDevices(path.join(root, 'sys'), path.join(root, 'dev'));
    expect(devices).toEqual([
      { type: 'region', name: 'region0', path: path.join(root, 'sys/bus/nd/devices/region0'), size: 536870912, align: 16777216, persistenceDomain: 'memory_controller' },
      { type: 'namespace', name: 'namespace0.0', path: path.join(root, 'sys/bus/nd/devices/namespace0.0'), size: 532676608, align: null, mode: 'devdax' },
      { type: 'devdax', name: 'dax1.0', path: path.join(root, 'dev/dax1.0'), size: 532676608, align: 2097152 },
      { type: 'pmem', name: 'pmem0', path: path.join(root, 'dev/pmem0'), size: 1040384 * 512, align: null },
    ]);
  });

  test('DAX mounts are the lines of /proc/mounts whose options hold dax', () => {
    write('mounts', [
      '/dev/pmem0 /mnt/pmem ext4 rw,relatime,dax 0 0',
      '/dev/pmem1 /mnt/x\\040y xfs rw,dax=always 0 0',
      '/dev/vda / ext4 rw,relatime 0 0',
      'tmpfs /tmp tmpfs rw,daxish 0 0',
    ].join('\n'));
    expect(daxMounts(path.join(root, 'mounts')).map((m) => m.mountpoint)).toEqual(['/mnt/pmem', '/mnt/x y']);
  });
});
