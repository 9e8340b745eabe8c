import { CpuCache, PhysicalMemory, TYPICAL_X86_64_CACHES, type Memory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import type { VirtualMemory } from "../src/index.js";
import { MAP_SHARED, PROT_READ, SegmentationFault } from "../src/index.js";
import { ANON, RW, boot } from "./helpers.js";

describe("the TLB's direct path to RAM", () => {
  it("counts every access in RAM's counters, hits included", () => {
    const { ram, proc } = boot();
    const mem = proc.memory;
    const p = proc.mmap(0, 4096, RW, ANON);
    mem.store64(p, 1); // fault the page in, fill the TLB entry
    mem.load64(p);
    ram.resetCounters();
    for (let i = 0; i < 100; i++) {
      mem.store64(p + 8 * i, i);
      mem.store32(p + 1000 + 4 * i, i);
      mem.store16(p + 2000 + 2 * i, i);
      mem.store8(p + 3000 + i, i);
    }
    let sum = 0;
    for (let i = 0; i < 100; i++) sum += mem.load64(p + 8 * i) + mem.load32(p + 1000 + 4 * i) + mem.load16(p + 2000 + 2 * i) + mem.load8(p + 3000 + i);
    expect(sum).toBe(4 * 4950);
    expect(ram.counters).toMatchObject({ loads: 400, stores: 400, bytesMoved: 2 * 100 * (8 + 4 + 2 + 1) });
  });

  it("reaches 4096 pages: a second pass over 16 MiB misses the TLB nowhere", () => {
    const { proc } = boot();
    const mem = proc.memory as VirtualMemory;
    const p = proc.mmap(0, 4096 * 4096, RW, ANON);
    for (let page = 0; page < 4096; page++) mem.store32(p + page * 4096, page);
    const misses = mem.tlbMisses;
    for (let page = 0; page < 4096; page++) expect(mem.load32(p + page * 4096)).toBe(page);
    expect(mem.tlbMisses).toBe(misses);
  });

  it("keeps the brk heap and the mmap area apart in the TLB although their page numbers share their low bits", () => {
    const { proc } = boot();
    const mem = proc.memory as VirtualMemory;
    const heap = proc.startBrk;
    proc.brk(heap + 4096);
    const area = proc.mmap(0, 32 * 1024 * 1024, RW, ANON);
    // a page of the area whose page number has the heap page's low 13 bits
    const low = (heap / 4096) % 8192;
    let page = area / 4096;
    while (page % 8192 !== low) page++;
    mem.store64(heap, 1);
    mem.store64(page * 4096, 2);
    const misses = mem.tlbMisses;
    for (let i = 0; i < 100; i++) expect(mem.load64(heap) + mem.load64(page * 4096)).toBe(3);
    expect(mem.tlbMisses).toBe(misses);
  });

  it("lets a cache model attached later see the accesses of cached translations", () => {
    const { ram, proc } = boot();
    const mem = proc.memory;
    const p = proc.mmap(0, 4096, RW, ANON);
    mem.store64(p, 5);
    mem.load64(p);
    const cache = new CpuCache(TYPICAL_X86_64_CACHES);
    ram.attachCache(cache);
    expect(mem.load64(p)).toBe(5);
    mem.store64(p + 64, 6);
    const l1 = cache.stats()[0]!;
    expect(l1.hits + l1.misses).toBeGreaterThanOrEqual(2);
  });

  it("re-marks a frame written after it was zeroed whole, in this process and in a sharer", () => {
    const { ram, proc } = boot();
    const mem = proc.memory;
    const p = proc.mmap(0, 4096, RW, MAP_SHARED | 0x20);
    const child = proc.fork();
    mem.store64(p, 1);
    expect(child.memory.load64(p)).toBe(1);
    child.memory.store64(p + 8, 2); // the child caches a write view of the shared frame
    const before = ram.counters.framesMaterialised;
    mem.fill(p, 4096, 0); // the parent zeroes the whole frame: RAM unmarks it
    expect(ram.counters.framesMaterialised).toBe(before - 1);
    child.memory.store64(p + 16, 3); // must not write through a stale view into an unmarked frame
    expect(ram.counters.framesMaterialised).toBe(before);
    expect(mem.load64(p + 16)).toBe(3);
    expect(mem.load64(p + 8)).toBe(0);
  });

  it("serves ranges inside one cached page directly, with memmove semantics and exact counts", () => {
    const { ram, proc } = boot();
    const mem = proc.memory;
    const p = proc.mmap(0, 4096, RW, ANON);
    mem.store64(p, 1);
    mem.load64(p);
    ram.resetCounters();
    mem.write(p + 100, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    mem.copy(p + 102, p + 100, 8); // overlapping, forwards
    expect([...mem.read(p + 100, 10)]).toEqual([1, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
    mem.fill(p + 200, 300, 0xab);
    const out = new Uint8Array(300);
    mem.readInto(p + 200, out);
    expect(out.every((b) => b === 0xab)).toBe(true);
    // write 8 + copy (8 in, 8 out) + read 10 + fill 300 + readInto 300
    expect(ram.counters).toMatchObject({ loads: 3, stores: 3, bytesMoved: 8 + 16 + 10 + 300 + 300 });
  });

  it("faults a range write to a page made read-only after its view was cached", () => {
    const { proc } = boot();
    const mem = proc.memory;
    const p = proc.mmap(0, 4096, RW, ANON);
    mem.fill(p, 64, 1); // caches the write view
    proc.mprotect(p, 4096, PROT_READ);
    for (const write of [() => mem.fill(p, 64, 2), () => mem.write(p, new Uint8Array(8)), () => mem.copy(p + 8, p, 8), () => mem.store8(p, 3)]) {
      expect(write).toThrow(SegmentationFault);
    }
    expect(mem.load8(p)).toBe(1);
  });

  it("takes the checked path for addresses that are not integers", () => {
    const { proc } = boot();
    const mem = proc.memory;
    const p = proc.mmap(0, 4096, RW, ANON);
    mem.store64(p, 9);
    for (const bad of [p + 0.5, Number.NaN, -8]) {
      expect(() => mem.load64(bad)).toThrow();
      expect(() => mem.store64(bad, 1)).toThrow();
    }
    expect(() => mem.store64(p, 2 ** 53)).toThrow(RangeError);
    expect(() => mem.store64(p, -1)).toThrow(RangeError);
    expect(() => mem.store64(p, 1.5)).toThrow(RangeError);
    expect(() => mem.store32(p, 2 ** 32)).toThrow(RangeError);
    expect(() => mem.store8(p, 256)).toThrow(RangeError);
    expect(() => mem.readInto(p, [0, 0] as unknown as Uint8Array)).toThrow("os-vm: readInto expects a Uint8Array");
    expect(mem.load64(p)).toBe(9);
  });

  it("works over a RAM that offers no frame views", () => {
    const inner = new PhysicalMemory({ size: 256 * 1024 * 1024 });
    // a Memory that is not a PhysicalMemory: every access takes the call path
    const ram: Memory = {
      size: inner.size,
      load8: (a) => inner.load8(a),
      load16: (a) => inner.load16(a),
      load32: (a) => inner.load32(a),
      load64: (a) => inner.load64(a),
      load64Big: (a) => inner.load64Big(a),
      store8: (a, v) => inner.store8(a, v),
      store16: (a, v) => inner.store16(a, v),
      store32: (a, v) => inner.store32(a, v),
      store64: (a, v) => inner.store64(a, v),
      store64Big: (a, v) => inner.store64Big(a, v),
      read: (a, n) => inner.read(a, n),
      readInto: (a, t) => inner.readInto(a, t),
      write: (a, b) => inner.write(a, b),
      fill: (a, n, b) => inner.fill(a, n, b),
      copy: (d, s, n) => inner.copy(d, s, n),
    };
    const { proc } = boot({ ram });
    const p = proc.mmap(0, 8192, RW, ANON);
    proc.memory.store64(p + 4096, 77);
    expect(proc.memory.load64(p + 4096)).toBe(77);
    inner.resetCounters();
    expect(proc.memory.load64(p + 4096)).toBe(77);
    expect(inner.counters.loads).toBe(1); // the hit went through RAM's load64
  });
});
