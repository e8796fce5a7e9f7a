// A PmemMapping that records its persistence points, delegating to a real mapping.
import { PmemMapping, StoreOptions } from '../../lib/pmem';

export function countingMapping(inner: PmemMapping, events: string[]): PmemMapping {
  return {
    get size() { return inner.size; },
    get kind() { return inner.kind; },
    get isPmem() { return inner.isPmem; },
    get granularity() { return inner.granularity; },
    get closed() { return inner.closed; },
    get windowSize() { return inner.windowSize; },
    view: (o: number, l: number) => inner.view(o, l),
    persist: (o: number, l: number) => { events.push('persist'); inner.persist(o, l); },
    flush: (o: number, l: number) => { events.push('flush'); inner.flush(o, l); },
    drain: () => { events.push('drain'); inner.drain(); },
    copy: (o: number, s: ArrayBufferView, opt?: StoreOptions) => {
      events.push(opt?.drain === false ? 'copy nodrain' : 'copy');
      inner.copy(o, s, opt);
    },
    fill: (o: number, v: number, l: number, opt?: StoreOptions) => {
      events.push(opt?.drain === false ? 'fill nodrain' : 'fill');
      inner.fill(o, v, l, opt);
    },
    close: () => inner.close(),
  };
}
