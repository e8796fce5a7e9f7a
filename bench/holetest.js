// The holetest case of bench/mm.js, run as its own process (node bench/holetest.js <image
// dir> <MiB> <reps>) because it starts worker threads: a sparse file of <MiB> whose every page
// gets markers at page/4 and 3*page/4 through write faults (xfstests' holetest): 2 workers
// that each write-fault every page and store one of the markers (racing on the same holes),
// or 1 worker that does both halves of the work (every page, both markers).
// (Giving each worker half of the pages instead fragments the file: both start allocating
// near the same device block, so their clusters interleave, and at 256 MiB the file needs
// more than the 255 extents an inode holds: the fault fails with SIGBUS, cause EFBIG.)
// Each worker mounts the same emulated pmem image with dax (test/mm/race-worker.js, role
// 'holetest'). The two ways alternate, `reps` times each; the wall time of one is from the
// first worker's first fault to the last worker's last fault (worker start-up and the mount
// are outside it). Prints one JSON line: { one: [ns...], two: [ns...] }.
'use strict';

const fs = require('fs');
const path = require('path');
const { Worker } = require('worker_threads');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const WORKER = path.join(ROOT, 'test', 'mm', 'race-worker.js');
const P = 4096;

function run(file, jobs) {
  const ctl = new Int32Array(new SharedArrayBuffer(16));
  return Promise.all(jobs.map((job) => new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: { ...job, role: 'holetest', dist: DIST, file, ctl, workers: jobs.length } });
    w.once('message', resolve);
    w.once('error', reject);
  }))).then((times) => Math.max(...times.map((t) => t.end)) - Math.min(...times.map((t) => t.start)));
}

async function main() {
  const [dir, mib, reps] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const daxfs = require(path.join(DIST, 'index.js'));
  const image = path.join(dir, `daxfs-bench-holetest-${process.pid}.img`);
  const size = mib << 20;
  const pages = size / P;
  fs.writeFileSync(image, '');
  fs.truncateSync(image, size + Math.max(32 << 20, size / 4));   // room for metadata
  const device = daxfs.devices.pmem(image);
  const out = { one: [], two: [] };
  try {
    daxfs.mkfs(device);
    const mount = daxfs.mount(device, 'dax');
    const h = mount.open('/hole', 'w+');
    const markers = [P / 4, (3 * P) / 4];   // each marker: the page index, then a tag
    for (let r = 0; r < reps; r++) {
      for (const way of r % 2 ? ['two', 'one'] : ['one', 'two']) {
        h.truncate(0);       // every page a hole again
        h.truncate(size);
        const jobs = way === 'one' ? [{ name: '/hole', pages, markers, tag: 1 }]
          : markers.map((at, k) => ({ name: '/hole', pages, markers: [at], tag: k + 1 }));
        out[way].push(await run(image, jobs));
        if (h.stat().blocks !== pages * (P / 512)) throw new Error(`holetest (${way}): ${h.stat().blocks / 8} blocks for ${pages} pages`);
      }
    }
    h.close();
    mount.unmount();
  } finally {
    device.close();
    fs.rmSync(image, { force: true });
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
