import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aggregate, renderArenaMap, renderHeapMap, renderPageMap, renderTimeline, type ArenaCell, type ChunkCell, type Interval, type PoolCell } from "../src/index.js";
import { shapeCount } from "./svg-support.js";

/** Shapes the frame, legend and labels may add on top of the data's budget. */
const OVERHEAD = 120;
const N = 2000;

describe("pictures of huge states stay within the node budget", () => {
  it("a heap of 1,000,000 chunks and 500 mmapped chunks", () => {
    const states: ChunkCell["state"][] = ["in-use", "tcache", "fastbin", "unsorted", "small", "large"];
    const chunks: ChunkCell[] = [];
    let at = 0x555555559000;
    for (let i = 0; i < 1_000_000; i++) {
      const size = 32 + (i % 7) * 16;
      chunks.push({ address: at, size, state: states[(i * 7919) % states.length]! });
      at += size;
    }
    chunks.push({ address: at, size: 65536, state: "top" });
    const mmapped = Array.from({ length: 500 }, (_, i) => ({ address: 0x7f0000000000 + i * 0x100000, size: 0x40000 }));
    const svg = renderHeapMap({ allocator: "glibc", heapStart: 0x555555559000, heapEnd: at + 65536, chunks, mmapped }, { maxNodes: N });
    expect(shapeCount(svg)).toBeLessThanOrEqual(N + OVERHEAD);
    expect(svg).toMatch(/Drawn as \d+ shapes/);
  });

  it("10,000 arenas of 63 pools", () => {
    const pool = (i: number): PoolCell => (i % 5 === 0 ? { state: "empty", sizeClass: 0, used: 0, capacity: 0 } : { state: "used", sizeClass: 16 * (1 + (i % 32)), used: i % 40, capacity: 40 });
    const arenas: ArenaCell[] = Array.from({ length: 10_000 }, (_, a) => ({ base: a * 2 ** 20 + 4096, firstPool: a * 2 ** 20 + 16384, pools: Array.from({ length: 63 }, (_, i) => pool(a + i)) }));
    const svg = renderArenaMap({ arenaSize: 2 ** 20, poolSize: 16384, maxSizeClass: 512, arenas }, { maxNodes: N });
    expect(shapeCount(svg)).toBeLessThanOrEqual(N + OVERHEAD);
    expect(svg).toMatch(/more arenas not drawn/);
  });

  it("100 mappings of 100,000 pages each, alternating every page", { timeout: 30_000 }, () => {
    const mappings = Array.from({ length: 100 }, (_, m) => {
      const runs: number[] = [];
      for (let i = 0; i < 100_000; i++) runs.push(i % 3, 1);
      return { start: m * 2 ** 30, end: m * 2 ** 30 + 100_000 * 4096, name: m === 0 ? "[heap]" : "", runs };
    });
    const svg = renderPageMap({ pageSize: 4096, causes: ["glibc.in-use"], mappings }, { maxNodes: N });
    expect(shapeCount(svg)).toBeLessThanOrEqual(N + OVERHEAD);
    expect(svg).toMatch(/more mappings/);
  });

  it("a timeline of 100,000 samples with 20 causes and 5,000 events", () => {
    const timeline = Array.from({ length: 100_000 }, (_, i) => ({
      event: (i + 1) * 100,
      rssAnon: 20 * (1000 + (i % 977)),
      liveRequested: 500 + (i % 311),
      causes: Object.fromEntries(Array.from({ length: 20 }, (_, c) => [`cause.${c}`, 1000 + (i % 977)])),
    }));
    const events = Array.from({ length: 5000 }, (_, i) => ({ event: i * 2000, kind: "trim", text: `trim ${i}` }));
    const svg = renderTimeline({ timeline, peak: { event: timeline[976]!.event, rssAnon: timeline[976]!.rssAnon }, events }, { maxNodes: N });
    expect(shapeCount(svg)).toBeLessThanOrEqual(N + OVERHEAD);
    expect(svg.length).toBeLessThan(400_000);
  });
});

describe("aggregate", () => {
  const arbitraryLine = fc
    .array(fc.record({ len: fc.integer({ min: 1, max: 500 }), key: fc.constantFrom("a", "b", "c"), gap: fc.integer({ min: 0, max: 50 }) }), { maxLength: 400 })
    .map((parts) => {
      const out: Interval[] = [];
      let at = 1000;
      for (const p of parts) {
        at += p.gap;
        out.push({ start: at, end: at + p.len, key: p.key });
        at += p.len;
      }
      return out;
    });

  it("returns at most max segments, in order, within the line, and the intervals themselves when they fit", () => {
    fc.assert(
      fc.property(arbitraryLine, fc.integer({ min: 1, max: 300 }), (intervals, max) => {
        const lo = 1000;
        const hi = (intervals.at(-1)?.end ?? 1001) + 1;
        const segments = aggregate(intervals, lo, hi, max);
        expect(segments.length).toBeLessThanOrEqual(Math.max(max, intervals.length <= max ? intervals.length : 0));
        for (let i = 1; i < segments.length; i++) expect(segments[i]!.start).toBeGreaterThanOrEqual(segments[i - 1]!.end - 1e-6);
        for (const s of segments) {
          expect(s.start).toBeGreaterThanOrEqual(lo - 1e-6);
          expect(s.end).toBeLessThanOrEqual(hi + 1e-6);
        }
        if (intervals.length <= max) expect(segments.map((s) => [s.start, s.end, s.key])).toEqual(intervals.map((s) => [s.start, s.end, s.key]));
        else expect(segments.reduce((a, s) => a + s.count, 0)).toBe(intervals.length);
      }),
    );
  });
});

describe("distinct colours", () => {
  it("gives up to nine causes drawn together nine different colours, keeping each cause's own when free", async () => {
    const { distinctCauseColours, causeColour } = await import("../src/index.js");
    const causes = ["pymalloc.live-blocks", "pymalloc.arena-map", "pymalloc.never-carved", "glibc.main-arena", "pymalloc.arena-objects", "glibc.in-use", "glibc.top", "other.libc.so.6", "glibc.tcache"];
    const colours = distinctCauseColours(causes);
    expect(new Set(colours).size).toBe(causes.length);
    expect(colours[0]).toBe(causeColour("pymalloc.live-blocks"));
    expect(distinctCauseColours(["a.x", "other causes"])[1]).toBe("#999999");
  });
});

describe("fixed colours first", () => {
  it("keeps glibc.in-use blue even when a cause before it would have taken blue", async () => {
    const { distinctCauseColours, OKABE_ITO } = await import("../src/index.js");
    const colours = distinctCauseColours(["glibc.top", "glibc.tcache", "glibc.large-bins", "glibc.small-bins", "other.libc.so.6", "glibc.in-use", "other causes"]);
    expect(colours[5]).toBe(OKABE_ITO.blue);
    expect(new Set(colours).size).toBe(7);
  });
});
