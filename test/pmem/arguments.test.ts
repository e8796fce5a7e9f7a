// Every bad argument gets a Node-style error (ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE /
// ERR_INVALID_ARG_VALUE) before anything touches memory: through the public API, and
// through the native binding called directly (native code checks on its own). Never a crash.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mapAnonymous, mapFile, PmemMapping } from '../../lib';
import { native, NativeMapping } from '../../lib/native';
import { describeChild, DIST, lastJson, runChildAsync } from '../helpers/child';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();

type ArgCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_VALUE';
const CLASS: Record<ArgCode, ErrorConstructor> = {
  ERR_INVALID_ARG_TYPE: TypeError,
  ERR_OUT_OF_RANGE: RangeError,
  ERR_INVALID_ARG_VALUE: TypeError,
};

function expectArgError(fn: () => unknown, code: ArgCode, mentions?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CLASS[code]);
  expect((caught as { code?: string }).code).toBe(code);
  if (mentions) expect((caught as Error).message).toContain(mentions);
}

// Non-numbers are type errors; numbers that are not non-negative safe integers are range errors.
const NOT_NUMBERS: Array<[string, unknown]> = [['a string', '1'], ['undefined', undefined], ['an object', {}], ['null', null], ['a bigint', 1n]];
const BAD_NUMBERS: Array<[string, number]> = [['NaN', NaN], ['-1', -1], ['1.5', 1.5], ['2**53', 2 ** 53], ['Infinity', Infinity], ['-Infinity', -Infinity]];

let dir: string;
let file: string;
let m: PmemMapping;

beforeAll(() => {
  dir = makeTempDir('daxfs-args-');
  file = path.join(dir, 'f');
  m = mapFile(file, { create: true, size: 65536 });
});
afterAll(() => {
  m.close();
});

describe('mapFile(path, options)', () => {
  test.each([['a number', 123], ['undefined', undefined], ['an object', {}], ['null', null], ['a Buffer', Buffer.from('/tmp/x')]])(
    'path that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
      expectArgError(() => mapFile(value as string), 'ERR_INVALID_ARG_TYPE', 'path');
    });

  test("path '' -> ERR_INVALID_ARG_VALUE", () => {
    expectArgError(() => mapFile(''), 'ERR_INVALID_ARG_VALUE', 'path');
  });

  test("path with '\\0' -> ERR_INVALID_ARG_VALUE and no file is created", () => {
    expectArgError(() => mapFile(path.join(dir, 'a\0b'), { create: true, size: 4096 }), 'ERR_INVALID_ARG_VALUE', 'path');
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('a'))).toEqual([]);
  });

  test.each([['a string', 'rw'], ['a number', 5], ['a boolean', true], ['a function', () => 0]])(
    'options that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
      expectArgError(() => mapFile(file, value as object), 'ERR_INVALID_ARG_TYPE', 'options');
    });

  for (const key of ['size', 'offset', 'mode'] as const) {
    test.each(NOT_NUMBERS.filter(([n]) => n !== 'undefined'))(`options.${key} that is %s -> ERR_INVALID_ARG_TYPE`, (_, value) => {
      expectArgError(() => mapFile(file, { [key]: value } as object), 'ERR_INVALID_ARG_TYPE', `options.${key}`);
    });
    test.each(BAD_NUMBERS)(`options.${key} = %s -> ERR_OUT_OF_RANGE`, (_, value) => {
      expectArgError(() => mapFile(file, { [key]: value }), 'ERR_OUT_OF_RANGE', `options.${key}`);
    });
  }

  test('options.mode above 0o7777 -> ERR_OUT_OF_RANGE and no file is created', () => {
    const p = path.join(dir, 'mode');
    expectArgError(() => mapFile(p, { create: true, size: 4096, mode: 0o10000 }), 'ERR_OUT_OF_RANGE', 'mode');
    expect(fs.existsSync(p)).toBe(false);
  });

  for (const key of ['create', 'exclusive', 'sparse', 'private'] as const) {
    test.each([['a string', 'yes'], ['a number', 1], ['an object', {}], ['null', null]])(
      `options.${key} that is %s -> ERR_INVALID_ARG_TYPE`, (_, value) => {
        expectArgError(() => mapFile(file, { [key]: value } as object), 'ERR_INVALID_ARG_TYPE', `options.${key}`);
      });
  }

  test.each([['maybe', 'maybe'], ['an empty string', ''], ['a number', 5], ["'AUTO'", 'AUTO'], ['null', null]])(
    'options.sync that is %s -> ERR_INVALID_ARG_VALUE', (_, value) => {
      expectArgError(() => mapFile(file, { sync: value as 'auto' }), 'ERR_INVALID_ARG_VALUE', 'options.sync');
    });

  test('a bad option is reported before the file is opened or created', () => {
    const p = path.join(dir, 'never');
    expectArgError(() => mapFile(p, { create: true, size: 4096, sparse: 'no' as unknown as boolean }), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => mapFile(p, { create: true, size: 4096, sync: 'maybe' as 'auto' }), 'ERR_INVALID_ARG_VALUE');
    expect(fs.existsSync(p)).toBe(false);
  });
});

