import type { CAllocator } from "@mem/libc-malloc";
import type { PyMemAllocatorEx } from "./api.js";

/**
 * CPython's "malloc" base allocator (`_PyMem_RawMalloc` & co. in Objects/obmalloc.c): the C
 * library with the one change PyMem's contract needs, a distinct non-NULL pointer for 0 bytes.
 *
 * | call                  | becomes                                    |
 * |-----------------------|--------------------------------------------|
 * | malloc(0)             | malloc(1)                                  |
 * | calloc(n, e), n*e = 0 | calloc(1, 1)                               |
 * | realloc(p, 0)         | realloc(p, 1) (the block is kept)          |
 * | free(p)               | free(p)                                    |
 */

/** `_PyMem_RawMalloc(ctx, size)`. */
function mallocMalloc(libc: CAllocator, size: number): number {
  return libc.malloc(size === 0 ? 1 : size);
}

/** `_PyMem_RawCalloc(ctx, nelem, elsize)`. */
function mallocCalloc(libc: CAllocator, nelem: number, elsize: number): number {
  if (nelem === 0 || elsize === 0) return libc.calloc(1, 1);
  return libc.calloc(nelem, elsize);
}

/** `_PyMem_RawRealloc(ctx, ptr, size)`. */
function mallocRealloc(libc: CAllocator, pointer: number, size: number): number {
  return libc.realloc(pointer, size === 0 ? 1 : size);
}

/** `_PyMem_RawFree(ctx, ptr)`. */
function mallocFree(libc: CAllocator, pointer: number): void {
  libc.free(pointer);
}

/**
 * Returns the "malloc" allocator record over `libc` (what `PYTHONMALLOC=malloc` puts in every
 * slot, and the RAW default). Records made for the same `libc` compare equal field by field.
 */
export function mallocAllocator(libc: CAllocator): PyMemAllocatorEx<CAllocator> {
  return { ctx: libc, malloc: mallocMalloc, calloc: mallocCalloc, realloc: mallocRealloc, free: mallocFree };
}
