import { ArgumentRangeError, InvalidArgumentError, describeArgument } from "@mem/hardware";
import { PAGE_SIZE } from "./api.js";
import { SyscallError } from "./errors.js";
import { PTE_ACCESSED, PTE_PRESENT, PTE_PROTNONE, PTE_SOFT_DIRTY, PTE_SWAP } from "./page-table.js";
import type { Process } from "./process.js";
import { residentAnonPages } from "./resident.js";

/**
 * Soft-dirty page tracking (Linux's CONFIG_MEM_SOFT_DIRTY, Documentation/admin-guide/mm/soft-dirty.rst):
 * which pages a process wrote since the last `echo 4 > /proc/PID/clear_refs`.
 *
 * ```
 *   clear_refs 4 ─► every PTE: SD cleared (and its TLB entry dropped); every VMA: VM_SOFTDIRTY cleared
 *   a write ─► the MMU walk (TLB miss: no cached write view without SD) sets D and SD
 *   the kernel maps a page dirty (write fault, COW, mremap move) ─► SD set (pte_mkdirty)
 *   a new or expanded VMA (mmap, brk, mremap growth, merge with a new one) ─► VM_SOFTDIRTY:
 *       all its pages read soft-dirty until the next clear
 *   pagemap bit 55 = PTE SD (present or swap entry) or the VMA's VM_SOFTDIRTY
 * ```
 * Linux write-protects the PTE at the clear and sets SD in the resulting write fault (counted
 * in `minflt`); here the simulated MMU sets it on the write walk, as it sets D, so that a
 * tracker watching a process does not change its fault counts.
 * The kernel this project was measured on (6.18, built without CONFIG_MEM_SOFT_DIRTY) accepts
 * `clear_refs` 4 and never sets bit 55: the simulated kernel models a kernel built with it, as
 * Debian's and most distributions' are.
 */

/** `CLEAR_REFS_ALL`: clear the accessed bits of every page. */
export const CLEAR_REFS_ALL = 1;
/** `CLEAR_REFS_ANON`: of anonymous pages only. */
export const CLEAR_REFS_ANON = 2;
/** `CLEAR_REFS_MAPPED`: of file-mapped pages only. */
export const CLEAR_REFS_MAPPED = 3;
/** `CLEAR_REFS_SOFT_DIRTY`: clear the soft-dirty bits. */
export const CLEAR_REFS_SOFT_DIRTY = 4;
/** `CLEAR_REFS_MM_HIWATER_RSS`: reset VmHWM to the current RSS. */
export const CLEAR_REFS_MM_HIWATER_RSS = 5;

/**
 * Writes `value` to /proc/PID/clear_refs (`clear_refs_write`): 1–3 clear accessed bits (all,
 * anonymous, file-mapped pages), 4 clears the soft-dirty bits, 5 resets VmHWM. Any other
 * value fails with EINVAL, as the write(2) does.
 */
export function clearRefs(process: Process, value: number): void {
  if (!(Number.isInteger(value) && value >= CLEAR_REFS_ALL && value <= CLEAR_REFS_MM_HIWATER_RSS)) {
    throw new SyscallError("write", `"/proc/${process.pid}/clear_refs", ${String(value)}`, "EINVAL", `clear_refs takes 1 to 5, got ${String(value)}`);
  }
  const mm = process.mm;
  if (value === CLEAR_REFS_MM_HIWATER_RSS) {
    mm.hiwaterRss = mm.rss;
    return;
  }
  if (value === CLEAR_REFS_SOFT_DIRTY) {
    // the resident walk clears as it goes (PTE pages read through frame views)
    residentAnonPages(process, { clearSoftDirty: true });
    return;
  }
  const ram = mm.kernelPages.ram;
  const memory = mm.memory;
  const bit = PTE_ACCESSED;
  for (const vma of mm.vmas.list) {
    if ((value === CLEAR_REFS_ANON && vma.file !== undefined) || (value === CLEAR_REFS_MAPPED && vma.file === undefined)) continue;
    mm.pageTable.forEachEntry(vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, (slot, vpn) => {
      const low = ram.load32(slot);
      if ((low & bit) === 0) return;
      ram.store32(slot, (low & ~bit) >>> 0);
      // a cached write view (or accessed-bit-free translation) would skip the walk that sets the bit again
      memory.invalidate(vpn, vpn + 1);
    });
  }
}

