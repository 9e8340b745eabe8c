import type { Memory } from "@mem/hardware";
import type { PyMemAllocatorEx, SmallObjectHost } from "@mem/pymem";
import { ARENA_OBJECT_SIZE, DUMMY_SIZE_IDX, PYMALLOC_VERSIONS, type PymallocOptions, type PymallocParams } from "./api.js";
import { ArenaMap } from "./arena-map.js";
import { checkPymalloc, type CheckOptions } from "./check.js";
import { PymallocError } from "./errors.js";
import { FreeProblem, freeProblemError } from "./free-problem.js";
import { deriveGeometry, type PymallocGeometry } from "./geometry.js";
import { liveArenaObjects, readPoolHeader, type ArenaObject, type PoolHeader } from "./inspect.js";
import { Arena, Pool } from "./layout.js";
import { countAllocatedBlocks, formatMallocStats, type PymallocState } from "./stats.js";

/**
 * CPython's small-object allocator (pymalloc, `Objects/obmalloc.c`) over simulated memory.
 *
 * Requests of 1..512 bytes are served from size classes 16 bytes apart, each from pools
 * of POOL_SIZE bytes carved out of ARENA_SIZE arenas obtained from the host's arena
 * allocator; size 0 and larger requests go to the host's raw domain. Pool headers, free
 * lists, the `arenas` vector and the arena-map nodes are bytes in `host.memory`; only
 * what CPython keeps in static variables (`usedpools`, `nfp2lasta`, list heads, counters,
 * the arena-map root) are fields of this object.
 *
 * ```
 *   arena (ARENA_SIZE, from the arena allocator)
 *   +--------+--------+--------+-- ... --+--------+
 *   | pool 0 | pool 1 | pool 2 |         | pool N |   N = 63, or 62 when the base is not
 *   +--------+--------+--------+-- ... --+--------+   POOL_SIZE-aligned (one pool lost)
 *   pool: [48-byte header][block][block]...[block][tail lost to quantization]
 * ```
 */
export class Pymalloc {
  /** The `PyMemAllocatorEx` to install in the MEM and OBJ domains; its `ctx` is this object. */
  readonly allocator: PyMemAllocatorEx<Pymalloc>;
  /** The parameters in force. */
  readonly params: PymallocParams;
  /** Everything derived from the parameters. */
  readonly geometry: PymallocGeometry;
  /** The host this allocator runs on. */
  readonly host: SmallObjectHost;
  /** Whether frees walk the pool's free list to catch double frees (see {@link PymallocOptions.strictFree}). */
  readonly strictFree: boolean;
  /** Whether frees are validated (see {@link PymallocOptions.validateFrees}). */
  readonly validateFrees: boolean;
  /** The `PYTHONMALLOCSTATS` sink, if any (see {@link PymallocOptions.pythonMallocStats}). */
  readonly pythonMallocStats: ((text: string) => void) | undefined;

  // ---- obmalloc.c's static state -----------------------------------------------------
  /** `arenas`: address of the arena_object vector (0 before the first arena). */
  arenas = 0;
  /** `maxarenas`: slots in the vector. */
  maxarenas = 0;
  /** `unused_arena_objects`: head of the LIFO list of slots without an arena. */
  unusedArenaObjects = 0;
  /** `usable_arenas`: head of the arenas with free pools, sorted by nfreepools ascending. */
  usableArenas = 0;
  /** `nfp2lasta[k]`: the last arena in usable_arenas with k free pools, or 0. */
  readonly nfp2lasta: Float64Array;
  /** `usedpools[2i]`: the first partially used pool of class i, or 0 when the list is empty. */
  readonly usedpools: Float64Array;
  /** `narenas_currently_allocated`. */
  narenasCurrentlyAllocated = 0;
  /** `ntimes_arena_allocated`. */
  ntimesArenaAllocated = 0;
  /** `narenas_highwater`. */
  narenasHighwater = 0;
  /** `raw_allocated_blocks`: blocks this allocator handed out from the raw domain. */
  rawAllocatedBlocks = 0;
  /** The arena map (radix tree), or null for the 3.8/3.9 `address_in_range` trick. */
  readonly arenaMap: ArenaMap | null;

