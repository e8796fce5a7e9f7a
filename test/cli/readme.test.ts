// The README's command-line examples and its 20-line log, run as written, so they stay true.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { daxfs } from './run';

const README = path.join(__dirname, '..', '..', 'README.md');

function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThan(0);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

test("the README's command-line examples run, each exiting 0", () => {
  const text = section(fs.readFileSync(README, 'utf8'), 'Command line');
  const block = /```sh\n([\s\S]*?)```/.exec(text)![1];
  const lines = block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
  expect(lines.length).toBeGreaterThan(5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-readme-'));
  const cwd = process.cwd();
  try {
    fs.copyFileSync(README, path.join(dir, 'README.md'));
    process.chdir(dir);
    const outputs = new Map<string, string>();
    for (const line of lines) {
      expect(line.startsWith('npx daxfs ')).toBe(true);
      const r = daxfs(...line.slice('npx daxfs '.length).split(/\s+/));
      expect({ line, status: r.status, stderr: r.stderr }).toEqual({ line, status: 0, stderr: '' });
      outputs.set(line.split(/\s+/)[2], r.stdout);
    }
    expect(outputs.get('cat')).toBe(fs.readFileSync(README, 'utf8'));
    expect(fs.readFileSync(path.join(dir, 'logs-copy/2026/notes.md'), 'utf8')).toBe(fs.readFileSync(README, 'utf8'));
    expect(outputs.get('fsck')).toBe('disk.img: clean\n');
  } finally {
    process.chdir(cwd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the README documents every command', () => {
  const text = section(fs.readFileSync(README, 'utf8'), 'Command line');
  const names = daxfs('help').stdout.split('Commands:\n')[1].split('\n\n')[0].trim().split('\n').map((l) => l.trim().split(/\s+/)[0]);
  expect(names.length).toBeGreaterThan(8);
  for (const name of names) expect(text).toContain(`| \`${name}`);
});

test("the README's 20-line log runs as written (on a plain file) and keeps its records across runs", () => {
  const text = fs.readFileSync(README, 'utf8');
  const start = text.indexOf('\n### An append-only log in 20 lines\n');
  expect(start).toBeGreaterThan(0);
  const code = /```js\n([\s\S]*?)```/.exec(text.slice(start))![1];
  expect(code.split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(30);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-readme-log-'));
  try {
    const script = path.join(dir, 'log.js');
    expect(code).toContain("require('daxfs')");
    expect(code).toContain("'/mnt/pmem/app.log'");
    fs.writeFileSync(script, code.replace("require('daxfs')", `require(${JSON.stringify(path.join(__dirname, '..', '..'))})`)
      .replace("'/mnt/pmem/app.log'", JSON.stringify(path.join(dir, 'app.log'))));
    const runs = [1, 2].map(() => spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 }));
    for (const r of runs) expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const first = runs[0].stdout.match(/'started at [^']+'/g)!;
    const second = runs[1].stdout.match(/'started at [^']+'/g)!;
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(2);
    expect(second[0]).toBe(first[0]);   // the second run found the first run's record
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