describe('mapAnonymous(size)', () => {
  test.each(NOT_NUMBERS)('size that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
    expectArgError(() => mapAnonymous(value as number), 'ERR_INVALID_ARG_TYPE', 'size');
  });
  test.each(BAD_NUMBERS)('size = %s -> ERR_OUT_OF_RANGE', (_, value) => {
    expectArgError(() => mapAnonymous(value), 'ERR_OUT_OF_RANGE', 'size');
  });
});

describe('PmemMapping methods', () => {
  const ranged = ['view', 'persist', 'flush'] as const;

  for (const method of ranged) {
    describe(`${method}(offset, length)`, () => {
      test.each(NOT_NUMBERS)('offset that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
        expectArgError(() => m[method](value as number, 1), 'ERR_INVALID_ARG_TYPE', 'offset');
      });
      test.each(NOT_NUMBERS)('length that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
        expectArgError(() => m[method](0, value as number), 'ERR_INVALID_ARG_TYPE');
      });
      test.each(BAD_NUMBERS)('offset = %s -> ERR_OUT_OF_RANGE', (_, value) => {
        expectArgError(() => m[method](value, 1), 'ERR_OUT_OF_RANGE', 'offset');
      });
      test.each(BAD_NUMBERS)('length = %s -> ERR_OUT_OF_RANGE', (_, value) => {
        expectArgError(() => m[method](0, value), 'ERR_OUT_OF_RANGE', 'length');
      });
      test('a range past the end -> ERR_OUT_OF_RANGE', () => {
        expectArgError(() => m[method](65536, 1), 'ERR_OUT_OF_RANGE');
        expectArgError(() => m[method](65000, 1000), 'ERR_OUT_OF_RANGE');
        expectArgError(() => m[method](0, 65537), 'ERR_OUT_OF_RANGE');
        expectArgError(() => m[method](2 ** 53 - 1, 2 ** 53 - 1), 'ERR_OUT_OF_RANGE');
      });
    });
  }

  describe('copy(offset, source, options)', () => {
    test.each(NOT_NUMBERS)('offset that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
      expectArgError(() => m.copy(value as number, Buffer.alloc(1)), 'ERR_INVALID_ARG_TYPE', 'offset');
    });
    test.each(BAD_NUMBERS)('offset = %s -> ERR_OUT_OF_RANGE', (_, value) => {
      expectArgError(() => m.copy(value, Buffer.alloc(1)), 'ERR_OUT_OF_RANGE', 'offset');
    });
    test.each([['a string', 'abc'], ['a number', 3], ['an object', {}], ['an array', [1, 2, 3]], ['undefined', undefined],
      ['an ArrayBuffer', new ArrayBuffer(4)], ['null', null]])('source that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
      expectArgError(() => m.copy(0, value as Uint8Array), 'ERR_INVALID_ARG_TYPE', 'source');
    });
    test('a source that runs past the end -> ERR_OUT_OF_RANGE, and nothing is written', () => {
      m.fill(65530, 0, 6);
      expectArgError(() => m.copy(65530, Buffer.alloc(7, 1)), 'ERR_OUT_OF_RANGE');
      expectArgError(() => m.copy(65537, Buffer.alloc(0)), 'ERR_OUT_OF_RANGE');
      expect(m.view(65530, 6).every((b) => b === 0)).toBe(true);
    });
    test('options that is not an object, or options.persist that is not a boolean -> ERR_INVALID_ARG_TYPE', () => {
      for (const bad of ['nope', 1, false]) expectArgError(() => m.copy(0, Buffer.alloc(1), bad as unknown as object), 'ERR_INVALID_ARG_TYPE', 'options');
      for (const bad of ['no', 0, null]) {
        expectArgError(() => m.copy(0, Buffer.alloc(1), { persist: bad as unknown as boolean }), 'ERR_INVALID_ARG_TYPE', 'options.persist');
      }
    });
  });

  describe('fill(offset, value, length, options)', () => {
    test.each([['256', 256], ['-1', -1], ['1.5', 1.5], ['NaN', NaN], ['Infinity', Infinity], ['2**53', 2 ** 53]])(
      'value = %s -> ERR_OUT_OF_RANGE', (_, value) => {
        expectArgError(() => m.fill(0, value, 1), 'ERR_OUT_OF_RANGE', 'value');
      });
    test.each(NOT_NUMBERS)('value that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
      expectArgError(() => m.fill(0, value as number, 1), 'ERR_INVALID_ARG_TYPE', 'value');
    });
    test.each(BAD_NUMBERS)('offset = %s -> ERR_OUT_OF_RANGE', (_, value) => {
      expectArgError(() => m.fill(value, 1, 1), 'ERR_OUT_OF_RANGE', 'offset');
    });
    test.each(BAD_NUMBERS)('length = %s -> ERR_OUT_OF_RANGE', (_, value) => {
      expectArgError(() => m.fill(0, 1, value), 'ERR_OUT_OF_RANGE', 'length');
    });
    test.each(NOT_NUMBERS)('offset or length that is %s -> ERR_INVALID_ARG_TYPE', (_, value) => {
      expectArgError(() => m.fill(value as number, 1, 1), 'ERR_INVALID_ARG_TYPE');
      expectArgError(() => m.fill(0, 1, value as number), 'ERR_INVALID_ARG_TYPE');
    });
    test('a range past the end -> ERR_OUT_OF_RANGE, and nothing is written', () => {
      m.fill(65000, 0, 536);
      expectArgError(() => m.fill(65000, 9, 537), 'ERR_OUT_OF_RANGE');
      expect(m.view(65000, 536).every((b) => b === 0)).toBe(true);
    });
    test('options that is not an object, or options.persist that is not a boolean -> ERR_INVALID_ARG_TYPE', () => {
      for (const bad of ['nope', 1, true]) expectArgError(() => m.fill(0, 1, 1, bad as unknown as object), 'ERR_INVALID_ARG_TYPE', 'options');
      for (const bad of ['yes', 1, null]) {
        expectArgError(() => m.fill(0, 1, 1, { persist: bad as unknown as boolean }), 'ERR_INVALID_ARG_TYPE', 'options.persist');
      }
    });
  });

  test('after all the bad calls the mapping still works', () => {
    m.copy(0, Buffer.from('still fine'));
    expect(m.view(0, 10).toString()).toBe('still fine');
  });
});

