// The promise API holds the process-wide inode lock while its copy runs on a libuv thread:
// another worker's sync truncate or write of the file waits until the copy has completed.
// Worker A starts a large promise write; worker B, as soon as A's write has been called (its
// copy queued), truncates the file or writes its end. Had B not waited, A's copy, still
// running, would land after B's change.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { DIST, freshDist } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

const SIZE = 24 << 20;   // the promise write: large enough that its copy takes a while

function worker(file: string, state: Int32Array, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(`
      const { workerData, parentPort } = require('node:worker_threads');
      const { devices } = require(${JSON.stringify(path.join(DIST, 'block'))});
      const { Filesystem } = require(${JSON.stringify(path.join(DIST, 'fs', 'filesystem'))});
      const { file, state } = workerData;
      const dev = devices.pmem(file);
      const fsys = Filesystem.mount(dev, 'dax');
      (async () => { ${body} })().then((r) => { fsys.unmount(); dev.close(); parentPort.postMessage(r ?? null); });`,
    { eval: true, workerData: { file, state } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

// A: one promise write of SIZE bytes of 0x11 at 0; state[0] = 1 once write() has returned
// its promise (the copy is queued, the lock held).
const PROMISE_WRITER = `
  const h = await fsys.promises.open('/f', 'r+');
  const p = h.write(Buffer.alloc(${SIZE}, 0x11), 0, ${SIZE}, 0);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
  const { bytesWritten } = await p;
  await h.close();
  return bytesWritten;`;

function setup() {
  freshDist();
  // On a disk (not tmpfs): the copy's msync makes it long, a wide window for the race.
  const file = path.join(makeTempDir('daxfs-pw-'), 'p.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 64 << 20);
  const dev = devices.pmem(file);
  mkfs(dev);
  const main = Filesystem.mount(dev, 'dax');
  main.writeFile('/f', '');
  return { file, main, dev, state: new Int32Array(new SharedArrayBuffer(8)) };
}

test('a sync truncate in another worker waits for a promise write whose copy is in flight', async () => {
  const { file, main, dev, state } = setup();
  const [written] = await Promise.all([
    worker(file, state, PROMISE_WRITER),
    worker(file, state, `
      while (Atomics.load(state, 0) === 0) Atomics.wait(state, 0, 0, 50);
      fsys.truncate('/f', 4096);`),
  ]);
  expect(written).toBe(SIZE);
  // The truncate came after the whole write: one page of it is left, and nothing past it.
  const st = main.stat('/f');
  expect(st.size).toBe(4096);
  expect(main.readFile('/f').equals(Buffer.alloc(4096, 0x11))).toBe(true);
  main.unmount();
  dev.close();
}, 60000);

test('a sync write in another worker waits for a promise write whose copy is in flight: the later write wins', async () => {
  const { file, main, dev, state } = setup();
  await Promise.all([
    worker(file, state, PROMISE_WRITER),
    worker(file, state, `
      while (Atomics.load(state, 0) === 0) Atomics.wait(state, 0, 0, 50);
      const h = fsys.open('/f', 'r+');
      h.write(Buffer.from('last'), 0, 4, ${SIZE - 4});
      h.close();`),
  ]);
  const got = Buffer.alloc(8);
  const h = main.open('/f', 'r');
  h.read(got, 0, 8, SIZE - 8);
  h.close();
  expect(got.toString('latin1')).toBe('\x11\x11\x11\x11last');
  main.unmount();
  dev.close();
}, 60000);

test('on the thread whose promise read holds the lock, a sync write that grows the file is EBUSY (it cannot wait for its own thread); once the read settles it works', async () => {
  const { main, dev } = setup();
  main.writeFile('/f', Buffer.alloc(SIZE, 0x22));
  const ph = await main.promises.open('/f', 'r');
  const h = main.open('/f', 'r+');
  const read = ph.read(Buffer.alloc(SIZE), 0, SIZE, 0);
  expect(() => h.write(Buffer.from('grow'), 0, 4, SIZE)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
  expect(h.write(Buffer.from('same'), 0, 4, 0)).toBe(4);   // within the size: shares the lock
  expect((await read).bytesRead).toBe(SIZE);
  expect(h.write(Buffer.from('grow'), 0, 4, SIZE)).toBe(4);
  h.close();
  await ph.close();
  expect(main.stat('/f').size).toBe(SIZE + 4);
  main.unmount();
  dev.close();
}, 60000);
