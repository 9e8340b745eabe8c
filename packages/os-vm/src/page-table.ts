import type { Memory } from "@mem/hardware";
import { PAGE_SIZE } from "./api.js";
import { PG_PGTABLE, type PageAllocator } from "./page-allocator.js";

/**
 * x86-64 4-level page tables, stored in frames of the page allocator.
 *
 * ```
 *  virtual address (47 bits used)
 *  ┌────────┬────────┬────────┬────────┬────────────┐
 *  │ 47..39 │ 38..30 │ 29..21 │ 20..12 │   11..0    │
 *  │  PGD   │  PUD   │  PMD   │  PTE   │   offset   │
 *  └────────┴────────┴────────┴────────┴────────────┘
 *  CR3 ─► PGD page ─► PUD page ─► PMD page ─► PTE page ─► 4 KiB frame
 *          512 entries of 8 bytes each level, one 4 KiB frame per table
 *
 *  one 64-bit entry, little-endian (stored as two 32-bit words):
 *   63  62..52  51.........12  11 10  9   8   7   6   5   4   3   2   1   0
 *  ┌──┬───────┬──────────────┬──┬──┬───┬───┬───┬───┬───┬───┬───┬───┬───┬───┐
 *  │NX│   0   │ frame number │SD│  │SPC│PNO│PS │ D │ A │PCD│PWT│U/S│R/W│ P │
 *  └──┴───────┴──────────────┴──┴──┴───┴───┴───┴───┴───┴───┴───┴───┴───┴───┘
 *  SPC (bit 9, _PAGE_SPECIAL): the shared zero page.  PNO (bit 8, _PAGE_PROTNONE):
 *  a PROT_NONE page that still holds its frame (P is clear).  Bit 10 with P clear: a swap
 *  entry whose "frame number" is the swap slot.  SD (bit 11, _PAGE_SOFT_DIRTY): written
 *  since the last `clear_refs` 4 (kept in a swap entry too, as _PAGE_SWP_SOFT_DIRTY).
 * ```
 *
 * Table pages are counted as Linux's `mm->pgtables_bytes` counts them (PUD, PMD and PTE
 * pages; the PGD is not), which is what VmPTE shows.
 */
export class PageTable {
  /** Frame number of the PGD (what CR3 would hold). */
  readonly root: number;
  /** Table pages below the PGD (PUD + PMD + PTE pages): VmPTE / 4 kB. */
  tablePages = 0;
  private readonly ram: Memory;
  private readonly pages: PageAllocator;

  private readonly allocZeroed: () => number;

  /**
   * Allocates an empty PGD. Table frames come from `allocZeroed` (a zeroed frame; the kernel
   * passes its reclaiming allocator), or straight from `pages`.
   */
  constructor(pages: PageAllocator, allocZeroed?: () => number) {
    this.pages = pages;
    this.ram = pages.ram;
    this.allocZeroed =
      allocZeroed ??
      (() => {
        const pfn = pages.alloc(0, "a page table");
        this.ram.fill(pfn * PAGE_SIZE, PAGE_SIZE, 0);
        return pfn;
      });
    this.root = this.newTable();
  }

  /**
   * Physical address of the PTE of virtual page `vpn`, or -1 when a table on the way is
   * missing. With `create`, missing tables are allocated (zeroed frames).
   */
  pteAddress(vpn: number, create: boolean): number {
    let table = this.root;
    for (let level = 3; level > 0; level--) {
      const slot = table * PAGE_SIZE + levelIndex(vpn, level) * 8;
      const low = this.ram.load32(slot);
      if ((low & PTE_PRESENT) === 0) {
        if (!create) return -1;
        const child = this.newTable();
        this.tablePages++;
        writeEntry(this.ram, slot, child, PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED, false);
        table = child;
      } else {
        table = entryFrame(this.ram, slot, low);
      }
    }
    return table * PAGE_SIZE + (vpn & 511) * 8;
  }

  /**
   * Calls `visit(pteAddress, vpn)` for every PTE in `[startVpn, endVpn)` whose word is not
   * zero, skipping missing tables entirely.
   */
  forEachEntry(startVpn: number, endVpn: number, visit: (pteAddress: number, vpn: number) => void): void {
    this.walk(this.root, 3, 0, startVpn, endVpn, visit);
  }

