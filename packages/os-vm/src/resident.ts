import { PAGE_SIZE } from "./api.js";
import { PG_SHMEM } from "./page-allocator.js";
import { PTE_PRESENT, PTE_PROTNONE, PTE_SOFT_DIRTY, PTE_SPECIAL, entryFrame } from "./page-table.js";
import type { Process } from "./process.js";

/** One VMA and its resident anonymous pages, as {@link residentAnonPages} reports them. */
export interface ResidentVma {
  /** First address of the VMA. */
  readonly start: number;
  /** End address (exclusive). */
  readonly end: number;
  /** The name /proc/PID/maps prints (`[heap]`, `[stack]`, a file's path), or undefined for an anonymous mapping. */
  readonly name: string | undefined;
  /** Page numbers (address / 4096) of the pages counted in RssAnon, ascending. */
  readonly pages: number[];
  /**
   * With `{ softDirty: true }`: those of `pages` that are soft-dirty (pagemap bit 55: written
   * since the last `clear_refs` 4, or the VMA is new since), ascending.
   */
  readonly softDirty?: number[];
}

/** Options of {@link residentAnonPages}. */
export interface ResidentOptions {
  /** Also list the soft-dirty pages ({@link ResidentVma.softDirty}), in the same walk. */
  softDirty?: boolean;
}

/**
 * The pages behind a process's RssAnon, VMA by VMA: every page-table entry holding a frame
 * (present, or made PROT_NONE) that is not a shmem page ( the shared zero page is not counted, as in
 * Linux). Read-only: walks the page tables in RAM without faulting, allocating or setting
 * accessed bits, so the sum of `pages.length` over the result equals `process.mm.rssAnon`.
 *
 * ```
 *   VMA [start, end) ─► PTEs in RAM ─► present, not special ─► frame not PG_SHMEM ─► counted
 * ```
 */
export function residentAnonPages(process: Process, options: ResidentOptions = {}): ResidentVma[] {
  const mm = process.mm;
  const ram = mm.kernelPages.ram;
  const pages = mm.kernelPages;
  const out: ResidentVma[] = [];
  // without shmem pages every frame mapped here is anonymous: no need to read its flags
  const anyShmem = mm.rssShmem !== 0;
  for (const vma of mm.vmas.list) {
    const list: number[] = [];
    const name = vmaName(process, vma);
    if (options.softDirty !== true) {
      mm.pageTable.forEachEntry(vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, (slot, vpn) => {
        const low = ram.load32(slot);
        // present, or PROT_NONE (the frame is kept and still counted); the zero page is not
        if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 || (low & PTE_SPECIAL) !== 0) return;
        if (!anyShmem || (pages.flags(entryFrame(ram, slot, low)) & PG_SHMEM) === 0) list.push(vpn);
      });
      out.push({ start: vma.start, end: vma.end, name, pages: list });
      continue;
    }
    const dirty: number[] = [];
    // a VMA created or expanded since the last clear (VM_SOFTDIRTY): every page reads soft-dirty
    const all = vma.softClean !== true;
    mm.pageTable.forEachEntry(vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, (slot, vpn) => {
      const low = ram.load32(slot);
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 || (low & PTE_SPECIAL) !== 0) return;
      if (anyShmem && (pages.flags(entryFrame(ram, slot, low)) & PG_SHMEM) !== 0) return;
      list.push(vpn);
      if (all || (low & PTE_SOFT_DIRTY) !== 0) dirty.push(vpn);
    });
    out.push({ start: vma.start, end: vma.end, name, pages: list, softDirty: dirty });
  }
  return out;
}

/** The maps name of `vma` (file, special mapping, `[heap]`, `[stack]`), as formatMaps prints it. */
function vmaName(process: Process, vma: Process["mm"]["vmas"]["list"][number]): string | undefined {
  if (vma.file !== undefined) return vma.file.name;
  if (vma.special !== undefined) return vma.special;
  if (vma.start < process.programBreak && vma.end > process.startBrk) return "[heap]";
  if (vma.start <= process.startStack && vma.end >= process.startStack) return "[stack]";
  return undefined;
}
