// docs/API.md against the package's declarations: every signature and interface in its
// ```ts blocks is turned into a TypeScript check that the real export fits it, and the file
// is type-checked against dist/index.d.ts (built by pretest). A member the docs name that the
// package lacks, or a documented type the real one does not fit, fails here.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..', '..');
const API = path.join(ROOT, 'docs', 'API.md');
const DIST = path.join(ROOT, 'dist', 'index');

/** The top-level statements of a ```ts block: comments dropped, continuation lines joined. */
function statements(block: string): string[] {
  const lines = block.split('\n').map((l) => l.replace(/\/\/.*$/, '').replace(/\/\*.*?\*\//g, '').trimEnd());
  const out: string[] = [];
  let current = '';
  let depth = 0;
  for (const line of lines) {
    if (!line.trim()) continue;
    const continues = depth > 0 || /^\s*[:|&]/.test(line);
    if (!continues && current) { out.push(current); current = ''; }
    current += (current ? '\n' : '') + line;
    for (const c of line) {
      if (c === '(' || c === '{') depth++;
      else if (c === ')' || c === '}') depth--;
    }
  }
  if (current) out.push(current);
  return out;
}

/** The index of the bracket that closes the one at `open`. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if ('({<'.includes(text[i])) depth++;
    else if (')}>'.includes(text[i]) && !(text[i] === '>' && text[i - 1] === '=')) depth--;
    if (depth === 0) return i;
  }
  throw new Error(`unbalanced: ${text}`);
}

/** `stat, mkdir, readdir;` (the docs' shorthand for "these too") becomes members of unknown type. */
function expandShorthand(body: string): string {
  return body.replace(/^(\s*)(\w+(?:,\s*\w+)+);/gm, (_, indent: string, names: string) =>
    indent + names.split(/,\s*/).map((n) => `${n}: unknown;`).join(' '));
}

/** The TypeScript source that checks every statement of API.md's ```ts blocks. */
/** What every set of checks needs: the package, its types, an arity comparison. */
function prelude(exportedTypes: string[]): string {
  return [
    `import * as daxfs from ${JSON.stringify(DIST)};`,
    `import type { ${exportedTypes.join(', ')} } from ${JSON.stringify(DIST)};`,
    'type Arity<F extends (...args: any) => any> = Parameters<F>[\'length\'];',
    'type SameArity<A extends (...args: any) => any, B extends (...args: any) => any> =',
    '  [Arity<A>] extends [Arity<B>] ? ([Arity<B>] extends [Arity<A>] ? true : false) : false;',
  ].join('\n') + '\n';
}

/** TypeScript that checks every statement of the markdown's ```ts blocks (names prefixed with `p`). */
function checks(markdown: string, p: string): { source: string; names: string[] } {
  const blocks = [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const out: string[] = [];
  const names: string[] = [];
  let n = 0;
  for (const block of blocks) {
    for (const s of statements(block)) {
      const iface = /^interface (\w+)(?: extends [\w, ]+)? \{/.exec(s);
      if (iface) {
        const name = iface[1];
        names.push(name);
        const body = expandShorthand(s.slice(s.indexOf('{')));
        out.push(`// ${name}`, `interface ${p}Doc_${name} ${body}`, `declare const ${p}real_${name}: ${name};`,
          `const ${p}doc_${name}: ${p}Doc_${name} = ${p}real_${name};`);
        continue;
      }
      const fn = /^([\w.]+)\s*\(/.exec(s);
      if (fn) {
        const open = s.indexOf('(');
        const close = closing(s, open);
        const ret = s.slice(close + 1).trim().replace(/^:\s*/, '');
        names.push(fn[1]);
        // The real function fits the documented type, and takes the same parameters (a
        // function of fewer would fit too).
        out.push(`// ${fn[1]}`, `type ${p}Doc_fn_${n} = (${s.slice(open + 1, close)}) => ${ret};`,
          `const ${p}fn_${n}: ${p}Doc_fn_${n} = daxfs.${fn[1]};`,
          `const ${p}arity_${n}: SameArity<typeof daxfs.${fn[1]}, ${p}Doc_fn_${n}> = true;`);
        n++;
        continue;
      }
      throw new Error(`docs/API.md: a statement this test does not understand:\n${s}`);
    }
  }
  return { source: out.join('\n') + '\n', names };
}

function typeErrors(source: string): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-api-doc-'));
  try {
    const file = path.join(dir, 'api-doc-check.ts');
    fs.writeFileSync(file, source);
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS,
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'], types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      noUnusedLocals: false,
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
      const line = where >= 0 ? source.split('\n')[where] : '';
      return `${line}\n  ${ts.flattenDiagnosticMessageText(d.messageText, '\n  ')}`;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function exportedTypes(): string[] {
  const dts = fs.readFileSync(`${DIST}.d.ts`, 'utf8');
  return [...dts.matchAll(/export type \{([^}]*)\}/g)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean));
}

// One compilation (loading @types/node is most of its cost) for the docs and for a piece of
// markdown that drifted on purpose, which shows the check can fail.
const DRIFT = '```ts\ninterface Stats {\n  size: number;  ghost(): void;\n}\n' +
  'mapAnonymous(size: number): string\nplatform(verbose: boolean, extra: number): unknown\n```\n';
let docs: { names: string[]; errors: string[] };
let drift: string;

beforeAll(() => {
  const doc = checks(fs.readFileSync(API, 'utf8'), '');
  const bad = checks(DRIFT, 'drift_');
  const errors = typeErrors(prelude(exportedTypes()) + doc.source + bad.source);
  docs = { names: doc.names, errors: errors.filter((e) => !/\bdrift_/.test(e)) };
  drift = errors.filter((e) => /\bdrift_/.test(e)).join('\n');
});

test('every signature and interface in docs/API.md fits the package as built', () => {
  // The contract's main entries are all among what was checked.
  for (const name of ['platform', 'mapFile', 'mapAnonymous', 'PmemMapping', 'BlockDevice', 'devices.ram', 'devices.pmem',
    'devices.windowed', 'mkfs', 'mount', 'fsck', 'Filesystem', 'Stats', 'FileHandle', 'FileMapping', 'pinUserPages',
    'registerMemoryRegion', 'testing.crashable']) {
    expect(docs.names).toContain(name);
  }
  expect(docs.errors).toEqual([]);
});

test('the check catches drift: a member the package lacks, a wrong return type, a wrong parameter count', () => {
  expect(drift).toMatch(/ghost/);
  expect(drift.split('\n').some((l) => l.startsWith('const drift_doc_Stats'))).toBe(true);
  expect(drift).toMatch(/const drift_fn_0: drift_Doc_fn_0 = daxfs\.mapAnonymous;\n.*not assignable/);
  // platform() takes no arguments: it fits a type with two, but the arity check says no.
  expect(drift).not.toMatch(/const drift_fn_1/);
  expect(drift).toMatch(/const drift_arity_1: SameArity<typeof daxfs\.platform, drift_Doc_fn_1> = true;/);
});

test('the package object holds its exports as plain values, not getters', () => {
  // TypeScript's re-export getters left this object in V8's dictionary mode, so every
  // daxfs.daxIO(...) paid a lookup and a call (lib/index.ts).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require(DIST) as Record<string, unknown>;
  const names = Object.keys(pkg);
  expect(names).toEqual(expect.arrayContaining(['DaxError', 'mapFile', 'daxIO', 'mount', 'devices', 'testing']));
  for (const name of names) {
    const d = Object.getOwnPropertyDescriptor(pkg, name)!;
    expect({ name, getter: d.get !== undefined, hasValue: 'value' in d }).toEqual({ name, getter: false, hasValue: true });
  }
  const DaxError = pkg.DaxError as new (code: string, message: string) => Error;
  let caught: unknown;
  try { (pkg.mapAnonymous as (n: number) => unknown)(-1); } catch (e) { caught = e; }
  expect(caught).toBeInstanceOf(Error);
  expect(new DaxError('EIO', 'x')).toBeInstanceOf(DaxError);
});
