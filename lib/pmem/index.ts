export { mapFile, mapAnonymous } from './mapping';
export type { PmemMapping, MapFileOptions, MappingKind, Granularity, StoreOptions } from './mapping';