describe('the native binding checks arguments on its own', () => {
  const p = () => path.join(dir, 'native');
  let h: NativeMapping;
  beforeAll(() => {
    h = native.mapAnonymous(4096);
  });
  afterAll(() => {
    h.close();
  });

  test('mapFile: path not a string -> ERR_INVALID_ARG_TYPE; empty or with \\0 -> ERR_INVALID_ARG_VALUE', () => {
    expectArgError(() => native.mapFile(123 as any, {}), 'ERR_INVALID_ARG_TYPE', 'path');
    expectArgError(() => (native.mapFile as any)(), 'ERR_INVALID_ARG_TYPE', 'path');
    expectArgError(() => native.mapFile({} as any, {}), 'ERR_INVALID_ARG_TYPE', 'path');
    expectArgError(() => native.mapFile('', {}), 'ERR_INVALID_ARG_VALUE', 'path');
    expectArgError(() => native.mapFile('a\0b', {}), 'ERR_INVALID_ARG_VALUE', 'path');
  });

  test('mapFile: options not an object -> ERR_INVALID_ARG_TYPE', () => {
    expectArgError(() => native.mapFile(p(), 5 as any), 'ERR_INVALID_ARG_TYPE', 'options');
    expectArgError(() => native.mapFile(p(), 'x' as any), 'ERR_INVALID_ARG_TYPE', 'options');
  });

  test('mapFile: bad option values -> the same codes as the public API, and no file is created', () => {
    expectArgError(() => native.mapFile(p(), { create: true, size: 'a' }), 'ERR_INVALID_ARG_TYPE', 'options.size');
    expectArgError(() => native.mapFile(p(), { create: true, size: -1 }), 'ERR_OUT_OF_RANGE', 'options.size');
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, offset: 1.5 }), 'ERR_OUT_OF_RANGE', 'options.offset');
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, offset: {} }), 'ERR_INVALID_ARG_TYPE', 'options.offset');
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, mode: 0o10000 }), 'ERR_OUT_OF_RANGE', 'options.mode');
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, mode: NaN }), 'ERR_OUT_OF_RANGE', 'options.mode');
    expectArgError(() => native.mapFile(p(), { create: 'yes', size: 4096 }), 'ERR_INVALID_ARG_TYPE', 'options.create');
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, sparse: 1 }), 'ERR_INVALID_ARG_TYPE', 'options.sparse');
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, private: {} }), 'ERR_INVALID_ARG_TYPE', 'options.private');
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, exclusive: 'x' }), 'ERR_INVALID_ARG_TYPE', 'options.exclusive');
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, sync: 'maybe' }), 'ERR_INVALID_ARG_VALUE', 'options.sync');
    // a non-string sync: a type error or a value error (the public API's checkOneOf gives VALUE)
    for (const bad of [5, true, {}]) {
      let caught: { code?: string } | undefined;
      try {
        native.mapFile(p(), { create: true, size: 4096, sync: bad });
      } catch (err) {
        caught = err as { code?: string };
      }
      expect(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']).toContain(caught?.code);
    }
    expectArgError(() => native.mapFile(p(), { create: true, size: 4096, sync: 'required-and-more' }), 'ERR_INVALID_ARG_VALUE', 'options.sync');
    expect(fs.existsSync(p())).toBe(false);
  });

  test('mapAnonymous: -1, NaN, 1.5, 2**53, Infinity -> ERR_OUT_OF_RANGE; non-numbers or nothing -> ERR_INVALID_ARG_TYPE', () => {
    for (const v of [-1, NaN, 1.5, 2 ** 53, Infinity]) expectArgError(() => native.mapAnonymous(v), 'ERR_OUT_OF_RANGE', 'size');
    for (const v of ['1', undefined, {}, null]) expectArgError(() => native.mapAnonymous(v as any), 'ERR_INVALID_ARG_TYPE', 'size');
    expectArgError(() => (native.mapAnonymous as any)(), 'ERR_INVALID_ARG_TYPE', 'size');
  });

  test('handle.persist / flush: non-numbers, bad numbers, missing arguments, ranges past the end', () => {
    for (const fn of [h.persist, h.flush]) {
      expectArgError(() => fn('a' as any, 1), 'ERR_INVALID_ARG_TYPE', 'offset');
      expectArgError(() => fn(0, {} as any), 'ERR_INVALID_ARG_TYPE', 'length');
      expectArgError(() => (fn as any)(0), 'ERR_INVALID_ARG_TYPE');
      expectArgError(() => fn(-1, 1), 'ERR_OUT_OF_RANGE', 'offset');
      expectArgError(() => fn(0, 1.5), 'ERR_OUT_OF_RANGE', 'length');
      expectArgError(() => fn(0, Infinity), 'ERR_OUT_OF_RANGE', 'length');
      expectArgError(() => fn(4000, 97), 'ERR_OUT_OF_RANGE');
      expectArgError(() => fn(4097, 0), 'ERR_OUT_OF_RANGE');
      expectArgError(() => fn(2 ** 53 - 1, 2 ** 53 - 1), 'ERR_OUT_OF_RANGE');
    }
  });

  test('the hot calls check the shared args natively: the token, the offsets, the source', () => {
    const hot = native.hot;
    const args = new Float64Array(hot.args);
    const set = (...v: number[]) => v.forEach((x, i) => { args[i] = x; });
    for (const fn of [hot.persist, hot.flush]) {
      for (const [off, len, mentions] of [[-1, 1, 'offset'], [0, NaN, 'length'], [0.5, 1, 'offset'], [4000, 97, ''], [2 ** 53, 0, 'offset'], [-0, -Infinity, 'length']] as const) {
        set(h.token, off, len);
        expectArgError(() => fn(), 'ERR_OUT_OF_RANGE', mentions || undefined);
      }
      set(h.token, 0, 16);
      fn();
    }
    for (const copy of [hot.copyPersist, hot.copyNoDrain, hot.copyPlain]) {
      set(h.token, -5);
      expectArgError(() => copy(Buffer.alloc(1)), 'ERR_OUT_OF_RANGE', 'offset');
      set(h.token, 4095);
      expectArgError(() => copy(Buffer.alloc(2)), 'ERR_OUT_OF_RANGE');
      expectArgError(() => (copy as any)(), 'ERR_INVALID_ARG_TYPE');
      expectArgError(() => copy('abc' as any), 'ERR_INVALID_ARG_TYPE', 'source');
    }
    // copier()'s call: the range is checked against the buffer it is handed, whatever the
    // offsets say; a buffer too short is EFAULT, a non-buffer a TypeError.
    const source = new ArrayBuffer(64);
    for (const copy of [hot.copyFromPersist, hot.copyFromNoDrain, hot.copyFromPlain]) {
      set(h.token, 4094, 60, 2);
      copy(source);
      set(h.token, 4095, 60, 2);
      expectArgError(() => copy(source), 'ERR_OUT_OF_RANGE');
      set(h.token, 0, 60, 5);
      expect(() => copy(source)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
      set(h.token, 0, 0.5, 1);
      expectArgError(() => copy(source), 'ERR_OUT_OF_RANGE');
      expectArgError(() => copy('abc' as any), 'ERR_INVALID_ARG_TYPE', 'source');
      expectArgError(() => (copy as any)(), 'ERR_INVALID_ARG_TYPE', 'source');
    }
    // A token that names no live mapping: made up, of another generation, not a number.
    for (const token of [h.token + 1e6, h.token + 2 ** 24, -1, NaN, 0.5]) {
      set(token, 0, 1);
      expect(() => hot.persist()).toThrow(expect.objectContaining({ code: 'EBADF' }));
      expect(() => hot.copyPersist(Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'EBADF' }));
    }
  });

  test('a closed mapping\'s token is EBADF in the hot calls, and a new mapping does not answer to it', () => {
    const hot = native.hot;
    const args = new Float64Array(hot.args);
    const old = native.mapAnonymous(4096);
    const token = old.token;
    old.close();
    args[0] = token;
    args[1] = 0;
    args[2] = 1;
    expect(() => hot.flush()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    const fresh = native.mapAnonymous(4096);
    try {
      expect(fresh.token).not.toBe(token);
      args[0] = token;
      expect(() => hot.drain()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    } finally {
      fresh.close();
    }
  });

  test('handle.copy: bad offset, non-view source, missing source, past the end', () => {
    expectArgError(() => h.copy(NaN, Buffer.alloc(1), 1), 'ERR_OUT_OF_RANGE', 'offset');
    expectArgError(() => h.copy('0' as any, Buffer.alloc(1), 1), 'ERR_INVALID_ARG_TYPE', 'offset');
    expectArgError(() => h.copy(0, 'abc' as any, 1), 'ERR_INVALID_ARG_TYPE', 'source');
    expectArgError(() => h.copy(0, new ArrayBuffer(8) as any, 1), 'ERR_INVALID_ARG_TYPE', 'source');
    expectArgError(() => (h.copy as any)(0), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => h.copy(4090, Buffer.alloc(7), 1), 'ERR_OUT_OF_RANGE');
    expectArgError(() => h.copy(2 ** 53 - 1, new Float64Array(1), 1), 'ERR_OUT_OF_RANGE');
  });

  test('handle.copy / handle.fill: a store mode that is not 0, 1 or 2 -> ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE', () => {
    expectArgError(() => h.copy(0, Buffer.alloc(1), 'x' as any), 'ERR_INVALID_ARG_TYPE', 'mode');
    expectArgError(() => h.fill(0, 1, 1, true as any), 'ERR_INVALID_ARG_TYPE', 'mode');
    expectArgError(() => h.copy(0, Buffer.alloc(1), 3), 'ERR_OUT_OF_RANGE', 'mode');
  });

  test('handle.fill: value 256 or -1 -> ERR_OUT_OF_RANGE; missing arguments -> ERR_INVALID_ARG_TYPE; past the end', () => {
    expectArgError(() => h.fill(0, 256, 1, 1), 'ERR_OUT_OF_RANGE', 'value');
    expectArgError(() => h.fill(0, -1, 1, 1), 'ERR_OUT_OF_RANGE', 'value');
    expectArgError(() => h.fill(0, 'a' as any, 1, 1), 'ERR_INVALID_ARG_TYPE', 'value');
    expectArgError(() => (h.fill as any)(0, 1), 'ERR_INVALID_ARG_TYPE');
    expectArgError(() => h.fill(4096, 1, 1, 1), 'ERR_OUT_OF_RANGE');
    expectArgError(() => h.fill(0, 1, 4097, 1), 'ERR_OUT_OF_RANGE');
  });

  test('setSysfsRootForTests: a non-string -> ERR_INVALID_ARG_TYPE', () => {
    expectArgError(() => native.setSysfsRootForTests(123 as any), 'ERR_INVALID_ARG_TYPE', 'root');
    expectArgError(() => (native.setSysfsRootForTests as any)(), 'ERR_INVALID_ARG_TYPE', 'root');
  });

  test('the handle still works after every bad call', () => {
    h.copy(0, Buffer.from('ok'), 1);
    expect(Buffer.from(h.windows[0], 0, 2).toString()).toBe('ok');
  });
});

