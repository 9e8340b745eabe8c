import type { Memory } from "@mem/hardware";

/**
 * The interface of the kernel tier that the tiers above (libc malloc, PyMem's arena
 * allocator) use: one process's system calls and its memory at virtual addresses.
 * Upper tiers depend on these shapes only, never on a concrete class of this package.
 */

/** x86-64 base page size. */
export const PAGE_SIZE = 4096;

/** `PROT_NONE`: no access. */
export const PROT_NONE = 0x0;
/** `PROT_READ`. */
export const PROT_READ = 0x1;
/** `PROT_WRITE` (implies read on x86). */
export const PROT_WRITE = 0x2;
/** `PROT_EXEC` (implies read on x86). */
export const PROT_EXEC = 0x4;

/** `MAP_SHARED`. */
export const MAP_SHARED = 0x01;
/** `MAP_PRIVATE`. */
export const MAP_PRIVATE = 0x02;
/** `MAP_FIXED`. */
export const MAP_FIXED = 0x10;
/** `MAP_ANONYMOUS`. */
export const MAP_ANONYMOUS = 0x20;
/** `MAP_NORESERVE`. */
export const MAP_NORESERVE = 0x4000;
/** `MAP_POPULATE`. */
export const MAP_POPULATE = 0x8000;
/** `MAP_FIXED_NOREPLACE` (Linux 4.17+). */
export const MAP_FIXED_NOREPLACE = 0x100000;

/** `MADV_DONTNEED`. */
export const MADV_DONTNEED = 4;
/** `MADV_FREE`. */
export const MADV_FREE = 8;

/**
 * The memory-management system calls of one process, with Linux x86-64 semantics.
 * A failing call throws a `SyscallError` carrying the errno Linux returns and leaves the
 * address space unchanged — except `brk`, which, like the raw Linux syscall, never fails
 * but returns the unchanged break.
 */
export interface MemorySyscalls {
  /**
   * `mmap(addr, length, prot, flags, fd = -1, offset = 0)`: returns the start of the new mapping.
   * Only anonymous mappings are modelled (`fd` must be -1).
   */
  mmap(address: number, length: number, prot: number, flags: number, fd?: number, offset?: number): number;
  /** `munmap(addr, length)`: partial ranges split mappings; an empty range succeeds. */
  munmap(address: number, length: number): void;
  /** `mprotect(addr, length, prot)`. */
  mprotect(address: number, length: number, prot: number): void;
  /** `madvise(addr, length, advice)` (MADV_DONTNEED and MADV_FREE have effects). */
  madvise(address: number, length: number, advice: number): void;
  /**
   * The raw `brk` syscall: sets the program break to `address` and returns the new break,
   * or returns the unchanged break when it cannot (`brk(0)` reads it).
   */
  brk(address: number): number;
  /**
   * glibc's `sbrk(increment)`: moves the break by `increment` bytes and returns the old break;
   * throws `SyscallError` ENOMEM when the break cannot move.
   */
  sbrk(increment: number): number;
}

/** A process as the allocators above the kernel see it. */
export interface ProcessSpace extends MemorySyscalls {
  /** Process id. */
  readonly pid: number;
  /** The process's memory at virtual addresses; a bad access throws `SegmentationFault`. */
  readonly memory: Memory;
}
