// A mounted daxfs: paths, directories, files. On a DAX mount file data goes through
// lib/dax with this filesystem's getBlock, as ext2 hands ext2_get_block to the kernel's
// DAX code; otherwise through the page cache (lib/mm) with the same getBlock. Every
// metadata change is one journal transaction. Several DAX mounts of one device (worker
// threads) share it: state lives on the device, and every operation runs under the
// device's process-wide locks (lib/fs/locking), taken at the top of each method.
import { constants as bufferConstants } from 'node:buffer';
import { BlockDevice } from '../block';
import { ConvertUnwritten, daxIOAsync, DaxInode, GetBlock } from '../dax';
import { DaxError } from '../errors';
import { FileMapping, MappingRegistry } from '../mm';
import { platform } from '../platform';
import { checkBytes, checkSize, checkString } from '../validate';
import { BlockAllocator, InodeAllocator, ROOT_INODE } from './alloc';
import { allocateRange, allocationGoal, AllocateMode, markWritten, MAX_FILE_SIZE } from './allocate';
import { claimDevice, DeviceClaim } from './claim';
import { DataPath, dataPath } from './data';
import * as dir from './dir';
import { insert, lookup, remove } from './extents';
import { FileHandle } from './file';
import { OpenFlags, parseFlags } from './flags';
import { Inode, InodeTable, isDir, newInode, S_IFDIR, S_IFREG } from './inode';
import { Journal, Transaction } from './journal';
import { BLOCK_SIZE, Layout } from './layout';
import { DeviceLocks } from './locking';
import { metaIO, MetaIO } from './metaio';
import { MountOptions, parseMountOptions, Profile } from './mount';
import { FsPromises } from './promises';
import { Stats } from './stats';
import { DirectoryBlocks, journalArea } from './storage';
import { sendfile, splice } from './splice';
import { readSuperblock } from './superblock';

/** An error as node:fs words it: "ENOENT: no such file or directory, open '/x'". */
function fsError(code: string, errno: number, syscall: string, path: string, what: string): DaxError {
  const description = what.startsWith(`${code}: `) ? what.slice(code.length + 2) : what;
  return new DaxError(code, `${description}, ${syscall} '${path}'`, { errno: -errno, syscall, path });
}

const BUFFER_MAX = bufferConstants.MAX_LENGTH;

/** EFBIG past the largest file the extents can map (2^32 blocks), as the kernel's s_maxbytes. */
function checkFileSize(end: number, syscall: string): void {
  if (end > MAX_FILE_SIZE) {
    throw new DaxError('EFBIG', `file too large: ${end} bytes is past the largest daxfs file (${MAX_FILE_SIZE} bytes), ${syscall}`, { errno: -27, syscall });
  }
}

/** Inodes kept parsed for I/O per mount (dropped all at once when full: a bound, not an LRU). */
const IO_INODE_CACHE = 4096;

/** A file as reads, writes and faults see it: the inode parsed at journal sequence `seq`
 *  (-1: not cached), and what they hand the data path for it, made on first use and kept
 *  with the inode (an object and two closures per call showed as garbage-collection work). */
interface IoFile {
  seq: number;
  readonly inode: Inode;
  dax: DaxInode | null;
  getBlock: GetBlock | null;
  convert: ConvertUnwritten | null;
}

/** A DataView of the journal header's applied sequence number (f64 at byte 8), in place. */
function appliedView(device: BlockDevice, journalStart: number): DataView | null {
  const at = journalStart + 8;
  if (!device.supportsDax || at % 512 + 8 > 512) return null;
  const sector = Math.floor(at / 512) & ~7;   // page aligned, as directAccess wants
  const { addr } = device.directAccess(sector, 4096);
  const from = at - sector * 512;
  return new DataView(addr.buffer, addr.byteOffset + from, 8);
}

/** True when [position, position+length) of the file lay wholly in written blocks (so a
 *  write there filled no hole and converted no unwritten block). */
function written(inode: Inode, position: number, length: number): boolean {
  const end = Math.ceil((position + length) / BLOCK_SIZE);
  for (let b = Math.floor(position / BLOCK_SIZE); b < end;) {
    const l = lookup(inode.extents, b, end - b);
    if (!l.mapped || l.unwritten) return false;
    b += l.count;
  }
  return true;
}

interface Resolved {
  parent: number;     // directory holding the last component
  name: string;       // last component ('' for the root)
  ino: number | null; // null when it does not exist
}

export interface Statfs {
  blockSize: number;
  blocks: number;
  freeBlocks: number;
  files: number;
  freeFiles: number;
}

