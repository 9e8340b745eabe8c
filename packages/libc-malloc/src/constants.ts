/**
 * glibc 2.36 malloc constants for x86-64 (malloc/malloc.c, malloc-machine.h), and the size
 * arithmetic every part of the allocator shares.
 */

/** `SIZE_SZ`: bytes in a size word. */
export const SIZE_SZ = 8;
/** `MALLOC_ALIGNMENT`: user pointers are multiples of 16. */
export const MALLOC_ALIGNMENT = 16;
/** `MALLOC_ALIGN_MASK`. */
export const MALLOC_ALIGN_MASK = 15;
/** `CHUNK_HDR_SZ`: prev_size + size; user pointer = chunk + 16. */
export const CHUNK_HDR_SZ = 16;
/** `MINSIZE`: the smallest chunk. */
export const MINSIZE = 32;
/** `PREV_INUSE` flag bit of the size field. */
export const PREV_INUSE = 0x1;
/** `IS_MMAPPED` flag bit of the size field. */
export const IS_MMAPPED = 0x2;
/** `NON_MAIN_ARENA` flag bit of the size field. */
export const NON_MAIN_ARENA = 0x4;
/** `NBINS`: bin 1 unsorted, 2..63 small, 64..126 large. */
export const NBINS = 128;
/** `MIN_LARGE_SIZE`: chunks below this are "small". */
export const MIN_LARGE_SIZE = 0x400;
/** `NFASTBINS`. */
export const NFASTBINS = 10;
/** `DEFAULT_MXFAST` (user bytes). */
export const DEFAULT_MXFAST = 128;
/** `MAX_FAST_SIZE`: the largest value `M_MXFAST` accepts. */
export const MAX_FAST_SIZE = 160;
/** `TCACHE_MAX_BINS`. */
export const TCACHE_MAX_BINS = 64;
/** `TCACHE_FILL_COUNT`. */
export const TCACHE_FILL_COUNT = 7;
/** `MAX_TCACHE_COUNT` (counts are uint16). */
export const MAX_TCACHE_COUNT = 65535;
/** The largest user size tcache serves by default: tidx2usize(63). */
export const MAX_TCACHE_SIZE = 1032;
/** `FASTBIN_CONSOLIDATION_THRESHOLD`. */
export const FASTBIN_CONSOLIDATION_THRESHOLD = 65536;
/** `DEFAULT_TOP_PAD` (from malloc-machine.h). */
export const DEFAULT_TOP_PAD = 131072;
/** `DEFAULT_TRIM_THRESHOLD`. */
export const DEFAULT_TRIM_THRESHOLD = 131072;
/** `DEFAULT_MMAP_THRESHOLD` (= `DEFAULT_MMAP_THRESHOLD_MIN`). */
export const DEFAULT_MMAP_THRESHOLD = 131072;
/** `DEFAULT_MMAP_THRESHOLD_MAX`: 4 MiB * sizeof(long). */
export const DEFAULT_MMAP_THRESHOLD_MAX = 33554432;
/** `DEFAULT_MMAP_MAX`. */
export const DEFAULT_MMAP_MAX = 65536;
/** `MMAP_AS_MORECORE_SIZE`: least mmap used when brk fails. */
export const MMAP_AS_MORECORE_SIZE = 1048576;
/** `MAX_ITERS`: unsorted chunks processed per pass. */
export const MAX_ITERS = 10000;
/** `sizeof(struct malloc_chunk)`. */
export const MALLOC_CHUNK_STRUCT = 48;
/** `sizeof(tcache_perthread_struct)`: uint16 counts[64] + entry *entries[64]. */
export const TCACHE_STRUCT_SIZE = 640;
/** The page size. */
export const PAGE = 4096;
/** `PTRDIFF_MAX` as a number (2^63 - 1 rounds to 2^63). */
export const PTRDIFF_MAX = 2 ** 63 - 1;
/** 2^64: one past `SIZE_MAX`. */
export const TWO_64 = 2 ** 64;
/** 2^32. */
export const TWO_32 = 2 ** 32;

/** `ENOMEM`. */
export const ENOMEM = 12;
/** `EINVAL`. */
export const EINVAL = 22;

/**
 * `checked_request2size`: the chunk size for a request of `bytes`, or 0 when the request is
 * above `PTRDIFF_MAX` (malloc then fails with ENOMEM).
 */
