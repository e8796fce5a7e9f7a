// The races of file mappings between worker threads that each mount one pmem device file
// with dax (the roles are in race-worker.js, which loads dist/). Each asserts the outcome a
// serialised filesystem must give, whatever the interleaving: every marker of two
// concurrent holetests survives and each page gets one block; a fault never shows data a
// truncate removed; a fault after a write into a hole (by another worker) sees the data;
// many read faults of one hole at once finish.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { DIST, freshDist } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

const P = 4096;
const WORKER = path.join(__dirname, 'race-worker.js');
const patternByte = (o: number) => ((o * 31 + 7) % 251) + 1;   // as race-worker.js

// Images on tmpfs when there is one: on a disk, every persist is an msync that reaches it.
const IMAGES = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();

/** A fresh filesystem on a pmem device file, mounted on the main thread too. */
function fresh(mib: number) {
  freshDist();
  const file = path.join(makeTempDir('daxfs-races-', IMAGES), 'races.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, mib << 20);
  const dev = devices.pmem(file);
  mkfs(dev);
  const main = Filesystem.mount(dev, 'dax');
  const done = () => {
    main.unmount();
    const check = fsck(dev);
    dev.close();
    expect(check.problems).toEqual([]);
  };
  return { file, main, done };
}

/** Runs the roles at once (each waits at a barrier for the others); their results, in order. */
function race<T = Record<string, number>>(file: string, roles: Array<{ role: string } & Record<string, unknown>>,
  ctl = new Int32Array(new SharedArrayBuffer(16))): Promise<T[]> {
  return Promise.all(roles.map((r) => new Promise<T>((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: { ...r, dist: DIST, file, ctl, workers: roles.length } });
    let result: T | undefined;
    w.once('message', (m: T) => { result = m; });
    w.once('error', reject);
    w.once('exit', (code) => (result && code === 0 ? resolve(result) : reject(new Error(`${r.role} worker exited with ${code}`))));
  })));
}

test('holetest: two workers write-faulting the same holes of a 16 MiB sparse file keep every marker, and each page gets exactly one block', async () => {
  const { file, main, done } = fresh(40);
  const pages = (16 << 20) / P;
  const h = main.open('/hole', 'w+');
  h.truncate(pages * P);
  await race(file, [
    { role: 'holetest', name: '/hole', pages, markers: [P / 4], tag: 0xa1 },
    { role: 'holetest', name: '/hole', pages, markers: [(3 * P) / 4], tag: 0xb2 },
  ]);
  const data = main.readFile('/hole');
  const lost: string[] = [];
  for (let i = 0; i < pages; i++) {
    const page = data.subarray(i * P, (i + 1) * P);
    if (page.readUInt32LE(P / 4) !== i || page.readUInt32LE(P / 4 + 4) !== 0xa1) lost.push(`page ${i} at ${P / 4}`);
    if (page.readUInt32LE((3 * P) / 4) !== i || page.readUInt32LE((3 * P) / 4 + 4) !== 0xb2) lost.push(`page ${i} at ${(3 * P) / 4}`);
  }
  expect(lost.slice(0, 5)).toEqual([]);
  expect(h.stat().blocks).toBe(pages * (P / 512));   // one block per page, none twice
  h.close();
  done();
}, 60000);

test('a fault loop racing truncate down and up never sees data past a size the file was truncated to, and SIGBUS only past EOF', async () => {
  const { file, main, done } = fresh(8);
  const full = 8 * P;
  const low = 2 * P + 100;
  const bytes = Buffer.alloc(full);
  for (let o = 0; o < full; o++) bytes[o] = patternByte(o);
  main.writeFile('/t', bytes);
  const ctl = new Int32Array(new SharedArrayBuffer(16));
  ctl[1] = full;   // no truncate yet
  const [trunc, loop] = await race(file, [
    { role: 'truncater', name: '/t', full, low, step: 1500 },
    { role: 'faultLoop', name: '/t', full, low, passes: 300 },
  ], ctl);
  // The race happened: truncates during the loop, and faults of the holes they left. (A
  // fault inside the short truncated-down window gets SIGBUS; how often is up to the
  // scheduler, so it is counted, not required.)
  expect(trunc.rounds).toBeGreaterThan(20);
  expect(loop.zeros).toBeGreaterThan(0);
  // What the file holds at the end: the pattern below the lowest truncation, zeros above.
  const end = main.readFile('/t');
  const lowest = ctl[1];
  expect(lowest).toBeLessThan(full);
  expect(end.subarray(0, lowest).equals(bytes.subarray(0, lowest))).toBe(true);
  expect(end.subarray(lowest).every((b) => b === 0)).toBe(true);
  done();
}, 60000);

test.each(['fault', 'pwrite'])('a read fault looping on a hole sees the data once another worker\'s %s into it has returned (no stale zero-page view)', async (how) => {
  const { file, main, done } = fresh(8);
  const h = main.open('/h', 'w+');
  h.truncate(4 * P);
  const mark = 0x600dcafe;
  const [reader] = await race(file, [
    { role: 'readHole', name: '/h', page: 2, at: 100, mark },
    { role: 'fillHole', name: '/h', page: 2, at: 100, mark, how },
  ]);
  expect(reader.zeroViews).toBeGreaterThan(0);   // it did map the hole before the fill
  const got = Buffer.alloc(4);
  h.read(got, 0, 4, 2 * P + 100);
  expect(got.readUInt32LE(0)).toBe(mark);
  expect(h.stat().blocks).toBe(P / 512);         // the one page filled, once
  h.close();
  done();
}, 30000);

test('four workers read-faulting one hole at once all get the zero page, allocate nothing, and finish', async () => {
  const { file, main, done } = fresh(8);
  const h = main.open('/z', 'w+');
  h.truncate(4 * P);
  const all = race(file, Array.from({ length: 4 }, () => ({ role: 'readFaultOne', name: '/z', page: 1, times: 200 })));
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('read faults of one hole did not finish in 20 s (deadlock?)')), 20000).unref());
  await Promise.race([all, timeout]);
  expect(h.stat().blocks).toBe(0);
  h.close();
  done();
}, 30000);
