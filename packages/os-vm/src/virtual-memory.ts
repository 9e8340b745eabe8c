import { ArgumentRangeError, InvalidArgumentError, UnsafeIntegerError, describeArgument, type Memory, type MemoryTraffic } from "@mem/hardware";
import { PAGE_SIZE } from "./api.js";
import { PTE_ACCESSED, PTE_DIRTY, PTE_PRESENT, PTE_RW, PTE_SOFT_DIRTY, entryFrame, type PageTable } from "./page-table.js";

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
/**
 * Constants of the hit paths, as literals (a `const enum`) so that the accessors stay small.
 * The TLB is direct-mapped: 8192 entries, 32 MiB of reach. (A real STLB has 1536–2048 entries
 * but also 2 MiB pages and page-walk caches; a software walk costs far more than a hardware one.)
 */
const enum Tlb {
  Entries = 8192,
  /** A page number's TLB slot: its low 13 bits. */
  SlotMask = 8191,
  /** An address's offset in its page: its low 12 bits. */
  PageMask = 4095,
  InversePage = 0.000244140625,
  TwoTo32 = 4294967296,
  InverseTwoTo32 = 2.3283064365386963e-10,
}
const TLB_ENTRIES = Tlb.Entries as number;

/**
 * The TLB slot of page number `vpn`: its low 13 bits folded with the next 13. Without the fold
 * the brk heap (0x5555_5555_9000) and the mmap area (0x7fff_f755_9000) of a standard layout
 * share slots page for page and evict each other, as in a direct-mapped TLB they would.
 */
function tlbSlot(vpn: number): number {
  return (vpn ^ (vpn >>> 13)) & Tlb.SlotMask;
}

/** What the direct path needs from RAM: frame views, their generation and the traffic counters. */
export interface FrameSource {
  frameView(frame: number, forWrite: boolean): DataView | null;
  readonly viewGeneration: number;
  readonly traffic: MemoryTraffic;
}

/**
 * Whether `ram` hands out frame views of page-sized frames (a `PhysicalMemory` with 4 KiB
 * frames does). Tested by shape, not by class, so that a second copy of @mem/hardware (or
 * another RAM with the same contract) works too.
 */
export function offersFrameViews(ram: Memory): ram is Memory & FrameSource {
  const candidate = ram as Partial<FrameSource> & { frameSize?: unknown };
  return (
    typeof candidate.frameView === "function" &&
    typeof candidate.viewGeneration === "number" &&
    typeof candidate.traffic === "object" &&
    candidate.traffic !== null &&
    candidate.frameSize === PAGE_SIZE
  );
}

/** The frame source of a RAM that offers no views: every access takes the call path. */
const NO_FRAME_VIEWS: FrameSource = { frameView: () => null, viewGeneration: 0, traffic: { loads: 0, stores: 0, bytesMoved: 0 } };

/**
 * A process's memory at virtual addresses: translation through a software TLB backed by the
 * process's page tables in RAM, and page faults on a miss that finds no usable entry.
 *
 * ```
 *  load32(va) ─► TLB[slot(vpn)] tag == vpn and a frame view cached? ──yes──► view.getUint32  (hit)
 *                    │ no
 *                    ▼
 *               tag == vpn ? ──yes──► ram.load32(pa), caching the frame's view for next time
 *                    │ no
 *                    ▼
 *               walk PGD→PUD→PMD→PTE in RAM; present and allowed? ─► set A (and D), fill the entry
 *                    │ no
 *                    ▼
 *               handleFault (demand paging, COW, or SIGSEGV), then walk again
 * ```
 *
 * A hit reads or writes the frame's bytes through a `DataView` that `PhysicalMemory.frameView`
 * handed out, and adds the access to RAM's traffic counters itself. A write view is only
 * cached for an entry whose PTE is writable, dirty and soft-dirty, so a write hit needs no
 * permission check and clearing the soft-dirty bits (with a TLB flush) costs the hit path
 * nothing. The TLB is invalidated (`invalidate`) whenever the kernel changes or removes
 * entries, and every cached view is dropped when RAM's `viewGeneration` moves (a frame was
 * zeroed whole, a chunk given back, or a cache model attached).
 */
