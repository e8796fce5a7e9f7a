// A jest reporter for CI: appends each test file and test case to a log as it starts. With
// two cores jest runs in band, so a native crash (SIGSEGV) ends the whole run without a
// summary; this log then names what was running and what had finished (.ci/run prints its
// tail, counts the finished files from it and runs the rest).
'use strict';
const fs = require('node:fs');

class StartedReporter {
  constructor(_globalConfig, options = {}) {
    this.file = options.file || process.env.DAXFS_JEST_STARTED || '.ci/out/jest-started.log';
    fs.writeFileSync(this.file, '');
  }

  #log(line) {
    fs.appendFileSync(this.file, `${new Date().toISOString()} ${line}\n`);
  }

  onTestFileStart(test) { this.#log(`file ${test.path}`); }

  onTestCaseStart(_test, info) { this.#log(`  test ${info.fullName}`); }

  onTestFileResult(test, result) { this.#log(`done ${test.path} (${result.numPassingTests} passed, ${result.numFailingTests + (result.testExecError ? 1 : 0)} failed)`); }
}

module.exports = StartedReporter;
