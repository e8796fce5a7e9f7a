// The one place where the integration suite learns which real pmem it may use.
//
//   DAXFS_TEST_PMEM_DIR     a directory on a filesystem mounted -o dax (ext4 or xfs on /dev/pmemN)
//   DAXFS_TEST_DAX_DEVICE   a device-DAX node (/dev/daxX.Y); its contents are overwritten
//   DAXFS_TEST_ALLOW_REMOUNT=1   (as root) tests may unmount and mount DAXFS_TEST_PMEM_DIR's filesystem
//   DAXFS_TEST_EXPECT_EADR  '1' or '0': what the machine is known to be (the VM runner sets it)
//   DAXFS_TEST_POWERFAIL_PHASE 'write' | 'verify', DAXFS_TEST_POWERFAIL_TOKEN: set by the VM runner
//
// A test file asks for a device with `onFsdax`, `onDevdax`, ... instead of `test`. When the
// device is not given, the test is skipped and the reason printed; when it is given but
// unusable (not a DAX mount, not a device-DAX node), the test fails with that reason, so a
// misconfigured machine never reads as a green run.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Target =
  | { available: true; path: string }
  | { available: false; misconfigured: boolean; reason: string };

export interface MountInfo {
  point: string;
  source: string;
  fstype: string;
  options: string[];      // per-mount and superblock options together
}

/** The mount holding `p` (the longest mount point that contains it), from /proc/self/mountinfo. */
export function mountOf(p: string): MountInfo | null {
  const real = fs.realpathSync(p);
  let best: MountInfo | null = null;
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    const point = unescape(l[4]);
    const inside = real === point || real.startsWith(point.endsWith('/') ? point : point + '/');
    if (inside && (!best || point.length >= best.point.length)) {
      best = { point, source: unescape(r[1]), fstype: r[0], options: [...l[5].split(','), ...(r[2] || '').split(',')] };
    }
  }
  return best;
}

/** Whether a mount uses DAX for its files: 'dax' or 'dax=always' (not 'dax=never'/'dax=inode'). */
export function isDaxMount(m: MountInfo): boolean {
  return m.options.includes('dax') || m.options.includes('dax=always');
}

function missing(variable: string, what: string): Target {
  return { available: false, misconfigured: false, reason: `${variable} is not set (${what}); see test/nvdimm/README.md` };
}

function bad(reason: string): Target {
  return { available: false, misconfigured: true, reason };
}

function pmemDirFromEnv(): Target {
  const dir = process.env.DAXFS_TEST_PMEM_DIR;
  if (!dir) return missing('DAXFS_TEST_PMEM_DIR', 'a directory on a filesystem mounted -o dax');
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    return bad(`DAXFS_TEST_PMEM_DIR=${dir}: ${(e as Error).message}`);
  }
  if (!st.isDirectory()) return bad(`DAXFS_TEST_PMEM_DIR=${dir} is not a directory`);
  const m = mountOf(dir);
  if (!m) return bad(`DAXFS_TEST_PMEM_DIR=${dir}: no mount found in /proc/self/mountinfo`);
  if (!isDaxMount(m)) {
    return bad(`DAXFS_TEST_PMEM_DIR=${dir} is on ${m.point} (${m.fstype}, ${m.options.join(',')}), which is not mounted -o dax`);
  }
  return { available: true, path: fs.realpathSync(dir) };
}

/** The repository (its package.json says daxfs): test files also run transpiled into
 *  build/nvdimm/it under the VM runner, so __dirname alone does not say where it is. */
export function repoRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'daxfs') return dir;
    } catch { /* not here */ }
  }
  throw new Error(`no daxfs package.json above ${__dirname}`);
}

/** sysfs directory of a character device (/sys/dev/char/MAJOR:MINOR, resolved). */
export function charDeviceSysfs(dev: string): string {
  const st = fs.statSync(dev);
  const major = Math.floor(st.rdev / 256) & 0xfff;        // Linux new_encode_dev: major in bits 8..19
  const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00));
  return fs.realpathSync(`/sys/dev/char/${major}:${minor}`);
}

