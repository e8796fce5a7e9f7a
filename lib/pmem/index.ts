export { mapFile, mapAnonymous, mappingPath } from './mapping';
export type { PmemMapping, MapFileOptions, MappingKind, Granularity, StoreOptions } from './mapping';
