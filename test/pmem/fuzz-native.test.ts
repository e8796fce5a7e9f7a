// The native API fuzzer (lib/testing/fuzz-native.ts), quick form: a few thousand seeded
// random calls of every addon export and mapping method, in child processes. The long form
// is `npm run test:fuzz` (FUZZ_CALLS), and `npm run test:fuzz:asan` runs it under the
// sanitizers. FUZZ_SEED replays a seed here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fuzzNative, FuzzSummary } from '../../lib/testing/fuzz-native';
import { ensureDist, ROOT } from '../helpers/child';

const CALLS = 3000;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261126;

/** Member names of an interface in lib/native.ts that are functions (methods or arrow types). */
function typedFunctions(interfaceName: string): string[] {
  const src = fs.readFileSync(path.join(ROOT, 'lib', 'native.ts'), 'utf8');
  const body = src.match(new RegExp(`export interface ${interfaceName} \\{([\\s\\S]*?)\\n\\}`));
  if (!body) throw new Error(`interface ${interfaceName} not found in lib/native.ts`);
  return [...body[1].matchAll(/^\s+(?:readonly\s+)?(\w+)\s*\(/gm)].map((m) => m[1]).sort();
}

let summary: FuzzSummary;

beforeAll(async () => {
  ensureDist();
  summary = await fuzzNative({ calls: CALLS, perChild: 1000, seed: SEED, jobs: 2 });
  console.log(summary.line);
}, 120_000);

test(`${CALLS} seeded random calls in child processes: 0 crashes`, () => {
  const crashes = summary.crashes.map((c) => `seed ${c.seed}: ${c.how}\n${c.stderr}`);
  expect(crashes).toEqual([]);
  expect(summary.calls).toBeGreaterThanOrEqual(CALLS);
  expect(summary.line).toBe(`fuzz native: ${summary.calls} calls in 3 children, 0 crashes (seed ${SEED})`);
  // Both outcomes happen: refused calls (with a code) and calls that did something.
  expect(summary.coded).toBeGreaterThan(CALLS / 10);
  expect(summary.returned).toBeGreaterThan(CALLS / 10);
});

test('every error thrown carries a code (API.md: errno-style or ERR_* codes)', () => {
  expect(summary.uncoded).toEqual([]);
});

test('every function lib/native.ts types is called, and nothing the addon exports is untyped', () => {
  const typed = [...typedFunctions('NativeAddon'), ...typedFunctions('NativeMapping').map((n) => `mapping.${n}`),
    ...typedFunctions('NativeHot').map((n) => `hot.${n}`)].sort();
  expect(typed.length).toBeGreaterThan(20);
  expect(summary.called).toEqual(typed);
});

test('a crash in a child is caught and counted with its seed (self-test: a store into the zero page)', async () => {
  const s = await fuzzNative({ calls: 40, perChild: 40, seed: 7, crashAt: 5 });
  expect(s.crashes).toHaveLength(1);
  expect(s.crashes[0]).toMatchObject({ seed: 7, how: 'killed by SIGSEGV' });
  expect(s.line).toBe('fuzz native: 40 calls in 1 children, 1 crashes (seed 7)');
}, 60_000);
