/**
 * The public shapes of `@mem/small-object`: pymalloc's parameters as data, the version
 * presets, and the options of {@link Pymalloc}.
 */

/** The CPython versions with a preset in {@link PYMALLOC_VERSIONS}. */
export type PymallocVersion = "3.8" | "3.9" | "3.10" | "3.11" | "3.12" | "3.13";

/**
 * pymalloc's compile-time constants, as data. Every field is what `Objects/obmalloc.c`
 * of the named version computes on 64-bit Linux.
 */
export interface PymallocParams {
  /** A label for the parameter set (the version it reproduces, or a name of your own). */
  readonly name: string;
  /**
   * `ALIGNMENT`: block alignment and size-class spacing (a power of two, 8 or 16).
   * @defaultValue 16
   */
  readonly alignment: number;
  /**
   * `SMALL_REQUEST_THRESHOLD`: the largest request served (a multiple of `alignment`);
   * 0 and larger requests go to the raw domain.
   * @defaultValue 512
   */
  readonly smallRequestThreshold: number;
  /**
   * `POOL_SIZE`: bytes per pool, a power of two. 4096 when the radix tree is off (the
   * old `address_in_range` trick needs pools of one system page).
   * @defaultValue 16384
   */
  readonly poolSize: number;
  /**
   * `ARENA_SIZE`: bytes per arena, a power of two and a multiple of `poolSize`.
   * @defaultValue 1048576
   */
  readonly arenaSize: number;
  /**
   * `WITH_PYMALLOC_RADIX_TREE`: whether `address_in_range` uses the arena map (3.10+)
   * or reads the would-be pool header (3.9 and before).
   * @defaultValue true
   */
  readonly radixTree: boolean;
  /**
   * `IGNORE_BITS` of the radix tree: high address bits not covered by the map
   * (16 in 3.10, 0 from 3.11).
   * @defaultValue 0
   */
  readonly radixIgnoreBits: number;
  /**
   * bpo-37257 (3.9+): a wholly free arena is kept when it is the last element of
   * `usable_arenas`; with `false` (3.8) every wholly free arena is released.
   * @defaultValue true
   */
  readonly keepLastEmptyArena: boolean;
  /**
   * `INITIAL_ARENA_OBJECTS`: first length of the `arenas` vector (it doubles after).
   * @defaultValue 16
   */
  readonly initialArenaObjects: number;
}

/** Options of {@link Pymalloc}. */
export interface PymallocOptions {
  /**
   * The version preset to start from.
   * @defaultValue "3.11"
   */
  version?: PymallocVersion;
  /** Fields that override the preset (parameters as data, e.g. `{ poolSize: 8192 }`). */
  params?: Partial<PymallocParams>;
  /**
   * Walk the pool's free list on every free to catch double frees anywhere in the list
   * (O(blocks per pool)). Without it only O(1) checks run: a free of the block at the
   * head of the free list, into an empty pool, off a block boundary, or past the carved
   * blocks is caught; a double free deeper in the list corrupts the pool, as in CPython.
   * @defaultValue false
   */
  strictFree?: boolean;
  /**
   * Check every pointer handed to free / realloc before touching the pool (the O(1)
   * checks described at {@link PymallocOptions.strictFree}), refusing bad ones with a
   * `PymallocError`. With `false` pymalloc behaves exactly like a CPython release build:
   * a double free links the block into its free list twice, and later mallocs hand the
   * same block out again and again.
   * @defaultValue true
   */
  validateFrees?: boolean;
  /**
   * Models `PYTHONMALLOCSTATS`: when set, receives the statistics text
   * ({@link Pymalloc.debugMallocStats}) at the start of every `new_arena()` call, before
   * the new arena exists, as CPython writes it to stderr.
   */
  pythonMallocStats?: (text: string) => void;
}

const BASE_311: PymallocParams = {
  name: "3.11",
  alignment: 16,
  smallRequestThreshold: 512,
  poolSize: 16384,
  arenaSize: 1 << 20,
  radixTree: true,
  radixIgnoreBits: 0,
  keepLastEmptyArena: true,
  initialArenaObjects: 16,
};

/**
 * The 64-bit Linux parameters of each CPython release line:
 * 3.8 (256 KiB arenas, 4 KiB pools, no radix tree, every empty arena released),
 * 3.9 (the same geometry, keeps the last empty arena), 3.10 (1 MiB / 16 KiB, radix tree
 * ignoring the top 16 address bits), 3.11, 3.12 and 3.13 (radix tree over all 64 bits).
 *
 * 3.12 and 3.13 place and count exactly as 3.11 in what a trace can show: 3.12 moved
 * obmalloc's state into the interpreter (PEP 684), but the main interpreter and every
 * sub-interpreter created without its own allocator share one state, with the same
 * `usable_arenas` list, radix tree and `_debugmallocstats` text; 3.13 adds mimalloc as an
 * alternative (`PYTHONMALLOC=mimalloc`, and the only allocator of the free-threaded build),
 * which is not pymalloc and has no preset here. Checked by recordings of CPython 3.12.1 and
 * 3.13.0 whose replays give the real statistics text line for line
 * (test/fixtures/versions).
 */
export const PYMALLOC_VERSIONS: Readonly<Record<PymallocVersion, PymallocParams>> = {
  "3.8": { ...BASE_311, name: "3.8", poolSize: 4096, arenaSize: 256 << 10, radixTree: false, keepLastEmptyArena: false },
  "3.9": { ...BASE_311, name: "3.9", poolSize: 4096, arenaSize: 256 << 10, radixTree: false },
  "3.10": { ...BASE_311, name: "3.10", radixIgnoreBits: 16 },
  "3.11": BASE_311,
  "3.12": { ...BASE_311, name: "3.12" },
  "3.13": { ...BASE_311, name: "3.13" },
};

/** `sizeof(struct pool_header)` rounded up to the alignment: 48 on 64-bit. */
export const POOL_HEADER_SIZE = 48;
/** `sizeof(struct arena_object)` on 64-bit. */
export const ARENA_OBJECT_SIZE = 48;
/** `DUMMY_SIZE_IDX`: the size-class index of a freshly carved pool. */
export const DUMMY_SIZE_IDX = 0xffff;
