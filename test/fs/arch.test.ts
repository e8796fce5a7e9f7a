// Architecture policy at mount time: DAX is refused where caches are virtually mapped (the
// seed's kernel turned it off on ARM, MIPS and SPARC); a plain mount is not affected.
// DAXFS_ARCH is read once at load, so each architecture runs in its own child process.
import { ChildResult, describeChild, lastJson, runChildAsync } from '../helpers/child';

// Mounts a fresh ram device with 'dax' and without; prints what each did.
const SCRIPT = `
const { mkfs } = require(path.join(${JSON.stringify(__dirname)}, '../../dist/fs/mkfs'));
const attempt = (options) => {
  const dev = daxfs.devices.ram(8 << 20);
  mkfs(dev);
  try { daxfs.mount(dev, options).unmount(); return { ok: true }; }
  catch (e) { return { code: e.code, errno: e.errno, syscall: e.syscall, message: e.message }; }
  finally { dev.close(); }
};
out({ dax: attempt('dax'), plain: attempt(undefined), daxSupported: daxfs.platform().daxSupported });`;

type Attempt = { ok?: true; code?: string; errno?: number; syscall?: string; message?: string };
type Result = { dax: Attempt; plain: Attempt; daxSupported: boolean };

const ARCHES = ['arm', 'mips', 'mipsel', 'sparc', 'arm64', 'x64'];
const results = new Map<string, Result>();
let native: Result;

beforeAll(async () => {
  const runs: ChildResult[] = await Promise.all([...ARCHES.map((a) => runChildAsync(SCRIPT, { DAXFS_ARCH: a })), runChildAsync(SCRIPT)]);
  runs.forEach((r, i) => {
    if (r.status !== 0) throw new Error(describeChild(r));
    const v = lastJson<Result>(r);
    if (i < ARCHES.length) results.set(ARCHES[i], v); else native = v;
  });
}, 120000);

test.each(['arm', 'mips', 'mipsel', 'sparc'])("mount 'dax' on %s fails with EOPNOTSUPP saying why", (arch) => {
  const r = results.get(arch)!;
  expect(r.daxSupported).toBe(false);
  expect(r.dax).toMatchObject({ code: 'EOPNOTSUPP', errno: -95, syscall: 'mount' });
  expect(r.dax.message).toContain(`DAX is not supported on ${arch}`);
  expect(r.dax.message).toMatch(/virtually mapped/);
});

// Until the page cache is merged a plain mount fails everywhere with EOPNOTSUPP ("needs the
// page cache"): the rule checked here is that the architecture changes nothing about it.
test.each(['arm', 'mips', 'mipsel', 'sparc'])('a plain mount on %s is not refused for the architecture', (arch) => {
  const r = results.get(arch)!;
  expect(r.plain).toEqual(native.plain);
  expect(r.plain.message ?? '').not.toMatch(/virtually mapped|not supported on/);
});

test.each(['arm64', 'x64'])("mount 'dax' works on %s", (arch) => {
  expect(results.get(arch)).toMatchObject({ daxSupported: true, dax: { ok: true } });
});

test('without DAXFS_ARCH the real architecture decides (DAX works here)', () => {
  expect(native).toMatchObject({ daxSupported: true, dax: { ok: true } });
});
