// The filesystem cases of `npm run bench` (run in bench/run.js's child, where
// DAXFS_FORCE_PMEM=1 is set): daxfs's own DAX filesystem (lib/fs) against node:fs, each
// comparison measured in the same process with its repetitions interleaved.
//
//   fs write 4 KiB   FileHandle.write at a fixed position of an existing file on a DAX mount
//                    (durable on return on pmem) vs fs.writeSync + fs.fdatasyncSync on a disk
//                    file, and vs fs.writeSync to a tmpfs file (not durable)
//   fs read 4 KiB    FileHandle.read vs fs.readSync of a page-cached file
//   small files      create + write 4 KiB + close, N files in one directory, vs node:fs on tmpfs
//   mount            mount + unmount of a 1 TiB sparse device vs a 1 GiB one (both mkfs'd first)
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const IO = 4 * KiB;

const { TMPFS, RAMFS, fsTypeOf, isRamFs } = require('./fstype');

/** A directory on a real disk (fdatasync must reach a device), or null. */
function diskDir(candidates) {
  for (const dir of candidates) {
    const t = fsTypeOf(dir);
    if (t !== null && t !== TMPFS && t !== RAMFS) return dir;
  }
  return null;
}

/** A sparse file of `size` bytes (tmpfs and ext4 allocate nothing until written). */
function sparseFile(p, size) {
  fs.rmSync(p, { force: true });
  const fd = fs.openSync(p, 'w', 0o600);
  fs.ftruncateSync(fd, size);
  fs.closeSync(fd);
}

/**
 * Runs the cases; record(case, bytes, result) stores each figure for run.js's table.
 * Returns what the report says about where things ran.
 */
