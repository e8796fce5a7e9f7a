import { convert, Extent, hasUnwritten, holes, insert, lookup, mappedBlocks, markUnwritten, remove } from '../../lib/fs/extents';

const ext = (fileBlock: number, length: number, deviceBlock: number, unwritten = false): Extent =>
  ({ fileBlock, length, deviceBlock, unwritten });

describe('extent map', () => {
  test('lookup finds the device block and the blocks left in the extent, or the hole length', () => {
    const list = [ext(0, 4, 100), ext(10, 2, 200, true)];
    expect(lookup(list, 2, 10)).toEqual({ mapped: true, deviceBlock: 102, count: 2, unwritten: false });
    expect(lookup(list, 2, 1)).toEqual({ mapped: true, deviceBlock: 102, count: 1, unwritten: false });
    expect(lookup(list, 5, 100)).toEqual({ mapped: false, deviceBlock: 0, count: 5, unwritten: false });
    expect(lookup(list, 11, 5)).toEqual({ mapped: true, deviceBlock: 201, count: 1, unwritten: true });
    expect(lookup(list, 50, 7).count).toBe(7);
  });

  test('insert merges extents that continue each other on the device', () => {
    let list = insert([], ext(0, 2, 50));
    list = insert(list, ext(2, 3, 52));
    expect(list).toEqual([ext(0, 5, 50)]);
    list = insert(list, ext(5, 1, 90));
    expect(list).toEqual([ext(0, 5, 50), ext(5, 1, 90)]);
    list = insert(list, ext(6, 1, 91, true));
    expect(list).toHaveLength(3);   // unwritten does not merge with written
  });

  test('remove splits extents and returns exactly the device ranges to free', () => {
    const { extents, freed } = remove([ext(0, 10, 100), ext(20, 5, 300)], 3, 22);
    expect(extents).toEqual([ext(0, 3, 100), ext(22, 3, 302)]);
    expect(freed).toEqual([[103, 7], [300, 2]]);
    expect(mappedBlocks(extents)).toBe(6);
  });

  test('convert marks part of an unwritten extent written and merges what it can', () => {
    const list = convert([ext(0, 4, 100), ext(4, 6, 104, true)], 4, 7);
    expect(list).toEqual([ext(0, 7, 100), ext(7, 3, 107, true)]);
    expect(convert(list, 0, 100)).toEqual([ext(0, 10, 100)]);
  });

  test('markUnwritten splits written extents at the range edges and leaves the device blocks where they are', () => {
    const list = markUnwritten([ext(0, 10, 100), ext(12, 2, 200)], 3, 13);
    expect(list).toEqual([ext(0, 3, 100), ext(3, 7, 103, true), ext(12, 1, 200, true), ext(13, 1, 201)]);
    expect(mappedBlocks(list)).toBe(12);
    expect(convert(list, 0, 20)).toEqual([ext(0, 10, 100), ext(12, 2, 200)]);
  });

  test('hasUnwritten and holes see only the asked range', () => {
    const list = [ext(2, 3, 100, true), ext(8, 2, 200)];
    expect(hasUnwritten(list, 0, 2)).toBe(false);
    expect(hasUnwritten(list, 4, 9)).toBe(true);
    expect(hasUnwritten(list, 5, 20)).toBe(false);
    expect(holes(list, 0, 12)).toEqual([[0, 2], [5, 3], [10, 2]]);
    expect(holes(list, 3, 9)).toEqual([[5, 3]]);
    expect(holes([], 4, 6)).toEqual([[4, 2]]);
  });
});
