// testing.crashable: a PmemMapping that remembers what a power loss would leave behind.
//
// Model (clwb/clflushopt + sfence): a cache line reaches the persistence domain only when it
// has been flushed and a fence has followed. A shadow mapping of the same size holds that
// durable state; at each fence the lines flushed since the previous fence are carried over
// from the working memory. Views are views of the working memory, so stores made directly
// through them are covered: they count only once their lines are flushed and fenced.
import { DaxError, argError } from '../errors';
import { platform } from '../platform';
import { mapAnonymous, PmemMapping, StoreOptions } from '../pmem';
import { copierOf } from '../pmem/mapping';
import { checkInteger, checkOneOf, checkOptions } from '../validate';
import { seededRandom } from './prng';

export type CrashMode = 'drop-unflushed' | 'random';

export interface CrashOptions {
  /** 'drop-unflushed' (default): only what was flushed and fenced. 'random': plus, at random,
   *  some of the lines written but not yet durable, 8-byte words independently. */
  mode?: CrashMode;
  /** 'random' only: the same seed gives the same image (default 0). */
  seed?: number;
}

export interface CrashableOptions {
  /** Called on the main thread after every fence, with the count so far. Its exceptions
   *  propagate to the caller of the fencing call (drain, persist, copy, fill). */
  onFence?: (count: number) => void;
}

export interface CrashableMapping extends PmemMapping {
  /** The image a power loss would leave now, as a new anonymous mapping the caller owns. */
  crash(options?: CrashOptions): PmemMapping;
  /** Persistence points (fences) seen so far. */
  readonly fences: number;
}

const WORD = 8;   // 8-byte aligned stores are atomic: a crash never tears one

/** Copies [offset, offset+length) between two mappings, never asking for a view across a window edge. */
function copyBetween(from: PmemMapping, to: PmemMapping, offset: number, length: number): void {
  const end = offset + length;
  while (offset < end) {
    const stop = Math.min(end, nextEdge(offset, from.windowSize), nextEdge(offset, to.windowSize));
    from.view(offset, stop - offset).copy(to.view(offset, stop - offset));
    offset = stop;
  }
}

/** Stores `bytes` at `offset` of `to`, window by window. */
function writeInto(to: PmemMapping, offset: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) {
    const stop = Math.min(offset + bytes.length, nextEdge(offset + done, to.windowSize));
    bytes.copy(to.view(offset + done, stop - offset - done), 0, done, stop - offset);
    done = stop - offset;
  }
}

function nextEdge(offset: number, windowSize: number): number {
  return (Math.floor(offset / windowSize) + 1) * windowSize;
}

function isMapping(value: unknown): value is PmemMapping {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Partial<PmemMapping>;
  return typeof m.size === 'number' && typeof m.windowSize === 'number' &&
    ['view', 'persist', 'flush', 'drain', 'copy', 'fill', 'close'].every((k) => typeof (m as Record<string, unknown>)[k] === 'function');
}

/**
 * Wraps `mapping` (which it then owns: close() closes both). Costs one anonymous shadow of
 * `mapping.size` bytes, a copy of the mapping's current contents (taken as durable).
 */
