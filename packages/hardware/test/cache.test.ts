import { describe, expect, it } from "vitest";
import { CpuCache, PhysicalMemory } from "../src/index.js";

describe("CpuCache", () => {
  it("counts a miss per new line and hits within a line", () => {
    const cache = new CpuCache([{ name: "L1d", size: 1024, ways: 2 }]);
    const ram = new PhysicalMemory({ size: 1 << 20 });
    ram.attachCache(cache);
    for (let a = 0; a < 256; a += 8) ram.load64(a); // 4 lines, 8 words each
    expect(cache.stats()).toEqual([{ name: "L1d", hits: 28, misses: 4, hitRate: 28 / 32 }]);
  });

  it("evicts the least recently used way of a set", () => {
    // 2 sets x 2 ways x 64 B: lines 0, 2, 4 all map to set 0.
    const cache = new CpuCache([{ name: "L1", size: 256, ways: 2 }]);
    cache.access(0 * 64, 1); // miss, set0 = {0}
    cache.access(2 * 64, 1); // miss, set0 = {0, 2}
    cache.access(0 * 64, 1); // hit: 0 is now most recent
    cache.access(4 * 64, 1); // miss, evicts 2
    cache.access(0 * 64, 1); // hit
    cache.access(2 * 64, 1); // miss (was evicted)
    expect(cache.stats()[0]).toMatchObject({ hits: 2, misses: 4 });
  });

  it("goes on to the next level only on a miss, and an access spanning two lines touches both", () => {
    const cache = new CpuCache([
      { name: "L1d", size: 128, ways: 1 },
      { name: "L2", size: 4096, ways: 4 },
    ]);
    cache.access(60, 8); // lines 0 and 1: two L1 misses, two L2 misses
    cache.access(0, 1); // L1 hit
    cache.access(256, 1); // line 4 maps to L1 set 0: evicts line 0; L2 miss
    cache.access(0, 1); // L1 miss, L2 hit
    const [l1, l2] = cache.stats();
    expect(l1).toMatchObject({ hits: 1, misses: 4 });
    expect(l2).toMatchObject({ hits: 1, misses: 3 });
    expect(cache.toString()).toContain("L1d: 1 hits, 4 misses (20.0 % hit rate)");
  });

  it("shows locality: sequential access hits far more than random access over a large range", () => {
    const ram = new PhysicalMemory({ size: 64 << 20 });
    const cache = new CpuCache();
    ram.attachCache(cache);
    for (let a = 0; a < 1 << 20; a += 8) ram.load64(a);
    const sequential = cache.stats()[0]!.hitRate;
    cache.reset();
    let seed = 7;
    for (let i = 0; i < 1 << 17; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      ram.load64((seed % (8 << 20)) * 8);
    }
    const random = cache.stats()[0]!.hitRate;
    expect(sequential).toBeCloseTo(7 / 8, 5);
    expect(random).toBeLessThan(0.05);
    expect(ram.detachCache()).toBe(cache);
  });

  it("rejects impossible geometries", () => {
    expect(() => new CpuCache([{ name: "x", size: 1000, ways: 3 }])).toThrow(/not a multiple of lineSize \* ways/);
    expect(() => new CpuCache([{ name: "x", size: 1024, ways: 2, lineSize: 48 }])).toThrow(/power of two/);
    expect(() => new CpuCache([])).toThrow(/at least one level/);
  });
});
