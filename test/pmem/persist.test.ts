// Stores made durable with persist(), copy() and fill(), read back through a fresh
// mapping and through node:fs; copy() sources of every kind; overlapping copies.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mapAnonymous, mapFile, PmemMapping } from '../../lib';
import { makeTempDir, pattern, readAt, useTempDirs } from '../helpers/tmp';

useTempDirs();

let dir: string;
beforeEach(() => {
  dir = makeTempDir('daxfs-persist-');
});

function withMapping<T>(m: PmemMapping, fn: (m: PmemMapping) => T): T {
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

describe('data persisted on a file mapping', () => {
  test('stores through a view + persist() are in the file (fs.readFileSync) and in a fresh mapping', () => {
    const file = path.join(dir, 'f');
    const data = pattern(10000, 3);
    withMapping(mapFile(file, { create: true, size: 65536 }), (m) => {
      m.view(4096 + 7, data.length).set(data);
      m.persist(4096 + 7, data.length);
      // node:fs sees it while the mapping is still open
      expect(readAt(file, 4096 + 7, data.length).equals(data)).toBe(true);
    });
    const disk = fs.readFileSync(file);
    expect(disk.subarray(4096 + 7, 4096 + 7 + data.length).equals(data)).toBe(true);
    expect(disk.subarray(0, 4096 + 7).every((b) => b === 0)).toBe(true);
    expect(disk.subarray(4096 + 7 + data.length).every((b) => b === 0)).toBe(true);
    withMapping(mapFile(file), (m) => {
      expect(m.view(4096 + 7, data.length).equals(data)).toBe(true);
    });
  });

  test('copy() (persist by default) writes exactly the source bytes and nothing around them', () => {
    const file = path.join(dir, 'c');
    const sizes = [1, 63, 64, 65, 256, 4096, 100000];
    let at = 1;
    const placed: Array<[number, Buffer]> = [];
    withMapping(mapFile(file, { create: true, size: 1 << 20 }), (m) => {
      m.fill(0, 0x77, m.size);
      for (const n of sizes) {
        const src = pattern(n, n);
        m.copy(at, src);
        placed.push([at, src]);
        at += n + 3;
      }
    });
    const disk = fs.readFileSync(file);
    const want = Buffer.alloc(1 << 20, 0x77);
    for (const [off, src] of placed) src.copy(want, off);
    expect(disk.equals(want)).toBe(true);
  });

  test('fill() writes the value over exactly the range, through to the file', () => {
    const file = path.join(dir, 'fill');
    withMapping(mapFile(file, { create: true, size: 300000 }), (m) => {
      m.fill(5, 0xa5, 3);
      m.fill(1000, 0x5a, 200000);
      m.fill(299999, 0x01, 1);
      m.fill(50, 0xff, 0);  // zero length: nothing
    });
    const want = Buffer.alloc(300000);
    want.fill(0xa5, 5, 8);
    want.fill(0x5a, 1000, 201000);
    want[299999] = 1;
    expect(fs.readFileSync(file).equals(want)).toBe(true);
  });

  test('copy with { persist: false } lands in memory, and a later persist() makes it reach the file', () => {
    const file = path.join(dir, 'np');
    const data = pattern(5000, 9);
    withMapping(mapFile(file, { create: true, size: 16384 }), (m) => {
      m.copy(100, data, { persist: false });
      expect(m.view(100, 5000).equals(data)).toBe(true);
      m.fill(8000, 0x3c, 3000, { persist: false });
      m.persist(0, m.size);
    });
    const disk = fs.readFileSync(file);
    expect(disk.subarray(100, 5100).equals(data)).toBe(true);
    expect(disk.subarray(8000, 11000).every((b) => b === 0x3c)).toBe(true);
  });

  test('flush() then drain() makes stores reach the file', () => {
    const file = path.join(dir, 'fd');
    withMapping(mapFile(file, { create: true, size: 8192 }), (m) => {
      m.view(4000, 200).fill(0x42);
      m.flush(4000, 200);
      m.drain();
    });
    expect(readAt(file, 4000, 200).every((b) => b === 0x42)).toBe(true);
  });

  test('persist and flush accept zero lengths and the very end of the mapping', () => {
    withMapping(mapFile(path.join(dir, 'z'), { create: true, size: 5000 }), (m) => {
      expect(() => m.persist(0, 0)).not.toThrow();
      expect(() => m.persist(5000, 0)).not.toThrow();
      expect(() => m.flush(4999, 1)).not.toThrow();
      expect(() => m.persist(0, 5000)).not.toThrow();
      expect(() => m.copy(5000, new Uint8Array(0))).not.toThrow();
    });
  });

  test('a mapping with an offset persists to the right place in the file', () => {
    const file = path.join(dir, 'o');
    fs.writeFileSync(file, Buffer.alloc(3 * 4096));
    withMapping(mapFile(file, { offset: 8192 }), (m) => {
      expect(m.size).toBe(4096);
      m.copy(0, Buffer.from('page three'));
    });
    expect(readAt(file, 8192, 10).toString()).toBe('page three');
    expect(readAt(file, 0, 8192).every((b) => b === 0)).toBe(true);
  });
});

describe('copy() sources', () => {
  let m: PmemMapping;
  beforeEach(() => {
    m = mapAnonymous(1 << 16);
  });
  afterEach(() => {
    m.close();
  });

  test('a Uint16Array copies byteLength bytes (2 per element), honouring its byteOffset', () => {
    const backing = new Uint16Array([0x1111, 0x0201, 0x0403, 0x0605, 0x2222]);
    const src = new Uint16Array(backing.buffer, 2, 3);
    m.fill(0, 0xee, 16);
    m.copy(0, src);
    expect([...m.view(0, 8)]).toEqual([...new Uint8Array(src.buffer, src.byteOffset, src.byteLength), 0xee, 0xee]);
  });

  test('a Float64Array and a BigInt64Array copy 8 bytes per element', () => {
    const f = new Float64Array([Math.PI, -1.5]);
    m.fill(0, 0xee, 32);
    m.copy(0, f);
    expect(m.view(0, 16).equals(Buffer.from(f.buffer))).toBe(true);
    expect(m.view(16, 1)[0]).toBe(0xee);
    const b = new BigInt64Array([-2n, 0x0102030405060708n]);
    m.copy(100, b);
    expect(m.view(100, 16).equals(Buffer.from(b.buffer))).toBe(true);
  });

  test('a DataView copies its byteLength bytes from its byteOffset', () => {
    const bytes = pattern(64, 5);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + 10, 20);
    m.fill(0, 0xee, 32);
    m.copy(0, dv);
    expect(m.view(0, 20).equals(bytes.subarray(10, 30))).toBe(true);
    expect(m.view(20, 1)[0]).toBe(0xee);
  });

  test('a Buffer that is a slice of a pooled allocation copies only its own bytes', () => {
    const small = Buffer.from('pooled slice');
    expect(small.byteOffset).toBeGreaterThanOrEqual(0);
    m.copy(7, small);
    expect(m.view(7, small.length).toString()).toBe('pooled slice');
    expect(m.view(7 + small.length, 1)[0]).toBe(0);
  });

  test('a zero-length source writes nothing', () => {
    m.copy(0, Buffer.alloc(0));
    expect(m.view(0, 16).every((b) => b === 0)).toBe(true);
  });
});

