// The checker itself: it accepts the states before and after a step (and, for data, each
// byte old or new) and rejects anything else, including a real operation that is not atomic.
import { judge, newTally, runWorkload, treeDiff } from './check';
import { initialTree, Node, Op, pattern, Tree, workload } from './workloads';

const file = (data: Buffer): Node => ({ type: 'file', data });

describe('judge', () => {
  const before: Tree = new Map<string, Node>([['/f', file(Buffer.from([1, 2, 3, 4]))], ['/d', { type: 'dir' }]]);
  const after: Tree = new Map<string, Node>([['/f', file(Buffer.from([1, 9, 9, 4, 7, 7]))], ['/d', { type: 'dir' }]]);
  const data = { path: '/f', offset: 1, length: 5 };

  test('accepts the state before and the state after, and nothing else without a data range', () => {
    expect(judge(before, { before, after })).toBeNull();
    expect(judge(after, { before, after })).toBeNull();
    const mixed: Tree = new Map<string, Node>([['/f', file(Buffer.from([1, 9, 3, 4]))], ['/d', { type: 'dir' }]]);
    expect(judge(mixed, { before, after })).toMatch(/neither before nor after the step: \/f has 4 bytes/);
  });

  test('with a data range: the old or new size, each byte old or new; other bytes, sizes and paths are failures', () => {
    const t = (bytes: number[], extra?: [string, { type: 'dir' }]) => {
      const m: Tree = new Map<string, Node>([['/f', file(Buffer.from(bytes))], ['/d', { type: 'dir' }]]);
      if (extra) m.set(...extra);
      return judge(m, { before, after, data });
    };
    expect(t([1, 9, 3, 4])).toBeNull();
    expect(t([1, 2, 9, 4, 0, 7])).toBeNull();            // new size; a byte past the old end reads 0 (old) or new
    expect(t([1, 5, 3, 4])).toMatch(/byte 1 is 5: neither old nor new/);
    expect(t([1, 9, 9, 4, 7])).toMatch(/5 bytes: neither the old 4 nor the new 6/);
    expect(t([1, 9, 3, 4], ['/z', { type: 'dir' }])).toMatch(/\/z should not exist/);
  });

  test('loose (a mount without dax, data not yet written back): earlier contents are accepted byte by byte, nothing else', () => {
    const mixed: Tree = new Map<string, Node>([['/f', file(Buffer.from([1, 9, 9, 4, 0, 7]))], ['/d', { type: 'dir' }]]);
    expect(judge(mixed, { before: after, after })).toMatch(/neither before nor after/);
    expect(judge(mixed, { before: after, after, loose: new Map([['/f', [Buffer.from([1, 2, 3, 4])]]]) })).toBeNull();
    const other: Tree = new Map<string, Node>([['/f', file(Buffer.from([1, 9, 9, 4, 3, 7]))], ['/d', { type: 'dir' }]]);
    expect(judge(other, { before: after, after, loose: new Map([['/f', [Buffer.from([1, 2, 3, 4])]]]) })).toMatch(/byte 4 is 3: neither old nor new/);
  });

  test('treeDiff names the first difference', () => {
    expect(treeDiff(before, before)).toBeNull();
    expect(treeDiff(new Map<string, Node>([['/d', { type: 'dir' }]]), before)).toBe('/f is missing');
    expect(treeDiff(new Map<string, Node>([['/f', { type: 'dir' }], ['/d', { type: 'dir' }]]), before)).toBe('/f is a dir, expected a file');
  });
});

describe('runWorkload', () => {
  test('a step whose oracle is wrong fails at its end (the completed state is checked exactly)', () => {
    const lying: Op = {
      name: 'mkdir(/m) said to be mkdir(/q)',
      syncPath: '/m',
      apply: (f) => f.mkdir('/m'),
      after: (t) => { const out = new Map(t); out.set('/q', { type: 'dir' }); return out; },
    };
    const tally = newTally();
    runWorkload(workload([[lying, 'none']]), { randomImages: 0, fenceStride: 1 }, tally);
    expect(tally.failures.some((f) => /completed: .*\/q is missing/.test(f))).toBe(true);
  });

  test('an operation that is two transactions (create, then write) is caught half done at a fence', () => {
    const data = pattern(5, 6000);
    const notAtomic: Op = {
      name: 'writeFile(/w)',
      syncPath: '/w',
      apply: (f) => f.writeFile('/w', data),
      after: (t) => { const out = new Map(t); out.set('/w', file(data)); return out; },
    };
    const tally = newTally();
    runWorkload(workload([[notAtomic, 'none']]), { randomImages: 0, fenceStride: 1 }, tally);
    expect(tally.images).toBeGreaterThan(2);
    expect(tally.failures.some((f) => /fence \d+, drop-unflushed: neither before nor after the step: \/w has 0 bytes, expected 6000/.test(f))).toBe(true);
    // It is the in-flight state that fails, never the end: the completed file is all there.
    expect(tally.failures.some((f) => /completed/.test(f))).toBe(false);
    expect(initialTree().has('/w')).toBe(false);
  });
});
