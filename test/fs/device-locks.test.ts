// lib/fs/locking's DeviceLocks over the native locks: nested holds on one thread, and the
// table entry a released lock leaves behind, taken again in either mode.
import { DeviceLocks } from '../../lib/fs/locking';
import { native } from '../../lib/native';

const DOMAIN = 7_000_001;   // no device of this process has this identity
const locks = new DeviceLocks(DOMAIN);

/** Whether another taker could have the lock in that mode now (undone at once if so). */
function free(key: number, exclusive: boolean): boolean {
  if (!native.rwTryLock(DOMAIN, key, exclusive)) return false;
  native.rwUnlock(DOMAIN, key, exclusive);
  return true;
}

test('a nested hold on one thread is one native hold, released with the outer one', () => {
  const outer = locks.inode(5, false);
  const inner = locks.inode(5, false);
  expect(inner).toBe(outer);
  expect(free(5, true)).toBe(false);
  inner[Symbol.dispose]();
  expect(free(5, true)).toBe(false);   // the outer hold stands
  outer[Symbol.dispose]();
  expect(free(5, true)).toBe(true);
});

test('a released lock is taken again in the other mode, and released again', () => {
  const shared = locks.inode(6, false);
  shared[Symbol.dispose]();
  const exclusive = locks.inode(6, true);
  expect(free(6, false)).toBe(false);   // held exclusive now, not shared
  exclusive[Symbol.dispose]();
  expect(free(6, false)).toBe(true);
  const again = locks.inode(6, false);
  expect(free(6, true)).toBe(false);
  expect(free(6, false)).toBe(true);    // shared: another reader gets in
  again[Symbol.dispose]();
  expect(free(6, true)).toBe(true);
});

test('an exclusive take while this thread holds the lock shared is EBUSY, not a self-deadlock', () => {
  const shared = locks.inode(8, false);
  expect(() => locks.inode(8, true)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
  shared[Symbol.dispose]();
  expect(free(8, true)).toBe(true);
});

test('disposing a released hold again is EPERM', () => {
  const h = locks.inode(9, true);
  h[Symbol.dispose]();
  expect(() => h[Symbol.dispose]()).toThrow(expect.objectContaining({ code: 'EPERM' }));
  expect(free(9, true)).toBe(true);
});

test('many files locked in turn: released entries are dropped past a bound, locks still work', () => {
  for (let key = 1000; key < 4000; key++) {
    const h = locks.inode(key, key % 2 === 0);
    h[Symbol.dispose]();
  }
  for (const key of [1000, 2500, 3999]) expect(free(key, true)).toBe(true);
  const h = locks.inode(1000, true);
  expect(free(1000, false)).toBe(false);
  h[Symbol.dispose]();
});
