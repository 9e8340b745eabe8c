import type { Memory } from "@mem/hardware";
import { checkRegisters } from "./syscall-arguments.js";
import {
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_TYPE,
  MAP_32BIT,
  DEFAULT_RLIMIT_STACK,
  HPAGE_PMD_SIZE,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_WRITE,
  TASK_SIZE,
  type FaultCounters,
  type ProcessImage,
  type MremapSyscall,
  type ProcessSpace,
} from "./api.js";
import { SyscallError, hex, type ErrnoCode, type ProcessKilledError } from "./errors.js";
import { OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN } from "./oom-killer.js";
import { formatArg, formatMapFlags, formatProt } from "./format.js";
import { MemoryDescriptor, type KernelServices } from "./mm.js";
import { FLAG_ADVICE, KNOWN_ADVICE } from "./advice.js";
import { imageVma } from "./image-vma.js";
import { chooseAddress } from "./placement.js";
import { formatMaps, formatSmaps, formatStatm, formatStatus } from "./proc-files.js";
import {
  VM_ACCESS,
  VM_ACCOUNT,
  VM_GROWSDOWN,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NORESERVE,
  VM_SHARED,
  VM_READ,
  VM_WRITE,
  protToVmFlags,
  startGap,
  type FileRef,
  type Vma,
} from "./vma.js";

/** The kernel as a process sees it (implemented by `Kernel`). */
export interface KernelContext extends KernelServices {
  /** `vm.max_map_count`. */
  readonly maxMapCount: number;
  /** Whether 2 MiB-multiple anonymous mappings are 2 MiB aligned (Linux 6.7+). */
  readonly thpAlignment: boolean;
  /** Whether overcommit mode 2 (never) is on: MAP_NORESERVE is then ignored. */
  readonly strictOvercommit: boolean;
  /** A new shmem file for a shared anonymous mapping (`/dev/zero (deleted)`). */
  newShmemFile(): FileRef;
  /** Gives the pages of these shmem files back if no mapping in any process uses them any more. */
  releaseShmem(files: readonly FileRef[]): void;
  /** Drops the pages `[first, end)` of a shmem file's cache (MADV_REMOVE). */
  punchShmem(file: FileRef, first: number, end: number): void;
  /** Creates the child of `parent` (fork). */
  fork(parent: Process): Process;
}

/** Flags every anonymous or private mapping may gain (`VM_MAY*`). */
const VM_MAY = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
/** The flags of the brk heap (`VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT`). */
const BRK_FLAGS = VM_READ | VM_WRITE | VM_MAY | VM_ACCOUNT;
/** The flags of the main stack (`VM_STACK_FLAGS | VM_ACCOUNT`). */
const STACK_FLAGS = VM_READ | VM_WRITE | VM_MAY | VM_GROWSDOWN | VM_ACCOUNT;
/**
 * A process: its address space (`MemoryDescriptor`), its program break, the memory system
 * calls with Linux x86-64 semantics and errno errors, and its /proc views.
 */
export class Process implements ProcessSpace, MremapSyscall {
  /** Process id. */
  readonly pid: number;
  /** The process's memory at virtual addresses (faults throw `SegmentationFault`). */
  readonly memory: Memory;
  /** The image the process started from. */
  readonly image: ProcessImage;
  /** `mm->start_brk`: where the heap begins. */
  readonly startBrk: number;
  /** `mm->mmap_base`: top-down placement starts below it. */
  readonly mmapBase: number;
  /** `mm->start_stack`: an address inside the initial stack. */
  readonly startStack: number;
  /** The memory descriptor (VMAs, page tables, counters). */
  readonly mm: MemoryDescriptor;
  private readonly kernel: KernelContext;
  private currentBrk: number;
  /** glibc's cached break `__curbrk` (0 until the first sbrk reads it). */
  private libcBrk = 0;
  private exited = false;
  /** `comm`: the command name, at most 15 characters. */
  readonly comm: string;
  /** The real user id. */
  readonly uid: number;
  private scoreAdj: number;
  /** The fatal signal that ended the process, if one did. */
  private fatal: ProcessKilledError | undefined;

