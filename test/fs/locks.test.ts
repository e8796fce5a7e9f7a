import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { native } from '../../lib/native';

const ROOT = path.join(__dirname, '..', '..');

describe('process-wide locks and device claims (native/core/lock)', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-lock-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a device claimed by this process is refused to another process with EBUSY', () => {
    const file = path.join(dir, 'dev.img');
    fs.writeFileSync(file, 'x');
    const id = native.claimDevice(file);
    expect(native.claimDevice(file)).toBe(id);
    expect(native.deviceClaims(id)).toBe(2);
    const other = () => spawnSync(process.execPath, ['-e', `
      const { native } = require(${JSON.stringify(path.join(ROOT, 'dist/native.js'))});
      try { native.claimDevice(${JSON.stringify(file)}); console.log('claimed'); }
      catch (e) { console.log(e.code, e.message); }`], { encoding: 'utf8' }).stdout;
    expect(other()).toMatch(/^EBUSY .*in use by another process/);
    native.releaseDevice(id);
    expect(other()).toMatch(/^EBUSY/);
    native.releaseDevice(id);
    expect(native.deviceClaims(id)).toBe(0);
    expect(other()).toMatch(/^claimed/);
  });

  test('a worker shares the claim of its process instead of being refused', async () => {
    const file = path.join(dir, 'shared.img');
    fs.writeFileSync(file, 'x');
    const id = native.claimDevice(file);
    const result = await new Promise<unknown>((resolve, reject) => {
      const w = new Worker(`
        const { native } = require(${JSON.stringify(path.join(ROOT, 'dist/native.js'))});
        const id = native.claimDevice(${JSON.stringify(file)});
        const n = native.deviceClaims(id);
        native.releaseDevice(id);
        require('node:worker_threads').parentPort.postMessage({ id, n });`, { eval: true });
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(result).toEqual({ id, n: 2 });
    native.releaseDevice(id);
  });

  test('an exclusive lock held by a worker blocks the main thread until released', async () => {
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const w = new Worker(`
      const { native } = require(${JSON.stringify(path.join(ROOT, 'dist/native.js'))});
      const { workerData } = require('node:worker_threads');
      native.rwLock(77, 1, true);
      Atomics.store(workerData, 0, 1); Atomics.notify(workerData, 0);
      Atomics.wait(workerData, 1, 0, 200);   // hold the lock a while
      Atomics.store(workerData, 0, 2);
      native.rwUnlock(77, 1, true);`, { eval: true, workerData: shared });
    while (Atomics.load(shared, 0) === 0) await new Promise((r) => setTimeout(r, 5));
    expect(native.rwTryLock(77, 1, false)).toBe(false);
    native.rwLock(77, 1, false);           // blocks until the worker lets go
    expect(Atomics.load(shared, 0)).toBe(2);
    native.rwUnlock(77, 1, false);
    await new Promise((r) => w.once('exit', r));
  });

  test('unlocking a lock that is not held is an error, not a crash; bad arguments are refused', () => {
    expect(() => native.rwUnlock(5, 5, true)).toThrow(expect.objectContaining({ code: 'EPERM' }));
    expect(() => native.rwLock(-1, 0, true)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => native.rwLock(1, 0, 'yes' as unknown as boolean)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => native.claimDevice(path.join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(native.counterAdd(9, 9, 3)).toBe(3);
    expect(native.counterAdd(9, 9, -1)).toBe(2);
  });

  // Found by the native fuzzer (UBSan: signed overflow): delta used to go through
  // napi_get_value_int64, which saturates 2^64 to INT64_MAX, reads NaN as 0 and truncates 0.5.
  test('counterAdd: a delta that is not a safe integer is refused; a sum past 2^53 - 1 leaves the counter unchanged', () => {
    for (const bad of [0.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, -(2 ** 64)]) {
      expect(() => native.counterAdd(10, 1, bad)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(() => native.counterAdd(10, 1, 1n as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(native.counterAdd(10, 1, 0)).toBe(0);
    expect(native.counterAdd(10, 1, 2 ** 53 - 2)).toBe(2 ** 53 - 2);
    expect(() => native.counterAdd(10, 1, 2)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(native.counterAdd(10, 1, 1)).toBe(2 ** 53 - 1);
    expect(native.counterAdd(10, 1, -(2 ** 53 - 1))).toBe(0);
    expect(native.counterAdd(10, 1, -(2 ** 53 - 1))).toBe(-(2 ** 53 - 1));
    expect(() => native.counterAdd(10, 1, -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(native.counterAdd(10, 1, 0)).toBe(-(2 ** 53 - 1));
  });
});
