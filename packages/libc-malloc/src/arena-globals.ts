/**
 * Where glibc keeps the statics of `malloc/arena.c` that tie the arenas together: `narenas`
 * (in libc's `.data`, initially 1), `next_to_use` (reused_arena's round robin),
 * `narenas_limit` (arena_get2's limit, computed once), `aligned_heap_area` (new_heap's hint),
 * `list_lock`, `free_list` (arenas whose threads all exited, linked by `next_free`) and
 * `free_list_lock` (in `.bss`). The model keeps them as bytes of the simulated process, so an
 * inspection of its memory (or a debugger-like reader) sees what glibc's would hold.
 *
 * Offsets from `main_arena` in Debian 12's libc.so.6 2.36 (libc6-dbg 2.36-9+deb12u14,
 * `nm` of the debug file; main_arena at 0x1d3c60):
 *
 * ```
 * 0x1d3328 narenas            size_t   main_arena - 0x938   (.data, = 1)
 * 0x1d3c60 main_arena         struct malloc_state, 0x898 bytes
 * 0x1da468 next_to_use.5      mstate   main_arena + 0x6808  (.bss, from here on 0)
 * 0x1da470 narenas_limit.2    size_t   main_arena + 0x6810
 * 0x1da480 aligned_heap_area  char *   main_arena + 0x6820
 * 0x1da48c list_lock          int      main_arena + 0x682c
 * 0x1da490 free_list          mstate   main_arena + 0x6830
 * 0x1da498 free_list_lock     int      main_arena + 0x6838
 * ```
 *
 * These real addresses are used with the option `arenaStatics: "libc"` (and a libc image). By
 * default, and whenever main_arena is not in a libc image (the allocator's own page, or
 * `stateAddress`), the same statics follow main_arena, in libc's order, from main_arena + 0x8a0
 * ({@link OWN_PAGE_GLOBALS}): on the pages main_arena's own bytes already make resident, so
 * adding them changed no run's RSS (the real .bss page would be one more resident page, which
 * the RSS accounting of the tiers above does not name yet).
 * `arena_mem` no longer exists in 2.36 (no symbol in the debug file). The per-thread
 * `thread_arena`, `tcache` and `tcache_shutting_down` are TLS variables and stay JS fields.
 */

/** Offsets of the arena statics from main_arena's address. */
export interface ArenaGlobalsLayout {
  /** `narenas` (size_t): arenas in existence, main_arena included. */
  readonly narenas: number;
  /** `next_to_use` (mstate): the arena `reused_arena` tries next. */
  readonly nextToUse: number;
  /** `narenas_limit` (size_t): 0 until arena_get2 first computes it. */
  readonly narenasLimit: number;
  /** `aligned_heap_area` (char *): where new_heap tries its next 64 MiB heap first. */
  readonly alignedHeapArea: number;
  /** `list_lock` (int): always 0 between calls (calls are serialised). */
  readonly listLock: number;
  /** `free_list` (mstate): the first arena of the free list. */
  readonly freeList: number;
  /** `free_list_lock` (int): always 0 between calls. */
  readonly freeListLock: number;
}

/** The statics as glibc 2.36's libc.so.6 places them around main_arena (see above). */
export const LIBC_236_GLOBALS: ArenaGlobalsLayout = {
  narenas: -0x938,
  nextToUse: 0x6808,
  narenasLimit: 0x6810,
  alignedHeapArea: 0x6820,
  listLock: 0x682c,
  freeList: 0x6830,
  freeListLock: 0x6838,
};

/** The statics right after main_arena in its own page (or `stateAddress`), same order as in libc. */
export const OWN_PAGE_GLOBALS: ArenaGlobalsLayout = {
  narenas: 0x8a0,
  nextToUse: 0x8a8,
  narenasLimit: 0x8b0,
  alignedHeapArea: 0x8b8,
  listLock: 0x8c0,
  freeList: 0x8c8,
  freeListLock: 0x8d0,
};

/** Bytes from main_arena that a `stateAddress` region must hold: main_arena and the statics after it. */
export const OWN_PAGE_STATE_BYTES = 0x8d8;

/** The absolute addresses of the arena statics of one process. */
export type ArenaGlobals = ArenaGlobalsLayout;

/** The statics' addresses for main_arena at `mainArena` laid out as `layout`. */
export function arenaGlobalsAt(mainArena: number, layout: ArenaGlobalsLayout): ArenaGlobals {
  return {
    narenas: mainArena + layout.narenas,
    nextToUse: mainArena + layout.nextToUse,
    narenasLimit: mainArena + layout.narenasLimit,
    alignedHeapArea: mainArena + layout.alignedHeapArea,
    listLock: mainArena + layout.listLock,
    freeList: mainArena + layout.freeList,
    freeListLock: mainArena + layout.freeListLock,
  };
}
