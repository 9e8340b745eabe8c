import type { Memory } from "@mem/hardware";

/**
 * The interface of CPython's PyMem tier: the shapes the tier above (pymalloc,
 * `@mem/small-object`) plugs into, and the shapes this tier needs from the tiers below.
 */

/** CPython's `PY_SSIZE_T_MAX` (2^63 - 1) as a bigint; any number size above 2^53 - 1 is treated as huge. */
export const PY_SSIZE_T_MAX = 0x7fff_ffff_ffff_ffffn;

/** The three allocator domains (`PYMEM_DOMAIN_RAW`, `_MEM`, `_OBJ`). */
export type PyMemDomain = "raw" | "mem" | "obj";

/**
 * The shape of `PyMemAllocatorEx`: a context and four functions that receive it.
 * Pointers are plain numbers; 0 is NULL.
 */
export interface PyMemAllocatorEx<Ctx = unknown> {
  /** The user context passed as first argument to every function. */
  ctx: Ctx;
  /** Allocates `size` bytes; must return a distinct non-NULL pointer for 0 bytes. */
  malloc(ctx: Ctx, size: number): number;
  /** Allocates `nelem * elsize` zeroed bytes. */
  calloc(ctx: Ctx, nelem: number, elsize: number): number;
  /** Resizes the block at `ptr` to `newSize` bytes. */
  realloc(ctx: Ctx, ptr: number, newSize: number): number;
  /** Frees the block at `ptr` (NULL is a no-op). */
  free(ctx: Ctx, ptr: number): void;
}

/** The shape of `PyObjectArenaAllocator`: how pymalloc obtains and returns its arenas. */
export interface PyObjectArenaAllocator<Ctx = unknown> {
  /** The user context passed as first argument. */
  ctx: Ctx;
  /** Returns `size` bytes of fresh memory for an arena, or 0 on failure. */
  alloc(ctx: Ctx, size: number): number;
  /** Returns an arena obtained from `alloc` (argument order as in 3.11: ptr, then size). */
  free(ctx: Ctx, ptr: number, size: number): void;
}

/**
 * What the PyMem tier hands to a small-object allocator (pymalloc) when a preset
 * installs it: the memory its pool headers live in, the current RAW domain (pymalloc's
 * fallback for size 0 and for requests above its threshold), and the current arena
 * allocator (read at each use, so `setArenaAllocator` takes effect as in CPython).
 */
export interface SmallObjectHost {
  /** The process memory that blocks, pool headers and arenas live in. */
  readonly memory: Memory;
  /** `PyMem_RawMalloc` / `_RawCalloc` / `_RawRealloc` / `_RawFree` through the current RAW slot. */
  readonly raw: {
    malloc(size: number): number;
    calloc(nelem: number, elsize: number): number;
    realloc(ptr: number, newSize: number): number;
    free(ptr: number): void;
  };
  /** The current arena allocator (`PyObject_GetArenaAllocator`). */
  arenaAllocator(): PyObjectArenaAllocator;
}

/**
 * A small-object allocator as PyMem's presets install it in the MEM and OBJ domains
 * (one instance shared by both, as in CPython).
 */
export type SmallObjectFactory = (host: SmallObjectHost) => PyMemAllocatorEx;
