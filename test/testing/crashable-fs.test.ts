// testing.crashable under the filesystem: images taken in the middle of writeFile (at fences
// reported by onFence) and after it all mount and pass fsck, and a completed writeFile is durable.
import { testing, PmemMapping } from '../../lib';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { fsck } from '../../lib/fs/fsck';
import { mkfs } from '../../lib/fs/mkfs';
import { mapAnonymous } from '../../lib/pmem';

const MiB = 1024 * 1024;

interface Checked { fence: number; problems: string[]; files: string[]; content?: Buffer }

/** Mounts a crash image (the mount replays the journal), runs fsck, lists '/' and reads `name`. */
function check(image: PmemMapping, fence: number, name: string): Checked {
  const dev = devices.pmem(image);
  try {
    Filesystem.mount(dev, 'dax').unmount();
    const problems = fsck(dev).problems;
    const f = Filesystem.mount(dev, 'dax');
    const files = f.readdir('/');
    const content = files.includes(name) ? f.readFile(`/${name}`) : undefined;
    f.unmount();
    return { fence, problems, files, content };
  } finally {
    dev.close();
    image.close();
  }
}

test('every crash image taken at fences during writeFile mounts with a clean fsck, and after it returns the file is durable', () => {
  const data = Buffer.alloc(40000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
  let capturing = false;
  const results: Checked[] = [];
  const m = testing.crashable(mapAnonymous(16 * MiB), {
    // Images in the middle of the operation, both modes (the hardware may evict any line).
    onFence: (count) => {
      if (!capturing) return;
      results.push(check(m.crash(), count, 'file'));
      results.push(check(m.crash({ mode: 'random', seed: count }), count, 'file'));
    },
  });
  const dev = devices.pmem(m);
  try {
    mkfs(dev);
    const f = Filesystem.mount(dev, 'dax');
    capturing = true;
    const before = m.fences;
    f.writeFile('/file', data);
    capturing = false;
    expect(m.fences).toBeGreaterThan(before);          // writeFile fenced at least once
    const last = check(m.crash(), m.fences, 'file');    // crash right after it returned
    expect(last.problems).toEqual([]);
    expect(last.content?.equals(data)).toBe(true);
    f.unmount();
  } finally {
    dev.close();
    m.close();
  }
  expect(results.length).toBeGreaterThan(2);
  // The images really are taken mid-operation: some before the data is durable, some after.
  expect(results.some((r) => !r.content?.equals(data))).toBe(true);
  expect(results.some((r) => r.content?.equals(data))).toBe(true);
  for (const r of results) {
    expect({ fence: r.fence, problems: r.problems }).toEqual({ fence: r.fence, problems: [] });
    // In flight, the file is absent or a prefix of the data (never other bytes).
    if (r.content) expect(data.subarray(0, r.content.length).equals(r.content)).toBe(true);
  }
});
