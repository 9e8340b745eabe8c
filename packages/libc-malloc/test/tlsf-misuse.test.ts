import { describe, expect, it } from "vitest";
import { MallocAbort, TlsfMalloc } from "../src/index.js";
import { freshProcess } from "./support/replay.js";

function blocks(t: TlsfMalloc): string {
  return JSON.stringify(t.inspect().blocks);
}

/**
 * Found by fuzzing (issue 11): a freed block merged into the free block before it keeps a
 * stale header that looks in use; a second free (or a realloc) of it removed the merged
 * block from its list, then faulted past the heap's end, leaving the heap broken.
 */
describe("tlsf: misuse is refused before anything changes", () => {
  function mergedAway() {
    const t = new TlsfMalloc(freshProcess());
    const p = t.memalign(32, 0); // a free 48-byte lead before p, free space after it
    t.free(p); // p merges with both neighbours
    t.checkHeap();
    return { t, p, before: blocks(t) };
  }

  it("a double free of a merged block is a MallocAbort and the heap stays intact", () => {
    const { t, p, before } = mergedAway();
    expect(() => t.free(p)).toThrow(MallocAbort);
    expect(() => t.free(p)).toThrow("tlsf: free(): double free (the block was merged into the free block before it)");
    expect(blocks(t)).toBe(before);
    t.checkHeap();
  });

  it("realloc of a merged block is a MallocAbort and the heap stays intact", () => {
    const { t, p, before } = mergedAway();
    expect(() => t.realloc(p, 100)).toThrow(MallocAbort);
    expect(blocks(t)).toBe(before);
    t.checkHeap();
    expect(t.malloc(100)).not.toBe(0);
  });

  it("realloc and free of a block freed without merging say double free", () => {
    const t = new TlsfMalloc(freshProcess());
    const a = t.malloc(100);
    const b = t.malloc(100);
    t.malloc(100);
    t.free(b); // b stays a block of its own: its neighbours are in use
    const before = blocks(t);
    expect(() => t.realloc(b, 300)).toThrow("tlsf: realloc(): double free");
    expect(() => t.free(b)).toThrow("tlsf: free(): double free");
    expect(blocks(t)).toBe(before);
    t.free(a); // a merges with b after it: b's header is now stale
    const merged = blocks(t);
    expect(() => t.free(b)).toThrow(MallocAbort);
    expect(blocks(t)).toBe(merged);
    t.checkHeap();
  });
});
