import { readFileSync } from "node:fs";
import fc from "fast-check";
import { PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import { Kernel, OutOfMemoryError, PageAllocator } from "../src/index.js";

const MiB = 1024 * 1024;

describe("the buddy allocator", () => {
  it("boots 256 MiB into DMA and DMA32 free lists of naturally aligned blocks (golden)", () => {
    const pages = new PageAllocator(new PhysicalMemory({ size: 256 * MiB }));
    // struct page[65536] x 32 bytes after a 512-byte header: frames 0..512 reserved
    expect(pages.reservedFrames).toBe(513);
    expect(pages.totalPages).toBe(65536 - 513);
    expect(pages.buddyinfo()).toBe(
      "Node 0, zone      DMA      1      1      1      1      1      1      1      1      1      0      3 \n" +
        "Node 0, zone    DMA32      0      0      0      0      0      0      0      0      0      0     60 \n",
    );
    expect(pages.check()).toEqual([]);
  });

  it("splits the first block of the highest zone and merges buddies back (golden)", () => {
    const pages = new PageAllocator(new PhysicalMemory({ size: 256 * MiB }));
    expect(pages.alloc(0, "test")).toBe(4096); // upper halves 4097, 4098, 4100 ... go back on the lists
    expect(pages.alloc(0, "test")).toBe(4097);
    expect(pages.alloc(1, "test")).toBe(4098);
    expect(pages.alloc(0, "test")).toBe(4100); // splits the order-2 block 4100: 4101 and 4102-4103 go back
    expect(pages.buddyinfo().split("\n")[1]).toBe("Node 0, zone    DMA32      1      1      0      1      1      1      1      1      1      1     59 ");
    pages.release(4097, 0);
    pages.release(4096, 0); // merges with 4097 into an order-1 block at 4096
    pages.release(4098, 1); // merges up to order 2
    pages.release(4100, 0); // and all the way back to order 10
    expect(pages.buddyinfo().split("\n")[1]).toBe("Node 0, zone    DMA32      0      0      0      0      0      0      0      0      0      0     60 ");
    expect(pages.check()).toEqual([]);
  });

  it("falls back to DMA when DMA32 is exhausted, then reports out of memory", () => {
    const pages = new PageAllocator(new PhysicalMemory({ size: 16 * MiB + 4 * MiB }));
    const blocks: number[] = [];
    for (;;) {
      try {
        blocks.push(pages.alloc(10, "test"));
      } catch (error) {
        expect(error).toBeInstanceOf(OutOfMemoryError);
        expect((error as Error).message).toBe("os-vm: out of memory: page allocation of order 10 (4096 kB) for test failed: 983 pages free, largest free block order 9");
        break;
      }
    }
    expect(blocks).toEqual([4096, 1024, 2048, 3072]);
    expect(() => pages.release(4096, 0)).not.toThrow();
    expect(() => pages.release(4096, 0)).toThrow(/bad page state: freeing frame 0x1000 \(order 0\) that is already free/);
  });

  it("keeps its invariants under random allocation and freeing, and returns to the boot state", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 10 }), fc.nat()), { minLength: 1, maxLength: 80 }), (steps) => {
        const pages = new PageAllocator(new PhysicalMemory({ size: 32 * MiB }));
        const boot = pages.buddyinfo();
        const live: [number, number][] = [];
        for (const [allocate, order, pick] of steps) {
          if (allocate || live.length === 0) {
            try {
              const pfn = pages.alloc(order, "test");
              expect(pfn % (1 << order)).toBe(0);
              for (const [other, o] of live) expect(pfn + (1 << order) <= other || other + (1 << o) <= pfn).toBe(true);
              live.push([pfn, order]);
            } catch (error) {
              expect(error).toBeInstanceOf(OutOfMemoryError);
            }
          } else {
            const [pfn, o] = live.splice(pick % live.length, 1)[0]!;
            pages.release(pfn, o);
          }
          expect(pages.check()).toEqual([]);
        }
        for (const [pfn, o] of live) pages.release(pfn, o);
        expect(pages.buddyinfo()).toBe(boot);
        expect(pages.freePages).toBe(pages.totalPages);
      }),
      { numRuns: 40 },
    );
  });
});

describe("the kernel's memory figures", () => {
  it("counts MemFree, AnonPages, PageTables and Committed_AS in /proc/meminfo", () => {
    const kernel = new Kernel({ ram: new PhysicalMemory({ size: 256 * MiB }) });
    const field = (name: string): number => Number(new RegExp(`^${name}: +(\\d+) kB$`, "m").exec(kernel.meminfo())![1]);
    expect(field("MemTotal")).toBe((65536 - 513) * 4);
    expect(field("MemFree")).toBe((65536 - 513 - 1) * 4); // the zero page
    const proc = kernel.createProcess();
    const free0 = field("MemFree");
    const committed0 = field("Committed_AS");
    const p = proc.mmap(0, 64 * 4096, 3, 0x22);
    expect(field("Committed_AS")).toBe(committed0 + 256);
    for (let i = 0; i < 64; i++) proc.memory.store8(p + i * 4096, 1);
    expect(field("AnonPages")).toBe(256);
    // 64 frames; the PTE page of 0x7ffff7c00000-0x7ffff7e00000 exists since the image was loaded
    expect(p).toBe(0x7ffff7d92000); // the hole below the TLS pages is too small: below libc
    expect(field("MemFree")).toBe(free0 - 256);
    expect(field("PageTables")).toBe((1 + proc.mm.pageTable.tablePages) * 4);
    proc.munmap(p, 64 * 4096);
    expect(field("AnonPages")).toBe(0);
    expect(field("Committed_AS")).toBe(committed0);
    expect(kernel.meminfo()).toMatch(/^MemTotal: {9}260092 kB\nMemFree: +\d+ kB\n/);
    expect(kernel.meminfo()).toContain("HugePages_Total:       0\n");
    // the same fields in the same order as this machine's /proc/meminfo (recorded)
    const names = (text: string): string[] => text.split("\n").filter(Boolean).map((line) => line.split(":")[0]!);
    expect(names(kernel.meminfo())).toEqual(names(readFileSync(new URL("fixtures/meminfo.txt", import.meta.url), "utf8")));
  });
});
