// Block device drivers.
import { mapAnonymous, mapFile, mappingPath, PmemMapping } from '../pmem';
import { checkOptions, checkOneOf, checkSize } from '../validate';
import { DaxError, argError } from '../errors';
import { BlockDevice } from './device';
import { MappedDevice } from './mapped';
import { WindowedDevice, WindowedOptions } from './windowed';

export type { BlockDevice, DirectAccess, DaxOperations, BadBlockList } from './device';
export { SECTOR_SIZE } from './device';
export { MappedDevice } from './mapped';
export { WindowedDevice } from './windowed';
export type { WindowedOptions } from './windowed';

let ramCount = 0;
let pmemCount = 0;
let windowedCount = 0;

export interface PmemDeviceOptions {
  sync?: 'auto' | 'required';
}

export const devices = {
  /** Volatile memory that reads as zeros until written, like the kernel's brd. */
  ram(size: number): BlockDevice {
    checkSize(size, 'size');
    return new MappedDevice(`ram${ramCount++}`, mapAnonymous(size), true);
  },

  /**
   * Persistent memory: a device-DAX node, a file on a DAX filesystem, or a plain file
   * (emulation), by path; or a PmemMapping the caller keeps owning.
   */
  pmem(source: string | PmemMapping, options?: PmemDeviceOptions): BlockDevice {
    const o = checkOptions<PmemDeviceOptions>(options, 'options');
    const sync = checkOneOf(o.sync, 'options.sync', ['auto', 'required'] as const);
    const name = `pmem${pmemCount++}`;
    if (typeof source === 'string') {
      const mapping = mapFile(source, { sync });
      return new MappedDevice(name, mapping, true, mappingPath(mapping));
    }
    if (source === null || typeof source !== 'object' || typeof (source as PmemMapping).persist !== 'function') {
      throw argError('ERR_INVALID_ARG_TYPE', 'The "source" argument must be a path or a PmemMapping');
    }
    if (sync === 'required' && !source.isPmem) {
      throw new DaxError('EOPNOTSUPP', "sync: 'required' needs a pmem mapping (device DAX or MAP_SYNC); this one persists by msync or not at all", { errno: -95 });
    }
    return new MappedDevice(name, source, false, mappingPath(source));
  },

  /** A device that pages its storage through a small window: no direct access. */
  windowed(size: number, options?: WindowedOptions): BlockDevice {
    return new WindowedDevice(`win${windowedCount++}`, size, options);
  },
};
