import type { Memory } from "@mem/hardware";
import type { ProcessSpace } from "@mem/os-vm";
import type { GlibcMallocOptions } from "./api.js";
import {
  AV_ATTACHED_THREADS,
  AV_BINMAP,
  AV_FLAGS,
  AV_HAVE_FASTCHUNKS,
  AV_LAST_REMAINDER,
  AV_MAX_SYSTEM_MEM,
  AV_NEXT,
  AV_SYSTEM_MEM,
  AV_TOP,
  BK,
  BK_NEXTSIZE,
  FD,
  FD_NEXTSIZE,
  MALLOC_STATE_SIZE,
  MALLOC_STATE_WITH_FASTBINS,
  NONCONTIGUOUS_BIT,
  TCACHE_ENTRIES,
  type MallocStateLayout,
} from "./arena-layout.js";
import {
  CHUNK_HDR_SZ,
  DEFAULT_MMAP_MAX,
  DEFAULT_MMAP_THRESHOLD,
  DEFAULT_MXFAST,
  DEFAULT_TOP_PAD,
  DEFAULT_TRIM_THRESHOLD,
  MALLOC_ALIGNMENT,
  MAX_FAST_SIZE,
  MAX_TCACHE_COUNT,
  MAX_TCACHE_SIZE,
  MINSIZE,
  NBINS,
  NON_MAIN_ARENA,
  PAGE,
  PREV_INUSE,
  SIZE_SZ,
  TCACHE_FILL_COUNT,
  TCACHE_MAX_BINS,
  TCACHE_STRUCT_SIZE,
  TWO_32,
  TWO_64,
  checkedRequest2size,
  csize2tidx,
  hex,
  pageUp,
  xor64,
} from "./constants.js";
import { MallocAbort } from "./errors.js";
import { type GlibcHeapView } from "./heap-check.js";

import { MAP_PRIVATE_ANONYMOUS, PROT_RW } from "./constants.js";
import { mainArenaOf } from "./main-arena.js";
import { LIBC_236_GLOBALS, OWN_PAGE_GLOBALS, arenaGlobalsAt, type ArenaGlobals } from "./arena-globals.js";

/**
 * The state glibc keeps for the main arena and the `mp_` parameters, and the primitives
 * every part of the allocator shares: memory words, safe-linking, the tcache (read from memory), write-through
 * setters of `main_arena`'s fields. The algorithm builds on it in layers:
 * {@link BinAllocator} (`_int_malloc`, `_int_free`, consolidation), {@link SystemMemory}
 * (`sysmalloc`, `systrim`, mmapped chunks) and {@link GlibcMalloc} (the C API).
 */
export abstract class ArenaState {
  /** The process whose memory this allocator manages. */
  readonly process: ProcessSpace;
  /** Address of `main_arena` (`struct malloc_state`). */
  readonly mainArena: number;
  /**
   * The arena being worked on (`av`): main_arena, except inside a call that a thread serves
   * from an arena of its own (then restored to main_arena before the call returns).
   */
  protected av: number;
  /** NON_MAIN_ARENA when {@link av} is not main_arena, else 0: or'ed into the chunks it hands out. */
  protected nma = 0;

  /** Address of `main_arena` (between calls; inside the allocator, the arena being worked on). */
  get arena(): number {
    return this.av;
  }
  protected readonly m: Memory;

  // ---- mp_ and other libc statics -------------------------------------------------------
  protected initialised = false;
  protected trimThreshold = DEFAULT_TRIM_THRESHOLD;
  protected topPad = DEFAULT_TOP_PAD;
  protected mmapThreshold = DEFAULT_MMAP_THRESHOLD;
  protected nMmapsMax = DEFAULT_MMAP_MAX;
  protected noDynThreshold = false;
  protected nMmaps = 0;
  protected maxNMmaps = 0;
  protected mmappedMem = 0;
  protected maxMmappedMem = 0;
  protected sbrkBase = 0;
  protected tcacheBins = TCACHE_MAX_BINS;
  protected tcacheCount = TCACHE_FILL_COUNT;
  protected tcacheUnsortedLimit = 0;
  protected perturbByte = 0;
  protected globalMaxFast = 0;
  protected arenaTest = 8;
  protected arenaMax = 0;
  protected readonly key: number;
  /** The tcache_perthread_struct (user address), 0 until created. */
  protected tcache = 0;

