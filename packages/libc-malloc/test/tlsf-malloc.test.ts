import { describe, expect, it } from "vitest";
import { HeapCheckError, TlsfMalloc } from "../src/index.js";
import { freshProcess } from "./support/replay.js";

describe("TlsfMalloc keeps its blocks, lists and bitmaps in the process's memory", () => {
  it("writes block headers, prev_phys links, free-list links and bitmap bits", () => {
    const t = new TlsfMalloc(freshProcess());
    const m = t.process.memory;
    const a = t.malloc(100); // block of 128 (16-byte header, 16-aligned)
    const b = t.malloc(24); // block of 48... rounded: 24 + 16 = 40 -> 48
    expect(a - 16).toBe(t.heapStart);
    expect(m.load64(a - 8)).toBe(128);
    expect(b - 16).toBe(a - 16 + 128);
    expect(m.load64(b - 16)).toBe(a - 16); // prev_phys
    expect(m.load64(b - 8)).toBe(48);
    t.free(a);
    expect(m.load64(a - 8)).toBe(128 + 1); // FREE
    expect(m.load64(b - 8)).toBe(48 + 2); // PREV_FREE
    // a 128-byte block lives on first level 0, second level 8: the bitmaps say so
    expect(m.load32(t.control) & 1).toBe(1);
    expect((m.load32(t.control + 8) >>> 8) & 1).toBe(1);
    expect(m.load64(t.control + 8 + 4 * 25 + 4 + 8 * 8)).toBe(a - 16);
    expect(t.malloc(100)).toBe(a); // the same list, O(1)
    t.checkHeap();
  });

  it("coalesces at once on free and the checker sees a broken PREV_FREE bit", () => {
    const t = new TlsfMalloc(freshProcess());
    const a = t.malloc(100);
    const b = t.malloc(100);
    const c = t.malloc(100);
    t.free(a);
    t.free(b);
    expect(t.process.memory.load64(a - 8)).toBe(256 + 1); // a and b merged
    t.checkHeap();
    t.process.memory.store64(c - 8, 128); // clear c's PREV_FREE behind the allocator's back
    expect(() => t.checkHeap()).toThrow(HeapCheckError);
  });
});
