// File mappings (VMA emulation) and get_user_pages emulation.
export { FileMapping, HUGE_SIZE, VIEW_EVENT } from './filemapping';
export type { FileMappingOptions, FileMappingStats, MappedFile } from './filemapping';
export { MappingRegistry } from './registry';
export { pinUserPages, registerMemoryRegion } from './gup';
