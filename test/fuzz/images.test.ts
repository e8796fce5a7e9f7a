// The image fuzzer: damaged images (bit flips, fields at their limits, directory cycles,
// shared blocks, extents on metadata or past the device, huge sizes, odd link counts,
// journal garbage) must each either work or fail with an allowed coded error: never a
// crash, a hang, or an uncoded exception. Quick sample by default; the long form is
// `npm run test:fuzz:images` (DAXFS_FUZZ_IMAGES images from seed DAXFS_FUZZ_SEED).
import { makeTempDir, useTempDirs } from '../helpers/tmp';
import { buildBase, MUTATION_KINDS } from './mutate';
import { fuzzImages, summary } from './run-images';

useTempDirs();

const COUNT = Number(process.env.DAXFS_FUZZ_IMAGES ?? 24);
const FIRST = Number(process.env.DAXFS_FUZZ_SEED ?? 1);

test(`${COUNT} damaged images from seed ${FIRST}: each works or fails with a coded error`, async () => {
  const base = buildBase();
  const seeds = Array.from({ length: COUNT }, (_, i) => FIRST + i);
  const report = await fuzzImages(base, { seeds, workDir: makeTempDir('daxfs-fuzz-') });
  console.log(summary(report));
  const detail = JSON.stringify({ crashes: report.crashes, hangs: report.hangs, findings: report.findings.slice(0, 5) }, null, 1);
  expect(report.crashes.length + report.hangs.length + report.findings.length === 0 ? 'none' : detail).toBe('none');
  expect(report.images).toBe(COUNT);
  // Both outcomes happen, and every kind of damage was tried.
  expect(report.mounted).toBeGreaterThan(0);
  expect(report.images - report.mounted).toBeGreaterThan(0);
  if (COUNT >= MUTATION_KINDS.length) expect(Object.keys(report.byKind).sort()).toEqual([...MUTATION_KINDS].sort());
}, 120000 + COUNT * 5000);

test('the runner counts a native crash and a hang against their seeds and goes on with the next images', async () => {
  // A stand-in for exercise(): seed 3 aborts the process, seed 5 never returns, seed 7 reports a finding.
  const fake = `(daxfs, img, allowed, steps, dax, seed) => {
    if (seed === 3) process.abort();
    if (seed === 5) for (;;) {}
    return { fsck: 'clean', mounted: seed !== 2, refused: seed === 2 ? 'EUCLEAN' : null, repairedClean: true, codes: {},
             findings: seed === 7 ? ['stat: RangeError: out of bounds'] : [], steps: 0 };
  }`;
  const report = await fuzzImages(buildBase(), { seeds: [1, 2, 3, 4, 5, 6, 7, 8], workDir: makeTempDir('daxfs-fuzz-'),
    exerciseSource: fake, imageTimeoutMs: 3000 });
  expect(report.crashes.map((c) => [c.seed, c.how.includes('SIGABRT')])).toEqual([[3, true]]);
  expect(report.hangs.map((h) => h.seed)).toEqual([5]);
  expect(report.findings.map((f) => f.seed)).toEqual([7]);
  expect([report.images, report.mounted, report.refused]).toEqual([8, 5, { EUCLEAN: 1 }]);
  expect(summary(report)).toMatch(/^fuzz images: 8 images, 5 mounted, 1 refused \(EUCLEAN 1\), 1 crashes, 1 hangs;.*crash seeds 3; hang seeds 5; finding seeds 7$/);
}, 60000);
