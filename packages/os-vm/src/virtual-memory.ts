import type { Memory } from "@mem/hardware";
import { PAGE_SIZE } from "./api.js";
import { PTE_ACCESSED, PTE_DIRTY, PTE_PRESENT, PTE_RW, entryFrame, type PageTable } from "./page-table.js";

/** What the memory view needs from its process: the page-fault handler and a range check. */
export interface FaultHandler {
  /**
   * Handles a fault at `address`: installs a PTE that allows the access, or throws
   * `SegmentationFault`.
   */
  handleFault(address: number, write: boolean): void;
  /**
   * Throws the `SegmentationFault` the first inaccessible byte of `[address, address + length)`
   * would raise, before anything is touched.
   */
  checkAccess(address: number, length: number, write: boolean): void;
}

/** 2^47: the canonical user half of the address space (4-level paging). */
export const USER_SPACE = 2 ** 47;
const TLB_ENTRIES = 256;
const TLB_MASK = TLB_ENTRIES - 1;
/** 1/4096, exact: multiplying by it is a division by the page size. */
const INVERSE_PAGE = 1 / PAGE_SIZE;

/**
 * A process's memory at virtual addresses: translation through a software TLB backed by the
 * process's page tables in RAM, and page faults on a miss that finds no usable entry.
 *
 * ```
 *  load32(va) ─► va in the last page read? ──yes──► ram.load32(pa)          (TLB hit)
 *                    │ no
 *                    ▼
 *               TLB[vpn & 255] tag == vpn ? ──yes──► remember as last page, load
 *                    │ no
 *                    ▼
 *               walk PGD→PUD→PMD→PTE in RAM; present and allowed? ─► set A (and D), fill TLB
 *                    │ no
 *                    ▼
 *               handleFault (demand paging, COW, or SIGSEGV), then walk again
 * ```
 *
 * Reads and writes keep separate "last page" entries, and the write entry only ever holds a
 * page whose PTE is writable and dirty, so a write hit needs no permission check. The TLB is
 * invalidated (`invalidate`) whenever the kernel changes or removes entries.
 */
export class VirtualMemory implements Memory {
  /** 2^47 bytes: the user half of the x86-64 address space. */
  readonly size = USER_SPACE;
  private readonly ram: Memory;
  private readonly table: PageTable;
  private readonly handler: FaultHandler;
  private readBase = Number.NaN;
  private readPhys = 0;
  private writeBase = Number.NaN;
  private writePhys = 0;
  /** Virtual page number cached in each slot; NaN (equal to nothing) when empty. */
  private readonly tlbTag = new Float64Array(TLB_ENTRIES).fill(Number.NaN);
  private readonly tlbPhys = new Float64Array(TLB_ENTRIES);
  private readonly tlbWritable = new Uint8Array(TLB_ENTRIES);
  /** TLB misses that walked the page tables. */
  tlbMisses = 0;

  /** Creates the view of `table` (in `ram`), calling `handler` on faults. */
  constructor(ram: Memory, table: PageTable, handler: FaultHandler) {
    this.ram = ram;
    this.table = table;
    this.handler = handler;
  }

  /** Drops cached translations of pages `[startVpn, endVpn)` (INVLPG, or a full flush for big ranges). */
  invalidate(startVpn: number, endVpn: number): void {
    this.readBase = Number.NaN;
    this.writeBase = Number.NaN;
    if (endVpn - startVpn >= TLB_ENTRIES) {
      this.tlbTag.fill(Number.NaN);
      return;
    }
    for (let vpn = startVpn; vpn < endVpn; vpn++) {
      const slot = vpn & TLB_MASK;
      if (this.tlbTag[slot] === vpn) this.tlbTag[slot] = Number.NaN;
    }
  }

  // ---- loads ---------------------------------------------------------------------------
  //
  // Each access first tries the last page of its kind (one subtraction, two comparisons),
  // then the TLB slot of its page (inline, no call), and only then the slow path. A NaN or
  // fractional address fails `(offset | 0) === offset` and ends up in the checked slow path.

  /** {@inheritDoc @mem/hardware#Memory.load8} */
  load8(address: number): number {
    let offset = address - this.readBase;
    if (!(offset >= 0 && offset <= PAGE_SIZE - 1 && (offset | 0) === offset)) {
      const vpn = Math.floor(address * INVERSE_PAGE);
      const slot = vpn & TLB_MASK;
      offset = address - vpn * PAGE_SIZE;
      if (this.tlbTag[slot] !== vpn || !(offset <= PAGE_SIZE - 1) || (offset | 0) !== offset) return this.loadMiss(address, 1);
      this.readBase = vpn * PAGE_SIZE;
      this.readPhys = this.tlbPhys[slot]!;
    }
    return this.ram.load8(this.readPhys + offset);
  }

