// A PmemMapping that calls hooks at its persistence points and delegates to a real one:
// for tests that count fences or take an image of the memory at every store.
import { PmemMapping, StoreOptions } from '../../lib/pmem';
import { copierOf } from '../../lib/pmem/mapping';

export interface MappingHooks {
  /** After copy/fill (what: 'copy', 'copy nodrain', 'fill', 'fill nodrain'), flush and persist. */
  store?(what: string): void;
  /** After drain() and persist(), and after a copy/fill that fences (what: 'copy fence',
   *  'fill fence': the default options, which end with the fence drain() would give). */
  fence?(what: 'drain' | 'persist' | 'copy fence' | 'fill fence'): void;
}

const kind = (name: string, opt?: StoreOptions) => (opt?.drain === false ? `${name} nodrain` : name);
const fences = (opt?: StoreOptions) => opt?.persist !== false && opt?.drain !== false;

export function wrapMapping(inner: PmemMapping, hooks: MappingHooks): PmemMapping {
  const wrapped: PmemMapping = {
    get size() { return inner.size; },
    get kind() { return inner.kind; },
    get isPmem() { return inner.isPmem; },
    get granularity() { return inner.granularity; },
    get closed() { return inner.closed; },
    get windowSize() { return inner.windowSize; },
    view: (o: number, l: number) => inner.view(o, l),
    persist: (o: number, l: number) => { inner.persist(o, l); hooks.store?.('persist'); hooks.fence?.('persist'); },
    flush: (o: number, l: number) => { inner.flush(o, l); hooks.store?.('flush'); },
    drain: () => { inner.drain(); hooks.fence?.('drain'); },
    copy: (o: number, s: ArrayBufferView, opt?: StoreOptions) => {
      inner.copy(o, s, opt);
      hooks.store?.(kind('copy', opt));
      if (fences(opt)) hooks.fence?.('copy fence');
    },
    fill: (o: number, v: number, l: number, opt?: StoreOptions) => {
      inner.fill(o, v, l, opt);
      hooks.store?.(kind('fill', opt));
      if (fences(opt)) hooks.fence?.('fill fence');
    },
    copier: (s: ArrayBufferView, opt?: StoreOptions) => copierOf(wrapped.copy, s, opt),
    close: () => inner.close(),
  };
  return wrapped;
}

/** Records each persistence point's name in `events`. */
export function countingMapping(inner: PmemMapping, events: string[]): PmemMapping {
  return wrapMapping(inner, { store: (what) => events.push(what), fence: (what) => events.push(what) });
}

/** Copies the whole memory into `images` after every store call and every fence while `capturing`. */
export function snapshotting(inner: PmemMapping, images: Buffer[]): PmemMapping & { capturing: boolean } {
  const state = { capturing: false };
  const snap = () => { if (state.capturing) images.push(Buffer.from(inner.view(0, inner.size))); };
  // A copy's or fill's own fence changes no byte: the image after its store stands for it.
  const w = wrapMapping(inner, { store: snap, fence: (what) => { if (!what.endsWith(' fence')) snap(); } });
  return Object.defineProperty(w, 'capturing', {
    get: () => state.capturing,
    set: (v: boolean) => { state.capturing = v; },
  }) as PmemMapping & { capturing: boolean };
}
