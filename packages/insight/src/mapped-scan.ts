import type { Memory } from "@mem/hardware";
import type { ResidentVma } from "@mem/os-vm";
import type { ResidentLedger } from "./ledger.js";

/** A chunk with a mapping of its own, found by {@link findMappedChunks}. */
export interface MappedChunk {
  /** Address of its header (the mapping's first byte). */
  readonly address: number;
  /** Its size: the mapping's length. */
  readonly size: number;
}

/**
 * Finds the chunks a C allocator mapped for themselves. Neither glibc nor the TLSF allocator
 * keeps a list of them (only counters), so the anonymous mappings are read page by page: a
 * resident page starting with `prev_size = 0` and a size field with the allocator's "mapped"
 * bit, a multiple of the page size that fits in the mapping, is such a chunk.
 *
 * ```
 *   anonymous VMA  [arena (skipped)][chunk: 0 | size|M ............][page no chunk claims]...
 * ```
 * `skip` lists ranges known to be someone else's (pymalloc arenas, the TLSF control block),
 * sorted by start. Only resident pages are read: inspecting faults nothing in.
 */
export function findMappedChunks(
  vmas: readonly ResidentVma[],
  memory: Memory,
  ledger: ResidentLedger,
  mappedBit: number,
  skip: readonly (readonly [number, number])[],
): MappedChunk[] {
  const out: MappedChunk[] = [];
  let k = 0;
  for (const vma of vmas) {
    if (vma.name !== undefined || vma.pages.length === 0) continue;
    let at = vma.start;
    while (at < vma.end) {
      while (k < skip.length && skip[k]![1] <= at) k++;
      const range = skip[k];
      if (range !== undefined && range[0] <= at) {
        at = range[1];
        continue;
      }
      // prev_size read as two words: any 64-bit value may sit there (load64 refuses those above 2^53)
      if (ledger.isResident(at) && memory.load32(at) === 0 && memory.load32(at + 4) === 0) {
        const low = memory.load32(at + 8);
        const field = low + memory.load32(at + 12) * 2 ** 32;
        const size = field - (low & 7);
        if ((low & mappedBit) !== 0 && size > 0 && size % 4096 === 0 && at + size <= vma.end) {
          out.push({ address: at, size });
          at += size;
          continue;
        }
      }
      at += 4096;
    }
  }
  return out;
}
