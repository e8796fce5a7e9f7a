import { Progress } from '../../lib/cli/progress';
import { daxfs } from './run';

function capture(env: string | undefined, steps: Array<[number, number]>): string {
  const saved = process.env.DAXFS_PROGRESS;
  if (env === undefined) delete process.env.DAXFS_PROGRESS;
  else process.env.DAXFS_PROGRESS = env;
  let now = 1_000_000;
  const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
  const written: string[] = [];
  try {
    const p = new Progress('cp', 100 << 20, (text) => written.push(text));
    for (const [ms, bytes] of steps) {
      now += ms;
      p.add(bytes);
    }
    p.end();
    return written.join('');
  } finally {
    clock.mockRestore();
    if (saved === undefined) delete process.env.DAXFS_PROGRESS;
    else process.env.DAXFS_PROGRESS = saved;
  }
}

test('a copy that takes seconds draws a bar on stderr and clears it at the end', () => {
  const out = capture('always', [[100, 10 << 20], [600, 40 << 20], [1000, 50 << 20]]);
  expect(out).toContain('\rcp [###############...............]  50%  50 MiB / 100 MiB');
  expect(out).toContain(' 100%  100 MiB / 100 MiB');
  expect(out.endsWith('\r\x1b[K')).toBe(true);
});

test('work that ends within half a second shows nothing', () => {
  expect(capture('always', [[100, 50 << 20], [300, 50 << 20]])).toBe('');
});

test('no bar when stderr is not a terminal, or with DAXFS_PROGRESS=never', () => {
  expect(capture('never', [[600, 50 << 20], [600, 50 << 20]])).toBe('');
  expect(capture(undefined, [[600, 50 << 20], [600, 50 << 20]])).toBe('');   // jest's stderr is a pipe
});

describe('mkfs and fsck of a large image', () => {
  const nodefs: typeof import('node:fs') = require('node:fs');
  let dir: string;
  beforeAll(() => { dir = nodefs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'daxfs-progress-')); });
  afterAll(() => nodefs.rmSync(dir, { recursive: true, force: true }));

  /** Runs the command with a clock that moves a second per reading, and returns the bars drawn. */
  function bars(env: string | undefined, ...argv: string[]): { status: number; stderr: string } {
    const saved = process.env.DAXFS_PROGRESS;
    if (env === undefined) delete process.env.DAXFS_PROGRESS;
    else process.env.DAXFS_PROGRESS = env;
    let now = 1_000_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => (now += 1000));
    const drawn: string[] = [];
    const realWrite = nodefs.writeSync;
    const write = jest.spyOn(nodefs, 'writeSync').mockImplementation(((fd: number, data: string, ...rest: never[]) => {
      if (fd === 2) { drawn.push(String(data)); return String(data).length; }
      return (realWrite as (...a: unknown[]) => number)(fd, data, ...rest);
    }) as typeof nodefs.writeSync);
    try {
      const r = daxfs(...argv);
      expect(r.stderr).toBe('');
      return { status: r.status, stderr: drawn.join('') };
    } finally {
      write.mockRestore();
      clock.mockRestore();
      if (saved === undefined) delete process.env.DAXFS_PROGRESS;
      else process.env.DAXFS_PROGRESS = saved;
    }
  }

  test('daxfs mkfs and fsck draw a bar from the work\'s own progress on a terminal, and clear it', () => {
    const image = `${dir}/big.img`;
    const made = bars('always', 'mkfs', image, '--size', '64G');
    expect(made.status).toBe(0);
    // 64 GiB: 512 block-bitmap blocks in two 1 MiB chunks, then 128 inode-bitmap blocks.
    expect(made.stderr).toBe(`\rmkfs ${image} [############..................]  40%\x1b[K` +
      `\rmkfs ${image} [########################......]  80%\x1b[K` +
      `\rmkfs ${image} [##############################] 100%\x1b[K\r\x1b[K`);
    const checked = bars('always', 'fsck', image);
    expect(checked.status).toBe(0);
    expect(checked.stderr).toMatch(new RegExp(`^(\\rfsck ${image} \\[[#.]{30}\\] +\\d+%\\x1b\\[K)+\\r\\x1b\\[K$`));
    expect(checked.stderr).toContain('] 100%\x1b[K');
    expect(checked.stderr.split('\r').length).toBeGreaterThan(10);   // a bar that moves
  });

  test('no bar when stderr is not a terminal', () => {
    const image = `${dir}/quiet.img`;
    expect(bars(undefined, 'mkfs', image, '--size', '64G')).toEqual({ status: 0, stderr: '' });
    expect(bars(undefined, 'fsck', image)).toEqual({ status: 0, stderr: '' });
  });
});
