// On a mapping that persists by msync (a plain file), flush() only records the range and the
// next drain() makes one msync of everything flushed since the last: a fence costs one
// writeback of the file, not one per flushed range. Counted with strace in a child process.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { makeTempDir, useTempDirs } from '../helpers/tmp';

useTempDirs();
const ROOT = path.join(__dirname, '..', '..');
const hasStrace = spawnSync('strace', ['-V']).status === 0;
if (!hasStrace) console.warn('strace is not installed: the msync-counting test is skipped (apt-get install strace; .ci/run installs it)');

/** msync calls between BEGIN and END (or `until`, a marker the body writes). */
function msyncsOf(body: string, until = 'END'): { count: number; stdout: string } {
  const file = path.join(makeTempDir('daxfs-msync-'), 'f');
  const script = `const { mapFile } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
    const m = mapFile(${JSON.stringify(file)}, { create: true, size: 1 << 20 });
    if (m.isPmem) throw new Error('expected an msync mapping');
    process.stdout.write('BEGIN\\n');
    ${body}
    process.stdout.write('END\\n');
    m.close();`;
  // strace writes its lines to stderr, and so does the child's write(2) marker: count between them.
  const r = spawnSync('strace', ['-f', '-e', 'trace=msync,write', process.execPath, '-e', script], { encoding: 'utf8', env: { ...process.env, DAXFS_FORCE_PMEM: '' } });
  expect(r.status).toBe(0);
  const lines = r.stderr.split('\n');
  const begin = lines.findIndex((l) => l.includes('BEGIN'));
  const end = lines.findIndex((l) => l.includes(until));
  expect(begin).toBeGreaterThan(-1);
  return { count: lines.slice(begin, end).filter((l) => /msync\(/.test(l) && /= 0$/.test(l.trim())).length, stdout: r.stdout };
}

(hasStrace ? test : test.skip)('flushes before a drain are one msync; persist() is one; nothing is synced before the drain', () => {
  const flushes = `
    m.view(0, 8).fill(1); m.flush(0, 8);
    m.view(300000, 8).fill(2); m.flush(300000, 8);
    m.view(900000, 8).fill(3); m.flush(900000, 8);
    process.stdout.write('FLUSHED\\n');
    m.drain();`;
  expect(msyncsOf(flushes).count).toBe(1);
  expect(msyncsOf(flushes, 'FLUSHED').count).toBe(0);
  expect(msyncsOf(`m.view(4096, 8).fill(1); m.persist(4096, 8); m.persist(8192, 8);`).count).toBe(2);
  expect(msyncsOf(`m.copy(100, Buffer.alloc(64, 7), { drain: false }); m.fill(70000, 1, 64, { drain: false }); m.drain();`).count).toBe(1);
  expect(msyncsOf(`m.drain();`).count).toBe(0);   // nothing flushed: no msync
});