export class Filesystem {
  readonly dax: boolean;
  readonly profile: Profile;
  readonly readOnly: boolean;
  readonly device: BlockDevice;
  readonly #io: MetaIO;
  readonly #data: DataPath;   // daxIO or the page cache, chosen at mount
  readonly #layout: Layout;
  readonly #journal: Journal;
  // DAX mounts: the journal's applied sequence number, read in place (see #ioFile).
  readonly #applied: DataView | null;
  readonly #ioFiles = new Map<number, IoFile>();
  readonly #blocks: BlockAllocator;
  readonly #inodes: InodeAllocator;
  readonly #table: InodeTable;
  readonly #handles = new Set<FileHandle>();
  readonly #claim: DeviceClaim;
  // Also counts open handles per inode across the process (unlinked files live on).
  readonly #locks: DeviceLocks;
  // Other workers share only DAX mounts (a page-cache mount holds its device alone).
  readonly #mappings = new MappingRegistry((ino, event) => { if (this.dax) this.#locks.viewEvents(ino, event); });
  #mounted = true;
  // mtime and ctime as writeAt stores them in place (two little-endian f64).
  readonly #timesBytes = new Uint8Array(16);
  readonly #times = new DataView(this.#timesBytes.buffer);
  #promises: FsPromises | undefined;

  private constructor(device: BlockDevice, o: Required<MountOptions>, claim: DeviceClaim) {
    this.device = device;
    this.dax = o.dax;
    this.profile = o.profile;
    this.readOnly = o.readOnly;
    this.#claim = claim;
    this.#locks = new DeviceLocks(claim.domain);
    this.#io = metaIO(device);
    this.#data = dataPath(device, o.dax);
    const { superblock } = readSuperblock(this.#io);
    this.#layout = superblock.layout;
    using _meta = this.#locks.metadata(true);   // a worker's mount may be committing
    const area = journalArea(this.#layout);
    this.#journal = Journal.open(this.#io, area);   // replays a crash's leftovers
    this.#applied = o.dax ? appliedView(device, area.start) : null;
    this.#blocks = new BlockAllocator(this.#io, this.#layout);
    this.#inodes = new InodeAllocator(this.#io, this.#layout);
    this.#table = new InodeTable(this.#layout, this.#blocks);
  }

  static mount(device: BlockDevice, options?: string | MountOptions): Filesystem {
    const o = parseMountOptions(options);
    if (o.dax) {
      const p = platform();
      if (!p.daxSupported) {
        throw new DaxError('EOPNOTSUPP', `DAX is not supported on ${p.arch}: its caches are virtually mapped, so the kernel's view of the storage and a user mapping are not coherent`, { errno: -95, syscall: 'mount' });
      }
      if (!device.supportsDax) {
        throw new DaxError('EINVAL', `${device.name} has no direct access (it cannot map its storage byte by byte); mount it without dax`, { errno: -22, syscall: 'mount' });
      }
      if (p.pageSize !== BLOCK_SIZE) {
        throw new DaxError('EINVAL', `DAX needs the block size (${BLOCK_SIZE}) to equal the page size (${p.pageSize} here); mount without dax`, { errno: -22, syscall: 'mount' });
      }
    }
    // DAX mounts share the device; a mount without dax keeps a page cache, so it needs the
    // device alone in the process. Another process never gets it.
    const claim = claimDevice(device, !o.dax, 'mount');
    try {
      return new Filesystem(device, o, claim);
    } catch (e) {
      claim.release();
      throw e;
    }
  }

  // --- helpers ------------------------------------------------------------------------------

  #live(syscall: string): void {
    if (!this.#mounted) throw new DaxError('EBADF', `the filesystem is unmounted (${syscall})`, { errno: -9, syscall });
  }

  #writable(syscall: string, path: string): void {
    this.#live(syscall);
    if (this.readOnly) throw fsError('EROFS', 30, syscall, path, 'EROFS: read-only file system');
  }

  #dirOf(ino: number): DirectoryBlocks {
    return new DirectoryBlocks(ino, this.#table, this.#blocks);
  }

  /** A transaction that is only read through (never committed). */
  #view(): Transaction {
    return this.#journal.begin();
  }

  /** Reads an inode: through `tx` (whose holder has the metadata lock), or under the lock. */
  inode(ino: number, tx?: Transaction): Inode {
    if (tx) return this.#table.read(tx, ino);
    using _meta = this.#locks.metadata(false);
    return this.#table.read(this.#view(), ino);
  }

  /**
   * The inode as reads, writes and faults need it (size and extents; not the times, which
   * are stored in place without a commit). Every change of size or extents is a journal
   * commit, which advances the applied sequence number on the device after it has written
   * the inode; so an inode parsed at sequence S is still the truth while the device says S,
   * in every worker of the process (they share the memory). A hit costs one load instead of
   * a lock, a copy and a checksum.
   */
  #ioFile(ino: number): IoFile {
    if (this.#applied) {
      const hit = this.#ioFiles.get(ino);
      if (hit && hit.seq === this.#applied.getFloat64(0, true)) return hit;
    }
    using _meta = this.#locks.metadata(false);
    const inode = this.#table.read(this.#view(), ino);
    const file: IoFile = { seq: -1, inode, dax: null, getBlock: null, convert: null };
    if (this.#applied) {
      if (this.#ioFiles.size >= IO_INODE_CACHE) this.#ioFiles.clear();
      file.seq = this.#applied.getFloat64(0, true);
      this.#ioFiles.set(ino, file);
    }
    return file;
  }

  // What a read, write or fault hands the data path, made once per cached inode.
  #ioDax(f: IoFile): DaxInode {
    return f.dax ??= this.#daxInode(f.inode);
  }