  // ---- main_arena's fields, read from main_arena in memory ----------------------------
  // (A program, or a trace's `w` line, that writes into main_arena is seen, as with glibc.)

  /** `av->top`. */
  protected get top(): number {
    return this.rd(this.arena + AV_TOP - this.fieldShift);
  }

  /** `av->last_remainder`. */
  protected get lastRemainder(): number {
    return this.rd(this.arena + AV_LAST_REMAINDER - this.fieldShift);
  }

  /** `av->system_mem`. */
  protected get systemMem(): number {
    return this.rd(this.arena + AV_SYSTEM_MEM - this.fieldShift);
  }

  /** `av->max_system_mem`. */
  protected get maxSystemMem(): number {
    return this.rd(this.arena + AV_MAX_SYSTEM_MEM - this.fieldShift);
  }

  /** `av->have_fastchunks`. */
  protected get haveFastchunks(): boolean {
    return this.fieldShift === 0 && this.m.load32(this.arena + AV_HAVE_FASTCHUNKS) !== 0;
  }

  /** `contiguous(av)` negated: the NONCONTIGUOUS_BIT of `av->flags`. */
  protected get noncontiguous(): boolean {
    return (this.m.load32(this.arena + AV_FLAGS) & NONCONTIGUOUS_BIT) !== 0;
  }

  /** `av->binmap[block]`. */
  protected binmapWord(block: number): number {
    return this.m.load32(this.arena + AV_BINMAP - this.fieldShift + 4 * block);
  }
  /** Starts of the heap's regions (more than one only after brk failed); for the walker. */
  protected readonly regions: number[] = [];

  protected errnoValue = 0;
  protected readonly initialBrk: number;

  /**
   * Creates the C library's allocator for `process`. Like libc being loaded, this reserves
   * room for `main_arena` (one anonymous page unless `options.stateAddress` is given) but
   * touches neither the heap nor the tcache until the first call.
   */
  constructor(process: ProcessSpace, options: GlibcMallocOptions = {}) {
    this.process = process;
    this.m = process.memory;
    const given = options.stateAddress;
    if (given !== undefined && !(Number.isSafeInteger(given) && given > 0 && given % 16 === 0)) {
      throw new RangeError(`libc-malloc: stateAddress must be a 16-byte aligned address, got ${String(given)}`);
    }
    const statics: unknown = options.arenaStatics;
    if (!(statics === undefined || statics === "compact" || statics === "libc")) {
      throw new RangeError(`libc-malloc: arenaStatics must be "compact" or "libc", got ${typeof statics === "string" ? JSON.stringify(statics) : typeof statics}`);
    }
    const inLibc = given === undefined ? mainArenaOf(process) : undefined;
    if (statics === "libc" && inLibc === undefined) {
      throw new RangeError(`libc-malloc: arenaStatics "libc" places arena.c's statics in libc's image, but ${given === undefined ? "the process maps no libc image" : "stateAddress puts main_arena outside it"}`);
    }
    this.mainArena = given ?? inLibc ?? process.mmap(0, pageUp(MALLOC_STATE_SIZE), PROT_RW, MAP_PRIVATE_ANONYMOUS);
    this.globals = arenaGlobalsAt(this.mainArena, inLibc !== undefined && options.arenaStatics === "libc" ? LIBC_236_GLOBALS : OWN_PAGE_GLOBALS);
    this.av = this.mainArena;
    this.stateLayout = this.mallocStateLayout();
    this.fieldShift = this.stateLayout.fieldShift;
    this.initialBrk = process.brk(0);
    this.key = options.tcacheKey ?? Math.floor(Math.random() * 2 ** 53);
    if (options.tcacheCount !== undefined && options.tcacheCount <= MAX_TCACHE_COUNT) this.tcacheCount = options.tcacheCount;
    if (options.tcacheMax !== undefined && options.tcacheMax <= MAX_TCACHE_SIZE) {
      this.tcacheBins = csize2tidx(checkedRequest2size(options.tcacheMax)) + 1;
    }
    if (options.tcacheUnsortedLimit !== undefined) this.tcacheUnsortedLimit = options.tcacheUnsortedLimit;
    this.pendingMxfast = options.mxfast !== undefined && options.mxfast <= MAX_FAST_SIZE ? options.mxfast : DEFAULT_MXFAST;
    if (options.topPad !== undefined) this.setParam("topPad", options.topPad);
    if (options.mmapThreshold !== undefined) this.setParam("mmapThreshold", options.mmapThreshold);
    if (options.trimThreshold !== undefined) this.setParam("trimThreshold", options.trimThreshold);
    if (options.mmapMax !== undefined) this.setParam("mmapMax", options.mmapMax);
    if (options.perturb !== undefined) this.perturbByte = options.perturb & 0xff;
  }
  protected readonly pendingMxfast: number;
  /** Addresses of arena.c's statics (`narenas`, `free_list`, ...) in the process's memory (./arena-globals.ts). */
  protected readonly globals: ArenaGlobals;
  /** This release's `struct malloc_state` (size, and where its fields from `top` on sit). */
  protected readonly stateLayout: MallocStateLayout;
  /** `stateLayout.fieldShift`, kept in a field of its own for the hot paths: subtract it from `AV_TOP` and later offsets. */
  protected readonly fieldShift: number;