  /** Creates process `pid` from `image` (use `Kernel.createProcess`). */
  constructor(
    kernel: KernelContext,
    pid: number,
    image: ProcessImage,
    parent?: Process,
    stackLimit = DEFAULT_RLIMIT_STACK,
    identity: { comm?: string | undefined; uid?: number | undefined; oomScoreAdj?: number | undefined } = {},
  ) {
    this.kernel = kernel;
    this.pid = pid;
    this.image = image;
    if (identity.comm !== undefined && (typeof identity.comm !== "string" || identity.comm.length === 0)) {
      throw new RangeError(`os-vm: comm must be a non-empty string, got ${String(identity.comm)}`);
    }
    if (identity.uid !== undefined && !(Number.isInteger(identity.uid) && identity.uid >= 0 && identity.uid < 2 ** 32 - 1)) {
      throw new RangeError(`os-vm: uid must be an integer in 0..4294967294, got ${String(identity.uid)}`);
    }
    this.comm = (parent?.comm ?? identity.comm ?? executableName(image)).slice(0, 15);
    this.uid = parent?.uid ?? identity.uid ?? 0;
    this.scoreAdj = 0;
    this.oomScoreAdj = parent?.oomScoreAdj ?? identity.oomScoreAdj ?? 0;
    this.mm = new MemoryDescriptor(pid, kernel);
    this.mm.stackLimit = parent?.mm.stackLimit ?? stackLimit;
    this.memory = this.mm.memory;
    this.startBrk = image.startBrk;
    this.currentBrk = parent?.currentBrk ?? image.startBrk;
    this.libcBrk = parent?.libcBrk ?? 0;
    this.mmapBase = image.mmapBase;
    this.startStack = image.stackTop - PAGE_SIZE;
    if (parent !== undefined) {
      try {
        this.mm.copyFrom(parent.mm);
      } catch (error) {
        // out of memory half-way: give back what the child got (its entries hold references)
        this.mm.destroy();
        throw error;
      }
      return;
    }
    const files = new Map<string, FileRef>();
    for (const mapping of image.mappings) this.mm.vmas.list.push(imageVma(mapping, files));
    this.mm.vmas.list.push({
      start: image.stackTop - image.stackSize,
      end: image.stackTop,
      flags: STACK_FLAGS,
      pgoff: (image.stackTop - image.stackSize) / PAGE_SIZE,
      file: undefined,
      special: undefined,
      anonVma: 0,
    });
    for (const vma of this.mm.vmas.list) {
      if (vma.flags & VM_ACCOUNT) {
        const pages = (vma.end - vma.start) / PAGE_SIZE;
        kernel.charge(pages);
        this.mm.committedPages += pages;
      }
    }
    try {
      for (const vma of this.mm.vmas.list) {
        // The loader and the program's start-up touched every image mapping: the page tables
        // covering them exist (a small C program starts with VmPTE 32 kB, as recorded).
        for (let at = vma.start; at < vma.end; at = Math.floor(at / HPAGE_PMD_SIZE) * HPAGE_PMD_SIZE + HPAGE_PMD_SIZE) {
          this.mm.pageTable.pteAddress(Math.floor(at / PAGE_SIZE), true);
        }
      }
    } catch (error) {
      // out of memory with nothing left to kill: give back the tables and the charge
      this.mm.destroy();
      throw error;
    }
    this.mm.updateHiwater();
  }

  /** Page fault counters (`ru_minflt`, `ru_majflt`). */
  get faults(): FaultCounters {
    return this.mm.faults;
  }

  /** The current program break. */
  get programBreak(): number {
    return this.currentBrk;
  }

  // ---- mmap ----------------------------------------------------------------------------

