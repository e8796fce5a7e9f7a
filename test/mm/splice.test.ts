// sendfile and splice pin where the kernel pins: EFAULT under 'linux-4.0' (DAX data and
// DAX-mapped memory have no struct page there), bytes moved under 'modern'.
import { devices } from '../../lib/block';
import { Filesystem } from '../../lib/fs/filesystem';
import { mkfs } from '../../lib/fs/mkfs';

const P = 4096;

function errorOf(fn: () => unknown): (Error & { code?: string; syscall?: string }) | undefined {
  try { fn(); } catch (e) { return e as Error & { code?: string }; }
  return undefined;
}
const codeOf = (fn: () => unknown) => errorOf(fn)?.code;

let fs: Filesystem;
function mountFresh(options: string): Filesystem {
  if (fs?.mounted) { fs.unmount(); fs.device.close(); }
  const dev = devices.ram(16 * 1024 * 1024);
  mkfs(dev);
  return (fs = Filesystem.mount(dev, options));
}
afterEach(() => { if (fs.mounted) fs.unmount(); fs.device.close(); });

const DATA = Buffer.from(Array.from({ length: 3 * P + 100 }, (_, i) => (i * 7 + 1) & 255));

function withData(): { input: ReturnType<Filesystem['open']>; out: ReturnType<Filesystem['open']> } {
  fs.writeFile('/in', DATA);
  return { input: fs.open('/in', 'r'), out: fs.open('/out', 'w+') };
}

test("linux-4.0: sendfile from a file on a DAX mount is EFAULT, and nothing reaches out", () => {
  mountFresh('dax');
  const { input, out } = withData();
  const err = errorOf(() => fs.sendfile(out, input, 0, 100));
  expect(err?.code).toBe('EFAULT');
  expect(err?.syscall).toBe('sendfile');
  expect(err?.message).toMatch(/^EFAULT: bad address \(.*linux-4\.0.*\), sendfile '\/in'$/);
  expect(out.stat().size).toBe(0);
  expect(out.write(Buffer.from('x'))).toBe(1);   // out's position did not move
  expect(fs.readFile('/out').toString()).toBe('x');
});

test("modern: sendfile copies count bytes from position to out's position, advancing only out's", () => {
  mountFresh('dax,profile=modern');
  const { input, out } = withData();
  out.write(Buffer.from('head'));
  expect(fs.sendfile(out, input, 10, 2 * P)).toBe(2 * P);
  expect(fs.sendfile(out, input, 0, 5)).toBe(5);
  const got = fs.readFile('/out');
  expect(got.length).toBe(4 + 2 * P + 5);
  expect(got.subarray(4, 4 + 2 * P).equals(DATA.subarray(10, 10 + 2 * P))).toBe(true);
  expect(got.subarray(4 + 2 * P).equals(DATA.subarray(0, 5))).toBe(true);
  const first = Buffer.alloc(3);
  expect(input.read(first, 0, 3, null)).toBe(3);   // input's own position is still 0
  expect(first.equals(DATA.subarray(0, 3))).toBe(true);
});

test('modern: sendfile is short at EOF and 0 at or past it; count 0 moves nothing (also under linux-4.0)', () => {
  mountFresh('dax,profile=modern');
  let { input, out } = withData();
  expect(fs.sendfile(out, input, DATA.length - 50, 1000)).toBe(50);
  expect(fs.sendfile(out, input, DATA.length, 10)).toBe(0);
  expect(fs.sendfile(out, input, DATA.length + P, 10)).toBe(0);
  expect(fs.readFile('/out').equals(DATA.subarray(DATA.length - 50))).toBe(true);
  mountFresh('dax');
  ({ input, out } = withData());
  expect(fs.sendfile(out, input, 0, 0)).toBe(0);
  expect(fs.sendfile(out, input, DATA.length, 10)).toBe(0);   // nothing to pin
});

