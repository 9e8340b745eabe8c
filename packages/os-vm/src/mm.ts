import { InvalidArgumentError, describeArgument } from "@mem/hardware";
import type { Memory } from "@mem/hardware";
import { DEFAULT_RLIMIT_STACK, PAGE_SIZE, STACK_GUARD_GAP, type FaultCounters } from "./api.js";
import { SegmentationFault, hex } from "./errors.js";
import { PG_ANON, PG_LAZYFREE, PG_SHMEM, type PageAllocator } from "./page-allocator.js";
import {
  PTE_ACCESSED,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_PRESENT,
  PTE_PROTNONE,
  PTE_RW,
  PTE_SPECIAL,
  PTE_SWAP,
  PTE_USER,
  PageTable,
  entryFrame,
  writeEntry,
} from "./page-table.js";
import type { SwapDevice } from "./swap.js";
import { USER_SPACE, VirtualMemory, type FaultHandler } from "./virtual-memory.js";
import {
  VM_ACCESS,
  VM_ACCOUNT,
  VM_DONTCOPY,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_SHARED,
  VM_WIPEONFORK,
  VM_WRITE,
  VmaList,
  permsOf,
  type Vma,
} from "./vma.js";

/** `pte_mkdirty` on x86: D and the soft-dirty bit together. */
const PTE_MKDIRTY = PTE_DIRTY | PTE_SOFT_DIRTY;

/** What an address space needs from the kernel that owns it. */
export interface KernelServices {
  /** The physical page allocator. */
  readonly pages: PageAllocator;
  /** Frame number of the shared zero page. */
  readonly zeroPfn: number;
  /** Whether a read of fresh private anonymous memory maps the zero page (else a new page). */
  readonly zeroPage: boolean;
  /**
   * Allocates one zeroed frame for a user page or a page table of process `pid` (reclaiming,
   * and at worst running the OOM killer, if RAM is short). Throws `ProcessKilledError` when
   * `pid` itself was killed: its address space is gone by then.
   */
  allocUserPage(purpose: () => string, pid: number, allocation: "user page" | "page table"): number;
  /** Gives back a user frame whose last mapping went away. */
  freeUserPage(pfn: number): void;
  /** Releases `pages` of commit charge. */
  uncharge(pages: number): void;
  /** Takes `pages` of commit charge; false when the overcommit policy refuses. */
  charge(pages: number): boolean;
  /** `vm.mmap_min_addr`. */
  readonly mmapMinAddr: number;
  /** A fresh anon_vma identity. */
  newAnonVma(): number;
  /** The swap device, if swap is on. */
  readonly swap: SwapDevice | undefined;
  /** Counts of mapped anonymous and shmem pages system-wide (AnonPages, Shmem). */
  readonly counters: { anonPages: number; shmemPages: number };
}

/**
 * One process's memory descriptor (Linux's `mm_struct`): its VMAs, its page tables, its RSS
 * counters and the page-fault handler that fills the tables on demand.
 *
 * Page states of an anonymous private mapping, as Linux keeps them in the PTE:
 * ```
 *   untouched (entry 0) ──read──► zero page (P, SPECIAL, read-only: no RSS)
 *         │                              │ write: COW fault
 *         └─────────────write───────────►▼
 *                                 private frame (P, RW, D: RSS +1)
 *   MADV_DONTNEED / munmap: back to untouched (frame freed, RSS -1)
 *   mprotect(PROT_NONE): P cleared, PROTNONE set, frame kept (still in RSS)
 * ```
 */
