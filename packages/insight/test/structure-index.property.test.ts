import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StructureIndex } from "../src/structure-index.js";

describe("StructureIndex", () => {
  it("answers as structures.get(user) ?? structures.get(user + 16), for queries in any order (mostly ascending, as a heap walk asks)", () => {
    const address = fc.integer({ min: 0, max: 100 }).map((x) => 0x5555_0000_0000 + 8 * x);
    fc.assert(
      fc.property(fc.uniqueArray(address, { maxLength: 30 }), fc.array(address, { maxLength: 80 }), fc.boolean(), (keys, queries, sorted) => {
        const structures = new Map(keys.map((k, i) => [k, `cause-${i % 3}`] as const));
        const index = new StructureIndex(structures);
        const asked = sorted ? [...queries].sort((x, y) => x - y) : queries;
        for (const q of asked) expect(index.at(q)).toBe(structures.get(q) ?? structures.get(q + 16));
      }),
      { numRuns: 500 },
    );
  });
});
