// testing.crashable: what survives a simulated power loss, rule by rule (docs/SEMANTICS.md,
// "Crash simulation").
import { testing } from '../../lib';
import { mapAnonymous, PmemMapping } from '../../lib/pmem';
import { platform } from '../../lib/platform';

const LINE = platform().cacheLine;
const SIZE = 64 * 1024;

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

/** Reads `length` bytes at `offset` of a crash image, then closes it. */
function readImage(image: PmemMapping, offset: number, length: number): Buffer {
  const bytes = Buffer.from(image.view(offset, length));
  image.close();
  return bytes;
}

const made: PmemMapping[] = [];
function fresh(onFence?: (count: number) => void) {
  const m = testing.crashable(mapAnonymous(SIZE), { onFence });
  made.push(m);
  return m;
}
afterEach(() => { while (made.length) made.pop()!.close(); });

describe('what survives a crash (drop-unflushed)', () => {
  test('an unflushed store through a view is lost at crash, even after a fence', () => {
    const m = fresh();
    m.view(100, 4).write('LOST');
    m.drain();
    expect(readImage(m.crash(), 100, 4)).toEqual(Buffer.alloc(4));
    expect(m.view(100, 4).toString()).toBe('LOST');   // the working memory keeps it
  });

  test('a flushed but not fenced store is lost in drop-unflushed', () => {
    const m = fresh();
    m.view(100, 4).write('WAIT');
    m.flush(100, 4);
    expect(readImage(m.crash(), 100, 4)).toEqual(Buffer.alloc(4));
  });

  test('a store made after its line was flushed but before the fence is not durable until flushed again', () => {
    const m = fresh();
    m.view(200, 4).write('OLD!');
    m.flush(200, 4);
    m.view(200, 4).write('NEW!');   // after the flush: the write-back may have happened already
    m.drain();
    expect(readImage(m.crash(), 200, 4).toString()).toBe('OLD!');
    m.persist(200, 4);
    expect(readImage(m.crash(), 200, 4).toString()).toBe('NEW!');
  });

  test('a flushed and fenced store survives, with the rest of its cache line and nothing of the next', () => {
    const m = fresh();
    m.view(0, 2 * LINE).fill(7);
    m.flush(1, 1);
    m.drain();
    const image = readImage(m.crash(), 0, 2 * LINE);
    expect(image.subarray(0, LINE)).toEqual(Buffer.alloc(LINE, 7));
    expect(image.subarray(LINE)).toEqual(Buffer.alloc(LINE));
  });

  test('persist() is a flush and a fence: the range survives', () => {
    const m = fresh();
    m.view(200, 3).write('abc');
    m.persist(200, 3);
    expect(readImage(m.crash(), 200, 3).toString()).toBe('abc');
  });

  test('copy() and fill() with default options survive', () => {
    const m = fresh();
    m.copy(300, Buffer.from('copied'));
    m.fill(4096, 0x5a, 100);
    const image = m.crash();
    expect(Buffer.from(image.view(300, 6)).toString()).toBe('copied');
    expect(readImage(image, 4096, 100)).toEqual(Buffer.alloc(100, 0x5a));
  });

  test('copy with {drain: false} survives only after a later drain()', () => {
    const m = fresh();
    m.copy(500, Buffer.from('later'), { drain: false });
    expect(readImage(m.crash(), 500, 5)).toEqual(Buffer.alloc(5));
    m.drain();
    expect(readImage(m.crash(), 500, 5).toString()).toBe('later');
  });

  test('copy with {persist: false} is plain stores: lost even after a drain()', () => {
    const m = fresh();
    m.copy(600, Buffer.from('plain'), { persist: false });
    m.drain();
    expect(readImage(m.crash(), 600, 5)).toEqual(Buffer.alloc(5));
  });

  test('what the wrapped mapping held before wrapping counts as durable', () => {
    const inner = mapAnonymous(SIZE);
    inner.view(0, 3).write('old');
    const m = testing.crashable(inner);
    made.push(m);
    expect(readImage(m.crash(), 0, 3).toString()).toBe('old');
  });

  test('a crash image is independent of the mapping: later stores do not reach it', () => {
    const m = fresh();
    const image = m.crash();
    m.copy(0, Buffer.from('after'));
    expect(readImage(image, 0, 5)).toEqual(Buffer.alloc(5));
  });
});

