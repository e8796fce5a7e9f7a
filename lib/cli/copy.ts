// `daxfs cp`: files and directory trees into an image, out of one, or between images. Both
// ends are a Side, so one copy loop serves every direction.
import * as nodefs from 'node:fs';
import * as path from 'node:path';
import { DaxError } from '../errors';
import { Filesystem } from '../fs/filesystem';
import { parseArgs, UsageError } from './args';
import { Command } from './command';
import { parseTarget, Target, withImages } from './image';
import { Progress } from './progress';
import { at, Failure, withHint } from './report';

const CHUNK = 4 << 20;   // large writes: fewer journal transactions for the size updates

interface Entry { type: 'file' | 'dir' | 'other'; size: number; mode: number }
interface Reader { read(buf: Buffer, position: number): number; close(): void }
interface Writer { write(buf: Buffer, length: number, position: number): void; close(): void }

interface Side {
  /** null when nothing is there. `follow`: a symbolic link counts as what it points to. */
  stat(p: string, follow: boolean): Entry | null;
  readdir(p: string): string[];
  mkdir(p: string, mode: number): void;
  reader(p: string): Reader;
  writer(p: string, mode: number): Writer;
  join(dir: string, name: string): string;
  /** How the user would write this path (for messages). */
  show(p: string): string;
}

