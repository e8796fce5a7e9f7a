// One batch of the native API fuzzer (lib/testing/fuzz-native.ts runs batches in child
// processes): calls every function the loaded addon exports, and every method of the
// mapping handles it returns, with seeded random arguments - wrong types, edge numbers,
// odd and detached buffers, ranges at and past the bounds, closed handles - in random
// orders. A crash ends the child; everything else is counted here.
//
// Deliberately never done (docs/TESTING.md, "Fuzzing the native API"):
// - a store from JavaScript into a read-only page view or the zero page: PROT_READ memory
//   raises SIGSEGV by design. The fuzzer only stores into buffers it made itself and into a
//   mapping's `args`; native functions may still be handed read-only views as arguments;
// - paths outside the batch's directory (the child runs with it as cwd; every string the
//   generator makes is a relative name without '/', or a path inside that directory);
// - mappings or files larger than SIZE_CAP (valid sizes past it are cut down; fills and
//   copies stay inside a mapping, so they are bounded by it);
// - rwLock on a lock this thread already holds (it would wait for itself forever).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NativeAddon, NativeMapping } from '../native';
import { nativeErrorFactory } from '../errors';
import { seededRandom } from './prng';

/** Largest mapping, file or fill the fuzzer lets through with a valid size. */
export const SIZE_CAP = 4 << 20;
/** Sizes from here on are refused by the kernel anyway (past the 47-bit address space). */
const HUGE = 2 ** 47;

export interface BatchOptions {
  seed: number;
  calls: number;
  /** Scratch directory: every path the batch passes points inside it. */
  dir: string;
  /** Print each call to stderr before making it (to find the call that crashes). */
  trace?: boolean;
  /** Self-test of crash detection: at this call, store into the zero page (SIGSEGV). */
  crashAt?: number;
}

export interface BatchResult {
  calls: number;
  /** Threw (or rejected with) an Error carrying a string `code`. */
  coded: number;
  /** Threw a TypeError without a code (the engine's own, e.g. a Proxy trap). */
  typeErrors: number;
  returned: number;
  /** Thrown values with no `code` (TypeErrors included): API.md says every daxfs error carries one. */
  uncoded: string[];
  /** Every function name called at least once: addon exports and `mapping.<name>`. */
  called: string[];
}

/** Thrown by the fuzzer's own traps (getters, proxies): it carries a code, so it counts as fine. */
class TrapError extends Error {
  readonly code = 'FUZZ_TRAP';
}

interface ViewEntry {
  buffer: ArrayBuffer;
  /** PROT_READ memory: nothing here ever stores into it. */
  readOnly: boolean;
}

export function runBatch(addon: NativeAddon, options: BatchOptions): Promise<BatchResult> {
  return new Batch(addon, options).run();
}

class Batch {
  private readonly rand: () => number;
  private readonly mappings: NativeMapping[] = [];
  private readonly views: ViewEntry[] = [];
  private readonly claims: number[] = [];
  /** Locks this thread holds, by "domain:key": shared count and exclusive flag. */
  private readonly held = new Map<string, { shared: number; exclusive: boolean }>();
  private readonly pending: Promise<unknown>[] = [];
  private readonly called = new Set<string>();
  private readonly result: BatchResult = { calls: 0, coded: 0, typeErrors: 0, returned: 0, uncoded: [], called: [] };
  private readonly files: string[];

  constructor(private readonly addon: NativeAddon, private readonly o: BatchOptions) {
    this.rand = seededRandom(o.seed);
    this.files = ['f0', 'f1', 'f2', 'f3'].map((n) => path.join(o.dir, n));
    fs.writeFileSync(this.files[3], Buffer.alloc(3 * 4096 + 17, 7));   // an odd-sized existing file
    fs.mkdirSync(path.join(o.dir, 'sub'), { recursive: true });
  }

  // --- randomness ------------------------------------------------------------------------

  private int(n: number): number {
    return this.rand() % n;
  }
  private chance(p: number): boolean {
    return this.rand() / 0x1_0000_0000 < p;
  }
  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  // --- values ----------------------------------------------------------------------------

