import { Progress } from '../../lib/cli/progress';

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
