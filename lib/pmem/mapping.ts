// PmemMapping: persistent memory (or its stand-ins) mapped into the process.
import * as nodePath from 'node:path';
import { DaxError, argError } from '../errors';
import { native, NativeMapping } from '../native';
import { checkBoolean, checkBytes, checkOneOf, checkOptions, checkSize, checkString } from '../validate';

export type MappingKind = 'devdax' | 'fsdax' | 'file' | 'anonymous';
export type Granularity = 'byte' | 'cache-line' | 'page' | 'none';

export interface StoreOptions {
  /** Make the bytes durable before returning (default true). false: plain stores. */
  persist?: boolean;
  /**
   * With persist: false here means "flushed (or written non-temporally) but not yet
   * fenced": durable after the next drain(). One drain() after a batch of stores is
   * cheaper than a fence per store.
   */
  drain?: boolean;
}

function storeMode(options?: StoreOptions): number {
  if (options === undefined) return 1;
  const o = checkOptions<StoreOptions>(options, 'options');
  const persist = checkBoolean(o.persist, 'options.persist');
  const drain = checkBoolean(o.drain, 'options.drain');
  if (persist === false) return 0;
  return drain === false ? 2 : 1;
}

export interface PmemMapping {
  readonly size: number;
  readonly kind: MappingKind;
  /** devdax, MAP_SYNC, or DAXFS_FORCE_PMEM: persistence is flush + fence, not msync. */
  readonly isPmem: boolean;
  /** What persist() guarantees survives a power loss ('none': nothing does). */
  readonly granularity: Granularity;
  readonly closed: boolean;
  /** Views cannot cross a multiple of this (2 GiB: a Node 20 Buffer holds at most 4 GiB). */
  readonly windowSize: number;
  /** Zero-copy view; ERANGE across a window edge (every `windowSize` bytes). */
  view(offset: number, length: number): Buffer;
  /** Durable on return, as `granularity` says. */
  persist(offset: number, length: number): void;
  /** Start writing back the range; durable only after drain(). */
  flush(offset: number, length: number): void;
  /** Wait for earlier flushes and non-temporal stores. */
  drain(): void;
  copy(offset: number, source: ArrayBufferView, options?: StoreOptions): void;
  /**
   * copy() with `source` bound once: the returned function copies the source's bytes as
   * they are at each call to `offset`, with `options` as copy() takes them. For records
   * staged in one buffer and written again and again: a call skips unpacking the view.
   * EFAULT when the source's buffer has been detached or shrunk below the view since.
   */
  copier(source: ArrayBufferView, options?: StoreOptions): (offset: number) => void;
  fill(offset: number, value: number, length: number, options?: StoreOptions): void;
  /** Idempotent; detaches every view (length 0) before the memory is unmapped. */
  close(): void;
}

export interface MapFileOptions {
  size?: number;
  offset?: number;
  create?: boolean;
  exclusive?: boolean;
  mode?: number;
  sparse?: boolean;
  private?: boolean;
  sync?: 'auto' | 'required';
}

function throwNotNumbers(offset: unknown, length: unknown): never {
  checkSize(offset, 'offset');
  checkSize(length, 'length');
  throw argError('ERR_INVALID_ARG_TYPE', 'offset and length must be numbers');
}

// The native pageView of each mapping this module made: pageView() reaches it from a
// PmemMapping without putting a method on the public interface.
const pageViews = new WeakMap<PmemMapping, NativeMapping['pageView']>();

/**
 * A page view of [offset, offset+length) (page aligned) with its own ArrayBuffer, tracked
 * natively: revoked by revokePageView() and detached before the mapping closes. readOnly
 * views are PROT_READ memory (a store raises SIGSEGV); `unpinnable` ones are recorded as
 * memory get_user_pages cannot pin (isUnpinnableView). For lib/mm, never the public API.
 */
export function pageView(mapping: PmemMapping, offset: number, length: number, readOnly: boolean,
                         unpinnable = false): ArrayBuffer {
  const view = pageViews.get(mapping);
  if (!view) throw new DaxError('EOPNOTSUPP', 'page views need a mapping made by mapFile or mapAnonymous (not a wrapper)', { errno: -95 });
  return view(offset, length, readOnly, unpinnable);
}

/** Whether `buffer` is a page view made unpinnable: the mark is native, set at creation, so
 *  no JavaScript can put it on ordinary memory or take it off a view. */
export function isUnpinnableView(buffer: unknown): boolean {
  return native.viewUnpinnable(buffer);
}

