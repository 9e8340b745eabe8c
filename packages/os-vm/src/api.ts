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

// ---- more of the Linux x86-64 ABI ------------------------------------------------------

/** `MAP_SHARED_VALIDATE`: like MAP_SHARED, but unknown flags are rejected with EOPNOTSUPP. */
export const MAP_SHARED_VALIDATE = 0x03;
/** The mask of the mapping type bits (`MAP_TYPE`). */
export const MAP_TYPE = 0x0f;
/** `MAP_32BIT` (x86: place the mapping in the first 2 GiB). */
export const MAP_32BIT = 0x40;
/** `MAP_GROWSDOWN`: a stack-like mapping. */
export const MAP_GROWSDOWN = 0x0100;
/** `MAP_DENYWRITE` (ignored). */
export const MAP_DENYWRITE = 0x0800;
/** `MAP_EXECUTABLE` (ignored). */
export const MAP_EXECUTABLE = 0x1000;
/** `MAP_LOCKED`. */
export const MAP_LOCKED = 0x2000;
/** `MAP_NONBLOCK`. */
export const MAP_NONBLOCK = 0x10000;
/** `MAP_STACK` (a hint only). */
export const MAP_STACK = 0x20000;
/** `MAP_HUGETLB` (hugetlbfs pages: not modelled, rejected). */
export const MAP_HUGETLB = 0x40000;
/** `MAP_SYNC` (only with MAP_SHARED_VALIDATE on DAX files). */
export const MAP_SYNC = 0x80000;
/** `MAP_FAILED`: what the C wrapper returns on failure, `(void *)-1`. */
export const MAP_FAILED = -1;

/** `PROT_GROWSDOWN` (mprotect only: extend the change down to the start of a grows-down mapping). */
export const PROT_GROWSDOWN = 0x01000000;
/** `PROT_GROWSUP`. */
export const PROT_GROWSUP = 0x02000000;

/** `MADV_NORMAL`. */
export const MADV_NORMAL = 0;
/** `MADV_RANDOM`. */
export const MADV_RANDOM = 1;
/** `MADV_SEQUENTIAL`. */
export const MADV_SEQUENTIAL = 2;
/** `MADV_WILLNEED`. */
export const MADV_WILLNEED = 3;
/** `MADV_REMOVE`. */
export const MADV_REMOVE = 9;
/** `MADV_DONTFORK`. */
export const MADV_DONTFORK = 10;
/** `MADV_DOFORK`. */
export const MADV_DOFORK = 11;
/** `MADV_MERGEABLE` (KSM). */
export const MADV_MERGEABLE = 12;
/** `MADV_UNMERGEABLE`. */
export const MADV_UNMERGEABLE = 13;
/** `MADV_HUGEPAGE`. */
export const MADV_HUGEPAGE = 14;
/** `MADV_NOHUGEPAGE`. */
export const MADV_NOHUGEPAGE = 15;
/** `MADV_DONTDUMP`. */
export const MADV_DONTDUMP = 16;
/** `MADV_DODUMP`. */
export const MADV_DODUMP = 17;
/** `MADV_WIPEONFORK`. */
export const MADV_WIPEONFORK = 18;
/** `MADV_KEEPONFORK`. */
export const MADV_KEEPONFORK = 19;
/** `MADV_COLD`. */
export const MADV_COLD = 20;
/** `MADV_PAGEOUT`. */
export const MADV_PAGEOUT = 21;
/** `MADV_POPULATE_READ`. */
export const MADV_POPULATE_READ = 22;
/** `MADV_POPULATE_WRITE`. */
export const MADV_POPULATE_WRITE = 23;
/** `MADV_DONTNEED_LOCKED`. */
export const MADV_DONTNEED_LOCKED = 24;
/** `MADV_COLLAPSE`. */
export const MADV_COLLAPSE = 25;

/** `MREMAP_MAYMOVE`: mremap may move the mapping. */
export const MREMAP_MAYMOVE = 1;
/** `MREMAP_FIXED`: move the mapping to the given new address (needs MREMAP_MAYMOVE). */
export const MREMAP_FIXED = 2;
/** `MREMAP_DONTUNMAP`: move the pages but keep the old mapping, empty (5.7+). */
export const MREMAP_DONTUNMAP = 4;

/**
 * `mremap`, which glibc's `realloc` uses for chunks it got from mmap. Not part of
 * {@link MemorySyscalls}: an implementation of the kernel tier may leave it out; callers can
 * test for it with `"mremap" in process`.
 */
export interface MremapSyscall {
  /**
   * `mremap(old, oldLength, newLength, flags, newAddress)`: shrinks in place, grows in place
   * when the pages after the mapping are free, else (with MREMAP_MAYMOVE) moves the mapping's
   * page-table entries to a new range, as Linux does. Returns the (new) start.
   */
  mremap(oldAddress: number, oldLength: number, newLength: number, flags: number, newAddress?: number): number;
}

