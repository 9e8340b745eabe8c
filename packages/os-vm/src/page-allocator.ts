import type { Memory } from "@mem/hardware";
import { MAX_PAGE_ORDER, PAGE_SIZE } from "./api.js";
import { OutOfMemoryError, hex } from "./errors.js";

/**
 * The physical page allocator: Linux's binary buddy allocator over the frames of RAM.
 *
 * All of its metadata lives in RAM, in frames reserved at boot, as Linux's `mem_map` does:
 *
 * ```
 * physical 0x0 ┌──────────────────────────────────────────────────────────────┐
 *              │ free_area of each zone: per order 0..10 {u32 head, tail, nr}  │ 132 B a zone
 * 0x200        ├──────────────────────────────────────────────────────────────┤
 *              │ struct page[frameCount], 32 bytes each:                       │
 *              │   +0  u32 flags   BUDDY | RESERVED | PGTABLE | ANON | ...      │
 *              │                   bits 8..15: order of a free (BUDDY) block    │
 *              │   +4  u32 count   mappings of a user page (0 when free)        │
 *              │   +8  u32 next    next block on the free list (0xffffffff=nil) │
 *              │   +12 u32 prev    previous block on the free list              │
 *              │   +16 u32 owner   pid mapping a user page (reverse map)        │
 *              │   +20 u32 —                                                    │
 *              │   +24 u32 index   virtual page number, low and high halves     │
 *              ├──────────────────────────────────────────────────────────────┤
 *              │ frames for processes: page tables, user pages                  │
 *              └──────────────────────────────────────────────────────────────┘
 * ```
 *
 * Zones as on x86-64: DMA below 16 MiB, DMA32 below 4 GiB, Normal above. A zone's free list
 * of order k holds naturally aligned blocks of 2^k frames; allocation takes the first block of
 * the smallest order that fits and puts the split-off upper halves back on the lower lists
 * (`expand`); freeing merges a block with its buddy (pfn XOR 2^k) while the buddy is free
 * (`__free_one_page`), and puts the result at the tail of its list when its own buddy one
 * order up is free (`buddy_merge_likely`), else at the head. Allocations try Normal, then
 * DMA32, then DMA, as GFP_HIGHUSER_MOVABLE does. Per-CPU page lists, migrate types and
 * watermarks are not modelled.
 */
export class PageAllocator {
  /** The RAM whose frames are managed. */
  readonly ram: Memory;
  /** Frames of installed RAM. */
  readonly frameCount: number;
  /** Frames reserved at boot for the allocator's own metadata (not in MemTotal). */
  readonly reservedFrames: number;
  /** The zones, lowest first. */
  readonly zones: readonly Zone[];
  private free = 0;

