// The image fuzzer: damaged images (bit flips, fields at their limits, directory cycles,
// shared blocks, extents on metadata or past the device, huge sizes, odd link counts,
// journal garbage) must each either work or fail with an allowed coded error: never a
// crash, a hang, or an uncoded exception. Quick sample by default; the long form is
// `npm run test:fuzz:images` (DAXFS_FUZZ_IMAGES images from seed DAXFS_FUZZ_SEED).
import { makeTempDir, useTempDirs } from '../helpers/tmp';
import { buildBase, MUTATION_KINDS } from './mutate';
import { fuzzImages, summary } from './run-images';

useTempDirs();

const COUNT = Number(process.env.DAXFS_FUZZ_IMAGES ?? 36);
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