export class VirtualMemory implements Memory {
  /** 2^47 bytes: the user half of the x86-64 address space. */
  readonly size = USER_SPACE;
  private readonly ram: Memory;
  private readonly table: PageTable;
  private readonly handler: FaultHandler;
  /** RAM's frame views, or a stand-in that offers none. */
  private readonly frames: FrameSource;
  /** RAM's live traffic counters (those of `frames`). */
  private readonly traffic: MemoryTraffic;
  /** The `viewGeneration` the cached views belong to. */
  private generation: number;
  /** Virtual page number cached in each slot; NaN (equal to nothing) when empty. */
  private readonly tlbTag = new Float64Array(TLB_ENTRIES).fill(Number.NaN);
  private readonly tlbPhys = new Float64Array(TLB_ENTRIES);
  private readonly tlbWritable = new Uint8Array(TLB_ENTRIES);
  /** Physical address of each cached entry's PTE (a paging-structure cache: a write to a read-only entry re-reads only the PTE). */
  private readonly tlbPte = new Float64Array(TLB_ENTRIES);
  /** Write views set aside by {@link writeProtect}: the first write after it sets SD again and restores the view. */
  private readonly parkedViews: (DataView | null)[] = new Array<DataView | null>(TLB_ENTRIES).fill(null);
  /** The frame view of each slot for loads, or null (not cached yet, or not allowed). */
  private readonly readViews: (DataView | null)[] = new Array<DataView | null>(TLB_ENTRIES).fill(null);
  /** The frame view of each slot for stores: only for writable, dirty entries. */
  private readonly writeViews: (DataView | null)[] = new Array<DataView | null>(TLB_ENTRIES).fill(null);
  /** Slots that may hold a view (each listed once), so that dropping them all is cheap. */
  private readonly viewSlots = new Int32Array(TLB_ENTRIES);
  private readonly viewListed = new Uint8Array(TLB_ENTRIES);
  private viewCount = 0;
  /** TLB misses that walked the page tables. */
  tlbMisses = 0;

  /** Creates the view of `table` (in `ram`), calling `handler` on faults. */
  constructor(ram: Memory, table: PageTable, handler: FaultHandler) {
    this.ram = ram;
    this.table = table;
    this.handler = handler;
    this.frames = offersFrameViews(ram) ? ram : NO_FRAME_VIEWS;
    this.traffic = this.frames.traffic;
    this.generation = this.frames.viewGeneration;
  }

  /** Drops cached translations of pages `[startVpn, endVpn)` (INVLPG, or a full flush for big ranges). */
  invalidate(startVpn: number, endVpn: number): void {
    if (endVpn - startVpn >= TLB_ENTRIES) {
      this.tlbTag.fill(Number.NaN);
      return;
    }
    for (let vpn = startVpn; vpn < endVpn; vpn++) {
      const slot = tlbSlot(vpn);
      if (this.tlbTag[slot] === vpn) this.tlbTag[slot] = Number.NaN;
    }
  }

  /**
   * Drops the write permission cached for page `vpn` (its PTE lost the soft-dirty bit): the
   * next write re-reads the PTE (and sets the bit), loads keep their cached view.
   */
  writeProtect(vpn: number): void {
    const slot = tlbSlot(vpn);
    if (this.tlbTag[slot] !== vpn) return;
    this.tlbWritable[slot] = 0;
    if (this.writeViews[slot] !== null) this.parkedViews[slot] = this.writeViews[slot]!;
    this.writeViews[slot] = null;
  }

  /**
   * A write to a page whose entry was filled by a read while its PTE lacked D or SD (after a
   * soft-dirty clear): when the PTE (at the address the entry keeps) is present and writable,
   * the frame's write view, for {@link rearm}; else null (the walk and fault path decides).
   */
  private writeAssist(slot: number): DataView | null {
    if (this.generation !== this.frames.viewGeneration) return null;
    const low = this.ram.load32(this.tlbPte[slot]!);
    if ((low & (PTE_PRESENT | PTE_RW)) !== (PTE_PRESENT | PTE_RW)) return null;
    return this.frames.frameView(this.tlbPhys[slot]! / PAGE_SIZE, true);
  }

