// Where a copy off the main thread starts to pay: the time of one native async copy
// (libuv thread hop + completion) against the synchronous copy of the same size.
// Usage: node bench/async-copy.js   (needs dist/: npm run build:ts)
'use strict';
const { native } = require('../dist/native');
const { mapAnonymous } = require('../dist/pmem');
const { asyncCopier } = require('../dist/pmem/mapping');

async function main() {
  const m = mapAnonymous(16 << 20);
  const copyAsync = asyncCopier(m);
  console.log('bytes      sync us   async us  (write: flushed + one fence)');
  for (let size = 4096; size <= 4 << 20; size *= 4) {
    const buf = Buffer.alloc(size, 7);
    const seg = Float64Array.of(0, 0, size);
    const rounds = Math.max(20, Math.min(2000, (64 << 20) / size));
    let t = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) { m.copy(0, buf, { drain: false }); m.drain(); }
    const sync = Number(process.hrtime.bigint() - t) / rounds / 1e3;
    t = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) await copyAsync(true, buf, seg);
    const asyncUs = Number(process.hrtime.bigint() - t) / rounds / 1e3;
    console.log(String(size).padEnd(10), sync.toFixed(1).padStart(8), asyncUs.toFixed(1).padStart(10));
  }
  m.close();
  void native;
}
main();