  private readonly memory: Memory;
  /** Header fields read by the last successful {@link blockProblem} (a cache of memory for the free path). */
  private seenCount = 0;
  private seenFree = 0;
  private seenClass = 0;
  private readonly threshold: number;
  private readonly shift: number;
  private readonly alignment: number;
  private readonly poolSize: number;
  /** `poolSize - 1`: `p & poolMask` is p's offset in its pool (exact for addresses below 2^53). */
  private readonly poolMask: number;
  private readonly arenaSize: number;
  private readonly overhead: number;

  /** Creates pymalloc on `host` with the preset `options.version` (default 3.11) and any overrides. */
  constructor(host: SmallObjectHost, options: PymallocOptions = {}) {
    const base = PYMALLOC_VERSIONS[options.version ?? "3.11"];
    if (base === undefined) throw new RangeError(`small-object: unknown version preset ${String(options.version)}`);
    this.params = { ...base, ...options.params };
    this.geometry = deriveGeometry(this.params);
    this.host = host;
    this.memory = host.memory;
    this.strictFree = options.strictFree ?? false;
    this.validateFrees = options.validateFrees ?? true;
    this.pythonMallocStats = options.pythonMallocStats;
    this.threshold = this.params.smallRequestThreshold;
    this.shift = this.geometry.alignmentShift;
    this.alignment = this.params.alignment;
    this.poolSize = this.params.poolSize;
    this.poolMask = this.poolSize - 1;
    this.arenaSize = this.params.arenaSize;
    this.overhead = this.geometry.poolOverhead;
    this.nfp2lasta = new Float64Array(this.geometry.maxPoolsInArena + 1);
    this.usedpools = new Float64Array(this.geometry.numClasses);
    this.arenaMap = this.geometry.radix ? new ArenaMap(host, this.geometry.radix, this.arenaSize) : null;
    this.allocator = {
      ctx: this,
      malloc: (ctx, size) => ctx.malloc(size),
      calloc: (ctx, nelem, elsize) => ctx.calloc(nelem, elsize),
      realloc: (ctx, ptr, size) => ctx.realloc(ptr, size),
      free: (ctx, ptr) => ctx.free(ptr),
    };
  }

  // ---- the PyMemAllocatorEx functions ------------------------------------------------

  /** `_PyObject_Malloc`: a pymalloc block for 1..512 bytes, else (or when no arena can be had) a raw block. */
  malloc(size: number): number {
    const p = this.pymallocAlloc(size);
    if (p !== 0) return p;
    checkSize("malloc", size);
    const raw = this.host.raw.malloc(size);
    if (raw !== 0) this.rawAllocatedBlocks++;
    return raw;
  }

  /** `_PyObject_Calloc`: like malloc for `nelem * elsize` bytes, zeroed (memset or raw calloc). */
  calloc(nelem: number, elsize: number): number {
    checkSize("calloc", nelem);
    checkSize("calloc", elsize);
    const nbytes = nelem * elsize;
    const p = this.pymallocAlloc(nbytes);
    if (p !== 0) {
      this.memory.fill(p, nbytes, 0);
      return p;
    }
    const raw = this.host.raw.calloc(nelem, elsize);
    if (raw !== 0) this.rawAllocatedBlocks++;
    return raw;
  }