  private edgeNumber(): number {
    return this.pick([0, -0, 1, -1, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 32 - 1, 2 ** 53,
      2 ** 53 - 1, 2 ** 53 + 2, 2 ** 64, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 4095,
      4096, 4097, 8192, 65536, 2 ** 31 - 1, 2 ** 47, 2 ** 30 * 3, 255, 256, -255]);
  }

  /** An offset or length near the bounds of `size` (often just inside, at, or past the end). */
  private nearBound(size: number): number {
    switch (this.int(8)) {
      case 0: return 0;
      case 1: return size;
      case 2: return size - 1;
      case 3: return size + 1;
      case 4: return this.int(size + 1);
      case 5: return 4096 * this.int(Math.floor(size / 4096) + 2);
      case 6: return this.int(64);
      default: return this.edgeNumber();
    }
  }

  private safeName(): string {
    // Relative names only: the child's cwd is the batch directory, so they land there.
    return this.pick(['', 'x', '.', '..', 'sub', 'a\0b', 'f0', 'no-such-file', 'x'.repeat(300), 'é☃', ' ', 'f3']);
  }

  private pathArg(): string {
    switch (this.int(6)) {
      case 0: return this.safeName();
      case 1: return path.join(this.o.dir, 'sub');
      case 2: return path.join(this.o.dir, 'missing', 'f');
      default: return this.pick(this.files);
    }
  }

  private trapObject(): object {
    const trap = () => { throw new TrapError('trap'); };
    return this.pick([
      new Proxy({}, { get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap }),
      { valueOf: trap, toString: trap, [Symbol.toPrimitive]: trap },
      Object.defineProperty({}, 'size', { get: trap, enumerable: true }),
    ]);
  }

  /** A fresh byte source of an odd shape: Buffers, typed arrays, DataViews, detached and shared memory. */
  private bytes(): unknown {
    const n = this.pick([0, 1, 3, 7, 63, 64, 65, 4095, 4096, 4097, 8191, 65537]);
    switch (this.int(14)) {
      case 0: return Buffer.alloc(n, this.int(256));
      case 1: return new Uint8Array(n);
      case 2: return new Uint16Array(n >> 1);
      case 3: return new Float64Array(n >> 3);
      case 4: return new BigInt64Array(n >> 3);
      case 5: {
        const ab = new ArrayBuffer(n + 8);
        return new DataView(ab, this.int(8), this.int(n + 1));
      }
      case 6: return new ArrayBuffer(n);   // not a view: refused
      case 7: {
        const u = new Uint8Array(n + 16);
        const dv = new DataView(u.buffer, 3);
        structuredClone(u.buffer, { transfer: [u.buffer] });   // detaches u and dv
        return this.chance(0.5) ? u : dv;
      }
      case 8: return new Uint8Array(new SharedArrayBuffer(n + 1));
      case 9: {
        const rab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(n, { maxByteLength: n + 4096 });
        const view = new Uint8Array(rab);   // length-tracking
        (rab as unknown as { resize(n: number): void }).resize(this.int(n + 4096));
        return view;
      }
      case 10: return Buffer.alloc(n + 64).subarray(this.int(64));
      case 11: {
        const v = this.views.length ? this.pick(this.views) : null;
        if (!v) return new Uint8Array(n);
        try {
          return this.chance(0.5) ? new Uint8Array(v.buffer) : new DataView(v.buffer);
        } catch {
          return v.buffer;   // revoked (detached): no view can be made over it any more
        }
      }
      case 12: {
        const m = this.mappings.length ? this.pick(this.mappings) : null;
        const w = m ? m.windows[0] : undefined;
        if (!w) return new Uint8Array(n);
        try {
          return new Uint8Array(w, 0, Math.min(w.byteLength, this.int(8192)));
        } catch {
          return w;   // the mapping is closed: its windows are detached
        }
      }
      default: return new Int32Array(n >> 2);
    }
  }

