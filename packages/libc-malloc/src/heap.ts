import type { Memory } from "@mem/hardware";
import type { ProcessSpace } from "@mem/os-vm";
import { MADV_DONTNEED, PAGE, PROT_RW, pageUp } from "./constants.js";
import { isSyscallError } from "./errors.js";

/**
 * The heaps of glibc's non-main arenas (`malloc/arena.c`: `new_heap`, `grow_heap`,
 * `shrink_heap`, `delete_heap`). A heap is a HEAP_MAX_SIZE (64 MiB) reservation aligned to
 * its own size, so that `heap_for_ptr(p)` is `p & ~(64 MiB - 1)`. It is reserved PROT_NONE
 * and made read-write from its start as it grows, so /proc/PID/maps shows an `rw-p` part
 * followed by a `---p` rest, and VmSize counts the whole 64 MiB.
 *
 * ```
 * heap ─► +0x00 heap_info: ar_ptr   the arena this heap belongs to
 *         +0x08            prev     the arena's previous heap (0 for its first)
 *         +0x10            size     bytes in use by the arena (page multiple)
 *         +0x18            mprotect_size  bytes made read-write so far (>= size)
 *         +0x20            pagesize
 *         +0x30 (first heap of an arena) struct malloc_state, 0x898 bytes (2.43: 0x840)
 *         +0x8d0 the arena's first chunk (top, then the thread's 0x290 tcache; 2.43: +0x870)
 *         (later heaps: chunks from +0x30)
 *         +size ......... +mprotect_size (rw-p) ......... +64 MiB (---p)
 * ```
 */

/** `HEAP_MAX_SIZE` on 64-bit: 2 * DEFAULT_MMAP_THRESHOLD_MAX = 64 MiB. */
export const HEAP_MAX_SIZE = 64 * 1024 * 1024;
/** `HEAP_MIN_SIZE`: 32 KiB. */
export const HEAP_MIN_SIZE = 32 * 1024;
/** `sizeof(heap_info)`: five words padded to a multiple of 16. */
export const HEAP_INFO_SIZE = 0x30;
/** `heap_info.ar_ptr`. */
export const HI_AR_PTR = 0x00;
/** `heap_info.prev`. */
export const HI_PREV = 0x08;
/** `heap_info.size`. */
export const HI_SIZE = 0x10;
/** `heap_info.mprotect_size`. */
export const HI_MPROTECT_SIZE = 0x18;
/** `heap_info.pagesize`. */
export const HI_PAGESIZE = 0x20;

const PROT_NONE = 0;
const MAP_PRIVATE_ANONYMOUS_NORESERVE = 0x02 | 0x20 | 0x4000;

/** `heap_for_ptr(p)`: the heap holding a non-main-arena chunk. */
export function heapForPtr(p: number): number {
  return p - (p % HEAP_MAX_SIZE);
}

/** Reservations of heaps in one process, with glibc's `aligned_heap_area` hint. */
export class HeapReservations {
  /**
   * The heaps' process, its memory, and the address of glibc's static `aligned_heap_area`
   * (where the next heap is tried first: the end of the last reservation that came out
   * aligned; 0 for none), which lives in the process's memory (./arena-globals.ts).
   */
  constructor(
    private readonly process: ProcessSpace,
    private readonly m: Memory,
    private readonly alignedHeapAreaAt: number,
  ) {}

  private get alignedHeapArea(): number {
    return this.m.load64(this.alignedHeapAreaAt);
  }

  private set alignedHeapArea(value: number) {
    this.m.store64(this.alignedHeapAreaAt, value);
  }