  /**
   * `_PyObject_Realloc`: NULL reallocs are mallocs; raw blocks stay raw
   * (`PyMem_RawRealloc`); a pymalloc block stays in place when the new size fits its class
   * and shrinks it by less than 25 %, else moves (new block first, copy, then free).
   */
  realloc(ptr: number, size: number): number {
    if (ptr === 0) return this.malloc(size);
    checkSize("realloc", size);
    if (!isAddress(ptr)) throw badPointer("realloc", ptr, size);
    const pool = ptr - (ptr & this.poolMask);
    const base = this.arenaBase(ptr, pool);
    if (base < 0) return this.host.raw.realloc(ptr, size);
    const problem = this.validateFrees ? this.blockProblem(ptr, pool, base) : this.readHeader(pool);
    if (problem !== FreeProblem.None) this.refuse("realloc", ptr, size, pool, base, problem);
    let keep = this.indexToSize(this.seenClass);
    if (size <= keep) {
      if (4 * size > 3 * keep) return ptr;
      keep = size;
    }
    const moved = this.malloc(size);
    if (moved !== 0) {
      this.memory.copy(moved, ptr, keep);
      this.free(ptr);
    }
    return moved;
  }

  /** `_PyObject_Free`: returns a block to its pool, or a foreign pointer to the raw domain. */
  free(ptr: number): void {
    if (ptr === 0) return;
    if (!isAddress(ptr)) throw badPointer("free", ptr, 0);
    const pool = ptr - (ptr & this.poolMask);
    const base = this.arenaBase(ptr, pool);
    if (base >= 0) {
      const problem = this.validateFrees ? this.blockProblem(ptr, pool, base) : this.readHeader(pool);
      if (problem !== FreeProblem.None) this.refuse("free", ptr, 0, pool, base, problem);
      this.pymallocFree(ptr, pool);
      return;
    }
    this.host.raw.free(ptr);
    this.rawAllocatedBlocks--;
  }

  // ---- statistics and checks -----------------------------------------------------------

  /** The pymalloc section of `sys._debugmallocstats()`, exactly as the version prints it. */
  debugMallocStats(): string {
    return formatMallocStats(this.state());
  }

  /** `sys.getallocatedblocks()` (`_Py_GetAllocatedBlocks`): raw fallback blocks plus every pool's count. */
  allocatedBlocks(): number {
    return countAllocatedBlocks(this.state());
  }

  /**
   * Walks every arena object, arena, pool and free list and verifies every invariant of
   * obmalloc.c's structures.
   * @throws PymallocInvariantError naming the first invariant found broken.
   */
  check(options: CheckOptions = {}): void {
    checkPymalloc(this.state(), options);
  }

  /** The live arenas: their `arena_object`s as memory holds them, in vector order. */
  arenaObjects(): ArenaObject[] {
    return liveArenaObjects(this.state());
  }

  /** The header of the pool holding `ptr` (any address inside the pool), as memory holds it. */
  poolHeader(ptr: number): PoolHeader {
    if (!isAddress(ptr)) throw badPointer("poolHeader", ptr, 0);
    return readPoolHeader(this.memory, ptr - (ptr & this.poolMask));
  }

  /** Whether pymalloc owns `ptr` (`address_in_range`); false for anything that is not an address. */
  owns(ptr: number): boolean {
    return isAddress(ptr) && this.arenaBase(ptr, ptr - (ptr & this.poolMask)) >= 0;
  }

  /** The block size of the class a request of `size` bytes (1..threshold) is served from. */
  blockSize(size: number): number {
    return (((size - 1) >>> this.shift) + 1) * this.alignment;
  }

  /** A read-only view of the state, for the statistics, the checker and inspection tools. */
  state(): PymallocState {
    return {
      memory: this.memory,
      geometry: this.geometry,
      arenas: this.arenas,
      maxarenas: this.maxarenas,
      unusedArenaObjects: this.unusedArenaObjects,
      usableArenas: this.usableArenas,
      nfp2lasta: this.nfp2lasta,
      usedpools: this.usedpools,
      narenasCurrentlyAllocated: this.narenasCurrentlyAllocated,
      ntimesArenaAllocated: this.ntimesArenaAllocated,
      narenasHighwater: this.narenasHighwater,
      rawAllocatedBlocks: this.rawAllocatedBlocks,
      arenaMap: this.arenaMap,
    };
  }

  // ---- allocation ------------------------------------------------------------------------

  private indexToSize(i: number): number {
    return (i + 1) << this.shift;
  }

