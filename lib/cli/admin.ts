// Commands on a whole image: mkfs, fsck, df.
import * as fs from 'node:fs';
import { fsck, NEEDS_RECOVERY } from '../fs/fsck';
import { mkfs } from '../fs/mkfs';
import { formatSize, parseArgs, parseSize, UsageError } from './args';
import { Command, table } from './command';
import { createDevice, imageArgument, openDevice, OpenDevice, withImages } from './image';
import { withProgress } from './progress';
import { at } from './report';

const MIN_SIZE = 4 * 2 ** 20;     // lib/fs needs 4 MiB
const MAX_LABEL = 64;             // bytes the superblock keeps

export const mkfsCommand: Command = {
  name: 'mkfs',
  summary: 'make a daxfs filesystem on an image file (created sparse) or a device-DAX node',
  help: `Usage: daxfs mkfs IMAGE [--size SIZE] [--label LABEL] [--force]

Makes a new, empty daxfs filesystem. IMAGE is an image file, created sparse (it takes
disk space only as files are written), or a device-DAX node such as /dev/dax0.0, used whole.

Options:
  --size SIZE     image size: bytes, or with K, M, G, T (powers of 1024); at least 4M;
                  default 64M. Not for devices, which have their own size.
  --label LABEL   a name for the filesystem, up to ${MAX_LABEL} bytes
  -f, --force     overwrite an image that is not empty (or a device whose first block holds
                  data); without it mkfs refuses, so existing data is never lost by accident

Example:
  daxfs mkfs disk.img --size 64M --label scratch`,
  run(argv) {
    const a = parseArgs(argv, { flags: { '-f': 'force', '--force': 'force' }, values: { '--size': 'size', '--label': 'label' }, min: 1, max: 1 });
    const image = imageArgument(a.positional[0]);
    const size = a.values.has('size') ? parseSize(a.values.get('size')!, '--size') : undefined;
    if (size !== undefined && size < MIN_SIZE) throw new UsageError(`--size ${a.values.get('size')} is too small: a daxfs filesystem needs at least 4M`);
    const label = a.values.get('label') ?? '';
    if (Buffer.byteLength(label) > MAX_LABEL) throw new UsageError(`--label is ${Buffer.byteLength(label)} bytes; at most ${MAX_LABEL} fit`);
    const existed = fs.existsSync(image);
    return at(image, () => {
      let dev: OpenDevice | undefined;
      try {
        dev = createDevice(image, { size, force: a.flags.has('force') });
        const { device } = dev;
        withProgress(`mkfs ${image}`, (onProgress) => mkfs(device, { label, onProgress }));
      } catch (e) {
        dev?.close();
        if (!existed) fs.rmSync(image, { force: true });   // leave nothing half-made behind
        throw e;
      }
      dev.close();
      const s = withImages((images) => images.mount(image, false).statfs());
      console.log(`${image}: daxfs, ${formatSize(s.blocks * s.blockSize)}, ${s.blocks} blocks of ${s.blockSize / 1024} KiB, ` +
        `${s.files} inodes${label ? `, label '${label}'` : ''}`);
      return 0;
    });
  },
};

export const fsckCommand: Command = {
  name: 'fsck',
  summary: 'check an image (and repair it with --repair)',
  help: `Usage: daxfs fsck IMAGE [--repair]

Checks every invariant of the filesystem: superblocks, the journal, directories, link
counts, block and inode bitmaps. Lists each problem found.

Options:
  --repair        fix what is safe to fix (replay the journal, rewrite the primary
                  superblock from its backup, release orphans, fix link and free counts),
                  then check again

Exit status: 0 clean (after --repair: clean now), 1 problems remain, or the image needs
recovery: then it says "needs recovery" (a crash left a journal transaction to replay,
which is no damage; nothing else was checked: run with --repair, or mount it, to replay
it). 2 usage errors.

Example:
  daxfs fsck disk.img`,
  run(argv) {
    const a = parseArgs(argv, { flags: { '--repair': 'repair' }, min: 1, max: 1 });
    const image = imageArgument(a.positional[0]);
    const repair = a.flags.has('repair');
    return at(image, () => {
      const dev = openDevice(image);
      try {
        const check = (fix: boolean) => withProgress(`fsck ${image}`, (onProgress) => fsck(dev.device, { repair: fix, onProgress }));
        const first = check(repair);
        if (first.clean) {   // with --repair, maybe after replaying the journal
          for (const r of first.repaired) console.log(`  repaired: ${r}`);
          console.log(`${image}: clean${first.repaired.length ? ' after repair' : ''}`);
          return 0;
        }
        if (first.needsRecovery) {   // not corruption: what a crash leaves
          console.log(`${image}: ${NEEDS_RECOVERY}`);
          for (const p of first.problems) console.log(`  ${p}`);
          console.log(`Run 'daxfs fsck ${image} --repair' to replay it and check the rest.`);
          return 1;   // not done, as for problems (2 is usage); the message says which
        }
        console.log(`${image}: ${first.problems.length} problem${first.problems.length === 1 ? '' : 's'}`);
        for (const p of first.problems) console.log(`  ${p}`);
        if (!repair) {
          console.log(`Run 'daxfs fsck ${image} --repair' to fix what can be fixed.`);
          return 1;
        }
        for (const r of first.repaired) console.log(`  repaired: ${r}`);
        const again = check(false);
        if (again.clean) {
          console.log(`${image}: clean after repair`);
          return 0;
        }
        console.log(`${image}: ${again.problems.length} problem${again.problems.length === 1 ? '' : 's'} remain after repair`);
        for (const p of again.problems) console.log(`  ${p}`);
        return 1;
      } finally {
        dev.close();
      }
    });
  },
};

export const dfCommand: Command = {
  name: 'df',
  summary: 'show the space and inodes used and free in images',
  help: `Usage: daxfs df IMAGE...

Prints each image's size, space used and free (4 KiB blocks; used includes the
filesystem's own metadata: journal, bitmaps, inode table) and inodes (files) in use and free.

Example:
  daxfs df disk.img`,
  run(argv) {
    const a = parseArgs(argv, { min: 1 });
    const rows = [['Image', 'Size', 'Used', 'Free', 'Use%', 'Blocks', 'Free blocks', 'Files', 'Free files']];
    for (const arg of a.positional) {
      const image = imageArgument(arg);
      const s = at(image, () => withImages((images) => images.mount(image, false).statfs()));
      const used = s.blocks - s.freeBlocks;
      rows.push([image, formatSize(s.blocks * s.blockSize), formatSize(used * s.blockSize), formatSize(s.freeBlocks * s.blockSize),
        `${Math.ceil((used / s.blocks) * 100)}%`, String(s.blocks), String(s.freeBlocks), String(s.files - s.freeFiles), String(s.freeFiles)]);
    }
    console.log(table(rows));
    return 0;
  },
};
