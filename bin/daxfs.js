#!/usr/bin/env node
'use strict';
// The demo runs on emulated pmem: flushes and fences instead of msync, as on real pmem.
// DAXFS_FORCE_PMEM is read once when the addon loads, so it is set before anything loads.
if (process.argv[2] === 'demo' && process.env.DAXFS_FORCE_PMEM === undefined) process.env.DAXFS_FORCE_PMEM = '1';
process.exitCode = require('../dist/cli/main.js').main(process.argv.slice(2));
