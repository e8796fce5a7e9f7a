// PmemMapping.copier(): copy() with its source bound once. The bytes copied are the
// source's at each call; the rules for offsets, options and closed mappings are copy()'s;
// a source whose memory went away (detached, shrunk) is refused with EFAULT, never read.
import * as path from 'node:path';
import { DaxError, mapAnonymous, mapFile, PmemMapping, testing } from '../../lib';
import { makeTempDir, pattern, readAt, useTempDirs } from '../helpers/tmp';
import { countingMapping } from '../helpers/wrap-mapping';

useTempDirs();

function errorOf(fn: () => unknown): { code?: string; name?: string } | undefined {
  try { fn(); } catch (e) { return e as DaxError; }
  return undefined;
}

let m: PmemMapping;
beforeEach(() => { m = mapAnonymous(1 << 16); });
afterEach(() => m.close());

describe('copier', () => {
  test('each call copies the source as it is then, to the offset it is given', () => {
    const record = Buffer.alloc(100);
    const write = m.copier(record);
    record.fill(1);
    write(0);
    record.fill(2);
    write(1000);
    write(4096 * 3 - 50);   // across a page edge
    expect(m.view(0, 100).every((b) => b === 1)).toBe(true);
    expect(m.view(100, 1)[0]).toBe(0);
    expect(m.view(1000, 100).every((b) => b === 2)).toBe(true);
    expect(m.view(4096 * 3 - 50, 100).every((b) => b === 2)).toBe(true);
  });

  test('sources of every kind copy their own bytes: a pooled Buffer slice, a Uint16Array, a DataView, shared memory', () => {
    const pooled = Buffer.from('pooled bytes');
    expect(pooled.byteOffset).toBeGreaterThanOrEqual(0);
    m.copier(pooled)(10);
    expect(m.view(10, pooled.length).toString()).toBe('pooled bytes');
    const u16 = new Uint16Array([0x0201, 0x0403]);
    m.copier(u16)(40);
    expect([...m.view(40, 5)]).toEqual([1, 2, 3, 4, 0]);
    const bytes = pattern(64, 7);
    m.copier(new DataView(bytes.buffer, bytes.byteOffset + 8, 16))(80);
    expect(m.view(80, 16).equals(bytes.subarray(8, 24))).toBe(true);
    expect(m.view(96, 1)[0]).toBe(0);
    const shared = new Uint8Array(new SharedArrayBuffer(32)).subarray(4, 12);
    const fromShared = m.copier(shared);
    shared.fill(9);
    fromShared(200);
    expect(m.view(200, 9).equals(Buffer.from([9, 9, 9, 9, 9, 9, 9, 9, 0]))).toBe(true);
  });

  test('a source inside the same mapping overlapping the target is copied as memmove does', () => {
    m.view(0, 64).set(pattern(64, 3));
    m.copier(m.view(0, 48))(16);
    expect(m.view(16, 48).equals(pattern(64, 3).subarray(0, 48))).toBe(true);
  });

  test('the bytes reach the file, with the store options of copy()', () => {
    const file = path.join(makeTempDir('daxfs-copier-'), 'f');
    const f = mapFile(file, { create: true, size: 65536 });
    try {
      const rec = pattern(4096, 5);
      f.copier(rec)(8192);
      const later = f.copier(pattern(512, 6), { drain: false });
      later(100);
      f.drain();
      f.copier(pattern(64, 8), { persist: false })(1000);
      expect(readAt(file, 8192, 4096).equals(rec)).toBe(true);
      expect(readAt(file, 100, 512).equals(pattern(512, 6))).toBe(true);
      expect(f.view(1000, 64).equals(pattern(64, 8))).toBe(true);
    } finally {
      f.close();
    }
  });

  test('the crash simulator sees a copier\'s stores: fenced ones survive, an undrained one may not', () => {
    const c = testing.crashable(mapAnonymous(1 << 16));
    try {
      c.copier(Buffer.alloc(64, 0x11))(0);
      c.copier(Buffer.alloc(64, 0x22), { drain: false })(4096);
      const image = c.crash();
      expect(image.view(0, 64).every((b) => b === 0x11)).toBe(true);
      expect(image.view(4096, 64).every((b) => b === 0)).toBe(true);
      image.close();
      expect(c.fences).toBe(1);
    } finally {
      c.close();
    }
  });

  test('a wrapper\'s copier goes through the wrapper\'s copy(), one store per call', () => {
    const events: string[] = [];
    const w = countingMapping(m, events);
    const write = w.copier(Buffer.alloc(8, 1));
    write(0);
    write(8);
    expect(events).toEqual(['copy', 'copy fence', 'copy', 'copy fence']);
  });

  test('bad arguments: Node-style errors at binding and at each call', () => {
    expect(errorOf(() => m.copier('x' as unknown as Buffer))?.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(errorOf(() => m.copier(Buffer.alloc(1), { persist: 1 as unknown as boolean }))?.code).toBe('ERR_INVALID_ARG_TYPE');
    const write = m.copier(Buffer.alloc(16, 3));
    expect(errorOf(() => write(-1))?.code).toBe('ERR_OUT_OF_RANGE');
    expect(errorOf(() => write(1.5))?.code).toBe('ERR_OUT_OF_RANGE');
    expect(errorOf(() => write('0' as unknown as number))?.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(errorOf(() => write(m.size - 15))?.code).toBe('ERR_OUT_OF_RANGE');
    write(m.size - 16);   // the last 16 bytes fit
    expect(m.view(m.size - 16, 16).every((b) => b === 3)).toBe(true);
  });

  test('a source whose ArrayBuffer was detached or shrunk is refused with EFAULT, never read', () => {
    const ab = new ArrayBuffer(256);
    const write = m.copier(new Uint8Array(ab, 16, 64));
    structuredClone(ab, { transfer: [ab] });   // detaches it here
    expect(ab.byteLength).toBe(0);
    expect(errorOf(() => write(0))).toMatchObject({ code: 'EFAULT' });
    expect(m.view(0, 64).every((b) => b === 0)).toBe(true);
    // An empty source has nothing to lose.
    const none = new ArrayBuffer(8);
    const empty = m.copier(new Uint8Array(none, 0, 0));
    structuredClone(none, { transfer: [none] });
    expect(() => empty(0)).not.toThrow();
    // A resizable buffer shrunk below the view.
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void };
    const rb = new Resizable(128, { maxByteLength: 256 });
    const fromResizable = m.copier(new Uint8Array(rb, 0, 100));
    fromResizable(0);
    rb.resize(50);
    expect(errorOf(() => fromResizable(0))).toMatchObject({ code: 'EFAULT' });
  });

  test('a source that is a view of a mapping closed since is refused with EFAULT', () => {
    const other = mapAnonymous(1 << 16);
    other.view(0, 32).fill(7);
    const write = m.copier(other.view(0, 32));
    write(0);
    expect(m.view(0, 32).every((b) => b === 7)).toBe(true);
    other.close();
    expect(errorOf(() => write(100))).toMatchObject({ code: 'EFAULT' });
  });

  test('on a closed mapping: binding and calling throw EBADF', () => {
    const write = m.copier(Buffer.alloc(4));
    const n = mapAnonymous(4096);
    n.close();
    expect(errorOf(() => n.copier(Buffer.alloc(4)))).toMatchObject({ code: 'EBADF' });
    m.close();
    expect(errorOf(() => write(0))).toMatchObject({ code: 'EBADF' });
    m = mapAnonymous(4096);   // for afterEach
  });
});
