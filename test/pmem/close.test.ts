// close(), use after close, and garbage collection of mappings that were never closed.
// Anything that could crash runs in a child process, and the test asserts on its exit.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaxError, mapAnonymous, mapFile } from '../../lib';
import { ChildResult, describeChild, DIST, lastJson, runChildAsync } from '../helpers/child';
import { makeTempDir, pattern, useTempDirs } from '../helpers/tmp';

useTempDirs();

describe('use after close (child process)', () => {
  let r: ChildResult;
  let res: any;
  let file: string;

  beforeAll(async () => {
    file = path.join(makeTempDir('daxfs-close-'), 'f');
    r = await runChildAsync(`
      const m = daxfs.mapFile(process.env.F, { create: true, size: 1 << 20 });
      const v = m.view(4096, 100);
      const whole = m.view(0, m.size);
      v.fill(0x61);
      m.persist(4096, 100);
      m.close();
      const res = { lengths: [v.length, whole.length, v.byteLength], closed: m.closed };
      res.load = [v[0], v[99], whole[4096]];
      v[0] = 1; whole[5] = 2;
      res.afterStore = [v[0], whole[5], v.length];
      const attempt = (fn) => { try { return { returned: fn() === undefined ? 'undefined' : String(fn()) }; } catch (e) { return { threw: e.name, code: e.code ?? null }; } };
      res.buffer = {
        readUInt8: attempt(() => v.readUInt8(0)),
        readUInt32LE: attempt(() => v.readUInt32LE(0)),
        writeUInt8: attempt(() => v.writeUInt8(1, 0)),
        writeBigUInt64LE: attempt(() => v.writeBigUInt64LE(1n, 0)),
        write: attempt(() => v.write('abc')),
        copyFrom: attempt(() => v.copy(Buffer.alloc(10))),
        copyInto: attempt(() => Buffer.from('xyz').copy(v)),
        fill: attempt(() => v.fill(1)),
        set: attempt(() => v.set([1, 2, 3])),
      };
      const codes = {};
      for (const [name, fn] of Object.entries({
        view: () => m.view(0, 1), persist: () => m.persist(0, 1), flush: () => m.flush(0, 1), drain: () => m.drain(),
        copy: () => m.copy(0, Buffer.from('x')), fill: () => m.fill(0, 1, 1),
        persistZero: () => m.persist(0, 0), copyEmpty: () => m.copy(0, Buffer.alloc(0)),
      })) {
        try { fn(); codes[name] = 'no error'; }
        catch (e) { codes[name] = { isDaxError: e instanceof daxfs.DaxError, code: e.code, errno: e.errno }; }
      }
      res.codes = codes;
      m.close(); m.close();
      res.closedAfterTwice = m.closed;
      // the memory is gone from the address space, and every view of it detached
      res.stillMapped = fs.readFileSync('/proc/self/maps', 'utf8').includes(process.env.F);
      res.file = fs.readFileSync(process.env.F).subarray(0, 4200).toString('latin1').replace(/\\0/g, '').length;
      out(res);
    `, { F: file });
    res = r.status === 0 ? lastJson(r) : null;
  });

  test('the child exits 0 with no signal', () => {
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
  });

  test('after close() old views have length 0 (detached)', () => {
    expect(res.lengths).toEqual([0, 0, 0]);
  });

  test('after close() indexed loads give undefined and indexed stores do nothing', () => {
    expect(res.load).toEqual([null, null, null]);  // undefined, through JSON
    expect(res.afterStore).toEqual([null, null, 0]);
  });

  test('after close() the bounds-checked read*/write* methods, fill and set of a view throw', () => {
    for (const name of ['readUInt8', 'readUInt32LE', 'writeUInt8', 'writeBigUInt64LE', 'fill', 'set']) {
      expect({ name, ...res.buffer[name] }).toMatchObject({ name, threw: expect.any(String) });
    }
  });

  test('after close() write() and copy() on a view move no bytes (they throw or return 0)', () => {
    // API.md says these throw; Node's Buffer#write and Buffer#copy clamp to length 0
    // instead, so a detached view returns 0 here. Either way nothing is written.
    for (const name of ['write', 'copyFrom', 'copyInto']) {
      const outcome = res.buffer[name];
      expect(outcome.threw !== undefined || outcome.returned === '0').toBe(true);
    }
  });

  test('after close() view, persist, flush, drain, copy and fill throw DaxError EBADF (errno -9)', () => {
    for (const name of ['view', 'persist', 'flush', 'drain', 'copy', 'fill', 'persistZero', 'copyEmpty']) {
      expect({ name, ...res.codes[name] }).toEqual({ name, isDaxError: true, code: 'EBADF', errno: -9 });
    }
  });

  test('close() is idempotent and closed is true', () => {
    expect(res.closed).toBe(true);
    expect(res.closedAfterTwice).toBe(true);
  });

  test('close() unmaps the file (it is gone from /proc/self/maps)', () => {
    expect(res.stillMapped).toBe(false);
  });

  test('bytes persisted before close() are in the file; stores after close() are not', () => {
    expect(res.file).toBe(100);
    const disk = fs.readFileSync(file);
    expect(disk.subarray(4096, 4196).every((b) => b === 0x61)).toBe(true);
    expect(disk[4096]).toBe(0x61);
    expect(disk[5]).toBe(0);
  });
});