  /** Boots the allocator over `ram` (its size a multiple of 4 KiB): all frames past the metadata are free. */
  constructor(ram: Memory) {
    if (!Number.isSafeInteger(ram.size) || ram.size % PAGE_SIZE !== 0 || ram.size < 16 * PAGE_SIZE) {
      throw new RangeError(`os-vm: RAM size must be a multiple of 4096 bytes, at least 64 KiB, got ${String(ram.size)}`);
    }
    this.ram = ram;
    this.frameCount = ram.size / PAGE_SIZE;
    if (this.frameCount > 0xfffffffe) throw new RangeError(`os-vm: at most 2^32-2 frames are supported`);
    this.reservedFrames = Math.ceil((MEMMAP + this.frameCount * PAGE_STRUCT) / PAGE_SIZE);
    const zones: Zone[] = [];
    const bounds: [string, number, number][] = [
      ["DMA", 0, DMA_END],
      ["DMA32", DMA_END, DMA32_END],
      ["Normal", DMA32_END, Infinity],
    ];
    for (const [name, lo, hi] of bounds) {
      const start = Math.max(lo, this.reservedFrames);
      const end = Math.min(hi, this.frameCount);
      if (lo >= this.frameCount) break;
      zones.push({ name, index: zones.length, start, end: Math.max(start, end), spannedStart: lo });
    }
    this.zones = zones;
    for (const zone of zones) {
      for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
        this.setHead(zone, order, NIL);
        this.setNrFree(zone, order, 0);
      }
    }
    for (let pfn = 0; pfn < this.reservedFrames; pfn++) this.setFlags(pfn, PG_RESERVED);
    // memblock_free_all: free each zone in the largest aligned blocks, to the tail (ascending).
    for (const zone of zones) {
      let pfn = zone.start;
      while (pfn < zone.end) {
        let order = MAX_PAGE_ORDER;
        while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > zone.end)) order--;
        this.freeBlock(zone, pfn, order, true);
        pfn += 1 << order;
      }
    }
  }

  /** Free frames in all zones (MemFree in pages). */
  get freePages(): number {
    return this.free;
  }

  /** Frames the allocator manages (MemTotal in pages): RAM minus the reserved metadata. */
  get totalPages(): number {
    return this.frameCount - this.reservedFrames;
  }

  /**
   * Allocates 2^order contiguous, naturally aligned frames and returns the first frame number.
   * The frames are not zeroed. `purpose` names the caller in the out-of-memory error (a
   * function is called only then).
   * @throws OutOfMemoryError when no zone has a free block of that order or larger.
   */
  alloc(order: number, purpose: string | (() => string)): number {
    if (!Number.isInteger(order) || order < 0 || order > MAX_PAGE_ORDER) {
      throw new RangeError(`os-vm: page allocation order must be 0..${MAX_PAGE_ORDER}, got ${String(order)}`);
    }
    for (let z = this.zones.length - 1; z >= 0; z--) {
      const zone = this.zones[z]!;
      for (let current = order; current <= MAX_PAGE_ORDER; current++) {
        const pfn = this.head(zone, current);
        if (pfn === NIL) continue;
        this.unlink(zone, pfn, current);
        // expand(): give back the upper halves, largest first.
        let high = current;
        while (high > order) {
          high--;
          this.pushFree(zone, pfn + (1 << high), high, false);
        }
        this.setFlags(pfn, 0);
        this.setCount(pfn, 0);
        this.free -= 1 << order;
        return pfn;
      }
    }
    throw new OutOfMemoryError(order, this.free, this.largestFreeOrder(), typeof purpose === "string" ? purpose : purpose());
  }

  /** Frees the block of 2^order frames at `pfn` that {@link PageAllocator.alloc} returned. */
  release(pfn: number, order: number): void {
    const zone = this.zoneOf(pfn);
    const flags = this.flags(pfn);
    if (zone === undefined || (flags & (PG_BUDDY | PG_RESERVED)) !== 0 || pfn % (1 << order) !== 0) {
      throw new Error(
        `os-vm: bad page state: freeing frame ${hex(pfn)} (order ${order}) that is ` +
          ((flags & PG_BUDDY) !== 0 ? "already free" : (flags & PG_RESERVED) !== 0 ? "reserved" : "not a block start"),
      );
    }
    this.freeBlock(zone, pfn, order, false);
  }

  /** The zone holding frame `pfn`, if it is a managed frame. */
  zoneOf(pfn: number): Zone | undefined {
    for (const zone of this.zones) if (pfn >= zone.start && pfn < zone.end) return zone;
    return undefined;
  }

  /** Free block counts of `zone` by order 0..10, read from its free_area in RAM. */
  freeCounts(zone: Zone): number[] {
    const counts: number[] = [];
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) counts.push(this.nrFree(zone, order));
    return counts;
  }

  /** /proc/buddyinfo: one line per zone, free blocks of orders 0..10 (`"%6lu "` each). */
  buddyinfo(): string {
    let out = "";
    for (const zone of this.zones) {
      out += `Node 0, zone ${zone.name.padStart(8)} `;
      for (const count of this.freeCounts(zone)) out += `${String(count).padStart(6)} `;
      out += "\n";
    }
    return out;
  }

  /**
   * Walks every free list and checks the buddy invariants: list links consistent, blocks
   * naturally aligned, inside their zone, flagged BUDDY with their order, not overlapping, no
   * two free buddies left unmerged, counts matching. Returns the problems found (empty: sound).
   */
  check(): string[] {
    const problems: string[] = [];
    const seen = new Uint8Array(this.frameCount);
    let total = 0;
    for (const zone of this.zones) {
      for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
        let count = 0;
        let prev = NIL;
        for (let pfn = this.head(zone, order); pfn !== NIL; pfn = this.next(pfn)) {
          count++;
          if (count > this.frameCount) {
            problems.push(`${zone.name} order ${order}: free list loops`);
            break;
          }
          if (this.prev(pfn) !== prev) problems.push(`${zone.name} order ${order}: ${hex(pfn)} has a bad prev link`);
          if (this.flags(pfn) !== (PG_BUDDY | (order << 8))) problems.push(`${zone.name}: ${hex(pfn)} flags do not say free order ${order}`);
          if (pfn % (1 << order) !== 0) problems.push(`${zone.name}: block ${hex(pfn)} not aligned to order ${order}`);
          if (pfn < zone.start || pfn + (1 << order) > zone.end) problems.push(`${zone.name}: block ${hex(pfn)} outside the zone`);
          for (let i = 0; i < 1 << order; i++) {
            if (seen[pfn + i] === 1) problems.push(`frame ${hex(pfn + i)} is on two free lists`);
            seen[pfn + i] = 1;
          }
          const buddy = pfn ^ (1 << order);
          if (order < MAX_PAGE_ORDER && buddy >= zone.start && buddy < zone.end && this.flags(buddy) === (PG_BUDDY | (order << 8))) {
            problems.push(`${zone.name}: free buddies ${hex(pfn)} and ${hex(buddy)} of order ${order} not merged`);
          }
          prev = pfn;
          total += 1 << order;
        }
        if (count !== this.nrFree(zone, order)) problems.push(`${zone.name} order ${order}: nr_free ${this.nrFree(zone, order)} but ${count} listed`);
      }
    }
    if (total !== this.free) problems.push(`free pages ${this.free} but ${total} on the lists`);
    return problems;
  }

  // ---- struct page fields -------------------------------------------------------------

  /** The flags word of frame `pfn`'s struct page. */
  flags(pfn: number): number {
    return this.ram.load32(MEMMAP + pfn * PAGE_STRUCT);
  }
  /** Sets the flags word of frame `pfn`. */
  setFlags(pfn: number, value: number): void {
    this.ram.store32(MEMMAP + pfn * PAGE_STRUCT, value >>> 0);
  }
  /** The mapping count of frame `pfn` (how many page-table entries point to it). */
  count(pfn: number): number {
    return this.ram.load32(MEMMAP + pfn * PAGE_STRUCT + 4);
  }
  /** Sets the mapping count of frame `pfn`. */
  setCount(pfn: number, value: number): void {
    this.ram.store32(MEMMAP + pfn * PAGE_STRUCT + 4, value);
  }
  /** Records the reverse mapping of a user page: owning pid and virtual page number. */
  setReverseMap(pfn: number, pid: number, vpn: number): void {
    const base = MEMMAP + pfn * PAGE_STRUCT;
    this.ram.store32(base + 16, pid);
    this.ram.store32(base + 24, vpn % TWO_32);
    this.ram.store32(base + 28, Math.floor(vpn / TWO_32));
  }
  /** The pid recorded by {@link PageAllocator.setReverseMap}. */
  owner(pfn: number): number {
    return this.ram.load32(MEMMAP + pfn * PAGE_STRUCT + 16);
  }
  /** The virtual page number recorded by {@link PageAllocator.setReverseMap}. */
  index(pfn: number): number {
    const base = MEMMAP + pfn * PAGE_STRUCT;
    return this.ram.load32(base + 28) * TWO_32 + this.ram.load32(base + 24);
  }

  // ---- internals ----------------------------------------------------------------------

  private freeBlock(zone: Zone, pfn: number, order: number, toTail: boolean): void {
    this.free += 1 << order;
    while (order < MAX_PAGE_ORDER) {
      const buddy = pfn ^ (1 << order);
      if (buddy < zone.start || buddy >= zone.end || this.flags(buddy) !== (PG_BUDDY | (order << 8))) break;
      this.unlink(zone, buddy, order);
      this.setFlags(buddy, 0);
      pfn = Math.min(pfn, buddy);
      order++;
    }
    let tail = toTail;
    if (!tail && order < MAX_PAGE_ORDER - 1) {
      // buddy_merge_likely: the buddy of the next-higher block is free, so this block is
      // likely to merge soon: keep it at the tail, away from allocations.
      const higher = pfn & ~(1 << order);
      const higherBuddy = higher ^ (1 << (order + 1));
      tail = higherBuddy >= zone.start && higherBuddy < zone.end && this.flags(higherBuddy) === (PG_BUDDY | ((order + 1) << 8));
    }
    this.pushFree(zone, pfn, order, tail);
  }

  private pushFree(zone: Zone, pfn: number, order: number, toTail: boolean): void {
    this.setFlags(pfn, PG_BUDDY | (order << 8));
    this.setCount(pfn, 0);
    const head = this.head(zone, order);
    if (head === NIL) {
      this.setNext(pfn, NIL);
      this.setPrev(pfn, NIL);
      this.setHead(zone, order, pfn);
      this.setTail(zone, order, pfn);
    } else if (toTail) {
      const last = this.tail(zone, order);
      this.setNext(last, pfn);
      this.setPrev(pfn, last);
      this.setNext(pfn, NIL);
      this.setTail(zone, order, pfn);
    } else {
      this.setNext(pfn, head);
      this.setPrev(pfn, NIL);
      this.setPrev(head, pfn);
      this.setHead(zone, order, pfn);
    }
    this.setNrFree(zone, order, this.nrFree(zone, order) + 1);
  }

  private unlink(zone: Zone, pfn: number, order: number): void {
    const next = this.next(pfn);
    const prev = this.prev(pfn);
    if (prev === NIL) this.setHead(zone, order, next);
    else this.setNext(prev, next);
    if (next === NIL) this.setTail(zone, order, prev);
    else this.setPrev(next, prev);
    this.setNrFree(zone, order, this.nrFree(zone, order) - 1);
  }

  private largestFreeOrder(): number {
    for (let order = MAX_PAGE_ORDER; order >= 0; order--) {
      for (const zone of this.zones) if (this.head(zone, order) !== NIL) return order;
    }
    return -1;
  }

  private head(zone: Zone, order: number): number {
    return this.ram.load32(zone.index * FREE_AREA_BYTES + order * 12);
  }
  private setHead(zone: Zone, order: number, pfn: number): void {
    this.ram.store32(zone.index * FREE_AREA_BYTES + order * 12, pfn >>> 0);
  }
  private tail(zone: Zone, order: number): number {
    return this.ram.load32(zone.index * FREE_AREA_BYTES + order * 12 + 4);
  }
  private setTail(zone: Zone, order: number, pfn: number): void {
    this.ram.store32(zone.index * FREE_AREA_BYTES + order * 12 + 4, pfn >>> 0);
  }
  private nrFree(zone: Zone, order: number): number {
    return this.ram.load32(zone.index * FREE_AREA_BYTES + order * 12 + 8);
  }
  private setNrFree(zone: Zone, order: number, value: number): void {
    this.ram.store32(zone.index * FREE_AREA_BYTES + order * 12 + 8, value);
  }
  private next(pfn: number): number {
    return this.ram.load32(MEMMAP + pfn * PAGE_STRUCT + 8);
  }
  private setNext(pfn: number, value: number): void {
    this.ram.store32(MEMMAP + pfn * PAGE_STRUCT + 8, value >>> 0);
  }
  private prev(pfn: number): number {
    return this.ram.load32(MEMMAP + pfn * PAGE_STRUCT + 12);
  }
  private setPrev(pfn: number, value: number): void {
    this.ram.store32(MEMMAP + pfn * PAGE_STRUCT + 12, value >>> 0);
  }
}

