/**
 * Byte offsets of pymalloc's structures in simulated memory (64-bit, little-endian).
 *
 * `struct pool_header`, at the first byte of every pool (pools are POOL_SIZE-aligned):
 * ```
 *   +0  ref.count      uint (4 bytes used of an 8-byte union)  allocated blocks
 *   +8  freeblock      block*   head of the free list; each free block's first
 *                               8 bytes hold the next free block (NULL ends it)
 *   +16 nextpool       pool*    next pool in usedpools[szidx], or in the arena's freepools
 *   +24 prevpool       pool*    previous pool in usedpools[szidx]
 *   +32 arenaindex     uint     index of the owning arena_object in arenas[]
 *   +36 szidx          uint     size-class index (0xffff right after carving)
 *   +40 nextoffset     uint     offset of the next never-used ("virgin") block
 *   +44 maxnextoffset  uint     largest valid nextoffset: POOL_SIZE - block size
 *   +48 first block ... blocks of INDEX2SIZE(szidx) bytes up to the pool's end
 * ```
 * The `usedpools` sentinel (a fake pool header overlaying the static `usedpools` array
 * in libpython's .bss, which this simulator does not map) is written as 0 in
 * `nextpool` / `prevpool`.
 *
 * `struct arena_object`, one per slot of the `arenas` vector (itself allocated with
 * `PyMem_RawRealloc`, so it lives in the raw domain's memory):
 * ```
 *   +0  address        uintptr  arena base from the arena allocator; 0 = slot unused
 *   +8  pool_address   block*   next pool to carve (POOL_SIZE-aligned)
 *   +16 nfreepools     uint     empty pools on freepools + never-carved pools
 *   +20 ntotalpools    uint     pools in the arena (one fewer when the base is unaligned)
 *   +24 freepools      pool*    LIFO list of empty pools, linked through nextpool
 *   +32 nextarena      arena*   next in usable_arenas, or in unused_arena_objects
 *   +40 prevarena      arena*   previous in usable_arenas
 * ```
 */
export const enum Pool {
  /** `ref.count`. */
  Count = 0,
  /** `freeblock`. */
  FreeBlock = 8,
  /** `nextpool`. */
  NextPool = 16,
  /** `prevpool`. */
  PrevPool = 24,
  /** `arenaindex`. */
  ArenaIndex = 32,
  /** `szidx`. */
  SizeIndex = 36,
  /** `nextoffset`. */
  NextOffset = 40,
  /** `maxnextoffset`. */
  MaxNextOffset = 44,
}

/** Field offsets of `struct arena_object`; see {@link Pool} for the diagram. */
export const enum Arena {
  /** `address`. */
  Address = 0,
  /** `pool_address`. */
  PoolAddress = 8,
  /** `nfreepools`. */
  NFreePools = 16,
  /** `ntotalpools`. */
  NTotalPools = 20,
  /** `freepools`. */
  FreePools = 24,
  /** `nextarena`. */
  NextArena = 32,
  /** `prevarena`. */
  PrevArena = 40,
}