  /** `pymalloc_alloc`: a block for 1..threshold bytes, or 0 (size not served, or no arena). */
  private pymallocAlloc(nbytes: number): number {
    // typeof first: a BigInt would pass the comparisons and make `| 0` throw a raw TypeError.
    if (typeof nbytes !== "number" || !(nbytes >= 1 && nbytes <= this.threshold) || (nbytes | 0) !== nbytes) return 0;
    const idx = (nbytes - 1) >>> this.shift;
    const pool = this.usedpools[idx]!;
    if (pool === 0) return this.allocateFromNewPool(idx);
    const mem = this.memory;
    // Both loads before any store, so that a fault leaves the pool as it was.
    let bp: number;
    let next: number;
    try {
      bp = mem.load64(pool + Pool.FreeBlock);
      next = mem.load64(bp);
    } catch (error) {
      return this.popWild(pool, error);
    }
    mem.store32(pool + Pool.Count, (mem.load32(pool + Pool.Count) + 1) >>> 0);
    mem.store64(pool + Pool.FreeBlock, next);
    if (next === 0) this.extendPool(pool, idx);
    return bp;
  }

  /**
   * The cold path of the pop, when a pointer involved is 2^53 or more (written over a freed
   * block: memory holds it, a number cannot). CPython does not look at the link it pops:
   *
   * ```
   *   bp = pool->freeblock;                        wild: *bp faults (SIGSEGV), as the next pop would
   *   pool->freeblock = *(block **)bp;             wild link: copied as it is, bp is handed out
   * ```
   *
   * A wild head is dereferenced through the memory beneath, which raises its own fault (os-vm:
   * SIGSEGV, SI_KERNEL for a non-canonical address); a wild link is copied byte for byte.
   */
  private popWild(pool: number, error: unknown): number {
    const mem = this.memory;
    const head = wildValue(mem, pool + Pool.FreeBlock, error);
    if (head !== null) {
      mem.load64(Number(head)); // the memory beneath faults on an address of 2^53 or more
      throw new PymallocError("malloc", pool, 0, "wild-pointer", `the free list of the pool at ${hexBig(BigInt(pool))} points to ${hexBig(head)}`);
    }
    const bp = mem.load64(pool + Pool.FreeBlock);
    if (wildValue(mem, bp, error) === null) throw error;
    mem.store32(pool + Pool.Count, (mem.load32(pool + Pool.Count) + 1) >>> 0);
    mem.copy(pool + Pool.FreeBlock, bp, 8);
    return bp;
  }

  /** `pymalloc_pool_extend`: carve the next virgin block onto the free list, or retire a full pool. */
  private extendPool(pool: number, idx: number): void {
    const mem = this.memory;
    const nextoffset = mem.load32(pool + Pool.NextOffset);
    if (nextoffset <= mem.load32(pool + Pool.MaxNextOffset)) {
      const fresh = pool + nextoffset;
      mem.store64(pool + Pool.FreeBlock, fresh);
      mem.store32(pool + Pool.NextOffset, nextoffset + this.indexToSize(idx));
      mem.store64(fresh, 0);
      return;
    }
    this.unlinkUsedPool(pool, idx);
  }

  /** Removes `pool` from `usedpools[idx]` (the pool became full or empty). */
  private unlinkUsedPool(pool: number, idx: number): void {
    const mem = this.memory;
    const next = mem.load64(pool + Pool.NextPool);
    const prev = mem.load64(pool + Pool.PrevPool);
    if (next !== 0) mem.store64(next + Pool.PrevPool, prev);
    if (prev !== 0) mem.store64(prev + Pool.NextPool, next);
    else this.usedpools[idx] = next;
  }

