// The seed's get_user_pages case: O_DIRECT from a file on a non-DAX mount into memory that is
// a DAX file mapping. The block layer must pin the user's pages, which the seed's kernel
// cannot do for DAX memory: EFAULT, and nothing moves.
import { constants } from 'node:fs';
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';
import { pattern } from '../helpers/tmp';

const P = 4096;
const MiB = 1024 * 1024;

function mounted(options: string): Filesystem {
  const dev = devices.ram(16 * MiB);
  mkfs(dev);
  return Filesystem.mount(dev, options);
}

function done(f: Filesystem): void {
  f.unmount();
  f.device.close();
}

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

describe.each(['linux-4.0', 'modern'])('O_DIRECT on a non-DAX file with DAX-mapped memory, profile=%s', (profile) => {
  let dax: Filesystem;
  let plain: Filesystem;
  let view: Buffer;
  beforeEach(() => {
    dax = mounted(`dax,profile=${profile}`);
    const h = dax.open('/mapped', 'w+');
    h.write(Buffer.alloc(2 * P, 0x11));
    view = h.mmap(0, 2 * P, { write: true }).view(0, 2 * P, 'write');
    plain = mounted('nodax');
    plain.writeFile('/data', pattern(2 * P, 3));
  });
  afterEach(() => { done(plain); done(dax); });

  test('a direct read into the view', () => {
    const h = plain.open('/data', constants.O_RDONLY | constants.O_DIRECT);
    if (profile === 'linux-4.0') {
      expect(codeOf(() => h.read(view, 0, 2 * P, 0))).toBe('EFAULT');
      expect(view.every((b) => b === 0x11)).toBe(true);            // nothing moved
    } else {
      expect(h.read(view, 0, 2 * P, 0)).toBe(2 * P);
      expect(view.equals(pattern(2 * P, 3))).toBe(true);
    }
  });

  test('a direct write from the view', () => {
    const h = plain.open('/data', constants.O_RDWR | constants.O_DIRECT);
    if (profile === 'linux-4.0') {
      expect(codeOf(() => h.write(view, 0, P, 0))).toBe('EFAULT');
      expect(plain.readFile('/data').equals(pattern(2 * P, 3))).toBe(true);   // unchanged
    } else {
      expect(h.write(view, 0, P, 0)).toBe(P);
      expect(plain.readFile('/data').subarray(0, P).every((b) => b === 0x11)).toBe(true);
    }
  });

  test('buffered reads and writes with the same memory work (a CPU copy, no pin)', () => {
    const h = plain.open('/data', 'r+');
    expect(h.read(view, 0, P, 0)).toBe(P);
    expect(view.subarray(0, P).equals(pattern(2 * P, 3).subarray(0, P))).toBe(true);
    expect(h.write(view, P, P, P)).toBe(P);
  });

  test('direct I/O of a DAX file copies with the CPU, so DAX-mapped memory works there', () => {
    const h = dax.open('/other', constants.O_RDWR | constants.O_CREAT | constants.O_DIRECT);
    expect(h.write(view, 0, P, 0)).toBe(P);
    expect(h.read(view, P, P, 0)).toBe(P);
  });
});