  private options(): unknown {
    if (this.chance(0.1)) return this.any();
    const o: Record<string, unknown> = {};
    const maybe = (name: string, make: () => unknown) => { if (this.chance(0.45)) o[name] = make(); };
    maybe('create', () => (this.chance(0.85) ? true : this.any()));
    maybe('size', () => (this.chance(0.7) ? this.nearBound(65536) : this.any()));
    maybe('offset', () => (this.chance(0.6) ? this.pick([0, 4096, 8192, 1, 4095]) : this.any()));
    maybe('mode', () => (this.chance(0.6) ? this.pick([0o600, 0o644, 0o7777, 0o10000, 0]) : this.any()));
    maybe('exclusive', () => (this.chance(0.8) ? this.chance(0.5) : this.any()));
    maybe('sparse', () => (this.chance(0.8) ? this.chance(0.5) : this.any()));
    maybe('private', () => (this.chance(0.8) ? this.chance(0.3) : this.any()));
    maybe('sync', () => this.pick(['auto', 'required', 'AUTO', '', 'auto\0', 'x'.repeat(40), 1, this.any()]));
    if (this.chance(0.05)) return this.trapObject();
    return o;
  }

  /** Any value at all. */
  private any(): unknown {
    switch (this.int(16)) {
      case 0: return undefined;
      case 1: return null;
      case 2: return this.chance(0.5);
      case 3: case 4: return this.edgeNumber();
      case 5: return this.safeName();
      case 6: return this.pick([0n, 1n, -1n, 2n ** 64n, 2n ** 53n]);
      case 7: return Symbol('fuzz');
      case 8: return this.pick([{}, [], [1, 2, 3], Object.create(null), new Date(0), /x/]);
      case 9: return () => 1;
      case 10: return this.trapObject();
      case 11: case 12: return this.bytes();
      case 13: return this.mappings.length ? this.pick(this.mappings) : {};
      case 14: return this.views.length ? this.pick(this.views).buffer : new ArrayBuffer(8);
      default: return this.int(1 << 20);
    }
  }

  /** A value of the given kind most of the time, anything at all otherwise. */
  private arg(kind: string, size = 65536): unknown {
    if (this.chance(0.15)) return this.any();
    switch (kind) {
      case 'size': return this.chance(0.7) ? this.pick([1, 4096, 8192, 65536, 3 * 4096 + 5, 2 << 20]) : this.edgeNumber();
      case 'offset': case 'length': return this.nearBound(size);
      case 'page': return this.chance(0.7) ? 4096 * this.int(Math.floor(size / 4096) + 2) : this.nearBound(size);
      case 'mode': return this.chance(0.8) ? this.int(3) : this.pick([3, -1, 0.5, NaN, 2 ** 31]);
      case 'byte': return this.chance(0.8) ? this.int(256) : this.pick([256, -1, 0.5, NaN, 1000]);
      case 'bool': return this.chance(0.9) ? this.chance(0.5) : this.pick([0, 1, 'true', null]);
      case 'bytes': return this.bytes();
      case 'path': return this.pathArg();
      case 'options': return this.options();
      case 'key': return this.chance(0.85) ? this.int(4) : this.edgeNumber();
      case 'delta': return this.chance(0.7) ? this.int(7) - 3 : this.edgeNumber();
      case 'id': return this.claims.length && this.chance(0.7) ? this.pick(this.claims) : this.edgeNumber();
      case 'index': return this.chance(0.7) ? this.int(3) : this.edgeNumber();
      case 'handle': return this.mappings.length && this.chance(0.85) ? this.pick(this.mappings) : this.any();
      case 'arraybuffer': return this.views.length && this.chance(0.7) ? this.pick(this.views).buffer : this.any();
      case 'segments': return this.segments(size);
      default: return this.any();
    }
  }

  private segments(size: number): unknown {
    if (this.chance(0.1)) return this.pick([new Float32Array(3), [0, 0, 1], new Float64Array(4)]);
    const n = this.int(4);
    const s = new Float64Array(3 * n);
    for (let i = 0; i < s.length; i++) s[i] = this.chance(0.8) ? this.nearBound(i % 3 === 1 ? 4096 : size) : this.edgeNumber();
    return s;
  }

  // --- the calls ---------------------------------------------------------------------------