  /** `allocate_from_new_pool`: takes a pool from the head of usable_arenas (fewest free pools). */
  private allocateFromNewPool(idx: number): number {
    const mem = this.memory;
    if (this.usableArenas === 0) {
      const fresh = this.newArena();
      if (fresh === 0) return 0;
      this.usableArenas = fresh;
      mem.store64(fresh + Arena.NextArena, 0);
      mem.store64(fresh + Arena.PrevArena, 0);
      this.nfp2lasta[mem.load32(fresh + Arena.NFreePools)] = fresh;
    }
    const ao = this.usableArenas;
    const nfree = mem.load32(ao + Arena.NFreePools);
    if (this.nfp2lasta[nfree] === ao) this.nfp2lasta[nfree] = 0;
    if (nfree > 1) this.nfp2lasta[nfree - 1] = ao;

    let pool = mem.load64(ao + Arena.FreePools);
    if (pool !== 0) {
      mem.store64(ao + Arena.FreePools, mem.load64(pool + Pool.NextPool));
    } else {
      pool = mem.load64(ao + Arena.PoolAddress);
      mem.store32(pool + Pool.ArenaIndex, (ao - this.arenas) / ARENA_OBJECT_SIZE);
      mem.store32(pool + Pool.SizeIndex, DUMMY_SIZE_IDX);
      mem.store64(ao + Arena.PoolAddress, pool + this.poolSize);
    }
    mem.store32(ao + Arena.NFreePools, nfree - 1);
    if (nfree === 1) {
      // Wholly allocated: the arena leaves usable_arenas.
      const next = mem.load64(ao + Arena.NextArena);
      this.usableArenas = next;
      if (next !== 0) mem.store64(next + Arena.PrevArena, 0);
    }

    // Frontlink to usedpools[idx] (which is empty: that is why a new pool was needed).
    mem.store64(pool + Pool.NextPool, 0);
    mem.store64(pool + Pool.PrevPool, 0);
    this.usedpools[idx] = pool;
    mem.store32(pool + Pool.Count, 1);
    if (mem.load32(pool + Pool.SizeIndex) === idx) {
      // A recycled pool of the same class: its free list and nextoffset are reused as they are.
      const bp = mem.load64(pool + Pool.FreeBlock);
      try {
        mem.store64(pool + Pool.FreeBlock, mem.load64(bp));
      } catch (error) {
        if (wildValue(mem, bp, error) === null) throw error;
        mem.copy(pool + Pool.FreeBlock, bp, 8); // a wild link is copied, not followed (see popWild)
      }
      return bp;
    }
    const size = this.indexToSize(idx);
    mem.store32(pool + Pool.SizeIndex, idx);
    const bp = pool + this.overhead;
    mem.store32(pool + Pool.NextOffset, this.overhead + 2 * size);
    mem.store32(pool + Pool.MaxNextOffset, this.poolSize - size);
    mem.store64(pool + Pool.FreeBlock, bp + size);
    mem.store64(bp + size, 0);
    return bp;
  }

  /** `new_arena`: grows the arenas vector when no slot is free, then maps and registers an arena. */
  private newArena(): number {
    const mem = this.memory;
    if (this.pythonMallocStats !== undefined) this.pythonMallocStats(this.debugMallocStats());
    if (this.unusedArenaObjects === 0) {
      const numarenas = this.maxarenas === 0 ? this.params.initialArenaObjects : this.maxarenas * 2;
      if (numarenas > 0xffffffff) return 0; // uint overflow
      const vector = this.host.raw.realloc(this.arenas, numarenas * ARENA_OBJECT_SIZE);
      if (vector === 0) return 0;
      this.arenas = vector;
      for (let i = this.maxarenas; i < numarenas; i++) {
        const slot = vector + i * ARENA_OBJECT_SIZE;
        mem.store64(slot + Arena.Address, 0);
        mem.store64(slot + Arena.NextArena, i < numarenas - 1 ? slot + ARENA_OBJECT_SIZE : 0);
      }
      this.unusedArenaObjects = vector + this.maxarenas * ARENA_OBJECT_SIZE;
      this.maxarenas = numarenas;
    }
    const ao = this.unusedArenaObjects;
    this.unusedArenaObjects = mem.load64(ao + Arena.NextArena);
    const arenaAllocator = this.host.arenaAllocator();
    let address = arenaAllocator.alloc(arenaAllocator.ctx, this.arenaSize);
    if (address !== 0 && this.arenaMap !== null && !this.arenaMap.markUsed(address, true)) {
      arenaAllocator.free(arenaAllocator.ctx, address, this.arenaSize);
      address = 0;
    }
    if (address === 0) {
      mem.store64(ao + Arena.NextArena, this.unusedArenaObjects);
      this.unusedArenaObjects = ao;
      return 0;
    }
    mem.store64(ao + Arena.Address, address);
    this.narenasCurrentlyAllocated++;
    this.ntimesArenaAllocated++;
    if (this.narenasCurrentlyAllocated > this.narenasHighwater) this.narenasHighwater = this.narenasCurrentlyAllocated;
    mem.store64(ao + Arena.FreePools, 0);
    let nfree = this.geometry.maxPoolsInArena;
    let first = address;
    const excess = address % this.poolSize;
    if (excess !== 0) {
      nfree--;
      first += this.poolSize - excess;
    }
    mem.store64(ao + Arena.PoolAddress, first);
    mem.store32(ao + Arena.NFreePools, nfree);
    mem.store32(ao + Arena.NTotalPools, nfree);
    return ao;
  }

