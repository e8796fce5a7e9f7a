'use strict';
// What kind of filesystem a directory is on: the benchmarks label DRAM-backed (tmpfs,
// ramfs) runs as emulated pmem and look for a real disk for fdatasync.
const fs = require('fs');

const TMPFS = 0x01021994;
const RAMFS = 0x858458f6;

/** statfs's f_type of `dir`, or null when it cannot be read. */
function fsTypeOf(dir) {
  try { return fs.statfsSync(dir).type; } catch { return null; }
}

function isRamFs(dir) {
  const t = fsTypeOf(dir);
  return t === TMPFS || t === RAMFS;
}

module.exports = { TMPFS, RAMFS, fsTypeOf, isRamFs };