  /** Argument kinds of the functions we know; an export not listed here gets random arguments. */
  private static readonly ADDON_ARGS: Record<string, string[]> = {
    platform: [],
    setErrorFactory: ['any'],
    setSysfsRootForTests: ['path'],
    mapFile: ['path', 'options'],
    mapAnonymous: ['size'],
    revokeView: ['arraybuffer'],
    zeroPageView: ['bool'],
    viewUnpinnable: ['arraybuffer'],
    copyAsync: ['handle', 'bool', 'bytes', 'segments'],
    claimDevice: ['path'],
    releaseDevice: ['id'],
    deviceClaims: ['id'],
    rwLock: ['key', 'key', 'bool'],
    rwTryLock: ['key', 'key', 'bool'],
    rwUnlock: ['key', 'key', 'bool'],
    counterAdd: ['key', 'key', 'delta'],
  };
  private static readonly MAPPING_ARGS: Record<string, string[]> = {
    window: ['index'],
    persist: ['offset', 'length'],
    flush: ['offset', 'length'],
    drain: [],
    copy: ['offset', 'bytes', 'mode'],
    fill: ['offset', 'byte', 'length', 'mode'],
    close: [],
    pageView: ['page', 'page', 'bool', 'bool'],
  };

  private argsFor(kinds: string[] | undefined, size: number): unknown[] {
    if (!kinds || this.chance(0.05)) return Array.from({ length: this.int(5) }, () => this.any());
    const args = kinds.map((k) => this.arg(k, size));
    if (this.chance(0.08)) args.length = this.int(args.length + 1);   // too few
    if (this.chance(0.04)) args.push(this.any());                     // one too many
    return args;
  }

  private exportNames(): string[] {
    return Object.keys(this.addon).filter((k) => typeof (this.addon as unknown as Record<string, unknown>)[k] === 'function');
  }

  private methodNames(m: NativeMapping): string[] {
    return Object.keys(m).filter((k) => typeof (m as unknown as Record<string, unknown>)[k] === 'function');
  }

  async run(): Promise<BatchResult> {
    const names = this.exportNames();
    // Start with something to work on, and make sure every export is called at least once.
    for (const name of names) this.callExport(name);
    for (let i = 0; this.result.calls < this.o.calls; i++) {
      if (this.o.crashAt === i) new Uint8Array(this.addon.zeroPageView())[0] = 1;   // SIGSEGV by design
      this.step(names);
      if (this.pending.length > 16) await this.settle();
    }
    await this.settle();
    // Release what is held, in a random order, so exit finds some things closed and some not.
    for (const m of this.mappings) if (this.chance(0.5)) this.invoke('mapping.close', m.close, []);
    this.result.called = [...this.called].sort();
    return this.result;
  }