export function checkedRequest2size(bytes: number): number {
  if (!(bytes >= 0) || bytes > PTRDIFF_MAX) return 0;
  return bytes + SIZE_SZ + MALLOC_ALIGN_MASK < MINSIZE ? MINSIZE : Math.floor((bytes + SIZE_SZ + MALLOC_ALIGN_MASK) / 16) * 16;
}

/** `csize2tidx`: tcache bin of a chunk size. */
export function csize2tidx(size: number): number {
  return Math.floor((size - MINSIZE + MALLOC_ALIGNMENT - 1) / MALLOC_ALIGNMENT);
}

/** `fastbin_index`: fastbin of a chunk size. */
export function fastbinIndex(size: number): number {
  return (size >>> 4) - 2;
}

/** `largebin_index_64` for chunk sizes of at least 0x400. */
export function largebinIndex(size: number): number {
  if (size < 0x40 * 49) return 48 + Math.floor(size / 64);
  if (size < 0x200 * 21) return 91 + Math.floor(size / 512);
  if (size < 0x1000 * 11) return 110 + Math.floor(size / 4096);
  if (size < 0x8000 * 5) return 119 + Math.floor(size / 32768);
  if (size < 0x40000 * 3) return 124 + Math.floor(size / 262144);
  return 126;
}

/** `bin_index`: small or large bin of a chunk size. */
export function binIndex(size: number): number {
  return size < MIN_LARGE_SIZE ? size >>> 4 : largebinIndex(size);
}

/** `ALIGN_UP(value, PAGE)`. */
export function pageUp(value: number): number {
  return Math.ceil(value / PAGE) * PAGE;
}

/** `ALIGN_DOWN(value, PAGE)`. */
export function pageDown(value: number): number {
  return Math.floor(value / PAGE) * PAGE;
}

/** XOR of two unsigned 64-bit values held in numbers (exact below 2^53). */
export function xor64(a: number, b: number): number {
  const high = (Math.floor(a / TWO_32) ^ Math.floor(b / TWO_32)) >>> 0;
  return high * TWO_32 + ((a ^ b) >>> 0);
}

/** Formats an address as the whole stack prints them. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** `PROT_READ | PROT_WRITE`. */
export const PROT_RW = 0x1 | 0x2;
/** `MAP_PRIVATE | MAP_ANONYMOUS`. */
export const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
/** `MREMAP_MAYMOVE`: mremap may move the mapping (glibc's realloc of an mmapped chunk). */
export const MREMAP_MAYMOVE = 1;
/** `MAP_FIXED_NOREPLACE`: used to grow a mapping in place (mremap emulation). */
export const MAP_FIXED_NOREPLACE = 0x100000;
/** `MADV_DONTNEED`. */
export const MADV_DONTNEED = 4;
/** The text glibc's assert prints for the sysmalloc precondition on the old top. */
export const SYSMALLOC_ASSERT =
  "Fatal glibc error: malloc assertion failure in sysmalloc: (old_top == initial_top (av) && old_size == 0) || ((unsigned long) (old_size) >= MINSIZE && prev_inuse (old_top) && ((unsigned long) old_end & (pagesize - 1)) == 0)";

/**
 * A call a C program could not have made (a size or pointer that is not an integer, such as
 * a string, a BigInt or 1.5): a JavaScript mistake. A `TypeError`, so existing `catch`
 * clauses still match. Nothing is changed by the call.
 */
export class MallocArgumentError extends TypeError {
  override readonly name = "MallocArgumentError";
}

/** An argument as an error message shows it: strings quoted, BigInts marked. */
function describe(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "bigint") return `bigint ${value.toString()}`;
  return typeof value === "number" || typeof value === "boolean" || value == null ? String(value) : typeof value;
}

/**
 * A `size_t` argument as C sees it: an integer, negative values wrapping to 2^64 + value
 * (so `malloc(-1)` is `malloc(SIZE_MAX)`). A non-integer is a JavaScript mistake, not a C
 * call: it throws a TypeError naming the tier and the call.
 */
export function sizeArgument(call: string, value: number): number {
  if (!Number.isInteger(value)) throw new MallocArgumentError(`libc-malloc: ${call}: size must be an integer, got ${describe(value)}`);
  return value < 0 ? TWO_64 + value : value;
}

/** A pointer argument: an integer address (0 = NULL); anything else throws a TypeError naming the call. */
export function pointerArgument(call: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_64) {
    throw new MallocArgumentError(`libc-malloc: ${call}: pointer must be an address (a non-negative integer), got ${describe(value)}`);
  }
  return value;
}
