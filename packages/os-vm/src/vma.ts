import { PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_GUARD_GAP } from "./api.js";

/**
 * Virtual memory areas: the process's mappings, a sorted list of `[start, end)` page-aligned
 * ranges with Linux's `vm_flags`. Kept on the JavaScript side as the kernel's own bookkeeping
 * (Linux keeps them in a maple tree in kernel memory); what a mapping holds lives in the
 * page tables and frames in RAM.
 */
export interface Vma {
  /** First address. */
  start: number;
  /** End address, exclusive. */
  end: number;
  /** `VM_*` flags. */
  flags: number;
  /** Offset in pages: for an anonymous mapping `start >> 12` at creation, for a file its page offset. */
  pgoff: number;
  /** Backing file, if any (image mappings only). */
  file: FileRef | undefined;
  /** Name of a special mapping (`[vdso]`, `[vvar]`, `[vvar_vclock]`): never merges. */
  special: string | undefined;
  /** Identity of the `anon_vma` (0: none yet; given at the first fault). */
  anonVma: number;
  /**
   * `VM_SOFTDIRTY` is clear: set by `clear_refs` 4, dropped when the VMA is expanded (brk,
   * mremap) or merged with a new mapping. Absent or false (a new VMA): every page of it reads
   * soft-dirty in pagemap. Kept outside `flags` so that smaps' VmFlags stay those of the
   * measured kernel (built without soft-dirty: no `sd`).
   */
  softClean?: boolean;
}

/** A file backing an image mapping: what /proc/PID/maps prints for it. */
export interface FileRef {
  /** Device, `"fe:00"`. */
  readonly device: string;
  /** Inode number. */
  readonly inode: number;
  /** Path. */
  readonly name: string;
  /** Part of the main executable (VmExe) rather than a library (VmLib). */
  readonly executable: boolean;
  /** For the shmem file behind a shared anonymous mapping: its page cache. */
  readonly shmem?: ShmemFile;
}

/**
 * The shmem file behind a shared anonymous mapping (`/dev/zero (deleted)`): its page cache,
 * page index to frame number. The cache holds one reference on each frame (`struct page`
 * count), so a page outlives the mappings that drop it (MADV_DONTNEED, munmap of one of
 * several mappers) until the file goes away with its last mapping.
 */
export interface ShmemFile {
  /** Page index in the file to frame number. */
  readonly pages: Map<number, number>;
}

/** `VM_READ`. */
export const VM_READ = 0x1;
/** `VM_WRITE`. */
export const VM_WRITE = 0x2;
/** `VM_EXEC`. */
export const VM_EXEC = 0x4;
/** `VM_SHARED`. */
export const VM_SHARED = 0x8;
/** `VM_MAYREAD`. */
export const VM_MAYREAD = 0x10;
/** `VM_MAYWRITE`. */
export const VM_MAYWRITE = 0x20;
/** `VM_MAYEXEC`. */
export const VM_MAYEXEC = 0x40;
/** `VM_MAYSHARE`. */
export const VM_MAYSHARE = 0x80;
/** `VM_GROWSDOWN`. */
export const VM_GROWSDOWN = 0x100;
/** `VM_LOCKED`. */
export const VM_LOCKED = 0x2000;
/** `VM_DONTCOPY` (MADV_DONTFORK). */
export const VM_DONTCOPY = 0x20000;
/** `VM_ACCOUNT`: charged to the commit limit. */
export const VM_ACCOUNT = 0x100000;
/** `VM_NORESERVE`. */
export const VM_NORESERVE = 0x200000;
/** `VM_WIPEONFORK`. */
export const VM_WIPEONFORK = 0x2000000;
/** `VM_DONTDUMP`. */
export const VM_DONTDUMP = 0x4000000;
/** `VM_HUGEPAGE` (MADV_HUGEPAGE). */
export const VM_HUGEPAGE = 0x20000000;
/** `VM_NOHUGEPAGE` (MADV_NOHUGEPAGE). */
export const VM_NOHUGEPAGE = 0x40000000;
/** The access bits of `vm_flags`. */
export const VM_ACCESS = VM_READ | VM_WRITE | VM_EXEC;
/** `VM_STACK`: the flags that make a mapping count in VmStk. */
export const VM_STACK = VM_GROWSDOWN;