describe('options whose getters throw (child processes: a crash must show up as a signal)', () => {
  const PROPS = ['size', 'offset', 'mode', 'create', 'exclusive', 'sparse', 'private', 'sync'];
  // For each option, a getter that throws when native code reads it: the caller gets that
  // error, no file is created, nothing stays mapped, and the process does not crash.
  const script = (call: string) => `
    const { native } = require(${JSON.stringify(path.join(DIST, 'native.js'))});
    const results = {};
    for (const prop of ${JSON.stringify(PROPS)}) {
      const file = path.join(process.env.D, 'getter-' + prop);
      const base = { create: true, size: 4096 };
      const first = base[prop];
      delete base[prop];
      let reads = 0;
      Object.defineProperty(base, prop, { enumerable: true, get() {
        if (reads++ >= Number(process.env.THROW_AFTER)) throw new Error('getter of ' + prop);
        return first;
      } });
      let outcome;
      try { const m = ${call}; outcome = 'returned'; m.close(); } catch (e) { outcome = e.message; }
      results[prop] = { outcome, fileCreated: fs.existsSync(file),
        mapped: fs.readFileSync('/proc/self/maps', 'utf8').includes(file) };
      fs.writeSync(2, prop + ' -> ' + JSON.stringify(results[prop]) + '\\n');  // survives a crash on the next one
    }
    out(results);
  `;
  let nativeRun: Awaited<ReturnType<typeof runChildAsync>>;
  let publicRun: Awaited<ReturnType<typeof runChildAsync>>;

  beforeAll(async () => {
    const d1 = makeTempDir('daxfs-getter-');
    const d2 = makeTempDir('daxfs-getter-');
    [nativeRun, publicRun] = await Promise.all([
      runChildAsync(script('native.mapFile(file, base)'), { D: d1, THROW_AFTER: '0' }),
      // the public API validates first (one read) and then hands the object to native code
      runChildAsync(script('daxfs.mapFile(file, base)'), { D: d2, THROW_AFTER: '1' }),
    ]);
  }, 60000);

  const expectClean = (r: Awaited<ReturnType<typeof runChildAsync>>) => {
    expect(describeChild(r)).toMatch(/^status 0, signal null/);
    const results = lastJson(r);
    for (const prop of PROPS) {
      expect({ prop, ...results[prop] }).toEqual({ prop, outcome: `getter of ${prop}`, fileCreated: false, mapped: false });
    }
  };

  test('native.mapFile: a throwing option getter gives its error, creates no file, maps nothing, never crashes', () => {
    expectClean(nativeRun);
  });

  test('mapFile: an option getter that throws on a second read never crashes; the call fails cleanly or uses the first value', () => {
    expect(describeChild(publicRun)).toMatch(/^status 0, signal null/);
    const results = lastJson(publicRun);
    for (const prop of PROPS) {
      const { outcome, fileCreated, mapped } = results[prop];
      // read once (then mapped from plain values, as if the getter were a value), or failed without side effects
      expect({ prop, ok: outcome === 'returned' ? fileCreated && !mapped : outcome === `getter of ${prop}` && !fileCreated && !mapped })
        .toEqual({ prop, ok: true });
    }
  });
});
