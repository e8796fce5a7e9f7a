// Runs the image fuzzer: mutations are made here, each image is exercised in a child
// process (batches of many images per child), so that a native crash or a hang is counted
// against the image that caused it instead of ending the run. A watchdog kills a child that
// prints nothing for `imageTimeoutMs`; the run then goes on with the next image in a new child.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIST_INDEX, ROOT, ensureDist } from '../helpers/child';
import { exercise, ExerciseResult } from './exercise';
import { BaseImage, Mutation, mutate } from './mutate';

/** Codes a damaged image may fail with. Anything else (no code, a RangeError, ERANGE from
 *  the device refusing an access past its end, ERR_* from an internal call) is a finding. */
export const ALLOWED_CODES = ['EUCLEAN', 'EINVAL', 'EIO', 'ENOENT', 'ENOTDIR', 'EISDIR', 'ENOSPC', 'EROFS', 'EFBIG', 'EMLINK',
  'ENAMETOOLONG', 'EEXIST', 'ENOTEMPTY'];

export interface FuzzReport {
  images: number;
  mounted: number;
  refused: Record<string, number>;
  fsckClean: number;
  repairedClean: number;
  crashes: Array<{ seed: number; kind: string; how: string }>;
  hangs: Array<{ seed: number; kind: string }>;
  findings: Array<{ seed: number; kind: string; findings: string[] }>;
  byKind: Record<string, number>;
}

export interface FuzzOptions {
  seeds: number[];
  batch?: number;            // images per child
  imageTimeoutMs?: number;
  maxSteps?: number;
  workDir: string;
  /** Source of a function to run instead of exercise() (same parameters, then the seed):
   *  for testing this runner's crash and hang accounting. */
  exerciseSource?: string;
}

const CHILD = (imageFile: string, mutationsFile: string, maxSteps: number, source: string) => `
const daxfs = require(${JSON.stringify(DIST_INDEX)});
const fs = require('node:fs');
const exercise = ${source};
const base = fs.readFileSync(${JSON.stringify(imageFile)});
const mutations = JSON.parse(fs.readFileSync(${JSON.stringify(mutationsFile)}, 'utf8'));
const allowed = ${JSON.stringify(ALLOWED_CODES)};
for (const m of mutations) {
  process.stdout.write(JSON.stringify({ begin: m.seed }) + '\\n');
  const img = Buffer.from(base);
  for (const [at, hex] of m.patch) Buffer.from(hex, 'hex').copy(img, at);
  const result = exercise(daxfs, img, allowed, ${maxSteps}, Math.floor(m.seed / 12) % 4 !== 3, m.seed);   // a quarter of each kind: a page-cache mount
  process.stdout.write(JSON.stringify({ seed: m.seed, result }) + '\\n');
}
process.stdout.write(JSON.stringify({ done: true }) + '\\n');
`;

/** How long a child may take to load before its first image. */
const STARTUP_MS = 60000;

interface BatchEnd {
  results: Map<number, ExerciseResult>;
  /** The image the child was on when it died or stopped answering. */
  lost?: { seed: number; how: 'hang' | string };
}

function runBatch(script: string, timeoutMs: number): Promise<BatchEnd> {
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const results = new Map<number, ExerciseResult>();
  let current: number | null = null;
  let pending = '';
  let stderr = '';
  let hung = false;
  let timer: NodeJS.Timeout;
  const arm = (ms = timeoutMs) => {
    clearTimeout(timer);
    timer = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, ms);
  };
  arm(Math.max(timeoutMs, STARTUP_MS));   // loading the package on a busy machine is not a hang
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const msg = JSON.parse(line);
      if (msg.begin !== undefined) { current = msg.begin; arm(); }
      else if (msg.seed !== undefined) { results.set(msg.seed, msg.result); current = null; }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (current !== null) {
        resolve({ results, lost: { seed: current, how: hung ? 'hang' : `status ${status}, signal ${signal}: ${stderr.slice(-2000)}` } });
      } else if (status !== 0) {
        reject(new Error(`the fuzz child failed outside any image (status ${status}, signal ${signal}):\n${stderr}`));
      } else {
        resolve({ results });
      }
    });
  });
}

/** Exercises the mutation of every seed and counts what happened. */
export async function fuzzImages(base: BaseImage, o: FuzzOptions): Promise<FuzzReport> {
  ensureDist();
  const imageFile = path.join(o.workDir, 'base.img');
  fs.writeFileSync(imageFile, base.image);
  const report: FuzzReport = { images: 0, mounted: 0, refused: {}, fsckClean: 0, repairedClean: 0, crashes: [], hangs: [], findings: [], byKind: {} };
  const kinds = new Map<number, string>();
  let todo: Mutation[] = o.seeds.map((s) => mutate(base, s));
  for (const m of todo) kinds.set(m.seed, m.kind);
  const batch = o.batch ?? 100;
  while (todo.length) {
    const chunk = todo.slice(0, batch);
    const mutationsFile = path.join(o.workDir, 'mutations.json');
    fs.writeFileSync(mutationsFile, JSON.stringify(chunk));
    const end = await runBatch(CHILD(imageFile, mutationsFile, o.maxSteps ?? 300, o.exerciseSource ?? exercise.toString()), o.imageTimeoutMs ?? 20000);
    for (const [seed, r] of end.results) {
      const kind = kinds.get(seed)!;
      report.images++;
      report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
      if (r.mounted) report.mounted++;
      else if (r.refused) report.refused[r.refused] = (report.refused[r.refused] ?? 0) + 1;
      if (r.fsck === 'clean') report.fsckClean++;
      if (r.repairedClean) report.repairedClean++;
      if (r.findings.length) report.findings.push({ seed, kind, findings: r.findings });
    }
    let next = chunk.length;
    if (end.lost) {
      const kind = kinds.get(end.lost.seed)!;
      report.images++;
      if (end.lost.how === 'hang') report.hangs.push({ seed: end.lost.seed, kind });
      else report.crashes.push({ seed: end.lost.seed, kind, how: end.lost.how });
      next = chunk.findIndex((m) => m.seed === end.lost!.seed) + 1;
    }
    todo = [...chunk.slice(next), ...todo.slice(chunk.length)];
  }
  return report;
}

/** The one-line summary the test prints. */
export function summary(r: FuzzReport): string {
  const refused = Object.entries(r.refused).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
  return `fuzz images: ${r.images} images, ${r.mounted} mounted, ${r.images - r.mounted - r.crashes.length - r.hangs.length} refused (${refused}), ` +
    `${r.crashes.length} crashes, ${r.hangs.length} hangs; fsck clean before repair ${r.fsckClean}, after repair ${r.repairedClean}; ` +
    `${r.findings.length} images with uncoded failures` +
    (r.crashes.length ? `; crash seeds ${r.crashes.map((c) => c.seed).join(' ')}` : '') +
    (r.hangs.length ? `; hang seeds ${r.hangs.map((c) => c.seed).join(' ')}` : '') +
    (r.findings.length ? `; finding seeds ${r.findings.map((c) => c.seed).join(' ')}` : '');
}