describe('overlapping copies (memmove semantics)', () => {
  const cases = [
    { name: 'forward, short', from: 0, to: 10, len: 100 },
    { name: 'backward, short', from: 10, to: 0, len: 100 },
    { name: 'forward, long (non-temporal size)', from: 100, to: 1100, len: 50000 },
    { name: 'backward, long (non-temporal size)', from: 1100, to: 100, len: 50000 },
    { name: 'by one byte', from: 4096, to: 4097, len: 8191 },
  ];

  for (const persist of [true, false]) {
    test.each(cases)(`$name with persist ${persist}: the result equals a copy of the original bytes`, ({ from, to, len }) => {
      const file = path.join(dir, `ov-${persist}`);
      const size = 1 << 17;
      const original = pattern(size, 11);
      fs.writeFileSync(file, original);
      withMapping(mapFile(file), (m) => {
        m.copy(to, m.view(from, len), { persist });
        if (!persist) m.persist(0, size);
      });
      const want = Buffer.from(original);
      original.copy(want, to, from, from + len);
      expect(fs.readFileSync(file).equals(want)).toBe(true);
    });
  }

  test('an overlapping copy on emulated-pmem-like anonymous memory is correct too', () => {
    withMapping(mapAnonymous(1 << 16), (m) => {
      const original = pattern(1 << 16, 2);
      m.copy(0, original);
      m.copy(3, m.view(0, 40000));
      const want = Buffer.from(original);
      original.copy(want, 3, 0, 40000);
      expect(m.view(0, 1 << 16).equals(want)).toBe(true);
    });
  });
});

describe('mapAnonymous', () => {
  test('is zeroed, kind anonymous, isPmem false, granularity none', () => {
    withMapping(mapAnonymous(3 << 20), (m) => {
      expect({ size: m.size, kind: m.kind, isPmem: m.isPmem, granularity: m.granularity, closed: m.closed })
        .toEqual({ size: 3 << 20, kind: 'anonymous', isPmem: false, granularity: 'none', closed: false });
      const v = m.view(0, m.size);
      expect(v.every((b) => b === 0)).toBe(true);
    });
  });

  test('holds what was written; persist, flush and drain run (and promise nothing)', () => {
    withMapping(mapAnonymous(10000), (m) => {
      m.copy(1, pattern(9000));
      m.persist(0, 10000);
      m.flush(0, 1);
      m.drain();
      expect(m.view(1, 9000).equals(pattern(9000))).toBe(true);
    });
  });

  test('two anonymous mappings are independent', () => {
    const a = mapAnonymous(4096);
    const b = mapAnonymous(4096);
    try {
      a.fill(0, 1, 4096);
      expect(b.view(0, 4096).every((x) => x === 0)).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });

  test('size 0 is refused with a DaxError EINVAL', () => {
    expect(() => mapAnonymous(0)).toThrow(expect.objectContaining({ code: 'EINVAL', errno: -22 }));
  });
});

describe('views', () => {
  test('a view is zero-copy: stores through it are seen by another view and by copy()', () => {
    withMapping(mapAnonymous(8192), (m) => {
      const a = m.view(100, 50);
      const b = m.view(0, 8192);
      a[0] = 9;
      expect(b[100]).toBe(9);
      m.copy(101, Buffer.from([8]));
      expect(a[1]).toBe(8);
      expect(a.byteOffset - b.byteOffset).toBe(100);
    });
  });

  test('a view of length 0 at the end is allowed; one byte past the end is ERR_OUT_OF_RANGE', () => {
    withMapping(mapAnonymous(8192), (m) => {
      expect(m.view(8192, 0).length).toBe(0);
      expect(() => m.view(8192, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => m.view(0, 8193)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    });
  });
});