function runFsCases({ ROOT, quick, measureInterleaved, record, imageDir }) {
  const daxfs = require(path.join(ROOT, 'dist', 'index.js'));
  const { mkfs } = require(path.join(ROOT, 'dist', 'fs', 'mkfs.js'));
  const { Filesystem } = require(path.join(ROOT, 'dist', 'fs', 'filesystem.js'));
  const opts = { quick };
  const tag = `${process.pid}`;
  const cleanup = [];
  const info = { imageDir, imageFs: null, isPmem: null, label: null, diskDir: null, tmpfsDir: null };

  // A filesystem on an emulated pmem device: a sparse file mapped with DAXFS_FORCE_PMEM=1.
  const makeFs = (name, size) => {
    const p = path.join(imageDir, `daxfs-bench-${name}-${tag}.img`);
    sparseFile(p, size);
    cleanup.push(() => fs.rmSync(p, { force: true }));
    const mapping = daxfs.mapFile(p, { sparse: true }); // no fallocate: 1 TiB must stay sparse
    const device = daxfs.devices.pmem(mapping);
    return { path: p, mapping, device, close: () => { device.close(); mapping.close(); } };
  };

  try {
    const img = makeFs('fs', 256 * MiB);
    mkfs(img.device);
    const t = fsTypeOf(imageDir);
    info.imageFs = t === TMPFS ? 'tmpfs' : t === null ? 'unknown' : `0x${t.toString(16)}`;
    info.isPmem = img.mapping.isPmem;
    // Honest labels: a mapping that is pmem only because DAXFS_FORCE_PMEM says so is DRAM
    // (tmpfs) or a page-cached disk file, and nothing it holds is durable.
    info.label = isRamFs(imageDir) ? 'emulated pmem (DRAM)' : `emulated pmem (${info.imageFs} page cache)`;
    const mount = Filesystem.mount(img.device, 'dax');

    const src = Buffer.alloc(IO);
    for (let i = 0; i < IO; i++) src[i] = (i * 131 + 7) & 255;
    const dst = Buffer.alloc(IO);

    // The DAX file: 1 MiB, written once, so the timed writes overwrite mapped blocks.
    const h = mount.open('/data', 'w+');
    for (let o = 0; o < MiB; o += IO) h.write(src, 0, IO, o);

    // node:fs files: one on a real disk (for fdatasync), one on tmpfs.
    const shm = fs.existsSync('/dev/shm') && isRamFs('/dev/shm') ? '/dev/shm' : null;
    const disk = diskDir([os.tmpdir(), '/var/tmp', __dirname]);
    info.diskDir = disk ? `${disk} (${fsTypeOf(disk) === 0xef53 ? 'ext4' : '0x' + fsTypeOf(disk).toString(16)})` : null;
    info.tmpfsDir = shm;
    const nodeFile = (dir, name) => {
      const p = path.join(dir, `daxfs-bench-${name}-${tag}.dat`);
      const fd = fs.openSync(p, 'w+', 0o600);
      cleanup.push(() => { fs.closeSync(fd); fs.rmSync(p, { force: true }); });
      const z = Buffer.alloc(MiB);
      fs.writeSync(fd, z, 0, z.length, 0);
      fs.fsyncSync(fd); // blocks allocated, metadata on disk: fdatasync then writes data only
      return fd;
    };

    // a. 4 KiB write at a fixed position.
    const daxWrite = (n) => { for (let i = 0; i < n; i++) h.write(src, 0, IO, 0); };
    if (disk) {
      const fd = nodeFile(disk, 'fsync');
      const [ours, theirs] = measureInterleaved([daxWrite, [(n) => {
        for (let i = 0; i < n; i++) { fs.writeSync(fd, src, 0, IO, 0); fs.fdatasyncSync(fd); }
      }, { targetMs: quick ? 20 : 60 }]], opts);
      record('fs write (dax) vs fdatasync', IO, ours);
      record('node write+fdatasync (disk)', IO, theirs);
    }
    if (shm) {
      const fd = nodeFile(shm, 'tmpfs');
      const [ours, theirs] = measureInterleaved([daxWrite, (n) => {
        for (let i = 0; i < n; i++) fs.writeSync(fd, src, 0, IO, 0);
      }], opts);
      record('fs write (dax) vs tmpfs', IO, ours);
      record('node write (tmpfs)', IO, theirs);
    }

    // b. 4 KiB read at a fixed position vs a page-cached file (the disk file, read once
    // so its page is cached; tmpfs when there is no disk).
    {
      const fd = nodeFile(disk || shm, 'read');
      fs.readSync(fd, dst, 0, IO, 0);
      const [ours, theirs] = measureInterleaved([
        (n) => { for (let i = 0; i < n; i++) h.read(dst, 0, IO, 0); },
        (n) => { for (let i = 0; i < n; i++) fs.readSync(fd, dst, 0, IO, 0); },
      ], opts);
      record('fs read (dax)', IO, ours);
      record('node read (page cache)', IO, theirs);
    }
    h.close();
    mount.unmount();
    img.close();

    // c. create + write 4 KiB + close of N files in one directory, on a fresh filesystem
    // (mkfs outside the timing) vs a fresh directory on tmpfs. One repetition is the
    // whole batch; ours and node's alternate.
    if (shm) {
      const files = quick ? 1000 : 10000;
      const reps = quick ? 1 : 3;
      const ours = { reps: [], wall_reps: [] };
      const theirs = { reps: [], wall_reps: [] };
      const cpuNs = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
      const time = (into, fn) => {
        const c0 = cpuNs();
        const t0 = process.hrtime.bigint();
        fn();
        into.wall_reps.push(Number(process.hrtime.bigint() - t0) / files);
        into.reps.push((cpuNs() - c0) / files);
      };
      for (let r = 0; r < reps; r++) {
        const small = makeFs(`small${r}`, 256 * MiB); // 16384 inodes
        mkfs(small.device);
        const sm = Filesystem.mount(small.device, 'dax');
        sm.mkdir('/d');
        time(ours, () => {
          for (let i = 0; i < files; i++) {
            const f = sm.open(`/d/f${i}`, 'w');
            f.write(src, 0, IO, 0);
            f.close();
          }
        });
        sm.unmount();
        small.close();
        fs.rmSync(small.path, { force: true });
        const dir = path.join(shm, `daxfs-bench-small-${tag}-${r}`);
        fs.mkdirSync(dir);
        time(theirs, () => {
          for (let i = 0; i < files; i++) {
            const fd = fs.openSync(path.join(dir, `f${i}`), 'w');
            fs.writeSync(fd, src, 0, IO, 0);
            fs.closeSync(fd);
          }
        });
        fs.rmSync(dir, { recursive: true, force: true });
      }
      const med = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
      for (const x of [ours, theirs]) { x.ns = med(x.reps); x.wallNs = med(x.wall_reps); x.iterations = files; x.wallReps = x.wall_reps; }
      record('small files (dax)', IO, ours);
      record('small files (node, tmpfs)', IO, theirs);
      info.smallFiles = files;
    }

    // d. mount + unmount of a 1 TiB sparse device vs a 1 GiB one. mkfs of each is timed
    // once (wall clock), outside the mount figures.
    {
      const big = makeFs('tib', TiB);
      const one = makeFs('gib', GiB);
      const mkfsMs = (d) => { const t0 = process.hrtime.bigint(); mkfs(d.device); return Number(process.hrtime.bigint() - t0) / 1e6; };
      info.mkfsMs = { gib: mkfsMs(one), tib: mkfsMs(big) };
      const mountOp = (d) => (n) => { for (let i = 0; i < n; i++) Filesystem.mount(d.device, 'dax').unmount(); };
      const [tib, gib] = measureInterleaved([mountOp(big), mountOp(one)], opts);
      record('mount 1 TiB', 0, tib);
      record('mount 1 GiB', 0, gib);
      big.close();
      one.close();
    }
  } finally {
    for (const f of cleanup.reverse()) {
      try { f(); } catch { /* best effort */ }
    }
  }
  return info;
}

module.exports = { runFsCases };