  /**
   * The first write to a page after {@link writeProtect}: sets A, D and SD in its PTE (whose
   * address the entry keeps) and gives the entry its write view back, as the MMU's dirty-bit
   * update would; counted as a TLB miss.
   */
  private rearm(slot: number, view: DataView): void {
    this.tlbMisses++;
    const pte = this.tlbPte[slot]!;
    const low = this.ram.load32(pte);
    this.ram.store32(pte, (low | PTE_ACCESSED | PTE_DIRTY | PTE_SOFT_DIRTY) >>> 0);
    this.parkedViews[slot] = null;
    this.writeViews[slot] = view;
    this.tlbWritable[slot] = 1;
  }

  // ---- loads ---------------------------------------------------------------------------
  //
  // A hit is the TLB slot of the page (tag and view, inline, no call) and one or two DataView
  // reads; the bodies are kept small so that the engine inlines them into their callers.
  // `address & 4095` is the page offset of an integer address below 2^53, and
  // `(address - offset) / 4096` its page number; for any other address (fractional, negative,
  // NaN) that quotient is not a page number in the TLB, so the access takes the miss path,
  // which checks it. So does an access straddling two pages (the offset test).

  /** {@inheritDoc @mem/hardware#Memory.load8} */
  load8(address: number): number {
    if (typeof address !== "number") return this.loadMiss(address, 1);
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    const view = this.readViews[slot]!;
    if (view !== null && this.tlbTag[slot] === vpn && this.generation === this.frames.viewGeneration) {
      this.traffic.loads++;
      this.traffic.bytesMoved += 1;
      return view.getUint8(offset);
    }
    return this.loadMiss(address, 1);
  }

  /** {@inheritDoc @mem/hardware#Memory.load16} */
  load16(address: number): number {
    if (typeof address !== "number") return this.loadMiss(address, 2);
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    const view = this.readViews[slot]!;
    if (offset <= 4094 && view !== null && this.tlbTag[slot] === vpn && this.generation === this.frames.viewGeneration) {
      this.traffic.loads++;
      this.traffic.bytesMoved += 2;
      return view.getUint16(offset, true);
    }
    return this.loadMiss(address, 2);
  }

  /** {@inheritDoc @mem/hardware#Memory.load32} */
  load32(address: number): number {
    if (typeof address !== "number") return this.loadMiss(address, 4);
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    const view = this.readViews[slot]!;
    if (offset <= 4092 && view !== null && this.tlbTag[slot] === vpn && this.generation === this.frames.viewGeneration) {
      this.traffic.loads++;
      this.traffic.bytesMoved += 4;
      return view.getUint32(offset, true);
    }
    return this.loadMiss(address, 4);
  }

  /** {@inheritDoc @mem/hardware#Memory.load64} */
  load64(address: number): number {
    if (typeof address !== "number") return this.loadMiss(address, 8);
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    const view = this.readViews[slot]!;
    if (offset <= 4088 && view !== null && this.tlbTag[slot] === vpn && this.generation === this.frames.viewGeneration) {
      const high = view.getUint32(offset + 4, true);
      // above 0x1fffff the value is not a safe integer: the miss path throws the RangeError
      if (high <= 0x1fffff) {
        this.traffic.loads++;
        this.traffic.bytesMoved += 8;
        return high * Tlb.TwoTo32 + view.getUint32(offset, true);
      }
    }
    return this.loadMiss(address, 8);
  }

  /** {@inheritDoc @mem/hardware#Memory.load64Big} */
  load64Big(address: number): bigint {
    if (pageOffset(address) <= PAGE_SIZE - 8) return this.ram.load64Big(this.translate(address, false));
    const bytes = this.read(address, 8);
    return new DataView(bytes.buffer).getBigUint64(0, true);
  }

  // ---- stores --------------------------------------------------------------------------
  //
  // The same hit test on the write views, which exist only for writable, dirty entries, plus
  // a test of the value: a value out of range, fractional or NaN takes the miss path, which
  // throws before anything is touched.

  /** {@inheritDoc @mem/hardware#Memory.store8} */
  store8(address: number, value: number): void {
    if (typeof address !== "number" || typeof value !== "number") {
      this.storeMiss(address, 1, value);
      return;
    }
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    const view = this.writeViews[slot]!;
    if ((value & 0xff) === value && view !== null && this.tlbTag[slot] === vpn && this.generation === this.frames.viewGeneration) {
      this.traffic.stores++;
      this.traffic.bytesMoved += 1;
      view.setUint8(offset, value);
      return;
    }
    this.storeMiss(address, 1, value);
  }