  /** {@inheritDoc MemorySyscalls.mmap} */
  mmap(address: number, length: number, prot: number, flags: number, fd = -1, offset = 0): number {
    checkRegisters("mmap", address, length, prot, flags, fd, offset);
    const call = (): string => `${formatArg(address, true)}, ${formatArg(length, false)}, ${formatProt(prot)}, ${formatMapFlags(flags)}, ${String(fd)}, ${formatArg(offset, false)}`;
    const fail = (code: ErrnoCode, reason: string): never => {
      throw new SyscallError("mmap", call(), code, reason);
    };
    this.checkAlive("mmap", call);
    for (const [name, value] of [["addr", address], ["length", length], ["prot", prot], ["flags", flags], ["fd", fd], ["offset", offset]] as const) {
      if (typeof value !== "number" || !Number.isSafeInteger(value)) fail("EINVAL", `${name} must be an integer, got ${String(value)}`);
    }
    if (offset % PAGE_SIZE !== 0) fail("EINVAL", `offset ${offset} is not a multiple of the page size`);
    if ((flags & MAP_ANONYMOUS) === 0) fail("EBADF", `fd ${fd} is not an open file: only anonymous mappings (MAP_ANONYMOUS) are modelled`);
    if (length === 0) fail("EINVAL", "length is 0");
    // A negative length is a huge size_t; an unsigned value below 2^64 that overflows PAGE_ALIGN is ENOMEM.
    if (length < 0 || length > TASK_SIZE) fail("ENOMEM", `length ${length} is larger than the user address space (${hex(TASK_SIZE)})`);
    const type = flags & MAP_TYPE;
    const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
    let hint = address;
    if (!fixed) {
      // round_hint_to_min: a hint that rounds down to 0 is no hint; one below mmap_min_addr is raised.
      hint = Math.floor(hint / PAGE_SIZE) * PAGE_SIZE;
      if (hint !== 0 && hint < this.kernel.mmapMinAddr) hint = Math.ceil(this.kernel.mmapMinAddr / PAGE_SIZE) * PAGE_SIZE;
    }
    const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
    if (this.mm.vmas.count > this.kernel.maxMapCount) fail("ENOMEM", `the process has ${this.mm.vmas.count} mappings, above vm.max_map_count ${this.kernel.maxMapCount}`);
    if ((flags & MAP_HUGETLB) !== 0) fail("ENOMEM", "no huge pages are reserved (HugePages_Total is 0)");
    const shared = type === MAP_SHARED;
    let start: number;
    if (fixed) {
      if (address > TASK_SIZE - len) fail("ENOMEM", `${hex(address)}+${len} ends beyond the user address space (${hex(TASK_SIZE)})`);
      if (address % PAGE_SIZE !== 0) fail("EINVAL", `MAP_FIXED address ${hex(address)} is not page aligned`);
      if (address < this.kernel.mmapMinAddr) fail("EPERM", `address ${hex(address)} is below vm.mmap_min_addr (${hex(this.kernel.mmapMinAddr)})`);
      if ((flags & MAP_FIXED_NOREPLACE) !== 0 && this.mm.vmas.intersects(address, address + len)) {
        fail("EEXIST", `MAP_FIXED_NOREPLACE: ${hex(address)}-${hex(address + len)} overlaps an existing mapping`);
      }
      start = address;
    } else {
      start = this.unmappedArea(hint, len, shared, (flags & MAP_32BIT) !== 0);
      if (start < 0) fail("ENOMEM", `no free range of ${len} bytes in the address space`);
    }
    // do_mmap checks the type of an anonymous mapping after choosing the address: only
    // MAP_SHARED and MAP_PRIVATE (MAP_SHARED_VALIDATE is for files).
    if (type !== MAP_SHARED && type !== MAP_PRIVATE) {
      fail("EINVAL", `an anonymous mapping must be MAP_SHARED or MAP_PRIVATE (type ${hex(type)})`);
    }
    const end = start + len;
    let vmFlags = protToVmFlags(prot) | VM_MAY;
    if (shared) vmFlags |= VM_SHARED | VM_MAYSHARE;
    if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
    if (flags & MAP_LOCKED) vmFlags |= VM_LOCKED;
    if ((flags & MAP_NORESERVE) !== 0 && !this.kernel.strictOvercommit) vmFlags |= VM_NORESERVE;
    const accountable = !shared && (vmFlags & VM_WRITE) !== 0 && (vmFlags & VM_NORESERVE) === 0;
    // Map count after an implicit munmap of a FIXED range: it may split one VMA in two.
    if (fixed && this.mm.vmas.count + this.mm.vmas.splitsNeeded(start, end) > this.kernel.maxMapCount) {
      fail("ENOMEM", `splitting mappings would exceed vm.max_map_count ${this.kernel.maxMapCount}`);
    }
    if (accountable || (shared && (vmFlags & VM_NORESERVE) === 0)) {
      if (!this.kernel.charge(len / PAGE_SIZE)) fail("ENOMEM", `the overcommit policy refuses a commit charge of ${len / PAGE_SIZE} pages`);
      if (accountable) vmFlags |= VM_ACCOUNT;
      else this.kernel.uncharge(len / PAGE_SIZE); // shmem charges its own pages, not the VMA
    }
    if (fixed) this.unmapRange(start, end);
    // A shared anonymous mapping is backed by its own shmem file, "/dev/zero (deleted)": it never merges.
    const file: FileRef | undefined = shared ? this.kernel.newShmemFile() : undefined;
    const vma: Vma = { start, end, flags: vmFlags, pgoff: shared ? 0 : start / PAGE_SIZE, file, special: undefined, anonVma: 0 };
    this.mm.vmas.insert(vma);
    if (accountable) this.mm.committedPages += len / PAGE_SIZE;
    this.mm.updateHiwater();
    if ((flags & MAP_POPULATE) !== 0 && (flags & MAP_NONBLOCK) === 0 && (vmFlags & VM_ACCESS) !== 0) {
      this.mm.populate(start, end, (vmFlags & VM_WRITE) !== 0);
    }
    return start;
  }