  /**
   * The release's `struct malloc_state` layout: 0x898 bytes with fastbins (2.36 to 2.42).
   * Called by the constructor, so an override must not read instance fields.
   */
  protected mallocStateLayout(): MallocStateLayout {
    return MALLOC_STATE_WITH_FASTBINS;
  }

  /** The start of the main arena's heap: the first address sbrk returned (before that, the current break). */
  get heapStart(): number {
    return this.sbrkBase !== 0 ? this.sbrkBase : this.initialBrk;
  }

  /** The C `errno` as the last failing call left it. */
  get errno(): number {
    return this.errnoValue;
  }

  /** Sets `errno`, as a C program may (`errno = 0`). */
  set errno(value: number) {
    this.errnoValue = value;
  }

  /** The `tcache_key` stored in freed tcache entries. */
  get tcacheKey(): number {
    return this.key;
  }

  // =====================================================================================
  // Initialisation
  // =====================================================================================

  protected ptmallocInit(): void {
    this.initialised = true;
    const m = this.m;
    for (let i = 1; i < NBINS; i++) {
      const bin = this.binAt(i);
      m.store64(bin + FD, bin);
      m.store64(bin + BK, bin);
    }
    m.store32(this.arena + AV_FLAGS, 0);
    m.store64(this.arena + AV_NEXT - this.fieldShift, this.arena);
    m.store64(this.arena + AV_ATTACHED_THREADS - this.fieldShift, 1);
    // `narenas = 1` is libc's .data initialiser: written here, with main_arena's own (same page)
    m.store64(this.globals.narenas, 1);
    this.setMaxFast(this.pendingMxfast);
    this.setHaveFastchunks(false);
    this.setTop(this.arena + AV_TOP - this.fieldShift);
  }

  protected tcacheInit(): void {
    const victim = this.intMalloc(checkedRequest2size(TCACHE_STRUCT_SIZE), TCACHE_STRUCT_SIZE);
    if (victim === 0) return;
    this.tcache = victim;
    this.m.fill(victim, TCACHE_STRUCT_SIZE, 0);
  }

  protected setParam(name: "topPad" | "mmapThreshold" | "trimThreshold" | "mmapMax", value: number): void {
    if (name === "mmapMax") this.nMmapsMax = value;
    else this[name] = value;
    this.noDynThreshold = true;
  }

  protected setMaxFast(value: number): void {
    this.globalMaxFast = value <= MALLOC_ALIGNMENT - 1 - SIZE_SZ ? MINSIZE / 2 : (value + SIZE_SZ) & ~15;
  }

  // =====================================================================================
  // tcache
  // =====================================================================================

  /** `tcache->counts[tidx]`, read from the struct in memory (a program may have written it). */
  protected tcCount(tidx: number): number {
    return this.m.load16(this.tcache + 2 * tidx);
  }

  /** `tcache->entries[tidx]`, read from the struct in memory. */
  protected tcHead(tidx: number): number {
    return this.rd(this.tcache + TCACHE_ENTRIES + 8 * tidx);
  }