function daxDeviceFromEnv(): Target {
  const dev = process.env.DAXFS_TEST_DAX_DEVICE;
  if (!dev) return missing('DAXFS_TEST_DAX_DEVICE', 'a device-DAX node such as /dev/dax0.0, whose contents the tests overwrite');
  let st: fs.Stats;
  try {
    st = fs.statSync(dev);
  } catch (e) {
    return bad(`DAXFS_TEST_DAX_DEVICE=${dev}: ${(e as Error).message}`);
  }
  if (!st.isCharacterDevice()) return bad(`DAXFS_TEST_DAX_DEVICE=${dev} is not a character device`);
  try {
    const subsystem = path.basename(fs.realpathSync(path.join(charDeviceSysfs(dev), 'subsystem')));
    if (subsystem !== 'dax') return bad(`DAXFS_TEST_DAX_DEVICE=${dev} is a ${subsystem} device, not device DAX`);
  } catch (e) {
    return bad(`DAXFS_TEST_DAX_DEVICE=${dev}: cannot read its sysfs entry: ${(e as Error).message}`);
  }
  return { available: true, path: dev };
}

function remountFromEnv(pmem: Target): Target {
  if (!pmem.available) return pmem.misconfigured ? pmem : missing('DAXFS_TEST_PMEM_DIR', 'needed to remount its filesystem');
  if (process.env.DAXFS_TEST_ALLOW_REMOUNT !== '1') {
    return missing('DAXFS_TEST_ALLOW_REMOUNT', `=1 lets the tests unmount and mount the filesystem of ${pmem.path}`);
  }
  if (process.getuid?.() !== 0) return bad('DAXFS_TEST_ALLOW_REMOUNT=1 needs root (mount and umount)');
  return pmem;
}

/** Where fsdax tests make their files. */
export const fsdax: Target = pmemDirFromEnv();
/** The device-DAX node the devdax tests map (and overwrite). */
export const devdax: Target = daxDeviceFromEnv();
/** DAXFS_TEST_PMEM_DIR, when the tests may also unmount and mount its filesystem. */
export const remountable: Target = remountFromEnv(fsdax);

/** '1' -> true, '0' -> false, unset -> null (not known: only compare with sysfs). */
export const expectEadr: boolean | null =
  process.env.DAXFS_TEST_EXPECT_EADR === '1' ? true : process.env.DAXFS_TEST_EXPECT_EADR === '0' ? false : null;

export type PowerFailPhase = 'write' | 'verify';
export const powerFail: { phase: PowerFailPhase; token: string } | { phase: null; reason: string } = (() => {
  const phase = process.env.DAXFS_TEST_POWERFAIL_PHASE;
  if (phase !== 'write' && phase !== 'verify') {
    return { phase: null, reason: 'DAXFS_TEST_POWERFAIL_PHASE is not set: the power-fail steps run only under the VM runner (npm run test:nvdimm)' };
  }
  return { phase, token: process.env.DAXFS_TEST_POWERFAIL_TOKEN || 'no-token' };
})();

const warned = new Set<string>();
function warnOnce(reason: string): void {
  if (warned.has(reason)) return;
  warned.add(reason);
  console.warn(`integration tests skipped: ${reason}`);
}

type Body = (target: string) => void | Promise<void>;

/** `test` on a target: runs with its path, skips with a printed reason, or fails if misconfigured. */
export function testOn(target: Target, name: string, body: Body, timeout?: number): void {
  if (target.available) {
    test(name, async () => {
      await body(target.path);
    }, timeout);
  } else if (target.misconfigured) {
    test(name, () => {
      throw new Error(target.reason);
    });
  } else {
    warnOnce(target.reason);
    test.skip(`${name} [skipped: ${target.reason}]`, () => undefined);
  }
}

export const onFsdax = (name: string, body: Body, timeout?: number) => testOn(fsdax, name, body, timeout);
export const onDevdax = (name: string, body: Body, timeout?: number) => testOn(devdax, name, body, timeout);
export const onRemountable = (name: string, body: Body, timeout?: number) => testOn(remountable, name, body, timeout);

/** The target of whichever pmem is given (fsdax first), for tests that need any. */
export const anyPmem: Target = fsdax.available || fsdax.misconfigured ? fsdax : devdax.available || devdax.misconfigured ? devdax : fsdax;