  /** `get_unmapped_area` for an anonymous mapping without MAP_FIXED. Returns -1 when nothing fits. */
  private unmappedArea(hint: number, len: number, shared: boolean, low32: boolean): number {
    const vmas = this.mm.vmas;
    if (low32) {
      // MAP_32BIT: bottom-up in [0x40000000, 0x80000000).
      let at = 0x40000000;
      for (let i = vmas.indexAfter(at); at + len <= 0x80000000; i++) {
        const next = vmas.list[i];
        if (next === undefined || startGap(next) >= at + len) return at + len <= 0x80000000 ? at : -1;
        at = Math.max(at, next.end);
      }
      return -1;
    }
    if (hint !== 0 && hint <= TASK_SIZE - len) {
      const i = vmas.indexAfter(hint);
      const next = vmas.list[i];
      const prev = vmas.list[i - 1];
      const clear = (next === undefined || hint + len <= startGap(next)) && (prev === undefined || hint >= prev.end);
      if (clear && (next === undefined || next.start >= hint + len)) return hint;
    }
    const thp = this.kernel.thpAlignment && !shared && hint === 0 && len % HPAGE_PMD_SIZE === 0;
    return chooseAddress(vmas, { length: len, mmapBase: this.mmapBase, mmapMinAddr: this.kernel.mmapMinAddr }, thp);
  }

  // ---- mremap ---------------------------------------------------------------------------