describe('close() while the thread pool still reads a view (child process)', () => {
  test('close() during an async zlib.deflate of a view does not crash the process', async () => {
    // zlib reads the view's memory on a libuv thread; close() detaches the view at once, but
    // the thread holds a raw pointer. "A detached view never touches unmapped memory."
    const r = await runChildAsync(`
      const zlib = require('node:zlib');
      const m = daxfs.mapAnonymous(16 << 20);
      const v = m.view(0, 16 << 20);
      for (let i = 0; i < v.length; i += 64) v[i] = (i * 7) & 0xff;
      zlib.deflate(v, { level: 9 }, (err, res) => out({ done: true, error: err ? err.code : null }));
      setImmediate(() => m.close());
    `);
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
  });

  test('close() during an async fs.write of a view fails that write (EFAULT) instead of crashing', async () => {
    const file = path.join(makeTempDir('daxfs-close-'), 'out');
    const r = await runChildAsync(`
      const m = daxfs.mapAnonymous(16 << 20);
      const v = m.view(0, 16 << 20);
      const fd = fs.openSync(process.env.F, 'w');
      fs.write(fd, v, 0, v.length, 0, (err, n) => out({ error: err ? err.code : null, n }));
      m.close();
    `, { F: file });
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
    const res = lastJson<{ error: string | null; n: number }>(r);
    // either the write finished before the unmap, or the kernel refused the unmapped source
    expect(res.error === 'EFAULT' || (res.error === null && res.n === 16 << 20)).toBe(true);
  });
});

describe('close() in this process', () => {
  test('closed flips from false to true; a second close() does nothing', () => {
    const m = mapAnonymous(4096);
    expect(m.closed).toBe(false);
    m.close();
    expect(m.closed).toBe(true);
    expect(() => m.close()).not.toThrow();
    expect(m.closed).toBe(true);
  });

  test('a closed mapping refuses view() with DaxError EBADF before it looks at the range', () => {
    const m = mapFile(path.join(makeTempDir('daxfs-close-'), 'x'), { create: true, size: 4096 });
    m.close();
    let caught: unknown;
    try {
      m.view(0, 1);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DaxError);
    expect(caught).toMatchObject({ code: 'EBADF', errno: -9 });
  });
});

