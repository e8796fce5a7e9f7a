// Several worker threads mount the same pmem file with dax and work in one directory at
// once; the main thread keeps its own mount of it too. Workers cannot run TypeScript
// through ts-jest, so they load the compiled package from dist/: `npm test` builds it in
// pretest, and freshDist() below rebuilds it with tsc when a lib/ file is newer than its
// output, so a stale dist/ never tests old code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { DeviceLocks } from '../../lib/fs/locking';
import { native } from '../../lib/native';
import { DIST, freshDist } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

/** File bytes: position based, so a prefix of a pattern is the pattern of the prefix. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13) & 0xff;
  return b;
}

/** What the writer stores at offset o of /d/shared: never 0, which a truncate leaves. */
const sharedByte = (o: number) => ((o * 31 + 7) % 255) + 1;
/** Bytes of /d/shared the racing roles work on. */
const SPAN = 7 * 4096;

// The worker's body (CommonJS, run with eval). Roles: 'files' creates, writes, reads back,
// truncates and unlinks its own files in /d; 'writer', 'truncater' and 'reader' work on the
// one file /d/shared at the same time, so truncates race data copies.
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { devices } = require(${JSON.stringify(path.join(DIST, 'block'))});
const { Filesystem } = require(${JSON.stringify(path.join(DIST, 'fs', 'filesystem'))});
const { file, id, role, rounds, start, workers } = workerData;
const SPAN = ${SPAN};
const pattern = ${pattern.toString()};
const sharedByte = ${sharedByte.toString()};
const dev = devices.pmem(file);
const fsys = Filesystem.mount(dev, 'dax');
Atomics.add(start, 0, 1);
while (Atomics.load(start, 0) < workers) Atomics.wait(start, 0, Atomics.load(start, 0), 20);
const kept = [];
const bad = (what) => { throw new Error('worker ' + id + ' (' + role + '): ' + what); };
try {
  if (role === 'files') {
    for (let k = 0; k < rounds; k++) {
      const name = '/d/w' + id + '-' + k;
      const seed = id * 1000 + k;
      const size = 1 + ((k * 7919 + id * 104729) % (3 * 4096 + 100));
      const data = pattern(size, seed);
      const h = fsys.open(name, 'wx');
      for (let at = 0; at < size; at += 1500) h.write(data, at, Math.min(1500, size - at), at);
      h.close();
      if (!fsys.readFile(name).equals(data)) bad(name + ' read back differs from what was written');
      if (k % 3 === 2) fsys.unlink(name);                  // its blocks go to the others
      else if (k % 5 === 4) { fsys.truncate(name, size >> 1); kept.push([name, size >> 1, seed]); }
      else kept.push([name, size, seed]);
    }
  } else {
    const h = fsys.open('/d/shared', 'r+');
    for (let k = 0; k < rounds * 6; k++) {
      if (role === 'writer') {
        const pos = (k * 3001) % (SPAN / 2);
        const len = 1 + (k * 577) % 5000;
        const b = Buffer.alloc(len);
        for (let i = 0; i < len; i++) b[i] = sharedByte(pos + i);
        h.write(b, 0, len, pos);
      } else if (role === 'truncater') {
        h.truncate((k * 50021) % SPAN);
      } else {
        const b = Buffer.alloc(SPAN);
        const n = h.read(b, 0, b.length, 0);
        for (let i = 0; i < n; i++) if (b[i] !== 0 && b[i] !== sharedByte(i)) bad('read byte ' + b[i] + ' at ' + i + ' of /d/shared');
      }
    }
    h.close();
  }
  parentPort.postMessage({ kept });
} finally {
  fsys.unmount();
  dev.close();
}`;

interface Kept { kept: Array<[string, number, number]> }

function runWorker(workerData: object): Promise<Kept> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData });
    let result: Kept | undefined;
    w.once('message', (m: Kept) => { result = m; });
    w.once('error', reject);
    w.once('exit', (code) => (result && code === 0 ? resolve(result) : reject(new Error(`worker exited with ${code}`))));
  });
}

test('workers mounting one pmem file with dax create, write, truncate and unlink in one directory at once: fsck is clean and every file holds exactly its bytes', async () => {
  freshDist();
  const file = path.join(makeTempDir(), 'shared.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 16 << 20);
  const dev = devices.pmem(file);
  mkfs(dev);
  const main = Filesystem.mount(dev, 'dax');   // the main thread's mount stays up throughout
  main.mkdir('/d');
  main.writeFile('/d/shared', '');

  const roles = ['files', 'files', 'files', 'writer', 'truncater', 'reader'];
  const start = new Int32Array(new SharedArrayBuffer(4));
  const results = await Promise.all(roles.map((role, id) =>
    runWorker({ file, id, role, rounds: 18, start, workers: roles.length })));

  try {
    const kept = results.flatMap((r) => r.kept);
    expect(kept.length).toBe(3 * 12);
    expect(main.readdir('/d')).toEqual([...kept.map(([name]) => path.basename(name)), 'shared'].sort());
    for (const [name, size, seed] of kept) {
      const got = main.readFile(name);
      expect({ name, size: got.length, same: got.equals(pattern(size, seed)) }).toEqual({ name, size, same: true });
    }
    const shared = main.readFile('/d/shared');
    const wrong = [...shared].findIndex((b, i) => b !== 0 && b !== sharedByte(i));
    expect(wrong).toBe(-1);
  } finally {
    main.unmount();
  }
  const check = fsck(dev);
  expect(check.problems).toEqual([]);
  expect(check.clean).toBe(true);
  dev.close();
}, 300000);

test('a truncate waits for a data copy in progress in another worker (the per-inode lock is process wide)', async () => {
  freshDist();
  const file = path.join(makeTempDir(), 'lock.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 8 << 20);
  const dev = devices.pmem(file);
  mkfs(dev);
  const main = Filesystem.mount(dev, 'dax');
  main.writeFile('/f', Buffer.alloc(3 * 4096, 1));
  const ino = main.stat('/f').ino;
  // Hold the file's lock shared, as a read or write copy does while it runs.
  const domain = native.claimDevice(file);
  const copy = new DeviceLocks(domain).inode(ino, false);
  const state = new Int32Array(new SharedArrayBuffer(4));
  const done = new Promise<void>((resolve, reject) => {
    const w = new Worker(`
      const { workerData } = require('node:worker_threads');
      const { devices } = require(${JSON.stringify(path.join(DIST, 'block'))});
      const { Filesystem } = require(${JSON.stringify(path.join(DIST, 'fs', 'filesystem'))});
      const dev = devices.pmem(workerData.file);
      const fsys = Filesystem.mount(dev, 'dax');
      Atomics.store(workerData.state, 0, 1);
      fsys.truncate('/f', 100);
      Atomics.store(workerData.state, 0, 2);
      fsys.unmount();
      dev.close();`, { eval: true, workerData: { file, state } });
    w.once('error', reject);
    w.once('exit', () => resolve());
  });
  try {
    while (Atomics.load(state, 0) === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 300));
    expect(Atomics.load(state, 0)).toBe(1);          // still waiting for the copy
    expect(main.stat('/f').size).toBe(3 * 4096);
  } finally {
    copy[Symbol.dispose]();
  }
  await done;
  expect(Atomics.load(state, 0)).toBe(2);
  expect(main.stat('/f').size).toBe(100);
  main.unmount();
  native.releaseDevice(domain);
  dev.close();
}, 120000);

test('appends from several workers to one file never overwrite each other (O_APPEND finds the end under the file lock)', async () => {
  freshDist();
  const file = path.join(makeTempDir(), 'append.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 8 << 20);
  const dev = devices.pmem(file);
  mkfs(dev);
  const main = Filesystem.mount(dev, 'dax');
  main.writeFile('/log', '');
  const RECORD = 64;
  const COUNT = 300;
  const WORKERS = 3;
  const start = new Int32Array(new SharedArrayBuffer(4));
  await Promise.all(Array.from({ length: WORKERS }, (_, id) => new Promise<void>((resolve, reject) => {
    const w = new Worker(`
      const { workerData } = require('node:worker_threads');
      const { devices } = require(${JSON.stringify(path.join(DIST, 'block'))});
      const { Filesystem } = require(${JSON.stringify(path.join(DIST, 'fs', 'filesystem'))});
      const dev = devices.pmem(workerData.file);
      const fsys = Filesystem.mount(dev, 'dax');
      Atomics.add(workerData.start, 0, 1);
      while (Atomics.load(workerData.start, 0) < ${WORKERS}) Atomics.wait(workerData.start, 0, Atomics.load(workerData.start, 0), 20);
      const h = fsys.open('/log', 'a');
      for (let k = 0; k < ${COUNT}; k++) h.write(Buffer.from(('w' + workerData.id + '-' + k).padEnd(${RECORD - 1}, '.') + '\\n'));
      h.close();
      fsys.unmount();
      dev.close();`, { eval: true, workerData: { file, id, start } });
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  })));
  const log = main.readFile('/log').toString();
  main.unmount();
  dev.close();
  expect(log.length).toBe(WORKERS * COUNT * RECORD);
  const records = log.split('\n').filter(Boolean).map((r) => r.replace(/\.+$/, ''));
  const want = Array.from({ length: WORKERS }, (_, id) => Array.from({ length: COUNT }, (_, k) => `w${id}-${k}`)).flat();
  expect(records.sort()).toEqual(want.sort());
}, 120000);
