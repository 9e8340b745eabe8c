import type { PyObjectArenaAllocator } from "@mem/pymem";
import { PymallocError } from "./errors.js";

/** Options of {@link PlacedArenaAllocator}. */
export interface PlacedArenaAllocatorOptions {
  /**
   * The modulus whose residue is reproduced: pymalloc's POOL_SIZE (the residue decides
   * whether an arena loses a pool to alignment).
   * @defaultValue 16384
   */
  modulus?: number;
  /**
   * Give the slack back through the wrapped allocator's `free` (`munmap` of the head and
   * tail, which only an mmap-backed allocator supports), so that each arena ends up as
   * exactly one mapping of the arena size, as in the recorded process. When false the
   * whole padded region stays allocated until the arena is freed.
   * @defaultValue false
   */
  trim?: boolean;
  /**
   * The page size: a recorded arena address must be a multiple of it (arenas are mmapped),
   * or trimming would `munmap` a range that does not start on a page.
   * @defaultValue 4096
   */
  pageSize?: number;
}

/**
 * An arena allocator wrapper for replaying recorded traces: before an arena is needed,
 * {@link PlacedArenaAllocator.expect} takes the recorded arena address (an `A` line);
 * the next `alloc` then returns an address with the same residue modulo POOL_SIZE,
 * obtained by over-allocating `modulus` bytes from the wrapped allocator and skipping
 * to the first matching address.
 *
 * ```
 *   wrapped alloc(size + modulus):  q ........................................ q+size+modulus
 *   returned arena:                      p = first address >= q with p mod modulus = residue
 *                                        [p ............................. p+size)
 * ```
 * Allocations without an expectation pass straight through. The padded regions are
 * remembered (the wrapper's own bookkeeping, not pymalloc's) so `free` returns them whole.
 */
export class PlacedArenaAllocator implements PyObjectArenaAllocator<PlacedArenaAllocator> {
  /** The context passed back to `alloc` / `free`: this object. */
  readonly ctx: PlacedArenaAllocator = this;
  /** The modulus whose residues are reproduced. */
  readonly modulus: number;
  /** Whether slack is returned right away (see {@link PlacedArenaAllocatorOptions.trim}). */
  readonly trim: boolean;
  /** The page size recorded addresses must be multiples of. */
  readonly pageSize: number;
  private readonly inner: () => PyObjectArenaAllocator;
  private readonly pending: number[] = [];
  private readonly padded = new Map<number, { start: number; size: number }>();

  /** Wraps `inner` (called at each use, so a changed arena allocator slot is honoured). */
  constructor(inner: () => PyObjectArenaAllocator, options: PlacedArenaAllocatorOptions = {}) {
    this.inner = inner;
    this.modulus = options.modulus ?? 16384;
    this.trim = options.trim ?? false;
    this.pageSize = options.pageSize ?? 4096;
  }

  /**
   * Queues the recorded address of the next arena: its residue modulo `modulus` is reproduced.
   * @throws {@link PymallocError} (rule `arena-alignment`) when the address is not a non-NULL
   * multiple of the page size; nothing is queued.
   */
  expect(recordedAddress: number): void {
    if (
      typeof recordedAddress !== "number" ||
      !Number.isSafeInteger(recordedAddress) ||
      recordedAddress <= 0 ||
      recordedAddress % this.pageSize !== 0
    ) {
      throw new PymallocError(
        "expectArena",
        Number(recordedAddress),
        0,
        "arena-alignment",
        `a recorded arena address must be a non-NULL multiple of the page size (${this.pageSize})`,
      );
    }
    this.pending.push(recordedAddress % this.modulus);
  }

  /** Expectations not yet consumed. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Drops every queued expectation. */
  clear(): void {
    this.pending.length = 0;
  }

  /** Allocates `size` bytes, at the expected residue when one is queued. */
  alloc(_ctx: PlacedArenaAllocator, size: number): number {
    const a = this.inner();
    const residue = this.pending.shift();
    if (residue === undefined) return a.alloc(a.ctx, size);
    const start = a.alloc(a.ctx, size + this.modulus);
    if (start === 0) {
      this.pending.unshift(residue);
      return 0;
    }
    const p = start + ((residue - (start % this.modulus) + this.modulus) % this.modulus);
    if (this.trim) {
      if (p > start) a.free(a.ctx, start, p - start);
      const tail = start + size + this.modulus - (p + size);
      if (tail > 0) a.free(a.ctx, p + size, tail);
    } else {
      this.padded.set(p, { start, size: size + this.modulus });
    }
    return p;
  }

  /** Frees an arena returned by `alloc` (the whole padded region when it was padded). */
  free(_ctx: PlacedArenaAllocator, ptr: number, size: number): void {
    const a = this.inner();
    const region = this.padded.get(ptr);
    if (region === undefined) {
      a.free(a.ctx, ptr, size);
      return;
    }
    this.padded.delete(ptr);
    a.free(a.ctx, region.start, region.size);
  }
}