  /** {@inheritDoc MremapSyscall.mremap} */
  mremap(oldAddress: number, oldLength: number, newLength: number, flags: number, newAddress = 0): number {
    checkRegisters("mremap", oldAddress, oldLength, newLength, flags, newAddress);
    const call = (): string =>
      `${formatArg(oldAddress, true)}, ${formatArg(oldLength, false)}, ${formatArg(newLength, false)}, ${formatArg(flags, false)}, ${formatArg(newAddress, true)}`;
    const fail = (code: ErrnoCode, reason: string): never => {
      throw new SyscallError("mremap", call(), code, reason);
    };
    this.checkAlive("mremap", call);
    for (const [name, value] of [["old_address", oldAddress], ["old_size", oldLength], ["new_size", newLength], ["flags", flags], ["new_address", newAddress]] as const) {
      if (typeof value !== "number" || !Number.isSafeInteger(value)) fail("EINVAL", `${name} must be an integer, got ${String(value)}`);
    }
    if ((flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0) fail("EINVAL", `unknown flags ${hex(flags)}`);
    if ((flags & MREMAP_FIXED) !== 0 && (flags & MREMAP_MAYMOVE) === 0) fail("EINVAL", "MREMAP_FIXED without MREMAP_MAYMOVE");
    if ((flags & MREMAP_DONTUNMAP) !== 0 && ((flags & MREMAP_MAYMOVE) === 0 || oldLength !== newLength)) {
      fail("EINVAL", "MREMAP_DONTUNMAP needs MREMAP_MAYMOVE and equal sizes");
    }
    if (oldAddress % PAGE_SIZE !== 0) fail("EINVAL", `address ${hex(oldAddress)} is not page aligned`);
    if (oldLength < 0 || newLength < 0 || oldLength > TASK_SIZE || newLength > TASK_SIZE) fail("EINVAL", "a size is larger than the address space");
    const oldLen = Math.ceil(oldLength / PAGE_SIZE) * PAGE_SIZE;
    const newLen = Math.ceil(newLength / PAGE_SIZE) * PAGE_SIZE;
    if (newLen === 0) fail("EINVAL", "new_size is 0");
    if (oldLen === 0) fail("EINVAL", "old_size 0 (duplicating a shared mapping) is not modelled");
    const vmas = this.mm.vmas;
    const fixed = (flags & MREMAP_FIXED) !== 0;
    if (fixed) {
      if (newAddress % PAGE_SIZE !== 0) fail("EINVAL", `new_address ${hex(newAddress)} is not page aligned`);
      if (newAddress < 0 || newAddress > TASK_SIZE - newLen) fail("EINVAL", `${hex(newAddress)}+${newLen} is outside the user address space`);
      if (newAddress < oldAddress + oldLen && oldAddress < newAddress + newLen) fail("EINVAL", "the old and new ranges overlap");
    }
    const vma = vmas.find(oldAddress);
    if (vma === undefined || oldAddress + oldLen > vma.end) fail("EFAULT", `${hex(oldAddress)}-${hex(oldAddress + oldLen)} is not inside one mapping`);
    const source = vma!;
    if (!fixed && newLen <= oldLen) {
      if (newLen < oldLen) this.unmapRange(oldAddress + newLen, oldAddress + oldLen);
      return oldAddress;
    }
    const grow = Math.max(0, newLen - oldLen) / PAGE_SIZE;
    const accounted = (source.flags & VM_ACCOUNT) !== 0;
    if (!fixed) {
      // grow in place: the range ends the mapping and the pages after it are free
      const next = vmas.list[vmas.indexAfter(source.end)];
      if (oldAddress + oldLen === source.end && oldAddress + newLen <= TASK_SIZE && (next === undefined || startGap(next) >= oldAddress + newLen)) {
        if (accounted && !this.kernel.charge(grow)) fail("ENOMEM", `the overcommit policy refuses a commit charge of ${grow} pages`);
        if (accounted) this.mm.committedPages += grow;
        source.end = oldAddress + newLen;
        source.softClean = false; // an expanded VMA is soft-dirty
        vmas.mergeRange(source.start, source.end);
        this.mm.updateHiwater();
        return oldAddress;
      }
      if ((flags & MREMAP_MAYMOVE) === 0) fail("ENOMEM", `the pages after ${hex(source.end)} are not free and MREMAP_MAYMOVE is not set`);
    }
    if (vmas.count + 2 > this.kernel.maxMapCount) fail("ENOMEM", `moving would exceed vm.max_map_count ${this.kernel.maxMapCount}`);
    const shared = (source.flags & VM_SHARED) !== 0;
    const target = fixed ? newAddress : this.unmappedArea(0, newLen, shared, false);
    if (target < 0) fail("ENOMEM", `no free range of ${newLen} bytes to move to`);
    if (accounted && grow > 0 && !this.kernel.charge(grow)) fail("ENOMEM", `the overcommit policy refuses a commit charge of ${grow} pages`);
    if (accounted) this.mm.committedPages += grow;
    if (fixed) this.unmapRange(target, target + newLen);
    const moved = Math.min(oldLen, newLen);
    const copy: Vma = { ...source, start: target, end: target + newLen, pgoff: source.pgoff + (oldAddress - source.start) / PAGE_SIZE };
    this.mm.movePages(oldAddress, target, moved);
    // the new VMA goes in first: a shmem file must not look unused while the old range goes
    vmas.insert(copy);
    // the moved pages keep their commit charge: the old range goes without uncharging
    if ((flags & MREMAP_DONTUNMAP) === 0) this.unmapRange(oldAddress, oldAddress + oldLen, false);
    else if (accounted) {
      // the old range stays mapped (and charged) with nothing in it
      this.kernel.charge(moved / PAGE_SIZE);
      this.mm.committedPages += moved / PAGE_SIZE;
    }
    this.mm.updateHiwater();
    return target;
  }

  // ---- munmap --------------------------------------------------------------------------

  /** {@inheritDoc MemorySyscalls.munmap} */
  munmap(address: number, length: number): void {
    checkRegisters("munmap", address, length);
    const call = (): string => `${formatArg(address, true)}, ${formatArg(length, false)}`;
    const fail = (code: ErrnoCode, reason: string): never => {
      throw new SyscallError("munmap", call(), code, reason);
    };
    this.checkAlive("munmap", call);
    if (typeof address !== "number" || !Number.isSafeInteger(address)) fail("EINVAL", `addr must be an integer, got ${String(address)}`);
    if (typeof length !== "number" || !Number.isSafeInteger(length)) fail("EINVAL", `length must be an integer, got ${String(length)}`);
    if (address % PAGE_SIZE !== 0) fail("EINVAL", `address ${hex(address)} is not page aligned`);
    if (address < 0 || address > TASK_SIZE || length < 0 || length > TASK_SIZE - address) {
      fail("EINVAL", `the range ${hex(address)}+${length} is not inside the user address space (0x0-${hex(TASK_SIZE)})`);
    }
    const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
    if (len === 0) fail("EINVAL", "length is 0");
    const end = address + len;
    if (this.mm.vmas.count + this.mm.vmas.splitsNeeded(address, end) > this.kernel.maxMapCount) {
      fail("ENOMEM", `splitting a mapping would exceed vm.max_map_count ${this.kernel.maxMapCount}`);
    }
    this.unmapRange(address, end);
  }

  /**
   * Removes `[start, end)` (page aligned): VMAs, entries, frames, commit charge (unless
   * `uncharge` is false: mremap moves the charge along), empty page tables.
   */
  private unmapRange(start: number, end: number, uncharge = true): void {
    const removed = this.mm.vmas.remove(start, end);
    if (removed.length === 0) return;
    const shmem: FileRef[] = [];
    for (const piece of removed) {
      if (piece.file?.shmem !== undefined) shmem.push(piece.file);
      this.mm.zapRange(piece.start, piece.end);
      if (uncharge && (piece.flags & VM_ACCOUNT) !== 0) {
        const pages = (piece.end - piece.start) / PAGE_SIZE;
        this.kernel.uncharge(pages);
        this.mm.committedPages -= pages;
      }
    }
    this.mm.freePageTables(start, end);
    if (shmem.length > 0) this.kernel.releaseShmem(shmem);
  }

  // ---- mprotect ------------------------------------------------------------------------

  /**
   * {@inheritDoc MemorySyscalls.mprotect}
   *
   * As in Linux, a hole in the range fails with ENOMEM after the mappings below the hole have
   * been changed (a hole at the start changes nothing).
   */
  mprotect(address: number, length: number, prot: number): void {
    checkRegisters("mprotect", address, length, prot);
    const call = (): string => `${formatArg(address, true)}, ${formatArg(length, false)}, ${formatProt(prot)}`;
    const fail = (code: ErrnoCode, reason: string): never => {
      throw new SyscallError("mprotect", call(), code, reason);
    };
    this.checkAlive("mprotect", call);
    for (const [name, value] of [["addr", address], ["length", length], ["prot", prot]] as const) {
      if (typeof value !== "number" || !Number.isSafeInteger(value)) fail("EINVAL", `${name} must be an integer, got ${String(value)}`);
    }
    if ((prot & PROT_GROWSDOWN) !== 0 && (prot & PROT_GROWSUP) !== 0) fail("EINVAL", "PROT_GROWSDOWN and PROT_GROWSUP together");
    if (address % PAGE_SIZE !== 0) fail("EINVAL", `address ${hex(address)} is not page aligned`);
    if (length === 0) return;
    const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
    if (length < 0 || address < 0 || address + len > 2 ** 64) fail("ENOMEM", `the range ${hex(address)}+${length} wraps around`);
    if ((prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | 0x8 | PROT_GROWSDOWN | PROT_GROWSUP)) !== 0) {
      fail("EINVAL", `unknown protection bits ${hex(prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | 0x8))}`);
    }
    let start = address;
    const end = address + len;
    const vmas = this.mm.vmas;
    if ((prot & PROT_GROWSDOWN) !== 0) {
      const first = vmas.find(start);
      if (first === undefined || (first.flags & VM_GROWSDOWN) === 0) fail("EINVAL", "PROT_GROWSDOWN on a mapping that does not grow down");
      start = first!.start;
    }
    const first = vmas.list[vmas.indexAfter(start)];
    if (first === undefined || first.start > start) fail("ENOMEM", `${hex(start)} is not mapped`);
    const newAccess = protToVmFlags(prot);
    // As Linux does: VMA by VMA from the start; a hole stops the walk with ENOMEM, leaving the
    // mappings before it changed.
    let at = start;
    let error: [ErrnoCode, string] | undefined;
    while (at < end) {
      const vma = vmas.find(at);
      if (vma === undefined) {
        error = ["ENOMEM", `${hex(at)} is not mapped (the range below it was changed)`];
        break;
      }
      const to = Math.min(end, vma.end);
      let flags = (vma.flags & ~VM_ACCESS) | newAccess;
      let charge = 0;
      if ((newAccess & VM_WRITE) !== 0 && (vma.flags & (VM_ACCOUNT | VM_WRITE | VM_SHARED | VM_NORESERVE)) === 0) {
        charge = (to - at) / PAGE_SIZE;
        flags |= VM_ACCOUNT;
      }
      if (flags !== vma.flags) {
        if (vmas.count + vmas.splitsNeeded(at, to) > this.kernel.maxMapCount) {
          error = ["ENOMEM", `splitting would exceed vm.max_map_count ${this.kernel.maxMapCount}`];
          break;
        }
        if (charge > 0 && !this.kernel.charge(charge)) {
          error = ["ENOMEM", `the overcommit policy refuses a commit charge of ${charge} pages`];
          break;
        }
        this.mm.committedPages += charge;
        for (const piece of vmas.isolate(at, to)) {
          piece.flags = flags;
          this.mm.protectRange(piece, piece.start, piece.end);
        }
      }
      at = to;
    }
    vmas.mergeRange(start, at);
    if (error !== undefined) fail(error[0], error[1]);
  }

