import { describe, expect, it } from "vitest";
import { CpuCache, PhysicalMemory, TYPICAL_X86_64_CACHES } from "../src/index.js";

describe("direct frame access (frameView, viewGeneration, traffic)", () => {
  it("hands out a view of exactly one frame; a write view materialises and marks the frame", () => {
    const ram = new PhysicalMemory({ size: 16 * 1024 * 1024 });
    expect(ram.frameView(5, false)).toBeNull(); // no backing yet: reads must go through load*
    const view = ram.frameView(5, true)!;
    expect(view.byteLength).toBe(4096);
    expect(ram.counters.framesMaterialised).toBe(1);
    view.setUint32(8, 0xdeadbeef, true);
    expect(ram.load32(5 * 4096 + 8)).toBe(0xdeadbeef);
    ram.store32(5 * 4096 + 12, 7);
    expect(view.getUint32(12, true)).toBe(7);
    // the same view object every time, and a read view of an unwritten frame of a backed chunk reads zeros
    expect(ram.frameView(5, false)).toBe(view);
    expect(ram.frameView(6, false)!.getUint32(0, true)).toBe(0);
    expect(ram.counters.framesMaterialised).toBe(1);
  });

  it("moves viewGeneration when a view may have gone stale, and only then", () => {
    const ram = new PhysicalMemory({ size: 16 * 1024 * 1024 });
    ram.frameView(3, true);
    const g0 = ram.viewGeneration;
    ram.store64(3 * 4096, 1);
    ram.fill(3 * 4096, 100, 0); // part of the frame: still marked
    ram.fill(4 * 4096, 4096, 0); // an unmarked frame: nothing to unmark
    expect(ram.viewGeneration).toBe(g0);
    ram.fill(3 * 4096, 4096, 0); // the whole marked frame: unmarked, its chunk given back
    expect(ram.counters.framesMaterialised).toBe(0);
    const g1 = ram.viewGeneration;
    expect(g1).not.toBe(g0);
    ram.attachCache(new CpuCache(TYPICAL_X86_64_CACHES));
    expect(ram.viewGeneration).not.toBe(g1);
    expect(ram.frameView(3, true)).toBeNull(); // with a cache model every access must be seen by it
    const g2 = ram.viewGeneration;
    ram.detachCache();
    expect(ram.viewGeneration).not.toBe(g2);
    expect(ram.frameView(3, true)).not.toBeNull();
  });

  it("rejects frame numbers that are not frames of this RAM", () => {
    const ram = new PhysicalMemory({ size: 1024 * 1024 });
    for (const bad of [-1, 256, 1.5, Number.NaN]) expect(() => ram.frameView(bad, false)).toThrow(RangeError);
    expect(ram.counters.framesMaterialised).toBe(0);
  });

  it("keeps one set of traffic counters for its own accesses and a translator's", () => {
    const ram = new PhysicalMemory({ size: 1024 * 1024 });
    ram.store64(0, 1);
    ram.load32(0);
    ram.traffic.loads += 2; // what a translator reading through a view adds
    ram.traffic.bytesMoved += 16;
    expect(ram.counters).toMatchObject({ loads: 3, stores: 1, bytesMoved: 8 + 4 + 16 });
    ram.resetCounters();
    expect(ram.counters).toMatchObject({ loads: 0, stores: 0, bytesMoved: 0 });
  });
});
