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
