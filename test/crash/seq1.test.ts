// seq-1: every single operation, followed by nothing, an fsync or a sync; crash images at its
// fences (with DAXFS_CRASH=long: every follow-up of every operation, and 4 random images).
import { FULL, LONG, newTally, runWorkload, Sample, report } from './check';
import { seq1Ops, seq1Workloads, FOLLOW_UPS, workload } from './workloads';

// The default run takes every operation once, the follow-ups in turn (none, fsync, sync),
// and checks every fence with one random image each.
const sample: Sample = LONG ? FULL : { randomImages: 1, fenceStride: 1 };
const chosen = LONG ? seq1Workloads() : seq1Ops().map((op, i) => workload([[op, FOLLOW_UPS[i % FOLLOW_UPS.length]]]));

test(`seq-1: every operation, at every fence: fsck clean, mounts, completed steps kept, the one in flight done or not`, () => {
  const tally = newTally();
  const workloads = chosen;
  for (const w of workloads) runWorkload(w, sample, tally);
  report(tally, 'seq-1');
  expect(tally.failures).toEqual([]);
  expect(tally.workloads).toBe(workloads.length);
  expect(tally.images).toBeGreaterThan(workloads.length * 2);
}, 600_000);
