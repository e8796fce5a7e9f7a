// The filesystem as a user reaches it: through the package's entry point only.
import * as daxfs from '../../lib';

const MiB = 1024 * 1024;

test('mkfs, mount, fsck and the filesystem types are reachable from the package entry', () => {
  const dev = daxfs.devices.ram(8 * MiB);
  daxfs.mkfs(dev, { label: 'entry' });
  const fs: daxfs.Filesystem = daxfs.mount(dev, 'dax');
  expect(fs.dax).toBe(true);
  expect(fs.profile).toBe('linux-4.0');
  fs.mkdir('/logs/2026', { recursive: true });
  fs.writeFile('/logs/2026/a.log', 'hello');
  const h: daxfs.FileHandle = fs.open('/logs/2026/a.log', 'r');
  const st: daxfs.Stats = h.stat();
  expect(st.size).toBe(5);
  expect(st.isDax).toBe(true);
  h.close();
  const sf: daxfs.Statfs = fs.statfs();
  expect(sf.blockSize).toBe(4096);
  expect(sf.freeBlocks).toBeLessThan(sf.blocks);
  fs.unmount();
  const report: daxfs.FsckResult = daxfs.fsck(dev);
  expect(report).toMatchObject({ clean: true, problems: [] });
  expect(daxfs.mount(dev, { dax: true, readOnly: true }).readFile('/logs/2026/a.log').toString()).toBe('hello');
  dev.close();
});

test('mount of a device without a filesystem fails with EUCLEAN, not a crash', () => {
  const dev = daxfs.devices.ram(8 * MiB);
  expect(() => daxfs.mount(dev, 'dax')).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
  dev.close();
});
