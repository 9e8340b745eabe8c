import { HPAGE_PMD_SIZE, PAGE_SIZE } from "./api.js";
import { hex8, kbLine, statusLine } from "./format.js";
import { PG_ANON, PG_LAZYFREE, PG_SHMEM } from "./page-allocator.js";
import { PTE_ACCESSED, PTE_DIRTY, PTE_PRESENT, PTE_PROTNONE, PTE_SPECIAL, PTE_SWAP, entryFrame } from "./page-table.js";
import type { Process } from "./process.js";
import { VM_EXEC, VM_GROWSDOWN, VM_HUGEPAGE, VM_NOHUGEPAGE, VM_SHARED, VM_STACK, VM_WRITE, permsOf, type Vma } from "./vma.js";

/**
 * /proc/PID/maps: one line per VMA, as `show_map_vma` prints it.
 *
 * ```
 * 555555559000-55555557a000 rw-p 00000000 00:00 0                          [heap]
 * └─ start ──┘ └─ end ────┘ perm └offset┘ dev   inode└ pad to column 73 ┘ name
 * ```
 * Unnamed lines end with the inode and one space. The kernel's `[vsyscall]` page is printed
 * last, as Linux does for every x86-64 process.
 */
export function formatMaps(process: Process): string {
  let out = "";
  for (const vma of process.mm.vmas.list) out += mapsLine(vma, nameOf(process, vma));
  out += "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
  return out;
}

/** One maps line. */
function mapsLine(vma: Vma, name: string | undefined): string {
  const offset = vma.file === undefined ? 0 : vma.pgoff * PAGE_SIZE;
  const device = vma.file?.device ?? "00:00";
  const inode = vma.file?.inode ?? 0;
  const head = `${hex8(vma.start)}-${hex8(vma.end)} ${permsOf(vma)} ${hex8(offset)} ${device} ${inode} `;
  if (name === undefined) return `${head}\n`;
  return `${head.padEnd(72)} ${name}\n`;
}

/** The name column: file, special mapping, `[heap]` or `[stack]`. */
function nameOf(process: Process, vma: Vma): string | undefined {
  if (vma.file !== undefined) return vma.file.name;
  if (vma.special !== undefined) return vma.special;
  // vma_is_initial_heap (strict comparisons: no [heap] until the break has moved)
  if (vma.start < process.programBreak && vma.end > process.startBrk) return "[heap]";
  if (vma.start <= process.startStack && vma.end >= process.startStack) return "[stack]";
  return undefined;
}

/** Sizes in pages that status and statm share. */
function sizes(process: Process): { total: number; data: number; stack: number; execAll: number; execMain: number } {
  let total = 0;
  let data = 0;
  let stack = 0;
  let execAll = 0;
  let execMain = 0;
  for (const vma of process.mm.vmas.list) {
    const pages = (vma.end - vma.start) / PAGE_SIZE;
    total += pages;
    if ((vma.flags & (VM_WRITE | VM_SHARED | VM_STACK)) === VM_WRITE) data += pages;
    if ((vma.flags & VM_GROWSDOWN) !== 0) stack += pages;
    if ((vma.flags & (VM_EXEC | VM_WRITE | VM_STACK)) === VM_EXEC) {
      execAll += pages;
      if (vma.file?.executable === true) execMain += pages;
    }
  }
  return { total, data, stack, execAll, execMain };
}

/**
 * /proc/PID/statm, as `task_statm` prints it: `size resident shared text lib data dt` in
 * pages (lib and dt are always 0; shared counts shmem pages, as no file page is resident).
 */
export function formatStatm(process: Process): string {
  const { total, data, stack, execMain } = sizes(process);
  const mm = process.mm;
  return `${total} ${mm.rss} ${mm.rssShmem} ${execMain} 0 ${data + stack} 0\n`;
}

/**
 * The memory lines of /proc/PID/status, as `task_mem` prints them (`Name:\t%8lu kB`).
 *
 * VmData counts private writable non-stack mappings, VmStk grows-down ones, VmExe and VmLib
 * split the executable mappings between the main program and the rest (the vDSO included),
 * VmPTE the page-table pages below the PGD. RssFile is 0: image files are not resident here.
 */
export function formatStatus(process: Process): string {
  const mm = process.mm;
  const { total, data, stack, execAll, execMain } = sizes(process);
  const kb = (pages: number): number => pages * (PAGE_SIZE / 1024);
  const rss = mm.rss;
  return (
    statusLine("VmPeak", kb(Math.max(mm.hiwaterVm, total))) +
    statusLine("VmSize", kb(total)) +
    statusLine("VmLck", 0) +
    statusLine("VmPin", 0) +
    statusLine("VmHWM", kb(Math.max(mm.hiwaterRss, rss))) +
    statusLine("VmRSS", kb(rss)) +
    statusLine("RssAnon", kb(mm.rssAnon)) +
    statusLine("RssFile", 0) +
    statusLine("RssShmem", kb(mm.rssShmem)) +
    statusLine("VmData", kb(data)) +
    statusLine("VmStk", kb(stack)) +
    statusLine("VmExe", kb(execMain)) +
    statusLine("VmLib", kb(execAll - execMain)) +
    statusLine("VmPTE", kb(mm.pageTable.tablePages)) +
    statusLine("VmSwap", kb(mm.swapEntries)) +
    statusLine("HugetlbPages", 0)
  );
}

/** The kernel's vsyscall page, shown last in every x86-64 process's maps and smaps. */
const VSYSCALL: Vma = { start: 0xffffffffff600000, end: 0xffffffffff601000, flags: VM_EXEC, pgoff: 0, file: undefined, special: "[vsyscall]", anonVma: 0 };