function hostSide(): Side {
  return {
    stat(p, follow) {
      let s: nodefs.Stats;
      try {
        s = follow ? nodefs.statSync(p) : nodefs.lstatSync(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
      return { type: s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other', size: s.size, mode: s.mode & 0o7777 };
    },
    readdir: (p) => nodefs.readdirSync(p).sort(),
    mkdir: (p, mode) => nodefs.mkdirSync(p, { mode }),
    reader(p) {
      const fd = nodefs.openSync(p, 'r');
      return { read: (buf, position) => nodefs.readSync(fd, buf, 0, buf.length, position), close: () => nodefs.closeSync(fd) };
    },
    writer(p, mode) {
      const fd = nodefs.openSync(p, 'w', mode);
      return {
        write: (buf, length, position) => {
          for (let done = 0; done < length;) done += nodefs.writeSync(fd, buf, done, length - done, position + done);
        },
        close: () => nodefs.closeSync(fd),
      };
    },
    join: (dir, name) => path.join(dir, name),
    show: (p) => p,
  };
}

function imageSide(fs: Filesystem, image: string): Side {
  return {
    stat(p) {
      try {
        const s = fs.stat(p);
        return { type: s.isDirectory() ? 'dir' : 'file', size: s.size, mode: s.mode & 0o7777 };
      } catch (e) {
        if ((e as DaxError).code === 'ENOENT') return null;
        throw e;
      }
    },
    readdir: (p) => fs.readdir(p),
    mkdir: (p) => fs.mkdir(p),
    reader(p) {
      const h = fs.open(p, 'r');
      return { read: (buf, position) => h.read(buf, 0, buf.length, position), close: () => h.close() };
    },
    writer(p, mode) {
      const h = fs.open(p, 'w', mode);
      return {
        write: (buf, length, position) => {
          for (let done = 0; done < length;) done += h.write(buf, done, length - done, position + done);
        },
        close: () => h.close(),
      };
    },
    join: (dir, name) => path.posix.join(dir, name),
    show: (p) => `${image}:${p}`,
  };
}

function sameImage(a: string, b: string): boolean {
  const real = (p: string) => { try { return nodefs.realpathSync(p); } catch { return path.resolve(p); } };
  return real(a) === real(b);
}

interface Job { from: Side; src: string; to: Side; dst: string }

class Copier {
  skipped = 0;
  readonly #buf = Buffer.allocUnsafe(CHUNK);

  constructor(private readonly progress: Progress) {}

  /** Bytes a tree holds, for the progress bar. */
  static size(side: Side, p: string, top: boolean): number {
    const e = side.stat(p, top);
    if (!e || e.type === 'other') return 0;
    if (e.type === 'file') return e.size;
    return side.readdir(p).reduce((n, name) => n + Copier.size(side, side.join(p, name), false), 0);
  }

  copy(j: Job, top: boolean): void {
    const e = j.from.stat(j.src, top)!;
    if (e.type === 'other') {
      console.error(`daxfs cp: skipped ${j.from.show(j.src)}: not a regular file or directory (daxfs has no links or devices)`);
      this.skipped++;
      return;
    }
    if (e.type === 'file') return at(j.to.show(j.dst), () => this.#file(j, e));
    const there = j.to.stat(j.dst, true);
    if (!there) at(j.to.show(j.dst), () => j.to.mkdir(j.dst, e.mode | 0o700));
    else if (there.type !== 'dir') throw new DaxError('ENOTDIR', `cannot copy directory ${j.from.show(j.src)} over a file`, { errno: -20, path: j.to.show(j.dst) });
    for (const name of j.from.readdir(j.src)) {
      this.copy({ ...j, src: j.from.join(j.src, name), dst: j.to.join(j.dst, name) }, false);
    }
  }

  #file(j: Job, e: Entry): void {
    const r = at(j.from.show(j.src), () => j.from.reader(j.src));
    try {
      const w = j.to.writer(j.dst, e.mode);
      try {
        for (let position = 0; ;) {
          const n = at(j.from.show(j.src), () => r.read(this.#buf, position));
          if (n === 0) break;
          w.write(this.#buf, n, position);
          position += n;
          this.progress.add(n);
        }
      } finally {
        w.close();
      }
    } finally {
      r.close();
    }
  }
}

export const cpCommand: Command = {
  name: 'cp',
  summary: 'copy files into an image, out of one, or between images',
  help: `Usage: daxfs cp [-r] SRC... DST

Copies files. Either end may be inside an image (IMAGE:/path) or on the host (a plain
path); at least one must be in an image. When DST is an existing directory the sources go
into it under their own names; several sources need such a directory.

Options:
  -r, --recursive copy directories and everything in them (symbolic links and devices on
                  the host are skipped with a warning, and cp then exits 1)

Examples:
  daxfs cp notes.txt disk.img:/notes.txt
  daxfs cp -r disk.img:/logs ./logs-copy`,
  run(argv) {
    const a = parseArgs(argv, { flags: { '-r': 'recursive', '-R': 'recursive', '--recursive': 'recursive' }, min: 2 });
    const targets = a.positional.map(parseTarget);
    if (targets.every((t) => t.kind === 'host')) {
      throw new UsageError('no IMAGE:/path among the arguments; cp(1) copies on the host, daxfs cp copies into or out of an image');
    }
    const dst = targets.pop()!;
    return withImages((images) => {
      // The destination's image is mounted writable first; a source in the same image reuses it.
      const sideOf = (t: Target, writable: boolean): Side => t.kind === 'host' ? hostSide() : imageSide(at(t.image, () => images.mount(t.image, writable)), t.image);
      const to = sideOf(dst, true);
      const from = targets.map((t) => ({ t, side: sideOf(t, false) }));
      const dstEntry = at(dst.text, () => to.stat(dst.path, true));
      if (from.length > 1 && dstEntry?.type !== 'dir') {
        throw new Failure(dst.text, new DaxError('ENOTDIR', 'copying several sources needs an existing directory to copy them into', { errno: -20 }));
      }
      if (!dstEntry && dst.path.endsWith('/') && dst.path !== '/') {
        throw new Failure(dst.text, new DaxError('ENOENT', 'no such directory to copy into', { errno: -2 }));
      }
      const jobs: Job[] = from.map(({ t, side }) => {
        const e = at(t.text, () => side.stat(t.path, true));
        if (!e) throw new Failure(t.text, new DaxError('ENOENT', 'no such file or directory', { errno: -2 }));
        if (e.type === 'dir' && !a.flags.has('recursive')) {
          throw new Failure(t.text, withHint(new DaxError('EISDIR', 'is a directory', { errno: -21 }), 'use cp -r to copy a directory and its contents'));
        }
        const base = t.kind === 'host' ? path.basename(path.resolve(t.path)) : path.posix.basename(t.path);
        const target = dstEntry?.type === 'dir' ? to.join(dst.path, base) : dst.path;
        if (t.kind === 'image' && dst.kind === 'image' && sameImage(t.image, dst.image) && path.posix.resolve(t.path) === path.posix.resolve(target)) {
          throw new Failure(t.text, new DaxError('EINVAL', `'${t.text}' and '${dst.image}:${target}' are the same file`, { errno: -22 }));
        }
        const inside = (dir: string, p: string) => dir === '/' || `${p}/`.startsWith(`${dir}/`);
        if (e.type === 'dir' && t.kind === 'image' && dst.kind === 'image' && sameImage(t.image, dst.image) && inside(path.posix.resolve(t.path), path.posix.resolve(target))) {
          throw new Failure(t.text, new DaxError('EINVAL', `cannot copy a directory into itself (${dst.text})`, { errno: -22 }));
        }
        return { from: side, src: t.path, to, dst: target };
      });
      const progress = new Progress('cp', jobs.reduce((n, j) => n + Copier.size(j.from, j.src, true), 0));
      const copier = new Copier(progress);
      try {
        for (const j of jobs) copier.copy(j, true);
      } finally {
        progress.end();
      }
      return copier.skipped ? 1 : 0;
    });
  },
};
