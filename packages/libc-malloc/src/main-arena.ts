import type { ImageMapping, ProcessSpace } from "@mem/os-vm";
import { MALLOC_STATE_SIZE } from "./arena-layout.js";

/**
 * Where glibc 2.36 (Debian 12, x86-64) keeps `main_arena`: this offset of libc.so.6, inside its
 * writable data segment (recorded: test/fixtures/main-arena.c leaks it through the unsorted
 * bin, 0x7ffff7fa8c60 with libc's data mapped at 0x7ffff7fa8000 from file offset 0x1d3000).
 */
export const MAIN_ARENA_LIBC_OFFSET = 0x1d3c60;

/**
 * The address of `main_arena` in a process whose image maps libc.so.6's data segment, or
 * undefined when it maps none (then the allocator maps a page of its own for it).
 */
export function mainArenaAddress(mappings: readonly ImageMapping[]): number | undefined {
  for (const mapping of mappings) {
    if (mapping.name?.endsWith("/libc.so.6") !== true || !mapping.perms.startsWith("rw") || mapping.offset === undefined) continue;
    const address = mapping.start + (MAIN_ARENA_LIBC_OFFSET - mapping.offset);
    if (address >= mapping.start && address + MALLOC_STATE_SIZE <= mapping.end) return address;
  }
  return undefined;
}

/** `mainArenaAddress` of the process's image, when the process tells its image (an os-vm `Process` does). */
export function mainArenaOf(process: ProcessSpace): number | undefined {
  const image = (process as Partial<{ image: { mappings: readonly ImageMapping[] } }>).image;
  return image === undefined ? undefined : mainArenaAddress(image.mappings);
}
