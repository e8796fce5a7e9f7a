// A mapping larger than one window (2 GiB): a 5 GiB sparse file written at its very end;
// views cannot cross a window edge, copies and fills can.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaxError, mapAnonymous, mapFile, PmemMapping } from '../../lib';
import { makeTempDir, readAt, useTempDirs } from '../helpers/tmp';

useTempDirs();

const GiB = 2 ** 30;
const SIZE = 5 * GiB;
const WINDOW = 2 * GiB;

let file: string;
let m: PmemMapping;

beforeAll(() => {
  file = path.join(makeTempDir('daxfs-large-'), 'big.pmem');
  m = mapFile(file, { create: true, size: SIZE, sparse: true });
});
afterAll(() => {
  m?.close();
});

test('a 5 GiB sparse file maps with its full size and stays sparse', () => {
  expect(m.size).toBe(SIZE);
  const st = fs.statSync(file);
  expect(st.size).toBe(SIZE);
  expect(st.blocks * 512).toBeLessThan(64 << 20);
});

test('the last bytes are written through a view, persisted, and read back by node:fs at that position', () => {
  const tail = Buffer.from('the very end of five gibibytes');
  const v = m.view(SIZE - tail.length, tail.length);
  expect(v.length).toBe(tail.length);
  v.set(tail);
  m.persist(SIZE - tail.length, tail.length);
  expect(readAt(file, SIZE - tail.length, tail.length + 10).equals(tail)).toBe(true);
});

test('copy() and fill() reach the last window (past 4 GiB) and land at the right file position', () => {
  m.copy(4 * GiB + 12345, Buffer.from('beyond four'));
  m.fill(SIZE - 4096, 0x6b, 100);
  expect(readAt(file, 4 * GiB + 12345, 11).toString()).toBe('beyond four');
  expect(readAt(file, SIZE - 4096, 101).subarray(0, 100).every((b) => b === 0x6b)).toBe(true);
  expect(m.view(4 * GiB + 12345, 11).toString()).toBe('beyond four');
});

test('a view across the 2 GiB window edge is refused with DaxError ERANGE', () => {
  let caught: unknown;
  try {
    m.view(WINDOW - 10, 20);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DaxError);
  expect(caught).toMatchObject({ code: 'ERANGE', errno: -34 });
  expect((caught as Error).message).toMatch(/window/);
  expect(() => m.view(2 * WINDOW - 1, 2)).toThrow(expect.objectContaining({ code: 'ERANGE' }));
});

test('views that end exactly at the edge and start exactly at it work and are adjacent in the file', () => {
  const left = m.view(WINDOW - 10, 10);
  const right = m.view(WINDOW, 10);
  left.fill(0x4c);
  right.fill(0x52);
  m.persist(WINDOW - 10, 20);
  expect(readAt(file, WINDOW - 10, 20).toString()).toBe('LLLLLLLLLLRRRRRRRRRR');
});

test('copy, fill and persist may cross a window edge (only views are windowed)', () => {
  const data = Buffer.from('across-the-window-edge');
  m.copy(WINDOW - 5, data);
  m.fill(2 * WINDOW - 3, 0x7a, 6);
  m.persist(WINDOW - 5, data.length);
  expect(readAt(file, WINDOW - 5, data.length).equals(data)).toBe(true);
  expect(readAt(file, 2 * WINDOW - 3, 6).toString()).toBe('zzzzzz');
  expect(m.view(WINDOW, 17).toString()).toBe(data.subarray(5).toString());
});

test('a view of a whole window (2 GiB) works; one byte more is ERANGE', () => {
  const whole = m.view(WINDOW, WINDOW);
  expect(whole.length).toBe(WINDOW);
  expect(whole[WINDOW - 1]).toBe(m.view(2 * WINDOW - 1, 1)[0]);
  expect(() => m.view(WINDOW, WINDOW + 1)).toThrow(expect.objectContaining({ code: 'ERANGE' }));
});

test('an empty view at the very end of a mapping whose size is a whole number of windows works (2 GiB and 4 GiB)', () => {
  for (const size of [WINDOW, 2 * WINDOW]) {
    const a = mapAnonymous(size);
    try {
      expect(a.view(size - 1, 1).length).toBe(1);
      expect(a.view(size, 0).length).toBe(0);
    } finally {
      a.close();
    }
  }
});