  private step(names: string[]): void {
    const r = this.int(100);
    if (r < 3 && typeof global.gc === 'function') {
      // Drop some handles and views, then collect: finalizers run on what nobody reaches.
      for (let k = this.int(3); k > 0 && this.mappings.length; k--) this.mappings.splice(this.int(this.mappings.length), 1);
      for (let k = this.int(4); k > 0 && this.views.length; k--) this.views.splice(this.int(this.views.length), 1);
      global.gc();
      return;
    }
    if (r < 8 && this.mappings.length) {
      // The hot calls read [token, offset, length, sourceOffset] from the shared args: a
      // live mapping's token most of the time, else a stale or made-up one.
      const m = this.pick(this.mappings);
      const args = new Float64Array(this.addon.hot.args);
      args[0] = this.chance(0.85) ? m.token : this.chance(0.5) ? m.token + 2 ** 24 : this.edgeNumber();
      for (let k = 1; k < 4; k++) args[k] = this.chance(0.8) ? this.nearBound(m.size) : this.edgeNumber();
      const name = this.pick(['persist', 'flush', 'drain', 'copyPersist', 'copyNoDrain', 'copyPlain', 'copyFromPersist', 'copyFromNoDrain', 'copyFromPlain']);
      const fn = (this.addon.hot as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
      let source: unknown = this.bytes();
      if (name.startsWith('copyFrom') && ArrayBuffer.isView(source) && this.chance(0.7)) {
        const view = source;
        source = view.buffer;
        if (this.chance(0.1)) this.loseBuffer(view);
      }
      this.invoke(`hot.${name}`, fn, name.startsWith('copy') ? [source] : []);
      return;
    }
    if (r < 55 && this.mappings.length) {
      const m = this.pick(this.mappings);
      this.callMethod(m, this.pick(this.methodNames(m)));
      return;
    }
    this.callExport(this.pick(names));
  }

  private callMethod(m: NativeMapping, name: string): void {
    const fn = (m as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    const size = this.chance(0.9) ? m.size : 65536;
    const args = this.argsFor(Batch.MAPPING_ARGS[name], size);
    const out = this.invoke(`mapping.${name}`, fn, args);
    if (name === 'pageView' && out instanceof ArrayBuffer) this.keepView({ buffer: out, readOnly: args[2] === true });
    if (name === 'window' && out instanceof ArrayBuffer) this.keepView({ buffer: out, readOnly: false });
  }

  /** Takes a source's memory away: detaches its buffer, or shrinks a resizable one. */
  private loseBuffer(source: unknown): void {
    if (!ArrayBuffer.isView(source)) return;
    const buffer = source.buffer as ArrayBuffer & { resizable?: boolean; resize?(n: number): void };
    try {
      if (buffer.resizable && buffer.resize) buffer.resize(this.int(buffer.byteLength + 1));
      else structuredClone(buffer, { transfer: [buffer] });
    } catch { /* shared, external or already detached memory stays as it is */ }
  }

  private callExport(name: string): void {
    const fn = (this.addon as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    const target = this.mappings.length ? this.pick(this.mappings) : undefined;
    const args = this.argsFor(Batch.ADDON_ARGS[name], target && this.chance(0.9) ? target.size : 65536);
    if (name === 'copyAsync' && target && this.chance(0.7)) args[0] = target;
    if (name === 'copyAsync' && this.views.length && this.chance(0.4)) {
      // A page view (maybe read-only, revoked, or of a mapping closed later) with a small
      // segment inside both ends: the cases random segments almost never reach.
      try {
        args[2] = new Uint8Array(this.pick(this.views).buffer);
      } catch { /* revoked: keep the random buffer */ }
      args[3] = Float64Array.of(64 * this.int(64), this.int(64), this.int(256));
    }
    if (name === 'mapAnonymous' || name === 'mapFile') capSizes(name, args);
    if (name === 'rwLock' && this.wouldWaitForItself(args)) {
      // The same arguments, without the wait.
      const got = this.invoke('rwTryLock', this.addon.rwTryLock as (...a: unknown[]) => unknown, args);
      this.track('rwTryLock', args, got);
      return;
    }
    const out = this.invoke(name, fn, args);
    this.track(name, args, out);
    if (name === 'setErrorFactory') this.addon.setErrorFactory(nativeErrorFactory);
    if (name === 'setSysfsRootForTests' && this.chance(0.5)) this.addon.setSysfsRootForTests('');
  }

  /** Valid lock arguments for a lock this thread holds: rwLock would block forever. */
  private wouldWaitForItself(args: unknown[]): boolean {
    const [d, k] = args;
    if (!isSize(d) || !isSize(k)) return false;   // refused before any wait
    return this.held.has(`${d}:${k}`);
  }

  private track(name: string, args: unknown[], out: unknown): void {
    if ((name === 'mapFile' || name === 'mapAnonymous') && out && typeof out === 'object') {
      this.mappings.push(out as NativeMapping);
      if (this.mappings.length > 12) {
        const old = this.mappings.shift()!;
        if (this.chance(0.7)) old.close();
      }
    } else if (name === 'zeroPageView' && out instanceof ArrayBuffer) {
      this.keepView({ buffer: out, readOnly: true });
    } else if (name === 'claimDevice' && typeof out === 'number') {
      this.claims.push(out);
    } else if (name === 'copyAsync' && out instanceof Promise) {
      this.pending.push(out.then(() => { this.result.returned++; }, (err) => this.classify('copyAsync (rejected)', err)));
    } else if (name === 'rwLock' || name === 'rwTryLock' || name === 'rwUnlock') {
      const [d, k, exclusive] = args;
      if (!isSize(d) || !isSize(k) || typeof exclusive !== 'boolean') return;
      const key = `${d}:${k}`;
      const h = this.held.get(key) ?? { shared: 0, exclusive: false };
      if (name === 'rwLock' || (name === 'rwTryLock' && out === true)) {
        if (exclusive) h.exclusive = true; else h.shared++;
      } else if (name === 'rwUnlock' && out !== THREW) {
        if (exclusive) h.exclusive = false; else h.shared--;
      }
      if (h.exclusive || h.shared > 0) this.held.set(key, h); else this.held.delete(key);
    }
  }

  private keepView(v: ViewEntry): void {
    this.views.push(v);
    if (this.views.length > 24) this.views.shift();
  }

  /** Calls fn with args (now and then as a constructor or with a strange `this`); counts how it ended. */
  private invoke(name: string, fn: (...a: unknown[]) => unknown, args: unknown[]): unknown {
    this.called.add(name);
    this.result.calls++;
    if (this.o.trace) process.stderr.write(`call ${this.result.calls}: ${name}(${args.map(show).join(', ')})\n`);
    try {
      const r = this.int(40);
      // Not rwTryLock: `new` would hide the boolean that says whether the lock is now held.
      const out = r === 0 && name !== 'rwTryLock' ? Reflect.construct(fn, args) : Reflect.apply(fn, r === 1 ? this.any() : undefined, args);
      this.result.returned++;
      return out;
    } catch (err) {
      this.classify(name, err);
      return THREW;
    }
  }

  private classify(name: string, err: unknown): void {
    if (err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string') {
      this.result.coded++;
    } else if (err instanceof TypeError) {
      // Allowed (the engine's own, e.g. from a proxy trap), but listed: every one seen so far
      // was a daxfs argument error that lost its code.
      this.result.typeErrors++;
      if (this.result.uncoded.length < 20) this.result.uncoded.push(`${name}: TypeError without a code: ${err.message}`);
    } else {
      const what = err instanceof Error ? `${err.name}: ${err.message}` : `a thrown ${typeof err}: ${String(err)}`;
      if (this.result.uncoded.length < 20) this.result.uncoded.push(`${name}: ${what}`);
    }
  }

  private async settle(): Promise<void> {
    const all = this.pending.splice(0);
    await Promise.all(all);
  }
}

const THREW = Symbol('threw');

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Valid sizes past SIZE_CAP are cut down. mapAnonymous keeps sizes past the address space
 * (refused by mmap); a file keeps none (ftruncate and fallocate would run before mmap fails).
 */
function capSizes(name: string, args: unknown[]): void {
  const limit = name === 'mapAnonymous' ? HUGE : Number.MAX_SAFE_INTEGER + 1;
  const cut = (v: unknown) => (isSize(v) && v > SIZE_CAP && v < limit ? (v % SIZE_CAP) + 1 : v);
  if (name === 'mapAnonymous') {
    args[0] = cut(args[0]);
  } else if (args[1] && typeof args[1] === 'object' && !isProxyLike(args[1])) {
    const o = args[1] as Record<string, unknown>;
    for (const key of ['size', 'offset']) {
      const desc = Object.getOwnPropertyDescriptor(o, key);
      if (desc && 'value' in desc && cut(desc.value) !== desc.value) o[key] = cut(desc.value);
    }
  }
}

/** Our trap objects throw on any look-up: leave them alone (they never reach a size). */
function isProxyLike(o: object): boolean {
  try {
    Object.getOwnPropertyDescriptor(o, 'size');
    return false;
  } catch {
    return true;
  }
}

/** A short description of an argument for --trace; never throws (traps, detached views). */
function show(v: unknown): string {
  try {
    return describe(v);
  } catch {
    return typeof v === 'object' ? 'object (throws on inspection)' : typeof v;
  }
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return 'Symbol()';
  if (typeof v === 'function') return 'function';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v instanceof ArrayBuffer) return `ArrayBuffer(${v.byteLength})`;
  if (ArrayBuffer.isView(v)) {
    try {
      return `${v.constructor.name}(${v.byteLength}${v.byteOffset ? ` @${v.byteOffset}` : ''})`;
    } catch {
      return `${v.constructor.name}(detached)`;
    }
  }
  if (v && typeof v === 'object') {
    if ('windows' in v) return `mapping(${(v as NativeMapping).size})`;
    try {
      return JSON.stringify(v);
    } catch {
      return 'object';
    }
  }
  return String(v);
}
