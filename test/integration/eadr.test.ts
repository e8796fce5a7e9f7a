// eADR: whether the CPU caches are inside the persistence domain, as the kernel reports it
// (every nd region's persistence_domain is cpu_cache), and what daxfs makes of it.
// The VM runner boots once with -machine nvdimm-persistence=cpu (DAXFS_TEST_EXPECT_EADR=1)
// and otherwise without it (DAXFS_TEST_EXPECT_EADR=0).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mapFile, platform } from '../../lib';
import { anyPmem, devdax, expectEadr, fsdax, testOn } from './devices';

const ND = '/sys/bus/nd/devices';

/** persistence_domain of every nd region ('' where the file is missing or empty). */
function regionDomains(): Record<string, string> {
  const out: Record<string, string> = {};
  let names: string[] = [];
  try {
    names = fs.readdirSync(ND).filter((n) => /^region\d+$/.test(n));
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out[n] = fs.readFileSync(path.join(ND, n, 'persistence_domain'), 'utf8').trim();
    } catch {
      out[n] = '';
    }
  }
  return out;
}

const domains = regionDomains();
const sysfsEadr = Object.keys(domains).length > 0 && Object.values(domains).every((d) => d === 'cpu_cache');

describe('eADR (persistence domain includes the CPU caches)', () => {
  test(`platform().autoFlush matches the nd regions' persistence_domain (${JSON.stringify(domains)})`, () => {
    expect(platform().autoFlush).toBe(sysfsEadr);
  });

  const expectation = expectEadr;
  if (expectation === null) {
    console.warn('integration tests skipped: DAXFS_TEST_EXPECT_EADR is not set (1 or 0: whether this machine is known to have eADR)');
    test.skip('the machine is what DAXFS_TEST_EXPECT_EADR says [skipped: DAXFS_TEST_EXPECT_EADR is not set]', () => undefined);
  } else {
    test(`the machine is what DAXFS_TEST_EXPECT_EADR says: autoFlush ${expectation}`, () => {
      expect(sysfsEadr).toBe(expectation);
      expect(platform().autoFlush).toBe(expectation);
    });
  }

  const granularity = sysfsEadr ? 'byte' : 'cache-line';
  testOn(anyPmem, `a pmem mapping's granularity is '${granularity}' (autoFlush ${sysfsEadr})`, () => {
    if (fsdax.available) {
      const m = mapFile(path.join(fsdax.path, `eadr-${process.pid}`), { create: true, size: 1 << 20 });
      try {
        expect(m.isPmem).toBe(true);
        expect(m.granularity).toBe(granularity);
      } finally {
        m.close();
        fs.rmSync(path.join(fsdax.path, `eadr-${process.pid}`), { force: true });
      }
    }
    if (devdax.available) {
      const m = mapFile(devdax.path);
      try {
        expect(m.kind).toBe('devdax');
        expect(m.granularity).toBe(granularity);
      } finally {
        m.close();
      }
    }
  });
});
