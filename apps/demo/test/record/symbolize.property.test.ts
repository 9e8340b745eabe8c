import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { symbolAt, type FunctionSymbol } from "../../src/record/symbolize.js";

/** The answer by a linear scan: the symbols at the greatest start at or below the address, one whose size reaches it. */
function naive(symbols: readonly FunctionSymbol[], address: number): FunctionSymbol | undefined {
  const below = symbols.filter((s) => s.start <= address);
  if (below.length === 0) return undefined;
  const start = Math.max(...below.map((s) => s.start));
  const candidates = below.filter((s) => s.start === start && (s.size === 0 || address < s.start + s.size));
  return candidates.at(-1);
}

describe("symbolAt", () => {
  it("finds what a linear scan finds (sized and unsized symbols, aliases, gaps)", () => {
    const symbol = fc.record({ start: fc.integer({ min: 0, max: 4096 }), size: fc.integer({ min: 0, max: 300 }), name: fc.string({ minLength: 1, maxLength: 4 }) });
    fc.assert(
      fc.property(fc.array(symbol, { maxLength: 30 }), fc.integer({ min: 0, max: 5000 }), (raw, address) => {
        const symbols = [...raw].sort((a, b) => a.start - b.start);
        const found = symbolAt(symbols, address);
        const expected = naive(symbols, address);
        expect(found === undefined).toBe(expected === undefined);
        if (found !== undefined) {
          expect(found.start).toBe(expected!.start);
          expect(found.start).toBeLessThanOrEqual(address);
          expect(found.size === 0 || address < found.start + found.size).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