/** pagemap bit 63: page present. */
export const PM_PRESENT = 1n << 63n;
/** pagemap bit 62: page swapped. */
export const PM_SWAP = 1n << 62n;
/** pagemap bit 55: soft-dirty. */
export const PM_SOFT_DIRTY = 1n << 55n;

/**
 * /proc/PID/pagemap entries of the pages `[start, end)` (one 64-bit entry a page, as
 * `pagemap_read` fills them): bit 63 present, 62 swapped, 55 soft-dirty, bits 0–54 the frame
 * number (present) or swap slot. The zero page's entry is present with its frame; a page
 * of no VMA reads 0.
 */
export function pagemap(process: Process, start: number, end: number): BigUint64Array {
  checkPagemapRange(start, end);
  const mm = process.mm;
  const ram = mm.kernelPages.ram;
  const first = Math.floor(start / PAGE_SIZE);
  const out = new BigUint64Array(Math.max(0, Math.ceil(end / PAGE_SIZE) - first));
  for (const vma of mm.vmas.overlapping(first * PAGE_SIZE, first * PAGE_SIZE + out.length * PAGE_SIZE)) {
    const from = Math.max(first, vma.start / PAGE_SIZE);
    const to = Math.min(first + out.length, vma.end / PAGE_SIZE);
    const vmaDirty = vma.softClean !== true;
    if (vmaDirty) for (let vpn = from; vpn < to; vpn++) out[vpn - first] = PM_SOFT_DIRTY;
    mm.pageTable.forEachEntry(from, to, (slot, vpn) => {
      const low = ram.load32(slot);
      const high = ram.load32(slot + 4) & 0xfffff;
      const frame = BigInt(high) * 0x100000n + BigInt(low >>> 12);
      let entry = vmaDirty || (low & PTE_SOFT_DIRTY) !== 0 ? PM_SOFT_DIRTY : 0n;
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) !== 0) entry |= PM_PRESENT | frame;
      else if ((low & PTE_SWAP) !== 0) entry |= PM_SWAP | frame;
      out[vpn - first] = entry;
    });
  }
  return out;
}

/** The most pages one {@link pagemap} call reads: 2^24 (64 GiB of address space, a 128 MiB answer). */
export const PAGEMAP_MAX_PAGES = 2 ** 24;

/** The user half of the address space (2^47), where pagemap has entries. */
const PAGEMAP_END = 2 ** 47;

/**
 * Refuses a pagemap range no read of /proc/PID/pagemap could ask for, before anything is read:
 * not numbers, not whole, negative, reversed, beyond the user address space, or more pages
 * than {@link PAGEMAP_MAX_PAGES} at once.
 */
function checkPagemapRange(start: unknown, end: unknown): void {
  if (typeof start !== "number" || typeof end !== "number") {
    throw new InvalidArgumentError(`os-vm: pagemap: the range must be two numbers, got ${describeArgument(start)} and ${describeArgument(end)}`);
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > PAGEMAP_END) {
    throw new ArgumentRangeError(`os-vm: pagemap: [${String(start)}, ${String(end)}) is not a range of user addresses (0 <= start <= end <= 2^47)`);
  }
  if (Math.ceil(end / PAGE_SIZE) - Math.floor(start / PAGE_SIZE) > PAGEMAP_MAX_PAGES) {
    throw new ArgumentRangeError(`os-vm: pagemap: [${start.toString(16)}, ${end.toString(16)}) spans more than ${PAGEMAP_MAX_PAGES} pages: read it in parts`);
  }
}

/**
 * Whether the page holding `address` is soft-dirty (pagemap bit 55): written, or mapped dirty,
 * since the last `clear_refs` 4, or in a VMA created or expanded since.
 */
export function isSoftDirty(process: Process, address: number): boolean {
  if (typeof address === "number" && Number.isSafeInteger(address) && address >= PAGEMAP_END) {
    throw new ArgumentRangeError(`os-vm: isSoftDirty: 0x${address.toString(16)} is beyond the user address space (2^47)`);
  }
  return (pagemap(process, address, address + 1)[0]! & PM_SOFT_DIRTY) !== 0n;
}