export function crashable(mapping: PmemMapping, options?: CrashableOptions): CrashableMapping {
  if (!isMapping(mapping)) throw argError('ERR_INVALID_ARG_TYPE', 'The "mapping" argument must be a PmemMapping');
  const o = checkOptions<CrashableOptions>(options, 'options');
  const onFence = o.onFence;
  if (onFence !== undefined && typeof onFence !== 'function') {
    throw argError('ERR_INVALID_ARG_TYPE', 'The "options.onFence" property must be of type function');
  }
  const inner = mapping;
  if (inner.closed) throw new DaxError('EBADF', 'the mapping is closed', { errno: -9 });
  const size = inner.size;
  const line = platform().cacheLine;
  const shadow = mapAnonymous(size);
  copyBetween(inner, shadow, 0, size);

  // The lines flushed since the last fence, with their contents as the flush saw them: a
  // store made after a line's flush but before the fence is not in it (the hardware may
  // have written the line back before that store). A fence costs what was flushed, and
  // nothing when nothing was; flushes apply in order, so a line's later flush wins.
  let flushed: Array<[number, Buffer]> = [];   // line-aligned start, bytes at flush time
  let fences = 0;

  const noteFlush = (offset: number, length: number): void => {
    if (length <= 0) return;
    let start = Math.floor(offset / line) * line;
    const end = Math.min(size, Math.ceil((offset + length) / line) * line);
    while (start < end) {
      const stop = Math.min(end, nextEdge(start, inner.windowSize));
      flushed.push([start, Buffer.from(inner.view(start, stop - start))]);
      start = stop;
    }
  };
  const fence = (): void => {
    if (flushed.length > 0) {
      const ranges = flushed;
      flushed = [];
      for (const [start, bytes] of ranges) writeInto(shadow, start, bytes);
    }
    fences++;
    onFence?.(fences);   // after carrying over, so an image taken here includes this fence
  };
  // copy/fill are non-temporal (or copy + flush): their bytes count as flushed, and are
  // fenced unless persist: false (plain stores) or drain: false (fenced by a later drain).
  const afterStore = (offset: number, length: number, opts?: StoreOptions): void => {
    if (opts?.persist === false) return;
    noteFlush(offset, length);
    if (opts?.drain !== false) fence();
  };

  const crash = (crashOptions?: CrashOptions): PmemMapping => {
    const c = checkOptions<CrashOptions>(crashOptions, 'options');
    const mode = checkOneOf(c.mode, 'options.mode', ['drop-unflushed', 'random'] as const) ?? 'drop-unflushed';
    const seed = c.seed === undefined ? 0 : checkInteger(c.seed, 'options.seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (inner.closed || shadow.closed) throw new DaxError('EBADF', 'the mapping is closed', { errno: -9 });
    const image = mapAnonymous(size);
    try {
      copyBetween(shadow, image, 0, size);
      if (mode === 'random') evictAtRandom(inner, image, size, line, seededRandom(seed));
    } catch (err) {
      image.close();
      throw err;
    }
    return image;
  };

  const wrapped: CrashableMapping = {
    get size() { return size; },
    get kind() { return inner.kind; },
    get isPmem() { return inner.isPmem; },
    get granularity() { return inner.granularity; },
    get closed() { return inner.closed; },
    get windowSize() { return inner.windowSize; },
    get fences() { return fences; },
    view: (offset: number, length: number) => inner.view(offset, length),
    // The inner call first: it checks the arguments, and a failed call records nothing.
    flush: (offset: number, length: number) => { inner.flush(offset, length); noteFlush(offset, length); },
    persist: (offset: number, length: number) => { inner.persist(offset, length); noteFlush(offset, length); fence(); },
    drain: () => { inner.drain(); fence(); },
    copy: (offset: number, source: ArrayBufferView, opts?: StoreOptions) => {
      inner.copy(offset, source, opts);
      afterStore(offset, source.byteLength, opts);
    },
    fill: (offset: number, value: number, length: number, opts?: StoreOptions) => {
      inner.fill(offset, value, length, opts);
      afterStore(offset, length, opts);
    },
    // Each call is this wrapper's copy(), so the shadow sees the store.
    copier: (source: ArrayBufferView, opts?: StoreOptions) => copierOf(wrapped.copy, source, opts),
    close: () => { shadow.close(); inner.close(); },
    crash,
  };
  return wrapped;
}

/**
 * 'random': each line written but not durable (working memory differs from the image) is
 * evicted or not by a coin toss, and within an evicted line each 8-byte word is taken from
 * the working memory or left as it was, independently. Never invents bytes.
 */
function evictAtRandom(working: PmemMapping, image: PmemMapping, size: number, line: number, random: () => number): void {
  // Chunks of whole lines, compared first as a whole: clean memory costs one comparison per chunk.
  const chunk = Math.max(line, Math.floor((64 * 1024) / line) * line);
  for (let offset = 0; offset < size;) {
    const stop = Math.min(size, offset + chunk, nextEdge(offset, working.windowSize), nextEdge(offset, image.windowSize));
    const now = working.view(offset, stop - offset);
    const kept = image.view(offset, stop - offset);
    if (!now.equals(kept)) {
      for (let l = 0; l < now.length; l += line) {
        const lineEnd = Math.min(now.length, l + line);
        if (now.compare(kept, l, lineEnd, l, lineEnd) === 0) continue;
        if ((random() & 1) === 0) continue;          // this dirty line was not evicted
        for (let w = l; w < lineEnd; w += WORD) {
          if ((random() & 1) === 1) now.copy(kept, w, w, Math.min(lineEnd, w + WORD));
        }
      }
    }
    offset = stop;
  }
}
