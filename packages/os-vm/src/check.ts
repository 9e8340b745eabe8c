import { PAGE_SIZE } from "./api.js";
import type { Kernel } from "./kernel.js";
import { PTE_PRESENT, PTE_PROTNONE, PTE_SPECIAL, PTE_SWAP, entryFrame } from "./page-table.js";
import type { Process } from "./process.js";

/**
 * Walks a kernel's structures and returns every broken invariant found (empty: sound):
 * the buddy free lists; for each process the VMA list (sorted, page aligned, not
 * overlapping), the page tables (every table page covers some VMA, VmPTE equals the tables
 * reachable, every entry with a frame lies inside a VMA) and RSS (equal to the frames mapped);
 * every frame's reference count (its mappings plus a shmem page cache); and that every frame
 * is either free, reserved, a page table, a mapped user page or a cached shmem page.
 */
export function checkKernel(kernel: Kernel, processes: readonly Process[]): string[] {
  try {
    return checkKernelUnguarded(kernel, processes);
  } catch (error) {
    // A corrupted structure led the walk where RAM cannot be read (an entry naming a frame
    // beyond RAM, a value above 2^53-1): that is a problem found, not a crash of the checker.
    const isFault = error instanceof RangeError || (error instanceof Error && (error.name === "BusError" || error.name === "SegmentationFault"));
    if (!isFault) throw error;
    return [`a kernel structure leads where RAM cannot be read: ${error.message.split("\n")[0]!}`];
  }
}

function checkKernelUnguarded(kernel: Kernel, processes: readonly Process[]): string[] {
  const problems = kernel.pages.check();
  const ram = kernel.ram;
  let tables = 0;
  const userFrames = new Map<number, number>();
  const swapRefs = new Map<number, number>();
  for (const proc of processes) {
    if (proc.hasExited) continue;
    const mm = proc.mm;
    const list = mm.vmas.list;
    for (let i = 0; i < list.length; i++) {
      const vma = list[i]!;
      if (vma.start % PAGE_SIZE !== 0 || vma.end % PAGE_SIZE !== 0 || vma.start >= vma.end) {
        problems.push(`pid ${proc.pid}: bad VMA ${vma.start.toString(16)}-${vma.end.toString(16)}`);
      }
      const next = list[i + 1];
      if (next !== undefined && next.start < vma.end) problems.push(`pid ${proc.pid}: VMAs overlap at ${next.start.toString(16)}`);
    }
    const counted = mm.pageTable.countTables();
    if (counted !== mm.pageTable.tablePages) problems.push(`pid ${proc.pid}: VmPTE counts ${mm.pageTable.tablePages} tables, ${counted} reachable`);
    tables += counted + 1;
    for (const span of mm.pageTable.pteTableSpans()) {
      if (!mm.vmas.intersects(span * PAGE_SIZE, (span + 512) * PAGE_SIZE)) {
        problems.push(`pid ${proc.pid}: a PTE page covers ${(span * PAGE_SIZE).toString(16)}+2MiB where nothing is mapped`);
      }
    }
    let resident = 0;
    let swapped = 0;
    mm.pageTable.forEachEntry(0, 2 ** 35, (slot, vpn) => {
      const low = ram.load32(slot);
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0) {
        if ((low & PTE_SWAP) !== 0 && kernel.swap !== undefined) {
          swapped++;
          const swapSlot = entryFrame(ram, slot, low);
          swapRefs.set(swapSlot, (swapRefs.get(swapSlot) ?? 0) + 1);
          if (mm.vmas.find(vpn * PAGE_SIZE) === undefined) problems.push(`pid ${proc.pid}: swap entry at ${(vpn * PAGE_SIZE).toString(16)} outside any VMA`);
          return;
        }
        problems.push(`pid ${proc.pid}: stray non-present entry for page ${(vpn * PAGE_SIZE).toString(16)}`);
        return;
      }
      if (mm.vmas.find(vpn * PAGE_SIZE) === undefined) problems.push(`pid ${proc.pid}: page ${(vpn * PAGE_SIZE).toString(16)} mapped outside any VMA`);
      if ((low & PTE_SPECIAL) !== 0) return;
      resident++;
      const pfn = entryFrame(ram, slot, low);
      userFrames.set(pfn, (userFrames.get(pfn) ?? 0) + 1);
    });
    if (resident !== mm.rss) problems.push(`pid ${proc.pid}: RSS ${mm.rss} pages but ${resident} frames mapped`);
    if (swapped !== mm.swapEntries) problems.push(`pid ${proc.pid}: VmSwap ${mm.swapEntries} pages but ${swapped} swap entries`);
  }
  if (kernel.swap !== undefined) {
    let used = 0;
    for (let slot = 1; slot <= kernel.swap.slots; slot++) {
      const usage = kernel.swap.usage(slot);
      if (usage > 0) used++;
      if (usage !== (swapRefs.get(slot) ?? 0)) problems.push(`swap slot ${slot}: usage ${usage} but ${swapRefs.get(slot) ?? 0} entries`);
    }
    if (used !== kernel.swap.slots - kernel.swap.freeSlots) problems.push(`swap: ${kernel.swap.freeSlots} free slots but ${used} in use`);
  }
  // the page caches of shmem files hold one reference on each of their frames
  const cached = new Set<number>();
  for (const file of kernel.shmemFiles) for (const pfn of file.shmem!.pages.values()) cached.add(pfn);
  for (const pfn of cached) if (!userFrames.has(pfn)) userFrames.set(pfn, 0);
  for (const [pfn, maps] of userFrames) {
    const expected = maps + (cached.has(pfn) ? 1 : 0);
    if (kernel.pages.count(pfn) !== expected) problems.push(`frame ${pfn.toString(16)}: count ${kernel.pages.count(pfn)} but ${expected} references`);
  }
  if (kernel.counters.shmemPages !== cached.size) problems.push(`Shmem counts ${kernel.counters.shmemPages} pages but ${cached.size} are cached`);
  const used = kernel.pages.totalPages - kernel.pages.freePages;
  const accounted = tables + userFrames.size + 1 + (kernel.swap?.mapPages ?? 0); // + the zero page and the swap map
  if (used !== accounted) problems.push(`${used} frames in use but ${accounted} accounted for (tables ${tables}, user ${userFrames.size}, zero page 1)`);
  return problems;
}
