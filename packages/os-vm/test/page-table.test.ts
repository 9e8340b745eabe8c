import { describe, expect, it } from "vitest";
import { BARE_IMAGE, PROT_READ } from "../src/index.js";
import { ANON, RW, boot, statusKb } from "./helpers.js";

/** Walks the 4-level tables in RAM by hand, from the PGD frame, as the MMU would. */
function walk(ram: { load64Big(address: number): bigint }, pgdFrame: number, va: number): bigint[] {
  const entries: bigint[] = [];
  let table = BigInt(pgdFrame) * 4096n;
  for (const shift of [39n, 30n, 21n, 12n]) {
    const index = (BigInt(va) >> shift) & 511n;
    const entry = ram.load64Big(Number(table + index * 8n));
    entries.push(entry);
    if ((entry & 1n) === 0n) break;
    table = entry & 0x000ffffffffff000n;
  }
  return entries;
}

describe("x86-64 page tables in RAM", () => {
  it("stores 64-bit entries with P, R/W, U/S, A, D and NX in frames of the buddy allocator", () => {
    const { ram, kernel, proc } = boot({}, { image: BARE_IMAGE });
    const p = proc.mmap(0, 4096, RW, ANON);
    expect(walk(ram, proc.mm.pageTable.root, p).at(-1)).toBe(0n); // mapped, not touched: no PTE page yet
    proc.memory.load8(p);
    const zero = walk(ram, proc.mm.pageTable.root, p);
    // the zero page: present, user, accessed, SPECIAL (bit 9), read-only, NX
    expect(zero[3]! & 0xfffn).toBe(0x1n | 0x4n | 0x20n | 0x200n);
    expect(zero[3]! >> 63n).toBe(1n);
    proc.memory.store8(p, 0xab);
    const entries = walk(ram, proc.mm.pageTable.root, p);
    expect(entries).toHaveLength(4);
    for (const table of entries.slice(0, 3)) expect(table & 0xfffn).toBe(0x27n); // P | RW | US | A
    const pte = entries[3]!;
    expect(pte & 0xfffn).toBe(0x867n); // P | RW | US | A | D | soft-dirty (bit 11, set with D)
    expect(pte >> 63n).toBe(1n); // NX: no PROT_EXEC
    const frame = Number((pte & 0x000ffffffffff000n) >> 12n);
    expect(ram.load8(frame * 4096)).toBe(0xab); // the byte is in that frame
    expect(kernel.pages.zoneOf(frame)?.name).toBe("DMA32");
    // mprotect(PROT_READ): R/W cleared in RAM; PROT_NONE: P cleared, PROTNONE (bit 8) set, frame kept
    proc.mprotect(p, 4096, PROT_READ);
    expect(walk(ram, proc.mm.pageTable.root, p)[3]! & 0x3n).toBe(0x1n);
    proc.mprotect(p, 4096, 0);
    const none = walk(ram, proc.mm.pageTable.root, p)[3]!;
    expect(none & 0x101n).toBe(0x100n);
    expect(Number((none & 0x000ffffffffff000n) >> 12n)).toBe(frame);
    expect(statusKb(proc.status(), "RssAnon")).toBe(4);
  });

  it("frees the table pages of an unmapped range and counts them in VmPTE", () => {
    const { kernel, proc } = boot({}, { image: BARE_IMAGE });
    const base = statusKb(proc.status(), "VmPTE");
    const free = kernel.pages.freePages;
    const far = 0x100000000000; // a new 512 GiB region: PUD + PMD + PTE pages
    proc.mmap(far, 4 << 20, RW, ANON | 0x10);
    proc.memory.store8(far, 1);
    proc.memory.store8(far + (2 << 20), 1);
    expect(statusKb(proc.status(), "VmPTE") - base).toBe(16); // PUD, PMD, 2 PTE pages
    expect(free - kernel.pages.freePages).toBe(4 + 2);
    proc.munmap(far, 2 << 20);
    expect(statusKb(proc.status(), "VmPTE") - base).toBe(12); // the first PTE page went
    proc.munmap(far + (2 << 20), 2 << 20);
    expect(statusKb(proc.status(), "VmPTE")).toBe(base);
    expect(kernel.pages.freePages).toBe(free);
  });
});
