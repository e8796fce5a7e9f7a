// Mappings and worker threads: a worker that exits (or is terminated) without close() has
// its mappings unmapped by the env cleanup hook, and the process stays healthy; a mapping
// made in the main thread keeps working while workers run. All in a child process, so a
// crash shows up as a signal instead of taking jest down.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChildResult, describeChild, DIST_INDEX, lastJson, runChildAsync } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

let r: ChildResult;
let res: any;
let dir: string;

beforeAll(async () => {
  dir = makeTempDir('daxfs-workers-');
  r = await runChildAsync(`
    const { Worker } = require('node:worker_threads');
    const DIST = ${JSON.stringify(DIST_INDEX)};
    const dir = process.env.D;
    const mapped = (f) => fs.readFileSync('/proc/self/maps', 'utf8').includes(f);
    const runWorker = (code, workerData) => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData });
      const messages = [];
      w.on('message', (m) => messages.push(m));
      w.on('error', reject);
      w.on('exit', (code) => resolve({ code, messages }));
    });
    (async () => {
      const res = {};
      // 1. a worker maps, writes, persists and exits without close()
      const f1 = path.join(dir, 'w1');
      const one = await runWorker(\`
        const { workerData, parentPort } = require('node:worker_threads');
        const daxfs = require(workerData.dist);
        const m = daxfs.mapFile(workerData.file, { create: true, size: 1 << 20 });
        m.copy(0, Buffer.from('written by a worker'));
        m.view(4096, 4).write('tail');
        m.persist(4096, 4);
        parentPort.postMessage(require('node:fs').readFileSync('/proc/self/maps', 'utf8').includes(workerData.file));
      \`, { dist: DIST, file: f1 });
      res.exitWithoutClose = { code: one.code, mappedInWorker: one.messages[0], mappedAfterExit: mapped(f1),
        data: fs.readFileSync(f1).subarray(0, 19).toString() + '|' + fs.readFileSync(f1).subarray(4096, 4100).toString() };

      // 2. a worker terminated in the middle of writing through a view
      const f2 = path.join(dir, 'w2');
      const w = new Worker(\`
        const { workerData, parentPort } = require('node:worker_threads');
        const daxfs = require(workerData.dist);
        const m = daxfs.mapFile(workerData.file, { create: true, size: 1 << 20 });
        const v = m.view(0, m.size);
        parentPort.postMessage('ready');
        for (let i = 0; ; i++) { v[i % v.length] = i & 0xff; if ((i & 0xffff) === 0) m.persist(0, 4096); }
      \`, { eval: true, workerData: { dist: DIST, file: f2 } });
      await new Promise((resolve) => w.once('message', resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const code2 = await w.terminate();
      res.terminated = { code: code2, mappedAfterTerminate: mapped(f2) };

      // 3. a mapping made in main is used while workers run (and map files of their own)
      const f3 = path.join(dir, 'main');
      const m = daxfs.mapFile(f3, { create: true, size: 1 << 20 });
      const busy = [0, 1].map((n) => runWorker(\`
        const { workerData } = require('node:worker_threads');
        const daxfs = require(workerData.dist);
        for (let i = 0; i < 40; i++) {
          const m = daxfs.mapFile(workerData.file, { create: true, size: 1 << 20 });
          m.fill(0, i & 0xff, m.size);
          if (i % 2) m.close();
        }
      \`, { dist: DIST, file: path.join(dir, 'busy' + n) }));
      const want = Buffer.alloc(1 << 20);
      for (let i = 0; i < 200; i++) {
        const chunk = Buffer.alloc(4096, i & 0xff);
        m.copy((i % 256) * 4096, chunk);
        chunk.copy(want, (i % 256) * 4096);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const busyExit = await Promise.all(busy);
      res.mainWhileWorkers = { workerCodes: busyExit.map((b) => b.code), viewOk: m.view(0, m.size).equals(want),
        fileOk: fs.readFileSync(f3).equals(want) };
      m.close();

      // 4. workers mapping the same file write disjoint ranges; all of them land
      const f4 = path.join(dir, 'shared');
      fs.writeFileSync(f4, Buffer.alloc(4 * 65536));
      const shared = await Promise.all([0, 1, 2, 3].map((n) => runWorker(\`
        const { workerData } = require('node:worker_threads');
        const daxfs = require(workerData.dist);
        const m = daxfs.mapFile(workerData.file);
        m.fill(workerData.n * 65536, 0x10 + workerData.n, 65536);
      \`, { dist: DIST, file: f4, n })));
      const disk = fs.readFileSync(f4);
      res.sharedFile = { codes: shared.map((s) => s.code),
        ok: [0, 1, 2, 3].every((n) => disk.subarray(n * 65536, (n + 1) * 65536).every((b) => b === 0x10 + n)),
        mappedAfter: mapped(f4) };

      // 5. the process is still healthy: map, write, read back
      const h = daxfs.mapAnonymous(1 << 16);
      h.copy(10, Buffer.from('healthy'));
      res.healthy = h.view(10, 7).toString();
      h.close();
      out(res);
    })().catch((e) => { console.error(e); process.exit(3); });
  `, { D: dir }, { timeout: 60000 });
  res = r.status === 0 ? lastJson(r) : {};
}, 90000);

test('the child process with workers exits 0 with no signal', () => {
  expect(describeChild(r)).toMatch(/^status 0, signal null/);
});

test('a worker that maps, writes and exits without close() leaves its data in the file and its mapping unmapped', () => {
  expect(res.exitWithoutClose).toEqual({ code: 0, mappedInWorker: true, mappedAfterExit: false, data: 'written by a worker|tail' });
  expect(fs.readFileSync(path.join(dir, 'w1')).subarray(0, 19).toString()).toBe('written by a worker');
});

test('a worker terminated while writing through a view does not crash the process, and its mapping is unmapped', () => {
  expect(res.terminated).toEqual({ code: 1, mappedAfterTerminate: false });
});

test('a mapping made in the main thread works while workers map, fill and drop their own', () => {
  expect(res.mainWhileWorkers).toEqual({ workerCodes: [0, 0], viewOk: true, fileOk: true });
});

test('workers mapping the same file write disjoint ranges that all land', () => {
  expect(res.sharedFile).toEqual({ codes: [0, 0, 0, 0], ok: true, mappedAfter: false });
});

test('after all that the process still maps and writes memory', () => {
  expect(res.healthy).toBe('healthy');
});
