/**
 * The interface of the C-library tier that the tier above (PyMem's "malloc" allocator)
 * depends on. Pointers are plain numbers; `0` is NULL.
 */

/** A C allocator: the malloc family with C semantics (NULL and errno on failure). */
export interface CAllocator {
  /** `malloc(size)`: a pointer, or 0 with `errno` set to ENOMEM. */
  malloc(size: number): number;
  /** `calloc(nmemb, size)`: zeroed memory, or 0 (ENOMEM, also on multiplication overflow). */
  calloc(nmemb: number, size: number): number;
  /** `realloc(ptr, size)`: C semantics (`realloc(0, n)` = malloc, `realloc(p, 0)` frees and returns 0). */
  realloc(pointer: number, size: number): number;
  /** `free(ptr)`: `free(0)` does nothing. */
  free(pointer: number): void;
  /** `malloc_usable_size(ptr)`: bytes usable in the block (0 for NULL). */
  usableSize(pointer: number): number;
  /** `memalign(alignment, size)`. */
  memalign(alignment: number, size: number): number;
  /** `posix_memalign(&p, alignment, size)`: returns the error number (0, EINVAL or ENOMEM) and the pointer. */
  posixMemalign(alignment: number, size: number): { error: number; pointer: number };
  /** `aligned_alloc(alignment, size)`. */
  alignedAlloc(alignment: number, size: number): number;
  /** The C `errno` as the last failing call left it. */
  readonly errno: number;
  /** `mallinfo2()`-shaped statistics. */
  mallinfo2(): Mallinfo2;
}

/** The fields of glibc's `struct mallinfo2`, with glibc's meanings. */
export interface Mallinfo2 {
  /** Non-mmapped space allocated from the system (bytes). */
  arena: number;
  /** Number of free chunks (not in fastbins or tcache). */
  ordblks: number;
  /** Number of free fastbin chunks. */
  smblks: number;
  /** Number of mmapped chunks. */
  hblks: number;
  /** Bytes in mmapped chunks. */
  hblkhd: number;
  /** Always 0. */
  usmblks: number;
  /** Bytes in free fastbin chunks. */
  fsmblks: number;
  /** Bytes in chunks in use. */
  uordblks: number;
  /** Bytes in free chunks (not fastbins). */
  fordblks: number;
  /** Bytes releasable by malloc_trim (the top chunk's size). */
  keepcost: number;
}

/** `mallopt` parameter `M_MXFAST`. */
export const M_MXFAST = 1;
/** `mallopt` parameter `M_NLBLKS` (unused, accepted). */
export const M_NLBLKS = 2;
/** `mallopt` parameter `M_GRAIN` (unused, accepted). */
export const M_GRAIN = 3;
/** `mallopt` parameter `M_KEEP` (unused, accepted). */
export const M_KEEP = 4;
/** `mallopt` parameter `M_TRIM_THRESHOLD`. */
export const M_TRIM_THRESHOLD = -1;
/** `mallopt` parameter `M_TOP_PAD`. */
export const M_TOP_PAD = -2;
/** `mallopt` parameter `M_MMAP_THRESHOLD`. */
export const M_MMAP_THRESHOLD = -3;
/** `mallopt` parameter `M_MMAP_MAX`. */
export const M_MMAP_MAX = -4;
/** `mallopt` parameter `M_CHECK_ACTION` (ignored, returns 1). */
export const M_CHECK_ACTION = -5;
/** `mallopt` parameter `M_PERTURB`. */
export const M_PERTURB = -6;
/** `mallopt` parameter `M_ARENA_TEST`. */
export const M_ARENA_TEST = -7;
/** `mallopt` parameter `M_ARENA_MAX`. */
export const M_ARENA_MAX = -8;

/**
 * Start-up settings of {@link GlibcMalloc}: glibc's tunables (`GLIBC_TUNABLES=glibc.malloc.*`),
 * read once as `ptmalloc_init` reads them. Setting `topPad`, `mmapThreshold`, `trimThreshold`
 * or `mmapMax` turns the dynamic mmap threshold off, as in glibc.
 */
