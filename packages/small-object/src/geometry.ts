import { POOL_HEADER_SIZE, type PymallocParams } from "./api.js";
import { PymallocConfigError } from "./errors.js";

/**
 * Everything obmalloc.c derives from its constants, computed once from
 * {@link PymallocParams}: size classes, blocks per pool, pools per arena and the shape
 * of the arena-map radix tree.
 */
export interface PymallocGeometry {
  /** The parameters this geometry was derived from. */
  readonly params: PymallocParams;
  /** `ALIGNMENT_SHIFT`: log2 of the alignment. */
  readonly alignmentShift: number;
  /** `NB_SMALL_SIZE_CLASSES`. */
  readonly numClasses: number;
  /** `POOL_OVERHEAD`: the pool header rounded up to the alignment. */
  readonly poolOverhead: number;
  /** `MAX_POOLS_IN_ARENA`. */
  readonly maxPoolsInArena: number;
  /** `NUMBLOCKS(i)` for every class: `(POOL_SIZE - POOL_OVERHEAD) / size`. */
  readonly blocksPerPool: Uint32Array;
  /** The radix tree's shape, or null when `address_in_range` uses the old trick. */
  readonly radix: RadixGeometry | null;
}

/**
 * The arena map of 3.10+: a three-level radix tree over the address bits above
 * `ARENA_BITS` (root index, mid index, bottom index), one bottom entry per arena-sized slot.
 *
 * ```
 *   address (64 - IGNORE_BITS bits):  | top | mid | bot | offset in arena (ARENA_BITS) |
 * ```
 */
export interface RadixGeometry {
  /** Bits of address the map covers: `64 - IGNORE_BITS`. */
  readonly addressBits: number;
  /** Entries of the root (static in CPython). */
  readonly topEntries: number;
  /** Entries of a mid node (8-byte pointers). */
  readonly midEntries: number;
  /** Entries of a bottom node (two int32 each: `tail_hi`, `tail_lo`). */
  readonly botEntries: number;
  /** `sizeof(arena_map_root)`. */
  readonly rootBytes: number;
  /** `sizeof(arena_map_mid_t)`. */
  readonly midBytes: number;
  /** `sizeof(arena_map_bot_t)`. */
  readonly botBytes: number;
}

const isPowerOfTwo = (n: number): boolean => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Validates `params` the way obmalloc.c's `#error` checks would and derives the geometry. */
export function deriveGeometry(params: PymallocParams): PymallocGeometry {
  const { alignment, smallRequestThreshold: threshold, poolSize, arenaSize } = params;
  const fail = (rule: string): never => {
    throw new PymallocConfigError(params.name, rule);
  };
  if (!isPowerOfTwo(alignment) || alignment < 8 || alignment > 64) fail(`alignment must be a power of two in 8..64, got ${alignment}`);
  if (!Number.isSafeInteger(threshold) || threshold < alignment || threshold % alignment !== 0 || threshold > 4096) {
    fail(`smallRequestThreshold must be a multiple of the alignment in ${alignment}..4096, got ${threshold}`);
  }
  if (!isPowerOfTwo(poolSize) || poolSize < 4096) fail(`poolSize must be a power of two >= 4096, got ${poolSize}`);
  if (!isPowerOfTwo(arenaSize) || arenaSize < poolSize || arenaSize > 2 ** 30) {
    fail(`arenaSize must be a power of two between poolSize and 1 GiB, got ${arenaSize}`);
  }
  if (arenaSize / poolSize > 4096) fail(`at most 4096 pools per arena, got ${arenaSize / poolSize}`);
  if (!params.radixTree && poolSize !== 4096) {
    fail(`without the radix tree POOL_SIZE must equal the system page size (4096), got ${poolSize}`);
  }
  if (!Number.isSafeInteger(params.initialArenaObjects) || params.initialArenaObjects < 1) {
    fail(`initialArenaObjects must be a positive integer, got ${params.initialArenaObjects}`);
  }
  const poolOverhead = Math.ceil(POOL_HEADER_SIZE / alignment) * alignment;
  const numClasses = threshold / alignment;
  if (poolSize - poolOverhead < threshold) fail(`a pool of ${poolSize} bytes cannot hold a ${threshold}-byte block`);
  const blocksPerPool = new Uint32Array(numClasses);
  for (let i = 0; i < numClasses; i++) blocksPerPool[i] = Math.floor((poolSize - poolOverhead) / ((i + 1) * alignment));
  return {
    params,
    alignmentShift: Math.log2(alignment),
    numClasses,
    poolOverhead,
    maxPoolsInArena: arenaSize / poolSize,
    blocksPerPool,
    radix: params.radixTree ? deriveRadix(params, fail) : null,
  };
}

function deriveRadix(params: PymallocParams, fail: (rule: string) => never): RadixGeometry {
  const ignore = params.radixIgnoreBits;
  if (!Number.isSafeInteger(ignore) || ignore < 0 || ignore > 16) fail(`radixIgnoreBits must be in 0..16, got ${ignore}`);
  const addressBits = 64 - ignore;
  const arenaBits = Math.log2(params.arenaSize);
  // obmalloc.c: INTERIOR_BITS = (ADDRESS_BITS - ARENA_BITS + 2) / 3, the bottom takes the rest.
  const interiorBits = Math.floor((addressBits - arenaBits + 2) / 3);
  const botBits = addressBits - arenaBits - 2 * interiorBits;
  const interior = 2 ** interiorBits;
  const bottom = 2 ** botBits;
  return {
    addressBits,
    topEntries: interior,
    midEntries: interior,
    botEntries: bottom,
    rootBytes: interior * 8,
    midBytes: interior * 8,
    botBytes: bottom * 8,
  };
}
