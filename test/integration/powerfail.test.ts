// The power-fail test, in two phases driven by the VM runner (npm run test:nvdimm):
// DAXFS_TEST_POWERFAIL_PHASE=write runs every step's write; the runner hard-resets the
// guest and boots again on the same NVDIMM backing files; =verify runs every step's check.
// Outside the runner (no phase), every step is skipped with the reason printed.
import { powerFail, testOn } from './devices';
import { steps } from './powerfail-steps';

describe('power failure (hard reset without sync or unmount)', () => {
  if (powerFail.phase === null) console.warn(`integration tests skipped: ${powerFail.reason}`);
  for (const step of steps) {
    if (powerFail.phase === null) {
      test.skip(`${step.name} [skipped: ${powerFail.reason}]`, () => undefined);
      continue;
    }
    const { phase, token } = powerFail;
    testOn(step.target, `${phase}: ${step.name}`, (where) => {
      if (phase === 'write') step.write(where, token);
      else step.verify(where, token);
    });
  }
});
