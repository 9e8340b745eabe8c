import { describe, expect, it } from "vitest";
import type { PyObjectArenaAllocator } from "@mem/pymem";
import { PlacedArenaAllocator, PymallocError } from "../src/index.js";

/** An arena allocator that records its calls and, like munmap, refuses unaligned frees. */
function pagesOnly(): { inner: PyObjectArenaAllocator; live: Map<number, number> } {
  const live = new Map<number, number>();
  let next = 0x7f00_0000_0000;
  const inner: PyObjectArenaAllocator = {
    ctx: null,
    alloc: (_ctx, size) => {
      const p = next;
      next += Math.ceil(size / 4096) * 4096 + 4096;
      live.set(p, size);
      return p;
    },
    free: (_ctx, p, size) => {
      if (p % 4096 !== 0) throw new Error(`munmap(0x${p.toString(16)}, ${size}) = -1 EINVAL`);
      live.set(p, -size);
    },
  };
  return { inner, live };
}

/** Found by fuzzing (issue 11): an unaligned `A` line surfaced munmap's EINVAL and leaked the padded mapping. */
describe("PlacedArenaAllocator: recorded arena addresses", () => {
  it("refuses an address that is not page-aligned before anything is mapped", () => {
    const { inner, live } = pagesOnly();
    const placed = new PlacedArenaAllocator(() => inner, { modulus: 16384, trim: true });
    expect(() => placed.expect(0x7fee_87ee_7123)).toThrow(PymallocError);
    expect(() => placed.expect(0x7fee_87ee_7123)).toThrow(
      "small-object: expectArena(0x7fee87ee7123): arena-alignment: a recorded arena address must be a non-NULL multiple of the page size (4096)",
    );
    expect(() => placed.expect(0)).toThrow(PymallocError);
    expect(() => placed.expect(-4096)).toThrow(PymallocError);
    expect(() => placed.expect(Number.NaN)).toThrow(PymallocError);
    expect(placed.pendingCount).toBe(0);
    expect(live.size).toBe(0);
    // A good address still works, and trimming frees only whole pages.
    placed.expect(0x7fee_87ee_7000);
    const arena = placed.alloc(placed, 1 << 20);
    expect(arena % 16384).toBe(0x7fee_87ee_7000 % 16384);
  });
});
