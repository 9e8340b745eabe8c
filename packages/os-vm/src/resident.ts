import { PAGE_SIZE } from "./api.js";
import { PG_SHMEM } from "./page-allocator.js";
import { PTE_PRESENT, PTE_PROTNONE, PTE_SOFT_DIRTY, PTE_SPECIAL, entryFrame } from "./page-table.js";
import type { Process } from "./process.js";
import { offersFrameViews } from "./virtual-memory.js";

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
  /**
   * Then clear every soft-dirty bit, as `echo 4 > /proc/PID/clear_refs` right after reading
   * pagemap would (nothing runs in between), in the same walk. Implies `softDirty`.
   */
  clearSoftDirty?: boolean;
}

/**
 * The pages behind a process's RssAnon, VMA by VMA: every page-table entry holding a frame
 * (present, or made PROT_NONE) that is not a shmem page (the shared zero page is not counted, as in
 * Linux). Read-only unless asked to clear the soft-dirty bits: walks the page tables in RAM
 * without faulting, allocating or setting accessed bits, so the sum of `pages.length` over the
 * result equals `process.mm.rssAnon`. Each PTE page is read through RAM's frame view when it
 * offers one (512 entries without a call each; the loads are added to RAM's traffic).
 *
 * ```
 *   VMA [start, end) ─► PTE pages in RAM ─► present, not special ─► frame not PG_SHMEM ─► counted
 *                                            └─ SD bit or VMA new since the clear ─► softDirty
 * ```
 */
export function residentAnonPages(process: Process, options: ResidentOptions = {}): ResidentVma[] {
  const mm = process.mm;
  const ram = mm.kernelPages.ram;
  const frames = offersFrameViews(ram) ? ram : undefined;
  const kernelPages = mm.kernelPages;
  const memory = mm.memory;
  const clear = options.clearSoftDirty === true;
  const wantDirty = clear || options.softDirty === true;
  const out: ResidentVma[] = [];
  if (clear) mm.softDirtyClears++;
  // without shmem pages every frame mapped here is anonymous: no need to read its flags
  const anyShmem = mm.rssShmem !== 0;
  for (const vma of mm.vmas.list) {
    const list: number[] = [];
    const dirty: number[] = [];
    // a VMA created or expanded since the last clear (VM_SOFTDIRTY): every page reads soft-dirty
    const all = vma.softClean !== true;
    mm.pageTable.forEachPteTable(vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, (table, base, from, to) => {
      const view = frames?.frameView(table, clear) ?? null;
      const at = table * PAGE_SIZE;
      if (frames !== undefined && view !== null) {
        frames.traffic.loads += to - from;
        frames.traffic.bytesMoved += 4 * (to - from);
      }
      for (let i = from; i < to; i++) {
        const low = view !== null ? view.getUint32(i * 8, true) : ram.load32(at + i * 8);
        if (low === 0) continue;
        if (clear && (low & PTE_SOFT_DIRTY) !== 0) {
          const cleared = (low & ~PTE_SOFT_DIRTY) >>> 0;
          if (view !== null) {
            view.setUint32(i * 8, cleared, true);
            frames!.traffic.stores++;
            frames!.traffic.bytesMoved += 4;
          } else ram.store32(at + i * 8, cleared);
          memory.writeProtect(base + i);
        }
        // present, or PROT_NONE (the frame is kept and still counted); the zero page is not
        if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 || (low & PTE_SPECIAL) !== 0) continue;
        if (anyShmem && (kernelPages.flags(entryFrame(ram, at + i * 8, low)) & PG_SHMEM) !== 0) continue;
        list.push(base + i);
        if (wantDirty && (all || (low & PTE_SOFT_DIRTY) !== 0)) dirty.push(base + i);
      }
    });
    if (clear) vma.softClean = true;
    const name = vmaName(process, vma);
    out.push(wantDirty ? { start: vma.start, end: vma.end, name, pages: list, softDirty: dirty } : { start: vma.start, end: vma.end, name, pages: list });
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
