// A crash during mkfs: every image is either a valid empty filesystem or refused with
// EUCLEAN (by mount and by fsck), never half trusted, whatever the device held before.
import { devices } from '../../lib/block';
import { DaxError } from '../../lib/errors';
import { Filesystem, Statfs } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { PmemMapping } from '../../lib/pmem';
import { testing } from '../../lib/testing';
import { baseImage, DEVICE_SIZE, LONG, mappingOf, newTally, report, Tally } from './check';
import { pattern } from './workloads';

type Outcome = 'empty' | 'refused';

let fresh: Statfs | undefined;

/** statfs of a new filesystem of the same size, made without any crash. */
function freshStatfs(): Statfs {
  if (fresh) return fresh;
  const dev = devices.ram(DEVICE_SIZE);
  mkfs(dev);
  const f = Filesystem.mount(dev);
  fresh = f.statfs();
  f.unmount();
  dev.close();
  return fresh;
}

/** Why the image is neither an empty filesystem nor refused with EUCLEAN (null if it is one). */
function judgeMkfsImage(image: PmemMapping): { outcome?: Outcome; why?: string } {
  const dev = devices.pmem(image);
  try {
    let f: Filesystem;
    try {
      f = Filesystem.mount(dev, 'dax');
    } catch (e) {
      if ((e as DaxError).code !== 'EUCLEAN') return { why: `mount failed with ${(e as DaxError).code}: ${(e as Error).message}` };
      const r = fsck(dev);
      if (r.clean || r.needsRecovery) return { why: 'mount refused it but fsck did not report it damaged' };
      return { outcome: 'refused' };
    }
    try {
      const names = f.readdir('/');
      if (names.length) return { why: `mounted with entries from before mkfs: ${names.join(', ')}` };
      const s = f.statfs();
      const fresh = freshStatfs();
      if (s.freeFiles !== fresh.freeFiles || s.freeBlocks !== fresh.freeBlocks) {
        return { why: `mounted with ${s.freeFiles} free inodes and ${s.freeBlocks} free blocks; a new filesystem has ${fresh.freeFiles} and ${fresh.freeBlocks}` };
      }
    } finally {
      f.unmount();
    }
    const r = fsck(dev);
    if (!r.clean) return { why: `mounted, but fsck: ${r.needsRecovery ? 'needs recovery' : r.problems.join('; ')}` };
    return { outcome: 'empty' };
  } catch (e) {
    return { why: (e as Error).message };
  } finally {
    dev.close();
    image.close();
  }
}

/** Runs mkfs over `start` and checks the images at every fence; returns the outcomes seen. */
function mkfsOver(start: Buffer, randomImages: number, tally: Tally, label: string): Set<Outcome> {
  const seen = new Set<Outcome>();
  const check = (image: PmemMapping, what: string) => {
    tally.images++;
    const r = judgeMkfsImage(image);
    if (r.why) tally.failures.push(`${label}: ${what}: ${r.why}`);
    else seen.add(r.outcome!);
  };
  let capturing = false;
  const m = testing.crashable(mappingOf(start), {
    onFence: (count) => {
      if (!capturing) return;
      check(m.crash(), `fence ${count}, drop-unflushed`);
      for (let i = 0; i < randomImages; i++) check(m.crash({ mode: 'random', seed: count * 31 + i }), `fence ${count}, random seed ${count * 31 + i}`);
    },
  });
  const dev = devices.pmem(m);
  try {
    capturing = true;
    mkfs(dev);
    capturing = false;
    check(m.crash(), 'after mkfs returned');
  } finally {
    dev.close();
    m.close();
  }
  tally.workloads++;
  return seen;
}

const randomImages = LONG ? 8 : 2;

const starts: Array<[string, () => Buffer]> = [
  ['an old daxfs with files', () => baseImage()],
  ['random bytes', () => pattern(7, DEVICE_SIZE)],
  ['zeros', () => Buffer.alloc(DEVICE_SIZE)],
];

describe('a crash during mkfs leaves a valid empty filesystem or one refused with EUCLEAN', () => {
  for (const [name, start] of starts) {
    test(`over ${name}`, () => {
      const tally = newTally();
      const seen = mkfsOver(start(), randomImages, tally, `mkfs over ${name}`);
      report(tally, `mkfs over ${name}`);
      expect(tally.failures).toEqual([]);
      // The images really span the operation: refused early, a valid empty filesystem at the end.
      expect([...seen].sort()).toEqual(['empty', 'refused']);
    });
  }
});