describe('garbage collection (child processes with --expose-gc)', () => {
  // Runs gc and lets finalizers (which Node-API runs from an immediate) do their work.
  const GC = `
    const settle = async (rounds = 6) => { for (let i = 0; i < rounds; i++) { global.gc(); await new Promise((r) => setImmediate(r)); } };
    const mapped = (f) => fs.readFileSync('/proc/self/maps', 'utf8').includes(f);
  `;
  let keep: ChildResult;
  let drop: ChildResult;
  let churn: ChildResult;
  let bound: ChildResult;
  let file: string;
  let file2: string;

  beforeAll(async () => {
    const d = makeTempDir('daxfs-gc-');
    file = path.join(d, 'keep');
    file2 = path.join(d, 'drop');
    fs.writeFileSync(file, pattern(1 << 20, 4));
    [keep, drop, churn, bound] = await Promise.all([
      runChildAsync(GC + `
        (async () => {
          let m = daxfs.mapFile(process.env.F);
          const holder = { view: m.view(1000, 5000) };
          m = null;
          await settle();
          const res = { mappedWhileViewLives: mapped(process.env.F) };
          const want = fs.readFileSync(process.env.F).subarray(1000, 6000);
          res.viewReadsFileBytes = holder.view.length === 5000 && holder.view.equals(want);
          holder.view.fill(0x33, 0, 10);  // writing through it must not crash either
          res.viewWritable = holder.view[9] === 0x33;
          await settle();
          res.stillValid = holder.view.length === 5000 && holder.view[0] === 0x33 && holder.view.subarray(10).equals(want.subarray(10));
          // drop the view too: now the mapping is unreachable, and gc unmaps it
          holder.view = null;
          let unmapped = false;
          for (let i = 0; i < 20 && !unmapped; i++) { await settle(2); unmapped = !mapped(process.env.F); }
          res.unmappedOnceUnreachable = unmapped;
          out(res);
        })();
      `, { F: file }, { nodeArgs: ['--expose-gc'] }),
      runChildAsync(GC + `
        (async () => {
          (() => { const m = daxfs.mapFile(process.env.F, { create: true, size: 1 << 20 }); m.fill(0, 0x44, 4096); })();
          let unmapped = false;
          for (let i = 0; i < 20 && !unmapped; i++) { await settle(2); unmapped = !mapped(process.env.F); }
          out({ unmapped });
        })();
      `, { F: file2 }, { nodeArgs: ['--expose-gc'] }),
      runChildAsync(GC + `
        (async () => {
          // Regions of exactly 1 MiB, the size of each mapping made here: the whole count of
          // /proc/self/maps also moves with V8's heap and threads (by 30 in one CI run).
          const mibRegions = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => {
            const [lo, hi] = l.split(' ')[0].split('-').map((h) => parseInt(h, 16));
            return hi - lo === 1 << 20;
          }).length;
          const before = mibRegions();
          for (let i = 0; i < 300; i++) {
            const m = daxfs.mapAnonymous(1 << 20);
            m.view(0, 16).fill(i & 0xff);
            if (i % 3 === 0) m.close();
            if (i % 50 === 0) await settle(1);
          }
          await settle(10);
          const after = mibRegions();
          out({ before, after });
        })();
      `, {}, { nodeArgs: ['--expose-gc'] }),
      runChildAsync(GC + `
        (async () => {
          let m = daxfs.mapFile(process.env.F, { create: true, size: 1 << 20 });
          const { persist, flush, drain } = m;  // the hot-path functions, kept on their own
          // A copier whose source only the copier itself still reaches.
          const record = ((b) => m.copier(b))(Buffer.alloc(64, 0x5a));
          m = null;
          await settle(10);
          const res = { mapped: mapped(process.env.F) };
          for (const [name, fn] of [['persist', () => persist(0, 64)], ['flush', () => flush(0, 64)], ['drain', () => drain()],
                                    ['copier', () => record(128)]]) {
            try { fn(); res[name] = 'ok'; } catch (e) { res[name] = e.code; }
          }
          res.copied = fs.readFileSync(process.env.F).subarray(128, 192).every((b) => b === 0x5a);
          out(res);
        })();
      `, { F: path.join(d, 'bound') }, { nodeArgs: ['--expose-gc'] }),
    ]);
  }, 90000);

  test('a view that is still referenced keeps its mapping valid after the mapping object is dropped and collected; once the view goes too, gc unmaps', () => {
    expect(describeChild(keep)).toMatch(/^status 0, signal null/);
    expect(lastJson(keep)).toEqual({
      mappedWhileViewLives: true, viewReadsFileBytes: true, viewWritable: true, stillValid: true, unmappedOnceUnreachable: true,
    });
  });

  test('a mapping that is never closed and becomes unreachable is unmapped by gc, without a crash', () => {
    expect(describeChild(drop)).toMatch(/^status 0, signal null/);
    expect(lastJson(drop)).toEqual({ unmapped: true });
    expect(fs.readFileSync(file2).subarray(0, 4096).every((b) => b === 0x44)).toBe(true);
  });

  test('persist, flush, drain and a copier taken off a mapping keep it mapped and working after the mapping object is collected', () => {
    // mapping.h: "memory is unmapped only after close() or when nothing can reach it any more";
    // a bound persist() still reaches it, so the mapping must not be unmapped under it.
    expect(describeChild(bound)).toMatch(/^status 0, signal null/);
    expect(lastJson(bound)).toEqual({ mapped: true, persist: 'ok', flush: 'ok', drain: 'ok', copier: 'ok', copied: true });
  });

  test('hundreds of mappings, some closed and some dropped, are all released by gc (no growth in /proc/self/maps)', () => {
    expect(describeChild(churn)).toMatch(/^status 0, signal null/);
    const { before, after } = lastJson<{ before: number; after: number }>(churn);
    expect(after - before).toBeLessThan(30);
  });
});

// Found by the native fuzzer under ASan (heap-use-after-free at exit): when a mapping's handle
// was collected while a page view still lived, the exit clean-up revoked the view, which
// dropped the last ref and freed the mapping's state in the middle of closing it. Without
// the tcache, glibc's MALLOC_PERTURB_ fills freed memory at once, so the read crashes here
// too, not only under the sanitizer.
describe('exit with a page view alive after its mapping was collected (child process)', () => {
  test('the process exits cleanly', async () => {
    const r = await runChildAsync(`
      const { native } = require(path.join(process.env.DIST, 'native'));
      (async () => {
        let m = native.mapAnonymous(1 << 16);
        globalThis.keep = [m.pageView(0, 4096, false), m.pageView(4096, 4096, true)];
        m = null;
        for (let i = 0; i < 6; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }
        out({ views: globalThis.keep.map((v) => v.byteLength) });
      })();
    `, { DIST, GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0', MALLOC_PERTURB_: '85' }, { nodeArgs: ['--expose-gc'] });
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
    expect(lastJson(r)).toEqual({ views: [4096, 4096] });
  });
});