export class MemoryDescriptor implements FaultHandler {
  /** Process id, for messages and the reverse map. */
  readonly pid: number;
  /** The VMAs. */
  readonly vmas = new VmaList();
  /** The page tables. */
  readonly pageTable: PageTable;
  /** The memory view at virtual addresses. */
  readonly memory: VirtualMemory;
  /** Page fault counters. */
  readonly faults: FaultCounters = { minor: 0, major: 0 };
  /** Resident anonymous private pages (RssAnon). */
  rssAnon = 0;
  /** Resident shared anonymous pages (RssShmem). */
  rssShmem = 0;
  /** Pages swapped out (VmSwap, MM_SWAPENTS). */
  swapEntries = 0;
  /** Peak of RSS in pages (VmHWM). */
  hiwaterRss = 0;
  /**
   * Times the soft-dirty bits were cleared (`clear_refs` 4; simulator bookkeeping, not in
   * Linux): a tracker that sees it move by more than its own clears knows someone else cleared them.
   */
  softDirtyClears = 0;
  /** Peak of total_vm in pages (VmPeak). */
  hiwaterVm = 0;
  /** Pages charged to the commit limit by this process's VM_ACCOUNT mappings. */
  committedPages = 0;
  /**
   * The fatal signal that ended the process (set by the OOM killer): every later fault or
   * access check throws it instead of touching the (freed) address space.
   */
  fatal: Error | undefined;
  /** `RLIMIT_STACK` in bytes: how far the stack may grow. */
  stackLimit = DEFAULT_RLIMIT_STACK;
  private readonly kernel: KernelServices;
  private readonly ram: Memory;

  /** How many entries refer to swap slot `slot`. */
  swapUsage(slot: number): number {
    return this.kernel.swap?.usage(slot) ?? 0;
  }

  /** The page allocator whose `struct page`s describe this address space's frames. */
  get kernelPages(): PageAllocator {
    return this.kernel.pages;
  }

  /** Creates an empty address space of process `pid`. */
  constructor(pid: number, kernel: KernelServices) {
    this.pid = pid;
    this.kernel = kernel;
    this.ram = kernel.pages.ram;
    this.pageTable = new PageTable(kernel.pages, () => kernel.allocUserPage(() => `a page table of pid ${pid}`, pid, "page table"));
    this.memory = new VirtualMemory(this.ram, this.pageTable, this);
  }

  /** VmSize in pages (`total_vm`). */
  get totalVm(): number {
    let pages = 0;
    for (const vma of this.vmas.list) pages += (vma.end - vma.start) / PAGE_SIZE;
    return pages;
  }

  /** Resident pages (VmRSS). */
  get rss(): number {
    return this.rssAnon + this.rssShmem;
  }

  /** Updates both peaks after a change of the mappings (Linux updates VmHWM lazily; here it is exact). */
  updateHiwater(): void {
    this.updateHiwaterRss();
    const vm = this.totalVm;
    if (vm > this.hiwaterVm) this.hiwaterVm = vm;
  }

  /** Updates the RSS peak after a fault. */
  updateHiwaterRss(): void {
    const rss = this.rssAnon + this.rssShmem;
    if (rss > this.hiwaterRss) this.hiwaterRss = rss;
  }

  // ---- faults --------------------------------------------------------------------------

  /** {@inheritDoc FaultHandler.checkAccess} */
  checkAccess(address: number, length: number, write: boolean): void {
    if (this.fatal !== undefined) throw this.fatal;
    if (typeof address !== "number" || !Number.isInteger(address)) {
      throw new InvalidArgumentError(`os-vm: address must be an integer, got ${describeArgument(address)}`);
    }
    let at = address;
    const end = address + length;
    while (at < end) {
      const vma = at >= 0 && at < USER_SPACE ? this.vmas.find(at) : undefined;
      if (vma === undefined && at >= 0 && at < USER_SPACE && this.expandStack(at)) continue;
      if (vma === undefined || !allows(vma, write)) {
        this.handleFault(at, write); // throws the right SegmentationFault
        throw new Error(`os-vm: internal error: no fault raised at ${hex(at)}`);
      }
      at = vma.end;
    }
  }