/** 2 MiB: a PMD-level (transparent huge) page. */
export const HPAGE_PMD_SIZE = 2 * 1024 * 1024;
/** 2^47 - 4096 = 0x7ffffffff000: `TASK_SIZE`, the end of the user window (4-level paging). */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;
/** 0x7ffffffff000: `STACK_TOP`, the top of the main stack without randomisation. */
export const STACK_TOP = TASK_SIZE;
/** 1 MiB (256 pages): `stack_guard_gap`, kept free below a grows-down mapping. */
export const STACK_GUARD_GAP = 256 * PAGE_SIZE;
/** 0x555555554000: `ELF_ET_DYN_BASE` page: where a PIE executable loads without randomisation. */
export const ELF_ET_DYN_BASE = 0x555555554000;
/** 0x2aaaaaaab000: `TASK_UNMAPPED_BASE`, the base of the bottom-up fallback search. */
export const TASK_UNMAPPED_BASE = 0x2aaaaaaab000;
/** 65530: `vm.max_map_count`'s default (`DEFAULT_MAX_MAP_COUNT`). */
export const DEFAULT_MAX_MAP_COUNT = 65530;
/** 4096: `vm.mmap_min_addr` as observed on this machine (many distributions use 65536). */
export const DEFAULT_MMAP_MIN_ADDR = 4096;
/** 8 MiB: the default `RLIMIT_STACK` (`ulimit -s` 8192). */
export const DEFAULT_RLIMIT_STACK = 8 * 1024 * 1024;
/** The largest buddy order: blocks of 2^10 pages = 4 MiB (`MAX_PAGE_ORDER`, `MAX_ORDER - 1` in 6.1). */
export const MAX_PAGE_ORDER = 10;

/** Page fault counters of a process, as `getrusage` reports them. */
export interface FaultCounters {
  /** Faults satisfied without I/O (`ru_minflt`, field 10 of /proc/PID/stat). */
  minor: number;
  /** Faults that needed I/O (`ru_majflt`): swap-ins. */
  major: number;
}

/** `vm.overcommit_memory`: 0 heuristic, 1 always, 2 never. */
export type OvercommitPolicy = 0 | 1 | 2;

/**
 * One mapping of a program image that exists before `main` runs (executable segments,
 * shared libraries, the vDSO): the fields of a /proc/PID/maps line.
 */
export interface ImageMapping {
  /** First address (page aligned). */
  start: number;
  /** End address, exclusive (page aligned). */
  end: number;
  /** Permissions as maps prints them, e.g. `"r-xp"`. */
  perms: string;
  /** File offset in bytes (0 for anonymous mappings). */
  offset?: number;
  /** Device as maps prints it, e.g. `"fe:00"` (default `"00:00"`). */
  device?: string;
  /** Inode number (0 for anonymous mappings). */
  inode?: number;
  /** Path or special name (`[vdso]`, `[vvar]` ...); omitted for anonymous mappings. */
  name?: string;
  /** Whether the mapping belongs to the main executable (counts in VmExe rather than VmLib). */
  executable?: boolean;
}

/** What a process looks like when it starts: its mappings and the end of its .bss. */
export interface ProcessImage {
  /** A short description, e.g. `"small C program (gcc -O0, glibc 2.36), setarch -R"`. */
  description: string;
  /** Mappings other than the stack and the heap, sorted by address. */
  mappings: readonly ImageMapping[];
  /** `start_brk`: the page after .bss, where the program break starts. */
  startBrk: number;
  /** `mmap_base`: top-down mmap placement starts below this address. */
  mmapBase: number;
  /** Top of the main stack (`[stack]` VMA end). */
  stackTop: number;
  /** Size of the initial `[stack]` VMA in bytes (132 KiB observed). */
  stackSize: number;
}

/** Options of a {@link Kernel}. */
export interface KernelOptions {
  /** Physical RAM (any @mem/hardware `Memory`, frames of 4 KiB). */
  ram: Memory;
  /**
   * `vm.overcommit_memory`.
   * @defaultValue 0
   */
  overcommitMemory?: OvercommitPolicy;
  /**
   * `vm.overcommit_ratio` (percent of RAM in the commit limit in mode 2).
   * @defaultValue 50
   */
  overcommitRatio?: number;
  /**
   * `vm.max_map_count`.
   * @defaultValue 65530
   */
  maxMapCount?: number;
  /**
   * `vm.mmap_min_addr`.
   * @defaultValue 4096
   */
  mmapMinAddr?: number;
  /**
   * A simulated disk to swap anonymous pages to (any `Memory`; page 0 is the swap header).
   * Without it there is no swap, as on this machine.
   */
  swap?: Memory;
  /**
   * Align anonymous mappings whose length is a multiple of 2 MiB to 2 MiB, as Linux 6.7+ with
   * transparent huge pages does (this machine runs 6.18). Linux 6.1 does not.
   * @defaultValue true
   */
  thpAlignment?: boolean;
  /**
   * Map the shared zero page when a process reads fresh private anonymous memory (no RSS
   * until the first write), as this machine's kernel does. With false, a read fault allocates
   * a zeroed page instead, as reported from a Debian 13 machine (`RssAnon` grew by the bytes read).
   * @defaultValue true
   */
  zeroPage?: boolean;
}

/** Options of {@link Kernel.createProcess}. */
export interface ProcessOptions {
  /**
   * The image the process starts with.
   * @defaultValue a small dynamically linked C program run under `setarch -R` (recorded here)
   */
  image?: ProcessImage;
  /**
   * Seed of address-space randomisation (ASLR: brk offset, mmap base, stack top). Without a seed
   * there is no randomisation, as under `setarch -R`.
   */
  aslrSeed?: number;
  /**
   * `RLIMIT_STACK` in bytes.
   * @defaultValue 8 MiB
   */
  stackLimit?: number;
  /**
   * The command name (`comm`, at most 15 characters: longer names are cut, as the kernel does).
   * @defaultValue the base name of the image's executable (`a.out` for the default image)
   */
  comm?: string;
  /**
   * The real user id (the OOM killer's report prints it).
   * @defaultValue 0 (root, as the recordings on this machine were made)
   */
  uid?: number;
  /**
   * `/proc/PID/oom_score_adj`: -1000 (never OOM-killed) .. 1000 (killed first).
   * @defaultValue 0
   */
  oomScoreAdj?: number;
}
