import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PointerMap } from "../src/index.js";

const key = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 47 - 1 }),
  fc.integer({ min: 0, max: 4000 }).map((i) => 0x7fee87ee8030 + i * 16), // dense, aligned, like real blocks
);
const op = fc.oneof(
  fc.record({ op: fc.constant("set" as const), key, value: fc.oneof(fc.nat(), fc.integer({ min: -(2 ** 40), max: -2 })) }),
  fc.record({ op: fc.constant("delete" as const), key }),
);

describe("PointerMap", () => {
  it("behaves like a Map under any sequence of sets and deletes", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const ours = new PointerMap(16);
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.op === "set") {
            expect(ours.set(o.key, o.value)).toBe(model.get(o.key) ?? -1);
            model.set(o.key, o.value);
          } else {
            expect(ours.delete(o.key)).toBe(model.get(o.key) ?? -1);
            model.delete(o.key);
          }
          expect(ours.size).toBe(model.size);
        }
        for (const [k, v] of model) expect(ours.get(k)).toBe(v);
        const seen = new Map<number, number>();
        ours.forEach((v, k) => seen.set(k, v));
        expect(seen).toEqual(model);
      }),
      { numRuns: 200 },
    );
  });

  it("keeps an extra number beside each value through sets, deletes and growth (setWithExtra)", () => {
    const extraOp = fc.oneof(
      fc.record({ op: fc.constant("set" as const), key, value: fc.nat(), extra: fc.nat({ max: 2 ** 40 }) }),
      fc.record({ op: fc.constant("delete" as const), key }),
    );
    fc.assert(
      fc.property(fc.array(extraOp, { maxLength: 400 }), (ops) => {
        const ours = new PointerMap(16);
        const model = new Map<number, [number, number]>();
        for (const o of ops) {
          if (o.op === "set") {
            expect(ours.setWithExtra(o.key, o.value, o.extra)).toBe(model.get(o.key)?.[0] ?? -1);
            expect(ours.previousExtra).toBe(model.get(o.key)?.[1] ?? 0);
            model.set(o.key, [o.value, o.extra]);
          } else {
            expect(ours.delete(o.key)).toBe(model.get(o.key)?.[0] ?? -1);
            model.delete(o.key);
          }
        }
        for (const [k, [v, e]] of model) {
          expect(ours.get(k)).toBe(v);
          expect(ours.extraOf(k)).toBe(e);
        }
        const seen = new Map<number, [number, number]>();
        ours.forEach((v, k, e) => seen.set(k, [v, e]));
        expect(seen).toEqual(model);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses NULL and reports missing keys as -1", () => {
    const m = new PointerMap();
    expect(() => m.set(0, 1)).toThrow("memtrace: PointerMap cannot store the NULL pointer");
    for (const key of [-16, 1.5, Number.NaN, 2 ** 53]) expect(() => m.set(key, 1)).toThrow(/a PointerMap key must be a pointer/);
    for (const value of [-1, Number.NaN]) expect(() => m.set(0x10, value)).toThrow(/any number but -1 and NaN/);
    expect(m.size).toBe(0);
    expect(m.get(0x10)).toBe(-1);
    expect(m.has(0x10)).toBe(false);
    m.set(0x10, 0);
    expect(m.has(0x10)).toBe(true);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.get(0x10)).toBe(-1);
  });
});
