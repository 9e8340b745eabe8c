/**
 * Fuzzers of the trace parser and the pointer table: random and mutated lines (every event
 * kind, broken fields, A/D lines with impossible arenas) must parse into an event that formats
 * back to the same line, or be refused with a MemtraceSyntaxError naming the line; PointerMap
 * under random operations with invalid keys and values must behave like a Map and refuse the
 * rest with its typed error, unchanged. Rules: scripts/fuzz-support.ts.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { FuzzTally, fuzzRuns, fuzzSeed } from "../../../scripts/fuzz-support.js";
import { MemtraceSyntaxError, PointerMap, formatEvent, parseLine } from "../src/index.js";

const hexPtr = fc.oneof(fc.constant("0x0"), fc.integer({ min: 1, max: 2 ** 47 }).map((n) => `0x${n.toString(16)}`), fc.constantFrom("0x7fee87ee7000", "0x20000000000000", "0x", "7f00", "0xzz"));
const dec = fc.oneof(fc.nat({ max: 2 ** 21 }).map(String), fc.constantFrom("0", "1048576", "262144", "9007199254740992", "-1", "12a", ""));
const letter = fc.constantFrom("m", "c", "r", "f", "a", "A", "D", "w", "#", "x", "M");
const domain = fc.constantFrom("raw", "mem", "obj", "libc", "heap", "");
const field = fc.oneof(hexPtr, dec, domain, fc.constantFrom("00", "abc", "ff00", "zz"));
const line = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(letter, fc.array(field, { maxLength: 5 })).map(([l, fs]) => [l, ...fs].join(" ")) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.tuple(dec, hexPtr).map(([s, p]) => `A ${s} ${p}`) },
  { weight: 1, arbitrary: fc.tuple(hexPtr, dec).map(([p, s]) => `D ${p} ${s}`) },
);

const parserTally = new FuzzTally("memtrace parseLine");
const mapTally = new FuzzTally("memtrace PointerMap");
afterAll(() => {
  console.log(parserTally.summary());
  console.log(mapTally.summary());
});

describe("fuzz: parseLine", () => {
  it("every line parses to an event that formats back to it, or is refused with a MemtraceSyntaxError naming the line", () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 50, size: "max" }), (lines) => {
        parserTally.sequences++;
        lines.forEach((text, i) => {
          parserTally.calls++;
          let event;
          try {
            event = parseLine(text, i + 1);
          } catch (error) {
            parserTally.error(error, `parseLine(${JSON.stringify(text)})`);
            expect(error).toBeInstanceOf(MemtraceSyntaxError);
            expect((error as MemtraceSyntaxError).line).toBe(i + 1);
            return;
          }
          if (event.kind === "arena-alloc") expect(event.result % 4096 === 0 && event.result !== 0 && event.size % 4096 === 0 && event.size > 0).toBe(true);
          if (event.kind === "arena-free") expect(event.ptr % 4096 === 0 && event.ptr !== 0 && event.size % 4096 === 0 && event.size > 0).toBe(true);
          if (event.kind !== "comment") expect(parseLine(formatEvent(event))).toEqual(event);
        });
      }),
      { numRuns: fuzzRuns(300, 30_000), seed: fuzzSeed() },
    );
  }, 1_200_000);
});

const key = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 64 }).map((i) => 0x7fee87ee8030 + i * 16) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 ** 47 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -16, 1.5, Number.NaN, 2 ** 53, "16", 16n, null) },
);
const mapOp = fc.oneof(
  fc.record({ op: fc.constant("set" as const), key, value: fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constantFrom<unknown>(-1, Number.NaN, 5n)) }),
  fc.record({ op: fc.constantFrom("get" as const, "has" as const, "delete" as const), key }),
);

describe("fuzz: PointerMap", () => {
  it("behaves like a Map for pointers and refuses anything else with PointerMapError, unchanged", () => {
    fc.assert(
      fc.property(fc.array(mapOp, { minLength: 1, maxLength: 200, size: "max" }), (ops) => {
        mapTally.sequences++;
        const ours = new PointerMap(16);
        const model = new Map<number, number>();
        for (const o of ops) {
          mapTally.calls++;
          const k = o.key as number;
          const valid = typeof k === "number" && Number.isSafeInteger(k) && k > 0;
          try {
            if (o.op === "set") {
              const v = o.value as number;
              const previous = ours.set(k, v);
              expect(valid && typeof v === "number" && v !== -1 && !Number.isNaN(v)).toBe(true);
              expect(previous).toBe(model.get(k) ?? -1);
              model.set(k, v);
            } else if (o.op === "get") expect(ours.get(k)).toBe(model.get(k) ?? -1);
            else if (o.op === "has") expect(ours.has(k)).toBe(model.has(k));
            else {
              expect(ours.delete(k)).toBe(model.get(k) ?? -1);
              model.delete(k);
            }
          } catch (error) {
            if (error instanceof Error && error.name === "AssertionError") throw error;
            mapTally.error(error, `${o.op}(${String(o.key)})`);
            expect((error as Error).name).toBe("PointerMapError");
          }
          expect(ours.size).toBe(model.size);
        }
        mapTally.checks++;
        for (const [k, v] of model) expect(ours.get(k)).toBe(v);
      }),
      { numRuns: fuzzRuns(200, 30_000), seed: fuzzSeed() },
    );
  }, 1_200_000);
});
