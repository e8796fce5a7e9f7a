'use strict';
// Transpiles test/integration/*.ts to JavaScript in OUT_DIR (TypeScript's transpileModule:
// no type check; `npm test` type-checks them). Under TCG, loading the TypeScript compiler
// in the guest costs about a minute, so the guest runs these files with no transform, and
// `../../lib` mapped to the package's compiled dist/ (test/nvdimm/jest.guest.config.js).
// usage: node compile-tests.js OUT_DIR
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const repo = path.resolve(__dirname, '..', '..');
const src = path.join(repo, 'test', 'integration');
const out = path.resolve(process.argv[2]);
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
let n = 0;
for (const name of fs.readdirSync(src)) {
  if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
  const file = path.join(src, name);
  const r = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      isolatedModules: true,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  for (const d of r.diagnostics || []) {
    process.stderr.write(`${name}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}\n`);
  }
  if ((r.diagnostics || []).length) process.exitCode = 1;
  fs.writeFileSync(path.join(out, name.replace(/\.ts$/, '.js')), r.outputText);
  n += 1;
}
process.stdout.write(`transpiled ${n} files to ${out}\n`);