/**
 * copier() for a mapping that wraps another (the crash simulator, test wrappers): each call
 * is the wrapper's own copy() of the bound bytes, so it sees every store. Same rules as the
 * native one: a fixed-length view of the source's bytes, EFAULT once it has lost them.
 */
export function copierOf(copy: PmemMapping['copy'], source: ArrayBufferView, options?: StoreOptions): (offset: number) => void {
  checkBytes(source, 'source');
  storeMode(options);
  const length = source.byteLength;
  const bytes = new Uint8Array(source.buffer, source.byteOffset, length);
  return (offset: number): void => {
    if (bytes.byteLength !== length) {
      throw new DaxError('EFAULT', "the bound source's ArrayBuffer was detached or shrunk since copier() bound it", { errno: -14 });
    }
    copy(offset, bytes, options);
  };
}

/** Detaches a page view (length 0 from then on); false when `buffer` is not one. */
export function revokePageView(buffer: ArrayBuffer): boolean {
  return native.revokeView(buffer);
}

/** A fresh read-only view of the zero page (PROT_READ, never connected to storage). */
export function zeroPageView(unpinnable = false): ArrayBuffer {
  return native.zeroPageView(unpinnable);
}

// The environment's hot functions and their shared args: module constants, so each call
// site below sees one native target whatever the mapping (native/binding/hot.h).
const hot = native.hot;
const H = new Float64Array(hot.args);   // [token, offset, length, sourceOffset]
const { persist: hotPersist, flush: hotFlush, drain: hotDrain, copyPersist, copyNoDrain, copyPlain } = hot;
const COPY_FROM = [hot.copyFromPlain, hot.copyFromPersist, hot.copyFromNoDrain];   // by store mode

class NativePmemMapping implements PmemMapping {
  readonly size: number;
  readonly kind: MappingKind;
  readonly isPmem: boolean;
  readonly granularity: Granularity;
  // The hot calls are closures (so `const { persist } = mapping` works) that store the
  // mapping's token, offset and length into the shared args and call a native function
  // with no arguments: cheaper than converting JS numbers in native code. Native code
  // checks the values (token, integers, range) and the closed state; the closures check
  // the types.
  readonly persist: (offset: number, length: number) => void;
  readonly flush: (offset: number, length: number) => void;
  readonly drain: () => void;
  readonly #handle: NativeMapping;
  readonly #token: number;
  // Read once: the handle has too many properties for V8 to keep it in fast mode, so each
  // handle.fill would be a dictionary lookup.
  readonly #fill: NativeMapping['fill'];
  readonly #window: NativeMapping['window'];
  readonly windowSize: number;
  readonly #windows: ArrayBuffer[];
  #closed = false;

  constructor(handle: NativeMapping) {
    this.#handle = handle;
    this.#windows = handle.windows;
    this.windowSize = handle.windowSize;
    this.size = handle.size;
    this.kind = handle.kind;
    this.isPmem = handle.isPmem;
    this.granularity = handle.granularity;
    this.#token = handle.token;
    // The closures read the token through `this`, so holding one of them keeps the mapping
    // (and its handle) alive, as holding a view does.
    this.persist = (offset: number, length: number): void => {
      if (typeof offset !== 'number' || typeof length !== 'number') throwNotNumbers(offset, length);
      H[0] = this.#token;
      H[1] = offset;
      H[2] = length;
      hotPersist();
    };
    this.flush = (offset: number, length: number): void => {
      if (typeof offset !== 'number' || typeof length !== 'number') throwNotNumbers(offset, length);
      H[0] = this.#token;
      H[1] = offset;
      H[2] = length;
      hotFlush();
    };
    this.drain = (): void => {
      H[0] = this.#token;
      hotDrain();
    };
    this.#fill = handle.fill;
    this.#window = handle.window;
    pageViews.set(this, handle.pageView);
  }

  get closed(): boolean {
    // A detached first window also means closed (close() reached through another path).
    return this.#closed || this.#windows[0].byteLength === 0;
  }

  view(offset: number, length: number): Buffer {
    checkSize(offset, 'offset');
    checkSize(length, 'length');
    if (this.closed) throw new DaxError('EBADF', 'the mapping is closed', { errno: -9 });
    if (offset + length > this.size) {
      throw argError('ERR_OUT_OF_RANGE', `The range [${offset}, ${offset + length}) is out of range. The mapping is ${this.size} bytes`);
    }
    if (length === 0) return Buffer.alloc(0);
    const index = Math.floor(offset / this.windowSize);
    const start = offset - index * this.windowSize;
    if (start + length > this.windowSize) {
      throw new DaxError('ERANGE', `a view cannot cross the ${this.windowSize}-byte window edge at ${(index + 1) * this.windowSize}; ` +
        'split it (a Node Buffer holds at most 4 GiB)', { errno: -34 });
    }
    const window = this.#windows[index] ?? (this.#windows[index] = this.#window(index));
    return Buffer.from(window, start, length);
  }

