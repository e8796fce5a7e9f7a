'use strict';
// Sums the guest's jest results (--json --outputFile) of the runner's steps into one line:
//   nvdimm: N passed, N failed, N skipped
// usage: node summarize.js SHARE_DIR STEP...   (exit 1 if anything failed)
// A boot that produced no jest report counts as one failed test, so a broken VM never
// reads as a green run; a custom guest command (DAXFS_NVDIMM_GUEST_CMD) counts as one
// test, passed or failed by its exit status.
const fs = require('fs');
const path = require('path');

const [share, ...steps] = process.argv.slice(2);
const boots = { suite: ['suite'], eadr: ['eadr'], powerfail: ['powerfail-write', 'powerfail-verify'] };
let passed = 0;
let failed = 0;
let skipped = 0;

for (const step of steps) {
  for (const name of boots[step] || [step]) {
    const dir = path.join(share, name);
    const report = path.join(dir, 'jest.json');
    const statusFile = path.join(dir, 'status');
    if (fs.existsSync(report)) {
      let r;
      try {
        r = JSON.parse(fs.readFileSync(report, 'utf8'));
      } catch (e) {
        process.stderr.write(`nvdimm: ${name}: unreadable ${report}: ${e.message}\n`);
        failed += 1;
        continue;
      }
      passed += r.numPassedTests || 0;
      failed += (r.numFailedTests || 0) + (r.numRuntimeErrorTestSuites || 0);
      skipped += (r.numPendingTests || 0) + (r.numTodoTests || 0);
      const status = fs.existsSync(statusFile) ? fs.readFileSync(statusFile, 'utf8').trim() : '';
      if (status !== '0' && !r.numFailedTests && !r.numRuntimeErrorTestSuites) failed += 1; // jest itself failed
    } else if (fs.existsSync(statusFile)) {
      if (fs.readFileSync(statusFile, 'utf8').trim() === '0') passed += 1;
      else failed += 1;
    } else {
      failed += 1;
    }
  }
}

process.stdout.write(`nvdimm: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exitCode = failed ? 1 : 0;
