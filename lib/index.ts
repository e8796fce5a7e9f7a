// The public API of daxfs (see docs/API.md).
export { DaxError } from './errors';
export type { DaxErrorDetails } from './errors';
export { platform } from './platform';
export type { Platform, FlushInstruction } from './platform';
export { mapFile, mapAnonymous } from './pmem';
export type { PmemMapping, MapFileOptions, MappingKind, Granularity, StoreOptions } from './pmem';
