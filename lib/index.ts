// The public API of daxfs (see docs/API.md).
export { DaxError } from './errors';
export type { DaxErrorDetails } from './errors';
export { platform } from './platform';
export type { Platform, FlushInstruction } from './platform';
export { mapFile, mapAnonymous } from './pmem';
export type { PmemMapping, MapFileOptions, MappingKind, Granularity, StoreOptions } from './pmem';
export { devices, SECTOR_SIZE } from './block';
export type { BlockDevice, DirectAccess, DaxOperations, BadBlockList, WindowedOptions, PmemDeviceOptions } from './block';
export { daxIO, daxZeroPageRange, daxTruncatePage } from './dax';
export type { DaxInode, BlockMapping, GetBlock, ConvertUnwritten, DaxRw } from './dax';
export { mkfs, mount, fsck } from './fs';
export type { Filesystem, FileHandle, PromiseFileHandle, Stats, Statfs, MountOptions, MkfsOptions, FsckOptions, FsckResult, Profile, OnProgress } from './fs';
export { pinUserPages, registerMemoryRegion } from './mm';
export type { FileMapping, FileMappingStats } from './mm';
export { testing } from './testing';
export type { CrashableMapping, CrashableOptions, CrashOptions, CrashMode } from './testing';
