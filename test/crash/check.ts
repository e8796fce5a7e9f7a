// Runs a workload on a crashable mapping and checks crash images at its fences: each must
// pass fsck (or only need its journal replayed), mount, and show every completed step with
// the step in flight either done or not (file data written in flight: each byte old or new).
import * as fs from 'node:fs';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { mapAnonymous, PmemMapping } from '../../lib/pmem';
import { testing } from '../../lib/testing';
import { buildInitial, DataRange, initialTree, Tree, Workload } from './workloads';

/** Device size: the smallest daxfs takes, so each image costs little to copy and check. */
export const DEVICE_SIZE = 4 * 1024 * 1024;

/** DAXFS_CRASH=long runs every workload, fence and seed; otherwise a sample. */
export const LONG = process.env.DAXFS_CRASH === 'long';

export interface Sample {
  /** 'random' images per checked fence, besides the 'drop-unflushed' one. */
  randomImages: number;
  /** Check fences whose count is a multiple of this (plus every step's end). */
  fenceStride: number;
}

export const FULL: Sample = { randomImages: 4, fenceStride: 1 };

/** What one image must show: the state before the step in flight, or after it. */
export interface Expected {
  before: Tree;
  after: Tree;
  data?: DataRange;
}

export interface Tally {
  workloads: number;
  images: number;
  failures: string[];
}

export function newTally(): Tally {
  return { workloads: 0, images: 0, failures: [] };
}

/** `n` items spread evenly over `list` (all of it when n >= its length): a deterministic sample. */
export function spread<T>(list: readonly T[], n: number): T[] {
  if (n >= list.length) return [...list];
  return Array.from({ length: n }, (_, i) => list[Math.floor((i * list.length) / n)]);
}

/** The summary line the suite prints. */
export function summary(t: Tally, what: string): string {
  return `crash: ${what}: ${t.workloads} workloads, ${t.images} images checked, ${t.failures.length} failures`;
}

/** Prints the summary line and, for `npm run test:crash` (scripts/test-crash.sh), adds the
 *  counts to the file it names, which it totals at the end. */
export function report(t: Tally, what: string): void {
  console.log(summary(t, what));
  const file = process.env.DAXFS_CRASH_TALLY;
  if (file) fs.appendFileSync(file, `${JSON.stringify({ what, workloads: t.workloads, images: t.images, failures: t.failures.length })}\n`);
}

let base: Buffer | undefined;

/** The device image every workload starts from: mkfs, then the initial tree. */
export function baseImage(): Buffer {
  if (base) return base;
  const m = mapAnonymous(DEVICE_SIZE);
  const dev = devices.pmem(m);
  try {
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    buildInitial(f);
    f.unmount();
    base = Buffer.from(m.view(0, DEVICE_SIZE));
  } finally {
    dev.close();
    m.close();
  }
  return base;
}

/** A fresh mapping holding `image`. */
export function mappingOf(image: Buffer): PmemMapping {
  const m = mapAnonymous(image.length);
  image.copy(m.view(0, image.length));
  return m;
}

/** Every path under '/' of a mounted filesystem, with each file's contents. */
export function readTree(f: Filesystem): Tree {
  const out: Tree = new Map();
  const walk = (dir: string) => {
    for (const name of f.readdir(dir)) {
      const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
      if (f.stat(p).isDirectory()) {
        out.set(p, { type: 'dir' });
        walk(p);
      } else {
        out.set(p, { type: 'file', data: f.readFile(p) });
      }
    }
  };
  walk('/');
  return out;
}

/** Why `actual` is not `expected` (the first difference), or null when they are equal. */
export function treeDiff(actual: Tree, expected: Tree): string | null {
  for (const p of expected.keys()) if (!actual.has(p)) return `${p} is missing`;
  for (const [p, n] of actual) {
    const e = expected.get(p);
    if (!e) return `${p} should not exist`;
    if (n.type !== e.type) return `${p} is a ${n.type}, expected a ${e.type}`;
    if (n.type === 'file' && e.type === 'file' && !n.data.equals(e.data)) {
      if (n.data.length !== e.data.length) return `${p} has ${n.data.length} bytes, expected ${e.data.length}`;
      let i = 0;
      while (n.data[i] === e.data[i]) i++;
      return `${p} differs from byte ${i}`;
    }
  }
  return null;
}

