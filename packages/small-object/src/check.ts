import { ARENA_OBJECT_SIZE, DUMMY_SIZE_IDX } from "./api.js";
import { PymallocInvariantError, hex } from "./errors.js";
import { Arena, Pool } from "./layout.js";
import type { PymallocState } from "./stats.js";

/**
 * Walks every structure of pymalloc in memory and throws {@link PymallocInvariantError}
 * for the first invariant found broken:
 *
 * - `unused-list`: `unused_arena_objects` links exactly the vector's slots whose address is 0;
 * - `arena-geometry`: ntotalpools is MAX_POOLS (aligned base) or one less, pool_address is
 *   pool-aligned and inside the arena, the radix tree marks the arena's first and last byte;
 * - `arena-freepools`: the arena's freepools are carved, empty pools of this arena, and
 *   nfreepools = their number + the never-carved pools;
 * - `usable-arenas`: the list is doubly linked, holds exactly the live arenas with free pools,
 *   sorted by nfreepools ascending; `nfp2lasta` names the last arena of each count;
 * - `pool-header`: arenaindex, szidx, nextoffset and maxnextoffset agree with the geometry;
 * - `pool-free-list`: free blocks are distinct carved block starts inside the pool, and
 *   count + free blocks = carved blocks;
 * - `used-pools`: each class's list is doubly linked and holds exactly the class's pools
 *   that are neither empty nor full;
 * - `counters`: arena counters agree with the vector;
 * - `arena-map` (unless `options.scanArenaMap` is false): every non-zero entry of the
 *   radix tree belongs to a live arena, and the node counters match the nodes present;
 * - `readable`: every pointer the walk follows leads to memory it can read (a link of 2^53
 *   or more, or one into unmapped memory, is reported here instead of faulting).
 *
 * Corruption is always reported as a {@link PymallocInvariantError}: a fault of the memory
 * beneath met during the walk (segfault, bus error, a value above 2^53-1) becomes one.
 */
export function checkPymalloc(s: PymallocState, options: CheckOptions = {}): void {
  try {
    walk(s, options);
  } catch (error) {
    if (error instanceof PymallocInvariantError || !isMemoryFault(error)) throw error;
    const where = (error as { address?: unknown }).address;
    throw new PymallocInvariantError(
      "readable",
      typeof where === "number" ? where : 0,
      `a structure points where the checker cannot read (${(error as Error).message.split("\n")[0]!})`,
    );
  }
}

/** Whether `error` is a fault of the memory beneath (a segfault, bus error, or an unrepresentable load). */
function isMemoryFault(error: unknown): boolean {
  return error instanceof RangeError || (error instanceof Error && (error.name === "SegmentationFault" || error.name === "BusError"));
}