  copy(offset: number, source: ArrayBufferView, options?: StoreOptions): void {
    if (typeof offset !== 'number') checkSize(offset, 'offset');
    H[0] = this.#token;
    H[1] = offset;
    if (options === undefined) return copyPersist(source);
    const mode = storeMode(options);
    if (mode === 1) copyPersist(source);
    else if (mode === 2) copyNoDrain(source);
    else copyPlain(source);
  }

  copier(source: ArrayBufferView, options?: StoreOptions): (offset: number) => void {
    checkBytes(source, 'source');
    const copyFrom = COPY_FROM[storeMode(options)];
    if (this.closed) throw new DaxError('EBADF', 'the mapping is closed', { errno: -9 });
    // The view's place in its buffer, read once (the buffer getter alone costs more than a
    // call); shared memory goes as the view, which native code unpacks per call.
    const shared = !(source.buffer instanceof ArrayBuffer);
    const buffer = shared ? source : source.buffer;
    const from = source.byteOffset;
    const length = source.byteLength;
    return (offset: number): void => {
      if (typeof offset !== 'number') checkSize(offset, 'offset');
      H[0] = this.#token;   // through `this`: a copier held alone keeps the mapping alive
      H[1] = offset;
      H[2] = from;
      H[3] = length;
      copyFrom(buffer);
    };
  }

  fill(offset: number, value: number, length: number, options?: StoreOptions): void {
    this.#fill(offset, value, length, storeMode(options));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }

  /** Internal (see asyncCopier): the native copy off the main thread. */
  copyAsync(write: boolean, buffer: ArrayBufferView, segments: Float64Array): Promise<void> {
    return native.copyAsync(this.#handle, write, buffer, segments);
  }
}

/**
 * Internal, not public API: copies a list of (mappingOffset, bufferOffset, length) triples
 * between `mapping` and `buffer` on a libuv thread. Writes are as durable when the promise
 * resolves as copy() with drain. Undefined for a mapping that is not ours directly (a
 * wrapper such as the tests' crash simulator must see every store, so it gets the sync path).
 */
export type AsyncCopy = (write: boolean, buffer: ArrayBufferView, segments: Float64Array) => Promise<void>;

export function asyncCopier(mapping: PmemMapping): AsyncCopy | undefined {
  if (!(mapping instanceof NativePmemMapping)) return undefined;
  return (write, buffer, segments) => mapping.copyAsync(write, buffer, segments);
}

/** Maps a device-DAX node, a file on a DAX filesystem (MAP_SYNC), or a plain file. */
export function mapFile(path: string, options?: MapFileOptions): PmemMapping {
  checkString(path, 'path');
  const given = checkOptions<MapFileOptions>(options, 'options');
  // Read every option once, so getters run once and native code sees plain values.
  const o: MapFileOptions = {
    size: given.size, offset: given.offset, create: given.create, exclusive: given.exclusive,
    mode: given.mode, sparse: given.sparse, private: given.private, sync: given.sync,
  };
  if (o.size !== undefined) checkSize(o.size, 'options.size');
  if (o.offset !== undefined) checkSize(o.offset, 'options.offset');
  if (o.mode !== undefined) checkSize(o.mode, 'options.mode');
  for (const key of ['create', 'exclusive', 'sparse', 'private'] as const) checkBoolean(o[key], `options.${key}`);
  checkOneOf(o.sync, 'options.sync', ['auto', 'required'] as const);
  const mapping = new NativePmemMapping(native.mapFile(path, o));
  backingPaths.set(mapping, nodePath.resolve(path));
  return mapping;
}

// The file each mapFile mapping came from, absolute: a device over it is claimed by path
// (lib/fs/claim). A WeakMap, so the public PmemMapping interface does not grow.
const backingPaths = new WeakMap<PmemMapping, string>();

/** The file or device node behind a mapping made by mapFile (undefined for anonymous memory). */
export function mappingPath(mapping: PmemMapping): string | undefined {
  return backingPaths.get(mapping);
}

/** Volatile memory with the same interface (granularity 'none': nothing survives). */
export function mapAnonymous(size: number): PmemMapping {
  checkSize(size, 'size');
  return new NativePmemMapping(native.mapAnonymous(size));
}
