import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PhysicalMemory } from "@mem/hardware";
import { BARE_IMAGE, Kernel } from "@mem/os-vm";
import { GlibcMalloc, HeapCheckError, MAIN_ARENA_LIBC_OFFSET, MallocAbort, M_MXFAST, mainArenaAddress } from "../src/index.js";
import { freshGlibc, freshProcess } from "./support/replay.js";
import { AV_SYSTEM_MEM, AV_TOP } from "../src/arena-layout.js";

const KEY = 0x1234_5678_9abc;

describe("GlibcMalloc keeps its metadata in the process's memory, as glibc does", () => {
  it("puts the tcache struct first and links freed entries with safe-linking and the tcache key", () => {
    const g = freshGlibc();
    const m = g.process.memory;
    const p = g.malloc(40);
    const q = g.malloc(40);
    expect(p - g.heapStart).toBe(0x2a0);
    expect(m.load64(g.heapStart + 8)).toBe(0x291); // tcache_perthread_struct chunk
    g.free(p);
    expect(m.load64(p)).toBe(Math.floor(p / 4096)); // NULL, mangled
    expect(m.load64(p + 8)).toBe(KEY);
    g.free(q);
    expect(m.load64(q)).toBe(Number(BigInt(Math.floor(q / 4096)) ^ BigInt(p)));
    const tcache = g.heapStart + 0x10;
    expect(m.load16(tcache + 2 * 1)).toBe(2); // counts[1] (0x30 chunks)
    expect(m.load64(tcache + 0x80 + 8 * 1)).toBe(q); // entries[1]
    expect(g.malloc(40)).toBe(q);
    expect(m.load64(q + 8)).toBe(0); // key cleared when taken out
  });

  it("links unsorted chunks to the bin header inside main_arena and writes footers", () => {
    const g = freshGlibc();
    const m = g.process.memory;
    const a = g.malloc(0x500);
    g.malloc(24);
    g.free(a);
    const chunk = a - 16;
    const unsortedBin = g.arena + 0x60;
    expect(m.load64(chunk + 16)).toBe(unsortedBin);
    expect(m.load64(chunk + 24)).toBe(unsortedBin);
    expect(m.load64(unsortedBin + 16)).toBe(chunk);
    expect(m.load64(chunk + 8)).toBe(0x511);
    expect(m.load64(chunk + 0x510)).toBe(0x510); // footer = next chunk's prev_size
    expect(m.load64(chunk + 0x518) & 1).toBe(0); // next chunk's P bit cleared
  });

  it("walks the heap naming every chunk's state", () => {
    const g = freshGlibc();
    const a = g.malloc(24);
    const b = g.malloc(0x500);
    g.malloc(24);
    g.free(a);
    g.free(b);
    const states = g.walkHeap().map((c) => [c.address - g.heapStart, c.size, c.state, c.bin]);
    expect(states).toEqual([
      [0x0, 0x290, "in-use", undefined],
      [0x290, 0x20, "tcache", 0],
      [0x2b0, 0x510, "bin", 1],
      [0x7c0, 0x20, "in-use", undefined],
      [0x7e0, 0x20820, "top", undefined],
    ]);
  });

  it("serves the first malloc from a 1 MiB mmap when brk is blocked (non-contiguous main arena)", () => {
    const proc = freshProcess();
    const brk = proc.brk(0);
    proc.mmap(brk, 4096, 3, 0x22 | 0x10);
    const g = new GlibcMalloc(proc, { tcacheKey: KEY });
    const p = g.malloc(100);
    expect(p).not.toBe(0);
    expect(g.mallinfo2().arena).toBe(1048576);
    expect(g.mallocStats()).toContain("system bytes     =    1048576\n");
    expect(g.heapStart + 0x2a0).toBe(p);
    g.checkHeap();
  });
});

describe("glibc's aborts are typed and leave the simulator usable", () => {
  it("reports the exact message, the call and the chunk", () => {
    const g = freshGlibc();
    const p = g.malloc(24);
    g.free(p);
    let caught: unknown;
    try {
      g.free(p);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MallocAbort);
    const abort = caught as MallocAbort;
    expect(abort.message).toBe("free(): double free detected in tcache 2");
    expect(abort.address).toBe(p - 16);
    expect(abort.detail).toBe(`libc-malloc: free: free(): double free detected in tcache 2 (chunk at 0x${(p - 16).toString(16)})`);
    g.checkHeap();
    expect(g.malloc(24)).toBe(p);
  });

  it("catches a fastbin double free only at the bin head (fasttop), like glibc", () => {
    const g = freshGlibc();
    const ps = Array.from({ length: 10 }, () => g.malloc(24));
    for (const p of ps.slice(0, 9)) g.free(p);
    expect(() => g.free(ps[8]!)).toThrow("double free or corruption (fasttop)");
    g.checkHeap();
  });

  it("turns mallopt(M_MXFAST, 0) into no fastbins: 24-byte frees then coalesce", () => {
    const g = new GlibcMalloc(freshProcess(), { tcacheKey: KEY, tcacheCount: 0 });
    expect(g.mallopt(M_MXFAST, 0)).toBe(1);
    const a = g.malloc(24);
    const b = g.malloc(24);
    g.malloc(24);
    g.free(a);
    g.free(b);
    expect(g.malloc(24)).toBe(a);
    g.checkHeap();
  });
});