  /**
   * `expand_stack`: grows the grows-down VMA just above `address` down to its page, if the
   * stack stays within RLIMIT_STACK, keeps the 1 MiB guard gap above the mapping below, and
   * the commit charge is granted. Returns whether the stack now covers `address`.
   */
  expandStack(address: number): boolean {
    const i = this.vmas.indexAfter(address);
    const stack = this.vmas.list[i];
    if (stack === undefined || (stack.flags & VM_GROWSDOWN) === 0 || stack.start <= address) return false;
    const newStart = Math.floor(address / PAGE_SIZE) * PAGE_SIZE;
    if (stack.end - newStart > this.stackLimit || newStart < this.kernel.mmapMinAddr) return false;
    const prev = this.vmas.list[i - 1];
    if (prev !== undefined && (prev.flags & VM_GROWSDOWN) === 0 && (prev.flags & VM_ACCESS) !== 0 && newStart - prev.end < STACK_GUARD_GAP) return false;
    const grow = (stack.start - newStart) / PAGE_SIZE;
    if ((stack.flags & VM_ACCOUNT) !== 0) {
      if (!this.kernel.charge(grow)) return false;
      this.committedPages += grow;
    }
    stack.start = newStart;
    stack.pgoff -= grow;
    this.updateHiwater();
    return true;
  }