  /** {@inheritDoc @mem/hardware#Memory.store16} */
  store16(address: number, value: number): void {
    if (typeof address !== "number" || typeof value !== "number") {
      this.storeMiss(address, 2, value);
      return;
    }
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    const view = this.writeViews[slot]!;
    if (
      offset <= 4094 &&
      (value & 0xffff) === value &&
      view !== null &&
      this.tlbTag[slot] === vpn &&
      this.generation === this.frames.viewGeneration
    ) {
      this.traffic.stores++;
      this.traffic.bytesMoved += 2;
      view.setUint16(offset, value, true);
      return;
    }
    this.storeMiss(address, 2, value);
  }

  /** {@inheritDoc @mem/hardware#Memory.store32} */
  store32(address: number, value: number): void {
    if (typeof address !== "number" || typeof value !== "number") {
      this.storeMiss(address, 4, value);
      return;
    }
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    const view = this.writeViews[slot]!;
    if (
      offset <= 4092 &&
      value >>> 0 === value &&
      view !== null &&
      this.tlbTag[slot] === vpn &&
      this.generation === this.frames.viewGeneration
    ) {
      this.traffic.stores++;
      this.traffic.bytesMoved += 4;
      view.setUint32(offset, value, true);
      return;
    }
    this.storeMiss(address, 4, value);
  }

  /** {@inheritDoc @mem/hardware#Memory.store64} */
  store64(address: number, value: number): void {
    if (typeof address !== "number" || typeof value !== "number") {
      this.storeMiss(address, 8, value);
      return;
    }
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    const view = this.writeViews[slot]!;
    const low = value >>> 0;
    const high = (value - low) * Tlb.InverseTwoTo32;
    // a safe integer has an integer high half in 0..0x1fffff; anything else fails the mask test
    if (
      offset <= 4088 &&
      (high & 0x1fffff) === high &&
      view !== null &&
      this.tlbTag[slot] === vpn &&
      this.generation === this.frames.viewGeneration
    ) {
      this.traffic.stores++;
      this.traffic.bytesMoved += 8;
      view.setUint32(offset, low, true);
      view.setUint32(offset + 4, high, true);
      return;
    }
    this.storeMiss(address, 8, value);
  }