test('sendfile checks its arguments as node:fs does, then EBADF and EINVAL as the kernel does, before pinning', () => {
  mountFresh('dax');
  const { input, out } = withData();
  expect(codeOf(() => fs.sendfile({} as never, input, 0, 1))).toBe('ERR_INVALID_ARG_TYPE');
  expect(codeOf(() => fs.sendfile(out, 3 as never, 0, 1))).toBe('ERR_INVALID_ARG_TYPE');
  expect(codeOf(() => fs.sendfile(out, input, -1, 1))).toBe('ERR_OUT_OF_RANGE');
  expect(codeOf(() => fs.sendfile(out, input, 0, 1.5))).toBe('ERR_OUT_OF_RANGE');
  expect(codeOf(() => fs.sendfile(out, input, '0' as never, 1))).toBe('ERR_INVALID_ARG_TYPE');
  const writeOnly = fs.open('/in', 'r+');
  const readOnly = fs.open('/out', 'r');
  expect(codeOf(() => fs.sendfile(out, fs.open('/w', 'w'), 0, 1))).toBe('EBADF');      // input not readable
  expect(codeOf(() => fs.sendfile(readOnly, writeOnly, 0, 1))).toBe('EBADF');          // out not writable
  expect(errorOf(() => fs.sendfile(fs.open('/a', 'a'), input, 0, 1))?.message).toBe(
    'EINVAL: invalid argument (out is open for appending, which sendfile does not support), sendfile');
  const closed = fs.open('/in', 'r');
  closed.close();
  expect(codeOf(() => fs.sendfile(out, closed, 0, 1))).toBe('EBADF');
  const dev = devices.ram(8 << 20);
  mkfs(dev);
  const other = Filesystem.mount(dev, 'dax');
  other.writeFile('/x', 'x');
  expect(codeOf(() => fs.sendfile(out, other.open('/x'), 0, 1))).toBe('EBADF');   // not open on this filesystem
  other.unmount();
  other.device.close();
});

test('linux-4.0: splice from a DAX file is EFAULT; into a view of a DAX mapping it names the target; target untouched', () => {
  mountFresh('dax');
  const { input } = withData();
  const target = Buffer.alloc(P, 0xee);
  const err = errorOf(() => fs.splice(input, 0, target, P));
  expect(err?.code).toBe('EFAULT');
  expect(err?.message).toMatch(/file's data is DAX memory/);
  expect(target.every((b) => b === 0xee)).toBe(true);
  const h = fs.open('/m', 'w+');
  h.write(Buffer.alloc(P, 1));
  const view = h.mmap(0, P, { write: true }).page(0, 'write');
  const e2 = errorOf(() => fs.splice(input, 0, view, P));
  expect(e2?.code).toBe('EFAULT');
  expect(e2?.message).toMatch(/the target is a view of a DAX file mapping/);
  expect(view.every((b) => b === 1)).toBe(true);
});

test('modern: splice copies from position into target, also into a view of a DAX mapping; short at EOF', () => {
  mountFresh('dax,profile=modern');
  const { input } = withData();
  const target = Buffer.alloc(2 * P);
  expect(fs.splice(input, 100, target, 2 * P)).toBe(2 * P);
  expect(target.equals(DATA.subarray(100, 100 + 2 * P))).toBe(true);
  const h = fs.open('/m', 'w+');
  h.truncate(P);
  const view = h.mmap(0, P, { write: true }).page(0, 'write');
  expect(fs.splice(input, DATA.length - 100, view, P)).toBe(100);
  expect(fs.readFile('/m').subarray(0, 100).equals(DATA.subarray(DATA.length - 100))).toBe(true);
  expect(fs.splice(input, DATA.length, view, P)).toBe(0);
});

test('splice checks its arguments: types, count <= target length, EBADF for a handle not open for reading', () => {
  mountFresh('dax,profile=modern');
  const { input } = withData();
  expect(codeOf(() => fs.splice(input, 0, 'x' as never, 1))).toBe('ERR_INVALID_ARG_TYPE');
  expect(codeOf(() => fs.splice(null as never, 0, Buffer.alloc(1), 1))).toBe('ERR_INVALID_ARG_TYPE');
  expect(errorOf(() => fs.splice(input, 0, Buffer.alloc(4), 5))?.message).toBe(
    'The value of "count" is out of range. It must be <= 4. Received 5');
  expect(codeOf(() => fs.splice(input, -1, Buffer.alloc(4), 1))).toBe('ERR_OUT_OF_RANGE');
  expect(codeOf(() => fs.splice(fs.open('/w', 'w'), 0, Buffer.alloc(4), 1))).toBe('EBADF');
  fs.unmount();
  expect(codeOf(() => fs.splice(input, 0, Buffer.alloc(4), 1))).toBe('EBADF');
});

test('linux-4.0: sendfile and splice from a file on a non-DAX mount pin page-cache pages and work', () => {
  mountFresh('nodax');
  const { input, out } = withData();
  expect(fs.sendfile(out, input, 0, 2 * P)).toBe(2 * P);
  expect(fs.readFile('/out').equals(DATA.subarray(0, 2 * P))).toBe(true);
  const target = Buffer.alloc(100);
  expect(fs.splice(input, 5, target, 100)).toBe(100);
  expect(target.equals(DATA.subarray(5, 105))).toBe(true);
});