  // ---- free ------------------------------------------------------------------------------

  /**
   * `address_in_range`, answering with the owning arena's base (or -1 when pymalloc does
   * not own `p`): the arena map (3.10+) or the arenaindex trick (3.9 and before), which
   * reads the would-be pool header of any pointer, as CPython does.
   */
  private arenaBase(p: number, pool: number): number {
    if (this.arenaMap !== null) return this.arenaMap.arenaBase(p);
    const mem = this.memory;
    const index = mem.load32(pool + Pool.ArenaIndex);
    if (index >= this.maxarenas) return -1;
    const address = mem.load64(this.arenas + index * ARENA_OBJECT_SIZE + Arena.Address);
    return address !== 0 && p - address >= 0 && p - address < this.arenaSize ? address : -1;
  }

  /**
   * Checks that `p`, inside the arena at `base`, is a live block before pymalloc touches
   * anything, so that a bad free becomes a typed error with the state intact instead of a
   * corrupted pool. O(1) unless `strictFree` is set.
   */
  private blockProblem(p: number, pool: number, base: number): FreeProblem {
    if (pool < base || pool + this.poolSize > base + this.arenaSize) return FreeProblem.AlignmentLoss;
    const mem = this.memory;
    // arenaindex and szidx are one aligned 8-byte word, as are nextoffset and maxnextoffset.
    const indexAndClass = mem.load64(pool + Pool.ArenaIndex);
    const idx = Math.floor(indexAndClass * INVERSE_TWO_32);
    const index = indexAndClass - idx * TWO_32;
    const ao = this.arenas + index * ARENA_OBJECT_SIZE;
    if (index >= this.maxarenas || mem.load64(ao + Arena.Address) !== base || pool >= mem.load64(ao + Arena.PoolAddress)) {
      return FreeProblem.NeverCarved;
    }
    const count = mem.load32(pool + Pool.Count);
    if (count === 0) return FreeProblem.EmptyPool;
    // p - pool is below poolSize (at most 2^30), so the offset is an int32 and % is an integer division.
    const offset = ((p - pool) | 0) - this.overhead;
    if (offset < 0 || offset % this.indexToSize(idx) !== 0) return FreeProblem.NotBlockStart;
    if (offset + this.overhead >= mem.load32(pool + Pool.NextOffset)) return FreeProblem.NeverHandedOut;
    let free: number;
    try {
      free = mem.load64(pool + Pool.FreeBlock);
    } catch (error) {
      if (wildValue(mem, pool + Pool.FreeBlock, error) === null) throw error;
      free = WILD; // free() copies the head without following it
    }
    if (free === p) return FreeProblem.HeadOfFreeList;
    this.seenCount = count;
    this.seenFree = free;
    this.seenClass = idx;
    if (this.strictFree) {
      // The walk is this model's own check, not CPython's: a link it cannot follow ends it.
      try {
        for (let n = 0; free > 0 && n <= this.geometry.blocksPerPool[idx]!; n++) {
          if (free === p) return FreeProblem.OnFreeList;
          free = mem.load64(free);
        }
      } catch (error) {
        if (!isMemoryFault(error)) throw error;
      }
    }
    return FreeProblem.None;
  }