describe("random mode ('random', seed)", () => {
  /** A mapping whose durable state is all 0x11 and whose working memory is all 0x22, unflushed. */
  function dirty(): ReturnType<typeof fresh> {
    const m = fresh();
    m.fill(0, 0x11, SIZE);
    m.view(0, SIZE).fill(0x22);
    return m;
  }
  const imageOf = (m: ReturnType<typeof fresh>, seed: number) => readImage(m.crash({ mode: 'random', seed }), 0, SIZE);

  test('is reproducible for a seed and differs across seeds', () => {
    const m = dirty();
    expect(imageOf(m, 42).equals(imageOf(m, 42))).toBe(true);
    expect(imageOf(m, 42).equals(imageOf(m, 43))).toBe(false);
    expect(imageOf(m, 2 ** 40).equals(imageOf(m, 2 ** 40 + 1))).toBe(false);
  });

  test('keeps or drops whole 8-byte words only, and never invents bytes', () => {
    const m = dirty();
    const image = imageOf(m, 7);
    const seen = new Set<number>();
    const bad: number[] = [];
    for (let w = 0; w < SIZE; w += 8) {
      const word = image.subarray(w, w + 8);
      // Not torn, and either the shadow's (0x11) or the working memory's (0x22).
      if (!word.every((b) => b === word[0]) || (word[0] !== 0x11 && word[0] !== 0x22)) bad.push(w);
      seen.add(word[0]);
    }
    expect(bad).toEqual([]);
    expect(seen).toEqual(new Set([0x11, 0x22]));
  });

  test('some dirty lines are left whole (not evicted) and durable lines are never changed', () => {
    const m = dirty();
    m.persist(0, LINE);                     // the first line is durable with 0x22
    const image = imageOf(m, 3);
    expect(image.subarray(0, LINE)).toEqual(Buffer.alloc(LINE, 0x22));
    let untouched = 0;
    for (let l = LINE; l < SIZE; l += LINE) if (image.subarray(l, l + LINE).every((b) => b === 0x11)) untouched++;
    expect(untouched).toBeGreaterThan(0);
  });

  test('with nothing dirty, random is the same image as drop-unflushed', () => {
    const m = fresh();
    m.copy(0, Buffer.from('all durable'));
    expect(imageOf(m, 1).equals(readImage(m.crash(), 0, SIZE))).toBe(true);
  });
});

describe('fences', () => {
  test('onFence is called with increasing counts after each fence, and `fences` matches', () => {
    const counts: number[] = [];
    const m = fresh((count) => counts.push(count));
    m.drain();                                     // a fence with nothing flushed
    m.persist(0, 10);
    m.copy(0, Buffer.from('x'));
    m.copy(0, Buffer.from('x'), { drain: false }); // no fence
    m.flush(0, 1);                                 // no fence
    m.fill(0, 1, 1);
    expect(counts).toEqual([1, 2, 3, 4]);
    expect(m.fences).toBe(4);
  });

  test('onFence runs after the carry-over: an image taken there includes the fenced store', () => {
    let seen = '';
    const m = testing.crashable(mapAnonymous(SIZE), { onFence: () => { seen = readImage(m.crash(), 0, 4).toString(); } });
    made.push(m);
    m.copy(0, Buffer.from('done'));
    expect(seen).toBe('done');
  });

  test("exceptions from onFence propagate to the fencing call's caller", () => {
    const m = fresh(() => { throw new Error('stop here'); });
    expect(() => m.drain()).toThrow('stop here');
    expect(m.fences).toBe(1);
  });
});

describe('arguments', () => {
  test('mapping must be a PmemMapping; options an object; onFence a function', () => {
    expect(codeOf(() => testing.crashable({} as PmemMapping))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => testing.crashable(null as unknown as PmemMapping))).toBe('ERR_INVALID_ARG_TYPE');
    const inner = mapAnonymous(4096);
    expect(codeOf(() => testing.crashable(inner, 5 as never))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => testing.crashable(inner, { onFence: 1 as never }))).toBe('ERR_INVALID_ARG_TYPE');
    inner.close();
    expect(codeOf(() => testing.crashable(inner))).toBe('EBADF');
  });

  test('crash: mode one of the two, seed an integer, EBADF once closed', () => {
    const m = testing.crashable(mapAnonymous(4096));
    expect(codeOf(() => m.crash({ mode: 'sometimes' as never }))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => m.crash({ mode: 'random', seed: 1.5 }))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => m.crash({ mode: 'random', seed: '1' as never }))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => m.crash('random' as never))).toBe('ERR_INVALID_ARG_TYPE');
    m.close();
    expect(m.closed).toBe(true);
    expect(codeOf(() => m.crash())).toBe('EBADF');
  });

  test('a failed call records nothing: an out-of-range flush throws and the next fence still works', () => {
    const m = fresh();
    expect(codeOf(() => m.flush(SIZE, 64))).toBeDefined();
    m.persist(0, 1);
    expect(m.fences).toBe(1);
  });
});
