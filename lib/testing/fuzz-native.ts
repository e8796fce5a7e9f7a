// The native API fuzzer's runner: splits the calls into batches, runs each batch in a child
// process of its own (so a crash is caught, counted, and reported with the seed that made
// it) and prints one summary line. Also the child's entry point.
//
//   node dist/testing/fuzz-native.js [--calls N] [--per-child N] [--seed S] [--jobs J]
//                                    [--asan] [--trace] [--crash-at K]
//
// --asan loads build-asan/daxfs.node (npm run build:asan) with the sanitizer runtime
// preloaded. FUZZ_CALLS and FUZZ_SEED set --calls and --seed when not given.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BatchResult } from './fuzz-native-batch';

export interface FuzzOptions {
  calls: number;
  /** Calls per child (the last child may get fewer). */
  perChild?: number;
  seed?: number;
  /** Children running at once. */
  jobs?: number;
  /** Environment for the children on top of this process's (DAXFS_ADDON, LD_PRELOAD ...). */
  env?: Record<string, string>;
  trace?: boolean;
  /** Self-test: the first child stores into the zero page at this call (SIGSEGV). */
  crashAt?: number;
  /** A child still running after this many ms counts as a crash (a hang). */
  timeoutMs?: number;
}

export interface ChildCrash {
  seed: number;
  calls: number;
  how: string;
  stderr: string;
}

export interface FuzzSummary {
  seed: number;
  calls: number;
  children: number;
  crashes: ChildCrash[];
  coded: number;
  typeErrors: number;
  returned: number;
  uncoded: string[];
  called: string[];
  line: string;
}

// The compiled runner, also when this module is loaded from lib/ by ts-jest.
const SELF = path.join(__dirname, '..', '..', 'dist', 'testing', 'fuzz-native.js');

/** What the sanitizer build needs to load into node (V8 leaks by design: no leak check). */
export function asanEnv(root = path.join(__dirname, '..', '..')): Record<string, string> {
  const addon = path.join(root, 'build-asan', 'daxfs.node');
  if (!fs.existsSync(addon)) throw new Error(`${addon} is missing: run npm run build:asan first`);
  const lib = (name: string) => spawnSync(process.env.CC || 'gcc', [`-print-file-name=${name}`], { encoding: 'utf8' }).stdout.trim();
  return {
    DAXFS_ADDON: addon,
    LD_PRELOAD: lib('libasan.so'),
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:print_summary=1',
    UBSAN_OPTIONS: 'halt_on_error=1:abort_on_error=1:print_stacktrace=1',
  };
}

/** Signs in a child's stderr that a sanitizer found something, even if the child exited 0. */
const SANITIZER_REPORT = /ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer/;

/** tmpfs when there is one: msync of a file on disk costs a real write per call. */
function scratchBase(): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

function runChild(seed: number, calls: number, o: FuzzOptions, crashAt?: number): Promise<BatchResult | ChildCrash> {
  const dir = fs.mkdtempSync(path.join(scratchBase(), 'daxfs-fuzz-'));
  const args = ['--expose-gc', SELF, '--child', String(seed), String(calls), dir];
  if (o.trace) args.push('--trace');
  if (crashAt !== undefined) args.push('--crash-at', String(crashAt));
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (o.trace) process.stderr.write(d);
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
  });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, o.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
      const last = stdout.trim().split('\n').pop() ?? '';
      const crash = (how: string): ChildCrash => ({ seed, calls, how, stderr: stderr.slice(-4000) });
      if (timedOut) return resolve(crash('timed out (a hang)'));
      if (signal) return resolve(crash(`killed by ${signal}`));
      if (status !== 0) return resolve(crash(`exit status ${status}`));
      if (SANITIZER_REPORT.test(stderr)) return resolve(crash('a sanitizer report'));
      try {
        resolve(JSON.parse(last) as BatchResult);
      } catch {
        resolve(crash('no result printed'));
      }
    });
  });
}