  protected tcacheGet(tidx: number): number {
    const m = this.m;
    const e = this.tcHead(tidx);
    if ((e & 15) !== 0) this.abort("malloc(): unaligned tcache chunk detected", "malloc", e);
    this.wr(this.tcache + TCACHE_ENTRIES + 8 * tidx, this.reveal(e));
    m.store16(this.tcache + 2 * tidx, (this.tcCount(tidx) - 1) & 0xffff);
    m.store64(e + 8, 0);
    return e;
  }

  protected tcachePut(chunk: number, tidx: number): void {
    const m = this.m;
    const e = chunk + CHUNK_HDR_SZ;
    m.store64(e + 8, this.key);
    this.wr(e, xor64(Math.floor(e / PAGE), this.tcHead(tidx)));
    m.store64(this.tcache + TCACHE_ENTRIES + 8 * tidx, e);
    m.store16(this.tcache + 2 * tidx, (this.tcCount(tidx) + 1) & 0xffff);
  }

  // =====================================================================================
  // Small helpers: memory words, flags, state write-through
  // =====================================================================================

  /** A 64-bit word as a number (exact below 2^53; a larger value is approximate, never a throw). */
  protected rd(address: number): number {
    try {
      return this.m.load64(address);
    } catch (error) {
      if (error instanceof RangeError) return this.m.load32(address) + this.m.load32(address + 4) * TWO_32;
      throw error;
    }
  }

  /** Stores a 64-bit word (values above 2^53 are stored as their approximation). */
  protected wr(address: number, value: number): void {
    if (value <= Number.MAX_SAFE_INTEGER) {
      this.m.store64(address, value);
    } else {
      this.m.store32(address, value % TWO_32 >>> 0);
      this.m.store32(address + 4, Math.floor(value / TWO_32) % TWO_32 >>> 0);
    }
  }

  /**
   * The raw size field of the chunk at `p`. A field of 2^53 or more is approximate as a
   * number and has lost its flag bits: test flags with {@link flagsOf}, never `field & bit`.
   */
  protected sizeField(p: number): number {
    return this.rd(p + 8);
  }

  /**
   * The flag bits (PREV_INUSE, IS_MMAPPED, NON_MAIN_ARENA) of `field`, the size field read at
   * chunk `p`. Below 2^53 they are the number's low bits; above, the number lost them, and they
   * are read from the field's low word, separately from its high word.
   */
  protected flagsOf(field: number, p: number): number {
    return field <= Number.MAX_SAFE_INTEGER ? field & 7 : this.m.load32(p + 8) & 7;
  }

  /** The flag bits of the chunk at `p`'s size field, exact for any value (one 32-bit load). */
  protected flagsAt(p: number): number {
    return this.m.load32(p + 8) & 7;
  }

  /** REVEAL_PTR: the safe-linked pointer stored at `position`. */
  protected reveal(position: number): number {
    return xor64(Math.floor(position / PAGE), this.rd(position));
  }

  protected setInuseBitAt(chunk: number): void {
    const low = this.m.load32(chunk + 8);
    this.m.store32(chunk + 8, (low | PREV_INUSE) >>> 0);
  }

  protected clearNextsize(p: number): void {
    this.m.store64(p + FD_NEXTSIZE, 0);
    this.m.store64(p + BK_NEXTSIZE, 0);
  }

  protected binAt(i: number): number {
    return this.arena + AV_TOP - this.fieldShift + 16 * (i - 1);
  }

  protected markBin(i: number): void {
    const block = i >>> 5;
    this.setBinmapWord(block, (this.binmapWord(block) | (1 << (i & 31))) >>> 0);
  }

  protected setBinmapWord(block: number, value: number): void {
    this.m.store32(this.arena + AV_BINMAP - this.fieldShift + 4 * block, value);
  }

  protected setTop(value: number): void {
    this.m.store64(this.arena + AV_TOP - this.fieldShift, value);
  }

  protected setLastRemainder(value: number): void {
    this.m.store64(this.arena + AV_LAST_REMAINDER - this.fieldShift, value);
  }

  protected setSystemMem(value: number): void {
    this.m.store64(this.arena + AV_SYSTEM_MEM - this.fieldShift, value);
  }