export interface GlibcMallocOptions {
  /** `glibc.malloc.tcache_count`: entries per tcache bin (0..65535). @defaultValue 7 */
  tcacheCount?: number;
  /** `glibc.malloc.tcache_max`: largest user size cached (0..1032). @defaultValue 1032 */
  tcacheMax?: number;
  /** `glibc.malloc.tcache_unsorted_limit`. @defaultValue 0 (no limit) */
  tcacheUnsortedLimit?: number;
  /** `glibc.malloc.mxfast` (0..160). @defaultValue 128 */
  mxfast?: number;
  /** `glibc.malloc.top_pad`. @defaultValue 131072 */
  topPad?: number;
  /** `glibc.malloc.mmap_threshold`. @defaultValue 131072 (dynamic) */
  mmapThreshold?: number;
  /** `glibc.malloc.trim_threshold`. @defaultValue 131072 (dynamic) */
  trimThreshold?: number;
  /** `glibc.malloc.mmap_max`. @defaultValue 65536 */
  mmapMax?: number;
  /** `glibc.malloc.perturb` / `MALLOC_PERTURB_` (0..255). @defaultValue 0 */
  perturb?: number;
  /**
   * The per-process `tcache_key` stored in freed tcache entries (glibc draws 8 random bytes;
   * here a random integer below 2^53 unless given, for reproducible dumps).
   */
  tcacheKey?: number;
  /**
   * The machine's online CPUs (`get_nprocs()`, a trace's `# cpus` line): once more than
   * `arenaTest` arenas exist, glibc allows 8 × CPUs of them (64-bit). @defaultValue 2
   */
  cpus?: number;
  /** `glibc.malloc.arena_max` / `MALLOC_ARENA_MAX`: the most arenas (0 = the CPU rule). @defaultValue 0 */
  arenaMax?: number;
  /** `glibc.malloc.arena_test` / `MALLOC_ARENA_TEST`: arenas created before the CPU rule applies. @defaultValue 8 */
  arenaTest?: number;
  /**
   * Where libc's static `main_arena` (0x898 bytes) lives. By default it sits where glibc 2.36
   * keeps it, in libc.so.6's data segment, when the process's image maps one (the default
   * os-vm image does); otherwise one anonymous page is mapped for it when the allocator is created.
   * arena.c's statics (`narenas`, `free_list`, ...) follow main_arena in the same region
   * (main_arena + 0x8a0 to + 0x8d8: give `stateAddress` 0x8d8 bytes; see arena-globals.ts and
   * {@link GlibcMallocOptions.arenaStatics}).
   */
  stateAddress?: number;
  /**
   * Where arena.c's statics live in memory. `"compact"`: right after main_arena
   * (main_arena + 0x8a0 .. + 0x8d8), on the pages main_arena already makes resident, so a run's
   * RSS is that of a model without them. `"libc"`: at glibc 2.36's own addresses when main_arena is
   * in libc's image (`narenas` in .data at main_arena - 0x938, the rest in .bss at main_arena +
   * 0x6808 .. + 0x683c); the first thread arena then dirties one more page of libc's .bss, as in a
   * real process. Placements and malloc statistics are the same either way.
   * @defaultValue "compact"
   */
  arenaStatics?: "compact" | "libc";
}

/** One chunk seen by the heap walker. */
export interface HeapChunk {
  /** Address of the chunk header (the user pointer is 16 bytes later). */
  address: number;
  /** Chunk size (flags masked off). */
  size: number;
  /** The raw size field, flag bits included. */
  sizeField: number;
  /** Where the chunk is: in use by the program, in a tcache bin, a fastbin, a normal bin, the top chunk or a fencepost. */
  state: "in-use" | "tcache" | "fastbin" | "bin" | "top" | "fencepost";
  /** For chunks in bins: the bin number (tcache: its index; fastbin: its index; normal: 1..126). */
  bin?: number;
}
