import { describe, expect, it } from "vitest";
import { CHUNK_COLOURS, collectMaps, renderHeapMap } from "../src/index.js";
import { goldenHeap, makeStack } from "./support.js";
import { countByState, fillsOf, textAlternative, titles } from "./svg-support.js";

describe("heap map", () => {
  const maps = collectMaps(goldenHeap());
  const svg = renderHeapMap(maps.heap, { id: "heap" });

  it("reads the golden heap's chunks with their states (7 tcache, 2 fastbin, 1 unsorted, top, tcache struct)", () => {
    const states = maps.heap.chunks.map((c) => c.state);
    expect(states.filter((s) => s === "tcache")).toHaveLength(7);
    expect(states.filter((s) => s === "fastbin")).toHaveLength(2);
    expect(states.filter((s) => s === "unsorted")).toHaveLength(1);
    expect(states[0]).toBe("structure");
    expect(states.at(-1)).toBe("top");
    expect(maps.heap.mmapped).toHaveLength(1);
    expect(maps.heap.mmapped[0]!.size).toBe(303104);
    expect(maps.heap.topPin).toMatchObject({ size: 48, state: "in-use" });
    expect(maps.heap.heapEnd - maps.heap.heapStart).toBe(132 * 1024);
  });

  it("draws one rect a chunk, coloured by state, each with a title naming address, size and state", () => {
    expect(countByState(svg)).toEqual({ structure: 1, "in-use": 4, tcache: 7, fastbin: 2, unsorted: 1, top: 1, mmapped: 1 });
    expect(fillsOf(svg, "tcache")).toEqual([CHUNK_COLOURS.tcache]);
    expect(fillsOf(svg, "top")).toEqual([CHUNK_COLOURS.top]);
    expect(fillsOf(svg, "unsorted")).toEqual([CHUNK_COLOURS.unsorted]);
    const t = titles(svg);
    expect(t).toContain(`0x${maps.heap.chunks[2]!.address.toString(16)}: 32 bytes, tcache`);
    expect(t).toContain(`0x${maps.heap.mmapped[0]!.address.toString(16)}: 303104 bytes, mmapped chunk`);
    expect(t.some((x) => x.startsWith(`pin: the in-use chunk 0x${maps.heap.topPin!.chunk.toString(16)} (48 bytes) keeps the top`))).toBe(true);
  });

  it("has a text alternative and a legend", () => {
    const alt = textAlternative(svg);
    expect(alt.title).toBe("Heap map (glibc ptmalloc2)");
    expect(alt.desc).toMatch(/16 chunks: .*tcache/);
    expect(svg).toContain('role="img"');
    expect(svg).toContain('aria-labelledby="heap-title heap-desc"');
    expect(svg).toMatch(/class="legend"[^]*tcache \(224 B\)/);
  });

  it("draws a TLSF heap with its own states", () => {
    const s = makeStack("malloc", "tlsf");
    const ps = Array.from({ length: 6 }, (_, i) => s.libc.malloc(100 + i * 50));
    s.libc.free(ps[2]!);
    const heap = collectMaps(s).heap;
    const out = renderHeapMap(heap);
    expect(heap.allocator).toBe("tlsf");
    expect(countByState(out)["free"]).toBeGreaterThanOrEqual(1);
    expect(countByState(out)["in-use"]).toBe(5);
    expect(textAlternative(out).title).toBe("Heap map (TLSF)");
  });

  it("matches the committed golden SVG", async () => {
    await expect(svg).toMatchFileSnapshot("__snapshots__/heap-map.svg");
  });
});
