import type { Memory } from "@mem/hardware";
import type { CAllocator } from "@mem/libc-malloc";
import type { ProcessSpace } from "@mem/os-vm";

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

/** The `PYTHONMALLOC` values CPython 3.11 accepts (`"debug"` means the defaults plus debug hooks). */
export type PythonMallocPreset = "default" | "malloc" | "pymalloc" | "debug" | "malloc_debug" | "pymalloc_debug";

/** What `_PyMem_GetCurrentAllocatorName()` returns (`null` when the slots hold anything else). */
export type AllocatorName = "pymalloc" | "malloc" | "pymalloc_debug" | "malloc_debug" | null;

/** One frame of a Python call stack, as a fatal error prints it (`File "f", line n in name`). */
export interface PythonStackFrame {
  /** The code object's file name. */
  readonly filename: string;
  /** The line number being executed. */
  readonly lineno: number;
  /** The function name (`<module>` at module level). */
  readonly name: string;
}

/**
 * The Python thread state a fatal error describes after `Python runtime state: initialized`:
 * `Current thread 0x<16 hex digits> (most recent call first):` and one line per frame.
 */
export interface PythonThreadState {
  /** The thread identifier (`pthread_self()`), printed as 16 hex digits. */
  readonly threadId: number;
  /** The call stack, most recent call first. */
  readonly frames: readonly PythonStackFrame[];
}

/** Options of `createPyMem`. */
export interface PyMemOptions {
  /** The process whose memory the blocks live in and whose `mmap`/`munmap` back the default arena allocator. */
  process: ProcessSpace;
  /** The C library allocator behind the "malloc" base allocator (the RAW default). */
  libc: CAllocator;
  /**
   * The `PYTHONMALLOC` preset that configures the three domains, as a CPython 3.11 release build
   * does; unset or `""` means `"default"`.
   * @defaultValue "default"
   */
  pythonMalloc?: PythonMallocPreset | "";
  /**
   * `-X dev` / `PYTHONDEVMODE=1`: selects `"debug"` only when no allocator was chosen
   * (`pythonMalloc` unset or empty), as CPython 3.11 does; `pythonMalloc: "malloc"` stays `malloc`.
   * @defaultValue false
   */
  devMode?: boolean;
  /** The small-object allocator (pymalloc); required by every preset that uses pymalloc. */
  smallObject?: SmallObjectFactory;
  /**
   * The thread a fatal error reports (`Current thread 0x... (most recent call first):`).
   * Without it the report ends after `Python runtime state: initialized`.
   */
  threadState?: () => PythonThreadState;
}

/** `PYMEM_CLEANBYTE`: the data of a fresh debug block (`malloc`, and bytes a growing `realloc` adds). */
export const PYMEM_CLEANBYTE = 0xcd;
/** `PYMEM_DEADBYTE`: a debug block just before it is freed (and the erased parts during `realloc`). */
export const PYMEM_DEADBYTE = 0xdd;
/** `PYMEM_FORBIDDENBYTE`: the pad bytes around a debug block's data. */
export const PYMEM_FORBIDDENBYTE = 0xfd;
/** Bytes the debug hooks add to every request: size (8), API id (1), 7 leading and 8 trailing pad bytes. */
export const PYMEM_DEBUG_EXTRA_BYTES = 24;
/** The API id byte each domain's debug hooks write (`'r'`, `'m'`, `'o'`). */
export const PYMEM_DEBUG_API_ID: Readonly<Record<PyMemDomain, string>> = { raw: "r", mem: "m", obj: "o" };