  /** Without validation: reads the header fields the free path needs, as CPython does. */
  private readHeader(pool: number): FreeProblem {
    const mem = this.memory;
    this.seenCount = mem.load32(pool + Pool.Count);
    try {
      this.seenFree = mem.load64(pool + Pool.FreeBlock);
    } catch (error) {
      if (wildValue(mem, pool + Pool.FreeBlock, error) === null) throw error;
      this.seenFree = WILD;
    }
    this.seenClass = mem.load32(pool + Pool.SizeIndex);
    return FreeProblem.None;
  }

  /** Throws the typed error for `problem` (the cold path of {@link blockProblem}). */
  private refuse(operation: string, p: number, size: number, pool: number, base: number, problem: FreeProblem): never {
    throw freeProblemError(operation, p, size, pool, base, this.indexToSize(this.memory.load32(pool + Pool.SizeIndex)), problem);
  }

  /**
   * `pymalloc_free` after {@link blockProblem} validated `p` (and left the pool's count,
   * free-list head and class in `seenCount`, `seenFree`, `seenClass`): LIFO free-list push, then the pool's and arena's list moves. */
  private pymallocFree(p: number, pool: number): void {
    const mem = this.memory;
    const lastfree = this.seenFree;
    if (lastfree >= 0) mem.store64(p, lastfree);
    else mem.copy(p, pool + Pool.FreeBlock, 8); // a wild head (2^53 or more) is copied as it is
    mem.store64(pool + Pool.FreeBlock, p);
    const count = (this.seenCount - 1) >>> 0; // a C uint: wraps below 0 after an unvalidated double free
    mem.store32(pool + Pool.Count, count);
    if (lastfree === 0) {
      // The pool was full and in no list: it goes to the front of its class's list.
      const idx = this.seenClass;
      const first = this.usedpools[idx]!;
      mem.store64(pool + Pool.NextPool, first);
      mem.store64(pool + Pool.PrevPool, 0);
      if (first !== 0) mem.store64(first + Pool.PrevPool, pool);
      this.usedpools[idx] = pool;
      return;
    }
    if (count !== 0) return;
    this.insertToFreepool(pool);
  }

