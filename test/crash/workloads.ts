// Crash workloads in the style of CrashMonkey's ACE: single operations (seq-1) and pairs on
// shared files (seq-2), each followed by nothing, an fsync or a sync. An operation is data:
// a function that applies it to a mounted filesystem and an oracle that gives the state
// after it from the state before, plus the bytes it may leave half-written while in flight.
import { Filesystem } from '../../lib/fs/filesystem';
import { pattern as helperPattern } from '../helpers/tmp';

/** A file or directory as a crash image must show it. */
export type Node = { type: 'dir' } | { type: 'file'; data: Buffer };
/** Every path under '/', without the root, mapped to what is there. */
export type Tree = Map<string, Node>;

/** Bytes of one file that an operation in flight may leave each old or new, the file's size
 *  being the old one or the new one (never something else). */
export interface DataRange {
  path: string;
  offset: number;
  length: number;
}

export interface Op extends Step {
  name: string;
  /** The path an fsync after the operation opens (a file, or the directory it changed). */
  syncPath: string;
  apply(f: Filesystem): void;
  /** The state after the operation (the argument is not changed). */
  after(before: Tree): Tree;
  /** Set for operations that store file data outside the journal: writes, and the zeroing of
   *  partial blocks by truncate, zero-range and punch-hole. */
  data?(before: Tree): DataRange;
}

export type FollowUp = 'none' | 'fsync' | 'sync';
export const FOLLOW_UPS: readonly FollowUp[] = ['none', 'fsync', 'sync'];

/** One step of a workload: an operation or the fsync/sync after one. */
export interface Step {
  name: string;
  apply(f: Filesystem): void;
  after(before: Tree): Tree;
  data?(before: Tree): DataRange;
  /** A rename: file data not yet written back moves with the name. */
  moves?: [string, string];
  /** What the step makes durable on a mount without dax: one file's data, or all. */
  syncs?: string | 'all';
}

export interface Workload {
  name: string;
  steps: Step[];
}

/** Deterministic contents: `length` bytes from `seed`, never all one value (small seeds
 *  spread over the generator's state, so neighbouring seeds give unrelated bytes). */
export function pattern(seed: number, length: number): Buffer {
  return helperPattern(length, (seed * 2654435761) >>> 0);
}

/** What every workload starts from (written before the crash simulation watches). */
export const INITIAL: ReadonlyArray<[string, Node]> = [
  ['/a', { type: 'file', data: pattern(1, 10000) }],        // three blocks, the last partial
  ['/b', { type: 'file', data: pattern(2, 5000) }],
  ['/d', { type: 'dir' }],
  ['/d/c', { type: 'file', data: pattern(3, 3000) }],
  ['/e', { type: 'dir' }],
];

export function initialTree(): Tree {
  return new Map(INITIAL.map(([p, n]) => [p, n.type === 'file' ? { type: 'file', data: Buffer.from(n.data) } : n]));
}

export function buildInitial(f: Filesystem): void {
  for (const [path, node] of INITIAL) {
    if (node.type === 'dir') f.mkdir(path);
    else f.writeFile(path, node.data);
  }
}

// --- the model --------------------------------------------------------------------------------

function copyTree(t: Tree): Tree {
  return new Map(t);
}

function fileData(t: Tree, path: string): Buffer {
  const n = t.get(path);
  if (!n || n.type !== 'file') throw new Error(`workload bug: ${path} is not a file in the model`);
  return n.data;
}

function withFile(t: Tree, path: string, data: Buffer): Tree {
  const out = copyTree(t);
  out.set(path, { type: 'file', data });
  return out;
}

/** `data` resized to `size`: cut, or extended with zeros (a hole reads zeros). */
function resized(data: Buffer, size: number): Buffer {
  const out = Buffer.alloc(size);
  data.copy(out, 0, 0, Math.min(size, data.length));
  return out;
}

function written(data: Buffer, offset: number, bytes: Buffer): Buffer {
  const out = resized(data, Math.max(data.length, offset + bytes.length));
  bytes.copy(out, offset);
  return out;
}

/** Moves `from` (and, for a directory, everything under it) to `to`, replacing `to`. */
function moved(t: Tree, from: string, to: string): Tree {
  const out = copyTree(t);
  for (const p of [...out.keys()]) if (p === to || p.startsWith(to + '/')) out.delete(p);
  for (const [p, n] of t) {
    if (p === from || p.startsWith(from + '/')) {
      out.delete(p);
      out.set(to + p.slice(from.length), n);
    }
  }
  return out;
}

