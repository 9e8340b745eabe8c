import { describe, expect, it } from "vitest";
import { collectMaps, PACKED_SNAPSHOT_BOUND, packMaps, renderArenaMap, renderHeapMap, renderPageMap, unpackMaps, type ArenaCell, type HeapMapData, type MappingRow } from "../src/index.js";
import { goldenArenas, goldenHeap } from "./support.js";

describe("packMaps / unpackMaps", () => {
  it("round-trips the golden stacks' maps exactly", () => {
    for (const stack of [goldenHeap(), goldenArenas()]) {
      const m = collectMaps(stack);
      const back = unpackMaps(JSON.parse(JSON.stringify(packMaps(7, m.arenas, m.heap, m.pages))) as ReturnType<typeof packMaps>);
      expect(back.event).toBe(7);
      expect(back.arenas).toEqual(m.arenas);
      expect(back.heap).toEqual(m.heap);
      expect(back.pages).toEqual(m.pages);
    }
  });

  it("keeps at most maxChunks chunks, covering the heap in address order", () => {
    const chunks = Array.from({ length: 10_000 }, (_, i) => ({ address: 0x1000 + i * 32, size: 32, state: (i % 3 === 0 ? "in-use" : i % 3 === 1 ? "tcache" : "small") as "in-use" }));
    const heap: HeapMapData = { allocator: "glibc", heapStart: 0x1000, heapEnd: 0x1000 + 10_000 * 32, chunks, mmapped: [] };
    const packed = packMaps(1, undefined, heap, { pageSize: 4096, causes: [], mappings: [] }, { maxChunks: 100 });
    const back = unpackMaps(packed).heap;
    expect(back.chunks.length).toBeLessThanOrEqual(100);
    for (let i = 1; i < back.chunks.length; i++) expect(back.chunks[i]!.address).toBeGreaterThanOrEqual(back.chunks[i - 1]!.address + back.chunks[i - 1]!.size);
    expect(packed.h.merged).toBe(10_000 - back.chunks.length);
  });

  it("keeps at most maxRuns runs a mapping, still covering every page", () => {
    const runs: number[] = [];
    for (let i = 0; i < 5000; i++) runs.push(i % 2 === 0 ? 0 : 2, 1 + (i % 3));
    const pages = runs.reduce((a, x, i) => (i % 2 === 1 ? a + x : a), 0);
    const packed = packMaps(1, undefined, { allocator: "glibc", heapStart: 0, heapEnd: 0, chunks: [], mmapped: [] }, { pageSize: 4096, causes: ["x"], mappings: [{ start: 0, end: pages * 4096, name: "", runs }] }, { maxRuns: 50 });
    const row = unpackMaps(packed).pages.mappings[0]!;
    expect(row.runs.length / 2).toBeLessThanOrEqual(50);
    expect(row.runs.reduce((a, x, i) => (i % 2 === 1 ? a + x : a), 0)).toBe(pages);
  });
});

describe("a packed snapshot of a huge process", () => {
  it("stays within PACKED_SNAPSHOT_BOUND bytes and the pictures still count what was left out", () => {
    const arenas: ArenaCell[] = Array.from({ length: 1000 }, (_, a) => ({
      base: 0x7f0000000000 + a * 2 ** 20,
      firstPool: 0x7f0000000000 + a * 2 ** 20,
      pools: Array.from({ length: 64 }, (_, i) => ({ state: "used" as const, sizeClass: 512, used: 1 + ((a + i) % 31), capacity: 31 })),
    }));
    const chunks = Array.from({ length: 100_000 }, (_, i) => ({ address: 0x555555559000 + i * 1024, size: 1024, state: (i % 2 === 0 ? "in-use" : "small") as "in-use" }));
    const heap: HeapMapData = { allocator: "glibc", heapStart: 0x555555559000, heapEnd: 0x555555559000 + 100_000 * 1024, chunks, mmapped: Array.from({ length: 2000 }, (_, i) => ({ address: 0x7e0000000000 + i * 2 ** 20, size: 2 ** 19 })) };
    const mappings: MappingRow[] = Array.from({ length: 500 }, (_, m) => {
      const runs: number[] = [];
      for (let i = 0; i < 5000; i++) runs.push(i % 3, 2);
      return { start: 0x7d0000000000 + m * 2 ** 30, end: 0x7d0000000000 + m * 2 ** 30 + 10_000 * 4096, name: "", runs };
    });
    const packed = packMaps(1, { arenaSize: 2 ** 20, poolSize: 16384, maxSizeClass: 512, arenas }, heap, { pageSize: 4096, causes: ["glibc.in-use"], mappings });
    expect(JSON.stringify(packed).length).toBeLessThanOrEqual(PACKED_SNAPSHOT_BOUND);
    const back = unpackMaps(packed);
    expect(renderArenaMap(back.arenas!)).toMatch(/^[^]*1000 arenas of 1\.0 MiB[^]*… 936 more arenas not drawn/);
    expect(renderHeapMap(back.heap)).toContain("2000 more mmapped chunks".replace("2000", String(2000 - 47)));
    expect(renderPageMap(back.pages)).toMatch(/500 mappings[^]*… 436 more mappings/);
  });
});
