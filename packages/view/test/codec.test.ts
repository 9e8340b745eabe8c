import { describe, expect, it } from "vitest";
import { collectMaps, packMaps, unpackMaps, type HeapMapData } from "../src/index.js";
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