  /** {@inheritDoc @mem/hardware#Memory.load16} */
  load16(address: number): number {
    let offset = address - this.readBase;
    if (!(offset >= 0 && offset <= PAGE_SIZE - 2 && (offset | 0) === offset)) {
      const vpn = Math.floor(address * INVERSE_PAGE);
      const slot = vpn & TLB_MASK;
      offset = address - vpn * PAGE_SIZE;
      if (this.tlbTag[slot] !== vpn || !(offset <= PAGE_SIZE - 2) || (offset | 0) !== offset) return this.loadMiss(address, 2);
      this.readBase = vpn * PAGE_SIZE;
      this.readPhys = this.tlbPhys[slot]!;
    }
    return this.ram.load16(this.readPhys + offset);
  }

  /** {@inheritDoc @mem/hardware#Memory.load32} */
  load32(address: number): number {
    let offset = address - this.readBase;
    if (!(offset >= 0 && offset <= PAGE_SIZE - 4 && (offset | 0) === offset)) {
      const vpn = Math.floor(address * INVERSE_PAGE);
      const slot = vpn & TLB_MASK;
      offset = address - vpn * PAGE_SIZE;
      if (this.tlbTag[slot] !== vpn || !(offset <= PAGE_SIZE - 4) || (offset | 0) !== offset) return this.loadMiss(address, 4);
      this.readBase = vpn * PAGE_SIZE;
      this.readPhys = this.tlbPhys[slot]!;
    }
    return this.ram.load32(this.readPhys + offset);
  }

  /** {@inheritDoc @mem/hardware#Memory.load64} */
  load64(address: number): number {
    let offset = address - this.readBase;
    if (!(offset >= 0 && offset <= PAGE_SIZE - 8 && (offset | 0) === offset)) {
      const vpn = Math.floor(address * INVERSE_PAGE);
      const slot = vpn & TLB_MASK;
      offset = address - vpn * PAGE_SIZE;
      if (this.tlbTag[slot] !== vpn || !(offset <= PAGE_SIZE - 8) || (offset | 0) !== offset) return this.loadMiss(address, 8);
      this.readBase = vpn * PAGE_SIZE;
      this.readPhys = this.tlbPhys[slot]!;
    }
    return this.ram.load64(this.readPhys + offset);
  }

  /** {@inheritDoc @mem/hardware#Memory.load64Big} */
  load64Big(address: number): bigint {
    if (pageOffset(address) <= PAGE_SIZE - 8) return this.ram.load64Big(this.translate(address, false));
    const bytes = this.read(address, 8);
    return new DataView(bytes.buffer).getBigUint64(0, true);
  }

  // ---- stores --------------------------------------------------------------------------
  //
  // The same two fast paths; the write entries only ever hold pages whose PTE is writable
  // and dirty. RAM checks the value before it changes a byte.

  /** {@inheritDoc @mem/hardware#Memory.store8} */
  store8(address: number, value: number): void {
    let offset = address - this.writeBase;
    if (!(offset >= 0 && offset <= PAGE_SIZE - 1 && (offset | 0) === offset)) {
      const vpn = Math.floor(address * INVERSE_PAGE);
      const slot = vpn & TLB_MASK;
      offset = address - vpn * PAGE_SIZE;
      if (this.tlbTag[slot] !== vpn || this.tlbWritable[slot] !== 1 || !(offset <= PAGE_SIZE - 1) || (offset | 0) !== offset) {
        this.storeMiss(address, 1, value);
        return;
      }
      this.writeBase = vpn * PAGE_SIZE;
      this.writePhys = this.tlbPhys[slot]!;
    }
    this.ram.store8(this.writePhys + offset, value);
  }

  /** {@inheritDoc @mem/hardware#Memory.store16} */
  store16(address: number, value: number): void {
    let offset = address - this.writeBase;
    if (!(offset >= 0 && offset <= PAGE_SIZE - 2 && (offset | 0) === offset)) {
      const vpn = Math.floor(address * INVERSE_PAGE);
      const slot = vpn & TLB_MASK;
      offset = address - vpn * PAGE_SIZE;
      if (this.tlbTag[slot] !== vpn || this.tlbWritable[slot] !== 1 || !(offset <= PAGE_SIZE - 2) || (offset | 0) !== offset) {
        this.storeMiss(address, 2, value);
        return;
      }
      this.writeBase = vpn * PAGE_SIZE;
      this.writePhys = this.tlbPhys[slot]!;
    }
    this.ram.store16(this.writePhys + offset, value);
  }

