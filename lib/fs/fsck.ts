// fsck: checks every invariant of a daxfs device and, with repair, fixes what is safe.
//
// Invariants: a valid superblock (primary, or the backup), an applied journal, every
// directory block valid, every entry naming an allocated inode of the right type, link
// counts equal to the references, inode block counts equal to their extents (unwritten ones
// included: they are allocated), no block used twice or used while free, no inode or block
// allocated but unreachable, and summary counts equal to the bitmaps. A file's extents may
// end before its size (a hole) or reach past it (preallocation with 'keep-size'); only
// directories never have unwritten extents.
import { BlockDevice } from '../block';
import { DaxError } from '../errors';
import { checkFunction, checkOptions } from '../validate';
import { BlockAllocator, InodeAllocator, ROOT_INODE } from './alloc';
import { claimDevice } from './claim';
import * as dir from './dir';
import { Inode, InodeTable, isDir } from './inode';
import { Journal, Transaction } from './journal';
import { BLOCK_SIZE, BLOCKS_PER_GROUP, Layout } from './layout';
import { DeviceLocks } from './locking';
import { metaIO, MetaIO } from './metaio';
import { OnProgress, ProgressReporter } from './progress';
import { DirectoryBlocks, journalArea } from './storage';
import { readSuperblock, writeSuperblocks } from './superblock';

export interface FsckOptions {
  repair?: boolean;
  /** Called as the check goes (units: inodes walked and block groups checked), at most
   *  about 100 times; `done` never falls and, when fsck returns, the last call had
   *  done === total. Not called when fsck stops early (no superblock, or a journal to
   *  replay without repair). */
  onProgress?: OnProgress;
}

export interface FsckResult {
  clean: boolean;
  /** A crash left a committed journal transaction that is not applied yet: not corruption,
   *  but nothing else was checked. A mount, or fsck with repair, replays it. */
  needsRecovery: boolean;
  problems: string[];
  repaired: string[];
}

/** The message (and CLI line) for an image whose journal still has to be replayed. */
export const NEEDS_RECOVERY = 'needs recovery: the journal holds a committed transaction that is not applied yet (mount, or fsck with repair, replays it)';

interface Walk {
  inodes: Map<number, Inode>;
  links: Map<number, number>;          // references found (directory entries; dirs: + '.' + subdirs' '..')
  owner: Map<number, number>;          // device block -> inode that uses it
  markedFree: number[];                // blocks a file uses that the bitmap marks free
  badCounts: Array<[number, number]>;  // (inode, blocks its extents map) where the count differs
  extraLinks: Array<{ parent: number; name: string; child: number }>;   // second names of directories
  shared: Map<number, Set<number>>;    // inode -> its blocks an inode walked earlier already uses
  // False when an inode or a directory could not be read: then some owners are unknown, and
  // a block no known file uses may still be someone's data, so leaks are not freed.
  complete: boolean;
}

function walkTree(tx: Transaction, table: InodeTable, blocks: BlockAllocator, layout: Layout, problems: string[],
                  visited: () => void): Walk {
  const w: Walk = { inodes: new Map(), links: new Map([[ROOT_INODE, 1]]), owner: new Map(), markedFree: [], badCounts: [], extraLinks: [], shared: new Map(), complete: true };
  const claim = (ino: number, block: number, count: number) => {
    for (let b = block; b < block + count; b++) {
      if (b < layout.dataStart || b >= layout.backupSuperblock) {
        problems.push(`inode ${ino} uses block ${b}, which belongs to the filesystem's own metadata`);
        continue;
      }
      const other = w.owner.get(b);
      if (other !== undefined) {
        problems.push(`block ${b} is used by inode ${other} and by inode ${ino}`);
        if (other !== ino) {
          const set = w.shared.get(ino) ?? new Set<number>();
          w.shared.set(ino, set.add(b));
        }
      } else w.owner.set(b, ino);
      if (!blocks.isAllocated(b)) {
        problems.push(`block ${b} of inode ${ino} is marked free in the bitmap`);
        w.markedFree.push(b);
      }
    }
  };
  const queue = [ROOT_INODE];
  const linkedDirs = new Set([ROOT_INODE]);   // directories a name (the root: the superblock) already links
  while (queue.length) {
    const ino = queue.shift()!;
    if (w.inodes.has(ino)) continue;
    visited();
    let inode: Inode;
    try {
      inode = table.read(tx, ino);
    } catch (e) {
      problems.push(`inode ${ino}: ${(e as Error).message}`);
      w.complete = false;
      continue;
    }
    w.inodes.set(ino, inode);
    const mapped = inode.extents.reduce((n, e) => n + e.length, 0);
    if (mapped !== inode.blocks) {
      problems.push(`inode ${ino} counts ${inode.blocks} blocks but its extents map ${mapped}`);
      w.badCounts.push([ino, mapped]);
    }
    for (const e of inode.extents) claim(ino, e.deviceBlock, e.length);
    if (isDir(inode) && inode.extents.some((e) => e.unwritten)) problems.push(`directory inode ${ino} has unwritten extents`);
    if (inode.extentBlock) claim(ino, inode.extentBlock, 1);
    if (!isDir(inode)) continue;
    const store = new DirectoryBlocks(ino, table, blocks);
    for (const p of dir.check(tx, store)) {
      problems.push(`directory inode ${ino}: ${p}`);
      w.complete = false;
    }
    w.links.set(ino, (w.links.get(ino) ?? 0) + 1);   // its own '.'
    let entries: dir.DirEntry[] = [];
    try {
      entries = dir.list(tx, store);
    } catch (e) {
      problems.push(`directory inode ${ino}: ${(e as Error).message}`);
      w.complete = false;
    }
    for (const e of entries) {
      if (e.type === 'dir') {
        // A directory has one name. A second entry for it (a cycle, when it names an
        // ancestor) is not counted as a link: repair removes it, and the counts then hold.
        if (linkedDirs.has(e.ino)) {
          problems.push(`directory inode ${e.ino} is linked more than once`);
          w.extraLinks.push({ parent: ino, name: e.name, child: e.ino });
          continue;
        }
        linkedDirs.add(e.ino);
        w.links.set(ino, (w.links.get(ino) ?? 0) + 1);   // the child's '..'
      }
      w.links.set(e.ino, (w.links.get(e.ino) ?? 0) + 1);
      queue.push(e.ino);
    }
  }
  return w;
}