  /**
   * Calls `visit(table, baseVpn, from, to)` for every PTE page present under `[startVpn, endVpn)`:
   * `table` is its frame, and its entries `from` to `to - 1` map pages `baseVpn + from` on
   * (for walkers that read a whole PTE page at once).
   */
  forEachPteTable(startVpn: number, endVpn: number, visit: (table: number, baseVpn: number, from: number, to: number) => void): void {
    this.walkTables(this.root, 3, 0, startVpn, endVpn, visit);
  }

  private walkTables(table: number, level: number, base: number, start: number, end: number, visit: (t: number, b: number, from: number, to: number) => void): void {
    const span = SPAN[level]!;
    const first = Math.max(0, Math.floor((start - base) / span));
    const last = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = first; i <= last; i++) {
      const slot = table * PAGE_SIZE + i * 8;
      const low = this.ram.load32(slot);
      if ((low & PTE_PRESENT) === 0) continue;
      const child = entryFrame(this.ram, slot, low);
      const childBase = base + i * span;
      if (level === 1) visit(child, childBase, Math.max(0, start - childBase), Math.min(512, end - childBase));
      else this.walkTables(child, level - 1, childBase, start, end, visit);
    }
  }

  /**
   * Frees the table pages whose whole span lies in `[floorVpn, ceilingVpn)` (no mapping
   * there any more) and that intersect `[startVpn, endVpn)` (Linux's `free_pgtables`).
   * Their entries must already be clear.
   */
  freeTables(startVpn: number, endVpn: number, floorVpn: number, ceilingVpn: number): void {
    this.prune(this.root, 3, 0, startVpn, endVpn, floorVpn, ceilingVpn);
  }

  /** Frees the PTE pages touching `[startVpn, endVpn)` whose 512 entries are all empty. */
  reclaimEmptyPteTables(startVpn: number, endVpn: number): void {
    for (let base = Math.floor(startVpn / 512) * 512; base < endVpn; base += 512) {
      const pmdSlot = this.tableSlot(base, 1);
      if (pmdSlot < 0) continue;
      const low = this.ram.load32(pmdSlot);
      if ((low & PTE_PRESENT) === 0) continue;
      const table = entryFrame(this.ram, pmdSlot, low);
      let empty = true;
      for (let i = 0; i < 512 && empty; i++) {
        const at = table * PAGE_SIZE + i * 8;
        if (this.ram.load32(at) !== 0 || this.ram.load32(at + 4) !== 0) empty = false;
      }
      if (!empty) continue;
      this.ram.store32(pmdSlot, 0);
      this.ram.store32(pmdSlot + 4, 0);
      this.pages.setFlags(table, 0);
      this.pages.release(table, 0);
      this.tablePages--;
    }
  }

  /** Physical address of the entry for `vpn` in the table at `level` (1 = PMD), or -1 if a table above is missing. */
  private tableSlot(vpn: number, level: number): number {
    let table = this.root;
    for (let l = 3; l > level; l--) {
      const slot = table * PAGE_SIZE + levelIndex(vpn, l) * 8;
      const low = this.ram.load32(slot);
      if ((low & PTE_PRESENT) === 0) return -1;
      table = entryFrame(this.ram, slot, low);
    }
    return table * PAGE_SIZE + levelIndex(vpn, level) * 8;
  }

  /** Frees every table page, the PGD included (the process exits). */
  destroy(): void {
    this.prune(this.root, 3, 0, 0, 2 ** 36, 0, 2 ** 36);
    this.pages.release(this.root, 0);
  }

  /** Counts the table pages reachable from the PGD (PGD excluded), for invariant checks. */
  countTables(): number {
    let count = 0;
    const visit = (table: number, level: number): void => {
      for (let i = 0; i < 512; i++) {
        const slot = table * PAGE_SIZE + i * 8;
        const low = this.ram.load32(slot);
        if ((low & PTE_PRESENT) === 0) continue;
        const child = entryFrame(this.ram, slot, low);
        count++;
        if (level > 1) visit(child, level - 1);
      }
    };
    visit(this.root, 3);
    return count;
  }

  /** Lists the spans (in pages) of the PTE pages present: `[firstVpn, firstVpn + 512)` each. */
  pteTableSpans(): number[] {
    const spans: number[] = [];
    const visit = (table: number, level: number, base: number): void => {
      for (let i = 0; i < 512; i++) {
        const slot = table * PAGE_SIZE + i * 8;
        const low = this.ram.load32(slot);
        if ((low & PTE_PRESENT) === 0) continue;
        const childBase = base + i * SPAN[level]!;
        if (level === 1) spans.push(childBase);
        else visit(entryFrame(this.ram, slot, low), level - 1, childBase);
      }
    };
    visit(this.root, 3, 0);
    return spans;
  }

  private walk(table: number, level: number, base: number, start: number, end: number, visit: (p: number, vpn: number) => void): void {
    const span = SPAN[level]!;
    const first = Math.max(0, Math.floor((start - base) / span));
    const last = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = first; i <= last; i++) {
      const slot = table * PAGE_SIZE + i * 8;
      const low = this.ram.load32(slot);
      if (level === 0) {
        if (low !== 0 || this.ram.load32(slot + 4) !== 0) visit(slot, base + i);
        continue;
      }
      if ((low & PTE_PRESENT) === 0) continue;
      this.walk(entryFrame(this.ram, slot, low), level - 1, base + i * span, start, end, visit);
    }
  }

  /** Frees tables under `table` (at `level`) inside [floor, ceiling) touching [start, end). */
  private prune(table: number, level: number, base: number, start: number, end: number, floor: number, ceiling: number): void {
    const span = SPAN[level]!;
    const first = Math.max(0, Math.floor((start - base) / span));
    const last = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = first; i <= last; i++) {
      const slot = table * PAGE_SIZE + i * 8;
      const low = this.ram.load32(slot);
      if ((low & PTE_PRESENT) === 0) continue;
      const child = entryFrame(this.ram, slot, low);
      const childBase = base + i * span;
      if (level > 1) this.prune(child, level - 1, childBase, start, end, floor, ceiling);
      if (childBase >= floor && childBase + span <= ceiling) {
        this.ram.store32(slot, 0);
        this.ram.store32(slot + 4, 0);
        this.pages.setFlags(child, 0);
        this.pages.release(child, 0);
        this.tablePages--;
      }
    }
  }

  private newTable(): number {
    const pfn = this.allocZeroed();
    this.pages.setFlags(pfn, PG_PGTABLE);
    return pfn;
  }
}