function walk(s: PymallocState, options: CheckOptions): void {
  const g = s.geometry;
  const mem = s.memory;
  const { poolSize, arenaSize, keepLastEmptyArena } = g.params;
  const fail = (invariant: string, address: number, detail: string): never => {
    throw new PymallocInvariantError(invariant, address, detail);
  };
  const slotOf = (ao: number): number => {
    const offset = ao - s.arenas;
    if (ao === 0 || offset < 0 || offset % ARENA_OBJECT_SIZE !== 0 || offset / ARENA_OBJECT_SIZE >= s.maxarenas) {
      return fail("arena-pointer", ao, "not the address of a slot of the arenas vector");
    }
    return offset / ARENA_OBJECT_SIZE;
  };

  // Unused slots.
  const unused = new Set<number>();
  for (let ao = s.unusedArenaObjects; ao !== 0; ao = mem.load64(ao + Arena.NextArena)) {
    slotOf(ao);
    if (unused.has(ao)) fail("unused-list", ao, "unused_arena_objects has a cycle");
    if (mem.load64(ao + Arena.Address) !== 0) fail("unused-list", ao, "a slot on unused_arena_objects holds an arena");
    unused.add(ao);
  }

  // Live arenas, their pools and free lists.
  const live: number[] = [];
  const poolState = new Map<number, "used" | "full" | "empty">();
  const poolClass = new Map<number, number>();
  for (let i = 0; i < s.maxarenas; i++) {
    const ao = s.arenas + i * ARENA_OBJECT_SIZE;
    const base = mem.load64(ao + Arena.Address);
    if (base === 0) {
      if (!unused.has(ao)) fail("unused-list", ao, `slot ${i} has no arena but is not on unused_arena_objects`);
      continue;
    }
    live.push(ao);
    const aligned = base % poolSize === 0;
    const first = aligned ? base : base + poolSize - (base % poolSize);
    const total = mem.load32(ao + Arena.NTotalPools);
    if (total !== g.maxPoolsInArena - (aligned ? 0 : 1)) {
      fail("arena-geometry", ao, `ntotalpools ${total} for an arena at ${hex(base)} (expected ${g.maxPoolsInArena - (aligned ? 0 : 1)})`);
    }
    const end = mem.load64(ao + Arena.PoolAddress);
    if ((end - first) % poolSize !== 0 || end < first || end > first + total * poolSize) {
      fail("arena-geometry", ao, `pool_address ${hex(end)} outside the arena at ${hex(base)}`);
    }
    if (s.arenaMap !== null && (!s.arenaMap.isUsed(base) || !s.arenaMap.isUsed(base + arenaSize - 1))) {
      fail("arena-geometry", ao, `the arena map does not cover the arena at ${hex(base)}`);
    }
    const carved = (end - first) / poolSize;
    let empty = 0;
    for (let pool = first; pool < end; pool += poolSize) {
      const state = checkPool(s, pool, i, fail);
      poolState.set(pool, state);
      if (state === "empty") empty++;
      else poolClass.set(pool, mem.load32(pool + Pool.SizeIndex));
    }
    let onList = 0;
    for (let pool = mem.load64(ao + Arena.FreePools); pool !== 0; pool = mem.load64(pool + Pool.NextPool)) {
      if (pool < first || pool >= end || (pool - first) % poolSize !== 0) fail("arena-freepools", pool, `not a carved pool of the arena at ${hex(base)}`);
      if (poolState.get(pool) !== "empty") fail("arena-freepools", pool, "a pool on freepools is not empty");
      if (++onList > carved) fail("arena-freepools", ao, "freepools has a cycle");
    }
    if (onList !== empty) fail("arena-freepools", ao, `${empty} empty pools but ${onList} on freepools`);
    const nfree = mem.load32(ao + Arena.NFreePools);
    if (nfree !== empty + (total - carved)) fail("arena-freepools", ao, `nfreepools ${nfree}, expected ${empty + total - carved}`);
    if (nfree === total && !keepLastEmptyArena) fail("arena-freepools", ao, "a wholly free arena was not released");
  }
  if (live.length !== s.narenasCurrentlyAllocated) {
    fail("counters", s.arenas, `${live.length} live arenas but narenas_currently_allocated = ${s.narenasCurrentlyAllocated}`);
  }
  if (s.narenasHighwater < live.length || s.ntimesArenaAllocated < s.narenasHighwater) {
    fail("counters", s.arenas, "highwater / allocated-total counters are inconsistent");
  }

  checkUsableArenas(s, live, fail);
  if (s.arenaMap !== null && options.scanArenaMap !== false) checkArenaMap(s, live, fail);

  // usedpools lists.
  const seen = new Set<number>();
  for (let idx = 0; idx < g.numClasses; idx++) {
    let prev = 0;
    for (let pool = s.usedpools[idx]!; pool !== 0; pool = mem.load64(pool + Pool.NextPool)) {
      if (seen.has(pool)) fail("used-pools", pool, `class ${idx}'s list has a cycle or shares a pool`);
      seen.add(pool);
      if (poolState.get(pool) !== "used") fail("used-pools", pool, `a pool in class ${idx}'s list is ${poolState.get(pool) ?? "not a carved pool"}`);
      if (poolClass.get(pool) !== idx) fail("used-pools", pool, `a pool of class ${poolClass.get(pool)} is in class ${idx}'s list`);
      if (mem.load64(pool + Pool.PrevPool) !== prev) fail("used-pools", pool, "prevpool does not point back");
      prev = pool;
    }
  }
  for (const [pool, state] of poolState) {
    if (state === "used" && !seen.has(pool)) fail("used-pools", pool, "a partially used pool is in no usedpools list");
  }
}

type Fail = (invariant: string, address: number, detail: string) => never;

/** Options of {@link checkPymalloc}. */
export interface CheckOptions {
  /**
   * Read every node of the arena map and check each entry against the live arenas
   * (several hundred KiB of reads; the live arenas' own entries are always checked).
   * @defaultValue true
   */
  scanArenaMap?: boolean;
}

/** Checks that the arena map holds exactly the entries of the live arenas. */
function checkArenaMap(s: PymallocState, live: number[], fail: Fail): void {
  const map = s.arenaMap!;
  const { arenaSize } = s.geometry.params;
  const expected = new Map<number, { hi: number; lo: number }>();
  const at = (slot: number) => {
    let e = expected.get(slot);
    if (e === undefined) expected.set(slot, (e = { hi: 0, lo: 0 }));
    return e;
  };
  for (const ao of live) {
    const base = s.memory.load64(ao + Arena.Address);
    const tail = base % arenaSize;
    if (tail === 0) at(base).hi = -1;
    else {
      at(base - tail).hi = tail;
      at(base - tail + arenaSize).lo = tail;
    }
  }
  const entries = map.entries();
  for (const e of entries) {
    const want = expected.get(e.slot);
    if (want === undefined || want.hi !== e.tailHi || want.lo !== e.tailLo) {
      fail("arena-map", e.slot, `entry tail_hi=${e.tailHi} tail_lo=${e.tailLo}, expected ${want ? `${want.hi}/${want.lo}` : "none (no live arena there)"}`);
    }
  }
  if (entries.length !== expected.size) fail("arena-map", 0, `${entries.length} entries for ${expected.size} slots of live arenas`);
  if (map.midNodes().length !== map.midCount) fail("arena-map", 0, `${map.midNodes().length} mid nodes but arena_map_mid_count = ${map.midCount}`);
}

