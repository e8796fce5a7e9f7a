#!/usr/bin/env node
'use strict';
// Runs at `npm install`: a prebuilt binary for this platform is used when it loads;
// otherwise the addon is built from source with node-gyp (python3, make and g++ needed).
const cp = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function loads(file) {
  const r = cp.spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { stdio: 'ignore' });
  return r.status === 0;
}

function prebuild() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  let names = [];
  try { names = fs.readdirSync(dir).filter((n) => n.endsWith('.node')); } catch { return null; }
  const file = names.map((n) => path.join(dir, n)).find(loads);
  return file || null;
}

function nodeGyp() {
  const local = path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (fs.existsSync(local)) return local;
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  return require.resolve('node-gyp/bin/node-gyp.js');
}

if (fs.existsSync(path.join(root, 'build', 'Release', 'daxfs.node'))) process.exit(0);
const found = prebuild();
if (found) {
  console.log(`daxfs: using the prebuilt binary ${path.relative(root, found)}`);
  process.exit(0);
}
console.log(`daxfs: no prebuilt binary for ${process.platform}-${process.arch} loads here; building from source`);
let gyp;
try { gyp = nodeGyp(); } catch {
  console.error('daxfs: node-gyp was not found. Install it (npm i -g node-gyp) with python3, make and g++, then run `npm rebuild daxfs`.');
  process.exit(1);
}
const r = cp.spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('daxfs: the source build failed. It needs python3, make and a C++17 compiler (g++ or clang++); ' +
    'install them and run `npm rebuild daxfs`. Prebuilt binaries exist for linux-x64 and linux-arm64 (glibc).');
  process.exit(r.status || 1);
}