/** `show_smap_vma_flags` mnemonics by bit number of `vm_flags`. */
const VM_FLAG_MNEMONICS: Record<number, string> = {
  0: "rd", 1: "wr", 2: "ex", 3: "sh", 4: "mr", 5: "mw", 6: "me", 7: "ms", 8: "gd", 10: "pf", 13: "lo", 14: "io",
  15: "sr", 16: "rr", 17: "dc", 18: "de", 20: "ac", 21: "nr", 22: "ht", 23: "sf", 25: "wf", 26: "dd", 28: "mm", 29: "hg",
  30: "nh", 31: "mg",
};

/**
 * /proc/PID/smaps: each maps line followed by the VMA's page counts, as `show_smap` prints
 * them (`%-16s%8lu kB`), walking the page-table entries in RAM: Rss and Pss (a page mapped by
 * n processes counts 1/n), clean and dirty (the PTE's D bit) private (mapped once) and shared
 * pages, Referenced (A bit), Anonymous, LazyFree (clean MADV_FREE pages; Linux shows them
 * only once its per-CPU LRU batches drain). The zero page is not counted, as in Linux.
 */
export function formatSmaps(process: Process): string {
  const mm = process.mm;
  const pages = process.mm.pageTable;
  const kernelPages = mm.kernelPages;
  const ram = kernelPages.ram;
  let out = "";
  for (const vma of [...mm.vmas.list, VSYSCALL]) {
    let rss = 0;
    let pss = 0;
    let pssDirty = 0;
    let sharedClean = 0;
    let sharedDirty = 0;
    let privateClean = 0;
    let privateDirty = 0;
    let referenced = 0;
    let anonymous = 0;
    let lazyFree = 0;
    let swap = 0;
    let swapPss = 0;
    if (vma !== VSYSCALL) pages.forEachEntry(vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, (slot) => {
      const low = ram.load32(slot);
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 && (low & PTE_SWAP) !== 0) {
        swap += PAGE_SIZE;
        swapPss += Math.floor((PAGE_SIZE * 4096) / Math.max(1, mm.swapUsage(entryFrame(ram, slot, low))));
        return;
      }
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 || (low & PTE_SPECIAL) !== 0) return;
      const pfn = entryFrame(ram, slot, low);
      const flags = kernelPages.flags(pfn);
      const mapcount = kernelPages.count(pfn) - ((flags & PG_SHMEM) !== 0 ? 1 : 0);
      const dirty = (low & PTE_DIRTY) !== 0;
      rss += PAGE_SIZE;
      if ((low & PTE_ACCESSED) !== 0) referenced += PAGE_SIZE;
      if ((flags & PG_ANON) !== 0) anonymous += PAGE_SIZE;
      if ((flags & PG_ANON) !== 0 && (flags & PG_LAZYFREE) !== 0 && !dirty) lazyFree += PAGE_SIZE;
      const share = Math.floor((PAGE_SIZE * 4096) / Math.max(1, mapcount));
      pss += share;
      if (dirty) pssDirty += share;
      if (mapcount >= 2) {
        if (dirty) sharedDirty += PAGE_SIZE;
        else sharedClean += PAGE_SIZE;
      } else if (dirty) privateDirty += PAGE_SIZE;
      else privateClean += PAGE_SIZE;
    });
    const kb = (bytes: number): number => Math.floor(bytes / 1024);
    let flagsText = "";
    for (let bit = 0; bit < 32; bit++) {
      if ((vma.flags & 2 ** bit) !== 0 && VM_FLAG_MNEMONICS[bit] !== undefined) flagsText += `${VM_FLAG_MNEMONICS[bit]} `;
    }
    // THP "madvise" mode: eligible when asked for (MADV_HUGEPAGE) and a 2 MiB-aligned block fits
    const alignedStart = Math.ceil(vma.start / HPAGE_PMD_SIZE) * HPAGE_PMD_SIZE;
    const eligible = vma.file === undefined && (vma.flags & VM_HUGEPAGE) !== 0 && (vma.flags & VM_NOHUGEPAGE) === 0 && alignedStart + HPAGE_PMD_SIZE <= vma.end;
    out += mapsLine(vma, nameOf(process, vma));
    out +=
      kbLine("Size", kb(vma.end - vma.start)) +
      kbLine("KernelPageSize", 4) +
      kbLine("MMUPageSize", 4) +
      kbLine("Rss", kb(rss)) +
      kbLine("Pss", kb(pss / 4096)) +
      kbLine("Pss_Dirty", kb(pssDirty / 4096)) +
      kbLine("Shared_Clean", kb(sharedClean)) +
      kbLine("Shared_Dirty", kb(sharedDirty)) +
      kbLine("Private_Clean", kb(privateClean)) +
      kbLine("Private_Dirty", kb(privateDirty)) +
      kbLine("Referenced", kb(referenced)) +
      kbLine("Anonymous", kb(anonymous)) +
      kbLine("KSM", 0) +
      kbLine("LazyFree", kb(lazyFree)) +
      kbLine("AnonHugePages", 0) +
      kbLine("ShmemPmdMapped", 0) +
      kbLine("FilePmdMapped", 0) +
      kbLine("Shared_Hugetlb", 0) +
      kbLine("Private_Hugetlb", 0) +
      kbLine("Swap", kb(swap)) +
      kbLine("SwapPss", kb(swapPss / 4096)) +
      kbLine("Locked", 0) +
      `${"THPeligible:".padEnd(16)}${String(eligible ? 1 : 0).padStart(8)}\n` +
      `VmFlags: ${flagsText}\n`;
  }
  return out;
}