  protected setMaxSystemMem(value: number): void {
    this.m.store64(this.arena + AV_MAX_SYSTEM_MEM - this.fieldShift, value);
  }

  protected setHaveFastchunks(value: boolean): void {
    if (this.fieldShift === 0) this.m.store32(this.arena + AV_HAVE_FASTCHUNKS, value ? 1 : 0);
  }

  protected setNoncontiguous(): void {
    this.m.store32(this.arena + AV_FLAGS, this.m.load32(this.arena + AV_FLAGS) | NONCONTIGUOUS_BIT);
  }

  protected allocPerturb(mem: number, bytes: number): number {
    if (this.perturbByte !== 0) this.m.fill(mem, bytes, this.perturbByte ^ 0xff);
    return mem;
  }

  protected freePerturb(mem: number, length: number): void {
    if (this.perturbByte !== 0) this.m.fill(mem, length, this.perturbByte);
  }

  protected fail(errno: number): number {
    this.errnoValue = errno;
    return 0;
  }

  protected abort(message: string, call: string, address: number): never {
    throw new MallocAbort(message, call, address);
  }

  /** A chunk claiming the NON_MAIN_ARENA bit: glibc would read a heap_info this process never made. */
  protected checkMainArena(p: number, field: number, call: string): void {
    if ((this.flagsOf(field, p) & NON_MAIN_ARENA) === 0) return;
    const heapInfo = p - (p % (64 * 1024 * 1024));
    const arena = this.rd(heapInfo);
    if (arena !== this.arena) {
      throw new MallocAbort(
        `${call}(): chunk ${hex(p)} claims a non-main arena (A bit) whose heap_info at ${hex(heapInfo)} names ${hex(arena)}`,
        call,
        p
      );
    }
  }

  protected view(): GlibcHeapView {
    return {
      memory: this.m,
      arena: this.arena,
      regions: this.regions,
      top: this.top,
      brk: this.process.brk(0),
      noncontiguous: this.noncontiguous,
      systemMem: this.systemMem,
      binmap: Uint32Array.from({ length: 4 }, (_, block) => this.binmapWord(block)),
      tcache: this.tcache,
      tcacheCount: this.tcacheCount,
      tcacheKey: this.tcacheKey,
      globalMaxFast: this.globalMaxFast,
      haveFastchunks: this.haveFastchunks,
      ...(this.fieldShift !== 0 ? { stateFieldShift: this.fieldShift } : {}),
      initialised: this.initialised,
    };
  }

  /** `_int_malloc(av, bytes)` for a chunk of `nb` bytes. */
  protected abstract intMalloc(nb: number, bytes: number): number;
  /** `_int_free(av, p, have_lock)`. */
  protected abstract intFree(p: number, field: number, haveLock: boolean): void;
  /** `sysmalloc(nb, av)`. */
  protected abstract sysmalloc(nb: number): number;
  /** `systrim(pad, av)`. */
  protected abstract systrim(pad: number): number;
  /** `heap_trim(heap_for_ptr(top(av)), mp_.top_pad)`: _int_free's trim of a non-main arena. */
  protected abstract heapTrimTop(): void;
  /** Sets the NON_MAIN_ARENA bit of the chunk at `p` (`set_non_main_arena`). */
  protected setNonMainArena(p: number): void {
    this.m.store32(p + 8, (this.m.load32(p + 8) | NON_MAIN_ARENA) >>> 0);
  }
  /** `munmap_chunk(p)`. */
  protected abstract munmapChunk(p: number, call: string): void;
}

/** size_t wrap-around of a difference that C computes unsigned. */
export function wrap64(value: number): number {
  return value < 0 ? TWO_64 + value : value;
}

/** `chunksize`: the size field without its three flag bits. */
export function chunkSize(field: number): number {
  return field < TWO_32 ? (field & ~7) >>> 0 : field - (field & 7);
}

/** `(uintptr_t) p > (uintptr_t) -size`: the chunk would wrap past the end of the address space (size 0 included). */
export function wrapsAround(p: number, size: number): boolean {
  return size === 0 ? p > 0 : p > TWO_64 - size;
}

/** Whether `value` is a power of two. */
export function isPowerOfTwo(value: number): boolean {
  return value > 0 && Number.isInteger(Math.log2(value)) && 2 ** Math.log2(value) === value;
}
