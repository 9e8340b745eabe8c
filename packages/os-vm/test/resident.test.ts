import { PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import { Kernel, MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE, residentAnonPages } from "../src/index.js";

describe("residentAnonPages", () => {
  it("lists exactly the pages counted in RssAnon, VMA by VMA, without changing anything", () => {
    const kernel = new Kernel({ ram: new PhysicalMemory({ size: 64 * 1024 * 1024 }) });
    const p = kernel.createProcess();
    const a = p.mmap(0, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    p.memory.store8(a, 1); // written: resident
    p.memory.load8(a + 4096); // read: the zero page, not in RssAnon
    p.memory.store8(a + 5 * 4096, 1);
    p.memory.store8(a + 6 * 4096, 1);
    p.madvise(a + 6 * 4096, 4096, MADV_DONTNEED);
    p.memory.store8(a + 7 * 4096, 1);
    p.mprotect(a + 7 * 4096, 4096, PROT_NONE); // PROT_NONE keeps the frame: still counted
    const brk = p.brk(0);
    p.brk(brk + 8192);
    p.memory.store32(brk + 4100, 7);
    const shared = p.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    p.memory.store8(shared, 1); // a shmem page: RssShmem, not RssAnon
    expect(p.mm.rssShmem).toBe(1);
    const tablesBefore = p.mm.pageTable.tablePages;
    const faultsBefore = p.faults.minor;
    const result = residentAnonPages(p);
    const total = result.reduce((n, v) => n + v.pages.length, 0);
    expect(total).toBe(p.mm.rssAnon);
    const all = result.flatMap((v) => v.pages);
    expect(all.filter((vpn) => vpn * 4096 >= a && vpn * 4096 < a + 16 * 4096)).toEqual([a / 4096, a / 4096 + 5, a / 4096 + 7]);
    const heap = result.find((v) => v.name === "[heap]");
    expect(heap?.pages).toEqual([(brk + 4096) / 4096]);
    expect(p.mm.pageTable.tablePages).toBe(tablesBefore);
    expect(p.faults.minor).toBe(faultsBefore);
  });
});