  // ---- madvise -------------------------------------------------------------------------

  /**
   * {@inheritDoc MemorySyscalls.madvise}
   *
   * As in Linux, a range with unmapped holes fails with ENOMEM after the advice has been
   * applied to the mapped parts.
   */
  madvise(address: number, length: number, advice: number): void {
    checkRegisters("madvise", address, length, advice);
    const call = (): string => `${formatArg(address, true)}, ${formatArg(length, false)}, ${formatArg(advice, false)}`;
    const fail = (code: ErrnoCode, reason: string): never => {
      throw new SyscallError("madvise", call(), code, reason);
    };
    this.checkAlive("madvise", call);
    for (const [name, value] of [["addr", address], ["length", length], ["advice", advice]] as const) {
      if (typeof value !== "number" || !Number.isSafeInteger(value)) fail("EINVAL", `${name} must be an integer, got ${String(value)}`);
    }
    if (!KNOWN_ADVICE.has(advice)) fail("EINVAL", `unknown advice ${advice}`);
    if (address % PAGE_SIZE !== 0) fail("EINVAL", `address ${hex(address)} is not page aligned`);
    const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
    if (length < 0 || address < 0) fail("EINVAL", `the range ${hex(address)}+${length} wraps around`);
    if (len === 0) return;
    const end = address + len;
    const vmas = this.mm.vmas;
    const pieces: Vma[] = [];
    for (let i = vmas.indexAfter(address); i < vmas.list.length && vmas.list[i]!.start < end; i++) pieces.push(vmas.list[i]!);
    const hole = !vmas.covers(address, end);
    if (advice === MADV_WIPEONFORK && pieces.some((v) => (v.flags & VM_SHARED) !== 0 || v.file !== undefined)) {
      fail("EINVAL", "MADV_WIPEONFORK applies to private anonymous mappings only");
    }
    if ((advice === MADV_DONTNEED || advice === MADV_FREE) && pieces.some((v) => (v.flags & VM_LOCKED) !== 0)) {
      fail("EINVAL", "the range contains locked (VM_LOCKED) pages");
    }
    if (advice === MADV_FREE && pieces.some((v) => v.file !== undefined || v.special !== undefined)) {
      fail("EINVAL", "MADV_FREE applies to anonymous mappings only");
    }
    if (advice === MADV_REMOVE && pieces.some((v) => (v.flags & VM_SHARED) === 0)) fail("EINVAL", "MADV_REMOVE needs a shared mapping");
    const flagChange = FLAG_ADVICE.get(advice);
    if (flagChange !== undefined) {
      if (vmas.count + vmas.splitsNeeded(address, end) > this.kernel.maxMapCount) fail("ENOMEM", "splitting would exceed vm.max_map_count");
      for (const vma of vmas.isolate(address, end)) vma.flags = (vma.flags & ~flagChange.clear) | flagChange.set;
      vmas.mergeRange(address, end);
    } else {
      for (const vma of pieces) {
        const from = Math.max(address, vma.start);
        const to = Math.min(end, vma.end);
        if (advice === MADV_DONTNEED || advice === MADV_DONTNEED_LOCKED || advice === MADV_REMOVE) this.mm.zapRange(from, to, true);
        if (advice === MADV_REMOVE && vma.file !== undefined) {
          const first = vma.pgoff + (from - vma.start) / PAGE_SIZE;
          this.kernel.punchShmem(vma.file, first, first + (to - from) / PAGE_SIZE);
        }
        else if (advice === MADV_FREE) this.mm.lazyFreeRange(from, to);
        else if (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE) {
          if ((vma.flags & VM_ACCESS) === 0 || (advice === MADV_POPULATE_WRITE && (vma.flags & VM_WRITE) === 0)) {
            fail("ENOMEM", `${hex(from)}-${hex(to)} does not allow the access`);
          }
          this.mm.populate(from, to, advice === MADV_POPULATE_WRITE);
        }
      }
    }
    if (hole) fail("ENOMEM", `${hex(address)}-${hex(end)} contains unmapped pages (the mapped parts were advised)`);
  }