  /**
   * `new_heap(size, top_pad)`: reserves a 64 MiB-aligned heap and makes its first
   * `max(32 KiB, size + top_pad)` bytes (page rounded, at most 64 MiB) read-write; writes
   * size, mprotect_size and pagesize into its heap_info. Returns the heap, or 0 (no memory).
   */
  newHeap(size: number, topPad: number): number {
    if (size + topPad < HEAP_MIN_SIZE) size = HEAP_MIN_SIZE;
    else if (size + topPad <= HEAP_MAX_SIZE) size += topPad;
    else if (size > HEAP_MAX_SIZE) return 0;
    else size = HEAP_MAX_SIZE;
    size = pageUp(size);
    let heap = -1;
    if (this.alignedHeapArea !== 0) {
      heap = this.reserve(this.alignedHeapArea, HEAP_MAX_SIZE);
      this.alignedHeapArea = 0;
      if (heap !== -1 && heap % HEAP_MAX_SIZE !== 0) {
        this.unmap(heap, HEAP_MAX_SIZE);
        heap = -1;
      }
    }
    if (heap === -1) {
      const twice = this.reserve(0, 2 * HEAP_MAX_SIZE);
      if (twice !== -1) {
        heap = Math.ceil(twice / HEAP_MAX_SIZE) * HEAP_MAX_SIZE;
        const before = heap - twice;
        if (before !== 0) this.unmap(twice, before);
        else this.alignedHeapArea = heap + HEAP_MAX_SIZE;
        this.unmap(heap + HEAP_MAX_SIZE, HEAP_MAX_SIZE - before);
      } else {
        heap = this.reserve(0, HEAP_MAX_SIZE);
        if (heap === -1) return 0;
        if (heap % HEAP_MAX_SIZE !== 0) {
          this.unmap(heap, HEAP_MAX_SIZE);
          return 0;
        }
      }
    }
    if (!this.protect(heap, size)) {
      this.unmap(heap, HEAP_MAX_SIZE);
      return 0;
    }
    this.m.store64(heap + HI_SIZE, size);
    this.m.store64(heap + HI_MPROTECT_SIZE, size);
    this.m.store64(heap + HI_PAGESIZE, PAGE);
    return heap;
  }

  /** `grow_heap(h, diff)`: 0, or -1 past 64 MiB, -2 when mprotect fails. */
  growHeap(heap: number, diff: number): number {
    const newSize = this.m.load64(heap + HI_SIZE) + pageUp(diff);
    if (newSize > HEAP_MAX_SIZE) return -1;
    const protectedSize = this.m.load64(heap + HI_MPROTECT_SIZE);
    if (newSize > protectedSize) {
      if (!this.protect(heap + protectedSize, newSize - protectedSize)) return -2;
      this.m.store64(heap + HI_MPROTECT_SIZE, newSize);
    }
    this.m.store64(heap + HI_SIZE, newSize);
    return 0;
  }

  /**
   * `shrink_heap(h, diff)`: gives the pages back with MADV_DONTNEED (they stay read-write:
   * glibc remaps them PROT_NONE only under `vm.overcommit_memory=2` or in set-user-ID programs,
   * not modelled). 0, or -1 when the heap would become smaller than its heap_info.
   */
  shrinkHeap(heap: number, diff: number): number {
    const newSize = this.m.load64(heap + HI_SIZE) - diff;
    if (newSize < HEAP_INFO_SIZE) return -1;
    this.process.madvise(heap + newSize, diff, MADV_DONTNEED);
    this.m.store64(heap + HI_SIZE, newSize);
    return 0;
  }

  /** `delete_heap`: unmaps the whole reservation (forgetting the hint if it pointed past it). */
  deleteHeap(heap: number): void {
    if (heap + HEAP_MAX_SIZE === this.alignedHeapArea) this.alignedHeapArea = 0;
    this.unmap(heap, HEAP_MAX_SIZE);
  }

  private reserve(address: number, length: number): number {
    try {
      return this.process.mmap(address, length, PROT_NONE, MAP_PRIVATE_ANONYMOUS_NORESERVE);
    } catch (error) {
      if (isSyscallError(error)) return -1;
      throw error;
    }
  }

  private protect(address: number, length: number): boolean {
    try {
      this.process.mprotect(address, length, PROT_RW);
      return true;
    } catch (error) {
      if (isSyscallError(error)) return false;
      throw error;
    }
  }

  private unmap(address: number, length: number): void {
    try {
      this.process.munmap(address, length);
    } catch (error) {
      if (!isSyscallError(error)) throw error;
    }
  }
}
