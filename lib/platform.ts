// Architecture policy and what the CPU offers.
import { native } from './native';

export type FlushInstruction = 'clwb' | 'clflushopt' | 'clflush' | 'dc cvap' | 'dc cvac' | 'none';

export interface Platform {
  arch: string;
  flush: FlushInstruction;
  fence: 'sfence' | 'dsb' | 'none';
  nontemporal: boolean;
  /** Which non-temporal copy runs: 'avx512', 'avx2', 'sse2', or 'plain' (copy + flush). */
  copy: 'avx512' | 'avx2' | 'sse2' | 'plain';
  cacheLine: number;
  pageSize: number;
  daxSupported: boolean;
  autoFlush: boolean;
}

/**
 * Architectures whose caches are virtually mapped: the kernel's DAX code reaches storage
 * through its own mapping, which is not coherent with user mappings there, so DAX is off.
 */
export const VIRTUALLY_MAPPED_CACHE_ARCHES: readonly string[] = ['arm', 'mips', 'mipsel', 'sparc', 'sparc64'];

const arch = process.env.DAXFS_ARCH || process.arch;

export function platform(): Platform {
  const p = native.platform();
  return {
    arch,
    flush: p.flush,
    fence: p.fence,
    nontemporal: p.nontemporal,
    copy: p.copy,
    cacheLine: p.cacheLine,
    pageSize: p.pageSize,
    daxSupported: !VIRTUALLY_MAPPED_CACHE_ARCHES.includes(arch),
    autoFlush: p.autoFlush,
  };
}