  // ---- brk -----------------------------------------------------------------------------

  /** {@inheritDoc MemorySyscalls.brk} */
  brk(address: number): number {
    checkRegisters("brk", address);
    if (this.fatal !== undefined) throw this.fatal;
    if (this.exited) return this.currentBrk;
    const old = this.currentBrk;
    if (typeof address !== "number" || !Number.isSafeInteger(address) || address < this.startBrk) return old;
    const newTop = Math.ceil(address / PAGE_SIZE) * PAGE_SIZE;
    const oldTop = Math.ceil(old / PAGE_SIZE) * PAGE_SIZE;
    if (newTop === oldTop) {
      this.currentBrk = address;
      return address;
    }
    if (address <= old) {
      this.unmapRange(newTop, oldTop);
      this.currentBrk = address;
      return address;
    }
    if (newTop > TASK_SIZE) return old;
    const vmas = this.mm.vmas;
    const next = vmas.list[vmas.indexAfter(oldTop)];
    if (next !== undefined && newTop + PAGE_SIZE > startGap(next)) return old;
    if (vmas.count >= this.kernel.maxMapCount) return old;
    const pages = (newTop - oldTop) / PAGE_SIZE;
    if (!this.kernel.charge(pages)) return old;
    this.mm.committedPages += pages;
    // do_brk_flags: extend the heap VMA that ends at the old top, else a new VMA (no merging
    // with .bss below start_brk).
    const i = vmas.indexAfter(oldTop - 1);
    const heap = vmas.list[i];
    if (heap !== undefined && heap.end === oldTop && heap.start >= this.startBrk && heap.flags === BRK_FLAGS && heap.file === undefined) {
      heap.end = newTop;
      heap.softClean = false; // do_brk_flags: VM_SOFTDIRTY
    } else {
      vmas.list.splice(vmas.indexAfter(oldTop), 0, {
        start: oldTop,
        end: newTop,
        flags: BRK_FLAGS,
        pgoff: oldTop / PAGE_SIZE,
        file: undefined,
        special: undefined,
        anonVma: 0,
      });
    }
    this.currentBrk = address;
    this.mm.updateHiwater();
    return address;
  }

