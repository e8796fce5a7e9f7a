// AsyncRwLocks: the in-process inode lock of the promises API.
import { AsyncRwLocks } from '../../lib/fs/asynclock';

test('readers share, a writer waits for them, and readers arriving behind a waiting writer wait too', async () => {
  const locks = new AsyncRwLocks();
  const log: string[] = [];
  const r1 = locks.tryAcquire(1, false)!;
  const r2 = locks.tryAcquire(1, false)!;
  expect([typeof r1, typeof r2]).toEqual(['function', 'function']);
  expect(locks.tryAcquire(1, true)).toBeUndefined();
  const w = locks.acquire(1, true).then((release) => { log.push('writer'); return release; });
  const r3 = locks.acquire(1, false).then((release) => { log.push('reader 3'); return release; });
  expect(locks.tryAcquire(2, true)).toBeDefined();   // other keys are independent
  r1();
  r1();                                              // a release counts once
  await Promise.resolve();
  expect(log).toEqual([]);
  r2();
  const wr = await w;
  expect(log).toEqual(['writer']);
  wr();
  (await r3)();
  expect(log).toEqual(['writer', 'reader 3']);
  expect(locks.tryAcquire(1, true)).toBeDefined();
});
