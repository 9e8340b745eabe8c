import { PAGE_SIZE } from "./api.js";
import { hex8, statusLine } from "./format.js";
import type { Process } from "./process.js";
import { VM_EXEC, VM_GROWSDOWN, VM_SHARED, VM_STACK, VM_WRITE, permsOf, type Vma } from "./vma.js";

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
    statusLine("VmSwap", 0) +
    statusLine("HugetlbPages", 0)
  );
}
