// DaxError: the one error class for everything that is not a bad argument.
import * as os from 'node:os';
import * as path from 'node:path';
import * as lib from '../../lib';
import { DaxError, mapAnonymous, mapFile } from '../../lib';
import { errnoCode } from '../../lib/errors';
import { describeChild, lastJson, ROOT, runChildAsync } from '../helpers/child';

describe('DaxError', () => {
  test('is exported from the package index', () => {
    expect(typeof lib.DaxError).toBe('function');
    expect(lib.DaxError).toBe(DaxError);
  });

  test('the compiled package entry (package.json main) exports DaxError and the pmem API', async () => {
    const main = require(path.join(ROOT, 'package.json')).main as string;
    const r = await runChildAsync(`
      const pkg = require(${JSON.stringify(path.join(ROOT, main))});
      let e; try { pkg.mapFile('/dev/zero'); } catch (err) { e = err; }
      out({ names: ['DaxError', 'mapFile', 'mapAnonymous', 'platform'].map((n) => typeof pkg[n]),
            isDaxError: e instanceof pkg.DaxError, isError: e instanceof Error, name: e.name, code: e.code });
    `);
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
    expect(lastJson(r)).toEqual({ names: ['function', 'function', 'function', 'function'], isDaxError: true, isError: true, name: 'DaxError', code: 'EINVAL' });
  });

  test('errors from native code are DaxError and Error, with code, negative errno, syscall and path', () => {
    const file = path.join(os.tmpdir(), `daxfs-no-such-dir-${process.pid}`, 'f');
    let caught: unknown;
    try {
      mapFile(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DaxError);
    expect(caught).toBeInstanceOf(Error);
    const e = caught as DaxError;
    expect(e.name).toBe('DaxError');
    expect(e).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: file });
    expect(e.message.startsWith('ENOENT: ')).toBe(true);
    expect(e.message).toContain(file);
    expect(typeof e.stack).toBe('string');
  });

  test('errno is always negative and matches the code (os.constants.errno)', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => mapFile('/dev/zero'), 'EINVAL'],
      [() => mapAnonymous(0), 'EINVAL'],
      [() => mapFile('/'), 'EISDIR'],
      [() => mapAnonymous(2 ** 53 - 1), 'ENOMEM'],
    ];
    for (const [fn, code] of cases) {
      let e: DaxError | undefined;
      try {
        fn();
      } catch (err) {
        e = err as DaxError;
      }
      expect(e).toBeInstanceOf(DaxError);
      expect(e!.code).toBe(code);
      expect(e!.errno).toBe(-(os.constants.errno as Record<string, number>)[code]);
    }
  });

  test('errno 95 is named EOPNOTSUPP (the kernel name), 117 EUCLEAN; others as node:fs names them', () => {
    expect(errnoCode(95)).toBe('EOPNOTSUPP');
    expect(errnoCode(117)).toBe('EUCLEAN');
    expect(errnoCode(2)).toBe('ENOENT');
    expect(errnoCode(17)).toBe('EEXIST');
    expect(errnoCode(28)).toBe('ENOSPC');
    expect(errnoCode(5)).toBe('EIO');
    expect(errnoCode(30)).toBe('EROFS');
    expect(errnoCode(9)).toBe('EBADF');
    expect(errnoCode(16)).toBe('EBUSY');
    expect(errnoCode(14)).toBe('EFAULT');
  });

  test('DaxError.fromErrno builds code, negative errno, syscall, path and message', () => {
    const e = DaxError.fromErrno(95, 'no MAP_SYNC here', { syscall: 'mmap', path: '/x' });
    expect(e).toBeInstanceOf(DaxError);
    expect(e).toMatchObject({ code: 'EOPNOTSUPP', errno: -95, syscall: 'mmap', path: '/x', message: 'EOPNOTSUPP: no MAP_SYNC here' });
  });

  test('a DaxError can carry a cause (as the SIGBUS code does) and omits what does not apply', () => {
    const cause = new Error('underlying');
    const e = new DaxError('SIGBUS', 'fault past EOF', { cause });
    expect(e.cause).toBe(cause);
    expect(e.code).toBe('SIGBUS');
    expect(e.errno).toBeUndefined();
    expect(e.syscall).toBeUndefined();
    expect(e.path).toBeUndefined();
  });

  test('argument errors are not DaxError: TypeError / RangeError with a Node code', () => {
    let caught: unknown;
    try {
      mapAnonymous(-1);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RangeError);
    expect(caught).not.toBeInstanceOf(DaxError);
    expect((caught as { code: string }).code).toBe('ERR_OUT_OF_RANGE');
  });
});