  /**
   * {@inheritDoc MemorySyscalls.sbrk}
   *
   * As glibc's: the break is cached (`__curbrk`, read with brk(0) on first use and updated by
   * every sbrk), and the call fails only when the kernel's answer is below the requested break
   * (so shrinking below start_brk "succeeds" and leaves the break where it was).
   */
  sbrk(increment: number): number {
    checkRegisters("sbrk", increment);
    if (this.fatal !== undefined) throw this.fatal;
    const call = formatArg(increment, false);
    if (typeof increment !== "number" || !Number.isSafeInteger(increment)) {
      throw new SyscallError("sbrk", call, "EINVAL", `increment must be an integer, got ${String(increment)}`);
    }
    if (this.libcBrk === 0) this.libcBrk = this.brk(0);
    const old = this.libcBrk;
    if (increment === 0) return old;
    if (increment > 0 ? old + increment >= 2 ** 64 : old < -increment) {
      throw new SyscallError("sbrk", call, "ENOMEM", `the break ${hex(old)} moved by ${increment} would wrap around`);
    }
    const result = this.brk(old + increment);
    this.libcBrk = result;
    if (result < old + increment) {
      throw new SyscallError(
        "sbrk",
        call,
        "ENOMEM",
        `the break cannot move from ${hex(old)} to ${hex(old + increment)} (into another mapping, or refused by the overcommit policy)`,
      );
    }
    return old;
  }

  // ---- views ---------------------------------------------------------------------------

  /** /proc/PID/maps, in Linux's exact format. */
  maps(): string {
    return formatMaps(this);
  }

  /** The memory lines of /proc/PID/status (VmPeak .. HugetlbPages), in Linux's exact format. */
  status(): string {
    return formatStatus(this);
  }

  /**
   * `fork()`: a child process with a copy of this address space. Private pages are shared
   * copy-on-write (both page-table entries lose write permission; the first write in either
   * process copies the page), shared mappings stay shared, MADV_DONTFORK mappings are left
   * out and MADV_WIPEONFORK ones start empty in the child. The child's VM_ACCOUNT mappings are
   * charged to the commit limit; if the policy refuses, fork fails with ENOMEM.
   */
  fork(): Process {
    this.checkAlive("fork", () => "");
    return this.kernel.fork(this);
  }

  /** /proc/PID/smaps: each maps line followed by the mapping's page counts, in Linux's format. */
  smaps(): string {
    return formatSmaps(this);
  }

  /** /proc/PID/statm: `size resident shared text lib data dt` in pages. */
  statm(): string {
    return formatStatm(this);
  }

  /** Ends the process: every mapping is unmapped and the page tables are freed. */
  exit(): void {
    if (this.exited) return;
    const shmem = this.mm.vmas.list.flatMap((vma) => (vma.file?.shmem !== undefined ? [vma.file] : []));
    this.mm.destroy();
    this.exited = true;
    if (shmem.length > 0) this.kernel.releaseShmem(shmem);
  }

  /** Whether the process has exited. */
  get hasExited(): boolean {
    return this.exited;
  }

  /** `/proc/PID/oom_score_adj`: -1000 (never OOM-killed) .. 1000; other values throw RangeError. */
  get oomScoreAdj(): number {
    return this.scoreAdj;
  }

  set oomScoreAdj(value: number) {
    if (typeof value !== "number" || !Number.isInteger(value) || value < OOM_SCORE_ADJ_MIN || value > OOM_SCORE_ADJ_MAX) {
      throw new RangeError(`os-vm: oom_score_adj of pid ${this.pid} must be an integer in -1000..1000, got ${String(value)}`);
    }
    this.scoreAdj = value;
  }

  /** The fatal signal that ended the process (a `ProcessKilledError`), or undefined while it lives or after a normal exit. */
  get killedBy(): ProcessKilledError | undefined {
    return this.fatal;
  }

  /**
   * Delivers an uncatchable fatal signal (the OOM killer's SIGKILL): the process exits at once,
   * its memory going back to the page allocator, and every later system call or memory
   * access throws `signal`. Used by the kernel.
   */
  deliverFatalSignal(signal: ProcessKilledError): void {
    if (this.exited) return;
    this.fatal = signal;
    this.mm.fatal = signal;
    this.exit();
  }

  private checkAlive(syscall: string, call: () => string): void {
    if (this.fatal !== undefined) throw this.fatal;
    if (this.exited) throw new SyscallError(syscall, call(), "EINVAL", `process ${this.pid} has exited`);
  }
}

/** The base name of the image's executable (its first executable mapping's path), or `a.out`. */
function executableName(image: ProcessImage): string {
  const path = image.mappings.find((mapping) => mapping.executable === true && mapping.name !== undefined)?.name;
  return path === undefined ? "a.out" : path.slice(path.lastIndexOf("/") + 1);
}
