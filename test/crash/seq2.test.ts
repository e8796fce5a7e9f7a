// seq-2: pairs of operations on shared files (the second acts on what the first touched),
// both followed by nothing, an fsync or a sync. The default run checks a spread-out sample of
// the pairs; DAXFS_CRASH=long checks all of them at every fence.
import { FULL, LONG, newTally, runWorkload, Sample, spread, report } from './check';
import { seq2Workloads } from './workloads';

const sample: Sample = LONG ? FULL : { randomImages: 1, fenceStride: 3 };
const all = seq2Workloads();
const chosen = LONG ? all : spread(all, 16);

test(`seq-2: ${chosen.length} of ${all.length} pairs: every image keeps the first operation and shows the second done or not`, () => {
  expect(all.length).toBeGreaterThan(100);
  const tally = newTally();
  for (const w of chosen) runWorkload(w, sample, tally);
  report(tally, 'seq-2');
  expect(tally.failures).toEqual([]);
  expect(tally.workloads).toBe(chosen.length);
}, LONG ? 6 * 3600_000 : 300_000);
