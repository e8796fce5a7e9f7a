// examples/log.js and examples/kv.js run as a user would run them (node, a child process,
// the package resolved through its package.json) on their default emulated pmem image;
// examples/forgetful-log.js (docs/TESTING.md's worked example) on anonymous memory.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const EXAMPLES = path.join(__dirname, '..', '..', 'examples');

function run(script: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(EXAMPLES, script), ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return r;
}

function imageOf(stdout: string): string {
  return /^image: (.*)$/m.exec(stdout)![1];
}

test('log.js: appends, finds the torn record after a remount, cuts it, appends again', () => {
  const r = run('log.js');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const records = '  user alice signed up\n  user bob signed up\n  alice paid 12.50\n';
  expect(r.stdout).toContain(`remount: replayed 3 records\n${records}torn record at offset 78 (13 bytes): cut off\n`);
  expect(r.stdout).toContain(`remount: replayed 4 records, no torn record\n${records}  bob paid 99.00\n`);
  expect(fs.existsSync(path.dirname(imageOf(r.stdout)))).toBe(false);   // the temp image is gone
});

test('kv.js: put, overwrite and delete survive remounts; get of a deleted key is undefined', () => {
  const r = run('kv.js');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('delete size: true\ndelete missing: false\n');
  expect(r.stdout).toContain('remount: 2 keys, log of 97 bytes\n  color = green\n  owner = alice\nget size: undefined\n');
  expect(r.stdout).toContain('remount after put owner=bob:\n  color = green\n  owner = bob\n');
  expect(fs.existsSync(path.dirname(imageOf(r.stdout)))).toBe(false);
});

test('an image given on the command line is kept, and the store reopens from it', () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'daxfs-examples-test-'));
  try {
    const image = path.join(dir, 'kv.img');
    expect(run('kv.js', image).status).toBe(0);
    expect(fs.statSync(image).size).toBe(16 * 2 ** 20);
    const again = run('kv.js', image);   // the second run starts from the first run's store
    expect(again.status).toBe(0);
    // Its log continued the first run's: 97 + 19 (owner=bob) bytes, then this run's 97.
    expect(again.stdout).toContain('remount: 2 keys, log of 213 bytes\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('forgetful-log.js: the crash simulator catches the unflushed record at the first fence; the fix passes every image', () => {
  const r = run('forgetful-log.js');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toBe('forgetful log (the record is never flushed):\n' +
    '  caught at fence 1: recovery found ["","","","","",""] where the log held ["user alice signed up"]; ' +
    'the tail was durable, the record it covers was not\n' +
    'fixed log (the record is persisted before the tail):\n' +
    '  6 fences, 6 crash images, each recovered every append that had returned\n');
});

test("docs/TESTING.md's worked example is the example's own code and output", () => {
  const doc = fs.readFileSync(path.join(EXAMPLES, '..', 'docs', 'TESTING.md'), 'utf8');
  const start = doc.indexOf('\n## Testing your own pmem code');
  expect(start).toBeGreaterThan(0);
  const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
  const code = fs.readFileSync(path.join(EXAMPLES, 'forgetful-log.js'), 'utf8');
  const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)];
  const js = blocks.filter((b) => b[1] === 'js').map((b) => b[2]);
  expect(js.length).toBe(2);
  for (const block of js) expect(code).toContain(block);
  const output = blocks.find((b) => b[1] === '')![2];
  expect(run('forgetful-log.js').stdout).toBe(output);
});
