// Helpers for testing code that uses persistent memory (API.md, "Testing helpers").
import { crashable } from './crashable';

export { crashable };
export type { CrashableMapping, CrashableOptions, CrashOptions, CrashMode } from './crashable';

export const testing = { crashable };
