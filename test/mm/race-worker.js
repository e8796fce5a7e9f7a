// One role of a race between worker threads that map the same file (test/mm/races.test.ts,
// bench/mm.js). Plain CommonJS: a worker cannot run TypeScript, so it loads the compiled
// package from workerData.dist. Each worker mounts the shared pmem device file itself.
//
// ctl (Int32Array over a SharedArrayBuffer) slots:
//   0  workers ready (the barrier)      1  a published value (a flag or a truncation size)
//   2  set to 1 when a loop should stop 3  the reader's iteration count
'use strict';
const { workerData, parentPort } = require('node:worker_threads');
const path = require('node:path');

const { dist, file, role, ctl, workers } = workerData;
const { devices } = require(path.join(dist, 'block'));
const { Filesystem } = require(path.join(dist, 'fs', 'filesystem'));
const P = 4096;

/** The byte the fault loop's file holds at offset o before any truncate: never 0. */
const patternByte = (o) => ((o * 31 + 7) % 251) + 1;

const dev = devices.pmem(file);
const fsys = Filesystem.mount(dev, 'dax');
const bad = (what) => { throw new Error(`${role} worker: ${what}`); };

function barrier() {
  Atomics.add(ctl, 0, 1);
  while (Atomics.load(ctl, 0) < workers) Atomics.wait(ctl, 0, Atomics.load(ctl, 0), 5);
}

const roles = {
  // xfstests' holetest: write-fault pages [from, to) of a sparse file and store a marker
  // (the page index, then the marker's own tag) at each offset of `markers`. Returns when
  // the faults started and ended (ns, the process's monotonic clock: bench/holetest.js
  // takes the wall time of several workers from these).
  holetest({ name, pages, from = 0, to = pages, markers, tag }) {
    const h = fsys.open(name, 'r+');
    const m = h.mmap(0, pages * P, { write: true });
    barrier();
    const start = Number(process.hrtime.bigint());
    for (let i = from; i < to; i++) {
      const v = m.page(i, 'write');
      for (const at of markers) { v.writeUInt32LE(i, at); v.writeUInt32LE(tag, at + 4); }
    }
    const end = Number(process.hrtime.bigint());
    m.unmap();
    h.close();
    return { start, end };
  },

  // Truncates the file down and back up to `full` until ctl[2], each round after the fault
  // loop's next pass has begun (so it holds views of what the truncate removes). The sizes
  // walk down from `full` to `low` by `step`, then again; after each truncate down returns,
  // ctl[1] holds the lowest size truncated to so far.
  truncater({ name, full, low, step }) {
    const h = fsys.open(name, 'r+');
    barrier();
    let k = 0;
    for (; Atomics.load(ctl, 2) === 0; k++) {
      while (Atomics.load(ctl, 3) <= k && Atomics.load(ctl, 2) === 0) Atomics.wait(ctl, 3, Atomics.load(ctl, 3), 1);
      const size = full - 1 - ((k * step) % (full - low));
      h.truncate(size);
      if (size < Atomics.load(ctl, 1)) Atomics.store(ctl, 1, size);
      h.truncate(full);
    }
    h.close();
    return { rounds: k };
  },

  // Read-faults every page of the file `passes` times (counted in ctl[3]), then sets ctl[2]. A byte is the pattern or zero;
  // the pattern never at or past a size the file was truncated to before the fault; SIGBUS
  // only for pages that a truncate can have put past EOF (at or past `low`).
  faultLoop({ name, full, low, passes }) {
    const h = fsys.open(name, 'r');
    const m = h.mmap(0, full);
    barrier();
    let loops = 0, sigbus = 0, zeros = 0;
    for (; loops < passes; loops++) {
      Atomics.add(ctl, 3, 1);
      for (let i = 0; i < full / P; i++) {
        const truncatedTo = Atomics.load(ctl, 1);
        let v;
        try {
          v = m.page(i, 'read');
        } catch (e) {
          if (e.code !== 'SIGBUS') throw e;
          if ((i + 1) * P <= low) bad(`SIGBUS on page ${i}, which no truncate puts past EOF`);
          sigbus++;
          continue;
        }
        if (v.length !== P) bad(`page ${i} handed out a revoked view`);
        for (let j = 0; j < P; j++) {
          const b = v[j];
          const o = i * P + j;
          if (b === 0) { zeros++; continue; }
          if (b !== patternByte(o)) bad(`byte ${b} at ${o} is neither the pattern nor zero`);
          if (o >= truncatedTo) bad(`old data at ${o}: the file was truncated to ${truncatedTo} before this fault`);
        }
      }
    }
    Atomics.store(ctl, 2, 1);
    m.unmap();
    h.close();
    return { loops, sigbus, zeros };
  },

  // Read-faults page `page` again and again, counting iterations in ctl[3]: the word at `at`
  // is 0 or `mark`, and it is `mark` once ctl[1] said the write was done before the fault.
  readHole({ name, page, at, mark }) {
    const h = fsys.open(name, 'r');
    const m = h.mmap(0, (page + 1) * P);
    barrier();
    let loops = 0, zeroViews = 0;
    for (const deadline = Date.now() + 5000; Date.now() < deadline; loops++) {
      const written = Atomics.load(ctl, 1) === 1;
      const got = m.page(page, 'read').readUInt32LE(at);
      Atomics.add(ctl, 3, 1);
      if (got !== 0 && got !== mark) bad(`read ${got} at page ${page}`);
      if (got === 0) zeroViews++;
      if (written) {
        if (got !== mark) bad(`a fault after the write finished still shows zeros (a stale zero-page view); loop ${loops}, mapping stats ${JSON.stringify(m.stats)}, file size ${h.stat().size}, blocks ${h.stat().blocks}`);
        break;
      }
    }
    m.unmap();
    h.close();
    return { loops, zeroViews };
  },

  // Waits for the reader to have faulted a few times, then fills the hole: by a write fault
  // (how: 'fault') or pwrite (how: 'pwrite'); sets ctl[1] when it has returned.
  fillHole({ name, page, at, mark, how }) {
    const h = fsys.open(name, 'r+');
    const m = h.mmap(0, (page + 1) * P, { write: true });
    barrier();
    while (Atomics.load(ctl, 3) < 20) Atomics.wait(ctl, 3, Atomics.load(ctl, 3), 1);
    if (how === 'fault') m.page(page, 'write').writeUInt32LE(mark, at);
    else {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(mark, 0);
      h.write(b, 0, 4, page * P + at);
    }
    Atomics.store(ctl, 1, 1);
    m.unmap();
    h.close();
    return {};
  },

  // Read-faults one hole `times` times at once with the other workers: always the zero page.
  readFaultOne({ name, page, times }) {
    const h = fsys.open(name, 'r');
    barrier();
    for (let k = 0; k < times; k++) {
      const m = h.mmap(0, (page + 1) * P);
      const v = m.page(page, 'read');
      if (v.length !== P || v.some((b) => b !== 0)) bad('a hole read back as something other than zeros');
      m.unmap();
    }
    h.close();
    return {};
  },
};

let result;
try {
  result = roles[role](workerData);
} finally {
  Atomics.store(ctl, 2, 1);   // a failing role stops the loops that wait on it
  fsys.unmount();
  dev.close();
}
parentPort.postMessage(result);