/** A memory zone: the managed frames `[start, end)`. */
export interface Zone {
  /** `DMA`, `DMA32` or `Normal`. */
  readonly name: string;
  /** Position in {@link PageAllocator.zones}. */
  readonly index: number;
  /** First managed frame (frames below are reserved or belong to a lower zone). */
  readonly start: number;
  /** End frame, exclusive. */
  readonly end: number;
  /** First frame the zone spans, reserved frames included. */
  readonly spannedStart: number;
}

/** struct page flag: the head of a free buddy block (order in bits 8..15). */
export const PG_BUDDY = 1 << 0;
/** struct page flag: reserved at boot, never allocated. */
export const PG_RESERVED = 1 << 1;
/** struct page flag: a page-table page. */
export const PG_PGTABLE = 1 << 2;
/** struct page flag: an anonymous user page. */
export const PG_ANON = 1 << 3;
/** struct page flag: a lazily freeable page (MADV_FREE, clean since). */
export const PG_LAZYFREE = 1 << 4;
/** struct page flag: the shared zero page. */
export const PG_ZERO = 1 << 5;
/** struct page flag: a shared anonymous (shmem) page. */
export const PG_SHMEM = 1 << 6;

const NIL = 0xffffffff;
const TWO_32 = 2 ** 32;
/** Bytes of one zone's free_area: 11 orders x (head, tail, nr_free). */
const FREE_AREA_BYTES = 132;
/** Physical address of struct page[0]. */
const MEMMAP = 0x200;
/** Bytes of one struct page. */
const PAGE_STRUCT = 32;
/** First frame of DMA32 (16 MiB). */
const DMA_END = (16 * 1024 * 1024) / PAGE_SIZE;
/** First frame of Normal (4 GiB). */
const DMA32_END = (4 * 1024 * 1024 * 1024) / PAGE_SIZE;
