// The native core's own C++ test binary (build/core_test, built by scripts/build-core-test.sh), run by npm test:
// once with the CPU's best paths and once with every fallback forced by the switches.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { CORE_TEST } from '../helpers/child';

interface Run { code: number | null; signal: string | null; stdout: string; stderr: string }

function runCore(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const clean: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DAXFS_')) clean[k] = v;
    execFile(CORE_TEST, [], { env: { ...clean, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

describe('native core test binary', () => {
  let plain: Run;
  let fallbacks: Run;

  beforeAll(async () => {
    if (!fs.existsSync(CORE_TEST)) throw new Error(`${CORE_TEST} is missing: run scripts/build-core-test.sh (npm test does) first`);
    [plain, fallbacks] = await Promise.all([
      runCore({}),
      runCore({ DAXFS_NO_CLWB: '1', DAXFS_NO_CLFLUSHOPT: '1', DAXFS_NO_MOVNT: '1', DAXFS_NO_CVAP: '1' }),
    ]);
  }, 90000);

  const summary = (r: Run) => r.stdout.match(/^core: (\d+) passed, (\d+) failed$/m);

  test('core_test passes with the best flush and copy paths (exit 0, "core: N passed, 0 failed")', () => {
    expect({ code: plain.code, signal: plain.signal, stderr: plain.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const m = summary(plain);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(m![2]).toBe('0');
    expect(plain.stdout).not.toMatch(/^FAIL/m);
  });

  test('core_test passes with every fallback forced (no clwb, no clflushopt, no movnt)', () => {
    expect({ code: fallbacks.code, signal: fallbacks.signal, stderr: fallbacks.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const m = summary(fallbacks);
    expect(m).not.toBeNull();
    expect(m![2]).toBe('0');
    expect(Number(m![1])).toBe(Number(summary(plain)![1]));
    if (process.arch === 'x64') expect(fallbacks.stdout).toMatch(/flush=clflush fence=sfence copy=plain/);
  });
});
