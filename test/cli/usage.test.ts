import { parseArgs, parseSize, UsageError } from '../../lib/cli/args';
import { parseTarget } from '../../lib/cli/image';
import { daxfs } from './run';

const COMMANDS = ['info', 'demo', 'bench', 'mkfs', 'fsck', 'df', 'ls', 'stat', 'cat', 'cp', 'mkdir', 'rm'];

test('every command has help, as daxfs help <cmd> and as <cmd> --help, exit 0', () => {
  const list = daxfs('help');
  expect(list.status).toBe(0);
  for (const name of COMMANDS) {
    expect(list.stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
    const a = daxfs('help', name);
    expect(a.status).toBe(0);
    expect(a.stdout.startsWith(`Usage: daxfs ${name}`)).toBe(true);
    expect(a.stdout).toMatch(/Example/);
    expect(daxfs(name, '--help')).toEqual(a);
    expect(daxfs(name, '-h').stdout).toBe(a.stdout);
  }
});

test('usage errors exit 2, say what is wrong and where help is', () => {
  const unknown = daxfs('frobnicate');
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  expect(daxfs().status).toBe(2);
  expect(daxfs('help', 'frobnicate').status).toBe(2);
  for (const name of COMMANDS) {
    const r = daxfs(name, '--bogus', 'x.img:/');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`daxfs ${name}: unknown option '--bogus'\nTry 'daxfs help ${name}'.\n`);
  }
  for (const name of ['mkfs', 'fsck', 'df', 'ls', 'stat', 'cat', 'cp', 'mkdir', 'rm']) {
    expect(daxfs(name).status).toBe(2);   // missing arguments
  }
  const hostPath = daxfs('ls', 'disk.img');
  expect(hostPath.status).toBe(2);
  expect(hostPath.stderr).toContain('write IMAGE:/path');
  expect(daxfs('cp', 'a', 'b').stderr).toContain('no IMAGE:/path among the arguments');
  expect(daxfs('info', 'extra').status).toBe(2);
});

test('IMAGE:/path is split at the first colon followed by a slash or nothing', () => {
  expect(parseTarget('disk.img:/a/b')).toEqual({ kind: 'image', image: 'disk.img', path: '/a/b', text: 'disk.img:/a/b' });
  expect(parseTarget('/tmp/x/disk.img:')).toMatchObject({ kind: 'image', image: '/tmp/x/disk.img', path: '/' });
  expect(parseTarget('/dev/dax0.0:/f')).toMatchObject({ kind: 'image', image: '/dev/dax0.0', path: '/f' });
  expect(parseTarget('notes.txt')).toMatchObject({ kind: 'host', path: 'notes.txt' });
  expect(parseTarget('a:b')).toMatchObject({ kind: 'host', path: 'a:b' });
  expect(parseTarget(':/x')).toMatchObject({ kind: 'host' });
});

test('sizes take K, M, G, T as powers of 1024', () => {
  expect(parseSize('4096')).toBe(4096);
  expect(parseSize('64M')).toBe(64 * 2 ** 20);
  expect(parseSize('1.5g')).toBe(1.5 * 2 ** 30);
  expect(parseSize('2T')).toBe(2 * 2 ** 40);
  expect(parseSize('8MiB')).toBe(8 * 2 ** 20);
  for (const bad of ['', 'M', '-1M', '0', '12Q', '1e3']) expect(() => parseSize(bad)).toThrow(UsageError);
});

test('options: short flags combine, values by space or =, -- ends options', () => {
  const spec = { flags: { '-r': 'r', '-f': 'f' }, values: { '--size': 'size' } };
  const a = parseArgs(['-rf', '--size=4M', 'x', '--', '-r'], spec);
  expect([...a.flags].sort()).toEqual(['f', 'r']);
  expect(a.values.get('size')).toBe('4M');
  expect(a.positional).toEqual(['x', '-r']);
  expect(parseArgs(['--size', '8M'], spec).values.get('size')).toBe('8M');
  expect(() => parseArgs(['--size'], spec)).toThrow('option --size needs a value');
  expect(() => parseArgs(['-rx'], spec)).toThrow("unknown option '-x'");
});