  /** `insert_to_freepool`: an empty pool goes back to its arena, which moves in usable_arenas or is released. */
  private insertToFreepool(pool: number): void {
    const mem = this.memory;
    this.unlinkUsedPool(pool, mem.load32(pool + Pool.SizeIndex));
    const ao = this.arenas + mem.load32(pool + Pool.ArenaIndex) * ARENA_OBJECT_SIZE;
    mem.store64(pool + Pool.NextPool, mem.load64(ao + Arena.FreePools));
    mem.store64(ao + Arena.FreePools, pool);
    let nf = mem.load32(ao + Arena.NFreePools);
    const lastnf = this.nfp2lasta[nf]!;
    const prevArena = mem.load64(ao + Arena.PrevArena);
    if (lastnf === ao) {
      this.nfp2lasta[nf] = prevArena !== 0 && mem.load32(prevArena + Arena.NFreePools) === nf ? prevArena : 0;
    }
    nf++;
    mem.store32(ao + Arena.NFreePools, nf);
    const nextArena = mem.load64(ao + Arena.NextArena);

    if (nf === mem.load32(ao + Arena.NTotalPools) && (nextArena !== 0 || !this.params.keepLastEmptyArena)) {
      // Case 1: the arena is wholly free (and, since 3.9, not the last in the list): release it.
      if (prevArena === 0) this.usableArenas = nextArena;
      else mem.store64(prevArena + Arena.NextArena, nextArena);
      if (nextArena !== 0) mem.store64(nextArena + Arena.PrevArena, prevArena);
      mem.store64(ao + Arena.NextArena, this.unusedArenaObjects);
      this.unusedArenaObjects = ao;
      const address = mem.load64(ao + Arena.Address);
      if (this.arenaMap !== null) this.arenaMap.markUsed(address, false);
      const arenaAllocator = this.host.arenaAllocator();
      arenaAllocator.free(arenaAllocator.ctx, address, this.arenaSize);
      mem.store64(ao + Arena.Address, 0);
      this.narenasCurrentlyAllocated--;
      return;
    }
    if (nf === 1) {
      // Case 2: the arena was full (in no list); it enters at the head.
      const head = this.usableArenas;
      mem.store64(ao + Arena.NextArena, head);
      mem.store64(ao + Arena.PrevArena, 0);
      if (head !== 0) mem.store64(head + Arena.PrevArena, ao);
      this.usableArenas = ao;
      if (this.nfp2lasta[1] === 0) this.nfp2lasta[1] = ao;
      return;
    }
    if (this.nfp2lasta[nf] === 0) this.nfp2lasta[nf] = ao;
    // Case 4: ao was the last arena with the old count, so the order still holds.
    if (ao === lastnf) return;
    // Case 3: move ao to just after lastnf, the last arena with the old count.
    if (prevArena !== 0) mem.store64(prevArena + Arena.NextArena, nextArena);
    else this.usableArenas = nextArena;
    mem.store64(nextArena + Arena.PrevArena, prevArena);
    const after = mem.load64(lastnf + Arena.NextArena);
    mem.store64(ao + Arena.PrevArena, lastnf);
    mem.store64(ao + Arena.NextArena, after);
    if (after !== 0) mem.store64(after + Arena.PrevArena, ao);
    mem.store64(lastnf + Arena.NextArena, ao);
  }
}

const TWO_32 = 2 ** 32;
/** `seenFree` when the pool's free-list head is 2^53 or more: the free path copies it byte for byte. */
const WILD = -1;

/**
 * The exact value of the 64-bit word at `address` when `error` (thrown by a `load64` there or
 * at a pointer read from there) is the memory's refusal to return a value of 2^53 or more;
 * null when the word is an ordinary number (the error is something else).
 */
function wildValue(memory: Memory, address: number, error: unknown): bigint | null {
  if (!(error instanceof RangeError)) return null;
  const value = memory.load64Big(address);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? value : null;
}

/** Whether `error` is a fault of the memory beneath (a segfault, bus error, or an unrepresentable load). */
function isMemoryFault(error: unknown): boolean {
  return error instanceof RangeError || (error instanceof Error && (error.name === "SegmentationFault" || error.name === "BusError"));
}

function hexBig(value: bigint): string {
  return `0x${value.toString(16)}`;
}
const INVERSE_TWO_32 = 2 ** -32;

/** Whether `p` can be an address: an integer in 0..2^53-1 (so that masks and offsets are exact). */
function isAddress(p: number): boolean {
  return typeof p === "number" && p >= 0 && p <= Number.MAX_SAFE_INTEGER && Math.floor(p) === p;
}

function badPointer(operation: string, p: number, size: number): PymallocError {
  return new PymallocError(operation, p, size, "bad-pointer", "not an address (an integer in 0..2^53-1)");
}


function checkSize(operation: string, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new PymallocError(operation, 0, size, "bad-size", "a size must be a non-negative integer below 2^53");
  }
}

/**
 * A `SmallObjectFactory` for `@mem/pymem`: `pymallocFactory({ version: "3.10" })` returns
 * `(host) => new Pymalloc(host, options).allocator`.
 */
export function pymallocFactory(options: PymallocOptions = {}): (host: SmallObjectHost) => PyMemAllocatorEx<Pymalloc> {
  return (host) => new Pymalloc(host, options).allocator;
}
