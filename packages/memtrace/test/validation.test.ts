import { describe, expect, it } from "vitest";
import { MemtraceSyntaxError, PointerMap, PointerMapError, parseLine } from "../src/index.js";

/** Found by fuzzing (issue 11). */
describe("PointerMap: the documented contract for keys it cannot hold", () => {
  it("get(0) and has(0) say absent (-1, false), delete(0) changes nothing", () => {
    const map = new PointerMap(16);
    expect(map.get(0)).toBe(-1);
    map.set(0x10, 7);
    map.set(0x20, 9);
    map.delete(0x20); // leaves a stale value behind the key slot
    expect(map.get(0)).toBe(-1);
    expect(map.has(0)).toBe(false);
    expect(map.delete(0)).toBe(-1);
    expect(map.size).toBe(1);
    expect(map.get(0x10)).toBe(7);
  });

  it("refuses keys that are not numbers with a typed error (BigInt, strings)", () => {
    const map = new PointerMap(16);
    map.set(0x10, 7);
    const loose = map as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const method of ["get", "has", "delete"]) {
      expect(() => loose[method]!.call(map, 0x10n), method).toThrow(PointerMapError);
      expect(() => loose[method]!.call(map, "16"), method).toThrow(/memtrace: a PointerMap key must be a number, got string "16"/);
    }
    expect(() => loose.set!.call(map, 0x10n, 1)).toThrow(PointerMapError);
    expect(() => loose.set!.call(map, 0x20, 1n)).toThrow(PointerMapError);
    expect(() => map.set(0, 1)).toThrow(PointerMapError);
    expect(map.size).toBe(1);
    expect(map.get(0x10)).toBe(7);
  });
});

describe("parseLine: A and D lines describe mmapped arenas", () => {
  const bad: [string, string][] = [
    ["A 1048576 0x7fee87ee7123", "arena-alloc (A) result 0x7fee87ee7123 is not a multiple of the page size (4096): arenas are mmapped"],
    ["A 1048576 0x0", "arena-alloc (A) result is NULL: an A line records an arena that was obtained"],
    ["A 0 0x7fee87ee7000", "arena-alloc (A) size 0 is not a positive multiple of the page size (4096)"],
    ["A 1000 0x7fee87ee7000", "arena-alloc (A) size 1000 is not a positive multiple of the page size (4096)"],
    ["D 0x7fee87ee7010 1048576", "arena-free (D) ptr 0x7fee87ee7010 is not a multiple of the page size (4096): arenas are mmapped"],
    ["D 0x0 1048576", "arena-free (D) ptr is NULL: a D line records an arena that was released"],
    ["D 0x7fee87ee7000 12", "arena-free (D) size 12 is not a positive multiple of the page size (4096)"],
  ];
  for (const [text, reason] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      let error: unknown;
      try {
        parseLine(text, 7);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MemtraceSyntaxError);
      expect((error as MemtraceSyntaxError).message).toBe(`memtrace: line 7: ${reason}`);
    });
  }

  it("accepts the lines real pymalloc records (3.8's 256 KiB and 3.11's 1 MiB arenas)", () => {
    expect(parseLine("A 262144 0x7f2a1c400000")).toEqual({ kind: "arena-alloc", size: 262144, result: 0x7f2a1c400000 });
    expect(parseLine("D 0x7fee87ee7000 1048576")).toEqual({ kind: "arena-free", ptr: 0x7fee87ee7000, size: 1048576 });
  });
});
