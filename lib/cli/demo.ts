// `daxfs demo`: the main job on the embedded default, no NVDIMM needed. An emulated pmem
// image in a temporary folder: mkfs, a DAX mount, files written and read, a crash image
// checked by fsck, a file mapping and its faults, and 4 KiB write latency next to
// node:fs + fdatasync. Takes seconds.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DaxError } from '../errors';
import { Filesystem } from '../fs/filesystem';
import { fsck } from '../fs/fsck';
import { mkfs } from '../fs/mkfs';
import { formatSize, parseArgs } from './args';
import { Command, table } from './command';
import { createDevice, openDevice } from './image';
import { formatInfo, gatherInfo } from './info';

const IMAGE_SIZE = 32 << 20;
const RECORDS = 100;
const CRASH_AT = 50;   // the crash image is taken after this many records

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median nanoseconds of `runs` calls. */
function time(runs: number, fn: (i: number) => void): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn(i);
    samples.push(Number(process.hrtime.bigint() - t));
  }
  return median(samples);
}

function formatNs(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} us` : `${ns.toFixed(0)} ns`;
}

/** The filesystem type under `dir`, so the fdatasync figure can say what it was measured on. */
function fstypeOf(dir: string): string {
  let best = { mountpoint: '', fstype: 'unknown' };
  const text = (() => { try { return fs.readFileSync('/proc/mounts', 'utf8'); } catch { return ''; } })();
  const real = fs.realpathSync(dir);
  for (const line of text.split('\n')) {
    const [, mountpoint, fstype] = line.split(' ');
    if (!mountpoint) continue;
    const inside = real === mountpoint || real.startsWith(mountpoint.endsWith('/') ? mountpoint : `${mountpoint}/`);
    if (inside && mountpoint.length >= best.mountpoint.length) best = { mountpoint, fstype };
  }
  return best.fstype;
}

function record(i: number): string {
  return `record ${String(i).padStart(3, '0')} ${'.'.repeat(48)}\n`;   // 60 bytes
}

/** The bytes of `b` up to its first zero (or `max`), as a JSON string. */
function shown(b: Buffer, max = 32): string {
  const end = b.indexOf(0);
  return JSON.stringify(b.subarray(0, Math.min(max, end < 0 ? b.length : end)).toString());
}

/**
 * FileHandle.mmap on the DAX mount: a read fault of data (zero-copy), a read fault of a hole
 * (the zero page), a write fault (allocation), sync, SIGBUS past EOF, unmap.
 */
function mappingTour(fsys: Filesystem, log: (line: string) => void): void {
  const PAGE = 4096;
  const h = fsys.open('/mapped.dat', 'w+');
  h.write(Buffer.from('hello, mapping'), 0, undefined, 0);
  h.truncate(3 * PAGE);                              // pages 1 and 2: a hole
  const m = h.mmap(0, 4 * PAGE, { write: true });    // one page more than the file
  const blocks = () => h.stat().blocks;
  const readBack = (at: number) => {
    const b = Buffer.alloc(16);
    h.read(b, 0, b.length, at);
    return shown(b);
  };
  log('');
  log(`File mappings: /mapped.dat (${3 * PAGE} bytes: data in page 0, pages 1-2 a hole) mapped shared and writable, 4 pages`);

  const p0 = m.page(0, 'read');
  log(`  page(0, 'read'): a view of the file's own block on the device: ${shown(p0)}`);
  p0.write('HELLO');                                 // a plain store, no write() call
  log(`  stored "HELLO" through that view; read() at once: ${readBack(0)} (zero-copy: one copy of the bytes)`);

  const before = blocks();
  const hole = m.page(2, 'read');
  log(`  page(2, 'read') of the hole: the shared zero page (${hole.length} bytes, all zero: ${hole.every((b) => b === 0)}); ` +
    `st_blocks ${before} -> ${blocks()}: nothing allocated`);
  const p2 = m.page(2, 'write');
  log(`  page(2, 'write'): a block allocated and zeroed before the view exists, st_blocks ${before} -> ${blocks()}; ` +
    `the zero-page view is revoked (length ${hole.length})`);
  p2.write('page two');
  log(`  stored "page two" through it; read() at ${2 * PAGE}: ${readBack(2 * PAGE)}`);
  const s = m.stats;
  log(`  mapping.stats: faults ${s.faults}, majorFaults ${s.majorFaults} (allocated), zeroPageMaps ${s.zeroPageMaps}, mkwrites ${s.mkwrites} (zero page -> block)`);

  m.sync();
  log('  mapping.sync(): the stores above flushed and fenced, so durable from here on pmem (before it they may sit in the CPU' +
    ' cache); the allocation was durable when the write fault returned');
  try {
    m.page(3, 'read');
    log('  page(3): mapped?! (past EOF must not be)');
  } catch (e) {
    if (!(e instanceof DaxError)) throw e;
    log(`  page(3), past EOF: DaxError code '${e.code}' (${e.message})`);
  }
  m.unmap();
  log(`  unmap(): every view revoked (page 0 view length ${p0.length}, page 2 view length ${p2.length})`);
  h.close();
}

