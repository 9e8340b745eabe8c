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
