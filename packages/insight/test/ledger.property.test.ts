import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ResidentLedger } from "../src/index.js";

describe("ResidentLedger.residentIn", () => {
  it("counts the bytes of a range that lie on resident pages, as a page-by-page count does", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { maxLength: 60 }), fc.nat({ max: 210 * 4096 }), fc.nat({ max: 20 * 4096 }), (pages, start, length) => {
        const sorted = [...pages].sort((a, b) => a - b);
        const ledger = new ResidentLedger([{ start: 0, end: 256 * 4096, name: undefined, pages: sorted }]);
        const end = start + length;
        let expected = 0;
        for (const p of sorted) expected += Math.max(0, Math.min(end, (p + 1) * 4096) - Math.max(start, p * 4096));
        expect(ledger.residentIn(start, end)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