describe("the heap checker finds the first broken invariant", () => {
  function corruptedHeap(): { g: GlibcMalloc; big: number } {
    const g = freshGlibc();
    const big = g.malloc(0x500);
    g.malloc(24);
    g.free(big);
    g.checkHeap();
    return { g, big };
  }

  it("a footer that disagrees with the free chunk's size", () => {
    const { g, big } = corruptedHeap();
    g.process.memory.store64(big - 16 + 0x510, 0x400);
    expect(() => g.checkHeap()).toThrow(HeapCheckError);
    try {
      g.checkHeap();
    } catch (error) {
      expect((error as HeapCheckError).address).toBe(big - 16);
      expect((error as HeapCheckError).rule).toContain("footer");
    }
  });

  it("a broken bk link in a bin", () => {
    const { g, big } = corruptedHeap();
    g.process.memory.store64(big + 8, 0x1000);
    expect(() => g.checkHeap()).toThrow(/bk does not point back|header's bk/);
  });

  it("a tcache count that does not match its list", () => {
    const g = freshGlibc();
    g.free(g.malloc(24));
    g.process.memory.store16(g.heapStart + 0x10, 3);
    expect(() => g.checkHeap()).toThrow(/tcache bin 0 has 1 entries but its count says 3/);
  });

  it("a size field that breaks the chunk chain", () => {
    const g = freshGlibc();
    const p = g.malloc(24);
    g.malloc(24);
    g.process.memory.store64(p - 8, 0x18);
    expect(() => g.checkHeap()).toThrow(/invalid chunk size 0x18/);
  });
});

describe("chunks above 2 GiB keep exact size fields (no 32-bit bit operations on sizes)", () => {
  it("mmapped and brk-served chunks of 3 GiB", () => {
    const g = new GlibcMalloc(freshProcess(8 * 1024 ** 3), { tcacheKey: KEY });
    const m = g.process.memory;
    const big = 3 * 1024 ** 3;
    const p = g.malloc(big);
    expect(m.load64(p - 8)).toBe(big + 4096 + 2);
    expect(g.usableSize(p)).toBe(big + 4096 - 16);
    g.free(p);
    expect(g.mallinfo2().hblks).toBe(0);
    g.mallopt(-3 /* M_MMAP_THRESHOLD */, 2 ** 31 - 1);
    g.mallopt(-4 /* M_MMAP_MAX */, 0);
    const q = g.malloc(big);
    expect(q - g.heapStart).toBe(0x2a0);
    expect(m.load64(q - 8)).toBe(big + 16 + 1);
    g.checkHeap();
    const r = g.realloc(q, big + 100_000);
    expect(r).toBe(q);
    g.checkHeap();
    g.free(r);
    g.checkHeap();
  });
});

describe("wild pointers fault like the real process", () => {
  it("free of an unmapped address raises the kernel tier's SegmentationFault and changes nothing", () => {
    const g = freshGlibc();
    const p = g.malloc(100);
    expect(() => g.free(0x1230)).toThrow(expect.objectContaining({ name: "SegmentationFault" }) as Error);
    g.checkHeap();
    g.free(p);
    expect(g.malloc(100)).toBe(p);
  });
});

describe("realloc of an mmapped chunk (test/fixtures/mremap-realloc.c, recorded in mremap-realloc.txt)", () => {
  const recorded = readFileSync(new URL("fixtures/mremap-realloc.txt", import.meta.url), "utf8");
  const mmapLine = /^mmap\(NULL, (\d+), .*\) = (0x[0-9a-f]+)$/m.exec(recorded)!;
  const mremapLine = /^mremap\((0x[0-9a-f]+), (\d+), (\d+), MREMAP_MAYMOVE\) = (0x[0-9a-f]+)$/m.exec(recorded)!;
  const realloFaults = Number(/^moved 1 faults (\d+)/m.exec(recorded)![1]);
  const touchFaults = Number(/^touching the new part: (\d+) faults$/m.exec(recorded)![1]);

  it("moves the pages with mremap like glibc on Linux: no copy, no fault, the new mapping just below the old", () => {
    const process = freshProcess();
    const libc = new GlibcMalloc(process);
    const mem = process.memory;
    const p = libc.malloc(256 * 1024);
    const block = p - 16;
    expect(block % 4096).toBe(0);
    expect(Number(mmapLine[1])).toBe(266240); // the recorded mapping: 256 KiB + header, page-rounded
    mem.fill(p, 256 * 1024, 1);
    const before = process.faults.minor;
    const q = libc.realloc(p, 1024 * 1024);
    expect(process.faults.minor - before).toBe(realloFaults);
    expect(q).not.toBe(p);
    // recorded: the new 1052672-byte mapping ends where the old one began
    expect(Number(mremapLine[4]) + Number(mremapLine[3])).toBe(Number(mremapLine[1]));
    expect(q - 16 + Number(mremapLine[3])).toBe(block);
    expect([mem.load8(q), mem.load8(q + 256 * 1024 - 1)]).toEqual([1, 1]);
    const beforeTouch = process.faults.minor;
    mem.fill(q + 256 * 1024, 768 * 1024, 2);
    expect(process.faults.minor - beforeTouch).toBe(touchFaults);
    libc.checkHeap();
    libc.free(q);
  });
});

describe("a program writing into the tcache struct (test/fixtures/tcache-writes.c, recorded in tcache-writes.txt)", () => {
  const recorded = readFileSync(new URL("fixtures/tcache-writes.txt", import.meta.url), "utf8");

  it("sees the writes: glibc keeps no copy of counts[] and entries[]", () => {
    const libc = freshGlibc();
    const mem = libc.process.memory;
    const p = libc.malloc(24);
    const q = libc.malloc(24);
    libc.free(p);
    const tc = p - 0x290;
    const count0 = mem.load16(tc);
    const headIsP = mem.load64(tc + 128) === p;
    mem.store16(tc, 0);
    const r = libc.malloc(24);
    mem.store16(tc, 1);
    mem.store64(tc + 128, q);
    const s = libc.malloc(24);
    const printed = [
      `count ${count0} head_is_p ${Number(headIsP)}`,
      `count wiped: r == p ${Number(r === p)}, r == q + 32 ${Number(r === q + 32)}`,
      `entries[0] = q: s == q ${Number(s === q)}, count now ${mem.load16(tc)}`,
    ].join("\n");
    expect(printed + "\n").toBe(recorded);
  });
});

describe("main_arena in memory", () => {
  it("is what malloc reads: a write into av->system_mem shows in mallinfo2, one into av->top moves the next split", () => {
    const process = freshProcess();
    const state = process.mmap(0, 4096, 0x3, 0x22);
    const libc = new GlibcMalloc(process, { stateAddress: state });
    const p = libc.malloc(100);
    const mem = process.memory;
    expect(libc.mallinfo2().arena).toBe(mem.load64(state + AV_SYSTEM_MEM));
    mem.store64(state + AV_SYSTEM_MEM, 0x42000);
    expect(libc.mallinfo2().arena).toBe(0x42000);
    mem.store64(state + AV_SYSTEM_MEM, 0x21000);
    // av->top is the top chunk: make it start 0x1000 further on, with a size that fits
    const top = mem.load64(state + AV_TOP);
    const topSize = mem.load64(top + 8) & ~7;
    mem.store64(top + 0x1000 + 8, (topSize - 0x1000) | 1);
    mem.store64(state + AV_TOP, top + 0x1000);
    expect(libc.malloc(100)).toBe(top + 0x1000 + 16);
    expect(p).toBeGreaterThan(0);
  });
});

describe("main_arena in libc's data segment (test/fixtures/main-arena.c, recorded in main-arena.txt)", () => {
  const recorded = readFileSync(new URL("fixtures/main-arena.txt", import.meta.url), "utf8");
  const header = Number(/^unsorted bin header (0x[0-9a-f]+)/m.exec(recorded)![1]);
  const firstMmapped = Number(/^first mmapped chunk (0x[0-9a-f]+)$/m.exec(recorded)![1]);
  const data = /^([0-9a-f]+)-([0-9a-f]+) rw-p ([0-9a-f]+) .*\/libc\.so\.6$/m.exec(recorded)!;

  it("sits where glibc 2.36 keeps it, so the unsorted bin and the first mmap land at the recorded addresses", () => {
    const process = freshProcess();
    expect(mainArenaAddress(process.image.mappings)).toBe(parseInt(data[1]!, 16) + (MAIN_ARENA_LIBC_OFFSET - parseInt(data[3]!, 16)));
    const libc = new GlibcMalloc(process);
    const a = libc.malloc(0x500);
    libc.malloc(24);
    libc.free(a);
    expect(process.memory.load64(a)).toBe(header); // fd of the unsorted chunk: &main_arena.bins[0] - 16
    expect(libc.malloc(1 << 20)).toBe(firstMmapped);
  });

  it("refuses a stateAddress that is not an aligned address, mapping nothing", () => {
    const process = freshProcess();
    const maps = process.maps();
    for (const bad of [1.5, -16, 0x1008, Number.NaN]) {
      expect(() => new GlibcMalloc(process, { stateAddress: bad })).toThrow(/stateAddress must be a 16-byte aligned address/);
    }
    expect(process.maps()).toBe(maps);
  });

  it("falls back to a page of its own when the image maps no libc", () => {
    const process = new Kernel({ ram: new PhysicalMemory({ size: 64 * 1024 * 1024 }) }).createProcess({ image: BARE_IMAGE });
    expect(mainArenaAddress(process.image.mappings)).toBeUndefined();
    const libc = new GlibcMalloc(process);
    const a = libc.malloc(0x500);
    libc.malloc(24);
    libc.free(a);
    expect(process.maps()).toContain(`${(process.memory.load64(a) - 0x60).toString(16)}-`);
  });
});
