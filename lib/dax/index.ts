// Generic DAX code, written against a filesystem's getBlock callback. The fault side
// (daxFault, daxMkwrite) joins here with file mappings (lib/mm).
export { daxIO, daxIOAsync, ASYNC_COPY_MIN } from './io';
export type { DaxRw } from './io';
export { daxZeroPageRange, daxTruncatePage } from './zero';
export { PAGE_SIZE } from './access';
export { daxFault } from './fault';
export type { FaultAccess, FaultResult } from './fault';
export type { DaxInode, BlockMapping, GetBlock, ConvertUnwritten } from './getblock';