/** Null when `actual` is the state before or after the step, or (for a step that writes
 *  data) the same tree with that file's size old or new and each byte of it old or new. */
export function judge(actual: Tree, x: Expected): string | null {
  const vsAfter = treeDiff(actual, x.after);
  if (vsAfter === null || treeDiff(actual, x.before) === null) return null;
  if (x.data) {
    const { path } = x.data;
    const rest = (t: Tree) => { const c = new Map(t); c.delete(path); return c; };
    const old = x.before.get(path);
    const now = x.after.get(path);
    const got = actual.get(path);
    const elsewhere = treeDiff(rest(actual), rest(x.after));
    if (elsewhere !== null) return `neither before nor after the step: ${elsewhere}`;
    if (old?.type === 'file' && now?.type === 'file' && got?.type === 'file') {
      const size = got.data.length;
      if (size !== old.data.length && size !== now.data.length) {
        return `${path} has ${size} bytes: neither the old ${old.data.length} nor the new ${now.data.length}`;
      }
      for (let i = 0; i < size; i++) {
        const b = got.data[i];
        if (b !== (old.data[i] ?? 0) && b !== (now.data[i] ?? 0)) return `${path} byte ${i} is ${b}: neither old nor new`;
      }
      return null;
    }
  }
  return `neither before nor after the step: ${vsAfter}`;
}

/**
 * Checks one crash image (and closes it): fsck finds it clean or only needing its journal
 * replayed, a mount recovers it, fsck is then clean, and the tree is what `x` allows.
 * Returns why it fails, or null.
 */
export function checkImage(image: PmemMapping, x: Expected): string | null {
  const dev = devices.pmem(image);
  try {
    const first = fsck(dev);
    if (!first.clean && !(first.needsRecovery && first.problems.length === 0)) {
      return `fsck before mount: ${first.problems.join('; ')}`;
    }
    if (first.needsRecovery) {
      Filesystem.mount(dev, 'dax').unmount();   // replays what the crash left
      const second = fsck(dev);
      if (!second.clean) return `fsck after mount: ${second.needsRecovery ? 'needs recovery' : second.problems.join('; ')}`;
    }
    const f = Filesystem.mount(dev, 'dax');
    try {
      return judge(readTree(f), x);
    } finally {
      f.unmount();
    }
  } catch (e) {
    return `${(e as Error).message}`;
  } finally {
    dev.close();
    image.close();
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/**
 * Runs `w` from the base image on a crashable mapping. At every sampled fence of a step it
 * checks the 'drop-unflushed' image and `sample.randomImages` 'random' ones against the
 * state before and after that step; at the end of each step the 'drop-unflushed' image must
 * be exactly the state after it (a completed step is durable). Adds to `tally`.
 */
export function runWorkload(w: Workload, sample: Sample, tally: Tally): void {
  const states: Tree[] = [initialTree()];
  for (const s of w.steps) states.push(s.after(states[states.length - 1]));
  let expected: Expected | null = null;
  let stepName = '';
  const seed0 = hash(w.name);
  const fail = (what: string, why: string) => tally.failures.push(`${w.name}: ${what}: ${why}`);
  const check = (image: PmemMapping, x: Expected, what: string) => {
    tally.images++;
    const why = checkImage(image, x);
    if (why !== null) fail(what, why);
  };
  const m = testing.crashable(mappingOf(baseImage()), {
    onFence: (count) => {
      if (!expected || count % sample.fenceStride !== 0) return;
      check(m.crash(), expected, `${stepName}, fence ${count}, drop-unflushed`);
      for (let i = 0; i < sample.randomImages; i++) {
        const seed = seed0 + count * 101 + i;
        check(m.crash({ mode: 'random', seed }), expected, `${stepName}, fence ${count}, random seed ${seed}`);
      }
    },
  });
  const dev = devices.pmem(m);
  try {
    const f = Filesystem.mount(dev, 'dax');
    try {
      w.steps.forEach((step, k) => {
        const x: Expected = { before: states[k], after: states[k + 1], data: step.data?.(states[k]) };
        stepName = step.name;
        expected = x;
        try {
          step.apply(f);
        } finally {
          expected = null;
        }
        check(m.crash(), { before: x.after, after: x.after }, `${step.name}, completed`);
      });
    } finally {
      f.unmount();
    }
  } finally {
    dev.close();
    m.close();
  }
  tally.workloads++;
}
