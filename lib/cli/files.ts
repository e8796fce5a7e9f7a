// Commands on paths inside an image: ls, stat, cat, mkdir, rm. Each argument is done on its
// own: one that fails is reported and the rest still run, as ls(1) and rm(1) do.
import * as path from 'node:path';
import { DaxError } from '../errors';
import { Filesystem } from '../fs/filesystem';
import { Stats } from '../fs/stats';
import { formatSize, parseArgs } from './args';
import { Command } from './command';
import { imageTarget, Images, withImages } from './image';
import { at, report, withHint } from './report';

type ImageTarget = ReturnType<typeof imageTarget>;

/** Runs `fn` for every target with the image mounted; returns 1 if any of them failed. */
function eachTarget(command: string, texts: string[], writable: boolean,
                    fn: (fs: Filesystem, t: ImageTarget, images: Images) => void): number {
  const targets = texts.map(imageTarget);   // usage errors first, before anything is touched
  let status = 0;
  withImages((images) => {
    for (const t of targets) {
      try {
        at(t.text, () => fn(images.mount(t.image, writable), t, images));
      } catch (e) {
        status = Math.max(status, report(command, e));
      }
    }
  });
  return status;
}

function modeString(s: Stats): string {
  const bits = 'rwxrwxrwx';
  let out = s.isDirectory() ? 'd' : '-';
  for (let i = 0; i < 9; i++) out += s.mode & (0o400 >> i) ? bits[i] : '-';
  return out;
}

function date(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function longLine(s: Stats, name: string): string {
  return `${modeString(s)} ${String(s.nlink).padStart(3)} ${String(s.size).padStart(12)} ${date(s.mtimeMs)} ${name}`;
}

export const lsCommand: Command = {
  name: 'ls',
  summary: 'list a directory inside an image',
  help: `Usage: daxfs ls [-l] IMAGE:/DIR...

Lists the names in a directory, one a line, sorted (a file is listed by its own name).
'IMAGE:' alone is the root directory.

Options:
  -l, --long      mode, links, size in bytes, modification time, then the name

Example:
  daxfs ls -l disk.img:/`,
  run(argv) {
    const a = parseArgs(argv, { flags: { '-l': 'long', '--long': 'long' }, min: 1 });
    const long = a.flags.has('long');
    const many = a.positional.length > 1;
    let first = true;
    return eachTarget('ls', a.positional, false, (fs, t) => {
      const s = fs.stat(t.path);
      if (many) console.log(`${first ? '' : '\n'}${t.text}:`);
      first = false;
      if (!s.isDirectory()) {
        console.log(long ? longLine(s, path.posix.basename(t.path)) : path.posix.basename(t.path));
        return;
      }
      for (const name of fs.readdir(t.path)) {
        console.log(long ? longLine(fs.stat(path.posix.join(t.path, name)), name) : name);
      }
    });
  },
};

export const statCommand: Command = {
  name: 'stat',
  summary: 'show what the filesystem knows about a file or directory',
  help: `Usage: daxfs stat IMAGE:/PATH...

Prints the type, size, blocks, inode, links, mode, whether the file is DAX (its reads
and writes go straight to the image, no page cache) and its times.

Example:
  daxfs stat disk.img:/hello.txt`,
  run(argv) {
    const a = parseArgs(argv, { min: 1 });
    return eachTarget('stat', a.positional, false, (fs, t) => {
      const s = fs.stat(t.path);
      console.log([
        `  File: ${t.text}`,
        `  Type: ${s.isDirectory() ? 'directory' : 'regular file'}`,
        `  Size: ${s.size} (${formatSize(s.size)})`,
        `Blocks: ${s.blocks} (512-byte units; ${s.blocks / 8} blocks of 4 KiB)`,
        ` Inode: ${s.ino}`,
        ` Links: ${s.nlink}`,
        `  Mode: ${(s.mode & 0o7777).toString(8).padStart(4, '0')} (${modeString(s)})`,
        `   DAX: ${s.isDax ? 'yes' : 'no'}`,
        `Modify: ${new Date(s.mtimeMs).toISOString()}`,
        `Change: ${new Date(s.ctimeMs).toISOString()}`,
        ` Birth: ${new Date(s.birthtimeMs).toISOString()}`,
      ].join('\n'));
    });
  },
};

const CHUNK = 1 << 20;

export const catCommand: Command = {
  name: 'cat',
  summary: 'print files inside an image to stdout',
  help: `Usage: daxfs cat IMAGE:/FILE...

Writes the files' bytes to stdout, one after another, unchanged.

Example:
  daxfs cat disk.img:/hello.txt`,
  run(argv) {
    const a = parseArgs(argv, { min: 1 });
    return eachTarget('cat', a.positional, false, (fs, t) => {
      if (fs.stat(t.path).isDirectory()) {
        throw withHint(new DaxError('EISDIR', 'is a directory', { errno: -21, path: t.path }), `cat prints files; 'daxfs ls ${t.text}' lists a directory`);
      }
      const h = fs.open(t.path, 'r');
      try {
        const buf = Buffer.allocUnsafe(CHUNK);
        for (let at = 0; ;) {
          const n = h.read(buf, 0, CHUNK, at);
          if (n === 0) break;
          process.stdout.write(Buffer.from(buf.subarray(0, n)));   // a copy: the write may be queued
          at += n;
        }
      } finally {
        h.close();
      }
    });
  },
};

export const mkdirCommand: Command = {
  name: 'mkdir',
  summary: 'make directories inside an image',
  help: `Usage: daxfs mkdir [-p] IMAGE:/DIR...

Options:
  -p, --parents   make missing parent directories too; no error if the directory exists

Example:
  daxfs mkdir -p disk.img:/logs/2026`,
  run(argv) {
    const a = parseArgs(argv, { flags: { '-p': 'parents', '--parents': 'parents' }, min: 1 });
    return eachTarget('mkdir', a.positional, true, (fs, t) => fs.mkdir(t.path, { recursive: a.flags.has('parents') }));
  },
};

function removeTree(fs: Filesystem, p: string): void {
  if (!fs.stat(p).isDirectory()) {
    fs.unlink(p);
    return;
  }
  for (const name of fs.readdir(p)) removeTree(fs, path.posix.join(p, name));
  fs.rmdir(p);
}

export const rmCommand: Command = {
  name: 'rm',
  summary: 'remove files (and directories with -r) inside an image',
  help: `Usage: daxfs rm [-r] [-f] IMAGE:/PATH...

Removes files. A directory needs -r, which removes it and everything in it.

Options:
  -r, --recursive remove directories and their contents
  -f, --force     no error for paths that do not exist

Example:
  daxfs rm -r disk.img:/logs`,
  run(argv) {
    const a = parseArgs(argv, { flags: { '-r': 'recursive', '-R': 'recursive', '--recursive': 'recursive', '-f': 'force', '--force': 'force' }, min: 1 });
    return eachTarget('rm', a.positional, true, (fs, t) => {
      let s: Stats;
      try {
        s = fs.stat(t.path);
      } catch (e) {
        if (a.flags.has('force') && (e as DaxError).code === 'ENOENT') return;
        throw e;
      }
      if (!s.isDirectory()) return fs.unlink(t.path);
      if (!a.flags.has('recursive')) throw new DaxError('EISDIR', 'is a directory', { errno: -21, path: t.path });
      if (path.posix.resolve(t.path) === '/') {
        throw new DaxError('EBUSY', "refusing to remove the root directory; remove its entries, or start over with 'daxfs mkfs IMAGE --force'", { errno: -16, path: t.path });
      }
      removeTree(fs, t.path);
    });
  },
};
