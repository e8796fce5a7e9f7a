// The file-mapping cases of `npm run bench` (run in bench/run.js's child, where
// DAXFS_FORCE_PMEM=1 is set): page faults of a FileMapping on a DAX mount of an emulated
// pmem device, each comparison measured in the same process with its repetitions interleaved.
//
//   read fault     mapping.page(i, 'read') of a page whose block exists, each page once per
//                  mapping, vs one fs.readSync of 4 KiB from the page cache
//   write fault    mapping.page(i, 'write') of a hole: allocate + zero + view, each page once,
//                  vs the same fs.readSync
//   page() again   mapping.page(i) of a page already faulted (the view handed out again) vs
//                  PmemMapping.view(offset, 4096) of the device's mapping
//
// A fault happens once per page per mapping, so the fault loops walk a 16 MiB file and,
// at its end, unmap (revoking every view) and map again; the write loop also truncates the
// file to 0 and back, freeing its blocks. That upkeep is inside the timing, spread over the
// 4096 faults of a pass, as a program that maps, touches and unmaps pays it.
//
//   holetest       2 worker threads write-faulting every hole of one sparse file (256 MiB, 32
//                  with --quick), one storing a marker at page/4, the other at 3*page/4,
//                  vs 1 worker doing both halves (both markers); wall time, in its own
//                  process (bench/holetest.js), the two ways alternating
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const KiB = 1024;
const MiB = 1024 * KiB;
const P = 4 * KiB;
const FILE = 16 * MiB;
const PAGES = FILE / P;
const AGAIN_PAGES = 64;   // page() again walks these, already faulted

const { isRamFs } = require('./fstype');

/** Runs the cases; record(case, bytes, result) stores each figure for run.js's table. */
function runMmCases({ ROOT, quick, measureInterleaved, record, imageDir }) {
  const daxfs = require(path.join(ROOT, 'dist', 'index.js'));
  const tag = `${process.pid}`;
  const cleanup = [];
  const info = { label: null, baselineFile: null };
  try {
    const image = path.join(imageDir, `daxfs-bench-mm-${tag}.img`);
    fs.rmSync(image, { force: true });
    const fd0 = fs.openSync(image, 'w', 0o600);
    fs.ftruncateSync(fd0, 128 * MiB);
    fs.closeSync(fd0);
    cleanup.push(() => fs.rmSync(image, { force: true }));
    const mapping = daxfs.mapFile(image, { sparse: true });
    const device = daxfs.devices.pmem(mapping);
    cleanup.push(() => { device.close(); mapping.close(); });
    info.label = isRamFs(imageDir) ? 'emulated pmem (DRAM)' : 'emulated pmem (page cache)';
    daxfs.mkfs(device);
    const mount = daxfs.mount(device, 'dax');
    cleanup.push(() => mount.unmount());

    // The read-fault file: every block written, so each fault maps an existing block.
    const r = mount.open('/read', 'w+');
    const chunk = Buffer.alloc(MiB, 0x5a);
    for (let o = 0; o < FILE; o += MiB) r.write(chunk, 0, MiB, o);
    let rm = r.mmap(0, FILE);
    let ri = 0;
    const readFault = (n) => {
      for (let k = 0; k < n; k++) {
        if (ri === PAGES) { rm.unmap(); rm = r.mmap(0, FILE); ri = 0; }
        rm.page(ri++, 'read');
      }
    };

    // The write-fault file: sparse, so each fault allocates, zeroes and maps a block.
    const w = mount.open('/write', 'w+');
    w.truncate(FILE);
    let wm = w.mmap(0, FILE, { write: true });
    let wi = 0;
    const writeFault = (n) => {
      for (let k = 0; k < n; k++) {
        if (wi === PAGES) { wm.unmap(); w.truncate(0); w.truncate(FILE); wm = w.mmap(0, FILE, { write: true }); wi = 0; }
        wm.page(wi++, 'write');
      }
    };

    // The baseline: one 4 KiB read of a page-cached file (tmpfs, else the OS temp dir).
    const dir = fs.existsSync('/dev/shm') && isRamFs('/dev/shm') ? '/dev/shm' : os.tmpdir();
    const basePath = path.join(dir, `daxfs-bench-mm-${tag}.dat`);
    const fd = fs.openSync(basePath, 'w+', 0o600);
    cleanup.push(() => { fs.closeSync(fd); fs.rmSync(basePath, { force: true }); });
    fs.writeSync(fd, Buffer.alloc(P, 1), 0, P, 0);
    info.baselineFile = basePath;
    const dst = Buffer.alloc(P);
    const nodeRead = (n) => { for (let k = 0; k < n; k++) fs.readSync(fd, dst, 0, P, 0); };

    const [rf, wf, nr] = measureInterleaved([readFault, writeFault, nodeRead], { quick });
    record('mm read fault', P, rf);
    record('mm write fault (hole)', P, wf);
    record('mm node read (page cache)', P, nr);

    // page() of pages already faulted vs PmemMapping.view of a page.
    const a = mount.open('/again', 'w+');
    a.write(Buffer.alloc(AGAIN_PAGES * P, 1));
    const am = a.mmap(0, AGAIN_PAGES * P, { write: true });
    for (let i = 0; i < AGAIN_PAGES; i++) am.page(i, 'write');
    let sink = 0;
    const again = (n) => { for (let k = 0; k < n; k++) sink += am.page(k & (AGAIN_PAGES - 1)).length; };
    const pmView = (n) => { for (let k = 0; k < n; k++) sink += mapping.view((k & (AGAIN_PAGES - 1)) * P, P).length; };
    const [pa, pv] = measureInterleaved([again, pmView], { quick });
    record('mm page() again', P, pa);
    record('mm PmemMapping.view', P, pv);
    if (sink === 0.5) console.error(sink);   // keep the loops' results observable

    // holetest: wall times from bench/holetest.js (worker threads need their own event loop).
    const mib = quick ? 32 : 256;
    const ht = spawnSync(process.execPath, [path.join(__dirname, 'holetest.js'), imageDir, String(mib), quick ? '1' : '3'],
      { encoding: 'utf8', env: process.env });
    if (ht.status !== 0) throw new Error(`bench/holetest.js failed: ${ht.stderr || ht.error}`);
    const times = JSON.parse(ht.stdout.trim().split('\n').pop());
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    for (const [way, xs] of [['2 workers', times.two], ['1 worker', times.one]]) {
      record(`mm holetest ${way}`, mib * MiB, { ns: median(xs), wallNs: median(xs), iterations: 1, reps: xs, wallReps: xs });
    }
  } finally {
    for (const f of cleanup.reverse()) {
      try { f(); } catch { /* best effort */ }
    }
  }
  return info;
}

module.exports = { runMmCases };
