// Temporary directories for tests: made fresh, removed after each test file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made: string[] = [];

/** A fresh directory under `base` (os.tmpdir() by default), removed by cleanupTempDirs(). */
export function makeTempDir(prefix = 'daxfs-test-', base = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  made.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
}

/** makeTempDir in beforeAll-free style: call once per file; every dir goes in afterAll. */
export function useTempDirs(): void {
  afterAll(cleanupTempDirs);
}

/** Reads `length` bytes at `position` of a file through node:fs (no mapping involved). */
export function readAt(file: string, position: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, position);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Deterministic non-trivial bytes (no long runs of one value). */
export function pattern(length: number, seed = 1): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Whether some line of /proc/self/maps maps `file`. */
export function isMapped(file: string): boolean {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').some((l) => l.endsWith(' ' + file) || l.endsWith(' ' + file + ' (deleted)'));
}