/** Checks one carved pool's header and free list; returns its state. */
function checkPool(s: PymallocState, pool: number, arenaIndex: number, fail: Fail): "used" | "full" | "empty" {
  const g = s.geometry;
  const mem = s.memory;
  const { poolSize } = g.params;
  const overhead = g.poolOverhead;
  if (mem.load32(pool + Pool.ArenaIndex) !== arenaIndex) fail("pool-header", pool, `arenaindex ${mem.load32(pool + Pool.ArenaIndex)}, expected ${arenaIndex}`);
  const count = mem.load32(pool + Pool.Count);
  const idx = mem.load32(pool + Pool.SizeIndex);
  if (idx === DUMMY_SIZE_IDX) {
    if (count !== 0) fail("pool-header", pool, "a pool without a size class has blocks");
    return "empty";
  }
  if (idx >= g.numClasses) fail("pool-header", pool, `szidx ${idx} is not a size class`);
  const size = (idx + 1) * g.params.alignment;
  const numblocks = g.blocksPerPool[idx]!;
  const next = mem.load32(pool + Pool.NextOffset);
  const max = mem.load32(pool + Pool.MaxNextOffset);
  if (max !== poolSize - size) fail("pool-header", pool, `maxnextoffset ${max}, expected ${poolSize - size}`);
  if ((next - overhead) % size !== 0 || next < overhead + size || next > overhead + (numblocks + 1) * size) {
    fail("pool-header", pool, `nextoffset ${next} is not a block boundary of class ${idx}`);
  }
  const carvedBlocks = Math.min((next - overhead) / size, numblocks);
  if (count > carvedBlocks) fail("pool-header", pool, `count ${count} exceeds the ${carvedBlocks} carved blocks`);
  const free = new Set<number>();
  /** A free-list link: a value of 2^53 or more is reported, not loaded as a number. */
  const link = (at: number, holder: string): number => {
    try {
      return mem.load64(at);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      const value = mem.load64Big(at);
      return fail("pool-free-list", at, `${holder} holds 0x${value.toString(16)}, not an address (2^53 or more) (use after free?)`);
    }
  };
  for (let b = link(pool + Pool.FreeBlock, `the freeblock of the pool at ${hex(pool)}`); b !== 0; b = link(b, `the free block at ${hex(b)}`)) {
    const offset = b - pool - overhead;
    if (offset < 0 || offset % size !== 0 || offset >= carvedBlocks * size) {
      fail("pool-free-list", b, `not a carved ${size}-byte block of the pool at ${hex(pool)}`);
    }
    if (free.has(b)) fail("pool-free-list", b, `the free list of the pool at ${hex(pool)} has a cycle (double free?)`);
    free.add(b);
  }
  if (count + free.size !== carvedBlocks) {
    fail("pool-free-list", pool, `count ${count} + ${free.size} free blocks != ${carvedBlocks} carved blocks`);
  }
  if (count === 0) return "empty";
  if (free.size === 0) {
    if (next <= max) fail("pool-free-list", pool, "an exhausted free list while virgin blocks remain");
    return "full";
  }
  return "used";
}

/** Checks `usable_arenas` (membership, links, order) and `nfp2lasta`. */
function checkUsableArenas(s: PymallocState, live: number[], fail: Fail): void {
  const mem = s.memory;
  const expected = new Set(live.filter((ao) => mem.load32(ao + Arena.NFreePools) > 0));
  const last = new Map<number, number>();
  let prev = 0;
  let prevFree = -1;
  for (let ao = s.usableArenas; ao !== 0; ao = mem.load64(ao + Arena.NextArena)) {
    if (!expected.has(ao)) fail("usable-arenas", ao, "an arena in usable_arenas is not live with free pools (or is listed twice)");
    expected.delete(ao);
    if (mem.load64(ao + Arena.PrevArena) !== prev) fail("usable-arenas", ao, "prevarena does not point back");
    const nf = mem.load32(ao + Arena.NFreePools);
    if (nf < prevFree) fail("usable-arenas", ao, `not sorted: ${nf} free pools after ${prevFree}`);
    last.set(nf, ao);
    prevFree = nf;
    prev = ao;
  }
  for (const ao of expected) fail("usable-arenas", ao, "a live arena with free pools is missing from usable_arenas");
  for (let k = 0; k < s.nfp2lasta.length; k++) {
    const want = last.get(k) ?? 0;
    if (s.nfp2lasta[k] !== want) fail("nfp2lasta", s.nfp2lasta[k] || want, `nfp2lasta[${k}] is ${hex(s.nfp2lasta[k]!)}, expected ${hex(want)}`);
  }
}
