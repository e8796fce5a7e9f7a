// A worker that ends while it holds the filesystem's process-wide locks: terminated in the
// middle of an operation, or ended by an uncaught throw, it must not leave them held (the
// addon releases what an environment holds when it is torn down); an operation that throws
// inside its lock releases it at once (try/finally through `using`). The other workers go on.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { native } from '../../lib/native';
import { DIST, freshDist } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

const METADATA_KEY = 2 ** 40;   // lib/fs/locking.ts

// Mounts the device file and opens /f; then `body` runs with fsys, h, ino, locks (the
// device's DeviceLocks, as the filesystem takes them) and state (an Int32Array to signal on).
function startWorker(file: string, state: Int32Array, body: string): Worker {
  return new Worker(`
    const { workerData } = require('node:worker_threads');
    const { devices } = require(${JSON.stringify(path.join(DIST, 'block'))});
    const { Filesystem } = require(${JSON.stringify(path.join(DIST, 'fs', 'filesystem'))});
    const { DeviceLocks } = require(${JSON.stringify(path.join(DIST, 'fs', 'locking'))});
    const { native } = require(${JSON.stringify(path.join(DIST, 'native'))});
    const { file, state } = workerData;
    const dev = devices.pmem(file);
    const fsys = Filesystem.mount(dev, 'dax');
    const h = fsys.open('/f', 'r+');
    const ino = h.stat().ino;
    const locks = new DeviceLocks(native.claimDevice(file));
    ${body}`, { eval: true, workerData: { file, state } });
}

function setup(mib = 8) {
  freshDist();
  const file = path.join(makeTempDir(), 'exit.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, mib << 20);
  const dev = devices.pmem(file);
  mkfs(dev);
  const main = Filesystem.mount(dev, 'dax');
  main.writeFile('/f', Buffer.alloc(3 * 4096, 1));
  const ino = main.stat('/f').ino;
  const domain = native.claimDevice(file);   // the device's lock domain (one more claim)
  const state = new Int32Array(new SharedArrayBuffer(8));
  const done = () => {
    native.releaseDevice(domain);
    main.unmount();
    dev.close();
  };
  return { file, main, ino, domain, state, done };
}

async function until(what: string, ok: () => boolean, ms = 10000): Promise<void> {
  for (const end = Date.now() + ms; !ok();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** True when the lock is free (taken and given back at once). */
function free(domain: number, key: number): boolean {
  if (!native.rwTryLock(domain, key, true)) return false;
  native.rwUnlock(domain, key, true);
  return true;
}

/** A second worker writes /f and reads it back: it must finish (nothing is left held). */
function otherWorkerWrites(file: string): Promise<string> {
  const w = startWorker(file, new Int32Array(new SharedArrayBuffer(8)), `
    h.write(Buffer.from('after'), 0, 5, 0);
    const b = Buffer.alloc(5);
    h.read(b, 0, 5, 0);
    h.close();
    fsys.unmount();
    dev.close();
    require('node:worker_threads').parentPort.postMessage(b.toString());`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the other worker did not finish in 10 s: a lock was left held')), 10000);
    w.once('message', (m: string) => { clearTimeout(timer); resolve(m); });
    w.once('error', reject);
  });
}

test('a worker terminated while it holds a file\'s lock exclusive does not leave it held: another worker then writes the file', async () => {
  const { file, main, ino, domain, state, done } = setup();
  const claims = native.deviceClaims(domain);
  const w = startWorker(file, state, `
    const held = locks.inode(ino, true);   // as a truncate holds it
    Atomics.store(state, 0, 1);
    for (;;) {}                            // a long operation, never finished`);
  try {
    await until('the worker to hold the lock', () => Atomics.load(state, 0) === 1);
    expect(free(domain, ino)).toBe(false);
    await w.terminate();
    await until('the lock to be released', () => free(domain, ino));
    expect(native.deviceClaims(domain)).toBe(claims);   // its mount's claim went too
    await expect(otherWorkerWrites(file)).resolves.toBe('after');
    expect(main.readFile('/f').subarray(0, 5).toString()).toBe('after');
  } finally {
    done();
  }
}, 30000);

test('a worker that throws uncaught while it holds a file\'s lock shared and the metadata lock ends without leaving them held', async () => {
  const { file, ino, domain, state, done } = setup();
  const w = startWorker(file, state, `
    const held = locks.inode(ino, false);
    const meta = locks.metadata(true);
    throw new Error('boom inside the locks');`);
  try {
    const error = await new Promise<Error>((resolve) => w.once('error', resolve));
    expect(error.message).toBe('boom inside the locks');
    await until('the locks to be released', () => free(domain, ino) && free(domain, METADATA_KEY));
    await expect(otherWorkerWrites(file)).resolves.toBe('after');
  } finally {
    done();
  }
}, 30000);

test('an operation that throws inside its locks (ENOSPC in a write) releases them at once, while its worker lives on', async () => {
  const { file, ino, domain, state, done } = setup(4);
  const w = startWorker(file, state, `
    const chunk = Buffer.alloc(256 * 1024, 2);
    let code;
    try { for (let at = 0; ; at += chunk.length) h.write(chunk, 0, chunk.length, at); }
    catch (e) { code = e.code; }
    require('node:worker_threads').parentPort.postMessage(code);
    Atomics.wait(state, 1, 0);             // alive until the test has looked at the locks
    h.close();
    fsys.unmount();
    dev.close();`);
  try {
    const code = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    expect(code).toBe('ENOSPC');
    expect(free(domain, ino)).toBe(true);
    expect(free(domain, METADATA_KEY)).toBe(true);
  } finally {
    Atomics.store(state, 1, 1);
    Atomics.notify(state, 1);
    await new Promise((r) => w.once('exit', r));
    done();
  }
}, 30000);