  /** {@inheritDoc @mem/hardware#Memory.store64Big} */
  store64Big(address: number, value: bigint): void {
    if (typeof value !== "bigint" || value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw new ArgumentRangeError(`os-vm: store64Big value must be a bigint in 0..2^64-1, got ${describeArgument(value)}`);
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
    // The range first, for anything longer than a page: read(0, 2 ** 40) must fault (SIGSEGV)
    // at the first address that is not readable, not allocate a 1 TiB buffer.
    if (length > PAGE_SIZE) this.handler.checkAccess(address, length, false);
    const out = new Uint8Array(length);
    this.readInto(address, out);
    return out;
  }

  /** {@inheritDoc @mem/hardware#Memory.readInto} */
  readInto(address: number, target: Uint8Array): void {
    if (!(target instanceof Uint8Array)) throw new InvalidArgumentError("os-vm: readInto expects a Uint8Array");
    const length = target.length;
    if (length === 0) return;
    const view = this.cachedView(address, length, false);
    if (view !== null) {
      target.set(new Uint8Array(view.buffer, view.byteOffset + (address & Tlb.PageMask), length));
      this.traffic.loads++;
      this.traffic.bytesMoved += length;
      return;
    }
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
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError("os-vm: write expects a Uint8Array");
    const length = bytes.length;
    if (length === 0) return;
    const view = this.cachedView(address, length, true);
    if (view !== null) {
      new Uint8Array(view.buffer, view.byteOffset + (address & Tlb.PageMask), length).set(bytes);
      this.traffic.stores++;
      this.traffic.bytesMoved += length;
      return;
    }
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
    if (typeof byte !== "number" || (byte & 0xff) !== byte) throw new ArgumentRangeError(`os-vm: fill byte must be 0..255, got ${describeArgument(byte)}`);
    if (length === 0) return;
    // A whole page takes RAM's path: zeroing a whole frame gives its backing storage back.
    const view = length < PAGE_SIZE ? this.cachedView(address, length, true) : null;
    if (view !== null) {
      new Uint8Array(view.buffer, view.byteOffset + (address & Tlb.PageMask), length).fill(byte);
      this.traffic.stores++;
      this.traffic.bytesMoved += length;
      return;
    }
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
    const from = this.cachedView(source, length, false);
    const to = from === null ? null : this.cachedView(destination, length, true);
    if (to !== null) {
      // TypedArray#set copies as if through a temporary when both views share a buffer: memmove.
      new Uint8Array(to.buffer, to.byteOffset + (destination & Tlb.PageMask), length).set(
        new Uint8Array(from!.buffer, from!.byteOffset + (source & Tlb.PageMask), length),
      );
      this.traffic.loads++;
      this.traffic.stores++;
      this.traffic.bytesMoved += 2 * length;
      return;
    }
    this.handler.checkAccess(source, length, false);
    this.handler.checkAccess(destination, length, true);
    this.write(destination, this.read(source, length));
  }

  /**
   * The cached view of the page holding `[address, address + length)` for a read or a write,
   * or null when the range leaves the page, the TLB has no view for it, or the views are stale.
   * A range inside one page whose TLB entry holds a view is mapped and allowed: no check needed.
   */
  private cachedView(address: number, length: number, write: boolean): DataView | null {
    const offset = address & Tlb.PageMask;
    const vpn = (address - offset) * Tlb.InversePage;
    const slot = tlbSlot(vpn);
    if (offset + length > PAGE_SIZE || this.tlbTag[slot] !== vpn || this.generation !== this.frames.viewGeneration) return null;
    if (!write) return this.readViews[slot]!;
    const parked = this.parkedViews[slot]!;
    if (parked !== null) this.rearm(slot, parked);
    return this.writeViews[slot]!;
  }

  // ---- translation ---------------------------------------------------------------------

  /**
   * The physical address of virtual `address` for a read or a write, faulting the page in
   * if needed. Also caches the frame's view for the access kind in the page's TLB entry.
   */
  translate(address: number, write: boolean): number {
    if (typeof address !== "number" || !Number.isInteger(address)) {
      throw new InvalidArgumentError(`os-vm: address must be an integer, got ${describeArgument(address)}`);
    }
    if (this.generation !== this.frames.viewGeneration) this.dropViews();
    const vpn = Math.floor(address / PAGE_SIZE);
    const slot = tlbSlot(vpn);
    if (this.tlbTag[slot] !== vpn || (write && this.tlbWritable[slot] === 0)) this.fill_(vpn, address, write, slot);
    const phys = this.tlbPhys[slot]!;
    if (write ? this.writeViews[slot] === null : this.readViews[slot] === null) this.cacheView(slot, write);
    return phys + (address - vpn * PAGE_SIZE);
  }

  /** Caches the view of `slot`'s frame for reads, or for writes when the entry allows them. */
  private cacheView(slot: number, write: boolean): void {
    if (write && this.tlbWritable[slot] !== 1) return;
    const view = this.frames.frameView(this.tlbPhys[slot]! / PAGE_SIZE, write);
    if (view === null) return;
    if (write) this.writeViews[slot] = view;
    else this.readViews[slot] = view;
    if (this.viewListed[slot] === 0) {
      this.viewListed[slot] = 1;
      this.viewSlots[this.viewCount++] = slot;
    }
  }

  /** Forgets every cached view (RAM's view generation moved): only the listed slots are visited. */
  private dropViews(): void {
    for (let i = 0; i < this.viewCount; i++) {
      const slot = this.viewSlots[i]!;
      this.readViews[slot] = null;
      this.writeViews[slot] = null;
      this.parkedViews[slot] = null;
      this.viewListed[slot] = 0;
    }
    this.viewCount = 0;
    this.generation = this.frames.viewGeneration;
  }

  /** TLB miss: walk the tables, faulting until the entry allows the access; fill the TLB slot. */
  private fill_(vpn: number, address: number, write: boolean, slot: number): void {
    this.tlbMisses++;
    if (address < 0 || address >= USER_SPACE) this.handler.handleFault(address, write); // throws
    // a write to a cached read-only entry: its PTE's address is known (the kernel drops the
    // entry before it frees or moves a page table), so only the PTE is read again
    const cached = this.tlbTag[slot] === vpn;
    for (let attempt = 0; attempt < 3; attempt++) {
      const pte = attempt === 0 && cached ? this.tlbPte[slot]! : this.table.pteAddress(vpn, false);
      if (pte >= 0) {
        const low = this.ram.load32(pte);
        if ((low & PTE_PRESENT) !== 0 && (!write || (low & PTE_RW) !== 0)) {
          // The MMU sets Accessed on every walk and Dirty on a write; soft-dirty too, where
          // Linux write-protects the PTE at clear_refs and sets it in the write fault (the
          // simulated kernel takes no fault: watching must not change the fault counts).
          const wanted = low | PTE_ACCESSED | (write ? PTE_DIRTY | PTE_SOFT_DIRTY : 0);
          if (wanted !== low) this.ram.store32(pte, wanted >>> 0);
          const phys = entryFrame(this.ram, pte, low) * PAGE_SIZE;
          // the same frame under the same tag keeps its read view
          if (!(cached && attempt === 0 && this.tlbPhys[slot] === phys)) this.readViews[slot] = null;
          this.tlbTag[slot] = vpn;
          this.tlbPhys[slot] = phys;
          this.tlbPte[slot] = pte;
          this.writeViews[slot] = null;
          this.parkedViews[slot] = null;
          this.tlbWritable[slot] = (wanted & (PTE_RW | PTE_DIRTY | PTE_SOFT_DIRTY)) === (PTE_RW | PTE_DIRTY | PTE_SOFT_DIRTY) ? 1 : 0;
          return;
        }
      }
      this.handler.handleFault(address, write);
    }
    throw new Error(`os-vm: internal error: the fault at 0x${address.toString(16)} did not install a usable entry`);
  }

  /** A load the hit path did not serve: a TLB miss, no cached view, stale views, a straddle, or a bad address. */
  private loadMiss(address: number, width: number): number {
    if (pageOffset(address) > PAGE_SIZE - width) return this.loadStraddling(address, width);
    const phys = this.translate(address, false);
    return width === 1 ? this.ram.load8(phys) : width === 2 ? this.ram.load16(phys) : width === 4 ? this.ram.load32(phys) : this.ram.load64(phys);
  }

  /** A store that missed: the value is checked first, so a bad value faults nothing in. */
  private storeMiss(address: number, width: number, value: number): void {
    const max = width === 8 ? Number.MAX_SAFE_INTEGER : width === 4 ? 0xffffffff : width === 2 ? 0xffff : 0xff;
    if (typeof value !== "number") {
      throw new InvalidArgumentError(`os-vm: store${8 * width} value must be a number, got ${describeArgument(value)}`);
    }
    if (!(value >= 0 && value <= max) || Math.floor(value) !== value) {
      throw new ArgumentRangeError(`os-vm: store${8 * width} value must be an integer in 0..${max}, got ${String(value)}`);
    }
    const offset = pageOffset(address);
    if (offset > PAGE_SIZE - width) {
      this.storeStraddling(address, width, value);
      return;
    }
    const vpn = (address - offset) / PAGE_SIZE;
    const slot = tlbSlot(vpn);
    let parked: DataView | null = this.parkedViews[slot] ?? null;
    if (parked === null && this.tlbTag[slot] === vpn && this.tlbWritable[slot] === 0 && this.readViews[slot] !== null) parked = this.writeAssist(slot);
    if (parked !== null && this.tlbTag[slot] === vpn && this.generation === this.frames.viewGeneration) {
      // write-protected for soft-dirty tracking only: re-arm and store through the view
      this.rearm(slot, parked);
      this.traffic.stores++;
      this.traffic.bytesMoved += width;
      if (width === 1) parked.setUint8(offset, value);
      else if (width === 2) parked.setUint16(offset, value, true);
      else if (width === 4) parked.setUint32(offset, value, true);
      else {
        const low = value >>> 0;
        parked.setUint32(offset, low, true);
        parked.setUint32(offset + 4, (value - low) / Tlb.TwoTo32, true);
      }
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
      let exact = 0n;
      for (let i = width - 1; i >= 0; i--) exact = (exact << 8n) | BigInt(bytes[i]!);
      throw new UnsafeIntegerError(address, exact);
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
    throw new InvalidArgumentError(`os-vm: address must be an integer, got ${describeArgument(address)}`);
  }
  return address - Math.floor(address / PAGE_SIZE) * PAGE_SIZE;
}

function checkLength(length: number): void {
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    throw new ArgumentRangeError(`os-vm: length must be a non-negative integer, got ${describeArgument(length)}`);
  }
}

