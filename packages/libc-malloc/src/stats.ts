/** One arena's line pair in `malloc_stats()`. */
export interface ArenaStats {
  /** `mallinfo.arena` of the arena: bytes obtained from the system. */
  system: number;
  /** `mallinfo.uordblks` of the arena: bytes in use. */
  inUse: number;
}

/**
 * The exact text glibc 2.36's `malloc_stats()` writes to stderr: `%10u` columns (values
 * truncated to `unsigned int`, as glibc casts them) and `%10lu` for the last line.
 *
 * ```
 * Arena 0:
 * system bytes     =     135168
 * in use bytes     =       1888
 * Total (incl. mmap):
 * system bytes     =     638976
 * in use bytes     =     505696
 * max mmap regions =          1
 * max mmap bytes   =     503808
 * ```
 */
export function formatMallocStats(arenas: readonly ArenaStats[], mmappedMem: number, maxNMmaps: number, maxMmappedMem: number): string {
  let text = "";
  let system = u32(mmappedMem);
  let inUse = system;
  arenas.forEach((arena, i) => {
    text += `Arena ${i}:\n`;
    text += `system bytes     = ${pad(u32(arena.system))}\n`;
    text += `in use bytes     = ${pad(u32(arena.inUse))}\n`;
    system = u32(system + arena.system);
    inUse = u32(inUse + arena.inUse);
  });
  text += "Total (incl. mmap):\n";
  text += `system bytes     = ${pad(system)}\n`;
  text += `in use bytes     = ${pad(inUse)}\n`;
  text += `max mmap regions = ${pad(u32(maxNMmaps))}\n`;
  text += `max mmap bytes   = ${pad(maxMmappedMem)}\n`;
  return text;
}

function u32(value: number): number {
  return ((value % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

function pad(value: number): string {
  return String(value).padStart(10, " ");
}

/** One `<size>` line of `malloc_info`: a fastbin or a bin that holds chunks. */
export interface InfoSizes {
  /** Smallest size (fastbins: chunk size - 15; bins: raw size field, flag bits included). */
  from: number;
  /** Largest size. */
  to: number;
  /** Sum of the sizes. */
  total: number;
  /** Number of chunks. */
  count: number;
}

/** What `malloc_info` reports about one arena. */
export interface InfoArena {
  /** Lines for fastbins 0..9 then bins 1..127 (index 10 is the unsorted bin). */
  sizes: InfoSizes[];
  /** Chunks in fastbins. */
  fastCount: number;
  /** Bytes in fastbins. */
  fastBytes: number;
  /** Chunks in bins plus the top chunk. */
  restCount: number;
  /** Bytes in bins plus the top chunk (bins counted by raw size field, as glibc does). */
  restBytes: number;
  /** system_mem. */
  system: number;
  /** max_system_mem. */
  maxSystem: number;
}

/**
 * The exact XML glibc 2.36's `malloc_info(0, fp)` writes, for the main arena:
 *
 * ```
 * <malloc version="1">
 * <heap nr="0">
 * <sizes>
 *   <size from="17" to="32" total="64" count="2"/>          fastbin: from = size - 15
 *   <unsorted from="1297" to="1297" total="1297" count="1"/>  bins: raw size fields
 * </sizes>
 * <total type="fast" count="2" size="64"/> ... </heap> <total ...> ... </malloc>
 * ```
 */
export function formatMallocInfo(arena: InfoArena, nMmaps: number, mmappedMem: number): string {
  return formatMallocInfoArenas([arena], nMmaps, mmappedMem);
}

/** One arena of {@link formatMallocInfoArenas}: its sizes and totals, and for a thread arena its heaps. */
export interface InfoArenaHeaps extends InfoArena {
  /** For a thread arena: the sums of its heaps' size and mprotect_size, and how many heaps it has. */
  heaps?: { size: number; mprotectSize: number; count: number };
}

/**
 * `malloc_info(0, fp)` over every arena (main_arena first, then the list): one `<heap nr>` each
 * (a thread arena's aspace is its heaps' sizes, with `subheaps`), then the totals.
 */
export function formatMallocInfoArenas(arenas: readonly InfoArenaHeaps[], nMmaps: number, mmappedMem: number): string {
  let text = '<malloc version="1">\n';
  let fastCount = 0;
  let fastBytes = 0;
  let restCount = 0;
  let restBytes = 0;
  let system = 0;
  let maxSystem = 0;
  let aspace = 0;
  let aspaceMprotect = 0;
  arenas.forEach((arena, nr) => {
    text += `<heap nr="${nr}">\n<sizes>\n`;
    arena.sizes.forEach((s, i) => {
      if (s.count !== 0 && i !== 10) text += `  <size from="${s.from}" to="${s.to}" total="${s.total}" count="${s.count}"/>\n`;
    });
    const unsorted = arena.sizes[10];
    if (unsorted !== undefined && unsorted.count !== 0) {
      text += `  <unsorted from="${unsorted.from}" to="${unsorted.to}" total="${unsorted.total}" count="${unsorted.count}"/>\n`;
    }
    text +=
      `</sizes>\n<total type="fast" count="${arena.fastCount}" size="${arena.fastBytes}"/>\n` +
      `<total type="rest" count="${arena.restCount}" size="${arena.restBytes}"/>\n` +
      `<system type="current" size="${arena.system}"/>\n<system type="max" size="${arena.maxSystem}"/>\n`;
    const heaps = arena.heaps;
    if (heaps !== undefined) {
      text += `<aspace type="total" size="${heaps.size}"/>\n<aspace type="mprotect" size="${heaps.mprotectSize}"/>\n<aspace type="subheaps" size="${heaps.count}"/>\n`;
      aspace += heaps.size;
      aspaceMprotect += heaps.mprotectSize;
    } else {
      text += `<aspace type="total" size="${arena.system}"/>\n<aspace type="mprotect" size="${arena.system}"/>\n`;
      aspace += arena.system;
      aspaceMprotect += arena.system;
    }
    text += "</heap>\n";
    fastCount += arena.fastCount;
    fastBytes += arena.fastBytes;
    restCount += arena.restCount;
    restBytes += arena.restBytes;
    system += arena.system;
    maxSystem += arena.maxSystem;
  });
  text +=
    `<total type="fast" count="${fastCount}" size="${fastBytes}"/>\n<total type="rest" count="${restCount}" size="${restBytes}"/>\n` +
    `<total type="mmap" count="${nMmaps}" size="${mmappedMem}"/>\n` +
    `<system type="current" size="${system}"/>\n<system type="max" size="${maxSystem}"/>\n` +
    `<aspace type="total" size="${aspace}"/>\n<aspace type="mprotect" size="${aspaceMprotect}"/>\n</malloc>\n`;
  return text;
}