  /** {@inheritDoc @mem/hardware#Memory.store32} */
  store32(address: number, value: number): void {
    let offset = address - this.writeBase;
    if (!(offset >= 0 && offset <= PAGE_SIZE - 4 && (offset | 0) === offset)) {
      const vpn = Math.floor(address * INVERSE_PAGE);
      const slot = vpn & TLB_MASK;
      offset = address - vpn * PAGE_SIZE;
      if (this.tlbTag[slot] !== vpn || this.tlbWritable[slot] !== 1 || !(offset <= PAGE_SIZE - 4) || (offset | 0) !== offset) {
        this.storeMiss(address, 4, value);
        return;
      }
      this.writeBase = vpn * PAGE_SIZE;
      this.writePhys = this.tlbPhys[slot]!;
    }
    this.ram.store32(this.writePhys + offset, value);
  }

  /** {@inheritDoc @mem/hardware#Memory.store64} */
  store64(address: number, value: number): void {
    let offset = address - this.writeBase;
    if (!(offset >= 0 && offset <= PAGE_SIZE - 8 && (offset | 0) === offset)) {
      const vpn = Math.floor(address * INVERSE_PAGE);
      const slot = vpn & TLB_MASK;
      offset = address - vpn * PAGE_SIZE;
      if (this.tlbTag[slot] !== vpn || this.tlbWritable[slot] !== 1 || !(offset <= PAGE_SIZE - 8) || (offset | 0) !== offset) {
        this.storeMiss(address, 8, value);
        return;
      }
      this.writeBase = vpn * PAGE_SIZE;
      this.writePhys = this.tlbPhys[slot]!;
    }
    this.ram.store64(this.writePhys + offset, value);
  }

