// Jest configuration for running test/integration on its own: inside the NVDIMM VM
// (test/nvdimm/run.sh) or on a machine with real pmem:
//   DAXFS_TEST_PMEM_DIR=/mnt/pmem DAXFS_TEST_DAX_DEVICE=/dev/dax0.0 \
//     npx jest --config test/integration/jest.config.js --runInBand
// The project's own `npm test` runs these files too (with its config): without the env vars
// every test is skipped with its reason printed.
// With DAXFS_TEST_POWERFAIL_PHASE set, only the power-fail steps run; without it, everything else.
'use strict';
const path = require('node:path');

const powerFailPhase = !!process.env.DAXFS_TEST_POWERFAIL_PHASE;

module.exports = {
  rootDir: path.resolve(__dirname, '..', '..'),
  roots: ['<rootDir>/test/integration'],
  testEnvironment: 'node',
  testMatch: powerFailPhase ? ['**/powerfail.test.ts'] : ['**/*.test.ts'],
  testPathIgnorePatterns: powerFailPhase ? ['/node_modules/'] : ['/node_modules/', '/powerfail\\.test\\.ts$'],
  // Node runs 10-25 times slower in the TCG guest than on the host.
  testTimeout: 300000,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, '..', 'tsconfig.json') }],
  },
};