/** Runs `calls` calls in children of `perChild` calls each; never throws for a crash. */
export async function fuzzNative(o: FuzzOptions): Promise<FuzzSummary> {
  const seed = o.seed ?? (Date.now() % 1_000_000_000);
  const perChild = Math.max(1, o.perChild ?? 1000);
  const sizes: number[] = [];
  for (let left = o.calls; left > 0; left -= perChild) sizes.push(Math.min(perChild, left));
  const results: Array<BatchResult | ChildCrash> = new Array(sizes.length);
  let next = 0;
  const worker = async () => {
    while (next < sizes.length) {
      const i = next++;
      results[i] = await runChild(seed + i, sizes[i], o, i === 0 ? o.crashAt : undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs ?? 2) }, worker));
  const s: FuzzSummary = {
    seed, calls: 0, children: sizes.length, crashes: [], coded: 0, typeErrors: 0, returned: 0, uncoded: [], called: [], line: '',
  };
  const called = new Set<string>();
  for (const r of results) {
    if ('how' in r) {
      s.crashes.push(r);
      s.calls += r.calls;   // the calls it was asked for; the crash ended it somewhere inside
      continue;
    }
    s.calls += r.calls;
    s.coded += r.coded;
    s.typeErrors += r.typeErrors;
    s.returned += r.returned;
    for (const u of r.uncoded) if (!s.uncoded.includes(u)) s.uncoded.push(u);
    for (const c of r.called) called.add(c);
  }
  s.called = [...called].sort();
  s.line = `fuzz native: ${s.calls} calls in ${s.children} children, ${s.crashes.length} crashes (seed ${seed})`;
  return s;
}

/** The command that runs one crashed child again, printing each call. */
export function reproduceCommand(c: ChildCrash, asan: boolean): string {
  return `node dist/testing/fuzz-native.js --seed ${c.seed} --calls ${c.calls} --per-child ${c.calls}${asan ? ' --asan' : ''} --trace`;
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function childMain(argv: string[]): Promise<void> {
  const [seed, calls, dir] = argv.slice(1, 4);
  const crashAt = flag(argv, '--crash-at');
  // Loaded here, not at the top: the parent never loads the addon (it may be an ASan build).
  const { native } = await import('../native');
  const { runBatch } = await import('./fuzz-native-batch');
  const result = await runBatch(native, {
    seed: Number(seed), calls: Number(calls), dir, trace: argv.includes('--trace'),
    crashAt: crashAt === undefined ? undefined : Number(crashAt),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function main(argv: string[]): Promise<number> {
  const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
  const asan = argv.includes('--asan');
  const seedText = flag(argv, '--seed') ?? process.env.FUZZ_SEED;
  const s = await fuzzNative({
    calls: num(flag(argv, '--calls') ?? process.env.FUZZ_CALLS, 100_000),
    perChild: num(flag(argv, '--per-child'), 2000),
    seed: seedText === undefined ? undefined : Number(seedText),
    jobs: num(flag(argv, '--jobs'), 2),
    env: asan ? asanEnv() : undefined,
    trace: argv.includes('--trace'),
    crashAt: flag(argv, '--crash-at') === undefined ? undefined : Number(flag(argv, '--crash-at')),
  });
  for (const c of s.crashes) {
    process.stdout.write(`crash: seed ${c.seed}, ${c.how}\n${c.stderr.trim().split('\n').slice(-40).join('\n')}\n` +
      `reproduce: ${reproduceCommand(c, asan)}\n`);
  }
  for (const u of s.uncoded) process.stdout.write(`note: threw without a code: ${u}\n`);
  process.stdout.write(`${s.called.length} functions called; ${s.coded} coded errors, ${s.typeErrors} TypeErrors, ` +
    `${s.returned} returned\n${s.line}\n`);
  return s.crashes.length === 0 ? 0 : 1;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    childMain(argv).catch((err) => { console.error(err); process.exit(70); });
  } else {
    main(argv).then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 2; });
  }
}
