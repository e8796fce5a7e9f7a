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
import { buildInitial, DataRange, initialTree, Step, Tree, Workload } from './workloads';

/** Device size: the smallest daxfs takes, so each image costs little to copy and check. */
export const DEVICE_SIZE = 4 * 1024 * 1024;

/** DAXFS_CRASH=long runs every workload, fence and seed; otherwise a sample. */
export const LONG = process.env.DAXFS_CRASH === 'long';

export interface Sample {
  /** Mount with dax (the default) or through the page cache. */
  dax?: boolean;
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
  loose?: Map<string, Buffer[]>;
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
 *  data) the same tree with that file's size old or new and each byte of it old or new.
 *  `loose`: on a mount without dax, earlier contents of files whose data is not written
 *  back yet; each byte of such a file may also be one of those. */
export function judge(actual: Tree, x: Expected): string | null {
  const vsAfter = treeDiff(actual, x.after);
  if (vsAfter === null || treeDiff(actual, x.before) === null) return null;
  const alternatives = new Map<string, Buffer[]>(x.loose ?? []);
  if (x.data) {
    const old = x.before.get(x.data.path);
    const now = x.after.get(x.data.path);
    if (old?.type === 'file' && now?.type === 'file') {
      alternatives.set(x.data.path, [...(alternatives.get(x.data.path) ?? []), old.data, now.data]);
    }
  }
  if (alternatives.size === 0) return `neither before nor after the step: ${vsAfter}`;
  const rest = (t: Tree) => { const c = new Map(t); for (const p of alternatives.keys()) c.delete(p); return c; };
  const elsewhere = treeDiff(rest(actual), rest(x.after));
  if (elsewhere !== null) return `neither before nor after the step: ${elsewhere}`;
  for (const [path, alts] of alternatives) {
    const old = x.before.get(path);
    const now = x.after.get(path);
    const got = actual.get(path);
    if (got?.type !== now?.type) return `neither before nor after the step: ${vsAfter}`;
    if (got?.type !== 'file' || now?.type !== 'file' || old?.type !== 'file') continue;
    const size = got.data.length;
    if (size !== old.data.length && size !== now.data.length) {
      return `${path} has ${size} bytes: neither the old ${old.data.length} nor the new ${now.data.length}`;
    }
    const choices = [old.data, now.data, ...alts];
    for (let i = 0; i < size; i++) {
      const b = got.data[i];
      if (!choices.some((c) => (c[i] ?? 0) === b)) return `${path} byte ${i} is ${b}: neither old nor new`;
    }
  }
  return null;
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
    const dax = sample.dax ?? true;
    const f = Filesystem.mount(dev, dax ? 'dax' : 'nodax');
    // Without dax, file data is durable only once written back (fsync, sync): until then a
    // file may still show, byte by byte, any contents it had since its last sync.
    const loose = new Map<string, Buffer[]>();
    try {
      w.steps.forEach((step, k) => {
        // In flight, a rename may or may not have happened: the loose data goes by both names.
        const inFlight = new Map(loose);
        if (step.moves) for (const [p, alts] of renamed(loose, ...step.moves)) inFlight.set(p, [...(inFlight.get(p) ?? []), ...alts]);
        const x: Expected = { before: states[k], after: states[k + 1], data: step.data?.(states[k]), loose: inFlight };
        stepName = step.name;
        expected = x;
        try {
          step.apply(f);
        } finally {
          expected = null;
        }
        if (!dax) settle(loose, step, x);
        check(m.crash(), { before: x.after, after: x.after, loose: new Map(loose) }, `${step.name}, completed`);
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

/** Updates what may still be old in each file (mount without dax) once `step` returned. */
function settle(loose: Map<string, Buffer[]>, step: Step, x: Expected): void {
  if (step.moves) {
    const moved = renamed(loose, ...step.moves);
    loose.clear();
    for (const [p, alts] of moved) loose.set(p, alts);
  }
  for (const p of [...loose.keys()]) if (!x.after.has(p)) loose.delete(p);   // unlinked: gone
  if (x.data) {
    const { path } = x.data;
    const old = x.before.get(path);
    if (old?.type === 'file') loose.set(path, [...(loose.get(path) ?? []), old.data]);
  }
  if (step.syncs === 'all') loose.clear();
  else if (step.syncs) loose.delete(step.syncs);
}

/** `loose` after renaming `from` to `to` (which replaces what was at `to`). */
function renamed(loose: Map<string, Buffer[]>, from: string, to: string): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  const under = (p: string, dir: string) => p === dir || p.startsWith(dir + '/');
  for (const [p, alts] of loose) if (!under(p, to) && !under(p, from)) out.set(p, alts);
  for (const [p, alts] of loose) if (under(p, from)) out.set(to + p.slice(from.length), alts);
  return out;
}
