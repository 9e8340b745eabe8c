import type { Memory } from "@mem/hardware";
import { PAGE_SIZE } from "./api.js";
import { PG_RESERVED, type PageAllocator } from "./page-allocator.js";

/**
 * A swap device on a simulated disk (any `Memory`), as `swapon` sets one up: page 0 of the disk
 * is the swap header, pages 1.. are slots. The usage count of every slot (`swap_map`: how
 * many page-table entries refer to it, 0 = free) is one byte in frames of RAM taken from the
 * page allocator at swapon.
 *
 * ```
 *  disk:      [ header | slot 1 | slot 2 | ... | slot n ]      4 KiB each
 *  swap_map:  [ 0 | count 1 | count 2 | ... ]                 1 byte per slot, in RAM frames
 * ```
 * Slots are handed out first-fit from a moving cursor, as `scan_swap_map_slots` does in its
 * simplest form (no clusters, no per-CPU caches).
 */
export class SwapDevice {
  /** The disk. */
  readonly disk: Memory;
  /** Usable slots (pages of the disk after the header). */
  readonly slots: number;
  /** Free slots. */
  freeSlots: number;
  private readonly ram: Memory;
  /** Frames holding the swap_map. */
  private readonly mapFrames: number[] = [];
  private cursor = 1;

  /** `swapon`: formats `disk` and takes frames from `pages` for the swap_map. */
  constructor(disk: Memory, pages: PageAllocator) {
    if (!Number.isSafeInteger(disk.size) || disk.size % PAGE_SIZE !== 0 || disk.size < 2 * PAGE_SIZE) {
      throw new RangeError(`os-vm: a swap disk must be a multiple of 4096 bytes, at least two pages, got ${String(disk.size)}`);
    }
    this.disk = disk;
    this.ram = pages.ram;
    this.slots = disk.size / PAGE_SIZE - 1;
    this.freeSlots = this.slots;
    for (let i = 0; i < Math.ceil((this.slots + 1) / PAGE_SIZE); i++) {
      const pfn = pages.alloc(0, "the swap map");
      this.ram.fill(pfn * PAGE_SIZE, PAGE_SIZE, 0);
      pages.setFlags(pfn, PG_RESERVED);
      this.mapFrames.push(pfn);
    }
    // the header page: "SWAPSPACE2" at the end of the first page, as mkswap writes it
    this.disk.write(PAGE_SIZE - 10, new TextEncoder().encode("SWAPSPACE2"));
  }

  /** Frames of RAM the swap_map occupies. */
  get mapPages(): number {
    return this.mapFrames.length;
  }

  /** How many page-table entries refer to `slot`. */
  usage(slot: number): number {
    return this.ram.load8(this.mapAddress(slot));
  }

  /** Takes a free slot (usage 1), or returns -1 when the device is full. */
  allocate(): number {
    if (this.freeSlots === 0) return -1;
    for (let n = 0; n < this.slots; n++) {
      const slot = this.cursor;
      this.cursor = this.cursor === this.slots ? 1 : this.cursor + 1;
      if (this.usage(slot) === 0) {
        this.ram.store8(this.mapAddress(slot), 1);
        this.freeSlots--;
        return slot;
      }
    }
    return -1;
  }

  /** `swap_duplicate`: one more entry refers to `slot` (fork). */
  duplicate(slot: number): void {
    const usage = this.usage(slot);
    if (usage >= 0xfe) throw new Error(`os-vm: swap slot ${slot} is referenced by too many entries`);
    this.ram.store8(this.mapAddress(slot), usage + 1);
  }

  /** `swap_free`: one entry fewer refers to `slot`; at 0 the slot is free again. */
  release(slot: number): void {
    const usage = this.usage(slot);
    if (usage === 0) throw new Error(`os-vm: bad swap entry: slot ${slot} is already free`);
    this.ram.store8(this.mapAddress(slot), usage - 1);
    if (usage === 1) this.freeSlots++;
  }

  /** Writes frame `pfn` out to `slot`. */
  writePage(slot: number, pfn: number): void {
    this.disk.write(slot * PAGE_SIZE, this.ram.read(pfn * PAGE_SIZE, PAGE_SIZE));
  }

  /** Reads `slot` into frame `pfn`. */
  readPage(slot: number, pfn: number): void {
    this.ram.write(pfn * PAGE_SIZE, this.disk.read(slot * PAGE_SIZE, PAGE_SIZE));
  }

  private mapAddress(slot: number): number {
    return this.mapFrames[Math.floor(slot / PAGE_SIZE)]! * PAGE_SIZE + (slot % PAGE_SIZE);
  }
}