/** Pages covered by one entry at each level: PTE 1, PMD 512, PUD 512^2, PGD 512^3. */
const SPAN = [1, 512, 512 * 512, 512 * 512 * 512] as const;

/** The index into the table at `level` (3 = PGD .. 0 = PTE) for virtual page `vpn`. */
function levelIndex(vpn: number, level: number): number {
  return Math.floor(vpn / SPAN[level]!) & 511;
}

/** `_PAGE_PRESENT`. */
export const PTE_PRESENT = 1 << 0;
/** `_PAGE_RW`. */
export const PTE_RW = 1 << 1;
/** `_PAGE_USER`. */
export const PTE_USER = 1 << 2;
/** `_PAGE_ACCESSED`. */
export const PTE_ACCESSED = 1 << 5;
/** `_PAGE_DIRTY`. */
export const PTE_DIRTY = 1 << 6;
/**
 * `_PAGE_SOFT_DIRTY` (bit 11, a software bit): set with D whenever the page is written or
 * mapped dirty, cleared only by `clear_refs` 4 (Documentation/admin-guide/mm/soft-dirty.rst).
 */
export const PTE_SOFT_DIRTY = 1 << 11;
/** `_PAGE_PROTNONE` (bit 8, meaningful when P is clear). */
export const PTE_PROTNONE = 1 << 8;
/** `_PAGE_SPECIAL` (bit 9): the zero page. */
export const PTE_SPECIAL = 1 << 9;
/**
 * A swap entry (P and PROTNONE clear): bit 10 marks it, the slot number sits where a frame
 * number would. (Linux encodes type and inverted offset differently; the meaning is the same.)
 */
export const PTE_SWAP = 1 << 10;
/** `_PAGE_NX`, bit 63 = bit 31 of the high word. */
export const PTE_NX_HIGH = 0x80000000;

/** The frame number held by the entry at physical address `slot` whose low word is `low`. */
export function entryFrame(ram: Memory, slot: number, low: number): number {
  return ((ram.load32(slot + 4) & 0xfffff) * 0x100000) + (low >>> 12);
}

/** Writes an entry mapping frame `pfn` with the low flag bits `flags` (and NX) at `slot`. */
export function writeEntry(ram: Memory, slot: number, pfn: number, flags: number, nx: boolean): void {
  ram.store32(slot, (((pfn & 0xfffff) << 12) | (flags & 0xfff)) >>> 0);
  ram.store32(slot + 4, ((Math.floor(pfn / 0x100000) & 0xfffff) | (nx ? PTE_NX_HIGH : 0)) >>> 0);
}