  #ioBlocks(f: IoFile): GetBlock {
    return f.getBlock ??= this.#dataGetBlock(f.inode);
  }

  #ioConvert(f: IoFile): ConvertUnwritten {
    return f.convert ??= this.#convert(f.inode.ino);
  }

  #resolve(path: string, syscall: string): Resolved {
    checkString(path, 'path');
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    const tx = this.#view();
    const stack: number[] = [ROOT_INODE];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const last = i === parts.length - 1;
      const here = stack[stack.length - 1];
      if (Buffer.byteLength(part) > dir.MAX_NAME) throw fsError('ENAMETOOLONG', 36, syscall, path, 'ENAMETOOLONG: name too long');
      if (part === '..') {
        if (stack.length > 1) stack.pop();
        if (last) return { parent: stack[stack.length - 1], name: '', ino: stack[stack.length - 1] };
        continue;
      }
      if (!isDir(this.#table.read(tx, here))) throw fsError('ENOTDIR', 20, syscall, path, 'ENOTDIR: not a directory');
      const entry = dir.lookup(tx, this.#dirOf(here), part);
      if (last) return { parent: here, name: part, ino: entry ? entry.ino : null };
      if (!entry) throw fsError('ENOENT', 2, syscall, path, 'ENOENT: no such file or directory');
      stack.push(entry.ino);
    }
    return { parent: ROOT_INODE, name: '', ino: stack[stack.length - 1] };
  }

  #existing(path: string, syscall: string): number {
    const r = this.#resolve(path, syscall);
    if (r.ino === null) throw fsError('ENOENT', 2, syscall, path, 'ENOENT: no such file or directory');
    return r.ino;
  }

  /** Frees an inode with no links and no open handles: its blocks, extent block, number. */
  #reclaim(tx: Transaction, inode: Inode): void {
    this.#data.forget(inode.ino);   // cached pages of freed blocks must never be written back
    for (const e of inode.extents) this.#blocks.free(tx, e.deviceBlock, e.length);
    this.#table.clear(tx, inode);
    this.#inodes.free(tx, inode.ino);
  }

  #dropLink(tx: Transaction, ino: number): void {
    const inode = this.#table.read(tx, ino);
    inode.nlink = isDir(inode) ? 0 : inode.nlink - 1;
    inode.ctimeMs = Date.now();
    if (inode.nlink === 0 && this.#locks.openCount(ino, 0) === 0) this.#reclaim(tx, inode);
    else this.#table.write(tx, inode);
  }

  // --- directories ------------------------------------------------------------------------

  stat(path: string): Stats {
    this.#live('stat');
    using _meta = this.#locks.metadata(false);
    return new Stats(this.inode(this.#existing(path, 'stat')), this.dax);
  }

  mkdir(path: string, options?: { recursive?: boolean }): void {
    this.#writable('mkdir', path);
    using _meta = this.#locks.metadata(true);
    if (options?.recursive) {
      const parts = path.split('/').filter((p) => p !== '' && p !== '.');
      for (let i = 1; i <= parts.length; i++) {
        const sub = '/' + parts.slice(0, i).join('/');
        const r = this.#resolve(sub, 'mkdir');
        if (r.ino === null) this.#mkdirOne(sub, r);
        else if (!isDir(this.inode(r.ino))) throw fsError('ENOTDIR', 20, 'mkdir', path, 'ENOTDIR: not a directory');
      }
      return;
    }
    const r = this.#resolve(path, 'mkdir');
    if (r.ino !== null) throw fsError('EEXIST', 17, 'mkdir', path, 'EEXIST: file already exists');
    this.#mkdirOne(path, r);
  }

  #mkdirOne(path: string, r: Resolved): void {
    const tx = this.#journal.begin();
    const parent = this.#table.read(tx, r.parent);
    if (!isDir(parent)) throw fsError('ENOTDIR', 20, 'mkdir', path, 'ENOTDIR: not a directory');
    const ino = this.#inodes.allocate(tx, r.parent);
    const now = Date.now();
    this.#table.write(tx, newInode(ino, S_IFDIR | 0o755, now, 1));
    dir.initDirectory(tx, this.#dirOf(ino));
    dir.insert(tx, this.#dirOf(r.parent), { name: r.name, ino, type: 'dir' });
    const p = this.#table.read(tx, r.parent);
    p.nlink += 1;
    p.mtimeMs = p.ctimeMs = now;
    this.#table.write(tx, p);
    this.#journal.commit(tx);
  }

  readdir(path: string): string[] {
    this.#live('scandir');
    using _meta = this.#locks.metadata(false);
    const ino = this.#existing(path, 'scandir');
    const tx = this.#view();
    if (!isDir(this.#table.read(tx, ino))) throw fsError('ENOTDIR', 20, 'scandir', path, 'ENOTDIR: not a directory');
    return dir.list(tx, this.#dirOf(ino)).map((e) => e.name).sort();
  }

  unlink(path: string): void {
    this.#writable('unlink', path);
    using _meta = this.#locks.metadata(true);
    const r = this.#resolve(path, 'unlink');
    if (r.ino === null) throw fsError('ENOENT', 2, 'unlink', path, 'ENOENT: no such file or directory');
    const tx = this.#journal.begin();
    if (isDir(this.#table.read(tx, r.ino))) throw fsError('EISDIR', 21, 'unlink', path, 'EISDIR: illegal operation on a directory');
    dir.remove(tx, this.#dirOf(r.parent), r.name);
    this.#touchDir(tx, r.parent);
    this.#dropLink(tx, r.ino);
    this.#journal.commit(tx);
  }

  rmdir(path: string): void {
    this.#writable('rmdir', path);
    using _meta = this.#locks.metadata(true);
    const r = this.#resolve(path, 'rmdir');
    if (r.ino === null) throw fsError('ENOENT', 2, 'rmdir', path, 'ENOENT: no such file or directory');
    if (r.ino === ROOT_INODE || r.name === '') throw fsError('EBUSY', 16, 'rmdir', path, 'EBUSY: resource busy or locked');
    const tx = this.#journal.begin();
    if (!isDir(this.#table.read(tx, r.ino))) throw fsError('ENOTDIR', 20, 'rmdir', path, 'ENOTDIR: not a directory');
    if (!dir.isEmpty(tx, this.#dirOf(r.ino))) throw fsError('ENOTEMPTY', 39, 'rmdir', path, 'ENOTEMPTY: directory not empty');
    dir.remove(tx, this.#dirOf(r.parent), r.name);
    const p = this.#touchDir(tx, r.parent);
    p.nlink -= 1;
    this.#table.write(tx, p);
    this.#dropLink(tx, r.ino);
    this.#journal.commit(tx);
  }

  #touchDir(tx: Transaction, ino: number): Inode {
    const d = this.#table.read(tx, ino);
    d.mtimeMs = d.ctimeMs = Date.now();
    this.#table.write(tx, d);
    return d;
  }

  /** Renames atomically; an existing target is replaced in the same transaction. */
  rename(from: string, to: string): void {
    this.#writable('rename', from);
    using _meta = this.#locks.metadata(true);
    const a = this.#resolve(from, 'rename');
    if (a.ino === null) throw fsError('ENOENT', 2, 'rename', from, 'ENOENT: no such file or directory');
    const b = this.#resolve(to, 'rename');
    if (a.name === '' || b.name === '') throw fsError('EBUSY', 16, 'rename', from, 'EBUSY: resource busy or locked');
    if (b.ino === a.ino) return;
    const tx = this.#journal.begin();
    const moving = this.#table.read(tx, a.ino);
    if (isDir(moving) && this.#isAncestor(tx, a.ino, b.parent)) {
      throw fsError('EINVAL', 22, 'rename', from, 'EINVAL: invalid argument (a directory cannot move into itself)');
    }
    if (b.ino !== null) {
      const target = this.#table.read(tx, b.ino);
      if (isDir(target) && !isDir(moving)) throw fsError('EISDIR', 21, 'rename', to, 'EISDIR: illegal operation on a directory');
      if (!isDir(target) && isDir(moving)) throw fsError('ENOTDIR', 20, 'rename', to, 'ENOTDIR: not a directory');
      if (isDir(target) && !dir.isEmpty(tx, this.#dirOf(b.ino))) throw fsError('ENOTEMPTY', 39, 'rename', to, 'ENOTEMPTY: directory not empty');
    }
    dir.remove(tx, this.#dirOf(a.parent), a.name);
    const type = isDir(moving) ? 'dir' : 'file';
    const old = dir.replace(tx, this.#dirOf(b.parent), { name: b.name, ino: a.ino, type });
    if (isDir(moving) && a.parent !== b.parent) {
      const pa = this.#table.read(tx, a.parent);
      pa.nlink -= 1;
      this.#table.write(tx, pa);
      const pb = this.#table.read(tx, b.parent);
      pb.nlink += 1;
      this.#table.write(tx, pb);
    }
    if (old) {
      if (isDir(this.#table.read(tx, old.ino))) {
        const pb = this.#table.read(tx, b.parent);
        pb.nlink -= 1;
        this.#table.write(tx, pb);
      }
      this.#dropLink(tx, old.ino);
    }
    this.#touchDir(tx, a.parent);
    if (b.parent !== a.parent) this.#touchDir(tx, b.parent);
    const m = this.#table.read(tx, a.ino);
    m.ctimeMs = Date.now();
    this.#table.write(tx, m);
    this.#journal.commit(tx);
  }

  /** True when directory `ancestor` is `ino` or lies above it. Directories keep no parent
   *  pointer, so this walks down from the root. */
  #isAncestor(tx: Transaction, ancestor: number, ino: number): boolean {
    if (ancestor === ino) return true;
    const seen = new Set<number>();
    const walk = (d: number): boolean => {
      if (seen.has(d)) return false;
      seen.add(d);
      for (const e of dir.list(tx, this.#dirOf(d))) {
        if (e.type !== 'dir') continue;
        if (e.ino === ino) return true;
        if (walk(e.ino)) return true;
      }
      return false;
    };
    return walk(ancestor);
  }

  // --- files ----------------------------------------------------------------------------------

  open(path: string, flags?: string | number, mode = 0o666): FileHandle {
    const f = parseFlags(flags);
    this.#live('open');
    if ((f.write || f.create || f.truncate) && this.readOnly) throw fsError('EROFS', 30, 'open', path, 'EROFS: read-only file system');
    const { ino, truncate } = this.#openInode(path, f, mode);
    const handle = new FileHandle(this, ino, f, path);
    this.#handles.add(handle);
    if (truncate) {
      // After the metadata lock is dropped: truncate takes the file's lock first.
      try {
        this.truncateIno(ino, 0);
      } catch (e) {
        handle.close();
        throw e;
      }
    }
    return handle;
  }

  /** Finds or creates the file and counts the handle being opened, under the lock. */
  #openInode(path: string, f: OpenFlags, mode: number): { ino: number; truncate: boolean } {
    using _meta = this.#locks.metadata(true);
    const r = this.#resolve(path, 'open');
    let ino = r.ino;
    let truncate = false;
    if (ino !== null && f.create && f.exclusive) throw fsError('EEXIST', 17, 'open', path, 'EEXIST: file already exists');
    if (ino === null) {
      if (!f.create) throw fsError('ENOENT', 2, 'open', path, 'ENOENT: no such file or directory');
      if (r.name === '') throw fsError('EISDIR', 21, 'open', path, 'EISDIR: illegal operation on a directory');
      const tx = this.#journal.begin();
      if (!isDir(this.#table.read(tx, r.parent))) throw fsError('ENOTDIR', 20, 'open', path, 'ENOTDIR: not a directory');
      ino = this.#inodes.allocate(tx, r.parent);
      this.#table.write(tx, newInode(ino, S_IFREG | (mode & 0o7777), Date.now(), 1));
      dir.insert(tx, this.#dirOf(r.parent), { name: r.name, ino, type: 'file' });
      this.#touchDir(tx, r.parent);
      this.#journal.commit(tx);
    } else {
      const inode = this.inode(ino);
      if (isDir(inode) && (f.write || f.truncate)) throw fsError('EISDIR', 21, 'open', path, 'EISDIR: illegal operation on a directory');
      truncate = f.truncate && f.write && inode.size > 0;
    }
    this.#locks.openCount(ino, 1);
    return { ino, truncate };
  }

  /** Called by FileHandle.close(). */
  release(handle: FileHandle): void {
    this.#handles.delete(handle);
    this.#unref(handle.ino);
  }

  /** Drops an open reference (counted across the process: a worker's handle counts too);
   *  the last one of an unlinked file frees its storage. */
  #unref(ino: number): void {
    using _meta = this.#locks.metadata(true);
    if (this.#locks.openCount(ino, -1) > 0) return;
    if (!this.#mounted || this.readOnly) return;
    const tx = this.#journal.begin();
    const inode = this.#table.read(tx, ino);
    if (inode.nlink === 0) {   // unlinked while open: its storage goes with the last close
      this.#reclaim(tx, inode);
      this.#journal.commit(tx);
    }
  }

  truncate(path: string, length: number): void {
    this.#writable('truncate', path);
    checkSize(length, 'length');
    const ino = this.#hold(path, 'truncate');
    try {
      this.truncateIno(ino, length);
    } finally {
      this.#unref(ino);
    }
  }

  /** The file at `path`, counted as open so that no unlink frees it (and no create reuses
   *  its number) while the caller works outside the metadata lock. */
  #hold(path: string, syscall: string): number {
    using _meta = this.#locks.metadata(true);
    const ino = this.#existing(path, syscall);
    if (isDir(this.inode(ino))) throw fsError('EISDIR', 21, syscall, path, 'EISDIR: illegal operation on a directory');
    this.#locks.openCount(ino, 1);
    return ino;
  }

  /** Internal (lib/fs/promises.ts): the file's process-wide lock if it can be had without
   *  waiting, else null. */
  tryLockInode(ino: number, exclusive: boolean): Disposable | null {
    return this.#locks.tryInode(ino, exclusive);
  }

  /** Sets the size: blocks past the new end are freed (also preallocated ones when the size
   *  does not change, as on Linux), the rest of the last page zeroed. */
  truncateIno(ino: number, length: number): void {
    checkFileSize(length, 'ftruncate');
    // A promise read or write may be copying to or from this file's blocks off the main
    // thread: freeing them now could hand them to another file mid-copy.
    if (this.#promises?.copying(ino)) {
      throw new DaxError('EBUSY', `inode ${ino} has promise reads or writes in flight; await them before truncating`, { errno: -16, syscall: 'ftruncate' });
    }
    using _file = this.#locks.inode(ino, true);   // no read or write copies meanwhile
    using _meta = this.#locks.metadata(true);
    const tx = this.#journal.begin();
    const inode = this.#table.read(tx, ino);
    if (length <= inode.size) {
      this.#mappings.truncated(ino, length);   // before the blocks can be reused
      // Zero the tail of the new last page first: if the file grows again, it reads zeros.
      this.#data.truncate(this.#daxInode(inode), length, this.getBlock(ino));
      const keep = Math.ceil(length / BLOCK_SIZE);
      const { extents, freed } = remove(inode.extents, keep, Infinity);
      for (const [start, count] of freed) this.#blocks.free(tx, start, count);
      inode.blocks -= freed.reduce((n, [, c]) => n + c, 0);
      inode.extents = extents;
    }
    inode.size = length;
    inode.mtimeMs = inode.ctimeMs = Date.now();
    this.#table.write(tx, inode);
    this.#journal.commit(tx);
  }

  #daxInode(inode: Inode): DaxInode {
    return { ino: inode.ino, size: inode.size, device: this.device };
  }

  /**
   * The getBlock lib/dax calls for file `ino`. With create, a hole gets blocks that are
   * zeroed and fenced before the transaction that links them commits, so no crash and no
   * reader ever sees what they held before.
   */
  getBlock(ino: number): GetBlock {
    return (_inode, block, count, create) => {
      using _meta = this.#locks.metadata(create);
      const tx = this.#journal.begin();
      const inode = this.#table.read(tx, ino);
      const l = lookup(inode.extents, block, count);
      if (l.mapped || !create) return { mapped: l.mapped, block: l.deviceBlock, count: l.count, new: false, unwritten: l.unwritten };
      if (this.readOnly) throw new DaxError('EROFS', 'read-only file system', { errno: -30 });
      const got = this.#blocks.allocate(tx, allocationGoal(inode.extents, block, ino, this.#layout.dataStart), l.count);
      this.#data.zeroBlocks(got.start, got.count);
      inode.extents = insert(inode.extents, { fileBlock: block, length: got.count, deviceBlock: got.start, unwritten: false });
      inode.blocks += got.count;
      this.#table.write(tx, inode);
      this.#journal.commit(tx);
      return { mapped: true, block: got.start, count: got.count, new: false, unwritten: false };
    };
  }

  /** lib/dax's convert callback: data written into unwritten blocks is durable, mark them written. */
  #convert(ino: number): ConvertUnwritten {
    return (_inode, block, count) => {
      using _meta = this.#locks.metadata(true);
      markWritten(this.#journal, this.#table, ino, block, count);
    };
  }

  /** fallocate (lib/fs/allocate.ts): `mode` over [offset, offset+length), arguments checked. */
  allocateIno(ino: number, offset: number, length: number, mode: AllocateMode, path: string): void {
    this.#writable('fallocate', path);
    using _file = this.#locks.inode(ino, true);   // no read, write or fault meanwhile
    if (isDir(this.inode(ino))) throw fsError('EISDIR', 21, 'fallocate', path, 'EISDIR: illegal operation on a directory');
    if (mode === 'punch-hole' || mode === 'zero-range') {
      this.#mappings.removed(ino, offset, length);
      this.#data.invalidate(ino, offset, length);
    }
    using _meta = this.#locks.metadata(true);
    allocateRange({
      journal: this.#journal, table: this.#table, blocks: this.#blocks, dataStart: this.#layout.dataStart,
      zeroInPlace: (inode, from, n) => this.#zeroInPlace(inode, from, n),
    }, ino, offset, length, mode);
  }

  /** Zeroes bytes of one file block in place, durably: the one data write of allocate. A
   *  page-cache mount would zero its cached page here instead. */
  #zeroInPlace(inode: Inode, from: number, length: number): void {
    this.#data.zeroRange(this.#daxInode(inode), from, length, this.getBlock(inode.ino));
  }

  /**
   * getBlock for one read, write or fault whose inode was just read: lookups are answered
   * from that inode (no second read and checksum of it per call), allocation goes to
   * getBlock(ino), which reads the inode again inside its transaction.
   */
  #ioGetBlock(inode: Inode): GetBlock {
    let slow: GetBlock | undefined;
    return (dax, block, count, create) => {
      const l = lookup(inode.extents, block, count);
      if (l.mapped || !create) return { mapped: l.mapped, block: l.deviceBlock, count: l.count, new: false, unwritten: l.unwritten };
      return (slow ??= this.getBlock(inode.ino))(dax, block, count, create);
    };
  }

  /** The getBlock a read or write hands the data path: answered from the inode just read on
   *  a DAX mount; the live one for the page cache, which keeps it for a later writeback. */
  #dataGetBlock(inode: Inode): GetBlock {
    return this.dax ? this.#ioGetBlock(inode) : this.getBlock(inode.ino);
  }

  /** `direct`: O_DIRECT (on a non-DAX mount, sector-aligned and past the page cache). */
  readAt(ino: number, buffer: Uint8Array, position: number, direct = false): number {
    // try/finally rather than `using` on the two hot paths: lowered for Node 20, `using`
    // becomes helper calls and allocations that cost a tenth of a 4 KiB write.
    const lock = this.#locks.inode(ino, false);
    try {
      const f = this.#ioFile(ino);
      return this.#data.read(this.#ioDax(f), buffer, position, this.#ioBlocks(f), direct);
    } finally {
      lock[Symbol.dispose]();
    }
  }

  /** Writes at `position`; durable on return on a DAX mount, after a sync otherwise. A size
   *  change is one more transaction. */
  writeAt(ino: number, buffer: Uint8Array, position: number, direct = false): number {
    checkFileSize(position + buffer.byteLength, 'write');
    const { lock, file } = this.#lockForWrite(ino, position + buffer.byteLength);
    try {   // not `using`: see readAt
      const n = this.#data.write(this.#ioDax(file), buffer, position, this.#ioBlocks(file), direct, this.#ioConvert(file));
      return this.#wrote(ino, file.inode, position, n);
    } finally {
      lock[Symbol.dispose]();
    }
  }

  /**
   * readAt with the copy off the main thread when it is large (the caller holds the file's
   * in-process promise lock). The blocks are resolved under the file's native lock; on a
   * mount without dax the page cache does the work on the main thread.
   */
  async readAtAsync(ino: number, buffer: Uint8Array, position: number): Promise<number> {
    if (!this.dax) return this.readAt(ino, buffer, position);
    let copy: Promise<number>;
    {
      using _file = this.#locks.inode(ino, false);
      const f = this.#ioFile(ino);
      copy = daxIOAsync('read', this.#ioDax(f), position, buffer, this.#ioBlocks(f));
    }
    return copy;
  }

  /** writeAt with the copy off the main thread when it is large (see readAtAsync). */
  async writeAtAsync(ino: number, buffer: Uint8Array, position: number): Promise<number> {
    if (!this.dax) return this.writeAt(ino, buffer, position);
    checkFileSize(position + buffer.byteLength, 'write');
    let copy: Promise<number>;
    let file: IoFile;
    {
      const locked = this.#lockForWrite(ino, position + buffer.byteLength);
      using _file = locked.lock;
      file = locked.file;
      copy = daxIOAsync('write', this.#ioDax(file), position, buffer, this.#ioBlocks(file), this.#ioConvert(file));
    }
    const n = await copy;
    this.#live('write');   // unmount() refuses while promises are in flight; this is the backstop
    using _file = this.#lockForWrite(ino, position + n).lock;
    return this.#wrote(ino, file.inode, position, n);
  }

  /** After `n` bytes were written at `position`: stale zero-page views, the size and times. */
  #wrote(ino: number, inode: Inode, position: number, n: number): number {
    // Zero-page views of filled holes are stale (a write within written blocks filled none).
    this.#mappings.wrote(ino, position, n, this.dax && n > 0 && !written(inode, position, n));
    const now = Date.now();
    if (position + n > inode.size) {
      using _meta = this.#locks.metadata(true);
      const tx = this.#journal.begin();
      const fresh = this.#table.read(tx, ino);
      fresh.size = Math.max(fresh.size, position + n);
      fresh.mtimeMs = fresh.ctimeMs = now;
      this.#table.write(tx, fresh);
      this.#journal.commit(tx);
    } else if (inode.mtimeMs !== now || inode.ctimeMs !== now) {
      // As the kernel's file_update_time: a write in the millisecond of the last one stores
      // nothing (`inode` is the copy #ioFile keeps, so it learns the times stored here).
      this.#touch(ino, now);
      inode.mtimeMs = inode.ctimeMs = now;
    }
    return n;
  }

  /** mtime and ctime: outside the inode checksum, one store, durable with the next fence.
   *  The 16 bytes are staged in a buffer kept for this (no allocation per write). */
  #touch(ino: number, now = Date.now()): void {
    // No metadata lock: the caller holds the file open and locked, and two stores of times
    // racing (or a commit rewriting the inode) can only leave one of the times.
    this.#times.setFloat64(0, now, true);
    this.#times.setFloat64(8, now, true);
    this.#io.write(this.#table.timesOffset(ino), this.#timesBytes);
  }

  /** Called by FileHandle.mmap (arguments checked there): a mapping of file `ino`, onto the
   *  device on a DAX mount, onto page-cache pages otherwise. */
  mapFile(ino: number, offset: number, length: number, options: { write: boolean; private: boolean }): FileMapping {
    this.#live('mmap');
    const mapping: FileMapping = new FileMapping({
      ino, profile: this.profile,
      snapshot: () => {
        const f = this.#ioFile(ino);
        // The page cache keeps the getBlock for writeback: it must be the live one.
        return { inode: this.#ioDax(f), getBlock: this.#ioBlocks(f) };
      },
      pages: this.#data.pages,
      getBlock: this.getBlock(ino),
      convert: this.#convert(ino),   // a write fault into an allocate()d block makes it written
      touch: () => this.#touch(ino),
      filled: (page, count) => this.#mappings.wrote(ino, page * BLOCK_SIZE, count * BLOCK_SIZE),
      // Other workers' changes: only DAX mounts are shared (a page-cache mount holds its
      // device alone, and its own registry revokes what its changes make stale).
      viewEvents: this.dax ? this.#locks.viewEventsReader(ino) : undefined,
      forget: (m) => this.#mappings.remove(ino, m),
      lock: () => this.#locks.inode(ino, false),
    }, offset, length, { ...options, readOnly: this.readOnly });
    this.#mappings.add(ino, mapping);
    return mapping;
  }

  /** O_APPEND: writes at the end of file, found under the file's exclusive lock, so appends
   *  from two workers never land on the same bytes. Returns where it wrote and how much. */
  appendAt(ino: number, buffer: Uint8Array, direct = false): { position: number; bytes: number } {
    using _file = this.#locks.inode(ino, true);
    const position = this.#ioFile(ino).inode.size;
    return { position, bytes: this.writeAt(ino, buffer, position, direct) };
  }

  /** A file's lock for a write ending at `end`, and the inode read under it: shared, or
   *  exclusive when the write grows the file (a size change must not meet a read or write
   *  copy). */
  #lockForWrite(ino: number, end: number): { lock: Disposable; file: IoFile } {
    const shared = this.#locks.inode(ino, false);
    let file: IoFile;
    try {
      file = this.#ioFile(ino);
    } catch (e) {
      shared[Symbol.dispose]();
      throw e;
    }
    if (end <= file.inode.size) return { lock: shared, file };
    shared[Symbol.dispose]();
    const lock = this.#locks.inode(ino, true);
    try {
      return { lock, file: this.#ioFile(ino) };
    } catch (e) {
      lock[Symbol.dispose]();
      throw e;
    }
  }


  /** sendfile(2): `count` bytes of `input` from `position` to `out` at its position (lib/fs/splice.ts). */
  sendfile(out: FileHandle, input: FileHandle, position: number, count: number): number {
    this.#live('sendfile');
    return sendfile({ dax: this.dax, profile: this.profile, owns: (h) => this.#handles.has(h) }, out, input, position, count);
  }

  /** splice(2) of `input` from `position` into `target` (lib/fs/splice.ts). */
  splice(input: FileHandle, position: number, target: Uint8Array, count: number): number {
    this.#live('splice');
    return splice({ dax: this.dax, profile: this.profile, owns: (h) => this.#handles.has(h) }, input, position, target, count);
  }

  readFile(path: string): Buffer {
    const h = this.open(path, 'r');
    try {
      const size = h.stat().size;
      if (size > BUFFER_MAX) {   // a sparse file can be larger than any Buffer: node:fs's error
        const err = new RangeError(`File size (${size}) is greater than ${BUFFER_MAX} bytes`);
        Object.defineProperty(err, 'code', { value: 'ERR_FS_FILE_TOO_LARGE', enumerable: true });
        throw err;
      }
      const out = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const n = h.read(out, done, size - done, done);
        if (n === 0) break;
        done += n;
      }
      return out.subarray(0, done);
    } finally {
      h.close();
    }
  }

  writeFile(path: string, data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : checkBytes(data, 'data') as Uint8Array;
    const h = this.open(path, 'w');
    try {
      let done = 0;
      while (done < bytes.byteLength) done += h.write(bytes, done, bytes.byteLength - done, done);
    } finally {
      h.close();
    }
  }

  statfs(): Statfs {
    this.#live('statfs');
    using _meta = this.#locks.metadata(false);
    return {
      blockSize: BLOCK_SIZE, blocks: this.#layout.blocks, freeBlocks: this.#blocks.freeBlocks(),
      files: this.#layout.inodeCount, freeFiles: this.#inodes.freeInodes(),
    };
  }

  sync(): void {
    this.#live('sync');
    this.#data.sync();
    this.#io.barrier();
  }

  /** fsync of one file: its data written back (non-DAX), everything before ordered. */
  syncFile(ino: number): void {
    this.#live('fsync');
    this.#data.sync(ino);
    this.#io.barrier();
  }

  /** The same operations returning Promises, as node:fs/promises (lib/fs/promises.ts). */
  get promises(): FsPromises {
    return this.#promises ??= new FsPromises(this);
  }

  /** Closes every handle; later use of the filesystem or its handles gives EBADF. EBUSY
   *  while promise operations are in flight: await them, or use promises.unmount(). */
  unmount(): void {
    if (!this.#mounted) return;
    if (this.#promises?.pending) {
      throw new DaxError('EBUSY', `${this.#promises.pending} promise operations are in flight; await them or use promises.unmount()`, { errno: -16, syscall: 'umount' });
    }
    this.#mappings.unmapAll();
    for (const h of [...this.#handles]) h.close();
    this.#data.sync();
    this.#data.close();
    this.#io.barrier();
    this.#mounted = false;
    this.#claim.release();
  }

  get mounted(): boolean {
    return this.#mounted;
  }
}