/** `calc_vm_prot_bits`: PROT_* to VM_READ/WRITE/EXEC. */
export function protToVmFlags(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/** The four permission characters of a maps line: `rw-p`. */
export function permsOf(vma: Vma): string {
  return (
    (vma.flags & VM_READ ? "r" : "-") +
    (vma.flags & VM_WRITE ? "w" : "-") +
    (vma.flags & VM_EXEC ? "x" : "-") +
    (vma.flags & VM_MAYSHARE ? "s" : "p")
  );
}

/** Bytes of a VMA. */
export function vmaSize(vma: Vma): number {
  return vma.end - vma.start;
}

/** `vm_start_gap`: the start of a VMA including the guard gap below a grows-down mapping. */
export function startGap(vma: Vma): number {
  return vma.flags & VM_GROWSDOWN ? Math.max(0, vma.start - STACK_GUARD_GAP) : vma.start;
}

/**
 * Whether `a` (below) and `b` (above, touching) may become one VMA: same flags, same file
 * with contiguous offsets (or both anonymous), neither special, compatible anon_vma
 * (`is_mergeable_vma` + `is_mergeable_anon_vma`).
 */
export function canMerge(a: Vma, b: Vma): boolean {
  return (
    a.end === b.start &&
    a.flags === b.flags &&
    a.special === undefined &&
    b.special === undefined &&
    a.file === b.file &&
    a.pgoff + (a.end - a.start) / PAGE_SIZE === b.pgoff &&
    (a.anonVma === 0 || b.anonVma === 0 || a.anonVma === b.anonVma)
  );
}

/**
 * The sorted list of a process's VMAs with the operations the system calls need: lookup,
 * split at an address, remove a range, insert with merging.
 */
export class VmaList {
  /** The VMAs, sorted by address, non-overlapping. */
  readonly list: Vma[] = [];

  /** Number of VMAs (`mm->map_count`). */
  get count(): number {
    return this.list.length;
  }

  /** Index of the first VMA whose end is above `address` (`find_vma`), or `list.length`. */
  indexAfter(address: number): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.list[mid]!.end <= address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The VMA containing `address`, if any. */
  find(address: number): Vma | undefined {
    const vma = this.list[this.indexAfter(address)];
    return vma !== undefined && vma.start <= address ? vma : undefined;
  }

  /** Whether any VMA intersects `[start, end)`. */
  intersects(start: number, end: number): boolean {
    const vma = this.list[this.indexAfter(start)];
    return vma !== undefined && vma.start < end;
  }

  /** Whether `[start, end)` is covered by VMAs without a hole. */
  covers(start: number, end: number): boolean {
    let at = start;
    for (let i = this.indexAfter(start); i < this.list.length && at < end; i++) {
      const vma = this.list[i]!;
      if (vma.start > at) return false;
      at = vma.end;
    }
    return at >= end;
  }

  /** Splits the VMA containing `address` (if it is strictly inside) into two at `address`. */
  splitAt(address: number): void {
    const i = this.indexAfter(address);
    const vma = this.list[i];
    if (vma === undefined || vma.start >= address) return;
    const upper: Vma = { ...vma, start: address, pgoff: vma.pgoff + (address - vma.start) / PAGE_SIZE };
    vma.end = address;
    this.list.splice(i + 1, 0, upper);
  }

  /** Number of VMAs that `[start, end)` would add by splitting (0, 1 or 2). */
  splitsNeeded(start: number, end: number): number {
    let n = 0;
    const a = this.find(start);
    if (a !== undefined && a.start < start) n++;
    const b = this.find(end);
    if (b !== undefined && b.start < end && b.end > end) n++;
    return n;
  }

  /** Removes `[start, end)` from the list (splitting VMAs at the edges) and returns the removed pieces. */
  remove(start: number, end: number): Vma[] {
    this.splitAt(start);
    this.splitAt(end);
    const first = this.indexAfter(start);
    let last = first;
    while (last < this.list.length && this.list[last]!.start < end) last++;
    return this.list.splice(first, last - first);
  }

  /** The VMAs intersecting `[start, end)`, in address order (nothing split). */
  overlapping(start: number, end: number): Vma[] {
    const out: Vma[] = [];
    for (let i = this.indexAfter(start); i < this.list.length && this.list[i]!.start < end; i++) out.push(this.list[i]!);
    return out;
  }

  /** The VMAs intersecting `[start, end)` after splitting them at the edges (for mprotect/madvise). */
  isolate(start: number, end: number): Vma[] {
    this.splitAt(start);
    this.splitAt(end);
    const out: Vma[] = [];
    for (let i = this.indexAfter(start); i < this.list.length && this.list[i]!.start < end; i++) out.push(this.list[i]!);
    return out;
  }

  /** Inserts `vma` (its range must be free) and merges it with touching compatible neighbours. */
  insert(vma: Vma): Vma {
    const i = this.indexAfter(vma.start);
    this.list.splice(i, 0, vma);
    return this.mergeAround(i);
  }

  /** Merges the VMA at index `i` with its neighbours where allowed; returns the surviving VMA. */
  mergeAround(i: number): Vma {
    let vma = this.list[i]!;
    const next = this.list[i + 1];
    if (next !== undefined && canMerge(vma, next)) {
      vma.end = next.end;
      vma.anonVma ||= next.anonVma;
      vma.softClean = vma.softClean === true && next.softClean === true;
      this.list.splice(i + 1, 1);
    }
    const prev = this.list[i - 1];
    if (prev !== undefined && canMerge(prev, vma)) {
      prev.end = vma.end;
      prev.anonVma ||= vma.anonVma;
      prev.softClean = prev.softClean === true && vma.softClean === true;
      this.list.splice(i, 1);
      vma = prev;
    }
    return vma;
  }

  /** Merges every touching compatible pair inside `[start, end]` (after mprotect/madvise). */
  mergeRange(start: number, end: number): void {
    let i = Math.max(0, this.indexAfter(start) - 1);
    while (i < this.list.length - 1) {
      const a = this.list[i]!;
      if (a.start > end) break;
      const b = this.list[i + 1]!;
      if (canMerge(a, b)) {
        a.end = b.end;
        a.anonVma ||= b.anonVma;
        a.softClean = a.softClean === true && b.softClean === true;
        this.list.splice(i + 1, 1);
      } else i++;
    }
  }
}
