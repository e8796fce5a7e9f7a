// Recovery: images that a crash left with a committed journal transaction not applied yet.
// fsck reports them as needing recovery (not as corrupt); a crash during the replay (by
// mount, or by fsck with repair) leaves an image that the next mount recovers in full.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck, NEEDS_RECOVERY } from '../../lib/fs/fsck';
import { PmemMapping } from '../../lib/pmem';
import { testing } from '../../lib/testing';
import { daxfs } from '../cli/run';
import { makeTempDir, useTempDirs } from '../helpers/tmp';
import { baseImage, checkImage, LONG, mappingOf, newTally, readTree, report, treeDiff } from './check';
import { initialTree, seq1Ops, Tree } from './workloads';

useTempDirs();

// Operations that are one journal transaction each: once it is committed, recovery must
// produce exactly the state after the operation.
const ONE_TRANSACTION = ['rename(/b, /a)', 'unlink(/d/c)', 'mkdir(/d/m)', 'truncate(/b, 9000)', 'rename(/e, /d/e)'];
const ops = seq1Ops().filter((op) => ONE_TRANSACTION.includes(op.name));

interface Pending { op: string; image: Buffer; after: Tree }

/** The images at the op's fences whose journal holds a committed, unapplied transaction. */
function pendingImages(): Pending[] {
  const out: Pending[] = [];
  for (const op of ops) {
    let capturing = false;
    const m = testing.crashable(mappingOf(baseImage()), {
      onFence: () => {
        if (!capturing) return;
        const image = m.crash();
        const dev = devices.pmem(image);
        try {
          if (fsck(dev).needsRecovery) out.push({ op: op.name, image: Buffer.from(image.view(0, image.size)), after: op.after(initialTree()) });
        } finally {
          dev.close();
          image.close();
        }
      },
    });
    const dev = devices.pmem(m);
    const f = Filesystem.mount(dev, 'dax');
    capturing = true;
    op.apply(f);
    capturing = false;
    f.unmount();
    dev.close();
    m.close();
  }
  return out;
}

const pending = pendingImages();

test('each one-transaction operation leaves a crash image with its transaction committed but not applied', () => {
  expect(pending.map((p) => p.op).filter((v, i, a) => a.indexOf(v) === i).sort()).toEqual([...ONE_TRANSACTION].sort());
});

test('fsck reports such an image as needing recovery, distinct from corruption; with repair it replays and the state is the one after the operation', () => {
  for (const p of pending) {
    const dev = devices.pmem(mappingOf(p.image));
    try {
      const r = fsck(dev);
      expect({ op: p.op, clean: r.clean, needsRecovery: r.needsRecovery, problems: r.problems }).toEqual({ op: p.op, clean: false, needsRecovery: true, problems: [] });
      const fixed = fsck(dev, { repair: true });
      expect(fixed.repaired).toContain('replayed the journal');
      expect(fsck(dev)).toMatchObject({ clean: true, needsRecovery: false, problems: [] });
      const f = Filesystem.mount(dev, 'dax');
      expect({ op: p.op, diff: treeDiff(readTree(f), p.after) }).toEqual({ op: p.op, diff: null });
      f.unmount();
    } finally {
      dev.close();
    }
  }
  // Damage is not "needs recovery": a corrupt journal header is a problem.
  const damaged = Buffer.from(pending[0].image);
  damaged.fill(0xff, 4096, 4096 + 8);
  const dev = devices.pmem(mappingOf(damaged));
  const r = fsck(dev);
  dev.close();
  expect(r.needsRecovery).toBe(false);
  expect(r.problems.join('\n')).toMatch(/journal header .* corrupt/);
});

test("daxfs fsck says 'needs recovery' (exit status 1, unlike usage errors' 2); --repair replays and exits 0", () => {
  const img = path.join(makeTempDir(), 'pending.img');
  fs.writeFileSync(img, pending[0].image);
  const r = daxfs('fsck', img);
  expect(r.status).toBe(1);
  expect(r.stdout).toContain(`${img}: ${NEEDS_RECOVERY}`);
  expect(r.stdout).not.toMatch(/problem/);
  const fixed = daxfs('fsck', img, '--repair');
  expect(fixed.stdout).toContain('repaired: replayed the journal');
  expect(fixed.status).toBe(0);
  expect(daxfs('fsck', img)).toMatchObject({ status: 0, stdout: `${img}: clean\n` });
});

/** Replays `p` with `recover` on a crashable mapping and checks images at every fence of the
 *  replay: each must recover, at the next mount, to the state after the operation. */
function crashDuringRecovery(p: Pending, recover: (dev: ReturnType<typeof devices.pmem>) => void, randomImages: number) {
  const tally = newTally();
  const x = { before: p.after, after: p.after };
  const check = (image: PmemMapping, what: string) => {
    tally.images++;
    const why = checkImage(image, x);
    if (why) tally.failures.push(`${p.op}: ${what}: ${why}`);
  };
  let capturing = false;
  const m = testing.crashable(mappingOf(p.image), {
    onFence: (count) => {
      if (!capturing) return;
      check(m.crash(), `fence ${count} of the replay, drop-unflushed`);
      for (let i = 0; i < randomImages; i++) check(m.crash({ mode: 'random', seed: count * 7 + i }), `fence ${count} of the replay, random seed ${count * 7 + i}`);
    },
  });
  const dev = devices.pmem(m);
  try {
    capturing = true;
    recover(dev);
    capturing = false;
    check(m.crash(), 'after the replay');
  } finally {
    dev.close();
    m.close();
  }
  tally.workloads++;
  return tally;
}

const randomImages = LONG ? 6 : 2;

test.each([
  ['mount', (dev: ReturnType<typeof devices.pmem>) => Filesystem.mount(dev, 'dax').unmount()],
  ['fsck with repair', (dev: ReturnType<typeof devices.pmem>) => { fsck(dev, { repair: true }); }],
])('a crash while %s replays the journal: the next mount recovers the whole operation', (what, recover) => {
  const tally = newTally();
  let replays = 0;
  for (const p of LONG ? pending : pending.slice(0, 3)) {
    const t = crashDuringRecovery(p, recover, randomImages);
    tally.workloads += t.workloads;
    tally.images += t.images;
    tally.failures.push(...t.failures);
    replays++;
  }
  report(tally, `crash during ${what}`);
  expect(tally.failures).toEqual([]);
  expect(tally.images).toBeGreaterThan(replays);   // images inside the replay, not only after it
});