/**
 * Frees the blocks of group `g` that are marked used but belong to no file, no orphan (its
 * release frees those) and no metadata; returns how many. A run the allocator refuses to
 * free (the group's summary is off, say) is left for the summary recount and the next fsck.
 */
function freeLeaked(tx: Transaction, blocks: BlockAllocator, layout: Layout, g: number,
                    owner: Map<number, number>, orphanBlocks: Set<number>): number {
  const lo = Math.max(g * BLOCKS_PER_GROUP, layout.dataStart);
  const hi = Math.min((g + 1) * BLOCKS_PER_GROUP, layout.backupSuperblock);
  let freed = 0;
  let start = -1;
  const flush = (end: number) => {
    if (start < 0) return;
    try {
      blocks.free(tx, start, end - start);
      freed += end - start;
    } catch { /* left as it was */ }
    start = -1;
  };
  for (let b = lo; b < hi; b++) {
    const leaked = !owner.has(b) && !orphanBlocks.has(b) && blocks.isAllocated(b, tx);
    if (leaked && start < 0) start = b;
    if (!leaked) flush(b);
  }
  flush(hi);
  return freed;
}

/**
 * Inode `ino` uses blocks that an inode walked before it uses too: each of its extents
 * holding such a block moves to newly allocated blocks holding a copy of its data, so both
 * files keep what they read now and no block has two owners. The blocks of those extents
 * that were its own are freed when every owner is known (`owner`; null: an unreadable inode
 * may use them too, so they stay allocated). Returns the blocks copied (0 when it could not:
 * the problem stays reported, and blocks this left allocated are the next repair's leaks).
 */
function cloneShared(tx: Transaction, io: MetaIO, table: InodeTable, blocks: BlockAllocator, ino: number,
                     shared: Set<number>, owner: Map<number, number> | null): number {
  let copied = 0;
  try {
    const inode = table.read(tx, ino);
    const extents: Inode['extents'] = [];
    const own: number[] = [];
    for (const e of inode.extents) {
      let touches = false;
      for (let b = e.deviceBlock; b < e.deviceBlock + e.length; b++) if (shared.has(b)) touches = true;
      if (!touches) { extents.push(e); continue; }
      for (let done = 0; done < e.length;) {
        const run = blocks.allocate(tx, e.deviceBlock + done, e.length - done);
        io.write(run.start * BLOCK_SIZE, io.read((e.deviceBlock + done) * BLOCK_SIZE, run.count * BLOCK_SIZE));
        extents.push({ fileBlock: e.fileBlock + done, length: run.count, deviceBlock: run.start, unwritten: e.unwritten });
        done += run.count;
        copied += run.count;
      }
      if (owner) for (let b = e.deviceBlock; b < e.deviceBlock + e.length; b++) if (owner.get(b) === ino) own.push(b);
    }
    inode.extents = extents;
    table.write(tx, inode);
    for (const b of own) {
      try { blocks.free(tx, b, 1); } catch { /* already free: nothing to give back */ }
    }
  } catch {
    return 0;
  }
  return copied;
}

