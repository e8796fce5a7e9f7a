// Stats as node:fs shapes them, where the names overlap.
import { Inode, S_IFDIR, S_IFMT, S_IFREG } from './inode';

export class Stats {
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly size: number;
  /** 512-byte units, as node:fs reports them. */
  readonly blocks: number;
  readonly blksize = 4096;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  /** S_DAX: a regular file on a DAX mount (directories never are). */
  readonly isDax: boolean;

  constructor(inode: Inode, dax: boolean) {
    this.ino = inode.ino;
    this.mode = inode.mode;
    this.nlink = inode.nlink;
    this.size = inode.size;
    this.blocks = inode.blocks * 8;
    this.atimeMs = inode.atimeMs;
    this.mtimeMs = inode.mtimeMs;
    this.ctimeMs = inode.ctimeMs;
    this.birthtimeMs = inode.birthtimeMs;
    this.isDax = dax && (inode.mode & S_IFMT) === S_IFREG;
  }

  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }

  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
}