  /** {@inheritDoc @mem/hardware#Memory.store64Big} */
  store64Big(address: number, value: bigint): void {
    if (typeof value !== "bigint" || value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw new RangeError(`os-vm: store64Big value must be a bigint in 0..2^64-1, got ${String(value)}`);
    }
    if (pageOffset(address) <= PAGE_SIZE - 8) {
      this.ram.store64Big(this.translate(address, true), value);
      return;
    }
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, value, true);
    this.write(address, bytes);
  }

  // ---- ranges --------------------------------------------------------------------------

  /** {@inheritDoc @mem/hardware#Memory.read} */
  read(address: number, length: number): Uint8Array {
    checkLength(length);
    const out = new Uint8Array(length);
    this.readInto(address, out);
    return out;
  }

  /** {@inheritDoc @mem/hardware#Memory.readInto} */
  readInto(address: number, target: Uint8Array): void {
    const length = target.length;
    if (length === 0) return;
    this.handler.checkAccess(address, length, false);
    let done = 0;
    while (done < length) {
      const here = address + done;
      const n = Math.min(PAGE_SIZE - pageOffset(here), length - done);
      this.ram.readInto(this.translate(here, false), target.subarray(done, done + n));
      done += n;
    }
  }

  /** {@inheritDoc @mem/hardware#Memory.write} */
  write(address: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("os-vm: write expects a Uint8Array");
    const length = bytes.length;
    if (length === 0) return;
    this.handler.checkAccess(address, length, true);
    let done = 0;
    while (done < length) {
      const here = address + done;
      const n = Math.min(PAGE_SIZE - pageOffset(here), length - done);
      this.ram.write(this.translate(here, true), bytes.subarray(done, done + n));
      done += n;
    }
  }

  /** {@inheritDoc @mem/hardware#Memory.fill} */
  fill(address: number, length: number, byte: number): void {
    checkLength(length);
    if (typeof byte !== "number" || (byte & 0xff) !== byte) throw new RangeError(`os-vm: fill byte must be 0..255, got ${String(byte)}`);
    if (length === 0) return;
    this.handler.checkAccess(address, length, true);
    let done = 0;
    while (done < length) {
      const here = address + done;
      const n = Math.min(PAGE_SIZE - pageOffset(here), length - done);
      this.ram.fill(this.translate(here, true), n, byte);
      done += n;
    }
  }

  /** {@inheritDoc @mem/hardware#Memory.copy} */
  copy(destination: number, source: number, length: number): void {
    checkLength(length);
    if (length === 0) return;
    this.handler.checkAccess(source, length, false);
    this.handler.checkAccess(destination, length, true);
    this.write(destination, this.read(source, length));
  }

  // ---- translation ---------------------------------------------------------------------

  /**
   * The physical address of virtual `address` for a read or a write, faulting the page in
   * if needed. Also makes the page the "last page" of its kind.
   */
  translate(address: number, write: boolean): number {
    if (typeof address !== "number" || !Number.isInteger(address)) {
      throw new TypeError(`os-vm: address must be an integer, got ${String(address)}`);
    }
    const vpn = Math.floor(address / PAGE_SIZE);
    const base = vpn * PAGE_SIZE;
    const slot = vpn & TLB_MASK;
    if (this.tlbTag[slot] !== vpn || (write && this.tlbWritable[slot] === 0)) this.fill_(vpn, address, write, slot);
    const phys = this.tlbPhys[slot]!;
    if (write) {
      this.writeBase = base;
      this.writePhys = phys;
    } else {
      this.readBase = base;
      this.readPhys = phys;
    }
    return phys + (address - base);
  }

  /** TLB miss: walk the tables, faulting until the entry allows the access; fill the TLB slot. */
  private fill_(vpn: number, address: number, write: boolean, slot: number): void {
    this.tlbMisses++;
    if (address < 0 || address >= USER_SPACE) this.handler.handleFault(address, write); // throws
    for (let attempt = 0; attempt < 3; attempt++) {
      const pte = this.table.pteAddress(vpn, false);
      if (pte >= 0) {
        const low = this.ram.load32(pte);
        if ((low & PTE_PRESENT) !== 0 && (!write || (low & PTE_RW) !== 0)) {
          // The MMU sets Accessed on every walk and Dirty on a write.
          const wanted = low | PTE_ACCESSED | (write ? PTE_DIRTY : 0);
          if (wanted !== low) this.ram.store32(pte, wanted >>> 0);
          this.tlbTag[slot] = vpn;
          this.tlbPhys[slot] = entryFrame(this.ram, pte, low) * PAGE_SIZE;
          this.tlbWritable[slot] = (wanted & (PTE_RW | PTE_DIRTY)) === (PTE_RW | PTE_DIRTY) ? 1 : 0;
          return;
        }
      }
      this.handler.handleFault(address, write);
    }
    throw new Error(`os-vm: internal error: the fault at 0x${address.toString(16)} did not install a usable entry`);
  }

  /** A load that missed the last page and the TLB (or straddles two pages, or is not an integer). */
  private loadMiss(address: number, width: number): number {
    if (pageOffset(address) > PAGE_SIZE - width) return this.loadStraddling(address, width);
    const phys = this.translate(address, false);
    return width === 1 ? this.ram.load8(phys) : width === 2 ? this.ram.load16(phys) : width === 4 ? this.ram.load32(phys) : this.ram.load64(phys);
  }

  /** A store that missed: the value is checked first, so a bad value faults nothing in. */
  private storeMiss(address: number, width: number, value: number): void {
    const max = width === 8 ? Number.MAX_SAFE_INTEGER : width === 4 ? 0xffffffff : width === 2 ? 0xffff : 0xff;
    if (typeof value !== "number" || !(value >= 0 && value <= max) || Math.floor(value) !== value) {
      throw new RangeError(`os-vm: store${8 * width} value must be an integer in 0..${max}, got ${String(value)}`);
    }
    if (pageOffset(address) > PAGE_SIZE - width) {
      this.storeStraddling(address, width, value);
      return;
    }
    const phys = this.translate(address, true);
    if (width === 1) this.ram.store8(phys, value);
    else if (width === 2) this.ram.store16(phys, value);
    else if (width === 4) this.ram.store32(phys, value);
    else this.ram.store64(phys, value);
  }

  /** A load that straddles two pages: both are checked before any byte is read. */
  private loadStraddling(address: number, width: number): number {
    const bytes = this.read(address, width);
    let value = 0;
    for (let i = width - 1; i >= 0; i--) value = value * 256 + bytes[i]!;
    if (value > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`os-vm: the 64-bit value at 0x${address.toString(16)} is above 2^53-1; read it with load64Big`);
    }
    return value;
  }

  /** A store that straddles two pages: both are checked (and faulted in) before any byte changes. */
  private storeStraddling(address: number, width: number, value: number): void {
    const bytes = new Uint8Array(width);
    let rest = value;
    for (let i = 0; i < width; i++) {
      bytes[i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    this.write(address, bytes);
  }
}

function pageOffset(address: number): number {
  if (typeof address !== "number" || !Number.isInteger(address)) {
    throw new TypeError(`os-vm: address must be an integer, got ${String(address)}`);
  }
  return address - Math.floor(address / PAGE_SIZE) * PAGE_SIZE;
}

function checkLength(length: number): void {
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`os-vm: length must be a non-negative integer, got ${String(length)}`);
  }
}

