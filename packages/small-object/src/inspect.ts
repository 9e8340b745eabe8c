import type { Memory } from "@mem/hardware";
import { ARENA_OBJECT_SIZE } from "./api.js";
import { Arena, Pool } from "./layout.js";
import type { PymallocState } from "./stats.js";

/** A pool header as it is in memory (see the diagram in layout.ts). */
export interface PoolHeader {
  /** The pool's address (its first byte). */
  readonly address: number;
  /** `ref.count`: allocated blocks. */
  readonly count: number;
  /** `freeblock`: head of the free list (0 = none). */
  readonly freeblock: number;
  /** `nextpool`. */
  readonly nextpool: number;
  /** `prevpool`. */
  readonly prevpool: number;
  /** `arenaindex`. */
  readonly arenaindex: number;
  /** `szidx` (0xffff right after carving). */
  readonly szidx: number;
  /** `nextoffset`. */
  readonly nextoffset: number;
  /** `maxnextoffset`. */
  readonly maxnextoffset: number;
}

/** An `arena_object` as it is in memory, with its slot index in the `arenas` vector. */
export interface ArenaObject {
  /** Index in the `arenas` vector. */
  readonly index: number;
  /** Address of the arena_object itself. */
  readonly object: number;
  /** `address`: the arena's base (0 = unused slot). */
  readonly address: number;
  /** `pool_address`: the next pool to carve. */
  readonly poolAddress: number;
  /** `nfreepools`. */
  readonly nfreepools: number;
  /** `ntotalpools`. */
  readonly ntotalpools: number;
  /** `freepools`: head of the empty-pool list. */
  readonly freepools: number;
  /** `nextarena`. */
  readonly nextarena: number;
  /** `prevarena`. */
  readonly prevarena: number;
}

/** Reads the pool header at `pool`. */
export function readPoolHeader(memory: Memory, pool: number): PoolHeader {
  return {
    address: pool,
    count: memory.load32(pool + Pool.Count),
    freeblock: memory.load64(pool + Pool.FreeBlock),
    nextpool: memory.load64(pool + Pool.NextPool),
    prevpool: memory.load64(pool + Pool.PrevPool),
    arenaindex: memory.load32(pool + Pool.ArenaIndex),
    szidx: memory.load32(pool + Pool.SizeIndex),
    nextoffset: memory.load32(pool + Pool.NextOffset),
    maxnextoffset: memory.load32(pool + Pool.MaxNextOffset),
  };
}

/** Reads slot `index` of the `arenas` vector at `arenas`. */
export function readArenaObject(memory: Memory, arenas: number, index: number): ArenaObject {
  const ao = arenas + index * ARENA_OBJECT_SIZE;
  return {
    index,
    object: ao,
    address: memory.load64(ao + Arena.Address),
    poolAddress: memory.load64(ao + Arena.PoolAddress),
    nfreepools: memory.load32(ao + Arena.NFreePools),
    ntotalpools: memory.load32(ao + Arena.NTotalPools),
    freepools: memory.load64(ao + Arena.FreePools),
    nextarena: memory.load64(ao + Arena.NextArena),
    prevarena: memory.load64(ao + Arena.PrevArena),
  };
}

/**
 * Every slot of the `arenas` vector that holds an arena, in index order. Of an unused slot
 * only `address` is read: `new_arena()` initialises nothing else there, so the other fields
 * may hold anything (0xCD bytes under the debug hooks).
 */
export function liveArenaObjects(s: PymallocState): ArenaObject[] {
  const out: ArenaObject[] = [];
  for (let i = 0; i < s.maxarenas; i++) {
    if (s.memory.load64(s.arenas + i * ARENA_OBJECT_SIZE + Arena.Address) === 0) continue;
    out.push(readArenaObject(s.memory, s.arenas, i));
  }
  return out;
}
