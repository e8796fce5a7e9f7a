// seq-1 on a mount without dax (file data through the page cache): metadata is durable when
// each operation returns, file data once an fsync of the file or a sync wrote it back.
// Before that a crash may leave a file's bytes old; after it, they must be exactly new.
import { FULL, LONG, newTally, report, runWorkload, Sample } from './check';
import { FOLLOW_UPS, Op, seq1Ops, seq1Workloads, workload } from './workloads';

const sample: Sample = LONG ? { ...FULL, dax: false } : { randomImages: 1, fenceStride: 2, dax: false };
// The default run: the operations that store file data, each with every follow-up.
const chosen = LONG ? seq1Workloads() : seq1Ops().filter((op) => op.data).filter((_, i) => i % 2 === 0)
  .flatMap((op) => FOLLOW_UPS.map((k) => workload([[op, k]])));

test('seq-1 without dax: completed operations kept, data exact once fsync or sync returned, the step in flight done or not', () => {
  const tally = newTally();
  for (const w of chosen) runWorkload(w, sample, tally);
  report(tally, 'seq-1 without dax');
  expect(tally.failures).toEqual([]);
  expect(tally.workloads).toBe(chosen.length);
}, LONG ? 3600_000 : 300_000);

test('without dax, data not yet written back follows a rename, and a sync after it makes it exact', () => {
  const op = (name: string): Op => seq1Ops().find((o) => o.name === name)!;
  const tally = newTally();
  for (const k of FOLLOW_UPS) {
    runWorkload(workload([[op('write(/a, 1000+3000)'), 'none'], [op('rename(/a, /d/c)'), k]]), sample, tally);
  }
  report(tally, 'write then rename without dax');
  expect(tally.failures).toEqual([]);
});
