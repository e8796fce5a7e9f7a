'use strict';
// Smoke test of an installed or built daxfs: map a file, write, persist, close, map it
// again and read the bytes back (and through node:fs). One Node start does it all, since
// under emulation each start costs seconds.
//   node smoke.js <daxfs package dir or name> <scratch dir>
// Env: DAXFS_EXPECT_FLUSH=<name>  fail unless platform().flush is that instruction.
// Prints `smoke ok: ...` and exits 0, or prints the failure and exits 1.
const fs = require('node:fs');
const path = require('node:path');

const [pkg = 'daxfs', dir = fs.mkdtempSync('/tmp/daxfs-smoke-')] = process.argv.slice(2);
const fail = (msg) => { console.error(`smoke FAILED: ${msg}`); process.exit(1); };

let daxfs;
try {
  daxfs = require(pkg);
} catch (err) {
  fail(`require(${JSON.stringify(pkg)}): ${err.message}`);
}
const p = daxfs.platform();
console.log(`platform(): ${JSON.stringify(p)}`);
console.log(`node ${process.version} ${process.platform}-${process.arch}`);
const expect = process.env.DAXFS_EXPECT_FLUSH;
if (expect && p.flush !== expect) fail(`platform().flush is '${p.flush}', expected '${expect}'`);

const file = path.join(dir, `smoke-${process.pid}.pmem`);
const text = `hello from ${process.arch} at ${Date.now()}`;
const size = 1 << 20;
try {
  const m = daxfs.mapFile(file, { create: true, size });
  if (m.size !== size) fail(`size ${m.size}, expected ${size}`);
  m.view(0, text.length).write(text);
  m.persist(0, text.length);
  const far = size - 4096;
  m.view(far, 4).writeUInt32LE(0xdeadbeef);
  m.persist(far, 4);
  m.close();
  if (!m.closed) fail('closed is false after close()');

  const again = daxfs.mapFile(file);
  const back = again.view(0, text.length).toString();
  const tail = again.view(far, 4).readUInt32LE(0);
  again.close();
  if (back !== text) fail(`read back '${back}', expected '${text}'`);
  if (tail !== 0xdeadbeef) fail(`read back 0x${tail.toString(16)} at ${far}, expected 0xdeadbeef`);
  const onDisk = fs.readFileSync(file).subarray(0, text.length).toString();
  if (onDisk !== text) fail(`node:fs reads '${onDisk}', expected '${text}'`);
  console.log(`smoke ok: ${process.arch} flush=${p.flush} kind=${m.kind} wrote, persisted and read back ${text.length} + 4 bytes`);
} catch (err) {
  fail(err.stack || String(err));
} finally {
  fs.rmSync(file, { force: true });
}
