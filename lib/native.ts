// Loads the addon: a local build/ first (a fresh or sanitizer build wins), then the
// prebuild for this platform, as node-gyp-build does. PREBUILDS_ONLY=1 forces the prebuild;
// DAXFS_ADDON=/path/to/daxfs.node loads exactly that file and nothing else (the sanitizer
// build of `npm run build:asan`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nativeErrorFactory } from './errors';

/** What native code returns for one mapping (lib/pmem wraps it). */
export interface NativeMapping {
  readonly size: number;
  readonly kind: 'devdax' | 'fsdax' | 'file' | 'anonymous';
  readonly isPmem: boolean;
  readonly granularity: 'byte' | 'cache-line' | 'page' | 'none';
  readonly windowSize: number;
  readonly align: number;
  /** Window 0 is made at once; the others by window(i) on first use (holes until then). */
  readonly windows: ArrayBuffer[];
  window(index: number): ArrayBuffer;
  /** Names this mapping in the hot calls' shared args (NativeHot). */
  readonly token: number;
  persist(offset: number, length: number): void;
  flush(offset: number, length: number): void;
  drain(): void;
  /** mode: StoreMode (0 plain stores, 1 durable on return, 2 flushed, waiting for drain()). */
  copy(offset: number, source: ArrayBufferView, mode: number): void;
  fill(offset: number, value: number, length: number, mode: number): void;
  close(): void;
  /**
   * A page view: its own external ArrayBuffer over [offset, offset+length) (page aligned),
   * tracked natively and detached on close(); readOnly views are PROT_READ memory;
   * unpinnable ones fail get_user_pages (lib/mm/gup asks viewUnpinnable).
   */
  pageView(offset: number, length: number, readOnly: boolean, unpinnable?: boolean): ArrayBuffer;
}

/**
 * The environment's hot calls (native/binding/hot.h): one function per operation for every
 * mapping, so a call site always sees the same target. Each reads the shared `args`
 * [token, offset, length, sourceOffset]; native code checks all of them (a stale or forged
 * token is EBADF, values as copy() and persist() check theirs).
 */
export interface NativeHot {
  readonly args: ArrayBuffer;
  persist(): void;   // [token, offset, length]
  flush(): void;     // [token, offset, length]
  drain(): void;     // [token]
  /** copy() of `source` to [token, offset]; mode by name. */
  copyPersist(source: ArrayBufferView): void;
  copyNoDrain(source: ArrayBufferView): void;
  copyPlain(source: ArrayBufferView): void;
  /** copier()'s call: [token, offset, sourceOffset, length] within `buffer` (shared memory: the view itself). */
  copyFromPersist(buffer: ArrayBuffer | ArrayBufferView): void;
  copyFromNoDrain(buffer: ArrayBuffer | ArrayBufferView): void;
  copyFromPlain(buffer: ArrayBuffer | ArrayBufferView): void;
}

export interface NativePlatform {
  flush: 'clwb' | 'clflushopt' | 'clflush' | 'dc cvap' | 'dc cvac' | 'none';
  fence: 'sfence' | 'dsb' | 'none';
  copy: 'avx512' | 'avx2' | 'sse2' | 'plain';
  nontemporal: boolean;
  cacheLine: number;
  pageSize: number;
  autoFlush: boolean;
  forcePmem: boolean;
}

export interface NativeAddon {
  platform(): NativePlatform;
  setErrorFactory(factory: typeof nativeErrorFactory): void;
  setSysfsRootForTests(root: string): void;
  mapFile(path: string, options: object): NativeMapping;
  mapAnonymous(size: number): NativeMapping;
  /** Detaches a page view (or zero-page view); false when `buffer` is not one. */
  revokeView(buffer: ArrayBuffer): boolean;
  /** A fresh ArrayBuffer over the process's one read-only zero page. */
  zeroPageView(unpinnable?: boolean): ArrayBuffer;
  /** Whether `buffer` is a page view made with unpinnable true (false for anything else). */
  viewUnpinnable(buffer: unknown): boolean;
  /**
   * Copies on a libuv thread: write (buffer -> mapping, flushed and fenced once) or read.
   * segments: (mappingOffset, bufferOffset, length) triples, all checked before queuing.
   * Rejects with EBADF when the mapping is closed before the copy completes.
   */
  copyAsync(mapping: NativeMapping, write: boolean, buffer: ArrayBufferView, segments: Float64Array): Promise<void>;
  /** One flock per device identity per process, counted: EBUSY when another process holds it. */
  claimDevice(path: string): number;
  releaseDevice(id: number): void;
  deviceClaims(id: number): number;
  /** Process-wide reader/writer locks (shared by every worker), named by (domain, key). */
  rwLock(domain: number, key: number, exclusive: boolean): void;
  rwTryLock(domain: number, key: number, exclusive: boolean): boolean;
  rwUnlock(domain: number, key: number, exclusive: boolean): void;
  counterAdd(domain: number, key: number, delta: number): number;
  /** 8 bytes over a counter (int64, little endian), alive for the process: read it with a load. */
  counterCell(domain: number, key: number): ArrayBuffer;
  readonly hot: NativeHot;
}

const ROOT = path.join(__dirname, '..');

/** The prebuilt binaries for this platform, best first. */
function findPrebuilds(): string[] {
  const dir = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.node'));
  } catch {
    return [];
  }
  // glibc (or untagged) builds first; a musl build is tried only when no other one loads.
  // (Asking process.report which libc runs costs ~100 ms per load: trying is cheaper.)
  const rank = (n: string) => (n.includes('musl') ? 1 : 0);
  return names.sort((a, b) => rank(a) - rank(b)).map((n) => path.join(dir, n));
}

function candidates(): string[] {
  const chosen = process.env.DAXFS_ADDON;
  if (chosen) return [path.resolve(chosen)];
  const prebuilds = findPrebuilds();
  const local = [path.join(ROOT, 'build', 'Release', 'daxfs.node'), path.join(ROOT, 'build', 'Debug', 'daxfs.node')];
  if (process.env.PREBUILDS_ONLY && process.env.PREBUILDS_ONLY !== '0') return prebuilds;
  return [...local.filter((f) => fs.existsSync(f)), ...prebuilds];
}

function load(): NativeAddon {
  const tried = candidates();
  const errors: string[] = [];
  for (const file of tried) {
    try {
      const addon = require(file) as NativeAddon;
      addon.setErrorFactory(nativeErrorFactory);
      return addon;
    } catch (err) {
      errors.push(`${file}: ${(err as Error).message}`);
    }
  }
  const where = `${process.platform}-${process.arch}`;
  throw new Error(
    `daxfs: no native binary for ${where} could be loaded` +
      (errors.length ? `:\n  ${errors.join('\n  ')}` : ` (looked in build/Release and prebuilds/${where})`) +
      `\nTo build from source: install python3, make and g++, then run \`npm rebuild daxfs\` ` +
      `(or \`npx node-gyp rebuild\` in ${ROOT}).`,
  );
}

export const native: NativeAddon = load();
