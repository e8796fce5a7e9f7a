// The public API of daxfs (see docs/API.md).
//
// Functions and objects are bound with `export const`, which TypeScript emits as plain
// assignments. Its `export { x } from` form emits a getter per name, and with a dozen of
// them V8 kept this object in dictionary mode: every `daxfs.daxIO(...)` was a hash lookup
// plus a getter call (~100 ns on the bench machine, issue 3). One getter is enough for
// that, so the class DaxError is bound the same way, with its instance type beside it.
import * as block from './block';
import * as errors from './errors';
import * as dax from './dax';
import * as fs from './fs';
import * as mm from './mm';
import * as platformInfo from './platform';
import * as pmem from './pmem';
import * as testingTools from './testing';

export const { DaxError } = errors;
export type DaxError = errors.DaxError;
export type { DaxErrorDetails } from './errors';
export const { platform } = platformInfo;
export type { Platform, FlushInstruction } from './platform';
export const { mapFile, mapAnonymous } = pmem;
export type { PmemMapping, MapFileOptions, MappingKind, Granularity, StoreOptions } from './pmem';
export const { devices, SECTOR_SIZE } = block;
export type { BlockDevice, DirectAccess, DaxOperations, BadBlockList, WindowedOptions, PmemDeviceOptions } from './block';
export const { daxIO, daxZeroPageRange, daxTruncatePage } = dax;
export type { DaxInode, BlockMapping, GetBlock, ConvertUnwritten, DaxRw } from './dax';
export const { mkfs, mount, fsck } = fs;
export type { Filesystem, FileHandle, PromiseFileHandle, Stats, Statfs, MountOptions, MkfsOptions, FsckOptions, FsckResult, Profile, OnProgress } from './fs';
export const { pinUserPages, registerMemoryRegion } = mm;
export type { FileMapping, FileMappingStats } from './mm';
export const { testing } = testingTools;
export type { CrashableMapping, CrashableOptions, CrashOptions, CrashMode } from './testing';