  /** {@inheritDoc FaultHandler.handleFault} */
  handleFault(address: number, write: boolean): void {
    if (this.fatal !== undefined) throw this.fatal;
    const access = write ? "write" : "read";
    if (address < 0 || address >= USER_SPACE) {
      throw new SegmentationFault(this.pid, address, "SI_KERNEL", access, "not a canonical user address (general protection fault, si_addr 0)");
    }
    let vma = this.vmas.find(address);
    if (vma === undefined && this.expandStack(address)) vma = this.vmas.find(address);
    if (vma === undefined) {
      throw new SegmentationFault(this.pid, address, "SEGV_MAPERR", access, "no mapping at this address");
    }
    if (!allows(vma, write)) {
      throw new SegmentationFault(
        this.pid,
        address,
        "SEGV_ACCERR",
        access,
        `the mapping ${hex(vma.start)}-${hex(vma.end)} ${permsOf(vma)} does not allow ${write ? "writing" : "reading"}`,
      );
    }
    const vpn = Math.floor(address / PAGE_SIZE);
    const slot = this.pageTable.pteAddress(vpn, true);
    const low = this.ram.load32(slot);
    const nx = (vma.flags & VM_EXEC) === 0;
    if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 && (low & PTE_SWAP) !== 0) {
      this.swapIn(vma, vpn, slot, low, write, nx);
      return;
    }
    if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0) {
      // Demand paging: a new anonymous page, or the zero page for a read.
      if ((vma.flags & VM_SHARED) !== 0) {
        // shmem_fault: the page of the file at this offset, created zeroed on first use
        const cache = vma.file!.shmem!.pages;
        const index = vma.pgoff + (vpn - vma.start / PAGE_SIZE);
        let pfn = cache.get(index);
        if (pfn === undefined) {
          pfn = this.newPage(vma, vpn, PG_SHMEM);
          cache.set(index, pfn);
          this.kernel.counters.shmemPages++;
        } else this.kernel.pages.setCount(pfn, this.kernel.pages.count(pfn) + 1);
        this.rssShmem++;
        writeEntry(this.ram, slot, pfn, PTE_PRESENT | PTE_USER | PTE_ACCESSED | (vma.flags & VM_WRITE ? PTE_RW | (write ? PTE_MKDIRTY : 0) : 0), nx);
      } else if (!write && this.kernel.zeroPage) {
        writeEntry(this.ram, slot, this.kernel.zeroPfn, PTE_PRESENT | PTE_USER | PTE_ACCESSED | PTE_SPECIAL, nx);
      } else {
        // do_anonymous_page: a new page, writable and dirty if the mapping allows writing
        const pfn = this.newPage(vma, vpn, PG_ANON);
        this.rssAnon++;
        this.kernel.counters.anonPages++;
        writeEntry(this.ram, slot, pfn, PTE_PRESENT | PTE_USER | PTE_ACCESSED | ((vma.flags & VM_WRITE) !== 0 ? PTE_RW | PTE_MKDIRTY : 0), nx);
      }
      this.faults.minor++;
      this.updateHiwaterRss();
      return;
    }
    if (write && (low & PTE_PRESENT) !== 0 && (low & PTE_RW) === 0) {
      // Write-protect fault on a writable VMA: copy-on-write.
      const old = entryFrame(this.ram, slot, low);
      if ((low & PTE_SPECIAL) !== 0) {
        const pfn = this.newPage(vma, vpn, PG_ANON);
        this.rssAnon++;
        this.kernel.counters.anonPages++;
        writeEntry(this.ram, slot, pfn, PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED | PTE_MKDIRTY, nx);
      } else if (this.kernel.pages.count(old) > 1) {
        const pfn = this.newPage(vma, vpn, PG_ANON);
        this.ram.copy(pfn * PAGE_SIZE, old * PAGE_SIZE, PAGE_SIZE);
        // Allocating may have run the OOM killer, which may have ended the other sharers of
        // the old frame: this mapping's reference may be its last one now.
        const count = this.kernel.pages.count(old) - 1;
        this.kernel.pages.setCount(old, count);
        if (count === 0) {
          this.kernel.counters.anonPages--;
          this.kernel.freeUserPage(old);
        }
        writeEntry(this.ram, slot, pfn, PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED | PTE_MKDIRTY, nx);
      } else {
        // the last mapping of a copied page: reuse it in place
        this.kernel.pages.setReverseMap(old, this.pid, vpn);
        this.ram.store32(slot, (low | PTE_RW | PTE_MKDIRTY | PTE_ACCESSED) >>> 0);
      }
      this.faults.minor++;
      this.memory.invalidate(vpn, vpn + 1);
      this.updateHiwaterRss();
    }
  }

  /**
   * `do_swap_page`: reads the page back from its swap slot into a new frame (a major fault).
   * The page is mapped writable if this was the slot's only reference, dirty on a write.
   */
  private swapIn(vma: Vma, vpn: number, slot: number, low: number, write: boolean, nx: boolean): void {
    const swap = this.kernel.swap!;
    const swapSlot = entryFrame(this.ram, slot, low);
    const pfn = this.newPage(vma, vpn, PG_ANON);
    // (read after allocating: the OOM killer may have ended another holder of the slot)
    const exclusive = swap.usage(swapSlot) === 1;
    swap.readPage(swapSlot, pfn);
    swap.release(swapSlot);
    this.swapEntries--;
    this.rssAnon++;
    this.kernel.counters.anonPages++;
    const writable = exclusive && (vma.flags & VM_WRITE) !== 0;
    writeEntry(this.ram, slot, pfn, PTE_PRESENT | PTE_USER | PTE_ACCESSED | (writable ? PTE_RW | (write ? PTE_MKDIRTY : 0) : 0) | (low & PTE_SOFT_DIRTY), nx);
    this.faults.major++;
    this.updateHiwaterRss();
  }

  /**
   * Memory pressure: swaps out frame `pfn` mapped (alone) at `vpn`, unless its accessed bit is
   * set, which is cleared instead (the clock's second chance). Returns whether it went out.
   */
  swapOut(vpn: number, pfn: number): boolean {
    const swap = this.kernel.swap;
    if (swap === undefined) return false;
    const slot = this.pageTable.pteAddress(vpn, false);
    if (slot < 0) return false;
    const low = this.ram.load32(slot);
    if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 || (low & PTE_SPECIAL) !== 0 || entryFrame(this.ram, slot, low) !== pfn) return false;
    if ((low & PTE_ACCESSED) !== 0) {
      this.ram.store32(slot, (low & ~PTE_ACCESSED) >>> 0);
      this.memory.invalidate(vpn, vpn + 1);
      return false;
    }
    const swapSlot = swap.allocate();
    if (swapSlot < 0) return false;
    swap.writePage(swapSlot, pfn);
    writeEntry(this.ram, slot, swapSlot, PTE_SWAP | (low & PTE_SOFT_DIRTY), false);
    this.memory.invalidate(vpn, vpn + 1);
    this.swapEntries++;
    this.dropFrame(pfn);
    return true;
  }

  /** Allocates a zeroed frame for page `vpn` of `vma`, with its struct page set up. */
  private newPage(vma: Vma, vpn: number, kind: number): number {
    const pfn = this.kernel.allocUserPage(() => `a page fault at ${hex(vpn * PAGE_SIZE)} in pid ${this.pid}`, this.pid, "user page");
    const pages = this.kernel.pages;
    pages.setFlags(pfn, kind);
    pages.setCount(pfn, kind === PG_SHMEM ? 2 : 1); // a shmem page is also held by its file's cache
    pages.setReverseMap(pfn, this.pid, vpn);
    if (vma.anonVma === 0) this.assignAnonVma(vma);
    return pfn;
  }

  /** `anon_vma_prepare`: reuse a touching compatible neighbour's anon_vma, else a new one. */
  private assignAnonVma(vma: Vma): void {
    const i = this.vmas.list.indexOf(vma);
    const prev = this.vmas.list[i - 1];
    const next = this.vmas.list[i + 1];
    const reusable = (other: Vma | undefined): boolean =>
      other !== undefined && other.anonVma !== 0 && other.file === vma.file && (other.flags & ~VM_ACCESS) === (vma.flags & ~VM_ACCESS);
    if (prev !== undefined && prev.end === vma.start && reusable(prev)) vma.anonVma = prev.anonVma;
    else if (next !== undefined && next.start === vma.end && reusable(next)) vma.anonVma = next.anonVma;
    else vma.anonVma = this.kernel.newAnonVma();
  }

  // ---- changing page-table entries -----------------------------------------------------

  /**
   * Clears every entry in `[start, end)`, dropping the frames' mappings (frames whose last
   * mapping goes are freed) and the RSS they counted; invalidates the TLB. With
   * `reclaimTables` (MADV_DONTNEED), PTE pages left empty are freed too, as Linux 6.14+ does
   * (CONFIG_PT_RECLAIM; observed on 6.18: VmPTE falls after MADV_DONTNEED).
   */
  zapRange(start: number, end: number, reclaimTables = false): void {
    const startVpn = start / PAGE_SIZE;
    const endVpn = end / PAGE_SIZE;
    this.pageTable.forEachEntry(startVpn, endVpn, (slot) => {
      const low = this.ram.load32(slot);
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) !== 0 && (low & PTE_SPECIAL) === 0) this.dropFrame(entryFrame(this.ram, slot, low));
      else if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 && (low & PTE_SWAP) !== 0) {
        this.kernel.swap!.release(entryFrame(this.ram, slot, low));
        this.swapEntries--;
      }
      this.ram.store32(slot, 0);
      this.ram.store32(slot + 4, 0);
    });
    if (reclaimTables) this.pageTable.reclaimEmptyPteTables(startVpn, endVpn);
    this.memory.invalidate(startVpn, endVpn);
  }

  /**
   * `move_page_tables`: moves the entries of `[from, from + length)` to `[to, to + length)`
   * (frames, RSS and map counts unchanged; reverse maps follow), clearing the old entries.
   */
  movePages(from: number, to: number, length: number): void {
    const pages = this.kernel.pages;
    const fromVpn = from / PAGE_SIZE;
    const delta = (to - from) / PAGE_SIZE;
    const vpns: number[] = [];
    this.pageTable.forEachEntry(fromVpn, fromVpn + length / PAGE_SIZE, (_slot, vpn) => vpns.push(vpn));
    // the destination's tables first: running out of memory here leaves everything in place
    for (const vpn of vpns) this.pageTable.pteAddress(vpn + delta, true);
    for (const vpn of vpns) {
      const source = this.pageTable.pteAddress(vpn, false);
      const low = this.ram.load32(source);
      const high = this.ram.load32(source + 4);
      this.ram.store32(source, 0);
      this.ram.store32(source + 4, 0);
      const slot = this.pageTable.pteAddress(vpn + delta, true);
      // move_soft_dirty_pte: a moved page is soft-dirty (user space sees new data at the new address)
      this.ram.store32(slot, (low !== 0 ? low | PTE_SOFT_DIRTY : 0) >>> 0);
      this.ram.store32(slot + 4, high);
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) !== 0 && (low & PTE_SPECIAL) === 0) {
        const pfn = entryFrame(this.ram, slot, low);
        if (pages.count(pfn) === 1) pages.setReverseMap(pfn, this.pid, vpn + delta);
      }
    }
    this.memory.invalidate(fromVpn, fromVpn + length / PAGE_SIZE);
    this.memory.invalidate(to / PAGE_SIZE, to / PAGE_SIZE + length / PAGE_SIZE);
  }

  /** Frees the page tables left covering no VMA around `[start, end)`. */
  freePageTables(start: number, end: number): void {
    const i = this.vmas.indexAfter(start);
    const prev = this.vmas.list[i - 1];
    const next = this.vmas.list[i];
    const floor = prev === undefined ? 0 : prev.end;
    const ceiling = next === undefined ? 2 ** 47 : next.start;
    this.pageTable.freeTables(start / PAGE_SIZE, end / PAGE_SIZE, Math.ceil(floor / PAGE_SIZE), Math.floor(ceiling / PAGE_SIZE));
  }

  /**
   * Rewrites the permission bits of the entries in `[start, end)` for `vma`'s new flags
   * (`change_protection`), keeping frames and RSS.
   */
  protectRange(vma: Vma, start: number, end: number): void {
    const readable = (vma.flags & VM_ACCESS) !== 0;
    const writable = (vma.flags & VM_WRITE) !== 0;
    const nx = (vma.flags & VM_EXEC) === 0;
    this.pageTable.forEachEntry(start / PAGE_SIZE, end / PAGE_SIZE, (slot) => {
      const low = this.ram.load32(slot);
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0) return;
      const pfn = entryFrame(this.ram, slot, low);
      let flags = low & (PTE_ACCESSED | PTE_DIRTY | PTE_SOFT_DIRTY | PTE_SPECIAL | PTE_USER);
      flags |= readable ? PTE_PRESENT : PTE_PROTNONE;
      // Write permission goes on at once only for a page this process owns alone.
      const exclusive = (low & PTE_SPECIAL) === 0 && ((vma.flags & VM_SHARED) !== 0 || this.kernel.pages.count(pfn) === 1);
      if (readable && writable && exclusive) flags |= PTE_RW;
      writeEntry(this.ram, slot, pfn, flags | (low & 0x600), nx);
    });
    this.memory.invalidate(start / PAGE_SIZE, end / PAGE_SIZE);
  }

  /**
   * MADV_FREE: marks the private anonymous pages of `[start, end)` lazily freeable: their
   * dirty and accessed bits are cleared, and the page is discarded under memory pressure
   * unless written again.
   */
  lazyFreeRange(start: number, end: number): void {
    const pages = this.kernel.pages;
    this.pageTable.forEachEntry(start / PAGE_SIZE, end / PAGE_SIZE, (slot, vpn) => {
      const low = this.ram.load32(slot);
      if ((low & PTE_PRESENT) === 0 || (low & PTE_SPECIAL) !== 0) return;
      const pfn = entryFrame(this.ram, slot, low);
      if (pages.count(pfn) !== 1 || (pages.flags(pfn) & PG_ANON) === 0) return;
      pages.setFlags(pfn, pages.flags(pfn) | PG_LAZYFREE);
      pages.setReverseMap(pfn, this.pid, vpn);
      this.ram.store32(slot, (low & ~(PTE_DIRTY | PTE_ACCESSED)) >>> 0); // pte_mkold(pte_mkclean())
    });
    this.memory.invalidate(start / PAGE_SIZE, end / PAGE_SIZE);
  }

  /**
   * Memory pressure: discards the lazily freed frame `pfn` mapped at `vpn` if it is still clean.
   * Returns whether the frame was freed.
   */
  reclaimLazyFree(vpn: number, pfn: number): boolean {
    const slot = this.pageTable.pteAddress(vpn, false);
    if (slot < 0) return false;
    const low = this.ram.load32(slot);
    if ((low & PTE_PRESENT) === 0 || (low & (PTE_DIRTY | PTE_SPECIAL)) !== 0) return false;
    if (entryFrame(this.ram, slot, low) !== pfn) return false;
    this.dropFrame(entryFrame(this.ram, slot, low));
    this.ram.store32(slot, 0);
    this.ram.store32(slot + 4, 0);
    this.memory.invalidate(vpn, vpn + 1);
    return true;
  }

  /** Faults in every page of `[start, end)` (MAP_POPULATE, MADV_POPULATE_*). */
  populate(start: number, end: number, write: boolean): void {
    for (let address = start; address < end; address += PAGE_SIZE) this.memory.translate(address, write);
  }

  /**
   * `dup_mmap`: copies `parent`'s VMAs and page-table entries into this empty descriptor.
   * Private frames become copy-on-write in both (entries made read-only, map count raised);
   * the zero page is copied as is; shared mappings get no entries (the child faults their
   * pages in from the shmem file, as Linux does).
   */
  copyFrom(parent: MemoryDescriptor): void {
    const pages = this.kernel.pages;
    for (const source of parent.vmas.list) {
      if ((source.flags & VM_DONTCOPY) !== 0) continue;
      const vma: Vma = { ...source };
      this.vmas.list.push(vma);
      if (vma.flags & VM_ACCOUNT) this.committedPages += (vma.end - vma.start) / PAGE_SIZE;
      if ((vma.flags & VM_WIPEONFORK) !== 0) {
        vma.anonVma = 0;
        continue;
      }
      // Shared mappings are not copied: the child faults their pages in from the shmem file.
      if ((vma.flags & VM_SHARED) !== 0) continue;
      parent.pageTable.forEachEntry(vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, (slot, vpn) => {
        if ((this.ram.load32(slot) & (PTE_PRESENT | PTE_PROTNONE | PTE_SWAP)) === 0) return;
        // The child's table first: running out of memory here leaves no reference half-taken.
        // Allocating may reclaim (swap out) pages, the parent's too: read its entry afterwards.
        const child = this.pageTable.pteAddress(vpn, true);
        let low = this.ram.load32(slot);
        const high = this.ram.load32(slot + 4);
        if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0) {
          this.kernel.swap!.duplicate(entryFrame(this.ram, slot, low)); // both now refer to the slot
          this.swapEntries++;
        } else if ((low & PTE_SPECIAL) === 0) {
          const pfn = entryFrame(this.ram, slot, low);
          pages.setCount(pfn, pages.count(pfn) + 1);
          this.rssAnon++;
          low &= ~PTE_RW;
          this.ram.store32(slot, low >>> 0); // the parent's entry: copy-on-write from now on
        }
        this.ram.store32(child, low >>> 0);
        this.ram.store32(child + 4, high);
      });
    }
    parent.memory.invalidate(0, 2 ** 35);
    this.hiwaterRss = this.rss;
    this.updateHiwater();
  }

  /** Unmaps everything and frees the page tables (exit). */
  destroy(): void {
    for (const vma of this.vmas.list) {
      this.zapRange(vma.start, vma.end);
      if (vma.flags & VM_ACCOUNT) this.kernel.uncharge((vma.end - vma.start) / PAGE_SIZE);
    }
    this.vmas.list.length = 0;
    this.pageTable.destroy();
  }

  private dropFrame(pfn: number): void {
    const pages = this.kernel.pages;
    const flags = pages.flags(pfn);
    if ((flags & PG_SHMEM) !== 0) this.rssShmem--;
    else this.rssAnon--;
    const count = pages.count(pfn) - 1;
    pages.setCount(pfn, count);
    if (count === 0) {
      // (a shmem page reaches 0 here only after MADV_REMOVE took it out of its file's cache)
      if ((flags & PG_SHMEM) === 0) this.kernel.counters.anonPages--;
      this.kernel.freeUserPage(pfn);
    }
  }
}

/** Whether `vma` allows a read (any of r/w/x: x86 has no write- or exec-only pages) or a write. */
function allows(vma: Vma, write: boolean): boolean {
  return write ? (vma.flags & VM_WRITE) !== 0 : (vma.flags & VM_ACCESS) !== 0;
}

