// The native asynchronous copy (native/binding/async_copy.cc) behind the promises API:
// results, argument checks before anything is queued, and closing a mapping mid-copy.
import * as path from 'node:path';
import { mapAnonymous, mapFile } from '../../lib/pmem';
import { asyncCopier } from '../../lib/pmem/mapping';
import { native } from '../../lib/native';
import { lastJson, runChildAsync } from '../helpers/child';
import { makeTempDir, pattern, readAt, useTempDirs } from '../helpers/tmp';

useTempDirs();
const MiB = 1024 * 1024;

async function codeOf(p: () => Promise<unknown>): Promise<string | undefined> {
  try { await p(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

describe('copyAsync', () => {
  test('a segmented write lands where the synchronous copy puts it, and a read brings it back', async () => {
    const a = mapAnonymous(4 * MiB);
    const b = mapAnonymous(4 * MiB);
    const src = pattern(3 * MiB, 5);
    const segs = Float64Array.of(4096, 0, MiB, 2 * MiB + 17, MiB, MiB);
    await asyncCopier(a)!(true, src, segs);
    b.copy(4096, src.subarray(0, MiB));
    b.copy(2 * MiB + 17, src.subarray(MiB, 2 * MiB));
    expect(a.view(0, 4 * MiB).equals(b.view(0, 4 * MiB))).toBe(true);
    const back = Buffer.alloc(3 * MiB);
    await asyncCopier(a)!(false, back, segs);
    expect(back.subarray(0, 2 * MiB).equals(src.subarray(0, 2 * MiB))).toBe(true);
    a.close();
    b.close();
  });

  test('a write to a file mapping reaches the file when the promise resolves (msync path)', async () => {
    const file = path.join(makeTempDir('daxfs-acopy-'), 'f');
    const m = mapFile(file, { create: true, size: 2 * MiB });
    const src = pattern(MiB, 9);
    await asyncCopier(m)!(true, src, Float64Array.of(MiB, 0, MiB));
    expect(readAt(file, MiB, MiB).equals(src)).toBe(true);
    m.close();
  });

  test('the main thread runs other callbacks while a large copy is in flight', async () => {
    const m = mapAnonymous(64 * MiB);
    const src = Buffer.alloc(64 * MiB, 3);
    const order: string[] = [];
    const copy = asyncCopier(m)!(true, src, Float64Array.of(0, 0, 64 * MiB)).then(() => order.push('copy'));
    setImmediate(() => order.push('immediate'));
    await copy;
    expect(order[0]).toBe('immediate');
    m.close();
  });

  test('bad arguments throw before anything is queued, with the codes of the sync calls', async () => {
    const m = mapAnonymous(MiB);
    const copy = asyncCopier(m)!;
    const buf = Buffer.alloc(4096);
    const t = (fn: () => unknown) => { try { fn(); } catch (e) { return (e as { code?: string }).code; } return undefined; };
    expect(t(() => copy(true, buf, Float64Array.of(MiB - 10, 0, 100)))).toBe('ERR_OUT_OF_RANGE');      // past the mapping
    expect(t(() => copy(true, buf, Float64Array.of(0, 4000, 100)))).toBe('ERR_OUT_OF_RANGE');          // past the buffer
    expect(t(() => copy(true, buf, Float64Array.of(0, 0, -1)))).toBe('ERR_OUT_OF_RANGE');
    expect(t(() => copy(true, buf, Float64Array.of(0.5, 0, 1)))).toBe('ERR_OUT_OF_RANGE');
    expect(t(() => copy(true, buf, Float64Array.of(0, 0)))).toBe('ERR_INVALID_ARG_VALUE');             // not whole triples
    expect(t(() => copy(true, buf, [0, 0, 1] as unknown as Float64Array))).toBe('ERR_INVALID_ARG_TYPE');
    expect(t(() => copy(true, 'x' as unknown as Buffer, Float64Array.of(0, 0, 1)))).toBe('ERR_INVALID_ARG_TYPE');
    expect(t(() => copy(1 as unknown as boolean, buf, Float64Array.of(0, 0, 1)))).toBe('ERR_INVALID_ARG_TYPE');
    expect(t(() => native.copyAsync({} as never, true, buf, Float64Array.of(0, 0, 1)))).toBe('ERR_INVALID_ARG_TYPE');
    expect(t(() => (native.copyAsync as (...a: unknown[]) => unknown)())).toBe('ERR_INVALID_ARG_TYPE');
    // null and undefined used to throw V8's own TypeError, without a code (found by the fuzzer).
    for (const h of [null, undefined, 5, 'x', Symbol('h')]) {
      expect(t(() => native.copyAsync(h as never, true, buf, Float64Array.of(0, 0, 1)))).toBe('ERR_INVALID_ARG_TYPE');
    }
    m.close();
    expect(t(() => copy(true, buf, Float64Array.of(0, 0, 1)))).toBe('EBADF');
    expect(await codeOf(async () => copy(true, buf, Float64Array.of(0, 0, 1)))).toBe('EBADF');
  });

  test('only our own mappings copy asynchronously: a wrapper gets the sync path (it must see every store)', () => {
    const m = mapAnonymous(MiB);
    expect(asyncCopier({ ...m } as never)).toBeUndefined();
    expect(asyncCopier(m)).toBeDefined();
    m.close();
  });
});

describe('closing the mapping during an async copy (child process)', () => {
  test('the copy rejects with EBADF, the process does not crash, and bytes outside the target are untouched', async () => {
    const file = path.join(makeTempDir('daxfs-acopy-close-'), 'f');
    const r = await runChildAsync(`
      const { asyncCopier } = require(path.join(process.cwd(), 'dist/pmem/mapping.js'));
      (async () => {
        const MiB = 1 << 20;
        const results = [];
        for (let round = 0; round < 4; round++) {
          const m = daxfs.mapFile(process.env.F, { create: true, size: 80 * MiB });
          m.fill(0, 0x55, MiB);                              // a guard region the copies never target
          m.fill(79 * MiB, 0x55, MiB);
          const big = Buffer.alloc(64 * MiB, 0xab);
          const settle = (p) => p.then(() => 'resolved', (e) => e.code);
          const w = settle(asyncCopier(m)(true, big, Float64Array.of(8 * MiB, 0, 64 * MiB)));
          const rd = settle(asyncCopier(m)(false, Buffer.alloc(64 * MiB), Float64Array.of(8 * MiB, 0, 64 * MiB)));
          m.close();
          results.push([await w, await rd]);
          global.gc();
        }
        const fd = fs.openSync(process.env.F, 'r');
        const head = Buffer.alloc(MiB), tail = Buffer.alloc(MiB);
        fs.readSync(fd, head, 0, MiB, 0); fs.readSync(fd, tail, 0, MiB, 79 * MiB);
        out({ results, guards: head.every((b) => b === 0x55) && tail.every((b) => b === 0x55) });
      })();
    `, { F: file }, { nodeArgs: ['--expose-gc'], timeout: 60000 });
    expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    const res = lastJson(r);
    expect(res.results).toEqual(Array(4).fill(['EBADF', 'EBADF']));
    expect(res.guards).toBe(true);
  }, 90000);

  test('a mapping dropped (never closed) while its copy runs is kept alive until the copy completes', async () => {
    const r = await runChildAsync(`
      const { asyncCopier } = require(path.join(process.cwd(), 'dist/pmem/mapping.js'));
      (async () => {
        const results = [];
        for (let i = 0; i < 4; i++) {
          const back = Buffer.alloc(32 << 20);
          const p = (() => {
            const m = daxfs.mapAnonymous(32 << 20);
            m.fill(0, 7, 32 << 20);
            return asyncCopier(m)(false, back, Float64Array.of(0, 0, 32 << 20));
          })();
          global.gc();
          results.push(await p.then(() => back.every((b) => b === 7), (e) => e.code));
        }
        out({ results });
      })();
    `, {}, { nodeArgs: ['--expose-gc'], timeout: 60000 });
    expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    expect(lastJson(r).results).toEqual([true, true, true, true]);
  }, 90000);

  test('a worker that exits with copies in flight does not crash the process', async () => {
    const r = await runChildAsync(`
      const { Worker } = require('node:worker_threads');
      const code = \`
        const daxfs = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'index.js'))});
        const { asyncCopier } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'pmem', 'mapping.js'))});
        const m = daxfs.mapAnonymous(64 << 20);
        for (let i = 0; i < 4; i++) asyncCopier(m)(true, Buffer.alloc(64 << 20, i), Float64Array.of(0, 0, 64 << 20)).catch(() => {});
        process.exit(0);
      \`;
      const w = new Worker(code, { eval: true });
      w.on('exit', (c) => out({ exit: c }));
    `, {}, { timeout: 60000 });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(lastJson(r)).toEqual({ exit: 0 });
  }, 90000);
});

// Found while writing the native fuzzer: a read stored into PROT_READ memory on a libuv thread (SIGSEGV).
describe('a read-only page view as the buffer of copyAsync (child process)', () => {
  test('a read into it is refused with ERR_INVALID_ARG_VALUE before anything is queued; a write from it works', async () => {
    const r = await runChildAsync(`
      const { native } = require(path.join(process.cwd(), 'dist/native.js'));
      (async () => {
        const m = native.mapAnonymous(1 << 16);
        m.fill(0, 5, 8192, 1);
        const code = (fn) => { try { fn(); return 'returned'; } catch (e) { return e.code; } };
        const zero = new Uint8Array(native.zeroPageView());
        const ro = new DataView(m.pageView(0, 4096, true));
        const res = {
          readIntoZeroPage: code(() => native.copyAsync(m, false, zero, Float64Array.of(0, 0, 16))),
          readIntoReadOnlyView: code(() => native.copyAsync(m, false, ro, Float64Array.of(4096, 0, 16))),
        };
        await native.copyAsync(m, true, zero, Float64Array.of(100, 0, 16));   // zero page -> mapping
        await native.copyAsync(m, true, ro, Float64Array.of(8192, 0, 16));     // read-only view -> mapping
        const bytes = new Uint8Array(m.windows[0]);
        res.written = [bytes[100], bytes[115], bytes[8192], bytes[8207], bytes[8208]];
        out(res);
      })();
    `);
    expect({ signal: r.signal, status: r.status }).toEqual({ signal: null, status: 0 });
    expect(lastJson(r)).toEqual({
      readIntoZeroPage: 'ERR_INVALID_ARG_VALUE', readIntoReadOnlyView: 'ERR_INVALID_ARG_VALUE', written: [0, 0, 5, 5, 0],
    });
  });
});

// Found while fuzzing the native API: the copy held the target mapping but not the mapping
// behind a page-view buffer. Closing that one dropped the view's ref, and once the GC took
// its handle, its memory was unmapped under the copying thread (SIGSEGV).
describe('a page view of another mapping as the buffer, that mapping closed and collected mid-copy (child process)', () => {
  test('no crash; the copy rejects with EBADF (the bytes went to a placeholder, not the view)', async () => {
    const r = await runChildAsync(`
      const { native } = require(path.join(process.cwd(), 'dist/native.js'));
      (async () => {
        const N = 64 << 20;
        const m1 = native.mapAnonymous(N);
        m1.fill(0, 9, N, 0);
        const results = [];
        for (let i = 0; i < 3; i++) {
          let m2 = native.mapAnonymous(N);
          const view = new Uint8Array(m2.pageView(0, N, false));
          const p = native.copyAsync(m1, i !== 1, view, Float64Array.of(0, 0, N));
          m2.close();
          m2 = null;
          for (let k = 0; k < 3; k++) { global.gc(); await new Promise((r) => setImmediate(r)); }
          results.push(await p.then(() => 'resolved', (e) => e.code));
        }
        const v = new Uint8Array(native.mapAnonymous(1 << 16).pageView(0, 4096, false));
        native.revokeView(v.buffer);   // revoked, not closed: an empty buffer, nothing to copy
        results.push(await native.copyAsync(m1, false, v, Float64Array.of(0, 0, 0)).then(() => 'resolved', (e) => e.code));
        out({ results });
      })();
    `, {}, { nodeArgs: ['--expose-gc'], timeout: 60000 });
    expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    expect(lastJson(r)).toEqual({ results: ['EBADF', 'EBADF', 'EBADF', 'resolved'] });
  }, 90000);
});
