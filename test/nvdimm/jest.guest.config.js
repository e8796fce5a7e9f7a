// Jest configuration for the NVDIMM guest: the integration tests as transpiled by
// compile-tests.js (build/nvdimm/it), run with no transform, and the package as built in
// dist/ instead of lib/ (loading ts-jest and the TypeScript compiler in the TCG guest
// costs about a minute). Without DAXFS_TEST_POWERFAIL_PHASE, every file but the power-fail
// one runs; with it, the runner names the files (`powerfail`, and `eadr` on the eADR boot).
'use strict';
const path = require('node:path');

const powerFailPhase = !!process.env.DAXFS_TEST_POWERFAIL_PHASE;

module.exports = {
  rootDir: path.resolve(__dirname, '..', '..'),
  roots: ['<rootDir>/build/nvdimm/it'],
  testEnvironment: 'node',
  testMatch: ['**/*.test.js'],
  testPathIgnorePatterns: powerFailPhase ? ['/node_modules/'] : ['/node_modules/', '/powerfail\\.test\\.js$'],
  moduleNameMapper: { '^\\.\\./\\.\\./lib$': '<rootDir>/dist/index.js' },
  transform: {},
  testTimeout: 300000,
};