function without(t: Tree, path: string): Tree {
  const out = copyTree(t);
  out.delete(path);
  return out;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

// --- the operations ---------------------------------------------------------------------------

function write(path: string, offset: number, bytes: Buffer): Op {
  return {
    name: `write(${path}, ${offset}+${bytes.length})`,
    syncPath: path,
    apply: (f) => {
      const h = f.open(path, 'r+');
      try { h.write(bytes, 0, bytes.length, offset); } finally { h.close(); }
    },
    after: (t) => withFile(t, path, written(fileData(t, path), offset, bytes)),
    data: () => ({ path, offset, length: bytes.length }),
  };
}

function append(path: string, bytes: Buffer): Op {
  return {
    name: `append(${path}, ${bytes.length})`,
    syncPath: path,
    apply: (f) => {
      const h = f.open(path, 'a');
      try { h.write(bytes); } finally { h.close(); }
    },
    after: (t) => withFile(t, path, Buffer.concat([fileData(t, path), bytes])),
    data: (t) => ({ path, offset: fileData(t, path).length, length: bytes.length }),
  };
}

function create(path: string): Op {
  return {
    name: `create(${path})`,
    syncPath: path,
    apply: (f) => f.open(path, 'wx').close(),
    after: (t) => withFile(t, path, Buffer.alloc(0)),
  };
}

function mkdir(path: string): Op {
  return {
    name: `mkdir(${path})`,
    syncPath: path,
    apply: (f) => f.mkdir(path),
    after: (t) => { const out = copyTree(t); out.set(path, { type: 'dir' }); return out; },
  };
}

function truncate(path: string, length: number): Op {
  return {
    name: `truncate(${path}, ${length})`,
    syncPath: path,
    apply: (f) => f.truncate(path, length),
    after: (t) => withFile(t, path, resized(fileData(t, path), length)),
    // Cutting a file zeroes the rest of its new last block in place before the commit.
    data: (t) => {
      const size = fileData(t, path).length;
      return { path, offset: Math.min(length, size), length: Math.max(0, size - length) };
    },
  };
}

type AllocMode = 'default' | 'keep-size' | 'zero-range' | 'punch-hole';

function allocate(path: string, offset: number, length: number, mode: AllocMode): Op {
  const end = offset + length;
  return {
    name: `allocate(${path}, ${offset}+${length}, ${mode})`,
    syncPath: path,
    apply: (f) => {
      const h = f.open(path, 'r+');
      try { h.allocate(offset, length, mode); } finally { h.close(); }
    },
    after: (t) => {
      const data = fileData(t, path);
      if (mode === 'keep-size') return t;
      if (mode === 'default') return withFile(t, path, resized(data, Math.max(data.length, end)));
      const size = mode === 'zero-range' ? Math.max(data.length, end) : data.length;
      const out = resized(data, size);
      out.fill(0, Math.min(offset, size), Math.min(end, size));
      return withFile(t, path, out);
    },
    data: mode === 'zero-range' || mode === 'punch-hole' ? () => ({ path, offset, length }) : undefined,
  };
}

function unlink(path: string): Op {
  return {
    name: `unlink(${path})`,
    syncPath: parentOf(path),
    apply: (f) => f.unlink(path),
    after: (t) => without(t, path),
  };
}

function rmdir(path: string): Op {
  return {
    name: `rmdir(${path})`,
    syncPath: parentOf(path),
    apply: (f) => f.rmdir(path),
    after: (t) => without(t, path),
  };
}

function rename(from: string, to: string): Op {
  return {
    name: `rename(${from}, ${to})`,
    syncPath: to,
    apply: (f) => f.rename(from, to),
    after: (t) => moved(t, from, to),
    moves: [from, to],
  };
}

/** Every single operation of seq-1, on the initial tree. daxfs has no hard links (no link()). */
export function seq1Ops(): Op[] {
  return [
    create('/n'),
    create('/d/n'),
    mkdir('/m'),
    mkdir('/d/m'),
    write('/a', 1000, pattern(11, 3000)),          // overwrite inside the file, across a block edge
    write('/a', 0, pattern(12, 4096)),             // overwrite one whole block
    write('/b', 4000, pattern(13, 6000)),          // overwrite and extend
    write('/b', 20000, pattern(14, 100)),          // past the end, leaving a hole
    write('/d/c', 3000, pattern(15, 9000)),        // extend from the end, new blocks
    append('/a', pattern(16, 5000)),
    append('/b', pattern(17, 100)),
    truncate('/b', 9000),                          // up
    truncate('/a', 3000),                          // down, inside a block
    truncate('/a', 4096),                          // down, to a block edge
    truncate('/a', 0),
    allocate('/a', 8000, 10000, 'default'),
    allocate('/b', 0, 16384, 'keep-size'),
    allocate('/a', 1000, 6000, 'zero-range'),
    allocate('/a', 5000, 8000, 'zero-range'),      // past the end: grows
    allocate('/a', 2000, 6000, 'punch-hole'),
    allocate('/a', 4096, 4096, 'punch-hole'),      // one whole block
    unlink('/b'),
    unlink('/d/c'),
    rmdir('/e'),
    rename('/b', '/n'),                            // over nothing
    rename('/b', '/a'),                            // over a file
    rename('/d/c', '/e/c'),                        // across directories
    rename('/a', '/d/c'),                          // across directories, over a file
    rename('/e', '/d/e'),                          // a directory across directories
    rename('/e', '/m'),                            // a directory, over nothing
  ];
}

/** Operations for the second place of a seq-2 pair: they act on the files the first ones
 *  touch (/a, /b, /d/c, /n) and still apply whatever the first did (or they would fail). */
export function seq2Second(): Op[] {
  return [
    create('/x'),
    write('/a', 2000, pattern(21, 3000)),
    append('/d/c', pattern(22, 2000)),
    truncate('/d/c', 100),
    allocate('/d/c', 0, 8192, 'zero-range'),
    unlink('/d/c'),
    rename('/d/c', '/x'),
    rename('/d/c', '/e/y'),
    mkdir('/e/z'),
  ];
}

/** The fsync or sync after an operation: no change of state. */
function followUp(kind: FollowUp, op: Op): Step[] {
  if (kind === 'none') return [];
  if (kind === 'sync') return [{ name: 'sync', apply: (f) => f.sync(), after: (t) => t, syncs: 'all' }];
  return [{
    name: `fsync(${op.syncPath})`,
    syncs: op.syncPath,
    apply: (f) => {
      const h = f.open(op.syncPath, 'r');
      try { h.sync(); } finally { h.close(); }
    },
    after: (t) => t,
  }];
}

export function workload(ops: Array<[Op, FollowUp]>): Workload {
  const steps: Step[] = [];
  for (const [op, kind] of ops) steps.push(op, ...followUp(kind, op));
  return { name: ops.map(([op, kind]) => (kind === 'none' ? op.name : `${op.name}; ${kind}`)).join('; '), steps };
}

export function seq1Workloads(): Workload[] {
  return seq1Ops().flatMap((op) => FOLLOW_UPS.map((k) => workload([[op, k]])));
}

/** Every pair (first from seq-1, second from seq2Second) that applies cleanly on the model:
 *  the second's paths must exist where it needs them. */
export function seq2Workloads(): Workload[] {
  const out: Workload[] = [];
  for (const first of seq1Ops()) {
    for (const second of seq2Second()) {
      if (!shareAPath(first, second) || !appliesAfter(first, second)) continue;
      for (const k of FOLLOW_UPS) out.push(workload([[first, k], [second, k]]));
    }
  }
  return out;
}

/** The paths an operation names, with their parent directories (not '/'). */
function pathsOf(op: Op): Set<string> {
  const out = new Set<string>();
  for (const p of op.name.match(/\/[\w/]+/g) ?? []) {
    for (let q = p; q !== '/'; q = parentOf(q)) out.add(q);
  }
  return out;
}

/** Pairs on shared files: the second names a path (or a parent) that the first names. */
function shareAPath(first: Op, second: Op): boolean {
  const a = pathsOf(first);
  return [...pathsOf(second)].some((p) => a.has(p));
}

/** Whether `second` is valid after `first` on the initial tree (its sources exist, its
 *  targets' parents are directories, a create's name is free). */
function appliesAfter(first: Op, second: Op): boolean {
  const t = first.after(initialTree());
  const isFile = (p: string) => t.get(p)?.type === 'file';
  const isDir = (p: string) => p === '/' || t.get(p)?.type === 'dir';
  const m = /^(\w+)\(([^,)]+)(?:, ([^,)+]+))?/.exec(second.name);
  if (!m) return false;
  const [, kind, path, arg] = m;
  switch (kind) {
    case 'create': case 'mkdir': return !t.has(path) && isDir(parentOf(path));
    case 'write': case 'append': case 'truncate': case 'allocate': case 'unlink': return isFile(path);
    case 'rename': return isFile(path) && isDir(parentOf(arg)) && t.get(arg)?.type !== 'dir';
    default: return false;
  }
}