export function demo(log: (line: string) => void = console.log): void {
  log(formatInfo(gatherInfo()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-demo-'));
  try {
    const image = path.join(dir, 'demo.img');
    const dev = createDevice(image, { size: IMAGE_SIZE, force: false });
    try {
      const { mapping } = dev;
      const emulated = mapping.kind === 'file' || !mapping.isPmem;
      log('');
      log(`Image ${image}: ${formatSize(IMAGE_SIZE)}, sparse, ` + (emulated
        ? 'emulated pmem (a file with DAXFS_FORCE_PMEM: the flushes and fences run, but nothing here survives a power loss)'
        : `pmem (${mapping.kind})`));
      mkfs(dev.device, { label: 'demo' });
      const fsys = Filesystem.mount(dev.device, 'dax');
      const s = fsys.statfs();
      log(`mkfs: ${s.blocks} blocks of 4 KiB, ${s.files} inodes; mounted with dax`);

      fsys.writeFile('/hello.txt', 'hello from daxfs\n');
      const st = fsys.stat('/hello.txt');
      log(`Wrote /hello.txt (${st.size} bytes, S_DAX ${st.isDax ? 'set: no page cache' : 'clear'}), read back: ` +
        JSON.stringify(fsys.readFile('/hello.txt').toString()));

      // A crash image: the image's bytes taken mid-way through a run of appends, as if the
      // power went out there. Being a byte copy, it also keeps stores that were not yet
      // flushed; lib/testing's crash simulator is the tool that drops those.
      fsys.mkdir('/logs');
      const crash = path.join(dir, 'crash.img');
      const h = fsys.open('/logs/app.log', 'a');
      for (let i = 0; i < RECORDS; i++) {
        h.write(Buffer.from(record(i)));
        if (i + 1 === CRASH_AT) fs.copyFileSync(image, crash);
      }
      h.close();
      log(`Appended ${RECORDS} records to /logs/app.log (${fsys.stat('/logs/app.log').size} bytes); took a crash image after record ${CRASH_AT}`);
      const copy = openDevice(crash);
      try {
        const checked = fsck(copy.device);
        const repaired = checked.clean ? null : fsck(copy.device, { repair: true });
        const found = [...(checked.needsRecovery ? ['needs recovery'] : []), ...checked.problems].join('; ');
        log(`  fsck crash.img: ${checked.clean ? 'clean' : `${found}; repaired: ${repaired!.repaired.join('; ') || 'nothing'}`}`);
        const after = Filesystem.mount(copy.device, 'dax,ro');
        const text = after.readFile('/logs/app.log').toString();
        const lines = text.split('\n').filter(Boolean);
        const intact = lines.every((l, i) => l === record(i).trimEnd());
        log(`  mounted crash.img: /logs/app.log holds ${lines.length} records, ${intact ? 'each intact and in order' : 'NOT intact'}`);
        after.unmount();
      } finally {
        copy.close();
      }

      mappingTour(fsys, log);

      const block = Buffer.alloc(4096, 0x61);
      const bench = fsys.open('/bench.dat', 'w');
      for (let i = 0; i < 64; i++) bench.write(block, 0, 4096, i * 4096);   // blocks allocated up front: the loop measures overwrites
      const daxNs = time(2000, (i) => bench.write(block, 0, 4096, (i % 64) * 4096));
      bench.close();
      const plain = path.join(dir, 'plain.dat');
      const fd = fs.openSync(plain, 'w');
      for (let i = 0; i < 64; i++) fs.writeSync(fd, block, 0, 4096, i * 4096);
      fs.fdatasyncSync(fd);
      const fsNs = time(50, (i) => { fs.writeSync(fd, block, 0, 4096, (i % 64) * 4096); fs.fdatasyncSync(fd); });
      fs.closeSync(fd);
      fsys.unmount();
      const fstype = fstypeOf(dir);
      log('');
      log('4 KiB write, durable when it returns (median)');
      log(table([
        ['how', 'latency', 'vs daxfs'],
        [`daxfs FileHandle.write${emulated ? ' (emulated pmem)' : ''}`, formatNs(daxNs), '1x'],
        [`fs.writeSync + fdatasync (${fstype} on ${os.tmpdir()})`, formatNs(fsNs), `${(fsNs / daxNs).toFixed(0)}x`],
      ]).split('\n').map((l) => `  ${l}`).join('\n'));
      if (emulated) log('  emulated pmem measures the code path, not a durable store');
      if (fstype === 'tmpfs') log('  tmpfs keeps files in memory: its fdatasync does no I/O either');
    } finally {
      dev.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    log(`Removed ${dir}`);
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the main job on an emulated pmem image: mkfs, DAX mount, files, a crash image, mmap, latency',
  help: `Usage: daxfs demo

Needs no NVDIMM. In a temporary folder it makes an emulated pmem image, runs mkfs, mounts
it with dax, writes and reads files, takes a crash image mid-way through a run of writes
and checks it with fsck, maps a file and faults its pages (data, a hole, a write
fault, sync, SIGBUS past the end), prints the latency of a durable 4 KiB write next to
fs.writeSync + fdatasync on the same disk, and removes everything. Takes seconds.

Example:
  daxfs demo`,
  run(argv) {
    parseArgs(argv, { max: 0 });
    demo();
    return 0;
  },
};
