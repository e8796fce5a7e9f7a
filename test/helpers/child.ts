// Runs a snippet of JavaScript in a fresh Node process that loads the compiled package
// (dist/), so tests can set environment switches read once at load, expose gc, or
// survive a crash and assert on how the child ended.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const DIST = path.join(ROOT, 'dist');
export const DIST_INDEX = path.join(DIST, 'index.js');
export const CORE_TEST = path.join(ROOT, 'build', 'core_test');   // scripts/build-core-test.sh (pretest)

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let distChecked = false;

const PRELUDE = `const daxfs = require(${JSON.stringify(DIST_INDEX)});
const fs = require('node:fs'); const path = require('node:path'); const assert = require('node:assert/strict');
const out = (v) => process.stdout.write(JSON.stringify(v) + '\\n');
`;

/** Builds dist/ with tsc when it is missing (child processes load the compiled package). */
export function ensureDist(): void {
  if (distChecked) return;
  if (!fs.existsSync(DIST_INDEX) || !fs.existsSync(path.join(DIST, 'pmem', 'mapping.js'))) {
    const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json')],
      { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}\n${r.stderr}`);
  }
  distChecked = true;
}

function newest(dir: string, ext: string): { stale: boolean } {
  let stale = false;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { walk(p); continue; }
      if (!e.name.endsWith(ext)) continue;
      const out = path.join(DIST, path.relative(path.join(ROOT, 'lib'), p)).replace(/\.ts$/, '.js');
      if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(p).mtimeMs) stale = true;
    }
  };
  walk(dir);
  return { stale };
}

/** Rebuilds dist/ with tsc when a lib/ file is newer than its output (worker threads load
 *  dist/, and a stale build would test old code). */
export function freshDist(): void {
  if (!newest(path.join(ROOT, 'lib'), '.ts').stale) return;
  const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}\n${r.stderr}`);
}

/**
 * Environment without any daxfs switch inherited from the test runner; DAXFS_ADDON (which
 * binary to load, e.g. the sanitizer build) is kept so children run the same addon.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DAXFS_') || k === 'DAXFS_ADDON') env[k] = v;
  return env;
}

/**
 * Runs `script` with `node -e`. The script sees `daxfs` (the package index), `fs`, `path`,
 * `assert` and `out(value)` (prints one JSON line the test can parse with `lastJson`).
 */
export function runChild(script: string, env: Record<string, string> = {},
                         options: { nodeArgs?: string[]; timeout?: number } = {}): ChildResult {
  ensureDist();
  const r = spawnSync(process.execPath, [...(options.nodeArgs ?? []), '-e', PRELUDE + script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...cleanEnv(), ...env },
    timeout: options.timeout ?? 30000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** runChild without blocking: several children can run at once (they are slow to start under load). */
export function runChildAsync(script: string, env: Record<string, string> = {},
                              options: { nodeArgs?: string[]; timeout?: number } = {}): Promise<ChildResult> {
  ensureDist();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '-e', PRELUDE + script], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 30000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** The last JSON line a child printed with out(). */
export function lastJson<T = any>(r: ChildResult): T {
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  if (!lines.length) throw new Error(`the child printed nothing (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  return JSON.parse(lines[lines.length - 1]);
}

/** A readable summary for failed expectations on a child. */
export function describeChild(r: ChildResult): string {
  return `status ${r.status}, signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}