/**
 * Checks (and with repair fixes) the filesystem on `device`. EBUSY when another process
 * has the device; inside the process a check runs beside DAX mounts (under their metadata
 * lock, so it sees no half-done operation), a repair only when nothing has it mounted.
 */
export function fsck(device: BlockDevice, options?: FsckOptions): FsckResult {
  const o = checkOptions<FsckOptions>(options, 'options');
  const repair = o.repair === true;
  const progress = new ProgressReporter(checkFunction<OnProgress>(o.onProgress, 'options.onProgress'));
  const claim = claimDevice(device, repair, 'fsck');
  try {
    using _meta = new DeviceLocks(claim.domain).metadata(true);
    const result = check(device, repair, progress);
    progress.finish();
    return result;
  } finally {
    claim.release();
  }
}

function check(device: BlockDevice, repair: boolean, progress: ProgressReporter): FsckResult {
  const problems: string[] = [];
  const repaired: string[] = [];
  const io: MetaIO = metaIO(device);
  let sbRead;
  try {
    sbRead = readSuperblock(io);
  } catch (e) {
    return { clean: false, needsRecovery: false, problems: [(e as DaxError).message], repaired };
  }
  const layout = sbRead.superblock.layout;
  if (sbRead.source === 'backup') {
    problems.push(...sbRead.problems);
    if (repair) {
      writeSuperblocks(io, sbRead.superblock);
      io.barrier();
      repaired.push('rewrote the primary superblock from the backup');
    }
  }
  const area = journalArea(layout);
  let pending: boolean;
  try {
    pending = Journal.inspect(io, area).pending;
  } catch (e) {   // a damaged journal header is a finding, not a reason to stop with an error
    problems.push((e as DaxError).message);
    return { clean: false, needsRecovery: false, problems, repaired };
  }
  if (pending) {
    // Checking the tree now would report the half-applied state as damage: say what it is.
    if (!repair) return { clean: false, needsRecovery: true, problems, repaired };
    repaired.push('replayed the journal');
  }
  const journal = Journal.open(io, area);   // replays a pending transaction (repair only reaches here then)
  const inodes = new InodeAllocator(io, layout);
  const allocated = inodes.allocatedInodes();   // one pass over the inode bitmap, as replayed
  progress.start(allocated.length + layout.groups);
  const blocks = new BlockAllocator(io, layout);
  const table = new InodeTable(layout, blocks);
  const tx = journal.begin();
  const walkProblems: string[] = [];
  let walked = 0;
  const w = walkTree(tx, table, blocks, layout, walkProblems, () => { if (walked++ < allocated.length) progress.advance(1); });
  progress.advance(Math.max(0, allocated.length - walked));
  problems.push(...walkProblems);

  // Link counts.
  const fixLinks: Array<[number, number]> = [];
  for (const [ino, inode] of w.inodes) {
    const want = w.links.get(ino) ?? 0;
    if (inode.nlink !== want) {
      problems.push(`inode ${ino} has link count ${inode.nlink} but ${want} references`);
      fixLinks.push([ino, want]);
    }
  }

  // Inodes allocated but unreachable (orphans), reachable but free.
  // Only inodes set in the bitmap or reached by the walk can be either, in inode order.
  const orphans: number[] = [];
  const inBitmap = new Set(allocated);
  const candidates = [...new Set([...allocated, ...w.inodes.keys()])]
    .filter((ino) => ino >= ROOT_INODE && ino < layout.inodeCount).sort((a, b) => a - b);
  const unmarked: number[] = [];
  for (const ino of candidates) {
    const marked = inBitmap.has(ino);
    if (marked && !w.inodes.has(ino)) { orphans.push(ino); problems.push(`inode ${ino} is allocated but no directory links it`); }
    if (!marked && w.inodes.has(ino)) { unmarked.push(ino); problems.push(`inode ${ino} is linked but marked free in the inode bitmap`); }
  }
  // The blocks of the orphans (repair releases them with the orphan), and whether every
  // owner of a block is known: otherwise no leaked block is freed.
  const orphanBlocks = new Set<number>();
  let ownersKnown = w.complete;
  for (const ino of orphans) {
    try {
      const inode = table.read(tx, ino);
      for (const e of inode.extents) for (let b = e.deviceBlock; b < e.deviceBlock + e.length; b++) orphanBlocks.add(b);
      if (inode.extentBlock) orphanBlocks.add(inode.extentBlock);
    } catch {
      ownersKnown = false;
    }
  }

  // Blocks allocated but unreferenced, per group (the bitmap against what the walk found),
  // and summary counts against the bitmaps.
  const usedByFiles = new Array<number>(layout.groups).fill(0);
  for (const b of w.owner.keys()) usedByFiles[Math.floor(b / BLOCKS_PER_GROUP)]++;
  const badSummary: number[] = [];
  const leakyGroups: number[] = [];
  for (let g = 0; g < layout.groups; g++) {
    progress.advance(1);
    const { bitmapFree, summaryFree } = blocks.countGroup(g);
    if (bitmapFree !== summaryFree) {
      problems.push(`block group ${g}: the summary counts ${summaryFree} free blocks, the bitmap ${bitmapFree}`);
      badSummary.push(g);
    }
    const lo = g * BLOCKS_PER_GROUP;
    const hi = Math.min(lo + BLOCKS_PER_GROUP, layout.blocks);
    const metadata = Math.max(0, Math.min(hi, layout.dataStart) - lo) + (layout.backupSuperblock >= lo && layout.backupSuperblock < hi ? 1 : 0);
    const allocated = (hi - lo) - bitmapFree;
    let ofOrphans = 0;
    for (const b of orphanBlocks) if (b >= lo && b < hi) ofOrphans++;
    const leaked = allocated - metadata - usedByFiles[g] - ofOrphans;
    if (leaked > 0) {
      problems.push(`block group ${g}: ${leaked} blocks are allocated but used by no file`);
      leakyGroups.push(g);
    }
  }

  const fixable = fixLinks.length + orphans.length + badSummary.length + w.badCounts.length + w.markedFree.length + w.extraLinks.length + w.shared.size +
    unmarked.length + (ownersKnown ? leakyGroups.length : 0);
  if (repair && fixable > 0) {
    const fix = journal.begin();
    for (const ino of orphans) {
      try {
        const inode = table.read(fix, ino);
        for (const e of inode.extents) blocks.free(fix, e.deviceBlock, e.length);
        table.clear(fix, inode);
      } catch { /* unreadable: the number alone is released */ }
      inodes.free(fix, ino);
      repaired.push(`released orphan inode ${ino} and its blocks`);
    }
    for (const [ino, want] of fixLinks) {
      const inode = table.read(fix, ino);
      inode.nlink = want;
      table.write(fix, inode);
      repaired.push(`set the link count of inode ${ino} to ${want}`);
    }
    // The walk kept the first name of each directory (breadth first: the one nearest the
    // root, so a cycle's back link is the one that goes); the others are removed.
    for (const { parent, name, child } of w.extraLinks) {
      try {
        dir.remove(fix, new DirectoryBlocks(parent, table, blocks), name);
        repaired.push(`removed the entry ${JSON.stringify(name)} of directory inode ${parent}: a second name of directory inode ${child}`);
      } catch { /* the directory could not be changed: the problem stays reported */ }
    }
    for (const [ino, mapped] of w.badCounts) {
      const inode = table.read(fix, ino);
      inode.blocks = mapped;
      table.write(fix, inode);
      repaired.push(`set the block count of inode ${ino} to ${mapped}, what its extents map`);
    }
    // A block a file uses but the bitmap calls free would be handed out again: mark it.
    for (const b of w.markedFree) {
      blocks.markAllocated(fix, b);
      repaired.push(`marked block ${b} used (a file uses it)`);
    }
    for (const ino of unmarked) {
      inodes.markAllocated(fix, ino);
      repaired.push(`marked inode ${ino} used (a directory links it)`);
    }
    if (ownersKnown) {
      for (const g of leakyGroups) {
        const freed = freeLeaked(fix, blocks, layout, g, w.owner, orphanBlocks);
        if (freed) repaired.push(`freed ${freed} leaked blocks of group ${g} (allocated, used by no file)`);
      }
    }
    // After the leak pass, which would take the copies (no file uses them yet) for leaks.
    for (const [ino, shared] of w.shared) {
      const copied = cloneShared(fix, io, table, blocks, ino, shared, ownersKnown ? w.owner : null);
      if (copied) repaired.push(`gave inode ${ino} its own copy of ${copied} blocks another inode also used`);
    }
    io.barrier();   // the copies are durable before the commit makes the inodes point at them
    journal.commit(fix);
    for (const g of badSummary) {
      const { bitmapFree } = blocks.countGroup(g);
      const b = Buffer.alloc(4);
      b.writeUInt32LE(bitmapFree, 0);
      io.write(layout.summaryStart * BLOCK_SIZE + g * 4, b);
      repaired.push(`recounted the free blocks of group ${g}`);
    }
    io.barrier();
  }
  return { clean: problems.length === 0, needsRecovery: false, problems, repaired };
}
